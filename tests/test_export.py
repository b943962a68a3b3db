"""`baltui export`: a run folder into TensorBoard event files and an MLflow sqlite store, read back with the
trackers' own readers (TensorBoard's EventAccumulator, MLflow's client) and compared with results.jsonl.

No training: the folder is three runs of the committed tests/fixtures/before_layers/runs, with the per-query
metrics a later baltui writes (nll, ece, class_accuracy per class, a training dict) added to its records, and
one run left unfinished and one failed. One MLflow store serves the module (making one takes seconds).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from baltui.cli import main

pytest.importorskip("tensorboard")
pytest.importorskip("mlflow")

FIXTURE = Path(__file__).parent / "fixtures" / "before_layers" / "runs"
RUNS = ("entropy-s0", "bald-s0", "uniform-s0")  # finished, unfinished, failed


def _records(folder: Path) -> list[dict]:
    return [json.loads(line) for line in (folder / "results.jsonl").read_text().splitlines() if line.strip()]


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("export") / "digits-grid"
    out.mkdir()
    config = json.loads((FIXTURE / "config.json").read_text())
    config.update(strategies=["entropy", "bald", "uniform"], seeds=[0])
    (out / "config.json").write_text(json.dumps(config, indent=2))
    lines = []
    for r in _records(FIXTURE):
        if r["run_id"] not in RUNS or (r.get("type") == "run_finished" and r["run_id"] != "entropy-s0"):
            continue
        if r.get("type", "query") == "query":
            q = r["query"]
            r.update(nll=2.3 - 0.1 * q, ece=0.05 + 0.01 * q, brier=0.9 - 0.01 * q,
                     class_accuracy=[round(0.1 * c + 0.01 * q, 4) for c in range(10)],
                     training={"C": 1.5 + q, "epochs_run": 7, "note": "text is not a scalar"})
        lines.append(r)
    lines.append({"type": "run_failed", "run_id": "uniform-s0", "strategy": "uniform", "seed": 0, "error": "boom"})
    (out / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in lines))
    return out


def _queries(folder: Path, run_id: str) -> list[dict]:
    return [r for r in _records(folder) if r["run_id"] == run_id and r.get("type", "query") == "query"]


def expected_scalars(record: dict) -> dict[str, float]:
    """What a tracker must hold for one query, written out here rather than taken from the code under test."""
    out = {k: float(record[k]) for k in ("accuracy", "acquisition_s", "training_s", "evaluation_s", "pool_size",
                                         "nll", "ece", "brier")}
    out.update({f"class_accuracy/{c}": v for c, v in enumerate(record["class_accuracy"])})
    out.update({"training/C": record["training"]["C"], "training/epochs_run": 7.0})
    if record["score_summary"]:
        out.update({f"score_summary/{k}": float(v) for k, v in record["score_summary"].items()})
    return out


@pytest.fixture(scope="module")
def report_png(folder, tmp_path_factory) -> bytes:
    """The figure `baltui report --plot` draws of the folder: the export must attach this very image."""
    pytest.importorskip("matplotlib")
    path = tmp_path_factory.mktemp("png") / "curves.png"
    assert main(["report", str(folder), "--no-chart", "--plot", str(path)]) == 0
    return path.read_bytes()


def _one_line_error(capsys) -> str:
    err = capsys.readouterr().err
    assert err.startswith("baltui export: error: ") and err.count("\n") == 1, err
    return err


# ---- TensorBoard ------------------------------------------------------------------------------------------
def _accumulator(logdir: Path):
    from tensorboard.backend.event_processing.event_accumulator import TENSORS, EventAccumulator

    acc = EventAccumulator(str(logdir), size_guidance={TENSORS: 0})
    acc.Reload()
    return acc


def test_tensorboard_holds_every_number_hparams_histograms_and_the_report_figure(folder, tmp_path, capsys,
                                                                                  report_png):
    from tensorboard.plugins.hparams import metadata as hparams_metadata
    from tensorboard.util import tensor_util

    logs = tmp_path / "tb"
    assert main(["export", str(folder), "--format", "tensorboard", "--to", str(logs)]) == 0
    assert f"tensorboard --logdir {logs}" in capsys.readouterr().out
    assert sorted(p.name for p in logs.iterdir()) == sorted([*RUNS, "report"])
    config = json.loads((folder / "config.json").read_text())
    for run_id in RUNS:
        acc = _accumulator(logs / run_id)
        records = _queries(folder, run_id)
        wanted = {}
        for r in records:
            for tag, value in expected_scalars(r).items():
                wanted.setdefault(tag, []).append((r["n_labelled"], value))
        scalar_tags = {t for t in acc.Tags()["tensors"] if acc.SummaryMetadata(t).plugin_data.plugin_name == "scalars"}
        assert scalar_tags == set(wanted)  # no indices, labels, text or raw scores
        for tag, points in wanted.items():
            got = [(e.step, float(tensor_util.make_ndarray(e.tensor_proto))) for e in acc.Tensors(tag)]
            assert [s for s, _ in got] == [s for s, _ in points], tag
            assert [v for _, v in got] == pytest.approx([v for _, v in points], rel=1e-6), tag
        with_histogram = [r for r in records if r["score_histogram"]]
        histograms = acc.Tensors("acquisition_scores") if with_histogram else []
        assert [e.step for e in histograms] == [r["n_labelled"] for r in with_histogram]
        for event, r in zip(histograms, with_histogram, strict=True):
            buckets = tensor_util.make_ndarray(event.tensor_proto)
            assert buckets[:, 2].tolist() == r["score_histogram"]["counts"]
            assert buckets[0, 0] == pytest.approx(r["score_histogram"]["lo"])
            assert buckets[-1, 1] == pytest.approx(r["score_histogram"]["hi"])
        content = acc.PluginTagToContent("hparams")["_hparams_/session_start_info"]
        hparams = hparams_metadata.parse_session_start_info_plugin_data(content).hparams
        assert hparams["strategy"].string_value == run_id.split("-")[0]
        assert hparams["seed"].number_value == 0
        assert hparams["epochs"].number_value == config["epochs"]
        assert hparams["provenance.data_sha256"].string_value == config["provenance"]["data_sha256"]
        assert hparams["status"].string_value == {"entropy-s0": "finished", "bald-s0": "unfinished",
                                                  "uniform-s0": "failed"}[run_id]
    image = _accumulator(logs / "report").Tensors("curves")[0].tensor_proto.string_val
    assert image[2] == report_png and (image[0], image[1]) == (b"960", b"600")


# ---- MLflow -------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("mlflow")


def _client(store: Path):
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=f"sqlite:///{store.resolve() / 'mlflow.db'}")


def _active(client, experiment: str) -> list:
    found = client.get_experiment_by_name(experiment)
    return client.search_runs([found.experiment_id]) if found else []


def test_mlflow_holds_the_metric_histories_params_and_artifacts(folder, store, capsys, report_png, tmp_path):
    assert main(["export", str(folder), "--format", "mlflow", "--to", str(store)]) == 0
    assert "mlflow ui --backend-store-uri sqlite:///" in capsys.readouterr().out
    client = _client(store)
    runs = _active(client, folder.name)  # the experiment is named after the folder
    parents = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    assert len(parents) == 1 and parents[0].info.status == "FINISHED"
    parent = parents[0]
    config = json.loads((folder / "config.json").read_text())
    assert parent.data.params["epochs"] == str(config["epochs"])
    assert parent.data.params["provenance.versions.numpy"] == config["provenance"]["versions"]["numpy"]
    assert json.loads(parent.data.params["strategies"]) == config["strategies"]
    assert (Path(client.download_artifacts(parent.info.run_id, "curves.png", str(tmp_path))).read_bytes()
            == report_png)
    children = {r.info.run_name: r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id}
    assert sorted(children) == sorted(RUNS)
    assert {k: r.info.status for k, r in children.items()} == {"entropy-s0": "FINISHED", "bald-s0": "KILLED",
                                                                "uniform-s0": "FAILED"}
    for run_id, run in children.items():
        records = _queries(folder, run_id)
        assert run.data.params["strategy"] == run_id.split("-")[0] and run.data.params["seed"] == "0"
        assert run.data.params["batch_size"] == str(config["batch_size"])
        assert set(run.data.metrics) == set(expected_scalars(records[-1]))
        for tag in ("accuracy", "class_accuracy/3", "nll", "training/C", "acquisition_s", "training_s"):
            history = sorted((m.step, m.value) for m in client.get_metric_history(run.info.run_id, tag))
            assert history == [(r["n_labelled"], expected_scalars(r)[tag]) for r in records], (run_id, tag)
        with_histogram = [r for r in records if r["score_histogram"]]
        names = [a.path for a in client.list_artifacts(run.info.run_id, "score_histograms")]
        assert names == [f"score_histograms/query_{r['query']:03d}.json" for r in with_histogram]
        for name, r in zip(names, with_histogram, strict=True):
            saved = json.loads(Path(client.download_artifacts(run.info.run_id, name, str(tmp_path))).read_text())
            assert saved["score_histogram"] == r["score_histogram"] and saved["n_labelled"] == r["n_labelled"]
            assert saved["queried_scores"] == r["queried_scores"]


def test_params_longer_than_mlflow_takes_are_cut_to_its_limit(folder, store, tmp_path, monkeypatch):
    from mlflow.utils.validation import MAX_PARAM_VAL_LENGTH

    monkeypatch.setenv("MLFLOW_TRUNCATE_LONG_VALUES", "false")  # MLflow 3 cuts them itself, with a warning; 2.x refuses
    long = tmp_path / "long"
    shutil.copytree(folder, long)
    config = json.loads((long / "config.json").read_text())
    config["description"] = "x" * (MAX_PARAM_VAL_LENGTH + 50)
    (long / "config.json").write_text(json.dumps(config))
    assert main(["export", str(long), "--format", "mlflow", "--to", str(store)]) == 0
    runs = _active(_client(store), "long")
    assert len(runs) == 1 + len(RUNS)
    assert all(r.data.params["description"] == "x" * MAX_PARAM_VAL_LENGTH for r in runs)


# ---- the same export twice, and bad input ----------------------------------------------------------------
def test_a_second_export_is_refused_and_force_replaces_the_first(folder, store, tmp_path, capsys):
    logs = tmp_path / "tb"
    tb = ["export", str(folder), "--format", "tensorboard", "--to", str(logs)]
    ml = ["export", str(folder), "--format", "mlflow", "--to", str(store), "--experiment", "twice"]
    for argv in (tb, ml):
        assert main(argv) == 0
        capsys.readouterr()
        assert main(argv) == 2
        assert "--force replaces" in _one_line_error(capsys)
        assert main([*argv, "--force"]) == 0
    for run_id in RUNS:
        assert len(list((logs / run_id).glob("events.out.tfevents.*"))) == 1
        steps = [e.step for e in _accumulator(logs / run_id).Tensors("accuracy")]
        assert steps == [r["n_labelled"] for r in _queries(folder, run_id)]
    runs = _active(_client(store), "twice")
    assert len(runs) == 1 + len(RUNS)
    assert len({r.data.tags.get("mlflow.parentRunId") for r in runs} - {None}) == 1


@pytest.mark.parametrize("case", ["missing", "empty", "no-query", "tb-to-file", "mlflow-to-file", "tb-under-file",
                                  "no-mlflow", "no-tensorboard", "experiment-for-tb"])
def test_bad_input_is_one_line_and_exit_2(case, folder, tmp_path, capsys, monkeypatch):
    run, fmt, to, extra = str(folder), "tensorboard", tmp_path / "out", []
    a_file = tmp_path / "a-file"
    a_file.write_text("not a folder")
    if case == "missing":
        run = str(tmp_path / "nowhere")
    elif case == "empty":
        (tmp_path / "empty").mkdir()
        run = str(tmp_path / "empty")
    elif case == "no-query":
        (tmp_path / "fresh").mkdir()
        shutil.copy(folder / "config.json", tmp_path / "fresh" / "config.json")
        (tmp_path / "fresh" / "results.jsonl").write_text("")
        run = str(tmp_path / "fresh")
    elif case in ("tb-to-file", "mlflow-to-file"):
        to, fmt = a_file, case.split("-")[0].replace("tb", "tensorboard")
    elif case == "tb-under-file":
        to = a_file / "logs"
    elif case in ("no-mlflow", "no-tensorboard"):
        fmt = case.removeprefix("no-")
        monkeypatch.setitem(sys.modules, fmt, None)  # as if not installed: find_spec answers None
    elif case == "experiment-for-tb":
        extra = ["--experiment", "x"]
    assert main(["export", run, "--format", fmt, "--to", str(to), *extra]) == 2
    err = _one_line_error(capsys)
    if case.startswith("no-") and case != "no-query":
        assert f"pip install 'baltui[{fmt}]'" in err
    assert not (tmp_path / "out").exists()


def test_an_unknown_format_is_a_usage_line(folder, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["export", str(folder), "--format", "wandb", "--to", str(tmp_path)])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "invalid choice: 'wandb'" in err and err.count("\n") == 1


def test_help_and_bad_input_import_no_tracker():
    """--help and input errors answer at once: MLflow, TensorBoard, TensorFlow and matplotlib are imported
    only to export."""
    code = ("import sys\nfrom baltui.cli import main\nassert main(['export', 'nowhere', '--format', 'mlflow', "
            "'--to', 'x']) == 2\nprint(sorted(m for m in ('mlflow', 'tensorboard', 'tensorflow', 'matplotlib') "
            "if m in sys.modules))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          cwd=Path(__file__).parent.parent)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"
