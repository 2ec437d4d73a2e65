"""Communities, spaces, questionnaire versions and waves: lookups and lifecycle changes."""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Collection
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from surveys.errors import UnknownWave, WaveExists, WaveNotOpen
from surveys.models import Community, QuestionnaireVersion, Schedule, Space, Wave, WaveStatus, utcnow
from surveys.schema import Questionnaire
from surveys.upsert import insert_ignore

log = logging.getLogger(__name__)

LABEL = re.compile(r"\w[\w .:/()+-]*")  # shown in chat: no markup or mentions


async def ensure_community(
    session: AsyncSession, slug: str, name: str | None = None, timezone: str = "UTC",
    *, follow_timezone: bool = False,
) -> Community:
    """The community with this slug, created on first use.

    With `follow_timezone` an existing community takes `timezone` when it differs (the
    operator changed the configured time zone), and so do its schedules that were in the
    community's old time zone (one made with an explicit other zone keeps it). Logged once:
    afterwards the zones agree. Only the caller knows which community the setting is for.
    """
    await session.execute(
        insert_ignore(session, Community, ["slug"]).values(
            slug=slug, name=name or slug, timezone=timezone, summary_channels=[],
            weekly_summary_cron="0 9 * * mon", created_at=utcnow(),
        )
    )
    community = (await session.execute(select(Community).where(Community.slug == slug))).scalar_one()
    if follow_timezone and community.timezone != timezone:
        old = community.timezone
        community.timezone = timezone
        await session.execute(
            update(Schedule).where(Schedule.community_id == community.id, Schedule.timezone == old)
            .values(timezone=timezone)
        )
        await session.flush()
        log.warning("community %s: time zone changed from %s to %s (as configured); its schedules "
                    "and weekly summary follow", slug, old, timezone)
    return community


async def ensure_space(
    session: AsyncSession, community: Community, platform: str, external_id: str, name: str = ""
) -> Space:
    """The space (Slack workspace, Discord guild), linked to `community` on first sight."""
    await session.execute(
        insert_ignore(session, Space, ["platform", "external_id"]).values(
            community_id=community.id, platform=platform, external_id=external_id,
            name=name, created_at=utcnow(),
        )
    )
    stmt = select(Space).where(Space.platform == platform, Space.external_id == external_id)
    return (await session.execute(stmt)).scalar_one()


LOCAL_PLATFORMS = frozenset({"console"})  # the operator's own terminal: always the community's


def own_slug(platform: str, external_id: str) -> str:
    """The slug of the community an unlinked space gets for itself."""
    return f"{platform}-{external_id}"[:64]


def _joins_default(key: str, platform: str, linked: Collection[str]) -> bool | None:
    """True: the space belongs to the default community; False: it does not; None: nothing is
    linked, so the first space of each platform is adopted (the zero-configuration case)."""
    if platform in LOCAL_PLATFORMS or key in linked:
        return True
    if linked:  # some space is linked (on any platform): only linked spaces join
        return False
    return None


async def community_of_space(
    session: AsyncSession, platform: str, external_id: str, default_slug: str, timezone: str = "UTC",
    *, linked: Collection[str] = (),
) -> Community:
    """The community a space belongs to.

    A space joins the default community when it is linked (`platform:id` in `linked`). When
    any space is linked, on any platform, no other space ever joins: it gets a community of
    its own, so a stranger's workspace or server never sees or steers the community's data.
    Only when nothing at all is linked is the first space of each platform adopted (logged).
    A stored space follows the links: one adopted earlier but unlinked now leaves the default
    community, and a linked one that had a community of its own comes back (both logged).
    """
    key = f"{platform}:{external_id}"
    verdict = _joins_default(key, platform, linked)
    stmt = (
        select(Space, Community)
        .join(Community, Community.id == Space.community_id)
        .where(Space.platform == platform, Space.external_id == external_id)
    )
    found = (await session.execute(stmt)).first()
    if found is not None:
        space, current = found
        if verdict is False and current.slug == default_slug:
            return await _move(session, space, platform, external_id, timezone, default_slug, False)
        if verdict is True and current.slug == own_slug(platform, external_id):
            return await _move(session, space, platform, external_id, timezone, default_slug, True)
        return current
    community = await ensure_community(session, default_slug, timezone=timezone)
    if verdict is None:
        taken = (await session.execute(
            select(Space.id).where(Space.community_id == community.id, Space.platform == platform).limit(1)
        )).first()
        verdict = taken is None
        if verdict:
            log.warning("%s joined community %s as its first %s space: nothing is linked "
                        "(set STATEOF_COMMUNITY_SPACES to choose the spaces)", key, default_slug, platform)
    if not verdict:
        community = await ensure_community(session, own_slug(platform, external_id),
                                           name=f"{platform} {external_id}", timezone=timezone)
        log.warning("a %s space not linked to community %s (%s) gets a community of its own; "
                    "link it with STATEOF_COMMUNITY_SPACES", platform, default_slug, key)
    await ensure_space(session, community, platform, external_id)
    return community


