"""The domain model: what enters (Message), what the stages conclude (StageResult, Assessment) and
what is done about it (Decision). Frozen dataclasses, free of any web or storage framework."""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from chatguard.taxonomy import OPENAI_CATEGORIES, Category


class Role(StrEnum):
    BROADCASTER = "broadcaster"
    MODERATOR = "moderator"
    VIP = "vip"
    SUBSCRIBER = "subscriber"
    VIEWER = "viewer"


@dataclass(frozen=True, slots=True)
class Message:
    """One chat message as it arrived.

    `timestamp` is the sender's claim of when it was written: kept as metadata, never trusted.
    `received_at` is when this server received it (set here, not by the client): rate, flood
    and repeat windows run on it, so a forged timestamp cannot spread a flood out."""

    text: str
    user_id: str
    channel_id: str
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    roles: frozenset[Role] = frozenset()
    timestamp: float = field(default_factory=time.time)
    received_at: float = field(default_factory=time.time)


@dataclass(frozen=True, slots=True)
class Span:
    """Evidence: a half-open character range of the original message text."""

    start: int
    end: int
    category: Category
    label: str = ""
    score: float = 1.0


class Route(StrEnum):
    """What the router concluded from the scores so far."""

    ALLOW = "allow"
    ACT = "act"
    UNCERTAIN = "uncertain"


@dataclass(frozen=True, slots=True)
class StageResult:
    """What one stage concluded about one message."""

    stage: str
    scores: Mapping[Category, float] = field(default_factory=dict)
    spans: tuple[Span, ...] = ()
    reasons: tuple[str, ...] = ()
    latency_ms: float = 0.0
    error: str | None = None
    # An adjudicating stage (the LLM) replaces earlier scores for the categories it returns,
    # instead of raising them to the maximum.
    authoritative: bool = False
    # The stage asks for a human to look whatever the scores say (the LLM's guard rail).
    review: bool = False


@dataclass(frozen=True, slots=True)
class StageTrace:
    """One line of the decision trail: which stage ran, how long it took, where it routed."""

    stage: str
    latency_ms: float
    route: Route
    top_category: Category | None = None
    top_score: float = 0.0
    error: str | None = None


@dataclass(frozen=True, slots=True)
class Assessment:
    """The combined verdict of the stages that ran on one message."""

    message_id: str
    scores: Mapping[Category, float]
    route: Route
    decided_by: str
    spans: tuple[Span, ...] = ()
    reasons: tuple[str, ...] = ()
    trail: tuple[StageTrace, ...] = ()
    escalated: bool = False
    thresholds: Mapping[Category, float] = field(default_factory=dict)
    #: Stages still working on the message (the LLM past the deadline): the assessment is
    #: provisional and a final one follows.
    pending: tuple[str, ...] = ()
    #: The adjudicator was asked but could not answer (down, circuit open, unusable answer).
    llm_unavailable: bool = False
    #: A stage asked for human review (see `StageResult.review`).
    review: bool = False

    @property
    def latency_ms(self) -> dict[str, float]:
        return {t.stage: t.latency_ms for t in self.trail}

    def flagged_categories(self) -> list[Category]:
        """Categories whose score reaches their flag threshold."""
        return [c for c, s in self.scores.items() if s >= self.thresholds.get(c, 0.5)]

    @property
    def flagged(self) -> bool:
        """OpenAI's meaning: any of the thirteen OpenAI categories is flagged."""
        thresholds = self.thresholds
        return any(
            c in OPENAI_CATEGORIES and s >= thresholds.get(c, 0.5) for c, s in self.scores.items()
        )

    def top(self) -> tuple[Category | None, float]:
        if not self.scores:
            return None, 0.0
        category = max(self.scores, key=lambda c: self.scores[c])
        return category, self.scores[category]


class Action(StrEnum):
    """What happens to a message, in rising order of severity."""

    ALLOW = "allow"
    FLAG = "flag"
    HOLD = "hold"
    DELETE = "delete"
    TIMEOUT = "timeout"
    BAN = "ban"

    @property
    def severity(self) -> int:
        return _ACTION_SEVERITY[self]

    @property
    def removes_message(self) -> bool:
        return self.severity >= Action.HOLD.severity


#: Each action's rank (its position in `Action`), looked up for every decision.
_ACTION_SEVERITY: dict[Action, int] = {action: rank for rank, action in enumerate(Action)}


class FailMode(StrEnum):
    """What to do with a message the adjudicator has not (yet) judged."""

    HOLD = "hold"  # hide it until the verdict or a moderator
    OPEN = "open"  # show it
    CLOSED = "closed"  # remove it

    @property
    def action(self) -> Action:
        return {FailMode.HOLD: Action.HOLD, FailMode.OPEN: Action.ALLOW}.get(self, Action.DELETE)


class PolicyReason(StrEnum):
    """Why the decider chose its action, as a word a program can branch on (the decision's
    `reason` says it in a sentence)."""

    CLEAN = "clean"  # no category reached its threshold
    EXEMPT_ROLE = "exempt_role"
    SEVERITY = "severity"  # a category reached a severity; its action applies
    BLOCKED_TERM = "blocked_term"
    FLOOD = "flood"  # a spam-only offence: the flood action
    CRISIS = "crisis"  # a self-harm disclosure: cared for, never punished
    UNCERTAIN = "uncertain"
    FAIL_MODE = "fail_mode"  # the adjudicator has not judged
    REVIEW_REQUESTED = "review_requested"  # a stage asked for a human


@dataclass(frozen=True, slots=True)
class Decision:
    """What is done about one message, and why."""

    message_id: str
    action: Action
    reason: str
    assessment: Assessment
    duration_s: int | None = None
    provisional: bool = False
    policy: str = "default"
    trail: tuple[str, ...] = ()
    processing_time_ms: float = 0.0
    #: the message with its PII replaced, when redaction is on and PII was found
    redacted_text: str | None = None
    #: why the action was chosen, as a word (`reason` is the sentence)
    policy_reason: PolicyReason = PolicyReason.CLEAN
    #: the category whose severity set the action, if one did
    policy_category: Category | None = None
    #: what a connector should tell the author privately (the crisis resources message)
    notice: str | None = None

    @property
    def acted(self) -> bool:
        """Did the policy do anything to the message (flag, hold or remove it)?"""
        return self.action is not Action.ALLOW
