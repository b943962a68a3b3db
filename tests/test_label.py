"""`baltui label`: folder loading, persistence and resume, undo, export, the oracle loop, and the screen."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from baltui.commands.label.app import LabelApp
from baltui.commands.label.cli import main
from baltui.commands.label.session import LabelSession, class_keys, parse_classes
from baltui.core.errors import BaltuiError
from baltui.core.images import load_source

TINY = dict(epochs=2, batch_size=16, mc_samples=3)


@pytest.fixture
def folder(tmp_path, digits):
    """40 digit PNGs in assorted sizes and modes (and one corrupt file), plus the answers (csv by name; npz)."""
    root = tmp_path / "imgs"
    (root / "sub").mkdir(parents=True)
    for i in range(40):
        img = Image.fromarray((digits.x_pool[i, ..., 0] * 255).astype(np.uint8))
        if i % 4 == 1:
            img = img.convert("RGB").resize((30, 20))
        elif i % 4 == 2:
            img = img.convert("RGBA").resize((12, 16))
        elif i % 4 == 3:
            img = img.convert("P")
        img.save(root / ("sub" if i % 2 else "") / f"{i:03d}.{'png' if i % 3 else 'bmp'}")
    (root / "broken.png").write_bytes(b"\x89PNG not really")
    source = load_source(str(root))
    answers = np.array([int(digits.y_pool[int(item.split("/")[-1][:3])]) for item in source.items])
    np.savez(tmp_path / "answers.npz", x_train=source.images[..., 0], y_train=answers)
    rows = [f"{item},{label}" for item, label in zip(source.items, answers, strict=True)]
    (tmp_path / "answers.csv").write_text("item,label\n" + "\n".join(rows) + "\n")
    return root


def test_folder_loading_sizes_modes_and_corrupt_files(folder):
    source = load_source(str(folder))
    assert len(source.items) == 40 and source.images.shape == (40, 28, 28, 1)
    assert source.images.dtype == np.float32 and 0.0 <= source.images.min() and source.images.max() <= 1.0
    assert source.skipped == [("broken.png", "UnidentifiedImageError")]
    assert any(item.startswith("sub/") for item in source.items)


def test_bad_sources_and_classes(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(BaltuiError, match="holds no images"):
        load_source(str(tmp_path / "empty"))
    with pytest.raises(BaltuiError, match="twice"):
        parse_classes("cat,dog,cat")
    with pytest.raises(BaltuiError, match="at least two"):
        parse_classes("cat")
    assert class_keys(["cat", "cow", "dog"]) == {"c": 0, "o": 1, "d": 2}


def test_labels_persist_undo_and_resume(folder, tmp_path):
    out = tmp_path / "session"
    source = load_source(str(folder))
    s = LabelSession(source, out, [str(c) for c in range(10)], initial=6, **TINY)
    s.start()
    first = s.pending[:3]
    s.label(3)
    s.label(None)  # unusable
    s.label(5)
    assert s.undo()  # forget the 5
    assert s.current() == first[2]
    s.close()
    records = [json.loads(line) for line in (out / "labels.jsonl").read_text().splitlines()]
    assert [r["label"] for r in records] == ["3", None, "5", "5"] and records[-1]["undone"]
    again = LabelSession(source, out, [str(c) for c in range(10)], initial=6, **TINY)
    again.start()
    assert again.labels == {first[0]: 3, first[1]: None}
    assert again.current() == first[2]  # resumes on the next unlabelled image, nothing asked twice
    with pytest.raises(BaltuiError, match="classes"):
        LabelSession(source, out, ["a", "b"], **TINY)


def test_oracle_loop_headless_export_and_another_source_refused(folder, tmp_path, capsys):
    out = tmp_path / "run"
    args = [str(folder), "--out", str(out), "--oracle", str(tmp_path / "answers.csv"), "--test",
            str(tmp_path / "answers.npz"), "--no-ui", "--rounds", "2", "--initial", "10", "--instances", "5",
            "--epochs", "2", "--batch-size", "16", "--mc-samples", "3"]
    assert main(args) == 0
    text = capsys.readouterr().out
    assert "round 1: 10 labels, test accuracy" in text and "round 2: 15 labels" in text
    assert main(["--export", str(out), "--format", "csv"]) == 0
    rows = (out / "labels.csv").read_text().splitlines()
    assert rows[0] == "item,label" and len(rows) == 1 + 15
    assert main(["--export", str(out), "--format", "npz", "--to", str(tmp_path / "l.npz")]) == 0
    with np.load(tmp_path / "l.npz") as f:
        assert f["x"].shape == (15, 28, 28) and len(f["y"]) == 15
    other = tmp_path / "other"
    other.mkdir()
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(other / "a.png")
    (tmp_path / "a.csv").write_text("item,label\na.png,3\n")
    assert main([str(other), "--out", str(out), "--oracle", str(tmp_path / "a.csv"), "--no-ui"]) == 2
    assert "another source" in capsys.readouterr().err


def test_an_npz_export_with_a_test_split_is_a_data_set_for_data(folder, tmp_path, capsys):
    from baltui.core.data import load_npz

    out = tmp_path / "session"
    source = load_source(str(folder))
    answers = np.load(tmp_path / "answers.npz")["y_train"]
    session = LabelSession(source, out, [str(c) for c in range(10)], initial=40, **TINY)
    session.start()  # the first batch, chosen at random: every image
    while (item := session.current()) is not None:
        session.label(None if item == 0 else int(answers[item]))  # one marked unusable: not exported
    session.close()
    target = tmp_path / "labelled.npz"
    assert main(["--export", str(out), "--format", "npz", "--to", str(target), "--test",
                 str(tmp_path / "answers.npz")]) == 0
    data = load_npz(target)  # what --data FILE.npz reads
    assert len(data.y_pool) == 39 and len(data.y_test) == 40 and data.input_shape == (28, 28, 1)
    keep = np.arange(1, 40)
    np.testing.assert_array_equal(data.y_pool, answers[keep])
    np.testing.assert_array_equal(data.x_pool, source.images[keep])
    with np.load(target) as f:  # the label-mode keys stay, for --oracle and older readers
        assert f["x"].shape == (39, 28, 28) and f["y"].tolist() == answers[keep].tolist()
        assert f["items"].tolist() == source.items[1:]
    capsys.readouterr()
    assert main(["--export", str(out), "--format", "npz", "--to", str(tmp_path / "train-only.npz")]) == 0
    assert "export again with --test FILE.npz" in capsys.readouterr().out
    with np.load(tmp_path / "train-only.npz") as f:
        assert f["x_train"].shape == (39, 28, 28) and "x_test" not in f.files
    assert main(["--export", str(out), "--format", "csv", "--test", str(tmp_path / "answers.npz")]) == 2
    assert capsys.readouterr().err.strip().endswith("add --format npz")


async def test_screen_keys_label_images(folder, tmp_path):
    out = tmp_path / "screen"
    session = LabelSession(load_source(str(folder)), out, [str(c) for c in range(10)], initial=4, instances=3,
                           **TINY)
    app = LabelApp(session)
    async with app.run_test(size=(160, 50)) as pilot:
        await pilot.pause()
        first = session.current()
        await pilot.press("7")
        await pilot.press("x")
        await pilot.press("backspace")
        await pilot.press("2", "3", "4")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert session.round == 1 and len(session.pending) == 3
        await pilot.press("enter")  # accept the model's prediction
        assert len(session.labels) == 5
        await pilot.press("q")
    records = [json.loads(line) for line in (out / "labels.jsonl").read_text().splitlines()]
    assert records[0]["item"] == session.source.items[first] and records[0]["label"] == "7"
    assert [r.get("undone", False) for r in records[:3]] == [False, False, True]
