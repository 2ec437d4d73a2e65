"""The app manifest asks for exactly what the app uses and points at the app's own paths."""

from __future__ import annotations

from pathlib import Path

import yaml

from bot.slack.app import BOT_SCOPES, EVENTS_PATH, REDIRECT_PATH

MANIFEST = Path(__file__).resolve().parents[2] / "deploy" / "slack-manifest.yml"


def test_manifest_matches_the_app():
    data = yaml.safe_load(MANIFEST.read_text())
    assert sorted(data["oauth_config"]["scopes"]["bot"]) == sorted(BOT_SCOPES)
    [command] = data["features"]["slash_commands"]
    assert command["command"] == "/survey" and command["url"].endswith(EVENTS_PATH)
    settings = data["settings"]
    assert settings["socket_mode_enabled"] is True
    assert settings["interactivity"]["is_enabled"] is True
    assert settings["interactivity"]["request_url"].endswith(EVENTS_PATH)
    assert "app_home_opened" in settings["event_subscriptions"]["bot_events"]
    assert data["oauth_config"]["redirect_urls"][0].endswith(REDIRECT_PATH)
    assert data["features"]["app_home"]["home_tab_enabled"] is True
