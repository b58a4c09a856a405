"""The guard rail's bounds, case by case: what an LLM verdict may lower and what goes to review."""

from __future__ import annotations

import pytest

from chatguard.domain import Span, StageResult
from chatguard.llm.guard import GuardRail
from chatguard.pipeline.router import Thresholds
from chatguard.taxonomy import Category

H = Category.HARASSMENT
HATE = Category.HATE
PROF = Category.PROFANITY
PI = Category.PROMPT_INJECTION
#: allow 0.3 and act 0.85 (the defaults): a band 0.55 wide, 0.6 of it is 0.33.
RAIL = GuardRail(thresholds=Thresholds())


def rules(*spans: tuple[Category, float]) -> tuple[StageResult, ...]:
    found = tuple(Span(0, 4, c, f"term:{c.value}", s) for c, s in spans)
    return (StageResult("filter", {c: s for c, s in spans}, found),)


@pytest.mark.parametrize(
    ("fast", "evidence", "llm", "expect", "review"),
    [
        pytest.param({H: 0.45}, (), {}, {H: pytest.approx(0.12)}, False, id="low-band-cleared"),
        pytest.param({H: 0.7}, (), {}, {H: pytest.approx(0.37)}, True, id="high-band-review"),
        pytest.param({H: 0.7}, (), {H: 0.5}, {H: 0.5}, False, id="lowered-within-the-bound"),
        pytest.param({H: 0.45}, (), {H: 0.95}, {H: 0.95}, False, id="raising-is-never-bounded"),
        pytest.param({H: 0.9}, (), {}, {H: 0.9}, True, id="act-level-score-is-strong"),
        pytest.param(
            {HATE: 0.95}, rules((HATE, 0.95)), {}, {HATE: 0.95}, True, id="slur-hit-is-strong"
        ),
        pytest.param({H: 0.6}, rules((H, 0.6)), {}, {H: 0.6}, True, id="insult-hit-is-strong"),
        pytest.param(
            {PROF: 0.6},
            rules((PROF, 0.6)),
            {},
            {PROF: pytest.approx(0.27)},
            False,
            id="profanity-hit-is-not",
        ),
        pytest.param(
            {PI: 0.2, H: 0.35},
            rules((PI, 0.2)),
            {},
            {PI: 0.2, H: 0.35},
            True,
            id="any-injection-cue-lowers-nothing",
        ),
        pytest.param(
            {PI: 0.5}, (), {H: 0.9}, {PI: 0.5, H: 0.9}, True, id="injection-score-may-be-raised"
        ),
    ],
)
def test_bounds(
    fast: dict[Category, float],
    evidence: tuple[StageResult, ...],
    llm: dict[Category, float],
    expect: dict[Category, float],
    review: bool,
) -> None:
    bounded = RAIL.bound(llm, fast, evidence)
    assert {c: bounded.scores[c] for c in expect} == expect
    assert bounded.review is review
    # The categories the rail held are those it scored above what the LLM said.
    assert set(bounded.held) == {c for c in expect if bounded.scores[c] > llm.get(c, 0.0)}
    assert bool(bounded.reasons) is review
    assert all(s == 0.0 for c, s in bounded.scores.items() if c not in expect)


def test_the_bounds_follow_the_thresholds_given() -> None:
    narrow = GuardRail(thresholds=Thresholds(allow={H: 0.56}, act={H: 0.61}))
    assert narrow.floor(H, 0.6) == pytest.approx(0.57)  # 0.6 of a 0.05 band: 0.03
    assert narrow.bound({}, {H: 0.6}).review  # 0.57 is still above allow: a human decides
    assert not narrow.bound({}, {H: 0.58}).review


def test_a_stricter_rail_lowers_nothing() -> None:
    strict = GuardRail(thresholds=Thresholds(), max_lowering=0.0)
    bounded = strict.bound({}, {H: 0.31})
    assert bounded.scores[H] == 0.31 and bounded.review


def test_a_failed_answer_keeps_the_fast_scores() -> None:
    bounded = RAIL.distrusted({H: 0.4}, "the answer cleared its control message")
    assert bounded.scores[H] == 0.4 and bounded.review
    assert "control message" in bounded.reasons[0]


@pytest.mark.parametrize("bad", [-0.1, 1.5])
def test_bounds_out_of_range_are_refused(bad: float) -> None:
    with pytest.raises(ValueError, match="max_lowering"):
        GuardRail(max_lowering=bad)


def test_the_pipeline_hands_the_llm_stage_its_routers_thresholds() -> None:
    import asyncio

    from chatguard.llm.stage import LLMStage
    from chatguard.pipeline import Pipeline
    from chatguard.pipeline.router import Router
    from tests.llm.conftest import make_client

    thresholds = Thresholds(allow={H: 0.56}, act={H: 0.61})
    llm = LLMStage(client=make_client("http://127.0.0.1:9/v1"), guard=GuardRail(max_lowering=0.4))
    Pipeline([llm], Router(thresholds))
    assert llm.guard.thresholds is thresholds and llm.guard.max_lowering == 0.4
    asyncio.run(llm.close())
