"""`stateof launch|status|close|remind|extend|reopen|rename|delete`: the chat's moderator commands
from the command line, generated from the command table (`bot.command_table`, rows with
`cli=True`), so an operator can run a wave from cron or CI.

Each runs the same handler as `/survey NAME`, as a moderator of the community named by
`--community` (default: `STATEOF_COMMUNITY`), and posts through the platforms configured in
the environment (Slack with `SLACK_BOT_TOKEN`, Discord with `DISCORD_TOKEN`). Channels are
given as `PLATFORM:SPACE:CHANNEL`. A running bot hears of the change at once on PostgreSQL
(a notification to the scheduler leader), else at its next resync (about a minute).
A user error is one line and exit 1; a command that asks to be confirmed (`delete` without
`--confirm`) shows what it would do and exits 1.
"""

from __future__ import annotations

import getpass
import inspect
import logging
from typing import TYPE_CHECKING, Annotated, Any

import typer

from bot.cli_support import err, fail, out, run_with_services, settings_or_exit
from bot.command_table import COMMANDS, Arg, Command, Kind

if TYPE_CHECKING:
    from datetime import timedelta

    from bot.services import Services
    from surveys.ports import ChannelRef

log = logging.getLogger(__name__)

READ_ONLY = {"status"}  # these skip the migration run (the schema version is checked instead)

_HELP = {
    Kind.channel: "Channel to announce in, as PLATFORM:SPACE:CHANNEL (e.g. slack:T0123:C0456).",
}


def _parameter(arg: Arg) -> inspect.Parameter:
    """The Typer parameter of one argument: required ones are arguments, the rest options."""
    help_text = _HELP.get(arg.kind, arg.help)
    flag = "--" + arg.name.replace("_", "-")
    if arg.kind is Kind.flag:
        annotation: Any = Annotated[bool, typer.Option(flag, help=arg.help)]
        return inspect.Parameter(arg.key, inspect.Parameter.KEYWORD_ONLY, annotation=annotation,
                                 default=False)
    if arg.required:
        annotation = Annotated[str, typer.Argument(metavar=arg.name.upper(), help=help_text,
                                                   show_default=False)]
        return inspect.Parameter(arg.key, inspect.Parameter.KEYWORD_ONLY, annotation=annotation)
    annotation = Annotated[str | None, typer.Option(flag, help=help_text, show_default=False)]
    return inspect.Parameter(arg.key, inspect.Parameter.KEYWORD_ONLY, annotation=annotation, default=None)


def _values(spec: Command, options: dict[str, Any]) -> dict[str, str]:
    """Typer's values as the chat's argument strings (a flag given is `yes`)."""
    args: dict[str, str] = {}
    for arg in spec.args:
        value = options.get(arg.key)
        if value is None or value is False:
            continue
        args[arg.name] = "yes" if value is True else str(value)
    return args


def _check(spec: Command, args: dict[str, str]) -> None:
    """Durations and channels checked before any work (one line, exit 1)."""
    from bot.lifecycle import parse_duration
    from surveys.errors import SurveyError

    for arg in spec.args:
        value = args.get(arg.name)
        if value is None:
            continue
        try:
            if arg.kind is Kind.duration:
                parse_duration(value)
        except SurveyError as exc:
            raise fail(f"--{arg.name}: {exc}") from None
        if arg.kind is Kind.channel and len([p for p in value.split(":") if p]) != 3:
            raise fail(f"--{arg.name} '{value}' is not a channel; use PLATFORM:SPACE:CHANNEL, "
                       "e.g. slack:T0123:C0456")


class CommandLineNotifier:
    """The `cli` platform: a 'DM' to the operator is printed (e.g. the result of reminders
    sent after the command answered); there are no channels."""

    platform = "cli"

    async def post(self, channel: Any, message: Any) -> str | None:
        return None

    async def dm(self, member: Any, message: Any) -> bool:
        out.print(f"{message.title}: {message.text}" if message.title else message.text,
                  highlight=False, markup=False, soft_wrap=True)
        return True

    async def channel_members(self, channel: Any) -> list[str] | None:
        return None


