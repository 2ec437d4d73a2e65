"""No small group recovered by subtracting two outputs: segment against segment (`--where`,
`--platform`), and successive summaries of a live wave (a newcomer, a changed answer, a
member who deletes their data)."""

from __future__ import annotations

import pytest

from analytics.report import chat_lines, to_markdown
from analytics.segments import SegmentRefused
from analytics.service import build_summary
from bot.commands import Commands, Invocation
from surveys.catalog import Catalog
from surveys.flow import AnswerFlow
from surveys.identity import Member
from surveys.models import WaveStatus
from surveys.waves import close_wave, create_wave, ensure_community, wave_by_id

SURVEY = "state-of-mlops"
SECRET = b"d" * 32
REGIONS = ["europe", "north_america", "india"]


async def _wave(db, status=WaveStatus.open) -> tuple[int, int]:
    async with db.session() as session:
        community = await ensure_community(session, "default")
        wave = await create_wave(session, community, Catalog().get(SURVEY, version=1), "2026", status=status)
        return community.id, wave.id


def _m(user: str) -> Member:
    return Member("slack", "S", user)


def _answers(role: str, i: int, **extra) -> dict:
    return {"title": "ml_engineer" if i % 2 else "researcher", "role": role,
            "region": REGIONS[i % 3], "focus": ["deploy", "monitoring"][: 1 + i % 2], **extra}


async def _answer(flow, wave_id: int, member: Member, values: dict) -> None:
    await flow.submit(wave_id, member, values, finish=True)


async def _models_infra_lead(db, flow, *, close: bool = True, platform_of=lambda i: "slack") -> int:
    """30 "models", 30 "infra" and 1 "lead" (the example of the issue)."""
    community_id, wave_id = await _wave(db)
    people = [("models", i) for i in range(30)] + [("infra", i) for i in range(30, 60)] + [("lead", 60)]
    for role, i in people:
        await _answer(flow, wave_id, Member(platform_of(i), "S", f"U{i}"), _answers(role, i))
    if close:
        async with db.session() as session:
            close_wave(await wave_by_id(session, wave_id))
    return community_id


async def _summary(db, community_id: int, **kw):
    return await build_summary(db, community_id=community_id, survey_id=SURVEY, wave="2026",
                               min_group_size=5, **kw)


# -- segment against segment ---------------------------------------------------------------
async def test_an_option_list_and_its_neighbour_are_never_both_shown(db):
    """role=models (30) and role=models,lead (31) differ by the lead alone: at most one shows."""
    community_id = await _models_infra_lead(db, AnswerFlow(db, SECRET))
    shown = {}
    for options in (["models"], ["models", "lead"], ["lead"]):
        try:
            summary = await _summary(db, community_id, where={"role": options})
        except SegmentRefused as exc:
            assert "fewer than 5" in str(exc) and "'Lead" in str(exc) or "lead" in str(exc).lower()
            continue
        assert not summary.suppressed("2026")
        shown[",".join(options)] = summary.respondents["2026"]
    assert "lead" not in shown
    assert not ("models" in shown and "models,lead" in shown)
    # the lead is merged with the next smallest option for filtering: that group can be asked for
    assert shown == {"models,lead": 31}
    infra = await _summary(db, community_id, where={"role": ["infra"]})
    assert infra.respondents["2026"] == 30  # whole − (models,lead) − infra = nobody left out


async def test_the_refusal_says_what_to_ask_instead(db):
    community_id = await _models_infra_lead(db, AnswerFlow(db, SECRET))
    with pytest.raises(SegmentRefused) as exc:
        await _summary(db, community_id, where={"role": ["models"]})
    text = str(exc.value)
    assert "count as one group" in text and "role=models,lead" in text
    assert "1 respondent" not in text  # the size of a small group is never printed


