"""The `stateof` command line (Typer + Rich). User errors are one clear line, never a traceback.

Only Typer and Rich load at start-up: each command imports what it uses (the database stack,
pandas and matplotlib only where they are needed), so `stateof --help` answers at once.
`-h` is `--help` everywhere.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from bot.cli_support import err, fail, migrate_or_exit, out, print_table, run_async, settings_or_exit

log = logging.getLogger(__name__)
SHOWN_PROBLEMS = 50  # a validation lists at most this many problems, then how many more

HELP_OPTIONS = {"help_option_names": ["-h", "--help"]}  # inherited by every subcommand

app = typer.Typer(
    name="stateof",
    help="Run a community's recurring 'State of ...' survey inside Slack and Discord.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    context_settings=HELP_OPTIONS,
    rich_markup_mode=None,
)
surveys_app = typer.Typer(help="The questionnaire catalog.", no_args_is_help=True, rich_markup_mode=None)
db_app = typer.Typer(help="Database schema (Alembic migrations).", no_args_is_help=True,
                     rich_markup_mode=None)
app.add_typer(surveys_app, name="surveys")
app.add_typer(db_app, name="db")


def _show_version(value: bool) -> None:
    if value:
        from importlib.metadata import PackageNotFoundError, version

        try:
            out.print(f"stateof {version('stateof')}", highlight=False)
        except PackageNotFoundError:
            out.print("stateof (not installed as a package)", highlight=False)
        raise typer.Exit()


@app.callback()
def _root(
    show_version: Annotated[bool, typer.Option(
        "--version", callback=_show_version, is_eager=True, help="Print the version and exit.")] = False,
) -> None:
    """Run a community's recurring 'State of ...' survey inside Slack and Discord."""


@app.command()
def demo(
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for the database and summary.")] = Path(
        "stateof-demo"
    ),
    seed: Annotated[int, typer.Option(help="Random seed of the synthetic community.")] = 2026,
) -> None:
    """Quick start: three yearly waves of a SYNTHETIC community and the summary of the latest."""
    from bot.logs import setup_logging

    setup_logging("text", "WARNING")
    from bot.demo import WAVES, run_demo

    if out_dir.exists() and not out_dir.is_dir():
        raise fail(f"--out {out_dir} is a file; give a folder")
    out.print(f"Building a synthetic community ({', '.join(f'{k}: {v}' for k, v in WAVES.items())} "
              "members) answering through the answer flow...")
    try:
        import asyncio

        result = asyncio.run(run_demo(out_dir, seed))
    except OSError as exc:
        raise fail(f"cannot write to {out_dir}: {exc.strerror or exc}") from None
    out.print(f"[green]Done.[/] Synthetic data (not real survey results) in {result.database}")
    for path in result.files:
        out.print(f"  wrote {path}")
    md = next((p for p in result.files if p.suffix == ".md"), None)
    if md:
        out.print(f"Open [bold]{md}[/] to read the summary of wave 2026 compared with 2025 and 2024.")
    url = f"sqlite+aiosqlite:///{result.database.resolve()}"
    out.print("Explore it further, e.g. only the people who build ML infrastructure:", highlight=False)
    command = sys.argv[0] if Path(sys.argv[0]).name == "stateof" else "stateof"
    out.print(f"  STATEOF_DATABASE_URL={url} {command} summary --survey state-of-mlops --wave 2026 "
              "--where role=infra,models_and_infra", highlight=False, markup=False, soft_wrap=True)


@app.command()
def run(
    port: Annotated[int, typer.Option(help="HTTP port for /healthz, /metrics and Slack events.")] = 3000,
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "0.0.0.0",
    chat: Annotated[
        bool | None, typer.Option("--chat/--no-chat", help="Open the terminal chat (default: "
                                  "when no platform is configured and a terminal is attached).")
    ] = None,
    survey: Annotated[str, typer.Option(help="Questionnaire for the terminal chat.")] = "state-of-mlops",
) -> None:
    """Run the bot: Slack, Discord, the scheduler and the HTTP server."""
    settings = settings_or_exit()
    migrate_or_exit(settings)
    from bot.runner import StartupError, run_bot

    try:
        code = run_async(lambda: run_bot(settings, host=host, port=port, chat=chat, survey=survey))
    except StartupError as exc:
        raise fail(str(exc), 2) from None
    except KeyboardInterrupt:
        code = 0
    raise typer.Exit(code)


