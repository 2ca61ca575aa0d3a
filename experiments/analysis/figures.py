"""Figures for people: a run's key series and a paired comparison's forest plot (seaborn/matplotlib), shared by the CLI and the notebooks.

Every figure carries axis labels with units, human names in its legends (never a
reporter's column name), and a caption line saying what it shows: the scenario, the
seeds and what a band is. Run figures mark, with a numbered dashed line and a key
under the figure, the quarters in which the scenario's rules, directives and subsidies
take effect.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from fnmatch import fnmatch
from itertools import cycle
from pathlib import Path

import sys

import matplotlib

if "ipykernel" not in sys.modules:  # a notebook keeps its inline backend
    matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402
from matplotlib.transforms import blended_transform_factory  # noqa: E402

from model.technology import TIERS, parse_quarter, quarter_year  # noqa: E402

BAND = (5, 95)
"""Seed-to-seed bands are the 5th-95th percentiles of the seeds' values."""

TIER_NAMES = {"leading": "Leading edge (5nm and finer)", "7nm": "7nm", "14nm": "14nm",
              "28nm": "28nm", "mature": "Mature (40nm and coarser)"}
COUNTRY_NAMES = {"US": "US", "CN": "China", "NL": "Netherlands", "JP": "Japan", "TW": "Taiwan",
                 "KR": "South Korea", "China": "China"}
TOOL_NAMES = {"euv": "EUV", "duv_immersion": "DUV immersion", "duv_dry": "DUV dry",
              "etch_dep": "etch/deposition", "metrology": "metrology"}

LABELS: dict[str, str] = {
    "huawei_ai_dies": "Huawei good AI dies",
    "huawei_accelerators": "Huawei accelerators (packaged)",
    "other_china_accelerators": "Other Chinese designers' accelerators",
    "china_hbm_stock_stacks": "HBM stacks held by Chinese designers",
    "huawei_die_bank_dies": "Huawei die bank",
    "huawei_fulfilment": "Huawei",
    "other_china_fulfilment": "Other Chinese firms",
    "huawei_smic_advanced_wafers": "SMIC to Huawei",
    "other_china_smic_advanced_wafers": "SMIC to other Chinese firms",
    "smic_utilisation": "SMIC utilisation",
    "smic_capacity_8in_eq_per_month": "SMIC capacity",
    "smic_china_revenue_share": "SMIC revenue from Chinese firms",
    "smic_revenue_usd_m": "SMIC revenue",
    "foundry_revenue_usd_m": "Modelled foundries' revenue",
    "foundry_hhi": "Foundry concentration (HHI)",
    "china_self_sufficiency": "Chinese firms' wafers made in China",
    "china_advanced_from_smic": "Chinese firms' advanced wafers made by SMIC",
    "vendor_china_share": "Foreign vendors' revenue from China",
    "asml_china_share": "ASML revenue from China",
    "china_domestic_tool_share": "Chinese foundries' tools bought from Chinese vendors",
    "active_edges": "Active trade links",
    "cut_edges": "Trade links cut by rules",
    "china_compute_h100e": "AI compute delivered to Chinese buyers",
    "china_unmet_compute_h100e": "Wanted by Chinese buyers, not received",
    "domestic_china_share": "Chinese designers' share of China's accelerators",
    **{f"smic_capacity_{t.key}": TIER_NAMES[t.key] for t in TIERS},
    **{f"smic_yield_{t.key}": TIER_NAMES[t.key] for t in TIERS},
    **{f"price_index_{t.key}": TIER_NAMES[t.key] for t in TIERS},
}
"""Reporter column -> the name a legend shows. `share_<foundry>` and the per-designer
China columns (`<designer>_china_h100e` and kin) are named by `label`, from the default
world's foundry and designer names."""

DESIGNER_NAMES = {"other_chinese_fabless": "Other Chinese designers"}
"""Designer slug -> the name a figure gives it where the world's name reads badly."""

