"""Fabless firms: wafer demand per tier that grows with their end markets, supplier
preferences that adapt to who delivers, search and fall-back when cut off, stockpiling
ahead of announced rules, de-risking after a rule.

The firm's rules are the same for every firm, so they are written once, batched over
arrays: `stream_demand` (demand of every firm from every demand stream), `fall_back`,
`adapt_preferences`, `search_weights`, `derisk_preferences` (over supply relations).
`FablessSector` holds the firms' state as arrays and decides: its `place_orders`
returns a `WaferOrders` intent that the model resolves in the wafer market. Each
`FablessFirm` agent is a real Mesa agent whose figures are its row of the sector's
arrays, and whose own `wafer_demand` runs the same batched rule over its own streams.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import mesa
import numpy as np

from agents.base import ChipAgent
from model.accelerators import AI_BOOM_QUARTER, ai_boom_log_growth
from model.demand import localisation_level, orders_at_price, price_response
from model.market import SPARSE_MIN_EDGES, split_live, split_orders, zero_elsewhere
from model.technology import TIER_INDEX, TIERS, Tier, gross_dies_per_wafer, parse_quarter

LOCALISED_TIERS = (Tier.N28, Tier.MATURE)
"""Tiers at which firms exposed to foreign controls lean toward home foundries
(`FablessSector.place_orders`): where China has the capacity (calibration.csv:
china_share_mature_capacity, China, 2023: 29% of global >=28nm capacity); at the
advanced tiers domestic supply is what the state allocator and fall-back handle."""

NOT_STARTED = -(10**6)
"""Start quarter of a stream that runs from before the first simulated quarter."""
NEVER = 10**6
"""Peak quarter of a stream that never turns down."""


# --------------------------------------------------------------------- the arrays
@dataclass
class DemandStreams:
    """Every firm's demand streams as parallel arrays, one entry per stream.

    firm: the firm's row; tier: Tier.index; wafers: wafers/quarter at the stream's
    start (or the world's first quarter); growth: annual growth (fraction); ai: AI
    accelerator wafers; start: absolute quarter the stream starts (NOT_STARTED: always).
    """

    firm: np.ndarray
    tier: np.ndarray
    wafers: np.ndarray
    growth: np.ndarray
    ai: np.ndarray
    start: np.ndarray
    peak: np.ndarray
    decline: np.ndarray

    @classmethod
    def from_specs(cls, specs) -> DemandStreams:
        """From world firm specs (`model.world.FirmSpec`), firm rows in the given order."""
        rows = [
            (j, TIER_INDEX[s.tier], s.wafers, s.growth, bool(s.ai),
             parse_quarter(s.start) if s.start else NOT_STARTED,
             parse_quarter(s.peak) if s.peak else NEVER, s.decline)
            for j, spec in enumerate(specs) for s in spec.demand
        ]
        cols = list(zip(*rows)) if rows else [()] * 8
        return cls(
            firm=np.array(cols[0], dtype=np.int64), tier=np.array(cols[1], dtype=np.int64),
            wafers=np.array(cols[2], dtype=float), growth=np.array(cols[3], dtype=float),
            ai=np.array(cols[4], dtype=bool), start=np.array(cols[5], dtype=np.int64),
            peak=np.array(cols[6], dtype=np.int64), decline=np.array(cols[7], dtype=float),
        )

    def most_advanced_tier(self, n_firms: int) -> np.ndarray:
        """Per firm, the most advanced tier it ever wants (len(TIERS) if none)."""
        out = np.full(n_firms, len(TIERS), dtype=np.int64)
        np.minimum.at(out, self.firm, self.tier)
        return out


@dataclass
class FirmFigures:
    """Each firm's figures of the last quarter, one row per firm (wafers/quarter per
    tier for the 2-d arrays; wafers or dies for the 1-d ones). Written by the model's
    phases, read by the agents and the reporters."""

    demand: np.ndarray
    ordered: np.ndarray
    delivered: np.ndarray
    fallback_wafers: np.ndarray
    ai_dies: np.ndarray
    domestic_wafers: np.ndarray

    @classmethod
    def zeros(cls, n_firms: int) -> FirmFigures:
        n = len(TIERS)
        return cls(*(np.zeros((n_firms, n)) for _ in range(3)), *(np.zeros(n_firms) for _ in range(3)))


class _Row:
    """A firm attribute that is the firm's row of a `FirmFigures` array."""

    def __set_name__(self, owner, name: str) -> None:
        self.name = name

    def __get__(self, firm, owner=None):
        if firm is None:
            return self
        value = getattr(firm.table(), self.name)[firm.row]
        return value if np.ndim(value) else float(value)

    def __set__(self, firm, value) -> None:
        getattr(firm.table(), self.name)[firm.row] = value


class FablessFirm(ChipAgent):
    """A chip designer that buys wafers (Huawei/HiSilicon, Nvidia, ..., Cambricon).

    Demand is a sum of streams (tier, wafers/quarter at start, annual growth, AI or not).
    AI wafers become good AI dies: wafers x gross dies per wafer x the foundry's yield.
    Its figures (`demand`, `delivered`, `ai_dies`, ...) are its row of a `FirmFigures`:
    its own one-row table until the model binds it to the table of all firms.
    """

    kind = "firm"

    demand = _Row()
    ordered = _Row()
    delivered = _Row()
    fallback_wafers = _Row()
    ai_dies = _Row()
    domestic_wafers = _Row()

    def __init__(self, model: mesa.Model, name: str, country: str, *, spec) -> None:
        super().__init__(model, name, country)
        self.spec = spec
        self.dies_per_wafer = gross_dies_per_wafer(spec.ai_die_mm2)
        self.start_quarter: int | None = None
        self.figures: FirmFigures | None = None  # its own one-row table, made when first used
        self.row = 0

    def bind(self, figures: FirmFigures, row: int) -> None:
        """Make row `row` of the model's `figures` this firm's figures."""
        self.figures, self.row = figures, row

    def table(self) -> FirmFigures:
        """The table that holds this firm's figures (its row: `self.row`)."""
        if self.figures is None:
            self.figures = FirmFigures.zeros(1)
        return self.figures

    @functools.cached_property
    def own_streams(self) -> DemandStreams:
        """This firm's demand streams (from its world spec), as firm 0."""
        return DemandStreams.from_specs([self.spec])

    def wafer_demand(
        self, quarter: int, ai_growth: float, cycle: float, shock: float = 1.0, ai_fade: float = 0.0
    ) -> tuple[np.ndarray, np.ndarray]:
        """(all wafers, AI wafers) wanted per tier in `quarter`: `stream_demand` over
        this firm's own streams."""
        origin = self.start_quarter if self.start_quarter is not None else quarter
        total, ai = stream_demand(self.own_streams, 1, quarter, origin, ai_growth, cycle,
                                  np.array([shock]), ai_fade)
        return total[0], ai[0]


