"""The router: allow below one threshold, act above another, escalate in between."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from chatguard.domain import Route
from chatguard.taxonomy import ALL_CATEGORIES, Category


@dataclass(frozen=True, slots=True)
class Thresholds:
    """Per-category thresholds. `allow`: every score below it clears; `act`: any score at or
    above it acts; `flag`: the score at which a category counts as flagged in reports."""

    allow: Mapping[Category, float] = field(default_factory=dict)
    act: Mapping[Category, float] = field(default_factory=dict)
    flag: Mapping[Category, float] = field(default_factory=dict)
    default_allow: float = 0.3
    default_act: float = 0.85
    default_flag: float = 0.5

    def allow_at(self, category: Category) -> float:
        return self.allow.get(category, self.default_allow)

    def act_at(self, category: Category) -> float:
        return self.act.get(category, self.default_act)

    def flag_at(self, category: Category) -> float:
        return self.flag.get(category, self.default_flag)

    def flag_map(self) -> dict[Category, float]:
        return {c: self.flag_at(c) for c in ALL_CATEGORIES}

    def merged(self, other: Thresholds) -> Thresholds:
        """These thresholds with `other`'s explicit values on top."""
        return Thresholds(
            allow={**self.allow, **other.allow},
            act={**self.act, **other.act},
            flag={**self.flag, **other.flag},
            default_allow=self.default_allow,
            default_act=self.default_act,
            default_flag=self.default_flag,
        )

    def validate(self) -> None:
        for category in ALL_CATEGORIES:
            low, high = self.allow_at(category), self.act_at(category)
            if not 0.0 <= low <= high <= 1.0:
                raise ValueError(
                    f"thresholds for {category.value}: need 0 <= allow ({low}) <= act ({high}) <= 1"
                )


#: Categories whose act threshold settles a message only when no other category is uncertain.
#: A prompt-injection cue is evidence about the adjudicator, not a harm to the chat: acting on
#: it at once would skip the adjudicator for the abuse the injection comes wrapped around.
DEFER_ACT: frozenset[Category] = frozenset({Category.PROMPT_INJECTION})


class Router:
    """Turns combined scores into a route."""

    def __init__(
        self, thresholds: Thresholds | None = None, *, defer_act: frozenset[Category] = DEFER_ACT
    ) -> None:
        self.thresholds = thresholds or Thresholds()
        self.thresholds.validate()
        self.defer_act = defer_act
        # Looked up for every message after every stage: plain dicts, resolved once.
        self._act = {c: self.thresholds.act_at(c) for c in ALL_CATEGORIES}
        self._allow = {c: self.thresholds.allow_at(c) for c in ALL_CATEGORIES}

    def route(self, scores: Mapping[Category, float], *, can_clear: bool) -> Route:
        """The route after a stage. A stage that cannot clear may still act."""
        act, allow = self._act, self._allow
        uncertain = deferred = False
        for category, score in scores.items():
            if score >= act[category]:
                if category not in self.defer_act:
                    return Route.ACT
                deferred = True
            elif score >= allow[category]:
                uncertain = True
        if deferred:
            return Route.UNCERTAIN if uncertain else Route.ACT
        if uncertain or not can_clear:
            return Route.UNCERTAIN
        return Route.ALLOW

    def trigger(self, scores: Mapping[Category, float]) -> Category | None:
        """The highest-scoring category at or above its act threshold, if any."""
        act = self._act
        over = [(score, category) for category, score in scores.items() if score >= act[category]]
        return max(over)[1] if over else None

    def final(self, scores: Mapping[Category, float]) -> Route:
        """The route when no stage is left to consult."""
        return self.route(scores, can_clear=True)
