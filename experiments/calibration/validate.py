"""Validation: the model's runs against published figures, row by row.

For every row of the data (columns quantity, entity, period, value, unit, source, note:
by default the project's two tables, model/data/calibration.csv and
model/data/accelerators.csv, `observed.data_files`; a file of one's own is read alone)
this module says whether the model can speak to it and, if it can, which series of which
frame, in which unit, over which quarters (`speaker_for`; the accelerator chain's rows
in `accelerator_speaker`, the AI-chip market's in `market_speaker`). `validate` runs a
scenario over several seeds and returns a table: the data value, the model's mean and
90% band, the error, and whether the observation falls inside the band; rows the model
cannot speak to keep their reason. Nothing here changes the model.

Each compared row also says:

- **in or out of sample** (`in_sample`): in if its period ends by 2023Q4 (`IN_SAMPLE_END`),
  the history calibration fits to (experiments/calibration/calibrate.py uses only
  in-sample hard rows of its TARGETS quantities); later periods are out of sample. The
  rule is the same for both tables; no accelerator-chain quantity is among calibrate's
  TARGETS, so for those rows in/out of sample tells where the period lies, not what was
  fitted.
- **hard target or not** (`hard_target`): not if the row is weak (`observed.is_weak`:
  weak, approx., conflict, contested, rhetorical, unknown, plan, target, guidance,
  estimate, forecast or derived in its note, unit, quantity or period), nor if the
  comparison is not like for like (`Speaker.weak`: the model's figure is a part of the
  row's, as data-centre accelerators of a firm's all-products revenue).
- **a caveat** where the comparison needs one: the row is itself an input of the world
  file (agreement by construction), the model's basis differs (stacks for revenue, units
  for money), a row's value bounds what the model reports (a month's flow against its
  quarter; a whole business against its accelerators), or its period is read in a way
  of its own (Nvidia's fiscal years).

The accelerator chain's comparisons (units converted to the data's):

- cowos_capacity, cowos_capacity_target, cowos_capacity_forecast (TSMC) and
  cowos_like_capacity_forecast (ASE + Amkor): wafers a month = the packaging house's
  capacity_packages / 60 (3 months x 20 packages an interposer wafer, an assumption of
  the world file) at the period's quarter.
- cowos_output_annual (TSMC): wafers a year = booked_packages / 20, summed over the year.
- cowos_demand_share (Nvidia): % = Nvidia's packaging_booked over the packages booked
  at the houses outside China.
- hbm_market_share(_forecast): % = the maker's shipped_stacks over all makers' (a
  period's mean of its quarters' shares); 'Samsung' is 'Samsung HBM'.
- hbm_demand: GB = all makers' ordered_stacks x 16 GB, summed; hbm_demand_units: stacks
  = ordered_stacks, summed.
- hbm_stockpile_window (Samsung -> China, a month): the maker's china_stacks in that
  quarter, which must be above the month's figure.
- hbm_china_share_of_revenue: % = the maker's china_stacks over its shipped_stacks.
- datacenter_gpu_shipments, high_end_server_gpu_shipments_forecast: units =
  accelerators_nvidia + accelerators_amd, summed over the year.
- nvidia_installed_compute: H100-equivalents = Nvidia's accelerators_h100e summed from
  the first quarter to the period's.

China's AI-chip market (issue 13: buyers of accelerators; `market_speaker`). Nvidia's
fiscal periods ('FY2025 (Feb24-Jan25)', 'FY2024 Q1-Q3') are read by
`observed.fiscal_quarters`: its year ends in late January, so FY2025 is 2024Q1-2024Q4,
each fiscal quarter the calendar quarter holding two of its three months. A share over a
period is the share of the period's totals (the quarters' shares weighted, `Speaker.weight`).

- nvidia_china_revenue: nvidia_china_revenue_usd_m (data-centre accelerators sold to
  Chinese buyers, net of licence fees) summed over the fiscal year; the data is Nvidia's
  whole China business: on the billing basis compared as it is, on the customer-HQ basis
  as an upper bound; neither a hard target.
- nvidia_china_dc_share (FY2024 Q1-Q3), nvidia_china_revenue_share (calibration.csv):
  % = Nvidia's revenue from Chinese buyers over its revenue in the period.
- nvidia_share_china_ai_chips, nvidia_china_ai_accelerator_share (calibration.csv; 'pre-
  2022' is read as 2021, 'Oct 2025' as 2025Q4), domestic_share_china_ai_chip_sales: % of
  the accelerator units delivered to Chinese buyers (nvidia_china_share,
  domestic_china_share) in the period.
- h20_shipments_forecast, ascend_910b_expected_2024: china_units_h20,
  china_units_ascend_910b summed over 2024.
- china_orders_nvidia (A800s, the four platforms) and h100_class_purchases (H800s, one
  Chinese platform): the buyers' received_nvidia_units split as Nvidia's units to
  Chinese buyers are (china_units_a800, china_units_h800); the US hyperscalers' 2023
  H100s have a reason (one buyer for four firms, A100s and H100s not told apart).
- hopper_purchases (2024): a Chinese platform's received_nvidia_units; Microsoft's, the
  'US hyperscalers' buyer's x 485/1,074 (its part of the four firms' Hoppers in the row).
- ascend_order (Baidu): its received_huawei_units, which must be above the one order.
- cambricon_units_sold: the buyers' received_cambricon_units.
- ascend_production_plan (calibration.csv; 910B and 910C, 2025): china_units_ascend_910b
  and china_units_ascend_910c summed over the year; a plan, never a hard target.
- amd_china_revenue (all products: an upper bound), china_accelerated_server_market
  (servers cost more than their chips: an upper bound) and china_ai_chip_market_value:
  amd_china_revenue_usd_m, the Chinese buyers' spent_usd_m; datacenter_gpu_revenue:
  Nvidia's revenue_usd_m; all summed over the period.

Every other quantity of accelerators.csv has its reason in `ACCELERATOR_REASONS`: inputs
of the world (bills of materials, CXMT's generation dates, rule thresholds, the Chinese
buyers' capex, Cambricon's revenue), wafer capacities the model has no conversion for,
DRAM it does not model, and IDC's shipment counts, whose definitions the model's
accelerators do not match.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.lines import Line2D

from experiments.analysis.figures import BAND, add_footer, label, save_figure
from experiments.calibration.observed import (
    COLUMNS, DATA_FILE, fiscal_quarters, is_weak, parse_range, parse_value, quarters_of, read_tables,
    remark_quarters,
)
from model.reporters import WAFERS_8IN_PER_12IN, slug
from model.scenario import Scenario
from model.technology import mid_quarter_year, parse_quarter

FIRST_QUARTER, LAST_QUARTER = parse_quarter("2019Q1"), parse_quarter("2030Q4")
IN_SAMPLE_END = parse_quarter("2023Q4")
"""A row is in sample if its period ends by this quarter (calibrate fits to such rows)."""


# ------------------------------------------------------------------ what speaks
Extractor = Callable[[dict[str, pd.DataFrame]], pd.Series]
"""frames of one run -> a series indexed by quarter label, in the data's unit."""


@dataclass(frozen=True)
class Speaker:
    """How the model speaks to a row: a series and how to aggregate it over a period."""

    series: str  # a readable name for the table ("share_tsmc", "foundry[TSMC].revenue_usd_m")
    extract: Extractor
    aggregate: str = "mean"  # 'mean' or 'sum' (flows over a year)
    caveat: str = ""  # what a reader must know to read the comparison (printed as a note)
    bound: str = ""  # '>' or '<': the model's figure must lie above / below the data's value
    weight: Extractor | None = None
    """For a share: what it is a share of, per quarter; the period's figure is then the
    weighted mean of its quarters' shares, the share of the period's totals (not the
    mean of the quarters' shares)."""
    periods: Callable[[str], list[str] | None] | None = None
    """The row's period -> the model's quarters, where `quarters_of` is not the reading
    (a firm's fiscal year: `observed.fiscal_quarters`); None: `quarters_of`."""
    weak: bool = False
    """The comparison is not like for like (the model's figure is a part of the row's,
    or another good's): not a hard target, whatever the row."""


def _empty() -> pd.Series:
    return pd.Series(dtype=float)


def _model_column(column: str, scale: float = 1.0) -> Extractor:
    """A model reporter x scale; empty if the run has no such reporter."""
    def extract(frames):
        frame = frames["model"]
        if column not in frame:
            return _empty()
        return pd.Series(frame[column].to_numpy() * scale, index=frame["quarter"])
    return extract


def _agent_column(kind: str, name: str, column: str | Callable, scale: float = 1.0) -> Extractor:
    """One agent's column (or a function of its rows) x scale; empty if the run has no
    frame of that kind."""
    def extract(frames):
        frame = frames.get(kind)
        if frame is None or not len(frame):
            return _empty()
        rows = frame[frame["name"] == name]
        values = column(rows) if callable(column) else rows[column]
        return pd.Series(np.asarray(values, dtype=float) * scale, index=rows["quarter"].to_numpy())
    return extract


def _agents_total(kind: str, column: str, scale: float = 1.0, countries_out: tuple[str, ...] = (),
                  countries: tuple[str, ...] = (), names: tuple[str, ...] = ()) -> Extractor:
    """A column summed over the agents of a kind per quarter, x scale: all but those of
    `countries_out`; only those of `countries` and only those named `names`, if given.
    Empty if the run has no frame of that kind, or none of the agents `names` names."""
    def extract(frames):
        frame = frames.get(kind)
        if frame is None or not len(frame) or (names and not frame["name"].isin(names).any()):
            return _empty()
        keep = ~frame["country"].isin(countries_out)
        if countries:
            keep &= frame["country"].isin(countries)
        if names:
            keep &= frame["name"].isin(names)
        order = pd.unique(frame["quarter"])
        total = frame[keep].groupby("quarter", sort=False)[column].sum().reindex(order, fill_value=0.0)
        return total.astype(float) * scale
    return extract


def _ratio(numerator: Extractor, denominator: Extractor, scale: float = 100.0) -> Extractor:
    """numerator / denominator x scale per quarter (NaN where the denominator is 0)."""
    def extract(frames):
        top, bottom = numerator(frames), denominator(frames)
        if not len(top) or not len(bottom):
            return _empty()
        return scale * top / bottom.reindex(top.index).replace(0.0, np.nan)
    return extract


