"""Regenerate screenshots/ from real short runs: `python -m baltui.app.screenshots [--data MNIST.npz]`.

Runs the real dashboard headlessly (App.run_test) on the real engine, waits for the runs to finish,
and saves SVGs, so the README's pictures always show what the current code draws.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
from pathlib import Path

from baltui.app import make_app
from baltui.config import build_config, load_preset
from baltui.data import load_dataset
from baltui.results import prepare_out_dir

SIZE = (200, 62)


async def _shoot(overrides: dict, preset: str, target: Path) -> None:
    config = build_config(load_preset(preset), overrides)
    out = Path(tempfile.mkdtemp(prefix="baltui-shot-")) / "run"
    config.out = str(out)
    prepare_out_dir(out, config.to_dict())
    app = make_app(config, out, dataset=load_dataset(config))
    async with app.run_test(size=SIZE) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause(1.0)
        app.save_screenshot(filename=target.name, path=str(target.parent))
    print(f"wrote {target}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m baltui.app.screenshots")
    parser.add_argument("--out", default="screenshots", help="folder for the SVGs")
    parser.add_argument("--data", help="MNIST in the keras .npz layout, for the MNIST screenshot")
    args = parser.parse_args(argv)
    folder = Path(args.out)
    folder.mkdir(parents=True, exist_ok=True)
    asyncio.run(_shoot({"queries": 12}, "quick", folder / "quick.svg"))
    if args.data:
        asyncio.run(_shoot({"data": args.data, "queries": 4, "epochs": 20, "mc_samples": 20},
                           "paper", folder / "mnist.svg"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
