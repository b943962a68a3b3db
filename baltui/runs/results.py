"""Results on disk: OUT/config.json and OUT/results.jsonl, one JSON line per completed query.

Each line is written whole and fsynced the moment its query completes, so a crash, Ctrl+C or a killed
terminal loses at most the query in progress. The file heals rather than breaks (baltui.runs.jsonl): a last
line cut short (a hard kill, a full disk) is set aside by the next writer and left out by readers, and a
failed write says so in one line with the way to continue.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from baltui.core.config import RunConfig
from baltui.core.errors import BaltuiError
from baltui.core.events import is_query
from baltui.runs.duplicates import drop_repeated_rows
from baltui.runs.jsonl import Appender, read_jsonl, say_on_stderr
from baltui.runs.lock import LOCK_FILE

CONFIG_FILE = "config.json"
RESULTS_FILE = "results.jsonl"
# Keys config.json holds beside RunConfig's fields.
_RECORDED_KEYS = {f.name for f in dataclasses.fields(RunConfig)} | {"provenance"}


class ResultsWriter:
    """Appends records to results.jsonl: one whole line per record, fsynced (see baltui.runs.jsonl)."""

    def __init__(self, out_dir: Path) -> None:
        self.path = Path(out_dir) / RESULTS_FILE
        after = (f"every query before it is saved: free some space (or mend the disk), then continue with "
                 f"baltui --resume {Path(out_dir)}")
        self._file = Appender(self.path, after, separators=(",", ":"))

    def append(self, record: dict[str, Any]) -> None:
        self._file.append(record)

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
    if out_dir.is_dir() and any(p.name != LOCK_FILE for p in out_dir.iterdir()) and not resume:
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
    """config.json of a run folder: a JSON object, else one BaltuiError saying what is wrong with it."""
    path = Path(run_dir) / CONFIG_FILE
    if not path.is_file():
        raise BaltuiError(f"{run_dir} is not a baltui run folder (no {CONFIG_FILE})")
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BaltuiError(f"cannot read {path}: {exc}") from None
    if not isinstance(config, dict):
        raise BaltuiError(f"{path} is not a baltui config (expected a JSON object of settings, found "
                          f"{type(config).__name__} {json.dumps(config)[:40]})")
    return config


def check_known_keys(saved: dict[str, Any], run_dir: Path) -> None:
    """A config.json to continue holds only settings baltui knows (one edited by hand may not)."""
    unknown = sorted(set(saved) - _RECORDED_KEYS)
    if unknown:
        raise BaltuiError(f"{Path(run_dir) / CONFIG_FILE} holds setting(s) baltui does not know: "
                          f"{', '.join(unknown)} (edited by hand, or written by a newer baltui?); remove them "
                          "to continue the run")


_SAID: set[str] = set()  # warnings already given in this process: each is named once


def _once(warn: Callable[[str], None] | None) -> Callable[[str], None] | None:
    if warn is None:
        return None

    def say(text: str) -> None:
        if text not in _SAID:
            _SAID.add(text)
            warn(text)

    return say


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def record_problem(record: dict[str, Any], resume: bool = False) -> str | None:
    """What makes a results.jsonl record unusable (None: nothing): the fields report and resume read."""
    for key, kind, ok in (("run_id", "a string", lambda v: isinstance(v, str)),
                          ("strategy", "a string", lambda v: isinstance(v, str)),
                          ("seed", "a whole number", _whole),
                          ("type", "a string", lambda v: isinstance(v, str))):
        if key == "type" and key not in record:
            continue
        if key not in record:
            return f"a record without {key}"
        if not ok(record[key]):
            return f"{key} {json.dumps(record[key])[:40]}, not {kind}"
    if not is_query(record):
        return None
    for key, kind, ok in (("query", "a whole number >= 0", lambda v: _whole(v) and v >= 0),
                          ("n_labelled", "a whole number", _whole),
                          ("accuracy", "a number", lambda v: isinstance(v, (int, float)) and not isinstance(v, bool)),
                          ("labelled_indices", "a list of whole numbers",
                           lambda v: isinstance(v, list) and all(_whole(i) for i in v))):
        if key not in record:
            if key == "labelled_indices" and not resume:
                continue
            return f"a query record without {key}" + (" (needed to continue the run)" if resume else "")
        if not ok(record[key]):
            return f"{key} {json.dumps(record[key])[:40]}, not {kind}"
    return None


def read_records(run_dir: Path, warn: Callable[[str], None] | None = say_on_stderr,
                 resume: bool = False) -> list[dict[str, Any]]:
    """All records of results.jsonl, checked; `warn` (once per process per finding) names what was set aside.

    A torn last line (a write cut short) is left out; a query recorded twice with the same result counts
    once; a complete line that is not a usable record, or a query recorded twice with different results, is
    one BaltuiError naming the line(s). `resume`: query records must also hold what a continued run needs.
    """
    path = Path(run_dir) / RESULTS_FILE
    if not path.is_file():
        raise BaltuiError(f"{run_dir} holds no {RESULTS_FILE}; is it a baltui run folder?")
    contents = read_jsonl(path)
    say = _once(warn)
    if contents.torn and say is not None:
        say(f"{path} ends in an incomplete line ({len(contents.torn)} bytes, a write cut short); read without it")
    for record, line in zip(contents.records, contents.lines, strict=True):
        problem = record_problem(record, resume)
        if problem is not None:
            raise BaltuiError(f"{path} line {line} is not a usable record ({problem}); the file is corrupt there: "
                              "remove or mend that line")
    return drop_repeated_rows(contents.records, contents.lines, str(path), say)


def query_records(records: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in records if is_query(r)]


@dataclass
class RunCurve:
    """One run's accuracy curve, in query order (and its query records, for the other metrics)."""

    run_id: str
    strategy: str
    seed: int
    n_labelled: list[int]
    accuracy: list[float]
    failed: str | None = None
    finished: bool = False
    stopped: str | None = None  # the stop rule that ended the run early (it is finished too)
    records: list[dict[str, Any]] = field(default_factory=list, repr=False, compare=False)  # one per point

    def values(self, metric: str = "accuracy") -> tuple[list[int], list[float]]:
        """(labelled counts, values) of a per-query metric of the records ("accuracy", "nll", "ece", "brier"),
        where the records hold it: runs recorded before baltui recorded a metric have none of it."""
        if metric == "accuracy":
            return list(self.n_labelled), list(self.accuracy)
        pairs = [(n, r.get(metric)) for n, r in zip(self.n_labelled, self.records, strict=False)]
        kept = [(n, float(v)) for n, v in pairs if isinstance(v, int | float) and not isinstance(v, bool)]
        return [n for n, _ in kept], [v for _, v in kept]

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
    later query, and a finished run extended with --queries (or a stopped one whose rule was dropped) is
    unfinished until its new finish.
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
            out[rid].failed, out[rid].finished, out[rid].stopped = None, False, None
        elif kind == "run_failed":
            out[rid].failed = r.get("error", "failed")
        elif kind == "run_finished":
            out[rid].finished, out[rid].failed = True, None
            out[rid].stopped = str(r["stopped"]) if r.get("stopped") else None
    for rid, queries in by_run.items():
        for q in sorted(queries):
            out[rid].n_labelled.append(queries[q]["n_labelled"])
            out[rid].accuracy.append(queries[q]["accuracy"])
            out[rid].records.append(queries[q])
    return out
