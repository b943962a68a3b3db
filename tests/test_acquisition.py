"""Score functions against hand-computed values (Gal, Islam & Ghahramani 2017 definitions)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from baltui.core.acquisition import (
    STRATEGIES,
    QueryStrategy,
    bald_scores,
    entropy_scores,
    mean_std_scores,
    top_k,
    var_ratios_scores,
)


def test_uniform_over_classes_has_entropy_log_c():
    P = np.full((4, 3, 10), 0.1)
    assert entropy_scores(P) == pytest.approx([math.log(10)] * 3)


def test_identical_samples_give_bald_zero_and_entropy_of_the_mean():
    p = np.array([[0.7, 0.2, 0.1], [1.0, 0.0, 0.0]])
    P = np.stack([p] * 5)
    assert bald_scores(P) == pytest.approx([0.0, 0.0], abs=1e-12)
    expected = -(0.7 * math.log(0.7) + 0.2 * math.log(0.2) + 0.1 * math.log(0.1))
    assert entropy_scores(P) == pytest.approx([expected, 0.0])


def test_bald_of_confident_but_disagreeing_samples_is_log_2():
    # Two samples, each certain, of different classes: mean is 50/50 (H = log 2), each H = 0.
    P = np.array([[[1.0, 0.0]], [[0.0, 1.0]]])
    assert bald_scores(P) == pytest.approx([math.log(2)])
    assert entropy_scores(P) == pytest.approx([math.log(2)])


def test_var_ratios_by_hand():
    # 4 samples vote 0, 0, 1, 0 for point 0 -> 1 - 3/4; all vote 2 for point 1 -> 0.
    P = np.zeros((4, 2, 3))
    for t, c in enumerate([0, 0, 1, 0]):
        P[t, 0, c] = 1.0
    P[:, 1, 2] = 1.0
    assert var_ratios_scores(P) == pytest.approx([0.25, 0.0])


def test_mean_std_by_hand():
    # Class 0 prob is 0 or 1 across 2 samples (std 0.5); class 1 the complement (std 0.5).
    P = np.array([[[1.0, 0.0]], [[0.0, 1.0]]])
    assert mean_std_scores(P) == pytest.approx([0.5])
    assert mean_std_scores(np.stack([np.array([[0.3, 0.7]])] * 3)) == pytest.approx([0.0], abs=1e-7)


def test_top_k_takes_the_highest_scores():
    scores = np.array([0.1, 0.9, 0.5, 0.9, 0.0])
    chosen = top_k(scores, 3, np.random.default_rng(0))
    assert sorted(chosen.tolist()) == [1, 2, 3]


class _FakeEstimator:
    """Returns fixed MC probabilities so the strategy's own logic is tested without a network."""

    def __init__(self, P):
        self.P = P
        self.calls = 0

    def mc_predict_proba(self, X, T, seed=None):
        self.calls += 1
        return self.P[:, X[:, 0].astype(int)]

    def penultimate_and_proba(self, X):
        """h: a fixed random feature vector per point; probabilities: its MC mean."""
        rows = X[:, 0].astype(int)
        features = np.random.default_rng(7).random((self.P.shape[1], 4))
        return features[rows], self.P.mean(axis=0)[rows]

    def penultimate(self, X):
        return self.penultimate_and_proba(X)[0]


class _Learner:
    def __init__(self, estimator, X_training=None):
        self.estimator = estimator
        self.X_training = np.arange(3, dtype=float)[:, None] if X_training is None else X_training


def test_strategy_returns_indices_and_scores_and_runs_the_mc_pass_once():
    from modAL.models.base import BaseLearner

    rng = np.random.default_rng(0)
    P = rng.dirichlet(np.ones(10), size=(5, 50))  # [T, N, C]
    est = _FakeEstimator(P)
    strategy = QueryStrategy("entropy", mc_samples=5, subset=20)
    X = np.arange(50, dtype=float)[:, None]
    learner = _Learner(est)
    learner.query_strategy = strategy
    # modAL's query with a 2-element batch: must not be mis-unpacked nor run twice.
    idx, rows, metrics = BaseLearner.query(learner, X, n_instances=2, return_metrics=True)
    assert est.calls == 1
    assert len(idx) == 2 and len(metrics) == 2
    scored = strategy.last_scores
    assert scored is not None and len(scored) == 20
    assert np.allclose(sorted(metrics, reverse=True), np.sort(scored)[::-1][:2])


def test_every_registered_strategy_picks_distinct_points():
    rng = np.random.default_rng(1)
    P = rng.dirichlet(np.ones(10), size=(8, 40))
    X = np.arange(40, dtype=float)[:, None]
    for name in STRATEGIES:
        strategy = QueryStrategy(name, mc_samples=8, subset=30)
        strategy.rng = np.random.default_rng(0)
        idx, _ = strategy(_Learner(_FakeEstimator(P)), X, 5)
        assert len(set(np.asarray(idx).tolist())) == 5, name


class _RecordingEstimator(_FakeEstimator):
    """Also keeps the inputs of each MC pass, to see which images EPIG's targets were."""

    def mc_predict_proba(self, X, T, seed=None):
        self.inputs = X.copy()
        return self.P[:, X[:, 0].astype(int)]


def test_epig_draws_its_targets_from_a_given_target_set_else_from_the_pool():
    P = np.random.default_rng(3).dirichlet(np.ones(4), size=(6, 60))
    X = np.arange(40, dtype=float)[:, None]  # pool rows 0..39; target rows 40..59
    target_images = np.arange(40, 60, dtype=float)[:, None]
    for targets, allowed in ((target_images, set(range(40, 60))), (None, set(range(40)))):
        est = _RecordingEstimator(P)
        strategy = QueryStrategy("epig", mc_samples=6, subset=10, epig_targets=8, target_images=targets)
        strategy(_Learner(est), X, 3)
        drawn = set(est.inputs[10:, 0].astype(int).tolist())
        assert len(drawn) == 8 and drawn <= allowed
