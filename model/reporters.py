"""What a run records: named reporter functions and the collector that calls them.

Model reporters are one number per quarter each (DESIGN.md, "What a run records");
names are stable, since notebooks and validation rely on them. Shares are percent,
wafers are per quarter, money is US$ million per quarter. The entities that named
columns follow (`huawei_*`, `smic_*`, `asml_*`) are the world's `[tracked]` table: the
engine names none itself.

Every reporter is a function of one `Quarter`: the figures of the quarter just
simulated, where what several reporters share (capacities, yields, revenue totals) is
computed once (`_once`), not once per reporter. A family reporter (`tracked_capacities`,
`tracked_yields`, `foundry_shares`, `price_indices`) gives the values of several
columns (one per tier or per named foundry) in one call.

Who gains, who loses (`MONEY_FLOWS`): each money flow, US$ million per quarter, has a
stem S and columns `S` (total), `S_<CC>` (one home country, ISO code in upper case) and
for sellers `S_<firm>` (one named agent, the slug of its name in lower case): e.g.
`foundry_revenue_usd_m_TW`, `vendor_revenue_usd_m_asml`, `fabless_wafer_cost_usd_m_CN`.
"""

from __future__ import annotations

import math

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import mesa
import numpy as np

from model.chain import summed
from model.market import herfindahl
from model.technology import ADVANCED_TIERS, HBM_GENERATIONS, TIERS, quarter_label

ADVANCED = [t.index for t in ADVANCED_TIERS]
assert len(ADVANCED) < 8, "Quarter.advanced adds the advanced columns as numpy sums fewer than eight cells"
assert len(TIERS) < 8, "_row_sum adds a foundry's tiers as numpy sums fewer than eight cells"
ADVANCED_MASK = np.isin(np.arange(len(TIERS)), ADVANCED)
WAFERS_8IN_PER_12IN = (300 / 200) ** 2
"""8-inch-equivalent wafers per 300 mm wafer, by area (2.25)."""


def slug(name: str) -> str:
    """'Hua Hong' -> 'hua_hong'; the form names take in reporter columns."""
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


def _row_sum(values: list[float]) -> float:
    """numpy's sum of a row of fewer than eight cells, as Python floats: the cells
    added one after another onto 0.0 (what its reduction does there, -0.0 included)."""
    total = 0.0
    for value in values:
        total += value
    return total


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
        # The wafer edges (made at set-up, never added to, each with its buyer for good)
        # on which the tracked foundry sells advanced tiers to a group's firms, in edge
        # order: what `Quarter.from_foundry` adds up.
        wafers = model.trade.wafers
        advanced = np.flatnonzero(
            (wafers.supplier == (-1 if self.foundry is None else self.foundry)) & ADVANCED_MASK[wafers.tier])
        self.advanced_edges = {group: advanced[mask[wafers.buyer[advanced]]] for group, mask in self.masks.items()}
        # Each foundry's list prices (US$/wafer by tier): its fixed 2020 reference over
        # its fixed price factor, as `Quarter.relative_price` divides by.
        factor = np.array([f.price_factor for f in model.foundries])
        self.list_price = model.fleet.reference_price / factor[:, None]
        # Rows of the world's named (not synthetic) foundries, which have share columns.
        self.named_foundries = [row for row, spec in enumerate(model.world.foundries) if not spec.synthetic]
        self.advanced_cells = advanced_cells(model)
        # Rows of the world's named (not synthetic) vendors, which have backlog columns.
        self.named_vendors = named_vendors(model)
        self.foreign_vendors = [v for v in model.vendors if v.country != "CN"]
        self.domestic_vendors = [v for v in model.vendors if v.country == "CN"]
        self._names = {kind: ([a.name for a in getattr(model, kind)], [a.country for a in getattr(model, kind)])
                       for kind in ("foundries", "vendors", "governments")}
        self._names["firms"] = (model.firm_names, model.firm_countries)
        for kind in ("designers", "memory_makers", "packagers", "buyers", "tool_buyers"):
            self._names[kind] = ([a.name for a in getattr(model, kind)], [a.country for a in getattr(model, kind)])
        # The champion's designer (None when it makes no accelerators); Chinese designers.
        designers = getattr(model, "designer_index", {})
        self.champion_designer = designers.get(tracked.champion)
        self.chinese_designers = [d for d in model.designers if d.country == "CN"]

    def names(self, kind: str) -> tuple[list[str], list[str]]:
        """The names and countries of the model's 'foundries', 'vendors', 'governments'
        or 'firms', in order (a frame's first two columns; read, never changed)."""
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
    def china_sales(self) -> tuple[np.ndarray, np.ndarray]:
        """(units, H100e) each designer delivered to Chinese buyers this quarter."""
        market, n = self.model.accelerator_market, len(self.model.designers)
        units = summed(market.edges.supplier, market.flow, n, market.china_buyer)
        h100e = summed(market.edges.supplier, market.flow * market.h100e[market.edges.category], n,
                       market.china_buyer)
        return units, h100e

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
    def tracked_capacity_total(self) -> float:
        """The tracked foundry's capacity over its tiers (numpy's sum of its row)."""
        return _row_sum(self.tracked_capacity)

    @_once
    def price_indices(self) -> list[float]:
        """Per tier, the capacity-weighted relative price (`price_index`). All tiers in
        two row sums of (tiers, foundries) arrays: a contiguous row's sum is numpy's
        sum of that row alone, so each equals the tier's own `(rel * cap).sum()`."""
        cap = np.ascontiguousarray(self.capacity.T)
        whole = np.add.reduce(cap, axis=1).tolist()
        weighted = np.add.reduce(self.relative_price * cap, axis=1).tolist()
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
                cache[group] = _in_order_rows(np.array([values.take(rows) for values in figures]))
        return cache[group]

    @_once
    def delivered_by_firm(self) -> np.ndarray:
        """Per firm, delivered wafers over all tiers."""
        return np.add.reduce(self.model.firm_figures.delivered, axis=1)

    @_once
    def wafer_cost(self) -> np.ndarray:
        """Per fabless firm, what it paid for its wafers this quarter (`wafer_cost_by_firm`)."""
        return wafer_cost_by_firm(self.model)

    @_once
    def foundry_revenues(self) -> list[float]:
        return [f.revenue_usd_m for f in self.model.foundries]

    @_once
    def foundry_revenue(self) -> float:
        return float(sum(self.foundry_revenues))

    @_once
    def foundry_shares(self) -> list[float] | None:
        """Each foundry's share of all modelled foundries' revenue (percent); None when
        they have none."""
        total = self.foundry_revenue
        return [100 * r / total for r in self.foundry_revenues] if total > 0 else None

    @_once
    def edge_counts(self) -> tuple[int, int]:
        return self.model.trade.counts()

    def from_foundry(self, group: str) -> float:
        """Advanced-tier wafers the tracked foundry delivered to a firm group's firms
        (summed over the same edges, in the same order, as a mask over all)."""
        return float(np.add.reduce(self.model.trade.wafers.volume.take(self.roster.advanced_edges[group])))


# ------------------------------------------------------------ the accelerator chain
def _champion_designer(q: Quarter):
    row = q.roster.champion_designer
    return q.model.designers[row] if row is not None else None


