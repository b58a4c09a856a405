"""The pipeline in two steps: the fast tier now, the escalation when it lands."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from chatguard.domain import Message, Route
from chatguard.llm.stage import LLMStage
from chatguard.pipeline import Pipeline
from chatguard.stages.rules import RuleStage
from chatguard.taxonomy import Category
from tests.llm.conftest import make_stage
from tests.support.fake_llm import FakeLLMServer

TEXTS = ["kill yourself", "hello", "this is shit", "shit, you idiot"]


@pytest.fixture
async def llm(fake: FakeLLMServer) -> AsyncIterator[LLMStage]:
    stage = make_stage(fake.url)
    yield stage
    await stage.close()


def _messages() -> list[Message]:
    return [
        Message(text=t, user_id="u1", channel_id="c1", id=f"id{i}") for i, t in enumerate(TEXTS)
    ]


async def test_begin_settles_the_fast_tier_and_names_what_is_pending(
    fake: FakeLLMServer, llm: LLMStage
) -> None:
    run = await Pipeline([RuleStage(), llm]).begin(_messages())
    assert run.waiting == ["id2", "id3"]
    assert fake.completions == []  # nothing sent yet
    provisional = run.provisional()
    assert [a.pending for a in provisional] == [(), (), ("llm",), ("llm",)]
    assert [a.route for a in provisional] == [
        Route.ACT,
        Route.ALLOW,
        Route.UNCERTAIN,
        Route.UNCERTAIN,
    ]

    final = await run.finish()
    assert run.waiting == [] and all(a.pending == () for a in final)
    assert [a.route for a in final] == [Route.ACT, Route.ALLOW, Route.ALLOW, Route.ACT]
    assert final[3].decided_by == "llm" and final[3].scores[Category.HARASSMENT] == 0.95
    # The verdict lowered the rule's score, as far as the guard rail lets it (0.6 of the band).
    assert final[3].scores[Category.PROFANITY] == pytest.approx(0.6 - 0.6 * (0.85 - 0.3))
    assert [r.ids for r in fake.completions] == [["m1", "m2"]]


async def test_without_an_escalation_stage_nothing_waits() -> None:
    run = await Pipeline([RuleStage()]).begin(_messages())
    assert run.waiting == []
    final = await run.finish()
    assert final[2].route is Route.UNCERTAIN and final[2].pending == ()


async def test_a_failed_escalation_marks_the_llm_unavailable(fake: FakeLLMServer) -> None:
    stage = make_stage("http://127.0.0.1:9/v1", client={"max_retries": 0})
    try:
        final = await Pipeline([RuleStage(), stage]).assess(_messages())
    finally:
        await stage.close()
    assert [a.llm_unavailable for a in final] == [False, False, True, True]
    assert final[2].route is Route.UNCERTAIN
