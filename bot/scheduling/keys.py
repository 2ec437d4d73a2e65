"""Job keys: which job, about which row, which occurrence (`close:wave:12`, `open:schedule:3:2027`).

A `JobKey` names one occurrence of a scheduled job in the job-run table (runs.py) and, without
its occurrence, the APScheduler job that runs it (`open:schedule:3`). Its text is
`<kind>:<table>:<id>[:<extra>]`, the format every earlier version stored, so keys already in a
database parse unchanged after an upgrade. The extra part (a wave label, a reminder point, an
ISO week, `manual`) comes last and may itself contain colons; `JobKey.parse(key.format()) == key`.

A `Ref` names the row a key is about (`wave:12`); it is also the payload of change notifications.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, replace
from enum import Enum

OPEN, CLOSE, REMIND, ANNOUNCE, SUMMARY = "open", "close", "remind", "announce", "summary"
SCHEDULE, WAVE, COMMUNITY = "schedule", "wave", "community"
MANUAL = "manual"  # the occurrence of a moderator's `/survey remind`: `remind:wave:12:manual`
RESUME = "resume"  # APScheduler id prefix of a job resumed after its process died


class Extra(Enum):
    """Whether a key of this shape carries an occurrence part."""

    NONE = "none"  # one occurrence per row: `close:wave:12`
    REQUIRED = "required"  # `remind:wave:12:halfway`
    OPTIONAL = "optional"  # with it a job-run key (`open:schedule:3:2027`), without it the job's id


SHAPES: dict[tuple[str, str], Extra] = {
    (OPEN, SCHEDULE): Extra.OPTIONAL,  # extra: the wave label
    (OPEN, WAVE): Extra.NONE,
    (CLOSE, WAVE): Extra.NONE,
    (REMIND, WAVE): Extra.REQUIRED,  # extra: the reminder point, or `manual`
    (ANNOUNCE, WAVE): Extra.NONE,
    (SUMMARY, WAVE): Extra.NONE,
    (SUMMARY, COMMUNITY): Extra.OPTIONAL,  # extra: the ISO week
}
TABLES = frozenset(table for _, table in SHAPES)
_ROW_ID = re.compile(r"0|[1-9][0-9]*")


class JobKeyError(ValueError):
    """A job key that is not one this scheduler writes; the message says why."""


@dataclass(frozen=True)
class Ref:
    """A row a job is about: a schedule, wave or community, by id."""

    table: str
    id: int

    def __post_init__(self) -> None:
        if self.table not in TABLES:
            tables = ", ".join(sorted(TABLES))
            raise JobKeyError(f"'{self.table}' is not a table jobs refer to (one of {tables})")
        if isinstance(self.id, bool) or not isinstance(self.id, int) or self.id < 0:
            raise JobKeyError(f"{self.id!r} is not a row id")

    def format(self) -> str:
        return f"{self.table}:{self.id}"

    def __str__(self) -> str:
        return self.format()


@dataclass(frozen=True)
class JobKey:
    """`kind` of job about the row `reference`, occurrence `extra` ("" for none)."""

    kind: str
    reference: Ref
    extra: str = ""

    def __post_init__(self) -> None:
        shape = SHAPES.get((self.kind, self.reference.table))
        if shape is None:
            kinds = sorted({kind for kind, _ in SHAPES})
            if self.kind not in kinds:
                raise JobKeyError(f"'{self.kind}' is not a job kind (one of {', '.join(kinds)})")
            raise JobKeyError(f"a '{self.kind}' job is not about a {self.reference.table}")
        if shape is Extra.NONE and self.extra:
            raise JobKeyError(f"a '{self.kind}' job of a {self.reference.table} has no occurrence part "
                              f"(got '{self.extra}')")
        if shape is Extra.REQUIRED and not self.extra:
            raise JobKeyError(f"a '{self.kind}' job of a {self.reference.table} needs an occurrence part")

    # -- constructors --------------------------------------------------------------------
    @classmethod
    def schedule(cls, kind: str, schedule_id: int, extra: str = "") -> JobKey:
        return cls(kind, Ref(SCHEDULE, schedule_id), extra)

    @classmethod
    def wave(cls, kind: str, wave_id: int, extra: str = "") -> JobKey:
        return cls(kind, Ref(WAVE, wave_id), extra)

    @classmethod
    def community(cls, kind: str, community_id: int, extra: str = "") -> JobKey:
        return cls(kind, Ref(COMMUNITY, community_id), extra)

    @classmethod
    def parse(cls, text: str) -> JobKey:
        """The key `text` spells; JobKeyError (saying what is wrong) when it is malformed."""
        parts = text.split(":", 3)
        if len(parts) < 3:
            raise JobKeyError(f"job key '{text}' is not <kind>:<table>:<id>[:<occurrence>]")
        kind, table, row, *rest = parts
        if not _ROW_ID.fullmatch(row):
            raise JobKeyError(f"job key '{text}': '{row}' is not a row id")
        if rest and not rest[0]:
            raise JobKeyError(f"job key '{text}' ends in an empty occurrence part")
        try:
            return cls(kind, Ref(table, int(row)), rest[0] if rest else "")
        except JobKeyError as exc:
            raise JobKeyError(f"job key '{text}': {exc}") from None

    # -- text ------------------------------------------------------------------------------
    def format(self) -> str:
        return f"{self.kind}:{self.reference.format()}" + (f":{self.extra}" if self.extra else "")

    def __str__(self) -> str:
        return self.format()

    @property
    def id(self) -> int:
        """The id of the row the job is about."""
        return self.reference.id

    def job(self) -> JobKey:
        """The job without its occurrence (`open:schedule:3`): its APScheduler id."""
        if SHAPES[self.kind, self.reference.table] is Extra.OPTIONAL:
            return replace(self, extra="")
        return self

    def occurrence(self, extra: str) -> JobKey:
        """This job's occurrence `extra` (`open:schedule:3` → `open:schedule:3:2027`)."""
        return replace(self, extra=extra)

    def resume_id(self) -> str:
        """The APScheduler id of this occurrence resumed after its process died."""
        return f"{RESUME}:{self.format()}"