def champion_figure(attr: str, empty, q: Quarter):
    """The champion's designer's figure `attr` this quarter (`empty` when the champion
    makes no accelerators): as `model_reporters` names them, `units` (accelerators,
    packaged units made), `h100e` (the same in H100-equivalents of dense BF16
    throughput), `binding` (the input that bound them: 'dies', 'hbm', 'packaging' or
    'demand'), `die_stock` (good logic dies held at the quarter's end: its die bank),
    `leak_dies_in` (dies that reached it over a leak route this quarter)."""
    designer = _champion_designer(q)
    return getattr(designer, attr) if designer is not None else empty


def other_china_accelerators(q: Quarter) -> float:
    """Accelerators the other Chinese designers made this quarter (all but the champion)."""
    champion = _champion_designer(q)
    return float(sum(d.units for d in q.roster.chinese_designers if d is not champion))


def china_hbm_stock(q: Quarter) -> float:
    """HBM stacks Chinese designers hold at the quarter's end."""
    return float(sum(d.hbm_stock_stacks for d in q.roster.chinese_designers))


def designer_accelerators(q: Quarter) -> list[float]:
    """Accelerators each designer made this quarter, in designer order."""
    return [d.units for d in q.model.designers]


# ------------------------------------------------------------ the AI-chip market
def china_compute(q: Quarter) -> float:
    """H100-equivalents delivered to Chinese buyers this quarter."""
    return float(q.china_sales[1].sum()) if q.model.buyers else 0.0


def china_unmet_compute(q: Quarter) -> float:
    """H100-equivalents Chinese buyers wanted and did not receive this quarter."""
    return float(sum(b.unmet_h100e for b in q.model.buyers if b.country == "CN"))


def domestic_china_share(q: Quarter) -> float:
    """% of the accelerators delivered to Chinese buyers this quarter made by Chinese designers."""
    if not q.model.buyers:
        return 0.0
    units, _ = q.china_sales
    chinese = np.array([d.country == "CN" for d in q.model.designers], dtype=bool)
    return _percent(units[chinese].sum(), units.sum())


def designer_china_shares(q: Quarter) -> list[float]:
    """Per designer: % of the accelerators delivered to Chinese buyers this quarter."""
    if not q.model.buyers:
        return [0.0] * len(q.model.designers)
    units, _ = q.china_sales
    return [_percent(u, units.sum()) for u in units.tolist()]


def designer_china_compute(q: Quarter) -> list[float]:
    """Per designer: H100-equivalents delivered to Chinese buyers this quarter."""
    if not q.model.buyers:
        return [0.0] * len(q.model.designers)
    return q.china_sales[1].tolist()


def product_china_units(q: Quarter) -> list[float]:
    """Per accelerator of the world: units delivered to Chinese buyers this quarter."""
    market = getattr(q.model, "accelerator_market", None)
    if market is None or not q.model.buyers:
        return [0.0] * len(q.model.world.accelerators)
    return market.by_product(market.flow, market.china_buyer).tolist()


def designer_china_revenue(q: Quarter) -> list[float]:
    """Per designer: US$ million earned from Chinese buyers (net of licence fees)."""
    return [d.china_revenue_usd_m for d in q.model.designers]


def designer_china_revenue_share(q: Quarter) -> list[float]:
    """Per designer: % of its accelerator revenue earned from Chinese buyers."""
    return [_percent(d.china_revenue_usd_m, d.revenue_usd_m) for d in q.model.designers]


def buyer_groups(q: Quarter) -> list[float]:
    """The state's priority buyers (the `ration_buyers` lever) and the other Chinese
    buyers: each group's compute ordered and received this quarter (H100e, summed over
    its buyers) and its fulfilment (received / ordered; 1 if it ordered none; NaN for a
    group without buyers)."""
    listed = set(q.model.parameters.ration_buyers)
    out = []
    for member in (lambda b: b.name in listed, lambda b: b.country == "CN" and b.name not in listed):
        group = [b for b in q.model.buyers if member(b)]
        if not group:
            out += [math.nan] * 3
            continue
        ordered, received = sum(b.ordered_h100e for b in group), sum(b.received_h100e for b in group)
        out += [ordered, received, received / ordered if ordered > 0 else 1.0]
    return out


BUYER_GROUP_COLUMNS = tuple(f"{group}_{figure}" for group in ("priority_buyers", "non_priority_buyers")
                            for figure in ("ordered_h100e", "received_h100e", "fulfilment"))


def _percent(part: float, whole: float) -> float:
    return float(100.0 * part / whole) if whole > 0 else 0.0


# ------------------------------------------------------------------------- firms
def quarter(q: Quarter) -> str:
    return quarter_label(q.model.quarter_number)


def champion_ai_dies(q: Quarter) -> float:
    """Good AI-accelerator dies delivered to the champion (Huawei) this quarter."""
    return float(q.model.firm_figures.ai_dies[q.champion]) if q.champion is not None else 0.0


def _in_order(values: np.ndarray) -> float:
    """Sum of `values` added one after another, in firm order (the order the
    per-firm sums of the first version of these reporters added them in)."""
    return float(np.add.accumulate(values)[-1]) if len(values) else 0


def _in_order_rows(values: np.ndarray) -> list:
    """`_in_order` of each row of a 2-D array, in one call (a cumulative sum along a
    row adds one element after another, as along a 1-D array)."""
    if values.shape[1] == 0:
        return [0] * len(values)
    return np.add.accumulate(values, axis=1)[:, -1].tolist()


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
    total, domestic = _in_order_rows(np.array([q.delivered_by_firm.take(rows),
                                               q.model.firm_figures.domestic_wafers.take(rows)]))
    return domestic / total if total > 0 else np.nan


def china_localisation(q: Quarter) -> float:
    """Chinese firms' log-preference for home foundries at 28nm and mature tiers, built
    up by the chip controls against China (`model.demand.localisation_level`; 0: none;
    exp of it is the multiplier on their domestic relations' logit weights)."""
    return float(q.model.sector.localisation.get("CN", 0.0))


def china_advanced_from_foundry(q: Quarter) -> float:
    """Share of Chinese firms' delivered advanced wafers that the tracked foundry made (0-1)."""
    total = _in_order(q.advanced("delivered").take(q.roster.rows["china"]))
    return q.from_foundry("china") / total if total > 0 else np.nan


# ---------------------------------------------------------------------- foundries
def tracked_capacities(q: Quarter) -> list[float]:
    """The tracked foundry's capacity per tier (wafers/quarter; 0 without one)."""
    return q.tracked_capacity if q.foundry is not None else [0.0] * len(TIERS)


def tracked_yields(q: Quarter) -> list[float]:
    """The tracked foundry's large-die yield per tier (NaN without one)."""
    return q.yields[q.foundry].tolist() if q.foundry is not None else [np.nan] * len(TIERS)


def tracked_utilisation(q: Quarter) -> float:
    """Delivered / capacity over all the tracked foundry's tiers (0-1)."""
    cap = q.tracked_capacity_total
    return _row_sum(q.model.foundries[q.foundry].delivered.tolist()) / cap if cap > 0 else np.nan


