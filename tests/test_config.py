"""Presets and flags: what users can get wrong is refused with one clear line."""

from __future__ import annotations

import pytest

from baltui.core.config import RunConfig, build_config, check_against_data, load_preset, preset_names
from baltui.core.errors import BaltuiError


def test_shipped_presets_load_and_validate():
    names = preset_names()
    for required in ("quick", "paper", "acquisitions", "batch"):
        assert required in names
    for name in names:
        assert isinstance(build_config(load_preset(name)), RunConfig)


def test_paper_preset_is_the_seed_experiment():
    c = build_config(load_preset("paper"))
    assert (c.dataset, c.strategies, c.queries, c.instances) == ("mnist", ["entropy", "uniform"], 100, 10)
    assert (c.initial_per_class, c.epochs, c.batch_size, c.mc_samples, c.subset) == (2, 50, 128, 100, 2000)
    assert build_config(load_preset("acquisitions")).strategies == [
        "bald", "var_ratios", "entropy", "mean_std", "uniform"]


def test_flags_override_the_preset_and_data_implies_npz():
    c = build_config(load_preset("quick"), {"queries": 3, "seeds": [1, 2], "data": "x.npz"})
    assert c.queries == 3 and c.seeds == [1, 2] and c.dataset == "npz" and c.data == "x.npz"


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"epochz": 3}, "unknown preset key 'epochz' (did you mean 'epochs'?)"),
        ({"epochs": 0}, "'epochs' must be a whole number from 1 to 10000, got 0"),
        ({"instances": -1}, "'instances' must be a whole number from 1 to 10000, got -1"),
        ({"epochs": "ten"}, "'epochs' must be a whole number"),
        ({"epochs": 2.5}, "'epochs' must be a whole number"),
        ({"strategies": ["entropy", "maxent"]}, "unknown strategy 'maxent'"),
        ({"strategies": []}, "no strategies given"),
        ({"seeds": [0, 0]}, "a seed is listed twice"),
        ({"dataset": "cifar"}, "unknown dataset 'cifar'"),
        ({"beta": 0}, "'beta' must be a number with 0 < beta <= 1000, got 0"),
    ],
)
def test_bad_values_are_refused_with_a_clear_message(values, message):
    with pytest.raises(BaltuiError, match=None) as info:
        build_config({}, values)
    assert message in str(info.value)


def test_unknown_strategy_lists_the_known_ones():
    with pytest.raises(BaltuiError) as info:
        build_config({}, {"strategies": ["entropi"]})
    assert "did you mean 'entropy'" in str(info.value) and "bald" in str(info.value)


def test_unknown_preset_and_malformed_toml(tmp_path):
    with pytest.raises(BaltuiError, match="unknown preset 'quik'.*did you mean 'quick'"):
        load_preset("quik")
    bad = tmp_path / "bad.toml"
    bad.write_text("queries = [1,\n")
    with pytest.raises(BaltuiError, match="not valid TOML"):
        load_preset(str(bad))
    with pytest.raises(BaltuiError, match="does not exist"):
        load_preset(str(tmp_path / "missing.toml"))


def test_limits_that_depend_on_the_data():
    config = RunConfig(queries=100, instances=10, initial_per_class=2)
    with pytest.raises(BaltuiError, match="need 1020 images but the pool holds 500"):
        check_against_data(config, 500, 10, {c: 50 for c in range(10)})
    with pytest.raises(BaltuiError, match="class 3 has only 1"):
        check_against_data(config, 5000, 10, {c: (1 if c == 3 else 500) for c in range(10)})
