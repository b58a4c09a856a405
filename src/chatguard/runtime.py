"""Garbage-collector settings for a long-running chatguard process.

The fast tier makes a few short-lived tuples and lists per message and keeps almost none of
them. With CPython's default young-generation threshold (700 container allocations) a
collection then runs every few messages, and each one walks every young object only to find it
still referenced by the batch in flight: on the filter that is about a tenth of its time.
A server therefore moves everything made at start-up (modules, models, automata, term lists)
out of the collector's sight with `gc.freeze()` and collects the young generation every
`young` allocations instead. Reference counting still frees almost everything at once; the
collector only exists for cycles, which the hot path does not make.
"""

from __future__ import annotations

import gc

#: The young-generation threshold a server runs with (CPython's default is 700).
SERVING_YOUNG_THRESHOLD = 10_000


def tune_gc_for_serving(young: int = SERVING_YOUNG_THRESHOLD) -> tuple[int, int, int]:
    """Freeze what exists now and collect the young generation every `young` allocations
    (0 leaves CPython's settings alone). Returns the thresholds in force afterwards."""
    if young > 0:
        gc.collect()
        gc.freeze()
        _, older, oldest = gc.get_threshold()
        gc.set_threshold(young, older, oldest)
    return gc.get_threshold()


#: Seconds a thread may hold the GIL while another waits for it (CPython's default: 0.005).
SERVING_SWITCH_INTERVAL_S = 0.0005


def tune_switch_interval(seconds: float = SERVING_SWITCH_INTERVAL_S) -> float:
    """Let a waiting thread take the GIL sooner. A server's event loop is busy all the time;
    every call a database driver makes in its own thread (aiosqlite runs each statement, fetch
    and commit there) then waits up to the switch interval for the GIL, so a transaction of a
    dozen calls waited tens of milliseconds at the default. 0 leaves CPython's setting."""
    import sys

    if seconds > 0:
        sys.setswitchinterval(seconds)
    return sys.getswitchinterval()
