"""Stopping a connector always stops it: a cancellation that lands in the same turn of the
event loop as a failed connection attempt is not lost (Python 3.11's `asyncio.wait_for`
dropped it, and the bot's reconnect loop then ran on after Ctrl-C)."""

from __future__ import annotations

import asyncio

from chatguard.connectors.irc import IrcConnector
from tests.conftest import free_port


async def test_a_cancelled_connection_attempt_ends_cancelled_at_every_moment() -> None:
    port = free_port()  # nothing listens: every attempt is refused
    lost = []
    for ticks in range(40):
        connector = IrcConnector(host="127.0.0.1", port=port, nick="n", channels=["#c"])
        task = asyncio.create_task(connector.connect())
        for _ in range(ticks):
            await asyncio.sleep(0)
        asked = task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            continue
        except OSError:
            if asked:  # cancelled while still running, yet it went on to fail
                lost.append(ticks)
    assert lost == []
