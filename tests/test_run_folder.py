"""RunFolder: one way to open a folder, migrate its config, find its paper, and read records back as events."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from baltui.cli import main
from baltui.core.errors import BaltuiError
from baltui.core.events import QueryResult, RunFailed, RunFinished, is_query
from baltui.runs.folder import RunFolder
from baltui.runs.references import GAL2017_TABLE1, KIRSCH2019

ROOT = Path(__file__).resolve().parent.parent
RECORDED = ROOT / "tests" / "fixtures" / "before_layers" / "runs"
# Derived from the raw scores, which are not on disk: from_record cannot give them back.
DERIVED = {"type", "score_summary", "score_histogram"}


@pytest.mark.parametrize("folder", [RECORDED, ROOT / "results" / "quick-3seeds", ROOT / "results" / "gal2017"])
def test_from_record_gives_back_what_to_record_wrote(folder):
    records = [r for r in RunFolder.open(folder).records() if is_query(r)]
    assert records
    for record in records:
        again = QueryResult.from_record(record).to_record()
        assert {k: v for k, v in again.items() if k not in DERIVED and k in record} == \
            {k: v for k, v in record.items() if k not in DERIVED}
        # what records of this age did not hold yet reads back as None (written as null from now on)
        assert {k: again[k] for k in set(again) - set(record)} == dict.fromkeys(NEWER)


# Fields query records gained after these folders were written (test metrics, class counts, the fit's curves).
NEWER = ("nll", "ece", "brier", "class_accuracy", "labelled_per_class", "fit")


def test_events_follow_the_file():
    events = list(RunFolder.open(RECORDED).events())
    assert sum(isinstance(e, QueryResult) for e in events) == 8 * 2 * 3
    assert sum(isinstance(e, RunFinished) for e in events) == 16
    assert not any(isinstance(e, RunFailed) for e in events)


def test_each_folder_gets_its_paper_by_content_not_name():
    assert RunFolder.open(ROOT / "results" / "acquisitions").reference() is GAL2017_TABLE1
    assert RunFolder.open(ROOT / "results" / "batchbald2019").reference() is KIRSCH2019
    assert RunFolder.open(ROOT / "results" / "quick-3seeds").reference() is None


def test_opening_is_one_line_per_way_it_can_be_wrong(tmp_path):
    with pytest.raises(BaltuiError, match="does not exist"):
        RunFolder.open(tmp_path / "missing")
    (tmp_path / "file").write_text("x")
    with pytest.raises(BaltuiError, match="is a file, not a run folder"):
        RunFolder.open(tmp_path / "file")
    (tmp_path / "empty").mkdir()
    with pytest.raises(BaltuiError, match="no config.json"):
        RunFolder.open(tmp_path / "empty")
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "config.json").write_text("{not json")
    with pytest.raises(BaltuiError, match="cannot read"):
        RunFolder.open(tmp_path / "bad")
    (tmp_path / "list").mkdir()
    (tmp_path / "list" / "config.json").write_text("[1, 2]")
    with pytest.raises(BaltuiError, match="expected a JSON object"):
        RunFolder.open(tmp_path / "list")


def test_an_old_config_is_migrated_once(tmp_path):
    shutil.copytree(RECORDED, tmp_path / "old")
    config = json.loads((tmp_path / "old" / "config.json").read_text())
    del config["mc_masks"], config["model"]
    config["out"] = "/somewhere/absolute"
    (tmp_path / "old" / "config.json").write_text(json.dumps(config))
    folder = RunFolder.open(tmp_path / "old")
    assert folder.config["mc_masks"] == "independent"  # what folders before mask modes ran
    assert folder.setting("model") == "seed" and "out" not in folder.config
    assert folder.run_ids == [f"{s}-s{seed}" for seed in (0, 1) for s in config["strategies"]]


def test_resume_refuses_a_config_whose_strategies_or_seeds_were_edited(tmp_path, capsys):
    for name, edit in (("strategies", lambda c: c["strategies"].remove("uniform")), ("seeds", lambda c: c.update(
            seeds=[0]))):
        folder = tmp_path / name
        shutil.copytree(RECORDED, folder)
        config = json.loads((folder / "config.json").read_text())
        edit(config)
        (folder / "config.json").write_text(json.dumps(config))
        lines = (folder / "results.jsonl").read_text().splitlines()
        (folder / "results.jsonl").write_text("\n".join(lines[:-3]) + "\n")  # so something is left to run
        assert main(["--no-ui", "--resume", str(folder)]) == 2
        err = capsys.readouterr().err
        assert "holds runs that config.json does not list" in err and "were changed" in err, err
        assert (folder / "results.jsonl").read_text() == "\n".join(lines[:-3]) + "\n"  # nothing written
