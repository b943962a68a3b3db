"""Shared fixtures: tiny real configs on the bundled digits, so real TensorFlow runs stay fast."""

from __future__ import annotations

import pytest

from baltui.config import RunConfig


@pytest.fixture(scope="session")
def digits():
    from baltui.data import load_digits

    return load_digits()


def tiny_config(**changes) -> RunConfig:
    """A few seconds of real training: 2 epochs, T=3, 2 queries of 5 on digits."""
    values = dict(name="tiny", dataset="digits", strategies=["entropy", "uniform"], seeds=[0], queries=2,
                  instances=5, initial_per_class=2, epochs=2, batch_size=16, mc_samples=3, subset=200)
    values.update(changes)
    return RunConfig(**values)


@pytest.fixture
def tiny():
    return tiny_config
