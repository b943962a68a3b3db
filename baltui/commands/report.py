"""`baltui report RUN_DIR [RUN_DIR...]`: the per-strategy table, a terminal chart, and exports.

Reads results.jsonl of finished and interrupted runs alike. Folders are merged: the same run id found
in two folders counts as two runs (say, seed 0 run twice), labelled with its folder. Each folder is read
with its own config.json, and runs are pooled only when every setting that changes the numbers (data
content, model, MC masks, ...) is the same: settings that differ between the folders become columns, so
two experiments never end up averaged into one row.

A paper's figures are shown only for runs on the very data the paper measured (recognised by content hash
in config.json's provenance, never by dataset name or image shape) under its initial-set protocol.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
from collections.abc import Hashable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from baltui.commands.parsing import OneLineParser
from baltui.core.config import migrate_config
from baltui.core.errors import BaltuiError
from baltui.core.settings import RESULTS_KEYS, SETTING
from baltui.runs.aggregate import STD_NOTE, THRESHOLDS, StrategySummary, summarise
from baltui.runs.duplicates import RunEntry, repeated_runs, run_fingerprints
from baltui.runs.folder import RunFolder
from baltui.runs.references import PaperReference
from baltui.runs.results import RunCurve, curves, read_config, read_records

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
STD_FIELD = "±"  # csv column / json key carrying STD_NOTE's meaning, where there is no room for a note line
STD_MEANING = "sample standard deviation over runs (ddof=1)"


def _parser() -> argparse.ArgumentParser:
    p = OneLineParser(prog="baltui report", description="Summarise baltui run folders.")
    p.add_argument("run_dirs", nargs="+", metavar="RUN_DIR")
    p.add_argument("--format", choices=("table", "markdown", "csv", "json"), default="table")
    p.add_argument("--plot", metavar="FILE.png", help="write a PNG of the mean curves (needs baltui[plot])")
    p.add_argument("--no-chart", action="store_true", help="table format without the terminal chart")
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
        """A setting as a table cell: the data by name, with the start of its hash when there is one."""
        if name == "data":
            label = str(self.config.get("data") or self.config.get("dataset") or "?")
            sha = self.data_sha256
            return f"{label} (sha256 {sha[:12]})" if sha else label
        value = self.config.get(name)
        return "-" if value is None else str(value)

    def unremarkable(self, name: str) -> bool:
        """Not worth a mention when shared: unrecorded, or at the settings table's default."""
        value = self.config.get(name)
        return value is None or (name in SETTING and _hashable(value) == _hashable(SETTING[name].default))

    @property
    def reference(self) -> PaperReference | None:
        """The paper this folder's runs may be compared with; none without provenance (unknown data)."""
        return RunFolder(self.path, self.config).reference()


def load_folders(run_dirs: list[str]) -> list[Folder]:
    """Every folder with its own config.json (never the last folder's config for all); a folder given twice is
    refused, and a run another folder repeats record for record is counted once (`repeated_runs`)."""
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
    return folders


@dataclass
class Report:
    """The grouped summaries with what the table needs to label them honestly."""

    summaries: list[StrategySummary]
    differing: list[str]  # settings that differ between folders: the extra leading columns
    shown: dict[Hashable, dict[str, str]]  # group key -> every setting as text
    references: dict[Hashable, PaperReference | None]  # group key -> its paper, if any
    unlisted: frozenset[str] = frozenset()  # settings left out of the "Same for every row" line

    def label(self, s: StrategySummary) -> str:
        """The strategy, plus the settings that tell this row from others of the same strategy."""
        extra = ", ".join(f"{n}={self.shown[s.settings][n]}" for n in self.differing)
        return f"{s.strategy} ({extra})" if extra else s.strategy

    @property
    def citations(self) -> list[PaperReference]:
        """The papers with a column, in first-seen order."""
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


def build_report(folders: list[Folder]) -> Report:
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
    summaries = summarise(runs, key=lambda r: folder_key[id(r)])
    references = {k: next(iter(v)) if len(v) == 1 else None for k, v in refs.items()}  # folders disagree: no paper
    unlisted = frozenset(n for n in SETTINGS if n not in _FIRST and (
        n in _NOT_IN_SHARED_LINE or all(f.unremarkable(n) for f in folders)))
    return Report(summaries, differing, shown, references, unlisted)


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
    ats = {s.final_at for s in report.summaries if s.final_at is not None}
    one_count = len(ats) == 1
    acc_header = f"accuracy at {next(iter(ats))} labels" if one_count else "final accuracy"
    rows = []
    for s in report.summaries:
        row = {"strategy": s.strategy}
        row.update({n: report.shown[s.settings][n] for n in report.differing})
        row["runs"] = s.runs_text()
        row[acc_header] = s.final_text(with_count=not one_count)
        for reach in s.reach:
            row[f"labels to {reach.threshold:.0%}"] = reach.text()
        row["AUC"] = f"{s.auc:.4f}" if s.auc is not None else "-"
        for ref in report.citations:
            total = ref.total_labels(s.strategy) if report.references[s.settings] == ref else None
            row[f"{ref.short} {' / '.join(f'{t:.0%}' for t in THRESHOLDS)}"] = (
                " / ".join(map(str, total)) if total else "-")
            gaps = gaps_to(ref, s) if total else None
            row[f"vs {ref.short}"] = (
                " / ".join("-" if g is None else f"{g:+.0f}" for g in gaps) if gaps else "-")
        rows.append(row)
    return rows