def _times(base: Extractor, numerator: Extractor, denominator: Extractor, factor: float = 1.0) -> Extractor:
    """base x numerator / denominator x factor per quarter (0 where the denominator is 0:
    there the base, a part of it, is 0 too): a total split as another is."""
    def extract(frames):
        parts = [base(frames), numerator(frames), denominator(frames)]
        if any(not len(x) for x in parts):
            return _empty()
        top, bottom = (x.reindex(parts[0].index).fillna(0.0) for x in parts[1:])
        share = (top / bottom.where(bottom > 0)).fillna(0.0)
        return parts[0] * share * factor
    return extract


def _plus(*parts: Extractor) -> Extractor:
    def extract(frames):
        series = [part(frames) for part in parts]
        return _empty() if any(not len(x) for x in series) else sum(series[1:], series[0])
    return extract


def _cumulative(flow: Extractor) -> Extractor:
    """The running total of a per-quarter flow from the run's first quarter (a stock
    with nothing retired)."""
    def extract(frames):
        return flow(frames).cumsum()
    return extract


def _capacity_share(countries: set[str], tiers: list[str]) -> Extractor:
    """Share (%) of the modelled foundries' capacity in `tiers` held by `countries`."""
    def extract(frames):
        frame = frames["foundry"].copy()
        frame["cap"] = frame[[f"capacity_{t}" for t in tiers]].sum(axis=1)
        total = frame.groupby("quarter", sort=False)["cap"].sum()
        mine = frame[frame["country"].isin(countries)].groupby("quarter", sort=False)["cap"].sum()
        return (100 * mine / total).reindex(total.index)
    return extract


def _advanced_revenue_share(rows: pd.DataFrame) -> np.ndarray:
    adv = sum(rows[f"price_usd_{t}"] * rows[f"delivered_{t}"] for t in ("leading", "7nm"))
    total = sum(rows[f"price_usd_{t}"] * rows[f"delivered_{t}"]
                for t in ("leading", "7nm", "14nm", "28nm", "mature"))
    return (100 * adv / total.replace(0, np.nan)).to_numpy()


def speaker_for(row: pd.Series, foundries: set[str],
                agents: dict[str, set[str]] | None = None) -> tuple[Speaker | None, str]:
    """The model's way to speak to a data row, or None and the reason it cannot.
    `agents`: the names of the runs' agents by kind (`agent_names`), for the accelerator
    chain's rows (`accelerator_speaker`)."""
    q, entity = row["quantity"], str(row["entity"])
    if q in MARKET_QUANTITIES or q in CALIBRATION_MARKET_QUANTITIES:
        return market_speaker(row, agents or {})
    if q in ACCELERATOR_QUANTITIES:
        return accelerator_speaker(row, agents or {})
    if q in ("foundry_revenue_share", "foundry_revenue_share_counterpoint"):
        if entity in foundries:
            return Speaker(f"share_{slug(entity)}", _model_column(f"share_{slug(entity)}")), ""
        return None, f"foundry '{entity}' is not modelled on its own"
    if q == "foundry_revenue":
        if entity == "Top-10 total":
            return Speaker("foundry_revenue_usd_m", _model_column("foundry_revenue_usd_m"), "sum"), ""
        if entity in foundries:
            return Speaker(f"foundry[{entity}].revenue_usd_m",
                           _agent_column("foundry", entity, "revenue_usd_m"), "sum"), ""
    if q == "company_revenue" and entity in foundries:
        return Speaker(f"foundry[{entity}].revenue_usd_m",
                       _agent_column("foundry", entity, "revenue_usd_m"), "sum"), ""
    if q == "capacity_8in_eq_per_month":
        name = "Hua Hong" if entity.startswith("Hua Hong") else entity
        if name in foundries:
            return Speaker(f"foundry[{name}].capacity_wafers x 2.25 / 3",
                           _agent_column("foundry", name, "capacity_wafers", WAFERS_8IN_PER_12IN / 3)), ""
    if q == "utilization" and entity == "SMIC":
        return Speaker("smic_utilisation x 100", _model_column("smic_utilisation", 100)), ""
    if q == "revenue_share_by_customer_region" and entity == "SMIC - China":
        return Speaker("smic_china_revenue_share", _model_column("smic_china_revenue_share")), ""
    if q == "capacity_14nm_per_month" and entity == "SMIC":
        return Speaker("foundry[SMIC].capacity_14nm / 3",
                       _agent_column("foundry", "SMIC", "capacity_14nm", 1 / 3)), ""
    if q == "advanced_node_capacity_estimate" and entity.startswith("SMIC"):
        return Speaker("(smic_capacity_7nm + smic_capacity_leading) / 3",
                       lambda f: _model_column("smic_capacity_7nm", 1 / 3)(f)
                       + _model_column("smic_capacity_leading", 1 / 3)(f)), ""
    if q == "yield_estimate":
        if "SMIC" in entity:
            return Speaker("smic_yield_7nm x 100", _model_column("smic_yield_7nm", 100)), ""
        if "TSMC" in entity:
            return Speaker("foundry[TSMC].yield_leading x 100",
                           _agent_column("foundry", "TSMC", "yield_leading", 100)), ""
    if q == "annual_capacity" and entity.startswith("TSMC"):
        return Speaker("foundry[TSMC].capacity_wafers x 4",
                       _agent_column("foundry", "TSMC", "capacity_wafers", 4)), ""
    if q == "node_capacity" and entity in ("TSMC N7", "TSMC N5"):
        column = "capacity_7nm" if entity == "TSMC N7" else "capacity_leading"
        return Speaker(f"foundry[TSMC].{column} / 3", _agent_column("foundry", "TSMC", column, 1 / 3)), ""
    if q == "tsmc_revenue_share_7nm_and_below":
        return Speaker("foundry[TSMC] leading+7nm revenue share",
                       _agent_column("foundry", "TSMC", _advanced_revenue_share)), ""
    if q == "gross_margin" and entity in foundries:
        return Speaker(f"{slug(entity)}_gross_margin x 100", _model_column(f"{slug(entity)}_gross_margin", 100)), ""
    if q == "capex_guidance" and entity in foundries:
        return Speaker(f"foundry[{entity}].capex_usd_m",
                       _agent_column("foundry", entity, "capex_usd_m"), "sum"), ""
    if q in ("asml_china_share", "asml_china_share_guidance"):
        return Speaker("asml_china_share x 100", _model_column("asml_china_share", 100)), ""
    if q == "equipment_market_china":  # every buyer of tools: foundries, memory makers' and IDMs' fabs
        return Speaker("china_equipment_share x 100", _model_column("china_equipment_share", 100)), ""
    if q == "equipment_market_global":
        return Speaker("vendor_revenue_usd_m", _model_column("vendor_revenue_usd_m"), "sum"), ""
    if q == "china_equipment_self_sufficiency":
        return Speaker("china_domestic_tool_share x 100", _model_column("china_domestic_tool_share", 100)), ""
    if q == "taiwan_share_most_advanced_chips":
        return Speaker("TW share of leading+7nm capacity", _capacity_share({"TW"}, ["leading", "7nm"])), ""
    if q == "china_share_mature_capacity":
        return Speaker("CN share of 28nm+mature capacity", _capacity_share({"CN"}, ["28nm", "mature"])), ""
    return None, _reason(q, entity)


REASONS = {
    "die_area": "an input of the world (AI die areas), not an output",
    "gross_dies_per_300mm_wafer": "an input (dies per wafer follow from die area)",
    "wafer_price": "an input (reference wafer prices)",
    "equipment_segment_share": "an input (vendors' base preference weights)",
    "segment_country_share": "an input or outside the model (segments it does not trade)",
    "equipment_vendor_share_2017": "before the model's first quarter",
    "equipment_vendor_rank_note": "a ranking across all equipment markets, including segments the model lacks",
    "value_chain_country_share": "value-chain stages (design, ATP) the model does not represent",
    "equipment_segment_market_size": "market sizes in US$ of segments the model aggregates",
    "china_domestic_equipment_mandate": "an input (domestic_tool_bias of China's government)",
    "big_fund_iii_capital": "an input (the Big Fund III subsidy)",
    "scenario_loss": "macroeconomic losses; the model has no GDP",
    "asml_net_sales_by_customer_location": "EUR sales by customer location; the model keeps ASML's China share only",
    "company_revenue": "the model's vendors sell to modelled foundries only, not whole-company revenue",
    "revenue_share_by_customer_region": "the model splits SMIC's revenue into China and the rest only",
    "revenue_share_by_application": "the model has no end-application split",
    "advanced_node_capacity_target": "a national target across all foundries, not a capacity",
    "us_share_global_fab_capacity": "all fabs' capacity; the model keeps foundries' capacity only (memory and IDM fabs buy tools, not capacity)",
    "us_firms_share_global_sales": "chip sales by firm headquarters; the model sells accelerators, not chips at large",
    "design_share_scenario": "a design-revenue scenario; the model has no design revenue",
    "global_value_added_by_region": "no value given (unknown)",
    "china_share_global_semi_demand": "before the model's first quarter and a demand concept it lacks",
    "h20_writeoff": "a firm's write-off; the model has no firm accounts",
    "chip_spec": "chip specifications, not model quantities",
    "export_threshold": "rule thresholds, inputs of the scenarios",
    "china_gallium_share": "critical minerals enter only as a tool-output shock",
    "china_gallium_exports_value": "critical minerals enter only as a tool-output shock",
    "china_gallium_exports_volume": "critical minerals enter only as a tool-output shock",
    "node_capacity": "a single fab or sub-node the model's tiers do not separate",
    "yield_estimate": "a foundry the model does not track yields for",
}


def _reason(quantity: str, entity: str) -> str:
    return REASONS.get(quantity, f"no model series for {quantity} of {entity}")


# -------------------------------------------------------- the accelerator chain
PACKAGES_PER_WAFER_MONTH = 60
"""CoWoS-class packages a quarter per interposer wafer a month: 3 months x 20 packages a
300 mm interposer wafer (ASSUMPTION of the world file, [[packagers]]: an H100-class
interposer, ~2,500 mm2; range 15-30)."""
PACKAGES_PER_WAFER = PACKAGES_PER_WAFER_MONTH // 3
GB_PER_STACK = 16
"""GB a stack where a row counts HBM in GB: a 16 GB 8-Hi HBM2E/HBM3 stack, as the world
file converts accelerators.csv: hbm_demand (ASSUMPTION; HBM3E stacks hold 24-36 GB)."""

