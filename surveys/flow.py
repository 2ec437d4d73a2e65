"""The answer flow every front end uses: progress, next question, validated idempotent recording.

Slack modals, Discord views, the terminal chat, the demo and the CSV import all record
answers through `AnswerFlow.submit`, so validation and storage rules hold everywhere:
one current answer per (wave, respondent, question, grid row); a repeated delivery
changes nothing; a changed answer replaces the old one.

Privacy: the flow never writes the participation ledger itself. Starting and completing
add sealed marks that `surveys.ledger` applies later in shuffled daily batches, and the
response's times are days, so no id, time or row order pairs a member with their answers.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, overload

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from surveys.db import Database, rows_changed
from surveys.errors import InvalidAnswer, PageInvalid, UnknownQuestion, WaveNotOpen
from surveys.identity import Member, pseudonym
from surveys.ledger import COMPLETED, STARTED, Ledger
from surveys.models import (
    Answer,
    AnswerChoice,
    Participation,
    ReminderOptOut,
    Respondent,
    Response,
    Wave,
    WaveStatus,
    utcnow,
)
from surveys.schema import Question, Questionnaire, QuestionType
from surveys.upsert import dialect_insert, insert_ignore
from surveys.validation import (
    chosen_options,
    condition_met,
    field_key,
    normalize,
    split_field,
)
from surveys.waves import questionnaire_of, wave_by_id

log = logging.getLogger(__name__)

SKIPPED = None


@dataclass
class Progress:
    """Where one respondent stands in one wave."""

    wave_id: int
    questionnaire: Questionnaire
    answers: dict[str, Any] = field(default_factory=dict)  # field key → value (None = skipped)
    completed: bool = False

    def value(self, question_id: str, row_id: str = "") -> Any:
        return self.answers.get(field_key(question_id, row_id))

    def has(self, question_id: str, row_id: str = "") -> bool:
        return field_key(question_id, row_id) in self.answers

    def by_question(self) -> dict[str, Any]:
        """Answers keyed by question id (grid → {row: scale}); skips left out."""
        out: dict[str, Any] = {}
        for key, value in self.answers.items():
            if value is None:
                continue
            qid, row = split_field(key)
            if row:
                out.setdefault(qid, {})[row] = value
            else:
                out[qid] = value
        return out

    def visible(self) -> list[Question]:
        """The questions shown to this respondent, given their earlier answers."""
        answers = self.by_question()
        return [q for q in self.questionnaire.questions if condition_met(q, answers)]

    def is_done(self, q: Question) -> bool:
        if q.type is QuestionType.grid:
            return all(self.has(q.id, row.id) for row in q.rows)
        return self.has(q.id)

    def next_question(self) -> Question | None:
        """The first shown question not yet answered or skipped; None when finished."""
        return next((q for q in self.visible() if not self.is_done(q)), None)

    def pending_rows(self, q: Question) -> list[str]:
        return [row.id for row in q.rows if not self.has(q.id, row.id)]

    @property
    def answered_count(self) -> int:
        return sum(1 for v in self.answers.values() if v is not None)

    @property
    def position(self) -> tuple[int, int]:
        """(questions done, questions shown) for progress displays."""
        shown = self.visible()
        return sum(1 for q in shown if self.is_done(q)), len(shown)


@dataclass
class SubmitResult:
    """What a submission changed: fields stored anew or replaced, and completion."""

    progress: Progress
    changed: list[str]
    unchanged: list[str]
    completed_now: bool


class AnswerFlow:
    """Record and read answers for members, identified only through their pseudonym."""

    def __init__(self, db: Database, secret: bytes, *, batch_min: int = 5):
        self.db = db
        self.secret = secret
        self.ledger = Ledger(secret, batch_min=batch_min)

    # -- reading -------------------------------------------------------------------
    async def progress(self, wave_id: int, member: Member) -> Progress:
        async with self.db.session() as session:
            wave = await wave_by_id(session, wave_id)
            respondent_id = await self._respondent_id(session, wave.community_id, member, False)
            return await self._progress(session, wave, respondent_id)

    async def _progress(
        self, session: AsyncSession, wave: Wave, respondent_id: int | None
    ) -> Progress:
        return (await self._load(session, wave, respondent_id))[0]

    async def _load(
        self, session: AsyncSession, wave: Wave, respondent_id: int | None
    ) -> tuple[Progress, bool]:
        """The respondent's progress, and whether their response row exists."""
        qn = questionnaire_of(wave)
        progress = Progress(wave.id, qn)
        if respondent_id is None:
            return progress, False
        rows = await session.execute(
            select(Answer.question_id, Answer.row_id, Answer.value).where(
                Answer.wave_id == wave.id, Answer.respondent_id == respondent_id
            )
        )
        for qid, row_id, value in rows:
            progress.answers[field_key(qid, row_id)] = value
        done = (await session.execute(
            select(Response.completed_at).where(
                Response.wave_id == wave.id, Response.respondent_id == respondent_id
            )
        )).first()
        progress.completed = done is not None and done[0] is not None
        return progress, done is not None

    # -- writing -------------------------------------------------------------------
    async def start(self, wave_id: int, member: Member) -> Progress:
        """Mark the member as started (ledger + response) and return their progress."""
        async with self.db.session() as session:
            wave = await wave_by_id(session, wave_id)
            self._require_open(wave)
            respondent_id = await self._respondent_id(session, wave.community_id, member, True)
            marked = await self._ensure_response(session, wave.id, respondent_id, member)
            progress = await self._progress(session, wave, respondent_id)
        if marked:
            self.ledger.flush_soon(self.db)
        return progress

    async def submit(
        self,
        wave_id: int,
        member: Member,
        values: Mapping[str, Any],
        *,
        finish: bool = False,
        answered_at: datetime | None = None,
    ) -> SubmitResult:
        """Validate every field first (PageInvalid lists each problem), then store them.

        `values` maps field keys (`focus`, `tooling.ml_pipeline`) to raw answers; a grid
        question may also be given whole as {row: scale}. Blank means skipped.
        """
        async with self.db.session() as session:
            wave = await wave_by_id(session, wave_id)
            self._require_open(wave, answered_at)
            qn = questionnaire_of(wave)
            clean = self.validate(qn, values)
            respondent_id = await self._respondent_id(session, wave.community_id, member, True)
            before, has_response = await self._load(session, wave, respondent_id)
            marked = False
            if not has_response:
                marked = await self._ensure_response(session, wave.id, respondent_id, member)
            changed = [k for k, v in clean.items() if not before.has(*split_field(k))
                       or before.answers[k] != v]
            unchanged = [k for k in clean if k not in changed]
            when = answered_at or utcnow()
            stored = {k: clean[k] for k in changed}
            await self._store(session, wave.id, respondent_id, qn, stored, when)
            # what the table now holds for this respondent, without reading it back
            after = Progress(wave.id, qn, {**before.answers, **stored}, before.completed)
            await self._drop_hidden(session, wave.id, respondent_id, after)
            completed_now = await self._update_completion(
                session, wave.id, respondent_id, member, after, finish, when
            )
            if changed:
                answered = any(v not in (None, "", []) for v in after.answers.values())
                await session.execute(
                    update(Response)
                    .where(Response.wave_id == wave.id, Response.respondent_id == respondent_id)
                    .values(updated_at=when, answered=answered, revision=Response.revision + 1)
                )
        if marked or completed_now:
            self.ledger.flush_soon(self.db)
        return SubmitResult(after, changed, unchanged, completed_now)

    @staticmethod
    def validate(qn: Questionnaire, values: Mapping[str, Any]) -> dict[str, Any]:
        """Canonical values by field key; PageInvalid naming each bad field."""
        clean: dict[str, Any] = {}
        errors: dict[str, str] = {}
        for key, raw in values.items():
            qid, row_id = split_field(key)
            if not qn.has_question(qid):
                raise UnknownQuestion(f"'{qid}' is not a question of {qn.id}")
            q = qn.question(qid)
            try:
                if q.type is QuestionType.grid and not row_id:
                    if not isinstance(raw, Mapping):
                        raise InvalidAnswer(key, f"'{q.title}' is answered row by row")
                    for row, cell in raw.items():
                        clean[field_key(qid, row)] = normalize(q, cell, row)
                elif q.type is not QuestionType.grid and row_id:
                    raise InvalidAnswer(key, f"'{q.title}' has no rows")
                else:
                    clean[key] = normalize(q, raw, row_id)
            except InvalidAnswer as exc:
                errors[exc.field] = exc.message
        if errors:
            raise PageInvalid(errors)
        return clean

    async def _store(
        self, session: AsyncSession, wave_id: int, respondent_id: int,
        qn: Questionnaire, values: dict[str, Any], when: datetime,
    ) -> None:
        """Upsert the changed fields in one statement, then rewrite their chosen options."""
        if not values:
            return
        rows = []
        for key, value in values.items():
            qid, row_id = split_field(key)
            q = qn.question(qid)
            number = float(value) if q.type is QuestionType.number and value is not None else None
            rows.append({"wave_id": wave_id, "respondent_id": respondent_id, "question_id": qid,
                         "row_id": row_id, "value": value, "number": number, "answered_at": when})
        stmt = dialect_insert(session, Answer).values(rows)
        stmt = stmt.on_conflict_do_update(
            index_elements=["wave_id", "respondent_id", "question_id", "row_id"],
            set_={"value": stmt.excluded.value, "number": stmt.excluded.number,
                  "answered_at": stmt.excluded.answered_at},
        ).returning(Answer.id, Answer.question_id, Answer.row_id)
        ids = {field_key(qid, row): aid for aid, qid, row in (await session.execute(stmt)).all()}
        await session.execute(delete(AnswerChoice).where(AnswerChoice.answer_id.in_(ids.values())))
        choices = [
            {"answer_id": ids[key], "option_id": opt, "wave_id": wave_id,
             "respondent_id": respondent_id, "question_id": split_field(key)[0],
             "row_id": split_field(key)[1]}
            for key, value in values.items()
            for opt in chosen_options(qn.question(split_field(key)[0]), value)
        ]
        if choices:
            await session.execute(
                insert_ignore(session, AnswerChoice, ["answer_id", "option_id"]), choices
            )

    async def _drop_hidden(
        self, session: AsyncSession, wave_id: int, respondent_id: int, progress: Progress
    ) -> None:
        """Remove answers to questions a changed earlier answer now hides."""
        shown = {q.id for q in progress.visible()}
        hidden = {split_field(k)[0] for k in progress.answers} - shown
        if hidden:
            await session.execute(
                delete(Answer).where(
                    Answer.wave_id == wave_id, Answer.respondent_id == respondent_id,
                    Answer.question_id.in_(hidden),
                )
            )
            progress.answers = {
                k: v for k, v in progress.answers.items() if split_field(k)[0] not in hidden
            }

    async def _update_completion(
        self, session: AsyncSession, wave_id: int, respondent_id: int, member: Member,
        progress: Progress, finish: bool, when: datetime,
    ) -> bool:
        finished = progress.next_question() is None or (finish and self._required_done(progress))
        if not finished or progress.completed:
            progress.completed = progress.completed or finished
            return False
        await session.execute(
            update(Response)
            .where(Response.wave_id == wave_id, Response.respondent_id == respondent_id)
            .values(completed_at=when)  # stored as the day (UTCDay)
        )
        await self._mark(session, wave_id, member, COMPLETED, when)
        progress.completed = True
        return True

    @staticmethod
    def _required_done(progress: Progress) -> bool:
        return all(progress.is_done(q) for q in progress.visible() if q.required)

    @staticmethod
    def _require_open(wave: Wave, now: datetime | None = None) -> None:
        """WaveNotOpen unless the wave is open and its close time (if any) is still ahead.

        A wave still marked open after its close time (the scheduler was down and has not
        closed it yet) takes no more answers: the close time is what members were told.
        """
        if wave.status != WaveStatus.open.value:
            state = "has closed" if wave.status == WaveStatus.closed.value else "is not open yet"
            raise WaveNotOpen(f"The survey wave '{wave.label}' {state}; answers are not accepted.")
        if wave.closes_at is not None and (now or utcnow()) >= wave.closes_at:
            when = wave.closes_at.strftime("%a %-d %b %Y, %H:%M UTC")
            raise WaveNotOpen(f"The survey wave '{wave.label}' closed at {when}; answers are not accepted.")

    @overload
    async def _respondent_id(
        self, session: AsyncSession, community_id: int, member: Member, create: Literal[True]
    ) -> int: ...

    @overload
    async def _respondent_id(
        self, session: AsyncSession, community_id: int, member: Member, create: bool
    ) -> int | None: ...

    async def _respondent_id(
        self, session: AsyncSession, community_id: int, member: Member, create: bool
    ) -> int | None:
        alias = pseudonym(self.secret, member)
        stmt = select(Respondent.id).where(
            Respondent.community_id == community_id, Respondent.pseudonym == alias
        )
        found = (await session.execute(stmt)).scalar_one_or_none()
        if found is not None or not create:
            return found
        await session.execute(
            insert_ignore(session, Respondent, ["community_id", "pseudonym"]).values(
                community_id=community_id, pseudonym=alias, created_at=utcnow()
            )
        )
        return (await session.execute(stmt)).scalar_one()

    async def _ensure_response(
        self, session: AsyncSession, wave_id: int, respondent_id: int, member: Member
    ) -> bool:
        """Create the response row (times are days); True when a ledger mark was added."""
        now = utcnow()
        created = await session.execute(
            insert_ignore(session, Response, ["wave_id", "respondent_id"]).values(
                wave_id=wave_id, respondent_id=respondent_id, platform=member.platform,
                started_at=now, updated_at=now,
            )
        )
        if not rows_changed(created):
            return False
        return await self._mark(session, wave_id, member, STARTED, now)

    async def _mark(
        self, session: AsyncSession, wave_id: int, member: Member, kind: str, when: datetime
    ) -> bool:
        """A sealed ledger mark (members of chat platforms only; imports have no ledger)."""
        if member.platform in ("import", "synthetic"):
            return False
        await self.ledger.mark(session, wave_id, member, kind, when)
        return True

    # -- the member's own data -------------------------------------------------------
    async def my_answers(self, community_id: int, member: Member) -> list[tuple[Wave, Progress]]:
        """Every wave this member answered in the community, with their answers."""
        async with self.db.session() as session:
            respondent_id = await self._respondent_id(session, community_id, member, False)
            if respondent_id is None:
                return []
            waves = await session.execute(
                select(Wave).join(Response, Response.wave_id == Wave.id)
                .where(Response.respondent_id == respondent_id).order_by(Wave.created_at)
            )
            out = []
            for wave in waves.scalars().unique():
                out.append((wave, await self._progress(session, wave, respondent_id)))
            return out

    async def delete_my_answers(self, community_id: int, member: Member) -> int:
        """Delete all of the member's answers and responses; returns answers deleted."""
        async with self.db.session() as session:
            respondent_id = await self._respondent_id(session, community_id, member, False)
            if respondent_id is None:
                return 0
            count = (await session.execute(
                select(func.count()).select_from(Answer).where(
                    Answer.respondent_id == respondent_id)
            )).scalar_one()
            await session.execute(delete(AnswerChoice).where(
                AnswerChoice.respondent_id == respondent_id))
            await session.execute(delete(Answer).where(Answer.respondent_id == respondent_id))
            await session.execute(delete(Response).where(Response.respondent_id == respondent_id))
            await session.execute(delete(Respondent).where(Respondent.id == respondent_id))
            await self.ledger.forget(session, community_id, member)
            log.info("a member deleted their answers (%d rows)", count)
            return int(count)

    async def stop_reminders(self, community_id: int, member: Member) -> None:
        """Never remind this member again in this community."""
        async with self.db.session() as session:
            await session.execute(
                insert_ignore(
                    session, ReminderOptOut, ["community_id", "platform", "space_id", "user_id"]
                ).values(community_id=community_id, platform=member.platform,
                         space_id=member.space, user_id=member.user, created_at=utcnow())
            )
            waves = select(Wave.id).where(Wave.community_id == community_id)
            await session.execute(
                update(Participation)
                .where(Participation.wave_id.in_(waves), Participation.platform == member.platform,
                       Participation.space_id == member.space, Participation.user_id == member.user)
                .values(opted_out=True)
            )
