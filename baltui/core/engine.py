"""One active-learning run, as a stream of QueryResults: the round (`baltui.core.loop`) driven query after query.

The engine knows nothing of Textual or printing: it yields results and reports phases through a
callback, and stops at the next epoch or phase boundary when its Control says so.

Every random choice of query q of run (strategy, seed) comes from a generator seeded with
(seed, q, purpose), so a run gives the same queried indices whatever runs it is interleaved with, and a
resumed run continues exactly as if it had never stopped.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from baltui.core.config import RunConfig, check_against_data, run_id
from baltui.core.control import Control
from baltui.core.data import Dataset, preview_images
from baltui.core.diversity import k_center_greedy
from baltui.core.events import PhaseChanged, QueryResult
from baltui.core.loop import QUERY, TRAIN, ActiveLearningLoop, LoopSettings, stream
from baltui.core.metrics import class_counts, fit_summary
from baltui.core.stopping import Measured, Rule, changed_share, first_met, parse_rules, stop_set

# The phase of the sparse MC kernel's first use in a process: a ~20 s compile on a new machine.
COMPILING = "compiling the MC kernel (once per machine)"
# Streams of randomness per seed that are not per query (the loop's TRAIN and QUERY are per query).
_INITIAL, _VALIDATION = 0, 3  # and baltui.core.stopping.STOP_SET_STREAM


def initial_indices(y_pool: np.ndarray, per_class: int, seed: int, n_classes: int = 10,
                    exclude: np.ndarray | None = None, initial_set: str = "balanced",
                    images: np.ndarray | None = None) -> np.ndarray:
    """The first labelled pool points, the same set for every strategy of a seed: "balanced", `per_class`
    random points of every class (the papers' protocol); "random", `per_class * n_classes` random points
    chosen from the pool's size alone, never reading a label (a labelling project starts with none);
    "kcenter", that many chosen from the `images` alone: a random first image, then each the farthest in
    pixel space from those before it (k-center greedy), so the start spreads over the pool's looks."""
    rng = np.random.default_rng([seed, _INITIAL])
    allowed = np.ones(len(y_pool), dtype=bool)
    if exclude is not None:
        allowed[exclude] = False
    if initial_set == "random":
        return np.sort(rng.choice(np.flatnonzero(allowed), size=per_class * n_classes, replace=False))
    if initial_set == "kcenter":
        if images is None:
            raise ValueError("a k-center initial set is chosen from the pool's images: pass images")
        candidates = np.flatnonzero(allowed)
        flat = np.asarray(images)[candidates].reshape(len(candidates), -1)
        first = int(rng.integers(len(candidates)))
        rest = k_center_greedy(flat, flat[[first]], per_class * n_classes - 1)
        return np.sort(candidates[np.concatenate([[first], rest]).astype(np.int64)])
    picks = [rng.choice(np.flatnonzero((y_pool == c) & allowed), size=per_class, replace=False)
             for c in range(n_classes)]
    return np.sort(np.concatenate(picks))


def validation_indices(pool_size: int, size: int, seed: int) -> np.ndarray:
    """`size` random pool points set aside for a seed (weight decay, early stopping): never labelled."""
    if size == 0:
        return np.empty(0, dtype=np.int64)
    return np.sort(np.random.default_rng([seed, _VALIDATION]).choice(pool_size, size=size, replace=False))


class ActiveLearningRun:
    """Iterate to run: yields query 0 (the model on the initial set), then one result per query, until the
    last query or the first query at which a stop rule (config.stop_when) holds: that result names the rule
    (`stopped`) and is the last."""

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
        cfg, data, seed = self.config, self.dataset, self.seed
        query = 0
        held_out = validation_indices(len(data.y_pool), cfg.validation, seed)
        loop = ActiveLearningLoop.build(
            LoopSettings.from_config(cfg, self.strategy_name), data.x_pool, data.n_classes, data.y_pool,
            validation=(data.x_pool[held_out], data.y_pool[held_out]) if len(held_out) else None,
            control=self.control, on_epoch=lambda e, n: self._phase(query, "training", e, n),
            on_compile=lambda: self._phase(query, COMPILING), targets=data.x_target,
        )
        in_pool = np.ones(len(data.y_pool), dtype=bool)
        in_pool[held_out] = False
        if self.resume:
            labelled = np.asarray(self.resume[-1]["labelled_indices"], dtype=np.int64)
            start = self.resume[-1]["query"] + 1
        else:
            labelled = initial_indices(data.y_pool, cfg.initial_per_class, seed, data.n_classes,
                                       held_out if len(held_out) else None, cfg.initial_set, data.x_pool)
            start = 0
        rules = parse_rules(cfg.stop_when)
        history = [Measured.from_record(r) for r in self.resume]
        # `stable` compares predictions on a fixed sample of the pool, drawn once per seed (held-out images
        # excepted), computed only for runs with that rule so the others do no extra work.
        stop_images = None
        if any(rule.needs_predictions for rule in rules):
            candidates = np.flatnonzero(~np.isin(np.arange(len(data.y_pool)), held_out))
            stop_images = data.x_pool[stop_set(candidates, seed)]
        previous: np.ndarray | None = None
        in_pool[labelled] = False

        if start > cfg.queries or first_met(rules, history) is not None:
            return  # done already: the executor's Recorder names the rule its records meet (stop_met)
        if start == 0:
            self.control.checkpoint()
            self._phase(0, "training", 0, cfg.epochs)
            training_s = loop.start(labelled, stream(seed, 0, TRAIN))
            result = self._evaluate(loop, 0, labelled, in_pool, 0.0, training_s, np.empty(0, np.int64), None, None)
            if stop_images is not None:
                previous = loop.predictions(stop_images)
            stopped = self._judge(result, rules, history)
            yield result
            if stopped:
                return
            start = 1
        else:
            # Resumed: the learner holds the labelled set; the next query's fit retrains from scratch,
            # so no training is needed here (the model is only used after that fit).
            loop.resume(labelled)

        for query in range(start, cfg.queries + 1):
            self.control.checkpoint()
            if not loop.trained:
                # Resuming: retrain the previous query's model exactly as it was, for acquisition.
                self._phase(query, "training", 0, cfg.epochs)
                loop.retrain(stream(seed, query - 1, TRAIN))
                if stop_images is not None:
                    previous = loop.predictions(stop_images)
            self._phase(query, "acquiring")
            acquired = loop.acquire(np.flatnonzero(in_pool), cfg.instances, stream(seed, query, QUERY))
            self.control.checkpoint()
            self._phase(query, "training", 0, cfg.epochs)
            training_s = loop.teach(acquired.chosen, stream(seed, query, TRAIN))
            in_pool[acquired.chosen] = False
            labelled = np.concatenate([labelled, acquired.chosen])
            result = self._evaluate(loop, query, labelled, in_pool, acquired.seconds, training_s, acquired.chosen,
                                    acquired.chosen_scores, acquired.scores)
            if stop_images is not None:
                current = loop.predictions(stop_images)
                result.predictions_changed = changed_share(previous, current)
                previous = current
            stopped = self._judge(result, rules, history)
            yield result
            if stopped:
                return

    @staticmethod
    def _judge(result: QueryResult, rules: list[Rule], history: list[Measured]) -> bool:
        """Add the query to the run's history and name on it the first stop rule that now holds, if any."""
        summary = result.score_summary()
        history.append(Measured(result.query, result.n_labelled, result.accuracy,
                                None if summary is None else summary["mean"], result.predictions_changed))
        rule = first_met(rules, history)
        result.stopped = None if rule is None else rule.text
        return rule is not None

    def _evaluate(
        self,
        loop: ActiveLearningLoop,
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
        evaluation = loop.evaluate(data.x_test, data.y_test)
        metrics = evaluation.metrics
        return QueryResult(
            run_id=self.run_id,
            strategy=self.strategy_name,
            seed=self.seed,
            query=query,
            n_labelled=int(len(labelled)),
            pool_size=int(in_pool.sum()),
            accuracy=float(evaluation.accuracy),
            acquisition_s=acquisition_s,
            training_s=training_s,
            evaluation_s=evaluation.seconds,
            queried_indices=[int(i) for i in chosen],
            queried_labels=[int(data.y_pool[i]) for i in chosen],
            queried_scores=None if chosen_scores is None else [float(s) for s in chosen_scores],
            queried_images=preview_images(data, chosen)
            if len(chosen) else None,  # [k, H, W] grayscale, [k, H, W, 3] RGB
            scores=None if scores is None else np.asarray(scores, dtype=np.float32),
            labelled_indices=[int(i) for i in labelled],
            training=_training_info(loop.classifier),
            nll=metrics["nll"],
            ece=metrics["ece"],
            brier=metrics["brier"],
            class_accuracy=metrics["class_accuracy"],
            labelled_per_class=class_counts(data.y_pool[labelled], data.n_classes),
            fit=_fit_info(loop.classifier),
        )


def _fit_info(clf: Any) -> dict[str, Any] | None:
    """The record's `fit`: the last fit's per-epoch training loss and accuracy, epochs, last batch size."""
    fit = clf.last_fit
    if fit is None:
        return None
    return fit_summary(fit.loss, fit.accuracy, fit.epochs, fit.last_batch)


def _training_info(clf: Any) -> dict[str, Any] | None:
    """What the regime chose for this fit (weight decay C, validation accuracy, epochs), if anything."""
    if not clf.weight_decay and not clf.early_stopping and clf.validation is None:
        return None
    return {"weight_decay": clf.last_weight_decay, "validation_accuracy": clf.last_validation_accuracy,
            "epochs": clf.last_epochs}
