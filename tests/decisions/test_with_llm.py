"""Channel policy with the LLM stage (against the local fake OpenAI-compatible server): the
channel's fail mode and deadline, provisional holds that the final decision takes out of the
review queue, and LLM_FAIL_MODE as every channel's default."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from chatguard.decisions import PolicyEngine
from chatguard.decisions.records import ReviewStatus
from chatguard.domain import Message
from chatguard.service import ModerationService
from tests.support.fake_llm import FakeLLMServer
from tests.support.services import Services

Factory = Callable[..., ModerationService]


@pytest.fixture(scope="module")
def llm_server() -> Iterator[FakeLLMServer]:
    server = FakeLLMServer().start()
    yield server
    server.stop()


@pytest.fixture
def llm(llm_server: FakeLLMServer) -> FakeLLMServer:
    llm_server.reset()
    return llm_server


@pytest.fixture
async def services(tmp_path: Path, llm: FakeLLMServer) -> AsyncIterator[Factory]:
    made = Services(
        tmp_path,
        llm_endpoint=llm.url,
        pipeline_stages="rules,llm",
        llm_max_retries=0,
        llm_batch_wait_ms=1,
    )
    yield made.from_settings
    await made.close()


def engine_of(service: ModerationService) -> PolicyEngine:
    assert isinstance(service.decider, PolicyEngine)
    return service.decider


def msg(text: str, channel: str = "lobby") -> Message:
    return Message(text=text, user_id="u1", channel_id=channel)


@pytest.mark.parametrize(
    ("text", "final"),
    [
        pytest.param("shit, you idiot", "delete", id="llm-acts"),
        pytest.param("this is shit", "allow", id="llm-clears"),
    ],
)
async def test_the_final_decision_takes_a_provisional_hold_out_of_the_queue(
    services: Factory, llm: FakeLLMServer, text: str, final: str
) -> None:
    service = services(llm_deadline_ms=50)
    await service.start()
    engine = engine_of(service)
    assert engine.reviews is not None and engine.audit is not None
    llm.script("delay:0.4")
    outcome = await service.moderate(msg(text))
    assert (outcome.response["action"], outcome.response["provisional"]) == ("hold", True)
    [held] = await engine.reviews.items(channel_id="lobby", status=ReviewStatus.PENDING)

    await service.wait_for_followups(timeout=5)
    item = await engine.reviews.get(held.id)
    assert (item.status, item.outcome, item.resolved_by) == (
        ReviewStatus.SUPERSEDED,
        final,
        "system",
    )
    assert await engine.reviews.items(channel_id="lobby", status=ReviewStatus.PENDING) == []
    assert await engine.repository.labels() == []  # type: ignore[union-attr]  # no human judged
    actions = [e.action for e in await engine.audit.entries(channel_id="lobby")]
    assert "review.superseded" in actions
    strikes = await engine.strikes.history("lobby", "u1")  # type: ignore[union-attr]
    assert len(strikes) == (1 if final == "delete" else 0)  # the final removal counts, once


async def test_a_channel_deadline_overrides_the_setting(
    services: Factory, llm: FakeLLMServer
) -> None:
    service = services(llm_deadline_ms=50)
    await service.start()
    await engine_of(service).policies.put("patient", {"llm_deadline_ms": 3000}, actor="owner")
    llm.script("delay:0.3", "delay:0.3")
    quick = await service.moderate(msg("shit, you idiot", channel="quick"))
    patient = await service.moderate(msg("shit, you idiot", channel="patient"))
    assert quick.response["provisional"] is True
    assert patient.response["provisional"] is False and patient.response["action"] == "delete"
    assert service.deadline_for("patient") == 3.0 and service.deadline_for("quick") == 0.05
    await service.wait_for_followups(timeout=5)


# Gaming watches profanity here, so the fast score matters and the fail mode decides.
GAMING_WATCHING = {"preset": "gaming", "categories": {"profanity": {"level": 3}}}


@pytest.mark.parametrize(
    ("setting", "override", "action"),
    [
        pytest.param("closed", None, "delete", id="setting-closed-default-channel"),
        pytest.param("open", None, "allow", id="setting-open-default-channel"),
        pytest.param("closed", GAMING_WATCHING, "allow", id="gaming-preset-stays-open"),
        pytest.param("open", {"preset": "kids"}, "delete", id="kids-preset-stays-closed"),
    ],
)
async def test_llm_fail_mode_is_the_default_and_presets_keep_their_own(
    services: Factory,
    llm: FakeLLMServer,
    setting: str,
    override: dict[str, Any] | None,
    action: str,
) -> None:
    service = services(llm_deadline_ms=30, llm_fail_mode=setting)
    await service.start()
    engine = engine_of(service)
    if override is not None:
        await engine.policies.put("lobby", override, actor="owner")
    llm.script("delay:0.3")
    outcome = await service.moderate(msg("shit, you idiot"))
    assert outcome.response["provisional"] is True
    assert outcome.response["action"] == action
    assert await engine.strikes.history("lobby", "u1") == []  # type: ignore[union-attr]
    await service.wait_for_followups(timeout=5)


async def test_a_channel_that_ignores_the_fast_scores_still_gets_the_final_verdict(
    services: Factory, llm: FakeLLMServer
) -> None:
    # Gaming ignores profanity, so the fast tier's score means nothing there; the LLM's
    # harassment verdict, arriving after the deadline, still decides.
    service = services(llm_deadline_ms=30)
    await service.start()
    await engine_of(service).policies.put("arena", {"preset": "gaming"}, actor="owner")
    llm.script("delay:0.3")
    outcome = await service.moderate(msg("shit, you idiot", channel="arena"))
    assert (outcome.response["action"], outcome.response["provisional"]) == ("allow", True)
    await service.wait_for_followups(timeout=5)
    final = (await service.store.get(outcome.response["message_id"])).response  # type: ignore[union-attr]
    assert (final["action"], final["provisional"]) == ("delete", False)
