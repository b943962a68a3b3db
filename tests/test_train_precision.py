"""--train-precision: mixed bfloat16 training with float32 sampling and evaluation, the setting, and its bench rows.

A bfloat16 run trains a mixed-bfloat16 twin and copies its weights into the float32 model after each fit, so
everything the run records (MC-dropout scores, test accuracy) is computed in float32 from weights trained in
bfloat16. These tests train tiny digits models in both precisions and check exactly that, plus the CPU feature
detection that decides "native", the config/CLI/report/provenance handling and the bench's precision figures.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from baltui.cli import main
from baltui.core import cpu
from baltui.core.config import RunConfig, build_config, load_preset, migrate_config, warn_train_precision
from baltui.core.cpu import CpuFeatures, parse_cpuinfo
from baltui.core.errors import BaltuiError
from baltui.core.models import precision
from baltui.core.models.precision import emulation_warning, resolve_train_precision

TINY = ["--queries", "1", "--instances", "5", "--epochs", "2", "--mc-samples", "3", "--subset", "100",
        "--strategies", "entropy"]
NATIVE, EMULATED = CpuFeatures(avx512_bf16=True), CpuFeatures()


def _features(monkeypatch, features: CpuFeatures) -> None:
    """Pretend this machine has `features` (everything asks `cpu.cpu_features()` through the module)."""
    monkeypatch.setattr(cpu, "cpu_features", lambda: features)


# ---- what the CPU does natively -------------------------------------------------------------------------
@pytest.mark.parametrize("flags, avx512, amx", [
    ("fpu avx2 avx512f avx512_bf16 avx512_vnni", True, False),  # AMD Zen 4, Intel Cooper Lake
    ("fpu avx512_bf16 amx_bf16 amx_tile amx_int8", True, True),  # Intel Sapphire Rapids
    ("fpu avx2 fma avx512_bf16x", False, False),  # a longer flag is not the flag
    ("fpu avx2 fma", False, False),
])
def test_cpu_features_come_from_the_flags_line(flags, avx512, amx):
    features = parse_cpuinfo(f"processor\t: 0\nmodel name\t: X\nflags\t\t: {flags}\nbugs\t\t: amx_bf16\n")
    assert (features.avx512_bf16, features.amx_bf16) == (avx512, amx)
    assert features.bf16_matmul is (avx512 or amx)
    assert features.to_dict() == {"avx512_bf16": avx512, "amx_bf16": amx}


def test_no_cpuinfo_means_no_native_bfloat16(tmp_path, monkeypatch):
    assert parse_cpuinfo("") == CpuFeatures()
    monkeypatch.setattr(cpu, "CPUINFO", tmp_path / "missing")
    cpu.cpu_features.cache_clear()
    try:
        assert cpu.cpu_features() == CpuFeatures() and not cpu.bf16_matmul_native() and not cpu.amx_native()
    finally:
        cpu.cpu_features.cache_clear()


def test_native_has_one_meaning_for_training_and_another_gate_for_evaluation(monkeypatch):
    """avx512_bf16 alone makes bfloat16 matmuls native (training) but keeps the evaluation twin off (AMX only)."""
    from baltui.core.models.classifier import CHECKED_MIN_IMAGES, MCDropoutClassifier

    clf = MCDropoutClassifier((8, 8, 1), 10, epochs=1)
    for features, matmul, amx in ((NATIVE, True, False), (CpuFeatures(amx_bf16=True), True, True),
                                  (EMULATED, False, False)):
        _features(monkeypatch, features)
        assert (cpu.bf16_matmul_native(), cpu.amx_native()) == (matmul, amx)
        assert clf.checks_bfloat16(CHECKED_MIN_IMAGES) is amx


# ---- the rule and the setting ----------------------------------------------------------------------------
def test_auto_is_float32_until_the_verdict_and_then_bfloat16_only_where_native(monkeypatch):
    for features in (NATIVE, EMULATED, CpuFeatures(amx_bf16=True)):
        assert resolve_train_precision("auto", features) == "float32"
        assert resolve_train_precision("bfloat16", features) == "bfloat16"
        assert resolve_train_precision("float32", features) == "float32"
    monkeypatch.setattr(precision, "AUTO_PICKS_BFLOAT16", True)
    assert resolve_train_precision("auto", NATIVE) == "bfloat16"
    assert resolve_train_precision("auto", EMULATED) == "float32"
    with pytest.raises(ValueError, match="fp8"):
        resolve_train_precision("fp8", NATIVE)


def test_the_config_holds_the_resolved_precision(monkeypatch):
    assert RunConfig().train_precision == "float32"
    assert build_config(load_preset("quick")).train_precision == "float32"
    assert build_config(load_preset("quick"), {"train_precision": "auto"}).train_precision == "float32"
    monkeypatch.setattr(precision, "AUTO_PICKS_BFLOAT16", True)
    _features(monkeypatch, NATIVE)
    assert build_config(load_preset("quick"), {"train_precision": "auto"}).train_precision == "bfloat16"
    _features(monkeypatch, EMULATED)
    assert build_config(load_preset("quick"), {"train_precision": "auto"}).train_precision == "float32"
    with pytest.raises(BaltuiError, match="'train_precision' must be one of auto, float32, bfloat16, got 'fp8'"):
        build_config({"name": "mine", "train_precision": "fp8"})
    assert migrate_config({"strategies": ["bald"]})["train_precision"] == "float32"
    assert migrate_config({"train_precision": "bfloat16"})["train_precision"] == "bfloat16"


def test_a_bad_train_precision_flag_is_one_line_and_exit_2(capsys):
    assert main(["--no-ui", "--train-precision", "fp8"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "'train_precision' must be one of auto, float32, bfloat16, got 'fp8'" in err


def test_bfloat16_without_native_support_is_allowed_with_one_warning(monkeypatch, capsys):
    """Allowed, not refused: emulated bfloat16 is slower but as valid, and a folder must resume anywhere."""
    config = build_config(load_preset("quick"), {"train_precision": "bfloat16"})
    _features(monkeypatch, NATIVE)
    assert warn_train_precision(config) is None and capsys.readouterr().err == ""
    _features(monkeypatch, EMULATED)
    line = warn_train_precision(config)
    assert line and "emulates" in line
    assert capsys.readouterr().err == f"baltui: warning: {line}\n"
    assert emulation_warning("float32", EMULATED) is None


@pytest.mark.slow
def test_a_run_records_its_precision_and_resume_cannot_change_it(tmp_path, monkeypatch, capsys):
    _features(monkeypatch, EMULATED)
    out = tmp_path / "bf16"
    assert main(["--no-ui", "--train-precision", "bfloat16", "--out", str(out), *TINY]) == 0
    assert capsys.readouterr().err.count("baltui: warning: training in bfloat16 on a CPU without native") == 1
    saved = json.loads((out / "config.json").read_text())
    assert saved["train_precision"] == "bfloat16" and saved["provenance"]["training"] == "bfloat16"
    assert saved["provenance"]["cpu_features"] == {"avx512_bf16": False, "amx_bf16": False}
    assert main(["--no-ui", "--resume", str(out), "--train-precision", "float32", "--queries", "2"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--train-precision would change it" in err[0]
    # resumed, the run keeps training in bfloat16 (and says again that this CPU emulates it)
    assert main(["--no-ui", "--resume", str(out), "--queries", "2"]) == 0
    assert "emulates it" in capsys.readouterr().err
    assert json.loads((out / "config.json").read_text())["train_precision"] == "bfloat16"

    auto = tmp_path / "auto"
    assert main(["--no-ui", "--train-precision", "auto", "--out", str(auto), *TINY]) == 0
    saved = json.loads((auto / "config.json").read_text())
    assert saved["train_precision"] == "float32" and saved["provenance"]["training"] == "float32"


def test_report_groups_by_precision_and_says_float32_nowhere_it_did_not_before(tmp_path):
    from baltui.commands.report import build_report, load_folders, notes

    folders = []
    for name, prec in (("a", None), ("b", "bfloat16")):  # "a": a folder from before the setting
        folder = tmp_path / name
        folder.mkdir()
        config = {"strategies": ["uniform"], "seeds": [0], "dataset": "digits"}
        if prec:
            config["train_precision"] = prec
        (folder / "config.json").write_text(json.dumps(config))
        record = {"type": "query", "run_id": "uniform-s0", "strategy": "uniform", "seed": 0, "query": 0,
                  "n_labelled": 20, "accuracy": 0.5}
        (folder / "results.jsonl").write_text(json.dumps(record) + "\n")
        folders.append(str(folder))
    alone = build_report(load_folders(folders[:1]))
    assert "train_precision" not in " ".join(notes(alone))
    assert "train_precision bfloat16" in " ".join(notes(build_report(load_folders(folders[1:]))))
    both = build_report(load_folders(folders))
    assert both.differing == ["train_precision"]
    assert sorted(both.label(s) for s in both.summaries) == ["uniform (train_precision=bfloat16)",
                                                              "uniform (train_precision=float32)"]


# ---- the model: trained in bfloat16, sampled and evaluated in float32 --------------------------------------
def test_bfloat16_training_feeds_a_float32_model_that_samples_and_evaluates(digits):
    from baltui.core.models.classifier import MCDropoutClassifier

    X, y, X_test = digits.x_pool[:300], digits.y_pool[:300], digits.x_test
    clf32 = MCDropoutClassifier(digits.input_shape, 10, epochs=10, batch_size=32)
    clf16 = MCDropoutClassifier(digits.input_shape, 10, epochs=10, batch_size=32, train_precision="bfloat16")
    assert (clf32.train_precision, clf16.train_precision) == ("float32", "bfloat16")
    assert clf32._training.model is clf32.model and clf32._training_dropouts == []  # float32: nothing added
    twin = clf16._training.model
    assert twin is not clf16.model
    assert [layer.compute_dtype for layer in twin.layers if layer.weights] == ["bfloat16"] * 3 + ["float32"]
    assert {layer.compute_dtype for layer in clf16.model.layers} == {"float32"}
    # the same rng draws the same fresh weights in both precisions (the twin's initialisers are the model's)
    clf32.rng, clf16.rng = np.random.default_rng(5), np.random.default_rng(5)
    clf32.reinitialise()
    clf16.reinitialise()
    assert all(np.array_equal(a, b) for a, b in zip(clf32.model.get_weights(), twin.get_weights(), strict=True))

    for clf in (clf32, clf16):
        clf.rng = np.random.default_rng(0)
        clf.fit(X, y)
    # master weights and Adam's state are float32; the float32 model holds the twin's trained weights
    assert {v.dtype for v in twin.weights} | {v.dtype for v in clf16.optimizer.variables
                                               if "iteration" not in v.path} == {"float32"}
    trained = clf16.model.get_weights()
    assert all(np.array_equal(a, b) for a, b in zip(trained, twin.get_weights(), strict=True))
    # ...trained in bfloat16 arithmetic (not float32's weights), and as well on the test set
    assert max(np.abs(a - b).max() for a, b in zip(trained, clf32.model.get_weights(), strict=True)) > 1e-3
    acc32, acc16 = clf32.score(X_test, digits.y_test), clf16.score(X_test, digits.y_test)
    assert acc16 > 0.3 and abs(acc16 - acc32) < 0.1, (acc32, acc16)

    # sampling and evaluation are float32's: exactly what a float32 classifier with these weights computes,
    # where the twin (bfloat16 arithmetic) would be off by bfloat16's rounding
    ref = MCDropoutClassifier(digits.input_shape, 10)
    ref.model.set_weights(trained)
    probs = clf16.predict_proba(X_test)
    assert probs.dtype == np.float32 and np.array_equal(probs, ref.predict_proba(X_test))
    assert np.abs(twin(X_test.astype(np.float32), training=False).numpy() - probs).max() > 1e-4
    samples = clf16.mc_predict_proba(X_test[:100], 8, seed=3)
    assert samples.dtype == np.float32 and np.array_equal(samples, ref.mc_predict_proba(X_test[:100], 8, seed=3))
    assert clf16.score(X_test, digits.y_test) == ref.score(X_test, digits.y_test)

    # deterministic for a given rng: the twin's dropout is seeded from it too
    clf16.rng = np.random.default_rng(0)
    clf16.fit(X, y)
    assert all(np.array_equal(a, b) for a, b in zip(trained, clf16.model.get_weights(), strict=True))


def test_bfloat16_early_stopping_validates_the_weights_being_trained(digits):
    from baltui.core.models.classifier import MCDropoutClassifier

    clf = MCDropoutClassifier(digits.input_shape, 10, epochs=10, batch_size=32, early_stopping=2,
                              train_precision="bfloat16")
    clf.validation = (digits.x_pool[300:500], digits.y_pool[300:500])
    clf.fit(digits.x_pool[:300], digits.y_pool[:300])
    # the best epoch's weights are kept, and they are the ones whose validation accuracy was measured
    assert clf.last_validation_accuracy > 0.3
    assert clf._validation_accuracy() == clf.last_validation_accuracy


def test_nothing_retraces_in_bfloat16(digits):
    from baltui.core.models.classifier import MCDropoutClassifier

    clf = MCDropoutClassifier(digits.input_shape, 10, epochs=1, batch_size=16, train_precision="bfloat16")
    for n in (20, 37, 64):  # labelled sets of changing size: ragged last batches too
        clf.fit(digits.x_pool[:n], digits.y_pool[:n])
        for path in ("compact", "tiled"):  # the TensorFlow heads (the sparse one is numba's)
            clf.mc_predict_proba(digits.x_pool[: n + 3], 4, seed=n, path=path)
        clf.mc_predict_proba_full(digits.x_pool[:n], 2, seed=n)
        clf.predict_proba(digits.x_test[: n + 5])
    counts = clf.tracing_counts()
    used = ("train_epoch", "infer", "features", "full_sample", "compact_sample", "tiled_sample")
    assert [counts[name] for name in used] == [1] * len(used) and max(counts.values()) == 1, counts


# ---- bench ---------------------------------------------------------------------------------------------------
def test_the_run_estimate_sums_a_line_through_the_measured_fits():
    from baltui.commands.bench_precision import probe_sizes, run_sizes, run_training_s

    sizes = run_sizes()
    assert (sizes[0], sizes[-1], len(sizes)) == (20, 1020, 101)
    assert probe_sizes(500, 60_000) == [20, 500, 1020] and probe_sizes(100, 300) == [20, 100, 300]
    # fits costing 1 ms per labelled image: the run costs the sum of its sizes
    assert run_training_s({20: 0.02, 500: 0.5, 1020: 1.02}) == pytest.approx(sizes.sum() / 1000)


@pytest.mark.slow
def test_bench_times_both_precisions_through_baltuis_step(digits):
    from baltui.commands.bench_precision import caption, measure, rows

    settings = {"labelled": 60, "epochs": 1, "batch_size": 32, "repeats": 1}
    round_figures = {"acquire_s": 0.5, "evaluate_s": 0.25, "training_s": 2.0, "round_s": 3.0}
    order = np.random.default_rng(0).permutation(len(digits.y_pool))
    tp = measure(digits, order, settings, round_figures)
    assert tp["probe_sizes"] == [20, 60, 1020] and tp["images"] == 60
    for p in ("float32", "bfloat16"):
        f = tp[p]
        assert f["fit_s"] > 0 and f["epoch_s"] == f["fit_s"] and f["max_traces"] == 1
        assert set(f["fit_s_by_labelled"]) == {"20", "60", "1020"}
        # the run: its training, plus 100 acquisitions and 101 evaluations of the round's
        assert f["run_minutes"] == pytest.approx(f["run_training_minutes"] + (100 * 0.5 + 101 * 0.25) / 60)
        training = 2.0 * f["fit_s"] / tp["float32"]["fit_s"]
        assert f["round_ratio"] == pytest.approx((1.0 + training) / training)
    assert tp["float32"]["round_ratio"] == pytest.approx(1.5)
    assert tp["speedup"] == pytest.approx(tp["float32"]["fit_s"] / tp["bfloat16"]["fit_s"])
    assert tp["cpu_features"] == cpu.cpu_features().to_dict()
    table = rows({"train_precision": tp})
    assert [r[0].strip().split(",")[0] for r in table] == [
        "train f32 | bf16", "train f32 | bf16", "bf16 training speed-up (auto's bar)", "round / its training",
        "100-query run per strategy"]
    assert table[2][1:] == (f"{tp['speedup']:.2f}x", ">= 1.2x", "[green]met[/]" if tp["speedup"] >= 1.2
                            else "[red]not met[/]")
    assert "20/60/1020 labels summed over its 101 fits" in caption({"train_precision": tp})
