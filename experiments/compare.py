"""A paired comparison to a folder: scenario A against scenario B on the same seeds
(the library function behind `chipstate compare`; the statistics are
`experiments.analysis.paired`).

Each replicate runs both scenarios with one seed (common random numbers), so the
difference B - A of an outcome is measured seed by seed and the seed-to-seed noise the
two runs share cancels. The report gives each outcome's mean over seeds under A and B,
the mean paired difference and its 95% t interval (scipy), from replicates stored like
any sweep's (and resumable like one).

The classic question: what the 2025 directive adds to Huawei's AI-die output and what
it costs the other Chinese firms, 2026-2030 -- ``compare("historical",
"state_allocation")`` with the default outcomes. The AI-chip market's (issue 13): China's
delivered compute, Huawei's share of it and Nvidia's China revenue, 2025-2026, and how
well the state's priority buyers and the other Chinese buyers were served, 2026-2027 --
e.g. ``compare("state_allocation", "no_purchase_guidance")``.

The buyers' fulfilment is read from the model reporters of the two groups
(`priority_buyers_fulfilment`, `non_priority_buyers_fulfilment`; the priority buyers are
the run's ``ration_buyers`` lever).

Who gains, who loses (issue 14): every comparison also sums, over a window of quarters
(default 2020Q1-2030Q4), each money flow the model records (`model.reporters.MONEY_FLOWS`:
revenue of foundries, equipment vendors and accelerator designers, foundries' gross
profit where the model has costs, and the cost of chips to fabless firms and accelerator
buyers), in total, by country and by named firm, and reports B - A of each with its
interval (`WhoGains`; who_gains.csv beside the results). A flow the model does not
record is left out with a note, never filled in. The pair that splits the historical
run's effect: ``compare("no_controls", "controls_only")`` (the US-led controls alone)
and ``compare("no_controls", "buildout_only")`` (China's answer alone).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from experiments.analysis.paired import Comparison, outcome_unit, paired_differences, summarise_differences
from experiments.batch.runner import run_sweep
from experiments.batch.sweep import SCENARIO_PARAMETER, Outcome, Sweep, build_sweep
from experiments.outputs import compare_folder

DEFAULT_OUTCOMES: tuple[Outcome, ...] = (
    Outcome(name="huawei_accelerators_2024_2025", reporter="huawei_accelerators", stat="sum",
            start="2024Q1", end="2025Q4",
            description="Huawei's accelerators made 2024Q1-2025Q4 (units in total)"),
    Outcome(name="huawei_accelerators_2025_2026", reporter="huawei_accelerators", stat="sum",
            start="2025Q1", end="2026Q4",
            description="Huawei's accelerators made 2025Q1-2026Q4 (units in total)"),
    Outcome(name="other_china_accelerators_2025_2026", reporter="other_china_accelerators", stat="sum",
            start="2025Q1", end="2026Q4",
            description="The other Chinese designers' accelerators made 2025Q1-2026Q4 (units in total)"),
    Outcome(name="huawei_accelerators_2026_2030", reporter="huawei_accelerators", stat="sum",
            start="2026Q1", end="2030Q4",
            description="Huawei's accelerators made 2026Q1-2030Q4 (units in total)"),
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
    # China's AI-chip market (issue 13)
    Outcome(name="china_compute_2025_2026", reporter="china_compute_h100e", stat="sum",
            start="2025Q1", end="2026Q4",
            description="AI compute delivered to Chinese buyers, 2025Q1-2026Q4 (H100-equivalents in total)"),
    Outcome(name="huawei_china_share_2025_2026", reporter="huawei_china_share", stat="mean",
            start="2025Q1", end="2026Q4",
            description="Huawei's share of the accelerators delivered to Chinese buyers, 2025-2026 mean of "
                        "quarters (% of units; B - A in points)"),
    Outcome(name="nvidia_china_revenue_2025_2026", reporter="nvidia_china_revenue_usd_m", stat="sum",
            start="2025Q1", end="2026Q4",
            description="Nvidia's revenue from Chinese buyers, net of licence fees, 2025Q1-2026Q4 "
                        "(US$ million in total)"),
    Outcome(name="priority_buyers_fulfilment_2026_2027", reporter="priority_buyers_fulfilment", stat="mean",
            start="2026Q1", end="2027Q4",
            description="Share of the compute the state's priority buyers (the run's ration_buyers) ordered "
                        "that they received, 2026-2027 mean of quarters (fraction, 0-1)"),
    Outcome(name="non_priority_buyers_fulfilment_2026_2027", reporter="non_priority_buyers_fulfilment",
            stat="mean", start="2026Q1", end="2027Q4",
            description="Share of the compute the other Chinese buyers (by default ByteDance, Tencent, Alibaba, "
                        "Baidu) ordered that they received, 2026-2027 mean of quarters (fraction, 0-1)"),
)

DEFAULT_SERIES = ("huawei_accelerators", "huawei_ai_dies", "huawei_fulfilment", "other_china_fulfilment",
                  "other_china_smic_advanced_wafers")


DEFAULT_WINDOW = ("2020Q1", "2030Q4")
"""The who-gains table's window: cumulative flows over these quarters (inclusive)."""