def like(kind: str, table: str, extra: str | None = None) -> str:
    """A SQL LIKE pattern for the keys of `kind` jobs about any row of `table` (`announce:wave:%`),
    or, with `extra`, those occurrences only (`remind:wave:%:manual`)."""
    if (kind, table) not in SHAPES:
        raise JobKeyError(f"a '{kind}' job is not about a {table}")
    return f"{kind}:{table}:%" + (f":{extra}" if extra else "")


def occurrences_like(kind: str, reference: Ref) -> str:
    """A SQL LIKE pattern for every occurrence of `kind` jobs about `reference` (`remind:wave:12:%`)."""
    if SHAPES.get((kind, reference.table), Extra.NONE) is Extra.NONE:
        raise JobKeyError(f"a '{kind}' job of a {reference.table} has no occurrences")
    return f"{kind}:{reference.format()}:%"


def about_like(reference: Ref) -> tuple[str, str]:
    """SQL LIKE patterns for every key about `reference`: `%:wave:12`, and `%:wave:12:%` (its
    occurrences and the post items of its jobs)."""
    return f"%:{reference.format()}", f"%:{reference.format()}:%"


# -- post items ------------------------------------------------------------------------------
# A job that posts records each post as a job run of its own, claimed before and marked done
# after: `post:<job key>:<platform>:<space>:<channel>[:<part>]` (runs.py, jobs._post_once).
POST = "post"
ITEM_MAX = 200  # the job_runs.job_key column's length


def post_item(job_key: str, platform: str, space: str, channel: str, part: str = "") -> str:
    """The key of one post of job `job_key` (`post:announce:wave:12:slack:T1:C1`), at most 200
    characters (a longer one keeps 150 and a hash of the whole)."""
    item = f"{POST}:{job_key}:{platform}:{space}:{channel}" + (f":{part}" if part else "")
    if len(item) <= ITEM_MAX:
        return item
    return item[:150] + ":" + hashlib.sha256(item.encode()).hexdigest()[:40]


def posts_like(job_key: str) -> str:
    """A SQL LIKE pattern for the post items of job `job_key`."""
    return f"{POST}:{job_key}:%"


def kind_of(key: str) -> str:
    """The kind of a stored key (`close`, `remind`, … or `post` for a post item), for metrics."""
    return key.split(":", 1)[0]
