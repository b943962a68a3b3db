"""A run folder into MLflow: an experiment (named after the folder), a parent run for the folder, and one nested
run per baltui run (strategy, seed).

Why a parent with nested runs rather than flat runs: what belongs to the whole folder (config.json, the
report's figure) is logged once, on the parent, instead of copied into every run; several folders can share
one experiment (`--experiment`) and stay apart; and an earlier export of the same folder is found, and with
--force replaced, as one unit. Each nested run still carries every setting as a parameter, so MLflow's run
table, search and charts compare runs across parents.

Each nested run: metrics per step = labelled count (`content.scalars`), parameters = flattened config.json
(values cut to MLflow's length limit) plus its strategy and seed, the status (finished -> FINISHED, failed ->
FAILED, interrupted -> KILLED), and each query's score histogram as score_histograms/query_NNN.json.
"""

from __future__ import annotations

import json
import logging
import re
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from baltui.commands.export.content import STEP, ExportRun, flat_params, run_params, scalars
from baltui.core.errors import BaltuiError
from baltui.runs.folder import RunFolder
from baltui.runs.results import CONFIG_FILE

FOLDER_TAG = "baltui.folder"  # the run folder's absolute path, on the parent and every nested run
RUN_ID_TAG = "baltui.run_id"
PARENT_TAG = "mlflow.parentRunId"  # how MLflow nests a run under another
STATUS = {"finished": "FINISHED", "failed": "FAILED", "unfinished": "KILLED"}
DB_FILE = "mlflow.db"
ARTIFACTS = "artifacts"


def is_uri(to: str) -> bool:
    return "://" in to or to == "databricks" or to.startswith("databricks:")


def tracking_uri(to: str) -> tuple[str, Path | None]:
    """--to as (tracking URI, where a new experiment's artifacts go; None: the server decides).

    A path is a folder holding a sqlite store, FOLDER/mlflow.db, with the artifacts beside it in
    FOLDER/artifacts; a sqlite:/// URI keeps its artifacts beside its database file likewise (MLflow's own
    default would be ./mlruns wherever the command was run)."""
    if is_uri(to):
        if not to.startswith("sqlite:///"):
            return to, None
        db = Path(to.removeprefix("sqlite:///")).resolve()
        if not db.parent.is_dir():
            raise BaltuiError(f"--to {to}: the folder of the database, {db.parent}, does not exist")
        if db.exists() and not db.is_file():
            raise BaltuiError(f"--to {to}: {db} is a folder, not a database file")
        return to, db.parent / ARTIFACTS
    folder = Path(to)
    if folder.exists() and not folder.is_dir():
        raise BaltuiError(f"--to {to} is a file; give a folder (the store goes to FOLDER/{DB_FILE}) or a tracking URI")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / DB_FILE).touch()
    except OSError as exc:
        raise BaltuiError(f"cannot write the MLflow store to {folder}: {exc.strerror or exc}") from None
    folder = folder.resolve()
    return f"sqlite:///{folder / DB_FILE}", folder / ARTIFACTS


@contextmanager
def _quiet() -> Iterator[None]:
    """MLflow and alembic say at INFO level that they create and migrate the tables of a new store (set after
    importing mlflow, whose import sets its loggers' levels)."""
    import mlflow.tracking  # noqa: F401

    loggers = [logging.getLogger(name) for name in ("mlflow", "alembic")]
    levels = [log.level for log in loggers]
    for log in loggers:
        log.setLevel(logging.WARNING)
    try:
        yield
    finally:
        for log, level in zip(loggers, levels, strict=True):
            log.setLevel(level)


def _key(name: str) -> str:
    """A metric or parameter name MLflow accepts (letters, digits, _ - . space / :)."""
    return re.sub(r"[^\w\-. /:]", "_", name)


def _chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for i in range(0, len(items), size):
        yield items[i:i + size]


class _Store:
    """The MLflow client with the store's limits (MLflow's own constants: they differ between versions)."""

    def __init__(self, uri: str) -> None:
        from mlflow.tracking import MlflowClient
        from mlflow.utils import validation

        self.client = MlflowClient(tracking_uri=uri)
        self.max_value = getattr(validation, "MAX_PARAM_VAL_LENGTH", 500)
        self.max_tag = getattr(validation, "MAX_TAG_VAL_LENGTH", 5000)
        self.max_key = getattr(validation, "MAX_ENTITY_KEY_LENGTH", 250)
        self.params_per_batch = getattr(validation, "MAX_PARAMS_TAGS_PER_BATCH", 100)
        self.metrics_per_batch = getattr(validation, "MAX_METRICS_PER_BATCH", 1000)

    def experiment(self, name: str, artifacts: Path | None) -> str:
        found = self.client.get_experiment_by_name(name)
        if found is None:
            location = artifacts.as_uri() if artifacts is not None else None
            return self.client.create_experiment(name, artifact_location=location)
        if found.lifecycle_stage != "active":
            raise BaltuiError(f"the MLflow experiment '{name}' was deleted in that store; restore it "
                              "(mlflow experiments restore) or give another --experiment")
        return found.experiment_id

    def runs_with_tag(self, experiment_id: str, tag: str) -> list[Any]:
        """Every active run of the experiment carrying `tag` (read in pages; filtered here, as a folder's path
        may hold characters a filter string would need quoted)."""
        out, token = [], None
        while True:
            page = self.client.search_runs([experiment_id], max_results=1000, page_token=token)
            out += [r for r in page if tag in r.data.tags]
            token = page.token
            if not token:
                return out

    def params(self, run_id: str, values: dict[str, Any]) -> None:
        from mlflow.entities import Param

        params = [Param(_key(k)[: self.max_key], str(v)[: self.max_value]) for k, v in values.items()]
        for chunk in _chunks(params, self.params_per_batch):
            self.client.log_batch(run_id, params=list(chunk))

    def metrics(self, run_id: str, queries: list[dict[str, Any]]) -> None:
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        metrics = [Metric(_key(tag)[: self.max_key], value, now, int(q[STEP]))
                   for q in queries for tag, value in scalars(q).items()]
        for chunk in _chunks(metrics, self.metrics_per_batch):
            self.client.log_batch(run_id, metrics=list(chunk))

    def tag(self, value: str) -> str:
        return value[: self.max_tag]