async def _move(
    session: AsyncSession, space: Space, platform: str, external_id: str, timezone: str,
    default_slug: str, into_default: bool,
) -> Community:
    key = f"{platform}:{external_id}"
    if into_default:
        target = await ensure_community(session, default_slug, timezone=timezone)
        log.warning("%s is linked now: it joins community %s (it had a community of its own)",
                    key, default_slug)
    else:
        target = await ensure_community(session, own_slug(platform, external_id),
                                        name=f"{platform} {external_id}", timezone=timezone)
        log.warning("%s joined community %s before spaces were linked and is not linked: it leaves "
                    "it for a community of its own (link it with STATEOF_COMMUNITY_SPACES to keep it)",
                    key, default_slug)
    space.community_id = target.id
    await session.flush()
    return target


async def community_spaces_report(
    session: AsyncSession, default_slug: str, timezone: str, linked: dict[str, str],
) -> list[str]:
    """Log lines saying which spaces form the default community (`linked`: `platform:id` → why),
    after applying the links to every stored space (see `community_of_space`)."""
    community = await ensure_community(session, default_slug, timezone=timezone)
    stored = (await session.execute(select(Space).where(Space.community_id == community.id))).scalars().all()
    for key in sorted({f"{s.platform}:{s.external_id}" for s in stored} | set(linked)):
        platform, _, external_id = key.partition(":")
        await community_of_space(session, platform, external_id, default_slug, timezone, linked=linked)
    members = (await session.execute(
        select(Space).where(Space.community_id == community.id).order_by(Space.platform, Space.external_id)
    )).scalars().all()
    parts = []
    for s in members:
        key = f"{s.platform}:{s.external_id}"
        why = linked.get(key) or ("local" if s.platform in LOCAL_PLATFORMS else "first seen, nothing linked")
        parts.append(f"{key} ({why})")
    formed = ", ".join(parts) or "no space yet"
    if linked:
        return [f"community {default_slug}: {formed}; any other Slack workspace or Discord server "
                "gets a community of its own"]
    return [f"community {default_slug}: {formed}; nothing is linked, so the first Slack workspace and "
            "the first Discord server to use the bot join it (set STATEOF_COMMUNITY_SPACES to choose)"]


def definition(qn: Questionnaire) -> dict[str, Any]:
    """The stored form of a questionnaire (a questionnaire without derived fields is stored, and
    checksummed, exactly as before they existed)."""
    data = qn.model_dump(mode="json", by_alias=True)
    if not data.get("derived"):
        data.pop("derived", None)
    return data


