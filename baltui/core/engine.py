"""One active-learning run on modAL's ActiveLearner, as a stream of QueryResults.

The engine knows nothing of Textual or printing: it yields results and reports phases through a
callback, and stops at the next epoch or phase boundary when its Control says so.

Every random choice of query q of run (strategy, seed) comes from a generator seeded with
(seed, q), so a run gives the same queried indices whatever runs it is interleaved with, and a
resumed run continues exactly as if it had never stopped.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

from baltui.core.acquisition import QueryStrategy
from baltui.core.config import RunConfig, check_against_data, mc_masks_for, run_id
from baltui.core.control import Control
from baltui.core.data import Dataset, preview_images
from baltui.core.events import PhaseChanged, QueryResult


@contextmanager
def modal_warnings_silenced() -> Iterator[None]:
    """Hide two known, harmless modAL warnings around its calls (and only there).

    modAL 0.4.2.1 passes scikit-learn's deprecated `force_all_finite` (the pin in pyproject keeps it
    working).
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*force_all_finite.*", category=FutureWarning)
        yield

# The phase of the sparse MC kernel's first use in a process: a ~20 s compile on a new machine.
COMPILING = "compiling the MC kernel (once per machine)"
# Streams of randomness per query, so one use never shifts another.
_INITIAL, _TRAIN, _QUERY, _VALIDATION = 0, 1, 2, 3


class PoolView:
    """The unlabelled pool as positions into the data set, without copying images.

    modAL hands X_pool to the strategy and then indexes it with the chosen positions; this gives it
    `len()` and `[positions]` over an index array, so a 60,000-image pool is never copied per query.
    """

    def __init__(self, images: np.ndarray, indices: np.ndarray) -> None:
        self.images = images
        self.indices = indices

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, positions: Any) -> np.ndarray:
        return self.images[self.indices[positions]]


def initial_indices(y_pool: np.ndarray, per_class: int, seed: int, n_classes: int = 10,
                    exclude: np.ndarray | None = None) -> np.ndarray:
    """`per_class` random pool points of every class: the same set for every strategy of a seed."""
    rng = np.random.default_rng([seed, _INITIAL])
    allowed = np.ones(len(y_pool), dtype=bool)
    if exclude is not None:
        allowed[exclude] = False
    picks = [rng.choice(np.flatnonzero((y_pool == c) & allowed), size=per_class, replace=False)
             for c in range(n_classes)]
    return np.sort(np.concatenate(picks))


def validation_indices(pool_size: int, size: int, seed: int) -> np.ndarray:
    """`size` random pool points set aside for a seed (weight decay, early stopping): never labelled."""
    if size == 0:
        return np.empty(0, dtype=np.int64)
    return np.sort(np.random.default_rng([seed, _VALIDATION]).choice(pool_size, size=size, replace=False))