def tracked_capacity_8in_eq_per_month(q: Quarter) -> float:
    """The tracked foundry's capacity in the unit SMIC reports: 8-inch-equivalent
    wafers a month."""
    return q.tracked_capacity_total / 3 * WAFERS_8IN_PER_12IN


def tracked_china_revenue_share(q: Quarter) -> float:
    """Share of the tracked foundry's revenue from Chinese firms (percent)."""
    f = q.model.foundries[q.foundry]
    return 100 * f.china_revenue_usd_m / f.revenue_usd_m if f.revenue_usd_m > 0 else np.nan


def tracked_revenue_usd_m(q: Quarter) -> float:
    return q.model.foundries[q.foundry].revenue_usd_m


def foundry_revenue_usd_m(q: Quarter) -> float:
    """All modelled foundries' revenue (the top-10 ranking's universe)."""
    return q.foundry_revenue


def foundry_shares(q: Quarter) -> list[float]:
    """Each named foundry's share of all modelled foundries' revenue (percent)."""
    shares, rows = q.foundry_shares, q.roster.named_foundries
    return [shares[row] for row in rows] if shares is not None else [np.nan] * len(rows)


def foundry_hhi(q: Quarter) -> float:
    """Herfindahl-Hirschman index of foundry revenue shares (points, 0-10,000)."""
    shares = q.foundry_shares
    return herfindahl(shares) if shares is not None else np.nan


def foundry_gross_margins(q: Quarter) -> list[float]:
    """Each named foundry's gross margin (fraction; `model.costs.gross_margin`)."""
    foundries = q.model.foundries
    return [foundries[row].gross_margin for row in q.roster.named_foundries]


def foundry_costs_usd_m(q: Quarter) -> float:
    """All modelled foundries' cost of goods (US$ million; model.costs)."""
    return float(sum(f.cost_usd_m for f in q.model.foundries))


def advanced_cells(model) -> list[tuple[int, int]]:
    """(row, tier) of each named foundry's advanced tiers that it runs at all: the
    cells with a cost-per-good-wafer column."""
    return [(row, t) for row, spec in enumerate(model.world.foundries) if not spec.synthetic
            for t in ADVANCED if TIERS[t].value in spec.tiers]


def advanced_costs_per_good_wafer(q: Quarter) -> list[float]:
    """Each named foundry's cost per good wafer at the advanced tiers it runs (US$; NaN
    before it has capacity there), foundry by foundry, tiers in order."""
    foundries = q.model.foundries
    return [float(foundries[row].cost_per_good_wafer[t]) for row, t in q.roster.advanced_cells]


def price_indices(q: Quarter) -> list[float]:
    """Per tier, the volume-weighted wafer price relative to its 2020 reference (1 = list)."""
    return q.price_indices


# ----------------------------------------------------------------------- vendors
def vendor_china_share(q: Quarter) -> float:
    """Share of non-Chinese vendors' tool revenue from Chinese buyers (foundries and
    memory makers' and IDMs' fabs) (0-1)."""
    foreign = q.roster.foreign_vendors
    total = sum(v.revenue_usd_m for v in foreign)
    return sum(v.china_revenue_usd_m for v in foreign) / total if total > 0 else np.nan


def tracked_vendor_china_share(q: Quarter) -> float:
    """Share of the tracked vendor's (ASML's) tool revenue from Chinese buyers (0-1)."""
    return q.model.vendors[q.vendor].china_share if q.vendor is not None else np.nan


def china_equipment_share(q: Quarter) -> float:
    """China's share of the world's equipment sales this quarter: every vendor's (the
    domestic ones too) revenue from Chinese buyers (foundries and other fabs) over every
    vendor's revenue (0-1; SEMI's measure, calibration.csv: equipment_market_china)."""
    total = sum(v.revenue_usd_m for v in q.model.vendors)
    return sum(v.china_revenue_usd_m for v in q.model.vendors) / total if total > 0 else np.nan


TOOL_SALES_COLUMNS = ("tool_sales_usd_m_foundry", "tool_sales_usd_m_memory", "tool_sales_usd_m_idm")


def tool_sales_by_buyer_kind(q: Quarter) -> list[float]:
    """The vendors' sales this quarter (US$ million at the unit prices: the tools
    delivered) to foundries, to memory makers' fabs and to IDMs' fabs (`agents.fab`);
    their sum is the vendors' revenue."""
    model = q.model
    by_buyer = model.tool_market.by_buyer_usd_m(model.tool_market.last.filled)
    n = len(model.foundries)
    kinds = [b.fab_kind for b in model.tool_buyers]
    return [float(by_buyer[:n].sum()),
            float(sum(usd for usd, kind in zip(by_buyer[n:].tolist(), kinds) if kind == "memory")),
            float(sum(usd for usd, kind in zip(by_buyer[n:].tolist(), kinds) if kind == "idm"))]


def china_domestic_tool_share(q: Quarter) -> float:
    """Share of Chinese buyers' (foundries' and other fabs') tool purchases made from
    Chinese vendors (0-1)."""
    total = sum(v.china_revenue_usd_m for v in q.model.vendors)
    domestic = sum(v.china_revenue_usd_m for v in q.roster.domestic_vendors)
    return domestic / total if total > 0 else np.nan


# ------------------------------------------------------- who gains, who loses
COUNTRY_NAMES = {"US": "United States", "CN": "China", "TW": "Taiwan", "KR": "South Korea", "JP": "Japan",
                 "NL": "Netherlands", "DE": "Germany", "FR": "France", "GB": "United Kingdom", "SG": "Singapore",
                 "IL": "Israel", "IN": "India"}
"""Human names of the ISO 3166 codes the worlds use (tables print them; a code missing
here prints as itself)."""


def wafer_cost_by_firm(model) -> np.ndarray:
    """Per fabless firm (firm order), what it paid for the wafers delivered to it this
    quarter: price x wafers over its wafer edges, at the prices the quarter's wafers
    were sold at (`ChipMarketModel.wafer_sale_price`, before this quarter's price
    update), US$ million. The same products, divided the same way, as the foundries'
    revenue (`WaferMarket.settle`), so the firms' sum is the foundries' wafer revenue
    (their revenue less their packaging's)."""
    market = model.wafer_market
    paid = np.ravel(model.wafer_sale_price).take(market.seller)
    paid *= market.flow
    paid /= 1e6
    return np.bincount(market.edges.buyer, weights=paid, minlength=len(model.firms))


def _firm_wafer_cost(q: Quarter) -> np.ndarray:
    return q.wafer_cost


@dataclass(frozen=True)
class MoneyFlow:
    """One money flow of the who-gains accounts, US$ million per quarter, per agent of
    one kind. `stem` names its columns (see `money_flow_columns`); `kind` is the model's
    list of the agents it belongs to; `side` is 'earned' (sellers' revenue or profit) or
    'paid' (the cost of chips to buyers); `by_firm`: a model column per named agent too
    (else per country only: the agent frame has it per agent); `attr`: the agents'
    attribute it reads (None: `values`, a function of the `Quarter`, computes it)."""

    stem: str
    label: str
    kind: str
    side: str
    by_firm: bool
    attr: str | None = None
    values: Callable | None = None

    def present(self, model) -> bool:
        """Whether this model records the flow: every agent of its kind carries `attr`
        from construction (a flow read from an attribute the agents lack, such as gross
        profit before foundries have costs, is absent, never invented)."""
        agents = getattr(model, self.kind)
        return self.attr is None or all(hasattr(a, self.attr) for a in agents)

    def per_agent(self, q: Quarter) -> np.ndarray:
        """This quarter's values, one per agent of `kind` in model order (US$ million)."""
        if self.values is not None:
            return self.values(q)
        return np.array([getattr(a, self.attr) for a in getattr(q.model, self.kind)], dtype=float)


