"""`baltui bench`'s training-precision figures: float32 against mixed bfloat16 through baltui's own training step.

Why its own fits: `--train-precision` changes only training (sampling and evaluation stay float32), so what
it is worth is the training time it saves, and what that does to a query round and to a whole run. Each
precision trains its own classifier through `MCDropoutClassifier.fit` (the traced graph loop the engine
uses, not Keras's `model.fit`), at the labelled sizes a 100-query paper run passes through, with the two
precisions interleaved so that a machine loaded by others slows both alike; the fastest repeat is kept.

From those fits and the bench's measured round (float32 acquisition and evaluation, which precision does
not touch):
- per epoch and per fit at the bench's labelled size, and their ratio (float32 time / bfloat16 time);
- the round / its training ratio at each precision: the measured round with its training time scaled by
  that precision's fit time over float32's;
- the minutes a 100-query paper run (20 initial labels, 10 per query) takes per strategy: a straight line
  through the per-fit times measured at its first, the bench's and its last labelled size, summed over the
  run's 101 fits, plus 100 of the round's acquisitions and 101 of its evaluations.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from baltui.commands.bench_marks import checked, mark

PRECISIONS = ("float32", "bfloat16")
# The paper run the minutes are for (Gal et al. 2017 on MNIST): 2 initial labels per class of 10, then
# 100 queries of 10 images.
RUN_INITIAL, RUN_QUERIES, RUN_INSTANCES = 20, 100, 10


def run_sizes() -> np.ndarray:
    """The labelled count at each of a paper run's fits: 20 (query 0), 30, ..., 1,020."""
    return RUN_INITIAL + RUN_INSTANCES * np.arange(RUN_QUERIES + 1)


def probe_sizes(labelled: int, pool: int) -> list[int]:
    """Labelled counts to time fits at: the run's first and last, and the bench's own (as far as the pool holds)."""
    sizes = run_sizes()
    return sorted({min(int(n), pool) for n in (sizes[0], labelled, sizes[-1])})


def run_training_s(probes: dict[int, float]) -> float:
    """The training seconds of a whole paper run: a straight line through (labelled, fit seconds), summed."""
    n = np.array(sorted(probes), dtype=float)
    s = np.array([probes[k] for k in sorted(probes)])
    slope, intercept = np.polyfit(n, s, 1) if len(n) > 1 else (0.0, s[0])
    return float(np.maximum(intercept + slope * run_sizes(), 0.0).sum())


