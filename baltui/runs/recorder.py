"""The one writer of results.jsonl, and what a folder's records say is left to run.

Every executor (in process: baltui.executors.local; Ray: baltui.executors.ray_executor) reports through a
Recorder, so results.jsonl holds the same records whichever ran the runs.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from baltui.core.config import RunConfig, run_id
from baltui.core.events import Event, QueryResult, RunFailed, RunFinished, is_query
from baltui.core.stopping import Measured, first_met, parse_rules
from baltui.runs.results import ResultsWriter

Emit = Callable[[Event], None]


class Recorder:
    """Consumes an experiment's outcomes: the one writer of results.jsonl, and the same events to `emit`.

    Every executor (in-process below, Ray in baltui.executors.ray_executor) reports through one of these,
    so results.jsonl holds the same records whichever ran the runs.
    """

    def __init__(self, config: RunConfig, out_dir: Path, emit: Emit, states: dict[str, str] | None = None,
                 resume: dict[str, list[dict[str, Any]]] | None = None) -> None:
        self.emit = emit
        self.writer = ResultsWriter(out_dir)
        self.states: dict[str, str] = {} if states is None else states
        self.keys = {run_id(strategy, seed): {"strategy": strategy, "seed": seed}
                     for seed in config.seeds for strategy in config.strategies}
        # Runs whose records on disk already meet a stop rule without saying so (the process ended between
        # the stopping query and its run_finished, or --resume dropped the rule that stopped it and another
        # holds there too): the engine adds no query to them, and their finish names the rule.
        self.stops = {rid: stop for rid, records in (resume or {}).items()
                      if (stop := stop_met(records, config.stop_when)) is not None}

    def query(self, result: QueryResult) -> bool:
        """Write a completed query; one that met a stop rule finishes its run at once (so a stop is on disk
        even if the experiment is stopped before the run's stream ends). True when it did."""
        self.writer.append({"type": "query", **result.to_record()})
        self.emit(result)
        if result.stopped is not None:
            self.finished(result.run_id, (result.stopped, result.query))
            return True
        return False

    def finished(self, rid: str, stop: tuple[str, int] | None = None) -> None:
        """The run's run_finished record; with the stop rule it met and its last query when it stopped early.
        Once per run: the stream of a stopped run ends after its finish is written."""
        if self.states.get(rid) == "finished":
            return
        self.states[rid] = "finished"
        stop = stop or self.stops.pop(rid, None)
        record = {"type": "run_finished", "run_id": rid, **self.keys[rid]}
        if stop is not None:
            record.update(stopped=stop[0], queries=stop[1])
        self.writer.append(record)
        self.emit(RunFinished(rid, *stop) if stop is not None else RunFinished(rid))

    def failed(self, rid: str, reason: str) -> None:
        self.states[rid] = "failed"
        self.writer.append({"type": "run_failed", "run_id": rid, "error": reason, **self.keys[rid]})
        self.emit(RunFailed(rid, reason))

    def close(self) -> None:
        self.writer.close()


def stopped_by(records: list[dict[str, Any]]) -> tuple[str, int] | None:
    """(rule, query) when the run's latest outcome is a stop by a rule (a run_finished with "stopped" after its
    last query), else None."""
    for r in reversed(records):
        if is_query(r):
            return None
        if r.get("type") == "run_finished":
            return (str(r["stopped"]), int(r.get("queries", -1))) if r.get("stopped") else None
    return None


def stop_met(records: list[dict[str, Any]], stop_when: list[str]) -> tuple[str, int] | None:
    """(rule, query) of the first of `stop_when` that the run's last query record meets, judged on its records
    as the engine judges it live (baltui.core.stopping); None when none does (or there is no query)."""
    rules = parse_rules(stop_when)
    queries = sorted((r for r in records if is_query(r)), key=lambda r: r["query"])
    if not rules or not queries:
        return None
    rule = first_met(rules, [Measured.from_record(r) for r in queries])
    return None if rule is None else (rule.text, int(queries[-1]["query"]))


def run_complete(records: list[dict[str, Any]], queries: int, stop_when: list[str] | None = None) -> bool:
    """Whether a run's records hold a finish and every query up to `queries` (a finished run resumed with
    more --queries continues, exactly as if it had been asked for them from the start), or a stop by one of
    the rules `stop_when` still holds: --resume continues a stopped run only once its rule is dropped."""
    stop = stopped_by(records)
    if stop is not None and stop[0] in (stop_when or []):
        return True
    done = max((r["query"] for r in records if is_query(r)), default=-1)
    return done >= queries and any(r.get("type") == "run_finished" for r in records)


def runs_to_do(
    config: RunConfig, resume: dict[str, list[dict[str, Any]]] | None
) -> tuple[list[tuple[str, str, int, list[dict[str, Any]] | None]], dict[str, str]]:
    """(run id, strategy, seed, its query records so far or None) of every run still to do, in grid
    order, and {run id: "finished"} for the runs `resume` says are done.

    A run that failed (an error, a killed worker) continues from its last completed query.
    """
    resume = resume or {}
    todo, done = [], {}
    for seed in config.seeds:
        for strategy in config.strategies:
            rid = run_id(strategy, seed)
            records = resume.get(rid, [])
            if run_complete(records, config.queries, config.stop_when):
                done[rid] = "finished"
                continue
            queries = [r for r in records if is_query(r)]
            todo.append((rid, strategy, seed, queries or None))
    return todo, done
