"""What every `stateof` command shares: one-line failures, settings, migration, services.

User errors are one red line on stderr and exit 1; a bad setting or an unreachable
database is one line and exit 2. Nothing here prints a traceback for something a user did.
Commands that only read skip the migration run: they check the schema version (one query)
and ask for `stateof db upgrade` when the database is behind.

Heavy modules (SQLAlchemy, Alembic, pydantic-settings) are imported inside the functions, so
`stateof --help` stays quick.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from importlib import resources
from typing import TYPE_CHECKING, Any, TypeVar

import typer
from rich.console import Console

if TYPE_CHECKING:
    from bot.services import Services
    from bot.settings import Settings
    from surveys.db import Database

log = logging.getLogger(__name__)

out = Console()
err = Console(stderr=True)
T = TypeVar("T")
WIDE = 400  # columns a table may use when printed to a pipe or file


def print_table(table: object) -> None:
    """A Rich table on stdout: the terminal's width there, never cut when piped (a table takes
    only the width its cells need, up to `WIDE` columns)."""
    if out.is_terminal:
        out.print(table)
    else:
        Console(file=out.file, width=WIDE, no_color=out.no_color).print(table)


def fail_with_problems(exc: Exception, problems: Sequence[object], more: int) -> typer.Exit:
    """Print a file's refusal, its listed problems and how many more there are; the Exit."""
    err.print(f"[red]error:[/] {exc}", highlight=False, soft_wrap=True)
    for problem in problems:
        err.print(f"  {problem}", highlight=False, markup=False, soft_wrap=True)
    if more:
        err.print(f"  … and {more:,} more problem(s) not listed", highlight=False, markup=False)
    return typer.Exit(1)


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print one red line on stderr and return the Exit to raise (the message is shown as
    written: `stateof[parquet]` or a wave label in brackets is not Rich markup)."""
    from rich.markup import escape

    err.print(f"[red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


def settings_or_exit(quiet: bool = False) -> Settings:
    """Settings, or one line naming the bad setting and exit 2. `quiet` keeps the log at
    WARNING (unless DEBUG is asked for) so command output stays clean for pipes."""
    from bot.logs import setup_logging
    from bot.settings import SettingsError, load_settings

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

    from surveys.db import describe_url, sync_url
    from surveys.migrate import upgrade

    try:
        upgrade(sync_url(settings.database_url))
    except (OperationalError, DBAPIError) as exc:
        reason = str(getattr(exc, "orig", exc)).strip().splitlines()[0]
        raise fail(f"cannot connect to {describe_url(settings.database_url)}: {reason}", 2) from None


class SchemaBehind(Exception):
    """The database's schema is older (or newer) than this version of stateof expects."""


_REVISION = re.compile(r"^(down_revision|revision)\b[^=]*=\s*['\"]?([\w.-]+|None)['\"]?", re.MULTILINE)


def schema_heads() -> set[str]:
    """The newest migration revision(s), read from the bundled migration files (no Alembic)."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in (resources.files("migrations") / "versions").iterdir():
        if not path.name.endswith(".py"):
            continue
        for kind, value in _REVISION.findall(path.read_text(encoding="utf-8")):
            (revisions if kind == "revision" else parents).add(value)
    return revisions - parents


async def check_schema(db: Database) -> None:
    """SchemaBehind unless the database is at the newest migration (one small query)."""
    from sqlalchemy import text
    from sqlalchemy.exc import DBAPIError

    try:
        async with db.session() as session:
            found = set((await session.execute(text("SELECT version_num FROM alembic_version"))).scalars())
    except DBAPIError:
        found = set()
    if found != schema_heads():
        state = "has no stateof tables yet" if not found else "is at an older (or newer) schema"
        raise SchemaBehind(f"the database {state}; run `stateof db upgrade` first")


def run_async(coro_fn: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run a coroutine; a bad setting or an unreachable database becomes one line, exit 2."""
    import asyncio

    from bot.settings import SettingsError
    from surveys.db import DatabaseUnavailable

    try:
        return asyncio.run(coro_fn())
    except (DatabaseUnavailable, SettingsError, SchemaBehind) as exc:
        raise fail(str(exc), 2) from None


def run_with_services(
    settings: Settings, work: Callable[[Services], Awaitable[T]],
    passthrough: tuple[type[Exception], ...] = (), *, migrate: bool = True,
) -> T:
    """Migrate (or, with `migrate=False`, for commands that only read, check the schema
    version), run `work(services)` and close. A SurveyError (unknown wave, bad input…) is one
    line and exit 1, except the `passthrough` ones, which the command reports itself."""
    from bot.services import build_services
    from surveys.errors import SurveyError

    if migrate:
        migrate_or_exit(settings)

    async def go() -> T:
        services = build_services(settings)
        try:
            await services.db.check()
            if not migrate:
                await check_schema(services.db)
            return await work(services)
        finally:
            await services.close()

    try:
        return run_async(go)
    except passthrough:
        raise
    except SurveyError as exc:
        raise fail(str(exc)) from None