GAINS_PREFIX = "gains_"
"""Outcome names of the who-gains table start with this (the others are the headline table's)."""

_YEAR = re.compile(r"^(\d{4})(Q[1-4])?$")


def parse_window(text: str) -> tuple[str, str]:
    """'2020-2030' (years: 2020Q1-2030Q4) or '2022Q3-2025Q2' (quarters), either end a
    year or a quarter, -> (first quarter, last quarter); ValueError saying what was
    expected otherwise (an end before the start too)."""
    from model.technology import parse_quarter

    expected = "expected START-END as years (2020-2030) or quarters (2020Q1-2030Q4)"
    parts = str(text).strip().split("-")
    matches = [_YEAR.match(part.strip()) for part in parts]
    if len(parts) != 2 or not all(matches):
        raise ValueError(f"{expected}, got {text!r}")
    start = parts[0].strip() if matches[0].group(2) else f"{matches[0].group(1)}Q1"
    end = parts[1].strip() if matches[1].group(2) else f"{matches[1].group(1)}Q4"
    if parse_quarter(start) > parse_quarter(end):
        raise ValueError(f"{expected} with START not after END, got {text!r}")
    return start, end


@dataclass(frozen=True)
class GainsLine:
    """One line of the who-gains table: a money flow's column summed over the window.
    `level` is 'total', 'country' or 'firm'; `who` the human name of the entity."""

    outcome: str
    stem: str
    label: str
    side: str
    level: str
    who: str
    country: str
    column: str


def gains_lines(a: str, b: str) -> tuple[list[GainsLine], list[str]]:
    """The who-gains table's lines for a comparison of scenarios A and B, and its notes:
    per money flow (`MONEY_FLOWS`, in order) its total, each country and each named firm,
    where both scenarios' models record the column; a flow or column one of them lacks
    is left out, with a note saying so (never estimated)."""
    from model import ChipMarketModel
    from model.reporters import MONEY_FLOWS, money_flow_layouts, slug

    layouts = [{layout.flow.stem: layout for layout in money_flow_layouts(ChipMarketModel(scenario=s, rng=0,
                                                                                          collect=()))}
               for s in (a, b)]
    lines, notes = [], []
    for flow in MONEY_FLOWS:
        present = [flow.stem in by_stem for by_stem in layouts]
        if not all(present):
            which = "either scenario's model" if not any(present) else f"{(a, b)[present.index(False)]}'s model"
            notes.append(f"{flow.label}: not recorded by {which} (its {flow.kind} carry no {flow.attr}); "
                         "left out, not estimated")
            continue
        entries_a, entries_b = (_entries(by_stem[flow.stem]) for by_stem in layouts)
        in_b = {entry[3] for entry in entries_b}
        for level, who, country, column in entries_a:
            if column not in in_b:
                notes.append(f"{flow.label}, {who}: only in {a}'s model; left out")
                continue
            name = f"{GAINS_PREFIX}{flow.stem}_{level}" + (f"_{slug(who)}" if level != "total" else "")
            lines.append(GainsLine(name, flow.stem, flow.label, flow.side, level, who, country, column))
        in_a = {entry[3] for entry in entries_a}
        notes += [f"{flow.label}, {who}: only in {b}'s model; left out"
                  for _, who, _, column in entries_b if column not in in_a]
    return lines, notes


