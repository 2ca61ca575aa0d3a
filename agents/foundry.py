"""Foundries: capacity per tier from installed tools, yields that learn, costs and
gross margins (model.costs), cost-plus prices that respond to market power and load, and
tool orders paid from revenue and subsidy."""

from __future__ import annotations

import math
from typing import NamedTuple

import mesa
import numpy as np

from agents.base import ChipAgent, Installation, ToolOrder, ToolOrders
from model import costs
from model.technology import (
    CATEGORY_INDEX, CATEGORY_NAMES, LITHOGRAPHY, TIER_INDEX, TIER_NAMES, TIERS, TOOL_CATEGORIES, ToolCategory, learned_yield,
    parse_quarter,
)

ROUTES = ("euv", "duv")
"""Patterning routes of installed capacity; index 1 ('duv') is multi-patterning at
leading/7nm and the ordinary route elsewhere."""
EUV = ToolCategory.EUV.value
LITHOGRAPHY_NAMES = frozenset(c.value for c in LITHOGRAPHY)
FOREIGN, DOMESTIC = 0, 1
"""Origin of the lithography tools behind a unit of capacity (servicing bans hit foreign)."""
_STOCK_AT = {(c, t, u): ((CATEGORY_INDEX[c] * len(TIERS) + TIER_INDEX[t]) * 2, c in LITHOGRAPHY_NAMES)
             for c in CATEGORY_INDEX for t in TIER_INDEX for u in TIER_INDEX}
"""A use's key (category, tier stocked for, tier of use) -> (index of the foreign stock
it takes from in a foundry's flat inventory, a lithography tool?); the domestic stock
follows."""
_FRONT_AT = {(t, r): (TIER_INDEX[t] * len(ROUTES) + ROUTES.index(r)) * 2 for t in TIER_INDEX for r in ROUTES}
"""(tier, route) -> index of its foreign capacity in the flat front of the pipeline."""


class BillRows(NamedTuple):
    """A bill of tools indexed as a foundry's decisions read it, per tier index.

    installs[tier]: the routes that can build the tier, the foundry's preferred route
    first, each as (route, [(category index, category, units per wafer)]) in the bill's
    order (an EUV route needs EUV scanners in its bill)."""

    installs: list

    @classmethod
    def parse(cls, bill, routes: list[str]) -> BillRows:
        installs = []
        for tier, preferred in zip(TIERS, routes):
            usable = []
            for route in (preferred, *(r for r in ROUTES if r != preferred)):
                need = bill(tier, route)
                if need and not (route == "euv" and EUV not in need):
                    # A category needing no units per wafer never binds and takes nothing.
                    usable.append((route, [(CATEGORY_INDEX[c], c, u) for c, u in need.items() if u > 0]))
            installs.append(usable)
        return cls(installs)


class OrderBills(NamedTuple):
    """The bill of tools each foundry orders by, its own route's at each tier, as
    arrays (foundries, categories, tiers) for `order_tools`.

    per_wafer: tool units per wafer/quarter of capacity (0 where the bill has no such
    category); listed: the category is in the bill; runs, ready: (foundries, tiers), the
    tiers each foundry runs and the quarter each process is ready; place: where a
    request is in its foundry's list, tier by tier in the bill's order (tier x
    categories + its place in the bill)."""

    per_wafer: np.ndarray
    listed: np.ndarray
    runs: np.ndarray
    ready: np.ndarray
    place: np.ndarray
    known: dict  # reachable (as bytes) -> its `older_targets`: rules change it a few times a run

    def targets(self, reachable: np.ndarray) -> np.ndarray:
        """`older_targets` of `reachable` for these foundries, kept while it recurs."""
        key = reachable.tobytes()
        if key not in self.known:
            if len(self.known) > 64:
                self.known.clear()
            self.known[key] = older_targets(reachable, self.runs)
        return self.known[key]

    @classmethod
    def parse(cls, bill, foundries: list) -> OrderBills:
        shape = (len(foundries), len(CATEGORY_NAMES), len(TIERS))
        per_wafer, listed, position = np.zeros(shape), np.zeros(shape, dtype=bool), np.zeros(shape, dtype=np.int64)
        for f, foundry in enumerate(foundries):
            for tier, route in zip(TIERS, foundry.route):
                for k, (category, units) in enumerate(bill(tier, route).items()):
                    at = (f, CATEGORY_INDEX[category], tier.index)
                    per_wafer[at], listed[at], position[at] = units, True, k
        place = np.arange(len(TIERS)) * len(CATEGORY_NAMES) + position
        return cls(per_wafer, listed, np.array([f.has_tier for f in foundries]),
                   np.array([f.ready for f in foundries]), place, {})


