"""The review queue, like AutoMod's held messages: a held message waits for a moderator to
approve or deny it; when nobody does within the policy's timeout, its default action applies.
Every outcome is kept as a label for evaluation and retraining."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import replace

from chatguard.decisions.audit import HUMAN, SYSTEM, AuditLog
from chatguard.decisions.metrics import DecisionMetrics
from chatguard.decisions.outbox import review_event
from chatguard.decisions.policy import ActionRule, ChannelPolicy, CrisisConfig
from chatguard.decisions.records import CRISIS_PRIORITY, Label, ReviewItem, ReviewStatus, Strike
from chatguard.decisions.repository import DecisionRepository
from chatguard.domain import Action, Decision, Message
from chatguard.errors import InvalidInputError, NotFoundError, ReviewStateError
from chatguard.events import EventBus
from chatguard.events.legacy import from_client_form
from chatguard.filter.pii import apply_redaction
from chatguard.taxonomy import Category

log = logging.getLogger(__name__)

#: The event bus topic decisions and review outcomes are published on (the service's topic).
TOPIC = "decisions"
VIOLATION, ACCEPTABLE = "violation", "acceptable"


class ReviewQueue:
    def __init__(
        self,
        *,
        repository: DecisionRepository,
        audit: AuditLog,
        events: EventBus | None = None,
        clock: Callable[[], float] = time.time,
        redaction: str = "off",
    ) -> None:
        self.repository = repository
        #: PII_REDACTION: a held message's PII is redacted before it is stored.
        self.redaction = redaction
        self.audit = audit
        self.events = events
        self.clock = clock
        self._expiry: asyncio.Task[None] | None = None
        self.metrics = DecisionMetrics()

    async def hold(self, message: Message, decision: Decision, policy: ChannelPolicy) -> ReviewItem:
        """Store a held message now (the service stores holds with their decision instead,
        through `item_for` and the decision's effects)."""
        stored = await self.repository.add_review(self.item_for(message, decision, policy))
        self.metrics.reviews.labels("held").inc()
        await self._publish("review.held", stored, action=Action.HOLD.value, duration_s=None)
        return stored

    def item_for(self, message: Message, decision: Decision, policy: ChannelPolicy) -> ReviewItem:
        """The review item holding `message`, not yet stored."""
        now = self.clock()
        default = policy.review.default_action
        return ReviewItem(
            id=uuid.uuid4().hex,
            message_id=message.id,
            channel_id=message.channel_id,
            user_id=message.user_id,
            text=self._stored_text(message, decision),
            reason=decision.reason,
            scores={c.value: round(float(s), 6) for c, s in decision.assessment.scores.items()},
            policy=policy.name,
            status=ReviewStatus.PENDING,
            default_action=default.action.value,
            default_duration_s=default.duration_s,
            created_at=now,
            expires_at=now + policy.review.timeout_s,
        )

    def _stored_text(self, message: Message, decision: Decision) -> str:
        spans = decision.assessment.spans
        if self.redaction == "off" or not any(s.category is Category.PII for s in spans):
            return message.text
        return apply_redaction(message.text, spans, self.redaction)

    async def get(self, item_id: str) -> ReviewItem:
        item = await self.repository.review(item_id)
        if item is None:
            raise NotFoundError(f"no review item {item_id!r}")
        return item

    async def items(
        self, *, channel_id: str | None = None, status: ReviewStatus | None = None, limit: int = 100
    ) -> list[ReviewItem]:
        return await self.repository.reviews(channel_id=channel_id, status=status, limit=limit)

    async def approve(self, item_id: str, *, actor: str, reason: str = "") -> ReviewItem:
        """The message was fine: it is shown, and labelled acceptable."""
        return await self._resolve(
            item_id, ReviewStatus.APPROVED, ActionRule(action=Action.ALLOW), actor, reason
        )

    async def deny(
        self, item_id: str, *, actor: str, reason: str = "", action: ActionRule | None = None
    ) -> ReviewItem:
        """The message breaks the rules: it is removed (or `action`), labelled a violation,
        and the author gets a strike (none for a crisis hold: a disclosure is not punished)."""
        rule = action or ActionRule(action=Action.DELETE)
        if not rule.action.removes_message or rule.action is Action.HOLD:
            raise InvalidInputError("action: a denial must delete, time out or ban")
        return await self._resolve(item_id, ReviewStatus.DENIED, rule, actor, reason)

    async def expire_due(self) -> list[ReviewItem]:
        """Apply the default action to every held message whose time is up."""
        resolved = []
        for item in await self.repository.due_reviews(self.clock()):
            rule = ActionRule(
                action=Action(item.default_action), duration_s=item.default_duration_s
            )
            with contextlib.suppress(ReviewStateError):  # a moderator was faster
                resolved.append(
                    await self._resolve(
                        item.id, ReviewStatus.EXPIRED, rule, SYSTEM, "review timeout"
                    )
                )
        return resolved

    async def supersede(self, item_id: str, *, action: Action, reason: str) -> None:
        """The adjudicator's final decision replaces a provisional hold: the item leaves the
        queue without a label or a strike (no human judged it); the final decision's own event
        tells the sinks what to do."""
        done = await self.repository.resolve_review(
            item_id,
            status=ReviewStatus.SUPERSEDED,
            at=self.clock(),
            by=SYSTEM,
            outcome=action.value,
            duration_s=None,
            note=reason,
        )
        if not done:
            return  # a moderator was faster; their verdict stands
        self.metrics.reviews.labels(ReviewStatus.SUPERSEDED.value).inc()
        item = await self.get(item_id)
        await self.audit.record(
            actor=SYSTEM,
            kind=SYSTEM,
            action="review.superseded",
            channel_id=item.channel_id,
            user_id=item.user_id,
            message_id=item.message_id,
            reason=reason,
            details={"review_id": item.id, "outcome": action.value},
        )
        await self._publish("review.superseded", item, action=action.value, duration_s=None)

    def start(self, *, interval_s: float = 1.0) -> None:
        """Run `expire_due` every `interval_s` in the background."""
        if self._expiry is None:
            self._expiry = asyncio.create_task(self._expire_loop(interval_s), name="review-expiry")

    async def close(self) -> None:
        if self._expiry is not None:
            self._expiry.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._expiry
            self._expiry = None

    async def _expire_loop(self, interval_s: float) -> None:
        while True:
            try:
                await self.expire_due()
            except Exception as exc:  # keep expiring; the database may be back next time
                log.warning("review expiry failed: %s", type(exc).__name__)
            await asyncio.sleep(interval_s)

    async def _resolve(
        self, item_id: str, status: ReviewStatus, rule: ActionRule, actor: str, reason: str
    ) -> ReviewItem:
        item = await self.get(item_id)
        now = self.clock()
        done = await self.repository.resolve_review(
            item_id,
            status=status,
            at=now,
            by=actor,
            outcome=rule.action.value,
            duration_s=rule.duration_s,
            note=reason,
        )
        if not done:
            current = await self.get(item_id)
            raise ReviewStateError(
                f"review item {item_id!r} is already {current.status.value} "
                f"(by {current.resolved_by})"
            )
        by_human = status is not ReviewStatus.EXPIRED
        self.metrics.reviews.labels(status.value).inc()
        label = VIOLATION if rule.action.removes_message else ACCEPTABLE
        await self.repository.add_label(
            Label(
                review_id=item.id,
                message_id=item.message_id,
                channel_id=item.channel_id,
                text=item.text,
                label=label,
                categories=sorted(c for c, s in item.scores.items() if s > 0),
                source="moderator" if by_human else "timeout",
                actor=actor,
                created_at=now,
            )
        )
        # A moderator may still remove a crisis message, but a disclosure earns no strike.
        if status is ReviewStatus.DENIED and item.priority < CRISIS_PRIORITY:
            self.metrics.strikes.labels("review").inc()
            await self.repository.add_strike(
                Strike(
                    channel_id=item.channel_id,
                    user_id=item.user_id,
                    message_id=item.message_id,
                    at=now,
                    action=rule.action.value,
                    rung="review",
                    reason=reason or "denied in review",
                    source="review",
                )
            )
        await self.audit.record(
            actor=actor,
            kind=HUMAN if by_human else SYSTEM,
            action=f"review.{status.value}",
            channel_id=item.channel_id,
            user_id=item.user_id,
            message_id=item.message_id,
            reason=reason,
            details={
                "review_id": item.id,
                "outcome": rule.action.value,
                "duration_s": rule.duration_s,
            },
        )
        resolved = await self.get(item_id)
        await self._publish(
            "review.resolved", resolved, action=rule.action.value, duration_s=rule.duration_s
        )
        return resolved

    async def _publish(
        self, kind: str, item: ReviewItem, *, action: str, duration_s: int | None
    ) -> None:
        if self.events is None:
            return
        event = review_event(kind, item, action=action, duration_s=duration_s, at=self.clock())
        await self.events.publish(TOPIC, from_client_form(event))


def crisis_item(item: ReviewItem, config: CrisisConfig) -> ReviewItem:
    """`item` as a crisis hold: first in the queue, waiting the crisis section's timeout."""
    expires_at = item.expires_at
    if config.review_timeout_s is not None:
        expires_at = item.created_at + config.review_timeout_s
    return replace(item, priority=CRISIS_PRIORITY, expires_at=expires_at)
