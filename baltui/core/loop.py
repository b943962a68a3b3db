"""One active-learning round over modAL: the one place that builds the learner and drives it.

The engine (a run of many queries), label mode (a person as the oracle) and `baltui bench` (timing a
round) all go through `ActiveLearningLoop`: build the classifier for a model and its training regime,
make modAL's `ActiveLearner`, acquire by calling the query strategy itself, teach, evaluate, and take a
learner back from a labelled set when resuming. modAL's quirks live here and nowhere else:

- `ActiveLearner.query` wraps the strategy in a bare `except:` and calls it again, so a bug would run
  twice and a KeyboardInterrupt or a Ray cancellation would be swallowed: `acquire` calls the strategy.
- modAL 0.4.2.1 passes scikit-learn's deprecated `force_all_finite` (the pin in pyproject keeps it
  working): its FutureWarning is hidden around modAL's calls, and only there.
- Retraining a resumed learner on its labelled set is modAL's private `_fit_to_known` (`retrain`).

Every method that draws random numbers takes its generator, so callers keep one stream per (seed, step,
purpose) (`stream`) and a round's results never depend on what ran before it in the process.
"""

from __future__ import annotations

import dataclasses
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from baltui.core import plugins
from baltui.core.acquisition import DEFAULT_EPIG_TARGETS, QueryStrategy
from baltui.core.config import RunConfig, mc_masks_for
from baltui.core.control import Control
from baltui.core.metrics import test_metrics

if TYPE_CHECKING:
    from baltui.core.models.classifier import MCDropoutClassifier

# Purposes of the random streams of one step (a query of a run, a round of a label session).
TRAIN, QUERY = 1, 2


def stream(seed: int, step: int, purpose: int) -> np.random.Generator:
    """The generator of one (seed, step, purpose): the same numbers whatever ran before it."""
    return np.random.default_rng([seed, step, purpose])


@contextmanager
def modal_warnings_silenced() -> Iterator[None]:
    """Hide modAL's known, harmless `force_all_finite` FutureWarning around its calls (and only there)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*force_all_finite.*", category=FutureWarning)
        yield


class PoolView:
    """The unlabelled pool as positions into the images, without copying them.

    The strategy gets X_pool and indexes it with the positions it scores; this gives it `len()` and
    `[positions]` over an index array, so a 60,000-image pool is never copied per query.
    """

    def __init__(self, images: np.ndarray, indices: np.ndarray) -> None:
        self.images = images
        self.indices = indices

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, positions: Any) -> np.ndarray:
        return self.images[self.indices[positions]]


@dataclass(frozen=True)
class LoopSettings:
    """What a round computes with: the architecture and its training, the strategy and its sampling."""

    strategy: str  # a built-in's name, an installed plug-in's, or a plug-in's reference (module:attr, file.py:attr)
    model: str = "seed"  # likewise (baltui.core.plugins)
    epochs: int = 50
    batch_size: int = 128
    epoch_draws: int = 0
    early_stopping: int = 0
    weight_decay: float | str = 0.0
    mc_samples: int = 100
    subset: int = 2000
    beta: float = 1.0
    epig_targets: int = DEFAULT_EPIG_TARGETS
    mc_masks: str = "auto"  # resolved per strategy by `mc_masks_for`
    train_precision: str = "float32"
    batching: str = "keep"

    @classmethod
    def from_config(cls, config: RunConfig, strategy: str) -> LoopSettings:
        """The settings of one run of an experiment (its preset, flags and model regime already merged)."""
        names = {f.name for f in dataclasses.fields(cls)} - {"strategy"}
        # a plug-in's run name stands for its reference (baltui.core.plugins), which the round resolves
        return cls(strategy=config.strategy_references.get(strategy, strategy),
                   **{name: getattr(config, name) for name in names})


class Evaluation(NamedTuple):
    """One evaluation on a labelled test set: accuracy, its wall time, and the other test metrics
    (`baltui.core.metrics.test_metrics` without accuracy: nll, ece, brier, class_accuracy)."""

    accuracy: float
    seconds: float
    metrics: dict[str, Any]


class Acquired(NamedTuple):
    """One acquisition: the chosen image indices, their scores, the scored subset's scores, its wall time."""

    chosen: np.ndarray
    chosen_scores: np.ndarray | None
    scores: np.ndarray | None
    seconds: float