class ActiveLearningRun:
    """Iterate to run: yields query 0 (the model on the initial set), then one result per query."""

    def __init__(
        self,
        config: RunConfig,
        dataset: Dataset,
        strategy: str,
        seed: int,
        control: Control | None = None,
        on_phase: Callable[[PhaseChanged], None] | None = None,
        resume: list[dict[str, Any]] | None = None,
    ) -> None:
        check_against_data(config, len(dataset.y_pool), dataset.n_classes, dataset.class_counts())
        self.config = config
        self.dataset = dataset
        self.strategy_name = strategy
        self.seed = seed
        self.run_id = run_id(strategy, seed)
        self.control = control or Control()
        self.on_phase = on_phase or (lambda event: None)
        self.resume = sorted(resume, key=lambda r: r["query"]) if resume else []

    def _phase(self, query: int, phase: str, epoch: int = 0, epochs: int = 0) -> None:
        self.on_phase(PhaseChanged(self.run_id, query, phase, epoch, epochs))

    def __iter__(self) -> Iterator[QueryResult]:
        from modAL.models import ActiveLearner

        from baltui.core.models import MODELS
        from baltui.core.models.classifier import MCDropoutClassifier

        cfg, data = self.config, self.dataset
        query = 0
        clf = MCDropoutClassifier(
            data.input_shape, data.n_classes, cfg.epochs, cfg.batch_size, model_fn=MODELS[cfg.model].build,
            control=self.control, on_epoch=lambda e, n: self._phase(query, "training", e, n),
            on_compile=lambda: self._phase(query, COMPILING),
            mc_masks=mc_masks_for(cfg.mc_masks, self.strategy_name), weight_decay=cfg.weight_decay,
            epoch_draws=cfg.epoch_draws, early_stopping=cfg.early_stopping,
            train_precision=cfg.train_precision,
        )
        held_out = validation_indices(len(data.y_pool), cfg.validation, self.seed)
        if len(held_out):
            clf.validation = (data.x_pool[held_out], data.y_pool[held_out])
        strategy = QueryStrategy(self.strategy_name, cfg.mc_samples, cfg.subset, cfg.beta)
        in_pool = np.ones(len(data.y_pool), dtype=bool)
        in_pool[held_out] = False
        if self.resume:
            labelled = np.asarray(self.resume[-1]["labelled_indices"], dtype=np.int64)
            start = self.resume[-1]["query"] + 1
        else:
            labelled = initial_indices(data.y_pool, cfg.initial_per_class, self.seed, data.n_classes,
                                       held_out if len(held_out) else None)
            start = 0
        in_pool[labelled] = False

        if start > cfg.queries:
            return
        if start == 0:
            self.control.checkpoint()
            clf.rng = np.random.default_rng([self.seed, 0, _TRAIN])
            self._phase(0, "training", 0, cfg.epochs)
            t0 = time.perf_counter()
            with modal_warnings_silenced():
                learner = ActiveLearner(clf, strategy, data.x_pool[labelled], data.y_pool[labelled])
            training_s = time.perf_counter() - t0
            yield self._evaluate(learner, 0, labelled, in_pool, 0.0, training_s, np.empty(0, np.int64), None, None)
            start = 1
        else:
            # Resumed: the learner holds the labelled set; the next query's fit retrains from scratch,
            # so no training is needed here (the model is only used after that fit).
            learner = ActiveLearner(clf, strategy)
            learner.X_training = data.x_pool[labelled]
            learner.y_training = data.y_pool[labelled]

        for query in range(start, cfg.queries + 1):
            self.control.checkpoint()
            if not learner.estimator.fitted:
                # Resuming: retrain the previous query's model exactly as it was, for acquisition.
                clf.rng = np.random.default_rng([self.seed, query - 1, _TRAIN])
                self._phase(query, "training", 0, cfg.epochs)
                learner._fit_to_known()
            self._phase(query, "acquiring")
            strategy.rng = np.random.default_rng([self.seed, query, _QUERY])
            pool_idx = np.flatnonzero(in_pool)
            t0 = time.perf_counter()
            # Not learner.query: modAL retries a strategy that raises (see QueryStrategy).
            positions, chosen_scores = strategy(learner, PoolView(data.x_pool, pool_idx), n_instances=cfg.instances)
            acquisition_s = time.perf_counter() - t0
            chosen = pool_idx[np.asarray(positions, dtype=np.int64)]
            self.control.checkpoint()
            clf.rng = np.random.default_rng([self.seed, query, _TRAIN])
            self._phase(query, "training", 0, cfg.epochs)
            t0 = time.perf_counter()
            with modal_warnings_silenced():
                learner.teach(data.x_pool[chosen], data.y_pool[chosen])
            training_s = time.perf_counter() - t0
            in_pool[chosen] = False
            labelled = np.concatenate([labelled, chosen])
            yield self._evaluate(learner, query, labelled, in_pool, acquisition_s, training_s, chosen,
                                 chosen_scores, strategy.last_scores)

    def _evaluate(
        self,
        learner: Any,
        query: int,
        labelled: np.ndarray,
        in_pool: np.ndarray,
        acquisition_s: float,
        training_s: float,
        chosen: np.ndarray,
        chosen_scores: np.ndarray | None,
        scores: np.ndarray | None,
    ) -> QueryResult:
        data = self.dataset
        self._phase(query, "evaluating")
        t0 = time.perf_counter()
        accuracy = learner.score(data.x_test, data.y_test)
        evaluation_s = time.perf_counter() - t0
        return QueryResult(
            run_id=self.run_id,
            strategy=self.strategy_name,
            seed=self.seed,
            query=query,
            n_labelled=int(len(labelled)),
            pool_size=int(in_pool.sum()),
            accuracy=float(accuracy),
            acquisition_s=acquisition_s,
            training_s=training_s,
            evaluation_s=evaluation_s,
            queried_indices=[int(i) for i in chosen],
            queried_labels=[int(data.y_pool[i]) for i in chosen],
            queried_scores=None if chosen_scores is None else [float(s) for s in chosen_scores],
            queried_images=preview_images(data, chosen)
            if len(chosen) else None,  # [k, H, W] grayscale, [k, H, W, 3] RGB
            scores=None if scores is None else np.asarray(scores, dtype=np.float32),
            labelled_indices=[int(i) for i in labelled],
            training=_training_info(learner.estimator),
        )


def _training_info(clf: Any) -> dict[str, Any] | None:
    """What the regime chose for this fit (weight decay C, validation accuracy, epochs), if anything."""
    if not clf.weight_decay and not clf.early_stopping and clf.validation is None:
        return None
    return {"weight_decay": clf.last_weight_decay, "validation_accuracy": clf.last_validation_accuracy,
            "epochs": clf.last_epochs}
