"""Regenerate screenshots/ from real short runs: `python -m tools.screenshots [--data MNIST.npz]`.

Runs the real dashboard headlessly (App.run_test) on the real engine, waits for the runs to finish,
and saves SVGs, so the README's pictures always show what the current code draws.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
from pathlib import Path

import numpy as np

from baltui.commands.run import make_app
from baltui.runs import start

SIZE = (200, 62)


async def _shoot(overrides: dict, preset: str, target: Path) -> None:
    out = Path(tempfile.mkdtemp(prefix="baltui-shot-")) / "run"
    prepared = start.start(preset, overrides, str(out))  # every check and provenance, as the CLI does
    app = make_app(prepared.config, prepared.out, dataset=prepared.dataset)
    async with app.run_test(size=SIZE) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause(1.0)
        app.save_screenshot(filename=target.name, path=str(target.parent))
    print(f"wrote {target}")


async def _shoot_label(target: Path) -> None:
    """The label screen after one round on a folder of digit PNGs, three images into the next batch."""
    from baltui.commands.label.app import LabelApp
    from baltui.commands.label.make_folder import main as make_folder
    from baltui.commands.label.session import LabelSession
    from baltui.core.images import load_source

    work = Path(tempfile.mkdtemp(prefix="baltui-label-shot-"))
    make_folder([str(work / "digits"), "--n", "300"])
    with np.load(work / "digits-labels.npz") as f:
        answers = f["y_train"]
    session = LabelSession(load_source(str(work / "digits")), work / "session", [str(c) for c in range(10)],
                           epochs=30, batch_size=16, mc_samples=30)
    app = LabelApp(session)
    async with app.run_test(size=(160, 50)) as pilot:
        await pilot.pause()
        while session.current() is not None:
            await pilot.press(str(int(answers[session.current()])))
        await app.workers.wait_for_complete()
        await pilot.pause()
        for _ in range(3):
            await pilot.press(str(int(answers[session.current()])))
        await pilot.pause(0.5)
        app.save_screenshot(filename=target.name, path=str(target.parent))
    print(f"wrote {target}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.screenshots")
    parser.add_argument("--out", default="screenshots", help="folder for the SVGs")
    parser.add_argument("--data", help="MNIST in the keras .npz layout, for the MNIST screenshot")
    parser.add_argument("--label-only", action="store_true", help="only the label-mode screenshot")
    args = parser.parse_args(argv)
    folder = Path(args.out)
    folder.mkdir(parents=True, exist_ok=True)
    if not args.label_only:
        asyncio.run(_shoot({"queries": 12}, "quick", folder / "quick.svg"))
    asyncio.run(_shoot_label(folder / "label.svg"))
    if args.data and not args.label_only:
        asyncio.run(_shoot({"data": args.data, "queries": 4, "epochs": 20, "mc_samples": 20},
                           "paper", folder / "mnist.svg"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