async def test_two_conditions_or_two_questions_that_nearly_coincide_are_refused(db):
    """role=infra AND region=europe vs role=infra: differ by the infra outside Europe; and
    region=europe vs role=infra,lead: differ by the same few people."""
    flow = AnswerFlow(db, SECRET)
    community_id, wave_id = await _wave(db)
    for i in range(20):  # 20 infra in Europe, 3 infra in India, 20 models in India
        await _answer(flow, wave_id, _m(f"A{i}"), _answers("infra", 0, region="europe"))
        await _answer(flow, wave_id, _m(f"B{i}"), _answers("models", 0, region="india"))
    for i in range(3):
        await _answer(flow, wave_id, _m(f"C{i}"), _answers("infra", 0, region="india"))
    for i in range(5):
        await _answer(flow, wave_id, _m(f"D{i}"), _answers("lead", 0, region="europe"))
    async with db.session() as session:
        close_wave(await wave_by_id(session, wave_id))
    assert (await _summary(db, community_id, where={"role": ["infra"]})).respondents["2026"] == 23
    with pytest.raises(SegmentRefused, match="one condition fewer"):
        await _summary(db, community_id, where={"role": ["infra"], "region": ["europe"]})
    # region=europe (25) against role=infra,lead (28): the 3 infra in India, by subtraction
    with pytest.raises(SegmentRefused, match="a filter on role"):
        await _summary(db, community_id, where={"region": ["europe"]})


async def test_a_multi_choice_filter_with_a_small_overlap_is_refused(db):
    flow = AnswerFlow(db, SECRET)
    community_id, wave_id = await _wave(db)
    def role(i: int) -> str:
        return "models" if i % 2 else "infra"

    for i in range(20):
        await _answer(flow, wave_id, _m(f"A{i}"), _answers(role(i), i, focus=["deploy"]))
        await _answer(flow, wave_id, _m(f"B{i}"), _answers(role(i), i, focus=["optimize"]))
    for i in range(2):  # deploy and monitoring together: 2 people
        await _answer(flow, wave_id, _m(f"C{i}"), _answers(role(i), i, focus=["deploy", "monitoring"]))
    for i in range(6):
        await _answer(flow, wave_id, _m(f"D{i}"), _answers(role(i), i, focus=["monitoring"]))
    async with db.session() as session:
        close_wave(await wave_by_id(session, wave_id))
    assert (await _summary(db, community_id, where={"focus": ["deploy"]})).respondents["2026"] == 22
    with pytest.raises(SegmentRefused):  # {deploy+monitoring} is a cell of 2
        await _summary(db, community_id, where={"focus": ["deploy", "monitoring"]})


async def test_a_platform_with_few_respondents_cannot_split_the_results(db):
    flow = AnswerFlow(db, SECRET)
    community_id = await _models_infra_lead(db, flow, platform_of=lambda i: "discord" if i < 3 else "slack")
    with pytest.raises(SegmentRefused, match="discord"):
        await _summary(db, community_id, platform="slack")


async def test_chat_results_refuse_the_differencing_segment_with_a_clear_reply(services):
    community = await services.community_for("slack", "T1")
    async with services.db.session() as session:
        wave = await create_wave(session, community, services.catalog.get(SURVEY, version=1), "2026",
                                 status=WaveStatus.open)
    people = [("models", i) for i in range(30)] + [("infra", i) for i in range(30, 60)] + [("lead", 60)]
    for role, i in people:
        await services.flow.submit(wave.id, Member("slack", "T1", f"U{i}"), _answers(role, i), finish=True)
    commands = Commands(services)
    reply = await commands.run(Invocation("slack", "T1", "C1", "U_MOD", True, "results",
                                          {"question": "region", "where": "role=models"}))
    assert "count as one group" in reply.text and "role=models,lead" in reply.text
    assert "%" not in reply.text  # no results shown
    merged = await commands.run(Invocation("slack", "T1", "C1", "U_MOD", True, "results",
                                           {"question": "region", "where": "role=models,lead"}))
    assert "based on the first 61 respondents" in merged.text and "31 of them in this segment" in merged.text


# -- successive summaries of a live wave ---------------------------------------------------
async def _outputs(db, community_id: int) -> tuple[dict, str, list[str]]:
    summary = await _summary(db, community_id)
    return summary.to_dict(), to_markdown(summary), chat_lines(summary, question="region")


async def _segment_outputs(db, community_id: int) -> dict:
    return (await _summary(db, community_id, where={"title": ["researcher"]})).to_dict()


