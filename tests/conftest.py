"""Shared fixtures: tiny real configs on the bundled digits, so real TensorFlow runs stay fast."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

import pytest

from baltui.core.config import RunConfig

# Libraries write into the home folder when imported (Keras its ~/.keras/keras.json, matplotlib its font cache),
# and test modules import them at collection, before any fixture runs: point them at a tmp folder now.
_LIBRARY_HOMES = Path(tempfile.mkdtemp(prefix="baltui-tests-"))
atexit.register(shutil.rmtree, _LIBRARY_HOMES, ignore_errors=True)
os.environ["KERAS_HOME"] = str(_LIBRARY_HOMES / "keras")
os.environ["MPLCONFIGDIR"] = str(_LIBRARY_HOMES / "matplotlib")


@pytest.fixture(scope="session", autouse=True)
def kernel_cache_dir(tmp_path_factory):
    """The sparse head's kernel source and numba's compiled copy go to a tmp folder, never the developer's
    ~/.cache/baltui: set before any test compiles the kernel (sparse_head.cache_dir reads it on first use),
    and inherited by the subprocesses tests start."""
    folder = tmp_path_factory.mktemp("baltui-cache")
    saved = os.environ.get("BALTUI_CACHE_DIR")
    os.environ["BALTUI_CACHE_DIR"] = str(folder)
    yield folder
    if saved is None:
        os.environ.pop("BALTUI_CACHE_DIR", None)
    else:
        os.environ["BALTUI_CACHE_DIR"] = saved


@pytest.fixture(scope="session")
def digits():
    from baltui.core.data import load_digits

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


@pytest.fixture
def example_site(tmp_path, monkeypatch):
    """examples/baltui_example_plugins installed as pip would lay it out (tests/plugin_site.py), on sys.path;
    unloaded again afterwards."""
    from plugin_site import forget_plugins, install_like_pip

    site = install_like_pip(tmp_path / "site")
    monkeypatch.syspath_prepend(str(site))
    forget_plugins()
    yield site
    forget_plugins()


# ---- the fast tier ------------------------------------------------------------------------------
# `pytest -m "not slow"` runs in under a minute on 2 cores: the modules below, which build no TensorFlow model,
# start no subprocess of baltui and no Ray (pure numpy, the settings table, reading run folders, the property
# tests of the append-only files). Every other test is marked slow here, besides any test marked slow itself:
# a new module joins the fast tier by being listed once it runs in seconds.
FAST_MODULES = {
    "test_acquisition", "test_batchbald", "test_config", "test_jsonl_properties", "test_readme_tables",
    "test_report_stats", "test_run_folder", "test_settings", "test_recipes", "test_import_hygiene", "test_eta",
    "test_next_steps",
    "test_metrics",
    "test_image_folder",
    "test_stopping",
    "test_plugins",
    "test_charts",
}
# Tests of fast modules that are not fast themselves.
SLOW_TESTS = {
    "test_ui_free_layers_and_lean_commands_import_no_ui_library",  # imports every module in a fork
    "test_paper_sized_batch_is_fast_enough",  # BatchBALD at N=2,000, T=100
    "test_stratified_weight_samples_shrink_the_estimators_spread_at_the_same_cost",  # many seeds
    "test_headless_prints_the_same_lines",  # headless mode on the digits (a fake engine, but rich and sklearn)
    "test_the_headless_banner_names_the_data_as_given",
}


def _fast_tier(config) -> bool:
    return config.getoption("markexpr", "").replace(" ", "") == "notslow"


def pytest_ignore_collect(collection_path, config):
    """For the fast tier, modules outside it are not even imported (several import TensorFlow)."""
    if _fast_tier(config) and collection_path.suffix == ".py" and collection_path.name.startswith("test_"):
        return collection_path.stem not in FAST_MODULES
    return None


def pytest_collection_modifyitems(config, items):
    for item in items:
        module = item.module.__name__.rpartition(".")[2] if item.module else ""
        if module not in FAST_MODULES or getattr(item, "originalname", item.name) in SLOW_TESTS:
            item.add_marker(pytest.mark.slow)


@pytest.fixture
def tripwire(monkeypatch):
    """Data loading replaced: a CLI case that passes every check raises cli_checks.ReachedTheData (with its
    config) instead of loading anything."""
    from cli_checks import ReachedTheData

    from baltui.runs import start

    def load(config):
        raise ReachedTheData(config)

    monkeypatch.setattr(start, "load_data", load)
