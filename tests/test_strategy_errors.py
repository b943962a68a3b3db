"""A strategy that raises fails its run once, with its own error; KeyboardInterrupt is never swallowed.

modAL's ActiveLearner.query wraps the strategy in a bare `except:` and calls it again, which ran a
buggy strategy twice and swallowed Ctrl+C or a Ray cancellation: the engine calls strategies itself.
"""

from __future__ import annotations

import dataclasses

import pytest

from baltui.core import acquisition
from baltui.core.control import Control
from baltui.executors.local import run_experiment
from baltui.runs.results import prepare_out_dir, read_records


def _raising_entropy(monkeypatch, exc: BaseException) -> list[int]:
    calls: list[int] = []

    def score(P):
        calls.append(1)
        raise exc

    broken = dataclasses.replace(acquisition.STRATEGIES["entropy"], score=score)
    monkeypatch.setitem(acquisition.STRATEGIES, "entropy", broken)
    return calls


def test_a_raising_strategy_fails_its_run_once_with_its_own_error(tmp_path, tiny, digits, monkeypatch):
    calls = _raising_entropy(monkeypatch, ValueError("score bug 42"))
    config = tiny(queries=2)
    prepare_out_dir(tmp_path, config.to_dict())
    states = run_experiment(config, digits, tmp_path, lambda e: None, Control())
    assert states == {"entropy-s0": "failed", "uniform-s0": "finished"}
    assert calls == [1]
    failed = [r for r in read_records(tmp_path) if r["type"] == "run_failed"]
    assert [r["error"] for r in failed] == ["ValueError: score bug 42"]


def test_keyboard_interrupt_in_a_strategy_is_never_swallowed(tmp_path, tiny, digits, monkeypatch):
    calls = _raising_entropy(monkeypatch, KeyboardInterrupt())
    config = tiny(queries=2, strategies=["entropy"])
    prepare_out_dir(tmp_path, config.to_dict())
    with pytest.raises(KeyboardInterrupt):
        run_experiment(config, digits, tmp_path, lambda e: None, Control())
    assert calls == [1]
    assert [r["query"] for r in read_records(tmp_path)] == [0]  # query 0 was kept
