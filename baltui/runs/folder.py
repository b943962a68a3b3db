"""A run folder on disk: config.json (settings + provenance) and results.jsonl (one record per line).

The one place that opens a folder (with one set of errors), migrates an old config, and answers what
resume, report, watch and the dashboard all ask of it: its data's hash, the paper whose figures belong
beside its runs, its run ids, its records and the events they were written from.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from baltui.core.config import RunConfig, build_config, migrate_config, run_id
from baltui.core.errors import BaltuiError
from baltui.core.events import Event, event_from_record, is_query
from baltui.runs import provenance as provenance_module
from baltui.runs.aggregate import StrategySummary, summarise
from baltui.runs.references import PaperReference, reference_for
from baltui.runs.results import (
    CONFIG_FILE,
    RESULTS_FILE,
    RunCurve,
    curves,
    prepare_out_dir,
    read_config,
    read_records,
    write_config,
)


def _migrated(config: dict[str, Any]) -> dict[str, Any]:
    """Today's keys (migrate_config), without the absolute `out` the first versions wrote."""
    migrated = migrate_config(config)
    migrated.pop("out", None)
    return migrated


@dataclass
class RunFolder:
    """One run folder. `config` is config.json as saved, migrated to today's keys (provenance kept)."""

    path: Path
    config: dict[str, Any]

    # ---- opening ----------------------------------------------------------------------------------
    @classmethod
    def open(cls, path: str | Path) -> RunFolder:
        """Open an existing folder; a BaltuiError says in one line why it is not a baltui run folder."""
        path = Path(path)
        if not path.exists():
            raise BaltuiError(f"{path} does not exist; give the run folder a baltui run writes (its --out)")
        if not path.is_dir():
            raise BaltuiError(f"{path} is a file, not a run folder; give the folder holding {CONFIG_FILE}")
        return cls(path, _migrated(read_config(path)))

    @classmethod
    def create(cls, path: str | Path, config: dict[str, Any]) -> RunFolder:
        """Make a new folder holding `config` (refusing one that holds anything else) and an empty results file."""
        path = Path(path)
        prepare_out_dir(path, config)
        return cls(path, _migrated(config))

    # ---- what the config says ---------------------------------------------------------------------
    @property
    def results_path(self) -> Path:
        return self.path / RESULTS_FILE

    @property
    def provenance(self) -> dict[str, Any]:
        value = self.config.get("provenance")
        return value if isinstance(value, dict) else {}

    @property
    def data_sha256(self) -> str | None:
        return self.provenance.get("data_sha256")

    @property
    def n_classes(self) -> int:
        return int(self.provenance.get("n_classes", 10))

    @property
    def queries(self) -> int:
        q = self.config.get("queries")
        return q if isinstance(q, int) and not isinstance(q, bool) else 0

    @property
    def run_ids(self) -> list[str]:
        """The runs config.json promises, in grid order (seed-major, as the experiment runs them)."""
        strategies, seeds = self.config.get("strategies"), self.config.get("seeds")
        if not isinstance(strategies, list) or not isinstance(seeds, list):
            return []
        return [run_id(str(s), seed) for seed in seeds for s in strategies]

    def setting(self, name: str) -> Any:
        """A setting as the runs used it (today's default for keys older folders did not write)."""
        if name in self.config:
            return self.config[name]
        return getattr(RunConfig(), name)

    def reference(self) -> PaperReference | None:
        """The paper these runs may be compared with: by the data's content hash and the initial set, never a name."""
        if not self.provenance:
            return None
        initial = int(self.setting("initial_per_class")) * self.n_classes
        return reference_for(self.data_sha256, initial, str(self.setting("model")), str(self.setting("initial_set")))

    def run_config(self, data: str | None = None, changes: dict[str, Any] | None = None) -> RunConfig:
        """The saved settings as a RunConfig (with `changes` on top, e.g. more queries), `data` resolved from the
        folder (or given where it is now)."""
        values = {k: v for k, v in self.config.items() if k in RunConfig.__dataclass_fields__ and k != "out"}
        # plug-in files are recorded relative to the folder (baltui.runs.start), as the data file is
        from_folder = provenance_module.reference_from_folder
        for key in ("model", "dataset"):
            if isinstance(values.get(key), str):
                values[key] = from_folder(values[key], self.path)
        if isinstance(values.get("strategy_references"), dict):
            values["strategy_references"] = {k: from_folder(v, self.path) if isinstance(v, str) else v
                                             for k, v in values["strategy_references"].items()}
        values.update(changes or {})
        if data is not None:
            values["data"] = data
        elif values.get("data"):
            found = provenance_module.resolve_data_path(str(values["data"]), self.path)
            if found is None:
                raise BaltuiError(f"the data file of {self.path} ({values['data']}, relative to the run folder) is "
                                  "not there; give its current place with --data FILE.npz (or DIR)")
            values["data"] = str(found)
        return build_config(values)

    def write_config(self, config: dict[str, Any]) -> None:
        write_config(self.path, config)
        self.config = _migrated(config)

    def saved_config(self) -> dict[str, Any]:
        """config.json exactly as on disk (for updates that must keep every key it holds)."""
        return read_config(self.path)

    # ---- what the results say ---------------------------------------------------------------------
    def records(self, resume: bool = False) -> list[dict[str, Any]]:
        """Every record, checked (a torn tail left out, identical duplicates once; `resume`: as --resume reads)."""
        return read_records(self.path, resume=resume)

    def records_by_run(self, resume: bool = False) -> dict[str, list[dict[str, Any]]]:
        by_run: dict[str, list[dict[str, Any]]] = {}
        for record in self.records(resume):
            by_run.setdefault(record["run_id"], []).append(record)
        return by_run

    def curves(self) -> dict[str, RunCurve]:
        return curves(self.records())

    def events(self) -> Iterator[Event]:
        """The events the records were written from, in file order (unknown record types skipped)."""
        for record in self.records():
            event = event_from_record(record)
            if event is not None:
                yield event

    def summaries(self) -> list[StrategySummary]:
        """Per strategy, the statistics `baltui report` prints for this folder alone (reach, final accuracy, AUC)."""
        return summarise(list(self.curves().values()))

    def rows(self) -> list[dict[str, Any]]:
        """One plain dict per completed query (no lists of indices), for a table or a data frame."""
        keep = ("run_id", "strategy", "seed", "query", "n_labelled", "pool_size", "accuracy", "nll", "ece", "brier",
                "acquisition_s", "training_s", "evaluation_s")  # nll, ece, brier: None in older records
        return [{k: r.get(k) for k in keep} for r in self.records() if is_query(r)]

    def to_pandas(self) -> Any:
        """rows() as a pandas DataFrame (pandas is not a dependency of baltui: install it to use this)."""
        try:
            import pandas as pd
        except ModuleNotFoundError:
            raise BaltuiError("to_pandas needs pandas: pip install pandas") from None
        return pd.DataFrame(self.rows())
