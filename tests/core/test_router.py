import pytest

from chatguard.domain import Route
from chatguard.pipeline.router import Router, Thresholds
from chatguard.taxonomy import Category

H = Category.HARASSMENT


@pytest.mark.parametrize(
    ("score", "can_clear", "route"),
    [
        (0.05, True, Route.ALLOW),
        (0.05, False, Route.UNCERTAIN),
        (0.5, True, Route.UNCERTAIN),
        (0.9, False, Route.ACT),
        (0.9, True, Route.ACT),
    ],
    ids=["low-clears", "low-but-cannot-clear", "middle-band", "high-acts-without-clearing", "high"],
)
def test_route_bands(score: float, can_clear: bool, route: Route) -> None:
    assert Router().route({H: score}, can_clear=can_clear) is route


def test_per_category_thresholds_override_defaults() -> None:
    router = Router(Thresholds(allow={H: 0.1}, act={H: 0.4}))
    assert router.route({H: 0.45}, can_clear=True) is Route.ACT
    assert router.route({Category.HATE: 0.45}, can_clear=True) is Route.UNCERTAIN


def test_inconsistent_thresholds_are_refused() -> None:
    with pytest.raises(ValueError, match="harassment"):
        Router(Thresholds(allow={H: 0.9}, act={H: 0.5}))


PI = Category.PROMPT_INJECTION


@pytest.mark.parametrize(
    ("scores", "route"),
    [
        ({PI: 0.9}, Route.ACT),
        ({PI: 0.9, H: 0.5}, Route.UNCERTAIN),
        ({PI: 0.9, H: 0.1}, Route.ACT),
        ({PI: 0.9, H: 0.9}, Route.ACT),
        ({H: 0.5, PI: 0.9}, Route.UNCERTAIN),
    ],
    ids=[
        "injection-alone-acts",
        "injection-wrapped-around-doubtful-abuse-goes-on",
        "injection-with-clean-rest-acts",
        "injection-and-clear-abuse-acts",
        "order-does-not-matter",
    ],
)
def test_prompt_injection_does_not_skip_the_adjudicator(
    scores: dict[Category, float], route: Route
) -> None:
    assert Router().route(scores, can_clear=True) is route
    # Without the deferral an injection cue settles the message at once.
    assert Router(defer_act=frozenset()).route(scores, can_clear=True) is (
        Route.ACT if scores[PI] >= 0.85 else route
    )
