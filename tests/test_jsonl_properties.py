"""results.jsonl and labels.jsonl cut anywhere, or ending in any unterminated tail: searched, not sampled.

Hypothesis tries hundreds of byte offsets into the real files recorded in tests/fixtures/before_layers (and
hundreds of random tails): the file always reads, every complete record is kept exactly once, a torn tail is
set aside byte for byte (never merged into the next record, never silently dropped), and appending after it
gives a file that reads back with the new record too. Pure Python through the public readers and writers
(read_records / ResultsWriter, LabelSession): no training, a few seconds.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from baltui.commands.label.session import LabelSession
from baltui.core.images import load_source
from baltui.runs.results import ResultsWriter, read_records

FIXTURE = Path(__file__).parent / "fixtures" / "before_layers"
RESULTS = (FIXTURE / "runs" / "results.jsonl").read_bytes()
CONFIG = (FIXTURE / "runs" / "config.json").read_bytes()
LABELS = (FIXTURE / "label" / "labels.jsonl").read_bytes()
SESSION = (FIXTURE / "label" / "session.json").read_bytes()
CLASSES = [str(c) for c in range(10)]
EXAMPLES = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
# Every append is fsynced: in memory (tmpfs) that is free, so hundreds of examples take seconds, not minutes.
SCRATCH = "/dev/shm" if Path("/dev/shm").is_dir() else None

# a record of a run the fixture does not have, so it can never repeat one of its (run, query) rows
NEW = {**json.loads(RESULTS.split(b"\n")[0]), "run_id": "uniform-s7", "seed": 7}


def _line_ends(data: bytes) -> list[int]:
    return [i for i, b in enumerate(data) if b == ord("\n")]


def offsets(data: bytes) -> st.SearchStrategy[int]:
    """Any byte offset, with the interesting ones (just before and after each newline) drawn often."""
    ends = _line_ends(data)
    return st.one_of(st.integers(0, len(data)), st.sampled_from(ends), st.sampled_from([e + 1 for e in ends]))


def kept_after_cut(data: bytes, offset: int) -> tuple[list[dict], bytes]:
    """What a reader must return for data[:offset]: every complete line, and the last one if it is a whole
    record that only lost its newline; and the torn tail that must be set aside (b"" if none)."""
    *complete, tail = data[:offset].split(b"\n")
    records = [json.loads(line) for line in complete if line.strip()]
    if tail and tail in data.split(b"\n"):  # cut exactly at a newline: the record is whole
        return records + [json.loads(tail)], b""
    return records, tail


def _not_a_record(tail: bytes) -> bool:
    try:
        return not isinstance(json.loads(tail), dict)
    except ValueError:
        return True


def _side_files(folder: Path, name: str) -> list[bytes]:
    return [p.read_bytes() for p in sorted(folder.glob(f"{name}.torn-*"))]


def _check_results_folder(out: Path, kept: list[dict], torn: bytes) -> None:
    assert read_records(out) == kept
    writer = ResultsWriter(out)
    writer.append(NEW)
    writer.close()
    data = (out / "results.jsonl").read_bytes()
    assert data.endswith(b"\n") and all(isinstance(json.loads(line), dict) for line in data.split(b"\n")[:-1])
    assert read_records(out) == kept + [NEW]  # every complete record once, then the new one
    assert _side_files(out, "results.jsonl") == ([torn] if torn else [])  # set aside, never dropped


@EXAMPLES
@given(offset=offsets(RESULTS))
def test_results_cut_anywhere_reads_and_appends(offset):
    kept, torn = kept_after_cut(RESULTS, offset)
    with tempfile.TemporaryDirectory(dir=SCRATCH) as tmp:
        out = Path(tmp)
        (out / "config.json").write_bytes(CONFIG)
        (out / "results.jsonl").write_bytes(RESULTS[:offset])
        _check_results_folder(out, kept, torn)


tails = st.one_of(st.binary(min_size=1, max_size=200), st.text(min_size=1, max_size=200).map(str.encode))


@EXAMPLES
@given(tail=tails.filter(lambda b: b"\n" not in b))
def test_results_with_any_unterminated_tail_reads_and_appends(tail):
    assume(_not_a_record(tail))  # a tail that is a JSON object is a record: kept, and checked as one
    with tempfile.TemporaryDirectory(dir=SCRATCH) as tmp:
        out = Path(tmp)
        (out / "config.json").write_bytes(CONFIG)
        (out / "results.jsonl").write_bytes(RESULTS + tail)
        _check_results_folder(out, [json.loads(line) for line in RESULTS.splitlines()], tail)


# ---- labels.jsonl, through the label session --------------------------------------------------------
@pytest.fixture(scope="module")
def source():
    return load_source(str(FIXTURE / "digits_source.npz"))


def _replayed(records: list[dict], source) -> dict[int, int | None]:
    """The labels a session holds after these key presses (as the README says: every press is on disk)."""
    labels: dict[int, int | None] = {}
    index = {item: i for i, item in enumerate(source.items)}
    for r in records:
        i = index[r["item"]]
        if r.get("undone"):
            labels.pop(i, None)
        else:
            labels[i] = None if r["label"] is None else CLASSES.index(r["label"])
    return labels


def _check_label_folder(folder: Path, source, kept: list[dict], torn: bytes) -> None:
    expected = _replayed(kept, source)
    session = LabelSession(source, folder, CLASSES)
    assert session.labels == expected
    item = session.current()  # the next round's batch, never labelled in the recording
    assert item is not None and item not in expected
    session.label(3)
    session.close()
    data = (folder / "labels.jsonl").read_bytes()
    assert data.endswith(b"\n") and all(isinstance(json.loads(line), dict) for line in data.split(b"\n")[:-1])
    again = LabelSession(source, folder, CLASSES)
    assert again.labels == {**expected, item: 3}  # the label given after the cut is there too
    assert again.export("csv", folder / "out.csv") == len(expected) + 1
    again.close()
    assert _side_files(folder, "labels.jsonl") == ([torn] if torn else [])


@EXAMPLES
@given(offset=offsets(LABELS))
def test_labels_cut_anywhere_resume_without_losing_a_label(offset, source):
    kept, torn = kept_after_cut(LABELS, offset)
    with tempfile.TemporaryDirectory(dir=SCRATCH) as tmp:
        folder = Path(tmp)
        (folder / "session.json").write_bytes(SESSION)
        (folder / "labels.jsonl").write_bytes(LABELS[:offset])
        _check_label_folder(folder, source, kept, torn)


@EXAMPLES
@given(tail=tails.filter(lambda b: b"\n" not in b))
def test_labels_with_any_unterminated_tail_resume_without_losing_a_label(tail, source):
    assume(_not_a_record(tail))
    with tempfile.TemporaryDirectory(dir=SCRATCH) as tmp:
        folder = Path(tmp)
        (folder / "session.json").write_bytes(SESSION)
        (folder / "labels.jsonl").write_bytes(LABELS + tail)
        _check_label_folder(folder, source, [json.loads(line) for line in LABELS.splitlines()], tail)
