"""`baltui.next_batch` and `baltui next`: one query for a labelling tool outside baltui, the same as a run's."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys

import pytest
from image_folders import digit_folder

import baltui
from baltui.cli import main
from baltui.core.engine import initial_indices
from baltui.core.errors import BaltuiError

TINY = {"epochs": 2, "batch_size": 16, "mc_samples": 3, "subset": 200}
TINY_FLAGS = ["--epochs", "2", "--batch-size", "16", "--mc-samples", "3", "--subset", "50"]


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    """A tiny real run's records, by (strategy, query)."""
    folder = baltui.run(strategies=["bald", "batchbald"], seeds=[3], queries=2, instances=5, initial_per_class=2,
                        out=tmp_path_factory.mktemp("runs") / "run", **TINY)
    return {(r["strategy"], r["query"]): r for r in folder.records() if r["type"] == "query"}


@pytest.mark.parametrize("strategy", ["bald", "batchbald"])
def test_next_batch_picks_what_the_run_queried_with_the_same_settings_and_seed(recorded, digits, strategy):
    for query in (1, 2):
        before = recorded[(strategy, query - 1)]["labelled_indices"]
        batch = baltui.next_batch(digits.x_pool, before, digits.y_pool[before], strategy, instances=5, seed=3,
                                  query=query, **TINY)
        run = recorded[(strategy, query)]
        assert batch.indices.tolist() == run["queried_indices"], (strategy, query)
        assert batch.scores == pytest.approx(run["queried_scores"], rel=1e-6)
        assert batch.items is None and batch.strategy == strategy and batch.seed == 3


def test_with_no_labels_the_batch_is_a_runs_random_initial_set(digits):
    batch = baltui.next_batch(digits.x_pool, [], [], "bald", instances=20, seed=5)
    assert batch.scores is None
    assert batch.indices.tolist() == initial_indices(digits.y_pool, 2, 5, 10, initial_set="random").tolist()


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """A flat-enough folder to label: three digit classes, 30 PNGs each (their labels are in the file paths)."""
    return digit_folder(tmp_path_factory.mktemp("images") / "photos")


def _labels_csv(path, items):
    path.write_text("item,label\n" + "".join(f"{item},{item.split('/')[0]}\n" for item in items))
    return path


def test_the_command_prints_a_batch_a_pipeline_parses(folder, tmp_path):
    labelled = ["one/0001.png", "one/0011.png", "two/0002.png", "two/0012.png", "zero/0000.png", "zero/0010.png"]
    labels = _labels_csv(tmp_path / "labels.csv", labelled)
    proc = subprocess.run([sys.executable, "-m", "baltui", "next", "--data", str(folder), "--labels", str(labels),
                           "--strategy", "bald", "--instances", "4", *TINY_FLAGS], capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr
    rows = list(csv.DictReader(io.StringIO(proc.stdout)))
    assert len(rows) == 4 and list(rows[0]) == ["index", "item", "score"]
    files = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*.png"))
    for row in rows:
        assert files[int(row["index"])] == row["item"] and row["item"] not in labelled
    scores = [float(row["score"]) for row in rows]
    assert scores == sorted(scores, reverse=True)  # BALD's top 4, best first
    # the same batch from Python, and as JSON
    api = baltui.next_batch(folder, labelled, [item.split("/")[0] for item in labelled], "bald", instances=4,
                            epochs=2, batch_size=16, mc_samples=3, subset=50)
    assert [api.items[i] for i in api.indices] == [row["item"] for row in rows]


def test_json_output_and_labels_by_index(folder, tmp_path, capsys):
    labels = tmp_path / "labels.json"
    labels.write_text(json.dumps([{"index": i, "label": i // 30} for i in (0, 1, 30, 31, 60, 61)]))
    assert main(["next", "--data", str(folder), "--labels", str(labels), "--strategy", "uniform", "--instances", "3",
                 "--classes", "one,two,zero", "--format", "json", *TINY_FLAGS]) == 0
    out = json.loads(capsys.readouterr().out)
    assert len(out) == 3 and all(set(row) == {"index", "item", "score"} and row["score"] is None for row in out)
    files = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*.png"))
    assert all(row["index"] not in (0, 1, 30, 31, 60, 61) and row["item"] == files[row["index"]] for row in out)


TWO = "item,label\none/0001.png,one\ntwo/0002.png,two\n"


@pytest.mark.parametrize(
    ("labels", "args", "message"),
    [
        ("item,label\none/nope.png,one\ntwo/0002.png,two\n", [],
         "labelled item 'one/nope.png' is not one of the folder (or .npz) given"),
        ("item,label\none/0001.png,one\n", [], "the labels name one class; a classifier needs at least two"),
        ("item,label\none/0001.png,one\ntwo/0002.png,cat\n", ["--classes", "one,two,zero"],
         "label 'cat' is not one of the classes one, two, zero"),
        ("name,label\n", [], "needs a header with columns item,label"),
        ("{not json", [], "is not valid JSON"),
        (TWO, ["--strategy", "bold"], "unknown strategy 'bold'"),
        (TWO, ["--instances", "0"], "'instances' must be a whole number"),
        (TWO, ["--instances", "100"], "100 images asked for but only 88"),
        (TWO, ["--weight-decay", "auto"],
         "needs a labelled validation set"),
    ],
    ids=["unknown-item", "one-class", "unknown-class", "bad-header", "bad-json", "bad-strategy", "zero-instances",
         "too-many", "needs-validation"],
)
def test_bad_input_is_one_line_and_exit_2(folder, tmp_path, capsys, labels, args, message):
    path = tmp_path / ("labels.json" if labels.startswith("{") else "labels.csv")
    path.write_text(labels)
    assert main(["next", "--data", str(folder), "--labels", str(path), *args]) == 2
    captured = capsys.readouterr()
    err = captured.err.strip().splitlines()
    assert len(err) == 1 and message in err[0], err
    assert captured.out == ""


def test_bad_python_input_raises_one_line(digits):
    with pytest.raises(BaltuiError, match="3 labelled images but 2 labels"):
        baltui.next_batch(digits.x_pool, [0, 1, 2], [0, 1])
    with pytest.raises(BaltuiError, match="labelled index 5000 is outside the 1300 images"):
        baltui.next_batch(digits.x_pool, [0, 5000], [0, 1])
    with pytest.raises(BaltuiError, match="unknown setting 'epoch'"):
        baltui.next_batch(digits.x_pool, [0, 1], [0, 1], epoch=3)
    with pytest.raises(BaltuiError, match="an image is labelled twice"):
        baltui.next_batch(digits.x_pool, [0, 0], [0, 1])


def test_the_command_offers_every_setting_of_the_round():
    from baltui.commands.next import FLAGS
    from baltui.core.next_batch import READ_SETTINGS, ROUND_SETTINGS

    # early stopping needs a labelled validation set, which a query for labels has none of
    assert set(FLAGS) | {"early_stopping"} == set(ROUND_SETTINGS) | set(READ_SETTINGS) | {"instances"}
