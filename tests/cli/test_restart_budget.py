"""How often `chatguard up` starts a role that exits by itself: at most `limit` times within
any `window_s` seconds."""

from __future__ import annotations

from chatguard.roles.supervisor import RestartBudget


def test_restarts_are_counted_within_the_window() -> None:
    now = [0.0]
    budget = RestartBudget(limit=2, window_s=60.0, clock=lambda: now[0])
    assert budget.take() == 1
    now[0] = 10.0
    assert budget.take() == 2
    now[0] = 20.0
    assert budget.take() is None  # a third within the minute: a failure, not a hiccup
    now[0] = 61.0  # the first restart left the window
    assert budget.take() == 2


def test_no_restarts() -> None:
    assert RestartBudget(limit=0).take() is None
