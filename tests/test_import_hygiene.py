"""Layers: imports go down the folders, and the core never imports a UI library.

* The direction is stated as import-linter contracts in pyproject.toml (`lint-imports`): cli > commands >
  ui | executors > runs > core, commands independent of each other, no UI library below ui. This test runs
  it, and runs it once more on a copy of the package with one import turned upward, to see it fail.
* What an import really loads (as harlequin checks): every module of the core, the run folders and the
  executors, and the commands that import their drawing only to draw, import without Textual, rich or
  plotext, so headless runs and `--help` stay lean. The walk finds new modules without a list here.
"""

from __future__ import annotations

import json
import os
import pkgutil
import shutil
import subprocess
import sys
from pathlib import Path

import baltui

UI_LIBRARIES = ("textual", "rich", "plotext", "textual_plotext")
UI_FREE_LAYERS = ("baltui.core", "baltui.runs", "baltui.executors", "baltui.api")
# Commands that import their drawing only when they draw, so `baltui ... --help` stays lean too.
LEAN_COMMANDS = ("baltui.cli", "baltui.commands.label.cli", "baltui.commands.watch.cli", "baltui.commands.report",
                 "baltui.commands.bench", "baltui.commands.export.cli")
# The checkout (pyproject.toml and the source tree), not the installed copy CI imports from site-packages.
ROOT = Path(__file__).resolve().parent.parent


def _in(module: str, layers: tuple[str, ...]) -> bool:
    return any(module == layer or module.startswith(layer + ".") for layer in layers)


def _raise(name: str) -> None:
    raise ImportError(f"walking the package: {name} does not import")


def _modules() -> list[str]:
    return ["baltui"] + [info.name for info in pkgutil.walk_packages(baltui.__path__, "baltui.", onerror=_raise)]


MODULES = _modules()
UI_FREE = sorted(m for m in MODULES if _in(m, UI_FREE_LAYERS))


def test_the_walk_finds_every_layer():
    assert {"baltui.core.engine", "baltui.core.models.classifier", "baltui.core.mc.sparse_head",
            "baltui.runs.results", "baltui.executors.local"} <= set(UI_FREE)
    assert {"baltui.ui.tables", "baltui.commands.run.app", "baltui.commands.label.app"} <= set(MODULES) - set(UI_FREE)


def _lint_imports(root: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run(["lint-imports", "--no-cache", str(root / "pyproject.toml")], cwd=root,
                          env=env, capture_output=True, text=True, timeout=300)


def test_the_import_contracts_hold():
    proc = _lint_imports(ROOT)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert "0 broken" in proc.stdout


def test_the_contracts_catch_an_upward_and_a_ui_import(tmp_path):
    """A copy of the package with the core importing a command, and the run folders importing rich."""
    shutil.copytree(ROOT / "baltui", tmp_path / "baltui", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    errors = tmp_path / "baltui" / "core" / "errors.py"
    errors.write_text(errors.read_text() + "\n\ndef _upward():\n    import baltui.commands.report  # noqa\n")
    results = tmp_path / "baltui" / "runs" / "results.py"
    results.write_text(results.read_text() + "\n\ndef _ui():\n    import rich.table  # noqa\n")
    proc = _lint_imports(tmp_path)
    assert proc.returncode != 0
    assert "baltui.core.errors -> baltui.commands.report" in proc.stdout
    assert "baltui.runs.results -> rich (" in proc.stdout


# Run in a fresh interpreter; each module is imported in its own fork, so what one import brings in is
# never blamed on the next. Keras itself imports rich (for model summaries): a module that brings keras
# in may have exactly the rich modules keras alone loads (rich.console, rich.table, rich.text... so its
# own import of one of those would go unseen), no more.
_CHECK = r"""
import importlib, json, os, sys

import numpy  # every module needs it: loaded once, before the forks

UI = tuple(sys.argv[1].split(","))


def in_fork(work):
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read)
        try:
            out = work()
        except BaseException as exc:
            out = {"error": f"{type(exc).__name__}: {exc}"}
        os.write(write, json.dumps(out).encode())
        os._exit(0)
    os.close(write)
    with os.fdopen(read, "rb") as f:
        data = f.read()
    os.waitpid(pid, 0)
    return json.loads(data)


def loaded():
    return sorted(m for m in sys.modules if m.split(".")[0] in UI)


def one(name):
    def work():
        importlib.import_module(name)
        return {"ui": loaded(), "keras": "keras" in sys.modules}
    return work


def keras_alone():
    from baltui.core.tf_setup import quiet_tensorflow

    quiet_tensorflow()
    return {"ui": loaded()}


report, keras_ui = {}, None
for name in sys.argv[2:]:
    got = in_fork(one(name))
    if "error" in got:
        report[name] = got["error"]
        continue
    ui = set(got["ui"])
    if got["keras"] and ui:
        if keras_ui is None:
            keras_ui = set(in_fork(keras_alone)["ui"])
        ui -= keras_ui
    if ui:
        report[name] = sorted({m.split(".")[0] for m in ui})
print(json.dumps(report))
"""


def test_ui_free_layers_and_lean_commands_import_no_ui_library():
    modules = UI_FREE + [m for m in LEAN_COMMANDS if m in MODULES]
    proc = subprocess.run([sys.executable, "-c", _CHECK, ",".join(UI_LIBRARIES), *modules],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    offenders = json.loads(proc.stdout.strip().splitlines()[-1])
    assert offenders == {}, offenders  # module -> the UI libraries its import loaded (or its import error)
