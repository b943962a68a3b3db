"""How many of a batch's picks were near-copies? (issue 26, Repeated MNIST)

On Repeated MNIST every original pool image is there COPIES times with a little noise, so an acquisition
function that scores points one at a time (top-k BALD) can fill a batch with copies of one image, and each
copy after the first teaches the model next to nothing. This reads a folder's query records, rebuilds the
folder's data from its config (the recipe is deterministic for its seed) and maps every queried index to its
original (`Dataset.pool_origin`), then prints per strategy, over all its runs' queries:

- distinct: the mean number of different originals in a batch (10 of 10 means no copies inside a batch);
- wasted: the share of queried labels whose original was already labelled (earlier or in the same batch).

    python tools/copies_check.py results/repeated-mnist --data ../shared/data/mnist.npz
"""

from __future__ import annotations

import argparse
from collections import defaultdict

import numpy as np

from baltui.core.data import load_dataset
from baltui.core.events import is_query
from baltui.runs.folder import RunFolder


def batch_copies(origin: np.ndarray, labelled_before: np.ndarray, queried: np.ndarray) -> tuple[int, int]:
    """(distinct originals in the batch, labels whose original was labelled already or earlier in the batch)."""
    seen = set(origin[labelled_before].tolist())
    wasted = 0
    for original in origin[queried].tolist():
        wasted += original in seen
        seen.add(original)
    return len(set(origin[queried].tolist())), wasted


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("folder")
    parser.add_argument("--data", help="the data file, if the folder's recorded path does not reach it from here")
    args = parser.parse_args()
    folder = RunFolder.open(args.folder)
    dataset = load_dataset(folder.run_config(data=args.data))
    if dataset.pool_origin is None:
        raise SystemExit(f"{args.folder}: its data has no recipe that copies images; nothing to count")
    origin = np.asarray(dataset.pool_origin)
    distinct: dict[str, list[int]] = defaultdict(list)
    wasted: dict[str, list[int]] = defaultdict(list)
    sizes: dict[str, list[int]] = defaultdict(list)
    for run in folder.records_by_run().values():
        previous = None
        for record in run:
            if not is_query(record):
                continue
            labelled = np.asarray(record["labelled_indices"], dtype=np.int64)
            if record["query"] > 0 and previous is not None:
                queried = np.asarray(record["queried_indices"], dtype=np.int64)
                d, w = batch_copies(origin, previous, queried)
                distinct[record["strategy"]].append(d)
                wasted[record["strategy"]].append(w)
                sizes[record["strategy"]].append(len(queried))
            previous = labelled
    print("strategy     batches  distinct originals per batch  labels on an original already labelled")
    for strategy in distinct:
        share = sum(wasted[strategy]) / max(1, sum(sizes[strategy]))
        mean_size = np.mean(sizes[strategy])
        print(f"{strategy:<12} {len(distinct[strategy]):>7}  {np.mean(distinct[strategy]):>5.2f} of {mean_size:<4.0f}"
              f"{'':19}  {share:6.1%}")


if __name__ == "__main__":
    main()
