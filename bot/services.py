"""The composition root: one `Services` object wires settings, database, catalog and flow.

Adapters (Slack, Discord, console), the scheduler and the CLI receive it; nothing else
constructs these pieces, so tests can build one against any database.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from bot.health import PlatformHealth
from bot.serial import AnswerGate
from bot.settings import Settings, SettingsError, resolve_secret
from surveys.catalog import Catalog, QuestionnaireError
from surveys.db import Database
from surveys.models import Community
from surveys.ports import ChannelRef, Message, Notifier
from surveys.waves import community_of_space, community_spaces_report, ensure_community

if TYPE_CHECKING:  # the flow (and its ledger's sealing) is imported only by what answers
    from surveys.flow import AnswerFlow

log = logging.getLogger(__name__)


@dataclass
class Services:
    """Everything a front end needs; platform notifiers register themselves by name."""

    settings: Settings
    db: Database
    catalog: Catalog
    notifiers: dict[str, Notifier] = field(default_factory=dict)
    scheduling: Any = None  # bot.commands.Scheduling, set by the scheduler when it runs
    background: set[asyncio.Task[Any]] = field(default_factory=set)
    health: PlatformHealth = field(default_factory=PlatformHealth)
    # spaces linked at start-up rather than in settings (`platform:id` → why), e.g. the workspace
    # of a single-workspace Slack token
    links: dict[str, str] = field(default_factory=dict)
    _answer_gate: AnswerGate | None = None
    _flow: AnswerFlow | None = None

    @property
    def flow(self) -> AnswerFlow:
        """The answer flow; its pseudonym key is resolved (and, on first run, generated) here,
        so commands that never record answers (summary, export) never create a key file."""
        if self._flow is None:
            from surveys.flow import AnswerFlow

            self._flow = AnswerFlow(self.db, resolve_secret(self.settings),
                                    batch_min=self.settings.min_group_size)
        return self._flow

    @property
    def secret(self) -> bytes:
        return self.flow.secret

    @property
    def answer_gate(self) -> AnswerGate:
        """The one gate every adapter's answer writes pass through (see bot.serial)."""
        if self._answer_gate is None:
            self._answer_gate = AnswerGate(self.db.dialect)
        return self._answer_gate

    def spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]:
        """Run slow work after a command has answered (a failure is logged, never lost
        silently); `close` waits a moment for it, then cancels it."""
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self.background.add(task)

        def done(t: asyncio.Task[Any]) -> None:
            self.background.discard(t)
            if not t.cancelled() and t.exception() is not None:
                log.error("background task %s failed", name, exc_info=t.exception())

        task.add_done_callback(done)
        return task

    def register_notifier(self, notifier: Notifier) -> None:
        self.notifiers[notifier.platform] = notifier

    @property
    def linked_spaces(self) -> dict[str, str]:
        """Every space linked to the community: configured ones and those linked at start-up."""
        return {**self.links, **self.settings.linked_spaces}

    def link_space(self, platform: str, space: str, why: str) -> None:
        """Link a space the process itself knows to be the community's (e.g. its token's)."""
        self.links[f"{platform}:{space}"] = why

    async def community_report(self) -> list[str]:
        """Which spaces form the community (links applied to stored spaces first), for the log."""
        async with self.db.session() as session:
            return await community_spaces_report(session, self.settings.community, self.settings.timezone,
                                                 self.linked_spaces)

    async def community_for(self, platform: str, space: str) -> Community:
        """The community a Slack team / Discord guild belongs to (default on first sight).

        The default community follows a configured `STATEOF_TIMEZONE` that differs from its
        stored one (the operator changed it); other communities keep their own.
        """
        async with self.db.session() as session:
            community = await community_of_space(
                session, platform, space, self.settings.community, self.settings.timezone,
                linked=self.linked_spaces,
            )
            configured = "timezone" in getattr(self.settings, "model_fields_set", ())
            moved = (configured and community.slug == self.settings.community
                     and community.timezone != self.settings.timezone)
            if moved:
                community = await ensure_community(
                    session, community.slug, timezone=self.settings.timezone, follow_timezone=True
                )
        if moved and self.scheduling is not None:
            await self.scheduling.community_changed(community.id)
        return community

    async def default_community(self) -> Community:
        async with self.db.session() as session:
            return await ensure_community(
                session, self.settings.community, timezone=self.settings.timezone
            )

    async def post(self, channel: ChannelRef, message: Message) -> str | None:
        """Post through the channel's platform; logs and returns None when unavailable."""
        notifier = self.notifiers.get(channel.platform)
        if notifier is None:
            log.warning("no %s connection: cannot post to %s", channel.platform, channel.channel)
            return None
        return await notifier.post(channel, message)

    async def close(self) -> None:
        if self.background:
            _, pending = await asyncio.wait(set(self.background), timeout=5)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        await self.db.dispose()


def build_services(settings: Settings, db: Database | None = None) -> Services:
    """Wire the process. The database is not contacted here (see `Database.check`)."""
    database = db or Database(settings.database_url)
    extra = [settings.catalog_dir] if settings.catalog_dir else []
    try:
        catalog = Catalog(extra)
    except QuestionnaireError as exc:
        first = exc.problems[0] if exc.problems else "invalid questionnaire"
        raise SettingsError(f"STATEOF_CATALOG_DIR is invalid: {exc.source}: {first} "
                            f"(run `stateof surveys validate {exc.source}`)") from None
    return Services(
        settings=settings,
        db=database,
        catalog=catalog,
    )
