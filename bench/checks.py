"""Checks that a benchmark measured what it says it measured.

A timing is worth printing only if the work it timed happened: LLM calls made, messages decided
by the stage under test, rows stored, detections found. Each benchmark states those facts with
`Checks.expect` (or `require` for one that stops it at once); a benchmark whose checks failed
prints every problem and exits 1, and prints no goal line.

Imported by the scripts in bench/ as `from checks import ...` (a script's own directory is on
`sys.path`).
"""

from __future__ import annotations

import sys


class BenchCheckError(SystemExit):
    """Raised to end a benchmark whose work did not happen (exit code 1)."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__(1)
        self.problems = problems


class Checks:
    """Collects what a benchmark found wrong with its own run."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.problems: list[str] = []

    def expect(self, ok: bool, problem: str) -> bool:
        """Record `problem` unless `ok`; returns `ok`."""
        if not ok and problem not in self.problems:
            self.problems.append(problem)
        return ok

    @property
    def passed(self) -> bool:
        return not self.problems

    def report(self) -> int:
        """Print the problems (to stderr) and return the exit code: 0 when none, else 1."""
        for problem in self.problems:
            print(f"{self.name}: CHECK FAILED: {problem}", file=sys.stderr, flush=True)
        if self.problems:
            print(
                f"{self.name}: {len(self.problems)} check(s) failed; the figures above do not "
                "measure what they claim",
                file=sys.stderr,
                flush=True,
            )
        return 1 if self.problems else 0

    def finish(self) -> None:
        """End the benchmark with exit code 1 if any check failed."""
        if self.report():
            raise BenchCheckError(self.problems)


def require(ok: bool, name: str, problem: str) -> None:
    """Stop the benchmark `name` at once, exit code 1, unless `ok`."""
    if not ok:
        checks = Checks(name)
        checks.expect(False, problem)
        checks.finish()
