"""Write a folder of PNG digits to try `baltui label` on: `python -m baltui.commands.label.make_folder OUT [--n 300]`.

From scikit-learn's bundled digits (upscaled to 28x28) or from an .npz's x_train (`--from-npz`); the
labels go to OUT/../<OUT name>-labels.npz as y_train beside `items` (the file names), usable as `--oracle`:
the oracle answers by item name, so a file that cannot be read never shifts the other answers.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from baltui.commands.parsing import OneLineParser


def main(argv: list[str] | None = None) -> int:
    p = OneLineParser(prog="python -m baltui.commands.label.make_folder")
    p.add_argument("out")
    p.add_argument("--n", type=int, default=300)
    p.add_argument("--from-npz", dest="from_npz")
    args = p.parse_args(argv)
    from PIL import Image

    if args.from_npz:
        with np.load(args.from_npz) as f:
            x, y = f["x_train"][: args.n], f["y_train"][: args.n]
    else:
        from sklearn.datasets import load_digits

        d = load_digits()
        x = (d.images[: args.n] * 255 / 16).astype(np.uint8)
        y = d.target[: args.n]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for i, img in enumerate(x):
        big = Image.fromarray(np.asarray(img, dtype=np.uint8)).resize((28, 28), Image.NEAREST)
        big.save(out / f"{i:05d}.png")
        written.append(np.asarray(big))
    labels = out.parent / f"{out.name}-labels.npz"
    items = np.asarray([f"{i:05d}.png" for i in range(len(written))])
    np.savez(labels, x_train=np.stack(written), y_train=np.asarray(y, dtype=np.int64), items=items)
    print(f"wrote {len(x)} PNGs to {out} and their labels to {labels}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
