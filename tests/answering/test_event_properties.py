"""Property test (issue 10, "interaction payloads"): whatever a member's client sends, the
answering conversation answers with a screen, stores only valid answers, and never raises.

Every platform adapter turns its payload (a Slack view submission or button, a Discord
component or modal, a typed line) into these neutral events, so arbitrary events with hostile
keys and values stand for arbitrary payloads: unknown and grid-row keys, control characters,
huge and non-finite numbers, nested lists and mappings, wrong wave ids.
"""

from __future__ import annotations

import asyncio
import math
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.answering.conversation import Conversation, Picked
from bot.answering.events import Back, Finish, Next, Pick, Show, Stop, Take, Write
from bot.answering.screens import Screen
from bot.services import build_services
from bot.settings import Settings
from surveys.catalog import Catalog
from surveys.flow import AnswerFlow
from surveys.identity import Member
from surveys.models import WaveStatus
from surveys.paging import paginate
from surveys.waves import create_wave
from tests.conftest import _truncate_pg

QN = Catalog([]).get("state-of-mlops", version=1)
KEYS = [q.id for q in QN.questions] + [f"tooling.{row.id}" for row in QN.question("tooling").rows]
OPTION_IDS = sorted({o.id for q in QN.questions for o in (q.options or [])} |
                    {o.id for o in QN.question("tooling").scale})
HOSTILE_TEXT = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=60) | \
    st.sampled_from(["", " ", "\x00", "<!channel>", "@everyone", "1e400", "nan", "-0", "𝟘", "\u202e",
                     "x" * 20_000])
SCALAR = st.none() | st.booleans() | st.integers(-(10**30), 10**30) | st.floats() | HOSTILE_TEXT | \
    st.sampled_from(OPTION_IDS)
VALUE = st.recursive(SCALAR, lambda inner: st.lists(inner, max_size=5)
                     | st.dictionaries(HOSTILE_TEXT | st.sampled_from(OPTION_IDS), inner, max_size=3),
                     max_leaves=8)
KEY = st.sampled_from(KEYS) | HOSTILE_TEXT


def events(wave_id: int) -> st.SearchStrategy[Any]:
    wave = st.just(wave_id) | st.integers(-5, 10**12)
    values = st.none() | st.dictionaries(KEY, VALUE, max_size=6)
    return st.one_of(
        st.builds(Take, wave),
        st.builds(Pick, wave, KEY, VALUE),
        st.builds(Write, wave, KEY, HOSTILE_TEXT),
        st.builds(Next, wave, KEY, values),
        st.builds(Finish, wave, KEY, values),
        st.builds(Back, wave, KEY, values),
        st.builds(Stop, wave, values),
        st.builds(Show, wave, st.none() | KEY),
    )


async def _play(url: str, secret: Path, script: st.DataObject) -> None:
    settings_ = Settings(database_url=url, secret_key="property-test-secret-key-0123456789",
                         secret_file=secret, _env_file=None)
    services = build_services(settings_)
    try:
        community = await services.community_for("memory", "space-1")
        async with services.db.session() as session:
            wave_id = (await create_wave(session, community, QN, "2026", status=WaveStatus.open)).id
        member = Member("memory", "space-1", "ada")
        conversation = Conversation(services, "memory", lambda progress: paginate(progress, 5))
        for event in script.draw(st.lists(events(wave_id), min_size=1, max_size=12)):
            result = await conversation.handle(member, event)
            assert result is None or isinstance(result, Screen | Picked), result
        progress = await services.flow.progress(wave_id, member)
        for key, value in progress.answers.items():  # every stored answer is a valid one
            assert AnswerFlow.validate(QN, {key: value}) == {key: value}
            assert not (isinstance(value, float) and not math.isfinite(value))
    finally:
        await services.close()


@pytest.fixture
def template_db(_sqlite_template: Path, _pg_ready: str | None):
    """A fresh migrated database per example (the function-scoped one would be shared)."""

    def make(folder: Path) -> str:
        if _pg_ready:
            _truncate_pg(_pg_ready)
            return _pg_ready
        shutil.copy(_sqlite_template, folder / "stateof.db")
        return f"sqlite+aiosqlite:///{folder / 'stateof.db'}"

    return make


# A fresh PostgreSQL database per example costs about 2 s (TRUNCATE of every table): fewer
# examples there. STATEOF_HYPOTHESIS_EXAMPLES (tests/conftest.py) above the CI default of 200
# runs that many on either database.
CAMPAIGN = int(os.environ.get("STATEOF_HYPOTHESIS_EXAMPLES", "200")) > 200
PER_RUN = settings().max_examples if CAMPAIGN else 25 if os.environ.get("STATEOF_TEST_DATABASE_URL") else 100


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
          max_examples=PER_RUN)
@given(st.data())
def test_any_sequence_of_events_gives_screens_and_stores_only_valid_answers(template_db, data):
    folder = Path(tempfile.mkdtemp())
    try:
        url = template_db(folder)
        asyncio.run(_play(url, folder / ".stateof-secret", data))
    finally:
        shutil.rmtree(folder, ignore_errors=True)
