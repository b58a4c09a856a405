"""What access control costs per request, in one run.

Peers: verifying a key (a cache hit, and a database lookup on SQLite), taking rate-limit
tokens in process and in Redis (when it answers on 127.0.0.1:6379), and the whole
`POST /moderate` through the ASGI app in open local mode against the same with an ingest key.
Prints medians and 95th percentiles in microseconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import statistics
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx

from chatguard.api import create_app
from chatguard.auth import ApiKeyStore, Authenticator
from chatguard.config import load_settings
from chatguard.ratelimit import BucketSpec, InProcessBuckets, RedisBuckets, Take
from chatguard.storage import SqlStore

N = 2000
REDIS = "redis://127.0.0.1:6379/15"


def answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


async def timed(name: str, call: Callable[[], Awaitable[object]], n: int = N) -> None:
    for _ in range(50):
        await call()
    samples = []
    for _ in range(n):
        start = time.perf_counter()
        await call()
        samples.append((time.perf_counter() - start) * 1e6)
    samples.sort()
    p95 = samples[int(len(samples) * 0.95)]
    print(f"{name:<44} median {statistics.median(samples):8.1f} µs   p95 {p95:8.1f} µs")


async def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"
        store = SqlStore(url)
        await store.start()
        keys = ApiKeyStore(engine=store.engine)
        made = await keys.create(owner="bench", scopes=["ingest"])
        cached = Authenticator(store=keys)
        uncached = Authenticator(store=keys, cache_ttl_s=0.0)
        await timed("verify a key (cache hit)", lambda: cached.authenticate(made.secret))
        await timed("verify a key (SQLite lookup)", lambda: uncached.authenticate(made.secret))
        await store.close()

        spec = BucketSpec(1e9, 10**9)
        local = InProcessBuckets()
        takes = [Take("caller:k", spec)]
        await timed("rate limit, in process", lambda: local.take(takes))
        if answers(6379):
            shared = RedisBuckets(REDIS, prefix=f"bench:{uuid.uuid4().hex}:")
            await timed("rate limit, Redis (one Lua call)", lambda: shared.take(takes))
            await shared.close()

        await moderate_interleaved(Path(tmp))


async def moderate_interleaved(tmp: Path, n: int = 400) -> None:
    """Both apps alive at once, requests alternating, so the machine's noise hits both alike."""
    body = {"message": "good game everyone", "user_id": "u", "channel_id": "c"}
    clients: dict[str, tuple[httpx.AsyncClient, dict[str, str]]] = {}
    async with contextlib.AsyncExitStack() as stack:
        for label, keyed in (("open local mode", False), ("with an ingest key", True)):
            settings = load_settings(
                database_url=f"sqlite+aiosqlite:///{tmp / (label + '.db')}",
                pipeline_stages="rules",
                _env_file=None,
            )
            headers = {}
            if keyed:
                store = SqlStore(settings.database_url)
                await store.start()
                made = await ApiKeyStore(engine=store.engine).create(owner="b", scopes=["ingest"])
                await store.close()
                headers = {"authorization": f"Bearer {made.secret}"}
            app = create_app(settings)
            await stack.enter_async_context(app.router.lifespan_context(app))
            transport = httpx.ASGITransport(app=app)
            client = await stack.enter_async_context(
                httpx.AsyncClient(transport=transport, base_url="http://x")
            )
            clients[label] = (client, headers)
        samples: dict[str, list[float]] = {label: [] for label in clients}
        for i in range(n + 20):
            for label, (client, headers) in clients.items():
                start = time.perf_counter()
                one = body | {"message_id": uuid.uuid4().hex}
                response = await client.post("/moderate", json=one, headers=headers)
                assert response.status_code == 200
                if i >= 20:
                    samples[label].append((time.perf_counter() - start) * 1e6)
        for label, values in samples.items():
            values.sort()
            p95 = values[int(len(values) * 0.95)]
            median = statistics.median(values)
            name = f"POST /moderate (stored), {label}"
            print(f"{name:<44} median {median:8.1f} µs   p95 {p95:8.1f} µs")


if __name__ == "__main__":
    asyncio.run(main())