class NotifyingScheduler:
    """`bot.commands.Scheduling` for the CLI: tells a running bot's scheduler what changed."""

    def __init__(self, services: Services):
        self.services = services

    async def add_schedule(
        self, community_id: int, survey_id: str, cron: str, *, duration: timedelta,
        label_pattern: str, channels: list[ChannelRef], reminders: list[str] | None = None,
    ) -> str:
        from bot.scheduling.keys import SCHEDULE, Ref
        from bot.scheduling.schedules import create_schedule, notify_change, schedule_info
        from surveys.models import Community, utcnow

        async with self.services.db.session() as session:
            community = await session.get(Community, community_id)
            assert community is not None
            schedule = await create_schedule(session, community, survey_id, cron, duration=duration,
                                             label_pattern=label_pattern, channels=channels,
                                             reminders=reminders)
            await notify_change(session, Ref(SCHEDULE, schedule.id))
            return schedule_info(schedule, utcnow()).describe()

    async def upcoming(self, community_id: int) -> list[tuple[str, object]]:
        from bot.scheduling.plan import build_plan
        from surveys.models import utcnow

        async with self.services.db.session() as session:
            plan = await build_plan(session, utcnow(), community_id=community_id,
                                    catalog=self.services.catalog)
        return [(job.what, job.when) for job in plan.jobs]

    async def wave_changed(self, wave_id: int) -> None:
        await self._notify("wave", wave_id)

    async def community_changed(self, community_id: int) -> None:
        await self._notify("community", community_id)

    async def _notify(self, table: str, row: int) -> None:
        from bot.scheduling.keys import Ref
        from bot.scheduling.schedules import notify_change

        async with self.services.db.session() as session:
            await notify_change(session, Ref(table, row))


async def _connect_platforms(services: Services) -> list[Any]:
    """Post-only connections to the configured platforms; returns their closers."""
    closers = []
    if services.settings.slack_bot_token or services.settings.slack_client_id:
        from bot.slack import outbound as slack_outbound

        closer = await slack_outbound.connect(services)
        if closer is not None:
            closers.append(closer)
    if services.settings.discord_token:
        from bot.discord import outbound as discord_outbound

        closer = await discord_outbound.connect(services)
        if closer is not None:
            closers.append(closer)
    services.register_notifier(CommandLineNotifier())  # type: ignore[arg-type]
    return closers


def _command(spec: Command) -> Any:
    """The Typer callback of one table row."""
    community_param = inspect.Parameter(
        "community", inspect.Parameter.KEYWORD_ONLY, default=None,
        annotation=Annotated[str | None, typer.Option(
            "--community", help="Community slug (default: STATEOF_COMMUNITY).", show_default=False)])
    ordered = sorted(spec.args, key=lambda a: not a.required)
    params = [_parameter(a) for a in ordered] + [community_param]

    def callback(**options: Any) -> None:
        args = _values(spec, options)
        _check(spec, args)
        settings = settings_or_exit(quiet=True)
        message = _run(settings, spec, args, options.get("community"))
        if message.title:
            out.print(message.title, style="bold", highlight=False, markup=False)
        out.print(message.text, highlight=False, markup=False, soft_wrap=True)
        for attachment in message.attachments:
            err.print(f"(not shown: {attachment.filename})", highlight=False, markup=False)
        if any(a.kind is Kind.flag and a.name == "confirm" for a in spec.args) and "confirm" not in args:
            raise typer.Exit(1)

    callback.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    callback.__name__ = spec.name.replace("-", "_")
    callback.__doc__ = spec.help[:1].upper() + spec.help[1:] + " (as /survey " + spec.name + " in chat)."
    return callback


def _run(settings: Any, spec: Command, args: dict[str, str], community: str | None) -> Any:
    import asyncio

    from bot.commands import CLI, Commands, Invocation

    inv = Invocation(CLI, community or settings.community, None, getpass.getuser(), True, spec.name, args)

    async def work(services: Services) -> Any:
        closers = await _connect_platforms(services)
        services.scheduling = NotifyingScheduler(services)
        try:
            message = await Commands(services).dispatch(inv)
            if services.background:  # e.g. many reminders: the CLI waits for them
                await asyncio.gather(*list(services.background), return_exceptions=True)
            return message
        finally:
            for close in closers:
                await close()

    return run_with_services(settings, work, migrate=spec.name not in READ_ONLY)


def register(app: typer.Typer) -> None:
    """Add the table's CLI commands to `stateof`."""
    for spec in COMMANDS:
        if spec.cli:
            app.command(spec.name, rich_help_panel="Waves (as in chat)")(_command(spec))