def _entries(layout) -> list[tuple[str, str, str, str]]:
    """A flow's (level, who, country code, column): its total, each country, each named agent."""
    from model.reporters import COUNTRY_NAMES, slug

    stem = layout.flow.stem
    out = [("total", f"all {layout.flow.kind.replace('_', ' ')}", "", stem)]
    out += [("country", f"{COUNTRY_NAMES.get(c, c)} ({c})", c, f"{stem}_{c}") for c in layout.countries]
    out += [("firm", name, country, f"{stem}_{slug(name)}")
            for name, country in zip(layout.names, layout.name_countries)]
    return out


def gains_outcomes(lines: list[GainsLine], window: tuple[str, str]) -> list[Outcome]:
    """Each line's column summed over the window (US$ million in total)."""
    start, end = window
    return [Outcome(name=line.outcome, reporter=line.column, stat="sum", start=start, end=end,
                    description=f"{line.label}, {line.who}, {start}-{end} (US$ million in total)")
            for line in lines]


@dataclass
class WhoGains:
    """The who-gains table of a comparison: per line, the cumulative flow under A and
    B over `window`, the mean paired difference B - A and its 95% t interval (US$
    million), B - A as a share of A; `notes` say what was left out and why."""

    a: str
    b: str
    window: tuple[str, str]
    table: pd.DataFrame
    notes: list[str] = field(default_factory=list)

    def report(self) -> str:
        from experiments.tables import who_gains_text

        return who_gains_text(self.table, self.a, self.b, self.window, self.notes)

    def to_csv(self, path: str | Path) -> Path:
        path = Path(path)
        self.table.to_csv(path, index=False)
        return path


def who_gains_table(summary: pd.DataFrame, lines: list[GainsLine]) -> pd.DataFrame:
    """The summary rows (`summarise_differences`) of the who-gains outcomes, with each
    line's account, level and entity in front, in the lines' order."""
    rows = summary.set_index("outcome")
    out = []
    for line in lines:
        if line.outcome not in rows.index:
            continue
        row = rows.loc[line.outcome]
        out.append({"account": line.label, "side": line.side, "level": line.level, "who": line.who,
                    "country": line.country, "column": line.column, "unit": "US$ million in total",
                    "n": int(row["n"]),
                    **{k: float(row[k]) for k in ("mean_a", "mean_b", "mean_difference", "ci_low", "ci_high",
                                                  "relative")}})
    return pd.DataFrame(out, columns=["account", "side", "level", "who", "country", "column", "unit", "n",
                                      "mean_a", "mean_b", "mean_difference", "ci_low", "ci_high", "relative"])


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


def _comparison_outcomes(a: str, b: str, outcomes, window):
    """The headline outcomes, the who-gains lines and notes, and every outcome the runs
    compute (None: the default outcomes, no who-gains table)."""
    lines, notes = gains_lines(a, b) if window is not None else ([], [])
    headline = tuple(outcomes or DEFAULT_OUTCOMES)
    all_outcomes = headline + tuple(gains_outcomes(lines, window)) if lines else outcomes
    return headline, lines, notes, all_outcomes


