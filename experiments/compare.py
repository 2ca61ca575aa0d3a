"""Paired comparisons: scenario A against scenario B on the same seeds.

Each replicate runs both scenarios with one seed (common random numbers), so the
difference B - A of an outcome is measured seed by seed and the seed-to-seed noise the
two runs share cancels. The report gives each outcome's mean over seeds under A and B,
the mean paired difference and its 95% t interval (scipy), from replicates stored like
any sweep's (and resumable like one).

The classic question: what the 2025 directive adds to Huawei's AI-die output and what
it costs the other Chinese firms, 2026-2030 -- ``compare("historical",
"state_allocation")`` with the default outcomes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from experiments.outputs import OutputError, compare_folder
from experiments.results import SweepResults
from experiments.runner import run_sweep
from experiments.sweep import SCENARIO_PARAMETER, Outcome, Sweep, build_sweep

DEFAULT_OUTCOMES: tuple[Outcome, ...] = (
    Outcome(name="huawei_ai_dies_2026_2030", reporter="huawei_ai_dies", stat="sum",
            start="2026Q1", end="2030Q4",
            description="Huawei's good AI dies made 2026Q1-2030Q4 (dies in total)"),
    Outcome(name="huawei_fulfilment_2026_2030", reporter="huawei_fulfilment", stat="mean",
            start="2026Q1", end="2030Q4",
            description="Share of Huawei's advanced-tier wafer orders served, 2026-2030 mean (fraction, 0-1)"),
    Outcome(name="other_china_fulfilment_2026_2030", reporter="other_china_fulfilment",
            stat="mean", start="2026Q1", end="2030Q4",
            description="Share of the other Chinese firms' advanced-tier orders served, 2026-2030 mean (fraction, 0-1)"),
    Outcome(name="other_china_smic_wafers_2026_2030", reporter="other_china_smic_advanced_wafers",
            stat="sum", start="2026Q1", end="2030Q4",
            description="SMIC advanced-tier wafers delivered to the other Chinese firms, 2026-2030 (wafers in total)"),
    Outcome(name="huawei_smic_wafers_2026_2030", reporter="huawei_smic_advanced_wafers",
            stat="sum", start="2026Q1", end="2030Q4",
            description="SMIC advanced-tier wafers delivered to Huawei, 2026-2030 (wafers in total)"),
    Outcome(name="smic_utilisation_2026_2030", reporter="smic_utilisation", stat="mean",
            start="2026Q1", end="2030Q4", description="SMIC utilisation, 2026-2030 mean (fraction, 0-1)"),
    Outcome(name="china_self_sufficiency_2030", reporter="china_self_sufficiency", stat="value",
            at="2030Q4", description="Share of Chinese firms' wafers made in China, 2030Q4 (fraction, 0-1)"),
)

DEFAULT_SERIES = ("huawei_ai_dies", "huawei_fulfilment", "other_china_fulfilment",
                  "other_china_smic_advanced_wafers")


def _label(scenario: str) -> str:
    return Path(scenario).stem if scenario.endswith(".toml") else scenario


def comparison_sweep(
    a: str, b: str, replicates: int, *, base_seed: int = 0,
    outcomes: tuple[Outcome | dict, ...] | None = None, steps: int | None = None,
    fixed: dict[str, Any] | None = None, series: tuple[str, ...] = DEFAULT_SERIES,
) -> Sweep:
    """The sweep behind a comparison: a grid over the scenario [A, B], R shared seeds.

    `series` are the reporters kept quarter by quarter (for plots of both paths).
    """
    return build_sweep(
        source=f"chipstate compare {a} {b}",
        name=f"compare-{_label(a)}-vs-{_label(b)}",
        description=f"Paired replicates: {a} vs {b}",
        scenario=a, steps=steps, design={"kind": "grid"},
        seeds={"replicates": replicates, "base": base_seed},
        fixed=fixed or {},
        parameters={SCENARIO_PARAMETER: {"values": [a, b]}},
        outcomes=list(outcomes or DEFAULT_OUTCOMES),
        series=list(series),
    )


def paired_differences(results: SweepResults, a: str, b: str) -> pd.DataFrame:
    """One row per seed and outcome: the value under A, under B, and B - A.

    Only seeds where both runs succeeded are paired.
    """
    ok = results.ok
    outcomes = results.outcomes
    wide = ok.pivot_table(index="seed", columns="scenario", values=outcomes, aggfunc="first")
    rows = []
    for outcome in outcomes:
        if (outcome, a) not in wide.columns or (outcome, b) not in wide.columns:
            continue
        pair = wide[[(outcome, a), (outcome, b)]].dropna()
        for seed, (value_a, value_b) in pair.iterrows():
            rows.append({"outcome": outcome, "seed": seed, "a": value_a, "b": value_b,
                         "difference": value_b - value_a})
    return pd.DataFrame(rows, columns=["outcome", "seed", "a", "b", "difference"])


def summarise_differences(paired: pd.DataFrame, confidence: float = 0.95) -> pd.DataFrame:
    """Per outcome: n pairs, mean under A and B, mean difference B - A, its t interval.

    The interval is mean +/- t(confidence, n-1) x sd / sqrt(n) of the paired
    differences (NaN with fewer than 2 pairs); `relative` is the mean difference over
    A's mean. Units are the outcome's.
    """
    rows = []
    for outcome, group in paired.groupby("outcome", sort=False):
        d = group["difference"].to_numpy(dtype=float)
        n = len(d)
        mean = float(d.mean()) if n else float("nan")
        sd = float(d.std(ddof=1)) if n > 1 else float("nan")
        half = float(stats.t.ppf(0.5 + confidence / 2, n - 1) * sd / np.sqrt(n)) if n > 1 else float("nan")
        mean_a = float(group["a"].mean())
        rows.append({
            "outcome": outcome, "n": n, "mean_a": mean_a, "mean_b": float(group["b"].mean()),
            "mean_difference": mean, "ci_low": mean - half, "ci_high": mean + half,
            "sd_difference": sd,
            "relative": mean / mean_a if mean_a else float("nan"),
        })
    return pd.DataFrame(rows, columns=["outcome", "n", "mean_a", "mean_b", "mean_difference",
                                       "ci_low", "ci_high", "sd_difference", "relative"])


def outcome_unit(outcome: Outcome | dict) -> str:
    """An outcome's unit: the last parenthesised part of its description ('... (dies in
    total)' -> 'dies in total'), else the unit of its reporter and statistic."""
    from experiments.tables import reporter_unit

    spec = outcome if isinstance(outcome, Outcome) else Outcome(**outcome)
    match = re.search(r"\(([^()]*)\)\s*$", spec.description or "")
    return match.group(1) if match else reporter_unit(spec.reporter, spec.stat)


