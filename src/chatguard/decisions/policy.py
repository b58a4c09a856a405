"""Channel policy: what a channel tolerates and what happens at each severity.

A policy is data. Per category it sets a level (0 = off … 4 = strictest, like Twitch AutoMod) or
explicit severity thresholds; per severity an action; a strike ladder for repeat offences; how
spam-only offences (floods) are answered and counted; how a self-harm disclosure is cared for
(`crisis`); exempt roles; blocked and permitted terms; what to do while the LLM is
unavailable; and how long a held message waits for a moderator. `parse_policy` validates a
document and names the field of any mistake.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from functools import cached_property
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from chatguard.domain import Action, FailMode, Role
from chatguard.errors import InvalidPolicyError
from chatguard.taxonomy import Category

__all__ = ["FailMode"]  # the domain's fail mode, part of a policy

#: Twitch's longest timeout (two weeks); anything longer is a ban.
MAX_TIMEOUT_S = 14 * 24 * 3600


class Severity(StrEnum):
    """How bad one message is under a channel's policy, in rising order."""

    NONE = "none"
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"

    @property
    def rank(self) -> int:
        return _SEVERITY_RANK[self]


#: Each severity's place in the order (looked up for every category of every message).
_SEVERITY_RANK: dict[Severity, int] = {severity: i for i, severity in enumerate(Severity)}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SeverityThresholds(_Strict):
    """Score at which a category reaches each severity; `None` switches that severity off."""

    low: float | None = Field(default=None, ge=0.0, le=1.0)
    medium: float | None = Field(default=None, ge=0.0, le=1.0)
    high: float | None = Field(default=None, ge=0.0, le=1.0)

    @model_validator(mode="after")
    def _ascending(self) -> SeverityThresholds:
        present = [v for v in (self.low, self.medium, self.high) if v is not None]
        if present != sorted(present):
            raise ValueError("thresholds must rise: low <= medium <= high")
        return self

    def severity(self, score: float) -> Severity:
        # Asked for every category of every message: plain comparisons, highest first.
        high, medium, low = self.high, self.medium, self.low
        if high is not None and score >= high:
            return Severity.HIGH
        if medium is not None and score >= medium:
            return Severity.MEDIUM
        if low is not None and score >= low:
            return Severity.LOW
        return Severity.NONE

    @property
    def enabled(self) -> bool:
        return self.low is not None or self.medium is not None or self.high is not None


#: Level → thresholds. 0 ignores the category; 4 catches the most.
LEVELS: dict[int, SeverityThresholds] = {
    0: SeverityThresholds(),
    1: SeverityThresholds(high=0.9),
    2: SeverityThresholds(medium=0.75, high=0.9),
    3: SeverityThresholds(low=0.6, medium=0.75, high=0.85),
    4: SeverityThresholds(low=0.35, medium=0.55, high=0.75),
}


class ActionRule(_Strict):
    """An action, with its duration when it is a timeout. YAML may say just `delete`,
    or `timeout 600`."""

    action: Action
    duration_s: int | None = Field(default=None, ge=1, le=MAX_TIMEOUT_S)

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        if isinstance(value, str):
            word, _, duration = value.strip().partition(" ")
            return {"action": word, **({"duration_s": duration.strip()} if duration else {})}
        return value

    @model_validator(mode="after")
    def _duration(self) -> ActionRule:
        if self.action is Action.TIMEOUT and self.duration_s is None:
            raise ValueError("a timeout needs duration_s")
        if self.action is not Action.TIMEOUT and self.duration_s is not None:
            raise ValueError(f"duration_s applies only to timeout, not {self.action.value}")
        return self


#: Allow, as every clean message gets it (rules are frozen: one instance serves all).
ALLOW_RULE = ActionRule(action=Action.ALLOW)


class Rung(ActionRule):
    """One rung of the strike ladder: its name (shown in the decision) and its action."""

    name: str = Field(min_length=1, max_length=40)


class LadderConfig(_Strict):
    """Repeat offences climb the ladder; a strike stops counting `decay_s` after it was given.
    An automated decision at or above `strike_at` gives a strike, and so does a moderator's
    denial of a held message."""

    rungs: tuple[Rung, ...] = Field(min_length=1, max_length=20)
    decay_s: int = Field(default=86_400, ge=1, le=365 * 86_400)
    strike_at: Action = Action.DELETE

    @field_validator("strike_at")
    @classmethod
    def _removes(cls, value: Action) -> Action:
        if value.severity < Action.DELETE.severity:
            raise ValueError("strike_at must be delete, timeout or ban")
        return value