ACCELERATOR_REASONS = {
    "hbm_stacks_per_package": "an input of the world (the accelerators' bills of materials)",
    "logic_dies_per_package": "an input of the world (the accelerators' bills of materials)",
    "hbm_capacity_per_package": "a product specification in GB; the bills of materials count stacks",
    "hbm_tsv_capacity": "an input: the world file's industry HBM capacity is these wafers a month x 75 "
                        "stacks a quarter (25 a wafer, derived), split by market shares",
    "hbm_tsv_capacity_plan": "an input: the world file's industry HBM capacity at 2024 end is the industry "
                             "total of these plans x 75 stacks a quarter, split by market shares",
    "hbm_share_of_dram_revenue": "the model has no DRAM but HBM, and no HBM prices",
    "hbm_share_of_dram_bits": "the model has no DRAM but HBM",
    "cxmt_dram_output": "the model has no DRAM but HBM",
    "hbm_bit_supply_growth": "growth of bits; the model counts stacks, whose GB grew (16 -> 24-36 GB)",
    "cxmt_hbm_status": "an input (CXMT's HBM generation dates in the world file come from these milestones)",
    "china_hbm_fab_capacity_plan": "XMC is not a modelled memory maker; planned wafers a month",
    "cxmt_hbm_capacity_plan": "a plan in wafers a month (weak); CXMT's capacity in stacks is an assumption of "
                              "the world file, far below it",
    "export_rule_hbm_threshold": "rule thresholds, inputs of the scenarios",
    "export_rule_hbm_scope": "a rule's scope, an input of the scenarios",
    "amd_china_part": "a licence status, an input of the scenarios (the world's MI309 and the historical "
                      "rule us-2024-03-amd-mi309 that refuses it a licence)",
    "cambricon_revenue": "an input: the world file prices Cambricon's MLU370/590 at this revenue over "
                         "cambricon_units_sold (2024), and sizes Cambricon's AI wafer stream from it; in RMB",
    "china_hyperscaler_capex": "an input: the Chinese buyers' 2024 budgets are 56% of their 2024 capex in these "
                               "rows at RMB 7.2 a US$ (world [[buyers]]); capex also buys buildings, networks and "
                               "general servers, which the model does not have",
    "china_hyperscaler_capex_plan": "an input: the share of capex the Chinese buyers' budgets spend on "
                                    "compute (56%) is this plan's (world [[buyers]]); a plan, in RMB",
    "china_accelerator_card_shipments": "IDC counts every accelerator card shipped into China, inference "
                                        "cards the model does not have among them, and the figure is a "
                                        "lower bound ('>'): the model's data-centre accelerators delivered "
                                        "to Chinese buyers neither must exceed it nor stay below it",
    "china_ai_chip_shipments": "an ambiguous definition (all AI chips into China or domestic makers' only; a "
                               "2023 forecast, weak): the model has both (its Chinese buyers' units and "
                               "domestic_china_share) and no way to tell which this is",
}
"""Why the model cannot speak to a row of the accelerator chain, by quantity."""

ACCELERATOR_SPOKEN = {
    "cowos_capacity", "cowos_capacity_target", "cowos_capacity_forecast", "cowos_like_capacity_forecast",
    "cowos_output_annual", "cowos_demand_share", "advanced_packaging_project", "hbm_market_share",
    "hbm_market_share_forecast", "hbm_demand", "hbm_demand_units", "hbm_stockpile_window",
    "hbm_china_share_of_revenue", "datacenter_gpu_shipments", "high_end_server_gpu_shipments_forecast",
    "nvidia_installed_compute",
}
MARKET_QUANTITIES = {
    "nvidia_china_revenue", "nvidia_china_dc_share", "nvidia_share_china_ai_chips",
    "domestic_share_china_ai_chip_sales", "h20_shipments_forecast", "ascend_910b_expected_2024",
    "china_orders_nvidia", "h100_class_purchases", "hopper_purchases", "ascend_order", "cambricon_units_sold",
    "amd_china_revenue", "china_accelerated_server_market", "china_ai_chip_market_value", "datacenter_gpu_revenue",
}
"""The AI-chip market's quantities of model/data/accelerators.csv (issue 13): `market_speaker`."""
CALIBRATION_MARKET_QUANTITIES = {"nvidia_china_revenue_share", "nvidia_china_ai_accelerator_share",
                                 "ascend_production_plan"}
"""The AI-chip market's quantities of model/data/calibration.csv: `market_speaker` too."""
ACCELERATOR_QUANTITIES = ACCELERATOR_SPOKEN | MARKET_QUANTITIES | set(ACCELERATOR_REASONS)
"""The quantities of model/data/accelerators.csv: each is spoken to or has a reason."""

PACKAGER_OF = {"TSMC": "TSMC CoWoS", "ASE (incl. SPIL) + Amkor": "ASE and Amkor CoWoS-like"}
"""Data entities of CoWoS-class capacity -> the world file's packaging houses."""
INPUT_CAPACITY = ("an input: the world file's capacity at this date is this row's figure (a range's "
                  "middle), so agreement is by construction")
FORECAST_CAPACITY = ("a target or forecast against the world file's capacity, which is the realised figure "
                     "of the cowos_capacity rows at these dates (an input)")
SHARE_INPUT = ("the makers' capacities are set from the 2023 forecast and 2024Q4 shares (input); "
               "shipped shares follow them where every maker sells out")


def agent_names(runs: list[dict[str, pd.DataFrame]]) -> dict[str, set[str]]:
    """The names of a set of runs' agents by kind ('designer', 'memory', ...)."""
    return {kind: set(frame["name"].unique()) for kind, frame in runs[0].items()
            if kind not in ("model", "ledger") and "name" in frame}


def _maker(entity: str, makers: set[str]) -> str | None:
    """The memory maker a data entity names: its name, or a name that extends it
    ('Samsung' -> 'Samsung HBM': 'Samsung' is the foundry)."""
    if entity in makers:
        return entity
    return next((m for m in sorted(makers) if m.startswith(entity + " ")), None)


def accelerator_speaker(row: pd.Series, agents: dict[str, set[str]]) -> tuple[Speaker | None, str]:
    """The model's way to speak to a row of model/data/accelerators.csv, or None and the
    reason it cannot. `agents`: the runs' agent names by kind (`agent_names`)."""
    q, entity, unit = row["quantity"], str(row["entity"]), str(row["unit"])
    packagers, makers, designers = (agents.get(k, set()) for k in ("packager", "memory", "designer"))
    if q in ACCELERATOR_REASONS:
        return None, ACCELERATOR_REASONS[q]
    if q in ("cowos_capacity", "cowos_capacity_target", "cowos_capacity_forecast", "cowos_like_capacity_forecast"):
        name = PACKAGER_OF.get(entity)
        if name not in packagers:
            return None, f"'{entity}' is not a modelled packaging house"
        input_row = q in ("cowos_capacity", "cowos_like_capacity_forecast")
        return Speaker(f"packager[{name}].capacity_packages / {PACKAGES_PER_WAFER_MONTH}",
                       _agent_column("packager", name, "capacity_packages", 1 / PACKAGES_PER_WAFER_MONTH),
                       caveat=INPUT_CAPACITY if input_row else FORECAST_CAPACITY), ""
    if q == "cowos_output_annual":
        name = PACKAGER_OF.get(entity)
        if name not in packagers:
            return None, f"'{entity}' is not a modelled packaging house"
        return Speaker(f"packager[{name}].booked_packages / {PACKAGES_PER_WAFER}",
                       _agent_column("packager", name, "booked_packages", 1 / PACKAGES_PER_WAFER), "sum"), ""
    if q == "cowos_demand_share":
        if entity not in designers:
            return None, f"'{entity}' is not a modelled designer"
        return Speaker(f"designer[{entity}].packaging_booked share of CoWoS-class packages outside China",
                       _ratio(_agent_column("designer", entity, "packaging_booked"),
                              _agents_total("packager", "booked_packages", countries_out=("CN",)))
                       , caveat="the model has no custom-ASIC designers (Broadcom, Marvell, AWS, Intel: 26% "
                                "in the row's note), so its Nvidia share of the packages booked outside "
                                "China stands above a share of all CoWoS demand"), ""
    if q == "advanced_packaging_project":
        if entity.startswith("HChiplet"):
            return None, ("an input: China's domestic packaging capacity in the world file is built on it "
                          "(design capacity, plus an assumption)")
        if "CXMT" in entity:
            return None, "an HBM packaging plant planned for 2026, its unit unclear (weak); HBM is packaged " \
                         "inside the model's memory makers"
        return None, "an investment, no capacity figure; the model has no packaging investment"
    if q in ("hbm_market_share", "hbm_market_share_forecast"):
        name = _maker(entity, makers)
        if name is None:
            return None, f"'{entity}' is not a modelled memory maker"
        caveat = SHARE_INPUT
        if "shipments" not in unit:
            caveat += ("; a share of the market by revenue (or basis not stated), the model's of stacks "
                       "shipped (no HBM prices; HBM3E sells above HBM2E)")
        return Speaker(f"memory[{name}].shipped_stacks share of all makers'",
                       _ratio(_agent_column("memory", name, "shipped_stacks"),
                              _agents_total("memory", "shipped_stacks")), caveat=caveat), ""
    if q in ("hbm_demand", "hbm_demand_units"):
        if not makers:
            return None, "the runs have no memory makers"
        if q == "hbm_demand":
            return Speaker(f"memory ordered_stacks x {GB_PER_STACK} GB",
                           _agents_total("memory", "ordered_stacks", scale=GB_PER_STACK), "sum",
                           caveat=f"stacks ordered at {GB_PER_STACK} GB a stack (ASSUMPTION); the makers' 2023 "
                                  "capacity is derived from this row at the same 16 GB"), ""
        return Speaker("memory ordered_stacks", _agents_total("memory", "ordered_stacks"), "sum"), ""
    if q == "hbm_stockpile_window":
        name = _maker(entity.split("->")[0].strip(), makers)
        if name is None:
            return None, f"'{entity}' is not a modelled memory maker"
        return Speaker(f"memory[{name}].china_stacks", _agent_column("memory", name, "china_stacks"), "sum",
                       caveat="stacks shipped in one month (Dec 2-31) against the model's quarter: the "
                              "quarter must hold at least as many", bound=">"), ""
    if q == "hbm_china_share_of_revenue":
        name = _maker(entity, makers)
        if name is None:
            return None, f"'{entity}' is not a modelled memory maker"
        return Speaker(f"memory[{name}].china_stacks / shipped_stacks",
                       _ratio(_agent_column("memory", name, "china_stacks"),
                              _agent_column("memory", name, "shipped_stacks")),
                       caveat="a share of revenue; the model's is of stacks (China bought mostly HBM2E, "
                              "cheaper a stack, so its share of stacks should stand above)"), ""
    if q in ("datacenter_gpu_shipments", "high_end_server_gpu_shipments_forecast"):
        if not {"Nvidia", "AMD"} <= designers:
            return None, "the runs have no Nvidia and AMD designers"
        return Speaker("accelerators_nvidia + accelerators_amd",
                       _plus(_model_column("accelerators_nvidia"), _model_column("accelerators_amd")), "sum",
                       caveat="Nvidia's and AMD's accelerators made; the model has no Intel GPUs (~400k in "
                              "2023, weak)"), ""
    if q == "nvidia_installed_compute":
        if "Nvidia" not in designers:
            return None, "the runs have no Nvidia designer"
        return Speaker("cumulative designer[Nvidia].accelerators_h100e",
                       _cumulative(_agent_column("designer", "Nvidia", "accelerators_h100e")),
                       caveat="Nvidia's H100-equivalents made since the model's first quarter (2019), "
                              "none retired, at the quarter's end"), ""
    return None, f"no model series for {q} of {entity}"