@dataclass
class Comparison:
    """A finished comparison: the summary table, the paired rows and the raw results;
    `units` and `descriptions` by outcome, and the forest plot's path once written."""

    a: str
    b: str
    table: pd.DataFrame
    paired: pd.DataFrame
    results: SweepResults
    units: dict[str, str] = field(default_factory=dict)
    descriptions: dict[str, str] = field(default_factory=dict)
    figure: Path | None = None

    def caption(self) -> str:
        seeds = sorted(self.paired["seed"].unique()) if len(self.paired) else []
        span = f"seeds {seeds[0]}-{seeds[-1]}" if len(seeds) > 1 else f"seed {seeds[0]}" if seeds else "no seeds"
        return f"A = {self.a}, B = {self.b}; {span}"

    def report(self) -> str:
        """The table as text: one line per outcome with its unit, the means under A and
        B, B - A and its 95% t interval (in the outcome's unit, one number format) and
        B - A as a percentage of A."""
        from experiments.tables import clip, format_table, number

        n = int(self.table["n"].max()) if len(self.table) else 0
        lines = [f"{self.b} minus {self.a}: mean paired difference over {n} seeds "
                 "(the same seeds under both), 95% t interval; A = " + self.a + ", B = " + self.b, ""]
        rows = []
        for row in self.table.itertuples():
            interval = (f"[{number(row.ci_low, True)}, {number(row.ci_high, True)}]"
                        if np.isfinite(row.ci_low) else "[needs 2+ seeds]")
            relative = number(100 * row.relative, True) + "%" if np.isfinite(row.relative) else "-"
            rows.append([row.outcome, clip(self.units.get(row.outcome, ""), 34), number(row.mean_a),
                         number(row.mean_b), number(row.mean_difference, True), interval, relative])
        lines.append(format_table(rows, ["outcome", "unit", "A", "B", "B - A", "95% interval", "B - A, % of A"],
                                  [False, False, True, True, True, True, True]))
        failed = len(self.results.failed)
        if failed:
            lines.append(f"{failed} run(s) failed; see {self.results.path}")
        return "\n".join(lines)

    def plot(self, path: str | Path | None = None) -> Path:
        """Write the forest plot (default: forest.png in the comparison's folder)."""
        from experiments.figures import plot_forest

        path = Path(path) if path is not None else Path(self.results.path) / "forest.png"
        descriptions = {o: d if d.rstrip().endswith(")") else f"{d or o} ({self.units.get(o, '')})"
                        for o, d in self.descriptions.items()}
        self.figure = plot_forest(self.table, path, self.caption(), descriptions, a=self.a, b=self.b)
        return self.figure


