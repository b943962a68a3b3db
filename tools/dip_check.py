"""Does the tiny last mini-batch cause the accuracy dip at 130 labels? (issue 27, point 2)

Retrains the seed model on the labelled sets a committed folder recorded (uniform runs: the same images
whatever the model does) at the given labelled counts, with the same training seed stream as the run,
once with `--batching keep` (an epoch ends on n mod 128 images) and once with `even`, and prints test
accuracy per (seed, count, batching) and the mean per (count, batching).

    python tools/dip_check.py results/acquisitions --data ../shared/data/mnist.npz --counts 120,130,140
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from baltui.core.data import load_npz
from baltui.core.loop import TRAIN, ActiveLearningLoop, LoopSettings, stream


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("folder")
    parser.add_argument("--data", required=True)
    parser.add_argument("--counts", default="120,130,140")
    parser.add_argument("--strategy", default="uniform")
    parser.add_argument("--seeds", default="0,1,2")
    args = parser.parse_args()
    counts = [int(c) for c in args.counts.split(",")]
    seeds = [int(s) for s in args.seeds.split(",")]
    data = load_npz(args.data)
    records = [json.loads(line) for line in open(Path(args.folder) / "results.jsonl")]
    rows = {(r["seed"], r["n_labelled"]): r for r in records
            if r.get("type", "query") == "query" and r["strategy"] == args.strategy}
    table: dict[tuple[int, str], list[float]] = {}
    print("seed  labels  batching  last batch  accuracy  recorded")
    for seed in seeds:
        for n in counts:
            r = rows[(seed, n)]
            labelled = np.asarray(r["labelled_indices"], dtype=np.int64)
            for batching in ("keep", "even"):
                loop = ActiveLearningLoop.build(LoopSettings(strategy=args.strategy, batching=batching),
                                                data.x_pool, data.n_classes, data.y_pool)
                loop.start(labelled, stream(seed, r["query"], TRAIN))
                accuracy = loop.evaluate(data.x_test, data.y_test).accuracy
                last = loop.classifier.last_fit.last_batch
                table.setdefault((n, batching), []).append(accuracy)
                recorded = r["accuracy"]
                print(f"{seed:>4}  {n:>6}  {batching:>8}  {last:>10}  {accuracy:8.4f}  {recorded:8.4f}", flush=True)
    print("\nlabels  batching  mean accuracy  (over seeds " + ",".join(map(str, seeds)) + ")")
    for (n, batching), values in sorted(table.items()):
        print(f"{n:>6}  {batching:>8}  {np.mean(values):.4f} ± {np.std(values, ddof=1):.4f}")


if __name__ == "__main__":
    main()
