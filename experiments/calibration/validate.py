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

import calendar
import io
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from model.reporters import WAFERS_8IN_PER_12IN, slug
from model.scenario import Scenario
from model.technology import parse_quarter
from model.world import DATA_DIR

DATA_FILE = DATA_DIR / "calibration.csv"
COLUMNS = ["quantity", "entity", "period", "value", "unit", "source", "note"]
WEAK = re.compile(r"weak|approx|conflict|unknown|plan|target|guidance|estimate", re.I)
FIRST_QUARTER, LAST_QUARTER = parse_quarter("2019Q1"), parse_quarter("2030Q4")


class DataFileError(ValueError):
    """A data file that is not a calibration table; the message names file and field."""


# ------------------------------------------------------------------------ periods
def quarters_of(period: str) -> list[str] | None:
    """The quarters a period label covers ('2023' -> four, '2022H2' -> two, '2024-09'
    -> one, '2021 end' -> Q4, '2021 (mid)' -> Q2,Q3, 'c.2024' -> four); None if the
    label names no time the model can place, including labels that look like a quarter,
    half or month but are not one ('2022Q7', '2022Q0', '2022H3', '2024-13', '2024-02-31'):
    those are never read as their whole year."""
    text = str(period).strip()
    if re.fullmatch(r"\d{4}Q[1-4]", text):
        return [text]
    match = re.fullmatch(r"(\d{4})-(\d{2})(?:-(\d{2}))?", text)
    if match:
        year, month, day = int(match.group(1)), int(match.group(2)), match.group(3)
        if not 1 <= month <= 12 or (day and not 1 <= int(day) <= calendar.monthrange(year, month)[1]):
            return None
        return [f"{match.group(1)}Q{(month - 1) // 3 + 1}"]
    match = re.fullmatch(r"(\d{4})H([12])", text)
    if match:
        first = 1 if match.group(2) == "1" else 3
        return [f"{match.group(1)}Q{first}", f"{match.group(1)}Q{first + 1}"]
    match = re.fullmatch(r"(?:c\.|FY)?(\d{4})(.*)", text)
    if match and re.match(r"[QqHh]\d|-\d", match.group(2)):
        return None  # a malformed quarter, half or month: not the whole year
    if match and not match.group(2).strip().startswith(("-", "/")):
        year, rest = match.group(1), match.group(2).lower()
        if "end" in rest:
            return [f"{year}Q4"]
        if "mid" in rest:
            return [f"{year}Q2", f"{year}Q3"]
        return [f"{year}Q{q}" for q in range(1, 5)]
    return None


def parse_value(value: str) -> tuple[float | None, str]:
    """'<50' -> (50, '<'); '>40' -> (40, '>'); '56.1' -> (56.1, '='); else (None, '').
    Only plain decimal numbers count: 'inf', 'nan', '1e400' and words give (None, '')."""
    text = str(value).replace(",", "").strip()
    match = re.fullmatch(r"([<>]?)\s*(-?\d+(?:\.\d+)?)", text)
    if not match:
        return None, ""
    return float(match.group(2)), match.group(1) or "="


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
def read_data(path: str | Path = DATA_FILE) -> pd.DataFrame:
    """Read a calibration table; raise DataFileError naming the file and what is missing.

    Guarantees a UTF-8 CSV with the columns `COLUMNS` and at least one usable row (a
    value that parses as a number, `parse_value`, and a period the model can place,
    `quarters_of`); an unreadable, empty, header-only, binary or non-UTF-8 file, or one
    with no usable row, raises. Rows whose period and value both hold 'a -> b' are
    split into two observations.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")  # small files; decoding first catches binary ones
        data = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    except UnicodeDecodeError as exc:
        raise DataFileError(f"{path}: not UTF-8 text ({exc.reason}); expected a UTF-8 CSV") from None
    except pd.errors.EmptyDataError:
        raise DataFileError(f"{path}: the file is empty; expected a CSV with columns {COLUMNS}") from None
    except OSError as exc:
        raise DataFileError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    except ValueError as exc:  # pandas' ParserError is a ValueError
        raise DataFileError(f"{path}: cannot be read as CSV ({' '.join(str(exc).split())})") from None
    missing = [c for c in COLUMNS if c not in data.columns]
    if missing:
        raise DataFileError(f"{path}: field '{missing[0]}' is missing; expected columns {COLUMNS}")
    rows = []
    for _, row in data.iterrows():
        if "->" in row["period"] and "->" in row["value"]:
            for period, value in zip(row["period"].split("->"), row["value"].split("->")):
                rows.append({**row, "period": period.strip(), "value": value.strip()})
        else:
            rows.append(dict(row))
    if not any(parse_value(r["value"])[0] is not None and quarters_of(r["period"]) for r in rows):
        raise DataFileError(
            f"{path}: no usable row ({len(data)} rows); expected at least one row with a numeric "
            "'value' (such as 56.1 or <50) and a 'period' the model can place (such as 2023Q4, 2023, 2022H2)"
        )
    return pd.DataFrame(rows, columns=COLUMNS)


def run_seeds(scenario: str | Scenario, seeds: list[int], overrides: dict | None = None) -> list[dict[str, pd.DataFrame]]:
    """The frames of one run per seed (to the scenario's end); each model is released
    once its frames are taken, so memory stays flat over many calls (calibration)."""
    from experiments.runner import run_frames

    return [run_frames(scenario, s, overrides) for s in seeds]


def modelled_foundries(runs: list[dict[str, pd.DataFrame]]) -> set[str]:
    """The names of the foundries in a set of runs' frames."""
    return set(runs[0]["foundry"]["name"].unique())


def compare(data: pd.DataFrame, runs: list[dict[str, pd.DataFrame]], foundries: set[str]) -> pd.DataFrame:
    """One row per data row: data value, model mean and 90% band, error, inside band."""
    out = []
    for _, row in data.iterrows():
        record = {c: row[c] for c in COLUMNS}
        value, bound = parse_value(row["value"])
        quarters = quarters_of(row["period"])
        speaker, reason = speaker_for(row, foundries)
        record.update(data_value=value, bound=bound, hard_target=not WEAK.search(f"{row['note']} {row['unit']} {row['quantity']}"))
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


def summarise(table: pd.DataFrame) -> pd.DataFrame:
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
    table = compare(rows, runs, foundries)
    return Validation(table, summarise(table), projections(runs), runs, name, tuple(seed_list))


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


# ------------------------------------------------------------------------- output
def write(result: Validation, out: str | Path) -> dict[str, Path]:
    """Write the table (Parquet and CSV), the summary, the projections and one figure
    per quantity the model speaks to."""
    from experiments.figures import plot_validation
    from experiments.store import write_csv_atomic, write_parquet_atomic

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