async def test_a_newcomer_between_two_summaries_changes_nothing(db):
    flow = AnswerFlow(db, SECRET)
    community_id, wave_id = await _wave(db)
    for i in range(40):
        await _answer(flow, wave_id, _m(f"U{i}"), _answers("models" if i % 2 else "infra", i))
    before, seg_before = await _outputs(db, community_id), await _segment_outputs(db, community_id)
    assert before[0]["snapshot"] == {"2026": {"release": 1, "covers": 40, "held": False}}
    assert "based on the first 40 respondents" in before[1] and "based on the first 40" in before[2][0]
    # one member answers (a rare region, a new title): nothing in any output moves
    await _answer(flow, wave_id, _m("NEW"), _answers("lead", 1, region="oceania"))
    after, seg_after = await _outputs(db, community_id), await _segment_outputs(db, community_id)
    assert after == before
    assert seg_after == seg_before
    # a member in the snapshot changes an answer: not shown until the next release either
    await _answer(flow, wave_id, _m("U3"), {"region": "africa"})
    assert await _outputs(db, community_id) == before
    # k = 5 newcomers in all: the snapshot advances and says so
    for i in range(4):
        await _answer(flow, wave_id, _m(f"N{i}"), _answers("infra", i))
    advanced = await _outputs(db, community_id)
    assert advanced[0]["snapshot"]["2026"] == {"release": 2, "covers": 45, "held": False}
    assert advanced[0]["respondents"] == {"2026": 45}
    assert "based on the first 45 respondents" in advanced[1]


async def test_a_member_who_deletes_their_data_does_not_show_by_difference(db):
    flow = AnswerFlow(db, SECRET)
    community_id, wave_id = await _wave(db)
    for i in range(20):
        await _answer(flow, wave_id, _m(f"U{i}"), _answers("models", i))
    before = (await _summary(db, community_id)).to_dict()
    assert before["respondents"] == {"2026": 20}
    await flow.delete_my_answers(community_id, _m("U7"))
    held = await _summary(db, community_id)
    data = held.to_dict()
    assert data["respondents"] == {"2026": None}  # never 19
    assert data["snapshot"]["2026"]["held"] is True
    assert all(q["results"]["2026"] == {"suppressed": True} for q in data["questions"])
    assert "held back" in chat_lines(held)[0]
    for i in range(5):  # the next release mixes the withdrawal with k newcomers
        await _answer(flow, wave_id, _m(f"N{i}"), _answers("infra", i))
    assert (await _summary(db, community_id)).to_dict()["respondents"] == {"2026": 24}


async def test_a_closed_wave_uses_every_answer(db):
    flow = AnswerFlow(db, SECRET)
    community_id, wave_id = await _wave(db)
    for i in range(12):
        await _answer(flow, wave_id, _m(f"U{i}"), _answers("models", i))
    assert (await _summary(db, community_id)).respondents["2026"] == 12
    for i in range(2):
        await _answer(flow, wave_id, _m(f"N{i}"), _answers("models", i))
    assert (await _summary(db, community_id)).respondents["2026"] == 12
    async with db.session() as session:
        close_wave(await wave_by_id(session, wave_id))
    closed = await _summary(db, community_id)
    assert closed.respondents["2026"] == 14
    assert "snapshot" in closed.to_dict() and closed.to_dict()["snapshot"] == {}
    assert "based on the first" not in to_markdown(closed)


async def test_the_completed_count_of_a_segment_hides_a_small_unfinished_group(db):
    """28 of 30 "models" completed: "28 completed" beside role=models would single out the 2
    (and beside role=infra, the whole wave's 2 unfinished minus the segment's 0)."""
    flow = AnswerFlow(db, SECRET)
    community_id, wave_id = await _wave(db)
    for i in range(60):
        role = "models" if i < 30 else "infra"
        await flow.submit(wave_id, _m(f"U{i}"), _answers(role, i), finish=i not in (3, 4))
    async with db.session() as session:
        close_wave(await wave_by_id(session, wave_id))
    whole = await _summary(db, community_id)
    assert whole.to_dict()["completed"] == {"2026": 58}
    for role in ("models", "infra"):
        segment = await _summary(db, community_id, where={"role": [role]})
        assert segment.to_dict()["completed"] == {"2026": None}
        assert "completed" not in chat_lines(segment)[0]
        assert segment.respondents["2026"] == 30