# ------------------------------------------------------------ the AI-chip market
NVIDIA_YEAR_END_MONTH = 1
"""Nvidia's fiscal year ends in late January and is named by the calendar year it ends in
(accelerators.csv: nvidia_china_revenue, 'FY2025 (Feb24-Jan25)')."""
CHINA_PLATFORMS = ("ByteDance", "Tencent", "Alibaba", "Baidu")
"""The Chinese platform firms the data names one by one (accelerators.csv:
china_orders_nvidia, h100_class_purchases, hopper_purchases), each a buyer of the world file."""
US_HYPERSCALERS = "US hyperscalers"
US_HOPPERS_2024 = {"Microsoft": 485_000, "Meta": 224_000, "Amazon": 196_000, "Google": 169_000}
"""Hopper GPUs each US hyperscaler bought in 2024 (accelerators.csv: hopper_purchases,
Microsoft, 2024: its value and note). The world file's 'US hyperscalers' buyer stands for
these four (its source), so a firm's part of that buyer's Hoppers is its part of their sum."""

NVIDIA_FISCAL = ("Nvidia's fiscal year ends in late January: FY2025 (Feb 2024-Jan 2025) is read as 2024Q1-2024Q4, "
                 "each fiscal quarter as the calendar quarter that holds two of its three months")
NVIDIA_MODEL_REVENUE = ("the model's is data-centre accelerators sold to Chinese buyers (by headquarters), at the "
                        "world file's prices (mostly ASSUMPTIONS), net of US licence fees")
SAME_MIX = ("The buyer frame counts units by designer, not by product; every Chinese buyer chooses among the same "
            "offers by the same logit and each product is shared out pro rata, so each takes the same mix of "
            "Nvidia's parts while no rule singles out a buyer")
BUYERS_INPUT = ("the Chinese buyers' 2024 demand (world [[buyers]]) is sized from this row (~1M H20s at 0.15 "
                "H100e with the 550k Ascends expected x2): agreement in part by construction")
HOPPER_2024 = ("in 2024 all of Nvidia's parts are Hopper (H100, H200, H20; the A100 and A800 end in 2023Q4, the "
               "B200 starts in 2025Q1), so a buyer's Nvidia units that year are its Hoppers")


def nvidia_quarters(period: str) -> list[str] | None:
    """A period of an Nvidia row: a fiscal one ('FY2025 (Feb24-Jan25)', 'FY2024 Q1-Q3')
    by `fiscal_quarters`, any other by `quarters_of`."""
    if str(period).strip().startswith("FY"):
        return fiscal_quarters(period, NVIDIA_YEAR_END_MONTH)
    return quarters_of(period)


def _in_year(period: str, year: str) -> bool:
    quarters = quarters_of(period)
    return bool(quarters) and all(q.startswith(year) for q in quarters)


def market_speaker(row: pd.Series, agents: dict[str, set[str]]) -> tuple[Speaker | None, str]:
    """The model's way to speak to a row of China's AI-chip market (issue 13: buyers of
    accelerators, what they receive and pay), or None and the reason it cannot.
    `agents`: the runs' agent names by kind (`agent_names`)."""
    q, entity = row["quantity"], str(row["entity"])
    designers, buyers = agents.get("designer", set()), agents.get("buyer", set())
    if not buyers:
        return None, "the runs have no buyers of accelerators (a world without [[buyers]])"
    china_units = _agents_total("buyer", "received_units", countries=("CN",))
    nvidia_to_china = _agents_total("buyer", "received_nvidia_units", countries=("CN",))
    china_spent = _agents_total("buyer", "spent_usd_m", countries=("CN",))
    if q in ("nvidia_china_revenue", "nvidia_china_dc_share", "nvidia_china_revenue_share",
             "nvidia_china_ai_accelerator_share", "nvidia_share_china_ai_chips", "datacenter_gpu_revenue",
             "china_orders_nvidia", "h100_class_purchases", "hopper_purchases", "h20_shipments_forecast") \
            and "Nvidia" not in designers:
        return None, "the runs have no Nvidia designer"
    if q == "nvidia_china_revenue":
        if "customer-HQ" in entity:
            return Speaker("nvidia_china_revenue_usd_m", _model_column("nvidia_china_revenue_usd_m"), "sum",
                           bound="<", periods=nvidia_quarters, weak=True,
                           caveat=f"{NVIDIA_FISCAL}. Nvidia's whole China business by customer headquarters "
                                  f"(all products: gaming, networking, automotive, data centre); "
                                  f"{NVIDIA_MODEL_REVENUE}: a part of it, so it must lie below"), ""
        if "billing" in entity:
            return Speaker("nvidia_china_revenue_usd_m", _model_column("nvidia_china_revenue_usd_m"), "sum",
                           periods=nvidia_quarters, weak=True,
                           caveat=f"{NVIDIA_FISCAL}. Nvidia's whole China business billed to China and Hong "
                                  f"Kong (all products: gaming, networking, automotive, data centre); "
                                  f"{NVIDIA_MODEL_REVENUE}: not the same quantity, and neither bounds the "
                                  f"other (Chinese firms billed elsewhere are outside the billing basis: the "
                                  f"customer-HQ rows stand above it)"), ""
        return None, "a basis the row does not name (billing location or customer headquarters)"
    if q in ("nvidia_china_dc_share", "nvidia_china_revenue_share"):
        series = Speaker("nvidia_china_revenue_share (of Nvidia's accelerator revenue)", _model_column(
            "nvidia_china_revenue_share"), weight=_agent_column("designer", "Nvidia", "revenue_usd_m"),
            periods=nvidia_quarters)
        if q == "nvidia_china_dc_share":
            caveat = (f"{NVIDIA_FISCAL}. A share of Nvidia's Data Center revenue (networking too) from China and "
                      f"the other destinations the October 2023 rule added; the model's is the share of its "
                      f"accelerator revenue from Chinese buyers (China alone), over the period's revenue")
            return replace(series, caveat=caveat), ""
        caveat = ("a share of Nvidia's whole revenue (all products, billed to China and Hong Kong); the model's is "
                  "the share of its data-centre accelerator revenue from Chinese buyers, over the period's revenue. "
                  "The row's '2022' may be Nvidia's fiscal 2022 (Feb 2021-Jan 2022; its note gives fiscal "
                  "years): it is read as calendar 2022")
        return replace(series, caveat=caveat, weak=True), ""
    if q in ("nvidia_china_ai_accelerator_share", "nvidia_share_china_ai_chips"):
        series = Speaker("nvidia_china_share (of units to Chinese buyers)", _model_column("nvidia_china_share"),
                         weight=china_units)
        if q == "nvidia_china_ai_accelerator_share":
            caveat = ("a CEO's remark: Nvidia's share of China's advanced AI accelerator market; the model's is its "
                      "share of the accelerators delivered to Chinese buyers (units) over the period. 'pre-2022' "
                      "is read as 2021 (the year before the first AI-chip rules), 'Oct 2025' as 2025Q4")
            return replace(series, caveat=caveat, periods=remark_quarters), ""
        caveat = ("the ecosystem_premium parameter is fitted to this row (1.0 gives ~65%): agreement in part by "
                  "construction; Bernstein's share of China's AI processor market does not state its basis "
                  "(likely revenue), the model's is of the accelerators delivered to Chinese buyers (units) "
                  "over the period")
        return replace(series, caveat=caveat), ""
    if q == "domestic_share_china_ai_chip_sales":
        return Speaker("domestic_china_share (of units to Chinese buyers)", _model_column("domestic_china_share"),
                       weight=china_units,
                       caveat="a share of China's AI chip sales (basis not stated, likely revenue); the model's "
                              "is Chinese designers' share of the accelerators delivered to Chinese buyers "
                              "(units) over the period"), ""
    if q == "h20_shipments_forecast":
        return Speaker("china_units_h20", _model_column("china_units_h20"), "sum",
                       caveat=f"H20s delivered to Chinese buyers; {BUYERS_INPUT}"), ""
    if q == "ascend_910b_expected_2024":
        if "Huawei" not in designers:
            return None, "the runs have no Huawei designer"
        return Speaker("china_units_ascend_910b", _model_column("china_units_ascend_910b"), "sum",
                       caveat="the 910Bs Chinese firms expected to acquire (demand), against the 910Bs Huawei "
                              f"delivered to Chinese buyers (what its dies, HBM and packaging allowed); "
                              f"{BUYERS_INPUT}"), ""
    if q == "ascend_production_plan":
        products = {"Huawei Ascend 910B": "ascend_910b", "Huawei Ascend 910C": "ascend_910c"}
        if "Huawei" not in designers or entity not in products:
            return None, f"'{entity}' is not a Huawei product of the world file"
        column = f"china_units_{products[entity]}"
        return Speaker(column, _model_column(column), "sum", weak=True,
                       caveat="Huawei's plan for the year (Financial Times, Feb 2025: a plan, not output), "
                              "against the units of the product Huawei delivered to Chinese buyers (Ascends "
                              "are sold in China alone); the world dates the two products' shares from these "
                              "rows, but Huawei makes to order, so its buyers' orders set the mix"), ""
    if q == "china_orders_nvidia":
        names = tuple(name.strip() for name in entity.split("+"))
        if not set(names) <= buyers:
            return None, f"'{entity}' names buyers the world file does not have"
        return Speaker("china_units_a800 x the named buyers' part of Nvidia's units to Chinese buyers",
                       _times(_model_column("china_units_a800"),
                              _agents_total("buyer", "received_nvidia_units", names=names), nvidia_to_china), "sum",
                       caveat=f"orders for 2023 delivery, against the A800s the named buyers received in 2023: "
                              f"the A800s delivered to Chinese buyers times the named buyers' part of Nvidia's "
                              f"units to Chinese buyers. {SAME_MIX}"), ""
    if q == "h100_class_purchases":
        if entity in CHINA_PLATFORMS and entity in buyers:
            return Speaker(f"buyer[{entity}].received_nvidia_units x the H800's part",
                           _times(_agent_column("buyer", entity, "received_nvidia_units"),
                                  _model_column("china_units_h800"), nvidia_to_china), "sum",
                           caveat=f"'H100-class' for a Chinese buyer: presumably H800s (the row's note); the "
                                  f"buyer's Nvidia units times the H800's part of Nvidia's units to Chinese "
                                  f"buyers that quarter. {SAME_MIX}"), ""
        return None, (f"the model's '{US_HYPERSCALERS}' buyer stands for Microsoft, Meta, Amazon and Google together "
                      "and counts units by designer, not product: its 2023 Nvidia units mix A100s and H100s (both "
                      "sold abroad that year), so it has no H100 count to split by the note's figures")
    if q == "hopper_purchases":
        if not _in_year(row["period"], "2024"):
            return None, ("the model counts a buyer's units by designer, not product; only in 2024 are all of "
                          "Nvidia's parts Hopper")
        if entity in CHINA_PLATFORMS and entity in buyers:
            return Speaker(f"buyer[{entity}].received_nvidia_units", _agent_column("buyer", entity,
                                                                                    "received_nvidia_units"),
                           "sum", caveat=f"{HOPPER_2024}; the four platforms' part of China's demand is set from "
                                         f"their capex and these rows (world [[buyers]])"), ""
        if entity in US_HOPPERS_2024 and US_HYPERSCALERS in buyers:
            part = US_HOPPERS_2024[entity] / sum(US_HOPPERS_2024.values())
            return Speaker(f"buyer[{US_HYPERSCALERS}].received_nvidia_units x {part:.3f}",
                           _agent_column("buyer", US_HYPERSCALERS, "received_nvidia_units", part), "sum",
                           caveat=f"the model's '{US_HYPERSCALERS}' buyer stands for Microsoft, Meta, Amazon and "
                                  f"Google; {entity}'s part is its share of the four's 2024 Hoppers in the row and "
                                  f"its note ({US_HOPPERS_2024[entity]:,} of {sum(US_HOPPERS_2024.values()):,}); "
                                  f"{HOPPER_2024}; that buyer's demand is sized from this row (world [[buyers]])"), ""
        return None, f"'{entity}' is not a buyer of the world file nor one of the US hyperscalers it stands for"
    if q == "ascend_order":
        if entity not in buyers:
            return None, f"'{entity}' is not a buyer of the world file"
        return Speaker(f"buyer[{entity}].received_huawei_units", _agent_column("buyer", entity,
                                                                              "received_huawei_units"), "sum",
                       bound=">", caveat="one order of the buyer's (200 servers, ~60% delivered by October 2023); "
                                         "the model's buyer receives all its Ascends of the year, so must receive "
                                         "more"), ""
    if q == "cambricon_units_sold":
        if "Cambricon" not in designers:
            return None, "the runs have no Cambricon designer"
        return Speaker("buyers' received_cambricon_units", _agents_total("buyer", "received_cambricon_units"), "sum",
                       caveat="Cambricon's accelerators delivered to buyers (all Chinese: its parts are sold in China "
                              "alone); the row is derived from 2025's sales and their growth"), ""
    if q == "amd_china_revenue":
        if "AMD" not in designers:
            return None, "the runs have no AMD designer"
        return Speaker("amd_china_revenue_usd_m", _model_column("amd_china_revenue_usd_m"), "sum", bound="<",
                       weak=True,
                       caveat="AMD's China revenue is of all its products (CPUs, gaming, embedded), billed to "
                              "China and Hong Kong; the model's is its data-centre accelerators sold to Chinese "
                              "buyers (the MI300X, its one part, fails the 2023-10 rule's tests), a small part of "
                              "it whatever the basis"), ""
    if q == "china_accelerated_server_market":
        return Speaker("Chinese buyers' spent_usd_m", china_spent, "sum", bound="<", weak=True,
                       caveat="IDC's market is accelerated servers sold in China (their CPUs, memory, networking "
                              "and assembly too); the model's Chinese buyers' spending on accelerators (licence "
                              "fees passed on included) buys only the chips inside them, so must lie below"), ""
    if q == "china_ai_chip_market_value":
        return Speaker("Chinese buyers' spent_usd_m", china_spent, "sum",
                       caveat="the model's Chinese buyers' spending on accelerators at the world file's prices "
                              "(mostly ASSUMPTIONS), licence fees passed on included"), ""
    if q == "datacenter_gpu_revenue":
        name = entity.split(" (")[0]
        if name not in designers:
            return None, f"'{entity}' is not a modelled designer"
        return Speaker(f"designer[{name}].revenue_usd_m", _agent_column("designer", name, "revenue_usd_m"), "sum",
                       caveat="the model's accelerator revenue at the world file's prices (mostly ASSUMPTIONS: "
                              "list prices, no systems), net of US licence fees"), ""
    return None, f"no model series for {q} of {entity}"


