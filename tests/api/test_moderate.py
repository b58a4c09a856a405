"""`POST /moderate`, `/moderate/batch`, `/health`, `/metrics` and `/docs` over HTTP."""

from __future__ import annotations

import httpx


async def test_moderate_returns_the_decision_with_evidence(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/moderate",
        json={"message": "go kill yourself", "user_id": "u1", "channel_id": "c1"},
    )
    assert response.status_code == 200
    body = response.json()
    assert body["action"] == "delete"
    assert body["approved"] is False
    assert body["flagged"] is True
    assert body["categories"]["harassment/threatening"] is True
    assert body["category_scores"]["harassment/threatening"] >= 0.9
    assert body["decided_by"] == "filter"
    assert body["processing_time_ms"] > 0
    evidence = {"go kill yourself"[s["start"] : s["end"]] for s in body["spans"]}
    assert "kill yourself" in evidence
    assert set(body["category_scores"]) >= {"hate", "spam", "pii", "prompt_injection"}


async def test_clean_message_is_approved(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/moderate", json={"message": "gg wp everyone", "user_id": "u1", "channel_id": "c1"}
    )
    assert response.status_code == 200
    assert (response.json()["action"], response.json()["approved"]) == ("allow", True)


async def test_repeated_message_id_gets_the_same_answer(client: httpx.AsyncClient) -> None:
    body = {"message": "kys", "user_id": "u1", "channel_id": "c1", "message_id": "m-1"}
    first = (await client.post("/moderate", json=body)).json()
    second = (await client.post("/moderate", json=body)).json()
    assert first == second
    conflict = await client.post("/moderate", json={**body, "message": "something else"})
    assert conflict.status_code == 409
    assert "m-1" in conflict.json()["error"]["message"]


async def test_batch_keeps_the_input_order(client: httpx.AsyncClient) -> None:
    texts = ["hello", "kill yourself", "nice play"]
    response = await client.post(
        "/moderate/batch",
        json={"messages": [{"message": t, "user_id": "u", "channel_id": "c"} for t in texts]},
    )
    assert response.status_code == 200
    actions = [r["action"] for r in response.json()["results"]]
    assert actions == ["allow", "delete", "allow"]


async def test_health_reports_each_component(client: httpx.AsyncClient) -> None:
    response = await client.get("/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    # Not essential: while it is away, decisions wait in the spool and moderation goes on.
    assert body["components"]["database"] == {"ok": True, "detail": "sqlite", "essential": False}
    assert "filter" in body["components"]


async def test_metrics_are_prometheus_text(client: httpx.AsyncClient) -> None:
    await client.post("/moderate", json={"message": "kys", "user_id": "u", "channel_id": "c"})
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert 'chatguard_messages_total{action="delete",decided_by="filter"} 1.0' in response.text
    assert "chatguard_stage_latency_seconds_bucket" in response.text


async def test_openapi_docs_are_served(client: httpx.AsyncClient) -> None:
    assert (await client.get("/docs")).status_code == 200
    spec = (await client.get("/openapi.json")).json()
    assert {"/moderate", "/moderate/batch", "/v1/moderations", "/health"} <= set(spec["paths"])


async def test_metrics_can_be_switched_off(settings) -> None:
    from chatguard.api import create_app

    app = create_app(settings.model_copy(update={"enable_metrics": False}))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://x") as client:
            assert (await client.get("/metrics")).status_code == 404
