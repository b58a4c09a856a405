"""The circuit breaker's states: closed, open after failures, one trial when half-open."""

from __future__ import annotations

import pytest

from chatguard.llm.breaker import BreakerState, CircuitBreaker, CircuitOpenError


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_opens_after_consecutive_failures_and_refuses_calls() -> None:
    clock = Clock()
    breaker = CircuitBreaker(failure_threshold=3, reset_after_s=10, clock=clock)
    for _ in range(2):
        breaker.before_call()
        breaker.record_failure()
    assert breaker.state is BreakerState.CLOSED
    breaker.before_call()
    breaker.record_failure()
    assert breaker.state is BreakerState.OPEN and breaker.times_opened == 1
    with pytest.raises(CircuitOpenError, match=r"next trial in 10\.0s"):
        breaker.before_call()


def test_a_success_resets_the_count() -> None:
    breaker = CircuitBreaker(failure_threshold=2, clock=Clock())
    breaker.record_failure()
    breaker.record_success()
    breaker.record_failure()
    assert breaker.state is BreakerState.CLOSED


@pytest.mark.parametrize(
    ("trial_succeeds", "state"),
    [
        pytest.param(True, BreakerState.CLOSED, id="recovered"),
        pytest.param(False, BreakerState.OPEN, id="still-down"),
    ],
)
def test_half_open_lets_one_trial_through(trial_succeeds: bool, state: BreakerState) -> None:
    clock = Clock()
    breaker = CircuitBreaker(failure_threshold=1, reset_after_s=5, clock=clock)
    breaker.record_failure()
    clock.now += 5
    assert breaker.state is BreakerState.HALF_OPEN
    breaker.before_call()  # the trial
    with pytest.raises(CircuitOpenError):
        breaker.before_call()  # only one at a time
    if trial_succeeds:
        breaker.record_success()
    else:
        breaker.record_failure()
    assert breaker.state is state


def test_an_abandoned_trial_frees_the_slot() -> None:
    clock = Clock()
    breaker = CircuitBreaker(failure_threshold=1, reset_after_s=1, clock=clock)
    breaker.record_failure()
    clock.now += 1
    breaker.before_call()
    breaker.release_trial()
    breaker.before_call()  # another trial may go
