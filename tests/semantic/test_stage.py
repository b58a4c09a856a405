"""The semantic stage: registered, configurable, and moving clear cases the right way."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from chatguard.config import Settings
from chatguard.domain import Message, StageResult
from chatguard.errors import ConfigurationError
from chatguard.normalize import normalize
from chatguard.pipeline.registry import build_stage, registered_stages
from chatguard.pipeline.router import Thresholds
from chatguard.pipeline.stage import StageInput
from chatguard.semantic.artifact import SemanticArtifact
from chatguard.semantic.encoder import SentenceEncoder
from chatguard.semantic.heads import SemanticHeads
from chatguard.semantic.stage import SemanticStage
from chatguard.taxonomy import Category

HARASSMENT, SELF_HARM = Category.HARASSMENT, Category.SELF_HARM


def doubtful(text: str, **scores: float) -> StageInput:
    """A message the classifier left in the uncertain band with `scores`."""
    found = {Category(k.replace("_", "-")): v for k, v in scores.items()}
    result = StageResult("classifier", found)
    message = Message(text=text, user_id="u", channel_id="c")
    return StageInput(message, normalize(text), found, (result,))


@pytest.fixture
def stage(encoder: SentenceEncoder, heads: SemanticHeads) -> SemanticStage:
    # The uncertain band's blend alone, whatever the shipped buckets chose on validation.
    blended = dataclasses.replace(
        heads, blend={"harassment": 0.5, "self-harm": 0.5}, long_blend={}, medium_blend={}
    )
    return SemanticStage(encoder=encoder, heads=blended)


def test_the_stage_is_registered_and_builds_from_settings(settings: Settings) -> None:
    assert "semantic" in registered_stages()
    stage = build_stage("semantic", settings)
    assert isinstance(stage, SemanticStage)
    assert stage.can_clear and not stage.escalation
    assert stage.health().ok


def test_threads_and_timeout_come_from_settings(settings: Settings) -> None:
    configured = settings.model_copy(update={"semantic_threads": 2, "semantic_timeout_s": 0.75})
    stage = build_stage("semantic", configured)
    assert isinstance(stage, SemanticStage)
    assert stage.timeout_s == 0.75
    assert stage.encoder.session.get_session_options().intra_op_num_threads == 2


def test_a_bad_artifact_path_names_the_setting(settings: Settings, tmp_path: Path) -> None:
    broken = settings.model_copy(update={"semantic_model": str(tmp_path / "nothing")})
    with pytest.raises(ConfigurationError, match="SEMANTIC_MODEL"):
        build_stage("semantic", broken)


@pytest.mark.parametrize(
    ("text", "category", "direction"),
    [
        ("i have been cutting myself again and i cannot stop", SELF_HARM, +1),
        ("you are a pathetic worthless loser and everyone in this chat hates you", HARASSMENT, +1),
        ("thanks for the tips everyone, see you all at the meetup next week", HARASSMENT, -1),
        ("can't wait for the new season, the trailer looked amazing", SELF_HARM, -1),
    ],
    ids=["crisis-up", "insult-up", "thanks-down", "trailer-down"],
)
def test_clear_cases_move_the_right_way(
    stage: SemanticStage, text: str, category: Category, direction: int
) -> None:
    item = doubtful(text, harassment=0.5, self_harm=0.5)
    (result,) = stage.assess_sync([item])
    assert result.authoritative and result.error is None
    assert (result.scores[category] - 0.5) * direction > 0.05
    assert result.reasons and result.reasons[0].startswith("semantic:")


def test_a_rule_hit_from_another_stage_stands(stage: SemanticStage) -> None:
    text = "thanks for the tips everyone, see you all at the meetup next week"
    item = doubtful(text, harassment=0.5)
    rule = StageResult("filter", {HARASSMENT: 0.9})
    item = item._replace(results=(rule, *item.results), scores={HARASSMENT: 0.9})
    (result,) = stage.assess_sync([item])
    assert result.scores[HARASSMENT] == 0.9


def test_categories_without_a_blend_are_left_alone(stage: SemanticStage) -> None:
    (result,) = stage.assess_sync([doubtful("some text", violence=0.5)])
    assert set(result.scores) == {HARASSMENT, SELF_HARM}


def test_no_blend_means_no_encoder_work(encoder: SentenceEncoder, heads: SemanticHeads) -> None:
    idle = SemanticStage(encoder=encoder, heads=dataclasses.replace(heads, blend={}))
    (result,) = idle.assess_sync([doubtful("anything", harassment=0.5)])
    assert result.scores == {} and not result.reasons


def test_the_shipped_stage_blends_what_its_manifest_says(settings: Settings) -> None:
    stage = build_stage("semantic", settings)
    assert isinstance(stage, SemanticStage)
    blends = (stage.heads.blend, stage.heads.long_blend, stage.heads.medium_blend)
    blended = {k for blend in blends for k, v in blend.items() if v > 0}
    assert {c.value for c in stage.categories} == blended


def test_a_different_linear_model_is_named_in_a_warning(
    settings: Settings, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    import json
    import shutil

    from chatguard.classifier.stage import DEFAULT_MODEL

    retrained = tmp_path / "linear"
    shutil.copytree(DEFAULT_MODEL, retrained)
    manifest = json.loads((retrained / "manifest.json").read_text(encoding="utf-8"))
    manifest["created"] = "2030-01-01T00:00:00Z"
    (retrained / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    with caplog.at_level("WARNING", logger="chatguard.semantic.stage"):
        build_stage("semantic", settings.model_copy(update={"classifier_model": str(retrained)}))
    assert "train-semantic" in caplog.text and "2030-01-01" in caplog.text


def test_the_shipped_blend_matches_the_shipped_linear_model(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level("WARNING", logger="chatguard.semantic.stage"):
        build_stage("semantic", settings)
    assert "train-semantic" not in caplog.text


LONG_TEXT = (
    "you are a pathetic worthless loser and everyone in this chat hates you, "
    "nobody wants you around here"
)


@pytest.fixture
def by_length(encoder: SentenceEncoder, heads: SemanticHeads) -> SemanticStage:
    weighted = dataclasses.replace(
        heads, blend={"self-harm": 0.5}, long_blend={"harassment": 0.5}, long_min_chars=60
    )
    stage = SemanticStage(encoder=encoder, heads=weighted)
    # Allow below 0.3, act from 0.9: a score of 0.5 is uncertain, 0.1 is sure.
    stage.use_thresholds(
        Thresholds(allow=dict.fromkeys(Category, 0.3), act=dict.fromkeys(Category, 0.9))
    )
    return stage


@pytest.mark.parametrize(
    ("text", "linear", "blended"),
    [
        pytest.param(LONG_TEXT, 0.1, {HARASSMENT}, id="long-and-sure-takes-the-long-weights"),
        pytest.param(LONG_TEXT, 0.5, {HARASSMENT}, id="long-and-unsure-takes-the-long-weights"),
        pytest.param("you are a loser", 0.5, {SELF_HARM}, id="short-and-unsure-takes-the-band's"),
        pytest.param("you are a loser", 0.1, set(), id="short-and-sure-is-left-alone"),
    ],
)
def test_the_weights_depend_on_the_length_and_the_band(
    by_length: SemanticStage, text: str, linear: float, blended: set[Category]
) -> None:
    (result,) = by_length.assess_sync([doubtful(text, harassment=linear, self_harm=linear)])
    assert set(result.scores) == blended
    assert by_length.reopens(doubtful(text)) is (len(normalize(text).folded) >= 60)


MEDIUM_TEXT = "you are a pathetic loser and nobody likes you"


@pytest.fixture
def by_three_lengths(encoder: SentenceEncoder, heads: SemanticHeads) -> SemanticStage:
    weighted = dataclasses.replace(
        heads,
        blend={"self-harm": 0.5},
        long_blend={"harassment": 0.5},
        long_min_chars=60,
        medium_blend={"self-harm": 0.2, "harassment": 0.2},
        medium_min_chars=30,
    )
    stage = SemanticStage(encoder=encoder, heads=weighted)
    stage.use_thresholds(
        Thresholds(allow=dict.fromkeys(Category, 0.3), act=dict.fromkeys(Category, 0.9))
    )
    return stage


@pytest.mark.parametrize(
    ("text", "linear", "blended", "reopened"),
    [
        pytest.param(LONG_TEXT, 0.1, {HARASSMENT}, True, id="long-keeps-the-long-weights"),
        pytest.param(
            MEDIUM_TEXT, 0.1, {HARASSMENT, SELF_HARM}, True, id="medium-and-sure-takes-medium"
        ),
        pytest.param(
            MEDIUM_TEXT, 0.5, {HARASSMENT, SELF_HARM}, True, id="medium-and-unsure-takes-medium"
        ),
        pytest.param("you are a loser", 0.5, {SELF_HARM}, False, id="short-and-unsure-band"),
        pytest.param("you are a loser", 0.1, set(), False, id="short-and-sure-left-alone"),
    ],
)
def test_messages_between_the_medium_and_long_lengths_take_the_medium_weights(
    by_three_lengths: SemanticStage,
    text: str,
    linear: float,
    blended: set[Category],
    reopened: bool,
) -> None:
    assert 30 <= len(normalize(MEDIUM_TEXT).folded) < 60
    (result,) = by_three_lengths.assess_sync([doubtful(text, harassment=linear, self_harm=linear)])
    assert set(result.scores) == blended
    assert by_three_lengths.reopens(doubtful(text)) is reopened
    if text == MEDIUM_TEXT:
        # The medium weight (0.2), not the long one (0.5) nor the band's.
        weights = by_three_lengths.heads.weights_for(len(normalize(text).folded), uncertain=True)
        assert weights == {"self-harm": 0.2, "harassment": 0.2}


def test_medium_weights_load_from_the_manifest(artifact: SemanticArtifact) -> None:
    heads = SemanticHeads.load(artifact)
    entry = artifact.manifest["heads"].get("blend_medium", {})
    assert heads.medium_min_chars == entry.get("min_chars", 0)
    assert heads.medium_blend == entry.get("weights", {})


def test_long_weights_load_from_the_manifest(artifact: SemanticArtifact) -> None:
    heads = SemanticHeads.load(artifact)
    entry = artifact.manifest["heads"].get("blend_long", {})
    assert heads.long_min_chars == entry.get("min_chars", 0)
    assert heads.long_blend == entry.get("weights", {})


def test_a_weight_for_a_category_the_heads_do_not_score_is_left_out(
    encoder: SentenceEncoder, heads: SemanticHeads
) -> None:
    unscored = next(
        c for c in Category if c.value not in heads.category_scores(encoder.encode(["x"]))
    )
    weighted = dataclasses.replace(
        heads, blend={}, long_blend={unscored.value: 0.5, "harassment": 0.5}, long_min_chars=10
    )
    stage = SemanticStage(encoder=encoder, heads=weighted)
    (result,) = stage.assess_sync([doubtful(LONG_TEXT, harassment=0.5)])
    assert result.error is None and set(result.scores) == {HARASSMENT}


def test_the_medium_bucket_can_be_switched_off(settings: Settings) -> None:
    on = build_stage("semantic", settings)
    off = build_stage("semantic", settings.model_copy(update={"semantic_medium": False}))
    assert isinstance(on, SemanticStage) and isinstance(off, SemanticStage)
    assert on.heads.medium_min_chars > 0 and on.heads.medium_blend
    assert off.heads.medium_min_chars == 0 and not off.heads.medium_blend
    medium = "x" * on.heads.medium_min_chars  # shorter than the long bucket
    assert not on.heads.is_long(len(medium))
    assert on.reopens(doubtful(medium)) and not off.reopens(doubtful(medium))
    assert off.heads.long_blend == on.heads.long_blend and off.heads.blend == on.heads.blend
