"""Validation: the model's runs against published figures, row by row.

For every row of a calibration file (columns quantity, entity, period, value, unit,
source, note; the project's copy in model/data/calibration.csv by default) this module
says whether the model can speak to it and, if it can, which series of which frame,
in which unit, over which quarters. `validate` runs a scenario over several seeds and
returns a table: the data value, the model's mean and 90% band, the error, and whether
the observation falls inside the band; rows the model cannot speak to keep their
reason. Nothing here changes the model.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.lines import Line2D

from experiments.analysis.figures import BAND, add_footer, label, save_figure
from experiments.calibration.observed import COLUMNS, DATA_FILE, is_weak, parse_value, quarters_of, read_data
from model.reporters import WAFERS_8IN_PER_12IN, slug
from model.scenario import Scenario
from model.technology import mid_quarter_year, parse_quarter

FIRST_QUARTER, LAST_QUARTER = parse_quarter("2019Q1"), parse_quarter("2030Q4")


# ------------------------------------------------------------------ what speaks
Extractor = Callable[[dict[str, pd.DataFrame]], pd.Series]
"""frames of one run -> a series indexed by quarter label, in the data's unit."""


@dataclass(frozen=True)
class Speaker:
    """How the model speaks to a row: a series and how to aggregate it over a period."""

    series: str  # a readable name for the table ("share_tsmc", "foundry[TSMC].revenue_usd_m")
    extract: Extractor
    aggregate: str = "mean"  # 'mean' or 'sum' (flows over a year)


def _model_column(column: str, scale: float = 1.0) -> Extractor:
    def extract(frames):
        frame = frames["model"]
        return pd.Series(frame[column].to_numpy() * scale, index=frame["quarter"])
    return extract


def _agent_column(kind: str, name: str, column: str | Callable, scale: float = 1.0) -> Extractor:
    def extract(frames):
        frame = frames[kind]
        rows = frame[frame["name"] == name]
        values = column(rows) if callable(column) else rows[column]
        return pd.Series(np.asarray(values, dtype=float) * scale, index=rows["quarter"].to_numpy())
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


def speaker_for(row: pd.Series, foundries: set[str]) -> tuple[Speaker | None, str]:
    """The model's way to speak to a data row, or None and the reason it cannot."""
    q, entity = row["quantity"], str(row["entity"])
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
    if q == "capex_guidance" and entity in foundries:
        return Speaker(f"foundry[{entity}].capex_usd_m",
                       _agent_column("foundry", entity, "capex_usd_m"), "sum"), ""
    if q in ("asml_china_share", "asml_china_share_guidance"):
        return Speaker("asml_china_share x 100", _model_column("asml_china_share", 100)), ""
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
    "equipment_vendor_rank_note": "a ranking across all equipment markets; the model sells to foundries only",
    "value_chain_country_share": "value-chain stages (design, ATP) the model does not represent",
    "equipment_segment_market_size": "market sizes in US$ of segments the model aggregates",
    "china_domestic_equipment_mandate": "an input (domestic_tool_bias of China's government)",
    "big_fund_iii_capital": "an input (the Big Fund III subsidy)",
    "scenario_loss": "macroeconomic losses; the model has no GDP",
    "asml_net_sales_by_customer_location": "EUR sales incl. memory makers; the model's ASML sells to foundries only",
    "company_revenue": "the model's vendors sell to modelled foundries only, not whole-company revenue",
    "gross_margin": "the model has no costs",
    "revenue_share_by_customer_region": "the model splits SMIC's revenue into China and the rest only",
    "revenue_share_by_application": "the model has no end-application split",
    "advanced_node_capacity_target": "a national target across all foundries, not a capacity",
    "ascend_production_plan": "a production plan by product; the model counts all Huawei AI dies together",
    "equipment_market_china": "the model's tool market is foundries only (no memory, no IDMs)",
    "equipment_market_global": "the model's tool market is foundries only (no memory, no IDMs)",
    "us_share_global_fab_capacity": "all fabs incl. IDMs and memory; the model has foundries only",
    "us_firms_share_global_sales": "chip sales by firm headquarters; the model has no chip sales",
    "design_share_scenario": "a design-revenue scenario; the model has no design revenue",
    "global_value_added_by_region": "no value given (unknown)",
    "china_share_global_semi_demand": "before the model's first quarter and a demand concept it lacks",
    "nvidia_china_revenue_share": "the model has no revenue by customer for fabless firms",
    "nvidia_china_ai_accelerator_share": "the model has no chip sales to end customers",
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


