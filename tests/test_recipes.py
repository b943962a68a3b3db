"""Data recipes on the digits: counts, noise, traceable copies, one seed per folder, and their own data hash."""

from __future__ import annotations

import json

import numpy as np
import pytest

from baltui.cli import main
from baltui.core.config import RunConfig, build_config
from baltui.core.data import load_dataset
from baltui.core.errors import BaltuiError
from baltui.core.recipes import (
    REPEATED_NOISE,
    apply_recipe,
    canonical,
    parse_recipe,
    recipe_hash,
    redundant_class_map,
)
from baltui.runs.provenance import collect

DIGITS_SHA256 = "44fa2c5c6ab1ecba1f9108da1bbb878241daa5efb41256f906a8e8cab1d32e48"  # tests/test_data.py


def test_repeated_copies_trace_to_their_originals_with_the_papers_noise(digits):
    before = digits.x_pool.copy()
    data = apply_recipe(digits, "repeated", 0)
    n = len(digits.y_pool)
    assert data.x_pool.shape == (3 * n, *digits.x_pool.shape[1:]) and data.x_pool.dtype == np.float32
    # laid out as ConcatDataset([pool] * 3): copy k of original i sits at k * n + i
    assert np.array_equal(data.pool_origin, np.tile(np.arange(n), 3))
    assert np.array_equal(data.y_pool, digits.y_pool[data.pool_origin])
    noise = data.x_pool - digits.x_pool[data.pool_origin]
    assert abs(float(noise.mean())) < 1e-3
    assert float(noise.std()) == pytest.approx(REPEATED_NOISE, rel=0.01)
    assert REPEATED_NOISE == pytest.approx(0.1 * 0.3081)  # N(0, 0.1) after MNIST's normalisation
    # every copy has its own noise (the first one too), drawn once for the data set
    assert not np.allclose(noise[:n], noise[n:2 * n]) and not np.allclose(noise[:n], 0)
    # the test set is untouched and the loaded pool is not changed in place
    assert data.x_test is digits.x_test and np.array_equal(data.y_test, digits.y_test)
    assert np.array_equal(digits.x_pool, before)


def test_noise_is_a_parameter_and_base_keeps_random_originals(digits):
    data = apply_recipe(digits, "repeated:2,noise=0.05,base=100", 0)
    assert len(data.y_pool) == 200
    originals = data.pool_origin[:100]
    assert len(np.unique(originals)) == 100 and np.array_equal(data.pool_origin, np.tile(originals, 2))
    noise = data.x_pool - digits.x_pool[data.pool_origin]
    assert float(noise.std()) == pytest.approx(0.05, rel=0.03)


def test_a_recipe_is_applied_after_scaling_and_not_undone_or_clipped(digits):
    """scale_images divides by 255 whenever a pixel exceeds 1: a noisy pool must come through load_dataset as
    the recipe made it, with pixels a little above 1 and below 0 (the reference does not clip)."""
    data = load_dataset(RunConfig(dataset="digits", recipe="repeated:3,noise=0.05"))
    assert float(data.x_pool.max()) > 1.0 and float(data.x_pool.min()) < 0.0
    assert np.array_equal(data.x_pool, apply_recipe(digits, "repeated:3,noise=0.05", 0).x_pool)


def test_unbalanced_counts_scaled_to_the_digits(digits):
    data = apply_recipe(digits, "unbalanced:10,90", 0)
    assert np.array_equal(np.bincount(data.y_pool), [10] * 5 + [90] * 5)
    # the target counts default to a quarter of the pool's, as EPIG's 100 / 1,000 are of 400 / 4,000
    assert np.array_equal(np.bincount(data.y_target), [2] * 5 + [22] * 5)
    assert np.array_equal(data.y_pool, digits.y_pool[data.pool_origin])
    assert np.array_equal(data.x_target, digits.x_pool[data.target_origin])
    assert not set(data.pool_origin) & set(data.target_origin)  # the target is never offered for labelling
    assert data.x_test is digits.x_test  # the balanced test set
    given = apply_recipe(digits, "unbalanced:low=5,high=50,target_low=1,target_high=3", 0)
    assert np.array_equal(np.bincount(given.y_pool), [5] * 5 + [50] * 5)
    assert np.array_equal(np.bincount(given.y_target), [1] * 5 + [3] * 5)


