"""A circuit breaker: after repeated failures stop calling the endpoint for a while, then let
one trial call through to see whether it has recovered."""

from __future__ import annotations

import time
from collections.abc import Callable
from enum import StrEnum

from chatguard.errors import StageUnavailableError


class BreakerState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class CircuitOpenError(StageUnavailableError):
    """The breaker is open: the endpoint failed repeatedly and is being left alone."""


class CircuitBreaker:
    """Opens after `failure_threshold` consecutive failures; after `reset_after_s` it lets one
    trial call through (half-open): success closes it, failure opens it again."""

    def __init__(
        self,
        *,
        failure_threshold: int = 5,
        reset_after_s: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if failure_threshold < 1:
            raise ValueError("failure_threshold must be at least 1")
        self.failure_threshold = failure_threshold
        self.reset_after_s = reset_after_s
        self._clock = clock
        self._failures = 0
        self._opened_at: float | None = None
        self._trial_running = False
        self.times_opened = 0

    @property
    def state(self) -> BreakerState:
        if self._opened_at is None:
            return BreakerState.CLOSED
        if self._clock() - self._opened_at >= self.reset_after_s:
            return BreakerState.HALF_OPEN
        return BreakerState.OPEN

    def retry_in_s(self) -> float:
        """Seconds until the next trial call is allowed (0 when calls are allowed)."""
        if self._opened_at is None:
            return 0.0
        return max(0.0, self.reset_after_s - (self._clock() - self._opened_at))

    def before_call(self) -> None:
        """Raise `CircuitOpenError` unless a call may go out now."""
        state = self.state
        if state is BreakerState.CLOSED:
            return
        if state is BreakerState.HALF_OPEN and not self._trial_running:
            self._trial_running = True
            return
        raise CircuitOpenError(f"circuit open; next trial in {self.retry_in_s():.1f}s")

    def record_success(self) -> None:
        self._failures = 0
        self._opened_at = None
        self._trial_running = False

    def record_failure(self) -> None:
        self._failures += 1
        was_trial = self._trial_running
        self._trial_running = False
        if was_trial or self._failures >= self.failure_threshold:
            if self._opened_at is None or was_trial:
                self.times_opened += 1
            self._opened_at = self._clock()

    def check_open(self) -> None:
        """Raise `CircuitOpenError` if the breaker is open right now (no trial is taken)."""
        if self.state is BreakerState.OPEN:
            raise CircuitOpenError(f"circuit open; next trial in {self.retry_in_s():.1f}s")

    def release_trial(self) -> None:
        """A call ended without a verdict on the endpoint (cancelled): let another trial go."""
        self._trial_running = False
