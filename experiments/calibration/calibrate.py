"""Calibration: fit a small, named set of uncertain parameters to in-sample data.

`calibrate` runs the historical scenario from the code's defaults (never from an
earlier fit, so that a re-run reproduces the result) over common seeds, compares it with
the in-sample rows of the calibration data (periods up to 2023Q4, not flagged weak) and
minimises the objective below with scipy.optimize. `write_fitted` stores the values with
their provenance (date, objective, rows used, seeds, method) in
model/data/fitted_parameters.toml, which every scenario then starts from.

Objective: the weighted mean of squared errors over the rows used (the quantities in
TARGETS), each error in points when the row is a percentage (a revenue share 2 points off
counts 2) and in percent of the data value otherwise (a capacity 5% off counts 5). Weak rows (estimates, plans, approx.) are
left out, except the SMIC yield rows, which are the only evidence on SMIC's learning and
count with weight 0.5. ASML's China share speaks to how much Chinese fabs stockpiled
before the Dutch rules (`stockpile_factor`).
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import optimize

from experiments.outputs import write_text_atomic
from experiments.calibration.observed import DATA_FILE, quarters_of, read_data
from experiments.calibration.validate import compare_with_data, modelled_foundries, run_seeds
from model.scenario import FITTED_FILE, load_scenario
from model.technology import parse_quarter

SEEDS = (11, 12, 13)
RUN_END = "2025Q1"  # the last quarter any row the objective uses names (SMIC yields)
TARGETS = {
    # The in-sample targets the free parameters speak to: market shares, SMIC's size,
    # load, customers and yields. Revenue levels and other foundries' node capacities
    # depend on the world's initial conditions, not on these parameters; `chipstate
    # validate` reports them.
    "foundry_revenue_share", "capacity_8in_eq_per_month", "utilization",
    "revenue_share_by_customer_region", "yield_estimate",
    # ASML's China share (its annual rows: ANNUAL_ONLY): its 2023 rise is Chinese fabs'
    # stockpiling before the Dutch rules, which `stockpile_factor` sizes. Its level also
    # holds the memory makers' and IDMs' purchases, a dated input (world `tool_buyers`).
    "asml_china_share",
}
ANNUAL_ONLY = {
    # Quantities whose quarterly rows time an event that other parameters time (when the
    # stockpiled tools ship: the vendors' lead times) while their annual rows size it;
    # only the annual rows are fitted. ASML's 2023Q3/2023Q4 shares (46%, 39%) are left
    # to validation: the model ships the rush by 2023Q3 (about 62% and 22% at the fit).
    "asml_china_share",
}
YIELD_WEIGHT = 0.5


@dataclass(frozen=True)
class FreeParameter:
    """One fitted dimension: a parameter (or one foundry's preference multiplier), its
    start, bounds, and whether it is searched on a log scale."""

    name: str
    start: float
    low: float
    high: float
    log: bool = False
    foundry: str | None = None  # for foundry_preference entries

    def to_search(self, value: float) -> float:
        return float(np.log(value)) if self.log else float(value)

    def from_search(self, x: float) -> float:
        value = float(np.exp(x)) if self.log else float(x)
        return float(np.clip(value, self.low, self.high))


FREE = (
    # ai_demand_growth is left out on purpose: the in-sample rows end in 2023, before the
    # AI build-out shows, and shares alone would trade it against foundry preferences.
    FreeParameter("smic_yield_half_life_wafers", 250_000.0, 20_000.0, 5_000_000.0, log=True),
    FreeParameter("derisk_factor", 1.15, 1.0, 2.0),
    FreeParameter("foundry_preference", 1.0, 0.3, 3.0, log=True, foundry="Samsung"),
    FreeParameter("foundry_preference", 1.0, 0.3, 3.0, log=True, foundry="UMC"),
    FreeParameter("foundry_preference", 1.0, 0.3, 3.0, log=True, foundry="GlobalFoundries"),
    FreeParameter("foundry_preference", 1.0, 0.3, 3.0, log=True, foundry="SMIC"),
    # Issue 14's: how fast Chinese firms bring mature-node orders home (SMIC's China
    # revenue share and load speak to it). The base markup (base_lerner) is left out:
    # one margin row (SMIC 2022) would push it against the 2020 wafer prices it must
    # keep; validate reports that row.
    FreeParameter("localisation_rate", 0.005, 0.0, 0.015),
    # How fast a foundry can put tools into service (cleanroom space): SMIC's capacity
    # rows (2022Q4, 2023Q4) and its load rows (2021-2023Q4) speak to it.
    FreeParameter("install_rate", 0.06, 0.03, 0.12),
    # How much more than they need Chinese fabs order of a tool a rule will cut, between
    # its announcement and its effect: ASML's China share in 2023 speaks to it.
    FreeParameter("stockpile_factor", 1.0, 0.0, 4.0),
)


def overrides_for(values: list[float]) -> dict:
    """Parameter overrides for one point of the search space."""
    out: dict = {"foundry_preference": {}}
    for spec, value in zip(FREE, values):
        if spec.foundry:
            out["foundry_preference"][spec.foundry] = value
        else:
            out[spec.name] = value
    return out


def target_rows(data: pd.DataFrame, runs: list[dict], foundries: set[str]) -> pd.DataFrame:
    """The rows the objective uses: spoken to, in sample, hard or SMIC yields."""
    table = compare_with_data(data, runs, foundries)
    spoken = table[table["speaks"]].copy()
    yields = (spoken["quantity"] == "yield_estimate") & spoken["entity"].str.contains("SMIC")
    keep = spoken["in_sample"].astype(bool) & spoken["hard_target"].astype(bool)
    keep |= yields
    keep &= spoken["quantity"].isin(TARGETS)
    keep &= ~spoken["quantity"].isin(ANNUAL_ONLY) | spoken["period"].astype(str).str.fullmatch(r"\d{4}")
    spoken = spoken[keep]
    spoken["weight"] = np.where(yields[keep], YIELD_WEIGHT, 1.0)
    percent = spoken["unit"].str.startswith("%") | spoken["unit"].str.contains("% of")
    scaled = np.where(percent, spoken["error"], 100 * spoken["error"] / spoken["data_value"].abs())
    spoken["scaled_error"] = scaled
    return spoken


def objective(values: list[float], data: pd.DataFrame, seeds=SEEDS) -> tuple[float, pd.DataFrame]:
    """Mean weighted squared scaled error of the historical scenario at `values`."""
    scenario = load_scenario("historical", fitted=False).with_overrides({**overrides_for(values), "end": RUN_END})
    runs = run_seeds(scenario, list(seeds))
    last = parse_quarter(RUN_END)
    placeable = data["period"].map(lambda p: bool(quarters_of(p)) and parse_quarter(quarters_of(p)[-1]) <= last)
    rows = target_rows(data[placeable], runs, modelled_foundries(runs))
    value = float(np.average(rows["scaled_error"] ** 2, weights=rows["weight"]))
    return value, rows


@dataclass
class Fit:
    values: dict
    objective_value: float
    start_value: float
    rows: pd.DataFrame
    evaluations: int
    seeds: tuple[int, ...]
    data_file: str


def calibrate(data_file: str | Path = DATA_FILE, max_evaluations: int = 250, seeds=SEEDS,
              progress=True) -> Fit:
    """Fit FREE to the in-sample rows with Powell's method (bounded) on the search scale.

    Powell's line searches along each parameter suit this objective, which is flat in
    some directions and noisy in others (Nelder-Mead stalled on a bound, 1.5 points
    above the optimum Powell finds in half the evaluations).

    `progress`: True shows a tqdm bar on stderr over the evaluations (the objective
    now and the best so far); a callable is called with each evaluation's objective
    instead; False shows nothing."""
    import sys

    from tqdm import tqdm

    data = read_data(data_file)
    start = [spec.to_search(spec.start) for spec in FREE]
    # Powell may overrun maxfev by a line search; the bar's total is the budget plus
    # the start and the final evaluation.
    bar = tqdm(total=max_evaluations + 2, desc="calibrate", unit="eval", file=sys.stderr,
               disable=progress is not True, leave=False)
    best = [np.inf, None]  # the lowest objective evaluated, and where

    def f(x):
        values = [spec.from_search(v) for spec, v in zip(FREE, x)]
        value, _ = objective(values, data, seeds)
        if value < best[0]:
            best[:] = [value, np.array(x, dtype=float)]
        bar.update(1)
        bar.set_postfix_str(f"objective {value:.4g}, best {best[0]:.4g}", refresh=False)
        if callable(progress):
            progress(value)
        return value

    try:
        start_value = f(start)
        bounds = [(spec.to_search(spec.low), spec.to_search(spec.high)) for spec in FREE]
        result = optimize.minimize(
            f, start, method="Powell", bounds=bounds,
            options={"maxfev": max_evaluations, "xtol": 1e-2, "ftol": 1e-3},
        )
        # Powell returns its last accepted point; a short budget can stop it above the
        # best point it evaluated, so the fit is the best evaluated point.
        x = result.x if result.fun <= best[0] else best[1]
        fitted = [spec.from_search(v) for spec, v in zip(FREE, x)]
        value, rows = objective(fitted, data, seeds)
        bar.update(1)
    finally:
        bar.close()
    return Fit(overrides_for(fitted), value, start_value, rows, int(result.nfev), tuple(seeds), str(data_file))


def toml_value(value) -> str:
    """A value as TOML writes it (strings quoted, lists bracketed, floats by repr)."""
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return repr(float(value)) if isinstance(value, float) else str(value)


def write_fitted(fit: Fit, path: Path = FITTED_FILE) -> Path:
    """Write the fitted values and their provenance as TOML (temp file + rename)."""
    rows = [f"{r.quantity} | {r.entity} | {r.period}" for r in fit.rows.itertuples()]
    lines = [
        "# Written by `chipstate calibrate`. Do not edit by hand: re-run the command.",
        "# Every scenario starts from these values; a scenario's [parameters] override them.",
        "",
        "[provenance]",
        f"date = {toml_value(dt.date.today().isoformat())}",
        'scenario = "historical"',
        f"data = {toml_value(Path(fit.data_file).name)}",
        f"seeds = {toml_value(list(fit.seeds))}",
        'method = "scipy.optimize.minimize(Powell, bounded) from the code defaults, on log scale for multipliers and half-lives"',
        'objective = "mean weighted squared error; points for percentages, percent of the data value otherwise; SMIC yield rows weight 0.5"',
        f"objective_value = {fit.objective_value:.6g}",
        f"objective_at_defaults = {fit.start_value:.6g}",
        f"evaluations = {fit.evaluations}",
        f"rows = {toml_value(rows)}",
        "",
        "[parameters]",
    ]
    for name, value in fit.values.items():
        if not isinstance(value, dict):
            lines.append(f"{name} = {toml_value(round(value, 6))}")
    for name, value in fit.values.items():
        if isinstance(value, dict):
            lines += ["", f"[parameters.{name}]"]
            lines += [f"{toml_value(k)} = {round(v, 6)!r}" for k, v in value.items()]
    write_text_atomic(path, "\n".join(lines) + "\n")
    return path
