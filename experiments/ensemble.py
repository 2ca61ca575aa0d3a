"""Posterior ensembles: a scenario run over N posterior draws x K seeds (issue 15).

`run_ensemble` is the shared helper: it picks N draws from an `Ensemble`
(`Ensemble.sample(n, sample_seed)`: by weight, reproducibly), runs each draw with
every seed of `seeds` on the sweep runner's executors (`experiments.batch.runner`: a
local process pool, a Dask cluster or this process; the same runs, whichever), and
returns one row per (scenario, draw, seed[, quarter]). Given several scenarios, every
one runs over the same draws and the same seeds, so two of them are paired draw by
draw and seed by seed (`chipstate compare --ensemble`).

A band over an ensemble is a band over those N x K runs: it holds both what the data
leave uncertain about the parameters (the draws) and the model's own randomness (the
seeds). `bands` takes the median and the 5/25/75/95% quantiles per quarter;
`ensemble_figure` draws them; `experiments.run.write_ensemble_run` is what `chipstate
run --ensemble` writes with them.

Every draw is checked against every scenario (`Scenario.with_overrides`) before any
model runs: a posterior whose values a scenario refuses stops with one ScenarioError
naming the file and the draw, and nothing is written.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Iterable, Sequence

import numpy as np
import pandas as pd

from experiments.outputs import digest
from experiments.posterior import Ensemble
from model.scenario import ScenarioError, load_scenario

HEADLINE = ("huawei_accelerators", "huawei_ai_dies", "smic_utilisation", "share_tsmc", "share_smic",
            "asml_china_share")
"""The model columns an ensemble run keeps per (draw, seed, quarter), where the model has them."""

UNITS = {"huawei_accelerators": ("thousand units per quarter", 1e-3),
         "huawei_ai_dies": ("thousand good dies per quarter", 1e-3),
         "smic_utilisation": ("% of SMIC's capacity", 100.0),
         "share_tsmc": ("% of modelled foundries' revenue", 1.0),
         "share_smic": ("% of modelled foundries' revenue", 1.0),
         "asml_china_share": ("% of ASML's revenue", 100.0)}
"""Column -> (axis unit, scale from the reporter's unit). Shares the model reports as
fractions (utilisation, ASML's China share) are shown in %; `share_<foundry>` is already %.
bands.csv keeps the reporters' own units (its `unit` column)."""

TITLES = {"huawei_accelerators": "Huawei accelerators (packaged)", "huawei_ai_dies": "Huawei good AI dies",
          "smic_utilisation": "SMIC utilisation", "share_tsmc": "TSMC: share of foundry revenue",
          "share_smic": "SMIC: share of foundry revenue", "asml_china_share": "ASML: revenue from China"}

QUANTILES = {"q05": 0.05, "q25": 0.25, "median": 0.5, "q75": 0.75, "q95": 0.95}

SUMMARY_YEARS = range(2023, 2031)


class EnsembleError(ValueError):
    """An ensemble that cannot be run as asked; the message names the flag or file."""


@dataclass
class EnsembleRuns:
    """What `run_ensemble` made: `rows` (one per scenario, draw, seed[, quarter];
    columns scenario, draw, posterior_row, seed, status, error, then the outcomes and
    kept columns), `draws` (draw, posterior_row, weight and the draw's parameters, in
    the posterior's spelling) and the seeds."""

    rows: pd.DataFrame
    draws: pd.DataFrame
    seeds: list[int]
    sample_seed: int
    failed: int = 0
    columns: list[str] = field(default_factory=list)

    @property
    def ok(self) -> pd.DataFrame:
        return self.rows[self.rows["status"] == "ok"]


def draws_table(ensemble: Ensemble, positions: Sequence[int]) -> pd.DataFrame:
    """The picked draws: their number in this ensemble run (0..N-1), their row in the
    posterior file, its weight, and their parameters."""
    picked = ensemble.draws.iloc[list(positions)].reset_index(drop=True)
    head = pd.DataFrame({"draw": np.arange(len(positions)), "posterior_row": list(positions),
                         "weight": ensemble.weights[list(positions)]})
    return pd.concat([head, picked], axis=1)


def check_draws(ensemble: Ensemble, positions: Sequence[int], scenarios: Iterable[str]) -> list[dict]:
    """Each picked draw's overrides, checked against every scenario; one ScenarioError
    naming the posterior file and the draw otherwise."""
    overrides = [ensemble.overrides(p) for p in positions]
    for scenario in dict.fromkeys(scenarios):
        base = load_scenario(scenario)
        for position, values in zip(positions, overrides):
            try:
                base.with_overrides(values, "override")
            except ScenarioError as exc:
                raise ScenarioError(f"{ensemble.path}: row {position} under scenario {scenario}: "
                                    f"{str(exc).removeprefix('override: ')}") from None
    return overrides


def available_columns(scenario: str, wanted: Iterable[str]) -> list[str]:
    """Of `wanted`, the model columns the scenario's model records (a 0-step run)."""
    from experiments.batch.runner import simulate_model

    have = set(simulate_model(scenario, {}, 0, 0).columns)
    return [c for c in wanted if c in have]


def run_ensemble(
    scenario: str | Sequence[str], ensemble: Ensemble, n: int, seeds: Sequence[int],
    columns: Sequence[str] = (), steps: int | None = None, *, outcomes: Sequence[Any] = (),
    sample_seed: int = 0, progress: bool = True, label: str = "ensemble", **executor: Any,
) -> EnsembleRuns:
    """Run `scenario` (or each of several) over `n` draws of `ensemble` x `seeds`.

    Draws: `ensemble.sample(n, sample_seed)`; draw i runs with every seed of `seeds`
    (the same seeds for every draw and every scenario). `columns`: model reporters kept
    quarter by quarter (one row per quarter); `outcomes`: `Outcome`s (or their dicts)
    computed per run as a sweep's are. With no `columns` a run is one row.
    `executor`: `run_sweep`'s options (workers, scheduler, dask_local, client); the rows
    do not depend on it. Runs that raise are kept as rows with status 'failed' (and
    counted in `failed`), as a sweep keeps them.
    """
    from experiments import import_quickly
    from experiments.batch.runner import execute_tasks
    from experiments.batch.sweep import RunTask
    from experiments.provenance import model_version

    scenarios = [scenario] if isinstance(scenario, str) else list(scenario)
    if n < 1:
        raise EnsembleError(f"--ensemble: expected at least 1 draw, got {n}")
    if not seeds:
        raise EnsembleError("--replicates: expected at least 1 seed")
    positions = ensemble.sample(n, sample_seed)
    overrides = check_draws(ensemble, positions, scenarios)
    outcome_dicts = tuple(o if isinstance(o, dict) else o.model_dump() for o in outcomes)
    version = model_version()
    tasks = []
    for scenario_name in scenarios:
        for draw, (position, values) in enumerate(zip(positions, overrides)):
            for replicate, seed in enumerate(seeds):
                key = digest([scenario_name, draw, values, seed, steps, outcome_dicts, list(columns), version], 24)
                tasks.append(RunTask(
                    key=key, sweep=label, sample=draw, replicate=replicate, seed=int(seed),
                    scenario=scenario_name, overrides=values,
                    columns={"draw": draw, "posterior_row": int(position)}, steps=steps,
                    outcomes=outcome_dicts, series=tuple(columns), model_version=version,
                    parameters_json="",
                ))
    import_quickly("model.model")  # the model's code, before a pool forks
    counts: Counter = Counter()
    results: dict[str, pd.DataFrame] = {}
    execution = execute_tasks(tasks, executor.get("workers"), executor.get("scheduler"), executor.get("dask_local"),
                         executor.get("client"), SimpleNamespace(name=label), progress, 0, len(tasks), counts)
    try:
        for task, rows in execution:
            results[task.key] = rows
    finally:
        execution.close()
    keep = ["scenario", "draw", "posterior_row", "seed", "status", "error"]
    names = [o["name"] for o in outcome_dicts]
    frames = [results[t.key] for t in tasks]  # task order: scenario, draw, seed
    rows = pd.concat(frames, ignore_index=True)
    rows = rows[keep + names + (["quarter"] + list(columns) if columns else [])]
    failed = int((rows.drop_duplicates(["scenario", "draw", "seed"])["status"] != "ok").sum())
    return EnsembleRuns(rows.reset_index(drop=True), draws_table(ensemble, positions), list(seeds),
                        sample_seed, failed, list(columns))


def bands(rows: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    """Per quarter and column, over the runs (draws x seeds) that succeeded: how many,
    the mean, and the 5/25/50/75/95% quantiles, in the reporter's unit. Quarters where
    no run has a value (NaN: e.g. revenue shares in the initial state) are left out."""
    ok = rows[rows["status"] == "ok"]
    out = []
    for column in columns:
        grouped = ok.groupby("quarter", sort=False)[column]
        table = grouped.quantile(list(QUANTILES.values())).unstack()
        table.columns = list(QUANTILES)
        table.insert(0, "mean", grouped.mean())
        table.insert(0, "n", grouped.count())
        table.insert(0, "column", column)
        out.append(table.reset_index())
    frame = pd.concat(out, ignore_index=True)
    frame = frame[frame["n"] > 0]  # a quarter no run records the column for (a share before the first sale)
    from model.technology import parse_quarter

    order = {c: i for i, c in enumerate(columns)}
    frame["_c"], frame["_q"] = frame["column"].map(order), frame["quarter"].map(parse_quarter)
    frame = frame.sort_values(["_c", "_q"], kind="stable").drop(columns=["_c", "_q"]).reset_index(drop=True)
    frame.insert(2, "unit", [_reporter_unit(c) for c in frame["column"]])
    return frame


def _reporter_unit(column: str) -> str:
    """The reporter's own unit (bands.csv keeps the model's numbers unscaled)."""
    if column in ("smic_utilisation", "asml_china_share"):
        return "fraction (0-1)"
    if column.startswith("share_"):
        return "% of modelled foundries' revenue"
    return {"huawei_accelerators": "units per quarter", "huawei_ai_dies": "good dies per quarter"}.get(column, "")


def yearly_summary(rows: pd.DataFrame, column: str = "huawei_accelerators",
                   years: Iterable[int] = SUMMARY_YEARS) -> pd.DataFrame:
    """Per year: each run's sum of `column` over the year's quarters (units made in the
    year), then the median and the 5% and 95% quantiles over the runs. Only years every
    run reached in full (four quarters) are listed."""
    ok = rows[rows["status"] == "ok"]
    if ok.empty:
        return pd.DataFrame(columns=["year", "runs", "median", "q05", "q95"])
    year = ok["quarter"].str.slice(0, 4).astype(int)
    grouped = ok.assign(year=year).groupby(["year", "draw", "seed"])[column]
    per_run = grouped.sum()[grouped.count() == 4].reset_index()
    out = []
    for y in years:
        values = per_run.loc[per_run["year"] == y, column]
        if len(values):
            out.append({"year": y, "runs": len(values), "median": float(values.median()),
                        "q05": float(values.quantile(0.05)), "q95": float(values.quantile(0.95))})
    return pd.DataFrame(out, columns=["year", "runs", "median", "q05", "q95"])


def band_caption(n: int, k: int) -> str:
    return (f"band: 5-95% (and 25-75%) over {n} posterior draws x {k} seeds; "
            "line: median of the runs")


def ensemble_figure(table: pd.DataFrame, path: str | Path, title: str = "", events=None,
                    caption: str = "") -> Path:
    """One panel per column of `table` (`bands`): the median line, a dark 25-75% and a
    light 5-95% band against the year (the initial state, before the first quarter run, left out); the quarters of `events` (`run_events`) marked
    by numbered dashed lines with their key under the figure; `caption` under it."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    from experiments.analysis.figures import _event_key, _mark_events, add_footer, grouped_events, label, save_figure
    from model.technology import parse_quarter, quarter_year

    sns.set_theme(style="whitegrid", context="notebook")
    columns = list(dict.fromkeys(table["column"]))
    start = table["quarter"].map(parse_quarter).min() if len(table) else 0
    table = table[table["quarter"].map(parse_quarter) > start]  # the state before the first step, as run figures do
    data = table.assign(year=[quarter_year(parse_quarter(q)) for q in table["quarter"]])
    first, last = (float(data["year"].min()), float(data["year"].max())) if len(data) else (0.0, 0.0)
    groups = grouped_events(events, first, last)
    key = _event_key(groups)
    n_cols = 3
    n_rows = max(1, -(-len(columns) // n_cols))
    fig = plt.figure(figsize=(17, 4.6 * n_rows + 1.2 + 0.2 * len(key)))
    for i, column in enumerate(columns):
        ax = fig.add_subplot(n_rows, n_cols, i + 1)
        part = data[data["column"] == column]
        unit, scale = UNITS.get(column, (_reporter_unit(column), 1.0))
        x = part["year"].to_numpy(dtype=float)
        ax.fill_between(x, part["q05"] * scale, part["q95"] * scale, color="#2a6f97", alpha=0.18, lw=0,
                        label="5-95%")
        ax.fill_between(x, part["q25"] * scale, part["q75"] * scale, color="#2a6f97", alpha=0.38, lw=0,
                        label="25-75%")
        ax.plot(x, part["median"] * scale, color="#12355b", lw=1.6, label="median")
        _mark_events(ax, groups)
        ax.set_title(TITLES.get(column) or label(column))
        ax.set_xlabel("year")
        ax.set_ylabel(unit)
        ax.legend(fontsize=7, loc="best")
    fig.suptitle(title)
    intro = ["Numbered dashed lines: the quarter a measure takes effect (red: state directive, "
             "blue: subsidy, grey: export rule or its end):"] if key else []
    footer = add_footer(fig, ([caption] if caption else []) + intro, key)
    fig.tight_layout(rect=(0, footer, 1, 1))
    return save_figure(fig, path, 110)


def summary_text(summary: pd.DataFrame, n: int, k: int) -> str:
    """The yearly summary for the terminal."""
    from experiments.tables import format_table, number

    head = (f"Huawei's accelerators made per year (units): median and 90% band (5-95%) over "
            f"{n} posterior draws x {k} seeds")
    if summary.empty:
        return head + "\n  (no whole year of 2023-2030 was run)"
    rows = [[str(r.year), number(r.median), f"[{number(r.q05)}, {number(r.q95)}]"] for r in summary.itertuples()]
    return head + "\n" + format_table(rows, ["year", "median", "90% band"], [False, True, True])
