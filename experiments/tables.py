"""Tables printed for people: one number format and aligned columns.

Every number the CLI prints goes through `number`: three significant digits (at most six
decimals), never scientific notation, thousands separated by commas (1,234,567 stays whole; 0.0123;
56.1); a missing value is '-'. Units go in the column headers or a unit column.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

MAX_DECIMALS = 6  # below 1e-6 a number prints as 0 (rounding noise of estimators)


def number(value, signed: bool = False, digits: int = 3) -> str:
    """`value` with `digits` significant digits (whole numbers kept whole), commas for
    thousands, a sign if `signed`; '-' for None or NaN, 'inf' for infinities."""
    try:
        x = float(value)
    except (TypeError, ValueError):
        return "-" if value is None else str(value)
    if math.isnan(x):
        return "-"
    if math.isinf(x):
        return ("+" if signed and x > 0 else "") + ("inf" if x > 0 else "-inf")
    x = float(f"{x:.{digits}g}") if abs(x) < 10 ** digits else x  # 9.999 -> 10.0, not 10.00
    decimals = 0 if x == 0 else min(MAX_DECIMALS, max(0, digits - 1 - math.floor(math.log10(abs(x)))))
    if round(x, decimals) == 0:
        return "0"
    return f"{x:+,.{decimals}f}" if signed else f"{x:,.{decimals}f}"


def percent(value, signed: bool = False) -> str:
    """A fraction (0.123) as a percentage with `number`'s digits ('12.3%')."""
    try:
        x = float(value)
    except (TypeError, ValueError):
        return "-"
    return "-" if math.isnan(x) else number(100 * x, signed) + "%"


def format_table(rows: Sequence[Sequence[str]], header: Sequence[str],
                 right: Sequence[bool] | None = None, indent: str = "  ") -> str:
    """Rows of already formatted cells as aligned text; `right[i]` right-aligns column i
    (numbers), the others are left-aligned."""
    right = list(right) if right is not None else [False] * len(header)
    widths = [max([len(str(h))] + [len(str(r[i])) for r in rows]) for i, h in enumerate(header)]

    def line(cells) -> str:
        return indent + "  ".join(str(c).rjust(w) if r else str(c).ljust(w)
                                  for c, w, r in zip(cells, widths, right)).rstrip()

    return "\n".join([line(header), indent + "  ".join("-" * w for w in widths)] + [line(r) for r in rows])


def clip(text, width: int) -> str:
    """`text` cut to `width` characters (with '...' where cut)."""
    text = str(text)
    return text if len(text) <= width else text[: width - 3] + "..."


def reporter_unit(reporter: str, stat: str = "value") -> str:
    """The unit of a model reporter (model/reporters.py; README "What a run records"),
    and of its summary by `stat` ('sum' of a per-quarter flow is a total over the window)."""
    flows = {"huawei_ai_dies": "dies", "huawei_smic_advanced_wafers": "wafers",
             "other_china_smic_advanced_wafers": "wafers", "smic_revenue_usd_m": "US$ million",
             "foundry_revenue_usd_m": "US$ million"}
    if reporter in flows:
        return flows[reporter] + (" in total" if stat == "sum" else " per quarter")
    if reporter.startswith("smic_capacity_8in"):
        return "8-inch-equivalent wafers per month"
    if reporter.startswith("smic_capacity_"):
        return "300 mm wafers per quarter"
    if reporter.startswith(("share_", "smic_china_revenue_share")):
        return "% of revenue"
    if reporter.startswith("price_index_"):
        return "index, 1 = 2020 list price"
    if reporter == "foundry_hhi":
        return "HHI points (0-10,000)"
    if reporter in ("active_edges", "cut_edges"):
        return "trade links"
    if reporter in ("huawei_fulfilment", "other_china_fulfilment", "smic_utilisation",
                    "china_self_sufficiency", "china_advanced_from_smic", "vendor_china_share",
                    "asml_china_share", "china_domestic_tool_share") or reporter.startswith("smic_yield_"):
        return "fraction, 0-1"
    return "reporter's unit"


def who_gains_text(table, a: str, b: str, window: tuple[str, str], notes: Sequence[str] = ()) -> str:
    """The who-gains table (`experiments.compare.WhoGains.table`) for people: one block
    per account (who earned, then who paid), a line per total, country and firm with the
    cumulative flow under A and B, B - A with its 95% t interval (US$ million over the
    window) and B - A as % of A; then what was left out and why."""
    n = int(table["n"].max()) if len(table) else 0
    unit = f"US$ m, {window[0]}-{window[1]}"
    lines = [f"Who gains, who loses: {b} minus {a}, each flow summed over {window[0]}-{window[1]}; mean paired "
             f"difference over {n} seeds, 95% t interval. A = {a}, B = {b}.",
             "Earned: revenue (and gross profit where the model has costs); paid: the cost of chips to buyers."]
    header = ["who", f"A ({unit})", f"B ({unit})", "B - A (US$ m)", "95% interval (US$ m)", "B - A, % of A"]
    for account, rows in table.groupby("account", sort=False):
        side = rows["side"].iloc[0]
        cells = []
        for row in rows.itertuples():
            interval = (f"[{number(row.ci_low, True)}, {number(row.ci_high, True)}]"
                        if math.isfinite(row.ci_low) else "[needs 2+ seeds]")
            relative = number(100 * row.relative, True) + "%" if math.isfinite(row.relative) else "-"
            who = row.who if row.level != "firm" else f"  {row.who} ({row.country})"
            cells.append([who, number(row.mean_a), number(row.mean_b), number(row.mean_difference, True),
                          interval, relative])
        lines += ["", f"{account} ({side})", format_table(cells, header, [False, True, True, True, True, True])]
    if notes:
        lines += ["", "Left out:"] + [f"  - {note}" for note in notes]
    return "\n".join(lines)
