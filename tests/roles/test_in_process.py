"""A role's own routes serve the calls it reads from its stream, in process: the JSON body,
the caller's headers and a loopback peer reach the app; its status and JSON answer come back."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import PlainTextResponse, StreamingResponse
from pydantic import BaseModel

from chatguard.roles.in_process import InProcessCaller


class Echo(BaseModel):
    text: str
    n: int


def _app() -> FastAPI:
    app = FastAPI()

    @app.post("/echo")
    async def echo(body: Echo, request: Request) -> dict[str, Any]:
        return {
            "text": body.text,
            "n": body.n,
            "auth": request.headers.get("authorization"),
            "peer": request.client.host if request.client else None,
        }

    @app.post("/plain")
    async def plain() -> PlainTextResponse:
        return PlainTextResponse("not json", status_code=503)

    @app.post("/stream")
    async def stream() -> StreamingResponse:
        async def parts() -> Any:
            yield b'{"parts":'
            yield b"[1,2]}"

        return StreamingResponse(parts(), media_type="application/json")

    return app


async def test_the_body_headers_and_peer_reach_the_route() -> None:
    caller = InProcessCaller(_app(), headers={"Authorization": "Bearer k"})
    status, body = await caller.post("/echo", {"text": "gg ẞ 🎮 \u202e", "n": 3})
    assert status == 200
    assert body == {"text": "gg ẞ 🎮 \u202e", "n": 3, "auth": "Bearer k", "peer": "127.0.0.1"}


async def test_the_apps_own_errors_come_back_as_they_are() -> None:
    caller = InProcessCaller(_app())
    status, body = await caller.post("/echo", {"text": "x"})
    assert status == 422
    assert body["detail"][0]["loc"] == ["body", "n"]
    assert await caller.post("/nowhere", {}) == (404, {"detail": "Not Found"})
    assert await caller.post("/plain", {}) == (503, None)


async def test_an_answer_sent_in_parts_is_read_whole() -> None:
    assert await InProcessCaller(_app()).post("/stream", {}) == (200, {"parts": [1, 2]})
