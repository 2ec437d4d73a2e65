"""Settings: defaults, one clear line for bad values, the persisted secret key."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from bot.settings import DEFAULT_DATABASE_URL, SettingsError, load_settings, resolve_secret


@pytest.fixture(autouse=True)
def clean_env(monkeypatch, tmp_path):
    import os

    for name in list(os.environ):
        if name.startswith(("SLACK_", "DISCORD_", "STATEOF_")):
            monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)


def test_defaults():
    s = load_settings()
    assert s.database_url == DEFAULT_DATABASE_URL
    assert s.min_group_size == 5 and s.timezone == "UTC"
    assert not s.slack_enabled and not s.discord_enabled


@pytest.mark.parametrize(("name", "value", "expected"), [
    ("STATEOF_MIN_GROUP_SIZE", "five", "STATEOF_MIN_GROUP_SIZE is invalid"),
    ("STATEOF_MIN_GROUP_SIZE", "1", "STATEOF_MIN_GROUP_SIZE is invalid"),
    ("STATEOF_TIMEZONE", "Mars/Olympus", "unknown time zone 'Mars/Olympus'"),
    ("STATEOF_DATABASE_URL", "mysql://x@y/z", "unsupported database 'mysql'"),
    ("STATEOF_DATABASE_URL", "not a url", "not a database URL"),
    ("STATEOF_LOG_FORMAT", "xml", "STATEOF_LOG_FORMAT is invalid"),
    ("STATEOF_DISCORD_GUILD", "abc", "STATEOF_DISCORD_GUILD is invalid"),
    ("STATEOF_LOG_LEVEL", "LOUD", "unknown level 'LOUD'"),
    ("SLACK_API_URL", "slack.example", "SLACK_API_URL is invalid: not a http:// or https:// URL"),
    ("DISCORD_API_URL", "notaurl", "DISCORD_API_URL is invalid"),
    ("DISCORD_GATEWAY_URL", "http://gw.example", "not a ws:// or wss:// URL"),
    ("STATEOF_CATALOG_DIR", "/no/such/folder", "/no/such/folder is not a folder"),
    ("DISCORD_SHARD_COUNT", "0", "DISCORD_SHARD_COUNT is invalid"),
    ("DISCORD_SHARD_COUNT", "two", "DISCORD_SHARD_COUNT is invalid"),
    ("DISCORD_SHARD_IDS", "0-3", "DISCORD_SHARD_IDS is invalid: needs DISCORD_SHARD_COUNT"),
    ("DISCORD_SHARD_IDS", "0-x", "DISCORD_SHARD_IDS is invalid: '0-x' is not a list of shard ids"),
    ("DISCORD_SHARD_IDS", "3-1", "DISCORD_SHARD_IDS is invalid: the range '3-1' runs backwards"),
    ("DISCORD_SHARD_IDS", "1,1", "DISCORD_SHARD_IDS is invalid: '1,1' names a shard twice"),
])
def test_malformed_setting_is_one_line(monkeypatch, name, value, expected):
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError) as info:
        load_settings()
    assert expected in str(info.value)
    assert "\n" not in str(info.value)


def test_shard_settings(monkeypatch):
    s = load_settings()
    assert s.discord_shard_count is None and s.discord_shard_ids is None
    monkeypatch.setenv("DISCORD_SHARD_COUNT", "8")
    assert load_settings().discord_shard_ids is None  # a count alone: every shard
    monkeypatch.setenv("DISCORD_SHARD_IDS", "0-2, 5,7")
    s = load_settings()
    assert s.discord_shard_count == 8 and s.discord_shard_ids == [0, 1, 2, 5, 7]
    monkeypatch.setenv("DISCORD_SHARD_IDS", "3")
    assert load_settings().discord_shard_ids == [3]
    monkeypatch.setenv("DISCORD_SHARD_IDS", "0,8")
    with pytest.raises(SettingsError) as info:
        load_settings()
    assert str(info.value) == ("DISCORD_SHARD_IDS is invalid: shard 8 is out of range for "
                               "DISCORD_SHARD_COUNT=8 (ids run from 0 to 7)")


def test_env_file_is_read(tmp_path):
    (tmp_path / ".env").write_text("STATEOF_MIN_GROUP_SIZE=7\n")
    assert load_settings().min_group_size == 7


def test_half_configured_slack(monkeypatch):
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-1")
    with pytest.raises(SettingsError, match="SLACK_SIGNING_SECRET is missing"):
        load_settings().check_platforms()
    monkeypatch.setenv("SLACK_APP_TOKEN", "bad")
    with pytest.raises(SettingsError, match="SLACK_APP_TOKEN is malformed"):
        load_settings().check_platforms()


def test_secret_generated_once_and_reused(tmp_path, caplog):
    s = load_settings(secret_file=tmp_path / "secret")
    with caplog.at_level(logging.WARNING):
        first = resolve_secret(s)
    assert "generated one" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        assert resolve_secret(s) == first
    assert caplog.text == ""
    assert (tmp_path / "secret").stat().st_mode & 0o777 == 0o600


def test_configured_secret_wins(monkeypatch):
    key = "a-very-long-secret-key-for-pseudonyms-42"
    monkeypatch.setenv("STATEOF_SECRET_KEY", key)
    assert resolve_secret(load_settings()) == key.encode()


ENV_EXAMPLE = Path(__file__).resolve().parents[2] / "deploy" / ".env.example"


def _example_key() -> str:
    for line in ENV_EXAMPLE.read_text("utf-8").splitlines():
        if line.startswith("STATEOF_SECRET_KEY="):
            return line.partition("=")[2]
    raise AssertionError("deploy/.env.example has no STATEOF_SECRET_KEY line")


@pytest.mark.parametrize("key, reason", [
    (_example_key(), "placeholder"),
    ("CHANGE_ME_to_a_long_random_string!!", "placeholder"),
    ("please-replace-me-with-something-long", "placeholder"),
    ("short", "at least 32 characters [(]5 given[)]"),
    ("0123456789abcdef0123456789abcde", "at least 32 characters [(]31 given[)]"),
    ("ab" * 20, "repeats too few characters"),
])
def test_placeholder_short_or_repetitive_keys_are_one_line(monkeypatch, key, reason):
    monkeypatch.setenv("STATEOF_SECRET_KEY", key)
    with pytest.raises(SettingsError, match=f"^STATEOF_SECRET_KEY is invalid: .*{reason}") as info:
        resolve_secret(load_settings(_env_file=None))
    assert "\n" not in str(info.value) and "secrets.token_urlsafe" in str(info.value)


def test_a_short_stored_key_is_refused_naming_the_file(tmp_path):
    (tmp_path / "secret").write_text("only-twenty-chars-ab\n")
    with pytest.raises(SettingsError, match="secret is invalid: .*at least 32"):
        resolve_secret(load_settings(secret_file=tmp_path / "secret", _env_file=None))


def test_stateof_run_stops_on_the_env_example_key(tmp_path):
    """The placeholder stops `stateof run` with one line before anything starts."""
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if not k.startswith(("STATEOF_", "SLACK_", "DISCORD_"))}
    env.update(STATEOF_DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path}/x.db", STATEOF_SECRET_KEY=_example_key())
    done = subprocess.run([sys.executable, "-m", "bot.cli", "run", "--port", "0"], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert done.returncode != 0
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert any("STATEOF_SECRET_KEY is invalid: it is a placeholder" in line for line in lines), done.stderr
    assert "Traceback" not in done.stderr


def test_bad_questionnaire_in_the_catalog_dir_is_one_line(tmp_path, monkeypatch):
    from bot.services import build_services

    (tmp_path / "ours.yaml").write_text("id: [\n")
    monkeypatch.setenv("STATEOF_CATALOG_DIR", str(tmp_path))
    settings = load_settings(secret_key="0123456789abcdef0123-abcdefghijkl", _env_file=None)
    with pytest.raises(SettingsError, match="STATEOF_CATALOG_DIR is invalid: .*ours.yaml: line 2"):
        build_services(settings)