# ------------------------------------------------------------ batched firm decisions
def stream_demand(
    streams: DemandStreams,
    n_firms: int,
    quarter: int,
    origin: int,
    ai_growth: float,
    cycle: float,
    shock: np.ndarray,
    ai_fade: float = 0.0,
) -> tuple[np.ndarray, np.ndarray]:
    """(all wafers, AI wafers) each firm wants per tier in `quarter`, shape (firms, tiers).

    `quarter` and `cycle` may also be arrays with a value per stream.

    Each stream that has started grows at its own annual rate from its start (or from
    `origin`, the world's first quarter, if it started before); from 2023Q1 AI streams
    follow the boom instead (`ai_boom_log_growth`: `ai_growth` in 2023, fading by
    `ai_fade` a year); after its `peak` a stream declines at its `decline` rate (node
    migration): `StreamGrowth`. Non-AI demand is scaled by the market `cycle` of the
    year; all of a firm's demand by its `shock[firm]` (its own demand noise):
    `firm_demand`. A firm's streams at one tier add up in stream order. Units:
    wafers/quarter.
    """
    grown = StreamGrowth(streams, origin, ai_growth, ai_fade).wafers(quarter)
    return firm_demand(streams, n_firms, quarter, grown, cycle, shock)


class StreamGrowth:
    """Each stream's wafers/quarter in a quarter before the market cycle and the firms'
    shocks, for fixed streams, origin and AI boom (`stream_demand`'s growth rule).

    What does not depend on the quarter (a stream's first quarter, 1 + its rates, its
    path up to the boom and the boom's log multiplier when it joined) is computed once;
    the boom's log multiplier at a quarter is read from a table of `ai_boom_log_growth`
    over whole quarters. The same numbers as computing it all per call: every figure is
    elementwise (a table entry is `ai_boom_log_growth` of that quarter: its rates and
    their running sum do not depend on how many years are asked for) and the products
    and quotients are the same, in the same order."""

    def __init__(self, streams: DemandStreams, origin: int, ai_growth: float, ai_fade: float) -> None:
        self.streams, self.ai_growth, self.ai_fade = streams, ai_growth, ai_fade
        self.began = np.maximum(streams.start, origin)
        self.growth = 1 + streams.growth
        self.decline = 1 + streams.decline
        before = np.maximum(0, AI_BOOM_QUARTER - self.began)
        joined = np.maximum(AI_BOOM_QUARTER, self.began) - AI_BOOM_QUARTER
        self.before_boom = streams.wafers * self.growth ** (before / 4)  # wafers when the boom took over
        self.joined = ai_boom_log_growth(joined, ai_growth, ai_fade)
        self.table = np.zeros(0)

    def boom(self, quarters: np.ndarray, top: int) -> np.ndarray:
        """`ai_boom_log_growth(quarters, ai_growth, ai_fade)` from the table (made, or
        made longer, when `top`, the largest of `quarters`, is past its end)."""
        if top >= len(self.table):
            self.table = ai_boom_log_growth(np.arange(max(64, 2 * top + 1)), self.ai_growth, self.ai_fade)
        return self.table.take(np.maximum(quarters, 0))

    def wafers(self, quarter) -> np.ndarray:
        """Each stream's wafers/quarter in `quarter` (an int, or one per stream)."""
        streams = self.streams
        until = np.minimum(quarter, streams.peak)  # growth runs to the peak
        grown = streams.wafers * self.growth ** ((until - self.began) / 4)
        boom = until > AI_BOOM_QUARTER
        if boom.any():
            top = (quarter if isinstance(quarter, int) else int(np.max(quarter))) - AI_BOOM_QUARTER  # until <= quarter
            boomed = self.before_boom * np.exp(self.boom(until - AI_BOOM_QUARTER, top) - self.joined)
            grown = np.where(streams.ai & boom, boomed, grown)
        return grown * self.decline ** (np.maximum(0, quarter - streams.peak) / 4)


