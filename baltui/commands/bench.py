"""`baltui bench`: the query loop's costs, the seed's way against baltui's, in one process on one data set.

Why one process: on a shared 2-core machine absolute seconds drift with whatever else runs, but two
ways timed back to back on the same data, model and threads give a ratio that means something. The
figures:

- acquisition: T full stochastic passes (the seed) vs the cached prefix + sampled head, after one
  warm-up each, on `--subset` pool images of a model trained on `--labelled` images; the speed-up;
- training per epoch, and evaluation on the whole test set (batched, inference mode);
- one full query round as the engine runs it (acquire -> teach -> evaluate, through the same
  `baltui.core.loop.ActiveLearningLoop`, model and regime), against the pure training time inside it;
- how close training runs to the machine's arithmetic limit: training FLOPs counted from the layer
  shapes (forward multiply-adds x 2, backward ~2x forward) over the measured time, against a large
  float32 matmul timed in the same process.

`--model NAME` times that architecture in its paper's training regime (epochs, batch size, epoch draws,
early stopping on validation images set aside from the pool), as `baltui --model NAME` runs it; flags win
over the regime, as they do there.

Targets (issue 4): acquisition >= 5x faster than T full passes; a round <= 1.2x its training time.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from baltui.commands.bench_marks import SMOKE_RUN, mark
from baltui.commands.bench_marks import checked as targets_checked
from baltui.commands.parsing import OneLineParser
from baltui.commands.timing import best_time, timed
from baltui.core.errors import BaltuiError

TARGET_SPEEDUP = 5.0
TARGET_ROUND_RATIO = 1.2
PAPER = dict(mc_samples=100, subset=2000, labelled=500, epochs=50, batch_size=128, instances=10, matmul=2048)
QUICK = dict(mc_samples=10, subset=200, labelled=100, epochs=2, batch_size=32, instances=10, matmul=256)


def make_parser() -> argparse.ArgumentParser:
    p = OneLineParser(
        prog="baltui bench",
        description="Time MC-dropout acquisition (seed's way vs split head), training, evaluation and a full "
        "query round in one process; print the figures against the targets.",
    )
    p.add_argument("--data", help="an .npz with x_train, y_train, x_test, y_test (default: bundled digits)")
    p.add_argument("--mc-samples", type=int, dest="mc_samples", help="MC dropout samples T (default 100)")
    p.add_argument("--subset", type=int, help="pool images scored per query (default 2000)")
    p.add_argument("--labelled", type=int, help="labelled images the model trains on (default 500)")
    p.add_argument("--epochs", type=int, help="training epochs (default 50)")
    p.add_argument("--batch-size", type=int, dest="batch_size", help="training batch size (default 128)")
    p.add_argument("--model", default="seed", help="architecture, trained in its paper's regime: seed (default) or "
                   "batchbald2019 (28x28 images or larger)")
    p.add_argument("--repeats", type=int, default=1, help="timed repeats per figure, best kept (default 1)")
    p.add_argument("--quick", action="store_true", help="tiny settings (seconds): a smoke test of the bench")
    p.add_argument("--json", metavar="FILE", help="also write the figures to FILE as JSON")
    return p


# The training regime's settings and their values without a model regime (the seed's training).
NO_REGIME = dict(epoch_draws=0, early_stopping=0, validation=0)


def _settings(args: argparse.Namespace) -> dict[str, Any]:
    """The bench's sizes (--quick or the paper's), the model's regime over them, the flags given over both."""
    from baltui.core.models import model_spec

    spec = model_spec(args.model)
    s: dict[str, Any] = {**(QUICK if args.quick else PAPER), **NO_REGIME, **spec.regime}
    s.update({k: getattr(args, k) for k in s if getattr(args, k, None) is not None})
    s["repeats"], s["model"], s["quick"] = args.repeats, spec.name, bool(args.quick)
    for key in ("mc_samples", "subset", "labelled", "epochs", "batch_size", "repeats"):
        if s[key] < 1:
            raise BaltuiError(f"bench: --{key.replace('_', '-')} must be at least 1, got {s[key]}")
    return s


def forward_macs(model: Any) -> int:
    """Multiply-adds of one image's forward pass, from the layers' kernel and output shapes.

    Conv2D: output positions x (kh x kw x cin/groups x cout); Dense: kernel size x positions it is
    applied at. Pooling, activations and dropout are not multiply-adds (and are a few % of the time).
    """
    import keras

    total = 0
    for layer in model.layers:
        kernel = getattr(layer, "kernel", None)
        if kernel is None:
            continue
        if isinstance(layer, keras.layers.Conv2D):
            positions = int(np.prod(layer.output.shape[1:-1]))
        elif isinstance(layer, keras.layers.Dense):
            positions = int(np.prod(layer.input.shape[1:-1] or [1]))
        else:
            continue
        total += positions * int(np.prod(kernel.shape))
    return total


