"""Every adjudicator format end to end: the service (rules, then the llm stage speaking the
format) against the test server answering in that model's documented format, with the control
message, the cache and the guard rail in place."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from chatguard.config import load_settings
from chatguard.decide import ThresholdDecider
from chatguard.domain import Message
from chatguard.filter.rules import RuleEngine
from chatguard.filter.terms import Term, load_default_terms
from chatguard.llm.formats import build_format
from chatguard.llm.stage import LLMStage
from chatguard.pipeline import Pipeline
from chatguard.service import ModerationService
from chatguard.stages.rules import RuleStage
from chatguard.storage import SqlStore
from chatguard.taxonomy import Category
from tests.llm.conftest import make_stage
from tests.support.fake_llm import FakeLLMServer
from tests.support.services import Services

#: Rules that leave these in the uncertain band, so the LLM decides.
TERMS = (
    *load_default_terms("en"),
    Term("smash", Category.VIOLENCE, 0.5),
    Term("hurt", Category.VIOLENCE, 0.5),
    Term("trash", Category.HARASSMENT, 0.45),
)
GAME = "we will smash their base"  # violence, in a game
BUILD = "your build is trash"  # a jab, not abuse
THREAT = "I will hurt you, idiot"

Factory = Callable[..., ModerationService]


@pytest.fixture
async def services(tmp_path: Path, fake: FakeLLMServer) -> AsyncIterator[Factory]:
    made = Services(tmp_path, name="formats", llm_endpoint=fake.url)

    def factory(name: str, **settings: Any) -> ModerationService:
        config = made.settings(llm_format=name, **settings)
        llm = make_stage(
            fake.url,
            client={"max_retries": 0, "timeout_s": 2.0},
            answer_format=build_format(name),
            control=True,
        )
        return made.add(
            ModerationService(
                settings=config,
                pipeline=Pipeline([RuleStage(rule_engine=RuleEngine(default_terms=TERMS)), llm]),
                decider=ThresholdDecider(),
                store=SqlStore(config.database_url),
            )
        )

    yield factory
    await made.close()


def llm_of(service: ModerationService) -> LLMStage:
    stage = service.pipeline.stages[-1]
    assert isinstance(stage, LLMStage)
    return stage


async def actions(service: ModerationService, texts: list[str]) -> list[str]:
    results = []
    for i, text in enumerate(texts):
        outcome = await service.moderate(Message(text=text, user_id=f"u{i}", channel_id="c1"))
        results.append(outcome.response["action"])
    return results


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        pytest.param("deepseek", ["allow", "allow", "delete"], id="deepseek"),
        # Llama Guard has no harassment category: the jab stays uncertain (flagged).
        pytest.param("llama-guard-3", ["allow", "flag", "delete"], id="llama-guard-3"),
        pytest.param("llama-guard-4", ["allow", "flag", "delete"], id="llama-guard-4"),
        # ShieldGemma's policies do not cover violence in general: the game line stays.
        pytest.param("shieldgemma", ["flag", "allow", "delete"], id="shieldgemma"),
        pytest.param("gpt-oss-safeguard", ["allow", "allow", "delete"], id="gpt-oss-safeguard"),
    ],
)
async def test_each_format_judges_the_uncertain_band(
    fake: FakeLLMServer, services: Factory, name: str, expected: list[str]
) -> None:
    fake.reset(default="json" if name == "deepseek" else name)
    service = services(name)
    await service.start()
    assert await actions(service, [GAME, BUILD, THREAT]) == expected
    stage = llm_of(service)
    assert stage.control_checks == 3 and stage.control_failures == 0
    assert stage.parse_failures == 0
    if name != "deepseek":
        # One request per message (four for ShieldGemma's policies), and one per control.
        per_message = 4 if name == "shieldgemma" else 1
        assert len(fake.completions) == 3 * 2 * per_message
    # A repeat is answered from the cache, whatever the format.
    calls = len(fake.completions)
    assert await actions(service, [THREAT]) == ["delete"]
    assert len(fake.completions) == calls


@pytest.mark.parametrize(
    "name", ["llama-guard-3", "llama-guard-4", "shieldgemma", "gpt-oss-safeguard"]
)
async def test_a_guard_model_that_clears_everything_clears_nothing(
    fake: FakeLLMServer, services: Factory, name: str
) -> None:
    fake.reset(default=f"{name}:safe")
    service = services(name)
    await service.start()
    assert await actions(service, [THREAT, GAME]) == ["hold", "hold"]
    stage = llm_of(service)
    assert stage.control_failures == stage.control_checks == 2


async def test_shieldgemma_scores_come_from_the_log_probabilities(
    fake: FakeLLMServer, services: Factory
) -> None:
    fake.reset(default="shieldgemma")
    service = services("shieldgemma")
    await service.start()
    outcome = await service.moderate(Message(text=THREAT, user_id="u1", channel_id="c1"))
    assert outcome.response["category_scores"]["harassment"] == pytest.approx(0.92)
    bodies = [r.body for r in fake.completions]
    assert all(b["logprobs"] is True and b["max_tokens"] == 1 for b in bodies)


def test_the_format_comes_from_the_settings(fake: FakeLLMServer) -> None:
    import asyncio

    settings = load_settings(llm_endpoint=fake.url, llm_format="llama-guard-4", _env_file=None)
    stage = LLMStage.from_settings(settings)
    assert stage.format.name == "llama-guard-4"
    assert "(llama-guard-4 format)" in stage.health().detail
    asyncio.run(stage.close())


async def test_past_the_deadline_a_guard_model_verdict_arrives_as_the_final_decision(
    fake: FakeLLMServer, services: Factory
) -> None:
    fake.reset(default="llama-guard-4")
    fake.script("delay:0.3", "delay:0.3")  # the message and its control
    service = services("llama-guard-4", llm_deadline_ms=50)
    await service.start()
    message = Message(text=THREAT, user_id="u1", channel_id="c1", id="late-guard")
    outcome = await service.moderate(message)
    assert outcome.response["provisional"] is True and outcome.response["action"] == "hold"
    await service.wait_for_followups(timeout=5)
    assert service.store is not None
    final = (await service.store.get("late-guard")).response  # type: ignore[union-attr]
    assert (final["action"], final["provisional"]) == ("delete", False)
