"""What every `stateof` command shares: one-line failures, settings, migration, services.

User errors are one red line on stderr and exit 1; a bad setting or an unreachable
database is one line and exit 2. Nothing here prints a traceback for something a user did.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, TypeVar

import typer
from rich.console import Console

from bot.logs import setup_logging
from bot.settings import Settings, SettingsError, load_settings
from surveys.db import DatabaseUnavailable, describe_url, sync_url

if TYPE_CHECKING:
    from bot.services import Services

log = logging.getLogger(__name__)

out = Console()
err = Console(stderr=True)
T = TypeVar("T")


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print one red line on stderr and return the Exit to raise."""
    err.print(f"[red]error:[/] {message}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


def settings_or_exit(quiet: bool = False) -> Settings:
    """Settings, or one line naming the bad setting and exit 2. `quiet` keeps the log at
    WARNING (unless DEBUG is asked for) so command output stays clean for pipes."""
    try:
        settings = load_settings()
    except SettingsError as exc:
        raise fail(str(exc), 2) from None
    level = settings.log_level
    if quiet and level != "DEBUG":
        level = "WARNING"
    setup_logging(settings.log_format, level)
    return settings


def migrate_or_exit(settings: Settings) -> None:
    """Bring the database to head; a database that cannot be reached is one line, exit 2."""
    from sqlalchemy.exc import DBAPIError, OperationalError

    from surveys.migrate import upgrade

    try:
        upgrade(sync_url(settings.database_url))
    except (OperationalError, DBAPIError) as exc:
        reason = str(getattr(exc, "orig", exc)).strip().splitlines()[0]
        raise fail(f"cannot connect to {describe_url(settings.database_url)}: {reason}", 2) from None


def run_async(coro_fn: Callable[[], Awaitable[T]]) -> T:
    """Run a coroutine; a bad setting or an unreachable database becomes one line, exit 2."""
    try:
        return asyncio.run(coro_fn())
    except (DatabaseUnavailable, SettingsError) as exc:
        raise fail(str(exc), 2) from None


def run_with_services(
    settings: Settings, work: Callable[[Services], Awaitable[T]],
    passthrough: tuple[type[Exception], ...] = (),
) -> T:
    """Migrate, run `work(services)` and close. A SurveyError (unknown wave, bad input…) is
    one line and exit 1, except the `passthrough` ones, which the command reports itself."""
    from bot.services import build_services
    from surveys.errors import SurveyError

    migrate_or_exit(settings)

    async def go() -> T:
        services = build_services(settings)
        try:
            await services.db.check()
            return await work(services)
        finally:
            await services.close()

    try:
        return run_async(go)
    except passthrough:
        raise
    except SurveyError as exc:
        raise fail(str(exc)) from None
