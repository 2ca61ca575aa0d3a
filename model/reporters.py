"""What a run records: named reporter functions and the collector that calls them.

Model reporters are one number per quarter each (DESIGN.md, "What a run records");
names are stable, since notebooks and validation rely on them. Shares are percent,
wafers are per quarter, money is US$ million per quarter. The entities that named
columns follow (`huawei_*`, `smic_*`, `asml_*`) are the world's `[tracked]` table: the
engine names none itself.

Every reporter is a function of one `Quarter`: the figures of the quarter just
simulated, where what several reporters share (capacities, yields, revenue totals) is
computed once (`_once`), not once per reporter.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import partial

import mesa
import numpy as np

from model.market import herfindahl
from model.technology import ADVANCED_TIERS, TIERS, quarter_label

ADVANCED = [t.index for t in ADVANCED_TIERS]
assert len(ADVANCED) < 8, "Quarter.advanced adds the advanced columns as numpy sums fewer than eight cells"
ADVANCED_MASK = np.isin(np.arange(len(TIERS)), ADVANCED)
WAFERS_8IN_PER_12IN = (300 / 200) ** 2
"""8-inch-equivalent wafers per 300 mm wafer, by area (2.25)."""


def slug(name: str) -> str:
    """'Hua Hong' -> 'hua_hong'; the form names take in reporter columns."""
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


# ----------------------------------------------------------------- the quarter
class _once:
    """`functools.cached_property` without its lock: computed on first access, then
    an ordinary instance attribute. (Python 3.11's takes a lock on each first access,
    which a Quarter, made and read by one thread per collect, has no use for.)"""

    def __init__(self, function) -> None:
        self.function, self.name, self.__doc__ = function, function.__name__, function.__doc__

    def __get__(self, instance, owner=None):
        if instance is None:
            return self
        value = instance.__dict__[self.name] = self.function(instance)
        return value


class Roster:
    """Who the reporters follow, fixed for a run (every agent is made at set-up and none
    later): the rows of the world's tracked entities (None when the world lacks one)
    and of the firm groups the China columns add up: the champion, the other Chinese
    firms, all Chinese firms (masks over firms, and their rows in firm order).
    Built once per collector, not once per collect."""

    GROUPS = ("champion", "other_china", "china")

    def __init__(self, model) -> None:
        tracked = model.world.tracked
        self.champion = model.firm_index.get(tracked.champion)
        self.foundry = model.foundry_index.get(tracked.foundry)
        self.vendor = model.vendor_index.get(tracked.vendor)
        chinese = np.asarray(model.firm_is_chinese, dtype=bool)
        champion = np.zeros(len(model.firms), dtype=bool)
        if self.champion is not None:
            champion[self.champion] = True
        self.masks = {"champion": champion, "other_china": chinese & ~champion, "china": chinese.copy()}
        self.rows = {group: np.flatnonzero(mask) for group, mask in self.masks.items()}
        # The wafer edges (made at set-up, never added to) on which the tracked foundry
        # sells advanced tiers, in edge order.
        wafers = model.trade.wafers
        self.tracked_advanced_edges = np.flatnonzero(
            (wafers.supplier == (-1 if self.foundry is None else self.foundry)) & ADVANCED_MASK[wafers.tier])
        # Each foundry's list prices (US$/wafer by tier): its fixed 2020 reference over
        # its fixed price factor, as `Quarter.relative_price` divides by.
        factor = np.array([f.price_factor for f in model.foundries])
        self.list_price = model.fleet.reference_price / factor[:, None]
        self._names = {kind: ([a.name for a in getattr(model, kind)], [a.country for a in getattr(model, kind)])
                       for kind in ("foundries", "vendors", "governments")}

    def names(self, kind: str) -> tuple[list[str], list[str]]:
        """The names and countries of the model's 'foundries', 'vendors' or
        'governments', in order (a block's first two columns; read, never changed)."""
        return self._names[kind]


class Quarter:
    """The figures of the quarter just simulated, as the reporters read them.

    Built once per collect; every shared intermediate is computed on first use and kept
    for the other reporters of that collect. `champion` / `foundry` / `vendor`: rows of
    the world's tracked entities (None when the world lacks one), from the `Roster`."""

    def __init__(self, model, roster: Roster | None = None) -> None:
        self.model = model
        self.roster = roster if roster is not None else Roster(model)
        self.champion, self.foundry, self.vendor = self.roster.champion, self.roster.foundry, self.roster.vendor

    @_once
    def capacity(self) -> np.ndarray:
        """(foundries, tiers) wafers/quarter."""
        return self.model.foundry_capacity()

    @_once
    def relative_price(self) -> np.ndarray:
        """(tiers, foundries) each foundry's price over its 2020 reference (1 = list)."""
        return np.ascontiguousarray((self.model.fleet.price / self.roster.list_price).T)

    @_once
    def yields(self) -> np.ndarray:
        """(foundries, tiers) large-die yields."""
        return self.model.foundry_yields()

    @_once
    def tracked_capacity(self) -> list[float]:
        """The tracked foundry's capacity per tier (wafers/quarter)."""
        return self.capacity[self.foundry].tolist()

    @_once
    def tracked_capacity_total(self) -> np.float64:
        """The tracked foundry's capacity over its tiers (numpy's sum of its row)."""
        return self.capacity[self.foundry].sum()

    @_once
    def tracked_yields(self) -> list[float]:
        return self.yields[self.foundry].tolist()

    @_once
    def price_indices(self) -> list[float]:
        """Per tier, the capacity-weighted relative price (`price_index`). All tiers in
        two row sums of (tiers, foundries) arrays: a contiguous row's sum is numpy's
        sum of that row alone, so each equals the tier's own `(rel * cap).sum()`."""
        cap = np.ascontiguousarray(self.capacity.T)
        whole = cap.sum(axis=1).tolist()
        weighted = (self.relative_price * cap).sum(axis=1).tolist()
        return [w / c if c > 0 else np.nan for w, c in zip(weighted, whole)]

    def advanced(self, attr: str) -> np.ndarray:
        """Per firm, advanced-tier wafers of one of its figures ('demand', 'ordered',
        'delivered'), computed once per collect: the advanced columns added one after
        another onto 0.0, which is what numpy's sum of a row of fewer than eight cells
        does (`figures[:, ADVANCED].sum(axis=1)`, bit for bit, -0.0 included) without
        gathering the cells first."""
        cache = self.__dict__.setdefault("_advanced", {})
        if attr not in cache:
            values = getattr(self.model.firm_figures, attr)
            total = 0.0 + values[:, ADVANCED[0]]
            for tier in ADVANCED[1:]:
                total += values[:, tier]
            cache[attr] = total
        return cache[attr]

    def advanced_sums(self, group: str) -> list:
        """A firm group's (`Roster.GROUPS`) advanced wafers wanted, ordered and
        delivered, each added in firm order (`_in_order`, three rows at once)."""
        cache = self.__dict__.setdefault("_advanced_sums", {})
        if group not in cache:
            rows = self.roster.rows[group]
            figures = [self.advanced(a) for a in ("demand", "ordered", "delivered")]
            if len(rows) == 1:  # one firm (the champion): its figures are the sums
                cache[group] = [values[rows[0]].item() for values in figures]
            else:
                cache[group] = _in_order_rows(np.array([values[rows] for values in figures]))
        return cache[group]

    @_once
    def delivered_by_firm(self) -> np.ndarray:
        """Per firm, delivered wafers over all tiers."""
        return self.model.firm_figures.delivered.sum(axis=1)

    @_once
    def foundry_revenues(self) -> list[float]:
        return [f.revenue_usd_m for f in self.model.foundries]

    @_once
    def foundry_revenue(self) -> float:
        return float(sum(self.foundry_revenues))

    @_once
    def edge_counts(self) -> tuple[int, int]:
        return self.model.trade.counts()

    @_once
    def tracked_advanced_flow(self) -> tuple[np.ndarray, np.ndarray]:
        """Volume and buyer of the wafer edges on which the tracked foundry sells
        advanced tiers, in edge order."""
        wafers, edges = self.model.trade.wafers, self.roster.tracked_advanced_edges
        return wafers.volume[edges], wafers.buyer[edges]

    def from_foundry(self, group: str) -> float:
        """Advanced-tier wafers the tracked foundry delivered to a firm group's firms
        (summed over the same edges, in the same order, as a mask over all)."""
        volume, buyer = self.tracked_advanced_flow
        return float(volume[self.roster.masks[group][buyer]].sum())


# ------------------------------------------------------------------------- firms
def quarter(q: Quarter) -> str:
    return quarter_label(q.model.quarter_number)


def champion_ai_dies(q: Quarter) -> float:
    """Good AI-accelerator dies delivered to the champion (Huawei) this quarter."""
    return float(q.model.firm_figures.ai_dies[q.champion]) if q.champion is not None else 0.0


def _in_order(values: np.ndarray) -> float:
    """Sum of `values` added one after another, in firm order (the order the
    per-firm sums of the first version of these reporters added them in)."""
    return float(np.cumsum(values)[-1]) if len(values) else 0


def _in_order_rows(values: np.ndarray) -> list:
    """`_in_order` of each row of a 2-D array, in one call (a cumulative sum along a
    row adds one element after another, as along a 1-D array)."""
    if values.shape[1] == 0:
        return [0] * len(values)
    return np.cumsum(values, axis=1)[:, -1].tolist()


def _fulfilment(q: Quarter, group: str) -> float:
    wanted, ordered, got = q.advanced_sums(group)
    asked = max(wanted, ordered)
    return got / asked if asked > 0 else np.nan


def champion_fulfilment(q: Quarter) -> float:
    """Delivered / ordered advanced-tier (leading, 7nm) wafers of the champion (0-1).

    The orders counted are the larger of what the firm ordered (stockpiling included)
    and what it wanted (so demand it could not place anywhere, or that fell back to an
    older tier, counts as unfilled)."""
    return _fulfilment(q, "champion") if q.champion is not None else np.nan


def other_china_fulfilment(q: Quarter) -> float:
    """The same for every other Chinese firm together."""
    return _fulfilment(q, "other_china")


def champion_foundry_advanced_wafers(q: Quarter) -> float:
    """Advanced-tier wafers the tracked foundry delivered to the champion."""
    return q.from_foundry("champion") if q.champion is not None else 0.0


def other_china_foundry_advanced_wafers(q: Quarter) -> float:
    return q.from_foundry("other_china")


def china_self_sufficiency(q: Quarter) -> float:
    """Share of Chinese firms' delivered wafers made by Chinese foundries (0-1)."""
    rows = q.roster.rows["china"]
    total, domestic = _in_order_rows(np.array([q.delivered_by_firm[rows], q.model.firm_figures.domestic_wafers[rows]]))
    return domestic / total if total > 0 else np.nan


def china_advanced_from_foundry(q: Quarter) -> float:
    """Share of Chinese firms' delivered advanced wafers that the tracked foundry made (0-1)."""
    total = _in_order(q.advanced("delivered")[q.roster.rows["china"]])
    return q.from_foundry("china") / total if total > 0 else np.nan


# ---------------------------------------------------------------------- foundries
def tracked_capacity(q: Quarter, tier: int) -> float:
    return q.tracked_capacity[tier] if q.foundry is not None else 0.0


def tracked_yield(q: Quarter, tier: int) -> float:
    return q.tracked_yields[tier] if q.foundry is not None else np.nan


def tracked_utilisation(q: Quarter) -> float:
    """Delivered / capacity over all the tracked foundry's tiers (0-1)."""
    cap = q.tracked_capacity_total
    return float(q.model.foundries[q.foundry].delivered.sum() / cap) if cap > 0 else np.nan


def tracked_capacity_8in_eq_per_month(q: Quarter) -> float:
    """The tracked foundry's capacity in the unit SMIC reports: 8-inch-equivalent
    wafers a month."""
    return float(q.tracked_capacity_total / 3 * WAFERS_8IN_PER_12IN)


def tracked_china_revenue_share(q: Quarter) -> float:
    """Share of the tracked foundry's revenue from Chinese firms (percent)."""
    f = q.model.foundries[q.foundry]
    return 100 * f.china_revenue_usd_m / f.revenue_usd_m if f.revenue_usd_m > 0 else np.nan


def tracked_revenue_usd_m(q: Quarter) -> float:
    return q.model.foundries[q.foundry].revenue_usd_m


def foundry_revenue_usd_m(q: Quarter) -> float:
    """All modelled foundries' revenue (the top-10 ranking's universe)."""
    return q.foundry_revenue


def foundry_share(q: Quarter, row: int) -> float:
    """A foundry's share of all modelled foundries' revenue (percent)."""
    total = q.foundry_revenue
    return 100 * q.foundry_revenues[row] / total if total > 0 else np.nan


def foundry_hhi(q: Quarter) -> float:
    """Herfindahl-Hirschman index of foundry revenue shares (points, 0-10,000)."""
    total = q.foundry_revenue
    if total <= 0:
        return np.nan
    return herfindahl([100 * r / total for r in q.foundry_revenues])


def price_index(q: Quarter, tier: int) -> float:
    """Volume-weighted wafer price of a tier relative to its 2020 reference (1 = list)."""
    return q.price_indices[tier]


# ----------------------------------------------------------------------- vendors
def vendor_china_share(q: Quarter) -> float:
    """Share of non-Chinese vendors' tool revenue from Chinese foundries (0-1)."""
    foreign = [v for v in q.model.vendors if v.country != "CN"]
    total = sum(v.revenue_usd_m for v in foreign)
    return sum(v.china_revenue_usd_m for v in foreign) / total if total > 0 else np.nan


def tracked_vendor_china_share(q: Quarter) -> float:
    """Share of the tracked vendor's (ASML's) tool revenue from Chinese foundries (0-1)."""
    return q.model.vendors[q.vendor].china_share if q.vendor is not None else np.nan


def china_domestic_tool_share(q: Quarter) -> float:
    """Share of Chinese foundries' tool purchases made from Chinese vendors (0-1)."""
    vendors = q.model.vendors
    total = sum(v.china_revenue_usd_m for v in vendors)
    domestic = sum(v.china_revenue_usd_m for v in vendors if v.country == "CN")
    return domestic / total if total > 0 else np.nan


# ------------------------------------------------------------------------- graph
def active_edges(q: Quarter) -> int:
    return q.edge_counts[0]


def cut_edges(q: Quarter) -> int:
    return q.edge_counts[1]


def model_reporters(model) -> dict:
    """Column name -> reporter (a function of a `Quarter`), in column order.

    Names are fixed by DESIGN.md and issue 2; the tracked entities' columns take their
    prefixes from the world's `[tracked]` names."""
    tracked = model.world.tracked
    champion, foundry, vendor = slug(tracked.champion), slug(tracked.foundry), slug(tracked.vendor)
    out = {
        "quarter": quarter,
        f"{champion}_ai_dies": champion_ai_dies,
        f"{champion}_fulfilment": champion_fulfilment,
        "other_china_fulfilment": other_china_fulfilment,
        f"{champion}_{foundry}_advanced_wafers": champion_foundry_advanced_wafers,
        f"other_china_{foundry}_advanced_wafers": other_china_foundry_advanced_wafers,
    }
    for t in TIERS:
        out[f"{foundry}_capacity_{t.key}"] = partial(tracked_capacity, tier=t.index)
    out[f"{foundry}_capacity_8in_eq_per_month"] = tracked_capacity_8in_eq_per_month
    out[f"{foundry}_utilisation"] = tracked_utilisation
    for t in TIERS:
        out[f"{foundry}_yield_{t.key}"] = partial(tracked_yield, tier=t.index)
    out[f"{foundry}_revenue_usd_m"] = tracked_revenue_usd_m
    out[f"{foundry}_china_revenue_share"] = tracked_china_revenue_share
    for row, (f, spec) in enumerate(zip(model.foundries, model.world.foundries)):
        if not spec.synthetic:  # a column per named foundry; synthetic ones are in the foundry frame
            out[f"share_{slug(f.name)}"] = partial(foundry_share, row=row)
    out["foundry_revenue_usd_m"] = foundry_revenue_usd_m
    out["foundry_hhi"] = foundry_hhi
    for t in TIERS:
        out[f"price_index_{t.key}"] = partial(price_index, tier=t.index)
    out.update({
        "china_self_sufficiency": china_self_sufficiency,
        f"china_advanced_from_{foundry}": china_advanced_from_foundry,
        "vendor_china_share": vendor_china_share,
        f"{vendor}_china_share": tracked_vendor_china_share,
        "china_domestic_tool_share": china_domestic_tool_share,
        "active_edges": active_edges,
        "cut_edges": cut_edges,
    })
    return out


# ----------------------------------------------------------- agent-type reporters
# Each agent type's frame is recorded as columns, one block per collect: a block
# function returns {column: values of the agents in order} for the whole type at once.
# `agenttype_reporters()` states the same columns per agent, in Mesa's form; the
# collector records its blocks and tests/test_reporters.py checks that they equal what
# Mesa's DataCollector records from the per-agent reporters.
FIRM_COLUMNS = ["name", "country", "demand_wafers", "ordered_wafers", "delivered_wafers",
                "advanced_demand_wafers", "advanced_delivered_wafers", "fallback_wafers",
                "ai_dies", "domestic_wafers"]
FOUNDRY_TIER_COLUMNS = tuple([f"{quantity}_{t.key}" for t in TIERS]
                             for quantity in ("capacity", "yield", "price_usd", "delivered"))
"""The foundry frame's per-tier columns, by quantity, in tier order."""


def foundry_block(q: Quarter) -> dict[str, list]:
    # Whole (foundries, tiers) arrays: a row's sum over tiers is the sum of that
    # foundry's own array (the same contiguous reduction), columns read as lists.
    foundries = q.model.foundries
    capacity, yields, price = q.capacity, q.yields, q.model.fleet.price
    delivered = np.array([f.delivered for f in foundries])
    orders = np.array([f.orders for f in foundries])
    names, countries = q.roster.names("foundries")
    out = {
        "name": names, "country": countries,
        "revenue_usd_m": q.foundry_revenues,
        "china_revenue_usd_m": [f.china_revenue_usd_m for f in foundries],
        "capex_usd_m": [f.capex_usd_m for f in foundries],
        "subsidy_usd_m": [f.subsidy_usd_m for f in foundries],
        "capacity_wafers": capacity.sum(axis=1).tolist(),
        "delivered_wafers": delivered.sum(axis=1).tolist(),
        "ordered_wafers": orders.sum(axis=1).tolist(),
    }
    for columns, values in zip(FOUNDRY_TIER_COLUMNS, (capacity, yields, price, delivered)):
        out.update(zip(columns, values.T.tolist()))
    return out


def firm_block(q: Quarter) -> dict[str, list]:
    model = q.model
    figures = model.firm_figures
    names, countries = model.firm_names, model.firm_countries
    values = [
        figures.demand.sum(axis=1), figures.ordered.sum(axis=1), q.delivered_by_firm,
        q.advanced("demand").copy(), q.advanced("delivered").copy(),
        figures.fallback_wafers.copy(), figures.ai_dies.copy(), figures.domestic_wafers.copy(),
    ]
    return {"name": names, "country": countries, **dict(zip(FIRM_COLUMNS[2:], values))}


def vendor_block(q: Quarter) -> dict[str, list]:
    vendors = q.model.vendors
    names, countries = q.roster.names("vendors")
    return {
        "name": names, "country": countries,
        "revenue_usd_m": [v.revenue_usd_m for v in vendors],
        "china_revenue_usd_m": [v.china_revenue_usd_m for v in vendors],
        "china_share": [v.china_share for v in vendors],
        "subsidy_usd_m": [v.subsidy_usd_m for v in vendors],
        "output_units": [float(sum(v.output.values())) for v in vendors],
        "best_progress": [float(min(v.progress.values())) for v in vendors],
    }


def government_block(q: Quarter) -> dict[str, list]:
    governments = q.model.governments
    names, countries = q.roster.names("governments")
    return {
        "name": names, "country": countries,
        "rules_in_force": [g.rules_in_force for g in governments],
        "subsidy_usd_m": [g.subsidy_usd_m for g in governments],
    }


def firm_records(model) -> list[tuple]:
    """(step, agent id, *FIRM_COLUMNS) per firm, as Mesa's agent-type records, from the
    model's `firm_figures` arrays."""
    block = firm_block(Quarter(model))
    ids = [f.unique_id for f in model.firms]
    columns = [block[c] if isinstance(block[c], list) else block[c].tolist() for c in FIRM_COLUMNS]
    return list(zip([model.steps] * len(ids), ids, *columns))


def agent_blocks() -> dict:
    """Agent type -> block function (the whole type's columns of one quarter)."""
    from agents.fabless import FablessFirm
    from agents.foundry import Foundry
    from agents.government import Government
    from agents.vendor import EquipmentVendor

    return {Foundry: foundry_block, FablessFirm: firm_block, EquipmentVendor: vendor_block,
            Government: government_block}


def agenttype_reporters() -> dict:
    """Per agent type, each agent's own figures per quarter, as Mesa's per-agent
    reporters: what each block records (see `agent_blocks`)."""
    from agents.fabless import FablessFirm
    from agents.foundry import Foundry
    from agents.government import Government
    from agents.vendor import EquipmentVendor

    foundry = {"name": "name", "country": "country", "revenue_usd_m": "revenue_usd_m",
               "china_revenue_usd_m": "china_revenue_usd_m", "capex_usd_m": "capex_usd_m",
               "subsidy_usd_m": "subsidy_usd_m",
               "capacity_wafers": partial(_tiers, "capacity_by_tier"),
               "delivered_wafers": partial(_tiers, "delivered"),
               "ordered_wafers": partial(_tiers, "orders")}
    for t in TIERS:
        foundry[f"capacity_{t.key}"] = partial(_tier_value, "capacity_by_tier", t.index)
        foundry[f"yield_{t.key}"] = partial(_yield, t.index)
        foundry[f"price_usd_{t.key}"] = partial(_tier_value, "price", t.index)
        foundry[f"delivered_{t.key}"] = partial(_tier_value, "delivered", t.index)
    firm = {"name": "name", "country": "country",
            "demand_wafers": partial(_tiers, "demand"),
            "ordered_wafers": partial(_tiers, "ordered"),
            "delivered_wafers": partial(_tiers, "delivered"),
            "advanced_demand_wafers": partial(_advanced, "demand"),
            "advanced_delivered_wafers": partial(_advanced, "delivered"),
            "fallback_wafers": "fallback_wafers", "ai_dies": "ai_dies",
            "domestic_wafers": "domestic_wafers"}
    vendor = {"name": "name", "country": "country", "revenue_usd_m": "revenue_usd_m",
              "china_revenue_usd_m": "china_revenue_usd_m", "china_share": "china_share",
              "subsidy_usd_m": "subsidy_usd_m", "output_units": partial(_sum_dict, "output"),
              "best_progress": partial(_min_dict, "progress")}
    government = {"name": "name", "country": "country", "rules_in_force": "rules_in_force",
                  "subsidy_usd_m": "subsidy_usd_m"}
    return {Foundry: foundry, FablessFirm: firm, EquipmentVendor: vendor, Government: government}


def _tiers(attr: str, agent) -> float:
    return float(getattr(agent, attr).sum())


def _tier_value(attr: str, tier: int, agent) -> float:
    return float(getattr(agent, attr)[tier])


def _yield(tier: int, agent) -> float:
    return float(agent.yields()[tier])


def _advanced(attr: str, agent) -> float:
    return float(getattr(agent, attr)[ADVANCED].sum())


def _sum_dict(attr: str, agent) -> float:
    return float(sum(getattr(agent, attr).values()))


def _min_dict(attr: str, agent) -> float:
    return float(min(getattr(agent, attr).values()))


# ------------------------------------------------------------------- collecting
def _report(function, collector: ChipDataCollector, model) -> object:
    """A model reporter as Mesa calls it: `function` of the collector's current Quarter."""
    return function(collector.quarter)


@dataclass
class _Blocks:
    """One agent type's recorded blocks: the step of each, and its columns."""

    steps: list
    columns: list


class ChipDataCollector(mesa.DataCollector):
    """Mesa's DataCollector, recording through its public interface only.

    Model reporters (functions of a `Quarter`, see `model_reporters`) fill Mesa's
    `model_vars`, one value per collect, so `get_model_vars_dataframe()` and
    `mesa.batch_run` read them as usual. Agent types are recorded as column blocks per
    collect (`agent_blocks`: a synthetic world has 10^5 firms); `agenttype_frame` gives
    the frame Mesa's `get_agenttype_vars_dataframe` builds from the per-agent reporters
    (`agenttype_reporters`), which this collector also declares.

    `collect`: None records everything; a sequence of model reporter names records
    only those (and `quarter`) and no agent-type frame: the lean mode for sweeps.
    """

    def __init__(self, model, collect=None) -> None:
        reporters = model_reporters(model)
        if collect is not None:
            unknown = [name for name in collect if name not in reporters]
            if unknown:
                raise ValueError(f"collect: unknown model reporter '{unknown[0]}'; expected some of: "
                                 + ", ".join(reporters))
            reporters = {name: f for name, f in reporters.items() if name == "quarter" or name in collect}
        self.lean = collect is not None
        self.roster = Roster(model)
        self.quarter: Quarter | None = None
        # Mesa calls a partial with the model; each reads this collect's shared Quarter.
        reporters = {name: partial(_report, function, self) for name, function in reporters.items()}
        super().__init__(model_reporters=reporters,
                         agenttype_reporters=None if self.lean else agenttype_reporters())
        self.blocks = {} if self.lean else {cls: _Blocks([], []) for cls in agent_blocks()}
        self._block_functions = {} if self.lean else agent_blocks()
        # Agents are all made before the collector and none is added later.
        self._ids = {cls: [a.unique_id for a in model.agents_by_type[cls]] if cls in model.agent_types else []
                     for cls in self.blocks}

    def collect(self, model) -> None:
        """Record this quarter: the model reporters through Mesa's own `collect` (so its
        bookkeeping, which `mesa.batch_run` reads on every Mesa 3.x, stays its own),
        the agent types as column blocks."""
        q = self.quarter = Quarter(model, self.roster)
        declared, self.agenttype_reporters = self.agenttype_reporters, {}  # recorded as blocks below
        try:
            super().collect(model)
        finally:
            self.agenttype_reporters = declared
        for cls, record in self.blocks.items():
            record.steps.append(model.steps)
            record.columns.append(self._block_functions[cls](q))

    def agenttype_frame(self, agent_type, ids: list[int]):
        """The frame of one agent type: a row per collect and agent (in the order the
        agents were made), indexed by (Step, AgentID), columns as `agenttype_reporters`."""
        import pandas as pd

        record = self.blocks[agent_type]
        names = list(self.agenttype_reporters[agent_type])
        n = len(ids)
        columns = {
            "Step": np.repeat(np.asarray(record.steps, dtype=np.int64), n),
            "AgentID": np.tile(np.asarray(ids, dtype=np.int64), len(record.steps)),
        }
        for name in names:
            parts = [block[name] for block in record.columns]
            if parts and isinstance(parts[0], np.ndarray):
                columns[name] = np.concatenate(parts)
            else:
                columns[name] = [x for part in parts for x in part]
        return pd.DataFrame(columns).set_index(["Step", "AgentID"])

    def get_agenttype_vars_dataframe(self, agent_type):
        """Mesa's method, answered from the recorded blocks."""
        if agent_type not in self.blocks:
            return super().get_agenttype_vars_dataframe(agent_type)
        return self.agenttype_frame(agent_type, self._ids[agent_type])

    def frames(self) -> dict:
        """'model' (a row per collect), and unless lean one frame per agent type with
        `quarter` and `step` columns in front."""
        out = {"model": self.get_model_vars_dataframe().reset_index(drop=True)}
        labels = np.asarray(out["model"]["quarter"].tolist(), dtype=object)
        for cls in self.blocks:
            df = self.agenttype_frame(cls, self._ids[cls]).reset_index()
            df.insert(0, "quarter", labels[df["Step"].to_numpy(dtype=np.int64)])
            out[cls.kind] = df.drop(columns=["AgentID"]).rename(columns={"Step": "step"})
        return out
