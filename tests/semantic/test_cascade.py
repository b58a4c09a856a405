"""The semantic stage inside the cascade `filter -> classifier -> semantic`."""

from __future__ import annotations

import dataclasses

import pytest

from chatguard.config import Settings
from chatguard.domain import Message, Route
from chatguard.pipeline import Pipeline, Router
from chatguard.pipeline.registry import build_stage
from chatguard.pipeline.router import Thresholds
from chatguard.semantic.encoder import SentenceEncoder
from chatguard.semantic.heads import SemanticHeads
from chatguard.semantic.stage import SemanticStage
from chatguard.taxonomy import ALL_CATEGORIES, Category

TEXTS = ["this boss is so hard lol", "you are a worthless idiot, uninstall the game"]


def messages() -> list[Message]:
    return [Message(text=t, user_id="u", channel_id="c") for t in TEXTS]


def cascade(settings: Settings, semantic: SemanticStage, thresholds: Thresholds) -> Pipeline:
    stages = [build_stage("filter", settings), build_stage("classifier", settings), semantic]
    return Pipeline(stages, Router(thresholds))


@pytest.fixture
def semantic(encoder: SentenceEncoder, heads: SemanticHeads) -> SemanticStage:
    return SemanticStage(
        encoder=encoder, heads=dataclasses.replace(heads, blend={"harassment": 0.5})
    )


def band(allow: float, act: float) -> Thresholds:
    return Thresholds(
        allow=dict.fromkeys(ALL_CATEGORIES, allow), act=dict.fromkeys(ALL_CATEGORIES, act)
    )


async def test_messages_the_classifier_is_unsure_of_reach_the_semantic_stage(
    settings: Settings, semantic: SemanticStage
) -> None:
    # Everything between 0 and 1 is uncertain: the classifier settles nothing.
    pipeline = cascade(settings, semantic, band(0.0, 1.0))
    assessments = await pipeline.assess(messages())
    for assessment in assessments:
        stages = [t.stage for t in assessment.trail]
        assert stages == ["filter", "classifier", "semantic"]
    benign, insult = assessments
    assert insult.scores[Category.HARASSMENT] > benign.scores[Category.HARASSMENT]


async def test_messages_the_classifier_settles_never_reach_it(
    settings: Settings, semantic: SemanticStage
) -> None:
    # Everything below 1.0 is allowed: the classifier settles every message.
    pipeline = cascade(settings, semantic, band(1.0, 1.0))
    for assessment in await pipeline.assess(messages()):
        assert "semantic" not in [t.stage for t in assessment.trail]
        assert assessment.route is Route.ALLOW


async def test_a_timed_out_semantic_stage_is_recorded_and_the_cascade_goes_on(
    settings: Settings, encoder: SentenceEncoder, heads: SemanticHeads
) -> None:
    slow = SemanticStage(
        encoder=encoder,
        heads=dataclasses.replace(heads, blend={"harassment": 0.5}),
        timeout_s=1e-9,
    )
    pipeline = cascade(settings, slow, band(0.0, 1.0))
    for assessment in await pipeline.assess(messages()):
        last = assessment.trail[-1]
        assert last.stage == "semantic" and last.error and "timed out" in last.error
        assert assessment.route in (Route.ALLOW, Route.ACT, Route.UNCERTAIN)


LONG = (
    "i have been thinking about this for weeks and i honestly do not see the point of "
    "going on anymore, nothing i do matters to anyone"
)


@pytest.fixture
def long_reader(encoder: SentenceEncoder, heads: SemanticHeads) -> SemanticStage:
    blended = dataclasses.replace(
        heads, blend={}, long_blend={"self-harm": 0.5, "harassment": 0.5}, long_min_chars=80
    )
    return SemanticStage(encoder=encoder, heads=blended)


async def test_long_messages_reach_the_semantic_stage_even_when_the_classifier_is_sure(
    settings: Settings, long_reader: SemanticStage
) -> None:
    # Everything below 1.0 is allowed: the classifier settles every message, yet the long one
    # is blended all the same and the short ones never reach the encoder.
    pipeline = cascade(settings, long_reader, band(1.0, 1.0))
    texts = [*TEXTS, LONG]
    found = await pipeline.assess([Message(text=t, user_id="u", channel_id="c") for t in texts])
    reached = ["semantic" in [t.stage for t in a.trail] for a in found]
    assert reached == [False, False, True]
    linear = next(t for t in found[2].trail if t.stage == "classifier")
    assert linear.route is Route.ALLOW
    semantic_result = [r for r in found[2].reasons if r.startswith("semantic:")]
    assert semantic_result and found[2].route is Route.ALLOW


async def test_a_long_message_the_blend_makes_doubtful_is_no_longer_settled(
    settings: Settings, encoder: SentenceEncoder, heads: SemanticHeads
) -> None:
    # Allow below 0.5: the classifier scores the indirect disclosure under it (self-harm about
    # 0.46) and would allow it; the encoder reads intent in it (about 0.76), so the blend puts
    # it in the band, where the next stage (the LLM in production) decides.
    reader = SemanticStage(
        encoder=encoder,
        heads=dataclasses.replace(
            heads, blend={}, long_blend={"self-harm/intent": 0.5}, long_min_chars=80
        ),
    )
    pipeline = cascade(settings, reader, band(0.5, 0.9))
    (found,) = await pipeline.assess([Message(text=LONG, user_id="u", channel_id="c")])
    routes = {t.stage: t.route for t in found.trail}
    assert routes["classifier"] is Route.ALLOW
    assert routes["semantic"] is Route.UNCERTAIN
    assert found.escalated