def compare(
    a: str = "historical", b: str = "state_allocation", *, replicates: int = 10,
    base_seed: int = 0, outcomes: tuple[Outcome | dict, ...] | None = None,
    steps: int | None = None, out: str | Path | None = None, progress: bool = True,
    overwrite: bool = False, window: tuple[str, str] | str | None = DEFAULT_WINDOW, **executor: Any,
) -> Comparison:
    """Run (or resume) the paired replicates of A and B and summarise B - A.

    `executor` takes `run_sweep`'s executor options (workers, scheduler, dask_local,
    client). Results go to `out` (default `experiments.outputs.compare_folder`: named by
    the scenarios, seeds and steps, so comparisons of other settings never share a
    folder). An `out` holding a comparison of other settings is refused (OutputError)
    unless `overwrite`.

    `window` (quarters, or a string for `parse_window`; None: no who-gains table) is the
    who-gains table's: its outcomes run with the others, and the result's `gains` holds
    the table (`WhoGains`); `table`, `paired` and the forest plot keep to the headline
    outcomes.
    """
    window = parse_window(window) if isinstance(window, str) else window
    headline, lines, notes, all_outcomes = _comparison_outcomes(a, b, outcomes, window)
    sweep = comparison_sweep(a, b, replicates, base_seed=base_seed, outcomes=all_outcomes, steps=steps)
    custom = None if outcomes is None else [dict(o) if isinstance(o, dict) else o.model_dump() for o in outcomes]
    if out is None:
        out = compare_folder(a, b, replicates, base_seed, steps, custom,
                             window=None if window in (None, DEFAULT_WINDOW) else window)
    out = Path(out)
    results = run_sweep(sweep, out, progress=progress, overwrite=overwrite, exact=True, **executor)
    paired = paired_differences(results, a, b)
    summary = summarise_differences(paired)
    is_gain = summary["outcome"].str.startswith(GAINS_PREFIX)
    table = summary[~is_gain].reset_index(drop=True)
    paired = paired[~paired["outcome"].str.startswith(GAINS_PREFIX)].reset_index(drop=True)
    headline_names = {(o if isinstance(o, Outcome) else Outcome(**o)).name for o in headline}
    comparison = Comparison(a, b, table, paired, results,
                            units={o.name: outcome_unit(o) for o in sweep.outcomes if o.name in headline_names},
                            descriptions={o.name: o.description for o in sweep.outcomes
                                          if o.name in headline_names})
    if window is not None:
        comparison.gains = WhoGains(a, b, window, who_gains_table(summary, lines), notes)
    comparison.plot()  # forest.png beside the results
    return comparison


# ------------------------------------------------------------ over a posterior ensemble
POSTERIOR_COLUMNS = ("post_n", "post_mean_a", "post_mean_b", "post_mean_difference", "post_q05", "post_q95")
"""What `compare_ensemble` adds to each line of the comparison and who-gains tables:
over the N draws x K seeds, how many pairs, the means under A and B, the mean paired
difference B - A and its 5% and 95% quantiles (the posterior interval)."""


def posterior_intervals(rows: pd.DataFrame, a: str, b: str, names: list[str]) -> pd.DataFrame:
    """Per outcome: B - A paired by (draw, seed) over the ensemble's runs that succeeded
    under both scenarios; `POSTERIOR_COLUMNS`, in the outcome's unit."""
    ok = rows[rows["status"] == "ok"]
    wide = ok.pivot_table(index=["draw", "seed"], columns="scenario", values=names, aggfunc="first")
    out = []
    for name in names:
        if (name, a) not in wide.columns or (name, b) not in wide.columns:
            continue
        pair = wide[[(name, a), (name, b)]].dropna()
        d = (pair[(name, b)] - pair[(name, a)]).to_numpy(dtype=float)
        n = len(d)
        out.append({"outcome": name, "post_n": n, "post_mean_a": float(pair[(name, a)].mean()),
                    "post_mean_b": float(pair[(name, b)].mean()),
                    "post_mean_difference": float(d.mean()) if n else float("nan"),
                    "post_q05": float(np.quantile(d, 0.05)) if n else float("nan"),
                    "post_q95": float(np.quantile(d, 0.95)) if n else float("nan")})
    return pd.DataFrame(out, columns=["outcome", *POSTERIOR_COLUMNS])


