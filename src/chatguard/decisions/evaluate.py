"""The pure part of a decision: one assessment under one channel policy, no state.

Order: an exempt role allows; otherwise the worst severity over the categories the channel
watches (and blocked terms) picks the action; an LLM that could not judge applies the fail
mode; an uncertain route applies the policy's uncertain action. Strikes come after, in the engine.
"""

from __future__ import annotations

from dataclasses import dataclass

from chatguard.decisions.policy import ActionRule, ChannelPolicy, FailMode, Severity
from chatguard.decisions.strikes import harsher
from chatguard.decisions.terms import TermMatcher
from chatguard.domain import Action, Assessment, Message, Route
from chatguard.taxonomy import Category


@dataclass(frozen=True, slots=True)
class Verdict:
    rule: ActionRule
    severity: Severity
    category: Category | None
    reason: str
    steps: tuple[str, ...]
    provisional: bool = False
    exempt: bool = False


def llm_unavailable(assessment: Assessment) -> bool:
    """The adjudicator should have judged but did not: still pending, or it failed last."""
    if getattr(assessment, "pending", ()):
        return True
    trail = assessment.trail
    return (
        assessment.route is Route.UNCERTAIN
        and assessment.escalated
        and bool(trail)
        and trail[-1].error is not None
    )


def evaluate(
    policy: ChannelPolicy, message: Message, assessment: Assessment, matcher: TermMatcher
) -> Verdict:
    exempt = sorted(r.value for r in message.roles & policy.exempt_roles)
    if exempt:
        return Verdict(
            ActionRule(action=Action.ALLOW),
            Severity.NONE,
            None,
            f"exempt role: {', '.join(exempt)}",
            (f"exempt:{','.join(exempt)}",),
            exempt=True,
        )
    ignored = matcher.permitted_categories(message.text, assessment.spans)
    severity, category, score = Severity.NONE, None, 0.0
    watched_signal = False
    for cat, value in assessment.scores.items():
        if cat in ignored or not policy.watches(cat):
            continue
        watched_signal = watched_signal or value > 0
        found = policy.thresholds_for(cat).severity(value)
        if (found.rank, value) > (severity.rank, score):
            severity, category, score = found, cat, value
    steps = [f"severity:{severity.value}"]
    if category is None:
        reason = "no watched category scored"
    elif severity is Severity.NONE:
        reason = f"{category} scored {score:.2f}: below every severity"
    else:
        reason = f"{category} scored {score:.2f}: {severity.value} severity"
    if ignored:
        steps.append("permitted:" + ",".join(sorted(c.value for c in ignored)))
    if matcher.blocked_in(message.text) and policy.blocked_term_severity.rank > severity.rank:
        severity, category = policy.blocked_term_severity, None
        reason = f"blocked term: {severity.value} severity"
        steps.append("blocked_term")
        watched_signal = True
    rule = policy.action_for(severity, category)
    steps.append(f"action:{rule.action.value}")
    provisional = False
    if llm_unavailable(assessment) and watched_signal:
        fallback = {
            FailMode.HOLD: ActionRule(action=Action.HOLD),
            FailMode.CLOSED: ActionRule(action=Action.DELETE),
            FailMode.OPEN: ActionRule(action=Action.ALLOW),
        }[policy.fail_mode]
        rule = harsher(rule, fallback)
        provisional = policy.fail_mode is not FailMode.OPEN
        reason += f"; LLM unavailable, fail mode {policy.fail_mode.value}"
        steps.append(f"fail_mode:{policy.fail_mode.value}")
    elif assessment.route is Route.UNCERTAIN and watched_signal:
        before = rule
        rule = harsher(rule, policy.uncertain_action)
        if rule != before:
            reason += f"; uncertain, policy says {policy.uncertain_action.action.value}"
            steps.append(f"uncertain:{policy.uncertain_action.action.value}")
    return Verdict(rule, severity, category, reason, tuple(steps), provisional=provisional)
