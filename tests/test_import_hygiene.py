"""Layers: the engine never imports a UI library, and the consumers of its events never import each other.

Both checks walk the package (pkgutil.walk_packages), so a new module is covered without being listed here:
it counts as engine-level unless it is in one of the UI layers below.

* Engine-level modules, and the commands that import their drawing only to draw, import without Textual,
  rich or plotext, so headless runs and `--help` stay lean (as harlequin checks): one subprocess imports
  each in a fresh fork and reports what came with it.
* Import direction, read from the source with `ast` (every import, also the ones inside functions):
  consumers (the dashboard, label mode, headless mode, the commands) import the engine and the shared UI
  layer, never each other; the shared UI layer imports no consumer; the engine imports no UI module.
"""

from __future__ import annotations

import ast
import json
import pkgutil
import subprocess
import sys
from pathlib import Path

import baltui

UI_LIBRARIES = ("textual", "rich", "plotext", "textual_plotext")

# Consumers of the engine's events and results, which draw: they may import UI libraries at the top. A
# consumer is a family of modules (the first prefix that matches) that import each other freely.
CONSUMERS = (
    "baltui.app",  # the dashboard and everything under it (widgets, screens, the watch dashboard)
    "baltui.label.app", "baltui.label.widgets", "baltui.label.cli",  # label mode's Textual side
    "baltui.watch.cli",  # `baltui watch`; the rest of baltui.watch is its UI-free core
    "baltui.headless",
    "baltui.report",  # `baltui report`: rich tables, plotext/matplotlib plots
    "baltui.bench",  # `baltui bench`: a rich table of the figures
    "baltui.cli", "baltui.__main__",  # the entry point, which picks a consumer
)
FAMILIES = ("baltui.app", "baltui.label", "baltui.watch", "baltui.headless", "baltui.report", "baltui.bench",
            "baltui.cli", "baltui.__main__")
# Entry points: they start a consumer, so they may import any (within the rules on the dashboard and label mode).
ENTRY_POINTS = ("baltui.cli", "baltui.__main__", "baltui.watch.cli", "baltui.label.cli")
# Drawing shared by several consumers: a layer below them all, so they need not import each other.
SHARED_UI = (
    "baltui.widgets",  # Textual widgets of the dashboard and label mode
    "baltui.tables",  # rich tables of headless mode and the dashboard
    "baltui.render",  # images as shaded text, for both apps' previews
)
# Commands that import their drawing only when they draw, so `baltui ... --help` stays lean too.
LEAN_COMMANDS = ("baltui.cli", "baltui.label.cli", "baltui.watch.cli", "baltui.report", "baltui.bench")
# Exceptions, each with its reason.
ALLOWED = {
    # a developer script that takes the README's screenshots of both apps, label mode's included
    ("baltui.app.screenshots", "baltui.label.app"), ("baltui.app.screenshots", "baltui.label.make_folder"),
    ("baltui.app.screenshots", "baltui.label.session"), ("baltui.app.screenshots", "baltui.label.sources"),
}


def _in(module: str, layers: tuple[str, ...]) -> bool:
    return any(module == layer or module.startswith(layer + ".") for layer in layers)


def _family(module: str) -> str | None:
    return next((f for f in FAMILIES if _in(module, (f,))), None)


def _raise(name: str) -> None:
    raise ImportError(f"walking the package: {name} does not import")


def _modules() -> dict[str, Path]:
    """Every module of the package and its source file (packages are imported to be walked; modules are not)."""
    found = {"baltui": Path(baltui.__file__)}
    for info in pkgutil.walk_packages(baltui.__path__, "baltui.", onerror=_raise):
        spec = info.module_finder.find_spec(info.name)  # type: ignore[call-arg]
        assert spec is not None and spec.origin is not None, info.name
        found[info.name] = Path(spec.origin)
    return found


MODULES = _modules()
ENGINE = sorted(m for m in MODULES if not _in(m, CONSUMERS + SHARED_UI))


def test_the_walk_finds_the_package_and_sorts_it_into_layers():
    assert {"baltui.engine", "baltui.model", "baltui.sparse_head", "baltui.tables", "baltui.widgets.histogram",
            "baltui.app.app", "baltui.app.widgets.plots", "baltui.label.app", "baltui.headless"} <= set(MODULES)
    assert {"baltui.engine", "baltui.model", "baltui.experiment", "baltui.label.session", "baltui.watch.state"} \
        <= set(ENGINE)
    assert not set(ENGINE) & {"baltui.app.app", "baltui.label.app", "baltui.headless", "baltui.tables"}


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
    from baltui.tf_setup import quiet_tensorflow

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


