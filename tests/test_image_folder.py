"""An image folder (one subfolder per class) as a run's data: read, split, recorded, and bad ones refused.

No model is trained here (the fast tier): the runs on a folder are in test_image_folder_runs.py.
"""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from image_folders import digit_folder, digit_png

from baltui.cli import main
from baltui.core.config import build_config, warn_unused
from baltui.core.errors import BaltuiError
from baltui.core.image_folder import SPLIT_SEED, load_image_folder
from baltui.core.images import load_source
from baltui.runs.start import start_config

TINY = ["--queries", "2", "--instances", "3", "--epochs", "2", "--mc-samples", "3", "--subset", "50"]


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return digit_folder(tmp_path_factory.mktemp("data") / "digits3")


def test_a_class_folder_reads_as_sorted_classes_a_stratified_split_and_one_size(folder):
    data = load_image_folder(folder, 28, 0.2)
    assert data.class_names == ("one", "two", "zero")  # sorted, as ImageFolder numbers them
    assert data.x_pool.shape == (72, 28, 28, 1) and data.x_test.shape == (18, 28, 28, 1)  # 8x8, 16x16, 16x12
    assert data.class_counts() == {0: 24, 1: 24, 2: 24} and np.bincount(data.y_test).tolist() == [6, 6, 6]
    info = data.folder
    assert info.test == "fraction" and info.split_seed == SPLIT_SEED and len(info.pool_files) == 72
    assert all(f.startswith(data.class_names[y] + "/") for f, y in zip(info.pool_files, data.y_pool, strict=True))
    assert not set(info.pool_files) & set(info.test_files)
    again = load_image_folder(folder, 28, 0.2)  # the same split and arrays every load
    assert again.content_sha256 == data.content_sha256 and again.folder.test_files == info.test_files
    assert load_image_folder(folder, 28, 0.3).content_sha256 != data.content_sha256
    assert load_image_folder(folder, 16, 0.2).x_pool.shape == (72, 16, 16, 1)
    # label mode's reader: a file is the same array whichever of them reads it
    source = load_source(str(folder))
    for i in (0, 30, 71):
        assert np.array_equal(source.images[source.items.index(info.pool_files[i])], data.x_pool[i])


def test_a_test_folder_is_the_test_set_beside_the_classes_or_beside_train(tmp_path):
    plain = digit_folder(tmp_path / "plain", per_class=12, test_per_class=4)
    data = load_image_folder(plain, 28)
    assert data.class_names == ("one", "two", "zero") and len(data.y_pool) == 36 and len(data.y_test) == 12
    assert data.folder.test == "folder" and all(f.startswith("test/") for f in data.folder.test_files)
    assert data.folder.provenance()["test"] == "folder" and "split_seed" not in data.folder.provenance()
    split = tmp_path / "split"
    shutil.copytree(plain / "test", split / "test")
    for name in ("one", "two", "zero"):
        shutil.copytree(plain / name, split / "train" / name)
    moved = load_image_folder(split, 28)
    assert moved.class_names == data.class_names and moved.content_sha256 == data.content_sha256


def _broken(root):
    (root / "one" / "broken.png").write_text("not a png")