def test_redundant_maps_classes_and_restricts_test_and_target_to_ones_and_sevens(digits):
    data = apply_recipe(digits, "redundant:100,20", 0)
    mapping = redundant_class_map(10)
    assert mapping.tolist() == [2, 0, 2, 2, 2, 2, 2, 1, 2, 2]
    original = digits.y_pool[data.pool_origin]
    assert np.array_equal(np.bincount(original), [100] * 10)  # a balanced pool of every digit
    assert np.array_equal(data.y_pool, mapping[original]) and data.n_classes == 3
    assert np.array_equal(np.bincount(data.y_pool), [100, 100, 800])
    kept = np.isin(digits.y_test, [1, 7])
    assert np.array_equal(data.y_test, mapping[digits.y_test[kept]]) and set(data.y_test) == {0, 1}
    assert np.array_equal(data.x_test, digits.x_test[kept])
    assert np.array_equal(np.bincount(digits.y_pool[data.target_origin], minlength=10),
                          [0, 20, 0, 0, 0, 0, 0, 20, 0, 0])
    assert np.array_equal(data.y_target, mapping[digits.y_pool[data.target_origin]])
    assert not set(data.pool_origin) & set(data.target_origin)


def test_a_recipe_seed_gives_the_same_data_and_another_seed_other_data(digits):
    for recipe in ("repeated", "unbalanced:10,90", "redundant:100,20"):
        a, b, c = apply_recipe(digits, recipe, 0), apply_recipe(digits, recipe, 0), apply_recipe(digits, recipe, 1)
        assert np.array_equal(a.x_pool, b.x_pool) and np.array_equal(a.pool_origin, b.pool_origin)
        assert a.content_sha256 == b.content_sha256
        assert not np.array_equal(a.x_pool, c.x_pool) and a.content_sha256 != c.content_sha256


def test_the_data_hash_follows_the_recipe_and_its_values(digits):
    assert load_dataset(RunConfig(dataset="digits")).content_sha256 == DIGITS_SHA256  # no recipe: unchanged
    hashes = {text: apply_recipe(digits, text, 0).content_sha256 for text in (
        "repeated", "repeated:2", "repeated:3,noise=0.05", "unbalanced:10,90", "unbalanced:10,80",
        "unbalanced:10,90,3,22", "redundant:100,20", "redundant:100,10")}
    assert len(set(hashes.values())) == len(hashes) and DIGITS_SHA256 not in hashes.values()
    # even a recipe whose arrays equal the loaded data's is not that data (it never takes its paper's numbers)
    same = apply_recipe(digits, "repeated:1,noise=0", 0)
    assert np.array_equal(same.x_pool, digits.x_pool) and same.content_sha256 != DIGITS_SHA256
    # the arrays themselves are hashed: the same recipe and seed with one pixel changed is other data
    built = apply_recipe(digits, "repeated", 0)
    built.x_pool[5, 3, 3, 0] += 0.5
    assert recipe_hash(built, 0) != hashes["repeated"]
    # the provenance block records the recipe's hash and the data it was made from
    block = collect(apply_recipe(digits, "repeated", 0), None, "float32")
    assert block["data_sha256"] == hashes["repeated"] and block["source_sha256"] == DIGITS_SHA256
    assert block["recipe"] == "repeated:copies=3,noise=0.03081,base=all"
    assert "recipe" not in collect(digits, None, "float32")


