"""Paired differences: B - A of each outcome, seed by seed, and its t interval.

A paired comparison runs scenarios A and B with the same seeds (common random
numbers), so the seed-to-seed noise the two runs share cancels in B - A. Given a
finished comparison's sweep results, this module pairs the runs by seed
(`paired_differences`), summarises each outcome's mean difference with a 95% t
interval (`summarise_differences`, scipy) and holds the result (`Comparison`: its
report and forest plot). Nothing here runs the model: `experiments.compare` does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from experiments.batch.results import SweepResults
from experiments.batch.sweep import Outcome


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
    gains: Any = None
    """The who-gains table (`experiments.compare.WhoGains`), when the comparison made one."""

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
        from experiments.analysis.figures import plot_forest

        path = Path(path) if path is not None else Path(self.results.path) / "forest.png"
        descriptions = {o: d if d.rstrip().endswith(")") else f"{d or o} ({self.units.get(o, '')})"
                        for o, d in self.descriptions.items()}
        self.figure = plot_forest(self.table, path, self.caption(), descriptions, a=self.a, b=self.b)
        return self.figure
