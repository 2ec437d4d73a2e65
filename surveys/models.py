"""ORM models. The schema itself comes only from Alembic migrations (see migrations/).

Privacy (docs/privacy.md): answers reference a respondent pseudonym only. The participation
ledger knows platform users (to remind them) but never links them to answers: nothing next
to answers or in the ledger is timed finer than the day (`UTCDay`), and the keys of
pseudonymous rows are random (`random_key`), so neither ids nor row order follow insertion.
"""

from __future__ import annotations

import logging
import secrets
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

log = logging.getLogger(__name__)

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator):
    """A timezone-aware UTC datetime on every backend (SQLite stores naive values)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use an aware UTC datetime")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class UTCDay(UTCDateTime):
    """A UTC day: any datetime given is stored as 00:00 UTC of its day, so nothing stored in
    such a column times an event finer than the day."""

    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        value = super().process_bind_param(value, dialect)
        return None if value is None else day_start(value)

    def coerce_compared_value(self, op: Any, value: Any) -> Any:
        """A bound compared with a day (`started_at >= week_start`) is kept exact, not cut."""
        return UTCDateTime()


def day_start(when: datetime) -> datetime:
    """00:00 UTC of the day `when` falls on (UTC)."""
    return when.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def random_key() -> int:
    """A random positive 63-bit key: ids of pseudonymous rows follow no insertion order."""
    return secrets.randbits(63) or 1


# 64-bit on PostgreSQL; INTEGER on SQLite so a single-column key stays the rowid (the table's
# physical order is then the random key's order, not the insertion order)
RandomKey = BigInteger().with_variant(Integer, "sqlite")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime, dict[str, Any]: JSON, list[Any]: JSON}


class WaveStatus(StrEnum):
    scheduled = "scheduled"
    open = "open"
    closed = "closed"


class Community(Base):
    """A community: one dataset across one or more spaces (Slack workspaces, Discord guilds)."""

    __tablename__ = "communities"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    summary_channels: Mapped[list[Any]] = mapped_column(default=list)
    weekly_summary_cron: Mapped[str | None] = mapped_column(String(100), default="0 9 * * mon")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    spaces: Mapped[list[Space]] = relationship(back_populates="community")


class Space(Base):
    """A Slack workspace or Discord guild that belongs to a community."""

    __tablename__ = "spaces"
    __table_args__ = (UniqueConstraint("platform", "external_id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id", ondelete="CASCADE"))
    platform: Mapped[str] = mapped_column(String(16))
    external_id: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    community: Mapped[Community] = relationship(back_populates="spaces")


class QuestionnaireVersion(Base):
    """A frozen copy of a questionnaire as a wave used it."""

    __tablename__ = "questionnaire_versions"
    __table_args__ = (UniqueConstraint("survey_id", "version", "checksum"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    survey_id: Mapped[str] = mapped_column(String(64), index=True)
    version: Mapped[int] = mapped_column(Integer)
    checksum: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(200))
    definition: Mapped[dict[str, Any]] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Schedule(Base):
    """A recurrence that creates waves (cron in the community's time zone)."""

    __tablename__ = "schedules"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id", ondelete="CASCADE"))
    survey_id: Mapped[str] = mapped_column(String(64))
    cron: Mapped[str] = mapped_column(String(100))
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    label_pattern: Mapped[str] = mapped_column(String(64), default="{year}")
    duration_seconds: Mapped[int] = mapped_column(Integer, default=30 * 86400)
    channels: Mapped[list[Any]] = mapped_column(default=list)
    reminders: Mapped[list[Any]] = mapped_column(default=list)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Wave(Base):
    """One run of a questionnaire in a community, labelled e.g. `2026` or `2026-Q4`."""

    __tablename__ = "waves"
    __table_args__ = (UniqueConstraint("community_id", "survey_id", "label"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id", ondelete="CASCADE"))
    survey_id: Mapped[str] = mapped_column(String(64))
    questionnaire_version_id: Mapped[int] = mapped_column(ForeignKey("questionnaire_versions.id"))
    label: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default=WaveStatus.scheduled.value)
    opens_at: Mapped[datetime | None] = mapped_column(default=None)
    closes_at: Mapped[datetime | None] = mapped_column(default=None)
    opened_at: Mapped[datetime | None] = mapped_column(default=None)
    closed_at: Mapped[datetime | None] = mapped_column(default=None)
    channels: Mapped[list[Any]] = mapped_column(default=list)
    reminders: Mapped[list[Any]] = mapped_column(default=list)
    schedule_id: Mapped[int | None] = mapped_column(
        ForeignKey("schedules.id", ondelete="SET NULL"), default=None
    )
    imported: Mapped[bool] = mapped_column(Boolean, default=False)
    synthetic: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # up whenever a response of the closed wave changes or the status changes: kept by
    # database triggers (migration 0005s), read by analytics.cache; never written here
    data_version: Mapped[int] = mapped_column(BigInteger, server_default="0")
    questionnaire: Mapped[QuestionnaireVersion] = relationship(lazy="joined")


class Respondent(Base):
    """A pseudonym: HMAC(secret, platform:space:user). Never stores the platform user."""

    __tablename__ = "respondents"
    __table_args__ = (UniqueConstraint("community_id", "pseudonym"),)
    id: Mapped[int] = mapped_column(RandomKey, primary_key=True, autoincrement=False, default=random_key)
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id", ondelete="CASCADE"))
    pseudonym: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDay, default=utcnow)  # the day only


class Response(Base):
    """A respondent's progress in one wave; `platform` allows splitting results by platform.

    Times are days (`UTCDay`); `revision` counts changes (the aggregate cache's fingerprint).
    """

    __tablename__ = "responses"
    __table_args__ = (
        UniqueConstraint("wave_id", "respondent_id"),
        # deleting a respondent (my-data, import --replace) finds their rows without a scan
        Index("ix_responses_respondent", "respondent_id"),
    )
    id: Mapped[int] = mapped_column(RandomKey, primary_key=True, autoincrement=False, default=random_key)
    wave_id: Mapped[int] = mapped_column(ForeignKey("waves.id", ondelete="CASCADE"))
    respondent_id: Mapped[int] = mapped_column(ForeignKey("respondents.id", ondelete="CASCADE"))
    platform: Mapped[str] = mapped_column(String(16), default="")
    started_at: Mapped[datetime] = mapped_column(UTCDay, default=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDay, default=None)
    updated_at: Mapped[datetime] = mapped_column(UTCDay, default=utcnow)
    revision: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # at least one answer that is not a skip: a respondent of the wave (summaries count these)
    answered: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class Answer(Base):
    """The current answer of one respondent to one question (or grid row) in one wave.

    `value` is None for a skipped optional question (so resuming does not ask it again).
    """

    __tablename__ = "answers"
    __table_args__ = (
        UniqueConstraint("wave_id", "respondent_id", "question_id", "row_id"),
        Index("ix_answers_wave_question", "wave_id", "question_id", "row_id"),
        Index("ix_answers_respondent", "respondent_id"),
    )
    id: Mapped[int] = mapped_column(RandomKey, primary_key=True, autoincrement=False, default=random_key)
    wave_id: Mapped[int] = mapped_column(ForeignKey("waves.id", ondelete="CASCADE"))
    respondent_id: Mapped[int] = mapped_column(ForeignKey("respondents.id", ondelete="CASCADE"))
    question_id: Mapped[str] = mapped_column(String(64))
    row_id: Mapped[str] = mapped_column(String(64), default="")
    value: Mapped[Any] = mapped_column(JSON, nullable=True)
    number: Mapped[float | None] = mapped_column(Float, default=None)
    answered_at: Mapped[datetime] = mapped_column(UTCDay, default=utcnow)  # the day only


class AnswerChoice(Base):
    """One chosen option of a single, multi, country or grid answer: what analytics counts."""

    __tablename__ = "answer_choices"
    __table_args__ = (
        Index(
            "ix_answer_choices_count",
            "wave_id", "question_id", "row_id", "option_id", "respondent_id",
        ),
        Index("ix_answer_choices_segment", "wave_id", "question_id", "option_id", "respondent_id"),
        # SQLite: no hidden rowid in insertion order; rows lie in (random answer id) order
        {"sqlite_with_rowid": False},
    )
    answer_id: Mapped[int] = mapped_column(
        ForeignKey("answers.id", ondelete="CASCADE"), primary_key=True
    )
    option_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    wave_id: Mapped[int] = mapped_column(Integer)
    respondent_id: Mapped[int] = mapped_column(RandomKey)
    question_id: Mapped[str] = mapped_column(String(64))
    row_id: Mapped[str] = mapped_column(String(64), default="")


class Participation(Base):
    """Participation ledger: what reminders need, and nothing that pairs a row with answers.

    A row exists when the member was invited (a channel member at launch) or started;
    `completed` comes from the answer flow's sealed marks, applied in shuffled daily batches
    (surveys.ledger); `reminded_at` is a day. Ids are random.
    """

    __tablename__ = "participation"
    __table_args__ = (UniqueConstraint("wave_id", "platform", "space_id", "user_id"),)
    id: Mapped[int] = mapped_column(RandomKey, primary_key=True, autoincrement=False, default=random_key)
    wave_id: Mapped[int] = mapped_column(ForeignKey("waves.id", ondelete="CASCADE"))
    platform: Mapped[str] = mapped_column(String(16))
    space_id: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[str] = mapped_column(String(64))
    invited: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    completed: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    opted_out: Mapped[bool] = mapped_column(Boolean, default=False)
    reminded_at: Mapped[datetime | None] = mapped_column(UTCDay, default=None)  # the day only
    reminders_sent: Mapped[int] = mapped_column(Integer, default=0)
    dm_blocked: Mapped[bool] = mapped_column(Boolean, default=False)


class ParticipationMark(Base):
    """A pending ledger change from the answer flow (a member started or completed), sealed.

    Written in the answering transaction (durable with the answers), unreadable without the
    key, applied to `participation` in shuffled batches of whole earlier days (surveys.ledger).
    """

    __tablename__ = "participation_marks"
    __table_args__ = ({"sqlite_with_rowid": False},)
    token: Mapped[str] = mapped_column(String(32), primary_key=True)
    wave_id: Mapped[int] = mapped_column(ForeignKey("waves.id", ondelete="CASCADE"), index=True)
    day: Mapped[datetime] = mapped_column(UTCDay)
    sealed: Mapped[str] = mapped_column(Text)


class ReminderOptOut(Base):
    """A member who asked never to be reminded again (all waves of a community)."""

    __tablename__ = "reminder_opt_outs"
    __table_args__ = (UniqueConstraint("community_id", "platform", "space_id", "user_id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id", ondelete="CASCADE"))
    platform: Mapped[str] = mapped_column(String(16))
    space_id: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class WaveAggregate(Base):
    """Aggregates of a closed wave kept for summaries (analytics.cache): a closed wave only
    changes when a member deletes their answers, which `waves.data_version` counts."""

    __tablename__ = "wave_aggregates"
    wave_id: Mapped[int] = mapped_column(ForeignKey("waves.id", ondelete="CASCADE"), primary_key=True)
    signature: Mapped[str] = mapped_column(String(64), primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(200))
    payload: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class JobRun(Base):
    """A scheduled job that ran: its key makes every job idempotent (e.g. `close:wave:12`)."""

    __tablename__ = "job_runs"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    job_key: Mapped[str] = mapped_column(String(200), unique=True)
    ran_at: Mapped[datetime] = mapped_column(default=utcnow)
    scheduled_for: Mapped[datetime | None] = mapped_column(default=None)
    outcome: Mapped[str] = mapped_column(String(32), default="done")
    detail: Mapped[str] = mapped_column(Text, default="")


class SlackInstallation(Base):
    """A Slack workspace (or org) installation from OAuth; the newest row per team wins."""

    __tablename__ = "slack_installations"
    __table_args__ = (Index("ix_slack_installations_team", "enterprise_id", "team_id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    client_id: Mapped[str] = mapped_column(String(64), default="")
    app_id: Mapped[str | None] = mapped_column(String(64), default=None)
    enterprise_id: Mapped[str | None] = mapped_column(String(64), default=None)
    team_id: Mapped[str | None] = mapped_column(String(64), default=None)
    user_id: Mapped[str | None] = mapped_column(String(64), default=None)
    # bot/user tokens, refresh tokens and the webhook URL, sealed (surveys.sealing, SLACK_TOKENS)
    sealed_secrets: Mapped[str | None] = mapped_column(Text, default=None)
    bot_id: Mapped[str | None] = mapped_column(String(64), default=None)
    bot_user_id: Mapped[str | None] = mapped_column(String(64), default=None)
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    installed_at: Mapped[datetime] = mapped_column(default=utcnow)


class SlackOAuthState(Base):
    """A one-time OAuth state value issued at /slack/install."""

    __tablename__ = "slack_oauth_states"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    state: Mapped[str] = mapped_column(String(128), unique=True)
    expires_at: Mapped[datetime] = mapped_column()


class WaveRelease(Base):
    """The released snapshot of an open wave (analytics.releases): live results are counted on
    a copy of the answers taken at a release, which advances only when at least k (the minimum
    group size) respondents not in it have completed, so two successive outputs never differ by
    fewer than k people. `covers`: respondents copied at the release."""

    __tablename__ = "wave_releases"
    wave_id: Mapped[int] = mapped_column(ForeignKey("waves.id", ondelete="CASCADE"), primary_key=True)
    release: Mapped[int] = mapped_column(Integer, default=0)
    covers: Mapped[int] = mapped_column(Integer, default=0)
    completed: Mapped[int] = mapped_column(Integer, default=0)
    invited: Mapped[int] = mapped_column(Integer, default=0)  # ledger size at the release


class ReleasedMember(Base):
    """A respondent in the released snapshot of an open wave (no time, no order: the whole
    snapshot is copied again at every release)."""

    __tablename__ = "released_members"
    wave_id: Mapped[int] = mapped_column(ForeignKey("waves.id", ondelete="CASCADE"), primary_key=True)
    respondent_id: Mapped[int] = mapped_column(
        ForeignKey("respondents.id", ondelete="CASCADE"), primary_key=True
    )
    platform: Mapped[str] = mapped_column(String(16), default="")
    completed: Mapped[bool] = mapped_column(Boolean, default=False)


class ReleasedChoice(Base):
    """A chosen option in the released snapshot (the same shape as `answer_choices`)."""

    __tablename__ = "released_choices"
    __table_args__ = (Index("ix_released_choices_respondent", "respondent_id"),)
    wave_id: Mapped[int] = mapped_column(ForeignKey("waves.id", ondelete="CASCADE"), primary_key=True)
    question_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    row_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    option_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    respondent_id: Mapped[int] = mapped_column(
        ForeignKey("respondents.id", ondelete="CASCADE"), primary_key=True
    )


class ReleasedValue(Base):
    """A text or number answer in the released snapshot: its number, never the text."""

    __tablename__ = "released_values"
    __table_args__ = (Index("ix_released_values_respondent", "respondent_id"),)
    wave_id: Mapped[int] = mapped_column(ForeignKey("waves.id", ondelete="CASCADE"), primary_key=True)
    question_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    respondent_id: Mapped[int] = mapped_column(
        ForeignKey("respondents.id", ondelete="CASCADE"), primary_key=True
    )
    number: Mapped[float | None] = mapped_column(Float, default=None)


class DeliveryClaim(Base):
    """A once-only claim shared by all processes (bot.once): a keyed hash of a delivery id
    (a Slack event or trigger id, a "post the next DM question" step) until it expires.
    Holds no member id and nothing that pairs a member with answers."""

    __tablename__ = "delivery_claims"
    key_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(index=True)


class ReferenceWave(Base):
    """Published figures of a report (e.g. "Valohai 2021") to compare a community's waves with:
    aggregate shares only, and their base (respondents) when the report gives it."""

    __tablename__ = "reference_waves"
    __table_args__ = (UniqueConstraint("community_id", "survey_id", "label"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id", ondelete="CASCADE"))
    survey_id: Mapped[str] = mapped_column(String(64))
    label: Mapped[str] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(Text)
    base: Mapped[int | None] = mapped_column(Integer, default=None)  # None: not published
    note: Mapped[str] = mapped_column(Text, default="")
    imported_at: Mapped[datetime] = mapped_column(default=utcnow)


class ReferenceShare(Base):
    """One published share: of `option` in `question` (grid: in `row_id`), 0..1."""

    __tablename__ = "reference_shares"
    reference_wave_id: Mapped[int] = mapped_column(
        ForeignKey("reference_waves.id", ondelete="CASCADE"), primary_key=True)
    question_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    row_id: Mapped[str] = mapped_column(String(64), primary_key=True, default="")
    option_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    share: Mapped[float] = mapped_column(Float)
