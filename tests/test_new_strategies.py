"""least_confidence, margin, badge, coreset, epig and powerepig against independent computations.

Each formula is checked against a computation that does not share its code: margin and least confidence on
probabilities computable by hand; BADGE's embedding against TensorFlow's own gradient of the loss; Core-set's
picks against a brute-force k-center greedy; EPIG against an enumeration of I(y; y*) over the classes, plus
the two invariants that hold for any model (EPIG <= BALD; a target that does not vary over w gives 0).
The real classifier supplies h, the probabilities and the MC samples.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from types import SimpleNamespace

import numpy as np
import pytest

from baltui.core.acquisition import STRATEGIES, QueryStrategy, bald_scores, least_confidence_scores, margin_scores
from baltui.core.diversity import gradient_embeddings, gradient_norms, k_center_greedy, kmeans_pp
from baltui.core.epig import epig_pairs, epig_scores

NEW = ("least_confidence", "margin", "badge", "coreset", "epig", "powerepig")


@pytest.fixture(scope="module")
def trained(digits):
    """The seed's CNN after a few epochs on 100 digits: confident on some images, unsure on others."""
    from baltui.core.models.classifier import MCDropoutClassifier

    clf = MCDropoutClassifier(digits.input_shape, 10, epochs=15, batch_size=16, mc_masks="consistent")
    clf.rng = np.random.default_rng(0)
    clf.fit(digits.x_pool[:100], digits.y_pool[:100])
    return clf


# ---- least confidence and margin --------------------------------------------------------------------------
def test_least_confidence_and_margin_by_hand():
    # Two samples of three points; the means are [0.5, 0.3, 0.2], [0.4, 0.4, 0.2] and [0.9, 0.05, 0.05].
    P = np.array([
        [[0.6, 0.2, 0.2], [0.4, 0.4, 0.2], [1.0, 0.0, 0.0]],
        [[0.4, 0.4, 0.2], [0.4, 0.4, 0.2], [0.8, 0.1, 0.1]],
    ])
    assert least_confidence_scores(P) == pytest.approx([0.5, 0.6, 0.1])
    assert margin_scores(P) == pytest.approx([1 - 0.2, 1 - 0.0, 1 - 0.85])
    # The two largest need not be in order, nor be the first two classes.
    assert margin_scores(np.array([[[0.1, 0.3, 0.6]]])) == pytest.approx([0.7])
    assert margin_scores(np.array([[[0.2, 0.7, 0.1]]])) == pytest.approx([0.5])


def test_margin_and_least_confidence_rank_the_real_models_mean(trained, digits):
    """On the real model's MC mean: the scores equal the textbook formulas, point by point."""
    P = trained.mc_predict_proba(digits.x_pool[100:160], 20, seed=3)
    mean = P.astype(np.float64).mean(axis=0)
    ordered = np.sort(mean, axis=1)
    np.testing.assert_allclose(least_confidence_scores(P), 1 - ordered[:, -1], atol=1e-12)
    np.testing.assert_allclose(margin_scores(P), 1 - (ordered[:, -1] - ordered[:, -2]), atol=1e-12)


# ---- BADGE ------------------------------------------------------------------------------------------------
def _tape_gradient(clf, x):
    """d CE(predicted label, p(x)) / d kernel of the last Dense, by TensorFlow's autodiff (dropout off)."""
    from baltui.core.models.classifier import keras, tf

    kernel = clf.model.layers[-1].kernel
    with tf.GradientTape() as tape:
        probs = clf.model(x[None].astype(np.float32), training=False)
        label = tf.argmax(probs, axis=1)
        loss = keras.losses.sparse_categorical_crossentropy(label, probs)[0]
    return tape.gradient(loss, kernel).numpy()  # [D, C]