# ---------------------------------------------------------------------- the table
def run_seeds(scenario: str | Scenario, seeds: list[int], overrides: dict | None = None) -> list[dict[str, pd.DataFrame]]:
    """The frames of one run per seed (to the scenario's end); each model is released
    once its frames are taken, so memory stays flat over many calls (calibration)."""
    from experiments.batch.runner import run_frames

    return [run_frames(scenario, s, overrides) for s in seeds]


def modelled_foundries(runs: list[dict[str, pd.DataFrame]]) -> set[str]:
    """The names of the foundries in a set of runs' frames."""
    return set(runs[0]["foundry"]["name"].unique())


def period_figure(speaker: Speaker, frames: dict[str, pd.DataFrame], quarters: list[str]) -> float:
    """What one run says for a row over its quarters: the series summed ('sum') or
    averaged ('mean'; weighted by `speaker.weight` where it has one), its missing
    quarters left out; NaN if it has none of them (or no weight in them)."""
    values = speaker.extract(frames).reindex(quarters).to_numpy(dtype=float)
    if speaker.weight is not None:
        weights = speaker.weight(frames).reindex(quarters).to_numpy(dtype=float)
        kept = ~np.isnan(values) & (np.nan_to_num(weights) > 0)
        return float(values[kept] @ weights[kept] / weights[kept].sum()) if kept.any() else np.nan
    if np.isnan(values).all():
        return np.nan
    return float(np.nansum(values) if speaker.aggregate == "sum" else np.nanmean(values))


def compare_with_data(data: pd.DataFrame, runs: list[dict[str, pd.DataFrame]], foundries: set[str]) -> pd.DataFrame:
    """One row per data row: data value (a range's middle; `data_low`/`data_high` its
    ends, a bound's value at its open side), model mean and 90% band, error, inside band,
    in or out of sample, hard target or not, and the comparison's caveat; rows the model
    cannot speak to keep their reason.

    Error, by the row's bound: '=' model mean - value; '<' / '>' how far the mean lies
    on the wrong side (0 on the right side); 'range' how far the mean lies outside the
    range (0 inside). Inside: the 5-95% band holds the value, or overlaps the range; for
    a bound, the mean is on its right side."""
    return pd.DataFrame([record for record, _ in compared_rows(data, runs, foundries)])


def compared_rows(data: pd.DataFrame, runs: list[dict[str, pd.DataFrame]], foundries: set[str]):
    """`compare_with_data`'s records one by one, each with the runs' figures for it
    (one per run, in the runs' order; None for a row the model cannot speak to)."""
    agents = agent_names(runs)
    for _, row in data.iterrows():
        record = {c: row[c] for c in COLUMNS}
        if "file" in row:
            record["file"] = row["file"]
        value, bound = parse_value(row["value"])
        ends = parse_range(row["value"]) if bound == "range" else None
        speaker, reason = speaker_for(row, foundries, agents)
        quarters = (speaker.periods if speaker is not None and speaker.periods else quarters_of)(row["period"])
        if speaker is not None and speaker.bound and bound == "=":
            bound = speaker.bound  # the row's value bounds what the model reports (a month within its quarter)
        low_end, high_end = ends or ((value, value) if bound == "=" else (np.nan, np.nan))
        record.update(data_value=value, bound=bound, data_low=low_end, data_high=high_end,
                      hard_target=not is_weak(row) and not (speaker is not None and speaker.weak),
                      caveat=speaker.caveat if speaker is not None else "")
        if speaker is not None and value is None:
            speaker, reason = None, f"value '{row['value']}' is not a number"
        if speaker is not None and quarters is None:
            speaker, reason = None, f"period '{row['period']}' is not a time the model can place"
        if speaker is not None and not all(FIRST_QUARTER <= parse_quarter(q) <= LAST_QUARTER for q in quarters):
            speaker, reason = None, f"period '{row['period']}' is outside 2019Q1-2030Q4"
        samples = []
        if speaker is not None:
            for frames in runs:
                samples.append(period_figure(speaker, frames, quarters))
            if np.isnan(samples).all():
                speaker, reason = None, f"the runs have no {speaker.series} in {row['period']}"
        if speaker is None:
            record.update(speaks=False, reason=reason, caveat="")
            yield record, None
            continue
        samples = np.asarray(samples)
        mean, low, high = np.nanmean(samples), np.nanpercentile(samples, 5), np.nanpercentile(samples, 95)
        if bound == "<":
            inside, error = bool(mean < value), max(0.0, mean - value)
        elif bound == ">":
            inside, error = bool(mean > value), min(0.0, mean - value)
        elif bound == "range":
            inside = bool(low <= high_end and high >= low_end)
            error = mean - high_end if mean > high_end else min(0.0, mean - low_end)
        else:
            inside, error = bool(low <= value <= high), mean - value
        record.update(
            speaks=True, reason="", series=speaker.series, quarters=",".join(quarters),
            model_mean=mean, model_p05=low, model_p95=high, error=error, abs_error=abs(error),
            rel_error=abs(error) / abs(value) if value else np.nan, inside_band=inside,
            in_sample=parse_quarter(quarters[-1]) <= IN_SAMPLE_END,
        )
        yield record, samples