@dataclass
class EnsembleComparison:
    """The posterior side of a comparison: its runs (`experiments.ensemble.EnsembleRuns`),
    the posterior file, N and the seeds."""

    posterior: Path
    provenance: dict
    n: int
    seeds: list[int]
    runs: Any
    failed: int = 0


def compare_folder_ensemble(a: str, b: str, replicates: int, base_seed: int, steps: int | None, n: int,
                            posterior: Path, default_posterior: Path | None,
                            window: tuple[str, str] | None) -> Path:
    """The default folder of `compare_ensemble`: the comparison's, with -ensemble<N>
    (and -p<hash> for a posterior file other than the default)."""
    from experiments.outputs import digest

    folder = compare_folder(a, b, replicates, base_seed, steps, None,
                            window=None if window in (None, DEFAULT_WINDOW) else window)
    name = f"{folder.name}-ensemble{n}"
    if default_posterior is None or Path(posterior).resolve() != Path(default_posterior).resolve():
        name += "-p" + digest(str(Path(posterior).resolve()), 6)
    return folder.with_name(name)


def compare_ensemble(
    a: str, b: str, ensemble, n: int, *, replicates: int = 10, base_seed: int = 0,
    steps: int | None = None, out: str | Path | None = None, progress: bool = True, overwrite: bool = False,
    window: tuple[str, str] | str | None = DEFAULT_WINDOW, default_posterior: Path | None = None,
    **executor: Any,
) -> Comparison:
    """`compare` (the seed-only intervals, at the fitted parameters), then A and B over
    the same N posterior draws (`ensemble.sample(n, base_seed)`) x the same seeds
    (base_seed.., `replicates` of them), paired draw by draw and seed by seed: each
    headline and who-gains line gains `POSTERIOR_COLUMNS` beside its t interval. The
    runs go to ensemble_runs.parquet and the draws to draws.parquet in the folder,
    what made them to ensemble.json. Every draw is checked against both scenarios
    before anything runs or is written."""
    from experiments.ensemble import EnsembleError, check_draws, run_ensemble
    from experiments.outputs import write_json_atomic, write_parquet_atomic

    if n < 1:
        raise EnsembleError(f"--ensemble: expected at least 1 draw, got {n}")
    check_draws(ensemble, ensemble.sample(n, base_seed), (a, b))
    window = parse_window(window) if isinstance(window, str) else window
    if out is None:
        out = compare_folder_ensemble(a, b, replicates, base_seed, steps, n, ensemble.path, default_posterior,
                                      window)
    comparison = compare(a, b, replicates=replicates, base_seed=base_seed, steps=steps, out=out,
                         progress=progress, overwrite=overwrite, window=window, **executor)
    _, lines, _, all_outcomes = _comparison_outcomes(a, b, None, window)
    seeds = [base_seed + r for r in range(replicates)]
    runs = run_ensemble([a, b], ensemble, n, seeds, (), steps, outcomes=all_outcomes or DEFAULT_OUTCOMES,
                        sample_seed=base_seed, progress=progress,
                        label=f"compare-{_label(a)}-vs-{_label(b)}-ensemble{n}", **executor)
    names = [o.name for o in (all_outcomes or DEFAULT_OUTCOMES)]
    post = posterior_intervals(runs.rows, a, b, names)
    comparison.table = comparison.table.merge(post, on="outcome", how="left")
    if comparison.gains is not None:
        by_column = post.assign(column=post["outcome"].map({line.outcome: line.column for line in lines}))
        comparison.gains.table = comparison.gains.table.merge(
            by_column.drop(columns="outcome").dropna(subset=["column"]), on="column", how="left")
    folder = Path(comparison.results.path)
    write_parquet_atomic(folder / "ensemble_runs.parquet", runs.rows)
    write_parquet_atomic(folder / "draws.parquet", runs.draws)
    write_json_atomic(folder / "ensemble.json", {
        "a": a, "b": b, "posterior": str(ensemble.path), "posterior_provenance": ensemble.provenance,
        "posterior_draws": len(ensemble), "posterior_effective_size": round(ensemble.effective_size, 2),
        "ensemble": n, "replicates": replicates, "seeds": seeds, "sample_seed": base_seed,
        "posterior_rows": runs.draws["posterior_row"].tolist(), "steps": steps, "failed_runs": runs.failed,
    })
    comparison.ensemble = EnsembleComparison(ensemble.path, ensemble.provenance, n, seeds, runs, runs.failed)
    return comparison


