"""Published figures that baltui's results are compared with, and the data each belongs to.

One place for the papers' numbers: the report's reference columns and the dashboard's reference
points read them from here. A reference is shown only for the data it was measured on, and data is
recognised by its content (`Dataset.content_sha256`), never by its name or image shape: a
Fashion-MNIST or a user's own 28x28 set must never be shown beside MNIST's numbers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# sha256 of the official MNIST arrays as keras stores them (x_train, y_train, x_test, y_test; uint8),
# hashed by `baltui.core.data.content_hash`: the keras cache and ../shared/data/mnist.npz give this value.
MNIST_SHA256 = "67c5a2534dd720d8e0a9035bdec7367d42dd58efbc8b13646a69d97e0d25f883"


@dataclass(frozen=True)
class PaperReference:
    """Labels needed to reach 90% / 95% test accuracy, per strategy, under one paper's protocol."""

    citation: str
    data_sha256: str
    initial: int  # labelled images before the first acquisition, in the paper's protocol
    counts_include_initial: bool  # whether the paper's numbers already include the initial set
    labels_to: dict[str, tuple[int, int]]  # strategy -> (90%, 95%), as printed in the paper
    statistic: str = "mean"  # over the paper's repeats: ours is compared with the same statistic of our runs

    def __hash__(self) -> int:
        """By citation and data: labels_to is a dict, which the generated hash would choke on, and a set of
        references (the watcher's "do all folders share one paper?") must work."""
        return hash((self.citation, self.data_sha256, self.initial))

    @property
    def short(self) -> str:
        """`Gal 2017` from `Gal, Islam & Ghahramani (2017), Table 1`: short enough for a column or a legend."""
        author = re.split(r"[,(&]", self.citation, maxsplit=1)[0].strip()
        year = re.search(r"\b(?:19|20)\d{2}\b", self.citation)
        return f"{author} {year.group(0)}" if year else author

    def total_labels(self, strategy: str) -> tuple[int, int] | None:
        """The paper's figures as total labelled images (initial set included), or None."""
        ref = self.labels_to.get(strategy)
        if ref is None:
            return None
        extra = 0 if self.counts_include_initial else self.initial
        return ref[0] + extra, ref[1] + extra


# Gal, Islam & Ghahramani (ICML 2017), Table 1: acquired images (beyond the 20 initial) to reach 10% / 5%
# test error on MNIST, mean of 3 repeats.
GAL2017_TABLE1 = PaperReference(
    citation="Gal, Islam & Ghahramani (2017), Table 1",
    data_sha256=MNIST_SHA256,
    initial=20,
    counts_include_initial=False,
    labels_to={"bald": (145, 335), "var_ratios": (120, 295), "entropy": (165, 355), "mean_std": (230, 695),
               "uniform": (255, 835)},
)

# Kirsch, van Amersfoort & Gal (NeurIPS 2019): labelled-set size (20 initial included) at the first
# crossing of 90% / 95% test accuracy on MNIST, median of 6 seeds, batches of 10.
KIRSCH2019 = PaperReference(
    citation="Kirsch, van Amersfoort & Gal (2019), MNIST, median of 6",
    data_sha256=MNIST_SHA256,
    initial=20,
    counts_include_initial=True,
    labels_to={"batchbald": (100, 210), "bald": (130, 260)},
    statistic="median",
)


def reference_for(data_sha256: str | None, initial: int, model: str = "seed",
                  initial_set: str = "balanced") -> PaperReference | None:
    """The paper whose protocol a run follows, if its data and initial set match that paper's; else None.
    Every paper here starts from a balanced initial set (2 per class): a random one is another protocol."""
    if data_sha256 != MNIST_SHA256 or initial_set != "balanced":
        return None
    ref = KIRSCH2019 if model == "batchbald2019" else GAL2017_TABLE1
    return ref if ref.initial == initial else None
