"""The Textual dashboard. Kept light: importing baltui.commands.run does not import Textual until make_app runs."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from baltui.commands.run.app import BaltuiApp
    from baltui.core.config import RunConfig
    from baltui.executors.local import EngineFactory


def make_app(
    config: RunConfig,
    out_dir: Path,
    engine_factory: EngineFactory | None = None,
    dataset: Any = None,
    resume: dict[str, list[dict[str, Any]]] | None = None,
    executor: Any = None,
    clock: Callable[[], float] = time.monotonic,
) -> BaltuiApp:
    """The one factory the CLI and the tests use (as posting's make_posting).

    `executor` runs the grid instead of baltui.executors.local.run_experiment (same signature), e.g. a RayExecutor.
    `clock` times elapsed and ETAs (tests give a fake one).
    """
    from baltui.commands.run.app import BaltuiApp

    return BaltuiApp(config, Path(out_dir), engine_factory=engine_factory, dataset=dataset, resume=resume,
                     executor=executor, clock=clock)
