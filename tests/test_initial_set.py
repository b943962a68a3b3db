"""`--initial-set random`: the first labels chosen from the images alone, as a labelling project must."""

from __future__ import annotations

import json

import numpy as np
import pytest

from baltui.core.config import RunConfig, build_config, check_against_data
from baltui.core.data_checks import check_config_against_data
from baltui.core.engine import ActiveLearningRun, initial_indices
from baltui.core.errors import BaltuiError
from baltui.runs.references import MNIST_SHA256


class LabelsThatRaise:
    """A pool's labels that may be counted but never read."""

    def __init__(self, n: int) -> None:
        self.n = n

    def __len__(self) -> int:
        return self.n

    def _read(self, *args, **kwargs):
        raise AssertionError("a label was read")

    __getitem__ = __eq__ = __array__ = __iter__ = _read
    __hash__ = None


def test_a_random_initial_set_reads_no_label():
    labels = LabelsThatRaise(1300)
    a = initial_indices(labels, 2, seed=0, n_classes=10, initial_set="random")
    assert len(a) == 20 and len(np.unique(a)) == 20 and np.array_equal(a, np.sort(a))
    assert np.array_equal(a, initial_indices(LabelsThatRaise(1300), 2, 0, 10, initial_set="random"))
    assert not np.array_equal(a, initial_indices(labels, 2, 1, 10, initial_set="random"))
    held_out = np.arange(0, 1300, 2)
    b = initial_indices(labels, 3, 0, 10, exclude=held_out, initial_set="random")
    assert len(b) == 30 and not set(b) & set(held_out)
    with pytest.raises(AssertionError, match="a label was read"):  # the balanced set needs them
        initial_indices(labels, 2, 0, 10)


def _farthest_first(images: np.ndarray, allowed: np.ndarray, first: int, k: int) -> set[int]:
    """k-center greedy written out: each next image the one whose nearest chosen image is farthest."""
    flat = images.reshape(len(images), -1).astype(np.float64)
    chosen = [first]
    while len(chosen) < k:
        nearest = np.min([((flat - flat[c]) ** 2).sum(axis=1) for c in chosen], axis=0)
        nearest[~allowed] = -1.0
        nearest[chosen] = -1.0
        chosen.append(int(np.argmax(nearest)))
    return set(chosen)


def test_a_kcenter_initial_set_reads_no_label_and_spreads_over_the_images(digits):
    n = len(digits.y_pool)
    a = initial_indices(LabelsThatRaise(n), 2, 0, 10, initial_set="kcenter", images=digits.x_pool)
    assert len(a) == 20 and len(np.unique(a)) == 20 and np.array_equal(a, np.sort(a))
    assert np.array_equal(a, initial_indices(LabelsThatRaise(n), 2, 0, 10, initial_set="kcenter",
                                             images=digits.x_pool))
    assert not np.array_equal(a, initial_indices(LabelsThatRaise(n), 2, 1, 10, initial_set="kcenter",
                                                 images=digits.x_pool))
    # The same set as farthest-first written out, from the one image of the set that is not a farthest pick.
    everywhere = np.ones(n, dtype=bool)
    assert any(_farthest_first(digits.x_pool, everywhere, int(f), 20) == set(a.tolist()) for f in a)
    held_out = np.arange(0, n, 2)
    b = initial_indices(LabelsThatRaise(n), 3, 0, 10, exclude=held_out, initial_set="kcenter",
                        images=digits.x_pool)
    assert len(b) == 30 and not set(b) & set(held_out)
    # Spread: every pool image is nearer its nearest chosen one than it is to a random set's, at the worst.
    flat = digits.x_pool.reshape(n, -1).astype(np.float64)

    def radius(chosen: np.ndarray) -> float:
        return float(np.sqrt(np.min([((flat - flat[c]) ** 2).sum(axis=1) for c in chosen], axis=0).max()))

    randoms = [initial_indices(LabelsThatRaise(n), 2, s, 10, initial_set="random") for s in range(5)]
    assert radius(a) < min(radius(r) for r in randoms)
    with pytest.raises(ValueError, match="pass images"):
        initial_indices(LabelsThatRaise(n), 2, 0, 10, initial_set="kcenter")


def test_the_balanced_set_stays_the_default(digits):
    a = initial_indices(digits.y_pool, 2, seed=0, n_classes=10)
    assert np.array_equal(a, initial_indices(digits.y_pool, 2, 0, 10, initial_set="balanced"))
    assert np.array_equal(np.bincount(digits.y_pool[a], minlength=10), [2] * 10)
    assert RunConfig().initial_set == "balanced" and build_config({}).initial_set == "balanced"