DESIGNER_FIGURES = {"_china_h100e": "{}: compute delivered to China",
                    "_china_share": "{}: share of China's accelerators",
                    "_china_revenue_usd_m": "{}: revenue from China",
                    "_china_revenue_share": "{}: share of its revenue from China"}
"""Suffix of a per-designer China reporter -> its human name, given the designer's."""


def _world_names() -> dict[str, dict[str, tuple[str, str]]]:
    """{'foundries' | 'designers': slug -> (name, country)} of the default world."""
    try:
        import tomllib

        from model.reporters import slug
        from model.world import DATA_DIR

        world = tomllib.loads((DATA_DIR / "default_world.toml").read_text(encoding="utf-8"))
        countries = {f["name"]: f.get("country", "") for f in world.get("firms", [])}
        return {"foundries": {slug(f["name"]): (f["name"], f.get("country", "")) for f in world.get("foundries", [])},
                "designers": {slug(d["firm"]): (d["firm"], countries.get(d["firm"], ""))
                              for d in world.get("designers", [])}}
    except Exception:  # a figure must not fail for want of a pretty name
        return {"foundries": {}, "designers": {}}


_WORLD: dict[str, dict[str, tuple[str, str]]] | None = None


def _world(kind: str) -> dict[str, tuple[str, str]]:
    global _WORLD
    if _WORLD is None:
        _WORLD = _world_names()
    return _WORLD[kind]


def designer_name(designer_slug: str) -> str:
    """A designer's name in figures ('huawei' -> 'Huawei', 'other_chinese_fabless' ->
    'Other Chinese designers'); an unknown slug is spelled out."""
    if designer_slug in DESIGNER_NAMES:
        return DESIGNER_NAMES[designer_slug]
    known = _world("designers").get(designer_slug)
    return known[0] if known else _spelled(designer_slug)


def _spelled(column: str) -> str:
    text = column.replace("_", " ").strip()
    return text[:1].upper() + text[1:]


def label(column: str) -> str:
    """The human name of a reporter column ('share_other_chinese_foundries' ->
    'Other Chinese foundries', 'nvidia_china_revenue_usd_m' -> 'Nvidia: revenue from
    China'); an unknown column is spelled out without underscores."""
    if column in LABELS:
        return LABELS[column]
    if column.startswith("share_"):
        key = column.removeprefix("share_")
        known = _world("foundries").get(key)
        return known[0] if known else _spelled(key)
    for suffix, text in DESIGNER_FIGURES.items():
        if column.endswith(suffix) and column.removesuffix(suffix) in {*_world("designers"), *DESIGNER_NAMES}:
            return text.format(designer_name(column.removesuffix(suffix)))
    return _spelled(column)


@dataclass(frozen=True)
class Panel:
    """One panel of the run figure: title, y-axis label with unit, columns, scale.

    `columns` None: every column matching `family` (a shell pattern). `stacked`: the
    `family` columns (one per designer, `stack_layers`) as stacked areas (the seeds'
    mean), with `on_top` (a column) stacked last, hatched; `note`: what the panel shows,
    for the figure's caption."""

    title: str
    unit: str
    columns: Sequence[str] | None
    scale: float = 1.0
    family: str = ""
    stacked: bool = False
    on_top: str | None = None
    note: str = ""


PANELS = [
    Panel("Huawei's AI chips: good dies and accelerators", "thousand per quarter",
          ["huawei_ai_dies", "huawei_accelerators"], 1e-3),
    Panel("Advanced-tier orders served (leading + 7nm)", "% of wafers ordered",
          ["huawei_fulfilment", "other_china_fulfilment"], 100.0),
    Panel("SMIC 7nm-class capacity (N+1, N+2, N+3)", "thousand 300 mm wafers per quarter",
          ["smic_capacity_7nm"], 1e-3),
    Panel("Foundry revenue share", "% of modelled foundries' revenue", None, family="share_*"),
    Panel("Wafer price by tier", "index (1 = 2020 list price)", [f"price_index_{t.key}" for t in TIERS]),
    Panel("Trade graph", "links cut by rules (count)", ["cut_edges"]),
    Panel("Who supplies China's AI compute", "thousand H100-equivalents per quarter", None, 1e-3,
          family="*_china_h100e", stacked=True, on_top="china_unmet_compute_h100e",
          note="Who supplies China's AI compute: H100-equivalents delivered to Chinese buyers in the quarter, "
               "stacked by the accelerator's designer (Chinese designers at the bottom); hatched on top: the "
               "compute Chinese buyers wanted and did not receive, so the stack's top is what they wanted "
               "(several seeds: the seeds' mean, no band)"),
]

