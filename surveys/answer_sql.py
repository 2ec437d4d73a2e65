"""The answer path's statements, built once so that SQLAlchemy compiles each once per process.

A click reads what it needs in one statement (`READ`: the wave's state, whether the
respondent row exists, their response and their answers) and writes with statements whose
compiled form is cached: the answers upsert as an executemany with RETURNING (a multi-row
VALUES is a new statement for every number of rows, compiled anew each click), the chosen
options, the response's counters, the ledger's sealed marks. A whole click runs as one
synchronous function on a Core connection (`Database.run`), without the ORM unit of work.

Privacy: the time parameters are `UTCDay` (stored as the day) and new rows get random keys
(`random_key`, the models' defaults), as on every other path.
"""

from __future__ import annotations

import logging
from functools import cache
from typing import Any

from sqlalchemy import and_, bindparam, delete, select, update
from sqlalchemy.sql.elements import BindParameter

from surveys.models import (
    Answer,
    AnswerChoice,
    ParticipationMark,
    Respondent,
    Response,
    UTCDay,
    Wave,
)
from surveys.upsert import insert_for

log = logging.getLogger(__name__)

_RESPONDENT: BindParameter[Any] = bindparam("respondent")

# one row per answer (at least one row while the wave exists):
# status, closes_at, label, respondent id (None: no such row), response id, completed_at,
# answer id, question_id, row_id, value
READ = (
    select(Wave.status, Wave.closes_at, Wave.label, Respondent.id, Response.id,
           Response.completed_at, Answer.id, Answer.question_id, Answer.row_id, Answer.value)
    .select_from(Wave)
    .outerjoin(Respondent, Respondent.id == _RESPONDENT)
    .outerjoin(Response, and_(Response.wave_id == Wave.id, Response.respondent_id == _RESPONDENT))
    .outerjoin(Answer, and_(Answer.wave_id == Wave.id, Answer.respondent_id == _RESPONDENT))
    .where(Wave.id == bindparam("wave"))
)

FIND_RESPONDENT = select(Respondent.id).where(
    Respondent.community_id == bindparam("community"), Respondent.pseudonym == bindparam("alias")
)

DELETE_CHOICES = delete(AnswerChoice).where(
    AnswerChoice.answer_id.in_(bindparam("answers", expanding=True))
)

DELETE_HIDDEN = delete(Answer).where(
    Answer.wave_id == bindparam("wave"), Answer.respondent_id == _RESPONDENT,
    Answer.question_id.in_(bindparam("hidden", expanding=True)),
)


@cache
def upsert_answers(dialect: str) -> Any:
    """Insert or replace answers (executemany: one dict per field, each with a new random
    `id` that an existing row keeps its own instead of); returns (id, question_id, row_id)."""
    stmt = insert_for(dialect, Answer)
    stmt = stmt.on_conflict_do_update(
        index_elements=["wave_id", "respondent_id", "question_id", "row_id"],
        set_={"value": stmt.excluded.value, "number": stmt.excluded.number,
              "answered_at": stmt.excluded.answered_at},
    )
    return stmt.returning(Answer.id, Answer.question_id, Answer.row_id)


@cache
def insert_choices(dialect: str) -> Any:
    return insert_for(dialect, AnswerChoice).on_conflict_do_nothing(
        index_elements=["answer_id", "option_id"])


@cache
def insert_respondent(dialect: str) -> Any:
    return insert_for(dialect, Respondent).on_conflict_do_nothing(
        index_elements=["community_id", "pseudonym"])


@cache
def insert_response(dialect: str) -> Any:
    return insert_for(dialect, Response).on_conflict_do_nothing(
        index_elements=["wave_id", "respondent_id"])


@cache
def insert_mark(dialect: str) -> Any:
    """A sealed participation mark (surveys.ledger) in the answering transaction."""
    return insert_for(dialect, ParticipationMark)


@cache
def touch_response(changed: bool, completed: bool) -> Any:
    """The response after a submission: `changed` updates the day, whether anything is
    answered and the revision (the aggregate cache's fingerprint); `completed` sets the
    completion day. Parameters: wave, respondent, when, answered."""
    values: dict[str, Any] = {}
    if changed:
        values.update(updated_at=bindparam("when", type_=UTCDay()),
                      answered=bindparam("answered"), revision=Response.revision + 1)
    if completed:
        values["completed_at"] = bindparam("when", type_=UTCDay())
    return (
        update(Response)
        .where(Response.wave_id == bindparam("wave"), Response.respondent_id == _RESPONDENT)
        .values(**values)
    )
