"""One run of a scenario, written to a folder: the library function behind `chipstate run`.

The folder holds model.parquet, one <agent type>.parquet per type, ledger.parquet, the
trade graph at the end (graph.graphml), a figure (figure.png) and manifest.json
(scenario, overrides, seed, versions, git revision). It is written under a temporary
name and renamed into place at the end, so a killed run never leaves a half-written
folder that looks finished.

The default folder is named by what made the run (`run_folder`): the scenario, a short
hash of the overrides when there are any, the seed and the steps when they are not the
whole run, so different settings never share a folder. The folder rules of
`experiments.outputs` hold: a user's folder is refused before the model runs; an
earlier run of the same settings is replaced (and `RunOutput.replaced` says so); a run
of other settings is replaced only with `overwrite`.

`write_ensemble_run` is `chipstate run --ensemble`: the scenario over N posterior draws
x K seeds (`experiments.ensemble.run_ensemble`), its bands and figure, in a folder of
its own kind ('ensemble') under the same rules.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

import pandas as pd

from experiments.analysis.figures import plot_run, run_events
from experiments import RESULTS_DIR
from experiments.outputs import MARKER, OutputError, _scenario_id, claim, digest, mark, run_folder, run_settings, slug
from experiments.provenance import git_revision, versions
from experiments.outputs import write_csv_atomic, write_json_atomic, write_parquet_atomic
from model import ChipMarketModel
from model.scenario import DEFAULT_SCENARIO, load_scenario

if TYPE_CHECKING:
    from experiments.ensemble import EnsembleRuns
    from experiments.posterior import Ensemble

SUMMARY_QUARTERS = ("2020Q2", "2020Q4", "2023Q4", "2025Q4", "2027Q4", "2030Q4")
SUMMARY_COLUMNS = {
    "huawei_ai_dies": "Huawei AI dies",
    "huawei_accelerators": "Huawei accel.",
    "huawei_binding_input": "binding",
    "huawei_fulfilment": "Huawei fulfil.",
    "other_china_fulfilment": "other CN fulfil.",
    "smic_capacity_7nm": "SMIC 7nm cap.",
    "smic_yield_7nm": "SMIC 7nm yield",
    "share_tsmc": "TSMC share %",
    "share_smic": "SMIC share %",
    "china_self_sufficiency": "CN self-suff.",
    "huawei_china_share": "Huawei % CN accel.",
    "nvidia_china_revenue_share": "Nvidia % rev. CN",
    "cut_edges": "cut edges",
}
"""Model reporter -> its column in `chipstate run`'s summary. Of the AI-chip market's:
Huawei's share of the accelerators delivered to Chinese buyers in the quarter (% of
units) and Nvidia's share of its accelerator revenue earned in China (%, net of licence
fees)."""


@dataclass
class RunOutput:
    path: Path
    frames: dict[str, pd.DataFrame]
    manifest: dict[str, Any]
    replaced: str = ""
    """'' for a new folder; 'same settings' or 'other settings (--overwrite)' when an
    earlier run in the folder was replaced."""


def _check_replaceable(folder: Path) -> None:
    """An earlier run may be replaced only if the folder holds nothing but its files."""
    try:
        listed = set(json.loads((folder / "manifest.json").read_text()).get("files", []))
    except (OSError, ValueError):
        listed = set()
    ours = listed | {"manifest.json", MARKER}
    foreign = sorted(p.name for p in folder.iterdir() if p.name not in ours)
    if foreign:
        raise OutputError(f"--out {folder}: holds files a run did not write ({', '.join(foreign[:3])}); "
                          "expected a run folder with nothing added (nothing was written)")


def run_scenario(
    scenario: str = DEFAULT_SCENARIO,
    seed: int = 0,
    out: str | Path | None = None,
    steps: int | None = None,
    overrides: dict[str, Any] | None = None,
    overwrite: bool = False,
) -> RunOutput:
    """Build, run and write one model run; return the frames and where they went.

    The folder is checked before the model is built (OutputError: a user's folder, a
    file, another kind of output, or other settings without `overwrite`); on any error
    nothing is left behind.
    """
    started = time.perf_counter()
    settings = run_settings(scenario, seed, steps, overrides)
    out = Path(out) if out else run_folder(scenario, seed, steps, overrides)
    claimed = claim(out, "run", settings, overwrite=overwrite)
    if claimed.existed:
        _check_replaceable(out)
    model = ChipMarketModel(scenario=scenario, rng=seed, **(overrides or {}))
    model.run(steps)
    frames = model.frames()
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f"_{out.name}.{os.getpid()}.tmp")
    try:
        tmp.mkdir()
        manifest = _write(tmp, model, frames, seed, overrides, started)
        mark(tmp, "run", settings)
        _move_into_place(tmp, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    replaced = "" if not claimed.existed else ("same settings" if claimed.same else "other settings (--overwrite)")
    return RunOutput(out, frames, manifest, replaced)


def _move_into_place(tmp: Path, out: Path) -> None:
    """Rename the finished temporary folder to `out`; an earlier run there (already
    checked replaceable) is moved aside first and deleted once the new one is in place."""
    if not out.exists() or not any(out.iterdir()):
        if out.exists():
            out.rmdir()
        tmp.rename(out)
        return
    _check_replaceable(out)  # again: nothing may have been added while the model ran
    old = out.with_name(f"_{out.name}.{os.getpid()}.old")
    out.rename(old)
    tmp.rename(out)
    shutil.rmtree(old)


def _write(tmp: Path, model: ChipMarketModel, frames: dict[str, pd.DataFrame], seed: int,
           overrides: dict[str, Any] | None, started: float) -> dict[str, Any]:
    """Write a run's files into `tmp`; return its manifest."""
    for name, frame in frames.items():
        write_parquet_atomic(tmp / f"{name}.parquet", frame)
    model.export_graph(tmp / "graph.graphml")
    plot_run(frames["model"], tmp / "figure.png",
             title=f"chipstate: {model.scenario_spec.name}, seed {seed}",
             events=run_events(model),
             caption=f"scenario {model.scenario_spec.name}; seed {seed}"
             + (f"; overrides: {overrides}" if overrides else ""))
    manifest = {
        "scenario": model.scenario_spec.name,
        "scenario_path": model.scenario_spec.path,
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
    return manifest


def summary_table(frame: pd.DataFrame) -> pd.DataFrame:
    """A few key series at a few quarters, for the terminal."""
    rows = frame[frame["quarter"].isin(SUMMARY_QUARTERS)].set_index("quarter")
    table = rows[[c for c in SUMMARY_COLUMNS if c in rows]].rename(columns=SUMMARY_COLUMNS)
    return table


# ------------------------------------------------------------------ run --ensemble
def ensemble_settings(scenario: str, n: int, seeds: Sequence[int], sample_seed: int, steps: int | None,
                      posterior: Path) -> dict:
    """What makes an ensemble run: the scenario, N, the seeds, the sample's seed, the
    steps and the posterior file (its resolved path and a hash of its contents)."""
    return {"scenario": _scenario_id(scenario)[0], "ensemble": n, "seeds": list(seeds),
            "sample_seed": sample_seed, "steps": steps, "posterior": str(Path(posterior).resolve()),
            "posterior_digest": digest(Path(posterior).read_bytes().hex(), 16)}


def ensemble_folder(scenario: str, n: int, k: int, seed: int, steps: int | None = None,
                    posterior: Path | None = None, default_posterior: Path | None = None) -> Path:
    """results/runs/<scenario>-ensemble<N>x<K>-seed<S>[-<steps>q][-p<hash>]/; the hash
    stands for a posterior file other than the default."""
    name = f"{slug(scenario)}-ensemble{n}x{k}-seed{seed}"
    if steps is not None:
        name += f"-{steps}q"
    if posterior is not None and default_posterior is not None and \
            Path(posterior).resolve() != Path(default_posterior).resolve():
        name += "-p" + digest(str(Path(posterior).resolve()), 6)
    return RESULTS_DIR / "runs" / name


@dataclass
class EnsembleOutput:
    path: Path
    runs: EnsembleRuns
    bands: pd.DataFrame
    summary: pd.DataFrame
    manifest: dict[str, Any]
    replaced: str = ""


FILES = ("ensemble.parquet", "draws.parquet", "bands.csv", "figure.png")


def write_ensemble_run(scenario: str, ensemble: Ensemble, n: int, replicates: int = 2, seed: int = 0,
                       steps: int | None = None, out: str | Path | None = None, overwrite: bool = False,
                       progress: bool = True, default_posterior: Path | None = None,
                       **executor: Any) -> EnsembleOutput:
    """Run `scenario` over N draws x `replicates` seeds (seeds seed..seed+K-1; draws
    `ensemble.sample(n, seed)`) and write the folder: ensemble.parquet (the headline
    columns per draw, seed and quarter), draws.parquet (each draw's parameters),
    bands.csv, figure.png and manifest.json. The folder rules are a run's
    (`experiments.outputs.claim`, kind 'ensemble'); it is written under a temporary
    name and renamed into place, so an error leaves nothing behind."""
    from experiments.ensemble import (HEADLINE, EnsembleError, available_columns, band_caption, bands,
                                      ensemble_figure, run_ensemble, yearly_summary)

    started = time.perf_counter()
    if n < 1:
        raise EnsembleError(f"--ensemble: expected at least 1 draw, got {n}")
    seeds = [seed + r for r in range(replicates)]
    settings = ensemble_settings(scenario, n, seeds, seed, steps, ensemble.path)
    out = Path(out) if out else ensemble_folder(scenario, n, replicates, seed, steps, ensemble.path,
                                                default_posterior)
    claimed = claim(out, "ensemble", settings, overwrite=overwrite)
    if claimed.existed:
        _check_replaceable(out)
    spec = load_scenario(scenario)
    columns = available_columns(scenario, HEADLINE)
    runs = run_ensemble(scenario, ensemble, n, seeds, columns, steps, sample_seed=seed, progress=progress,
                        label=f"{slug(scenario)}-ensemble{n}x{replicates}", **executor)
    if runs.ok.empty:
        raise EnsembleError(f"{ensemble.path}: every one of the {n} x {replicates} runs failed "
                            f"(first error: {runs.rows['error'].iloc[0]})")
    table = bands(runs.rows, columns)
    summary = yearly_summary(runs.rows)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f"_{out.name}.{os.getpid()}.tmp")
    try:
        tmp.mkdir()
        rows = runs.rows.drop(columns=["scenario"])
        write_parquet_atomic(tmp / "ensemble.parquet", rows)
        write_parquet_atomic(tmp / "draws.parquet", runs.draws)
        write_csv_atomic(tmp / "bands.csv", table)
        ensemble_figure(table, tmp / "figure.png",
                        title=f"chipstate: {spec.name}, posterior ensemble",
                        events=run_events(spec),
                        caption=f"scenario {spec.name}; {band_caption(n, replicates)} "
                                f"(seeds {seeds[0]}-{seeds[-1]}, draws picked by weight from "
                                f"{ensemble.path.name} with seed {seed})")
        manifest = {
            "scenario": spec.name, "scenario_path": spec.path,
            "posterior": str(ensemble.path), "posterior_provenance": ensemble.provenance,
            "posterior_draws": len(ensemble), "posterior_effective_size": round(ensemble.effective_size, 2),
            "ensemble": n, "replicates": replicates, "seeds": seeds, "sample_seed": seed,
            "posterior_rows": runs.draws["posterior_row"].tolist(),
            "steps": steps, "columns": columns, "runs": n * replicates, "failed_runs": runs.failed,
            "versions": versions(), "git": git_revision(),
            "elapsed_s": round(time.perf_counter() - started, 3),
            "files": list(FILES),
        }
        write_json_atomic(tmp / "manifest.json", manifest)
        mark(tmp, "ensemble", settings)
        _move_into_place(tmp, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    replaced = "" if not claimed.existed else ("same settings" if claimed.same else "other settings (--overwrite)")
    return EnsembleOutput(out, runs, table, summary, manifest, replaced)