class Foundry(ChipAgent):
    """A contract chip maker (TSMC, Samsung, ..., SMIC, Hua Hong).

    State per tier (arrays indexed by `Tier.index`): capacity by route and lithography
    origin (wafers/quarter), an installation pipeline, cumulative wafers (yield
    learning), price (US$/wafer). Tool inventory per (category, tier of use) and origin.
    """

    kind = "foundry"

    def __init__(
        self,
        model: mesa.Model,
        name: str,
        country: str,
        *,
        spec,
        reference_price: np.ndarray,
        yield_start: float,
        ceilings: np.ndarray,
        half_life_wafers: float,
        lag: int,
    ) -> None:
        super().__init__(model, name, country)
        n = len(TIERS)
        self.price_factor = spec.price_factor
        self.capex_ratio = spec.capex_ratio
        self.quality = spec.quality
        self.headroom = spec.headroom_by_tier()  # per tier; None: the world's default
        self.has_tier = np.array([t.value in spec.tiers for t in TIERS])
        self.ready = np.array(
            [
                parse_quarter(spec.tiers[t.value].ready)
                if t.value in spec.tiers and spec.tiers[t.value].ready
                else -(10**6)
                for t in TIERS
            ]
        )
        self.route = [spec.tiers[t.value].route if t.value in spec.tiers else "duv" for t in TIERS]
        self.preferred_route = np.array([ROUTES.index(r) for r in self.route])  # index per tier
        # Fixed at construction; the decisions below read them as plain lists.
        self._runs = [i for i, runs in enumerate(self.has_tier.tolist()) if runs]
        self._ready = self.ready.tolist()
        self._bill_rows: tuple | None = None  # (bill, rows) parsed by `_rows`
        self.capacity = np.zeros((n, len(ROUTES), 2))
        for t in TIERS:
            if t.value in spec.tiers:
                route = ROUTES.index(self.route[t.index])
                # 2019 lithography is imported everywhere (SMEE's share is negligible:
                # calibration.csv: equipment_segment_share, ArF dry scanners - ASML).
                self.capacity[t.index, route, FOREIGN] = spec.tiers[t.value].capacity
        self.pipeline = np.zeros((lag, n, len(ROUTES), 2))
        # A process running since before 2019 has learnt: two years of full output.
        self.cumulative_wafers = self.capacity.sum(axis=(1, 2)) * 8.0
        self.reference_price = reference_price * spec.price_factor
        self.price = self.reference_price.copy()
        self.cost_level = spec.price_factor  # ASSUMPTION: costs move with list prices (model.costs)
        self.yield_start = yield_start
        self.ceilings = ceilings * spec.quality  # shape (routes, tiers)
        self.half_life_wafers = half_life_wafers
        # Tool units in stock per (category, tier of use, origin [foreign, domestic]).
        self.inventory = np.zeros((len(TOOL_CATEGORIES), n, 2))
        self.unserviced = False
        # Figures of the last quarter, written by the model's phases.
        self.orders = np.zeros(n)
        self.delivered = np.zeros(n)
        self.forecast = np.zeros(n)
        # Revenue, US$ m: the company's as the foundry rankings count it (its wafers' and
        # its packaging house's, `add_packaging`); of it, its wafers' and its packaging's.
        self.revenue_usd_m = 0.0
        self.china_revenue_usd_m = 0.0
        self.wafer_revenue_usd_m = 0.0
        self.packaging_revenue_usd_m = 0.0
        self.subsidy_usd_m = 0.0
        self.capex_usd_m = 0.0
        self.conversion_capex_usd_m = 0.0  # of it, converting capacity to a newer generation
        self.price_premium = np.ones(len(TIERS))  # per tier, its generation mix's (model.generations)
        # Costs of the last quarter (model.costs): cost of goods, gross profit (US$ m),
        # gross margin (fraction, `costs.gross_margin`'s convention), and per tier the
        # cost per wafer at normal load and per good wafer (US$; NaN where no capacity).
        self.cost_usd_m = 0.0
        self.gross_profit_usd_m = 0.0
        self.gross_margin = 0.0
        self.cost_per_wafer = np.full(n, np.nan)
        self.cost_per_good_wafer = np.full(n, np.nan)
        self.build_ahead = np.zeros(len(TIERS))  # extra headroom per tier a state instruction asks for this quarter

    # --------------------------------------------------------------------- views
    @property
    def price_earned(self) -> np.ndarray:
        """Per tier, what a wafer earns: its price x its generation mix's premium."""
        return self.price * self.price_premium

    @property
    def capacity_by_tier(self) -> np.ndarray:
        """Wafers/quarter per tier, all routes and origins."""
        return self.capacity.sum(axis=(1, 2))

    def tier_totals(self) -> tuple[list[float], list[float]]:
        """(capacity, capacity in the pipeline) per tier, wafers/quarter, as lists
        (`tier_totals` over this one foundry)."""
        capacity, pipeline = tier_totals(self.capacity[None], self.pipeline[None])
        return capacity[0].tolist(), pipeline[0].tolist()

    def yields(self) -> np.ndarray:
        """Large-die yield per tier: each route's learning curve, capacity-weighted
        (`blended_yields`)."""
        return blended_yields(self.cumulative_wafers[None], self.capacity[None], self.yield_start,
                              self.ceilings[None], np.array([self.half_life_wafers]),
                              self.preferred_route[None])[0]

    def target_headroom(self, world_headroom: float) -> np.ndarray:
        """Capacity built above forecast orders, per tier: the foundry's own headroom
        (else the world's), plus what a state build-out instruction in force adds for
        the tiers it covers."""
        own = np.array([world_headroom if h is None else h for h in self.headroom])
        return own + self.build_ahead

    # ----------------------------------------------------------------- decisions
    def plan_tool_orders(
        self, quarter: int, bill, unit_price: dict[str, float], headroom: float, depreciation: float,
        reachable=None, repurpose_share: float = 0.0, tier_totals=None,
    ) -> ToolOrder:
        """Tools to order so that capacity one lag ahead covers forecast orders.

        Target = forecast x (1 + headroom) for each tier the foundry runs (or will run:
        ordering starts one lag before a process is ready). The gap to what it will have
        (capacity after depreciation, the pipeline, tools in stock) is bought at the
        bill of tools of the tier's route, scaled down to the capex budget: capex_ratio x
        last quarter's wafer revenue plus subsidy (ASSUMPTION: capex follows revenue, as in
        TSMC's guidance, calibration.csv: capex_guidance, TSMC, 2025; its packaging
        revenue pays for its packaging lines, whose capacity the world dates, not wafer tools).

        `reachable[category][tier]` (an array or nested lists) says what the foundry can
        still buy (no rule cuts every supplier). Tools it cannot buy for a tier it
        orders, up to `repurpose_share` of the need, as for the newest older tier it runs
        and can still buy for: the stock that `plan_installation` may repurpose
        (ASSUMPTION: SMIC's 7nm lines used scanners bought for mature lines, which the
        2023-10 and 2024-09 rules widened to stop, controls_timeline.csv).

        The rule is `order_tools`, which the fleet applies to every foundry at once
        (`FoundryFleet.plan_tool_orders`); here to this one. `tier_totals`: (capacity,
        pipeline) per tier, if the caller has them; else computed here.
        """
        capacity, in_pipeline = tier_totals if tier_totals is not None else self.tier_totals()
        can = None if reachable is None else np.asarray(reachable, dtype=bool)[None]
        orders = order_tools(
            quarter, self.pipeline.shape[0], self.forecast[None], (1 + self.target_headroom(headroom))[None],
            np.asarray(capacity, dtype=float)[None], np.asarray(in_pipeline, dtype=float)[None], depreciation,
            (self.inventory[..., 0] + self.inventory[..., 1])[None], OrderBills.parse(bill, [self]),
            np.array([self.capex_ratio * self.wafer_revenue_usd_m + self.subsidy_usd_m]),
            np.array([unit_price[c] for c in CATEGORY_NAMES]), can, repurpose_share,
        )
        return orders.order(0, self.name)

    def plan_installation(self, quarter: int, bill, headroom: float, repurpose_share: float,
                          tier_totals=None, stock: list | None = None, install_rate: float = 0.0) -> Installation:
        """Install stocked tools as capacity: most advanced tier first, preferred route
        first; capacity added is limited by the scarcest category (Leontief), and in all
        to `install_rate` x the foundry's capacity (cleanroom space: tools beyond it wait
        in stock; 0: no limit; a foundry with no capacity yet is not limited).

        A tier short of tools may take up to `repurpose_share` of the tools stocked for
        older tiers, as far as its own gap to forecast needs (ASSUMPTION: scanners and
        etchers licensed for mature lines end up on advanced ones; the 2023-2024 Dutch
        and US rules widened to close this, controls_timeline.csv 2023-10-17, 2024-09-06).

        `tier_totals` (capacity, pipeline per tier) and `stock` (tools in stock per
        [category][tier], both origins; a list it may change), if the caller has them
        (`FoundryFleet.tier_totals`, `FoundryFleet.stock_lists`); else computed here.
        """
        # Plain Python floats over [category][tier] lists: every figure is the same IEEE
        # operation, in the same order, as on the arrays (sums left to right by `sum`).
        additions: dict[tuple[str, str], float] = {}
        uses: dict[tuple[str, str, str], float] = {}
        if stock is None:
            stock = (self.inventory[..., 0] + self.inventory[..., 1]).tolist()  # [category][tier], each a + b
        lag = self.pipeline.shape[0]
        grow = (1 + self.target_headroom(headroom)).tolist()
        capacity, in_pipeline = tier_totals if tier_totals is not None else self.tier_totals()
        forecast, ready, rows = self.forecast.tolist(), self._ready, self._rows(bill).installs
        room = install_rate * sum(capacity) if install_rate > 0 else 0.0
        if not room > 0:
            room = math.inf
        # Minima and maxima are written as the comparisons min() and max() make (the
        # first argument unless the second is strictly smaller/larger), without the calls.
        for i in self._runs:
            if quarter < ready[i] - lag:
                continue
            here = TIER_NAMES[i]
            after = i + 1
            gap = forecast[i] * grow[i] - capacity[i] - in_pipeline[i]
            gap = gap if gap > 0.0 else 0.0  # max(0.0, gap)
            for route, need in rows[i]:  # the routes that can build this tier, preferred first
                items = [(stock[c], name, u) for c, name, u in need]
                row, _, u = items[0]
                own = row[i] / u
                for row, _, u in items[1:]:
                    value = row[i] / u
                    if value < own:
                        own = value
                if gap > own:  # short of its own tools: older tiers' may help
                    row, _, u = items[0]
                    reach = (row[i] + repurpose_share * sum(row[after:])) / u
                    for row, _, u in items[1:]:
                        value = (row[i] + repurpose_share * sum(row[after:])) / u
                        if value < reach:
                            reach = value
                    wafers = gap if gap < reach else reach  # min(reach, gap)
                    if not wafers > own:  # max(own, min(reach, gap))
                        wafers = own
                else:  # reach >= own >= gap: max(own, min(reach, max(gap, own))) is own
                    wafers = own
                if wafers > room:
                    wafers = room
                if wafers <= 1e-9:
                    continue
                room -= wafers
                additions[(here, route)] = wafers  # one pass per tier and route: 0.0 + wafers
                gap -= wafers
                gap = gap if gap > 0.0 else 0.0
                for row, c, u in items:
                    wanted = wafers * u
                    mine = row[i]
                    from_own = mine if mine < wanted else wanted  # min(wanted, row[i])
                    if not from_own <= 0:  # as `units <= 0` skipped a take
                        row[i] = mine - from_own
                        key = (c, here, here)
                        if key in uses:
                            uses[key] += from_own
                        else:
                            uses[key] = from_own  # 0.0 + a positive (or NaN) amount
                    rest = wanted - from_own
                    if rest > 1e-12:
                        pool = sum(row[after:])
                        if pool > 0:
                            for t in range(after, len(row)):
                                taken = rest * row[t] / pool
                                if not taken <= 0:
                                    row[t] -= taken
                                    key = (c, TIER_NAMES[t], here)
                                    if key in uses:
                                        uses[key] += taken
                                    else:
                                        uses[key] = taken
        return Installation(self.name, additions, uses)

    def _rows(self, bill) -> BillRows:
        """The bill of tools (`bill(tier, route)`) as this foundry's decisions walk it,
        parsed once per bill (a world's bill is fixed at set-up)."""
        if self._bill_rows is None or self._bill_rows[0] != bill:
            self._bill_rows = (bill, BillRows.parse(bill, self.route))
        return self._bill_rows[1]

    # ------------------------------------------------------- own state updates
    def install(self, plan: Installation) -> None:
        """Put planned capacity into the pipeline, consuming tools; a tier's new capacity
        has the lithography origin (foreign/domestic) of the scanners it used
        (`install_plan` on this foundry's own cells)."""
        if not plan.uses and not plan.additions:
            return
        stock, front = self.inventory.ravel().tolist(), self.pipeline[-1].ravel().tolist()
        install_plan(plan, stock, front, 0, 0)
        self.inventory[...] = np.array(stock).reshape(self.inventory.shape)
        self.pipeline[-1] = np.array(front).reshape(self.pipeline.shape[1:])

    def age(self, depreciation: float, unserviced_extra: float) -> None:
        """Pipeline advances one quarter; capacity depreciates (faster for foreign
        lithography when servicing is banned). In place (`age_fleet` for one foundry)."""
        age_fleet(self.capacity[None], self.pipeline[None], depreciation, unserviced_extra,
                  np.array([self.unserviced]))

    def learn(self, produced: np.ndarray) -> None:
        """Add this quarter's wafers to cumulative output (the yield learning curve)."""
        self.cumulative_wafers += produced

    def set_prices(self, unit_cost: np.ndarray, variable: np.ndarray, share: np.ndarray, rules: costs.CostRules,
                   adjustment: float) -> None:
        """Move prices `adjustment` of the way to the cost-plus target (`costs.target_prices`:
        `unit_cost` per wafer at normal load over 1 - the Lerner markup of its `share` of
        each tier, times the load of last quarter's orders), within [max(variable cost,
        price_floor x reference), price_cap x reference]. Per tier arrays, US$ per wafer. In place; the rule
        `FoundryFleet.set_prices` applies to every foundry at once."""
        capacity = self.capacity_by_tier
        target = costs.target_prices(unit_cost, costs.lerner_markup(share, rules.base_lerner, rules.elasticity),
                                     self.orders, capacity, rules.load_response)
        self.price[...] = costs.move_prices(self.price, target, capacity,
                                            np.maximum(variable, rules.price_floor * self.reference_price),
                                            rules.price_cap * self.reference_price, adjustment)

    def add_packaging(self, revenue_usd_m: float, china_revenue_usd_m: float, cost_usd_m: float) -> None:
        """Count its packaging house's quarter in its books (after its wafers'): revenue
        (of it from Chinese designers) and cost join its company's, as the foundry
        rankings count TSMC's advanced packaging in TSMC's revenue; gross margin follows
        (`costs.gross_margin`)."""
        self.packaging_revenue_usd_m += revenue_usd_m
        self.revenue_usd_m += revenue_usd_m
        self.china_revenue_usd_m += china_revenue_usd_m
        self.cost_usd_m += cost_usd_m
        self.gross_profit_usd_m = self.revenue_usd_m - self.cost_usd_m
        self.gross_margin = float(costs.gross_margin(self.revenue_usd_m, self.cost_usd_m))

    def receive_tools(self, category: str, tier: str, units: float, domestic: bool) -> None:
        self.inventory[CATEGORY_INDEX[category], TIER_INDEX[tier], DOMESTIC if domestic else FOREIGN] += units


