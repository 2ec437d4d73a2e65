"""Settings from the environment or `.env` (pydantic-settings); names are in DESIGN.md."""

from __future__ import annotations

import logging
import re
import secrets
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AliasChoices, Field, ValidationError, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

log = logging.getLogger(__name__)

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./stateof.db"
_MAX_SHARDS = 100_000  # far beyond any real bot; stops "0-999999999" from eating memory
_SHARD_PART = re.compile(r"(?P<first>\d+)(?:\s*-\s*(?P<last>\d+))?")


class SettingsError(Exception):
    """A missing or malformed setting; the message is one line naming it."""


def _env(name: str) -> AliasChoices:
    return AliasChoices(name, name.lower())


class Settings(BaseSettings):
    """Everything the process reads from its environment."""

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", populate_by_name=True
    )

    database_url: str = Field(DEFAULT_DATABASE_URL, validation_alias=_env("STATEOF_DATABASE_URL"))
    secret_key: str | None = Field(None, validation_alias=_env("STATEOF_SECRET_KEY"))
    secret_file: Path = Field(Path(".stateof-secret"), validation_alias=_env("STATEOF_SECRET_FILE"))
    min_group_size: int = Field(5, ge=2, le=1000, validation_alias=_env("STATEOF_MIN_GROUP_SIZE"))
    timezone: str = Field("UTC", validation_alias=_env("STATEOF_TIMEZONE"))
    community: str = Field("default", validation_alias=_env("STATEOF_COMMUNITY"))
    # Slack workspaces and Discord servers that form the community ("slack:T0123,discord:456");
    # (the workspace of SLACK_BOT_TOKEN and STATEOF_DISCORD_GUILD are linked as well). Once any
    # space is linked, no other joins; with none, the first workspace and the first server seen
    # do (see surveys.waves.community_of_space).
    community_spaces: str | None = Field(None, validation_alias=_env("STATEOF_COMMUNITY_SPACES"))
    catalog_dir: Path | None = Field(None, validation_alias=_env("STATEOF_CATALOG_DIR"))
    log_format: str = Field("text", validation_alias=_env("STATEOF_LOG_FORMAT"))
    log_level: str = Field("INFO", validation_alias=_env("STATEOF_LOG_LEVEL"))
    # Debugging: the scheduler writes what it would post or DM as JSON lines here, sending nothing.
    dry_run_posts: Path | None = Field(None, validation_alias=_env("STATEOF_DRY_RUN_POSTS"))

    slack_bot_token: str | None = Field(None, validation_alias=_env("SLACK_BOT_TOKEN"))
    slack_signing_secret: str | None = Field(None, validation_alias=_env("SLACK_SIGNING_SECRET"))
    slack_app_token: str | None = Field(None, validation_alias=_env("SLACK_APP_TOKEN"))
    slack_api_url: str | None = Field(None, validation_alias=_env("SLACK_API_URL"))
    slack_client_id: str | None = Field(None, validation_alias=_env("SLACK_CLIENT_ID"))
    slack_client_secret: str | None = Field(None, validation_alias=_env("SLACK_CLIENT_SECRET"))
    slack_moderator_group: str | None = Field(
        None, validation_alias=_env("STATEOF_SLACK_MODERATOR_GROUP")
    )

    discord_token: str | None = Field(None, validation_alias=_env("DISCORD_TOKEN"))
    discord_api_url: str | None = Field(None, validation_alias=_env("DISCORD_API_URL"))
    discord_gateway_url: str | None = Field(None, validation_alias=_env("DISCORD_GATEWAY_URL"))
    discord_guild: int | None = Field(None, validation_alias=_env("STATEOF_DISCORD_GUILD"))
    discord_moderator_role: str | None = Field(
        None, validation_alias=_env("STATEOF_DISCORD_MODERATOR_ROLE")
    )
    # Privileged "Server Members" intent: only to know who can see a channel (response rates).
    discord_members_intent: bool = Field(
        False, validation_alias=_env("STATEOF_DISCORD_MEMBERS_INTENT")
    )
    # Sharding (AutoShardedClient): the total shard count (unset: what Discord recommends) and
    # the shards this process runs ("0-3" or "0,2,5"; unset: all of them).
    discord_shard_count: int | None = Field(
        None, ge=1, validation_alias=_env("DISCORD_SHARD_COUNT")
    )
    discord_shard_ids: Annotated[list[int] | None, NoDecode] = Field(
        None, validation_alias=_env("DISCORD_SHARD_IDS")
    )

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown time zone {value!r} (use an IANA name like Europe/Helsinki)"
            ) from None
        return value

    @field_validator("log_format")
    @classmethod
    def _known_log_format(cls, value: str) -> str:
        if value not in ("text", "json"):
            raise ValueError("must be 'text' or 'json'")
        return value

    @field_validator("log_level")
    @classmethod
    def _known_log_level(cls, value: str) -> str:
        level = value.strip().upper()
        if level not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
            raise ValueError(f"unknown level {value!r} (use DEBUG, INFO, WARNING, ERROR or CRITICAL)")
        return level

    @field_validator("slack_api_url", "discord_api_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        return _checked_url(value, ("http", "https"))

    @field_validator("discord_gateway_url")
    @classmethod
    def _ws_url(cls, value: str | None) -> str | None:
        return _checked_url(value, ("ws", "wss"))

    @field_validator("discord_shard_ids", mode="before")
    @classmethod
    def _shard_list(cls, value: object) -> object:
        if isinstance(value, str):
            return parse_shard_ids(value)
        return value

    @field_validator("discord_shard_ids")
    @classmethod
    def _shards_below_count(cls, value: list[int] | None, info: ValidationInfo) -> list[int] | None:
        if value is None:
            return None
        count = info.data.get("discord_shard_count")
        if count is None:
            raise ValueError("needs DISCORD_SHARD_COUNT (the total number of shards) as well")
        too_big = [shard for shard in value if shard >= count]
        if too_big:
            raise ValueError(
                f"shard {too_big[0]} is out of range for DISCORD_SHARD_COUNT={count} "
                f"(ids run from 0 to {count - 1})"
            )
        return value

    @field_validator("catalog_dir")
    @classmethod
    def _existing_dir(cls, value: Path | None) -> Path | None:
        if value is not None and not value.is_dir():
            raise ValueError(f"{value} is not a folder")
        return value

    @field_validator("community_spaces")
    @classmethod
    def _spaces(cls, value: str | None) -> str | None:
        for item in (value or "").replace(" ", ",").split(","):
            platform, _, space = item.strip().partition(":")
            if item.strip() and (platform not in ("slack", "discord") or not space):
                raise ValueError(f"{item.strip()!r} is not PLATFORM:ID (slack:T0123 or discord:1234)")
        return value

    @property
    def linked_spaces(self) -> dict[str, str]:
        """`platform:id` → the setting that links it, for every space configured to join the
        community (STATEOF_DISCORD_GUILD included: the server the commands are synced to is the
        community's)."""
        items = {i.strip(): "STATEOF_COMMUNITY_SPACES"
                 for i in (self.community_spaces or "").replace(" ", ",").split(",") if i.strip()}
        if self.discord_guild:
            items.setdefault(f"discord:{self.discord_guild}", "STATEOF_DISCORD_GUILD")
        return items

    @field_validator("database_url")
    @classmethod
    def _usable_url(cls, value: str) -> str:
        from sqlalchemy.engine import make_url
        from sqlalchemy.exc import ArgumentError

        try:
            backend = make_url(value).get_backend_name()
        except ArgumentError:
            raise ValueError(f"not a database URL: {value!r}") from None
        if backend not in ("sqlite", "postgresql"):
            raise ValueError(f"unsupported database {backend!r}; use sqlite or postgresql")
        return value

    @property
    def slack_enabled(self) -> bool:
        return bool(self.slack_bot_token or (self.slack_client_id and self.slack_client_secret))

    @property
    def discord_enabled(self) -> bool:
        return bool(self.discord_token)

    def check_platforms(self) -> None:
        """Raise SettingsError when a platform is half-configured."""
        if self.slack_enabled and not self.slack_app_token and not self.slack_signing_secret:
            raise SettingsError(
                "SLACK_SIGNING_SECRET is missing: set it for HTTP mode, or SLACK_APP_TOKEN "
                "for Socket Mode"
            )
        if self.slack_app_token and not self.slack_app_token.startswith("xapp-"):
            raise SettingsError("SLACK_APP_TOKEN is malformed: an app-level token starts with xapp-")
        if self.slack_bot_token and not self.slack_bot_token.startswith("xox"):
            raise SettingsError("SLACK_BOT_TOKEN is malformed: a bot token starts with xoxb-")


def _checked_url(value: str | None, schemes: tuple[str, ...]) -> str | None:
    """An absolute URL with one of `schemes` and a host (blank means unset)."""
    from urllib.parse import urlsplit

    if value is None or not value.strip():
        return None
    parts = urlsplit(value.strip())
    if parts.scheme not in schemes or not parts.netloc:
        raise ValueError(f"not a {' or '.join(s + '://' for s in schemes)} URL: {value!r}")
    return value.strip()


def parse_shard_ids(text: str) -> list[int] | None:
    """`"0-3"` → [0, 1, 2, 3]; `"0,2,5"` → [0, 2, 5]; ranges and ids mix (`"0-1,4"`).

    Blank means unset. Raises ValueError (one line) for anything else or a repeated id.
    """
    if not text.strip():
        return None
    ids: list[int] = []
    for part in text.split(","):
        match = _SHARD_PART.fullmatch(part.strip())
        if match is None:
            raise ValueError(f"{text!r} is not a list of shard ids (use e.g. 0-3 or 0,2,5)")
        first = int(match["first"])
        last = int(match["last"]) if match["last"] is not None else first
        if last < first:
            raise ValueError(f"the range {part.strip()!r} runs backwards")
        if last - first >= _MAX_SHARDS:
            raise ValueError(f"the range {part.strip()!r} is longer than {_MAX_SHARDS} shards")
        ids.extend(range(first, last + 1))
    if len(set(ids)) != len(ids):
        raise ValueError(f"{text!r} names a shard twice")
    return ids


def load_settings(**overrides: Any) -> Settings:
    """Read settings; raise SettingsError with one line naming the bad setting."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = str(err["loc"][0]) if err["loc"] else "settings"
        name = _env_name(field)
        msg = err["msg"].removeprefix("Value error, ")
        raise SettingsError(f"{name} is invalid: {msg}") from None


def _env_name(field: str) -> str:
    info = Settings.model_fields.get(field)
    alias = getattr(info, "validation_alias", None) if info else None
    if isinstance(alias, AliasChoices):
        return str(alias.choices[0])
    return field.upper()


MIN_SECRET_LENGTH = 32
# Values that appear in templates and tutorials (compared without case and punctuation).
_PLACEHOLDERS = {
    "changemetoalongrandomstring", "changeme", "changemeplease", "replaceme", "secret",
    "secretkey", "yoursecretkey", "yoursecret", "mysecretkey", "supersecret", "supersecretkey",
    "password", "placeholder", "example", "test", "xxx",
}
_PLACEHOLDER_WORDS = ("changeme", "replaceme", "yoursecret", "placeholder", "putyour", "insertyour")
_HOW_TO = "generate one with: python -c 'import secrets; print(secrets.token_urlsafe(32))'"


def secret_key_problem(key: str) -> str | None:
    """Why `key` cannot be the pseudonym key (a template placeholder, too short, too repetitive),
    or None when it can."""
    folded = re.sub(r"[^a-z0-9]", "", key.casefold())
    if folded in _PLACEHOLDERS or any(word in folded for word in _PLACEHOLDER_WORDS):
        return f"it is a placeholder from a template, not a key; {_HOW_TO}"
    if len(key) < MIN_SECRET_LENGTH:
        return f"use at least {MIN_SECRET_LENGTH} characters ({len(key)} given); {_HOW_TO}"
    if len(set(key)) < 8:
        return f"it repeats too few characters ({len(set(key))} different) to be secret; {_HOW_TO}"
    return None


def resolve_secret(settings: Settings) -> bytes:
    """The pseudonym key: STATEOF_SECRET_KEY, else a key persisted in the secret file.

    On first run a random key is generated and written (mode 600); a warning says so once.
    A placeholder, a key under 32 characters or a repetitive one is refused (SettingsError).
    """
    if settings.secret_key:
        problem = secret_key_problem(settings.secret_key)
        if problem:
            raise SettingsError(f"STATEOF_SECRET_KEY is invalid: {problem}")
        return settings.secret_key.encode()
    path = settings.secret_file
    if path.exists():
        key = path.read_text("utf-8").strip()
        problem = secret_key_problem(key)
        if problem:
            raise SettingsError(f"{path} is invalid: the stored secret key is unusable: {problem}")
        return key.encode()
    key = secrets.token_urlsafe(32)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(key + "\n", "utf-8")
    path.chmod(0o600)
    log.warning(
        "No STATEOF_SECRET_KEY set: generated one and saved it in %s. Keep it: pseudonyms "
        "depend on it. Set STATEOF_SECRET_KEY in production.",
        path,
    )
    return key.encode()