# ---------------------------------------------------------------------- the table
def run_seeds(scenario: str | Scenario, seeds: list[int], overrides: dict | None = None) -> list[dict[str, pd.DataFrame]]:
    """The frames of one run per seed (to the scenario's end); each model is released
    once its frames are taken, so memory stays flat over many calls (calibration)."""
    from experiments.batch.runner import run_frames

    return [run_frames(scenario, s, overrides) for s in seeds]


def modelled_foundries(runs: list[dict[str, pd.DataFrame]]) -> set[str]:
    """The names of the foundries in a set of runs' frames."""
    return set(runs[0]["foundry"]["name"].unique())


def compare_with_data(data: pd.DataFrame, runs: list[dict[str, pd.DataFrame]], foundries: set[str]) -> pd.DataFrame:
    """One row per data row: data value, model mean and 90% band, error, inside band."""
    out = []
    for _, row in data.iterrows():
        record = {c: row[c] for c in COLUMNS}
        value, bound = parse_value(row["value"])
        quarters = quarters_of(row["period"])
        speaker, reason = speaker_for(row, foundries)
        record.update(data_value=value, bound=bound, hard_target=not is_weak(row))
        if speaker is not None and value is None:
            speaker, reason = None, f"value '{row['value']}' is not a number"
        if speaker is not None and quarters is None:
            speaker, reason = None, f"period '{row['period']}' is not a time the model can place"
        if speaker is not None and not all(FIRST_QUARTER <= parse_quarter(q) <= LAST_QUARTER for q in quarters):
            speaker, reason = None, f"period '{row['period']}' is outside 2019Q1-2030Q4"
        if speaker is None:
            record.update(speaks=False, reason=reason)
            out.append(record)
            continue
        samples = []
        for frames in runs:
            series = speaker.extract(frames)
            values = series.reindex(quarters).to_numpy(dtype=float)
            samples.append(np.nansum(values) if speaker.aggregate == "sum" else np.nanmean(values))
        samples = np.asarray(samples)
        mean, low, high = samples.mean(), np.percentile(samples, 5), np.percentile(samples, 95)
        if bound == "<":
            inside, error = bool(mean < value), max(0.0, mean - value)
        elif bound == ">":
            inside, error = bool(mean > value), min(0.0, mean - value)
        else:
            inside, error = bool(low <= value <= high), mean - value
        record.update(
            speaks=True, reason="", series=speaker.series, quarters=",".join(quarters),
            model_mean=mean, model_p05=low, model_p95=high, error=error, abs_error=abs(error),
            rel_error=abs(error) / abs(value) if value else np.nan, inside_band=inside,
            in_sample=parse_quarter(quarters[-1]) <= parse_quarter("2023Q4"),
        )
        out.append(record)
    return pd.DataFrame(out)


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