def _histogram_files(run: ExportRun, folder: Path) -> None:
    for histogram in run.histograms():
        path = folder / "score_histograms" / f"query_{int(histogram['query']):03d}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(histogram, indent=1) + "\n", encoding="utf-8")


def export(folder: RunFolder, runs: list[ExportRun], to: str, png: Callable[[], bytes | None], force: bool,
           experiment: str | None) -> list[str]:
    """Log the runs (the target checked first: nothing is logged if the export is refused); the lines to print."""
    uri, artifacts = tracking_uri(to)
    name = experiment or folder.path.resolve().name
    source = str(folder.path.resolve())
    with _quiet():
        from mlflow.exceptions import MlflowException

        parent_id = None
        try:
            store = _Store(uri)
            experiment_id = store.experiment(name, artifacts)
            exported = store.runs_with_tag(experiment_id, FOLDER_TAG)
            previous = [r for r in exported if r.data.tags[FOLDER_TAG] == source]
            if previous and not force:
                raise BaltuiError(f"MLflow experiment '{name}' at {uri} already holds an export of {source}; "
                                  "--force replaces it (its runs are deleted), or give another --experiment")
            others = sorted({r.data.tags[FOLDER_TAG] for r in exported} - {source})
            parent = store.client.create_run(experiment_id, run_name=folder.path.resolve().name,
                                             tags={FOLDER_TAG: store.tag(source)})
            parent_id = parent.info.run_id
            store.params(parent_id, flat_params(folder.config))
            with tempfile.TemporaryDirectory(prefix="baltui-export-") as tmp:
                shutil.copyfile(folder.path / CONFIG_FILE, Path(tmp) / CONFIG_FILE)
                figure = png()
                if figure is not None:
                    (Path(tmp) / "curves.png").write_bytes(figure)
                store.client.log_artifacts(parent_id, tmp)
            for run in runs:
                _log_run(store, experiment_id, parent_id, source, folder, run)
            store.client.set_terminated(parent_id, "FINISHED")
            for r in previous:  # only now: an export that fails half way leaves the earlier one whole
                store.client.delete_run(r.info.run_id)
        except MlflowException as exc:
            left = " (a part of the export may be there: --force replaces it)" if parent_id else ""
            raise BaltuiError(f"MLflow at {uri}: {_first_line(exc)}{left}") from None
        except OSError as exc:
            raise BaltuiError(f"cannot export to MLflow at {uri}: {exc.strerror or exc}") from None
    queries = sum(len(r.queries) for r in runs)
    lines = [f"exported {len(runs)} runs ({queries} queries) of {folder.path} into MLflow experiment '{name}' "
             f"at {uri}: parent run {parent_id}"
             + (f"; the earlier export's {len(previous)} runs are marked deleted (mlflow gc removes them)"
                if previous else "")]
    if others:
        lines.append(f"note: experiment '{name}' also holds exports of {', '.join(others)}")
    if uri.startswith("sqlite:"):
        lines.append(f"view them: mlflow ui --backend-store-uri {uri}")
    return lines


def _log_run(store: _Store, experiment_id: str, parent_id: str, source: str, folder: RunFolder,
             run: ExportRun) -> None:
    tags = {PARENT_TAG: parent_id, FOLDER_TAG: store.tag(source), RUN_ID_TAG: run.run_id}
    if run.error:
        tags["baltui.error"] = store.tag(run.error)
    child = store.client.create_run(experiment_id, run_name=run.run_id, tags=tags).info.run_id
    store.params(child, run_params(folder.config, run))
    store.metrics(child, run.queries)
    with tempfile.TemporaryDirectory(prefix="baltui-export-") as tmp:
        _histogram_files(run, Path(tmp))
        if any(Path(tmp).iterdir()):
            store.client.log_artifacts(child, tmp)
    store.client.set_terminated(child, STATUS[run.status])


def _first_line(exc: Exception) -> str:
    text = str(getattr(exc, "message", None) or exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