def test_the_engine_starts_from_the_label_free_draw(digits, tiny):
    """Query 0's labelled set is exactly the draw made from the pool's size alone: no label chose it."""
    config = tiny(strategies=["uniform"], queries=1, epochs=1, initial_set="random", initial_per_class=3)
    first = next(iter(ActiveLearningRun(config, digits, "uniform", 5)))
    expected = initial_indices(LabelsThatRaise(len(digits.y_pool)), 3, 5, 10, initial_set="random")
    assert first.query == 0 and first.labelled_indices == expected.tolist()
    assert first.labelled_indices != initial_indices(digits.y_pool, 3, 5, 10).tolist()


def test_the_engine_starts_from_the_kcenter_draw(digits, tiny):
    config = tiny(strategies=["uniform"], queries=1, epochs=1, initial_set="kcenter")
    first = next(iter(ActiveLearningRun(config, digits, "uniform", 2)))
    expected = initial_indices(LabelsThatRaise(len(digits.y_pool)), 2, 2, 10, initial_set="kcenter",
                               images=digits.x_pool)
    assert first.query == 0 and first.labelled_indices == expected.tolist()


def test_data_checks_ask_no_class_of_a_random_initial_set():
    few_sevens = {c: (1 if c == 7 else 100) for c in range(10)}
    with pytest.raises(BaltuiError, match="class 7 has only 1"):
        check_against_data(RunConfig(queries=2, initial_per_class=2), 1000, 10, few_sevens)
    check_against_data(RunConfig(queries=2, initial_per_class=2, initial_set="random"), 1000, 10, few_sevens)
    with pytest.raises(BaltuiError, match="need 40 images but the pool holds 39"):
        check_against_data(RunConfig(queries=2, instances=10, initial_set="random"), 39, 10, few_sevens)
    with pytest.raises(BaltuiError, match="'initial_set' must be one of balanced, random, kcenter, got 'kmeans'"):
        build_config({}, {"initial_set": "kmeans"})


def test_validation_may_leave_a_class_without_initial_images_for_a_random_set(digits):
    from baltui.core.data import Dataset

    # a pool with 3 images of class 9: a validation split can leave fewer than 2, which only a balanced set minds
    keep = np.concatenate([np.flatnonzero(digits.y_pool != 9), np.flatnonzero(digits.y_pool == 9)[:3]])
    data = Dataset("few nines", digits.x_pool[keep], digits.y_pool[keep], digits.x_test, digits.y_test)
    balanced = RunConfig(queries=2, validation=1000, seeds=[0, 1])
    with pytest.raises(BaltuiError, match="class 9 keeps"):
        check_config_against_data(balanced, data)
    check_config_against_data(RunConfig(queries=2, validation=1000, seeds=[0, 1], initial_set="random"), data)


def _folder(path, initial_set, accs):
    path.mkdir()
    config = {"dataset": "mnist", "initial_per_class": 2, "provenance": {"data_sha256": MNIST_SHA256}}
    if initial_set is not None:
        config["initial_set"] = initial_set
    (path / "config.json").write_text(json.dumps(config))
    lines = [json.dumps({"type": "query", "run_id": "bald-s0", "strategy": "bald", "seed": 0, "query": q,
                         "n_labelled": 20 + 10 * q, "accuracy": a}) for q, a in enumerate(accs)]
    (path / "results.jsonl").write_text("\n".join(lines) + "\n")
    return path


def test_the_report_groups_by_initial_set_and_keeps_the_papers_for_the_balanced_one(tmp_path, capsys):
    from baltui.commands.report import main

    balanced = _folder(tmp_path / "balanced", None, [0.5, 0.9])  # a folder from before the setting
    random = _folder(tmp_path / "random", "random", [0.4, 0.8])
    assert main([str(balanced), str(random), "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [(r["initial_set"], r["reference"] is not None) for r in rows] == [("balanced", True), ("random", False)]
    assert main([str(random), "--format", "markdown"]) == 0
    out = capsys.readouterr().out
    assert "initial_set random" in out and "Gal" not in out  # said under the table; not the papers' protocol
    assert main([str(balanced), "--format", "markdown"]) == 0
    out = capsys.readouterr().out
    assert "initial_set" not in out and "recipe" not in out and "Gal 2017" in out  # defaults stay unsaid
