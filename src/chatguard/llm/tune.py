"""Sizing the adjudicator from measurements of the user's own endpoint.

`tune()` sends real prompts (the stage's instructions, harmless sample chat lines as data, the
answer format) for a small grid of batch sizes (messages per prompt) and concurrencies
(requests in flight), and measures each request's latency and the verdicts that came back.
`recommend()` turns the figures into settings: the batch size and concurrency, the request
timeout, and each channel preset's LLM deadline.

The run never floods the endpoint: every request waits its turn under a request-rate bound
(requests start at least 1/rate seconds apart), the whole run stops at a time bound (a cell
predicted not to fit is skipped; one still running at the bound is cut), requests are never
retried, and a 429 or an open circuit ends the run.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from chatguard.domain import FailMode
from chatguard.llm.breaker import CircuitOpenError
from chatguard.llm.client import Completion, LLMClient
from chatguard.llm.errors import LLMError, LLMSchemaUnsupportedError
from chatguard.llm.parse import LLMParseError, parse_answer
from chatguard.llm.prompt import PromptItem, build_messages, response_format

DEFAULT_BATCHES = (1, 4, 16, 32)
DEFAULT_CONCURRENCY = (8, 4, 1)
#: Settings within this share of the best throughput count as equally good; the one with the
#: lowest p95 latency among them wins (batching further buys little and costs latency).
NEAR_BEST = 0.9
#: Which latency percentile each fail mode's deadline covers. A message shown while pending
#: (open) can be removed later, so half the verdicts in time is enough; a hidden one (hold)
#: should nearly always get its verdict in time; a removed one (closed) wrongly removes clean
#: messages for everyone who waits past the deadline, so it covers (nearly) all of them.
DEADLINE_PERCENTILE = {FailMode.OPEN: 0.50, FailMode.HOLD: 0.95, FailMode.CLOSED: 0.99}
_SAMPLES = (
    "gg wp, that round {n} was close",
    "anyone know what time the stream starts tomorrow? asking for round {n}",
    "lol that play at minute {n} was insane",
    "can we get a replay of fight {n} pls",
    "first time watching, this is my {n}th clip today",
    "the music in level {n} slaps",
)


@dataclass(frozen=True, slots=True)
class TuneBounds:
    """How hard a tuning run may push the endpoint."""

    #: Requests per second, at most (requests start at least 1/max_rps seconds apart).
    max_rps: float = 2.0
    #: Seconds for the whole run, at most.
    max_seconds: float = 300.0

    def __post_init__(self) -> None:
        if self.max_rps <= 0 or self.max_seconds <= 0:
            raise ValueError("the request-rate and time bounds must be positive")


@dataclass(slots=True)
class Cell:
    """The measurements of one setting."""

    batch_size: int
    concurrency: int
    latencies_s: list[float] = field(default_factory=list)
    verdicts: int = 0
    errors: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    wall_s: float = 0.0
    paced_s: float = 0.0
    note: str = ""
    complete: bool = False

    @property
    def requests(self) -> int:
        return len(self.latencies_s) + self.errors

    @property
    def per_s(self) -> float:
        """Verdicts per second the setting sustains with every request slot kept busy: the
        requests in flight times the verdicts per request, over the mean request latency
        (Little's law). Unlike verdicts over the cell's wall time, this is not lowered by the
        ramp-up of a short run or by the rate bound's spacing."""
        if not self.latencies_s:
            return 0.0
        per_request = self.verdicts / len(self.latencies_s)
        return self.concurrency * per_request / (sum(self.latencies_s) / len(self.latencies_s))

    @property
    def usable(self) -> bool:
        """Measured in full, without an error, every message answered."""
        expected = len(self.latencies_s) * self.batch_size
        return bool(self.complete and not self.errors and expected and self.verdicts == expected)

    def pct(self, q: float) -> float:
        """Nearest-rank percentile of the request latencies, in seconds."""
        ordered = sorted(self.latencies_s)
        if not ordered:
            return math.nan
        return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


@dataclass(slots=True)
class TuneRun:
    """Everything a tuning run measured, and how it kept to its bounds."""

    bounds: TuneBounds
    cells: list[Cell]
    started: float = 0.0
    wall_s: float = 0.0
    requests: int = 0
    structured_output: bool = True
    stopped: str = ""

    @property
    def usable(self) -> list[Cell]:
        return [c for c in self.cells if c.usable]


@dataclass(frozen=True, slots=True)
class PresetDeadline:
    preset: str
    fail_mode: FailMode
    percentile: float
    deadline_ms: int
    current_ms: float


@dataclass(frozen=True, slots=True)
class Recommendation:
    best: Cell
    fastest: Cell
    timeout_s: int
    deadlines: list[PresetDeadline]


class RequestPacer:
    """Starts requests at least `1 / rate` seconds apart, however many tasks ask at once."""

    def __init__(self, rate: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.interval = 1.0 / rate
        self._clock = clock
        self._next = 0.0
        self._lock = asyncio.Lock()

    async def wait(self) -> float:
        """Wait for this request's turn; returns the seconds waited (behind other requests
        included)."""
        begun = self._clock()
        async with self._lock:
            now = self._clock()
            delay = max(0.0, self._next - now)
            if delay:
                await asyncio.sleep(delay)
            self._next = max(now, self._next) + self.interval
        return self._clock() - begun


def sample_items(batch_size: int, start: int) -> list[PromptItem]:
    """Harmless, distinct chat lines (numbered, so no server-side cache answers them)."""
    return [
        PromptItem(
            f"m{i + 1}",
            _SAMPLES[(start + i) % len(_SAMPLES)].format(n=start + i + 1),
            author=f"user{i + 1}",
        )
        for i in range(batch_size)
    ]


class _Stop(Exception):
    """The endpoint asked us to stop (429) or is failing (circuit open)."""


class Tuner:
    """Runs the grid against one client; see `tune`."""

    def __init__(
        self,
        client: LLMClient,
        *,
        bounds: TuneBounds,
        json_schema: bool = True,
        max_tokens: int | None = 4096,
        temperature: float = 0.6,
        rounds: int = 2,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if rounds < 1:
            raise ValueError("rounds must be at least 1")
        self.client = client
        self.bounds = bounds
        self.json_schema = json_schema
        self.max_tokens = max_tokens
        self.temperature = temperature
        self.rounds = rounds
        self._clock = clock
        self._pacer = RequestPacer(bounds.max_rps, clock)
        self._numbered = 0

    async def run(
        self,
        batches: Sequence[int],
        concurrencies: Sequence[int],
        *,
        on_cell: Callable[[Cell], None] | None = None,
    ) -> TuneRun:
        grid = [Cell(b, c) for c in concurrencies for b in batches]
        run = TuneRun(self.bounds, grid, started=self._clock())
        deadline = run.started + self.bounds.max_seconds
        for cell in grid:
            remaining = deadline - self._clock()
            estimate = self._estimate(cell, run)
            if estimate is not None and estimate > remaining:
                cell.note = f"skipped: about {estimate:.0f} s, {max(remaining, 0):.0f} s left"
                continue
            if remaining <= 0:
                cell.note = "skipped: time bound reached"
                continue
            try:
                async with asyncio.timeout(remaining):
                    await self._measure(cell, run)
                cell.complete = True
            except TimeoutError:
                cell.note = "cut at the time bound"
                run.stopped = "time bound reached"
            except _Stop as exc:
                cell.note = str(exc)
                run.stopped = str(exc)
            if on_cell is not None:
                on_cell(cell)
            if run.stopped:
                break
        for cell in grid:
            if not cell.note and not cell.complete:
                cell.note = f"not run: {run.stopped}"
        run.wall_s = self._clock() - run.started
        run.structured_output = self.json_schema
        return run

    def _estimate(self, cell: Cell, run: TuneRun) -> float | None:
        """Seconds the cell should take, or None before anything was measured. A request's
        time is the slowest seen at the same batch size; else at the largest smaller batch,
        scaled up linearly (request time grows at most about linearly with the batch); else
        at the smallest larger batch (an upper bound)."""
        measured = [c for c in run.cells if c.latencies_s]
        if not measured:
            return None
        same = [c for c in measured if c.batch_size == cell.batch_size]
        smaller = [c for c in measured if c.batch_size < cell.batch_size]
        if same:
            per_request = max(max(c.latencies_s) for c in same)
        elif smaller:
            ref = max(smaller, key=lambda c: c.batch_size)
            per_request = max(ref.latencies_s) * cell.batch_size / ref.batch_size
        else:
            ref = min(measured, key=lambda c: c.batch_size)
            per_request = max(ref.latencies_s)
        requests = cell.concurrency * self.rounds
        return max(per_request * self.rounds, requests / self.bounds.max_rps)

    async def _measure(self, cell: Cell, run: TuneRun) -> None:
        started = self._clock()

        async def sender() -> None:
            for _ in range(self.rounds):
                await self._one(cell, run)

        senders = [asyncio.ensure_future(sender()) for _ in range(cell.concurrency)]
        try:
            done, _ = await asyncio.wait(senders, return_when=asyncio.FIRST_EXCEPTION)
            for task in done:
                error = task.exception()
                if error is not None:
                    raise error
        finally:
            # One sender's stop (or the time bound) stops the others: nothing goes out after.
            for task in senders:
                task.cancel()
            await asyncio.gather(*senders, return_exceptions=True)
            cell.wall_s = self._clock() - started

    async def _one(self, cell: Cell, run: TuneRun) -> None:
        cell.paced_s += await self._pacer.wait()
        items = sample_items(cell.batch_size, self._numbered)
        self._numbered += cell.batch_size
        messages = build_messages(items)
        ids = [item.id for item in items]
        run.requests += 1
        started = self._clock()
        busy = self.client.stats.errors_by_kind.get("429", 0)
        try:
            completion = await self._complete(messages)
        except CircuitOpenError as exc:
            cell.errors += 1
            raise _Stop("stopped: the circuit opened after repeated failures") from exc
        except LLMError as exc:
            cell.errors += 1
            if self.client.stats.errors_by_kind.get("429", 0) > busy:
                raise _Stop("stopped: the endpoint answered 429 (too many requests)") from exc
            cell.note = f"error: {exc}"
            return
        cell.latencies_s.append(self._clock() - started)
        cell.prompt_tokens += completion.prompt_tokens
        cell.completion_tokens += completion.completion_tokens
        try:
            parsed = parse_answer(completion.text, ids)
        except LLMParseError:
            cell.note = "unusable answers"
            return
        cell.verdicts += sum(1 for id_ in ids if id_ in parsed.verdicts)

    async def _complete(self, messages: list[dict[str, str]]) -> Completion:
        kwargs: dict[str, Any] = {"temperature": self.temperature, "max_tokens": self.max_tokens}
        if self.json_schema:
            try:
                return await self.client.complete(
                    messages, response_format=response_format(), **kwargs
                )
            except LLMSchemaUnsupportedError:
                # As the stage does: this server has no structured output; parse text instead.
                # The refused request counts against the rate bound too.
                self.json_schema = False
                await self._pacer.wait()
        return await self.client.complete(messages, **kwargs)


def preset_deadlines(
    *, fail_mode: str, deadline_ms: float, path: Path | None = None
) -> dict[str, tuple[FailMode, float]]:
    """Each channel preset's fail mode and LLM deadline (ms), with `fail_mode` and
    `deadline_ms` (LLM_FAIL_MODE, LLM_DEADLINE_MS) as the defaults that presets not naming
    their own inherit, as the policy engine sets them."""
    from chatguard.decisions.presets import DEFAULTS_PATH, load_presets

    defaults = load_presets(path or DEFAULTS_PATH)
    presets = replace(
        defaults,
        base={**defaults.base, "fail_mode": fail_mode, "llm_deadline_ms": deadline_ms},
    )
    resolved = {}
    for name in presets.names:
        policy = presets.resolve({"preset": name})
        resolved[name] = (FailMode(policy.fail_mode), float(policy.llm_deadline_ms))
    return resolved


def recommend(
    run: TuneRun,
    *,
    presets: Mapping[str, tuple[FailMode, float]],
    batch_wait_ms: float,
) -> Recommendation | None:
    """Settings from a run's usable cells, or None when none is usable.

    The setting is the one with the lowest p95 latency among those within `NEAR_BEST` of the
    most verdicts per second. `presets` maps a preset's name to its fail mode and current
    deadline (ms); its deadline becomes the latency percentile its fail mode warrants
    (`DEADLINE_PERCENTILE`) plus the batch wait, rounded up to 100 ms. The timeout is twice the
    slowest request at that setting, rounded up to a second."""
    usable = run.usable
    if not usable:
        return None
    fastest = max(usable, key=lambda c: c.per_s)
    near = [c for c in usable if c.per_s >= NEAR_BEST * fastest.per_s]
    best = min(near, key=lambda c: (c.pct(0.95), c.batch_size, c.concurrency))
    deadlines = []
    for name, (mode, current) in presets.items():
        q = DEADLINE_PERCENTILE[mode]
        ms = best.pct(q) * 1000 + batch_wait_ms
        deadlines.append(PresetDeadline(name, mode, q, math.ceil(ms / 100) * 100, current))
    timeout = math.ceil(2 * max(best.latencies_s))
    return Recommendation(best, fastest, max(timeout, 1), deadlines)


async def tune(
    client: LLMClient,
    *,
    batches: Sequence[int] = DEFAULT_BATCHES,
    concurrencies: Sequence[int] = DEFAULT_CONCURRENCY,
    bounds: TuneBounds | None = None,
    rounds: int = 2,
    json_schema: bool = True,
    max_tokens: int | None = 4096,
    temperature: float = 0.6,
    on_cell: Callable[[Cell], None] | None = None,
) -> TuneRun:
    """Measure latency and throughput for each batch size x concurrency, within `bounds`.
    Each cell runs `concurrency` senders, each sending `rounds` requests one after another.
    The client should not retry (`max_retries=0`): each attempt is a request the bound counts.
    """
    if any(b < 1 for b in batches) or any(c < 1 for c in concurrencies):
        raise ValueError("batch sizes and concurrencies must be at least 1")
    tuner = Tuner(
        client,
        bounds=bounds or TuneBounds(),
        json_schema=json_schema,
        max_tokens=max_tokens,
        temperature=temperature,
        rounds=rounds,
    )
    return await tuner.run(batches, concurrencies, on_cell=on_cell)
