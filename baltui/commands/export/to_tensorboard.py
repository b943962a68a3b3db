"""A run folder as TensorBoard event files: one TensorBoard run (a subfolder named by run id) per baltui run.

Written with TensorBoard's own protocol buffers and record writer, not TensorFlow's summary ops: the files
are the ones `tf.summary` writes (TensorFlow and TensorBoard read them back), without the seconds that
importing TensorFlow costs. The step is the labelled count. Each run holds:

* scalars: every number of its query records (`content.scalars`),
* `acquisition_scores`: each query's score histogram as results.jsonl binned it (the batch is the top end),
* its settings and provenance as hparams (the HParams tab compares runs by them) and as a text summary,

and the folder-level `report` run holds the report's figure (`baltui report --plot`) as an image.
"""

from __future__ import annotations

import json
import os
import socket
import struct
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from tensorboard.compat.proto import event_pb2, summary_pb2
from tensorboard.plugins.histogram import metadata as histogram_metadata
from tensorboard.plugins.hparams import summary_v2 as hparams_summary
from tensorboard.plugins.image import metadata as image_metadata
from tensorboard.plugins.scalar.summary_v2 import scalar_pb
from tensorboard.plugins.text.summary_v2 import text_pb
from tensorboard.summary.writer.record_writer import RecordWriter
from tensorboard.util import tensor_util

from baltui.commands.export.content import STEP, ExportRun, run_params, scalars
from baltui.core.errors import BaltuiError
from baltui.runs.folder import RunFolder

EVENTS_PREFIX = "events.out.tfevents."
REPORT_RUN = "report"  # the folder-level run holding the report's figure (run ids are STRATEGY-sSEED: no clash)
HISTOGRAM_TAG = "acquisition_scores"
HISTOGRAM_HELP = ("Acquisition scores of the scored pool subset, in the bins results.jsonl keeps (equal width "
                  "from the lowest to the highest score); the queried batch is the top end.")


class EventFile:
    """One events.out.tfevents file: the header event, then one event per summary."""

    def __init__(self, logdir: Path) -> None:
        logdir.mkdir(parents=True, exist_ok=True)
        name = f"{EVENTS_PREFIX}{int(time.time()):010d}.{socket.gethostname()}.{os.getpid()}.baltui"
        self.path = logdir / name
        self._records = RecordWriter(open(self.path, "wb"))  # noqa: SIM115 (closed by close())
        self._write(event_pb2.Event(wall_time=time.time(), file_version="brain.Event:2"))

    def _write(self, event: event_pb2.Event) -> None:
        self._records.write(event.SerializeToString())

    def add(self, summary: summary_pb2.Summary, step: int) -> None:
        self._write(event_pb2.Event(wall_time=time.time(), step=step, summary=summary))

    def close(self) -> None:
        self._records.close()


def _run_dirs(target: Path, runs: list[ExportRun]) -> list[Path]:
    return [target / run.run_id for run in runs] + [target / REPORT_RUN]


def check_target(target: Path, runs: list[ExportRun], force: bool) -> list[Path]:
    """The event files an earlier export left in the run folders this one writes: refused without --force
    (TensorBoard would show both, one over the other), the ones --force removes with it."""
    if target.exists() and not target.is_dir():
        raise BaltuiError(f"--to {target} is a file; give a folder for the TensorBoard logs (tensorboard --logdir)")
    found = sorted(p for d in _run_dirs(target, runs) if d.is_dir() for p in d.glob(EVENTS_PREFIX + "*"))
    if found and not force:
        shown = ", ".join(sorted({p.parent.name for p in found})[:4])
        raise BaltuiError(f"--to {target} already holds TensorBoard runs named like this folder's ({shown}); "
                          "--force replaces them, or choose another --to")
    return found


def histogram_summary(histogram: dict[str, Any]) -> summary_pb2.Summary:
    """results.jsonl's histogram ({lo, hi, counts}) as TensorBoard's [left, right, count] buckets, as binned."""
    lo, hi, counts = float(histogram["lo"]), float(histogram["hi"]), list(histogram["counts"])
    if hi > lo:
        edges = np.linspace(lo, hi, len(counts) + 1)
        buckets = np.stack([edges[:-1], edges[1:], np.asarray(counts, dtype=np.float64)], axis=1)
    else:  # every score equal: one bucket around it, as TensorBoard's own histogram draws a constant
        buckets = np.asarray([[lo - 0.5, lo + 0.5, float(sum(counts))]])
    summary = summary_pb2.Summary()
    summary.value.add(tag=HISTOGRAM_TAG, tensor=tensor_util.make_tensor_proto(buckets, dtype=np.float64),
                      metadata=histogram_metadata.create_summary_metadata(HISTOGRAM_TAG, HISTOGRAM_HELP))
    return summary


def png_size(png: bytes) -> tuple[int, int]:
    """Width and height from a PNG's header (IHDR), which TensorBoard's image tensor names beside the bytes."""
    if png[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG")
    return struct.unpack(">II", png[16:24])


def image_summary(tag: str, png: bytes, description: str) -> summary_pb2.Summary:
    width, height = png_size(png)
    tensor = tensor_util.make_tensor_proto([str(width).encode(), str(height).encode(), png], dtype=np.object_)
    summary = summary_pb2.Summary()
    summary.value.add(tag=tag, tensor=tensor, metadata=image_metadata.create_summary_metadata(
        tag, description, converted_to_tensor=True))
    return summary


def config_text(folder: RunFolder) -> str:
    """config.json as a markdown code block (the Text tab renders markdown)."""
    body = json.dumps(folder.saved_config(), indent=2)
    return "\n".join("    " + line for line in body.splitlines())


def _write_run(logdir: Path, folder: RunFolder, run: ExportRun) -> None:
    events = EventFile(logdir)
    try:
        events.add(hparams_summary.hparams_pb(run_params(folder.config, run), trial_id=run.run_id,
                                              start_time_secs=time.time()), step=0)
        events.add(text_pb("config", config_text(folder), description="config.json of the run folder"), step=0)
        for record in run.queries:
            step = int(record[STEP])
            summary = summary_pb2.Summary()
            for tag, value in scalars(record).items():
                summary.value.extend(scalar_pb(tag, value).value)
            events.add(summary, step)
            if record.get("score_histogram"):
                events.add(histogram_summary(record["score_histogram"]), step)
    finally:
        events.close()


def export(folder: RunFolder, runs: list[ExportRun], target: Path, png: Callable[[], bytes | None],
           force: bool) -> list[str]:
    """Write the runs under `target` (checked first: nothing is written if it is refused); the lines to print."""
    stale = check_target(target, runs, force)
    try:
        target.mkdir(parents=True, exist_ok=True)
        for path in stale:
            path.unlink()
        for run in runs:
            _write_run(target / run.run_id, folder, run)
        figure = png()
        if figure is not None:
            events = EventFile(target / REPORT_RUN)
            try:
                final = max(int(q[STEP]) for run in runs for q in run.queries)
                events.add(image_summary("curves", figure, "mean test accuracy over runs, as baltui report --plot "
                                         "draws it"), step=final)
            finally:
                events.close()
    except OSError as exc:
        raise BaltuiError(f"cannot write TensorBoard logs to {target}: {exc.strerror or exc}") from None
    queries = sum(len(r.queries) for r in runs)
    return [f"exported {len(runs)} runs ({queries} queries) of {folder.path} to {target}"
            + (f" (replacing {len(stale)} earlier event files)" if stale else ""),
            f"view them: tensorboard --logdir {target}"]
