"""`/ws/decisions`: a live stream of decisions and review events for the moderators' UI.

It needs a key with the moderator scope, sent as `Authorization: Bearer <key>` or, from a
browser (which cannot set headers on a WebSocket), as the subprotocol `bearer.<key>` next to
`chatguard.v1`, which the server then picks. A browser's `Origin` must be in CORS_ORIGINS.
Refusals happen before the handshake: an HTTP 401 or 403 with the error body where the server
supports denial responses (uvicorn does), a close with code 1008 otherwise.
"""

from __future__ import annotations

import asyncio
import contextlib

from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from chatguard.api.errors import error_headers, error_response, status_of
from chatguard.api.security import WS_SUBPROTOCOL, access_of
from chatguard.auth import Scope
from chatguard.errors import (
    AuthenticationError,
    ChatguardError,
    PermissionDeniedError,
    RateLimitedError,
)
from chatguard.events.legacy import client_form
from chatguard.service import DECISIONS_TOPIC, ModerationService

router = APIRouter(tags=["events"])
POLICY_VIOLATION = 1008


async def _refuse(websocket: WebSocket, exc: ChatguardError) -> None:
    if "websocket.http.response" in websocket.scope.get("extensions", {}):
        status, kind = status_of(exc)
        response = error_response(status, kind, str(exc), headers=error_headers(exc))
        await websocket.send_denial_response(response)
    else:
        await websocket.close(code=POLICY_VIOLATION, reason=str(exc)[:120])


async def _admit(websocket: WebSocket) -> bool:
    access = access_of(websocket)
    try:
        if not access.origin_allowed(websocket):
            raise PermissionDeniedError("this Origin is not in CORS_ORIGINS")
        await access.admit(websocket, Scope.MODERATOR)
    except (AuthenticationError, PermissionDeniedError, RateLimitedError) as exc:
        await _refuse(websocket, exc)
        return False
    return True


@router.websocket("/ws/decisions")
async def decisions(websocket: WebSocket) -> None:
    """Each event is a JSON object (ids, action, scores; never message text). Optional
    `?channel_id=` narrows the stream to one channel."""
    if not await _admit(websocket):
        return
    service: ModerationService = websocket.app.state.service
    channel = websocket.query_params.get("channel_id")
    subscription = service.events.subscribe(DECISIONS_TOPIC)
    # Start listening before accepting, so no event published after the handshake is missed.
    first = asyncio.ensure_future(anext(subscription))
    await asyncio.sleep(0)
    offered = websocket.scope.get("subprotocols", ())
    await websocket.accept(subprotocol=WS_SUBPROTOCOL if WS_SUBPROTOCOL in offered else None)
    closed = asyncio.ensure_future(_closed(websocket))
    try:
        pending = first
        while True:
            done, _ = await asyncio.wait({pending, closed}, return_when=asyncio.FIRST_COMPLETED)
            if closed in done:
                break
            event = client_form(pending.result())
            if channel is None or event.get("channel_id") == channel:
                await websocket.send_json(event)
            pending = asyncio.ensure_future(anext(subscription))
    except WebSocketDisconnect:
        pass
    finally:
        for task in (pending, closed):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, StopAsyncIteration, Exception):
                await task
        await subscription.aclose()  # type: ignore[attr-defined]


async def _closed(websocket: WebSocket) -> None:
    """Returns when the client goes away (the stream is one-way; anything sent is ignored)."""
    with contextlib.suppress(WebSocketDisconnect):
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
