"""The one fake engine of the tests, built by keyword: made-up results at once, without TensorFlow.

An engine factory has the signature of baltui.core.engine.ActiveLearningRun (config, dataset, strategy,
seed, control, on_phase, resume) and yields one QueryResult per query; the dashboard, headless mode and the
executors take any such factory. `fake_result` builds a QueryResult by keyword with everything else
derived from (strategy, seed, query), so a test names only what it is about.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from baltui.core.events import PhaseChanged, QueryResult


def fake_result(strategy: str = "entropy", seed: int = 0, query: int = 0, *, instances: int = 10,
                initial: int = 20, pool: int = 1000, accuracy: float | None = None, scores: Any = "random",
                images: Any = "random", rng: np.random.Generator | None = None, metrics: bool = False,
                **fields: Any) -> QueryResult:
    """A result with the fields a real one has: k = instances queried (none at query 0), labels i % 10,
    accuracy 0.5 + query / 50, for a scoring strategy random scores of 50 subset points (uniform: None),
    random 8x8 images. `scores=None`, `images=None` or explicit arrays override; `fields` any other field.
    metrics=True adds what a record of today's baltui carries beyond accuracy (otherwise None, as in an old
    folder): ece 0.1 - query / 100, nll 0.5 - query / 20, brier 0.3 - query / 50, class accuracy
    0.6 + class / 20 (class 9 absent: None), the labelled set's count per class (class c has c + 1 + query)
    and a fit of 4 epochs whose loss falls 1.0, 0.5, 0.25, 0.125."""
    rng = rng if rng is not None else np.random.default_rng([seed, query])
    k = 0 if query == 0 else instances
    if isinstance(scores, str):
        scores = None if strategy == "uniform" else rng.random(50)
    if isinstance(images, str):
        images = rng.random((k, 8, 8))
    values: dict[str, Any] = dict(
        run_id=f"{strategy}-s{seed}", strategy=strategy, seed=seed, query=query, n_labelled=initial + k * query,
        pool_size=pool - k * query, accuracy=0.5 + query / 50 if accuracy is None else accuracy,
        acquisition_s=0.01, training_s=0.02, evaluation_s=0.01, queried_indices=list(range(k)),
        queried_labels=[i % 10 for i in range(k)],
        queried_scores=None if scores is None else [float(s) for s in np.asarray(scores)[:k]],
        queried_images=images, scores=scores, labelled_indices=[],
    )
    if metrics:
        values.update(
            ece=0.1 - query / 100, nll=0.5 - query / 20, brier=0.3 - query / 50,
            class_accuracy=[0.6 + c / 20 for c in range(9)] + [None],
            labelled_per_class=[c + 1 + query for c in range(10)],
            fit={"loss": [1.0, 0.5, 0.25, 0.125], "accuracy": [0.5, 0.7, 0.8, 0.9], "epochs": 4, "last_batch": 7},
        )
    values.update(fields)
    return QueryResult(**values)


@dataclass
class FakeEngine:
    """An engine factory of made-up results, checking the Control at every 'epoch' like the real one.

    delay: seconds per epoch; epochs: training phases reported per query; gate + gate_at: block on the event at
    that query, checking the Control while waiting (check_while_gated) or not at all, like a numba kernel or a
    long BatchBALD step; fail + fail_at: the strategy whose run raises `error` at that query; result: keyword
    arguments for fake_result, or a function (strategy, seed, query, config) -> QueryResult.
    """

    delay: float = 0.0
    epochs: int = 3
    gate: threading.Event | None = None
    gate_at: int = 1
    check_while_gated: bool = True
    fail: str | None = None
    fail_at: int = 2
    error: Exception | None = None
    result: dict[str, Any] | Callable[..., QueryResult] | None = None

    def __call__(self, config: Any, dataset: Any, strategy: str, seed: int, control: Any,
                 on_phase: Callable[[PhaseChanged], None], resume: Any) -> Iterator[QueryResult]:
        rid = f"{strategy}-s{seed}"
        for q in range(config.queries + 1):
            for epoch in range(1, self.epochs + 1):
                if control is not None:
                    control.checkpoint()
                on_phase(PhaseChanged(rid, q, "training", epoch, self.epochs))
                if self.delay:
                    time.sleep(self.delay)
            if self.gate is not None and q == self.gate_at:
                self.gate.wait(60 if not self.check_while_gated else 10)
            if strategy == self.fail and q == self.fail_at:
                raise self.error or FloatingPointError("training loss is not finite (NaN or inf); check the data")
            if callable(self.result):
                yield self.result(strategy, seed, q, config)
            else:
                yield fake_result(strategy, seed, q, instances=config.instances, **(self.result or {}))
