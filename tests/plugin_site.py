"""The example plug-in package made importable as pip would install it, without running pip.

`install_like_pip` copies the package into a folder and writes its `*.dist-info` (METADATA and an
entry_points.txt made from the pyproject's [project.entry-points]), which is all importlib.metadata reads:
with the folder on sys.path (or PYTHONPATH for a subprocess) its entry points are installed plug-ins.
`forget_plugins` drops what the tests imported, so one test's plug-ins never leak into the next.
"""

from __future__ import annotations

import importlib
import shutil
import sys
import tomllib
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "baltui_example_plugins"


def install_like_pip(site: Path, project: Path = EXAMPLE) -> Path:
    """`site` holding the project's packages and its dist-info; returns `site`."""
    meta = tomllib.loads((project / "pyproject.toml").read_text(encoding="utf-8"))
    info = meta["project"]
    site.mkdir(parents=True, exist_ok=True)
    for package in meta["tool"]["setuptools"]["packages"]:
        shutil.copytree(project / package, site / package, ignore=shutil.ignore_patterns("__pycache__"))
    dist = site / f"{info['name'].replace('-', '_')}-{info['version']}.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {info['name']}\nVersion: {info['version']}\n",
                                   encoding="utf-8")
    lines = []
    for group, points in info["entry-points"].items():
        lines += [f"[{group}]", *(f"{name} = {value}" for name, value in points.items()), ""]
    (dist / "entry_points.txt").write_text("\n".join(lines), encoding="utf-8")
    importlib.invalidate_caches()
    return site


def forget_plugins() -> None:
    """Unload the example package and every plug-in file, and empty baltui's plug-in caches."""
    from baltui.core import plugins

    for name in [m for m in sys.modules if m.startswith(("baltui_example_plugins", "baltui_plugin_"))]:
        del sys.modules[name]
    plugins._CACHE.clear()
    plugins._FILE_MODULES.clear()
    importlib.invalidate_caches()
