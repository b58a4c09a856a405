"""The api role with every peer remote: a message the LLM judges after its deadline gets a
provisional decision from the decision role, then the final one replaces it there too."""

from __future__ import annotations

import httpx

from chatguard.api import create_app
from tests.roles.conftest import RoleServer, SettingsFactory, in_process
from tests.support.fake_llm import FakeLLMServer


async def test_provisional_then_final_across_roles(
    role_settings: SettingsFactory, serve_role: RoleServer, fake_llm: FakeLLMServer
) -> None:
    fake_llm.reset()
    fake_llm.script("delay:1.0")  # past the api role's deadline below
    filter_role = serve_role("filter", role_settings(pipeline_stages="filter"))
    worker = serve_role("llm-worker", role_settings(llm_endpoint=fake_llm.url, llm_control=False))
    decision = serve_role("decision", role_settings())
    app = create_app(
        role_settings(
            filter_endpoint=filter_role.url,
            llm_worker_endpoint=worker.url,
            decision_endpoint=decision.url,
            llm_deadline_ms=200,
        )
    )
    # The fast tier is unsure of this one; the stand-in LLM calls "loser" harassment.
    body = {
        "message": "what a loser play lol",
        "user_id": "u1",
        "channel_id": "general",
        "message_id": "m1",
    }
    async with in_process(app) as client:
        first = (await client.post("/moderate", json=body)).json()
        assert first["provisional"] is True
        await app.state.service.wait_for_followups(timeout=30)
        replay = (await client.post("/moderate", json=body)).json()
    async with httpx.AsyncClient(base_url=decision.url) as peer:
        audit = (await peer.get("/audit", params={"channel_id": "general"})).json()["entries"]
    # The LLM acted on it (the stand-in's rule: "loser" is harassment): the stored answer is the
    # final one, and the decision role audited the provisional and the final decision once each.
    assert replay["provisional"] is False and replay["decided_by"] == "llm"
    assert replay["action"] == "delete"
    # Newest first: the provisional hold, its review item superseded, the final removal.
    assert [(e["message_id"], e["action"]) for e in audit] == [
        ("m1", "review.superseded"),
        ("m1", "decision.delete"),
        ("m1", "decision.hold"),
    ]
