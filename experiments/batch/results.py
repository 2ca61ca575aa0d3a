"""The loader notebooks and scripts use: any run or sweep folder into pandas.

- A run folder (written by ``chipstate run``): ``model.parquet``, one
  ``<agent type>.parquet`` per type, ``ledger.parquet`` and ``manifest.json``.
  `load_run` returns its frames by name and its manifest.
- A sweep folder (written by `experiments.batch.runner.run_sweep`, or ``chipstate compare``):
  ``manifest.json``, ``design.parquet``, ``runs/*.parquet`` and ``merged/*.parquet``.
  `load_sweep_results` returns one row per run (`runs`), the kept time series
  (`series`) and the design.
- `mid_quarter_year` places a quarter label on a decimal-year axis. The published
  figures are read by `experiments.calibration.observed.load_observed`.

Nothing here runs the model.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq

from experiments import RESULTS_DIR
from experiments.batch.store import DESIGN, MANIFEST, RUNS, RunStore, visible
from model.technology import mid_quarter_year  # noqa: F401 - part of the loader's API (notebooks' time axis)

# Columns that describe a run rather than a quarter of it.
_RUN_META = ("run_key", "sweep", "sample", "replicate", "seed", "scenario", "status",
             "error", "traceback", "elapsed_s", "model_version", "parameters_json")


def results_path(env_var: str, default: str | Path) -> Path:
    """The folder named by environment variable `env_var`, else `default` under results/.

    Notebooks call this so a test (or a user) can point them at another folder.
    """
    value = os.environ.get(env_var)
    if value:
        return Path(value)
    default = Path(default)
    return default if default.is_absolute() else RESULTS_DIR / default


@dataclass
class RunResults:
    """One model run: `frames` by name ("model", "foundry", "firm", ..., "ledger")."""

    path: Path
    frames: dict[str, pd.DataFrame]
    manifest: dict = field(default_factory=dict)

    def __getitem__(self, name: str) -> pd.DataFrame:
        return self.frames[name]

    @property
    def model(self) -> pd.DataFrame:
        """The model-level frame: one row per quarter (row 0 = the initial state)."""
        return self.frames["model"]


@dataclass
class SweepResults:
    """A sweep's stored runs.

    - `runs`: one row per run: key, sample, replicate, seed, status, error, the swept
      parameters and each outcome (NaN for failed runs);
    - `series`: one row per run and recorded quarter of the kept reporters (with the
      run's key, sample, replicate, seed and parameters), empty if none were kept;
    - `design`: every planned run (done or not); `manifest`: the manifest.
    """

    path: Path
    manifest: dict
    design: pd.DataFrame
    runs: pd.DataFrame
    series: pd.DataFrame

    @property
    def parameters(self) -> list[str]:
        return list(self.manifest.get("parameters", []))

    @property
    def outcomes(self) -> list[str]:
        return list(self.manifest.get("outcomes", []))

    @property
    def failed(self) -> pd.DataFrame:
        """Runs stored as failed, with their errors."""
        return self.runs[self.runs["status"] == "failed"]

    @property
    def ok(self) -> pd.DataFrame:
        return self.runs[self.runs["status"] == "ok"]

    @property
    def missing(self) -> pd.DataFrame:
        """Planned runs with nothing stored (an interrupted sweep)."""
        return self.design[~self.design["run_key"].isin(self.runs["run_key"])]

    def sample_means(self) -> pd.DataFrame:
        """Each sample's outcome means over its successful replicates, with n and sd."""
        ok = self.ok
        keys = ["sample", "scenario", *[p for p in self.parameters if p != "scenario"]]
        grouped = ok.groupby(keys, dropna=False, sort=True)[self.outcomes]
        means = grouped.mean()
        spread = grouped.std(ddof=1).add_suffix("_sd")
        return means.join(spread).join(grouped.size().rename("replicates")).reset_index()


def load_sweep_results(path: str | Path) -> SweepResults:
    """Read a sweep folder: manifest, design, runs (one row each) and kept series."""
    path = Path(path)
    store = RunStore(path)
    manifest = store.read_manifest()
    if manifest is None:
        raise FileNotFoundError(f"{path}: no {MANIFEST}; not a sweep folder")
    design = store.read_design() if (path / DESIGN).is_file() else pd.DataFrame()
    rows = store.read()
    if rows.empty:
        columns = list(_RUN_META) + manifest.get("parameters", []) + manifest.get("outcomes", [])
        return SweepResults(path, manifest, design, pd.DataFrame(columns=columns), pd.DataFrame())
    # The design says which runs belong to this sweep and where: the folder may cache
    # runs of earlier definitions, and two design rows with equal parameters and seed
    # (Morris trajectories can meet) share one stored run.
    if design.empty:
        design = rows.drop_duplicates("run_key")[["run_key", "sample", "replicate", "seed", "scenario",
                                                  *manifest.get("parameters", [])]]
    plan = design[[c for c in design.columns if not c.startswith("x_")]]
    per_quarter = set(manifest.get("series", [])) | {"quarter"}
    run_level = [c for c in rows.columns if c not in per_quarter and (c == "run_key" or c not in plan.columns)]
    stored = rows.drop_duplicates("run_key")[run_level]
    runs = plan.merge(stored, on="run_key", how="inner").sort_values(["sample", "replicate"])
    runs = runs.reset_index(drop=True)
    kept = ["run_key", "quarter", *manifest.get("series", [])]
    series = rows[rows["quarter"].notna()][[c for c in kept if c in rows.columns]]
    series = plan.merge(series, on="run_key", how="inner")
    series = series.sort_values(["sample", "replicate", "quarter"]).reset_index(drop=True)
    return SweepResults(path, manifest, design, runs, series)


def load_run(path: str | Path) -> RunResults:
    """Read a run folder: every ``*.parquet`` frame by its stem, and ``manifest.json``."""
    path = Path(path)
    if not path.is_dir():
        raise FileNotFoundError(f"{path}: no such run folder")
    frames = {p.stem: pq.read_table(p).to_pandas() for p in visible(path.glob("*.parquet"))}
    if not frames:
        raise FileNotFoundError(f"{path}: no Parquet frames; not a run folder")
    manifest_path = path / MANIFEST
    manifest = json.loads(manifest_path.read_text()) if manifest_path.is_file() else {}
    return RunResults(path, frames, manifest)


def is_sweep_dir(path: str | Path) -> bool:
    path = Path(path)
    return (path / DESIGN).is_file() or (path / RUNS).is_dir()


def load(path: str | Path) -> RunResults | SweepResults:
    """Read a run folder or a sweep folder, whichever `path` is."""
    return load_sweep_results(path) if is_sweep_dir(path) else load_run(path)
