"""Plug-ins without TensorFlow: listing, naming, bad ones refused in one line, run-time checks, provenance.

The example package (examples/baltui_example_plugins) is installed the way pip lays it out (tests/plugin_site.py)
and plug-in files are written into tmp folders. What trains a model is in test_plugin_runs.py.
"""

from __future__ import annotations

import hashlib
import json
import textwrap
from pathlib import Path

import numpy as np
import pytest

from baltui.cli import main
from baltui.core import plugins
from baltui.core.acquisition import QueryStrategy
from baltui.core.config import RunConfig, build_config, load_preset, safe_id
from baltui.core.data import load_dataset
from baltui.core.errors import BaltuiError
from baltui.core.plugin_checks import PluginError
from baltui.runs import start

EXAMPLE_SCORES = "baltui_example_plugins/scores.py"


def _write(folder: Path, name: str, source: str) -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(source), encoding="utf-8")
    return path


def _one_error_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("baltui: error: "), err
    return err[0]


# ---- listing -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("flag, built_in, plugin, description", [
    ("--list-strategies", "bald", "margin_example", "Smallest margin first"),
    ("--list-models", "batchbald2019", "small_cnn", "A small CNN"),
    ("--list-datasets", "digits", "digits_0to4", "digits 0 to 4"),
])
def test_listings_show_built_ins_and_installed_plugins_with_their_package(flag, built_in, plugin, description,
                                                                         example_site, capsys):
    assert main([flag]) == 0
    rows = {line.split()[0]: line for line in capsys.readouterr().out.splitlines()}
    assert rows[built_in].split()[1] == "baltui"
    assert "baltui-example-plugins 0.1.0" in rows[plugin] and description in rows[plugin]


def test_a_plugin_that_cannot_load_is_listed_with_why(example_site, capsys):
    (example_site / "baltui_example_plugins" / "scores.py").write_text("raise ImportError('needs torch')\n")
    assert main(["--list-strategies"]) == 0
    row = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("margin_example"))
    assert "cannot be used" in row and "needs torch" in row