# ------------------------------------------------------------------ the fleet
class FoundryFleet:
    """Every foundry's capacity, pipeline and tool inventory stacked in arrays (a row
    per foundry, in the model's order); each Foundry's own arrays are views of its row,
    so an agent and the fleet always agree. Lets a phase update all foundries at once."""

    def __init__(self, foundries: list[Foundry]) -> None:
        self.capacity = np.array([f.capacity for f in foundries])  # (foundries, tiers, routes, origins)
        self.pipeline = np.array([f.pipeline for f in foundries])  # (foundries, lag, tiers, routes, origins)
        self.inventory = np.array([f.inventory for f in foundries])  # (foundries, categories, tiers, origins)
        self.price = np.array([f.price for f in foundries])  # (foundries, tiers) US$/wafer
        self.cumulative_wafers = np.array([f.cumulative_wafers for f in foundries])  # (foundries, tiers)
        self.forecast = np.array([f.forecast for f in foundries])  # (foundries, tiers) wafers, as each heard it
        self.foundries = foundries
        for i, f in enumerate(foundries):
            f.capacity, f.pipeline, f.inventory = self.capacity[i], self.pipeline[i], self.inventory[i]
            f.price, f.cumulative_wafers, f.forecast = self.price[i], self.cumulative_wafers[i], self.forecast[i]
        # Fixed at set-up: what prices and yields read every quarter.
        self.reference_price = np.array([f.reference_price for f in foundries])
        self.ceilings = np.array([f.ceilings for f in foundries])
        self.half_life_wafers = np.array([f.half_life_wafers for f in foundries])
        self.preferred_route = np.array([f.preferred_route for f in foundries])
        self.yield_start = foundries[0].yield_start if foundries else 0.0
        self._span = self.ceilings - self.yield_start  # (foundries, routes, tiers): `yields`' fixed parts
        self._half_life = np.maximum(self.half_life_wafers, 1e-9)[:, None]
        self._prefers_first = self.preferred_route == 0
        self._bills: tuple | None = None  # (bill, OrderBills) of `plan_tool_orders`
        self._price: tuple | None = None  # (unit prices, as an array by category) of `plan_tool_orders`
        self.own_headroom = np.array([[-1.0 if h is None else h for h in f.headroom] for f in foundries])  # -1: world's
        self.placed = np.zeros_like(self.capacity)  # capacity placed in service by the last `age`
        self.cost_level = np.array([f.cost_level for f in foundries])
        self.books: CostBooks | None = None  # set by `keep_books`

    def keep_books(self, tool_value: np.ndarray, variable_usd: np.ndarray, recent_share: np.ndarray,
                   multipatterning: np.ndarray, rules: costs.CostRules) -> None:
        """Start the foundries' cost accounts (model.costs): `tool_value` (tiers, routes)
        US$ of tools per wafer/quarter of capacity; `variable_usd` (tiers,) US$ per wafer
        start; `recent_share` (tiers,) the share of the 2019 fleet still on the books;
        `multipatterning` (tiers,) the tiers a DUV route makes by multi-patterning."""
        value_2019 = np.einsum("ftro,tr->ft", self.capacity, tool_value)
        self.books = CostBooks(tool_value, variable_usd, recent_share * value_2019, multipatterning, rules,
                               np.zeros((len(self.foundries), rules.life_quarters, len(variable_usd))))

    def capacity_by_tier(self) -> np.ndarray:
        """(foundries, tiers) wafers/quarter: each foundry's `capacity_by_tier`, bit for
        bit (`tier_totals`)."""
        return self.capacity.sum(axis=(2, 3))

    def yields(self) -> np.ndarray:
        """(foundries, tiers) large-die yields: `blended_yields`, the same operations on
        the same values, with what is fixed at set-up (each route's ceiling above the
        start, the half-lives' floor, the preferred routes) computed once."""
        progress = 1.0 - np.exp2(-np.maximum(self.cumulative_wafers, 0.0) / self._half_life)  # `learned_yield`
        first, second = self.yield_start + self._span[:, 0] * progress, self.yield_start + self._span[:, 1] * progress
        weight = self.capacity.sum(axis=3)  # (foundries, tiers, routes)
        total = weight[..., 0] + weight[..., 1]
        blended = first * weight[..., 0] + second * weight[..., 1]
        return np.divide(blended, total, out=np.where(self._prefers_first, first, second), where=total > 0)

    def learn(self, produced: np.ndarray) -> None:
        """`Foundry.learn` for every foundry: `produced` is (foundries, tiers) wafers."""
        self.cumulative_wafers += produced

    def account(self, delivered: np.ndarray, revenue: np.ndarray, yields: np.ndarray,
                cost_premium: np.ndarray | None = None, converted_usd: np.ndarray | None = None) -> None:
        """The quarter's costs (model.costs), after deliveries: the tools placed in
        service by the last `age` (and `converted_usd`, (foundries, tiers) US$ of tools
        bought converting capacity to a newer generation) join the books; each foundry's
        cost of goods (variable cost of `delivered` (foundries, tiers) wafers, times its
        generation mix's `cost_premium`, + depreciation), gross profit and gross margin
        against its `revenue` (foundries,) US$ m; per tier its cost per wafer at normal
        load and per good wafer at `yields` (foundries, tiers)."""
        books = self.books
        books.elapsed += 1
        books.vintages[:, :-1] = books.vintages[:, 1:]
        books.vintages[:, -1] = np.einsum("ftro,tr->ft", self.placed, books.tool_value)
        if converted_usd is not None:
            books.vintages[:, -1] += converted_usd
        capacity = self.capacity_by_tier()
        books.depreciation = costs.depreciation(books.vintages, books.recent_2019, books.elapsed)
        duv = costs.route_shares(self.capacity, self.preferred_route == 1)
        books.variable = costs.variable_cost(books.variable_usd, self.cost_level, duv, books.multipatterning,
                                             books.rules.multipatterning_factor)
        if cost_premium is not None:
            books.variable = books.variable * cost_premium
        books.unit_cost = costs.cost_per_wafer(books.variable, books.depreciation, capacity)
        cost = costs.cost_of_goods_usd_m(books.variable, delivered, books.depreciation)
        margin = costs.gross_margin(revenue, cost)
        running = capacity > 0
        per_wafer = np.where(running, books.unit_cost, np.nan)
        per_good = np.where(running, costs.cost_per_good_wafer(books.unit_cost, yields), np.nan)
        for f, foundry in enumerate(self.foundries):
            foundry.cost_usd_m, foundry.gross_profit_usd_m = float(cost[f]), float(revenue[f] - cost[f])
            foundry.gross_margin = float(margin[f])
            foundry.cost_per_wafer, foundry.cost_per_good_wafer = per_wafer[f], per_good[f]

    def set_prices(self, orders: np.ndarray, adjustment: float) -> None:
        """`Foundry.set_prices` for every foundry, in place, at the costs of the last
        `account`: `orders` is (foundries, tiers) wafers; each foundry's share is of its
        tier's capacity over the fleet (`costs.tier_shares`)."""
        books, rules = self.books, self.books.rules
        capacity = self.capacity_by_tier()
        lerner = costs.lerner_markup(costs.tier_shares(capacity), rules.base_lerner, rules.elasticity)
        target = costs.target_prices(books.unit_cost, lerner, orders, capacity, rules.load_response)
        self.price[...] = costs.move_prices(self.price, target, capacity,
                                            np.maximum(books.variable, rules.price_floor * self.reference_price),
                                            rules.price_cap * self.reference_price, adjustment)

    def tier_totals(self) -> list[tuple[list[float], list[float]]]:
        """Per foundry, (capacity, pipeline) per tier as lists (`tier_totals`)."""
        capacity, pipeline = tier_totals(self.capacity, self.pipeline)
        return list(zip(capacity.tolist(), pipeline.tolist()))

    def consume(self, owed: np.ndarray) -> np.ndarray:
        """Take `owed` tool units ((foundries, categories, tiers): tools ordered for
        converting capacity to a newer generation) from stock as far as it holds them,
        from both origins pro rata; `owed` falls by what was taken (in place), which is
        returned. What is taken goes into converted lines, not new capacity."""
        stock = self.inventory.sum(axis=-1)
        taken = np.minimum(owed, stock)
        share = np.divide(taken, stock, out=np.zeros_like(stock), where=stock > 0)
        self.inventory *= (1.0 - share)[..., None]
        owed -= taken
        return taken

    def stock_lists(self) -> list[list[list[float]]]:
        """Per foundry, tools in stock per [category][tier], both origins added."""
        return (self.inventory[..., 0] + self.inventory[..., 1]).tolist()

    def install(self, plans: list[Installation]) -> None:
        """`Foundry.install` of each foundry's plan (`plans` in the fleet's order), on
        the whole fleet's stock and pipeline front at once (`install_plan`)."""
        stock, front = self.inventory.ravel().tolist(), self.pipeline[:, -1].ravel().tolist()
        stock_cells, front_cells = self.inventory[0].size, self.pipeline[0, -1].size
        for f, plan in enumerate(plans):
            if plan.uses or plan.additions:
                install_plan(plan, stock, front, f * stock_cells, f * front_cells)
        self.inventory[...] = np.array(stock).reshape(self.inventory.shape)
        self.pipeline[:, -1] = np.array(front).reshape(self.pipeline[:, -1].shape)

    def no_orders(self) -> ToolOrders:
        """No foundry requesting anything (before the first quarter)."""
        shape = self.inventory.shape[:3]
        return ToolOrders(np.zeros(shape), np.full(shape, shape[1] * shape[2]), np.zeros(shape[0]))

    def plan_tool_orders(self, quarter: int, bill, unit_price: dict[str, float], headroom: float,
                         depreciation: float, reachable: np.ndarray | None, repurpose_share: float,
                         on_order: np.ndarray | None = None) -> ToolOrders:
        """Every foundry's `plan_tool_orders` at once (`order_tools`): `reachable` is
        (foundries, categories, tiers); `on_order` (the same shape, units) the tools on
        the vendors' books, which a foundry counts as its own as it does its stock (so
        that an order waiting for its lead time is not placed again)."""
        if self._bills is None or self._bills[0] != bill:
            self._bills = (bill, OrderBills.parse(bill, self.foundries))
        capacity, pipeline = tier_totals(self.capacity, self.pipeline)
        foundries = self.foundries
        grow = 1 + (np.where(self.own_headroom >= 0, self.own_headroom, headroom)
                    + np.array([f.build_ahead for f in foundries]))  # 1 + each `target_headroom`, per tier
        budget = np.array([f.capex_ratio * f.wafer_revenue_usd_m + f.subsidy_usd_m for f in foundries])
        if self._price is None or self._price[0] is not unit_price:
            self._price = (unit_price, np.array([unit_price[c] for c in CATEGORY_NAMES]))
        stock = self.inventory[..., 0] + self.inventory[..., 1]
        if on_order is not None:
            stock = stock + on_order
        return order_tools(quarter, self.pipeline.shape[1], self.forecast, grow, capacity, pipeline, depreciation,
                           stock, self._bills[1], budget,
                           self._price[1], reachable, repurpose_share)

    def age(self, depreciation: float, unserviced_extra: float) -> None:
        """`Foundry.age` for every foundry (`age_fleet`); what enters service is kept
        in `placed` (the books' new vintage)."""
        self.placed[...] = self.pipeline[:, 0]
        age_fleet(self.capacity, self.pipeline, depreciation, unserviced_extra,
                  np.array([f.unserviced for f in self.foundries]))

    def receive_tools(self, cell: np.ndarray, units: np.ndarray) -> None:
        """Tools delivered: `units` into each stock `cell` of the fleet's inventory, flat
        (((foundry x categories + category) x tiers + tier of use) x 2 + origin, foreign
        0, domestic 1: `ToolMarket.stock_cell`), added one after another in the given order, as
        `Foundry.receive_tools` would."""
        np.add.at(self.inventory.reshape(-1), cell, units)