MONEY_FLOWS: tuple[MoneyFlow, ...] = (
    MoneyFlow("foundry_revenue_usd_m", "Foundry revenue", "foundries", "earned", True, "revenue_usd_m"),
    MoneyFlow("foundry_gross_profit_usd_m", "Foundry gross profit", "foundries", "earned", True,
              "gross_profit_usd_m"),
    MoneyFlow("vendor_revenue_usd_m", "Equipment vendor revenue", "vendors", "earned", True, "revenue_usd_m"),
    MoneyFlow("vendor_gross_profit_usd_m", "Equipment vendor gross profit", "vendors", "earned", True,
              "gross_profit_usd_m"),
    MoneyFlow("packaging_revenue_usd_m", "Packaging house revenue (TSMC's also in its foundry revenue)",
              "packagers", "earned", True, "revenue_usd_m"),
    MoneyFlow("designer_revenue_usd_m", "Accelerator designer revenue, net of licence fees", "designers",
              "earned", True, "revenue_usd_m"),
    MoneyFlow("fabless_wafer_cost_usd_m", "Fabless firms' wafer bill", "firms", "paid", False,
              values=_firm_wafer_cost),
    MoneyFlow("designer_packaging_cost_usd_m", "Accelerator designers' packaging bill", "designers", "paid", False,
              "packaging_cost_usd_m"),
    MoneyFlow("buyer_accelerator_cost_usd_m", "Accelerator buyers' bill", "buyers", "paid", False, "spent_usd_m"),
)
"""The who-gains accounts, in the order `chipstate compare` prints them. Columns, for
a flow with stem S (US$ million per quarter each):

- `S`: the total over every agent of the kind (`foundry_revenue_usd_m` is the
  model's existing total of all modelled foundries' revenue: their wafers' and, as the
  foundry rankings count it, the packaging of a house a foundry owns, TSMC's CoWoS;
  `packaging_revenue_usd_m` shows every house's, TSMC's again, so flows are not summed);
- `S_<CC>`: the agents whose home country has ISO code CC (upper case), one column per
  country present among them at set-up (`foundry_revenue_usd_m_TW`);
- `S_<firm>`: one named agent (the slug of its name, lower case), for flows `by_firm`
  (`vendor_revenue_usd_m_asml`); synthetic long-tail agents count in their country and
  the total only.

The fabless firms' wafer bill per firm is the firm frame's `wafer_cost_usd_m`; the
designers' packaging bill (the slots they booked at the houses' prices) is the designer
frame's `packaging_cost_usd_m`; the accelerator buyers' is the buyer frame's
`spent_usd_m`. The designers' bill is less than the houses' revenue by what the houses'
other customers (`other_customers`, not held as designers) pay."""


class FlowLayout:
    """Where a money flow's values go: its agents' country (index into `countries`) and
    the rows of its named agents, fixed at set-up."""

    def __init__(self, flow: MoneyFlow, model) -> None:
        self.flow = flow
        agents = getattr(model, flow.kind)
        country = [a.country for a in agents]
        self.countries = sorted(set(country))
        self.country_index = np.array([self.countries.index(c) for c in country], dtype=np.int64)
        self.rows = _named_rows(model, flow.kind) if flow.by_firm else []
        self.names = [agents[row].name for row in self.rows]
        self.name_countries = [agents[row].country for row in self.rows]

    def columns(self) -> tuple[str, ...]:
        stem = self.flow.stem
        total = () if stem == "foundry_revenue_usd_m" else (stem,)  # that total is already a column
        return (*total, *(f"{stem}_{c}" for c in self.countries), *(f"{stem}_{slug(n)}" for n in self.names))

    def values(self, q: Quarter) -> list[float]:
        """The flow's columns this quarter: its total (unless already a column), per
        country, per named agent."""
        per_agent = self.flow.per_agent(q)
        total = [] if self.flow.stem == "foundry_revenue_usd_m" else [float(per_agent.sum())]
        countries = np.bincount(self.country_index, weights=per_agent, minlength=len(self.countries))
        return total + countries.tolist() + per_agent.take(self.rows).tolist()


def _named_rows(model, kind: str) -> list[int]:
    """Rows of the world's own (not synthetic) agents of a kind, which have columns of
    their own."""
    agents = getattr(model, kind)
    if kind == "foundries":
        return [row for row, spec in enumerate(model.world.foundries) if not spec.synthetic]
    if kind == "vendors":  # synthetic vendors are appended after the world's (model.synthetic)
        return list(range(len(agents) - model.parameters.synthetic_vendors))
    return list(range(len(agents)))


def money_flow_layouts(model) -> list[FlowLayout]:
    """The layouts of the money flows this model records (`MoneyFlow.present`)."""
    return [FlowLayout(flow, model) for flow in MONEY_FLOWS if flow.present(model)]


def money_flow_columns(model) -> dict[str, tuple[str, ...]]:
    """Per money flow this model records, by stem: its model-frame columns."""
    return {layout.flow.stem: layout.columns() for layout in money_flow_layouts(model)}


def _flow_values(layout: FlowLayout, q: Quarter) -> list[float]:
    return layout.values(q)


def vendor_backlogs_usd_m(q: Quarter) -> list[float]:
    """Per named vendor, the tools on its order book at the quarter's end (US$ million)."""
    return [q.model.vendors[v].backlog_usd_m for v in q.roster.named_vendors]


def tools_books_usd_m(q: Quarter) -> list[float]:
    """The tool market's books this quarter (US$ million at unit prices): tools
    ordered, delivered, cancelled (orders on relations a rule cut), and on order at
    the quarter's end, over every vendor."""
    market = q.model.tool_market
    books, price = market.last, market.edge_price
    return [float(np.dot(x, price)) / 1e6 for x in (books.placed, books.filled, books.cancelled, books.after)]


# ------------------------------------------------------------------------- graph
def generation_columns(model) -> tuple[str, ...]:
    """`generation_share_<foundry>_<tier>_<generation>` per generation of each named
    foundry's tier that runs more than one (`GenerationBook.named_cells`): TSMC's
    leading N5 / N3 / N2, SMIC's 7nm-class N+1 / N+2 / N+3, ..."""
    table, named = model.generations.table, set(_named_rows(model, "foundries"))
    return tuple(f"generation_share_{slug(model.foundries[f].name)}_{TIERS[t].key}_{slug(name)}"
                 for f, t in model.generations.named_cells() if f in named
                 for name in table.names[f][t] if name)


def generation_shares(q: Quarter) -> list[float]:
    """Per generation of `generation_columns`, its share of its foundry's tier's
    capacity (0-1; the tier's mix, `model.generations`)."""
    book, named = q.model.generations, set(q.roster.named_foundries)
    return [float(book.shares[f, t, s]) for f, t in book.named_cells() if f in named
            for s, name in enumerate(book.table.names[f][t]) if name]