def notes(report: Report) -> list[str]:
    """The lines under the table that say what its numbers are (pasted along with it)."""
    lines = [STD_NOTE,
             "Labels include the initial labelled set. labels to X%: mean ± std and median over the runs that "
             "reached X% (k/n: how many of the n runs did).",
             "Accuracy is at the largest labelled count every run of the row reached; AUC (trapezoid area / span) "
             "covers the same range."]
    if any(s.failed or s.unfinished for s in report.summaries):
        lines.append("runs: failed runs are counted but left out of every statistic; unfinished runs count up to "
                     "their last completed query.")
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


def _json(rows: list[dict[str, str]], report: Report) -> list[dict[str, Any]]:
    out = []
    for row, s in zip(rows, report.summaries, strict=True):
        ref = report.references[s.settings]
        total = ref.total_labels(s.strategy) if ref is not None else None
        out.append({
            **row,
            STD_FIELD: STD_MEANING,
            "settings": report.shown[s.settings],
            "runs_total": s.total, "runs_failed": s.failed, "runs_unfinished": s.unfinished,
            "runs_in_statistics": s.runs,
            "final_accuracy": {"n_labelled": s.final_at, "values": s.final_values, "mean": s.final_mean,
                               "std": s.final_std},
            "curve": {"n_labelled": s.x, "mean": s.mean, "std": s.std, "seeds": s.count},
            **{f"labels_to_{round(r.threshold * 100)}": r.values for r in s.reach},
            "reach": {f"{r.threshold:.0%}": {"values": r.values, "runs": r.runs, "mean": r.mean, "std": r.std,
                                             "median": r.median} for r in s.reach},
            "reference": None if total is None else {"citation": ref.citation, "total_labels": list(total),
                                                     "statistic": ref.statistic,
                                                     "gap_labels": gaps_to(ref, s)},
        })
    return out


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
        report = build_report(load_folders(args.run_dirs))
        rows = _rows(report)
        if args.format == "json":
            print(json.dumps(_json(rows, report), indent=2))
        elif args.format == "csv":
            buf = io.StringIO()
            writer = csv.DictWriter(buf, fieldnames=[*rows[0], STD_FIELD])
            writer.writeheader()
            writer.writerows({**r, STD_FIELD: STD_MEANING} for r in rows)
            sys.stdout.write(buf.getvalue())
        elif args.format == "markdown":
            sys.stdout.write(_markdown(rows, report))
        else:
            _print_table(rows, report, chart=not args.no_chart)
        if args.plot is not None:
            _write_png(report, Path(args.plot))
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
        raise BaltuiError("--plot needs matplotlib: pip install 'baltui[plot]'") from None
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
    for c in rows[0]:
        table.add_column(c, justify="left" if c == "strategy" or c in report.differing else "right")
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

    curves = []
    for slot, s in enumerate(report.summaries):
        if not s.x:
            continue
        ref = report.references[s.settings]
        total = ref.total_labels(s.strategy) if ref is not None else None
        paper = charts.within_reach(total, max(s.x)) if total else []
        lo = [None if d is None else m - d for m, d in zip(s.mean, s.std, strict=True)]
        hi = [None if d is None else m + d for m, d in zip(s.mean, s.std, strict=True)]
        curves.append(charts.Curve(report.label(s), slot, s.x, s.mean, lo, hi,
                                   ([x for x, _ in paper], [y for _, y in paper])))
    look = charts.Look(colour=terminal, band=terminal)
    width = min(width, CHART_WIDTH)
    plt.clear_figure()
    plt.theme("clear")  # the terminal's own colours, light or dark
    plt.plotsize(width, CHART_HEIGHT)
    x_range, y_range = charts.draw(plt, curves, look)
    set_axes(plt, width - 8, CHART_HEIGHT - 5, x_range, y_range, x_integer=True)
    plt.title("mean test accuracy over runs")
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


def _write_png(report: Report, path: Path) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise BaltuiError("--plot needs matplotlib: pip install 'baltui[plot]'") from None
    import numpy as np

    fig, ax = plt.subplots(figsize=(8, 5), dpi=120)
    for s in report.summaries:
        if not s.x:
            continue
        # no band where a single run contributes: there is no spread to draw (std is None there)
        mean = np.asarray(s.mean)
        std = np.asarray([np.nan if v is None else v for v in s.std], dtype=float)
        ax.plot(s.x, mean, label=f"{report.label(s)} ({s.runs_text()} run{'s' if s.total > 1 else ''})")
        ax.fill_between(s.x, mean - std, mean + std, alpha=0.2)
    ax.set_xlabel("labelled images")
    ax.set_ylabel("test accuracy (band: ±1 sample std over runs)")
    ax.grid(alpha=0.3)
    ax.legend()
    try:
        fig.savefig(path)
    except OSError as exc:
        raise BaltuiError(f"cannot write {path}: {exc.strerror or exc}") from None
    finally:
        plt.close(fig)
