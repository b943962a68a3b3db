"""`baltui report RUN_DIR [RUN_DIR...]`: the per-strategy table, a terminal chart, and exports.

Reads results.jsonl of finished and interrupted runs alike. Folders are merged: the same run id found
in two folders counts as two runs (say, seed 0 run twice), labelled with its folder. Each folder is read
with its own config.json, and runs are pooled only when every setting that changes the numbers (data
content, model, MC masks, ...) is the same: settings that differ between the folders become columns, so
two experiments never end up averaged into one row.

A paper's figures are shown only for runs on the very data the paper measured (recognised by content hash
in config.json's provenance, never by dataset name or image shape) under its initial-set protocol.

`--metric` summarises another per-query metric of the records (nll, ece, brier: `baltui.core.metrics`) the
same way: its value at the common labelled count and its area under the curve, with which way is better in
the header. CSV and JSON carry numbers only (`baltui.runs.rows`), one row per strategy row, or with `--per`
per run or per query.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import sys
from collections import Counter
from collections.abc import Hashable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from baltui.commands.curves_png import NEEDS_MATPLOTLIB, curves_figure, figure_options, write_curves_png
from baltui.commands.parsing import OneLineParser
from baltui.core.config import migrate_config
from baltui.core.errors import BaltuiError
from baltui.core.metrics import BETTER, MEANING
from baltui.core.settings import RESULTS_KEYS, SETTING
from baltui.core.stopping import describe
from baltui.runs.aggregate import STD_NOTE, THRESHOLDS, StrategySummary, summarise
from baltui.runs.duplicates import RunEntry, repeated_runs, run_fingerprints
from baltui.runs.folder import RunFolder
from baltui.runs.references import PaperReference
from baltui.runs.results import RunCurve, curves, read_config, read_records
from baltui.runs.rows import (
    METRICS,
    class_accuracy_at,
    classes_recorded,
    percent,
    query_columns,
    run_columns,
    summary_columns,
)

# Settings that change what a run computes (every row of the settings table marked changes_results), in
# column order: "data" stands for the dataset and data rows, and is the data's content when the config
# records it (provenance.data_sha256), else its name/path. These first, in the order the README's tables
# were made with, then the others in the table's order.
_FIRST = ("data", "model", "mc_masks", "weight_decay", "instances", "mc_samples", "subset", "epochs", "batch_size",
          "initial_per_class")
SETTINGS = (*_FIRST, *(n for n in RESULTS_KEYS if n not in (*_FIRST, "dataset")))
# The "Same for every row" line names the _FIRST settings always, and any other only where it is not at its
# default (beta 2 is news; beta 1 is not), except these: the model-regime settings, which the committed
# README tables (results/gal2017, results/batchbald2019) were made without naming. They still split rows,
# and are columns wherever folders differ in them.
_NOT_IN_SHARED_LINE = ("validation", "epoch_draws", "early_stopping")
DEFAULT_CLASSES = 10  # when provenance does not say: the digits and MNIST both have ten
STOPPED_AT, STOPPED_ACCURACY = "stopped at (labels)", "accuracy at stop"  # columns when a stop rule ended a run


def _parser() -> argparse.ArgumentParser:
    p = OneLineParser(prog="baltui report", description="Summarise baltui run folders.")
    p.add_argument("run_dirs", nargs="+", metavar="RUN_DIR")
    p.add_argument("--format", choices=("table", "markdown", "csv", "json"), default="table")
    p.add_argument("--plot", metavar="FILE.png", help="write a PNG of the mean curves (needs baltui[plot])")
    p.add_argument("--no-chart", action="store_true", help="table format without the terminal chart")
    p.add_argument("--metric", choices=METRICS, default="accuracy",
                   help="the per-query test metric the rows summarise (default accuracy; nll, ece and brier: lower "
                   "is better; recorded by runs from this version on)")
    p.add_argument("--per", choices=("run", "query"),
                   help="with --format csv: one row per run (the row's metric at its common count, AUC, labels to "
                   "X%%) or per query (every metric, per-class accuracy and labelled counts)")
    return p


def _hashable(value: Any) -> Hashable:
    """Config values as dict keys (a list or table in a hand-edited config must not crash the report)."""
    return json.dumps(value, sort_keys=True) if isinstance(value, (list, dict)) else value


@dataclass
class Folder:
    """One run folder: its own config and runs, and what it says about the data and protocol."""

    path: Path
    config: dict[str, Any]
    runs: list[RunCurve] = field(default_factory=list)

    @property
    def provenance(self) -> dict[str, Any]:
        return RunFolder(self.path, self.config).provenance

    @property
    def data_sha256(self) -> str | None:
        return RunFolder(self.path, self.config).data_sha256

    def setting(self, name: str) -> Hashable:
        """The value runs are grouped by: for "data" its content hash when known, else name and path."""
        if name == "data":
            sha = self.data_sha256
            return ("sha256", sha) if sha else ("named", self.config.get("dataset"), self.config.get("data"))
        return _hashable(self.config.get(name))

    def shown(self, name: str) -> str:
        """A setting as a table cell: the data by name (a file as seen from here), with the start of its hash when
        there is one; a number as written, whichever version saved it (0 and 0.0 alike)."""
        if name == "data":
            data = self.config.get("data")
            label = self.data_path(str(data)) if data else str(self.config.get("dataset") or "?")
            sha = self.data_sha256
            return f"{label} (sha256 {sha[:12]})" if sha else label
        value = self.config.get(name)
        if name == "stop_when" and isinstance(value, list):
            return describe([str(v) for v in value])
        return "-" if value is None else number_text(value)

    def data_path(self, data: str) -> str:
        """config.json keeps the data file relative to the run folder (so the folder can move with it); the
        report names it as a user would give it here: relative to the current folder (absolute if it is)."""
        if os.path.isabs(data):
            return data
        try:
            return os.path.relpath(os.path.normpath(self.path / data))
        except ValueError:  # another drive (Windows)
            return data

    def unremarkable(self, name: str) -> bool:
        """Not worth a mention when shared: unrecorded, or at the settings table's default."""
        value = self.config.get(name)
        return value is None or (name in SETTING and _hashable(value) == _hashable(SETTING[name].default))

    @property
    def reference(self) -> PaperReference | None:
        """The paper this folder's runs may be compared with; none without provenance (unknown data)."""
        return RunFolder(self.path, self.config).reference()