def active_edges(q: Quarter) -> int:
    return q.edge_counts[0]


def cut_edges(q: Quarter) -> int:
    return q.edge_counts[1]


def model_reporters(model) -> dict:
    """Column name -> reporter (a function of a `Quarter`), in column order; a tuple of
    names -> a family reporter, whose list of values fills those columns in order.

    Names are fixed by DESIGN.md and issue 2; the tracked entities' columns take their
    prefixes from the world's `[tracked]` names."""
    tracked = model.world.tracked
    champion, foundry, vendor = slug(tracked.champion), slug(tracked.foundry), slug(tracked.vendor)
    named = [slug(f.name) for f, spec in zip(model.foundries, model.world.foundries) if not spec.synthetic]
    out = {
        "quarter": quarter,
        f"{champion}_ai_dies": champion_ai_dies,
        f"{champion}_accelerators": partial(champion_figure, "units", 0.0),
        f"{champion}_accelerators_h100e": partial(champion_figure, "h100e", 0.0),
        f"{champion}_binding_input": partial(champion_figure, "binding", ""),
        f"{champion}_die_bank_dies": partial(champion_figure, "die_stock", 0.0),
        f"{champion}_leak_dies": partial(champion_figure, "leak_dies_in", 0.0),
        "other_china_accelerators": other_china_accelerators,
        "china_hbm_stock_stacks": china_hbm_stock,
        tuple(f"accelerators_{slug(d.name)}" for d in model.designers): designer_accelerators,
        "china_compute_h100e": china_compute,
        "china_unmet_compute_h100e": china_unmet_compute,
        "domestic_china_share": domestic_china_share,
        BUYER_GROUP_COLUMNS: buyer_groups,
        tuple(f"{slug(d.name)}_china_share" for d in model.designers): designer_china_shares,
        tuple(f"{slug(d.name)}_china_h100e" for d in model.designers): designer_china_compute,
        tuple(f"{slug(d.name)}_china_revenue_usd_m" for d in model.designers): designer_china_revenue,
        tuple(f"{slug(d.name)}_china_revenue_share" for d in model.designers): designer_china_revenue_share,
        tuple(f"china_units_{slug(p.name)}" for p in model.world.accelerators): product_china_units,
        f"{champion}_fulfilment": champion_fulfilment,
        "other_china_fulfilment": other_china_fulfilment,
        f"{champion}_{foundry}_advanced_wafers": champion_foundry_advanced_wafers,
        f"other_china_{foundry}_advanced_wafers": other_china_foundry_advanced_wafers,
        tuple(f"{foundry}_capacity_{t.key}" for t in TIERS): tracked_capacities,
        f"{foundry}_capacity_8in_eq_per_month": tracked_capacity_8in_eq_per_month,
        f"{foundry}_utilisation": tracked_utilisation,
        tuple(f"{foundry}_yield_{t.key}" for t in TIERS): tracked_yields,
        f"{foundry}_revenue_usd_m": tracked_revenue_usd_m,
        f"{foundry}_china_revenue_share": tracked_china_revenue_share,
        # a share column per named foundry; synthetic ones are in the foundry frame
        tuple(f"share_{name}" for name in named): foundry_shares,
        "foundry_revenue_usd_m": foundry_revenue_usd_m,
        "foundry_hhi": foundry_hhi,
        tuple(f"price_index_{t.key}" for t in TIERS): price_indices,
        tuple(f"{name}_gross_margin" for name in named): foundry_gross_margins,
        "foundry_cost_usd_m": foundry_costs_usd_m,
        tuple(f"{slug(model.foundries[row].name)}_cost_per_good_wafer_{TIERS[t].key}"
              for row, t in advanced_cells(model)):
            advanced_costs_per_good_wafer,
        "china_self_sufficiency": china_self_sufficiency,
        "china_localisation": china_localisation,
        f"china_advanced_from_{foundry}": china_advanced_from_foundry,
        "vendor_china_share": vendor_china_share,
        f"{vendor}_china_share": tracked_vendor_china_share,
        "china_domestic_tool_share": china_domestic_tool_share,
        "china_equipment_share": china_equipment_share,
        TOOL_SALES_COLUMNS: tool_sales_by_buyer_kind,
        TOOL_BOOK_COLUMNS: tools_books_usd_m,
        tuple(f"{slug(model.vendors[v].name)}_backlog_usd_m" for v in named_vendors(model)): vendor_backlogs_usd_m,
        "active_edges": active_edges,
        "cut_edges": cut_edges,
    }
    if generation_columns(model):  # the generation mixes of the tiers that run several
        out[generation_columns(model)] = generation_shares
    # who gains, who loses: the money flows by country and named firm (MONEY_FLOWS)
    for layout in money_flow_layouts(model):
        out[layout.columns()] = partial(_flow_values, layout)
    return out


def named_vendors(model) -> list[int]:
    """Rows of the world's named vendors (the synthetic ones come after them)."""
    return list(range(len(model.vendors) - model.parameters.synthetic_vendors))


TOOL_BOOK_COLUMNS = ("tools_ordered_usd_m", "tools_delivered_usd_m", "tools_cancelled_usd_m", "tool_backlog_usd_m")


def column_names(key) -> tuple[str, ...]:
    """The columns a `model_reporters` key names (a family's several, or one)."""
    return key if isinstance(key, tuple) else (key,)


# ----------------------------------------------------------- agent-type reporters
# Each agent type's frame is recorded per collect as a snapshot (`AgentTypeRecord`):
# the few arrays and scalars its columns read, taken cheaply (one list of tuples for
# the agents' scalars; arrays stacked or copied where the model later changes them in
# place), and turned into columns once, over every recorded quarter, when a frame is
# asked for. `agenttype_reporters()` states the same columns per agent, in Mesa's
# form; tests/test_reporters.py checks that the frames equal what Mesa's DataCollector
# records from those per-agent reporters.
FIRM_COLUMNS = ["name", "country", "demand_wafers", "ordered_wafers", "delivered_wafers",
                "advanced_demand_wafers", "advanced_delivered_wafers", "fallback_wafers",
                "ai_dies", "domestic_wafers", "wafer_cost_usd_m"]
FOUNDRY_TIER_COLUMNS = tuple([f"{quantity}_{t.key}" for t in TIERS]
                             for quantity in ("capacity", "yield", "price_usd", "delivered", "cost_per_wafer_usd",
                                              "cost_per_good_wafer_usd"))
FOUNDRY_SCALARS = ["revenue_usd_m", "china_revenue_usd_m", "wafer_revenue_usd_m", "packaging_revenue_usd_m",
                   "capex_usd_m", "conversion_capex_usd_m", "subsidy_usd_m", "cost_usd_m", "gross_profit_usd_m",
                   "gross_margin"]
"""The foundry frame's per-tier columns, by quantity, in tier order."""


def _scalar_columns(names: list[str], rows: list[tuple]) -> dict[str, list]:
    """Columns of the agents' scalars from their rows (a tuple per agent and quarter,
    in record order): the same Python objects, in the same order, as the per-quarter
    lists they replace (so pandas infers the same dtypes)."""
    columns = [list(column) for column in zip(*rows)] if rows else [[] for _ in names]
    return dict(zip(names, columns))