class FloodConfig(_Strict):
    """How a channel answers a spam-only offence: a message the spam category alone (rate,
    repeats, raids, character and emote floods, links, mentions) would remove, with no other
    watched category at any severity and no blocked term. A fast chatter is slowed, not walked
    up the ladder one strike per line.

    - `action` replaces the severity's action for such an offence (a short timeout is slow
      mode on platforms without one); `None` keeps the severity's action, and so does an
      action the spam category sets for that severity itself.
    - `burst_s`: spam-only offences of one user that follow each other with gaps shorter than
      this are one burst, and a burst gives at most one strike (the first offence's). A burst
      that ends and a new one later gives another strike, so a repeat flooder still climbs.
      0 gives every spam-only offence its own strike.

    Abuse inside a flood (harassment, threats, a blocked term) is not spam-only: it climbs the
    ladder as usual."""

    action: ActionRule | None = ActionRule(action=Action.TIMEOUT, duration_s=30)
    burst_s: int = Field(default=300, ge=0, le=86_400)


class ReviewConfig(_Strict):
    """How long a held message waits for a moderator, and what happens when nobody comes."""

    timeout_s: int = Field(default=300, ge=5, le=7 * 86_400)
    default_action: ActionRule = ActionRule(action=Action.DELETE)

    @field_validator("default_action")
    @classmethod
    def _final(cls, value: ActionRule) -> ActionRule:
        if value.action is Action.HOLD:
            raise ValueError("the action after the review timeout cannot be hold again")
        return value


#: Categories in which a speaker says they may harm themselves: a disclosure, not an offence.
DISCLOSURE_CATEGORIES = frozenset({Category.SELF_HARM, Category.SELF_HARM_INTENT})
#: Categories that may reach a severity beside a disclosure and still leave it a crisis: a
#: person in crisis who swears, repeats themselves or gives a phone number is still cared for.
#: Anything else (harassment, "kill yourself" at someone, self-harm instructions) is an offence.
CRISIS_COMPATIBLE = DISCLOSURE_CATEGORIES | {Category.PROFANITY, Category.SPAM, Category.PII}


class CrisisConfig(_Strict):
    """How a channel answers a self-harm disclosure: a message in which the speaker says they
    may harm themselves (`self-harm`, `self-harm/intent` at `min_severity` or above, and no
    offence beside it). It is never punished: no strike, no ladder. The default bar is `low`:
    a disclosure missed costs more than a moderator's look at a message that was not one.

    - `action`: what the message gets (default `hold`: hidden from the public feed and put in
      the review queue ahead of everything else). `allow`, `flag` and `delete` are allowed
      too; a timeout or a ban is not.
    - `message`: the resources message a connector sends the user privately (a helpline
      pointer); `None` sends nothing.
    - `review_timeout_s`: how long the held message waits for a moderator (default: the
      review section's)."""

    enabled: bool = True
    min_severity: Severity = Severity.LOW
    action: ActionRule = ActionRule(action=Action.HOLD)
    message: str | None = Field(default=None, min_length=1, max_length=400)
    review_timeout_s: int | None = Field(default=None, ge=5, le=7 * 86_400)

    @field_validator("action")
    @classmethod
    def _not_punitive(cls, value: ActionRule) -> ActionRule:
        if value.action in (Action.TIMEOUT, Action.BAN):
            raise ValueError("a crisis is not punished: use hold, flag, allow or delete")
        return value

    @field_validator("min_severity")
    @classmethod
    def _some_severity(cls, value: Severity) -> Severity:
        if value is Severity.NONE:
            raise ValueError("min_severity must be low, medium or high")
        return value

    @field_validator("message")
    @classmethod
    def _one_line(cls, value: str | None) -> str | None:
        if value is None:
            return None
        # It goes out as one chat line: no line breaks or control characters.
        cleaned = " ".join(value.split())
        if not cleaned or any(ord(ch) < 32 or ord(ch) == 127 for ch in cleaned):
            raise ValueError("the message must be printable text on one line")
        return cleaned