def compare(
    a: str = "historical", b: str = "state_allocation", *, replicates: int = 10,
    base_seed: int = 0, outcomes: tuple[Outcome | dict, ...] | None = None,
    steps: int | None = None, out: str | Path | None = None, progress: bool = True,
    overwrite: bool = False, **executor: Any,
) -> Comparison:
    """Run (or resume) the paired replicates of A and B and summarise B - A.

    `executor` takes `run_sweep`'s executor options (workers, scheduler, dask_local,
    client). Results go to `out` (default `experiments.outputs.compare_folder`: named by
    the scenarios, seeds and steps, so comparisons of other settings never share a
    folder). An `out` holding a comparison of other settings is refused (OutputError)
    unless `overwrite`.
    """
    sweep = comparison_sweep(a, b, replicates, base_seed=base_seed, outcomes=outcomes, steps=steps)
    custom = None if outcomes is None else [dict(o) if isinstance(o, dict) else o.model_dump() for o in outcomes]
    out = Path(out) if out is not None else compare_folder(a, b, replicates, base_seed, steps, custom)
    _check_same_comparison(out, sweep, overwrite)
    results = run_sweep(sweep, out, progress=progress, overwrite=overwrite, **executor)
    paired = paired_differences(results, a, b)
    table = summarise_differences(paired)
    comparison = Comparison(a, b, table, paired, results,
                            units={o.name: outcome_unit(o) for o in sweep.outcomes},
                            descriptions={o.name: o.description for o in sweep.outcomes})
    comparison.plot()  # forest.png beside the results
    return comparison


def _check_same_comparison(out: Path, sweep: Sweep, overwrite: bool) -> None:
    """A folder holding a comparison of other seeds, steps or outcomes is not resumed
    into (its earlier result would be replaced) unless the caller says `overwrite`."""
    import json

    manifest = out / "manifest.json"
    if overwrite or not manifest.is_file():
        return
    try:
        earlier = json.loads(manifest.read_text()).get("sweep_digest")
    except (OSError, ValueError):
        return  # not a sweep folder: run_sweep's own folder check refuses it
    if earlier is not None and earlier != sweep.digest():
        raise OutputError(f"--out {out}: holds a comparison made with other settings; "
                          "expected a new folder, or --overwrite to replace it (nothing was written)")
