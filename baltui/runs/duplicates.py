"""Rows and runs recorded twice: counted once when they agree, refused or flagged when they do not.

Two writers on one folder (before folders had a lock) append the same queries twice; a folder copied, or an
experiment run again with the same settings, repeats whole runs. Counting those twice would shrink every
spread to nothing ("± 0.0000" from one run counted twice) and weigh one seed double. Two records of one
query agree when everything but the measured durations (`TIMINGS`) is equal: the same computation timed
twice is still one result.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass
from typing import Any

from baltui.core.errors import BaltuiError
from baltui.core.events import is_query

TIMINGS = frozenset({"acquisition_s", "training_s", "evaluation_s"})


def result_of(record: dict[str, Any]) -> dict[str, Any]:
    """A record without its measured durations: what two recordings of one query must agree on."""
    return {k: v for k, v in record.items() if k not in TIMINGS}


def _lines_text(lines: list[int]) -> str:
    shown = ", ".join(map(str, lines[:5]))
    return shown + (f" and {len(lines) - 5} more" if len(lines) > 5 else "")


def drop_repeated_rows(records: list[dict[str, Any]], lines: list[int], where: str,
                       warn: Callable[[str], None] | None) -> list[dict[str, Any]]:
    """The records with every repeat of a (run, query) row dropped; a repeat that disagrees is an error.

    `lines` are the records' line numbers in `where` (named in the warning and the error)."""
    first: dict[tuple[Any, Any], int] = {}
    repeats: list[int] = []
    out = []
    for i, (record, line) in enumerate(zip(records, lines, strict=True)):
        if is_query(record):
            key = (record.get("run_id"), record.get("query"))
            if key in first:
                j = first[key]
                if result_of(records[j]) != result_of(record):
                    raise BaltuiError(
                        f"{where} lines {lines[j]} and {line} both hold query {key[1]} of {key[0]}, with different "
                        "results: two writers ran on this folder at once; keep the lines of one of them")
                repeats.append(line)
                continue
            first[key] = i
        out.append(record)
    if repeats and warn is not None:
        warn(f"{where} holds {len(repeats)} queries twice with the same results (lines {_lines_text(repeats)}: "
             "two writers at once?); each is counted once")
    return out


def run_fingerprints(records: Iterable[dict[str, Any]]) -> dict[str, str]:
    """run id -> a digest of its query results in query order (durations left out)."""
    by_run: dict[str, dict[Any, dict[str, Any]]] = {}
    for r in records:
        if is_query(r):
            by_run.setdefault(str(r["run_id"]), {})[r["query"]] = result_of(r)
    return {rid: hashlib.sha256(json.dumps([q[k] for k in sorted(q)], sort_keys=True).encode()).hexdigest()
            for rid, q in by_run.items()}


@dataclass(frozen=True)
class RunEntry:
    """One run of one folder, as `repeated_runs` compares them."""

    folder: str  # as the user gave it
    run_id: str
    strategy: str
    seed: int
    settings: Hashable  # everything that changes the numbers
    fingerprint: str | None  # None: no completed query

    @property
    def name(self) -> str:
        return f"{self.folder}/{self.run_id}"


def _runs_text(run_ids: list[str]) -> str:
    shown = ", ".join(run_ids[:4]) + (f" and {len(run_ids) - 4} more" if len(run_ids) > 4 else "")
    return f"{len(run_ids)} run{'s' if len(run_ids) > 1 else ''} ({shown})"


def repeated_runs(entries: list[RunEntry]) -> tuple[set[int], list[str]]:
    """(indices of entries to leave out, warnings): a run repeated record for record in another folder is
    counted once; runs of the same strategy, seed and settings whose records differ are all kept, flagged."""
    groups: dict[tuple[str, int, Hashable], list[int]] = {}
    for i, e in enumerate(entries):
        if e.fingerprint is not None:
            groups.setdefault((e.strategy, e.seed, e.settings), []).append(i)
    drop: set[int] = set()
    repeats: dict[tuple[str, str], list[str]] = {}  # (folder, the folder it repeats) -> run ids
    differing: list[str] = []
    for members in groups.values():
        kept: dict[str, int] = {}
        for i in members:
            fp = entries[i].fingerprint
            assert fp is not None
            if fp in kept:
                drop.add(i)
                repeats.setdefault((entries[i].folder, entries[kept[fp]].folder), []).append(entries[i].run_id)
            else:
                kept[fp] = i
        if len(kept) > 1:
            differing.append(" and ".join(entries[i].name for i in kept.values()))
    notes = [f"{folder} repeats {_runs_text(rids)} of {other} record for record; each counted once"
             for (folder, other), rids in repeats.items()]
    if differing:
        notes.append(f"{'; '.join(differing[:3])}{' (and more)' if len(differing) > 3 else ''}: the same strategy, "
                     "seed and settings recorded different results (other thread counts or baltui versions?); "
                     "each is counted")
    return drop, notes
