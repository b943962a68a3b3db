"""Reading and comparing the query records of tests/fixtures/before_layers, recorded on another machine.

Indices, labels, counts and accuracies must come out exactly as recorded. Scores are float32 sums from CPU
kernels whose blocking and vector width depend on the processor: on another CPU the same
code gives them a few units in the last place apart (seen: up to 9e-7 relative, BALD's difference of
entropies the most), so they are compared to a relative 1e-5, far below any difference a code change makes.
A histogram's edges come from those scores, so a score lying on an edge may change bins: its counts must
have the same total and move at most 1% of it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from baltui.runs.results import query_records, read_records

FIXTURE = Path(__file__).parent / "fixtures" / "before_layers"
SCORE_TOLERANCE = 1e-5


def queries(run_dir: Path) -> dict[tuple[str, int], dict]:
    """The query records of a run folder by (run id, query)."""
    return {(r["run_id"], r["query"]): r for r in query_records(read_records(run_dir))}


def _same(a: object, b: object) -> bool:
    """Floats to SCORE_TOLERANCE, everything else (ints, lists of counts, None) exactly."""
    if isinstance(a, float) or isinstance(b, float):
        return isinstance(a, (int, float)) and isinstance(b, (int, float)) and a == pytest.approx(
            b, rel=SCORE_TOLERANCE, abs=1e-12)
    return a == b


def assert_same_field(new: dict, old: dict, field: str, key: object) -> None:
    """One field of a query record as recorded: exact, except the scores' float32 rounding (see above)."""
    a, b = new[field], old[field]
    if a is None or b is None or field not in ("queried_scores", "score_histogram", "score_summary"):
        assert a == b, (key, field)
    elif field == "queried_scores":
        assert len(a) == len(b) and all(map(_same, a, b)), (key, field, a, b)
    elif field == "score_histogram":
        assert a.keys() == b.keys() and all(_same(a[k], b[k]) for k in b if k != "counts"), (key, field, a, b)
        total = sum(b["counts"])
        assert len(a["counts"]) == len(b["counts"]) and sum(a["counts"]) == total, (key, field, a, b)
        moved = sum(abs(x - y) for x, y in zip(a["counts"], b["counts"], strict=True))
        assert moved <= max(2, total // 100), (key, field, a, b)
    else:
        assert a.keys() == b.keys() and all(_same(a[k], b[k]) for k in b), (key, field, a, b)
