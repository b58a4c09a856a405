"""The service calls every decider through the `Decider` hooks, never by asking which kind it
is; an application whose service has no policy engine moderates and answers 503 for the rest."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from chatguard.app import Application
from chatguard.config import load_settings
from chatguard.decide import EffectFreeDecider, ThresholdDecider
from chatguard.decisions.effects import Applied, Planned
from chatguard.decisions.records import Delivery
from chatguard.domain import Action, Assessment, Decision, Message, Route
from chatguard.errors import StageUnavailableError
from chatguard.events import DecisionMade
from chatguard.events.legacy import client_form
from chatguard.pipeline import Pipeline, Router
from chatguard.pipeline.registry import build_stage
from chatguard.service import ModerationService
from tests.app.conftest import INGEST, MODERATOR, message


class RecordingDecider(ThresholdDecider):
    """The built-in decisions, with a deadline of its own and every hook call written down."""

    writes_outbox = True  # asked for every decision's deliveries, as with webhooks

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[str] = []

    async def plan_many(
        self,
        items: Sequence[tuple[Message, Assessment]],
        *,
        final: bool = False,
        offline: bool = False,
    ) -> list[Planned]:
        self.calls.append(f"plan:{len(items)}")
        return await super().plan_many(items, final=final, offline=offline)

    def committed(self, planned: Planned, applied: Applied, *, stored: bool = True) -> None:
        self.calls.append(f"committed:{planned.decision.action.value}")

    def outbox(self, event: DecisionMade) -> tuple[Delivery, ...]:
        self.calls.append(f"outbox:{client_form(event)['type']}")
        return ()

    def deadline_ms(self, channel_id: str) -> float | None:
        return 250.0 if channel_id == "fast" else None

    async def start(self, *, metrics: CollectorRegistry | None = None) -> None:
        self.calls.append("start")

    async def close(self) -> None:
        self.calls.append("close")


def plain_service(decider: Any) -> ModerationService:
    """A service without a store or a policy engine, deciding with `decider`."""
    settings = load_settings(pipeline_stages="rules", _env_file=None)
    stages = [build_stage("rules", settings)]
    return ModerationService(
        settings=settings, pipeline=Pipeline(stages, Router()), decider=decider, store=None
    )


@pytest.fixture
async def recorded() -> AsyncIterator[tuple[ModerationService, RecordingDecider]]:
    decider = RecordingDecider()
    service = plain_service(decider)
    await service.start()
    yield service, decider
    await service.close()


async def test_the_service_uses_the_deciders_hooks(
    recorded: tuple[ModerationService, RecordingDecider],
) -> None:
    service, decider = recorded
    outcome = await Application(service=service).moderation.moderate(INGEST, message("kys loser"))
    assert outcome.response["action"] == "delete"
    assert decider.calls == ["start", "plan:1", "outbox:decision", "committed:delete"]
    assert service.deadline_for("fast") == 0.25
    assert service.deadline_for("lobby") == service.settings.llm_deadline_ms / 1000


async def test_a_decider_without_effects_plans_none() -> None:
    class AllowAll(EffectFreeDecider):
        async def decide(self, message: Message, assessment: Assessment) -> Decision:
            return Decision(
                message_id=message.id, action=Action.ALLOW, reason="", assessment=assessment
            )

    msg = message("hello")
    decider = AllowAll()
    [planned] = await decider.plan_many([(msg, Assessment(msg.id, {}, Route.ALLOW, "rules"))])
    assert planned.decision.action is Action.ALLOW and planned.effects.empty
    assert decider.outbox({"type": "decision"}) == () and decider.deadline_ms("lobby") is None


async def test_without_a_policy_engine_moderation_goes_on_and_records_answer_503(
    recorded: tuple[ModerationService, RecordingDecider],
) -> None:
    service, _ = recorded
    app = Application(service=service)
    assert (await app.moderation.moderate(INGEST, message("hello"))).response["action"] == "allow"
    for part in ("review", "policies", "audit", "users", "erasure", "keys", "webhooks"):
        with pytest.raises(StageUnavailableError, match="decision handler is not configured"):
            getattr(app, part)
    assert (await app.stats.summary(MODERATOR)).messages == 1