def agreement_z(P_new: np.ndarray, P_old: np.ndarray) -> float:
    """Largest |z| over (point, class) of the difference of the two T-sample mean probabilities.

    Both ways estimate the same mean; z = difference / its standard error. Under that null the
    largest of N x C values is sqrt(2 ln(N x C))-ish, about 4.4 for 2,000 x 10 (more for a small T,
    whose variance estimates are rough); far more means the two ways sample different distributions.
    """
    T = P_new.shape[0]
    a, b = P_new.astype(np.float64), P_old.astype(np.float64)
    se = np.sqrt((a.var(axis=0) + b.var(axis=0)) / T)
    diff = np.abs(a.mean(axis=0) - b.mean(axis=0))
    z = np.where(se > 0, diff / np.maximum(se, 1e-12), np.where(diff > 1e-6, np.inf, 0.0))
    return float(z.max())


def round_floor(clf: Any, figures: dict[str, Any], image_epochs: int, n_test: int, subset: int, T: int,
                density: float, path: str) -> dict[str, float]:
    """What the round would cost if acquisition and evaluation ran at training's FLOP/s, with no overhead.

    Counts FLOPs as `forward_macs` does: training 3 x 2 x MACs per image-epoch (`image_epochs`: images
    per epoch x epochs of the round's fit); evaluation 2 x MACs
    per test image (in float32); acquisition 2 x prefix MACs per scored image plus T x 2 x head MACs,
    where the compact head only multiplies the non-zero share (`density`) of the first Dense's
    inputs, and the sparse head a full sum once per point plus, per sample, only the dropped share
    (min(rate, 1 - rate)) of those. The ratio floor takes the evaluation as run where that beats its
    float32 floor (bfloat16 on AMX does), so it stays a floor for the round actually measured.
    """
    import keras

    rd = figures["round"]
    total = forward_macs(clf.model)
    head_dense = [layer for layer in clf.head.layers if isinstance(layer, keras.layers.Dense)]
    first = int(np.prod(head_dense[0].kernel.shape)) if head_dense else 0
    rate = float(clf.head.layers[0].rate) if path == "sparse" else 0.0
    share = {"compact": density, "sparse": density * min(rate, 1.0 - rate)}.get(path, 1.0)
    head = forward_macs(clf.head) - (1.0 - share) * first
    once = density * first if path == "sparse" else 0.0
    rate_flops = 3 * 2 * total * image_epochs / rd["training_s"]  # training's FLOP/s in this round
    acquire = (2 * subset * (forward_macs(clf.prefix) + once) + 2 * T * subset * head) / rate_flops
    evaluate = 2 * total * n_test / rate_flops
    return {
        "acquire_floor_s": acquire, "evaluate_f32_floor_s": evaluate,
        "arithmetic_floor": 1.0 + (acquire + min(evaluate, rd["evaluate_s"])) / rd["training_s"],
    }


