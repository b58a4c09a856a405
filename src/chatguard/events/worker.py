"""A consumer's loop: rounds of `EventBus.consume` until told to stop, waiting out a transport
that is away instead of giving up."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from chatguard.errors import EventBusUnavailableError
from chatguard.events.bus import Consumed, EventBus, Handler

log = logging.getLogger(__name__)


async def run_consumer(
    bus: EventBus,
    stream: str,
    *,
    group: str,
    consumer: str,
    handler: Handler,
    stop: asyncio.Event,
    count: int = 16,
    block_s: float = 1.0,
    retry_s: float = 1.0,
) -> Consumed:
    """Consume `stream` as `consumer` of `group` until `stop` is set; returns the totals."""
    total = Consumed()
    while not stop.is_set():
        try:
            done = await bus.consume(
                stream,
                group=group,
                consumer=consumer,
                handler=handler,
                count=count,
                block_s=block_s,
            )
        except EventBusUnavailableError as exc:
            log.warning("consuming %s paused: %s", stream, exc)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(retry_s):
                    await stop.wait()
            continue
        total = total.plus(
            completed=done.completed,
            failed=done.failed,
            retried=done.retried,
            dead_lettered=done.dead_lettered,
        )
    return total