def foundry_snapshot(q: Quarter) -> tuple[list[tuple], np.ndarray]:
    """What the foundry frame reads this quarter: per foundry (`FOUNDRY_SCALARS`), and the
    (foundries, tiers) capacity, yields, price a wafer earns (the foundry's price x its
    generation mix's premium), delivered wafers, cost per wafer, cost per good wafer and
    ordered wafers as one (7, foundries, tiers) array."""
    foundries = q.model.foundries
    scalars = [(r, f.china_revenue_usd_m, f.wafer_revenue_usd_m, f.packaging_revenue_usd_m, f.capex_usd_m,
                f.conversion_capex_usd_m, f.subsidy_usd_m, f.cost_usd_m, f.gross_profit_usd_m, f.gross_margin)
               for r, f in zip(q.foundry_revenues, foundries)]
    if not foundries:
        return scalars, np.zeros((7, 0, len(TIERS)))
    arrays = np.array([q.capacity, q.yields, q.model.fleet.price * q.model.generations.price_premium(),
                       [f.delivered for f in foundries], [f.cost_per_wafer for f in foundries],
                       [f.cost_per_good_wafer for f in foundries], [f.orders for f in foundries]])
    return scalars, arrays


def foundry_columns(snapshots: list) -> dict:
    """The foundry frame's columns (but name and country) over the recorded quarters.
    Sums over tiers are numpy's sums of each foundry's contiguous row, as per quarter;
    a per-tier column is the tier's cells, quarter by quarter, foundries in order."""
    out = _scalar_columns(FOUNDRY_SCALARS, [row for scalars, _ in snapshots for row in scalars])
    stacked = np.array([arrays for _, arrays in snapshots])  # (quarters, 7, foundries, tiers)
    if stacked.shape[2] == 0:  # no foundries: empty columns, as empty per-quarter lists give
        return {**out, **{name: [] for name in ("capacity_wafers", "delivered_wafers", "ordered_wafers",
                                                *(c for columns in FOUNDRY_TIER_COLUMNS for c in columns))}}
    capacity, yields, price, delivered, per_wafer, per_good, orders = (np.ascontiguousarray(stacked[:, k])
                                                                       for k in range(7))
    out["capacity_wafers"] = capacity.sum(axis=2).ravel()
    out["delivered_wafers"] = delivered.sum(axis=2).ravel()
    out["ordered_wafers"] = orders.sum(axis=2).ravel()
    for columns, values in zip(FOUNDRY_TIER_COLUMNS, (capacity, yields, price, delivered, per_wafer, per_good)):
        out.update((name, values[:, :, t].ravel()) for t, name in enumerate(columns))
    return out


def firm_snapshot(q: Quarter) -> list[np.ndarray]:
    """The firm frame's columns of this quarter (but name and country), per firm: the
    firm figures' sums over tiers and over advanced tiers (this collect's own arrays),
    copies of the per-firm figures (a firm's row can be written in place)."""
    figures = q.model.firm_figures
    return [
        np.add.reduce(figures.demand, axis=1), np.add.reduce(figures.ordered, axis=1), q.delivered_by_firm,
        q.advanced("demand"), q.advanced("delivered"),
        figures.fallback_wafers.copy(), figures.ai_dies.copy(), figures.domestic_wafers.copy(), q.wafer_cost,
    ]


def firm_columns(snapshots: list) -> dict:
    return {name: np.concatenate([s[k] for s in snapshots]) for k, name in enumerate(FIRM_COLUMNS[2:])}


def vendor_snapshot(q: Quarter) -> list[tuple]:
    return [(v.revenue_usd_m, v.china_revenue_usd_m, v.china_share, v.subsidy_usd_m,
             float(sum(v.output.values())), float(min(v.progress.values())),
             v.ordered_units, v.delivered_units, v.backlog_units, v.backlog_usd_m,
             v.gross_profit_usd_m, v.gross_margin_now) for v in q.model.vendors]


VENDOR_BOOK_COLUMNS = ["ordered_units", "delivered_units", "backlog_units", "backlog_usd_m"]


def vendor_columns(snapshots: list) -> dict:
    return _scalar_columns(["revenue_usd_m", "china_revenue_usd_m", "china_share", "subsidy_usd_m",
                            "output_units", "best_progress", *VENDOR_BOOK_COLUMNS, "gross_profit_usd_m",
                            "gross_margin"],
                           [row for s in snapshots for row in s])


def government_snapshot(q: Quarter) -> list[tuple]:
    return [(g.rules_in_force, g.subsidy_usd_m) for g in q.model.governments]


def government_columns(snapshots: list) -> dict:
    return _scalar_columns(["rules_in_force", "subsidy_usd_m"], [row for s in snapshots for row in s])


DESIGNER_COLUMNS = ["demand_units", "accelerators", "accelerators_h100e", "binding_input", "die_bank_dies",
                    "dies_in", "leak_dies_in", "hbm_stock_stacks", "hbm_in_stacks", "hbm_ordered_stacks",
                    "packaging_booked", "ordered_units", "shipped_units", "unsold_units", "revenue_usd_m",
                    "china_revenue_usd_m", "licence_fees_usd_m", "packaging_cost_usd_m"]
BUYER_COLUMNS = ["want_h100e", "budget_usd_m", "ordered_units", "ordered_h100e", "received_units", "received_h100e",
                 "fulfilment", "unmet_h100e", "spent_usd_m"]
MEMORY_COLUMNS = ["capacity_stacks", "ordered_stacks", "shipped_stacks", "china_stacks", "newest_generation",
                  *(f"shipped_{g.lower()}_stacks" for g in HBM_GENERATIONS)]
PACKAGER_COLUMNS = ["capacity_packages", "booked_packages", "china_packages", "price_usd", "revenue_usd_m",
                    "china_revenue_usd_m", "cost_usd_m", "gross_profit_usd_m"]
FAB_COLUMNS = ["fab_kind", "tier", "planned_usd_m", "ordered_usd_m", "received_units", "received_usd_m",
               "received_total_usd_m"]
"""The tool buyers' frame ('fab', `agents.fab.ToolBuyer`): its kind (memory/idm) and
tier, what it planned to spend and ordered (US$ million a quarter: more ahead of an
announced rule, nothing over a cut relation), and what it received (tool units, US$
million), this quarter and since the run's start."""


def designer_snapshot(q: Quarter) -> list[tuple]:
    return [(d.demand_units, d.units, d.h100e, d.binding, d.die_stock, d.dies_in, d.leak_dies_in,
             d.hbm_stock_stacks, d.hbm_in, d.hbm_ordered, d.packaging_booked, d.ordered_units, d.shipped_units,
             d.unsold_units, d.revenue_usd_m, d.china_revenue_usd_m, d.licence_fees_usd_m, d.packaging_cost_usd_m)
            for d in q.model.designers]


def buyer_snapshot(q: Quarter) -> list[tuple]:
    """Per buyer: its figures, then the units it received from each designer."""
    names = [d.name for d in q.model.designers]
    return [(b.want_h100e, b.budget_usd_m, b.ordered_units, b.ordered_h100e, b.received_units, b.received_h100e,
             b.fulfilment, b.unmet_h100e, b.spent_usd_m, *b.received_by(names))
            for b in q.model.buyers]


