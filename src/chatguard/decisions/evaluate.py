"""The pure part of a decision: one assessment under one channel policy, no state.

Order: an exempt role allows; otherwise the worst severity over the categories the channel
watches (and blocked terms) picks the action; a self-harm disclosure with no offence beside it
takes the policy's crisis action instead and is marked, so that the engine gives no strike; an
LLM that could not judge applies the fail mode; an uncertain route applies the policy's
uncertain action. A spam-only offence takes the policy's flood action and is marked, so that
the engine counts one strike per burst. Strikes come after, in the engine.
"""

from __future__ import annotations

from dataclasses import dataclass

from chatguard.decisions.crisis import crisis_disclosure
from chatguard.decisions.policy import ALLOW_RULE, ActionRule, ChannelPolicy, Severity
from chatguard.decisions.strikes import harsher
from chatguard.decisions.terms import TermMatcher
from chatguard.domain import Action, Assessment, Message, PolicyReason, Route
from chatguard.taxonomy import Category

#: The reason of a message no watched category reached a severity in.
CLEAN_REASON = "no category reached its threshold"


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
    #: A self-harm disclosure (see `CrisisConfig`): never a strike, held with priority.
    crisis: bool = False
    basis: PolicyReason = PolicyReason.CLEAN


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
            ALLOW_RULE,
            Severity.NONE,
            None,
            f"exempt role: {', '.join(exempt)}",
            (f"exempt:{','.join(exempt)}",),
            exempt=True,
            basis=PolicyReason.EXEMPT_ROLE,
        )
    ignored = matcher.permitted_categories(message.text, assessment.spans)
    severity, category, score = Severity.NONE, None, 0.0
    severities: dict[Category, Severity] = {}
    # The watched category that scored highest, named when an uncertain route holds a message
    # that reached no severity.
    top_watched: tuple[Category | None, float] = (None, 0.0)
    watched_signal = False
    # Does anything but spam reach a severity? Then the message is no mere flood.
    beyond_spam = False
    watched = policy.watched
    for cat, value in assessment.scores.items():
        thresholds = watched.get(cat)
        if thresholds is None or cat in ignored:  # the channel does not watch the category
            continue
        watched_signal = watched_signal or value > 0
        if value > top_watched[1]:
            top_watched = (cat, value)
        found = thresholds.severity(value)
        severities[cat] = found
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
    basis = PolicyReason.CLEAN
    if category is None or severity is Severity.NONE:
        # A clean message's reason is neutral: the top score of nothing is no reason.
        reason = CLEAN_REASON
    else:
        reason = f"{category} scored {score:.2f}: {severity.value} severity"
        basis = PolicyReason.SEVERITY
    if ignored:
        steps.append("permitted:" + ",".join(sorted(c.value for c in ignored)))
    blocked = matcher.blocked_in(message.text)
    beyond_spam = beyond_spam or blocked
    if blocked and policy.blocked_term_severity.rank > severity.rank:
        severity, category = policy.blocked_term_severity, None
        reason = f"blocked term: {severity.value} severity"
        steps.append("blocked_term")
        watched_signal = True
        basis = PolicyReason.BLOCKED_TERM
    rule = policy.action_for(severity, category)
    # Only now, with blocked terms known: a blocked term beside a disclosure is an offence.
    crisis = crisis_disclosure(policy.crisis, severities, assessment.scores, blocked=blocked)
    if crisis is not None:
        # Cared for, not punished: the crisis action replaces the severity's, and the fail
        # mode and uncertain action below do not make it harsher.
        rule = policy.crisis.action
        category, severity = crisis.category, crisis.severity
        reason = f"crisis: {crisis.describe()}; {_crisis_outcome(rule)}, no strike"
        steps.append(f"crisis:{rule.action.value}")
        steps.append(f"action:{rule.action.value}")
        return Verdict(
            rule,
            severity,
            category,
            reason,
            tuple(steps),
            provisional=bool(assessment.pending),
            crisis=True,
            basis=PolicyReason.CRISIS,
        )
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
        basis = PolicyReason.FLOOD
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
        basis = PolicyReason.FAIL_MODE
    elif assessment.review:
        # A stage (the LLM's guard rail) asked for a human whatever the scores say.
        rule = harsher(rule, ActionRule(action=Action.HOLD))
        reason += "; a stage asked for human review"
        steps.append("review:requested")
        basis = PolicyReason.REVIEW_REQUESTED
    elif assessment.route is Route.UNCERTAIN and watched_signal:
        before = rule
        rule = harsher(rule, policy.uncertain_action)
        if rule != before:
            doubt = _doubt(severity, top_watched)
            reason += f"; uncertain{doubt}, policy says {policy.uncertain_action.action.value}"
            steps.append(f"uncertain:{policy.uncertain_action.action.value}")
            basis = PolicyReason.UNCERTAIN
    return Verdict(
        rule,
        severity,
        category,
        reason,
        tuple(steps),
        provisional=provisional,
        fallback=fallback,
        flood=flood,
        basis=basis,
    )


def _doubt(severity: Severity, top: tuple[Category | None, float]) -> str:
    """What the uncertain route was unsure about, when no severity says it already."""
    category, score = top
    if severity is not Severity.NONE or category is None:
        return ""
    return f" ({category} {score:.2f})"


def _crisis_outcome(rule: ActionRule) -> str:
    return {
        Action.HOLD: "held for a human with priority",
        Action.DELETE: "hidden",
        Action.FLAG: "flagged for a human",
    }.get(rule.action, "shown")


def _own_action(policy: ChannelPolicy, severity: Severity) -> bool:
    rule = policy.categories.get(Category.SPAM)
    return rule is not None and bool(rule.actions) and severity in (rule.actions or {})


def _describe(rule: ActionRule) -> str:
    if rule.duration_s is None:
        return rule.action.value
    return f"{rule.action.value} {rule.duration_s}s"
