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
    lines, notes = gains_lines(a, b) if window is not None else ([], [])
    headline = tuple(outcomes or DEFAULT_OUTCOMES)
    all_outcomes = headline + tuple(gains_outcomes(lines, window)) if lines else outcomes
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