def test_recipes_are_recorded_with_every_value_named():
    assert canonical("repeated") == "repeated:copies=3,noise=0.03081,base=all"
    assert canonical("repeated:5,noise=0.05") == "repeated:copies=5,noise=0.05,base=all"
    assert canonical("unbalanced") == "unbalanced:low=400,high=4000,target_low=100,target_high=1000"
    assert canonical("unbalanced:40,400") == "unbalanced:low=40,high=400,target_low=10,target_high=100"
    assert canonical("redundant") == "redundant:pool=4000,target=1000"
    assert canonical(" none ") == "none"
    for text in ("repeated:2,noise=0.0123456789,base=50", "unbalanced:40,400,7", "redundant:pool=10"):
        assert canonical(canonical(text)) == canonical(text) and parse_recipe(canonical(text)) == parse_recipe(text)
    config = build_config({}, {"recipe": "repeated:5", "recipe_seed": 3})
    assert config.recipe == "repeated:copies=5,noise=0.03081,base=all" and config.recipe_seed == 3


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--recipe", "repeat"], "unknown recipe 'repeat' (did you mean 'repeated'?)"),
        (["--recipe", "repeated:0"], "recipe repeated: copies must be a whole number >= 1, got '0'"),
        (["--recipe", "repeated:3,nois=0.1"], "unknown value 'nois' (did you mean 'noise'?)"),
        (["--recipe", "repeated:3,noise=-1"], "noise must be a number >= 0"),
        (["--recipe", "repeated:1,2,3,4"], "takes at most 3 values"),
        (["--recipe", "repeated:noise=0.1,3"], "without a name after a name=value"),
        (["--recipe", "repeated:3,copies=2"], "copies is given twice"),
        (["--recipe", "none:2"], "recipe none takes no values"),
        (["--recipe", "repeated:base=5000"], "base=5000 but the pool holds 1300 images"),
        (["--recipe", "unbalanced:40,400"], "recipe unbalanced: class 5 has 129 images in the data's pool split, "
                                            "fewer than the 400 pool + 100 target"),
        (["--recipe", "redundant:200"], "recipe redundant: class 0 has 124 images"),
        (["--recipe-seed", "-1", "--recipe", "repeated"], "'recipe_seed' must be a whole number from 0 to 2147483647"),
        (["--initial-set", "kmeans"], "'initial_set' must be one of balanced, random, kcenter, got 'kmeans'"),
    ],
)
def test_bad_recipes_are_one_line_and_exit_2_before_a_folder(tmp_path, capsys, argv, message):
    out = tmp_path / "run"
    try:
        code = main(["--no-ui", "--out", str(out), *argv])
    except SystemExit as exc:  # the flag parser's errors leave through SystemExit, as from the command line
        code = exc.code
    assert code == 2
    err = capsys.readouterr().err
    assert err.startswith("baltui: error: ") and err.strip().count("\n") == 0 and message in err, err
    assert not out.exists()


def test_a_recipe_without_room_for_the_queries_is_refused(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["--no-ui", "--out", str(out), "--recipe", "redundant:5,1", "--queries", "5"]) == 2
    assert "need 56 images but the pool holds 50" in capsys.readouterr().err and not out.exists()


def test_resume_refuses_another_recipe_or_initial_set(tmp_path, capsys):
    for flag, value in (("--recipe", "repeated"), ("--recipe-seed", "2"), ("--initial-set", "random")):
        assert main(["--no-ui", "--resume", str(tmp_path), flag, value]) == 2
        assert f"{flag} would change it" in capsys.readouterr().err


def test_a_recipe_seed_without_a_recipe_warns(capsys):
    from baltui.core.config import warn_unused

    assert warn_unused(build_config({}, {"recipe_seed": 1}), {"recipe_seed"})
    assert "--recipe-seed is read only by a recipe" in capsys.readouterr().err
    assert not warn_unused(build_config({}, {"recipe_seed": 1, "recipe": "repeated"}), {"recipe_seed"})