def buyer_columns(designers: list[str]):
    """The buyer frame's columns function: `BUYER_COLUMNS`, then `received_<designer>_units`."""
    return _scalar_table(BUYER_COLUMNS + [f"received_{slug(n)}_units" for n in designers])


def memory_snapshot(q: Quarter) -> list[tuple]:
    return [(m.capacity_stacks, m.ordered_stacks, m.shipped_stacks, m.china_stacks, m.newest_generation,
             *m.shipped_by_generation) for m in q.model.memory_makers]


def fab_snapshot(q: Quarter) -> list[tuple]:
    return [tuple(getattr(b, c) for c in FAB_COLUMNS) for b in q.model.tool_buyers]


def packager_snapshot(q: Quarter) -> list[tuple]:
    return [(k.capacity_packages, k.booked_packages, k.china_packages, k.price_usd, k.revenue_usd_m,
             k.china_revenue_usd_m, k.cost_usd_m, k.gross_profit_usd_m) for k in q.model.packagers]


def _scalar_table(names: list[str]):
    """The columns function of an agent type recorded as one tuple of scalars per agent."""
    return partial(_scalars_of, names)


def _scalars_of(names: list[str], snapshots: list) -> dict:
    return _scalar_columns(names, [row for s in snapshots for row in s])


def firm_records(model) -> list[tuple]:
    """(step, agent id, *FIRM_COLUMNS) per firm, as Mesa's agent-type records, from the
    model's `firm_figures` arrays."""
    columns = firm_columns([firm_snapshot(Quarter(model))])
    ids = [f.unique_id for f in model.firms]
    values = [model.firm_names, model.firm_countries, *(columns[c].tolist() for c in FIRM_COLUMNS[2:])]
    return list(zip([model.steps] * len(ids), ids, *values))


def agent_records(designers: list[str] = ()) -> dict:
    """Agent type -> (the model's list it names its agents in, snapshot function,
    columns function): how each type's frame is recorded. `designers`: the designers'
    names (a buyer's frame has a column of the units it received from each)."""
    from agents.buyer import ComputeBuyer
    from agents.designer import AcceleratorDesigner
    from agents.fab import ToolBuyer
    from agents.fabless import FablessFirm
    from agents.foundry import Foundry
    from agents.government import Government
    from agents.memory import MemoryMaker
    from agents.packager import Packager
    from agents.vendor import EquipmentVendor

    return {Foundry: ("foundries", foundry_snapshot, foundry_columns),
            FablessFirm: ("firms", firm_snapshot, firm_columns),
            EquipmentVendor: ("vendors", vendor_snapshot, vendor_columns),
            Government: ("governments", government_snapshot, government_columns),
            AcceleratorDesigner: ("designers", designer_snapshot, _scalar_table(DESIGNER_COLUMNS)),
            MemoryMaker: ("memory_makers", memory_snapshot, _scalar_table(MEMORY_COLUMNS)),
            Packager: ("packagers", packager_snapshot, _scalar_table(PACKAGER_COLUMNS)),
            ComputeBuyer: ("buyers", buyer_snapshot, buyer_columns(list(designers))),
            ToolBuyer: ("tool_buyers", fab_snapshot, _scalar_table(FAB_COLUMNS))}


def agenttype_reporters(designers: list[str] = ()) -> dict:
    """Per agent type, each agent's own figures per quarter, as Mesa's per-agent
    reporters: what each block records (see `agent_blocks`)."""
    from agents.buyer import ComputeBuyer
    from agents.designer import AcceleratorDesigner
    from agents.fab import ToolBuyer
    from agents.fabless import FablessFirm
    from agents.foundry import Foundry
    from agents.government import Government
    from agents.memory import MemoryMaker
    from agents.packager import Packager
    from agents.vendor import EquipmentVendor

    foundry = {"name": "name", "country": "country", "revenue_usd_m": "revenue_usd_m",
               "china_revenue_usd_m": "china_revenue_usd_m", "wafer_revenue_usd_m": "wafer_revenue_usd_m",
               "packaging_revenue_usd_m": "packaging_revenue_usd_m", "capex_usd_m": "capex_usd_m",
               "conversion_capex_usd_m": "conversion_capex_usd_m", "subsidy_usd_m": "subsidy_usd_m",
               "cost_usd_m": "cost_usd_m", "gross_profit_usd_m": "gross_profit_usd_m", "gross_margin": "gross_margin",
               "capacity_wafers": partial(_tiers, "capacity_by_tier"),
               "delivered_wafers": partial(_tiers, "delivered"),
               "ordered_wafers": partial(_tiers, "orders")}
    for t in TIERS:
        foundry[f"capacity_{t.key}"] = partial(_tier_value, "capacity_by_tier", t.index)
        foundry[f"yield_{t.key}"] = partial(_yield, t.index)
        foundry[f"price_usd_{t.key}"] = partial(_tier_value, "price_earned", t.index)
        foundry[f"delivered_{t.key}"] = partial(_tier_value, "delivered", t.index)
        foundry[f"cost_per_wafer_usd_{t.key}"] = partial(_tier_value, "cost_per_wafer", t.index)
        foundry[f"cost_per_good_wafer_usd_{t.key}"] = partial(_tier_value, "cost_per_good_wafer", t.index)
    firm = {"name": "name", "country": "country",
            "demand_wafers": partial(_tiers, "demand"),
            "ordered_wafers": partial(_tiers, "ordered"),
            "delivered_wafers": partial(_tiers, "delivered"),
            "advanced_demand_wafers": partial(_advanced, "demand"),
            "advanced_delivered_wafers": partial(_advanced, "delivered"),
            "fallback_wafers": "fallback_wafers", "ai_dies": "ai_dies",
            "domestic_wafers": "domestic_wafers", "wafer_cost_usd_m": _wafer_cost}
    vendor = {"name": "name", "country": "country", "revenue_usd_m": "revenue_usd_m",
              "china_revenue_usd_m": "china_revenue_usd_m", "china_share": "china_share",
              "subsidy_usd_m": "subsidy_usd_m", "output_units": partial(_sum_dict, "output"),
              "best_progress": partial(_min_dict, "progress"),
              **{c: c for c in VENDOR_BOOK_COLUMNS}, "gross_profit_usd_m": "gross_profit_usd_m",
              "gross_margin": "gross_margin_now"}
    government = {"name": "name", "country": "country", "rules_in_force": "rules_in_force",
                  "subsidy_usd_m": "subsidy_usd_m"}
    designer = {"name": "name", "country": "country", "demand_units": "demand_units", "accelerators": "units",
                "accelerators_h100e": "h100e", "binding_input": "binding", "die_bank_dies": "die_stock",
                "dies_in": "dies_in", "leak_dies_in": "leak_dies_in", "hbm_stock_stacks": "hbm_stock_stacks",
                "hbm_in_stacks": "hbm_in", "hbm_ordered_stacks": "hbm_ordered", "packaging_booked": "packaging_booked",
                "ordered_units": "ordered_units", "shipped_units": "shipped_units", "unsold_units": "unsold_units",
                "revenue_usd_m": "revenue_usd_m", "china_revenue_usd_m": "china_revenue_usd_m",
                "licence_fees_usd_m": "licence_fees_usd_m", "packaging_cost_usd_m": "packaging_cost_usd_m"}
    buyer = {"name": "name", "country": "country", **{c: c for c in BUYER_COLUMNS},
             **{f"received_{slug(n)}_units": partial(_received_from, n) for n in designers}}
    memory = {"name": "name", "country": "country", "capacity_stacks": "capacity_stacks",
              "ordered_stacks": "ordered_stacks", "shipped_stacks": "shipped_stacks", "china_stacks": "china_stacks",
              "newest_generation": "newest_generation",
              **{f"shipped_{g.lower()}_stacks": partial(_item, "shipped_by_generation", k)
                 for k, g in enumerate(HBM_GENERATIONS)}}
    packager = {"name": "name", "country": "country", "capacity_packages": "capacity_packages",
                "booked_packages": "booked_packages", "china_packages": "china_packages", "price_usd": "price_usd",
                "revenue_usd_m": "revenue_usd_m", "china_revenue_usd_m": "china_revenue_usd_m",
                "cost_usd_m": "cost_usd_m", "gross_profit_usd_m": "gross_profit_usd_m"}
    fab = {"name": "name", "country": "country", **{c: c for c in FAB_COLUMNS}}
    return {Foundry: foundry, FablessFirm: firm, EquipmentVendor: vendor, Government: government,
            AcceleratorDesigner: designer, MemoryMaker: memory, Packager: packager, ComputeBuyer: buyer,
            ToolBuyer: fab}


