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

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from experiments.results import SweepResults
from experiments import RESULTS_DIR
from experiments.runner import run_sweep
from experiments.sweep import SCENARIO_PARAMETER, Outcome, Sweep, build_sweep

DEFAULT_OUTCOMES: tuple[Outcome, ...] = (
    Outcome(name="huawei_ai_dies_2026_2030", reporter="huawei_ai_dies", stat="sum",
            start="2026Q1", end="2030Q4",
            description="Huawei's good AI dies made 2026Q1-2030Q4 (dies, total)"),
    Outcome(name="huawei_fulfilment_2026_2030", reporter="huawei_fulfilment", stat="mean",
            start="2026Q1", end="2030Q4",
            description="Share of Huawei's advanced-tier wafer orders served, 2026-2030 mean"),
    Outcome(name="other_china_fulfilment_2026_2030", reporter="other_china_fulfilment",
            stat="mean", start="2026Q1", end="2030Q4",
            description="Share of the other Chinese firms' advanced-tier orders served, 2026-2030 mean"),
    Outcome(name="other_china_smic_wafers_2026_2030", reporter="other_china_smic_advanced_wafers",
            stat="sum", start="2026Q1", end="2030Q4",
            description="SMIC advanced-tier wafers delivered to the other Chinese firms, 2026-2030 total"),
    Outcome(name="huawei_smic_wafers_2026_2030", reporter="huawei_smic_advanced_wafers",
            stat="sum", start="2026Q1", end="2030Q4",
            description="SMIC advanced-tier wafers delivered to Huawei, 2026-2030 total"),
    Outcome(name="smic_utilisation_2026_2030", reporter="smic_utilisation", stat="mean",
            start="2026Q1", end="2030Q4", description="SMIC utilisation, 2026-2030 mean"),
    Outcome(name="china_self_sufficiency_2030", reporter="china_self_sufficiency", stat="value",
            at="2030Q4", description="Share of Chinese firms' wafers made in China, 2030Q4"),
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


@dataclass
class Comparison:
    """A finished comparison: the summary table, the paired rows and the raw results."""

    a: str
    b: str
    table: pd.DataFrame
    paired: pd.DataFrame
    results: SweepResults

    def report(self) -> str:
        """The table as text: one line per outcome, B - A with its 95% interval."""
        lines = [f"{self.b} minus {self.a}: mean paired difference over "
                 f"{int(self.table['n'].max()) if len(self.table) else 0} seeds, 95% t interval"]
        width = max((len(o) for o in self.table["outcome"]), default=10)
        lines.append(f"{'outcome':<{width}}  {'A':>12}  {'B':>12}  {'B - A':>12}  {'95% interval':>27}  {'rel.':>7}")
        for row in self.table.itertuples():
            lines.append(
                f"{row.outcome:<{width}}  {row.mean_a:>12.4g}  {row.mean_b:>12.4g}  "
                f"{row.mean_difference:>+12.4g}  [{row.ci_low:>+12.4g}, {row.ci_high:>+12.4g}]  "
                f"{row.relative:>+7.1%}"
            )
        failed = len(self.results.failed)
        if failed:
            lines.append(f"{failed} run(s) failed; see {self.results.path}")
        return "\n".join(lines)


def compare(
    a: str = "historical", b: str = "state_allocation", *, replicates: int = 10,
    base_seed: int = 0, outcomes: tuple[Outcome | dict, ...] | None = None,
    steps: int | None = None, out: str | Path | None = None, progress: bool = True,
    **executor: Any,
) -> Comparison:
    """Run (or resume) the paired replicates of A and B and summarise B - A.

    `executor` takes `run_sweep`'s executor options (workers, scheduler, dask_local,
    client). Results go to `out` (default results/compare/<A>-vs-<B>/).
    """
    sweep = comparison_sweep(a, b, replicates, base_seed=base_seed, outcomes=outcomes, steps=steps)
    out = Path(out) if out is not None else RESULTS_DIR / "compare" / sweep.name.removeprefix("compare-")
    results = run_sweep(sweep, out, progress=progress, **executor)
    paired = paired_differences(results, a, b)
    table = summarise_differences(paired)
    return Comparison(a, b, table, paired, results)