KEY_WIDTH = 105  # characters a line of the event key holds (one of two columns)
EVENT_COLOURS = {"rule": "#555555", "directive": "#c8102e", "subsidy": "#2a6f97", "lifted": "#999999"}


# ------------------------------------------------------------------------ events
def _targets(targets: Iterable[str]) -> str:
    return ", ".join(COUNTRY_NAMES.get(t.removeprefix("country:"), t.removeprefix("country:"))
                     if t.startswith("country:") else t for t in targets)


def rule_text(rule) -> str:
    """A rule in a few words, as the run figures' event key gives it."""
    issuer = COUNTRY_NAMES.get(rule.issuer, rule.issuer)
    targets = _targets(rule.targets)
    tier = "" if rule.tier == "mature" else f", {rule.tier} and finer"
    reach = " (incl. foreign-made)" if rule.foreign_direct_product else ""
    if rule.kind == "tools":
        tools = "/".join(TOOL_NAMES.get(t, t) for t in rule.tools) or "all"
        return f"{issuer} controls {tools} tools to {targets}{tier}{reach}"
    if rule.kind == "wafers":
        via = f" from {', '.join(rule.suppliers)}" if rule.suppliers else ""
        return f"{issuer} controls wafers to {targets}{via}{tier}{reach}"
    if rule.kind == "servicing":
        return f"{issuer} stops servicing tools in {targets}"
    if rule.kind == "hbm":
        return f"{issuer} controls {rule.generation}+ HBM to {targets}{reach}"
    if rule.kind == "packaging":
        return f"{issuer} controls advanced packaging for {targets}{reach}"
    if rule.kind == "accelerators":
        named = "/".join(rule.products)
        tested = " or ".join(_test_text(t) for t in rule.tests)
        caught = " and ".join(p for p in (named, f"AI chips with {tested}" if tested else "") if p) or "AI chips"
        exempt = f" (not {'/'.join(rule.exempt)})" if rule.exempt else ""
        if rule.licence_fee:
            return f"{issuer} licenses {caught} sales to {targets}, {rule.licence_fee:.0%} fee"
        return f"{issuer} controls {caught}{exempt} to {targets}"
    if rule.kind == "purchases":
        suppliers = ", ".join(rule.suppliers)
        what = "/".join(rule.products) or (f"{suppliers}'s accelerators" if len(rule.suppliers) == 1
                                           else f"accelerators from {suppliers}" if suppliers else "foreign accelerators")
        return f"{issuer}: buyers in {targets} told not to buy {what}"
    if rule.kind == "domestic_tools":
        return f"{issuer}: fabs in {targets} must buy {rule.domestic_share:.0%} of new tools at home"
    return f"{issuer} controls mineral exports to {targets}"


def _test_text(test) -> str:
    """A performance test of an accelerators rule in a few words ('TPP >= 1600 and density >= 5.92')."""
    parts = [f"{name} >= {value:g}{unit}" for name, value, unit in (
        ("TPP", test.tpp, ""), ("density", test.density, ""), ("I/O", test.interconnect_gbps, " GB/s"))
        if value is not None]
    return " and ".join(parts)


