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
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from surveys import answer_sql
from surveys.db import Database
from surveys.errors import InvalidAnswer, PageInvalid, UnknownQuestion, UnknownWave, WaveNotOpen
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
    random_key,
    utcnow,
)
from surveys.schema import Question, Questionnaire, QuestionType
from surveys.upsert import insert_ignore
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


@dataclass
class _State:
    """What one read (`answer_sql.READ`) says about a member in a wave."""

    status: str
    closes_at: datetime | None
    label: str
    known: bool  # the respondent row exists
    has_response: bool
    completed: bool
    answers: dict[str, Any]  # field key → value
    ids: dict[str, int]  # field key → answer id


class AnswerFlow:
    """Record and read answers for members, identified only through their pseudonym.

    The answer path (`start`, `progress`, `submit`) reads a member's state in one cached
    statement and writes with cached statements on a Core connection (`surveys.answer_sql`).
    It keeps, per process, what never changes: a wave's community and questionnaire, and the
    respondent id of each pseudonym (checked against the table at every read, so a member who
    deleted their data in another process gets a new respondent row, never a dangling id).
    """

    RESPONDENTS_KEPT = 100_000  # respondent ids remembered (forgotten all at once beyond)

    def __init__(self, db: Database, secret: bytes, *, batch_min: int = 5):
        self.db = db
        self.secret = secret
        self.ledger = Ledger(secret, batch_min=batch_min)
        self._waves: dict[int, tuple[int, Questionnaire]] = {}
        self._respondents: dict[tuple[int, str], int] = {}

    # -- what never changes ----------------------------------------------------------
    async def _wave(self, wave_id: int) -> tuple[int, Questionnaire]:
        """(community id, questionnaire) of a wave; UnknownWave when there is none."""
        found = self._waves.get(wave_id)
        if found is None:
            async with self.db.session() as session:
                wave = await wave_by_id(session, wave_id)
                found = (wave.community_id, questionnaire_of(wave))
            self._waves[wave_id] = found
        return found

    def _known_respondent(self, conn: Connection, key: tuple[int, str]) -> int | None:
        found = self._respondents.get(key)
        if found is None:
            found = (conn.execute(
                answer_sql.FIND_RESPONDENT, {"community": key[0], "alias": key[1]}
            )).scalar()
            if found is not None:
                self._remember(key, found)
        return found

    def _new_respondent(self, conn: Connection, key: tuple[int, str]) -> int:
        conn.execute(answer_sql.insert_respondent(conn.dialect.name),
                     {"community_id": key[0], "pseudonym": key[1]})
        found = (conn.execute(
            answer_sql.FIND_RESPONDENT, {"community": key[0], "alias": key[1]}
        )).scalar_one()
        self._remember(key, found)
        return int(found)

    def _remember(self, key: tuple[int, str], respondent_id: int) -> None:
        if len(self._respondents) >= self.RESPONDENTS_KEPT:
            self._respondents.clear()
        self._respondents[key] = respondent_id

    def _forget(self, key: tuple[int, str]) -> None:
        self._respondents.pop(key, None)

    def _read(self, conn: Connection, wave_id: int, respondent_id: int | None) -> _State:
        rows: list[Any] = list(conn.execute(
            answer_sql.READ, {"wave": wave_id, "respondent": respondent_id}))
        if not rows:
            self._waves.pop(wave_id, None)
            raise UnknownWave(f"wave {wave_id} does not exist")
        first = rows[0]
        state = _State(first[0], first[1], first[2], first[3] is not None, first[4] is not None,
                       first[5] is not None, {}, {})
        for row in rows:
            if row[6] is not None:
                key = field_key(row[7], row[8])
                state.answers[key] = row[9]
                state.ids[key] = row[6]
        return state

    # -- reading -------------------------------------------------------------------
    async def progress(self, wave_id: int, member: Member) -> Progress:
        community_id, qn = await self._wave(wave_id)
        key = (community_id, pseudonym(self.secret, member))

        def read(conn: Connection) -> _State:
            return self._read(conn, wave_id, self._known_respondent(conn, key))

        state = await self.db.run(read)
        if not state.known:
            self._forget(key)
            return Progress(wave_id, qn)
        return Progress(wave_id, qn, state.answers, state.completed)

    # -- writing -------------------------------------------------------------------
    async def start(self, wave_id: int, member: Member) -> Progress:
        """Mark the member as started (ledger + response) and return their progress."""
        community_id, qn = await self._wave(wave_id)
        key = (community_id, pseudonym(self.secret, member))

        def begin(conn: Connection) -> tuple[_State, bool]:
            respondent_id = self._known_respondent(conn, key)
            state = self._read(conn, wave_id, respondent_id)
            self._require_open(state)
            if respondent_id is None or not state.known:
                respondent_id = self._new_respondent(conn, key)
                state.answers, state.ids, state.completed = {}, {}, False
            marked = False
            if not state.has_response:
                marked = self._ensure_response(conn, wave_id, respondent_id, member)
            return state, marked

        try:
            state, marked = await self.db.run(begin)
        except (IntegrityError, UnknownWave):
            self._forget(key)
            raise
        if marked:
            self.ledger.flush_soon(self.db)
        return Progress(wave_id, qn, state.answers, state.completed)

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
        community_id, qn = await self._wave(wave_id)
        key = (community_id, pseudonym(self.secret, member))

        def store(conn: Connection) -> tuple[SubmitResult, bool]:
            respondent_id = self._known_respondent(conn, key)
            state = self._read(conn, wave_id, respondent_id)
            self._require_open(state, answered_at)
            clean = self.validate(qn, values)
            if respondent_id is None or not state.known:
                respondent_id = self._new_respondent(conn, key)
                state = _State(state.status, state.closes_at, state.label, True,
                               False, False, {}, {})
            before = Progress(wave_id, qn, state.answers, state.completed)
            marked = False
            if not state.has_response:
                marked = self._ensure_response(conn, wave_id, respondent_id, member)
            changed = [k for k, v in clean.items() if not before.has(*split_field(k))
                       or before.answers[k] != v]
            unchanged = [k for k in clean if k not in changed]
            when = answered_at or utcnow()
            stored = {k: clean[k] for k in changed}
            self._store(conn, wave_id, respondent_id, qn, stored, state.ids, when)
            # what the table now holds for this respondent, without reading it back
            after = Progress(wave_id, qn, {**before.answers, **stored}, before.completed)
            self._drop_hidden(conn, wave_id, respondent_id, after)
            completed_now = self._update_completion(conn, wave_id, member, after, finish, when)
            if changed or completed_now:
                answered = any(v not in (None, "", []) for v in after.answers.values())
                conn.execute(
                    answer_sql.touch_response(bool(changed), completed_now),
                    {"wave": wave_id, "respondent": respondent_id, "when": when,
                     "answered": answered},
                )
            return SubmitResult(after, changed, unchanged, completed_now), marked

        try:
            result, marked = await self.db.run(store)
        except (IntegrityError, UnknownWave):
            self._forget(key)
            raise
        if marked or result.completed_now:
            self.ledger.flush_soon(self.db)
        return result

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

    def _store(
        self, conn: Connection, wave_id: int, respondent_id: int, qn: Questionnaire,
        values: dict[str, Any], stored_ids: dict[str, int], when: datetime,
    ) -> None:
        """Upsert the changed fields (one cached executemany), then rewrite their chosen
        options: those of fields stored before (or by someone else meanwhile) are deleted."""
        if not values:
            return
        rows, proposed = [], {}
        for key, value in values.items():
            qid, row_id = split_field(key)
            q = qn.question(qid)
            number = float(value) if q.type is QuestionType.number and value is not None else None
            proposed[key] = stored_ids.get(key) or random_key()
            rows.append({"id": proposed[key], "wave_id": wave_id, "respondent_id": respondent_id,
                         "question_id": qid, "row_id": row_id, "value": value, "number": number,
                         "answered_at": when})
        dialect = conn.dialect.name
        result = conn.execute(answer_sql.upsert_answers(dialect), rows)
        ids = {field_key(qid, row): aid for aid, qid, row in result.all()}
        replaced = [aid for key, aid in ids.items() if key in stored_ids or aid != proposed[key]]
        if replaced:
            conn.execute(answer_sql.DELETE_CHOICES, {"answers": replaced})
        choices = [
            {"answer_id": ids[key], "option_id": opt, "wave_id": wave_id,
             "respondent_id": respondent_id, "question_id": split_field(key)[0],
             "row_id": split_field(key)[1]}
            for key, value in values.items()
            for opt in chosen_options(qn.question(split_field(key)[0]), value)
        ]
        if choices:
            conn.execute(answer_sql.insert_choices(dialect), choices)

    def _drop_hidden(
        self, conn: Connection, wave_id: int, respondent_id: int, progress: Progress
    ) -> None:
        """Remove answers to questions a changed earlier answer now hides."""
        shown = {q.id for q in progress.visible()}
        hidden = {split_field(k)[0] for k in progress.answers} - shown
        if hidden:
            conn.execute(answer_sql.DELETE_HIDDEN, {
                "wave": wave_id, "respondent": respondent_id, "hidden": sorted(hidden)})
            progress.answers = {
                k: v for k, v in progress.answers.items() if split_field(k)[0] not in hidden
            }

    def _update_completion(
        self, conn: Connection, wave_id: int, member: Member, progress: Progress,
        finish: bool, when: datetime,
    ) -> bool:
        """True when this submission completes the response (the caller stores the day);
        the ledger gets its sealed mark."""
        finished = progress.next_question() is None or (finish and self._required_done(progress))
        if not finished or progress.completed:
            progress.completed = progress.completed or finished
            return False
        self._mark(conn, wave_id, member, COMPLETED, when)
        progress.completed = True
        return True

    @staticmethod
    def _required_done(progress: Progress) -> bool:
        return all(progress.is_done(q) for q in progress.visible() if q.required)

    @staticmethod
    def _require_open(wave: Wave | _State, now: datetime | None = None) -> None:
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

    async def _respondent_id(
        self, session: AsyncSession, community_id: int, member: Member
    ) -> int | None:
        """The member's respondent id in the community, if they have one (the ORM paths)."""
        alias = pseudonym(self.secret, member)
        stmt = select(Respondent.id).where(
            Respondent.community_id == community_id, Respondent.pseudonym == alias
        )
        return (await session.execute(stmt)).scalar_one_or_none()

    def _ensure_response(
        self, conn: Connection, wave_id: int, respondent_id: int, member: Member
    ) -> bool:
        """Create the response row (times are days); True when a ledger mark was added."""
        now = utcnow()
        created = conn.execute(answer_sql.insert_response(conn.dialect.name), {
            "wave_id": wave_id, "respondent_id": respondent_id, "platform": member.platform,
            "started_at": now, "updated_at": now})
        if not created.rowcount:
            return False
        return self._mark(conn, wave_id, member, STARTED, now)

    def _mark(
        self, conn: Connection, wave_id: int, member: Member, kind: str, when: datetime
    ) -> bool:
        """A sealed ledger mark (members of chat platforms only; imports have no ledger)."""
        if member.platform in ("import", "synthetic"):
            return False
        conn.execute(answer_sql.insert_mark(conn.dialect.name),
                     self.ledger.sealed_mark(wave_id, member, kind, when))
        return True

    # -- the member's own data -------------------------------------------------------
    async def my_answers(self, community_id: int, member: Member) -> list[tuple[Wave, Progress]]:
        """Every wave this member answered in the community, with their answers."""
        async with self.db.session() as session:
            respondent_id = await self._respondent_id(session, community_id, member)
            if respondent_id is None:
                return []
            waves = await session.execute(
                select(Wave).join(Response, Response.wave_id == Wave.id)
                .where(Response.respondent_id == respondent_id).order_by(Wave.created_at)
            )
            conn = await session.connection()
            out = []
            for wave in waves.scalars().unique():
                state = await conn.run_sync(self._read, wave.id, respondent_id)
                out.append((wave, Progress(wave.id, questionnaire_of(wave), state.answers,
                                           state.completed)))
            return out

    async def delete_my_answers(self, community_id: int, member: Member) -> int:
        """Delete all of the member's answers and responses; returns answers deleted."""
        self._forget((community_id, pseudonym(self.secret, member)))
        async with self.db.session() as session:
            respondent_id = await self._respondent_id(session, community_id, member)
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
