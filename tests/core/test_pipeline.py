"""The cascade's orchestration, driven by small stages defined here."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from chatguard.domain import Message, Route, StageResult
from chatguard.pipeline import CpuStage, Pipeline, Stage, StageInput
from chatguard.taxonomy import Category

H = Category.HARASSMENT


class KeywordStage(CpuStage):
    """Scores harassment by a keyword table."""

    def __init__(self, name: str, table: dict[str, float], *, can_clear: bool) -> None:
        super().__init__(timeout_s=1.0)
        self.name = name  # type: ignore[misc]
        self.can_clear = can_clear  # type: ignore[misc]
        self.table = table
        self.seen: list[str] = []

    def assess_sync(self, items: Sequence[StageInput]) -> list[StageResult]:
        self.seen.extend(i.message.text for i in items)
        return [
            StageResult(
                self.name,
                {
                    H: max(
                        (s for w, s in self.table.items() if w in i.normalized.folded), default=0.0
                    )
                },
            )
            for i in items
        ]


class SlowStage(Stage):
    name = "slow"
    escalation = True
    can_clear = True

    async def assess(self, items: Sequence[StageInput]) -> list[StageResult]:
        await asyncio.sleep(5)
        return [StageResult(self.name) for _ in items]


class BrokenStage(Stage):
    name = "broken"
    can_clear = True

    async def assess(self, items: Sequence[StageInput]) -> list[StageResult]:
        raise RuntimeError("model file missing")


class Adjudicator(Stage):
    name = "adjudicator"
    escalation = True
    can_clear = True

    def __init__(self) -> None:
        super().__init__(timeout_s=1.0)
        self.seen: list[str] = []

    async def assess(self, items: Sequence[StageInput]) -> list[StageResult]:
        self.seen.extend(i.message.text for i in items)
        return [StageResult(self.name, {H: 0.0}, authoritative=True) for _ in items]


def msg(text: str) -> Message:
    return Message(text=text, user_id="u", channel_id="c")


async def test_the_router_settles_after_the_model_and_names_the_deciding_stage() -> None:
    rules = KeywordStage("rules", {"die": 0.95}, can_clear=False)
    model = KeywordStage("model", {"idiot": 0.6, "hello": 0.01}, can_clear=True)
    judge = Adjudicator()
    pipeline = Pipeline([rules, model, judge])
    die, hello, idiot = await pipeline.assess([msg("die"), msg("hello"), msg("idiot")])
    assert (die.route, die.decided_by) == (Route.ACT, "rules")
    assert (hello.route, hello.decided_by) == (Route.ALLOW, "model")
    assert (idiot.route, idiot.decided_by, idiot.escalated) == (Route.ALLOW, "adjudicator", True)
    # Rules cannot settle while a model that scores every category follows them.
    assert model.seen == ["die", "hello", "idiot"]
    assert judge.seen == ["idiot"]
    assert [t.stage for t in idiot.trail] == ["rules", "model", "adjudicator"]


async def test_without_a_model_a_severe_rule_hit_settles_before_the_adjudicator() -> None:
    rules = KeywordStage("rules", {"die": 0.95, "idiot": 0.5}, can_clear=False)
    judge = Adjudicator()
    die, idiot = await Pipeline([rules, judge]).assess([msg("die"), msg("idiot")])
    assert (die.route, die.decided_by, die.escalated) == (Route.ACT, "rules", False)
    assert idiot.decided_by == "adjudicator"
    assert judge.seen == ["idiot"]


async def test_only_the_uncertain_band_reaches_the_adjudicator() -> None:
    rules = KeywordStage("rules", {}, can_clear=False)
    judge = Adjudicator()
    results = await Pipeline([rules, judge]).assess([msg("fine"), msg("also fine")])
    assert judge.seen == []
    assert all(a.route is Route.ALLOW and not a.escalated for a in results)


async def test_a_stage_timeout_leaves_the_message_uncertain_not_lost() -> None:
    model = KeywordStage("model", {"idiot": 0.6}, can_clear=True)
    slow = SlowStage(timeout_s=0.05)
    [assessment] = await Pipeline([model, slow]).assess([msg("idiot")])
    assert assessment.route is Route.UNCERTAIN
    assert assessment.escalated
    assert assessment.trail[-1].error == "timed out after 0.05s"
    assert assessment.scores[H] == pytest.approx(0.6)


async def test_a_failing_stage_is_recorded_and_the_cascade_goes_on() -> None:
    model = KeywordStage("model", {"idiot": 0.95}, can_clear=True)
    [assessment] = await Pipeline([BrokenStage(), model]).assess([msg("idiot")])
    assert assessment.route is Route.ACT
    assert assessment.decided_by == "model"
    assert "RuntimeError" in (assessment.trail[0].error or "")


def test_a_stage_listed_twice_is_refused() -> None:
    with pytest.raises(ValueError, match="twice"):
        Pipeline([BrokenStage(), BrokenStage()])


@pytest.mark.parametrize(
    ("rule_score", "model_score", "decided_by"),
    [(0.95, 0.90, "rules"), (0.90, 0.97, "model"), (0.95, 0.95, "rules")],
    ids=["rule-higher", "model-higher", "tie-first-stage"],
)
async def test_the_deciding_stage_is_the_one_that_gave_the_triggering_score(
    rule_score: float, model_score: float, decided_by: str
) -> None:
    rules = KeywordStage("rules", {"die": rule_score}, can_clear=False)
    model = KeywordStage("model", {"die": model_score}, can_clear=True)
    [assessment] = await Pipeline([rules, model]).assess([msg("die")])
    assert assessment.route is Route.ACT
    assert assessment.decided_by == decided_by


class CountingStage(KeywordStage):
    """A keyword stage that records the size of every batch it gets."""

    def __init__(self, name: str, table: dict[str, float], *, can_clear: bool) -> None:
        super().__init__(name, table, can_clear=can_clear)
        self.batches: list[int] = []

    def assess_sync(self, items: Sequence[StageInput]) -> list[StageResult]:
        self.batches.append(len(items))
        return super().assess_sync(items)


def counting_pipeline() -> tuple[Pipeline, CountingStage, CountingStage]:
    rules = CountingStage("rules", {"idiot": 0.97}, can_clear=False)
    model = CountingStage("model", {"idiot": 0.9, "dumb": 0.5}, can_clear=True)
    return Pipeline([rules, model]), rules, model


async def test_concurrent_small_calls_share_the_fast_tier_and_keep_their_results() -> None:
    texts = [["you idiot"], ["hello", "dumb take"], ["nice play"], ["dumb", "idiot", "ok"]]
    alone, _, _ = counting_pipeline()
    expected = [await alone.assess([msg(t) for t in call]) for call in texts]

    together, rules, model = counting_pipeline()
    calls = [[msg(t) for t in call] for call in texts]
    results = await asyncio.gather(*(together.assess(c) for c in calls))
    # One pass for all four calls at each stage, the model seeing only what rules left open.
    assert rules.batches == [7] and len(model.batches) == 1
    for call, got, want in zip(calls, results, expected, strict=True):
        assert [a.message_id for a in got] == [m.id for m in call]
        assert [(a.route, a.decided_by, a.scores, a.reasons) for a in got] == [
            (a.route, a.decided_by, a.scores, a.reasons) for a in want
        ]


async def test_a_lone_call_and_a_large_one_run_as_they_come() -> None:
    pipeline, rules, _ = counting_pipeline()
    await pipeline.assess([msg("hello")])
    await pipeline.assess([msg(f"m{i}") for i in range(100)])
    await asyncio.gather(
        pipeline.assess([msg(f"big {i}") for i in range(100)]),
        pipeline.assess([msg("small")]),
    )
    assert rules.batches == [1, 100, 100, 1]


async def test_a_failing_shared_pass_fails_every_call_in_it() -> None:
    class Exploding(CountingStage):
        def assess_sync(self, items: Sequence[StageInput]) -> list[StageResult]:
            raise RuntimeError("boom")

    # A stage that raises is recorded in the trail (the cascade goes on) for every call.
    pipeline = Pipeline([Exploding("rules", {}, can_clear=True)])
    results = await asyncio.gather(pipeline.assess([msg("a")]), pipeline.assess([msg("b")]))
    assert all(r[0].trail[0].error == "RuntimeError: boom" for r in results)
