"""LLM adjudication served by the llm-worker role: the api role's remote stage gives the
in-process LLM stage's verdicts, channel context included, and an escalation through the
worker settles `/moderate` as the embedded server's would."""

from __future__ import annotations

from chatguard.api import create_app
from chatguard.channel import CHANNEL_CONTEXT, ChannelMemory
from chatguard.domain import Action, Message, StageResult
from chatguard.llm.stage import LLMStage
from chatguard.normalize import normalize
from chatguard.pipeline.stage import StageInput
from chatguard.roles.remote import RemoteLLMStage, remote_stage
from chatguard.taxonomy import Category
from tests.roles.conftest import RoleServer, SettingsFactory, in_process
from tests.support.fake_llm import FakeLLMServer

#: Settings both sides share: no control message, so each prompt holds only the test's lines.
LLM = {"llm_control": False, "llm_cache_size": 0, "pipeline_stages": "llm"}


def item(text: str, memory: ChannelMemory, scores: dict[Category, float]) -> StageInput:
    message = Message(text=text, user_id="u1", channel_id="c1")
    return StageInput(message, normalize(message.text), scores, (), {CHANNEL_CONTEXT: memory})


def verdict(result: StageResult) -> tuple[object, ...]:
    scores = {c.value: round(s, 6) for c, s in result.scores.items()}
    return (result.stage, scores, result.reasons, result.authoritative, result.review, result.error)


async def test_remote_llm_gives_the_in_process_verdicts(
    role_settings: SettingsFactory, serve_role: RoleServer, fake_llm: FakeLLMServer
) -> None:
    fake_llm.reset()
    worker = serve_role("llm-worker", role_settings(llm_endpoint=fake_llm.url, **LLM))
    local = LLMStage.from_settings(role_settings(llm_endpoint=fake_llm.url, **LLM))
    remote = remote_stage("llm", role_settings(llm_worker_endpoint=worker.url, **LLM))
    assert isinstance(remote, RemoteLLMStage)
    memory = ChannelMemory()
    memory.record(Message(text="earlier line", user_id="u2", channel_id="c1"), Action.ALLOW)
    memory.set_rules("c1", "no spoilers")
    uncertain = {Category.HARASSMENT: 0.5}
    items = [item("shit, you idiot", memory, uncertain), item("this is fine", memory, uncertain)]
    await remote.start()
    try:
        got = await remote.assess(items)
        sent_remote = fake_llm.completions[-1].body
        expected = await local.assess(items)
        sent_local = fake_llm.completions[-1].body
    finally:
        await remote.close()
        await local.close()
    assert [verdict(r) for r in got] == [verdict(r) for r in expected]
    assert got[0].scores[Category.HARASSMENT] > 0.5 and got[0].authoritative
    # The worker's prompt held the channel's context (its recent line, its rules) too.
    assert sent_remote["messages"] == sent_local["messages"]
    assert "earlier line" in str(sent_remote["messages"])


async def test_moderate_escalates_through_the_worker(
    role_settings: SettingsFactory, serve_role: RoleServer, fake_llm: FakeLLMServer
) -> None:
    fake_llm.reset()
    worker = serve_role("llm-worker", role_settings(llm_endpoint=fake_llm.url, llm_control=False))
    app = create_app(role_settings(llm_worker_endpoint=worker.url))
    async with in_process(app) as client:
        health = (await client.get("/health")).json()
        before = len(fake_llm.completions)
        # The fast tier is unsure of this one (harassment in the uncertain band).
        answer = (
            await client.post(
                "/moderate",
                json={"message": "what a loser play lol", "user_id": "u", "channel_id": "c"},
            )
        ).json()
    assert health["stages"] == ["filter", "classifier", "llm"]
    assert health["components"]["llm"]["ok"] is True
    assert answer["escalated"] is True and answer["pending"] == []
    [llm] = [t for t in answer["trail"] if t["stage"] == "llm"]
    assert llm["error"] is None
    assert len(fake_llm.completions) > before