def run_events(source, keep=None, subsidies: bool = True) -> list[tuple[str, str, str]]:
    """(quarter, short text, kind) for every rule, directive and subsidy of a model (or
    of a Scenario) that takes effect or is lifted, in date order; kind is 'rule',
    'directive', 'subsidy' or 'lifted'. A model gives the rules its levers add too.
    `keep`: a test of a rule (None: every rule); `subsidies`: whether subsidies count."""
    scenario = getattr(source, "scenario_spec", source)
    if hasattr(source, "scenario_spec"):
        rules = list(source.rules)
        champions = list(source.parameters.champions)
    else:
        from model.policy import lever_rules

        rules = lever_rules(scenario.rules, scenario.parameters)
        champions = list(scenario.parameters.champions)
    out = []
    for rule in rules if keep is None else filter(keep, rules):
        text = rule_text(rule)
        out.append((rule.effective, text, "rule"))
        if rule.end:
            out.append((rule.end, f"lifted: {text}", "lifted"))
    for directive in scenario.directives:
        who = ", ".join(champions) or "the champions"
        text = f"{COUNTRY_NAMES.get(directive.issuer, directive.issuer)}: {directive.foundry} serves {who} first"
        out.append((directive.effective, text, "directive"))
        if directive.end:
            out.append((directive.end, f"lifted: {text}", "lifted"))
    for subsidy in scenario.subsidies if subsidies else ():
        build = " and build-out" if subsidy.build_ahead else ""
        text = f"{COUNTRY_NAMES.get(subsidy.issuer, subsidy.issuer)}: subsidy{build} for {', '.join(subsidy.recipients)}"
        out.append((subsidy.effective, text, "subsidy"))
        if subsidy.end:
            out.append((subsidy.end, f"ends: {text}", "lifted"))
    return sorted(out, key=lambda e: parse_quarter(e[0]))


def grouped_events(events, first: float, last: float) -> list[tuple[float, str, list[tuple[str, str]]]]:
    """Events within [first, last] (years) grouped by quarter: (x, quarter, [(text, kind)])."""
    groups: dict[str, list[tuple[str, str]]] = {}
    for event in events or []:
        quarter, text = event[0], event[1]
        kind = event[2] if len(event) > 2 else "rule"
        groups.setdefault(quarter, []).append((text, kind))
    out = []
    for quarter, items in groups.items():
        x = quarter_year(parse_quarter(quarter))  # the quarter's start: the rule acts from then
        if first - 0.01 <= x <= last + 0.3:
            out.append((x, quarter, items))
    return sorted(out)


def _mark_events(ax, groups) -> None:
    transform = blended_transform_factory(ax.transData, ax.transAxes)
    for k, (x, _, items) in enumerate(groups):
        kinds = {kind for _, kind in items}
        colour = next((EVENT_COLOURS[c] for c in ("directive", "subsidy", "rule", "lifted") if c in kinds),
                      EVENT_COLOURS["rule"])
        ax.axvline(x, color=colour, ls="--", lw=0.8, alpha=0.7, zorder=1)
        ax.text(x, 0.985 - 0.075 * (k % 3), str(k + 1), transform=transform, fontsize=6.5, ha="center",
                va="top", color=colour, zorder=6,
                bbox=dict(boxstyle="round,pad=0.12", fc="white", ec=colour, lw=0.5))


def _event_key(groups) -> list[str]:
    return [f"{k + 1}  {quarter}: " + "; ".join(text for text, _ in items)
            for k, (_, quarter, items) in enumerate(groups)]


def _seed_caption(data: pd.DataFrame) -> str:
    if "seed" in data and data["seed"].nunique() > 1:
        n = data["seed"].nunique()
        return (f"lines: mean of {n} seeds; band: {BAND[0]}-{BAND[1]}% of the {n} seeds' values")
    return "one seed: no band"