def matmul_flops(tf: Any, n: int, repeats: int) -> float:
    """float32 FLOP/s of an n x n matmul chain: what the two cores can do on dense arithmetic."""
    a = tf.random.stateless_normal([n, n], seed=[1, 2]) / math.sqrt(n)
    inner = max(1, int(2e10 // (2 * n**3)))  # ~20 GFLOP per timing, so call overhead is negligible

    @tf.function
    def chain(x: Any) -> Any:
        for _ in range(inner):
            x = tf.linalg.matmul(x, a)
        return x

    chain(a).numpy()  # trace + warm-up
    return 2 * n**3 * inner / best_time(lambda: chain(a).numpy(), max(repeats, 2))


def run(settings: dict[str, Any], data_path: str | None) -> dict[str, Any]:
    """Measure everything; returns the figures (JSON-ready)."""
    from baltui.core.data import load_digits, load_npz
    from baltui.core.models import MODELS

    dataset = load_npz(data_path) if data_path else load_digits()
    MODELS[settings["model"]].check_fits(dataset.input_shape)
    labelled, subset, validation = settings["labelled"], settings["subset"], settings["validation"]
    if labelled + subset + settings["instances"] + validation > len(dataset.y_pool):
        held = f" + {validation} validation images (model {settings['model']}'s regime)" if validation else ""
        raise BaltuiError(
            f"bench: --labelled {labelled} + --subset {subset} + {settings['instances']} queried images{held} need "
            f"more than the {len(dataset.y_pool)} pool images of {dataset.name}; lower them"
        )

    from baltui.core.acquisition import entropy_scores, top_k
    from baltui.core.loop import ActiveLearningLoop, LoopSettings
    from baltui.core.models.classifier import tf

    repeats, T, instances = settings["repeats"], settings["mc_samples"], settings["instances"]
    order = np.random.default_rng(0).permutation(len(dataset.y_pool))
    lab_idx = order[:labelled]
    X_lab, y_lab = dataset.x_pool[lab_idx], dataset.y_pool[lab_idx]
    X_sub = dataset.x_pool[order[labelled : labelled + subset]]
    held_out = order[len(order) - validation :] if validation else order[:0]  # never labelled, never queried
    figures: dict[str, Any] = {
        "machine": {
            "cpu_cores": os.cpu_count(), "processor": platform.processor() or platform.machine(),
            "tensorflow": tf.__version__, "load_average_at_start": list(os.getloadavg()),
        },
        "data": {"name": dataset.name, "pool": int(len(dataset.y_pool)), "test": int(len(dataset.y_test)),
                 "image_shape": list(dataset.input_shape)},
        "settings": dict(settings),
    }

    figures["matmul_flops"] = matmul_flops(tf, settings["matmul"], repeats)

    # The engine's round: the model in its regime, the strategy, modAL's learner (entropy: independent masks).
    loop = ActiveLearningLoop.build(
        LoopSettings("entropy", model=settings["model"], epochs=settings["epochs"], batch_size=settings["batch_size"],
                     epoch_draws=settings["epoch_draws"], early_stopping=settings["early_stopping"],
                     mc_samples=T, subset=subset),
        dataset.x_pool, dataset.n_classes, dataset.y_pool,
        validation=(dataset.x_pool[held_out], dataset.y_pool[held_out]) if validation else None,
    )
    clf = loop.classifier

    # Training: a 1-epoch fit traces the step; then the timed fits at the real epoch count.
    clf.fit(X_lab[: settings["batch_size"]], y_lab[: settings["batch_size"]], epochs=1)

    def fit() -> None:
        clf.rng = np.random.default_rng(1)
        clf.fit(X_lab, y_lab)

    fit_s = best_time(fit, repeats)
    epochs_run = clf.last_fit.epochs  # early stopping may stop before settings["epochs"]
    per_epoch = settings["epoch_draws"] or labelled  # images drawn per epoch
    macs = forward_macs(clf.model)
    train_flop = 3 * 2 * macs * per_epoch * epochs_run
    figures["training"] = {
        "images": per_epoch, "epochs": epochs_run, "batch_size": settings["batch_size"],
        "fit_s": fit_s, "epoch_s": fit_s / epochs_run, "forward_macs_per_image": macs,
        "flop": train_flop, "flops": train_flop / fit_s,
        "fraction_of_matmul": train_flop / fit_s / figures["matmul_flops"],
    }

    # Evaluation on the whole test set: float32, as the engine scores every query, and (on CPUs with
    # AMX) the bfloat16 pass with float32 rechecks that `predict` uses there.
    from baltui.core.cpu import amx_native

    def evaluate(precision: str) -> tuple[float, np.ndarray]:
        clf.predict(dataset.x_test[:16], precision)  # warm-up (traces inference)
        return timed(lambda: clf.predict(dataset.x_test, precision), repeats)

    eval_s, labels32 = evaluate("float32")
    figures["evaluation"] = {
        "images": int(len(dataset.y_test)), "s": eval_s,
        "flops": 2 * macs * len(dataset.y_test) / eval_s,
        "accuracy": float((labels32 == dataset.y_test).mean()), "amx_native": amx_native(),
    }
    if amx_native():
        checked_s, labels16 = evaluate("bfloat16")
        figures["evaluation"].update(
            checked_s=checked_s, checked_speedup=eval_s / checked_s,
            checked_rechecked=clf.last_evaluation.rechecked, checked_differ=int((labels16 != labels32).sum()),
        )

    # Acquisition, both ways: MC probabilities, then the entropy scores and top-k the engine takes.
    # Different seeds, so the two estimates are independent for the agreement check.
    def acquire(mc: Callable[..., np.ndarray], seed: int) -> Callable[[], np.ndarray]:
        def go() -> np.ndarray:
            P = mc(X_sub, T, seed=seed)
            top_k(entropy_scores(P), instances, np.random.default_rng(0))
            return P

        return go

    def on(**how: str) -> Callable[..., np.ndarray]:
        """mc_predict_proba with a mask mode or head chosen for these calls."""
        return lambda X, T, seed: clf.mc_predict_proba(X, T, seed=seed, **how)

    fast_way, seed_way = acquire(clf.mc_predict_proba, 3), acquire(clf.mc_predict_proba_full, 4)
    fast_way()  # warm-ups: the split head at the real T (which picks its path), the seed's at T=2
    clf.mc_predict_proba_full(X_sub, 2, seed=0)
    new_s, P_new = timed(fast_way, repeats)
    path, density = clf.last_mc_path, clf.last_mc_density
    old_s, P_old = timed(seed_way, repeats)
    figures["acquisition"] = {
        "T": T, "images": subset, "seed_way_s": old_s, "split_head_s": new_s, "speedup": old_s / new_s,
        "path": path, "feature_density": density, "target_speedup": TARGET_SPEEDUP,
        "met": old_s / new_s >= TARGET_SPEEDUP,
        "mean_prob_max_z": agreement_z(P_new, P_old),
        "mean_prob_max_z_noise": math.sqrt(2 * math.log(subset * dataset.n_classes)),
    }
    if path == "sparse":  # the TensorFlow-only compact head it replaced, for the record
        compact_way = acquire(on(path="compact"), 5)
        compact_way()
        figures["acquisition"]["compact_head_s"] = best_time(compact_way, repeats)

    # Consistent masks (one per sample for all points, what BatchBALD needs): the same call, side by side.
    consistent_way = acquire(on(masks="consistent"), 6)
    consistent_way()
    figures["acquisition"]["consistent_s"], P_cons = timed(consistent_way, repeats)
    figures["acquisition"]["consistent_path"] = clf.last_mc_path
    figures["acquisition"]["consistent_vs_independent"] = figures["acquisition"]["consistent_s"] / new_s
    figures["acquisition"]["consistent_mean_prob_max_z"] = agreement_z(P_cons, P_old)
    if min(dataset.input_shape[:2]) >= 28:
        figures["acquisition_batchbald2019"] = batchbald2019_acquisition(dataset, X_sub, T, repeats)

    # One query round as the engine runs it, on the model trained above (acquire -> teach -> evaluate);
    # each repeat starts again from the same labelled set, and the fastest round is kept.
    pool_idx = np.sort(order[labelled : len(order) - validation])

    def one_round(repeat: int) -> dict[str, Any]:
        loop.resume(lab_idx)  # the learner holds the labelled set; the classifier is already trained
        t0 = time.perf_counter()
        acquired = loop.acquire(pool_idx, instances, np.random.default_rng([4, repeat]))
        teach_s = loop.teach(acquired.chosen, np.random.default_rng([5, repeat]))
        evaluate_s = loop.evaluate(dataset.x_test, dataset.y_test).seconds
        round_s = time.perf_counter() - t0
        fit = clf.last_fit
        # Outside the round: the same evaluation in float32, as on CPUs without AMX bfloat16.
        evaluate_f32_s = best_time(lambda: clf.score(dataset.x_test, dataset.y_test, "float32"), 1)
        training_s = fit.seconds
        return {
            "labelled_after": labelled + instances, "acquire_s": acquired.seconds, "teach_s": teach_s,
            "evaluate_s": evaluate_s, "training_s": training_s, "round_s": round_s, "ratio": round_s / training_s,
            "target_ratio": TARGET_ROUND_RATIO, "met": round_s / training_s <= TARGET_ROUND_RATIO,
            "evaluate_f32_s": evaluate_f32_s,
            "ratio_f32_evaluation": (round_s - evaluate_s + evaluate_f32_s) / training_s,
            "image_epochs": (settings["epoch_draws"] or fit.images) * fit.epochs,
        }

    figures["round"] = min((one_round(r) for r in range(repeats)), key=lambda r: r["round_s"])
    figures["round"].update(round_floor(clf, figures, figures["round"]["image_epochs"], len(dataset.y_test), subset,
                                        T, density, path))
    figures["round"]["checked_evaluation"] = clf.checks_bfloat16(len(dataset.y_test))
    from baltui.commands.bench_strategies import strategy_costs  # issue 30: each strategy beside BALD

    figures["strategies"] = strategy_costs(clf, X_sub, X_lab, T, instances, repeats)
    from baltui.commands.bench_precision import measure as measure_precisions  # float32 vs bfloat16 training

    figures["train_precision"] = measure_precisions(dataset, order, settings, figures["round"])
    figures["tracing_counts"] = clf.tracing_counts()
    figures["retraced"] = any(c > 1 for c in figures["tracing_counts"].values())
    return figures


def batchbald2019_acquisition(dataset: Any, X: np.ndarray, T: int, repeats: int) -> dict[str, Any]:
    """Consistent MC acquisition with Kirsch et al. (2019)'s model, whose first dropout follows the first
    convolution: the split prefix is one conv layer, so almost the whole network runs per sample."""
    from baltui.core.models import MODELS
    from baltui.core.models.classifier import MCDropoutClassifier

    clf = MCDropoutClassifier(dataset.input_shape, dataset.n_classes, model_fn=MODELS["batchbald2019"].build,
                              mc_masks="consistent")
    heads = []  # (seconds, P, path): the generic masked head, then the channel head, on the same masks
    for path in ("consistent-tf", "consistent-channel"):
        clf.mc_predict_proba(X[:64], 2, seed=0, path=path)  # traces this head
        s, P = timed(lambda path=path: clf.mc_predict_proba(X, T, seed=7, path=path), repeats)
        heads.append((s, P, clf.last_mc_path))
    (masked_s, masked_P, masked_path), (s, P, path) = heads
    return {"s": s, "path": path, "masked_s": masked_s, "masked_path": masked_path,
            "per_image_sample_ms": s / (len(X) * T) * 1e3, "speedup_vs_masked": masked_s / s,
            "max_abs_diff_vs_masked": float(np.abs(P - masked_P).max())}


def _fmt_s(s: float) -> str:
    return f"{s * 1000:.0f} ms" if s < 1 else f"{s:.2f} s"


def _gflops(f: float) -> str:
    return f"{f / 1e9:.1f} GFLOP/s"





def _trained(s: dict[str, Any], tr: dict[str, Any]) -> str:
    """How the model was trained, in the caption: the seed's way as before, a model's regime in full."""
    model = "model" if s.get("model", "seed") == "seed" else f"{s['model']} model"
    text = f"{model} trained on {s['labelled']:,} images, {tr['epochs']} epochs"
    if s.get("epoch_draws"):
        text += f" of {s['epoch_draws']:,} draws"
    text += f" at batch {s['batch_size']}"
    if s.get("early_stopping"):
        text += f" (early stopping, patience {s['early_stopping']}, on {s['validation']:,} validation images)"
    return text


def render(figures: dict[str, Any]) -> Any:
    """The figures as a rich table: what was timed, the value, the target and whether it is met."""
    from rich.table import Table

    m, d, s = figures["machine"], figures["data"], figures["settings"]
    tr, ev, acq, rd = figures["training"], figures["evaluation"], figures["acquisition"], figures["round"]
    checked = targets_checked(figures)
    load = ", ".join(f"{x:.1f}" for x in m["load_average_at_start"])
    table = Table(
        title=f"baltui bench: {d['name']} (pool {d['pool']:,}, test {d['test']:,}), {m['cpu_cores']} CPU cores, "
        f"TF {m['tensorflow']}, load average {load} at start",
        caption=f"T={s['mc_samples']} on {s['subset']:,} pool images; {_trained(s, tr)}; round = query + teach "
        f"({rd['labelled_after']:,} images) + score; best of {s['repeats']}" + ("" if checked else f"; {SMOKE_RUN}"),
    )
    table.add_column("figure", no_wrap=True)
    table.add_column("value", justify="right")
    table.add_column("target", justify="right")
    table.add_column("", justify="left")
    table.add_row(f"acquire, seed's way ({acq['T']} full passes)", _fmt_s(acq["seed_way_s"]))
    if "compact_head_s" in acq:
        table.add_row("acquire, split head (compact, TF)", _fmt_s(acq["compact_head_s"]))
    table.add_row(f"acquire, split head ({acq['path']})", _fmt_s(acq["split_head_s"]))
    table.add_row("  speed-up", f"{acq['speedup']:.1f}x", f">= {acq['target_speedup']:.0f}x",
                  mark(acq["met"], checked))
    table.add_row("  same mean P? max |z| old vs new", f"{acq['mean_prob_max_z']:.1f}",
                  f"~{acq['mean_prob_max_z_noise']:.1f} (noise)")
    table.add_row(f"acquire, consistent masks ({acq['consistent_path']})", _fmt_s(acq["consistent_s"]), "",
                  f"{acq['consistent_vs_independent']:.2f}x independent")
    table.add_row("  same mean P? max |z| vs seed's way", f"{acq['consistent_mean_prob_max_z']:.1f}")
    if "acquisition_batchbald2019" in figures:
        bb = figures["acquisition_batchbald2019"]
        table.add_row(f"acquire, batchbald2019 model ({bb['masked_path']})", _fmt_s(bb["masked_s"]))
        table.add_row(f"acquire, batchbald2019 model ({bb['path']})", _fmt_s(bb["s"]), "",
                      f"{bb['per_image_sample_ms']:.3f} ms per image x sample")
        table.add_row("  speed-up, same P? max |diff|", f"{bb['speedup_vs_masked']:.1f}x", "",
                      f"{bb['max_abs_diff_vs_masked']:.1e}")
    table.add_row(f"train, per epoch ({tr['images']:,} images)", _fmt_s(tr["epoch_s"]))
    table.add_row(f"train, whole fit ({tr['epochs']} epochs)", _fmt_s(tr["fit_s"]))
    table.add_row(f"evaluate, f32 ({ev['images']:,} images)", _fmt_s(ev["s"]), "", f"acc {ev['accuracy']:.3f}")
    if "checked_s" in ev:
        table.add_row("evaluate, bf16 + f32 rechecks", _fmt_s(ev["checked_s"]), "",
                      f"{ev['checked_speedup']:.1f}x, {ev['checked_rechecked']:,} rechecked, "
                      f"{ev['checked_differ']} labels differ")
    table.add_row("round: acquire", _fmt_s(rd["acquire_s"]))
    table.add_row("round: teach (retrain)", _fmt_s(rd["teach_s"]), "", f"fit {_fmt_s(rd['training_s'])}")
    table.add_row("round: evaluate", _fmt_s(rd["evaluate_s"]))
    table.add_row("  round / its training", f"{rd['ratio']:.2f}x", f"<= {rd['target_ratio']:.1f}x",
                  mark(rd["met"], checked))
    if rd["checked_evaluation"]:
        table.add_row("  the same, evaluating in f32", f"{rd['ratio_f32_evaluation']:.2f}x", "", "no-AMX CPUs")
    table.add_row("  acquire at train's FLOP/s", _fmt_s(rd["acquire_floor_s"]))
    table.add_row("  floor: FLOPs at train's rate", f"{rd['arithmetic_floor']:.2f}x")
    if "strategies" in figures:  # issue 30: each strategy's acquisition against the round's training
        from baltui.commands.bench_strategies import strategy_rows

        for row in strategy_rows(figures["strategies"], rd["training_s"], checked):
            table.add_row(*row)
    table.add_row("train arithmetic rate", _gflops(tr["flops"]), "", f"{tr['flop'] / 1e9:.3g} GFLOP")
    table.add_row("evaluate arithmetic rate, f32", _gflops(ev["flops"]))
    table.add_row(f"float32 matmul {s['matmul']}x{s['matmul']}", _gflops(figures["matmul_flops"]))
    table.add_row("  train / matmul", f"{tr['fraction_of_matmul']:.0%}")
    from baltui.commands.bench_precision import add_to as add_precision_rows

    add_precision_rows(table, figures)  # float32 vs bfloat16 training
    traces = figures["tracing_counts"]
    table.add_row("tf.function traces, max", str(max(traces.values())), "1", mark(not figures["retraced"], checked))
    return table


def main(argv: list[str] | None = None) -> int:
    """`baltui bench ...`: print the table; BaltuiError (bad input) is reported by the CLI."""
    args = make_parser().parse_args(argv)
    settings = _settings(args)
    if args.data and not Path(args.data).is_file():
        raise BaltuiError(f"bench: data file {args.data} does not exist")
    if args.json:
        out = Path(args.json)
        if not out.parent.is_dir():
            raise BaltuiError(f"bench: cannot write {out}: folder {out.parent} does not exist")
    from rich.console import Console

    console = Console()
    with console.status("benchmarking (the seed's way takes longest)...", spinner="dots"):
        figures = run(settings, args.data)
    console.print(render(figures))
    if args.json:
        try:
            Path(args.json).write_text(json.dumps(figures, indent=2, default=_jsonable) + "\n")
        except OSError as exc:
            raise BaltuiError(f"bench: cannot write {args.json} ({exc.strerror})") from None
    return 0


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