def test_badge_embedding_is_the_gradient_of_the_loss_at_the_predicted_label(trained, digits):
    X = digits.x_pool[200:206]
    H, probs = trained.penultimate_and_proba(X)
    G = gradient_embeddings(probs, H)
    D, C = trained.model.layers[-1].kernel.shape
    assert G.shape == (len(X), D * C)
    for n in range(len(X)):
        expected = _tape_gradient(trained, X[n])
        assert np.abs(expected).max() > 1e-4  # a real gradient, not zeros
        np.testing.assert_allclose(G[n].reshape(D, C), expected, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(gradient_norms(probs, H), np.linalg.norm(G, axis=1), rtol=1e-5)


def test_badge_embedding_on_the_batchbald2019_model():
    """The accessor works for the other registered architecture (h after its ReLU, channel dropout before)."""
    from baltui.core.models import MODELS
    from baltui.core.models.classifier import MCDropoutClassifier

    clf = MCDropoutClassifier((28, 28, 1), 10, model_fn=MODELS["batchbald2019"].build)
    X = np.random.default_rng(0).random((4, 28, 28, 1), dtype=np.float32)
    H, probs = clf.penultimate_and_proba(X)
    assert H.shape == (4, 128) and (H >= 0).all()  # the ReLU's output feeds the last Dense
    np.testing.assert_allclose(probs, clf.predict_proba_deterministic(X), atol=1e-6)
    G = gradient_embeddings(probs, H)
    for n in range(2):
        np.testing.assert_allclose(G[n].reshape(128, 10), _tape_gradient(clf, X[n]), rtol=1e-4, atol=1e-6)


def test_penultimate_is_traced_once_and_matches_predict_proba(trained, digits):
    for n in (3, 50, 7):
        H, probs = trained.penultimate_and_proba(digits.x_pool[:n])
        assert H.shape == (n, 128)
        np.testing.assert_allclose(probs, trained.predict_proba(digits.x_pool[:n]), atol=1e-6)
    np.testing.assert_array_equal(trained.penultimate(digits.x_pool[:7]), H)
    assert trained._penultimate_pass.experimental_get_tracing_count() == 1


def test_kmeans_pp_starts_at_the_largest_gradient_and_draws_by_squared_distance():
    G = np.array([[10.0, 0.0], [0.0, 0.0], [1.0, 0.0], [0.0, 3.0]])
    # First centre: row 0 (norm 10). Squared distances to it: 100, 81, 109 -> second pick ~ 100:81:109.
    rng = np.random.default_rng(0)
    seconds = np.array([kmeans_pp(G, 2, rng)[1] for _ in range(6000)])
    assert (seconds != 0).all()
    freq = np.bincount(seconds, minlength=4)[1:] / len(seconds)
    assert freq == pytest.approx(np.array([100, 81, 109]) / 290, abs=0.02)


def test_kmeans_pp_never_repeats_a_point_even_among_duplicates():
    G = np.repeat(np.array([[1.0, 0.0], [0.0, 2.0]]), 3, axis=0)  # 6 rows, two distinct
    chosen = kmeans_pp(G, 5, np.random.default_rng(1))
    assert len(set(chosen.tolist())) == 5
    assert chosen[0] in (3, 4, 5)  # the largest norm


def test_badge_strategy_picks_by_kmeans_pp_on_the_real_models_embeddings(trained, digits):
    X = digits.x_pool[300:500]
    strategy = QueryStrategy("badge", mc_samples=5, subset=0)
    strategy.rng = np.random.default_rng(4)
    positions, chosen_scores = strategy(SimpleNamespace(estimator=trained, X_training=digits.x_pool[:100]), X, 8)
    H, probs = trained.penultimate_and_proba(X)
    expected = kmeans_pp(gradient_embeddings(probs, H), 8, np.random.default_rng(4))
    assert positions.tolist() == expected.tolist()
    np.testing.assert_allclose(chosen_scores, gradient_norms(probs, H)[expected], rtol=1e-6)


# ---- Core-set ---------------------------------------------------------------------------------------------
def _brute_force_k_center(X, centres, k):
    """Sener & Savarese's greedy, written out: each pick maximises its distance to the nearest centre."""
    centres = [c for c in centres]
    chosen = []
    for _ in range(k):
        best, best_d = None, -1.0
        for i, x in enumerate(X):
            if i in chosen:
                continue
            d = min(math.dist(x, c) for c in centres) if centres else math.inf
            if d > best_d:
                best, best_d = i, d
        chosen.append(best)
        centres.append(X[best])
    return chosen


def test_coreset_picks_equal_a_brute_force_k_center_greedy(trained, digits):
    labelled = digits.x_pool[:100]
    X = digits.x_pool[600:800]
    strategy = QueryStrategy("coreset", mc_samples=5, subset=0)
    strategy.rng = np.random.default_rng(0)
    positions, chosen_scores = strategy(SimpleNamespace(estimator=trained, X_training=labelled), X, 10)
    H = trained.penultimate(X).astype(np.float64)
    L = trained.penultimate(labelled).astype(np.float64)
    assert positions.tolist() == _brute_force_k_center(H, L, 10)
    # The recorded score of a pick is its distance to the nearest labelled image.
    first = positions[0]
    assert chosen_scores[0] == pytest.approx(min(math.dist(H[first], c) for c in L), rel=1e-6)
    assert strategy.last_scores.max() == pytest.approx(chosen_scores[0], rel=1e-9)


def test_k_center_greedy_without_labelled_points_and_with_duplicates():
    X = np.array([[0.0, 0.0], [0.0, 0.0], [5.0, 0.0], [0.0, 1.0]])
    picks = k_center_greedy(X, np.empty((0, 2)), 4)
    assert picks.tolist()[:3] == [0, 2, 3] and sorted(picks.tolist()) == [0, 1, 2, 3]
    assert k_center_greedy(X, np.array([[5.0, 0.0]]), 2).tolist() == [3, 0]  # sqrt(26) from the centre, then 1


# ---- EPIG -------------------------------------------------------------------------------------------------
def _enumerated_mi(p, q):
    """I(y; y*) for one point and one target, p [T, C] and q [T, C] from the same T networks, by enumeration."""
    T, C = p.shape
    py, pstar = p.mean(axis=0), q.mean(axis=0)
    total = 0.0
    for c in range(C):
        for d in range(q.shape[1]):
            joint = sum(p[t, c] * q[t, d] for t in range(T)) / T
            if joint > 0:
                total += joint * math.log(joint / (py[c] * pstar[d]))
    return total


def test_epig_equals_an_enumeration_of_the_mutual_information_over_classes(trained, digits):
    P = trained.mc_predict_proba(digits.x_pool[100:108], 6, seed=2).astype(np.float64)
    P /= P.sum(axis=2, keepdims=True)
    points, targets = P[:, :5], P[:, 5:]
    pairs = epig_pairs(points, targets)
    for n in range(5):
        for m in range(3):
            assert pairs[n, m] == pytest.approx(_enumerated_mi(points[:, n], targets[:, m]), rel=1e-9, abs=1e-13)
    assert pairs.max() > 1e-3
    np.testing.assert_allclose(epig_scores(points, targets), pairs.mean(axis=1), rtol=1e-12)


def test_epig_is_at_most_bald_and_zero_for_a_target_that_does_not_vary(trained, digits):
    P = trained.mc_predict_proba(digits.x_pool[100:400], 30, seed=4).astype(np.float64)
    P /= P.sum(axis=2, keepdims=True)
    points, targets = P[:, :250], P[:, 250:].copy()
    epig, bald = epig_scores(points, targets), bald_scores(points)
    assert (epig <= bald + 1e-12).all()
    assert epig.max() > 1e-3 and (bald - epig).max() > 1e-3  # neither side trivially zero
    # Even a target equal to the point itself: y* is another draw given w, so I(y; y*) <= I(y; w).
    assert (np.diag(epig_pairs(points[:, :50], points[:, :50])) <= bald[:50] + 1e-12).all()
    targets[:, 7] = targets[0, 7]  # target 7's prediction no longer varies over w
    pairs = epig_pairs(points, targets)
    np.testing.assert_allclose(pairs[:, 7], 0.0, atol=1e-12)
    assert pairs[:, 8].max() > 1e-3


def test_epig_strategy_scores_points_and_targets_with_the_same_networks(trained, digits):
    """One MC call holds the scored subset and the targets; a target that is also a scored point gets exactly
    that point's samples (consistent masks), and the scores are EPIG on that call's output."""
    X = digits.x_pool[300:420]
    calls = []
    real = trained.mc_predict_proba

    def spy(images, T, seed=None):
        out = real(images, T, seed=seed)
        calls.append((len(images), out))
        return out

    estimator = SimpleNamespace(mc_predict_proba=spy)
    strategy = QueryStrategy("epig", mc_samples=20, subset=0, epig_targets=15)
    strategy.rng = np.random.default_rng(1)
    positions, chosen_scores = strategy(SimpleNamespace(estimator=estimator), X, 5)
    assert [n for n, _ in calls] == [len(X) + 15]
    out = calls[0][1]
    targets = strategy.last_targets
    assert len(set(targets.tolist())) == 15
    # The same T networks (to BLAS rounding: a row's product may depend on where it sits in the chunk).
    np.testing.assert_allclose(out[:, len(X):], out[:, targets], atol=1e-6)
    assert out.std(axis=0).max() > 0.01  # and the networks do differ
    expected = epig_scores(out[:, : len(X)], out[:, len(X):])
    np.testing.assert_allclose(strategy.last_scores, expected, rtol=1e-12)
    assert set(positions.tolist()) == set(np.argsort(-expected)[:5].tolist())
    np.testing.assert_allclose(chosen_scores, expected[positions])


def test_powerepig_samples_by_epig_to_the_beta(trained, digits):
    """Large beta approaches EPIG's top-k; the batch is distinct and drawn from the recorded query rng."""
    X = digits.x_pool[300:420]
    picks = []
    for beta in (1.0, 1e6):
        strategy = QueryStrategy("powerepig", mc_samples=20, subset=0, beta=beta, epig_targets=15)
        strategy.rng = np.random.default_rng(1)
        positions, _ = strategy(SimpleNamespace(estimator=trained), X, 5)
        picks.append(positions.tolist())
        assert len(set(picks[-1])) == 5
    assert set(picks[1]) == set(np.argsort(-strategy.last_scores)[:5].tolist())


# ---- the registry and the runs ----------------------------------------------------------------------------
def test_the_new_strategies_declare_what_they_need():
    assert all(name in STRATEGIES for name in NEW)
    assert STRATEGIES["epig"].needs_consistent_masks and STRATEGIES["powerepig"].needs_consistent_masks
    assert STRATEGIES["epig"].targets and STRATEGIES["powerepig"].uses_beta
    assert STRATEGIES["badge"].gradients and not STRATEGIES["badge"].uses_mc
    assert STRATEGIES["coreset"].labelled and STRATEGIES["coreset"].penultimate and not STRATEGIES["coreset"].uses_mc
    assert STRATEGIES["margin"].uses_mc and STRATEGIES["least_confidence"].uses_mc


@pytest.mark.parametrize(("value", "message"), [
    ("0", "'epig_targets' must be a whole number from 1 to 10000, got 0"),
    ("10001", "'epig_targets' must be a whole number from 1 to 10000, got 10001"),
])
def test_epig_targets_out_of_range_is_one_line_and_exit_2(value, message, capsys, tmp_path):
    from baltui.cli import main

    code = main(["--no-ui", "--strategies", "epig", "--epig-targets", value, "--out", str(tmp_path / "r")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and err == [f"baltui: error: {message}"]
    assert not (tmp_path / "r").exists()


def test_epig_targets_from_a_preset_must_be_a_whole_number_and_warns_when_unread(capsys):
    from baltui.core.config import build_config, load_preset, warn_unused
    from baltui.core.errors import BaltuiError

    with pytest.raises(BaltuiError, match="'epig_targets' must be a whole number"):
        build_config({"name": "p", "epig_targets": 1e400})
    config = build_config(load_preset("quick"), {"epig_targets": 50, "strategies": ["bald", "uniform"]})
    assert len(warn_unused(config, {"epig_targets"})) == 1
    assert "--epig-targets is read only by epig, powerepig" in capsys.readouterr().err
    config = build_config(load_preset("quick"), {"epig_targets": 50, "strategies": ["powerepig"]})
    assert config.epig_targets == 50 and warn_unused(config, {"epig_targets"}) == []
    # badge and coreset draw no MC samples: --mc-samples given for them alone is unread.
    config = build_config(load_preset("quick"), {"strategies": ["badge", "coreset"]})
    assert [line.split()[2] for line in warn_unused(config, {"mc_samples", "subset"})] == ["--mc-samples"]


@pytest.mark.slow
def test_every_new_strategy_runs_two_queries_headless(tmp_path):
    out = tmp_path / "runs"
    cmd = [sys.executable, "-m", "baltui", "--no-ui", "--strategies", ",".join(NEW), "--seeds", "0", "--queries",
           "2", "--epochs", "3", "--mc-samples", "5", "--epig-targets", "20", "--out", str(out)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    queries = [r for r in rows if r.get("type", "query") == "query"]
    for name in NEW:
        mine = sorted((r for r in queries if r["strategy"] == name), key=lambda r: r["query"])
        assert [r["query"] for r in mine] == [0, 1, 2], name
        for r in mine[1:]:
            assert len(set(r["queried_indices"])) == 10 and len(r["queried_scores"]) == 10, name
            assert r["score_histogram"] is not None and sum(r["score_histogram"]["counts"]) > 0, name
    assert json.loads((out / "config.json").read_text())["epig_targets"] == 20