def checksum(qn: Questionnaire) -> str:
    payload = json.dumps(definition(qn), sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()


async def store_questionnaire(session: AsyncSession, qn: Questionnaire) -> QuestionnaireVersion:
    """The stored copy of this exact questionnaire, saved once."""
    digest = checksum(qn)
    await session.execute(
        insert_ignore(session, QuestionnaireVersion, ["survey_id", "version", "checksum"]).values(
            survey_id=qn.id, version=qn.version, checksum=digest, title=qn.title,
            definition=definition(qn), created_at=utcnow(),
        )
    )
    stmt = select(QuestionnaireVersion).where(
        QuestionnaireVersion.survey_id == qn.id,
        QuestionnaireVersion.version == qn.version,
        QuestionnaireVersion.checksum == digest,
    )
    return (await session.execute(stmt)).scalar_one()


_PARSED: dict[tuple[int, str], Questionnaire] = {}


@lru_cache(maxsize=64)
def _parse_definition(version_id: int, payload: str) -> Questionnaire:
    return Questionnaire.model_validate_json(payload)


def questionnaire_of(wave: Wave) -> Questionnaire:
    """The questionnaire a wave runs (as frozen when the wave was created).

    A stored version never changes, so (id, checksum) names its definition: it is parsed
    once per process (this runs for every answer; serialising the definition to look it up
    cost more than the rest of the lookup).
    """
    version = wave.questionnaire
    key = (version.id, version.checksum)
    found = _PARSED.get(key)
    if found is None:
        found = _parse_definition(version.id, json.dumps(version.definition, sort_keys=True))
        if len(_PARSED) >= 256:
            _PARSED.clear()
        _PARSED[key] = found
    return found


async def create_wave(
    session: AsyncSession,
    community: Community,
    qn: Questionnaire,
    label: str,
    *,
    opens_at: datetime | None = None,
    closes_at: datetime | None = None,
    channels: list[dict] | None = None,
    status: WaveStatus = WaveStatus.scheduled,
    schedule_id: int | None = None,
    synthetic: bool = False,
    imported: bool = False,
) -> Wave:
    """A new wave; WaveExists when the label is taken for this survey in this community."""
    label = label.strip()
    if not label or len(label) > 64:
        raise UnknownWave("a wave label needs 1 to 64 characters")
    if not LABEL.fullmatch(label):
        raise UnknownWave(f"'{label[:20]}' cannot be a wave label: use letters, digits, spaces and "
                          ". _ - : / ( ) + (e.g. 2026 or 2026-Q4)")
    if await find_wave(session, community.id, qn.id, label) is not None:
        raise WaveExists(f"wave '{label}' of {qn.id} already exists")
    version = await store_questionnaire(session, qn)
    now = utcnow()
    wave = Wave(
        community_id=community.id, survey_id=qn.id, questionnaire_version_id=version.id,
        label=label, status=status.value, opens_at=opens_at, closes_at=closes_at,
        channels=channels or [], reminders=[], schedule_id=schedule_id,
        synthetic=synthetic, imported=imported, created_at=now,
        opened_at=now if status is WaveStatus.open else None,
        closed_at=now if status is WaveStatus.closed else None,
    )
    session.add(wave)
    await session.flush()
    await session.refresh(wave, ["questionnaire"])
    return wave


async def find_wave(
    session: AsyncSession, community_id: int, survey_id: str | None, label: str
) -> Wave | None:
    stmt = select(Wave).where(Wave.community_id == community_id, Wave.label == label)
    if survey_id:
        stmt = stmt.where(Wave.survey_id == survey_id)
    return (await session.execute(stmt.order_by(Wave.id.desc()))).scalars().first()


async def get_wave(
    session: AsyncSession, community_id: int, label: str, survey_id: str | None = None
) -> Wave:
    """The wave with this label; UnknownWave naming the known labels otherwise."""
    wave = await find_wave(session, community_id, survey_id, label)
    if wave is None:
        known = [w.label for w in await list_waves(session, community_id, survey_id)]
        if survey_id and not known:
            surveys = sorted({w.survey_id for w in await list_waves(session, community_id, None)})
            if surveys:
                listed = ", ".join(surveys)
                raise UnknownWave(f"no waves of '{survey_id}' here (surveys with waves: {listed})")
        hint = f" (known: {', '.join(known)})" if known else " (there are no waves yet)"
        raise UnknownWave(f"unknown wave '{label}' of {survey_id}{hint}" if survey_id else
                          f"unknown wave '{label}'{hint}")
    return wave


WAVE_ID_MAX = 2**31 - 1  # waves.id is a 32-bit integer on PostgreSQL


async def wave_by_id(session: AsyncSession, wave_id: int) -> Wave:
    """The wave, or UnknownWave; an id no wave can have (a tampered button) is unknown too,
    never a database error."""
    if not isinstance(wave_id, int) or not 0 < wave_id <= WAVE_ID_MAX:
        raise UnknownWave(f"wave {wave_id} does not exist")
    wave = await session.get(Wave, wave_id)
    if wave is None:
        raise UnknownWave(f"wave {wave_id} does not exist")
    return wave


async def list_waves(
    session: AsyncSession, community_id: int, survey_id: str | None = None
) -> list[Wave]:
    stmt = select(Wave).where(Wave.community_id == community_id)
    if survey_id:
        stmt = stmt.where(Wave.survey_id == survey_id)
    return list((await session.execute(stmt.order_by(Wave.created_at, Wave.id))).scalars())


async def open_waves(session: AsyncSession, community_id: int) -> list[Wave]:
    stmt = select(Wave).where(
        Wave.community_id == community_id, Wave.status == WaveStatus.open.value
    )
    return list((await session.execute(stmt.order_by(Wave.opened_at, Wave.id))).scalars())


async def current_wave(
    session: AsyncSession, community_id: int, label: str | None = None
) -> Wave:
    """The wave a moderator means: the labelled one, else the newest open, else newest."""
    if label:
        return await get_wave(session, community_id, label)
    opened = await open_waves(session, community_id)
    if opened:
        return opened[-1]
    waves = await list_waves(session, community_id)
    if not waves:
        raise UnknownWave("there are no waves yet; a moderator can start one with /survey launch")
    return waves[-1]


def open_wave(wave: Wave, when: datetime | None = None) -> bool:
    """Open a scheduled wave; False when it was already open (idempotent)."""
    if wave.status == WaveStatus.open.value:
        return False
    if wave.status == WaveStatus.closed.value:
        raise WaveNotOpen(f"wave '{wave.label}' is closed and cannot be opened again")
    wave.status = WaveStatus.open.value
    wave.opened_at = when or utcnow()
    return True


def close_wave(wave: Wave, when: datetime | None = None) -> bool:
    """Close a wave; False when it was already closed (idempotent)."""
    if wave.status == WaveStatus.closed.value:
        return False
    wave.status = WaveStatus.closed.value
    wave.closed_at = when or utcnow()
    return True