def measure(dataset: Any, order: np.ndarray, settings: dict[str, int], round_figures: dict[str, Any]) -> dict[str, Any]:
    """Time fits in both precisions and derive the round ratios and run minutes (JSON-ready figures).

    `order` is the bench's permutation of the pool (its first `labelled` images are the bench's labelled
    set); `round_figures` the bench's measured round (acquire_s, evaluate_s, training_s, round_s).
    """
    from baltui.core import cpu
    from baltui.core.models.classifier import MCDropoutClassifier

    epochs, batch, repeats = settings["epochs"], settings["batch_size"], settings["repeats"]
    at = min(settings["labelled"], len(order))
    probes = probe_sizes(at, len(order))
    classifiers = {}
    for precision in PRECISIONS:
        clf = MCDropoutClassifier(dataset.input_shape, dataset.n_classes, 1, batch, train_precision=precision)
        clf.fit(dataset.x_pool[order[:batch]], dataset.y_pool[order[:batch]])  # traces the step
        clf.epochs = epochs
        classifiers[precision] = clf
    fit_s: dict[str, dict[int, float]] = {p: {} for p in PRECISIONS}
    accuracy: dict[str, float] = {}
    for _ in range(repeats):
        for n in probes:
            X, y = dataset.x_pool[order[:n]], dataset.y_pool[order[:n]]
            for precision, clf in classifiers.items():  # interleaved: the same load on both
                clf.rng = np.random.default_rng(1)
                t0 = time.perf_counter()
                clf.fit(X, y)
                fit_s[precision][n] = min(fit_s[precision].get(n, np.inf), time.perf_counter() - t0)
                if n == at:
                    accuracy[precision] = clf.score(dataset.x_test, dataset.y_test)

    rd, base = round_figures, fit_s["float32"][at]
    figures: dict[str, Any] = {
        "cpu_features": cpu.cpu_features().to_dict(), "bf16_matmul_native": cpu.bf16_matmul_native(),
        "images": at, "epochs": epochs, "probe_sizes": probes, "speedup": base / fit_s["bfloat16"][at],
        "run": {"initial": RUN_INITIAL, "queries": RUN_QUERIES, "instances": RUN_INSTANCES},
    }
    for precision, clf in classifiers.items():
        fit = fit_s[precision][at]
        round_training = rd["training_s"] * fit / base
        round_s = rd["round_s"] - rd["training_s"] + round_training
        training_s = run_training_s(fit_s[precision])
        run_s = training_s + RUN_QUERIES * rd["acquire_s"] + (RUN_QUERIES + 1) * rd["evaluate_s"]
        figures[precision] = {
            "fit_s": fit, "epoch_s": fit / epochs,
            "fit_s_by_labelled": {str(n): t for n, t in fit_s[precision].items()},
            "accuracy": accuracy[precision], "round_ratio": round_s / round_training, "run_minutes": run_s / 60,
            "run_training_minutes": training_s / 60, "max_traces": max(clf.tracing_counts().values()),
        }
    return figures


def rows(figures: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """The bench table's rows (figure, value, target, note) for `figures["train_precision"]`."""
    from baltui.core.models.precision import AUTO_MIN_SPEEDUP

    tp = figures["train_precision"]
    f32, bf16 = tp["float32"], tp["bfloat16"]
    met = tp["speedup"] >= AUTO_MIN_SPEEDUP
    return [
        (f"train f32 | bf16, per epoch ({tp['images']:,} images)", f"{_s(f32['epoch_s'])} | {_s(bf16['epoch_s'])}",
         "", "bf16 native" if tp["bf16_matmul_native"] else "bf16 emulated"),
        (f"train f32 | bf16, whole fit ({tp['epochs']} epochs)", f"{_s(f32['fit_s'])} | {_s(bf16['fit_s'])}", "",
         f"acc {f32['accuracy']:.3f} | {bf16['accuracy']:.3f}"),
        ("  bf16 training speed-up (auto's bar)", f"{tp['speedup']:.2f}x", f">= {AUTO_MIN_SPEEDUP}x",
         mark(met, checked(figures))),
        ("  round / its training, f32 | bf16", f"{f32['round_ratio']:.2f}x | {bf16['round_ratio']:.2f}x"),
        (f"  {tp['run']['queries']}-query run per strategy, f32 | bf16",
         f"{f32['run_minutes']:.1f} | {bf16['run_minutes']:.1f} min"),
    ]


def caption(figures: dict[str, Any]) -> str:
    """The one line under the table that says how the bf16 round and the run minutes are estimated."""
    tp = figures["train_precision"]
    queries = tp["run"]["queries"]
    return (f"bf16 round: the round with its training scaled by the fit times; {queries}-query run: a line through "
            f"the fit times at {'/'.join(map(str, tp['probe_sizes']))} labels summed over its {queries + 1} fits, "
            f"+ the round's acquisition x{queries} and evaluation x{queries + 1}")


def add_to(table: Any, figures: dict[str, Any]) -> None:
    """Append the rows, and the caption line, to the bench's rich table."""
    for row in rows(figures):
        table.add_row(*row)
    table.caption = f"{table.caption}\n{caption(figures)}" if table.caption else caption(figures)


def _s(s: float) -> str:
    return f"{s * 1000:.0f} ms" if s < 1 else f"{s:.2f} s"
