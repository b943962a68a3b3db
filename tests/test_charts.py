"""Round axis ticks (baltui.ui.axes) and the report's terminal chart (baltui.ui.charts), as printed.

No Textual: the report prints with plotext and rich. The dashboard's charts are tested as drawn in test_views.
"""

from __future__ import annotations

import json
import math
import re

import pytest

from baltui.commands.report import main
from baltui.runs.references import MNIST_SHA256
from baltui.ui.axes import nice_ticks, span, tick_labels
from baltui.ui.charts import MARKERS, PALETTE, PAPER_MARKER


@pytest.mark.parametrize(("lo", "hi", "count", "integer"), [
    (20, 510, 6, True), (0, 72, 4, True), (0, 4, 2, True), (985, 1000, 5, True), (0, 60, 8, True),
    (0.45, 1.0, 2, False), (0.45, 1.0, 6, False), (0.0506, 1.74, 5, False), (0.001, 0.0093, 4, False),
])
def test_ticks_are_round_evenly_spaced_and_inside_the_range(lo, hi, count, integer):
    ticks = nice_ticks(lo, hi, count, integer)
    assert len(ticks) >= 2 and all(lo - 1e-9 <= t <= hi + 1e-9 for t in ticks)
    steps = {round(b - a, 9) for a, b in zip(ticks, ticks[1:], strict=False)}
    assert len(steps) == 1
    step = steps.pop()
    mantissa = step / 10 ** math.floor(math.log10(step))
    assert any(math.isclose(mantissa, m) for m in (1, 2, 2.5, 5))
    assert len(ticks) <= max(count, 3)
    labels = tick_labels(ticks, integer)
    if integer:
        assert all(re.fullmatch(r"\d+", label) for label in labels) and step >= 1 and step == int(step)
    assert len(set(labels)) == len(labels)  # as many decimals as the step needs


def test_one_point_gets_a_range_around_it_never_below_the_floor():
    assert span([0], integer=True, floor=0) == (0, 2)  # query 0 alone: no tick at -1
    lo, hi = span([20], integer=True, floor=0)
    assert lo < 20 < hi and lo >= 0
    assert nice_ticks(*span([0], integer=True, floor=0), 5, integer=True) == [0, 1, 2]
    assert span([], integer=True) is None


def _folder(path, provenance=None):
    """entropy and uniform, two seeds each, 20 + 10 q labels up to 220."""
    path.mkdir()
    config = {"dataset": "npz" if provenance else "digits", "initial_per_class": 2}
    if provenance:
        config["provenance"] = provenance
    (path / "config.json").write_text(json.dumps(config))
    lines = []
    for strategy, scale in (("entropy", 40.0), ("uniform", 90.0)):
        for seed in (0, 1):
            for q in range(21):
                n = 20 + 10 * q
                acc = 0.99 - 0.5 * math.exp(-(n - 20) / scale) - 0.01 * seed
                lines.append(json.dumps({"type": "query", "run_id": f"{strategy}-s{seed}", "strategy": strategy,
                                         "seed": seed, "query": q, "n_labelled": n, "accuracy": acc}))
    (path / "results.jsonl").write_text("\n".join(lines) + "\n")
    return path


def _chart(out: str) -> tuple[list[str], list[str], list[str]]:
    """The printed chart: its plot rows (between the frame lines), its x tick labels, and the lines under it."""
    lines = out.splitlines()
    top = next(i for i, line in enumerate(lines) if "┌" in line)
    bottom = next(i for i, line in enumerate(lines) if "└" in line and i > top)  # the table above has one too
    return lines[top + 1:bottom], lines[bottom + 1].split(), lines[bottom + 2:]


def test_piped_chart_tells_series_apart_by_marker_with_the_legend_under_it(tmp_path, capsys):
    run = _folder(tmp_path / "m", provenance={"data_sha256": MNIST_SHA256, "n_classes": 10})
    assert main([str(run)]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out  # a pipe: no colour at all
    area, ticks, under = _chart(out)
    plot = "\n".join(area)
    assert plot.count(MARKERS[0]) > 10 and plot.count(MARKERS[1]) > 10  # entropy +, uniform x
    assert "entropy" not in plot and "uniform" not in plot  # no legend inside the plot
    legend = " ".join(under)
    assert f"{MARKERS[0]} entropy" in legend and f"{MARKERS[1]} uniform" in legend
    assert f"{PAPER_MARKER} Gal 2017 at 90% / 95%" in legend and "─ 90% / 95% accuracy" in legend
    # Gal 2017's 90% points: entropy at 185, uniform at 275 labels (within 1.25 x 220; the 95% ones are not)
    assert plot.count(PAPER_MARKER) == 2
    assert sum(1 for line in area if re.search("├.*┤$", line)) == 2  # the 90% and 95% guides
    values = [int(t) for t in ticks]
    assert len({b - a for a, b in zip(values, values[1:], strict=False)}) == 1 and all(v % 50 == 0 for v in values)


def test_terminal_chart_draws_each_series_and_its_legend_in_one_colour(tmp_path, capsys, monkeypatch):
    run = _folder(tmp_path / "d")
    monkeypatch.setattr("sys.stdout.isatty", lambda: True)
    assert main([str(run)]) == 0
    out = capsys.readouterr().out
    area, _, under = _chart(re.sub(r"\x1b\[[0-9;]*m", "", out))
    assert "entropy" not in "\n".join(area)
    raw = out.splitlines()
    top = next(i for i, line in enumerate(raw) if "┌" in line)
    bottom = next(i for i, line in enumerate(raw) if "└" in line and i > top)
    for slot in (0, 1):
        colour = "38;2;{};{};{}".format(*PALETTE[slot])  # the same 24-bit colour from plotext and from rich
        assert any(colour in line for line in raw[:bottom]), slot  # its curve
        assert any(re.search(colour + r"m━", line) for line in raw[bottom + 2:]), slot  # its legend swatch
    assert any("band: mean ± std" in line for line in under)


def test_class_balance_names_every_class_that_fits_and_every_kth_when_narrow():
    from baltui.ui.widgets.class_balance import class_ticks

    assert class_ticks(10, None, 40) == (list(range(10)), [str(i) for i in range(10)])
    shown, labels = class_ticks(10, None, 8)  # 2 columns a name: every 3rd
    assert shown == [0, 3, 6, 9] and labels == ["0", "3", "6", "9"]
    shown, labels = class_ticks(4, ["quail", "duck", "owl", "emu"], 40)
    assert labels == ["qua", "duc", "owl", "emu"]  # a name cut to its first characters, never the class lost
    assert class_ticks(3, ["a"], 40)[1] == ["a", "1", "2"]  # a class without a name: its index