def test_engine_level_and_lean_command_modules_import_no_ui_library():
    modules = ENGINE + [m for m in LEAN_COMMANDS if m in MODULES]
    proc = subprocess.run([sys.executable, "-c", _CHECK, ",".join(UI_LIBRARIES), *modules],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    offenders = json.loads(proc.stdout.strip().splitlines()[-1])
    assert offenders == {}, offenders  # module -> the UI libraries its import loaded (or its import error)


def _imports(module: str, source: str, is_package: bool = False) -> set[str]:
    """The baltui modules a source imports, anywhere in it (`from baltui import x` counts baltui.x too)."""
    package = module if is_package else module.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1] + ([base] if base else []))
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names if f"{base}.{alias.name}" in MODULES)
    return {name for name in found if _in(name, ("baltui",))}


def _wrong_way(importer: str, imported: str) -> str | None:
    """Why `importer` must not import `imported`, or None."""
    if (importer, imported) in ALLOWED or imported == importer:
        return None
    if _in(importer, ("baltui.app",)) and _in(imported, ("baltui.headless", "baltui.label")):
        return "the dashboard imports headless or label mode"
    if _in(importer, ("baltui.label",)) and _in(imported, ("baltui.app",)):
        return "label mode imports the dashboard"
    if _in(importer, ("baltui.headless",)) and _in(imported, ("baltui.app",)):
        return "headless mode imports the dashboard"
    if _in(importer, CONSUMERS) and _in(imported, CONSUMERS) and _family(importer) != _family(imported) \
            and not _in(importer, ENTRY_POINTS):
        return "a consumer imports another consumer"
    if _in(importer, SHARED_UI) and _in(imported, CONSUMERS):
        return "the shared UI layer imports a consumer"
    if not _in(importer, CONSUMERS + SHARED_UI) and _in(imported, CONSUMERS + SHARED_UI):
        return "an engine-level module imports a UI module"
    return None


def test_imports_go_down_the_layers_never_sideways():
    wrong = sorted(f"{importer} -> {imported}: {why}" for importer, path in MODULES.items()
                   for imported in _imports(importer, path.read_text(), path.name == "__init__.py")
                   if (why := _wrong_way(importer, imported)) is not None)
    assert wrong == [], "\n".join(wrong)


def test_the_direction_check_catches_each_wrong_way():
    """The rules and the parser themselves: every forbidden direction is caught, the allowed ones are not."""
    for importer, imported in (("baltui.app.app", "baltui.headless"), ("baltui.app.app", "baltui.label.session"),
                               ("baltui.label.app", "baltui.app.widgets.plots"), ("baltui.headless", "baltui.app"),
                               ("baltui.label.cli", "baltui.app"), ("baltui.report", "baltui.headless"),
                               ("baltui.tables", "baltui.headless"), ("baltui.widgets.histogram", "baltui.app"),
                               ("baltui.engine", "baltui.tables"), ("baltui.label.session", "baltui.label.app"),
                               ("baltui", "baltui.app"), ("baltui.label", "baltui.label.widgets")):
        assert _wrong_way(importer, imported), (importer, imported)
    for importer, imported in (("baltui.app.app", "baltui.tables"), ("baltui.label.app", "baltui.widgets.histogram"),
                               ("baltui.headless", "baltui.tables"), ("baltui.app.app", "baltui.app.widgets.plots"),
                               ("baltui.label.app", "baltui.label.widgets"), ("baltui.label.session", "baltui.engine"),
                               ("baltui.cli", "baltui.app"), ("baltui.watch.cli", "baltui.app.watch_app")):
        assert _wrong_way(importer, imported) is None, (importer, imported)
    lazy = "def f():\n    from ..app.widgets import plots\n    import baltui.headless as h\n"
    assert _imports("baltui.label.app", lazy) == {"baltui.app.widgets", "baltui.app.widgets.plots", "baltui.headless"}
    assert _imports("baltui.label", "from . import session\n", is_package=True) == {"baltui.label",
                                                                                     "baltui.label.session"}
