"""The answer's `flagged` is the assessment's: OpenAI's meaning (any of its thirteen
categories at its flag threshold), whatever else is flagged."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from chatguard.domain import Assessment, Route
from chatguard.serialize import assessment_dict
from chatguard.taxonomy import Category

_SCORES = st.dictionaries(st.sampled_from(list(Category)), st.floats(0, 1))
_THRESHOLDS = st.dictionaries(st.sampled_from(list(Category)), st.floats(0.05, 0.95))


@given(scores=_SCORES, thresholds=_THRESHOLDS)
def test_the_answers_flagged_is_the_assessments(
    scores: dict[Category, float], thresholds: dict[Category, float]
) -> None:
    assessment = Assessment(
        message_id="m", scores=scores, route=Route.ALLOW, decided_by="t", thresholds=thresholds
    )
    answer = assessment_dict(assessment)
    assert answer["flagged"] is assessment.flagged
    assert {c for c, on in answer["categories"].items() if on} == {
        c.value for c in assessment.flagged_categories()
    }


def test_spam_alone_flags_its_category_but_not_the_answer() -> None:
    assessment = Assessment(
        message_id="m", scores={Category.SPAM: 0.99}, route=Route.ACT, decided_by="spam"
    )
    answer = assessment_dict(assessment)
    assert answer["categories"]["spam"] and answer["flagged"] is False
