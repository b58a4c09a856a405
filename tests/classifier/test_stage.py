"""The classifier stage in the pipeline: registered, on by default, its thresholds in the router."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from chatguard.classifier.model import LinearModel
from chatguard.classifier.stage import DEFAULT_MODEL, ClassifierStage
from chatguard.config import load_settings
from chatguard.domain import Message, Route
from chatguard.errors import ConfigurationError
from chatguard.normalize import normalize
from chatguard.pipeline import Pipeline, Router
from chatguard.pipeline.registry import build_stage, registered_stages
from chatguard.pipeline.stage import StageInput
from chatguard.service import ModerationService, stage_thresholds
from chatguard.taxonomy import Category


@pytest.fixture(scope="module")
def stage() -> ClassifierStage:
    return ClassifierStage(model=LinearModel.load(DEFAULT_MODEL))


def _inputs(*texts: str) -> list[StageInput]:
    return [StageInput(Message(text=t, user_id="u", channel_id="c"), normalize(t)) for t in texts]


def test_stage_is_registered_and_in_the_default_pipeline() -> None:
    assert "classifier" in registered_stages()
    settings = load_settings()
    assert "classifier" in settings.stage_names
    assert isinstance(build_stage("classifier", settings), ClassifierStage)


def test_a_bad_model_path_refuses_to_start_naming_the_setting(tmp_path: Path) -> None:
    settings = load_settings(classifier_model=str(tmp_path / "nothing-here"))
    with pytest.raises(ConfigurationError, match="CLASSIFIER_MODEL"):
        build_stage("classifier", settings)


def test_every_covered_category_gets_a_score(stage: ClassifierStage) -> None:
    (result,) = stage.assess_sync(_inputs("hello chat"))
    assert set(result.scores) == set(stage.categories)
    assert {Category.HARASSMENT, Category.HATE, Category.SPAM} <= set(result.scores)
    assert all(0.0 <= s <= 1.0 for s in result.scores.values())


def test_batched_scores_equal_one_at_a_time(stage: ClassifierStage) -> None:
    texts = ["you are trash", "nice play", "buy followers at cheap.example now"]
    together = stage.assess_sync(_inputs(*texts))
    for text, result in zip(texts, together, strict=True):
        (alone,) = stage.assess_sync(_inputs(text))
        assert alone.scores == pytest.approx(result.scores, abs=1e-6)


def test_service_router_uses_the_model_thresholds() -> None:
    service = ModerationService.from_settings(load_settings(), with_store=False)
    manifest = LinearModel.load(DEFAULT_MODEL).manifest["thresholds"]
    router = service.pipeline.router.thresholds
    for name, t in manifest.items():
        category = Category(name)
        assert router.allow_at(category) == t["allow"]
        assert router.act_at(category) == t["act"]
        assert router.flag_at(category) == t["flag"]


def test_stage_thresholds_leave_defaults_without_a_trained_stage() -> None:
    settings = load_settings(pipeline_stages="rules")
    thresholds = stage_thresholds([build_stage("rules", settings)])
    assert thresholds.allow == {} and thresholds.act == {}


@pytest.mark.parametrize(
    ("text", "route"),
    [
        ("Hello everyone, how are you doing today?", Route.ALLOW),
        ("You are the worst human being, you make me sick to my stomach.", Route.ACT),
    ],
    ids=["clean-is-cleared", "insult-is-acted-on"],
)
def test_the_classifier_settles_sure_cases_itself(
    stage: ClassifierStage, text: str, route: Route
) -> None:
    pipeline = Pipeline([stage], Router(stage.thresholds()))
    (assessment,) = asyncio.run(pipeline.assess([Message(text=text, user_id="u", channel_id="c")]))
    assert assessment.route is route
    assert assessment.decided_by == "classifier"
    assert not assessment.escalated


def test_scores_in_the_uncertain_band_escalate(stage: ClassifierStage) -> None:
    # Widen the harassment band to everything so the classifier cannot be sure.
    thresholds = stage.thresholds()
    wide = Router(
        type(thresholds)(
            allow={**thresholds.allow, Category.HARASSMENT: 0.0},
            act={**thresholds.act, Category.HARASSMENT: 1.0},
            flag=thresholds.flag,
        )
    )
    pipeline = Pipeline([stage], wide)
    message = Message(text="hello", user_id="u", channel_id="c")
    (assessment,) = asyncio.run(pipeline.assess([message]))
    assert assessment.route is Route.UNCERTAIN and assessment.escalated


def test_a_profanity_hit_does_not_stop_the_cascade_before_the_classifier() -> None:
    service = ModerationService.from_settings(load_settings(), with_store=False)
    assert service.pipeline.stage_names[:2] == ["filter", "classifier"]
    message = Message(text="shit, you are a worthless idiot", user_id="u", channel_id="c")
    (assessment,) = asyncio.run(service.pipeline.assess([message]))
    assert [t.stage for t in assessment.trail][:2] == ["filter", "classifier"]
    assert assessment.scores[Category.HARASSMENT] > 0.5