def _interval(low: float, high: float, missing: str) -> str:
    from experiments.tables import number

    return f"[{number(low, True)}, {number(high, True)}]" if np.isfinite(low) and np.isfinite(high) else missing


def ensemble_report(comparison: Comparison) -> str:
    """The headline table with both intervals: the seed-only 95% t interval (at the
    fitted parameters) beside the posterior mean and 5-95% interval of B - A over the
    N draws x K seeds."""
    from experiments.tables import clip, format_table, number

    info = comparison.ensemble
    table = comparison.table
    n = int(table["n"].max()) if len(table) else 0
    lines = [f"{comparison.b} minus {comparison.a}: paired differences B - A. Seeds: mean over {n} seeds at the "
             f"fitted parameters, 95% t interval. Posterior: mean and 5-95% interval over {info.n} posterior draws "
             f"x {len(info.seeds)} seeds ({info.posterior.name}; the same draws and seeds under both). "
             f"A = {comparison.a}, B = {comparison.b}", ""]
    rows = []
    for row in table.itertuples():
        rows.append([row.outcome, clip(comparison.units.get(row.outcome, ""), 34), number(row.mean_a),
                     number(row.mean_b), number(row.mean_difference, True),
                     _interval(row.ci_low, row.ci_high, "[needs 2+ seeds]"),
                     number(row.post_mean_difference, True), _interval(row.post_q05, row.post_q95, "[no runs]")])
    lines.append(format_table(rows, ["outcome", "unit", "A", "B", "B - A (seeds)", "95% t interval (seeds)",
                                     "B - A (posterior)", "5-95% (draws x seeds)"],
                              [False, False, True, True, True, True, True, True]))
    failed = len(comparison.results.failed)
    if failed or info.failed:
        lines.append(f"{failed} seed run(s) and {info.failed} ensemble run(s) failed; see {comparison.results.path}")
    return "\n".join(lines)


def ensemble_gains_report(gains: WhoGains, info: EnsembleComparison) -> str:
    """The who-gains table with both intervals (US$ million over the window)."""
    from experiments.tables import format_table, number

    table = gains.table
    n = int(table["n"].max()) if len(table) else 0
    w = gains.window
    lines = [f"Who gains, who loses: {gains.b} minus {gains.a}, each flow summed over {w[0]}-{w[1]} (US$ m). "
             f"Seeds: mean paired difference over {n} seeds at the fitted parameters, 95% t interval. Posterior: "
             f"mean and 5-95% over {info.n} draws x {len(info.seeds)} seeds. A = {gains.a}, B = {gains.b}."]
    header = ["who", "A", "B", "B - A (seeds)", "95% t interval (seeds)", "B - A (posterior)",
              "5-95% (draws x seeds)"]
    for account, rows in table.groupby("account", sort=False):
        cells = []
        for row in rows.itertuples():
            who = row.who if row.level != "firm" else f"  {row.who} ({row.country})"
            cells.append([who, number(row.mean_a), number(row.mean_b), number(row.mean_difference, True),
                          _interval(row.ci_low, row.ci_high, "[needs 2+ seeds]"),
                          number(row.post_mean_difference, True),
                          _interval(row.post_q05, row.post_q95, "[no runs]")])
        lines += ["", f"{account} ({rows['side'].iloc[0]})",
                  format_table(cells, header, [False, True, True, True, True, True, True])]
    if gains.notes:
        lines += ["", "Left out:"] + [f"  - {note}" for note in gains.notes]
    return "\n".join(lines)