def firm_demand(streams: DemandStreams, n_firms: int, quarter, grown: np.ndarray, cycle, shock: np.ndarray,
                cell: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(all wafers, AI wafers) per firm and tier from each stream's wafers `grown`
    (`StreamGrowth.wafers` of `quarter`): non-AI streams x the market `cycle`, all x
    the firm's `shock`, none before the stream starts; a firm's streams at one tier
    added in stream order. `quarter`, `cycle`: a value, or one per stream; `cell`:
    each stream's firm x tier cell, if known."""
    n = len(TIERS)
    own = np.asarray(shock, dtype=float)[streams.firm]
    value = grown * np.where(streams.ai, own, own * cycle)
    value = np.where(quarter >= streams.start, value, 0.0)
    if cell is None:
        cell = streams.firm * n + streams.tier
    total = np.bincount(cell, weights=value, minlength=n_firms * n).reshape(n_firms, n)
    ai = np.bincount(cell, weights=np.where(streams.ai, value, 0.0), minlength=n_firms * n).reshape(n_firms, n)
    return total, ai


# ------------------------------------------------------------ batched firm decisions
def adapt_preferences(
    weights: np.ndarray,
    base: np.ndarray,
    fill_rate: np.ndarray,
    quality: np.ndarray,
    active: np.ndarray,
    rate: float,
    out: np.ndarray | None = None,
    work: np.ndarray | None = None,
) -> np.ndarray:
    """Each firm moves its supplier weights a share `rate` toward a target mix.

    Target weight of a relation = base preference x reliability (last quarter's fill
    rate, floored at 0.2 so one bad quarter does not end a relation) x supplier quality
    (yield ceiling factor). Cut relations keep weight 0. Partial adjustment is the
    classic adaptive-expectations rule (ASSUMPTION on its speed: the
    `preference_adaptation` parameter).

    `out`: where the result goes (it may be `weights` itself: each entry is read
    before it is written); `work`: an array of the same length it may overwrite (it
    may be `fill_rate`). By default both are fresh and the inputs are left alone.
    """
    # In two buffers, the same products in the same order (a world has 10^6 relations):
    # target = (base x max(fill, 0.2)) x quality; moved = (1 - rate) x weights + rate x target.
    target = np.maximum(fill_rate, 0.2, out=work)
    np.multiply(base, target, out=target)
    target *= quality
    target *= rate
    moved = np.multiply(1.0 - rate, weights, out=out)
    moved += target
    np.putmask(moved, ~np.asarray(active, dtype=bool), 0.0)
    return moved


def search_weights(
    group_has_weight: np.ndarray,
    edge_group: np.ndarray,
    supplier_capacity: np.ndarray,
    same_country: np.ndarray,
    active: np.ndarray,
) -> np.ndarray:
    """Weights for a firm cut off from all its suppliers of a tier: it searches the
    permitted foundries that have capacity, in proportion to capacity, three times
    as keen on a foundry of its own country (ASSUMPTION: security of supply)."""
    orphan = ~group_has_weight[edge_group]
    w = supplier_capacity * np.where(same_country, 3.0, 1.0)
    return np.where(orphan & active & (supplier_capacity > 0), w, 0.0)


def derisk_preferences(
    base: np.ndarray, relation: np.ndarray, hit: np.ndarray, factor: float, out: np.ndarray | None = None
) -> np.ndarray:
    """Multiply the base preference of the relations in `relation` of the firms `hit`
    by `factor` (per edge masks).

    The model uses it both ways after a rule: a firm whose supply a wafers rule cuts
    multiplies its preference for home foundries by the `derisk_factor` parameter, and
    firms of the issuing country divide their preference for the targeted country's
    foundries by it. ASSUMPTION on the size; the direction is what SMIC's customers did:
    its revenue share from China rose from 69.9% (2021) to 84% (2023Q3) while the
    Americas' fell from 22.3% to 12.9% (calibration.csv:
    revenue_share_by_customer_region, SMIC). A firm with no such relation gains none.
    """
    # Only the relations hit change (a few of 10^6): base elsewhere, base x factor there,
    # as np.where(hit & relation, base * factor, base) gives. `out` may be `base` itself
    # (changed in place); by default a fresh copy.
    if out is None:
        out = base.copy()
    elif out is not base:
        np.copyto(out, base)
    at = np.flatnonzero(hit & relation)
    out[at] = base[at] * factor
    return out


def fall_back(demand: np.ndarray, demand_ai: np.ndarray, reach: np.ndarray, *, fresh: bool = False):
    """Move the part of each firm's demand at a tier beyond `reach` (what its eligible
    suppliers can make there, (firms, tiers); inf: all, 0: none) to the next older tier:
    a performance penalty (ASSUMPTION: a design ported to an older node rather than
    dropped). AI demand moves pro rata. Returns (demand, AI demand, wafers that fell
    back per firm).

    Worked on as (tiers, firms) copies, so that each tier is one contiguous row (the
    same additions and products as on the columns); returned as (firms, tiers) views.
    The AI wafers that move are computed once, added to one tier and taken from the
    other (the same product both times).

    `fresh`: `demand` and `demand_ai` hold no -0.0 (sums `np.bincount` made, which
    start at +0.0), and a tier where no firm spills is passed over, to the bit: there
    every spill is +0.0 (never -0.0: `here` never is one), so each share is +0.0 and the
    tier's steps would add or take +0.0 from figures that are never -0.0 (x + s and
    x - s give -0.0 only from x = -0.0), which changes none; AI wafers moved would be
    a x 0.0, +-0.0 for a finite a, which changes none either (x + -0.0 is x; a - -0.0 is
    a for an a != 0), and NaN for an infinite one: the AI step is then made."""
    n = demand.shape[1]
    routed, routed_ai, reach = demand.T.copy(), demand_ai.T.copy(), np.asarray(reach).T
    fallback = np.zeros(len(demand))
    ai_finite = None  # whether every AI figure is finite; None: not known since they last changed
    for t in range(n - 1):
        here = routed[t]
        spill = np.maximum(here - reach[t], 0.0)
        if fresh and not np.count_nonzero(spill):  # spill.any() (NaN counts), in fewer steps
            if ai_finite is None:
                ai_finite = np.count_nonzero(np.isfinite(routed_ai)) == routed_ai.size
            if not ai_finite:
                moved = routed_ai[t] * 0.0  # x the shares, every one +0.0
                routed_ai[t + 1] += moved
                routed_ai[t] -= moved
                ai_finite = None
            continue
        share = np.divide(spill, here, out=np.zeros(len(spill)), where=here > 0)
        fallback += spill
        routed[t + 1] += spill
        moved = routed_ai[t] * share
        routed_ai[t + 1] += moved
        here -= spill
        routed_ai[t] -= moved
        ai_finite = None
    return routed.T, routed_ai.T, fallback


# ------------------------------------------------------------------- the sector
@dataclass(frozen=True)
class Relations:
    """The firms' potential wafer supply relations, one entry per relation (the wafer
    edges of the trade graph, by index: ids, not references).

    buyer: firm row; group: firm x tier cell (firm * tiers + tier); seller: foundry x
    tier cell; same_country: supplier and buyer share a country; supplier_country,
    buyer_country: country codes; quality: the supplier's quality factor."""

    buyer: np.ndarray
    group: np.ndarray
    seller: np.ndarray
    same_country: np.ndarray
    supplier_country: np.ndarray
    buyer_country: np.ndarray
    quality: np.ndarray


@dataclass(frozen=True)
class WaferOrders:
    """The firms' wafer orders of one quarter: the sector's intent.

    orders: wafers/quarter per relation (stockpiling included); ai_share: share of
    each firm x tier group's orders that is AI wafers (each of its relations' share); forecast: wafers/quarter per foundry x tier
    cell the firms expect to order one installation lag ahead; first_use: relations
    ordered on for the first time (a search found them)."""

    orders: np.ndarray
    ai_share: np.ndarray
    forecast: np.ndarray
    first_use: np.ndarray


@dataclass(frozen=True)
class AiNeeds:
    """AI wafers that designers with a sized demand want (`AcceleratorDesigner.ai_wafers`),
    put in place of their firms' AI streams: per designer its firm's row, the tier of its
    dies, the wafers this quarter (before the firm's demand shock) and at the horizon."""

    rows: np.ndarray
    tiers: np.ndarray
    now: np.ndarray
    ahead: np.ndarray

    def put(self, total: np.ndarray, ai: np.ndarray, shocks: np.ndarray, m: int) -> None:
        """In the stacked (2 x firms, tiers) demand of `_demand_and_forecast`: each
        designer's AI wafers replace its AI streams' at its tier (this quarter's x its
        shock; the forecast's as they are), the other cells as they were."""
        now = self.now * np.asarray(shocks, dtype=float)[self.rows]
        _replace_ai(total, ai, (self.rows, self.tiers), now)
        _replace_ai(total, ai, (self.rows + m, self.tiers), self.ahead)

    def put_each(self, demand, demand_ai, forecast, forecast_ai, shocks) -> None:
        """`put` on this quarter's and the forecast's demand held apart."""
        now = self.now * np.asarray(shocks, dtype=float)[self.rows]
        _replace_ai(demand, demand_ai, (self.rows, self.tiers), now)
        _replace_ai(forecast, forecast_ai, (self.rows, self.tiers), self.ahead)


def _replace_ai(total: np.ndarray, ai: np.ndarray, cells: tuple, values: np.ndarray) -> None:
    """In place: the AI wafers at `cells` become `values`, and the totals with them."""
    total[cells] = total[cells] - ai[cells] + values
    ai[cells] = values


class FablessSector:
    """Every fabless firm's rules at once, over arrays: a row per firm, an entry per
    supply relation. Owns the firms' demand streams, figures and supplier preferences
    (`base`: what each firm prefers before adapting; `weight`: its current mix)."""

    def __init__(self, streams: DemandStreams, n_firms: int, relations: Relations, base: np.ndarray,
                 origin: int) -> None:
        self.streams, self.n_firms, self.relations, self.origin = streams, n_firms, relations, origin
        self.figures = FirmFigures.zeros(n_firms)
        self.base = base
        self.weight = base.copy()
        self.ever_used = base > 0
        # Scratch space, one float per relation, reused every quarter; made (and its
        # pages touched) at set-up: a fresh array of 10^6 floats costs page faults.
        self._buffer = np.zeros(len(relations.group))
        self._buffer.fill(0.0)
        self._growth: StreamGrowth | None = None  # the streams' growth rule, for one AI boom
        self._wafers_by_quarter: dict[tuple, np.ndarray] = {}  # its figures of a few quarters
        self._block: _DemandBlock | None = None  # the streams over a block of quarters
        # Each country's firms' log-preference for home foundries at LOCALISED_TIERS
        # (`model.demand.localisation_level`), and per relation whether it is such a
        # home relation (made when first needed).
        self.localisation: dict[str, float] = {}
        self._home: tuple | None = None  # (the exposed countries, the mask of their home relations)
        self._country_names: np.ndarray | None = None  # the firms' countries, once each
        self._firm_country_code: np.ndarray | None = None  # per firm, its index in those

    def demand(self, quarter: int, ai_growth: float, ai_fade: float, cycle: float,
               shocks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(all, AI) wafers each firm wants per tier in `quarter` (`stream_demand`)."""
        return firm_demand(self.streams, self.n_firms, quarter, self._stream_wafers(quarter, ai_growth, ai_fade),
                           cycle, shocks)

    def _stream_wafers(self, quarter: int, ai_growth: float, ai_fade: float) -> np.ndarray:
        """`StreamGrowth.wafers` of the sector's streams in `quarter` (read, never
        changed). Kept for a few quarters: the forecast of one quarter asks for the
        quarter that is demanded one installation lag later."""
        key, kept = (quarter, ai_growth, ai_fade), self._wafers_by_quarter
        if key not in kept:
            growth = self._growth
            if growth is None or (growth.ai_growth, growth.ai_fade) != (ai_growth, ai_fade):
                growth = self._growth = StreamGrowth(self.streams, self.origin, ai_growth, ai_fade)
            if len(kept) >= 16:
                del kept[next(iter(kept))]  # the oldest
            kept[key] = growth.wafers(quarter)
        return kept[key]

    def place_orders(
        self, quarter: int, horizon: int, *, ai_growth: float, ai_fade: float, cycle: float,
        shocks: np.ndarray, eligible_now: np.ndarray, eligible_ahead: np.ndarray,
        capacity: np.ndarray, coming: np.ndarray, at_risk: np.ndarray, stockpile_factor: float,
        ai_needs: AiNeeds | None = None, price_ratio: np.ndarray | None = None, elasticity: float = 0.0,
        price_sensitivity: float = 0.0, exposure: dict[str, int] | None = None, localisation_rate: float = 0.0,
    ) -> WaferOrders:
        """This quarter's orders and the forecast one lag ahead.

        Demand falls back to an older tier beyond what eligible suppliers (those with
        capacity now or being installed) can make (`fall_back`); a firm left with no
        weighted eligible supplier of a tier searches (`search_weights`) and adopts
        what it finds as relations of its own; demand is split over eligible relations
        by preference weight (`model.market.split_orders`); relations a announced rule
        will cut get `stockpile_factor` x more (stockpiling ahead of a rule, ASSUMPTION
        on its size). The forecast looks through the market cycle and demand noise
        (ASSUMPTION: fabs take years to build; the cycle shows in utilisation and prices)
        and reaches processes ready within the horizon. `capacity`, `coming`: per
        foundry x tier cell, wafers/quarter (coming: capacity + pipeline). `ai_needs`:
        the AI wafers designers whose demand is sized want, in place of their AI streams.

        Prices and risk (`model.demand`): the split over relations is a logit whose
        weights are the preference weights x (p / p_ref) ** -`price_sensitivity` of the
        relation's supplier (`price_ratio`: per foundry x tier cell, last quarter's
        price over its reference) x exp(localisation) on a home relation at
        `LOCALISED_TIERS` of a firm whose country foreign chip controls target
        (`exposure`: rules against each country this quarter; its firms'
        log-preference rises by `localisation_rate` per rule, `localisation_level`);
        each firm's non-AI orders for a tier then scale with the price it faces there
        (the mean over its orders) ** -`elasticity` (`orders_at_price`).
        The forecast splits by the same logit weights and looks through prices, as
        through the cycle. With every one of these at 0 the orders are the
        preference split alone, to the bit.
        """
        if exposure:
            for country, rules in exposure.items():
                self.localisation[country] = localisation_level(self.localisation.get(country, 0.0),
                                                                localisation_rate, rules)
        choice = self._choice_factors(price_ratio, price_sensitivity)
        rel, n = self.relations, len(TIERS)
        n_groups = self.n_firms * n
        # Per relation sums go through one reused buffer: a world of 10^6 relations pays
        # for every fresh array of that size in page faults.
        buffer = self._relation_buffer()
        np.asarray(coming).take(rel.seller, out=buffer)
        np.copyto(buffer, 0.0, where=~eligible_now)  # np.where(eligible_now, coming[seller], 0.0)
        reach_now = np.bincount(rel.group, weights=buffer, minlength=n_groups)
        np.copyto(buffer, eligible_now)  # 1.0 on eligible relations: counts per group
        reachable_now = np.bincount(rel.group, weights=buffer, minlength=n_groups) > 0
        np.copyto(buffer, eligible_ahead)  # eligible_ahead.astype(float)
        reachable_ahead = np.bincount(rel.group, weights=buffer, minlength=n_groups) > 0
        reach_ahead = np.where(reachable_ahead, np.inf, 0.0).reshape(-1, n)
        demand, routed, routed_ai, fallback, routed_forecast, clean = self._routed(
            quarter, horizon, ai_growth, ai_fade, cycle, shocks, reach_now.reshape(-1, n), reach_ahead, ai_needs)
        self.figures.demand = demand
        self.figures.fallback_wafers = fallback

        # This quarter's orders.
        nonzero = self.weight != 0
        weighted, weights, has_weight = self._weighted(eligible_now, nonzero)
        search = self._search(has_weight, reachable_now, eligible_now, capacity)
        if search is not None and (search[1] > 0).any():
            at, searched = search
            # Only the few relations found carry weight (search weights are >= 0): each
            # group's total over them alone adds the same numbers in the same order.
            adopted = at[searched > 0]
            found, group = searched[searched > 0], rel.group[adopted]
            share = found / np.bincount(group, weights=found, minlength=n_groups)[group].clip(min=1e-12)
            self.base[adopted] = share
            self.weight[adopted] = share
            weighted = _union(weighted, adopted, len(rel.group))  # adopted weights are > 0
            weights, nonzero = self.weight[weighted], None  # (weights changed)
        orders = np.zeros(len(rel.group))
        keep = ~(weights <= 0)
        live = weighted[keep]  # split_orders' live edges
        flat, flat_ai = routed.ravel(), routed_ai.ravel()
        logit = weights[keep] if choice is None else choice(live, weights[keep])
        if clean[0]:
            at = live
            orders[live] = split_live(flat, rel.group[live], logit)
        else:
            at = slice(None)
            dense = self.weight if choice is None else choice(np.arange(len(rel.group)), self.weight)
            orders = split_orders(flat, rel.group, dense, eligible_now)
        if elasticity != 0.0 and price_ratio is not None:
            # Each group's orders scale to what it wants at the price it faces there.
            orders[at], flat = orders_at_price(orders[at], rel.group[at],
                                               np.asarray(price_ratio, dtype=float).take(rel.seller[at]),
                                               flat, flat_ai, elasticity)
        risky = at_risk.nonzero()[0]  # x 1.0 elsewhere: only the relations at risk change
        if len(risky):
            orders[risky] *= 1.0 + stockpile_factor * at_risk[risky]
        # Only a live relation has an order that can be > 0 (elsewhere it is +0.0, and
        # stockpiling multiplies it): the first uses are among those.
        first = live[np.greater(orders[live] > 0, self.ever_used[live])]  # ordered & ~ever_used
        first_use = np.zeros(len(orders), dtype=bool)
        first_use[first] = True
        self.ever_used[first] = True
        # A relation's AI share is its group's: one quotient per group (the same one
        # each of the group's relations had).
        ai_share = np.divide(flat_ai, flat, out=np.zeros(n_groups), where=flat > 0)

        # The forecast: weights of relations eligible ahead, plus what a search finds,
        # split over the live ones; only its sum per seller is used, to which the other
        # relations would add +0.0 each.
        weighted, ahead, has_weight = self._weighted(eligible_ahead, nonzero)
        search = self._search(has_weight, reachable_ahead, eligible_ahead, coming)
        if search is not None and len(search[0]):
            at, found = search
            weighted, ahead = _add_at(weighted, ahead, at, found, len(rel.group))
        if choice is not None:
            ahead = choice(weighted, ahead)
        live = ~(ahead <= 0)
        if clean[1]:
            at = weighted[live]
            fc = split_live(routed_forecast.ravel(), rel.group[at], ahead[live])
            per_seller = np.bincount(rel.seller[at], weights=fc, minlength=len(capacity))
        else:
            dense = np.zeros(len(rel.group))
            dense[weighted] = ahead
            fc = split_orders(routed_forecast.ravel(), rel.group, dense, eligible_ahead)
            per_seller = np.bincount(rel.seller, weights=fc, minlength=len(capacity))
        return WaferOrders(orders, ai_share, per_seller, first_use)

    def _choice_factors(self, price_ratio: np.ndarray | None, sensitivity: float):
        """The logit weights of this quarter as a function (relations, their preference
        weights) -> `choice_weights` of them, or None when neither prices nor
        localisation move them (the preference weights are the logit weights).

        The same products as `choice_weights` per relation, made from factors per
        foundry x tier cell (`price_response` of its price ratio) and per firm (exp of
        its country's log-preference), gathered for the relations asked about; the
        home factor multiplies only the localised relations (elsewhere it is
        exp(0) = 1, which changes no product)."""
        localised = any(v > 0 for v in self.localisation.values())
        priced = price_ratio is not None and sensitivity != 0.0
        if not (localised or priced):
            return None
        rel = self.relations
        per_seller = price_response(price_ratio, sensitivity) if priced else None
        if localised:
            if self._firm_country_code is None:
                self._country_names, self._firm_country_code = np.unique(self._countries()[1], return_inverse=True)
            levels = np.array([self.localisation.get(c, 0.0) for c in self._country_names.tolist()])
            exposed = tuple(self._country_names[levels > 0].tolist())
            if self._home is None or self._home[0] != exposed:
                # Home relations at the localised tiers of firms of an exposed country
                # (one pass over the relations when that set of countries changes).
                tiers = np.array([t.index for t in LOCALISED_TIERS])
                firm_exposed = (levels > 0).take(self._firm_country_code)
                mask = (np.asarray(rel.same_country, dtype=bool) & np.isin(rel.group % len(TIERS), tiers)
                        & firm_exposed.take(rel.buyer))
                self._home = (exposed, mask)
            home = self._home[1]
            per_firm = np.exp(levels).take(self._firm_country_code)

        def weights_of(at: np.ndarray, weights: np.ndarray) -> np.ndarray:
            out = weights * per_seller.take(rel.seller[at]) if priced else np.array(weights, dtype=float)
            if localised:
                local = np.flatnonzero(home.take(at))
                out[local] *= per_firm.take(rel.buyer[at[local]])
            return out
        return weights_of

    def _routed(self, quarter, horizon, ai_growth, ai_fade, cycle, shocks, reach_now, reach_ahead, ai_needs=None):
        """(demand, routed demand, routed AI demand, fallback wafers) of `quarter`, the
        routed forecast of `horizon` (`demand`, then `fall_back` to `reach_now` and
        `reach_ahead`), and whether each routed demand is split over the live relations
        alone (`zero_elsewhere`: one test of both when both pass it). A small world
        computes both quarters in one call of each (`_demand_and_forecast`; each row
        falls back on its own, the forecast's AI rows unused): the same numbers with
        half the calls. A large one makes two calls:
        there the stacked arrays would pass 4 MiB, where numpy asks the kernel for huge
        pages and a fresh array costs more in page faults than the calls saved."""
        m, n = self.n_firms, len(TIERS)
        if 2 * m * n * 8 < 1 << 22:
            wanted, wanted_ai = self._demand_and_forecast(quarter, horizon, ai_growth, ai_fade, cycle, shocks)
            if ai_needs is not None:
                ai_needs.put(wanted, wanted_ai, shocks, m)
            routed, routed_ai, fallback = fall_back(wanted, wanted_ai, np.concatenate([reach_now, reach_ahead]), fresh=True)
            clean = (True, True) if zero_elsewhere(routed) else (zero_elsewhere(routed[:m]),
                                                                 zero_elsewhere(routed[m:]))
            return wanted[:m], routed[:m], routed_ai[:m], fallback[:m], routed[m:], clean
        demand, demand_ai = self.demand(quarter, ai_growth, ai_fade, cycle, shocks)
        forecast, forecast_ai = self.demand(horizon, ai_growth, ai_fade, 1.0, np.ones(m))
        if ai_needs is not None:
            ai_needs.put_each(demand, demand_ai, forecast, forecast_ai, shocks)
        routed, routed_ai, fallback = fall_back(demand, demand_ai, reach_now)
        routed_forecast, _, _ = fall_back(forecast, forecast, reach_ahead)
        clean = zero_elsewhere(routed), zero_elsewhere(routed_forecast)
        return demand, routed, routed_ai, fallback, routed_forecast, clean

    def _demand_and_forecast(self, quarter: int, horizon: int, ai_growth: float, ai_fade: float, cycle: float,
                             shocks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(all, AI) wafers per firm and tier, shape (2 x firms, tiers): rows of firm j
        are `demand(quarter, ..., cycle, shocks)`, rows of firm firms + j the forecast
        `demand(horizon, ..., 1.0, no noise)`. Each stream's figure is the same
        elementwise arithmetic as in its own `demand` call, and each firm's cell adds
        the same streams in the same order.

        The streams' wafers, who has started and the forecast's sums are read from a
        table over a block of quarters (`_DemandBlock`, made when a quarter is past
        it); only this quarter's cycle and shocks are applied per call. A world whose
        table would be large takes each quarter on its own (`_demand_and_forecast_each`)."""
        block = getattr(self, "_block", None)
        if (block is None or block.key != (ai_growth, ai_fade) or not block.first <= quarter < block.end
                or not block.first <= horizon < block.end):
            k = len(self.streams.firm)
            span = max(64, abs(horizon - quarter) + 1)
            if k * span > 1 << 16:
                return self._demand_and_forecast_each(quarter, horizon, ai_growth, ai_fade, cycle, shocks)
            block = self._block = _DemandBlock(self.streams, self.n_firms, self.origin, ai_growth, ai_fade,
                                               min(quarter, horizon), span)
        st, b, h = self.streams, quarter - block.first, horizon - block.first
        own = np.asarray(shocks, dtype=float).take(st.firm)
        value = block.wafers[b] * np.where(st.ai, own, own * cycle)
        np.copyto(value, 0.0, where=block.not_started[b])  # np.where(quarter >= start, value, 0.0)
        n_cells = self.n_firms * len(TIERS)
        total = np.concatenate([np.bincount(block.cells, weights=value, minlength=n_cells), block.total[h]])
        ai = np.concatenate([np.bincount(block.cells, weights=np.where(st.ai, value, 0.0), minlength=n_cells),
                             block.ai[h]])
        return total.reshape(-1, len(TIERS)), ai.reshape(-1, len(TIERS))

    def _demand_and_forecast_each(self, quarter: int, horizon: int, ai_growth: float, ai_fade: float, cycle: float,
                             shocks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(all, AI) wafers per firm and tier, shape (2 x firms, tiers): rows of firm j
        are `demand(quarter, ..., cycle, shocks)`, rows of firm firms + j the forecast
        `demand(horizon, ..., 1.0, no noise)`. One pair of sums over the streams taken
        twice (the second copy's firms offset by `n_firms`): each stream's figure is the
        same elementwise arithmetic as in its own `demand` call, and each firm's cell
        adds the same streams in the same order."""
        if getattr(self, "_streams_twice", None) is None:
            st = self.streams
            self._streams_twice = DemandStreams(*(
                np.concatenate([getattr(st, f), getattr(st, f) + self.n_firms if f == "firm" else getattr(st, f)])
                for f in ("firm", "tier", "wafers", "growth", "ai", "start", "peak", "decline")))
            self._cells_twice = self._streams_twice.firm * len(TIERS) + self._streams_twice.tier
        # Each stream's figure as `firm_demand` makes it: this quarter's x the cycle and
        # shock; the forecast's x 1.0 (no cycle, no noise), which is the figure itself.
        st, k = self.streams, len(self.streams.firm)
        value = np.empty(2 * k)
        own = np.asarray(shocks, dtype=float).take(st.firm)
        np.multiply(self._stream_wafers(quarter, ai_growth, ai_fade), np.where(st.ai, own, own * cycle),
                    out=value[:k])
        value[k:] = self._stream_wafers(horizon, ai_growth, ai_fade)
        np.copyto(value[:k], 0.0, where=quarter < st.start)  # np.where(quarter >= start, value, 0.0)
        np.copyto(value[k:], 0.0, where=horizon < st.start)
        cells, n_cells = self._cells_twice, 2 * self.n_firms * len(TIERS)
        total = np.bincount(cells, weights=value, minlength=n_cells).reshape(-1, len(TIERS))
        ai = np.bincount(cells, weights=np.where(self._streams_twice.ai, value, 0.0), minlength=n_cells)
        return total, ai.reshape(-1, len(TIERS))

    def _relation_buffer(self) -> np.ndarray:
        """A float per relation, reused from call to call (scratch space only)."""
        return self._buffer

    def _weighted(self, eligible: np.ndarray, nonzero: np.ndarray | None = None
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(the eligible relations with a non-zero weight, in order; their weights;
        whether each firm x tier group's total weight over its eligible relations is
        > 0). The total is over those relations alone: the others would each add a
        zero, which changes no sum that starts at +0.0. `nonzero`: `self.weight != 0`,
        if known."""
        weighted = (eligible & (self.weight != 0 if nonzero is None else nonzero)).nonzero()[0]
        weights = self.weight[weighted]
        total = np.bincount(self.relations.group[weighted], weights=weights, minlength=self.n_firms * len(TIERS))
        return weighted, weights, total > 0

    def _search(self, has_weight: np.ndarray, reachable: np.ndarray, eligible: np.ndarray,
                capacity: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
        """Search weights (`search_weights`) of the eligible relations of the (firm,
        tier) groups left with no weighted eligible supplier, as (relations, weights);
        None when no such group has an eligible relation (the weights elsewhere are
        zero). `reachable`: whether a group has an eligible relation at all."""
        # None also when the groups cut off have no eligible relation (or nobody is cut
        # off): what a search of nothing gives, nothing to adopt or forecast.
        if not np.count_nonzero(np.greater(reachable, has_weight)):  # (reachable & ~has_weight).any()
            return None
        rel = self.relations
        # Only the relations of groups left without a weighted supplier can search
        # (a few, in a world of 10^6 relations): the rule runs over those alone.
        at = (~has_weight[rel.group] & eligible).nonzero()[0]
        return at, search_weights(has_weight, rel.group[at], np.maximum(capacity[rel.seller[at]], 1.0),
                                  rel.same_country[at], eligible[at])

    def receive(self, orders: np.ndarray, flow: np.ndarray, seller_yield: np.ndarray, ai_share: np.ndarray,
                dies_per_wafer: np.ndarray, active: np.ndarray, adaptation: float) -> None:
        """Deliveries of the quarter: the firms' figures, and preferences that move
        toward who delivered (`adapt_preferences`). `seller_yield`: large-die yield per
        foundry x tier cell; `ai_share`: per firm x tier group (`WaferOrders`).

        The sums run over the relations with a non-zero order or flow alone: every
        other relation would add a zero (0 x a finite share x a finite yield for the
        dies), which changes no sum that starts at +0.0."""
        rel, n = self.relations, len(TIERS)
        n_groups, figures = self.n_firms * n, self.figures
        # Dense in a small world (numpy's cost per call dominates) and where 0 x inf
        # would be NaN (never in a model run).
        sparse = (len(flow) >= SPARSE_MIN_EDGES and np.isfinite(ai_share).all()
                  and np.isfinite(seller_yield).all())
        if sparse:
            placed, moved = (orders != 0).nonzero()[0], (flow != 0).nonzero()[0]  # (faster than on floats)
        else:
            placed = moved = slice(None)  # every relation
        group, seller = np.asarray(ai_share).take(rel.group[moved]), np.asarray(seller_yield).take(rel.seller[moved])
        figures.ordered = np.bincount(rel.group[placed], weights=orders[placed], minlength=n_groups).reshape(-1, n)
        delivered = flow[moved]
        buyer = rel.buyer[moved]
        figures.delivered = np.bincount(rel.group[moved], weights=delivered, minlength=n_groups).reshape(-1, n)
        dies = delivered * group
        dies *= seller
        figures.domestic_wafers = np.bincount(buyer, weights=delivered * rel.same_country[moved],
                                              minlength=self.n_firms)
        die_wafers = np.bincount(buyer, weights=dies, minlength=self.n_firms)
        figures.ai_dies = die_wafers * dies_per_wafer
        fill = self._relation_buffer()
        fill.fill(1.0)
        np.divide(flow, orders, out=fill, where=orders > 0)  # np.divide(..., out=np.ones_like(flow))
        # In place, with the fill rates' buffer as scratch: the same products in order.
        adapt_preferences(self.weight, self.base, fill, rel.quality, active, adaptation, out=self.weight, work=fill)
        if sparse:
            self.ever_used[moved[delivered > 0]] = True
        else:
            self.ever_used |= flow > 0

    def derisk(self, factor: float, cut_firms: np.ndarray | None, issuer: str, targeted: set[str]) -> None:
        """After a rule: firms in `cut_firms` (a wafers rule cut them) lean toward home
        foundries; firms of the `issuer`'s country lean away from foundries of the
        `targeted` countries (`derisk_preferences`)."""
        rel = self.relations
        if cut_firms is not None:
            derisk_preferences(self.base, rel.same_country, cut_firms[rel.buyer], factor, out=self.base)
        if targeted:
            # Tested per foundry x tier cell and per firm, then gathered per relation:
            # the same booleans as comparing each relation's country strings.
            seller_country, firm_country = self._countries()
            leaving = (firm_country == issuer)[rel.buyer] & np.isin(seller_country, list(targeted))[rel.seller]
            derisk_preferences(self.base, leaving, np.True_, 1 / factor, out=self.base)

    def _countries(self) -> tuple[np.ndarray, np.ndarray]:
        """(the supplier's country per foundry x tier cell, the country per firm), read
        off the relations once ('' for a cell or firm without relations)."""
        if getattr(self, "_agent_countries", None) is None:
            rel = self.relations
            seller = np.zeros(int(rel.seller.max(initial=-1)) + 1, dtype=rel.supplier_country.dtype)
            seller[rel.seller] = rel.supplier_country
            firm = np.zeros(self.n_firms, dtype=rel.buyer_country.dtype)
            firm[rel.buyer] = rel.buyer_country
            self._agent_countries = seller, firm
        return self._agent_countries


class _DemandBlock:
    """The sector's streams over the quarters first, ..., end - 1 (for one AI boom):
    each stream's wafers (`StreamGrowth.wafers` of the quarter: the streams taken once
    per quarter, each with its quarter, which is the same elementwise arithmetic),
    whether it has not started, and the forecast's sums per firm x tier cell (`total`,
    `ai`: each quarter's streams added in stream order into cells of their own, as
    `firm_demand` adds them with no cycle and no noise)."""

    def __init__(self, streams: DemandStreams, n_firms: int, origin: int, ai_growth: float, ai_fade: float,
                 first: int, span: int) -> None:
        n, k = len(TIERS), len(streams.firm)
        self.key, self.first, self.end = (ai_growth, ai_fade), first, first + span
        fields = ("firm", "tier", "wafers", "growth", "ai", "start", "peak", "decline")
        tiled = DemandStreams(*(np.tile(getattr(streams, f), span) for f in fields))
        quarters = np.arange(first, first + span, dtype=np.int64)
        self.wafers = StreamGrowth(tiled, origin, ai_growth, ai_fade).wafers(np.repeat(quarters, k)).reshape(span, k)
        self.not_started = quarters[:, None] < streams.start[None, :]
        self.cells = streams.firm * n + streams.tier
        value = np.where(self.not_started, 0.0, self.wafers)  # the forecast's x 1.0: the figure itself
        cells = (self.cells[None, :] + (np.arange(span) * (n_firms * n))[:, None]).ravel()
        size = span * n_firms * n
        self.total = np.bincount(cells, weights=value.ravel(), minlength=size).reshape(span, -1)
        self.ai = np.bincount(cells, weights=np.where(tiled.ai, value.ravel(), 0.0), minlength=size).reshape(span, -1)


def _union(a: np.ndarray, b: np.ndarray, n: int) -> np.ndarray:
    """The sorted union of index arrays `a` and `b` (indices below `n`), through a mask:
    O(n) passes over bytes instead of a sort."""
    mask = np.zeros(n, dtype=bool)
    mask[a] = True
    mask[b] = True
    return np.flatnonzero(mask)


def _add_at(index: np.ndarray, values: np.ndarray, at: np.ndarray, extra: np.ndarray, n: int):
    """Sparse vectors (sorted `index`, `values`) + (sorted `at`, `extra`), indices below
    `n`: the union of the indices, in order, with the sums the dense vectors' sum has
    there: v + e where both have an entry, 0.0 + e where only `at` has; v where only
    `index` has (v + 0.0 is v for the non-zero values an index holds)."""
    union = _union(index, at, n)
    out = np.zeros(len(union))
    out[np.searchsorted(union, index)] = values
    out[np.searchsorted(union, at)] += extra
    return union, out
