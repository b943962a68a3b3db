"""The settings table: every numeric setting finite and in range, by flag and by preset, with the range in
--help; what derives from the table (RunConfig, flags, resume rules); migrate_config for old config.json.

The CLI cases call `baltui.cli.main` with data loading replaced by a tripwire: a check that went missing
lets the run reach the data, and the test fails at once instead of training with the bad value.
"""

from __future__ import annotations

import argparse
import dataclasses

import pytest

from baltui import cli
from baltui.commands.parsing import OneLineParser, add_setting_flags, setting_values
from baltui.core.config import RunConfig, build_config, load_preset, migrate_config
from baltui.core.errors import BaltuiError
from baltui.core.settings import EXPERIMENT_KEYS, RESUME_MAY_CHANGE, SETTING, SETTINGS
from baltui.runs import start


class ReachedTheData(Exception):
    pass


@pytest.fixture
def tripwire(monkeypatch):
    def load(config):
        raise ReachedTheData(config)

    monkeypatch.setattr(start, "load_data", load)


def refused(capsys, argv: list[str]) -> str:
    """main(argv) must refuse with exit code 2 and one line; returns that line."""
    assert cli.main(["--no-ui", *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("baltui: error: "), err
    return err


BETA = "'beta' must be a number with 0 < beta <= 1000"


@pytest.mark.parametrize(("argv", "message"), [
    (["--beta", "nan"], f"{BETA}, got 'nan'"),
    (["--beta", "inf"], f"{BETA}, got 'inf'"),
    (["--beta=-inf"], f"{BETA}, got '-inf'"),
    (["--beta", "1e308"], f"{BETA}, got '1e308'"),
    (["--beta", "1e400"], f"{BETA}, got '1e400'"),
    (["--beta", "0"], f"{BETA}, got '0'"),
    (["--beta", "1000.5"], f"{BETA}, got '1000.5'"),
    (["--epochs", "1e20"], "'epochs' must be a whole number from 1 to 10000, got '1e20'"),
    (["--epochs", "1" + "0" * 20], "'epochs' must be a whole number from 1 to 10000, got 1" + "0" * 20),
    (["--epochs", "10001"], "'epochs' must be a whole number from 1 to 10000, got 10001"),
    (["--queries", "100001"], "'queries' must be a whole number from 1 to 100000"),
    (["--instances", "10001"], "'instances' must be a whole number from 1 to 10000"),
    (["--initial-per-class", "10001"], "'initial_per_class' must be a whole number from 1 to 10000"),
    (["--batch-size", "65537"], "'batch_size' must be a whole number from 1 to 65536"),
    (["--mc-samples", "10001"], "'mc_samples' must be a whole number from 1 to 10000"),
    (["--mc-samples", "nan"], "'mc_samples' must be a whole number from 1 to 10000, got 'nan'"),
    (["--subset", "1000001"], "'subset' must be a whole number from 1 to 1000000 or 'all'"),
    (["--validation", "100001"], "'validation' must be a whole number from 0 to 100000"),
    (["--epoch-draws", "1000001"], "'epoch_draws' must be a whole number from 0 to 1000000"),
    (["--early-stopping", "10001"], "'early_stopping' must be a whole number from 0 to 10000"),
    (["--weight-decay", "nan"], "'weight_decay' must be a number from 0 to 10000 or 'auto', got 'nan'"),
    (["--weight-decay", "1e308"], "'weight_decay' must be a number from 0 to 10000 or 'auto', got '1e308'"),
    (["--seeds", "0,2147483648"], "'seeds' must be a comma list of whole numbers from 0 to 2147483647"),
    (["--seeds", ",".join(map(str, range(1001)))], "'seeds' lists 1001 seeds; at most 1000"),
])
def test_flags_out_of_range_are_one_line_and_exit_2(tripwire, capsys, argv, message):
    assert message in refused(capsys, argv)


@pytest.mark.parametrize(("toml", "message"), [
    ("beta = nan", f"{BETA}, got nan"),
    ("beta = inf", f"{BETA}, got inf"),
    ("beta = 1e308", f"{BETA}, got 1e+308"),
    ("beta = 100000000000000000000", f"{BETA}, got 100000000000000000000"),
    ("epochs = 1e20", "'epochs' must be a whole number from 1 to 10000, got 1e+20"),
    ("epochs = 100000000000000000000", "'epochs' must be a whole number from 1 to 10000, got 100000000000000000000"),
    ("mc_samples = 1_000_000", "'mc_samples' must be a whole number from 1 to 10000, got 1000000"),
    ("weight_decay = nan", "'weight_decay' must be a number from 0 to 10000 or 'auto', got nan"),
    ("weight_decay = " + "9" * 400, "'weight_decay' must be a number from 0 to 10000 or 'auto', got 999999"),
    ("subset = 0", "'subset' must be a whole number from 1 to 1000000 or 'all', got 0"),
])
def test_presets_out_of_range_are_one_line_and_exit_2(tripwire, capsys, tmp_path, toml, message):
    preset = tmp_path / "bad.toml"
    preset.write_text(f'dataset = "digits"\n{toml}\n')
    assert message in refused(capsys, ["--preset", str(preset)])


def test_a_bad_flag_is_refused_before_ray_starts(tripwire, capsys, monkeypatch):
    pytest.importorskip("ray")
    import baltui.executors.ray_executor as ray_executor

    def start(*args):
        raise ReachedTheData("ray")

    monkeypatch.setattr(ray_executor, "RayExecutor", start)
    assert "'beta' must be a number" in refused(capsys, ["--workers", "1", "--beta", "nan"])


def test_subset_below_instances_is_refused(tripwire, capsys):
    line = refused(capsys, ["--subset", "5", "--instances", "10"])
    assert "'subset' (5) is below 'instances' (10)" in line and "raise --subset (or give all)" in line
    with pytest.raises(ReachedTheData):  # equal is fine: the query labels every scored point
        cli.main(["--no-ui", "--subset", "10", "--instances", "10"])


def test_subset_zero_points_to_all(tripwire, capsys):
    assert "or 'all', got 0" in refused(capsys, ["--subset", "0"])
    with pytest.raises(ReachedTheData) as reached:
        cli.main(["--no-ui", "--subset", "all"])
    assert reached.value.args[0].subset == 0  # how RunConfig and config.json hold the whole pool


def test_values_in_range_reach_the_data(tripwire):
    with pytest.raises(ReachedTheData) as reached:
        cli.main(["--no-ui", "--beta", "1000", "--epochs", "10000", "--weight-decay", "auto", "--validation", "100",
                  "--seeds", "0,2147483647", "--strategies", "powerbald,uniform"])
    config = reached.value.args[0]
    assert (config.beta, config.epochs, config.weight_decay, config.seeds) == (1000.0, 10000, "auto", [0, 2**31 - 1])


def test_help_states_every_range():
    text = " ".join(cli.make_parser().format_help().split())
    for s in SETTINGS:
        assert s.flag in text
        if s.low is not None:
            assert s.range_text() in text, s.name
    assert "0 < BETA <= 1000" in text
    assert "--epochs EPOCHS training epochs per query (from fresh weights); 1 to 10000" in text
    assert "known: uniform, entropy, bald" in text and "seed, batchbald2019" in text and "digits, mnist" in text


def test_the_table_makes_runconfig_and_the_resume_rules():
    fields = [f.name for f in dataclasses.fields(RunConfig)]
    # strategy_references is no setting of its own: validate derives it from `strategies` (a plug-in's reference)
    assert fields == ["name", "description", *EXPERIMENT_KEYS, "strategy_references", "out"]
    assert RunConfig().epochs == SETTING["epochs"].default and RunConfig().strategies == ["entropy", "uniform"]
    assert RunConfig().strategies is not RunConfig().strategies  # a fresh list each time
    assert set(RESUME_MAY_CHANGE) == {"queries", "seeds", "data", "stop_when"}
    assert start.RESUME_MAY_CHANGE is RESUME_MAY_CHANGE


def test_setting_flags_for_another_command():
    """What label mode will use: a subset of the flags, its own defaults, the same checks."""
    parser = OneLineParser(prog="baltui label")
    add_setting_flags(parser, ["model", "beta", "epochs"], defaults={"epochs": 50})
    assert "(default 50)" in parser.format_help() and "--queries" not in parser.format_help()
    values = setting_values(parser.parse_args(["--beta", "2"]), ["model", "beta", "epochs"])
    assert values == {"beta": 2.0, "epochs": 50}
    with pytest.raises(BaltuiError, match="'beta' must be a number with 0 < beta <= 1000, got 'nan'"):
        setting_values(parser.parse_args(["--beta", "nan"]), ["beta"])
    group = argparse.ArgumentParser().add_argument_group("g")
    add_setting_flags(group, ["subset"])


def test_validate_checks_a_runconfig_made_directly():
    from baltui.core.config import validate

    with pytest.raises(BaltuiError, match="'beta' must be a number"):
        validate(RunConfig(beta=float("nan")))
    with pytest.raises(BaltuiError, match="'epochs' must be a whole number"):
        validate(RunConfig(epochs=10**20))
    validate(RunConfig(subset=0))  # 0 is the whole pool inside RunConfig


def test_migrate_config_reads_every_version():
    oldest = {"name": "paper", "dataset": "mnist", "strategies": ["entropy"], "seeds": [0], "queries": 3,
              "instances": 10, "initial_per_class": 2, "epochs": 5, "batch_size": 128, "mc_samples": 10,
              "subset": 0, "beta": 1.0, "out": "runs/x", "provenance": {"data_sha256": "ab"}}
    migrated = migrate_config(oldest)
    assert "model" not in oldest and oldest["subset"] == 0  # the argument is left as it was
    assert {k: migrated[k] for k in ("mc_masks", "model", "weight_decay", "validation", "epoch_draws",
                                     "early_stopping", "subset")} == {
        "mc_masks": "independent", "model": "seed", "weight_decay": 0, "validation": 0, "epoch_draws": 0,
        "early_stopping": 0, "subset": "all"}
    assert migrated["provenance"] == {"data_sha256": "ab"} and migrated["out"] == "runs/x"
    # what it returns goes into build_config as it is, and a current config is unchanged but for subset
    values = {k: v for k, v in migrated.items() if k not in ("out", "provenance")}
    config = build_config(values)
    assert (config.subset, config.mc_masks) == (0, "independent")
    current = build_config(load_preset("quick")).to_dict()
    assert migrate_config(current) == current
    with pytest.raises(BaltuiError, match="JSON object"):
        migrate_config([])  # type: ignore[arg-type]


def _legacy_folder(path, strategies, **changes):
    """A run folder as baltui wrote it before mask modes, models and weight decay (no such keys)."""
    import json

    path.mkdir()
    config = {"name": "quick", "description": "", "dataset": "digits", "data": None, "strategies": strategies,
              "seeds": [0], "queries": 3, "instances": 10, "initial_per_class": 2, "epochs": 2, "batch_size": 16,
              "mc_samples": 3, "subset": 0, "beta": 1.0, **changes}
    (path / "config.json").write_text(json.dumps(config))
    (path / "results.jsonl").write_text("")
    return path


def test_resume_reads_an_old_folder_through_migrate_config(tripwire, capsys, tmp_path):
    old = _legacy_folder(tmp_path / "old", ["entropy", "uniform"])
    with pytest.raises(ReachedTheData) as reached:
        cli.main(["--no-ui", "--resume", str(old)])
    config = reached.value.args[0]
    assert (config.mc_masks, config.model, config.weight_decay, config.subset) == ("independent", "seed", 0.0, 0)
    batchbald = _legacy_folder(tmp_path / "bb", ["batchbald"])
    line = refused(capsys, ["--resume", str(batchbald)])
    assert "ran batchbald on independent masks, before consistent masks existed" in line


def test_watch_reads_an_old_folder_that_todays_checks_would_refuse(tmp_path):
    """batchbald on independent masks, and more epochs than today's bound: watch still finds its data."""
    from baltui.runs.watched import folder_run_config, open_folders

    old = _legacy_folder(tmp_path / "bb", ["batchbald"], epochs=20_000)
    (folder,) = open_folders([str(old)])
    config = folder.config
    assert (config["mc_masks"], config["model"], config["subset"]) == ("independent", "seed", "all")
    assert folder_run_config(folder).dataset == "digits"
