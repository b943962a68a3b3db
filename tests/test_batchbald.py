"""BatchBALD and power BALD on hand-made MC probabilities (numpy only)."""

from __future__ import annotations

import time

import numpy as np
import pytest

from baltui.core.acquisition import bald_scores, entropy_scores, gumbel_top_k, top_k
from baltui.core.batchbald import batchbald_select, joint_entropy_exact, joint_entropy_sampled


def _pool(seed=0, T=20, N=40, C=4):
    rng = np.random.default_rng(seed)
    return rng.dirichlet(np.full(C, 0.3), size=(T, N))


def test_batch_of_one_is_balds_top_point():
    P = _pool()
    assert batchbald_select(P, 1, np.random.default_rng(0)).tolist() == [int(np.argmax(bald_scores(P)))]


def test_copies_of_the_most_informative_point_are_taken_once():
    P = _pool(N=30)
    best = int(np.argmax(bald_scores(P)))
    P = np.concatenate([P, np.repeat(P[:, best : best + 1], 4, axis=1)], axis=1)  # 4 exact copies
    copies = {best, 30, 31, 32, 33}
    bald_pick = set(top_k(bald_scores(P), 5, np.random.default_rng(0)).tolist())
    assert bald_pick == copies  # top-k BALD takes all the copies
    bb = batchbald_select(P, 5, np.random.default_rng(0)).tolist()
    assert len(set(bb) & copies) == 1 and len(set(bb)) == 5


def test_joint_entropy_of_one_point_is_entropy_of_its_mean():
    P = _pool()
    assert joint_entropy_exact(P[:, :1]) == pytest.approx(float(entropy_scores(P[:, :1])[0]))


def test_sampled_joint_entropy_matches_exact():
    P = _pool(C=10, N=3)
    exact = joint_entropy_exact(P)
    sampled = joint_entropy_sampled(P, 20_000, np.random.default_rng(1))
    assert sampled == pytest.approx(exact, rel=0.02)


def test_selection_is_distinct_deterministic_and_survives_the_switch_to_sampling():
    P = _pool(N=60, C=10)
    a = batchbald_select(P, 6, np.random.default_rng(3), max_exact_configs=100, n_config_samples=500)
    b = batchbald_select(P, 6, np.random.default_rng(3), max_exact_configs=100, n_config_samples=500)
    assert a.tolist() == b.tolist() and len(set(a.tolist())) == 6


def test_paper_sized_batch_is_fast_enough():
    P = np.random.default_rng(0).dirichlet(np.ones(10), size=(100, 2000))
    started = time.perf_counter()
    chosen = batchbald_select(P, 10, np.random.default_rng(0))
    assert len(set(chosen.tolist())) == 10
    assert time.perf_counter() - started < 60  # generous: ~a few seconds on an idle 2-core CPU


def test_gumbel_top_k_follows_score_to_the_beta():
    scores = np.array([0.0, 1.0, 2.0, 3.0])
    rng = np.random.default_rng(0)
    picks = np.array([gumbel_top_k(scores, 1, rng, beta=1.0)[0] for _ in range(6000)])
    freq = np.bincount(picks, minlength=4) / len(picks)
    assert freq[0] == 0.0
    assert freq[1:] == pytest.approx([1 / 6, 2 / 6, 3 / 6], abs=0.03)
    big = gumbel_top_k(scores, 2, np.random.default_rng(1), beta=200.0)
    assert sorted(big.tolist()) == [2, 3]  # large beta approaches top-k
    assert sorted(gumbel_top_k(scores, 3, np.random.default_rng(2)).tolist()) == [1, 2, 3]


def _uniform_weight_samples_estimate(P, n_samples, rng):
    """The sampled joint entropy as baltui computed it before: the weight sample t of each configuration drawn
    uniformly at random (T-sided dice), then its labels; the same importance weights and the same cost."""
    from baltui.core.batchbald import _joint_entropies

    T, m, C = P.shape
    t = rng.integers(0, T, size=n_samples)
    prev = np.ones((T, n_samples))
    for j in range(m - 1):
        cum = P[t, j, :].cumsum(axis=1)
        labels = (cum < rng.random((n_samples, 1)) * cum[:, -1:]).sum(axis=1).clip(max=C - 1)
        prev *= P[:, j, labels]
    weights = 1.0 / (n_samples * prev.mean(axis=0))
    return float(_joint_entropies(prev, weights, P, np.array([m - 1]))[0])


def _majority_and_dissenters(T, m, C, sure, majority, seed):
    """MC samples as dropout gives them on a hard batch: each network confident (p=sure) of one label per point,
    the first `majority` networks agreeing on one configuration, the others each on their own."""
    labels = np.random.default_rng(seed).integers(0, C, size=(T, m))
    labels[:majority] = labels[0]
    P = np.full((T, m, C), (1 - sure) / (C - 1))
    np.put_along_axis(P, labels[:, :, None], sure, axis=2)
    return P


