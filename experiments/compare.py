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
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

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
    results = run_sweep(sweep, out, progress=progress, overwrite=overwrite, exact=True, **executor)
    paired = paired_differences(results, a, b)
    table = summarise_differences(paired)
    comparison = Comparison(a, b, table, paired, results,
                            units={o.name: outcome_unit(o) for o in sweep.outcomes},
                            descriptions={o.name: o.description for o in sweep.outcomes})
    comparison.plot()  # forest.png beside the results
    return comparison