@app.command()
def chat(
    survey: Annotated[
        str, typer.Option(help="Questionnaire id from `stateof surveys list`.")
    ] = "state-of-mlops",
    user: Annotated[str | None, typer.Option("--as", help="Answer as this name (default: you).")] = None,
    wave: Annotated[str | None, typer.Option(
        help="Answer this open wave (default: the survey's open wave, else a preview that counts "
             "in no results).")] = None,
) -> None:
    """Answer a questionnaire in the terminal (saved after every question; resumes).

    Without an open wave the answers are a preview: they count in no results."""
    settings = settings_or_exit()
    migrate_or_exit(settings)
    from bot.console import ConsoleChat
    from bot.services import build_services

    async def go() -> None:
        services = build_services(settings)
        try:
            await services.db.check()
            await ConsoleChat(services, out, user=user).run(survey, wave)
        except KeyError as exc:
            raise fail(str(exc.args[0])) from None
        finally:
            await services.close()

    try:
        run_async(go)
    except KeyboardInterrupt:
        out.print("\nStopped. Your answers are saved.")


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Bring the database (SQLite or PostgreSQL) to the newest schema."""
    from surveys.db import describe_url

    settings = settings_or_exit()
    migrate_or_exit(settings)
    out.print(f"Database is up to date: {describe_url(settings.database_url)}")


@surveys_app.command("list")
def surveys_list() -> None:
    """Show the questionnaires in the catalog."""
    from rich.table import Table

    from surveys.catalog import Catalog, QuestionnaireError

    settings = settings_or_exit()
    try:
        catalog = Catalog([settings.catalog_dir] if settings.catalog_dir else [])
    except QuestionnaireError as exc:
        raise fail(f"{exc.source}: {exc.problems[0]}") from None
    table = Table("id", "version", "title", "questions", "source")
    for entry in catalog.entries():
        qn = entry.questionnaire
        table.add_row(qn.id, str(qn.version), qn.title, str(len(qn.questions)), entry.source)
    print_table(table)


@surveys_app.command("validate")
def surveys_validate(file: Annotated[Path, typer.Argument(help="A questionnaire YAML file.")]) -> None:
    """Check a questionnaire file; every problem is listed with its path (exit 1)."""
    from surveys.catalog import QuestionnaireError, load_file

    try:
        qn = load_file(file)
    except QuestionnaireError as exc:
        if len(exc.problems) == 1:  # one line: the file and its problem
            err.print(f"{file}: {exc.problems[0]}", highlight=False, markup=False, soft_wrap=True)
            raise typer.Exit(1) from None
        err.print(f"[red]{file}: {len(exc.problems)} problem(s)[/]", highlight=False, soft_wrap=True)
        for problem in exc.problems[:SHOWN_PROBLEMS]:
            err.print(f"  {problem}", highlight=False, markup=False, soft_wrap=True)
        if len(exc.problems) > SHOWN_PROBLEMS:
            err.print(f"  … and {len(exc.problems) - SHOWN_PROBLEMS} more", highlight=False, markup=False)
        raise typer.Exit(1) from None
    out.print(f"[green]{file}: valid[/] — {qn.id} v{qn.version}, {len(qn.questions)} questions",
              highlight=False)


def _register_subapps() -> None:
    from bot import cli_data, cli_schedule, cli_themes, cli_waves

    cli_data.register(app)
    cli_themes.register(app)
    cli_schedule.register(app)
    cli_waves.register(app)


_register_subapps()


def main() -> None:
    """`stateof`: a usage mistake (unknown option, a value outside a choice list, a missing
    argument) is one red line naming the command's `-h`, exit 2, like every other error."""
    click = _click_exceptions()
    try:
        code = app(standalone_mode=False)
    except click.NoArgsIsHelpError as exc:
        out.print(exc.format_message(), highlight=False, markup=False)
        raise SystemExit(0) from None
    except click.UsageError as exc:
        hint = f" (see `{exc.ctx.command_path} -h`)" if exc.ctx is not None else ""
        raise SystemExit(_usage_line(exc.format_message() + hint)) from None
    except click.ClickException as exc:
        raise SystemExit(_usage_line(exc.format_message(), exc.exit_code)) from None
    except (typer.Abort, getattr(click, "Abort", typer.Abort)):
        err.print("Aborted.")
        raise SystemExit(1) from None
    raise SystemExit(code if isinstance(code, int) else 0)


def _click_exceptions() -> Any:
    """Click's exceptions: vendored inside newer Typer releases, a dependency of older ones."""
    try:
        from typer._click import exceptions
    except ImportError:
        from click import exceptions  # type: ignore[no-redef]  # the same module, unvendored
    return exceptions


def _usage_line(message: str, code: int = 2) -> int:
    fail(" ".join(message.split()), code)
    return code


if __name__ == "__main__":
    main()
