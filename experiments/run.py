"""One run of a scenario, written to a folder: the library function behind `chipstate run`.

The folder holds model.parquet, one <agent type>.parquet per type, ledger.parquet, the
trade graph at the end (graph.graphml), a figure (figure.png) and manifest.json
(scenario, overrides, seed, versions, git revision). It is written under a temporary
name and renamed into place at the end, so a killed run never leaves a half-written
folder that looks finished.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from experiments.figures import plot_run
from experiments import RESULTS_DIR
from experiments.runner import git_revision, versions
from experiments.store import write_json_atomic, write_parquet_atomic
from model import ChipMarketModel
from model.scenario import DEFAULT_SCENARIO

SUMMARY_QUARTERS = ("2020Q2", "2020Q4", "2023Q4", "2025Q4", "2027Q4", "2030Q4")
SUMMARY_COLUMNS = {
    "huawei_ai_dies": "Huawei AI dies",
    "huawei_fulfilment": "Huawei fulfil.",
    "other_china_fulfilment": "other CN fulfil.",
    "smic_capacity_7nm": "SMIC 7nm cap.",
    "smic_yield_7nm": "SMIC 7nm yield",
    "share_tsmc": "TSMC share %",
    "share_smic": "SMIC share %",
    "china_self_sufficiency": "CN self-suff.",
    "cut_edges": "cut edges",
}


@dataclass
class RunOutput:
    path: Path
    frames: dict[str, pd.DataFrame]
    manifest: dict[str, Any]


def default_run_dir(scenario: str, seed: int) -> Path:
    return RESULTS_DIR / "runs" / f"{Path(str(scenario)).stem}-seed{seed}"


def run_scenario(
    scenario: str = DEFAULT_SCENARIO,
    seed: int = 0,
    out: str | Path | None = None,
    steps: int | None = None,
    overrides: dict[str, Any] | None = None,
) -> RunOutput:
    """Build, run and write one model run; return the frames and where they went."""
    started = time.perf_counter()
    model = ChipMarketModel(scenario=scenario, rng=seed, **(overrides or {}))
    model.run(steps)
    frames = model.frames()
    out = Path(out) if out else default_run_dir(scenario, seed)
    tmp = out.with_name(f"_{out.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    for name, frame in frames.items():
        write_parquet_atomic(tmp / f"{name}.parquet", frame)
    model.export_graph(tmp / "graph.graphml")
    plot_run(frames["model"], tmp / "figure.png",
             title=f"chipstate: {model.scenario.name}, seed {seed}")
    manifest = {
        "scenario": model.scenario.name,
        "scenario_path": model.scenario.path,
        "overrides": overrides or {},
        "parameters": model.parameters.model_dump(mode="json"),
        "seed": seed,
        "steps": model.steps,
        "first_quarter": frames["model"]["quarter"].iloc[1] if len(frames["model"]) > 1 else None,
        "last_quarter": model.quarter,
        "versions": versions(),
        "git": git_revision(),
        "elapsed_s": round(time.perf_counter() - started, 3),
        "files": sorted(f"{name}.parquet" for name in frames) + ["graph.graphml", "figure.png"],
    }
    write_json_atomic(tmp / "manifest.json", manifest)
    if out.exists():
        shutil.rmtree(out)
    tmp.rename(out)
    return RunOutput(out, frames, manifest)


def summary_table(frame: pd.DataFrame) -> pd.DataFrame:
    """A few key series at a few quarters, for the terminal."""
    rows = frame[frame["quarter"].isin(SUMMARY_QUARTERS)].set_index("quarter")
    table = rows[[c for c in SUMMARY_COLUMNS if c in rows]].rename(columns=SUMMARY_COLUMNS)
    return table