# ---- names -------------------------------------------------------------------------------------------
def test_entry_points_and_references_become_run_names(example_site, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _write(tmp_path, "my_scores.py", """
        def spread(P):
            return P.std(axis=0).mean(axis=1)
    """)
    config = build_config(load_preset("quick"), {
        "strategies": ["margin_example", "baltui_example_plugins.scores:margin_score", "./my_scores.py:spread",
                       "uniform"]})
    assert config.strategies == ["margin_example", "margin_score", "spread", "uniform"]
    assert config.strategy_references == {  # a file by its absolute path: a resume may start elsewhere
        "margin_score": "baltui_example_plugins.scores:margin_score", "spread": f"{tmp_path / 'my_scores.py'}:spread"}
    assert config.run_ids == ["margin_example-s0", "margin_score-s0", "spread-s0", "uniform-s0"]
    # a saved config (run names + references) reads back as the same experiment, from any folder
    monkeypatch.chdir(example_site)
    again = build_config({k: v for k, v in config.to_dict().items() if k != "out"})
    assert again.strategies == config.strategies and again.strategy_references == config.strategy_references


def test_a_preset_toml_names_plugins_as_the_flags_do(example_site, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _mine(tmp_path)
    (tmp_path / "mine.toml").write_text('strategies = ["margin_example", "./mine.py:spread", "uniform"]\n'
                                        'model = "small_cnn"\ndataset = "digits_0to4"\n')
    config = build_config(load_preset("mine.toml"))
    assert config.strategies == ["margin_example", "spread", "uniform"]
    assert (config.model, config.dataset) == ("small_cnn", "digits_0to4")


def test_a_declared_name_is_the_run_name_and_is_made_a_safe_widget_id(tmp_path):
    from textual.dom import BadIdentifier, check_identifiers

    path = _write(tmp_path, "scores.py", """
        def margin_score(P):
            return 1.0 - P.mean(axis=0).max(axis=1)
        margin_score.name = "my.margin"
    """)
    config = build_config(load_preset("quick"), {"strategies": [f"{path}:margin_score"]})
    assert config.run_ids == ["my.margin-s0"]
    with pytest.raises(BadIdentifier):  # as Textual refuses the run id in a widget id
        check_identifiers("id", "run-my.margin-s0")
    check_identifiers("id", f"run-{safe_id('my.margin-s0')}")
    assert safe_id("my.margin-s0") != safe_id("my_margin-s0") and safe_id("bald-s0") == "bald-s0"


# ---- bad plug-ins: one line, exit 2, no folder ---------------------------------------------------------
BAD_FILES = {
    "not_callable.py": "score = 3\n",
    "two_args.py": "def score(P, Q):\n    return P[0, :, 0]\n",
    "raising.py": "raise RuntimeError('boom at import')\n",
    "builtin_name.py": "def margin(P):\n    return P[0, :, 0]\n",
    "bad_name.py": "def score(P):\n    return P[0, :, 0]\nscore.name = 'my margin'\n",
    "model_no_args.py": "def build():\n    pass\n",
    "data_args.py": "def load(path):\n    pass\n",
    "data_garbage.py": "def load():\n    return 42\n",
    "data_nan.py": ("import numpy as np\ndef load():\n    x = np.zeros((20, 8, 8)); x[0, 0, 0] = np.nan\n"
                    "    y = np.arange(20) % 2\n    return (x, y), (x[:4], y[:4])\n"),
    "regime.py": "def build(input_shape, n_classes):\n    pass\nbuild.regime = {'queries': 5}\n",
}


@pytest.mark.parametrize("flag, value, says", [
    ("--strategies", "nosuch_pkg.scores:margin", "no module named 'nosuch_pkg.scores'; install the package"),
    ("--strategies", "./missing.py:score", "there is no file"),
    ("--strategies", "baltui_example_plugins.scores:margn_score",
     "has no attribute 'margn_score' (did you mean 'margin_score'?)"),
    ("--strategies", "./not_callable.py:score", "is a int, not callable"),
    ("--strategies", "./two_args.py:score", "takes (P, Q); it must be a score function f(P)"),
    ("--strategies", "./raising.py:score", "importing raising.py failed: RuntimeError: boom at import"),
    ("--strategies", "./builtin_name.py:margin", "is named 'margin', as a built-in strategy is"),
    ("--strategies", "./bad_name.py:score", "is named 'my margin'"),
    ("--strategies", "margin_example,baltui_example_plugins.scores:margin_score,./" + EXAMPLE_SCORES + ":margin_score",
     "two strategies are named 'margin_score'"),
    ("--model", "./model_no_args.py:build", "takes (); it must be build(input_shape, n_classes)"),
    ("--model", "baltui_example_plugins.scores:margin_score", "takes (P); it must be build(input_shape, n_classes)"),
    ("--model", "./regime.py:build", "its regime sets 'queries', not a training setting"),
    ("--dataset", "./data_args.py:load", "takes (path); it must be load()"),
    ("--dataset", "./data_garbage.py:load", "returned a int; expected ((x_train, y_train), (x_test, y_test))"),
    ("--dataset", "./data_nan.py:load", "dataset plug-in data_nan.py:load: x_train holds NaN"),
    ("--dataset", "nosuch_data", "unknown dataset 'nosuch_data'"),
])
def test_a_bad_plugin_is_one_line_before_any_folder(flag, value, says, example_site, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(example_site)  # where the example's own file is, for the file references
    for name, source in BAD_FILES.items():
        _write(example_site, name, source)
    out = tmp_path / "run"
    assert main(["--no-ui", flag, value, "--out", str(out)]) == 2
    assert says in _one_error_line(capsys)
    assert not out.exists()


def test_a_missing_module_is_told_from_a_module_missing_a_dependency(tmp_path, monkeypatch):
    """find_spec first: the plug-in's module is there, what it imports is not; the line says which."""
    _write(tmp_path, "needs_dep.py", "import nosuch_dependency\ndef score(P):\n    return P[0, :, 0]\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(BaltuiError, match="importing needs_dep failed: ModuleNotFoundError: No module named "
                                          "'nosuch_dependency'"):
        plugins.strategy("needs_dep:score")
    with pytest.raises(BaltuiError, match="no module named 'absent_pkg.scores'; install"):
        plugins.strategy("absent_pkg.scores:margin")


# ---- run-time checks of what a strategy plug-in returns -------------------------------------------------
class _Estimator:
    def mc_predict_proba(self, X, T, seed=None):
        return np.random.default_rng(seed).dirichlet(np.ones(10), size=(T, len(X))).astype(np.float32)


class _Learner:
    estimator = _Estimator()
    X_training = np.zeros((4, 8, 8, 1), np.float32)


PLUGIN_SOURCE = """
import numpy as np
from baltui.core.acquisition import Acquisition, select_top

def margin_score(P):
    mean = P.mean(axis=0)
    top2 = np.sort(mean, axis=1)[:, -2:]
    return 1.0 - (top2[:, 1] - top2[:, 0])

def short(P):
    return margin_score(P)[:-1]

def nan(P):
    s = margin_score(P); s[3] = np.nan
    return s

def inf(P):
    s = margin_score(P); s[0] = np.inf
    return s

def words(P):
    return ["high"] * P.shape[1]

def _picking(name, chosen):
    return Acquisition(name, "picks " + name, lambda inputs: margin_score(inputs.P),
                       lambda inputs, scores, k, rng, beta: np.asarray(chosen))

twice = _picking("twice", [0, 1, 1, 2, 3])
outside = _picking("outside", [0, 1, 2, 3, 999])
few = _picking("few", [0, 1, 2])
floats = _picking("floats", [0.0, 1.0, 2.0, 3.0, 4.0])
good = Acquisition("good", "top margins", lambda inputs: margin_score(inputs.P), select_top)
"""


@pytest.mark.parametrize("attr, says", [
    ("short", "returned scores of shape (19,) for 20 scored points"),
    ("nan", "returned NaN or infinite scores (1 of 20)"),
    ("inf", "returned NaN or infinite scores (1 of 20)"),
    ("words", "returned list scores, not an array of 20 numbers"),
    ("twice", "picked the same point twice"),
    ("outside", "picked index 999, outside 0..19"),
    ("few", "picked 3 points; the query asks for 5 (--instances)"),
    ("floats", "picked float64 indices"),
])
def test_what_a_strategy_plugin_returns_is_checked_every_query(attr, says, tmp_path):
    path = _write(tmp_path, "plugs.py", PLUGIN_SOURCE)
    acquisition = plugins.strategy(f"{path}:{attr}")
    strategy = QueryStrategy(acquisition, mc_samples=3, subset=20)
    with pytest.raises(PluginError) as caught:
        strategy(_Learner(), np.zeros((50, 8, 8, 1), np.float32), n_instances=5)
    assert str(caught.value).startswith(f"strategy plug-in {attr} (plugs.py:{attr}) ") and says in str(caught.value)


def test_a_good_plugin_passes_its_checks(tmp_path):
    path = _write(tmp_path, "plugs.py", PLUGIN_SOURCE)
    for attr in ("margin_score", "good"):
        strategy = QueryStrategy(plugins.strategy(f"{path}:{attr}"), mc_samples=3, subset=20)
        positions, scores = strategy(_Learner(), np.zeros((50, 8, 8, 1), np.float32), n_instances=5)
        assert len(set(positions.tolist())) == 5 and strategy.last_scores.shape == (20,)


# ---- models and data sets ------------------------------------------------------------------------------
def test_a_plugin_models_regime_comes_with_model_under_the_flags(tmp_path):
    path = _write(tmp_path, "m.py", """
        def build(input_shape, n_classes):
            raise AssertionError("not built to read its regime")
        build.regime = {"epochs": 7, "batch_size": 8}
    """)
    config = build_config(load_preset("quick"), {"model": f"{path}:build"})
    assert (config.epochs, config.batch_size, config.model) == (7, 8, f"{path}:build")
    assert build_config(load_preset("quick"), {"model": f"{path}:build", "epochs": 3}).epochs == 3
    path.write_text(path.read_text().replace('"epochs": 7', '"epochs": 0'))
    with pytest.raises(BaltuiError, match=r"model plug-in m.py:build: its regime: 'epochs' must be a whole number"):
        build_config(load_preset("quick"), {"model": f"{path}:build"})


def test_a_dataset_plugin_by_entry_point_or_reference(example_site):
    for token, name in (("digits_0to4", "digits_0to4"), ("baltui_example_plugins.datasets:digits_0to4",
                                                        "digits_0to4")):
        config = build_config(load_preset("quick"), {"dataset": token})
        data = load_dataset(config)
        assert (data.name, data.n_classes, data.input_shape) == (name, 5, (8, 8, 1))
        assert data.x_pool.max() <= 1.0 and len(data.y_test) == 270


# ---- provenance and --resume -----------------------------------------------------------------------------
def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _mine(folder: Path) -> Path:
    return _write(folder, "mine.py", """
        def spread(P):
            return P.std(axis=0).mean(axis=1)
    """)


def test_config_json_records_each_plugins_module_version_and_source_hashes(example_site, tmp_path, tiny):
    mine = _mine(tmp_path)
    config = tiny(strategies=["margin_example", f"{mine}:spread", "uniform"])  # a RunConfig made by hand (the API)
    prepared = start.start_config(config, tmp_path / "run")
    prepared.release()
    saved = json.loads((tmp_path / "run" / "config.json").read_text())
    assert saved["strategies"] == ["margin_example", "spread", "uniform"]
    # a file relative to the run folder, as the data file is: config.json holds no absolute path
    assert saved["strategy_references"] == {"spread": "../mine.py:spread"}
    example, file = saved["provenance"]["plugins"]
    assert example == {"kind": "strategy", "name": "margin_example", "reference": "margin_example",
                       "entry_point": "baltui_example_plugins.scores:margin_score",
                       "module": "baltui_example_plugins.scores", "distribution": "baltui-example-plugins",
                       "version": "0.1.0", "files": {EXAMPLE_SCORES: _sha(example_site / EXAMPLE_SCORES)}}
    assert file == {"kind": "strategy", "name": "spread", "reference": "../mine.py:spread", "entry_point": None,
                    "module": "../mine.py", "distribution": None, "version": None, "files": {"../mine.py": _sha(mine)}}
    assert str(tmp_path) not in (tmp_path / "run" / "config.json").read_text()
    plain = start.start_config(tiny(), tmp_path / "plain")  # built-ins only: config.json as before
    plain.release()
    assert "plugins" not in plain.folder.config["provenance"]


def test_a_folder_moved_with_its_plugin_file_resumes_anywhere(tmp_path, tiny, monkeypatch):
    project = tmp_path / "project"
    project.mkdir()
    _mine(project)
    monkeypatch.chdir(project)
    start.start_config(tiny(strategies=["./mine.py:spread"]), "runs/a").release()
    (tmp_path / "moved").mkdir()
    project.rename(tmp_path / "moved" / "project")
    monkeypatch.chdir(tmp_path)
    prepared = start.resume(tmp_path / "moved" / "project" / "runs" / "a", {})
    prepared.release()
    assert prepared.config.strategy_references == {"spread": f"{tmp_path / 'moved' / 'project' / 'mine.py'}:spread"}


def test_resume_refuses_changed_plugin_code_unless_accepted(tmp_path, tiny, capsys):
    mine = _mine(tmp_path)
    out = tmp_path / "run"
    start.start_config(tiny(strategies=[f"{mine}:spread", "uniform"]), out).release()
    start.resume(out, {}).release()  # unchanged: it would continue
    before = _sha(mine)
    mine.write_text(mine.read_text().replace("mean(axis=1)", "max(axis=1)"))
    assert main(["--resume", str(out), "--no-ui"]) == 2
    line = _one_error_line(capsys)
    assert "plug-in code changed since the runs of" in line and "strategy spread (mine.py)" in line
    assert "--accept-changed-plugins" in line
    start.resume(out, {}, accept_changed_plugins=True).release()
    (entry,) = json.loads((out / "config.json").read_text())["provenance"]["plugins"]
    assert entry["files"] == {"../mine.py": _sha(mine)} and entry["earlier"][0]["files"] == {"../mine.py": before}
    start.resume(out, {}).release()  # the change accepted once is what the runs now continue with


def test_a_changed_entry_point_is_refused_too(example_site, tmp_path, tiny, capsys):
    out = tmp_path / "run"
    start.start_config(tiny(strategies=["margin_example"]), out).release()
    scores = example_site / EXAMPLE_SCORES
    scores.write_text(scores.read_text() + "\n# changed\n")
    with pytest.raises(BaltuiError, match=r"strategy margin_example \(scores.py\)"):
        start.resume(out, {})


def test_accept_changed_plugins_goes_with_resume(capsys):
    assert main(["--no-ui", "--accept-changed-plugins"]) == 2
    assert "goes with --resume" in _one_error_line(capsys)


def test_run_config_rejects_a_malformed_reference_map():
    with pytest.raises(BaltuiError, match="'strategy_references' must map run names to references"):
        build_config({"strategies": ["entropy"], "strategy_references": {"x": 3}})
    assert RunConfig().strategy_references == {}
