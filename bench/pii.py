"""PII detection quality per entity type on the synthetic labelled set, and its speed.

    .venv/bin/python bench/pii.py

Prints precision and recall per entity type (span overlap, same type) on
../shared/data/pii_synthetic.jsonl, and messages per second for the PII detector alone on
those rows. Entity types the detector does not look for (PERSON, GPE, ...) are left out.
Exits 1 if the set is empty or the detector found nothing on it.
"""

from __future__ import annotations

import time
from pathlib import Path

from checks import Checks

from chatguard.filter.pii import PiiDetector
from chatguard.filter.pii_eval import evaluate, read_rows
from chatguard.normalize import normalize

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def main() -> int:
    checks = Checks("bench/pii.py")
    rows = read_rows(DATA / "pii_synthetic.jsonl")
    detector = PiiDetector()
    scores = evaluate(rows, detector)
    checks.expect(bool(rows), "pii_synthetic.jsonl has no rows")
    checks.expect(any(s.found for s in scores.values()), "the detector found no entity")
    print(f"{len(rows)} rows of pii_synthetic.jsonl")
    print()
    print("| entity | labelled | found | precision | recall |")
    print("|---|---:|---:|---:|---:|")
    for entity, score in scores.items():
        print(
            f"| {entity} | {score.support} | {score.found} | {score.precision:.3f} | "
            f"{score.recall:.3f} |"
        )
    texts = [normalize(r["text"]) for r in rows]
    with_pii = 0
    started = time.perf_counter_ns()
    for normalized in texts:
        with_pii += bool(detector.find(normalized.folded, normalized.original_span))
    elapsed = (time.perf_counter_ns() - started) / 1e9
    checks.expect(with_pii > 0, "the timed pass found PII in no row")
    print()
    print(f"speed on these rows (most hold PII): {len(texts) / elapsed:,.0f} rows/s")
    return checks.report()


if __name__ == "__main__":
    raise SystemExit(main())