def errors_by_quantity(table: pd.DataFrame) -> pd.DataFrame:
    """By quantity: its unit (the data's; the first row's where rows differ), the
    observations compared, the mean absolute error (in that unit), the mean relative
    error (a fraction of the data value) and how many fall inside the band (or on the
    right side of a bound)."""
    columns = ["quantity", "unit", "observations", "mae", "mean_rel_error", "inside_band"]
    spoken = table[table["speaks"]] if len(table) else table
    if not len(spoken):
        return pd.DataFrame(columns=columns)
    return (
        spoken.groupby("quantity")
        .agg(unit=("unit", "first"), observations=("data_value", "size"), mae=("abs_error", "mean"),
             mean_rel_error=("rel_error", "mean"), inside_band=("inside_band", "sum"))
        .reset_index()[columns]
    )


def errors_by_file_and_sample(table: pd.DataFrame) -> pd.DataFrame:
    """By data file and sample (in, out): the rows compared, how many fall inside the
    band (or on the right side of a bound) and their mean relative error, for every row
    and for the hard targets alone (`hard_*`). The figures a calibration is judged by."""
    columns = ["file", "sample", "rows", "inside", "mean_rel_error", "hard_rows", "hard_inside",
               "hard_mean_rel_error"]
    spoken = table[table["speaks"]] if len(table) else table
    if not len(spoken):
        return pd.DataFrame(columns=columns)
    spoken = spoken.assign(file=spoken["file"] if "file" in spoken else "data",
                           sample=np.where(spoken["in_sample"].astype(bool), "in", "out"),
                           hard=spoken["hard_target"].astype(bool), inside=spoken["inside_band"].astype(bool))
    out = []
    for (name, sample), rows in spoken.groupby(["file", "sample"], sort=True):
        hard = rows[rows["hard"]]
        out.append([name, sample, len(rows), int(rows["inside"].sum()), rows["rel_error"].mean(),
                    len(hard), int(hard["inside"].sum()), hard["rel_error"].mean()])
    return pd.DataFrame(out, columns=columns)


def projections(runs: list[dict[str, pd.DataFrame]]) -> pd.DataFrame:
    """Every model reporter to 2030Q4: mean and 5%/95% seed-to-seed band per quarter."""
    stacked = pd.concat([frames["model"].assign(seed_index=i) for i, frames in enumerate(runs)])
    numeric = stacked.drop(columns=["seed_index"]).select_dtypes("number").columns
    long = stacked.melt(id_vars=["quarter"], value_vars=list(numeric), var_name="reporter")
    grouped = long.groupby(["reporter", "quarter"])["value"]
    return pd.DataFrame({
        "mean": grouped.mean(), "p05": grouped.quantile(0.05), "p95": grouped.quantile(0.95),
    }).reset_index()


@dataclass
class Validation:
    table: pd.DataFrame
    summary: pd.DataFrame
    projections: pd.DataFrame
    runs: list[dict[str, pd.DataFrame]]
    scenario: str = ""
    seeds: tuple[int, ...] = ()
    coverage: pd.DataFrame | None = None
    """With a posterior ensemble: `coverage.coverage_summary` of the hard point rows."""
    ensemble: dict = field(default_factory=dict)
    """With a posterior ensemble: its file, draws (N), sample seed, the draws' row
    positions and the held-back window (or None)."""


def validate(scenario: str = "historical", seeds: int = 10, data: str | Path = DATA_FILE,
             first_seed: int = 1000, overrides: dict | None = None, progress: bool = True) -> Validation:
    """Run `scenario` over `seeds` seeds and compare it with every row of `data`.

    With `progress`, a bar on stderr counts the seeds' runs."""
    import sys

    from tqdm import tqdm

    rows = read_tables(data)
    seed_list = list(range(first_seed, first_seed + seeds))
    name = scenario.name if isinstance(scenario, Scenario) else Path(str(scenario)).stem
    runs = []
    for seed in tqdm(seed_list, desc=f"validate {name}", unit="seed", disable=not progress,
                     file=sys.stderr, leave=False):
        runs += run_seeds(scenario, [seed], overrides)
    foundries = modelled_foundries(runs)
    table = compare_with_data(rows, runs, foundries)
    return Validation(table, errors_by_quantity(table), projections(runs), runs, name, tuple(seed_list))


# ------------------------------------------------------------ posterior ensembles
HELD_BACK_FIELDS = ("held_back_from", "held_back_to")
"""The posterior provenance's held-back window: quarters ('2023Q3') whose rows the fit
did not see; absent, no row is held back."""


def held_back_window(ensemble) -> tuple[str, str] | None:
    """The ensemble's held-back window (first and last quarter, both given in its
    provenance), or None if its provenance names neither (absent or empty, as
    `chipstate calibrate --hold-back none` writes them); a PosteriorError naming the
    provenance file and field for a quarter that is not one, only one end, or an end
    before the start."""
    from experiments.posterior import PosteriorError, provenance_path

    where = provenance_path(ensemble.path)
    given = {name: ensemble.provenance.get(name) for name in HELD_BACK_FIELDS}
    given = {name: None if value in (None, "") else value for name, value in given.items()}
    if all(value is None for value in given.values()):
        return None
    for name, value in given.items():
        if value is None:
            other = next(n for n in HELD_BACK_FIELDS if n != name)
            raise PosteriorError(f"{where}: field 'provenance.{name}': missing; expected a quarter like '2023Q3' "
                                 f"beside provenance.{other}")
        try:
            if not isinstance(value, str):
                raise ValueError(value)
            parse_quarter(value)
        except ValueError:
            raise PosteriorError(f"{where}: field 'provenance.{name}': expected a quarter like '2023Q3', "
                                 f"got {value!r}") from None
    start, end = given["held_back_from"], given["held_back_to"]
    if parse_quarter(end) < parse_quarter(start):
        raise PosteriorError(f"{where}: field 'provenance.held_back_to': expected a quarter at or after "
                             f"held_back_from ({start}), got {end!r}")
    return start.strip(), end.strip()


def ensemble_settings(ensemble, draws: int, sample_seed: int) -> dict:
    """What makes an ensemble validation beyond a plain one's settings: the posterior
    file, a digest of its contents and its provenance file's (a posterior calibrated
    anew is another validation), the draws and the sample seed."""
    import hashlib

    from experiments.posterior import provenance_path

    content = hashlib.sha256(Path(ensemble.path).read_bytes())
    meta = provenance_path(Path(ensemble.path))
    if meta.is_file():
        content.update(meta.read_bytes())
    return {"posterior": str(Path(ensemble.path).resolve()), "posterior_sha256": content.hexdigest()[:16],
            "draws": draws, "sample_seed": sample_seed}


def _ensemble_run(task: tuple) -> dict[str, pd.DataFrame]:
    """One run of an ensemble: (scenario, seed, overrides) -> its frames."""
    from experiments.batch.runner import run_frames

    scenario, seed, overrides = task
    return run_frames(scenario, seed, overrides)


def ensemble_runs(scenario: str | Scenario, ensemble, positions: list[int], seeds: list[int],
                  overrides: dict | None = None, workers: int | None = None,
                  progress: bool = True) -> list[dict[str, pd.DataFrame]]:
    """The frames of every (draw, seed) run, draw by draw and, within a draw, seed by
    seed: draw `positions[i]` of `ensemble` with each of `seeds`. `overrides` (--set)
    apply on top of a draw's. `workers`: a local process pool of that many workers
    (the sweep runner's: forked on Linux, Ctrl-C stops it; default the CPU count, at
    most one per run); 0 runs them in this process. The result does not depend on
    `workers`: a run depends only on its scenario, seed and overrides."""
    import os
    import sys
    from concurrent.futures import ProcessPoolExecutor

    from tqdm import tqdm

    from experiments.batch.runner import stop_pool, worker_init, pool_context

    tasks = [(scenario, seed, {**ensemble.overrides(position), **(overrides or {})})
             for position in positions for seed in seeds]
    name = scenario.name if isinstance(scenario, Scenario) else Path(str(scenario)).stem
    bar = tqdm(total=len(tasks), desc=f"validate {name} ensemble", unit="run", disable=not progress,
               file=sys.stderr, leave=False)
    workers = min(os.cpu_count() or 1, len(tasks)) if workers is None else min(workers, len(tasks))
    try:
        if workers <= 0:
            runs = []
            for task in tasks:
                runs.append(_ensemble_run(task))
                bar.update()
            return runs
        pool = ProcessPoolExecutor(max_workers=workers, mp_context=pool_context(), initializer=worker_init)
        try:
            futures = [pool.submit(_ensemble_run, task) for task in tasks]
            runs = []
            for future in futures:  # in order: the runs' order is the tasks'
                runs.append(future.result())
                bar.update()
        except BaseException:  # Ctrl-C, or a run that raised: stop the other runs now
            stop_pool(pool)
            raise
        pool.shutdown(wait=True)
        return runs
    finally:
        bar.close()


def _row_rng(seed: int, record: dict) -> np.random.Generator:
    """The discrepancy errors' generator of one data row: from the sample seed and the
    row itself (quantity, entity, period, value), so a row's band does not depend on
    which other rows the data holds or their order."""
    import zlib

    key = "|".join(str(record[c]) for c in ("quantity", "entity", "period", "value"))
    return np.random.default_rng(np.random.SeedSequence([seed, zlib.crc32(key.encode())]))


