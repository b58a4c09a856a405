"""The pure part of a decision: one assessment under one channel policy, no state.

Order: an exempt role allows; otherwise the worst severity over the categories the channel
watches (and blocked terms) picks the action; an LLM that could not judge applies the fail
mode; an uncertain route applies the policy's uncertain action. A spam-only offence takes the
policy's flood action and is marked, so that the engine counts one strike per burst. Strikes
come after, in the engine.
"""

from __future__ import annotations

from dataclasses import dataclass

from chatguard.decisions.policy import ActionRule, ChannelPolicy, Severity
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
    #: The adjudicator is still working; a final decision follows.
    provisional: bool = False
    #: The fail mode decided, not the evidence.
    fallback: bool = False
    exempt: bool = False
    #: A spam-only offence (see `FloodConfig`): its strikes count once per burst.
    flood: bool = False


def adjudicator_missing(assessment: Assessment) -> bool:
    """The adjudicator should have judged but has not: still pending (a final decision
    follows), or it could not answer."""
    return bool(assessment.pending) or assessment.llm_unavailable


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
    # Does anything but spam reach a severity? Then the message is no mere flood.
    beyond_spam = False
    for cat, value in assessment.scores.items():
        if cat in ignored or not policy.watches(cat):
            continue
        watched_signal = watched_signal or value > 0
        found = policy.thresholds_for(cat).severity(value)
        if cat is not Category.SPAM and found is not Severity.NONE:
            beyond_spam = True
        # Between equal severities the other category names the offence, not spam: abuse
        # sent in a flood is abuse.
        if (found.rank, value, cat is not Category.SPAM) > (
            severity.rank,
            score,
            category is not Category.SPAM,
        ):
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
    blocked = matcher.blocked_in(message.text)
    beyond_spam = beyond_spam or blocked
    if blocked and policy.blocked_term_severity.rank > severity.rank:
        severity, category = policy.blocked_term_severity, None
        reason = f"blocked term: {severity.value} severity"
        steps.append("blocked_term")
        watched_signal = True
    rule = policy.action_for(severity, category)
    flood = (
        category is Category.SPAM
        and not beyond_spam
        and rule.action.severity >= policy.ladder.strike_at.severity
    )
    # A channel that set the spam category's own action for this severity keeps it.
    if flood and policy.flood.action is not None and not _own_action(policy, severity):
        rule = policy.flood.action
        reason += f"; spam only, flood action {_describe(rule)}"
        steps.append("flood")
    steps.append(f"action:{rule.action.value}")
    # While the adjudicator works, every decision is provisional: the final one follows,
    # whatever this channel thinks of the fast stages' scores.
    provisional = bool(assessment.pending)
    fallback = False
    if adjudicator_missing(assessment) and watched_signal:
        rule = harsher(rule, ActionRule(action=policy.fail_mode.action))
        fallback = True
        waiting = "waiting for " + ", ".join(assessment.pending) if provisional else "unavailable"
        reason += f"; adjudicator {waiting}, fail mode {policy.fail_mode.value}"
        steps.append(f"fail_mode:{policy.fail_mode.value}")
    elif assessment.review:
        # A stage (the LLM's guard rail) asked for a human whatever the scores say.
        rule = harsher(rule, ActionRule(action=Action.HOLD))
        reason += "; a stage asked for human review"
        steps.append("review:requested")
    elif assessment.route is Route.UNCERTAIN and watched_signal:
        before = rule
        rule = harsher(rule, policy.uncertain_action)
        if rule != before:
            reason += f"; uncertain, policy says {policy.uncertain_action.action.value}"
            steps.append(f"uncertain:{policy.uncertain_action.action.value}")
    return Verdict(
        rule,
        severity,
        category,
        reason,
        tuple(steps),
        provisional=provisional,
        fallback=fallback,
        flood=flood,
    )


def _own_action(policy: ChannelPolicy, severity: Severity) -> bool:
    rule = policy.categories.get(Category.SPAM)
    return rule is not None and bool(rule.actions) and severity in (rule.actions or {})


def _describe(rule: ActionRule) -> str:
    if rule.duration_s is None:
        return rule.action.value
    return f"{rule.action.value} {rule.duration_s}s"