class CategoryRule(_Strict):
    """One category's sensitivity (a level or explicit thresholds) and, optionally, its own
    actions per severity instead of the policy's."""

    level: int | None = Field(default=None, ge=0, le=4)
    thresholds: SeverityThresholds | None = None
    actions: dict[Severity, ActionRule] | None = None

    @model_validator(mode="after")
    def _one_of(self) -> CategoryRule:
        if self.level is not None and self.thresholds is not None:
            raise ValueError("give a level or thresholds, not both")
        if self.actions and Severity.NONE in self.actions:
            raise ValueError("actions are set for low, medium and high")
        return self


class ChannelPolicy(_Strict):
    """The full, validated policy of one channel."""

    name: str = Field(default="default", min_length=1, max_length=64)
    default_level: int = Field(default=2, ge=0, le=4)
    categories: dict[Category, CategoryRule] = Field(default_factory=dict)
    actions: dict[Severity, ActionRule]
    ladder: LadderConfig
    flood: FloodConfig = FloodConfig()
    review: ReviewConfig = ReviewConfig()
    crisis: CrisisConfig = CrisisConfig()
    exempt_roles: frozenset[Role] = frozenset({Role.BROADCASTER, Role.MODERATOR})
    blocked_terms: tuple[str, ...] = Field(default=(), max_length=1000)
    permitted_terms: tuple[str, ...] = Field(default=(), max_length=1000)
    blocked_term_severity: Severity = Severity.HIGH
    uncertain_action: ActionRule = ActionRule(action=Action.HOLD)
    fail_mode: FailMode = FailMode.HOLD
    llm_deadline_ms: float = Field(default=2000.0, ge=0, le=600_000)

    @field_validator("actions")
    @classmethod
    def _every_severity(cls, value: dict[Severity, ActionRule]) -> dict[Severity, ActionRule]:
        missing = [
            s.value for s in (Severity.LOW, Severity.MEDIUM, Severity.HIGH) if s not in value
        ]
        if missing:
            raise ValueError(f"missing an action for: {', '.join(missing)}")
        if Severity.NONE in value:
            raise ValueError("severity none always allows; set low, medium and high")
        return value

    @field_validator("blocked_terms", "permitted_terms")
    @classmethod
    def _terms(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        cleaned = []
        for term in value:
            term = term.strip().lower()
            if not term or len(term) > 100:
                raise ValueError("each term must be 1 to 100 characters")
            cleaned.append(term)
        return tuple(dict.fromkeys(cleaned))

    @field_validator("blocked_term_severity")
    @classmethod
    def _some(cls, value: Severity) -> Severity:
        if value is Severity.NONE:
            raise ValueError("a blocked term must have a severity above none")
        return value

    @cached_property
    def watched(self) -> dict[Category, SeverityThresholds]:
        """The thresholds of every category the channel watches (any severity on), by
        category: what every message's evaluation looks up, worked out once a policy."""
        found = {c: self.thresholds_for(c) for c in Category}
        return {c: t for c, t in found.items() if t.enabled}

    def thresholds_for(self, category: Category) -> SeverityThresholds:
        rule = self.categories.get(category)
        if rule is not None and rule.thresholds is not None:
            return rule.thresholds
        level = rule.level if rule is not None and rule.level is not None else self.default_level
        return LEVELS[level]

    def action_for(self, severity: Severity, category: Category | None = None) -> ActionRule:
        if severity is Severity.NONE:
            return ALLOW_RULE
        rule = self.categories.get(category) if category is not None else None
        if rule is not None and rule.actions and severity in rule.actions:
            return rule.actions[severity]
        return self.actions[severity]

    def watches(self, category: Category) -> bool:
        """Does this channel care about the category at all (level above 0)?"""
        return self.thresholds_for(category).enabled


def parse_policy(document: Mapping[str, Any]) -> ChannelPolicy:
    """Validate a complete policy document; the error names every wrong field."""
    try:
        return ChannelPolicy.model_validate(dict(document))
    except ValidationError as exc:
        raise InvalidPolicyError(describe(exc)) from None


def describe(exc: ValidationError) -> str:
    problems = []
    for error in exc.errors()[:10]:
        where = ".".join(str(p) for p in error["loc"]) or "policy"
        problems.append(f"{where}: {error['msg']}")
    return "invalid policy: " + "; ".join(problems)