def coverage_table(data: pd.DataFrame, runs: list[dict[str, pd.DataFrame]], foundries: set[str],
                   ensemble, seed: int = 0, held_back: tuple[str, str] | None = None) -> pd.DataFrame:
    """`compare_with_data`'s table with each compared row's two bands over the runs:
    model_q05..model_q95 (the runs' figures) and pred_q05..pred_q95 (each figure widened
    by `ensemble.discrepancy.scale(quantity, percent)`, `coverage.predictive_samples`, from
    `seed`), and, for rows with a point value (not a bound, not a range): inside_50 and
    inside_90 (the value inside the predictive 25-75% / 5-95% band), model_inside_50
    and model_inside_90 (inside the model's), pit (the predictive band's PIT of the
    value) and width_90 (the predictive 5-95% band's width: points for a percentage,
    % of the data value otherwise). held_back: the row's period ends in the held-back
    window; group: its coverage group (`coverage.GROUPS`) for point rows."""
    from experiments.calibration import coverage as cov

    names = cov.quantile_names()
    first, last = (parse_quarter(q) for q in held_back) if held_back else (None, None)
    out = []
    for record, samples in compared_rows(data, runs, foundries):
        if samples is None:
            record["held_back"] = False
            out.append(record)
            continue
        percent = cov.is_percent(record["unit"])
        model = np.asarray(samples, dtype=float)
        predictive = cov.predictive_samples(model, ensemble.discrepancy.scale(record["quantity"], percent),
                                            percent, _row_rng(seed, record))
        model_q, pred_q = cov.band_quantiles(model), cov.band_quantiles(predictive)
        end = parse_quarter(record["quarters"].split(",")[-1])
        record.update({f"model_{n}": v for n, v in zip(names, model_q)})
        record.update({f"pred_{n}": v for n, v in zip(names, pred_q)})
        record.update(percent=percent, held_back=bool(held_back and first <= end <= last))
        if record["bound"] == "=":
            value = record["data_value"]
            record.update(
                inside_50=cov.inside(value, predictive, 0.5), inside_90=cov.inside(value, predictive, 0.9),
                model_inside_50=cov.inside(value, model, 0.5), model_inside_90=cov.inside(value, model, 0.9),
                pit=cov.pit(value, predictive),
                width_90=cov.band_width(pred_q[0], pred_q[-1], value, percent),
                group=cov.coverage_group(record["in_sample"], record["held_back"]))
        out.append(record)
    table = pd.DataFrame(out)
    for column in ("inside_50", "inside_90", "model_inside_50", "model_inside_90", "percent"):
        if column not in table:
            table[column] = pd.NA
        table[column] = table[column].astype("boolean")
    for column in ("pit", "width_90", *(f"{k}_{n}" for k in ("model", "pred") for n in names)):
        if column not in table:
            table[column] = np.nan
    if "group" not in table:
        table["group"] = None
    return table


def validate_ensemble(ensemble, draws: int, scenario: str = "historical", seeds: int = 2,
                      data: str | Path = DATA_FILE, first_seed: int = 1000, sample_seed: int = 0,
                      overrides: dict | None = None, workers: int | None = None,
                      progress: bool = True) -> Validation:
    """`validate` over a posterior ensemble: `draws` draws of `ensemble` picked by
    weight from `sample_seed` (`Ensemble.sample`), each run with seeds first_seed ..
    first_seed + seeds - 1, so each band is over draws x seeds runs (`ensemble_runs`).
    The table is `coverage_table`'s; `coverage` is the coverage of the rows with a
    point value that are hard targets, by group (`coverage.coverage_summary`)."""
    from experiments.calibration.coverage import coverage_summary

    window = held_back_window(ensemble)
    rows = read_tables(data)
    positions = ensemble.sample(draws, sample_seed)
    seed_list = list(range(first_seed, first_seed + seeds))
    name = scenario.name if isinstance(scenario, Scenario) else Path(str(scenario)).stem
    runs = ensemble_runs(scenario, ensemble, positions, seed_list, overrides, workers, progress)
    table = coverage_table(rows, runs, modelled_foundries(runs), ensemble, sample_seed, window)
    hard = table[table["speaks"] & table["hard_target"].astype(bool)] if len(table) else table
    return Validation(table, errors_by_quantity(table), projections(runs), runs, name, tuple(seed_list),
                      coverage=coverage_summary(hard), ensemble={
                          "posterior": str(ensemble.path), "draws": draws, "sample_seed": sample_seed,
                          "positions": positions, "held_back": window})


def _seeds_text(seeds: tuple[int, ...]) -> str:
    if not seeds:
        return "seeds ?"
    if len(seeds) > 2 and list(seeds) == list(range(seeds[0], seeds[-1] + 1)):
        return f"seeds {seeds[0]}-{seeds[-1]} ({len(seeds)})"
    return "seed " + str(seeds[0]) if len(seeds) == 1 else f"seeds {', '.join(map(str, seeds))}"


def report(result: Validation, show_all: bool = False) -> str:
    """What `chipstate validate` prints: the compared rows (data against the model's
    mean and 5-95% seed band, in the data's unit, one number format), the rows the model
    cannot speak to counted by reason (listed one by one with `show_all`), and the
    summary by quantity."""
    from experiments.tables import clip, format_table, number, percent

    table = result.table
    spoken = table[table["speaks"]] if len(table) else table
    silent = table[~table["speaks"]] if len(table) else table
    n_seeds = len(result.runs)
    if result.ensemble:
        lines = [f"{result.scenario or 'scenario'} against the data, {_runs_text(result)}: "
                 f"{len(spoken)} of {len(table)} rows compared; model = mean over the runs, band = "
                 f"5-95% of the runs' values; error = model mean - data, in the data's unit", ""]
    else:
        lines = [f"{result.scenario or 'scenario'} against the data, {_seeds_text(result.seeds)}: "
                 f"{len(spoken)} of {len(table)} rows compared; model = mean over seeds, band = "
                 f"5-95% of the seeds' values; error = model mean - data, in the data's unit", ""]
    rows, caveats = [], {}
    for row in spoken.itertuples():
        if row.bound == "range":
            data_text = f"{number(row.data_low)}-{number(row.data_high)}"
        else:
            data_text = ("" if row.bound == "=" else row.bound) + number(row.data_value)
        verdict = "yes" if row.inside_band else "no"
        if row.bound in ("<", ">"):
            verdict = "yes (bound)" if row.inside_band else "no (bound)"
        caveat = getattr(row, "caveat", "") or ""
        note = f"[{caveats.setdefault(caveat, len(caveats) + 1)}]" if caveat else ""
        rows.append([clip(row.quantity, 32), clip(row.entity, 22), clip(row.period, 12), data_text,
                     number(row.model_mean), f"{number(row.model_p05)} - {number(row.model_p95)}",
                     number(row.error, signed=True), clip(row.unit, 28), verdict,
                     "in" if row.in_sample else "out", "hard" if row.hard_target else "weak", note])
    if rows:
        lines.append(format_table(rows, ["quantity", "entity", "period", "data", "model", "band 5-95%",
                                         "error", "unit", "inside", "sample", "target", "note"],
                                  [False, False, False, True, True, True, True, False, False, False, False,
                                   False]))
        lines.append("  sample: 'in' if the period ends by 2023Q4 (what calibration may fit), else 'out'; "
                     "target: 'weak' rows (weak, approx., conflict, plan, target, forecast, derived...) "
                     "are not hard targets")
        lines.extend(f"  [{n}] {text}" for text, n in caveats.items())
    else:
        lines.append("  (no row of the data is one the model can speak to)")
    lines.append("")
    if len(silent):
        lines.append(f"{len(silent)} row(s) the model cannot speak to" + (":" if show_all else
                     ", by reason (--all lists them):"))
        if show_all:
            lines.append(format_table(
                [[clip(r.quantity, 38), clip(r.entity, 28), clip(r.period, 16), clip(r.reason, 70)]
                 for r in silent.itertuples()], ["quantity", "entity", "period", "reason"]))
        else:
            counts = silent.groupby("reason").size().sort_values(ascending=False)
            lines.append(format_table([[str(n), clip(reason, 100)] for reason, n in counts.items()],
                                      ["rows", "reason"], [True, False]))
        lines.append("")
    runs_text = f"{n_seeds} run(s)" if result.ensemble else f"{n_seeds} seed(s)"
    lines.append(f"Summary by quantity (mean absolute error in the quantity's unit; inside = inside "
                 f"the 5-95% band of {runs_text}, or on the right side of a bound):")
    summary = result.summary
    if len(summary):
        lines.append(format_table(
            [[clip(r.quantity, 38), clip(r.unit, 40), str(r.observations), f"{int(r.inside_band)} of {r.observations}",
              number(r.mae), percent(r.mean_rel_error)] for r in summary.itertuples()],
            ["quantity", "unit", "rows", "inside", "mean abs. error", "mean rel. error"],
            [False, False, True, True, True, True]))
    else:
        lines.append("  (nothing compared)")
    by_file = errors_by_file_and_sample(result.table)
    if len(by_file):
        lines += ["", "Summary by file and sample (in: the period ends by 2023Q4, what calibration may fit):"]
        lines.append(format_table(
            [[r.file, r.sample, str(r.rows), str(r.inside), percent(r.mean_rel_error), str(r.hard_rows),
              str(r.hard_inside), percent(r.hard_mean_rel_error)] for r in by_file.itertuples()],
            ["file", "sample", "rows", "inside", "mean rel. error", "hard rows", "hard inside",
             "hard mean rel. error"], [False, False, True, True, True, True, True, True]))
    if result.coverage is not None:
        lines += ["", *coverage_lines(result)]
    return "\n".join(lines)


def _runs_text(result: Validation) -> str:
    ens = result.ensemble
    return (f"posterior {Path(ens['posterior']).name}: {ens['draws']} draw(s) (sample seed {ens['sample_seed']}) "
            f"x {_seeds_text(result.seeds)} = {len(result.runs)} runs")


GROUP_NAMES = {"in sample": "in sample (fitted)", "held back": "held back", "out of sample": "out of sample"}


def coverage_lines(result: Validation) -> list[str]:
    """The coverage block of the report: per group, the rows, the share inside the
    predictive and model 50% and 90% bands, and the median 90% predictive band width."""
    from experiments.tables import format_table, number, percent

    window = result.ensemble.get("held_back")
    held = f"{window[0]}-{window[1]}" if window else "none held back"
    lines = [f"Coverage over the posterior ensemble ({_runs_text(result)}):",
             "  hard-target rows with a point value (bounds and ranges left out), by group: in sample = period "
             "ends by 2023Q4 and not held back;",
             f"  held back = period ends in the posterior's held-back window ({held}); out of sample = the rest.",
             "  Predictive band = the model band widened by the posterior's model discrepancy; a calibrated "
             "ensemble has about 50% of rows inside its 50% band and 90% inside its 90% band."]
    rows = []
    for r in result.coverage.itertuples():
        widths = [text for text, value in ((f"{number(r.median_width_90_levels_pct)}% of value",
                                            r.median_width_90_levels_pct),
                                           (f"{number(r.median_width_90_points)} points", r.median_width_90_points))
                  if value == value]
        rows.append([GROUP_NAMES[r.group], str(r.rows), percent(r.inside_50), percent(r.inside_90),
                     percent(r.model_inside_50), percent(r.model_inside_90), "; ".join(widths) or "-"])
    lines.append(format_table(rows, ["group", "rows", "inside 50% (pred.)", "inside 90% (pred.)",
                                     "inside 50% (model)", "inside 90% (model)", "median 90% width (pred.)"],
                              [False, True, True, True, True, True, False]))
    lines.append("  width: the 90% predictive band's width, in % of the data value for levels and in points "
                 "for percentages")
    return lines


