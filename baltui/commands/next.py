"""`baltui next --data X --labels labels.csv`: the next batch to label, printed for a shell pipeline.

For labelling outside baltui (Label Studio, a spreadsheet): the labels so far in, the next batch's images out
(index, file, score; CSV or JSON on stdout, nothing else there), by `baltui.next_batch`, the one round a run
queries with. Without --labels (or with an empty file) the first batch is drawn at random.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from typing import Any

from baltui.commands.parsing import OneLineParser, add_setting_flags, setting_values
from baltui.core.errors import BaltuiError

# The settings table's rows `baltui next` takes as flags: the round's (next_batch.ROUND_SETTINGS, spelled out
# here so --help needs no import of the loop) and a folder's image size.
FLAGS = ("instances", "model", "epochs", "batch_size", "epoch_draws", "mc_samples", "subset", "beta", "epig_targets",
         "mc_masks", "weight_decay", "train_precision", "image_size")


def make_parser() -> argparse.ArgumentParser:
    p = OneLineParser(prog="baltui next", description="Print the next batch of images to label, for a labelling tool "
                      "outside baltui: train on the labels so far, ask the strategy, print index, item and score.")
    p.add_argument("--data", required=True, metavar="DIR|FILE.npz",
                   help="the images: a folder of PNG/JPEG/BMP files (searched recursively) or an .npz (x_train)")
    p.add_argument("--labels", metavar="FILE", help="the labels so far: a labels.csv (item,label; or index,label) "
                   "or a labels.json ({item: label} or [{item or index, label}]); none: a random first batch")
    p.add_argument("--classes", help="the class names, comma separated (labels may be names or indices), or how "
                   "many classes there are (default: the labels' own: max index + 1, or the names sorted)")
    p.add_argument("--strategy", default="bald", help="acquisition function (default bald); any of baltui's")
    p.add_argument("--seed", default="0", help="seed of the training and acquisition streams (default 0)")
    p.add_argument("--query", default="1", help="which query of a run this batch is, for its random streams "
                   "(default 1: the first after the initial labels); give the labelling round")
    p.add_argument("--format", choices=("csv", "json"), default="csv", help="output on stdout (default csv)")
    add_setting_flags(p.add_argument_group("training and acquisition (the settings table's defaults)"), FLAGS)
    return p


def _whole(text: str, flag: str, low: int) -> int:
    try:
        value = int(text)
    except ValueError:
        value = low - 1
    if value < low:
        raise BaltuiError(f"{flag} must be a whole number from {low}, got '{text}'")
    return value


def _classes(text: str | None) -> int | list[str] | None:
    if text is None:
        return None
    if text.strip().isdigit():
        return int(text)
    names = [c.strip() for c in text.split(",") if c.strip()]
    if len(names) < 2:
        raise BaltuiError(f"--classes needs at least two class names (or a count), got '{text}'")
    return names


def _labels(path: str | None) -> tuple[list[Any], list[Any]]:
    """(the labelled images: items or indices, their labels) from --labels."""
    if path is None:
        return [], []
    from baltui.core.labels_file import read_labels

    rows = read_labels(path, f"--labels {path}")
    if rows.by == "item":
        return list(rows.labels), list(rows.labels.values())
    indices = []
    for text in rows.labels:
        if not text.strip().isdigit():
            raise BaltuiError(f"--labels {path}: index '{text}' is not a whole number (a position in the images)")
        indices.append(int(text))
    return indices, list(rows.labels.values())


def write(rows: list[dict[str, Any]], fmt: str) -> None:
    """The batch on stdout: CSV (index,item,score, a header first) or a JSON list of {index, item, score}."""
    if fmt == "json":
        print(json.dumps(rows))
        return
    writer = csv.writer(sys.stdout, lineterminator="\n")
    writer.writerow(["index", "item", "score"])
    for row in rows:
        writer.writerow([row["index"], "" if row["item"] is None else row["item"],
                         "" if row["score"] is None else repr(row["score"])])


def main(argv: list[str]) -> int:
    args = make_parser().parse_args(argv)
    try:
        settings = setting_values(args, FLAGS)
        instances = settings.pop("instances", 10)
        model = settings.pop("model", "seed")
        labelled, labels = _labels(args.labels)
        from baltui.core.next_batch import next_batch

        batch = next_batch(args.data, labelled, labels, args.strategy, instances=instances,
                           seed=_whole(args.seed, "--seed", 0), query=_whole(args.query, "--query", 1), model=model,
                           classes=_classes(args.classes), **settings)
    except BaltuiError as exc:
        print(f"baltui next: error: {exc}", file=sys.stderr)
        return 2
    if batch.skipped:
        shown = ", ".join(batch.skipped[:5]) + (f" and {len(batch.skipped) - 5} more" if len(batch.skipped) > 5 else "")
        print(f"baltui next: warning: skipped {len(batch.skipped)} unreadable image(s): {shown}", file=sys.stderr)
    write(batch.rows(), args.format)
    return 0