def number_text(value: Any) -> str:
    """A config value as text, a float without a trailing `.0` (`0`, `3.5`): a setting saved as 0 by one version
    and 0.0 by another reads the same; anything else as it is."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def load_folders(run_dirs: list[str], metric: str = "accuracy") -> list[Folder]:
    """Every folder with its own config.json (never the last folder's config for all); a folder given twice is
    refused, and a run another folder repeats record for record is counted once (`repeated_runs`). Runs that
    recorded no `metric` (written before baltui recorded it) are left out, with one line per folder saying so."""
    folders, entries, seen = [], [], {}
    for d in run_dirs:
        path = Path(d)
        if not path.is_dir():
            raise BaltuiError(f"{d} is not a folder")
        if path.resolve() in seen:
            raise BaltuiError(f"{d} is given twice (also as {seen[path.resolve()]}); give each run folder once")
        seen[path.resolve()] = d
        folder = Folder(path, migrate_config(read_config(path)))
        records = read_records(path)
        prints = run_fingerprints(records)
        for rid, run in curves(records).items():
            if len(run_dirs) > 1:
                run.run_id = f"{path.name}/{run.run_id}"
            folder.runs.append(run)
            entries.append((folder, run, RunEntry(d, rid, run.strategy, run.seed,
                                                  tuple(folder.setting(n) for n in SETTINGS), prints.get(rid))))
        folders.append(folder)
    drop, warnings = repeated_runs([e for _, _, e in entries])
    for line in warnings:
        print(f"baltui report: warning: {line}", file=sys.stderr)
    for i in sorted(drop):
        folder, run, _ = entries[i]
        folder.runs = [r for r in folder.runs if r is not run]
    if not any(r.accuracy for f in folders for r in f.runs):
        raise BaltuiError("no completed query in " + ", ".join(run_dirs))
    if metric != "accuracy":
        _keep_runs_with(metric, folders, run_dirs)
    return folders


def _keep_runs_with(metric: str, folders: list[Folder], run_dirs: list[str]) -> None:
    """Leave out the runs whose records hold no `metric`: one warning line per folder, or one error when none has it."""
    without = {id(f): [r for r in f.runs if r.accuracy and not r.values(metric)[0]] for f in folders}
    if all(len(without[id(f)]) == sum(1 for r in f.runs if r.accuracy) for f in folders):
        raise BaltuiError(f"{', '.join(run_dirs)} recorded no {metric} (written before baltui recorded test metrics); "
                          "report them with --metric accuracy")
    for f, d in zip(folders, run_dirs, strict=True):
        missing = without[id(f)]
        if missing:
            print(f"baltui report: warning: {d}: {len(missing)} run(s) recorded no {metric} (written before baltui "
                  f"recorded it); left out of the {metric} rows", file=sys.stderr)
            f.runs = [r for r in f.runs if not any(r is m for m in missing)]


@dataclass
class Report:
    """The grouped summaries with what the table needs to label them honestly."""

    summaries: list[StrategySummary]
    differing: list[str]  # settings that differ between folders: the extra leading columns
    shown: dict[Hashable, dict[str, str]]  # group key -> every setting as text
    references: dict[Hashable, PaperReference | None]  # group key -> its paper, if any
    unlisted: frozenset[str] = frozenset()  # settings left out of the "Same for every row" line
    metric: str = "accuracy"  # what the rows summarise
    folder_of: dict[int, str] = field(default_factory=dict)  # id(run) -> its folder, as given

    def label(self, s: StrategySummary) -> str:
        """The strategy, plus the settings that tell this row from others of the same strategy."""
        extra = ", ".join(f"{n}={self.shown[s.settings][n]}" for n in self.differing)
        return f"{s.strategy} ({extra})" if extra else s.strategy

    @property
    def better(self) -> str:
        """"(lower is better)" for the metrics where lower is; accuracy's headers say nothing, as they always have."""
        return "" if self.metric == "accuracy" else f" ({BETTER[self.metric]} is better)"

    @property
    def citations(self) -> list[PaperReference]:
        """The papers with a column, in first-seen order (theirs are labels to reach an accuracy)."""
        if self.metric != "accuracy":
            return []
        out: list[PaperReference] = []
        for s in self.summaries:
            ref = self.references[s.settings]
            if ref is not None and ref not in out and ref.total_labels(s.strategy) is not None:
                out.append(ref)
        return out

    @property
    def shared(self) -> dict[str, str]:
        """Settings every row has in common: said once under the table instead of as columns (those in
        QUIET_AT_DEFAULT only when not at their default)."""
        first = next(iter(self.shown.values()))
        return {n: first[n] for n in SETTINGS if n not in self.differing and n not in self.unlisted}


def build_report(folders: list[Folder], metric: str = "accuracy") -> Report:
    """Group runs by strategy and by every setting that differs between folders, so runs pool only when
    their folders agree on everything that changes the numbers; each group keeps its folders' paper."""
    differing = [n for n in SETTINGS if len({f.setting(n) for f in folders}) > 1]
    folder_key: dict[int, Hashable] = {}
    shown: dict[Hashable, dict[str, str]] = {}
    refs: dict[Hashable, set[PaperReference | None]] = {}
    for f in folders:
        key = tuple(f.setting(n) for n in differing)
        shown.setdefault(key, {n: f.shown(n) for n in SETTINGS})
        refs.setdefault(key, set()).add(f.reference)
        for run in f.runs:
            folder_key[id(run)] = key
    runs = [r for f in folders for r in f.runs]
    summaries = summarise(runs, key=lambda r: folder_key[id(r)], metric=metric)
    references = {k: next(iter(v)) if len(v) == 1 else None for k, v in refs.items()}  # folders disagree: no paper
    unlisted = frozenset(n for n in SETTINGS if n not in _FIRST and (
        n in _NOT_IN_SHARED_LINE or all(f.unremarkable(n) for f in folders)))
    folder_of = {id(r): str(f.path) for f in folders for r in f.runs}
    return Report(summaries, differing, shown, references, unlisted, metric, folder_of)


def gaps_to(ref: PaperReference, s: StrategySummary) -> list[float | None] | None:
    """Our labels minus the paper's at 90% / 95%, on the paper's own statistic (mean or median of runs).

    None at a threshold that not every run of the row reached: the runs that did are the quick ones, so a
    statistic over them alone would flatter us against a paper whose repeats all got there."""
    total = ref.total_labels(s.strategy)
    if total is None:
        return None
    out: list[float | None] = []
    for reach, paper in zip(s.reach, total, strict=True):
        ours = reach.median if ref.statistic == "median" else reach.mean
        out.append(None if ours is None or len(reach.values) < reach.runs else ours - paper)
    return out


def _rows(report: Report) -> list[dict[str, str]]:
    """The table's cells as text (terminal and markdown)."""
    ats = {s.final_at for s in report.summaries if s.final_at is not None}
    one_count = len(ats) == 1
    metric, better = report.metric, report.better
    acc_header = (f"{metric} at {next(iter(ats))} labels" if one_count else f"final {metric}") + better
    rows = []
    for s in report.summaries:
        row = {"strategy": s.strategy}
        row.update({n: report.shown[s.settings][n] for n in report.differing})
        row["runs"] = s.runs_text()
        row[acc_header] = s.final_text(with_count=not one_count)
        for reach in s.reach:
            row[f"labels to {reach.threshold:.0%}"] = reach.text()
        auc_header = "AUC" if metric == "accuracy" else f"AUC of {metric}{better}"
        row[auc_header] = f"{s.auc:.4f}" if s.auc is not None else "-"
        row.update(stop_columns(report, s))
        for ref in report.citations:
            total = ref.total_labels(s.strategy) if report.references[s.settings] == ref else None
            row[f"{ref.short} {' / '.join(f'{t:.0%}' for t in THRESHOLDS)}"] = (
                " / ".join(map(str, total)) if total else "-")
            gaps = gaps_to(ref, s) if total else None
            row[f"vs {ref.short}"] = (
                " / ".join("-" if g is None else f"{g:+.0f}" for g in gaps) if gaps else "-")
        rows.append(row)
    return rows


def stop_columns(report: Report, s: StrategySummary) -> dict[str, str]:
    """The table's stop columns, where a stop rule ended a run of the report: labels and accuracy at the
    stopped runs' last queries (`notes` says so under the table)."""
    if not any(x.stopped for x in report.summaries):
        return {}
    at, accuracy = s.stopped_text()
    return {STOPPED_AT: at, STOPPED_ACCURACY: accuracy}


def stop_fields(s: StrategySummary) -> dict[str, Any]:
    """The JSON row's account of its stopped runs: how many, and each one's rule, labels and accuracy."""
    return {"runs_stopped": len(s.stopped),
            "stopped": [{"rule": rule, "n_labelled": n, "accuracy": acc} for rule, n, acc in s.stopped]}


def notes(report: Report) -> list[str]:
    """The lines under the table that say what its numbers are (pasted along with it)."""
    if report.metric == "accuracy":
        lines = [STD_NOTE,
                 "Labels include the initial labelled set. labels to X%: mean ± std and median over the runs that "
                 "reached X% (k/n: how many of the n runs did).",
                 "Accuracy is at the largest labelled count every run of the row reached; AUC (trapezoid area / span) "
                 "covers the same range."]
    else:
        m = report.metric
        lines = [STD_NOTE, "Labels include the initial labelled set.",
                 f"{m}: the {MEANING[m]}; {BETTER[m]} is better. It is at the largest labelled count every run of the "
                 f"row reached; AUC of {m} (trapezoid area / span) covers the same range."]
    if any(s.failed or s.unfinished for s in report.summaries):
        lines.append("runs: failed runs are counted but left out of every statistic; unfinished runs count up to "
                     "their last completed query.")
    stops = Counter(rule for s in report.summaries for rule, _, _ in s.stopped)
    if stops:
        which = ", ".join(f"{rule}: {n} run{'s' if n > 1 else ''}" for rule, n in stops.items())
        lines.append(f"stopped: runs a --stop-when rule ended early ({which}) count up to their last query; "
                     f"{STOPPED_AT} and {STOPPED_ACCURACY} are at each one's last query (k/n: how many of the n "
                     "runs stopped), the other columns at the labelled count every run of the row reached.")
    shared = report.shared
    if shared:
        lines.append("Same for every row: " + ", ".join(f"{n} {v}" for n, v in shared.items()) + ".")
    for ref in report.citations:
        how = ("as published (initial set included)" if ref.counts_include_initial
               else f"acquired images + the {ref.initial} initial")
        lines.append(f"{ref.short}: {ref.citation}; {how}; shown only for runs on the same data "
                     f"(sha256 {ref.data_sha256[:12]}) with {ref.initial} initial labels.")
        lines.append(f"vs {ref.short}: our {ref.statistic} minus the paper's, in labels (negative: we needed "
                     f"fewer); - where not every run of the row reached that accuracy.")
    return lines


def _json(report: Report) -> list[dict[str, Any]]:
    """Numbers only: each statistic its own key (the table's prose cells and footnotes are not here)."""
    out = []
    m = report.metric
    for s in report.summaries:
        ref = report.references[s.settings] if m == "accuracy" else None
        total = ref.total_labels(s.strategy) if ref is not None else None
        row: dict[str, Any] = {"strategy": s.strategy, **{n: report.shown[s.settings][n] for n in report.differing}}
        row |= {"settings": report.shown[s.settings], "metric": m, "better": BETTER[m],
                "runs": s.total, "runs_total": s.total, "runs_failed": s.failed, "runs_unfinished": s.unfinished,
                "runs_in_statistics": s.runs, **stop_fields(s), "n_labelled": s.final_at,
                f"final_{m}": {"n_labelled": s.final_at, "values": s.final_values, "mean": s.final_mean,
                               "std": s.final_std, "median": s.final_median},
                "auc": {"values": s.auc_values, "mean": s.auc, "std": s.auc_std},
                "curve": {"n_labelled": s.x, "mean": s.mean, "std": s.std, "seeds": s.count}}
        if m == "accuracy":
            row |= {f"labels_to_{percent(r.threshold)}": r.values for r in s.reach}
            row["reach"] = {f"{r.threshold:.0%}": {"values": r.values, "runs": r.runs, "reached": len(r.values),
                                                   "mean": r.mean, "std": r.std, "median": r.median} for r in s.reach}
            row["reference"] = None if total is None else {"citation": ref.citation, "total_labels": list(total),
                                                           "statistic": ref.statistic, "gap_labels": gaps_to(ref, s)}
        row["class_accuracy"] = class_accuracy_at(s)
        out.append(row)
    return out


def _csv_summary(report: Report) -> list[dict[str, Any]]:
    """One row per table row: the settings that differ, then numeric columns (`rows.summary_columns`), and the
    paper's labels to 90% / 95% with our gap where a row has a paper."""
    out = []
    for s in report.summaries:
        row: dict[str, Any] = {"strategy": s.strategy, **{n: report.shown[s.settings][n] for n in report.differing}}
        row |= summary_columns(s)
        if any(x.stopped for x in report.summaries):
            row["runs_stopped"] = len(s.stopped)
        if report.citations:
            ref = report.references[s.settings]
            total = ref.total_labels(s.strategy) if ref is not None else None
            gaps = gaps_to(ref, s) if total else None
            row["paper"] = ref.short if total else None
            row["paper_statistic"] = ref.statistic if total else None
            for i, t in enumerate(THRESHOLDS):
                row[f"paper_labels_to_{percent(t)}"] = total[i] if total else None
                row[f"vs_paper_{percent(t)}"] = gaps[i] if gaps else None
        out.append(row)
    return out


def _csv_per(report: Report, per: str) -> list[dict[str, Any]]:
    """One row per run (`rows.run_columns`) or per query (`rows.query_columns`), after the row's settings."""
    out = []
    classes = classes_recorded([r for s in report.summaries for r in s.found])
    for s in report.summaries:
        lead = {"strategy": s.strategy, **{n: report.shown[s.settings][n] for n in report.differing}}
        for run in s.found:
            where = {"folder": report.folder_of.get(id(run))}
            if per == "run":
                out.append(lead | where | run_columns(run, s))
            else:
                out += [lead | where | q for q in query_columns(run, classes)]
    return out


def _write_csv(rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    sys.stdout.write(buf.getvalue())


def _markdown(rows: list[dict[str, str]], report: Report) -> str:
    cols = list(rows[0])
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(r[c].replace("|", "\\|") for c in cols) + " |" for r in rows]
    return "\n".join(lines) + "\n\n" + "\n\n".join(notes(report)) + "\n"  # one paragraph per note


def main(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    stdout = sys.stdout
    try:
        if args.plot is not None:
            _check_plot_target(args.plot)
        if not _encodes(sys.stdout, "±━┃⠿"):
            sys.stdout = _AsciiOut(sys.stdout)  # type: ignore[assignment]
            if args.format == "table" and not args.no_chart:
                args.no_chart = True
                print("baltui report: note: the chart needs a terminal that shows Unicode; left out",
                      file=sys.stderr)
        if args.per and args.format != "csv":
            raise BaltuiError(f"--per {args.per} writes one CSV row per {args.per}: add --format csv")
        # per query: every metric as recorded (empty cells where a record predates one), no folder left out
        metric = "accuracy" if args.per == "query" else args.metric
        report = build_report(load_folders(args.run_dirs, metric), metric)
        if args.format == "json":
            print(json.dumps(_json(report), indent=2))
        elif args.format == "csv":
            _write_csv(_csv_per(report, args.per) if args.per else _csv_summary(report))
        elif args.format == "markdown":
            sys.stdout.write(_markdown(_rows(report), report))
        else:
            _print_table(_rows(report), report, chart=not args.no_chart)
        if args.plot is not None:
            _write_png(report, Path(args.plot), args.run_dirs)
            print(f"baltui report: wrote the chart of mean {report.metric} to {args.plot}", file=sys.stderr)
    except BaltuiError as exc:
        print(f"baltui report: error: {exc}", file=sys.stderr)
        return 2
    finally:
        sys.stdout = stdout
    return 0


def _check_plot_target(name: str) -> None:
    """--plot FILE names a file matplotlib can write (its suffix says the format): checked before any reading."""
    if not name.strip():
        raise BaltuiError("--plot needs a file name, e.g. --plot curves.png")
    try:
        from matplotlib.backend_bases import FigureCanvasBase
    except ImportError:
        raise BaltuiError(f"--plot {NEEDS_MATPLOTLIB}") from None
    kinds = FigureCanvasBase.get_supported_filetypes()
    suffix = Path(name).suffix.lower().lstrip(".")
    if suffix not in kinds:
        what = f"a .{suffix} file" if suffix else "a file without a suffix (the suffix says the format)"
        raise BaltuiError(f"--plot {name}: matplotlib cannot write {what}; use .png, .svg or .pdf "
                          f"(or {', '.join('.' + k for k in sorted(kinds) if k not in ('png', 'svg', 'pdf'))})")


def _encodes(stream: object, text: str) -> bool:
    encoding = getattr(stream, "encoding", None) or "utf-8"
    try:
        text.encode(encoding)
    except (UnicodeEncodeError, LookupError):
        return False
    return True


def _ascii_table() -> dict[int, str]:
    """± as +/-, box-drawing lines as - | +: what a table needs on an output that cannot encode them."""
    import unicodedata

    table = {ord("±"): "+/-", ord("…"): "...", ord("×"): "x", ord("–"): "-", ord("—"): "-"}
    for code in range(0x2500, 0x2580):
        name = unicodedata.name(chr(code), "")
        horizontal, vertical = "HORIZONTAL" in name, "VERTICAL" in name
        table[code] = "-" if horizontal and not vertical else "|" if vertical and not horizontal else "+"
    return table


class _AsciiOut:
    """stdout for an encoding without ± or box lines (PYTHONIOENCODING=ascii, a latin-1 terminal): those are
    written in ASCII, anything else it cannot encode as ?, so the report is printed, never a traceback."""

    def __init__(self, stream: Any) -> None:
        self.stream = stream
        self.encoding = getattr(stream, "encoding", None) or "ascii"
        self._table = _ascii_table()

    def write(self, text: str) -> int:
        safe = text.translate(self._table).encode(self.encoding, "replace").decode(self.encoding, "replace")
        return self.stream.write(safe)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.stream, name)


def _print_table(rows: list[dict[str, str]], report: Report, chart: bool) -> None:
    """Colours only on a terminal: piped or redirected output has no escape codes and no trailing blanks,
    so it pastes cleanly into an issue or a paper's notes."""
    from rich.console import Console
    from rich.table import Table

    terminal = sys.stdout.isatty()
    if terminal:
        console = Console(highlight=False)
    else:  # color_system=None: no codes even with FORCE_COLOR set; wide, so no cell wraps in a log
        console = Console(file=io.StringIO(), highlight=False, color_system=None, force_terminal=False, width=1000)
    table = Table(title="baltui report (labels include the initial set)", title_justify="left")
    name = max((len(s.strategy) for s in report.summaries), default=8)  # a strategy's name is never cut short
    for c in rows[0]:
        table.add_column(c, justify="left" if c == "strategy" or c in report.differing else "right",
                         min_width=name if c == "strategy" else None)
    for r in rows:
        table.add_row(*r.values())
    console.print(table)
    for line in notes(report):
        console.print(line, markup=False)
    if not terminal:
        sys.stdout.write(_plain(console.file.getvalue()))
    if chart:
        _print_chart(report, console.width if terminal else CHART_WIDTH, terminal)


CHART_WIDTH = 100  # columns of the chart in a pipe or a file (a terminal's own width, up to this, in one)
CHART_HEIGHT = 20


def _print_chart(report: Report, width: int, terminal: bool) -> None:
    """The mean curves, one colour per row in a terminal and one marker per row in a pipe (no colour there),
    with the band (± std over runs, terminal only: in a pipe it would need the row's marker too), the 90% / 95%
    guides, each paper's points on the data it measured, and the legend under the chart, not inside it."""
    import plotext as plt
    from rich.console import Console
    from rich.text import Text

    from baltui.ui import charts
    from baltui.ui.axes import set_axes

    accuracy = report.metric == "accuracy"  # the papers' points and the guides are accuracies
    curves = []
    for slot, s in enumerate(report.summaries):
        if not s.x:
            continue
        ref = report.references[s.settings]
        total = ref.total_labels(s.strategy) if ref is not None else None
        paper = charts.within_reach(total, max(s.x)) if total and accuracy else []
        lo = [None if d is None else m - d for m, d in zip(s.mean, s.std, strict=True)]
        hi = [None if d is None else m + d for m, d in zip(s.mean, s.std, strict=True)]
        curves.append(charts.Curve(report.label(s), slot, s.x, s.mean, lo, hi,
                                   ([x for x, _ in paper], [y for _, y in paper])))
    look = charts.Look(colour=terminal, band=terminal, accuracy=accuracy)
    width = min(width, CHART_WIDTH)
    plt.clear_figure()
    plt.theme("clear")  # the terminal's own colours, light or dark
    plt.plotsize(width, CHART_HEIGHT)
    x_range, y_range = charts.draw(plt, curves, look)
    set_axes(plt, width - 8, CHART_HEIGHT - 5, x_range, y_range, x_integer=True)
    plt.title(f"mean test {report.metric} over runs{report.better}")
    plt.xlabel("labelled images")
    text = plt.build()
    papers = {c.short for c in report.citations}
    entries = charts.legend(curves, look, "std", " / ".join(sorted(papers)) or None)
    lines = []
    for line in charts.pack_entries(entries, width):
        lines.append(Text(charts.LEGEND_GAP).join(
            Text.assemble((swatch, f"bold {colour}" if colour else "bold"), " ", name)
            for swatch, name, colour in ((*t.split(" ", 1), c) for t, c in line)))
    legend = Text("\n").join(lines)
    if terminal:
        sys.stdout.write(text.rstrip("\n") + "\n")
        Console(highlight=False, width=width, color_system="truecolor").print(legend)  # as plotext draws
    else:  # theme("clear") still ends every line with a reset code; a pipe or a log gets none at all
        console = Console(file=io.StringIO(), highlight=False, color_system=None, force_terminal=False, width=width)
        console.print(legend)
        sys.stdout.write(_plain(plt.uncolorize(text)) + _plain(console.file.getvalue()))


def _plain(text: str) -> str:
    """Lines without the padding rich and plotext add to fill their width."""
    return "".join(line.rstrip() + "\n" for line in text.rstrip("\n").split("\n"))


def _write_png(report: Report, path: Path, folders: list[str] | None = None) -> None:
    write_curves_png(report.summaries, report.label, path, **_png_options(report, folders))


def png_figure(report: Report, folders: list[str] | None = None) -> Any:
    """The figure `--plot` writes (a matplotlib Figure): the mean curves, and for accuracy the 90% / 95% guides
    and each row's paper points (where its data is the paper's); titled with the folders it reports."""
    return curves_figure(report.summaries, report.label, **_png_options(report, folders))


def _png_options(report: Report, folders: list[str] | None) -> dict[str, Any]:
    return figure_options(report.metric, folders or [], report.better, lambda s: report.references[s.settings])