def test_every_weight_sample_draws_an_equal_share_of_the_configurations():
    from baltui.core.batchbald import _stratified_samples

    counts = np.bincount(_stratified_samples(7, 100, np.random.default_rng(0)), minlength=7)
    assert sorted(counts.tolist()) == [14] * 5 + [15] * 2  # 100 = 7 x 14 + 2, the 2 on distinct samples
    assert sorted(_stratified_samples(10, 4, np.random.default_rng(1)).tolist()) == sorted(
        set(_stratified_samples(10, 4, np.random.default_rng(1)).tolist()))  # fewer than T: distinct samples


def test_stratified_weight_samples_shrink_the_estimators_spread_at_the_same_cost():
    """Each configuration's weight sample t taken in turn (as batchbald_redux does) instead of at random: over
    40 seeds the estimate of H(y_1..y_6) spreads less, at the same 1,000 configurations, and stays unbiased.
    With one-hot networks (no label noise given t) the stratified estimate is exact whatever the seed."""
    P = _majority_and_dissenters(T=100, m=6, C=10, sure=0.95, majority=70, seed=0)
    exact = joint_entropy_exact(P)
    stratified = np.array([joint_entropy_sampled(P, 1000, np.random.default_rng(s)) for s in range(40)])
    uniform = np.array([_uniform_weight_samples_estimate(P, 1000, np.random.default_rng(s)) for s in range(40)])
    assert uniform.std() > 1.25 * stratified.std()
    assert abs(stratified.mean() - exact) < 3 * stratified.std() / np.sqrt(40)
    assert abs(uniform.mean() - exact) < 3 * uniform.std() / np.sqrt(40)
    one_hot = _majority_and_dissenters(T=20, m=5, C=10, sure=1.0, majority=12, seed=1)
    exact = joint_entropy_exact(one_hot)
    for seed in range(5):
        assert joint_entropy_sampled(one_hot, 1000, np.random.default_rng(seed)) == pytest.approx(exact, abs=1e-9)
    spread = [_uniform_weight_samples_estimate(one_hot, 1000, np.random.default_rng(s)) for s in range(5)]
    assert np.std(spread) > 1e-3


def _full_greedy(P, k, rng, max_exact_configs=1_000, n_config_samples=1_000):
    """BatchBALD as it was before scoring in bound order: every candidate scored at every step."""
    return batchbald_select(P, k, rng, max_exact_configs, n_config_samples, prune=False).tolist()


def _repeated_pool(seed, T=30, originals=300, copies=3, C=10):
    """A pool of near-copies, as Repeated MNIST makes: each original's probabilities a little perturbed."""
    rng = np.random.default_rng(seed)
    base = rng.dirichlet(np.full(C, 0.2), size=(T, originals))
    noisy = [base * rng.uniform(0.95, 1.05, size=base.shape) for _ in range(copies)]
    P = np.concatenate(noisy, axis=1)
    return P / P.sum(axis=2, keepdims=True)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_bound_holds_for_every_point_exact_and_sampled(seed):
    from baltui.core.batchbald import _joint_entropies, _sample_configs, _upper_bounds

    P = _repeated_pool(seed)
    T, N, C = P.shape
    everything = np.arange(N)
    exact = np.ones((T, 1))
    for j in (5, 17):  # two chosen points: 100 configurations, enumerated
        exact = (exact[:, :, None] * P[:, j, None, :]).reshape(T, -1)
    for prev, weights in [(np.ones((T, 1)), np.ones(1)), (exact, np.ones(exact.shape[1])),
                          _sample_configs(P, [5, 17, 40, 301], 500, np.random.default_rng(seed))]:
        scores = _joint_entropies(prev, weights, P, everything)
        bounds = _upper_bounds(prev, weights, P)
        assert np.all(bounds >= scores - 1e-9)
    one = _joint_entropies(np.ones((T, 1)), np.ones(1), P, everything)  # one config: the bound is the score
    assert _upper_bounds(np.ones((T, 1)), np.ones(1), P) == pytest.approx(one, abs=1e-12)


@pytest.fixture
def small_chunks(monkeypatch):
    """Score 16 candidates at a time, so that a step stops after a few chunks of a few hundred points."""
    from baltui.core import batchbald

    monkeypatch.setattr(batchbald, "MIN_CHUNK", 16)
    monkeypatch.setattr(batchbald, "CHUNK_BYTES", 1)


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_scoring_in_bound_order_picks_what_scoring_everything_picks(seed, small_chunks):
    P = _repeated_pool(seed)
    picked = batchbald_select(P, 10, np.random.default_rng(seed)).tolist()
    assert picked == _full_greedy(P, 10, np.random.default_rng(seed))
    small = _pool(seed, T=20, N=60, C=10)  # and on a pool without copies, through the switch to sampling
    assert (batchbald_select(small, 6, np.random.default_rng(seed), max_exact_configs=100, n_config_samples=300)
            .tolist() == _full_greedy(small, 6, np.random.default_rng(seed), 100, 300))


def test_equal_points_resolve_to_the_lowest_index_as_before(small_chunks):
    P = _pool(N=20, C=4)
    P = np.concatenate([P, P, P], axis=1)  # three exact copies of every point: ties at every step
    assert batchbald_select(P, 4, np.random.default_rng(0)).tolist() == _full_greedy(P, 4, np.random.default_rng(0))
