"""Target features and word-level heads: swearing told from swearing at someone, and swear words
inside ordinary words ignored by the profanity head."""

from __future__ import annotations

import numpy as np
import pytest

from chatguard.classifier.features import FeatureConfig, featurize
from chatguard.classifier.model import LinearModel

CROSS = FeatureConfig(buckets_log2=16, target_cross=1)


def _word_buckets(text: str, config: FeatureConfig) -> set[int]:
    return set(featurize([text], config).words().bucket.tolist())


ADDRESSED = [
    pytest.param("you are bad", True, id="you"),
    pytest.param("ur so bad", True, id="ur"),
    pytest.param("@kev uninstall", True, id="mention"),
    pytest.param("this boss is hard", False, id="no-target"),
    pytest.param("youtube is down", False, id="you-inside-a-word"),
]


@pytest.mark.parametrize(("text", "addressed"), ADDRESSED)
def test_addressed_texts_get_the_target_features(text: str, addressed: bool) -> None:
    plain = _word_buckets(text, FeatureConfig(buckets_log2=16))
    crossed = _word_buckets(text, CROSS)
    assert (crossed > plain) is addressed


def test_the_same_swear_word_gets_a_target_copy_only_when_aimed() -> None:
    aimed = _word_buckets("fucking noob you", CROSS)
    unaimed = _word_buckets("fucking boss", CROSS)
    shared = aimed & unaimed
    # "fucking" itself is shared; its target-crossed copy appears only in the aimed text.
    assert shared and len(aimed - _word_buckets("fucking noob you", FeatureConfig(16))) >= 3


def test_target_features_are_off_in_older_configurations() -> None:
    assert FeatureConfig.from_dict({"buckets_log2": 16}).target_cross == 0


SELF = FeatureConfig(buckets_log2=16, target_cross=1, self_cross=1)

ABOUT_THE_SPEAKER = [
    pytest.param("im such an idiot lol", True, id="im"),
    pytest.param("idiot move by myself", True, id="myself"),
    pytest.param("im so bad at this lol", True, id="im-so-bad"),
    pytest.param("i'm trash at this game", True, id="i-am"),
    pytest.param("my bad you were right", False, id="and-you"),
    pytest.param("i think he is an idiot", False, id="and-him"),
    pytest.param("@kev i missed", False, id="and-a-mention"),
    pytest.param("my team is trash", False, id="my-is-not-the-speaker"),
    pytest.param("aim me next time", False, id="me-is-not-the-speaker"),
    pytest.param("tell me " + "a long story about the old lighthouse " * 3, False, id="long"),
    pytest.param("this boss is trash", False, id="nobody"),
    pytest.param("meme review", False, id="me-inside-a-word"),
]


@pytest.mark.parametrize(("text", "about_the_speaker"), ABOUT_THE_SPEAKER)
def test_texts_about_the_speaker_alone_get_the_self_features(
    text: str, about_the_speaker: bool
) -> None:
    assert (_word_buckets(text, SELF) > _word_buckets(text, CROSS)) is about_the_speaker


SELF_PHRASED = FeatureConfig(buckets_log2=16, target_cross=1, self_cross=2)

NAMED_BY_A_PHRASE = [
    pytest.param("idiot move by me", True, id="by-me"),
    pytest.param("my bad, dumb play", True, id="my-bad"),
    pytest.param("that was dumb of me", True, id="of-me"),
    pytest.param("thats on me, bad call", True, id="on-me"),
    pytest.param("my fault sorry", True, id="my-fault"),
    pytest.param("idiot move by you", False, id="by-you"),
    pytest.param("my bad you were right", False, id="my-bad-and-you"),
    pytest.param("blow me", False, id="me-alone"),
    pytest.param("my team is trash", False, id="my-alone"),
    pytest.param("bad by me " + "and a long story about the old lighthouse " * 3, False, id="long"),
]


@pytest.mark.parametrize(("text", "about_the_speaker"), NAMED_BY_A_PHRASE)
def test_phrases_that_name_the_speaker_get_the_self_features(
    text: str, about_the_speaker: bool
) -> None:
    phrased = _word_buckets(text, SELF_PHRASED) > _word_buckets(text, CROSS)
    assert phrased is about_the_speaker
    # Configuration 1 (the earlier models) reads the words alone: none of these has one.
    assert not _word_buckets(text, SELF) > _word_buckets(text, CROSS)


def test_the_same_insult_gets_a_self_copy_only_when_said_of_oneself() -> None:
    own = _word_buckets("im such an idiot", SELF) - _word_buckets("im such an idiot", CROSS)
    # The marker and one copy per word (im, such, an, idiot).
    assert len(own) == 5
    assert FeatureConfig.from_dict({"buckets_log2": 16, "target_cross": 1}).self_cross == 0


def _profanity_model(word_heads: tuple[str, ...]) -> LinearModel:
    """Weights on every n-gram of "shit" (characters and the word), as a character model would
    learn them."""
    config = FeatureConfig(buckets_log2=16)
    weights = np.zeros((config.buckets, 1), dtype=np.float32)
    weights[featurize(["shit"], config).bucket] = 1.0
    return LinearModel(
        heads=("profanity",),
        weights=weights,
        bias=np.zeros(1, dtype=np.float32),
        calibration=np.array([[1.0, 0.0]]),
        features=config,
        word_heads=word_heads,
    )


def test_a_word_head_does_not_see_a_swear_word_inside_a_name() -> None:
    character = _profanity_model(()).logits(["shital joined the raid", "shit"])[:, 0]
    word = _profanity_model(("profanity",)).logits(["shital joined the raid", "shit"])[:, 0]
    assert character[0] > 0.5  # the character n-grams of "shit" fire inside "shital"
    assert word[0] == pytest.approx(0.0) and word[1] > 0.5