@pytest.mark.parametrize(
    ("make", "flags", "message"),
    [
        (lambda r: None, [], "does not exist; give an .npz with x_train, y_train, x_test, y_test or a folder of "
                            "images in one subfolder per class"),
        (lambda r: [digit_png(np.zeros((8, 8)), r / f"{i}.png") for i in range(3)], ["--test-fraction", "0.2"],
         "is not a folder of class subfolders (it holds 3 images but no subfolders)"),
        (lambda r: digit_folder(r, 6, classes={0: "zero"}), ["--test-fraction", "0.2"],
         "holds one class folder (zero); a classifier needs at least two"),
        (lambda r: (digit_folder(r, 6), (r / "empty").mkdir()), ["--test-fraction", "0.2"],
         "class folder {root}/empty holds no images"),
        (lambda r: (digit_folder(r, 6), digit_png(np.zeros((8, 8)), r / "loose.png")), ["--test-fraction", "0.2"],
         "holds 1 image(s) outside its class subfolders (e.g. loose.png)"),
        (lambda r: (digit_folder(r, 6), _broken(r)), ["--test-fraction", "0.2"],
         "{root}/one/broken.png cannot be read as an image (UnidentifiedImageError); remove or replace it"),
        (lambda r: digit_folder(r, 6), [], "has no test/ split; give --test-fraction F"),
        (lambda r: digit_folder(r, 6, test_per_class=2), ["--test-fraction", "0.2"],
         "has a test/ split and --test-fraction 0.2 was given"),
        (lambda r: (digit_folder(r, 6, test_per_class=2), digit_folder(r / "test", 2, classes={3: "three"})), [],
         "{root}/test/three is a class the pool has no folder for"),
    ],
    ids=["missing", "flat", "one-class", "empty-class", "loose-image", "unreadable", "no-test", "both",
         "unknown-test-class"],
)
def test_a_bad_folder_is_one_line_and_exit_2_before_any_run_folder(tmp_path, capsys, make, flags, message):
    root = tmp_path / "data"
    make(root)
    out = tmp_path / "run"
    assert main(["--no-ui", "--data", str(root), *flags, *TINY, "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message.format(root=root) in err[0], err
    assert not out.exists()


def test_the_folder_settings_are_rows_of_the_table(capsys):
    with pytest.raises(BaltuiError, match="'test_fraction' must be a number from 0 to 0.9, got 1"):
        build_config({}, {"test_fraction": 1})
    with pytest.raises(BaltuiError, match="'image_size' must be a whole number from 8 to 1024, got 4"):
        build_config({}, {"image_size": 4})
    warned = warn_unused(build_config({}, {"image_size": 32}), {"image_size"})
    assert warned == ["baltui: warning: --image-size is read only for an image folder (--data DIR); this run has none"]


def test_config_records_the_folder_its_classes_and_split(folder, tmp_path):
    config = build_config({}, {"data": str(folder), "test_fraction": 0.2, "queries": 2, "instances": 3})
    assert config.dataset == "folder"
    prepared = start_config(config, tmp_path / "run")
    prepared.release()
    saved = json.loads((tmp_path / "run" / "config.json").read_text())
    assert saved["dataset"] == "folder" and not saved["data"].startswith("/")  # relative to the run folder
    assert (tmp_path / "run" / saved["data"]).resolve() == folder.resolve()
    assert saved["test_fraction"] == 0.2 and saved["image_size"] == 28
    provenance = saved["provenance"]
    assert provenance["class_names"] == ["one", "two", "zero"] and provenance["n_classes"] == 3
    assert provenance["data_sha256"] == prepared.dataset.content_sha256
    assert provenance["data_folder"] == {"files_sha256": prepared.dataset.folder.files_sha256, "files": 90,
                                         "pool": 72, "test": "fraction", "test_fraction": 0.2,
                                         "split_seed": SPLIT_SEED}


def _started(folder, out):
    prepared = start_config(build_config({}, {"data": str(folder), "test_fraction": 0.2, "queries": 2,
                                              "instances": 3}), out)
    prepared.release()


def test_resume_refuses_a_folder_whose_images_or_classes_changed(tmp_path, capsys):
    folder = digit_folder(tmp_path / "data", per_class=12)
    _started(folder, tmp_path / "run")
    first = sorted((folder / "zero").iterdir())[0]
    digit_png(np.full((8, 8), 16.0), first)  # one image edited
    assert main(["--no-ui", "--resume", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "differs from the data it was started on" in err[0]
    assert "its images changed (files added, removed or edited); give the original folder with --data" in err[0]

    renamed = digit_folder(tmp_path / "renamed", per_class=12)
    _started(renamed, tmp_path / "run2")
    (renamed / "two").rename(renamed / "twos")  # the same images and labels under another class name
    assert main(["--no-ui", "--resume", str(tmp_path / "run2")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "classes of" in err[0] and "are one, twos, zero but it was started on one, two, zero" \
        in err[0]