class ActiveLearningLoop:
    """A classifier, a query strategy and modAL's learner over one array of images.

    `labels` (aligned with `images`) are the oracle's answers where the caller has them all (the engine,
    bench); label mode passes each round's labels to `start` instead.
    """

    def __init__(self, classifier: MCDropoutClassifier, strategy: QueryStrategy, images: np.ndarray,
                 labels: np.ndarray | None = None) -> None:
        self.classifier = classifier
        self.strategy = strategy
        self.images = images
        self.labels = labels
        self.learner: Any = None

    @classmethod
    def build(cls, settings: LoopSettings, images: np.ndarray, n_classes: int, labels: np.ndarray | None = None, *,
              validation: tuple[np.ndarray, np.ndarray] | None = None, control: Control | None = None,
              on_epoch: Callable[[int, int], None] | None = None,
              on_compile: Callable[[], None] | None = None,
              targets: np.ndarray | None = None) -> ActiveLearningLoop:
        """The classifier of `settings.model` in the settings' regime, and the settings' strategy.

        `validation` (images, labels) is what early stopping and weight decay "auto" choose on; `targets` the
        images EPIG draws its target inputs from (a recipe's target set; the pool when None).
        """
        from baltui.core.models.classifier import MCDropoutClassifier

        s = settings
        acquisition = plugins.strategy(s.strategy)
        classifier = MCDropoutClassifier(
            images.shape[1:], n_classes, s.epochs, s.batch_size, model_fn=plugins.model(s.model).build,
            control=control, on_epoch=on_epoch, on_compile=on_compile, mc_masks=mc_masks_for(s.mc_masks, acquisition),
            weight_decay=s.weight_decay, epoch_draws=s.epoch_draws, early_stopping=s.early_stopping,
            validation=validation, train_precision=s.train_precision, batching=s.batching,
        )
        strategy = QueryStrategy(acquisition, s.mc_samples, s.subset, s.beta, s.epig_targets, targets)
        return cls(classifier, strategy, images, labels)

    def _clock(self) -> float:
        """Seconds of work: wall time less the time spent paused at the classifier's control checkpoints, so
        the durations a round returns are what it cost, not how long it sat paused."""
        control = self.classifier.control
        return time.perf_counter() - (control.waited if control is not None else 0.0)

    # ---- the labelled set -----------------------------------------------------------------------
    def _answers(self, indices: np.ndarray, y: np.ndarray | None) -> np.ndarray:
        if y is not None:
            return np.asarray(y)
        if self.labels is None:
            raise ValueError("no labels for these images: pass y")
        return self.labels[indices]

    def start(self, labelled: np.ndarray, rng: np.random.Generator, y: np.ndarray | None = None) -> float:
        """A new learner trained from fresh weights on the labelled images; returns the seconds it took."""
        from modAL.models import ActiveLearner

        labelled = np.asarray(labelled, dtype=np.int64)
        answers = self._answers(labelled, y)
        self.classifier.rng = rng
        t0 = self._clock()
        with modal_warnings_silenced():
            self.learner = ActiveLearner(self.classifier, self.strategy, self.images[labelled], answers)
        return self._clock() - t0

    def resume(self, labelled: np.ndarray, y: np.ndarray | None = None) -> None:
        """A learner holding the labelled set without training on it: the next `teach` retrains from
        scratch anyway, and `retrain` trains now when a model is needed first."""
        from modAL.models import ActiveLearner

        labelled = np.asarray(labelled, dtype=np.int64)
        self.learner = ActiveLearner(self.classifier, self.strategy)
        self.learner.X_training = self.images[labelled]
        self.learner.y_training = self._answers(labelled, y)

    @property
    def trained(self) -> bool:
        """Whether the classifier holds a trained model (after `start`, `teach` or `retrain`)."""
        return bool(self.classifier.fitted)

    def retrain(self, rng: np.random.Generator) -> float:
        """Train from fresh weights on the learner's labelled set (a resumed learner); returns the seconds."""
        self.classifier.rng = rng
        t0 = self._clock()
        self.learner._fit_to_known()
        return self._clock() - t0

    # ---- one round ------------------------------------------------------------------------------
    def acquire(self, pool: np.ndarray, n: int, rng: np.random.Generator) -> Acquired:
        """The strategy's `n` images from `pool` (image indices), by calling it directly (not learner.query)."""
        self.strategy.rng = rng
        t0 = self._clock()
        positions, chosen_scores = self.strategy(self.learner, PoolView(self.images, pool), n_instances=n)
        seconds = self._clock() - t0
        chosen = pool[np.asarray(positions, dtype=np.int64)]
        return Acquired(chosen, chosen_scores, self.strategy.last_scores, seconds)

    def teach(self, indices: np.ndarray, rng: np.random.Generator, y: np.ndarray | None = None) -> float:
        """Add the images (with their answers) to the labelled set and retrain from fresh weights; seconds."""
        self.classifier.rng = rng
        t0 = self._clock()
        with modal_warnings_silenced():
            self.learner.teach(self.images[indices], self._answers(indices, y))
        return self._clock() - t0

    def predictions(self, x: np.ndarray) -> np.ndarray:
        """The model's class for each image, dropout off: deterministic, drawing no random numbers (what the
        `stable` stop rule compares from one query to the next)."""
        return self.classifier.predict_proba(x).argmax(axis=1)

    def evaluate(self, x: np.ndarray, y: np.ndarray) -> Evaluation:
        """Accuracy on x, y, the seconds it took, and the test metrics, all from one float32 pass
        (`MCDropoutClassifier.evaluate_proba`): the accuracy is the argmax's, as `learner.score` gives it."""
        t0 = self._clock()
        metrics = test_metrics(self.classifier.evaluate_proba(x), y, self.classifier.n_classes)
        accuracy = float(metrics.pop("accuracy"))
        return Evaluation(accuracy, self._clock() - t0, metrics)
