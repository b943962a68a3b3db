"""The sparse MC-dropout head (numba): exact arithmetic for its masks, Keras's keep rate, and
random numbers that do not depend on how the points are chunked.

The distribution-level check against T full passes is in test_model (path "sparse").
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from baltui.core.mc import sparse_head
from baltui.core.mc.sparse_head import drop_masks, drop_rule, sample_first_dense


@pytest.fixture(scope="module")
def layer():
    """Features with ~half zeros (as after ReLU + max-pooling) and a Dense of 168 units (one register
    block of 128, one of 32 and 8 more), so the compaction and every block loop run."""
    rng = np.random.default_rng(0)
    feats = np.maximum(rng.normal(size=(37, 150)), 0).astype(np.float32)
    kernel = rng.normal(size=(150, 168)).astype(np.float32) / 10
    bias = rng.normal(size=168).astype(np.float32)
    return feats, kernel, bias


@pytest.mark.parametrize("rate, rule", [(0.25, (1, 2)), (0.5, (1, 1)), (0.75, (3, 2)), (0.0, (0, 0)),
                                        (0.3, (math.ceil(0.3 * 2**23), 23))])
def test_drop_rule_gives_keras_probability_with_fewest_bits(rate, rule):
    m, bits = drop_rule(rate)
    assert (m, bits) == rule
    # Keras drops when a 23-bit uniform k < ceil(rate * 2^23)
    assert m / 2**bits == math.ceil(rate * 2**23) / 2**23


@pytest.mark.parametrize("rate", [0.25, 0.5, 0.7, 0.1])
@pytest.mark.parametrize("relu", [True, False])
def test_samples_equal_the_dense_layer_on_the_kernels_own_masks(layer, rate, relu):
    feats, kernel, bias = layer
    T = 6
    dropped = drop_masks(feats, T, rate, seed=11)
    got = sample_first_dense(feats, kernel, bias, T, rate, relu, seed=11)
    x = feats[:, None, :].astype(np.float64) * ~dropped / (1 - rate)
    want = x @ kernel.astype(np.float64) + bias
    if relu:
        want = np.maximum(want, 0)
    assert got.shape == (37, T, 168) and got.dtype == np.float32
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_zero_features_never_drop_and_the_drop_rate_is_the_layers(layer):
    feats, _, _ = layer
    T = 400
    dropped = drop_masks(feats, T, 0.25, seed=3)
    nonzero = np.broadcast_to(feats[:, None, :] != 0, dropped.shape)
    assert not dropped[~nonzero].any()
    n = nonzero.sum()
    assert abs(dropped[nonzero].mean() - 0.25) < 4 * math.sqrt(0.25 * 0.75 / n)
    # independent across samples and points: neighbouring decisions (of the same feature, non-zero in both)
    # are uncorrelated, to within 4 standard errors of a sample correlation (1 / sqrt(pairs))
    d = dropped.astype(np.float64)
    for a, b in ((d[:, 1:], d[:, :-1]), (d[1:], d[:-1])):
        both = nonzero[-a.shape[0]:, -a.shape[1]:] & nonzero[: a.shape[0], : a.shape[1]]
        pairs = int(both.sum())
        assert pairs > 100_000, pairs  # enough for the bound to be ~0.01 or tighter
        corr = np.corrcoef(a[both], b[both])[0, 1]
        assert abs(corr) < 4 / math.sqrt(pairs), (corr, pairs)


def test_the_following_dropout_zeroes_a_share_and_scales_the_rest(layer):
    feats, kernel, bias = layer
    plain = sample_first_dense(feats, kernel, bias, 50, 0.25, False, seed=5)
    both = sample_first_dense(feats, kernel, bias, 50, 0.25, False, seed=5, out_rate=0.5)
    kept = both != 0
    assert abs(kept.mean() - 0.5) < 0.01
    np.testing.assert_allclose(both[kept], 2 * plain[kept], rtol=1e-6)


@pytest.mark.parametrize("activation", ["softmax", "linear"])
def test_the_fused_output_layer_equals_applying_it_afterwards(layer, activation):
    """The same samples, then Dense(W2, b2): only float rounding (and zero-unit skipping) differs."""
    feats, kernel, bias = layer
    rng = np.random.default_rng(8)
    W2 = rng.normal(size=(kernel.shape[1], 7)).astype(np.float32)
    b2 = rng.normal(size=7).astype(np.float32)
    hidden = sample_first_dense(feats, kernel, bias, 6, 0.25, True, seed=3, out_rate=0.5)
    got = sample_first_dense(feats, kernel, bias, 6, 0.25, True, seed=3, out_rate=0.5, final=(W2, b2, activation))
    want = hidden.astype(np.float64) @ W2 + b2
    if activation == "softmax":
        want = np.exp(want - want.max(axis=-1, keepdims=True))
        want /= want.sum(axis=-1, keepdims=True)
    assert got.shape == (len(feats), 6, 7)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    no_bias = sample_first_dense(feats, kernel, bias, 6, 0.25, True, seed=3, out_rate=0.5, final=(W2, None, "linear"))
    np.testing.assert_allclose(no_bias, hidden.astype(np.float64) @ W2, rtol=1e-5, atol=1e-5)


def test_random_numbers_do_not_depend_on_chunking(layer):
    feats, kernel, bias = layer
    whole = sample_first_dense(feats, kernel, bias, 4, 0.25, True, seed=9, out_rate=0.5)
    tail = sample_first_dense(feats[20:], kernel, bias, 4, 0.25, True, seed=9, first=20, out_rate=0.5)
    assert np.array_equal(whole[20:], tail)
    assert not np.array_equal(whole, sample_first_dense(feats, kernel, bias, 4, 0.25, True, seed=10))


def test_the_kernels_compile_once(layer):
    feats, kernel, bias = layer
    sample_first_dense(feats, kernel, bias, 2, 0.25, True, seed=1)
    sample, masks = sparse_head.kernels()
    assert len(sample.signatures) == 1 and len(masks.signatures) == 1


def test_a_second_process_loads_the_compiled_kernels_from_the_disk_cache(layer):
    """The kernels take ~15 s to compile: the first process compiles and caches, later ones load."""
    import subprocess
    import sys

    sparse_head.kernels()  # compiled (or loaded) here, so the cache holds them
    files = list(sparse_head.cache_dir().glob("sparse_kernel_*.py"))
    assert files and any(sparse_head.cache_dir().glob("__pycache__/sparse_kernel_*.nbi"))
    code = "import time; from baltui.core.mc import sparse_head; t = time.perf_counter(); sparse_head.kernels(); " \
           "print(time.perf_counter() - t)"
    seconds = float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)
    assert seconds < 5.0, seconds


def test_an_unwritable_cache_directory_falls_back_to_a_temporary_one(tmp_path, monkeypatch):
    blocked = tmp_path / "file"
    blocked.write_text("not a directory")
    monkeypatch.setenv("BALTUI_CACHE_DIR", str(blocked / "cache"))
    path = sparse_head._kernel_file("x = 1\n")
    assert path.read_text() == "x = 1\n" and blocked not in path.parents
    assert sparse_head._kernel_file("x = 1\n").name == path.name  # named by the source's hash


def test_wide_vectors_never_override_the_users_numba_cpu_features(monkeypatch):
    from numba.core import config

    monkeypatch.setattr(config, "CPU_FEATURES", "+avx2")
    assert sparse_head._allow_wide_vectors() is False
    assert config.CPU_FEATURES == "+avx2"


def test_points_with_different_feature_counts_never_share_random_words():
    """Every (point, sample, word) has its own counter: points with 128 and 64 non-zero features (2 and
    1 words) used to overlap, which correlated different points' masks."""
    rng = np.random.default_rng(2)
    counts = [128, 64, 192, 64, 128]
    feats = np.zeros((len(counts), 256), np.float32)
    for n, k in enumerate(counts):
        feats[n, :k] = rng.random(k) + 0.1  # non-zero features first: word w is features 64w..64w+63
    dropped = drop_masks(feats, 8, 0.25, seed=3)
    words = [np.packbits(dropped[n, t, 64 * w : 64 * w + 64]).tobytes()
             for n, k in enumerate(counts) for t in range(8) for w in range(k // 64)]
    assert len(set(words)) == len(words)


def test_a_missing_home_directory_falls_back_to_a_temporary_cache(monkeypatch):
    def no_home() -> None:
        raise RuntimeError("Could not determine home directory.")

    monkeypatch.setattr(sparse_head, "cache_dir", no_home)
    assert sparse_head._kernel_file("y = 2\n").read_text() == "y = 2\n"


def test_the_rendered_kernel_module_compiles_and_is_ruff_clean():
    """The kernel is rendered from a template into the cache folder, where ruff never looks: render it here
    and check it as Python and with the project's ruff settings (run from the repository's root)."""
    import subprocess
    import sys
    from pathlib import Path

    source = sparse_head._source()
    name = sparse_head.kernel_file_name(source)
    assert name.startswith("sparse_kernel_generated_by_baltui_sparse_head_") and name.endswith(".py")
    compile(source, name, "exec")
    assert all(f"s{width - 1} += a * Wf[o + np.uint64({width - 1})]" in source for width in sparse_head.BLOCKS)
    proc = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", "--stdin-filename", name, "-"],
                          input=source, capture_output=True, text=True, cwd=Path(__file__).resolve().parents[1])
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_the_kernels_first_use_in_a_process_is_announced_once(digits):
    """The engine shows "compiling the MC kernel" as its own phase: the callback fires before the first
    load (or compile) of the kernel in a process, and not again once it is loaded."""
    from baltui.core.mc import sparse_head
    from baltui.core.models.classifier import MCDropoutClassifier

    announced: list[int] = []
    clf = MCDropoutClassifier(digits.input_shape, 10, epochs=1, batch_size=16, on_compile=lambda: announced.append(1))
    clf.fit(digits.x_pool[:40], digits.y_pool[:40])
    sparse_head.kernels.cache_clear()
    clf.mc_predict_proba(digits.x_pool[:20], 4, seed=0, path="sparse")
    assert clf.last_mc_path == "sparse" and announced == [1] and sparse_head.loaded()
    clf.mc_predict_proba(digits.x_pool[:20], 4, seed=1, path="sparse")
    assert announced == [1]