def test_recipe_errors_raise_baltui_errors_from_the_core(digits):
    with pytest.raises(BaltuiError, match="keeps classes 1 and 7"):
        apply_recipe(type(digits)("three", digits.x_pool[:30], np.arange(30) % 3, digits.x_test[:3],
                                  np.arange(3)), "redundant:5", 0)


def _folder(path, recipe, sha, accs):
    path.mkdir()
    config = {"dataset": "digits", "initial_per_class": 2, "provenance": {"data_sha256": sha}}
    if recipe is not None:
        config.update(recipe=recipe, recipe_seed=0)
    (path / "config.json").write_text(json.dumps(config))
    lines = [json.dumps({"type": "query", "run_id": "bald-s0", "strategy": "bald", "seed": 0, "query": q,
                         "n_labelled": 20 + 10 * q, "accuracy": a}) for q, a in enumerate(accs)]
    (path / "results.jsonl").write_text("\n".join(lines) + "\n")
    return path


def test_the_report_gives_each_recipe_its_rows_and_says_none_only_when_another_is_shown(tmp_path, capsys):
    plain = _folder(tmp_path / "plain", None, DIGITS_SHA256, [0.5, 0.9])  # a folder from before recipes
    repeated = _folder(tmp_path / "rep", "repeated:copies=3,noise=0.03081,base=all", "ab" * 32, [0.4, 0.8])
    assert main(["report", str(plain), str(repeated), "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["recipe"] for r in rows] == ["none", "repeated:copies=3,noise=0.03081,base=all"]
    assert main(["report", str(repeated), "--format", "markdown"]) == 0
    assert "recipe repeated:copies=3,noise=0.03081,base=all" in capsys.readouterr().out
    assert main(["report", str(plain), "--format", "markdown"]) == 0
    assert "recipe" not in capsys.readouterr().out


@pytest.mark.slow
def test_a_headless_digits_run_on_a_recipe_records_it_and_resumes_on_the_same_data(tmp_path, capsys):
    out = tmp_path / "run"
    tiny = ["--epochs", "2", "--batch-size", "16", "--mc-samples", "3", "--instances", "5", "--subset", "200"]
    argv = ["--no-ui", "--out", str(out), "--recipe", "redundant:100,20", "--recipe-seed", "4",
            "--strategies", "bald,uniform", "--queries", "2", *tiny]
    assert main(argv) == 0
    saved = json.loads((out / "config.json").read_text())
    assert saved["recipe"] == "redundant:pool=100,target=20" and saved["recipe_seed"] == 4
    assert saved["initial_set"] == "balanced"
    data = apply_recipe(load_dataset(RunConfig(dataset="digits")), "redundant:100,20", 4)
    prov = saved["provenance"]
    assert prov["data_sha256"] == data.content_sha256 != DIGITS_SHA256 and prov["source_sha256"] == DIGITS_SHA256
    assert prov["n_classes"] == 3
    rows = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    queries = [r for r in rows if r.get("type") == "query"]
    assert {r["query"] for r in queries} == {0, 1, 2}
    for r in queries:  # indices into the recipe's pool, labels its mapped classes
        assert r["pool_size"] == 1000 - r["n_labelled"]
        assert [int(data.y_pool[i]) for i in r["queried_indices"]] == r["queried_labels"]
    assert min(r["n_labelled"] for r in queries) == 6  # 2 per class of 3
    capsys.readouterr()
    assert main(["report", str(out), "--format", "markdown"]) == 0
    assert "recipe redundant:pool=100,target=20, recipe_seed 4" in capsys.readouterr().out
    # resuming rebuilds the same data from the recorded recipe and seed (its hash is checked)
    assert main(["--no-ui", "--resume", str(out), "--queries", "3"]) == 0
    assert max(json.loads(line)["query"] for line in (out / "results.jsonl").read_text().splitlines()
               if json.loads(line).get("type") == "query") == 3
