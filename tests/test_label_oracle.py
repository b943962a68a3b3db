"""`baltui label`: the oracle answers by item name, session.json's source path, colour sources and --size."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from baltui.commands.label.app import LabelApp
from baltui.commands.label.cli import load_oracle, main
from baltui.commands.label.session import LabelSession
from baltui.core.errors import BaltuiError
from baltui.core.images import load_source

FAST = ["--epochs", "2", "--batch-size", "16", "--mc-samples", "3"]


def write_csv(path, rows) -> None:
    path.write_text("item,label\n" + "".join(f"{item},{label}\n" for item, label in rows))


@pytest.fixture
def digit_folder(tmp_path, digits):
    """30 digit PNGs whose true labels go 0,1,...,9,0,... (no two neighbours alike), an unreadable file in the
    middle, and labels.csv naming every file (the broken one too): a shift of one would make every later answer
    wrong."""
    root = tmp_path / "imgs"
    root.mkdir()
    truth = {}
    for i in range(30):
        label = i % 10
        index = int(np.flatnonzero(digits.y_pool == label)[i // 10])
        name = f"{i:03d}.png"
        Image.fromarray((digits.x_pool[index, ..., 0] * 255).astype(np.uint8)).save(root / name)
        truth[name] = label
    (root / "014b.png").write_bytes(b"\x89PNG not really")  # sorts between 014.png and 015.png
    truth["014b.png"] = 7
    write_csv(tmp_path / "labels.csv", sorted(truth.items()))  # in the folder's order, the broken file too
    return root, truth


def records(out):
    return [json.loads(line) for line in (out / "labels.jsonl").read_text().splitlines()]


def test_oracle_answers_by_name_past_an_unreadable_file(digit_folder, tmp_path, capsys):
    root, truth = digit_folder
    out = tmp_path / "run"
    args = [str(root), "--out", str(out), "--oracle", str(tmp_path / "labels.csv"), "--no-ui", "--rounds", "2",
            "--initial", "20", "--instances", "5", *FAST]
    assert main(args) == 0
    assert "skipped 1 unreadable image(s): 014b.png" in capsys.readouterr().err
    given = records(out)
    assert len(given) == 25
    after = [r for r in given if r["item"] > "014b.png"]
    assert after, "no file after the unreadable one was asked"
    assert {r["item"]: r["label"] for r in given} == {r["item"]: str(truth[r["item"]]) for r in given}


def test_an_oracle_that_cannot_answer_by_name_is_one_line(digit_folder, tmp_path, capsys):
    root, truth = digit_folder
    base = [str(root), "--out", str(tmp_path / "out"), "--no-ui", "--oracle"]
    positional = tmp_path / "positional.npz"
    np.savez(positional, y_train=np.asarray(list(truth.values())))
    lacking = tmp_path / "lacking.csv"
    write_csv(lacking, [(item, label) for item, label in truth.items() if item != "020.png"])
    unknown = tmp_path / "unknown.csv"
    write_csv(unknown, [*truth.items(), ("020.png", "cat")])
    headless = tmp_path / "headless.csv"
    headless.write_text("".join(f"{item},{label}\n" for item, label in truth.items()))
    for oracle, message in ((positional, "by position only"), (lacking, "no label for 1 item(s) of the source: 020"),
                            (unknown, "labelled both '0' and 'cat'"), (headless, "needs a header"),
                            (tmp_path / "labels.txt", "give a labels.csv")):
        assert main([*base, str(oracle)]) == 2
        err = capsys.readouterr().err
        assert message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "out").exists()  # refused before the session folder is made
    source = load_source(str(root))
    write_csv(unknown, [(item, "cat" if item == "020.png" else label) for item, label in truth.items()])
    with pytest.raises(BaltuiError, match="'cat', which is not one of the classes"):
        load_oracle(str(unknown), source, [str(c) for c in range(10)])
    # An .npz with items answers by name too, in any order; one with labels by position answers an .npz source.
    named = tmp_path / "named.npz"
    np.savez(named, items=np.asarray(list(truth)[::-1]), y_train=np.asarray(list(truth.values())[::-1]))
    assert load_oracle(str(named), source, [str(c) for c in range(10)]).tolist() == [truth[i] for i in source.items]
    np.savez(tmp_path / "x.npz", x_train=np.zeros((5, 28, 28), np.uint8), y_train=np.arange(5))
    npz_source = load_source(str(tmp_path / "x.npz"))
    assert load_oracle(str(tmp_path / "x.npz"), npz_source, [str(c) for c in range(10)]).tolist() == [0, 1, 2, 3, 4]


def test_session_records_its_source_relative_to_out_and_resumes_from_another_cwd(digit_folder, tmp_path,
                                                                                 monkeypatch):
    root, truth = digit_folder
    monkeypatch.chdir(tmp_path)
    session = LabelSession(load_source("imgs"), tmp_path / "work" / "session", [str(c) for c in range(10)],
                           initial=4)
    session.start()
    for _ in range(3):
        session.label(truth[session.source.items[session.current()]])
    session.close()
    saved_text = (tmp_path / "work" / "session" / "session.json").read_text()
    assert json.loads(saved_text)["source_path"] == "../../imgs"
    assert str(tmp_path) not in saved_text  # nothing absolute of this machine
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # "imgs" means nothing here: the path is read relative to the session folder
    assert main(["--export", "../work/session", "--format", "csv"]) == 0
    rows = (tmp_path / "work" / "session" / "labels.csv").read_text().splitlines()
    assert rows[0] == "item,label" and len(rows) == 4
    # Resuming needs no SOURCE: the one session.json names, found from here; the 4th image of the batch is next.
    assert main(["--out", "../work/session", "--oracle", str(tmp_path / "labels.csv"), "--no-ui", "--rounds", "1",
                 "--instances", "2", *FAST]) == 0
    given = records(tmp_path / "work" / "session")
    assert len(given) == 4 and len({r["item"] for r in given}) == 4
    # An .npz source's identity is its content, not where it lies: moved with its session, it still resumes.
    np.savez(tmp_path / "x.npz", x_train=np.zeros((5, 28, 28), np.uint8))
    npz_session = LabelSession(load_source(str(tmp_path / "x.npz")), tmp_path / "npz-session", ["a", "b"], initial=2)
    npz_session.start()
    npz_session.close()
    assert str(tmp_path) not in (tmp_path / "npz-session" / "session.json").read_text()
    (tmp_path / "moved").mkdir()
    (tmp_path / "x.npz").rename(tmp_path / "moved" / "x.npz")
    (tmp_path / "npz-session").rename(tmp_path / "moved" / "npz-session")
    assert main(["--export", str(tmp_path / "moved" / "npz-session")]) == 0


@pytest.fixture
def colour_folder(tmp_path):
    """40 red-ish and blue-ish squares of assorted sizes (some JPEG), and their labels.csv."""
    root = tmp_path / "colours"
    root.mkdir()
    rng = np.random.default_rng(0)
    rows = []
    for i in range(40):
        red = i % 2 == 0
        side = int(rng.integers(20, 60))
        pixels = rng.integers(0, 90, size=(side, side + i % 5, 3))
        pixels[..., 0 if red else 2] += 150
        name = f"{'r' if red else 'b'}{i:02d}.{'jpg' if i % 7 == 0 else 'png'}"
        Image.fromarray(pixels.astype(np.uint8)).save(root / name)
        rows.append((name, "red" if red else "blue"))
    write_csv(tmp_path / "colours.csv", rows)
    return root


def test_a_colour_folder_stays_rgb_at_the_size_given(colour_folder, tmp_path, capsys):
    source = load_source(str(colour_folder), 16)
    assert source.images.shape == (40, 16, 16, 3) and source.images.dtype == np.float32
    assert 0.0 <= source.images.min() and source.images.max() <= 1.0
    red = source.images[[i for i, item in enumerate(source.items) if item.startswith("r")]]
    assert (red[..., 0].mean(axis=(1, 2)) > red[..., 2].mean(axis=(1, 2))).all()  # kept as is, not inverted
    out = tmp_path / "run"
    args = [str(colour_folder), "--out", str(out), "--classes", "red,blue", "--size", "16", "--oracle",
            str(tmp_path / "colours.csv"), "--no-ui", "--rounds", "2", "--initial", "10", "--instances", "5", *FAST]
    assert main(args) == 0
    assert "round 2: 15 labels" in capsys.readouterr().out
    assert json.loads((out / "session.json").read_text())["size"] == 16
    assert main(["--export", str(out), "--format", "npz", "--to", str(tmp_path / "l.npz")]) == 0
    with np.load(tmp_path / "l.npz") as f:  # the session read its images at --size, in colour
        assert f["x"].shape == (15, 16, 16, 3)
        assert [str(c) for c in f["classes"][f["y"]]] == [item[0].replace("r", "red").replace("b", "blue")
                                                         for item in f["items"]]


def test_rgb_npz_source_and_size_checks(tmp_path, digits):
    np.savez(tmp_path / "rgb.npz", x_train=np.zeros((6, 12, 12, 3), np.uint8))
    assert load_source(str(tmp_path / "rgb.npz")).images.shape == (6, 12, 12, 3)
    assert load_source(str(tmp_path / "rgb.npz"), 12).images.shape == (6, 12, 12, 3)
    with pytest.raises(BaltuiError, match="keeps its own size"):
        load_source(str(tmp_path / "rgb.npz"), 28)
    with pytest.raises(BaltuiError, match="at least 8"):
        load_source(str(tmp_path / "rgb.npz"), 4)
    grey = tmp_path / "grey"  # grey pictures stored as RGB stay one channel, ink inverted to MNIST's
    grey.mkdir()
    Image.fromarray(np.full((20, 20), 250, np.uint8)).convert("RGB").save(grey / "a.png")
    assert load_source(str(grey), 20).images.shape == (1, 20, 20, 1)
    assert load_source(str(grey), 20).images.max() < 0.05


async def test_screen_shows_a_colour_source(colour_folder, tmp_path):
    session = LabelSession(load_source(str(colour_folder), 16), tmp_path / "screen", ["red", "blue"], initial=3)
    app = LabelApp(session)
    async with app.run_test(size=(160, 50)) as pilot:
        await pilot.pause()
        assert session.source.images[session.current()].shape == (16, 16, 3)
        # drawn in colour: the image view and the strip carry true-colour styles (red or blue dominant)
        from baltui.commands.label.widgets import BatchStrip, ImageView

        for text in (app.query_one(ImageView).content, app.query_one(BatchStrip).compose_text(150)):
            colours = {span.style.color.triplet for span in text.spans
                       if not isinstance(span.style, str) and span.style.color and span.style.color.triplet}
            assert any(r > 150 and b < 100 for r, _, b in colours) or any(b > 150 and r < 100 for r, _, b in colours)
        await pilot.press("r", "b")
        assert len(session.labels) == 2
        await pilot.press("q")
