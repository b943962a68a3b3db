"""BatchBALD on a whole Repeated MNIST pool: scoring in bound order against scoring every candidate.

Trains the seed model on a balanced start of 20 labels of `repeated:3,base=10000` (recipe seed 0), takes T
MC-dropout samples of the whole pool, then times `batchbald_select` with `prune=True` and `prune=False`
alternately on those same probabilities (A B A B ...: both see the same load) and checks they pick the same
batch. Prints each timing, the median ratio, and how many candidates were scored per step.

    python tools/batchbald_speed.py --data ../shared/data/mnist.npz --repeats 2
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from baltui.core import batchbald
from baltui.core.config import RunConfig
from baltui.core.data import load_dataset
from baltui.core.engine import initial_indices
from baltui.core.loop import TRAIN, ActiveLearningLoop, LoopSettings, stream


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", required=True)
    parser.add_argument("--recipe", default="repeated:3,base=10000")
    parser.add_argument("--mc-samples", type=int, default=100)
    parser.add_argument("--instances", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    data = load_dataset(RunConfig(data=args.data, recipe=args.recipe))
    labelled = initial_indices(data.y_pool, 2, 0, data.n_classes)
    loop = ActiveLearningLoop.build(LoopSettings(strategy="batchbald"), data.x_pool, data.n_classes, data.y_pool)
    loop.start(labelled, stream(0, 0, TRAIN))
    pool = np.setdiff1d(np.arange(len(data.y_pool)), labelled)
    started = time.perf_counter()
    P = loop.classifier.mc_predict_proba(data.x_pool[pool], args.mc_samples, seed=0)
    print(f"pool {len(pool)} images, T = {args.mc_samples}: MC pass {time.perf_counter() - started:.1f} s")

    scored: list[int] = []
    original = batchbald._joint_entropies

    def counting(prev, weights, P_, candidates):
        scored.append(len(candidates))
        return original(prev, weights, P_, candidates)

    times: dict[bool, list[float]] = {True: [], False: []}
    picks: dict[bool, list[int]] = {}
    for _ in range(args.repeats):
        for prune in (True, False):
            scored.clear()
            batchbald._joint_entropies = counting
            started = time.perf_counter()
            chosen = batchbald.batchbald_select(P, args.instances, np.random.default_rng(0), prune=prune)
            times[prune].append(time.perf_counter() - started)
            batchbald._joint_entropies = original
            picks[prune] = chosen.tolist()
            name = "bound order" if prune else "every candidate"
            print(f"{name:>16}: {times[prune][-1]:7.2f} s, {sum(scored):,} candidate scorings")
    assert picks[True] == picks[False], "the two orders picked different batches"
    ratio = statistics.median(times[False]) / statistics.median(times[True])
    print(f"same batch both ways: {picks[True]}")
    print(f"median: every candidate {statistics.median(times[False]):.2f} s, bound order "
          f"{statistics.median(times[True]):.2f} s, {ratio:.1f}x faster")


if __name__ == "__main__":
    main()