def add_footer(fig, lines: list[str], key: list[str] = (), width: int = 150, size: float = 8.0) -> float:
    """Write `lines` under the axes, then `key` in two columns; return the fraction of
    the figure height they take."""
    wrapped = [w for line in lines for w in (textwrap.wrap(line, width) or [""])]
    half = (len(key) + 1) // 2
    columns = [[w for line in part for w in textwrap.wrap(line, KEY_WIDTH, subsequent_indent="      ")]
               for part in (key[:half], key[half:])]
    rows = len(wrapped) + max((len(c) for c in columns), default=0)
    line_h = size * 1.45 / 72 / fig.get_figheight()
    top = 0.01 + line_h * (rows - 1)
    for i, text in enumerate(wrapped):
        fig.text(0.01, top - line_h * i, text, fontsize=size, ha="left", va="bottom", color="#222222")
    for x, column in zip((0.01, 0.5), columns):
        for i, text in enumerate(column):
            fig.text(x, top - line_h * (len(wrapped) + i), text, fontsize=size - 0.5, ha="left",
                     va="bottom", color="#444444")
    return 0.02 + line_h * rows


# ----------------------------------------------------------------------- figures
def save_figure(fig, path: str | Path, dpi: int) -> Path:
    path = Path(path)
    fig.savefig(path, dpi=dpi)
    plt.close(fig)
    return path


def plot_run(frame: pd.DataFrame, path: str | Path, title: str = "",
             events: Sequence[tuple] | None = None, caption: str = "") -> Path:
    """Save `run_figure` to `path` (PNG) and return the path."""
    return save_figure(run_figure(frame, title, events, caption), path, 110)


