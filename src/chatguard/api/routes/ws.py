"""`/ws/decisions`: a live stream of decisions and review events for the moderators' UI."""

from __future__ import annotations

import asyncio
import contextlib

from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from chatguard.service import DECISIONS_TOPIC, ModerationService

router = APIRouter(tags=["events"])


@router.websocket("/ws/decisions")
async def decisions(websocket: WebSocket) -> None:
    """Each event is a JSON object (ids, action, scores; never message text). Optional
    `?channel_id=` narrows the stream to one channel."""
    service: ModerationService = websocket.app.state.service
    channel = websocket.query_params.get("channel_id")
    subscription = service.events.subscribe(DECISIONS_TOPIC)
    # Start listening before accepting, so no event published after the handshake is missed.
    first = asyncio.ensure_future(anext(subscription))
    await asyncio.sleep(0)
    await websocket.accept()
    closed = asyncio.ensure_future(_closed(websocket))
    try:
        pending = first
        while True:
            done, _ = await asyncio.wait({pending, closed}, return_when=asyncio.FIRST_COMPLETED)
            if closed in done:
                break
            event = pending.result()
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
