"""The core never imports a UI library, so headless runs and `--help` stay lean (as harlequin checks)."""

from __future__ import annotations

import subprocess
import sys

import pytest

CORE = ["baltui.config", "baltui.data", "baltui.acquisition", "baltui.engine", "baltui.experiment",
        "baltui.results", "baltui.events", "baltui.control", "baltui.model"]
UI = ("textual", "rich", "plotext", "textual_plotext")


@pytest.mark.parametrize("module", CORE)
def test_core_module_imports_no_ui(module):
    # Keras itself imports rich (for model summaries): model.py may not avoid that, only ours.
    banned = tuple(m for m in UI if not (module == "baltui.model" and m == "rich"))
    code = (f"import sys, importlib; importlib.import_module('{module}'); "
            f"bad = [m for m in {banned!r} if m in sys.modules]; "
            "assert not bad, bad")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