def run_figure(frame: pd.DataFrame, title: str = "", events: Sequence[tuple] | None = None,
               caption: str = "") -> plt.Figure:
    """The run figure of one model frame (or several seeds: a `seed` column is drawn as
    a mean line with a 5-95% band over seeds): six panels of key series in two rows,
    then, across the third, who supplies China's AI compute (`PANELS`; a stacked panel
    draws the seeds' mean).

    `events`: (quarter, short text[, kind]) tuples, e.g. `run_events(model)`; each
    quarter is marked in every panel by a numbered dashed line at its start, keyed under
    the figure. `caption`: a line under the figure (scenario, seeds); what the band is
    is added to it. Returns the figure."""
    sns.set_theme(style="whitegrid", context="notebook")
    data = frame.iloc[1:].copy() if "seed" not in frame else frame[frame["quarter"] != frame["quarter"].iloc[0]].copy()
    data["year"] = [quarter_year(parse_quarter(q)) for q in data["quarter"]]
    first, last = (float(data["year"].min()), float(data["year"].max())) if len(data) else (0.0, 0.0)
    groups = grouped_events(events, first, last)
    key = _event_key(groups)
    caption_line = "; ".join(part for part in (caption, _seed_caption(data)) if part)
    notes = [panel.note for panel in PANELS if panel.note]
    n_footer = 2 + len(notes) * 2 + (sum(len(textwrap.wrap(line, KEY_WIDTH)) for line in key) + 1) // 2
    fig_h = 13 + 0.2 * n_footer
    fig = plt.figure(figsize=(17, fig_h))
    grid = fig.add_gridspec(3, 3)
    # Six panels in two rows; the seventh (China's AI compute, by supplier) the whole third row.
    places = [grid[i // 3, i % 3] for i in range(6)] + [grid[2, :]]
    for place, panel in zip(places, PANELS):
        ax = fig.add_subplot(place)
        if panel.stacked:
            _draw_stack(ax, data, panel)
        else:
            columns = panel.columns or [c for c in data.columns if fnmatch(c, panel.family)]
            _draw_lines(ax, data, panel, [c for c in columns if c in data])
        _mark_events(ax, groups)
        ax.set_title(panel.title)
        ax.set_xlabel("year")
        ax.set_ylabel(panel.unit)
    fig.suptitle(title)
    intro = ["Numbered dashed lines: the quarter a measure takes effect (red: state directive, "
             "blue: subsidy, grey: export rule or its end):"] if key else []
    footer = add_footer(fig, ([caption_line] if caption_line else []) + notes + intro, key)
    fig.tight_layout(rect=(0, footer, 1, 1))
    return fig


def _draw_lines(ax, data: pd.DataFrame, panel: Panel, columns: list[str]) -> None:
    """Each column a line (several seeds: their mean, with a 5-95% band)."""
    ids = ["year"] + (["seed"] if "seed" in data else [])
    long = data.melt(id_vars=ids, value_vars=columns, var_name="series")
    long["value"] = long["value"].astype(float) * panel.scale
    long["series"] = long["series"].map(label)
    if len(long):
        sns.lineplot(long, x="year", y="value", hue="series", ax=ax, lw=1.6,
                     errorbar=("pi", BAND[1] - BAND[0]), hue_order=[label(c) for c in columns])
    if ax.get_legend() is not None:
        ax.legend(fontsize=7, loc="best", title=None)


def stack_layers(data: pd.DataFrame, panel: Panel) -> tuple[pd.DataFrame, list[bool]]:
    """The layers of a stacked panel, bottom first, in the panel's unit: one row per
    year (a quarter's start; several seeds: their mean), a column per designer's
    column of `panel.family` (``<designer><suffix>``) named by the designer, Chinese
    designers first (the default world's order within), then `panel.on_top` (if the
    frame has it) named by `label`. Also, per designer column, whether it is Chinese.
    `data`: model frame rows with a ``quarter`` column (and ``seed``, if several)."""
    columns = [c for c in data.columns if fnmatch(c, panel.family)]
    suffix = panel.family.lstrip("*")
    slugs = [c.removesuffix(suffix) for c in columns]
    chinese = [_world("designers").get(s, ("", ""))[1] == "CN" for s in slugs]
    order = sorted(range(len(columns)), key=lambda i: not chinese[i])  # a stable sort
    kept = [columns[i] for i in order] + ([panel.on_top] if panel.on_top in data else [])
    years = [quarter_year(parse_quarter(q)) for q in data["quarter"]]
    mean = data[kept].astype(float).groupby(years, sort=True).mean() * panel.scale
    mean.index.name = "year"
    mean.columns = [designer_name(slugs[i]) for i in order] + [label(c) for c in kept[len(order):]]
    return mean, [chinese[i] for i in order]


CHINESE_COLOURS = ["#c8102e", "#e8702a", "#f2b134", "#8c2d04"]
FOREIGN_COLOURS = ["#2a6f97", "#61a5c2", "#264653", "#89c2d9"]
"""The stacked panel's colours: Chinese designers in reds and oranges, the others in blues."""


def _draw_stack(ax, data: pd.DataFrame, panel: Panel) -> None:
    """`stack_layers` as stacked areas (Chinese designers in reds, others in blues),
    `panel.on_top` hatched; the key lists them top-down."""
    layers, chinese = stack_layers(data, panel)
    if not chinese or layers.empty:
        ax.text(0.5, 0.5, "no AI-chip market in this run" if not chinese else "no quarter run yet",
                transform=ax.transAxes, ha="center", va="center", color="#777777")
        return
    years = layers.index.to_numpy(dtype=float)
    designers = layers.iloc[:, :len(chinese)]
    cn, abroad = cycle(CHINESE_COLOURS), cycle(FOREIGN_COLOURS)
    ax.stackplot(years, *designers.to_numpy().T, labels=list(designers.columns),
                 colors=[next(cn) if c else next(abroad) for c in chinese], alpha=0.9, lw=0)
    if layers.shape[1] > len(chinese):
        base = designers.sum(axis=1).to_numpy()
        ax.fill_between(years, base, base + layers.iloc[:, -1].to_numpy(), facecolor="white",
                        edgecolor="#777777", hatch="///", lw=0.0, label=layers.columns[-1])
    if years.max() > years.min():
        ax.set_xlim(years.min(), years.max())
    ax.set_ylim(bottom=0)
    handles, names = ax.get_legend_handles_labels()  # the key top-down, as the stack is drawn
    ax.legend(handles[::-1], names[::-1], fontsize=7, loc="upper left", bbox_to_anchor=(1.005, 1.0),
              title=None, frameon=False)


def plot_forest(table: pd.DataFrame, path: str | Path, caption: str = "",
                descriptions: dict[str, str] | None = None, a: str = "A", b: str = "B") -> Path:
    """Save `forest_figure` to `path` (PNG) and return the path."""
    return save_figure(forest_figure(table, caption, descriptions, a, b), path, 110)


def forest_figure(table: pd.DataFrame, caption: str = "", descriptions: dict[str, str] | None = None,
                  a: str = "A", b: str = "B") -> plt.Figure:
    """A forest plot of a paired comparison: one row per outcome, the mean paired
    difference B - A relative to A's mean (%), with its 95% interval, and a zero line.

    Outcomes differ in units, so each is shown relative to its mean under A; the
    absolute difference and its interval, in the outcome's unit, are written beside
    each row. `table` is `compare.summarise_differences`' table; `descriptions` maps
    outcome -> a human description (the y labels); rows with no interval (fewer than
    two pairs, or A's mean zero) show the point alone."""
    from matplotlib.ticker import PercentFormatter

    from experiments.tables import number

    sns.set_theme(style="whitegrid", context="notebook")
    table = table.reset_index(drop=True)
    n = len(table)
    fig, ax = plt.subplots(figsize=(13, 1.9 + 0.62 * max(n, 1)))
    ys = np.arange(n)[::-1]
    for y, row in zip(ys, table.itertuples()):
        base = row.mean_a
        if base and np.isfinite(base):
            rel = 100 * row.mean_difference / abs(base)
            low, high = 100 * row.ci_low / abs(base), 100 * row.ci_high / abs(base)
        else:
            rel = low = high = np.nan
        colour = "#333333"
        if np.isfinite(low) and np.isfinite(high):
            colour = "#2a6f97" if low > 0 else "#c8102e" if high < 0 else "#777777"
            ax.plot([low, high], [y, y], color=colour, lw=2, solid_capstyle="butt")
            ax.plot([low, low], [y - 0.12, y + 0.12], color=colour, lw=1.2)
            ax.plot([high, high], [y - 0.12, y + 0.12], color=colour, lw=1.2)
        if np.isfinite(rel):
            ax.plot([rel], [y], marker="s", color=colour, markersize=7, zorder=5)
        interval = (f"[{number(row.ci_low, True)}, {number(row.ci_high, True)}]"
                    if np.isfinite(row.ci_low) else "[no interval]")
        ax.annotate(f"{number(row.mean_difference, True)}  {interval}", xy=(1.02, y),
                    xycoords=("axes fraction", "data"), fontsize=8, va="center", color=colour)
    ax.axvline(0, color="black", lw=1)
    labels = [(descriptions or {}).get(o) or label(o) for o in table["outcome"]]
    ax.set_yticks(ys)
    ax.set_yticklabels([textwrap.fill(t, 46) for t in labels], fontsize=8)
    ax.set_ylim(-0.7, n - 0.3)
    ax.xaxis.set_major_formatter(PercentFormatter(100, decimals=None))
    ax.set_xlabel("B - A: mean paired difference as % of the mean under A (95% t interval)", fontsize=9)
    ax.set_title(f"B = {b} against A = {a}", fontsize=11, loc="left")
    ax.text(1.02, 1.0, "B - A in the outcome's unit\n[95% interval]", transform=ax.transAxes,
            fontsize=8, va="bottom", color="#444444")
    n_pairs = int(table["n"].max()) if n else 0
    line = "; ".join(p for p in (caption, f"{n_pairs} paired seeds (common random numbers); blue/red: "
                                 "interval above/below zero, grey: it includes zero") if p)
    footer = add_footer(fig, [line], width=170, size=8)
    fig.subplots_adjust(left=0.3, right=0.72, top=1 - 0.75 / fig.get_figheight(), bottom=footer + 0.7 / fig.get_figheight())
    return fig
