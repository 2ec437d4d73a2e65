"""The answering conversation: neutral events in, neutral screens out, for every front end.

`Conversation.handle(member, event)` does what the member asked through `AnswerFlow`:

- every event checks that the wave belongs to the member's community (cached for a
  minute) and reads the wave's title and questionnaire from a cache (both are fixed once a
  wave exists);
- one member's database work runs in order and SQLite sees one writer (`AnswerGate`); an
  answer or a page (Pick, Next) whose write fails for a passing reason (a dropped
  connection, a hanging database, a failover) is retried until `save_policy.deadline`
  (`bot.saving`), then the page comes back with what the member gave and a notice, so
  nothing they typed is lost and no front end waits forever;
- a second "take" of the same wave within `double_click` seconds is dropped (None);
- where the member lands: resume at the first open page with "Welcome back", the first page
  to review after finishing, the next page after Next, "a few required questions are still
  open" when Finish leaves some, the thank-you when complete.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from typing import Any, TypeVar

from bot import metrics
from bot.answering.events import Back, Event, Next, Pick, Show, Stop, Take
from bot.answering.options import Merge
from bot.answering.screens import (
    GONE_QUESTION,
    MARKED_BELOW,
    NOT_LOADED,
    NOT_SAVED_ANSWER,
    NOT_SAVED_PAGE,
    OTHER_COMMUNITY,
    STILL_OPEN,
    Notice,
    PageScreen,
    Screen,
    Stopped,
    Thanks,
)
from bot.saving import SaveFailed, SavePolicy, save_with_retries
from bot.services import Services
from surveys.errors import PageInvalid, SurveyError
from surveys.flow import AnswerFlow, Progress
from surveys.identity import Member
from surveys.paging import Page, PageField, opening_page, paginate
from surveys.schema import Questionnaire, QuestionType
from surveys.validation import field_key, split_field
from surveys.waves import questionnaire_of, wave_by_id

log = logging.getLogger(__name__)

T = TypeVar("T")
DOUBLE_CLICK = 2.0  # a second "take" by the same member within this many seconds is dropped
COMMUNITY_TTL = 60.0  # seconds a space's community is cached
PREFILL_BUDGET = 1.0  # seconds to read an answer for a form that must open within 3 s
Layout = Callable[[Progress], list[Page]]


def at_most(fields: int, *, weight: Callable[[PageField], int] | None = None,
            budget: int | None = None) -> Layout:
    """Pages of at most `fields` fields (and, with `weight`, at most `budget` in weight:
    a platform's components)."""
    return partial(paginate, max_fields=fields, weight=weight, budget=budget)


one_at_a_time = at_most(1)  # a question, or one row of a grid, a page (DMs, the terminal)


def page_of(pages: list[Page], key: str | None) -> int:
    """The index of the page holding field `key` (0 when it is not shown any more)."""
    for page in pages:
        if any(f.key == key for f in page.fields):
            return page.index
    return 0


def first_open(progress: Progress) -> str | None:
    """The first field shown and not answered or skipped yet (a grid: its first open row)."""
    q = progress.next_question()
    if q is None:
        return None
    if q.type is QuestionType.grid:
        pending = progress.pending_rows(q)
        return field_key(q.id, pending[0]) if pending else q.id
    return q.id


def blank(value: Any) -> bool:
    return value is None or value == [] or (isinstance(value, str) and not value.strip())


@dataclass(frozen=True)
class WaveInfo:
    """What never changes once a wave exists: its title, questionnaire and community."""

    title: str
    questionnaire: Questionnaire
    community_id: int


@dataclass(frozen=True)
class Picked:
    """After a pick: its page as stored now (or with the problem), where the member goes
    next (the first open field's page, or the thank-you), and whether that moved."""

    page: PageScreen
    following: Screen
    moved: bool
    step: str = ""  # "<first open field before>><after>": what posting `following` means

    @property
    def ok(self) -> bool:
        return not self.page.errors and not self.page.notice


def shown(result: Screen | Picked | None) -> Screen | None:
    """What a front end shows after an event: after a pick, where the member goes next, or
    the pick's page with the problem."""
    if isinstance(result, Picked):
        return result.following if result.ok else result.page
    return result


async def or_notice(step: Awaitable[T]) -> T | Notice:
    """What `step` gives, or the Notice of the SurveyError it raised (an old button's unknown
    wave, another community's survey, a question no longer asked)."""
    try:
        return await step
    except SurveyError as exc:
        return Notice(str(exc))


async def within(task: asyncio.Future[Any], budget: float) -> bool:
    """Wait up to `budget` seconds for `task` (it runs on either way); True when it finished.
    Slack and Discord want an answer within 3 s: a slow screen follows a placeholder."""
    done, _ = await asyncio.wait({task}, timeout=max(budget, 0.0))
    return bool(done)


class WaveBook:
    """Waves (title, questionnaire, community) and the community of each space, cached."""

    def __init__(self, services: Services, platform: str):
        self.services = services
        self.platform = platform
        self._waves: dict[int, WaveInfo] = {}
        self._communities: dict[str, tuple[float, int]] = {}

    async def wave(self, wave_id: int) -> WaveInfo:
        if wave_id not in self._waves:
            async with self.services.db.session() as session:
                wave = await wave_by_id(session, wave_id)
            qn = questionnaire_of(wave)
            self._waves[wave_id] = WaveInfo(f"{qn.title} {wave.label}", qn, wave.community_id)
        return self._waves[wave_id]

    async def community(self, space: str) -> int:
        now = time.monotonic()
        cached = self._communities.get(space)
        if cached is None or cached[0] < now:
            community = await self.services.community_for(self.platform, space)
            cached = self._communities[space] = (now + COMMUNITY_TTL, community.id)
        return cached[1]


class Front:
    """What every front end holds: its conversation, whose save policy tests may change."""

    conversation: Conversation

    @property
    def save_policy(self) -> SavePolicy:
        """How long a save is retried before the member sees it was not saved (`bot.saving`)."""
        return self.conversation.save_policy

    @save_policy.setter
    def save_policy(self, policy: SavePolicy) -> None:
        self.conversation.save_policy = policy


class Conversation:
    """One front end's answering: `handle(member, event)` → a screen to render."""

    def __init__(
        self, services: Services, platform: str, layout: Layout, *, book: WaveBook | None = None,
        double_click: float = DOUBLE_CLICK, check_community: bool = True, review_on_open: bool = True,
    ):
        self.flow: AnswerFlow = services.flow
        self.platform = platform
        self.gate = services.answer_gate
        self.layout = layout
        self.book = book or WaveBook(services, platform)
        self.double_click = double_click
        self.check_community = check_community
        self.review_on_open = review_on_open
        self._recent: dict[tuple[Member, int], float] = {}
        self.save_policy = SavePolicy()

    async def handle(self, member: Member, event: Event) -> Screen | Picked | None:
        match event:
            case Take():
                return await self.take(member, event.wave_id)
            case Pick():
                return await self.pick(member, event.wave_id, event.key, event.value)
            case Next():
                return await self.next(member, event.wave_id, event.anchor, event.values, event.finish)
            case Back():
                return await self.back(member, event.wave_id, event.anchor, event.values)
            case Stop():
                return await self.stop(member, event.wave_id, event.values)
            case Show():
                return await self.show(member, event.wave_id, event.key, event.errors, event.draft)
        raise TypeError(f"not an answering event: {event!r}")

    # -- the pieces every event uses ---------------------------------------------------------
    async def admit(self, member: Member, wave_id: int) -> WaveInfo:
        """The wave, when it belongs to the member's community; else a SurveyError."""
        info = await self.book.wave(wave_id)
        if self.check_community and await self.book.community(member.space) != info.community_id:
            raise SurveyError(OTHER_COMMUNITY)
        return info

    async def field(self, member: Member, wave_id: int, key: str) -> tuple[WaveInfo, PageField]:
        """The wave and the field of `key`; a SurveyError when it is no longer asked."""
        info = await self.admit(member, wave_id)
        qid, row_id = split_field(key)
        if not info.questionnaire.has_question(qid):
            raise SurveyError(GONE_QUESTION)
        q = info.questionnaire.question(qid)
        row = q.row(row_id) if row_id else None
        if row_id and row is None:
            raise SurveyError(GONE_QUESTION)
        return info, PageField(q, row)

    async def write(self, member: Member, call: Callable[[], Awaitable[T]],
                    what: str = "saving answers") -> T:
        """`call()` in the member's order, retried while the database falters (`bot.saving`);
        SaveFailed after the policy's deadline, a SurveyError at once."""
        return await save_with_retries(lambda: self.gate.run(member, call), policy=self.save_policy,
                                       what=what)

    async def page(self, wave_id: int, progress: Progress, *, key: str | None = None,
                   index: int | None = None, **kw: Any) -> PageScreen:
        pages = self.layout(progress)
        at = page_of(pages, key) if index is None else index
        title = (await self.book.wave(wave_id)).title
        return PageScreen(wave_id, title, progress, pages, min(max(at, 0), max(len(pages) - 1, 0)), **kw)

    async def check(self, wave_id: int, values: dict[str, Any]) -> dict[str, str]:
        """The problems of a submitted page by field key, without touching the database."""
        try:
            AnswerFlow.validate((await self.book.wave(wave_id)).questionnaire, values)
        except PageInvalid as exc:
            return exc.errors
        return {}

    def _clicked_twice(self, member: Member, wave_id: int) -> bool:
        now = time.monotonic()
        if len(self._recent) > 10_000:
            self._recent = {k: t for k, t in self._recent.items() if now - t < self.double_click}
        last = self._recent.get((member, wave_id))
        self._recent[(member, wave_id)] = now
        return last is not None and now - last < self.double_click

    def _forget_click(self, member: Member, wave_id: int) -> None:
        """An answer or a stop in between: the next "take" is meant."""
        self._recent.pop((member, wave_id), None)

    async def _valid_part(self, wave_id: int, values: dict[str, Any] | None) -> dict[str, Any]:
        """What is filled in and valid among `values` (kept on Back and Stop)."""
        qn = (await self.book.wave(wave_id)).questionnaire
        keep = {}
        for key, value in (values or {}).items():
            if blank(value):
                continue
            try:
                AnswerFlow.validate(qn, {key: value})
            except SurveyError:
                continue
            keep[key] = value
        return keep

    async def unsaved(self, info: WaveInfo, wave_id: int, key: str, given: dict[str, Any],
                      notice: str) -> PageScreen:
        """The page again after a save gave up: what the member gave still shown, and why
        (built without the database, which is not answering)."""
        typed = Progress(wave_id, info.questionnaire, {k: v for k, v in given.items()
                                                       if not blank(v) and not isinstance(v, Merge)})
        return await self.page(wave_id, typed, key=key, notice=notice, saved=False,
                               draft={k: v for k, v in given.items() if not isinstance(v, Merge)})

    async def opening(self, member: Member, wave_id: int, key: str,
                      budget: float = PREFILL_BUDGET) -> tuple[str, PageField, Any] | Notice:
        """What a one-field form opens with: the wave's title, the field and its stored answer
        (None when the database is slower than `budget`: the form opens empty rather than
        late, and the read finishes on its own); a Notice when the member cannot answer."""
        try:
            info, f = await self.field(member, wave_id, key)
        except SurveyError as exc:
            return Notice(str(exc))
        read = asyncio.ensure_future(self.show(member, wave_id, key))
        if not await within(read, budget):
            read.add_done_callback(lambda task: task.cancelled() or task.exception())
            log.info("opening a form without the saved answer: the database is busy")
            return info.title, f, None
        shown = read.result()
        return (info.title, f, shown.progress.answers.get(key)) if isinstance(shown, PageScreen) else shown

    # -- the events ------------------------------------------------------------------------
    async def take(self, member: Member, wave_id: int) -> Screen | None:
        """Start or resume; None for a double click (the first one is being answered).
        Why the member cannot answer (a closed wave, another community) is said every time."""
        twice = bool(self.double_click) and self._clicked_twice(member, wave_id)
        try:
            info = await self.admit(member, wave_id)
            progress = await self.write(member, lambda: self.flow.start(wave_id, member), "starting")
        except SurveyError as exc:
            return Notice(str(exc))
        except SaveFailed:
            return Notice(NOT_LOADED)
        if twice:
            log.info("dropped a repeated take-the-survey click")
            return None
        if not self.review_on_open and first_open(progress) is None:
            return Thanks(wave_id, info.title, progress, again=True)
        index, notice = opening_page(progress, self.layout(progress))
        return await self.page(wave_id, progress, index=index, notice=notice)

    async def pick(self, member: Member, wave_id: int, key: str, value: Any) -> Picked | Notice:
        """Store one field now; its page shows the problem when it is not valid."""
        try:
            info, _field = await self.field(member, wave_id, key)
        except SurveyError as exc:
            return Notice(str(exc))

        async def store() -> tuple[Progress, Progress | None, dict[str, str], Any]:
            before = await self.flow.progress(wave_id, member)
            given = value.apply(before.answers.get(key)) if isinstance(value, Merge) else value
            try:
                return before, (await self.flow.submit(wave_id, member, {key: given})).progress, {}, given
            except PageInvalid as exc:
                return before, None, exc.errors, given

        try:
            before, after, errors, given = await self.write(member, store, "saving an answer")
        except SurveyError as exc:
            return Notice(str(exc), info.title)
        except SaveFailed:
            page = await self.unsaved(info, wave_id, key, {key: value}, NOT_SAVED_ANSWER)
            return Picked(page, page, False)
        if after is None:
            problem = errors.get(key) or " ".join(errors.values())
            page = await self.page(wave_id, before, key=key, errors={key: problem}, draft={key: given})
            return Picked(page, page, False)
        self._forget_click(member, wave_id)
        metrics.ANSWERS_STORED.labels(self.platform).inc()
        page = await self.page(wave_id, after, key=key)
        upcoming = first_open(after)
        following: Screen = (Thanks(wave_id, info.title, after) if upcoming is None
                             else await self.page(wave_id, after, key=upcoming))
        return Picked(page, following, first_open(before) != upcoming, f"{first_open(before)}>{upcoming}")

    async def next(self, member: Member, wave_id: int, anchor: str, values: dict[str, Any] | None,
                   finish: bool = False) -> Screen:
        """Store the page (a form's values, else its blanks as skipped) and move on."""
        try:
            info = await self.admit(member, wave_id)
        except SurveyError as exc:
            return Notice(str(exc))

        async def store() -> tuple[Progress, dict[str, str]]:
            progress = await self.flow.progress(wave_id, member)
            todo = values
            if todo is None:
                pages = self.layout(progress)
                here = pages[page_of(pages, anchor)].fields if pages else ()
                todo = {f.key: None for f in here if f.key not in progress.answers}
            try:
                if todo or finish:
                    progress = (await self.flow.submit(wave_id, member, todo, finish=finish)).progress
            except PageInvalid as exc:
                return progress, exc.errors
            metrics.ANSWERS_STORED.labels(self.platform).inc(len(todo))
            return progress, {}

        try:
            progress, errors = await self.write(member, store, "saving a page of answers")
        except SurveyError as exc:
            return Notice(str(exc), info.title)
        except SaveFailed:
            return await self.unsaved(info, wave_id, anchor, values or {}, NOT_SAVED_PAGE)
        if errors:
            return await self.page(wave_id, progress, key=anchor, errors=errors, notice=MARKED_BELOW,
                                   draft=values or {})
        self._forget_click(member, wave_id)
        pages = self.layout(progress)
        current = page_of(pages, anchor)
        if current < len(pages) - 1:
            return await self.page(wave_id, progress, index=current + 1)
        if progress.completed:
            return Thanks(wave_id, info.title, progress)
        return await self.page(wave_id, progress, key=first_open(progress), notice=STILL_OPEN)

    async def _keep(self, member: Member, wave_id: int, values: dict[str, Any] | None) -> Progress:
        keep = await self._valid_part(wave_id, values)

        async def save() -> Progress:
            if keep:
                return (await self.flow.submit(wave_id, member, keep)).progress
            return await self.flow.progress(wave_id, member)

        return await self.gate.run(member, save)

    async def back(self, member: Member, wave_id: int, anchor: str,
                   values: dict[str, Any] | None = None) -> Screen:
        """Keep what is valid on this page and show the previous one."""
        try:
            await self.admit(member, wave_id)
            progress = await self._keep(member, wave_id, values)
        except SurveyError as exc:
            return Notice(str(exc))
        return await self.page(wave_id, progress, index=page_of(self.layout(progress), anchor) - 1)

    async def stop(self, member: Member, wave_id: int, values: dict[str, Any] | None = None) -> Screen:
        """Stop for now: keep what is valid; the next "take" is not a double click."""
        self._forget_click(member, wave_id)
        try:
            info = await self.admit(member, wave_id)
            if values:
                await self._keep(member, wave_id, values)
        except SurveyError as exc:
            return Notice(str(exc))
        return Stopped(wave_id, info.title)

    async def show(self, member: Member, wave_id: int, key: str | None = None,
                   errors: dict[str, str] | None = None, draft: dict[str, Any] | None = None,
                   ) -> PageScreen | Notice:
        """The page holding `key` as stored (with a problem and the member's draft, if any)."""
        try:
            await self.admit(member, wave_id)
            progress = await self.write(member, lambda: self.flow.progress(wave_id, member),
                                        "reading answers")
        except SurveyError as exc:
            return Notice(str(exc))
        except SaveFailed:  # a failover costs the member a wait, then at worst this notice
            return Notice(NOT_LOADED)
        return await self.page(wave_id, progress, key=key, errors=errors or {}, draft=draft or {})
