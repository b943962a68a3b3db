"""The real engine (real TensorFlow, real modAL) on tiny digits settings."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from baltui.core.control import Control
from baltui.core.engine import ActiveLearningRun, initial_indices
from baltui.core.errors import RunCancelled
from baltui.core.events import PhaseChanged
from baltui.core.loop import PoolView


def test_modal_teach_still_works_with_the_pinned_scikit_learn(digits):
    """modAL 0.4.2.1 passes force_all_finite to check_X_y; scikit-learn 1.8 removed it.

    When this fails with a TypeError the pin `scikit-learn<1.8` is what protects users; when modAL
    is fixed upstream this test keeps passing without the pin, and the pin can go.
    """
    from modAL.models import ActiveLearner
    from sklearn.linear_model import LogisticRegression

    x = digits.x_pool.reshape(len(digits.x_pool), -1)
    learner = ActiveLearner(LogisticRegression(max_iter=200), X_training=x[:20], y_training=digits.y_pool[:20])
    learner.teach(x[20:30], digits.y_pool[20:30])
    assert learner.X_training.shape[0] == 30


def test_initial_set_has_per_class_points_and_is_shared_by_seed(digits):
    a = initial_indices(digits.y_pool, 2, seed=0)
    assert np.array_equal(np.bincount(digits.y_pool[a], minlength=10), [2] * 10)
    assert np.array_equal(a, initial_indices(digits.y_pool, 2, seed=0))
    assert not np.array_equal(a, initial_indices(digits.y_pool, 2, seed=1))


def test_pool_view_indexes_without_copying_the_pool():
    images = np.arange(10 * 4, dtype=np.float32).reshape(10, 2, 2)
    view = PoolView(images, np.array([1, 4, 7]))
    assert len(view) == 3
    assert np.array_equal(view[np.array([0, 2])], images[[1, 7]])


def _run(config, digits, strategy="entropy", seed=0, **kwargs):
    return list(ActiveLearningRun(config, digits, strategy, seed, **kwargs))


def test_a_run_yields_query_zero_then_one_result_per_query(digits, tiny):
    config = tiny(queries=3)
    phases: list[PhaseChanged] = []
    results = _run(config, digits, on_phase=phases.append)
    assert [r.query for r in results] == [0, 1, 2, 3]
    assert [r.n_labelled for r in results] == [20, 25, 30, 35]
    assert [r.pool_size for r in results] == [1280, 1275, 1270, 1265]
    assert results[0].queried_indices == [] and results[0].scores is None
    for r in results[1:]:
        assert len(set(r.queried_indices)) == 5
        assert r.scores is not None and len(r.scores) == 200  # the scored subset
        assert r.queried_images.shape == (5, 8, 8)
        assert r.queried_labels == [int(digits.y_pool[i]) for i in r.queried_indices]
        assert 0.0 <= r.accuracy <= 1.0 and r.training_s > 0 and r.acquisition_s > 0
    # no point is queried twice, and none of the initial set
    all_queried = sum((r.queried_indices for r in results), [])
    assert len(set(all_queried)) == len(all_queried)
    assert not set(all_queried) & set(results[0].labelled_indices)
    assert {"training", "acquiring", "evaluating"} <= {p.phase for p in phases}
    assert any(p.phase == "training" and p.epoch == config.epochs for p in phases)


def test_same_seed_same_queried_indices_and_accuracies(digits, tiny):
    config = tiny(queries=2)
    a, b = _run(config, digits), _run(config, digits)
    assert [r.queried_indices for r in a] == [r.queried_indices for r in b]
    assert [r.accuracy for r in a] == [r.accuracy for r in b]
    other = _run(config, digits, seed=1)
    assert [r.queried_indices for r in a] != [r.queried_indices for r in other]


def test_uniform_has_no_scores(digits, tiny):
    results = _run(tiny(queries=1), digits, "uniform")
    assert results[1].scores is None and results[1].queried_scores is None and len(results[1].queried_indices) == 5


def test_cancel_from_another_thread_stops_within_an_epoch(digits, tiny):
    """A stop set mid-training ends the run at the next epoch, not after the query."""
    control = Control()
    config = tiny(queries=5, epochs=400)
    epochs_seen: list[int] = []

    def on_phase(event: PhaseChanged) -> None:
        if event.phase == "training" and event.epoch:
            epochs_seen.append(event.epoch)
            if event.epoch == 3:
                threading.Thread(target=control.stop).start()

    with pytest.raises(RunCancelled):
        _run(config, digits, control=control, on_phase=on_phase)
    assert max(epochs_seen) < 10


def test_a_pause_inside_a_query_is_not_recorded_as_its_training_time(digits, tiny):
    """Paused between two epochs for 2 s: the record's training_s is the fit's own time, not the wait."""
    control = Control()
    config = tiny(queries=1, epochs=4)
    paused = threading.Event()

    def on_phase(event: PhaseChanged) -> None:
        if event.query == 1 and event.phase == "training" and event.epoch == 2 and not paused.is_set():
            paused.set()
            control.pause()
            threading.Timer(2.0, control.resume).start()

    results = _run(config, digits, control=control, on_phase=on_phase)
    assert paused.is_set()
    assert control.waited >= 1.9
    assert results[1].training_s < 1.5  # four epochs on 25 digits