# ------------------------------------------------------------------------ figures
SERIES_NAMES = {"smic_yield_7nm x 100": "SMIC 7nm-class yield"}
"""Validation series that several data entities share, by a human name."""


def _series_name(series: str) -> str:
    if series in SERIES_NAMES:
        return SERIES_NAMES[series]
    if "[" in series.split(" ")[0] and "]" in series:  # foundry[TSMC].revenue_usd_m, memory[Micron]...
        return series[series.index("[") + 1:series.index("]")]
    return label(series.split(" ")[0])


def _thousands(ax) -> None:
    """Commas in large tick labels (12,000 rather than 12000)."""
    from matplotlib.ticker import FuncFormatter

    low, high = ax.get_ylim()
    if max(abs(low), abs(high)) >= 10_000:
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}"))


def _quantity_title(quantity: str) -> str:
    text = quantity.replace("_", " ")
    return text[:1].upper() + text[1:]


def plot_validation(quantity: str, rows: pd.DataFrame, runs: list[dict], path: str | Path,
                    caption: str = "", run_name: str = "seed") -> Path:
    """Save `validation_figure` to `path` (PNG) and return the path."""
    return save_figure(validation_figure(quantity, rows, runs, caption, run_name), path, 100)


def validation_figure(quantity: str, rows: pd.DataFrame, runs: list[dict], caption: str = "",
                      run_name: str = "seed") -> plt.Figure:
    """The model's mean and 5-95% seed band over time for each series a quantity's rows
    speak to, with the data points in the colour of the series they are compared with
    (filled circle: a value; open down-triangle: an upper bound '<'; open up-triangle: a
    lower bound '>'); every marker kind is in the legend."""
    sns.set_theme(style="whitegrid", context="notebook")
    foundries, agents = modelled_foundries(runs), agent_names(runs)
    long, names, per_quarter = [], {}, {}
    for series, group in rows.groupby("series", sort=False):
        speaker, _ = speaker_for(group.iloc[0], foundries, agents)
        per_quarter[series] = speaker.aggregate == "sum"
        entities = list(dict.fromkeys(group["entity"].astype(str)))
        names[series] = entities[0] if len(entities) == 1 else _series_name(series)
        for seed, frames in enumerate(runs):
            values = speaker.extract(frames).iloc[1:]
            long.append(pd.DataFrame({"year": [mid_quarter_year(q) for q in values.index],
                                      "value": values.to_numpy(), "series": names[series], "seed": seed}))
    data = pd.concat(long, ignore_index=True)
    order = list(dict.fromkeys(names.values()))
    palette = dict(zip(order, sns.color_palette("tab10", len(order)) if len(order) <= 10
                       else sns.color_palette("husl", len(order))))
    fig, ax = plt.subplots(figsize=(9.5, 5.6))
    sns.lineplot(data, x="year", y="value", hue="series", hue_order=order, palette=palette,
                 errorbar=("pi", BAND[1] - BAND[0]), ax=ax, legend=False)
    kinds_seen, spread = set(), False
    for _, row in rows.iterrows():
        quarters = row["quarters"].split(",")
        x = sum(mid_quarter_year(q) for q in quarters) / len(quarters)
        colour = palette[names[row["series"]]]
        bound = row["bound"] if row["bound"] in ("<", ">", "range") else "="
        kinds_seen.add(bound)
        marker = {"<": "v", ">": "^"}.get(bound, "o")
        y, ends = row["data_value"], (row.get("data_low", np.nan), row.get("data_high", np.nan))
        if per_quarter[row["series"]] and len(quarters) > 1:  # a total over several quarters
            y, ends, spread = y / len(quarters), tuple(e / len(quarters) for e in ends), True  # per quarter
        if bound == "range":  # its ends as a bar, its middle as an open circle
            ax.plot([x, x], list(ends), color=colour, lw=2.2, zorder=4, solid_capstyle="butt")
        ax.scatter([x], [y], marker=marker, s=64, zorder=5, linewidths=1.6,
                   edgecolors=colour, facecolors=colour if bound == "=" else "white")
    handles = [Line2D([], [], color=palette[name], lw=2, label=f"model: {name}") for name in order]
    marker_labels = {"=": ("o", "data (filled, in its series' colour)"),
                     "<": ("v", "data: upper bound (model should be below)"),
                     ">": ("^", "data: lower bound (model should be above)"),
                     "range": ("o", "data: a range (bar; open circle: its middle)")}
    for bound in ("=", "<", ">", "range"):
        if bound in kinds_seen:
            marker, text = marker_labels[bound]
            handles.append(Line2D([], [], ls="none", marker=marker, markersize=8, color="#333333",
                                  markerfacecolor="#333333" if bound == "=" else "white", label=text))
    ax.legend(handles=handles, fontsize=7.5, loc="best")
    ax.set_title(f"{_quantity_title(quantity)}: model against data")
    ax.set_xlabel("year")
    ax.set_ylabel(str(rows["unit"].iloc[0]) + (" per quarter" if any(per_quarter.values()) else ""))
    _thousands(ax)
    n = len(runs)
    line = "; ".join(p for p in (caption, f"lines: mean of {n} {run_name}{'s' if n != 1 else ''}"
                                 + (f"; band: {BAND[0]}-{BAND[1]}% of the {run_name}s' values" if n > 1 else ""),
                                 "a data point spanning several quarters sits at their middle",
                                 "totals over several quarters are drawn per quarter (total / quarters)"
                                 if spread else "") if p)
    footer = add_footer(fig, [line], width=125)
    fig.tight_layout(rect=(0, footer, 1, 1))
    return fig


# ------------------------------------------------------------------------- output
def write(result: Validation, out: str | Path) -> dict[str, Path]:
    """Write the table (Parquet and CSV), the summary, the projections and one figure
    per quantity the model speaks to."""
    from experiments.outputs import write_csv_atomic, write_parquet_atomic

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = {}
    table = result.table.astype({"data_value": float})
    write_parquet_atomic(out / "validation.parquet", table)
    write_csv_atomic(out / "validation.csv", table)
    write_csv_atomic(out / "summary.csv", result.summary)
    write_parquet_atomic(out / "projections.parquet", result.projections)
    paths.update(table=out / "validation.parquet", summary=out / "summary.csv",
                 projections=out / "projections.parquet")
    figures = out / "figures"
    figures.mkdir(exist_ok=True)
    caption = f"scenario {result.scenario or '?'}; {_seeds_text(result.seeds)}"
    run_name = "seed"
    if result.coverage is not None:
        write_csv_atomic(out / "coverage.csv", result.coverage)
        paths.update(coverage=out / "coverage.csv",
                     coverage_figure=save_figure(coverage_figure(result), figures / "coverage.png", 100))
        caption, run_name = f"scenario {result.scenario or '?'}; {_runs_text(result)}", "run"
    for quantity, rows in table[table["speaks"]].groupby("quantity"):
        paths[f"figure:{quantity}"] = plot_validation(quantity, rows, result.runs, figures / f"{quantity}.png",
                                                      caption=caption, run_name=run_name)
    return paths


GROUP_COLOURS = {"in sample": "#1f77b4", "held back": "#ff7f0e", "out of sample": "#2ca02c"}


def coverage_figure(result: Validation) -> plt.Figure:
    """Left: each group's observed coverage against the nominal 50% and 90% (filled:
    the predictive band, open: the model band; on the diagonal is calibrated). Right:
    each group's PIT histogram (flat at 1 is calibrated; a U: bands too narrow; a hump:
    too wide; a slope: the model biased)."""
    from experiments.calibration.coverage import GROUPS

    sns.set_theme(style="whitegrid", context="notebook")
    table, summary = result.table, result.coverage
    points = table[table["speaks"] & table["hard_target"].astype(bool) & table["inside_90"].notna()]
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 5.6))
    left.plot([0, 100], [0, 100], color="#888888", lw=1, ls="--", label="calibrated (observed = nominal)")
    for r in summary.itertuples():
        if not r.rows:
            continue
        colour = GROUP_COLOURS[r.group]
        left.plot([50, 90], [100 * r.inside_50, 100 * r.inside_90], color=colour, marker="o", ms=8,
                  label=f"{GROUP_NAMES[r.group]} ({r.rows} rows): predictive band")
        left.plot([50, 90], [100 * r.model_inside_50, 100 * r.model_inside_90], color=colour, marker="o", ms=8,
                  ls=":", markerfacecolor="white", label=f"{GROUP_NAMES[r.group]}: model band")
    left.set_xlim(0, 100), left.set_ylim(0, 102)
    left.set_xticks([0, 25, 50, 75, 90, 100])
    left.set_xlabel("nominal coverage of the central band (%)")
    left.set_ylabel("data rows inside the band (%)")
    left.set_title("Coverage: observed against nominal")
    left.legend(fontsize=7, loc="upper left")
    bins = np.linspace(0, 1, 11)
    for group in GROUPS:
        values = points.loc[points["group"] == group, "pit"].to_numpy(dtype=float)
        if len(values):
            right.hist(values, bins=bins, density=True, histtype="step", lw=2, color=GROUP_COLOURS[group],
                       label=f"{GROUP_NAMES[group]} ({len(values)} rows)")
    right.axhline(1.0, color="#888888", lw=1, ls="--", label="calibrated (uniform)")
    right.set_xlim(0, 1)
    right.set_xlabel("PIT: share of predictive samples below the data value")
    right.set_ylabel("density of data rows")
    right.set_title("PIT histogram")
    right.legend(fontsize=7, loc="upper center")
    window = result.ensemble.get("held_back")
    footer = add_footer(fig, [
        f"scenario {result.scenario or '?'}; {_runs_text(result)}; hard-target rows with a point value",
        "model band: quantiles of the model's figure over the runs (draws x seeds); predictive band: the model "
        "band widened by the posterior's model discrepancy (a normal error, in points for percentages, a log "
        "ratio for levels); bands are central: 50% = 25th-75th percentile, 90% = 5th-95th",
        "in sample (fitted): period ends by 2023Q4, not held back; held back: period ends in "
        + (f"{window[0]}-{window[1]}" if window else "(no window: none held back)")
        + "; out of sample: the rest"], width=140)
    fig.tight_layout(rect=(0, footer, 1, 1))
    return fig