def validate(scenario: str = "historical", seeds: int = 10, data: str | Path = DATA_FILE,
             first_seed: int = 1000, overrides: dict | None = None, progress: bool = True) -> Validation:
    """Run `scenario` over `seeds` seeds and compare it with every row of `data`.

    With `progress`, a bar on stderr counts the seeds' runs."""
    import sys

    from tqdm import tqdm

    rows = read_data(data)
    seed_list = list(range(first_seed, first_seed + seeds))
    name = scenario.name if isinstance(scenario, Scenario) else Path(str(scenario)).stem
    runs = []
    for seed in tqdm(seed_list, desc=f"validate {name}", unit="seed", disable=not progress,
                     file=sys.stderr, leave=False):
        runs += run_seeds(scenario, [seed], overrides)
    foundries = modelled_foundries(runs)
    table = compare_with_data(rows, runs, foundries)
    return Validation(table, errors_by_quantity(table), projections(runs), runs, name, tuple(seed_list))


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
    lines = [f"{result.scenario or 'scenario'} against the data, {_seeds_text(result.seeds)}: "
             f"{len(spoken)} of {len(table)} rows compared; model = mean over seeds, band = "
             f"5-95% of the seeds' values; error = model mean - data, in the data's unit", ""]
    rows = []
    for row in spoken.itertuples():
        data_text = ("" if row.bound == "=" else row.bound) + number(row.data_value)
        verdict = "yes" if row.inside_band else "no"
        if row.bound in ("<", ">"):
            verdict = "yes (bound)" if row.inside_band else "no (bound)"
        rows.append([clip(row.quantity, 32), clip(row.entity, 22), clip(row.period, 12), data_text,
                     number(row.model_mean), f"{number(row.model_p05)} - {number(row.model_p95)}",
                     number(row.error, signed=True), clip(row.unit, 28), verdict])
    if rows:
        lines.append(format_table(rows, ["quantity", "entity", "period", "data", "model", "band 5-95%",
                                         "error", "unit", "inside"],
                                  [False, False, False, True, True, True, True, False, False]))
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
    lines.append(f"Summary by quantity (mean absolute error in the quantity's unit; inside = inside "
                 f"the 5-95% band of {n_seeds} seed(s), or on the right side of a bound):")
    summary = result.summary
    if len(summary):
        lines.append(format_table(
            [[clip(r.quantity, 38), clip(r.unit, 40), str(r.observations), f"{int(r.inside_band)} of {r.observations}",
              number(r.mae), percent(r.mean_rel_error)] for r in summary.itertuples()],
            ["quantity", "unit", "rows", "inside", "mean abs. error", "mean rel. error"],
            [False, False, True, True, True, True]))
    else:
        lines.append("  (nothing compared)")
    return "\n".join(lines)


# ------------------------------------------------------------------------ figures
SERIES_NAMES = {"smic_yield_7nm x 100": "SMIC 7nm-class yield"}
"""Validation series that several data entities share, by a human name."""


def _series_name(series: str) -> str:
    if series in SERIES_NAMES:
        return SERIES_NAMES[series]
    if series.startswith("foundry[") and "]" in series:
        return series[len("foundry["):series.index("]")]
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
                    caption: str = "") -> Path:
    """Save `validation_figure` to `path` (PNG) and return the path."""
    return save_figure(validation_figure(quantity, rows, runs, caption), path, 100)


def validation_figure(quantity: str, rows: pd.DataFrame, runs: list[dict], caption: str = "") -> plt.Figure:
    """The model's mean and 5-95% seed band over time for each series a quantity's rows
    speak to, with the data points in the colour of the series they are compared with
    (filled circle: a value; open down-triangle: an upper bound '<'; open up-triangle: a
    lower bound '>'); every marker kind is in the legend."""
    sns.set_theme(style="whitegrid", context="notebook")
    foundries = modelled_foundries(runs)
    long, names, per_quarter = [], {}, {}
    for series, group in rows.groupby("series", sort=False):
        speaker, _ = speaker_for(group.iloc[0], foundries)
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
        bound = row["bound"] if row["bound"] in ("<", ">") else "="
        kinds_seen.add(bound)
        marker = {"<": "v", ">": "^"}.get(bound, "o")
        y = row["data_value"]
        if per_quarter[row["series"]] and len(quarters) > 1:  # a total over several quarters
            y, spread = y / len(quarters), True  # drawn per quarter, as the line is
        ax.scatter([x], [y], marker=marker, s=64, zorder=5, linewidths=1.6,
                   edgecolors=colour, facecolors=colour if bound == "=" else "white")
    handles = [Line2D([], [], color=palette[name], lw=2, label=f"model: {name}") for name in order]
    marker_labels = {"=": ("o", "data (filled, in its series' colour)"),
                     "<": ("v", "data: upper bound (model should be below)"),
                     ">": ("^", "data: lower bound (model should be above)")}
    for bound in ("=", "<", ">"):
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
    line = "; ".join(p for p in (caption, f"lines: mean of {n} seed{'s' if n != 1 else ''}"
                                 + (f"; band: {BAND[0]}-{BAND[1]}% of the seeds' values" if n > 1 else ""),
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
    for quantity, rows in table[table["speaks"]].groupby("quantity"):
        paths[f"figure:{quantity}"] = plot_validation(quantity, rows, result.runs, figures / f"{quantity}.png",
                                                      caption=caption)
    return paths
