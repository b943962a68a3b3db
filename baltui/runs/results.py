"""Results on disk: OUT/config.json and OUT/results.jsonl, one JSON line per completed query.

Each line is written whole and flushed (and fsynced) the moment its query completes, so a crash,
Ctrl+C or a killed terminal loses at most the query in progress. A torn last line from a hard kill
is skipped on read with a warning rather than failing the whole file.
"""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from baltui.core.errors import BaltuiError

CONFIG_FILE = "config.json"
RESULTS_FILE = "results.jsonl"


class ResultsWriter:
    """Appends records to results.jsonl; one write + flush + fsync per record."""

    def __init__(self, out_dir: Path) -> None:
        self.path = Path(out_dir) / RESULTS_FILE
        self._file = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 - kept open for the run

    def append(self, record: dict[str, Any]) -> None:
        self._file.write(json.dumps(record, separators=(",", ":")) + "\n")
        self._file.flush()
        os.fsync(self._file.fileno())

    def close(self) -> None:
        self._file.close()


def write_config(out_dir: Path, config: dict[str, Any]) -> None:
    """Write config.json whole (a temporary file renamed over it, so a crash never leaves half of one)."""
    path = Path(out_dir) / CONFIG_FILE
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def prepare_out_dir(out_dir: Path, config: dict[str, Any], resume: bool = False) -> None:
    """Create the run folder and write config.json; refuse to mix with unrelated files."""
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise BaltuiError(f"--out {out_dir} is a file, not a folder; choose another --out")
    if out_dir.is_dir() and any(out_dir.iterdir()) and not resume:
        if (out_dir / CONFIG_FILE).exists():
            raise BaltuiError(
                f"--out {out_dir} already holds a baltui run; continue it with --resume {out_dir} "
                "or choose another --out"
            )
        raise BaltuiError(f"--out {out_dir} is not empty and is not a baltui run; choose an empty or new folder")
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        if not resume:
            (out_dir / CONFIG_FILE).write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
            (out_dir / RESULTS_FILE).touch()
        elif not os.access(out_dir / RESULTS_FILE, os.W_OK):
            raise PermissionError(f"{out_dir / RESULTS_FILE} is not writable")
    except OSError as exc:
        raise BaltuiError(f"cannot write to output folder {out_dir}: {exc.strerror or exc}") from None


def read_config(run_dir: Path) -> dict[str, Any]:
    path = Path(run_dir) / CONFIG_FILE
    if not path.is_file():
        raise BaltuiError(f"{run_dir} is not a baltui run folder (no {CONFIG_FILE})")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise BaltuiError(f"cannot read {path}: {exc}") from None


def read_records(run_dir: Path) -> list[dict[str, Any]]:
    """All records of results.jsonl; a torn (unterminated, unparsable) last line is skipped with a warning."""
    path = Path(run_dir) / RESULTS_FILE
    if not path.is_file():
        raise BaltuiError(f"{run_dir} holds no {RESULTS_FILE}; is it a baltui run folder?")
    text = path.read_text(encoding="utf-8", errors="replace")
    lines = text.split("\n")
    records = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            if number == len(lines):  # the last line, not newline-terminated: a torn write
                warnings.warn(f"{path}: ignoring a torn last line (the run was killed mid-write)", stacklevel=2)
                continue
            raise BaltuiError(f"{path} line {number} is not valid JSON; the file is corrupt") from None
    return records


def query_records(records: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in records if r.get("type", "query") == "query"]


@dataclass
class RunCurve:
    """One run's accuracy curve, in query order."""

    run_id: str
    strategy: str
    seed: int
    n_labelled: list[int]
    accuracy: list[float]
    failed: str | None = None
    finished: bool = False

    def labels_to_reach(self, threshold: float) -> int | None:
        """Labelled images when test accuracy first reaches the threshold, or None."""
        for n, acc in zip(self.n_labelled, self.accuracy, strict=True):
            if acc >= threshold:
                return n
        return None

    @property
    def final_accuracy(self) -> float | None:
        return self.accuracy[-1] if self.accuracy else None

    @property
    def mean_accuracy(self) -> float | None:
        return sum(self.accuracy) / len(self.accuracy) if self.accuracy else None


def curves(records: Iterable[dict[str, Any]]) -> dict[str, RunCurve]:
    """Group records into per-run curves (a resumed run may repeat no query: last one wins).

    The latest outcome counts: a failed run that --resume continued is failed no more once it has a
    later query, and a finished run extended with --queries is unfinished until its new finish.
    """
    by_run: dict[str, dict[int, dict[str, Any]]] = {}
    out: dict[str, RunCurve] = {}
    for r in records:
        kind = r.get("type", "query")
        rid = r["run_id"]
        if rid not in out:
            out[rid] = RunCurve(rid, r["strategy"], r["seed"], [], [])
            by_run[rid] = {}
        if kind == "query":
            by_run[rid][r["query"]] = r
            out[rid].failed, out[rid].finished = None, False
        elif kind == "run_failed":
            out[rid].failed = r.get("error", "failed")
        elif kind == "run_finished":
            out[rid].finished, out[rid].failed = True, None
    for rid, queries in by_run.items():
        for q in sorted(queries):
            out[rid].n_labelled.append(queries[q]["n_labelled"])
            out[rid].accuracy.append(queries[q]["accuracy"])
    return out