def _wafer_cost(agent) -> float:
    return float(wafer_cost_by_firm(agent.model)[agent.row])


def _received_from(designer: str, agent) -> float:
    return agent.received_from(designer)


def _item(attr: str, index: int, agent) -> float:
    return float(getattr(agent, attr)[index])


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
def _recorded(collector: ChipDataCollector, index: int, model) -> object:
    """A model reporter as Mesa calls it: column `index`'s value, which the collector
    computed for this collect just before (`ChipDataCollector.collect`)."""
    return collector.values[index]


class AgentTypeRecord:
    """One agent type's record: the step and snapshot of each collect, and the
    function that turns the snapshots into the frame's columns."""

    def __init__(self, snapshot, columns) -> None:
        self.snapshot, self.columns = snapshot, columns
        self.steps: list[int] = []
        self.snapshots: list = []


class ChipDataCollector(mesa.DataCollector):
    """Mesa's DataCollector, recording through its public interface only.

    Model reporters (functions of a `Quarter`, see `model_reporters`) fill Mesa's
    `model_vars`, one value per collect, so `get_model_vars_dataframe()` and
    `mesa.batch_run` read them as usual: each collect computes every column's value
    first (a family reporter several at once), and the reporters Mesa calls return
    them. Agent types are recorded as snapshots per collect (`agent_records`: a
    synthetic world has 10^5 firms); `agenttype_frame` gives the frame Mesa's
    `get_agenttype_vars_dataframe` builds from the per-agent reporters
    (`agenttype_reporters`), which this collector also declares.

    `collect`: None records everything; a sequence of model reporter names records
    only those (and `quarter`) and no agent-type frame: the lean mode for sweeps.
    """

    def __init__(self, model, collect=None) -> None:
        reporters = model_reporters(model)
        designers = [d.name for d in model.designers]
        columns = [name for key in reporters for name in column_names(key)]
        if collect is not None:
            unknown = [name for name in collect if name not in columns]
            if unknown:
                raise ValueError(f"collect: unknown model reporter '{unknown[0]}'; expected some of: "
                                 + ", ".join(columns))
        kept = set(columns) if collect is None else {"quarter", *collect}
        # The reporters of the kept columns, in column order, and where each kept
        # column's value lands in a collect's `values`.
        self._reporters, position = [], {}
        for key, function in reporters.items():
            names = column_names(key)
            if any(name in kept for name in names):
                self._reporters.append((function, isinstance(key, tuple)))
                position.update((name, len(position)) for name in names)
        self.lean = collect is not None
        self.roster = Roster(model)
        self.quarter: Quarter | None = None
        self.values: list = []
        super().__init__(model_reporters={name: partial(_recorded, self, position[name])
                                          for name in columns if name in kept},
                         agenttype_reporters=None if self.lean else agenttype_reporters(designers))
        self.records = {} if self.lean else {
            cls: (kind, AgentTypeRecord(snapshot, to_columns))
            for cls, (kind, snapshot, to_columns) in agent_records(designers).items()}
        # Agents are all made before the collector and none is added later.
        self._ids = {cls: [a.unique_id for a in model.agents_by_type[cls]] if cls in model.agent_types else []
                     for cls in self.records}

    def collect(self, model) -> None:
        """Record this quarter: every kept column's value, then the model reporters
        through Mesa's own `collect` (so its bookkeeping, which `mesa.batch_run` reads
        on every Mesa 3.x, stays its own), then the agent types' snapshots."""
        q = self.quarter = Quarter(model, self.roster)
        values = []
        for function, family in self._reporters:
            if family:
                values.extend(function(q))
            else:
                values.append(function(q))
        self.values = values
        declared, self.agenttype_reporters = self.agenttype_reporters, {}  # recorded as snapshots below
        try:
            super().collect(model)
        finally:
            self.agenttype_reporters = declared
        for _, record in self.records.values():
            record.steps.append(model.steps)
            record.snapshots.append(record.snapshot(q))

    def agenttype_frame(self, agent_type, ids: list[int]):
        """The frame of one agent type: a row per collect and agent (in the order the
        agents were made), indexed by (Step, AgentID), columns as `agenttype_reporters`."""
        import pandas as pd

        kind, record = self.records[agent_type]
        n, quarters = len(ids), len(record.steps)
        names, countries = self.roster.names(kind)
        values = {"name": names * quarters, "country": countries * quarters, **record.columns(record.snapshots)}
        columns = {
            "Step": np.repeat(np.asarray(record.steps, dtype=np.int64), n),
            "AgentID": np.tile(np.asarray(ids, dtype=np.int64), quarters),
        }
        columns.update((name, values[name]) for name in self.agenttype_reporters[agent_type])
        return pd.DataFrame(columns).set_index(["Step", "AgentID"])

    def get_agenttype_vars_dataframe(self, agent_type):
        """Mesa's method, answered from the recorded snapshots."""
        if agent_type not in self.records:
            return super().get_agenttype_vars_dataframe(agent_type)
        return self.agenttype_frame(agent_type, self._ids[agent_type])

    def frames(self) -> dict:
        """'model' (a row per collect), and unless lean one frame per agent type with
        `quarter` and `step` columns in front."""
        out = {"model": self.get_model_vars_dataframe().reset_index(drop=True)}
        labels = np.asarray(out["model"]["quarter"].tolist(), dtype=object)
        for cls in self.records:
            df = self.agenttype_frame(cls, self._ids[cls]).reset_index()
            df.insert(0, "quarter", labels[df["Step"].to_numpy(dtype=np.int64)])
            out[cls.kind] = df.drop(columns=["AgentID"]).rename(columns={"Step": "step"})
        return out
