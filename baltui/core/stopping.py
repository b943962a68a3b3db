"""Stopping rules (`--stop-when RULE`): when a run has labelled enough, parsed and judged in one place.

A labelling budget is rarely known in advance, so a study asks when a run *could* have stopped. A rule is
judged after every query (query 0, the model on the initial set, included) on what the query measured
(`Measured`); a run stops after the first query at which ANY of its rules holds, and records which one.
The run driver (baltui.core.engine) and label mode judge the same rules with the same functions.

The forms (FORMS), each precise:

- `labels>=N`: the labelled set (the initial set included) holds at least N images.
- `accuracy>=X`: test accuracy is at least X. It reads the TEST set, which a labelling project does not
  have: an oracle-peeking rule for studies, and in label mode only with --test.
- `plateau:N,D`: none of the last N queries beat the best test accuracy of the queries before them by more
  than D (Keras EarlyStopping's patience N and min_delta D; query 0 counts as a query, so the earliest stop
  is at query N). It reads the test set too.
- `uncertainty<X`: the strategy's mean acquisition score over the last query's scored subset (the `mean` of
  results.jsonl's score_summary) is below X. Never at query 0 (nothing was scored); refused for strategies
  without per-point scores (uniform).
- `stable:X`: the share of deterministic predictions (dropout off) that changed since the previous query is
  below X, on a fixed "stop set" of at most STOP_SET_SIZE pool images drawn once per seed (`stop_set`), as the
  stabilizing-predictions criterion of Bloodgood & Vijay-Shanker (2009) used by small-text and baal. A fixed
  set compares like with like from query to query (the scored subset is redrawn every query) and keeps the
  cost at one deterministic pass over a few thousand images; it is computed only for runs with the rule.

`none` stands for no rule (`--stop-when none` drops the saved rules on --resume). This module imports numpy
and the strategy registry only.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from baltui.core.acquisition import STRATEGIES
from baltui.core.errors import BaltuiError

NONE = "none"
FORMS = "labels>=N, accuracy>=X, plateau:N,D, uncertainty<X, stable:X (or none)"
# Pool images whose predictions `stable` compares: enough for a share of 0.001 to mean two images.
STOP_SET_SIZE = 2000
# The purpose of its random stream per seed, beside the engine's (initial set 0, training 1, query 2,
# validation 3: baltui.core.engine and baltui.core.loop).
STOP_SET_STREAM = 4

_NUMBER = r"([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)"
_PATTERNS = {
    "labels": re.compile(r"labels>=(\d+)"),
    "accuracy": re.compile(rf"accuracy>={_NUMBER}"),
    "plateau": re.compile(rf"plateau:(\d+),{_NUMBER}"),
    "uncertainty": re.compile(rf"uncertainty<{_NUMBER}"),
    "stable": re.compile(rf"stable:{_NUMBER}"),
}


@dataclass(frozen=True)
class Measured:
    """What one query (or label round) measured: all a rule reads. None where it was not measured."""

    query: int
    n_labelled: int
    accuracy: float | None = None  # test accuracy (None in label mode without --test)
    mean_score: float | None = None  # mean acquisition score of the scored subset (None at query 0, uniform)
    changed: float | None = None  # share of the stop set's predictions changed since the previous query

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> Measured:
        """A results.jsonl query record (a resumed run's history)."""
        summary = record.get("score_summary") or {}
        return cls(int(record["query"]), int(record["n_labelled"]), float(record["accuracy"]),
                   summary.get("mean"), record.get("predictions_changed"))


@dataclass(frozen=True)
class Rule:
    """One parsed rule; `text` is the rule as given (without spaces), what run_finished records."""

    text: str
    kind: str  # labels | accuracy | plateau | uncertainty | stable
    threshold: float
    window: int = 0  # plateau's N

    @property
    def reads_test(self) -> bool:
        """Reads test accuracy: an oracle's rule (label mode needs --test for it)."""
        return self.kind in ("accuracy", "plateau")

    @property
    def needs_predictions(self) -> bool:
        """Needs the stop set's predictions after every query (computed only then)."""
        return self.kind == "stable"

    def met(self, history: Sequence[Measured]) -> bool:
        """Whether the rule holds after the last query of `history` (the run's queries in order)."""
        if not history:
            return False
        last = history[-1]
        if self.kind == "labels":
            return last.n_labelled >= self.threshold
        if self.kind == "accuracy":
            return last.accuracy is not None and last.accuracy >= self.threshold
        if self.kind == "plateau":
            accuracies = [m.accuracy for m in history]
            return None not in accuracies and plateaued(accuracies, self.window, self.threshold)
        if self.kind == "uncertainty":
            return below(last.mean_score, self.threshold)
        return below(last.changed, self.threshold)


def plateaued(accuracies: Sequence[float], patience: int, min_delta: float) -> bool:
    """None of the last `patience` accuracies beats the best one before them by more than `min_delta`
    (needs patience + 1 values: a window and at least one before it)."""
    if len(accuracies) <= patience:
        return False
    before, window = accuracies[:-patience], accuracies[-patience:]
    return max(window) <= max(before) + min_delta


def below(value: float | None, threshold: float) -> bool:
    """value < threshold for a measured, finite value (an unmeasured or NaN one never stops a run)."""
    return value is not None and math.isfinite(value) and value < threshold


def changed_share(previous: np.ndarray, current: np.ndarray) -> float:
    """The share of predictions that differ between two passes over the same images."""
    return float(np.mean(np.asarray(previous) != np.asarray(current))) if len(current) else 0.0


def stop_set(candidates: np.ndarray, seed: int) -> np.ndarray:
    """At most STOP_SET_SIZE of `candidates` (image indices), sorted: drawn once per seed from its own stream
    (STOP_SET_STREAM), so every query's predictions are compared on the same images (they stay in the set
    once labelled, as Bloodgood's) and no other draw of the run changes."""
    candidates = np.asarray(candidates, dtype=np.int64)
    if len(candidates) <= STOP_SET_SIZE:
        return candidates
    rng = np.random.default_rng([seed, STOP_SET_STREAM])
    return np.sort(rng.choice(candidates, size=STOP_SET_SIZE, replace=False))


# ---- parsing ------------------------------------------------------------------------------------
def _refuse(text: str, why: str) -> BaltuiError:
    return BaltuiError(f"stop rule '{text}' {why}; the forms are {FORMS}")


def parse_rule(text: str) -> Rule:
    """One rule from its text ('labels>=500', 'plateau:5,0.002'), or one BaltuiError line listing the forms."""
    if not isinstance(text, str):
        raise _refuse(str(text), "is not text")
    compact = "".join(text.split())
    for kind, pattern in _PATTERNS.items():
        found = pattern.fullmatch(compact)
        if found is None:
            continue
        if kind == "plateau":
            window, delta = int(found.group(1)), float(found.group(2))
            if window < 1 or not math.isfinite(delta) or delta < 0:
                raise _refuse(text, "needs N >= 1 queries and a gain D >= 0")
            return Rule(compact, kind, delta, window)
        value = float(found.group(1))
        if kind == "labels" and value < 1:
            raise _refuse(text, "needs N >= 1 labels")
        if kind == "accuracy" and not 0 < value <= 1:
            raise _refuse(text, "needs an accuracy X with 0 < X <= 1")
        if kind == "stable" and not 0 < value <= 1:
            raise _refuse(text, "needs a share X with 0 < X <= 1")
        if not math.isfinite(value):
            raise _refuse(text, "needs a finite number")
        return Rule(compact, kind, value)
    raise _refuse(text, "is not a stop rule")


def parse_rules(texts: Iterable[str]) -> list[Rule]:
    """The rules of a list of texts ('none' alone: no rule); a rule given twice is refused."""
    texts = list(texts)
    if [t.strip() if isinstance(t, str) else t for t in texts] == [NONE]:
        return []
    if any(isinstance(t, str) and t.strip() == NONE for t in texts):
        raise _refuse(NONE, "stands for no rule and cannot be combined with rules")
    rules = [parse_rule(t) for t in texts]
    seen: set[str] = set()
    for rule in rules:
        if rule.text in seen:
            raise BaltuiError(f"stop rule '{rule.text}' is given twice; give each rule once")
        seen.add(rule.text)
    return rules


def canonical(texts: Iterable[str]) -> list[str]:
    """The rules as stored in config.json: each as given without spaces, none as the empty list."""
    return [rule.text for rule in parse_rules(texts)]


def check_rules(rules: Sequence[Rule], strategies: Iterable[str], has_test: bool = True) -> None:
    """Refuse a rule the runs cannot judge: uncertainty for a strategy without per-point scores, and (label
    mode without --test) a rule that reads test accuracy."""
    for rule in rules:
        if rule.kind == "uncertainty":
            scoreless = [s for s in strategies if s in STRATEGIES and not STRATEGIES[s].has_scores]
            if scoreless:
                raise BaltuiError(f"stop rule '{rule.text}' reads the acquisition scores and {scoreless[0]} has "
                                  "none; drop {scoreless[0]} from the strategies or choose another rule")
        if rule.reads_test and not has_test:
            raise BaltuiError(f"stop rule '{rule.text}' reads test accuracy; give --test FILE.npz (labelled "
                              "images) or choose labels>=N, uncertainty<X or stable:X")


def first_met(rules: Sequence[Rule], history: Sequence[Measured]) -> Rule | None:
    """The first rule (in the order given) that holds after the last query of `history`."""
    return next((rule for rule in rules if rule.met(history)), None)


def describe(texts: Sequence[str]) -> str:
    """Rules as one phrase for tables and status lines: 'labels>=500 or plateau:5,0.002', or 'none'."""
    return " or ".join(texts) if texts else NONE
