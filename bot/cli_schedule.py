"""`stateof schedule add|list|remove`: recurring waves from the command line.

The rows go into the database; a running bot picks them up (at once on PostgreSQL through
a notification to the scheduler leader, else within a minute at its periodic resync).
"""

from __future__ import annotations

import logging
from typing import Annotated

import typer

from bot.cli_support import fail, out, print_table, run_with_services, settings_or_exit

log = logging.getLogger(__name__)

_fail = fail


def _settings():
    return settings_or_exit(quiet=True)


def _run(settings, work, *, migrate: bool = True):
    """Migrate (or check the schema), run `work(services)` and close; database problems are
    one line, exit 2."""
    return run_with_services(settings, work, migrate=migrate)


def _channel(spec: str):
    from surveys.ports import ChannelRef

    parts = spec.split(":")
    if len(parts) != 3 or not all(parts):
        raise _fail(f"'{spec}' is not a channel; use PLATFORM:SPACE:CHANNEL, e.g. slack:T0123:C0456")
    return ChannelRef(parts[0].lower(), parts[1], parts[2])


def register(app: typer.Typer) -> None:
    """Add the `schedule` command group to the `stateof` CLI."""
    schedule_app = typer.Typer(help="Recurring waves: open, remind, close on a cron schedule.",
                               no_args_is_help=True, rich_markup_mode=None)
    app.add_typer(schedule_app, name="schedule")

    @schedule_app.command("add")
    def add(
        survey: Annotated[str, typer.Argument(help="Questionnaire id, e.g. state-of-mlops.")],
        cron: Annotated[str, typer.Argument(
            help='Five-field cron in the community time zone, e.g. "0 9 1 3 *".')],
        duration: Annotated[str, typer.Option(help="How long each wave stays open: 30d, 2w, 12h.")] = "30d",
        label: Annotated[str, typer.Option(help="Wave label pattern: {year}, {year}-Q{quarter}, "
                                           "{year}-{month:02d}.")] = "{year}",
        channel: Annotated[list[str] | None, typer.Option(
            "--channel", help="Announce in PLATFORM:SPACE:CHANNEL (repeatable).")] = None,
        reminders: Annotated[str | None, typer.Option(
            help="Reminder points, comma-separated: halfway, 75% (of the wave's time), 48h (before "
                 "close), or off. "
                 "Default: halfway,48h.")] = None,
        community: Annotated[str | None, typer.Option(
            help="Community slug (default: STATEOF_COMMUNITY).")] = None,
        timezone: Annotated[str | None, typer.Option(
            help="Time zone of the cron (default: the community's).")] = None,
    ) -> None:
        """Add a recurring wave."""
        from bot.lifecycle import LifecycleError, parse_duration
        from bot.scheduling.keys import SCHEDULE, Ref
        from bot.scheduling.schedules import (
            ScheduleError,
            create_schedule,
            notify_change,
            parse_reminders,
            schedule_info,
        )
        from surveys.models import utcnow
        from surveys.waves import ensure_community

        settings = _settings()
        try:
            length = parse_duration(duration)
        except LifecycleError as exc:
            raise _fail(str(exc)) from None
        channels = [_channel(c) for c in channel or []]
        try:
            points = parse_reminders(reminders)
        except ScheduleError as exc:
            raise _fail(str(exc)) from None

        async def work(services):
            try:
                qn = services.catalog.get(survey)
            except KeyError as exc:
                raise _fail(str(exc.args[0] if exc.args else exc)) from None
            async with services.db.session() as session:
                slug = community or settings.community
                row = await ensure_community(  # the default community follows STATEOF_TIMEZONE
                    session, slug, timezone=settings.timezone,
                    follow_timezone=slug == settings.community and "timezone" in settings.model_fields_set,
                )
                try:
                    schedule = await create_schedule(
                        session, row, qn.id, cron, duration=length, label_pattern=label, channels=channels,
                        reminders=points, timezone=timezone,
                    )
                except ScheduleError as exc:
                    raise _fail(str(exc)) from None
                await notify_change(session, Ref(SCHEDULE, schedule.id))
                return schedule.id, schedule_info(schedule, utcnow()).describe()

        schedule_id, described = _run(settings, work)
        out.print(f"Schedule {schedule_id} added: {described}", highlight=False, markup=False)
        if not channels:
            out.print("No --channel given: waves open without an announcement.", style="yellow")

    @schedule_app.command("list")
    def list_(
        community: Annotated[str | None, typer.Option(help="Only this community (slug).")] = None,
    ) -> None:
        """Show the schedules and when each opens next."""
        from rich.table import Table
        from sqlalchemy import select

        from bot.lifecycle import local_time
        from bot.scheduling.schedules import describe_cron, describe_duration, list_schedules, schedule_info
        from surveys.models import Community, utcnow

        settings = _settings()

        async def work(services):
            async with services.db.session() as session:
                slugs = dict((await session.execute(select(Community.id, Community.slug))).all())
                wanted = None
                if community:
                    wanted = next((cid for cid, slug in slugs.items() if slug == community), -1)
                return slugs, [schedule_info(s, utcnow()) for s in await list_schedules(session, wanted)]

        slugs, infos = _run(settings, work, migrate=False)
        if not infos:
            out.print("No schedules. Add one with: stateof schedule add SURVEY \"0 9 1 3 *\"")
            return
        table = Table("id", "community", "survey", "when", "label", "open for", "channels", "next open")
        for info in infos:
            s = info.schedule
            nxt = (f"{info.next_label}: {local_time(info.next_open, s.timezone)}"
                   if s.enabled and info.next_open else "disabled" if not s.enabled else "never")
            table.add_row(
                str(s.id), slugs.get(s.community_id, "?"), s.survey_id,
                f"{describe_cron(s.cron)} ({s.timezone})", s.label_pattern,
                describe_duration(s.duration_seconds),
                ", ".join(f"{c['platform']}:{c['channel']}" for c in s.channels) or "-", nxt,
            )
        print_table(table)

    @schedule_app.command("remove")
    def remove(
        schedule_id: Annotated[int, typer.Argument(help="The id from `stateof schedule list`.")],
    ) -> None:
        """Remove a schedule (its waves stay; an open wave still closes on time)."""
        from bot.scheduling.keys import SCHEDULE, Ref
        from bot.scheduling.schedules import notify_change, remove_schedule

        settings = _settings()

        async def work(services):
            async with services.db.session() as session:
                removed = await remove_schedule(session, schedule_id)
                if removed is not None:
                    await notify_change(session, Ref(SCHEDULE, schedule_id))
                return removed is not None

        if not _run(settings, work):
            raise _fail(f"there is no schedule {schedule_id} (see `stateof schedule list`)")
        out.print(f"Schedule {schedule_id} removed.")