class CostBooks:
    """The fleet's cost accounts (model.costs): fixed tables, the rules, the vintages of
    tool value in service (foundries, life quarters, tiers; US$, newest last), the 2019
    fleet still on the books, and the last quarter's depreciation (US$), variable cost
    and unit cost at normal load (US$ per wafer), each (foundries, tiers)."""

    def __init__(self, tool_value, variable_usd, recent_2019, multipatterning, rules, vintages) -> None:
        self.tool_value, self.variable_usd, self.recent_2019 = tool_value, variable_usd, recent_2019
        self.multipatterning, self.rules, self.vintages = multipatterning, rules, vintages
        self.elapsed = 0
        shape = recent_2019.shape
        self.depreciation = np.zeros(shape)
        self.variable = np.broadcast_to(variable_usd, shape).copy()
        self.unit_cost = self.variable.copy()


def tier_totals(capacity: np.ndarray, pipeline: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per foundry and tier, (foundries, tiers): capacity over routes and origins, and
    capacity in the pipeline over lag quarters, routes and origins (wafers/quarter).

    Each total adds its cells in the order (and with the pairwise grouping) numpy uses
    for one foundry's `capacity[i].sum()` and `pipeline[:, i].sum()`, so the figures
    are the same to the last bit (checked in tests/test_kernels.py)."""
    n_foundries, lag, n_tiers = pipeline.shape[:3]
    by_tier = np.ascontiguousarray(pipeline.transpose(0, 2, 1, 3, 4)).reshape(n_foundries, n_tiers, -1)
    return capacity.sum(axis=(2, 3)), by_tier.sum(axis=2)


def age_fleet(capacity: np.ndarray, pipeline: np.ndarray, depreciation: float, unserviced_extra: float,
              unserviced: np.ndarray) -> None:
    """In place: each foundry's pipeline (foundries, lag, ...) advances a quarter, its
    front becoming capacity (foundries, tiers, routes, origins); capacity depreciates
    by `depreciation`, and foreign-lithography capacity of the `unserviced` foundries
    by `unserviced_extra` more (fractions a quarter)."""
    capacity += pipeline[:, 0]
    pipeline[:, :-1] = pipeline[:, 1:].copy()
    pipeline[:, -1] = 0.0
    capacity *= 1.0 - depreciation
    if unserviced.any():
        capacity[unserviced, :, :, FOREIGN] *= 1.0 - unserviced_extra


def blended_yields(cumulative: np.ndarray, capacity: np.ndarray, start: float, ceilings: np.ndarray,
                   half_life: np.ndarray, preferred_route: np.ndarray) -> np.ndarray:
    """Large-die yield per foundry and tier, shape (foundries, tiers): each route's
    learning curve (`learned_yield` in cumulative wafers), weighted by the capacity of
    that route; a tier with no capacity takes its preferred route's curve.

    cumulative: (foundries, tiers) wafers; capacity: (foundries, tiers, routes,
    origins) wafers/quarter; ceilings: (foundries, routes, tiers); half_life:
    (foundries,) wafers; preferred_route: (foundries, tiers) route index."""
    # Both routes' curves in one call: each cell's learning progress is computed once
    # and broadcast over the routes' ceilings (the same elementwise operations).
    by_route = learned_yield(cumulative[:, None, :], start, ceilings, half_life[:, None, None])  # (f, routes, tiers)
    weight = capacity.sum(axis=3).transpose(0, 2, 1)  # (foundries, routes, tiers)
    total = weight[:, 0] + weight[:, 1]
    fallback = np.where(preferred_route == 0, by_route[:, 0], by_route[:, 1])
    blended = by_route[:, 0] * weight[:, 0] + by_route[:, 1] * weight[:, 1]
    return np.divide(blended, total, out=fallback, where=total > 0)


def order_tools(
    quarter: int, lag: int, forecast: np.ndarray, grow: np.ndarray, capacity: np.ndarray, pipeline: np.ndarray,
    depreciation: float, stock: np.ndarray, bills: OrderBills, budget: np.ndarray, price: np.ndarray,
    reachable: np.ndarray | None, repurpose_share: float,
) -> ToolOrders:
    """The foundries' tool orders of a quarter (`Foundry.plan_tool_orders`' rule).

    Per foundry f and tier t it runs, ready within `lag` + 1 quarters: the gap =
    forecast x grow (1 + headroom) - (capacity x (1 - depreciation)^(lag + 1) +
    pipeline); where positive, each category of its route's bill is requested: gap x
    units per wafer - stock, where positive. With `reachable` (foundries, categories,
    tiers) and `repurpose_share` > 0, a request the foundry cannot buy moves, times
    `repurpose_share`, to the newest older tier it runs and can buy for (none: dropped).
    The requests are scaled to the budget (capex_ratio x revenue + subsidy, US$ m) when
    they cost more; `price` is US$ per unit by category.

    forecast, capacity, pipeline, grow: (foundries, tiers) wafers/quarter (grow: a
    factor); budget: (foundries,); stock: (foundries, categories, tiers) units.

    A foundry lists its requests tier by tier (newest first), in its bill's order, a
    moved request at its source's place; costs are summed left to right in that order,
    so each figure is the one the per-foundry loop of dicts gave, to the last bit
    (tests/test_fast_paths.py)."""
    n_foundries, n_categories, n_tiers = stock.shape
    kept = (1 - depreciation) ** (lag + 1)
    gap = forecast * grow - (capacity * kept + pipeline)
    due = bills.runs & (quarter + lag + 1 >= bills.ready) & ~(gap <= 0)
    need = gap[:, None, :] * bills.per_wafer - stock
    wanted = due[:, None, :] & bills.listed & (need > 0)
    place, unlisted = bills.place, n_tiers * n_categories
    # Requests all reachable (or nothing to move them): each stays where it is, as the
    # moves below would leave it (0.0 + its need, at its own place).
    if reachable is not None and repurpose_share > 0 and np.count_nonzero(wanted > reachable):
        target = bills.targets(reachable)
        value = np.where(reachable, need, repurpose_share * need)
        f, c, t = np.nonzero(wanted & (target >= 0))  # a cell's sources in tier order
        units, rank = np.zeros(stock.shape), np.full(stock.shape, unlisted)
        np.add.at(units, (f, c, target[f, c, t]), value[f, c, t])  # 0.0 + each source, in order
        np.minimum.at(rank, (f, c, target[f, c, t]), place[f, c, t])
    else:
        units, rank = np.where(wanted, need, 0.0), np.where(wanted, place, unlisted)
    # Each foundry's requests in its listing order (those it does not make, 0.0, last):
    # a running sum along a row adds them left to right.
    order = np.argsort(rank.reshape(n_foundries, -1), axis=1, kind="stable")
    in_order = order + np.arange(n_foundries)[:, None] * unlisted
    units_in_order = units.reshape(-1)[in_order]
    price_in_order = np.broadcast_to(price[:, None], (n_categories, n_tiers)).reshape(-1)[order]
    cost = np.cumsum(units_in_order * price_in_order, axis=1)[:, -1] / 1e6
    ratio = np.divide(budget, cost, out=np.zeros(n_foundries), where=cost > 0)
    scale = np.where(cost > 0, np.minimum(1.0, ratio), 0.0)
    scaled = units * scale[:, None, None]
    listed = (rank < unlisted) & (scaled > 0)
    scaled = np.where(listed, scaled, 0.0)
    capex = np.cumsum(scaled.reshape(-1)[in_order] * price_in_order, axis=1)[:, -1] / 1e6
    return ToolOrders(scaled, np.where(listed, rank, unlisted), capex)


def older_targets(reachable: np.ndarray, runs: np.ndarray) -> np.ndarray:
    """(foundries, categories, tiers): where a request for a category at a tier goes,
    as a tier index: the tier itself where the foundry can buy it (`reachable`), else
    the newest older tier the foundry runs (`runs`, (foundries, tiers)) and can buy the
    category for, else -1."""
    target = np.full(reachable.shape, -1)
    nearest = np.full(reachable.shape[:2], -1)
    for t in range(reachable.shape[2] - 1, -1, -1):
        target[:, :, t] = np.where(reachable[:, :, t], t, nearest)
        nearest = np.where(runs[:, None, t] & reachable[:, :, t], t, nearest)
    return target


def install_plan(plan: Installation, stock: list[float], front: list[float], stock_at: int, front_at: int) -> None:
    """`Foundry.install` on flat lists of floats, in place: `stock` holds the foundry's
    tool inventory from index `stock_at` ([(category * tiers + tier) * 2 + origin]),
    `front` the newest quarter of its pipeline from `front_at` ([(tier * routes +
    route) * 2 + origin]). Each use takes its share of both origins' stock; new capacity
    gets the origin mix of the lithography tools its tier used (foreign without any)."""
    origin_share: dict[str, list[float]] = {}
    for key, used in plan.uses.items():  # (category, tier stocked for, tier of use)
        at, litho = _STOCK_AT[key]
        at += stock_at
        foreign, domestic = stock[at], stock[at + 1]
        total = foreign + domestic
        if total <= 0:
            continue
        if litho:
            share = origin_share.get(key[2])
            if share is None:
                origin_share[key[2]] = [0.0 + foreign / total * used, 0.0 + domestic / total * used]
            else:
                share[0] += foreign / total * used
                share[1] += domestic / total * used
        kept = 1 - used / total
        foreign, domestic = foreign * kept, domestic * kept
        stock[at] = 0.0 if 0.0 > foreign else foreign  # max(x, 0.0), signed zeros and NaN alike
        stock[at + 1] = 0.0 if 0.0 > domestic else domestic
    for key, wafers in plan.additions.items():
        share = origin_share.get(key[0])
        whole = share[0] + share[1] if share else 0.0
        at = _FRONT_AT[key] + front_at
        if whole > 0:
            front[at] += wafers * (share[0] / whole)
            front[at + 1] += wafers * (share[1] / whole)
        else:
            front[at] += wafers * 1.0
            front[at + 1] += wafers * 0.0
