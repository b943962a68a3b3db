"""The one active-learning round (`baltui.core.loop`): the only place modAL's learner is made, the engine's streams.

The engine, label mode and bench drive `ActiveLearningLoop`; these tests check the loop itself on real
TensorFlow and modAL, and that nothing else in the package builds a learner or calls `learner.query`.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from baltui.core.config import RunConfig
from baltui.core.engine import ActiveLearningRun, initial_indices
from baltui.core.loop import QUERY, TRAIN, ActiveLearningLoop, LoopSettings, stream

PACKAGE = Path(__file__).resolve().parent.parent / "baltui"


def test_only_the_loop_makes_a_modal_learner_or_queries_through_it():
    makers, queries = [], []
    for path in PACKAGE.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        if "ActiveLearner(" in text:
            makers.append(path.relative_to(PACKAGE).as_posix())
        if "learner.query(" in text:
            queries.append(path.relative_to(PACKAGE).as_posix())
    assert makers == ["core/loop.py"]
    assert queries == []


def test_settings_from_a_config_take_every_field_the_round_reads(tiny):
    config = tiny(beta=2.5, mc_masks="consistent", epoch_draws=64, early_stopping=2, validation=50, weight_decay=3.5)
    settings = LoopSettings.from_config(config, "powerbald")
    assert settings.strategy == "powerbald"
    for field in dataclasses.fields(LoopSettings):
        if field.name != "strategy":
            assert getattr(settings, field.name) == getattr(config, field.name), field.name


def _loop(digits, strategy="powerbald", **changes):
    settings = LoopSettings(strategy, epochs=2, batch_size=16, mc_samples=3, subset=200, **changes)
    return ActiveLearningLoop.build(settings, digits.x_pool, digits.n_classes, digits.y_pool)


@pytest.mark.slow
def test_driving_the_loop_by_hand_is_the_engines_run(digits, tiny):
    """The engine is the loop driven with (seed, query, purpose) streams: the same calls by hand give the same
    queried indices, scores and accuracies, so bench's round and label mode's round are the engine's."""
    config = tiny(strategies=["powerbald"], beta=2.0, queries=2)
    results = list(ActiveLearningRun(config, digits, "powerbald", seed=3))
    loop = ActiveLearningLoop.build(LoopSettings.from_config(config, "powerbald"), digits.x_pool, digits.n_classes,
                                    digits.y_pool)
    assert loop.strategy.beta == 2.0
    labelled = initial_indices(digits.y_pool, config.initial_per_class, 3, digits.n_classes)
    in_pool = np.ones(len(digits.y_pool), bool)
    in_pool[labelled] = False
    loop.start(labelled, stream(3, 0, TRAIN))
    assert loop.evaluate(digits.x_test, digits.y_test)[0] == results[0].accuracy
    for result in results[1:]:
        acquired = loop.acquire(np.flatnonzero(in_pool), config.instances, stream(3, result.query, QUERY))
        assert acquired.chosen.tolist() == result.queried_indices
        assert [float(s) for s in acquired.chosen_scores] == result.queried_scores
        np.testing.assert_array_equal(acquired.scores.astype(np.float32), result.scores)
        assert acquired.seconds > 0
        loop.teach(acquired.chosen, stream(3, result.query, TRAIN))
        in_pool[acquired.chosen] = False
        assert loop.evaluate(digits.x_test, digits.y_test)[0] == result.accuracy


@pytest.mark.slow
def test_a_resumed_learner_retrains_to_the_model_start_trains(digits):
    """resume + retrain on the same stream is start: the same weights, so a resumed run acquires as before."""
    labelled = np.arange(40)
    first = _loop(digits, "entropy")
    first.start(labelled, stream(0, 0, TRAIN))
    second = _loop(digits, "entropy")
    second.resume(labelled)
    assert not second.trained
    second.retrain(stream(0, 0, TRAIN))
    assert second.trained
    for a, b in zip(first.classifier.model.get_weights(), second.classifier.model.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    pool = np.arange(40, 300)
    assert np.array_equal(first.acquire(pool, 5, stream(0, 1, QUERY)).chosen,
                          second.acquire(pool, 5, stream(0, 1, QUERY)).chosen)


def test_labels_given_per_call_when_the_loop_has_none(digits):
    """Label mode's loop knows only the labels given so far: they come with start and teach."""
    settings = LoopSettings("uniform", epochs=1, batch_size=16, mc_samples=3, subset=50)
    loop = ActiveLearningLoop.build(settings, digits.x_pool, digits.n_classes)
    with pytest.raises(ValueError, match="no labels"):
        loop.start(np.arange(20), stream(0, 0, TRAIN))
    loop.start(np.arange(20), stream(0, 0, TRAIN), digits.y_pool[:20])
    acquired = loop.acquire(np.arange(20, 100), 4, stream(0, 0, QUERY))
    assert acquired.scores is None and acquired.chosen_scores is None and len(set(acquired.chosen)) == 4
    loop.teach(acquired.chosen, stream(0, 1, TRAIN), digits.y_pool[acquired.chosen])
    assert loop.classifier.last_fit.images == 24
    assert loop.learner.X_training.shape[0] == 24


def test_what_ran_is_public_and_read_only(digits):
    """Bench and tests choose a head, mask mode or precision per call and read what ran; they set nothing."""
    loop = _loop(digits, "bald", weight_decay=1.0)
    clf = loop.classifier
    loop.start(np.arange(30), stream(0, 0, TRAIN))
    fit = clf.last_fit
    assert (fit.images, fit.epochs, fit.weight_decay) == (30, 2, 1.0) and fit.seconds > 0
    clf.mc_predict_proba(digits.x_pool[:50], 4, seed=0, path="tiled")
    assert (clf.last_sampling.masks, clf.last_sampling.path, clf.last_sampling.points) == ("independent", "tiled", 50)
    clf.mc_predict_proba(digits.x_pool[:50], 4, seed=0, masks="consistent")
    assert clf.last_mc_path == "consistent-dense" and clf.mc_masks == "independent"  # the default is unchanged
    with pytest.raises(ValueError, match="samples independent masks"):
        clf.mc_predict_proba(digits.x_pool[:5], 2, path="sparse", masks="consistent")
    clf.predict(digits.x_test, precision="bfloat16")
    assert clf.last_evaluation.precision == "bfloat16" and clf.eval_precision == "auto"
    for name in ("mc_masks", "eval_precision", "last_mc_path", "last_fit", "last_sampling", "last_evaluation"):
        with pytest.raises(AttributeError):
            setattr(clf, name, None)


def test_the_default_run_config_builds_the_seed_model_in_its_regime(digits):
    settings = LoopSettings.from_config(RunConfig(epochs=3, batch_size=8, epoch_draws=40), "batchbald")
    loop = ActiveLearningLoop.build(settings, digits.x_pool, digits.n_classes, digits.y_pool)
    clf = loop.classifier
    assert (clf.epochs, clf.batch_size, clf.epoch_draws, clf.mc_masks) == (3, 8, 40, "consistent")
    assert len(clf.model.layers) == 8  # the seed's CNN
