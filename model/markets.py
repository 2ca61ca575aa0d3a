"""The wafer market and the tool market: per-edge state, resolved with the pure kernels
of `model.market` (`split_orders`, `clear`).

Each market holds the arrays of its edges (one entry per edge of the trade graph's
EdgeSet, in its order): who sells and buys in which cell, and this quarter's orders
and flows. The model hands a market the agents' intents and reads back what it
resolved; a market never touches an agent.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from model import backlog
from model.graph import EdgeSet, Segments, stacked_layout
from model.market import SPARSE_MIN_EDGES, clear, require_domestic, split_orders
from model.technology import CATEGORY_INDEX, TIER_INDEX, TIERS, TOOL_CATEGORIES


class WaferMarket:
    """foundry -> firm wafers of a tier. Sellers are foundry x tier cells
    (`seller = foundry * tiers + tier`), with a capacity each quarter."""

    def __init__(self, edges: EdgeSet, n_foundries: int, foundry_country: np.ndarray,
                 firm_country: np.ndarray) -> None:
        n = len(TIERS)
        self.edges = edges
        self.seller = edges.supplier * n + edges.tier
        self.china_buyer = (firm_country == "CN")[edges.buyer]
        self.priority = np.ones(len(edges), dtype=np.int64)
        self.priority_key: tuple | None = None  # the directives `priority` was made for
        self.champion_edges: dict[tuple, np.ndarray] = {}  # by (foundry, tiers, champions)
        self.class_caps = np.ones(2)
        self.capacity = np.zeros(n_foundries * n)
        self.orders = np.zeros(len(edges))
        self.ai_share = np.zeros(len(firm_country) * n)  # per firm x tier group
        self.flow = np.zeros(len(edges))
        self.by_foundry = Segments(edges.supplier, n_foundries)
        self.by_foundry_china = Segments(edges.supplier, n_foundries, self.china_buyer)
        self._revenue = np.zeros(len(edges))  # scratch of `settle`, its pages touched at set-up
        self._revenue.fill(0.0)
        self._by_foundry_both = self._both_layout(n_foundries)

    @property
    def priority(self) -> np.ndarray:
        """Per edge, its priority class in clearing (0 first); replaced, not changed in place."""
        return self._priority

    @priority.setter
    def priority(self, value: np.ndarray) -> None:
        self._priority = value
        # Every edge in one class: `clear` then runs its one round, which is what it
        # runs without priorities (the class's caps are 1.0, as the last class's).
        self._one_class = not len(value) or bool(value.min() == value.max())

    def take_orders(self, orders: np.ndarray, ai_share: np.ndarray, capacity: np.ndarray) -> None:
        """The firms' orders of this quarter (per edge; `ai_share`: the AI share of
        each firm x tier group's), against the sellers' `capacity`."""
        self.orders, self.ai_share, self.capacity = orders, ai_share, capacity

    def clear(self) -> np.ndarray:
        """Each seller's capacity to the orders on its active edges, priority classes
        first (`model.market.clear`); the flow is also the edges' volume."""
        self.flow = clear(self.capacity, self.orders, self.seller, self.edges.active,
                          None if self._one_class else self._priority, self.class_caps)
        self.edges.volume = self.flow
        return self.flow

    def _both_layout(self, n_foundries: int):
        """Revenue by foundry and from Chinese buyers by foundry as one padded layout,
        both sums in one `np.add.reduceat`: each foundry's edges (and then each one's
        edges to Chinese buyers), in edge order, after a +0.0 of their own: each
        segment the same terms in the same grouping as `Segments.sums` (which pads
        the same way below `Segments.PADDED_MAX` values), wherever it lies. (the edge
        of each value, its seller cell, its slot, the segments' starts, the layout);
        None from `Segments.PADDED_MAX` edges on (there `Segments` sums group by group)
        or with no foundry."""
        supplier = self.edges.supplier
        if len(supplier) >= Segments.PADDED_MAX or not n_foundries:
            return None
        order, slot, starts, size = stacked_layout(
            ((supplier, n_foundries, None, 0), (supplier, n_foundries, self.china_buyer, 0)))
        # The layout's pads are never written: they stay +0.0.
        return order, self.seller[order], slot, starts, np.zeros(size)

    def settle(self, price: np.ndarray, yields: np.ndarray) -> WaferSettlement:
        """What the cleared flows mean to sellers at `price` and `yields` ((foundries,
        tiers), US$/wafer and fractions): revenue per foundry (US$ million), orders and
        deliveries per foundry x tier, the yield of each foundry x tier cell (flat)."""
        flow, n = self.flow, len(TIERS)
        n_sellers = len(self.capacity)
        both = self._by_foundry_both
        flat_price = np.ravel(price)
        if both is not None and flat_price.dtype == np.float64 and np.asarray(flow).dtype == np.float64:
            flow = np.asarray(flow)
            # Each edge's revenue (price x flow, then / 1e6: the same products) made
            # straight in the order of the layout's slots, both sums in one call.
            order, seller, slot, starts, layout = both
            revenue = flat_price.take(seller)
            revenue *= flow.take(order)
            revenue /= 1e6
            layout[slot] = revenue
            sums = np.add.reduceat(layout, starts)
            n_foundries = len(starts) // 2
            revenue, china_revenue = sums[:n_foundries], sums[n_foundries:]
        else:
            # price[supplier, tier] of each edge is price.ravel()[seller]: a flat gather.
            edge_revenue = np.take(flat_price, self.seller, out=self._revenue)
            edge_revenue *= flow  # flow x price, then / 1e6, in one buffer
            edge_revenue /= 1e6
            revenue, china_revenue = self.by_foundry.sums(edge_revenue), self.by_foundry_china.sums(edge_revenue)
        return WaferSettlement(
            seller_yield=np.ravel(yields).copy(),
            ordered=np.bincount(self.seller, weights=self.orders, minlength=n_sellers).reshape(-1, n),
            delivered=np.bincount(self.seller, weights=flow, minlength=n_sellers).reshape(-1, n),
            revenue=revenue,
            china_revenue=china_revenue,
        )


@dataclass(frozen=True)
class WaferSettlement:
    seller_yield: np.ndarray
    ordered: np.ndarray
    delivered: np.ndarray
    revenue: np.ndarray
    china_revenue: np.ndarray


class ToolMarket:
    """vendor -> buyer tools of a category for use at a tier. Sellers are vendor x
    category cells; buyers are the foundries, then the other fabs that buy tools
    (memory makers', IDMs': `agents.fab`), numbered in that order; demand is per buyer
    x category x tier group.

    Orders join the vendors' books (`book`: units per edge x age in quarters,
    `model.backlog`): each seller fills its due orders (placed at least its category's
    lead time ago) oldest first, up to its output; orders on an edge a rule cuts are
    cancelled (`cancel`) and never come back. `last` keeps the quarter's books:
    placed, filled and cancelled units per edge."""

    def __init__(self, edges: EdgeSet, vendor_weight: np.ndarray, vendor_country: np.ndarray,
                 buyer_country: np.ndarray, unit_price: np.ndarray, n_buyers: int,
                 lead_quarters: np.ndarray | None = None) -> None:
        n_cat, n_tier, n_vendors = len(TOOL_CATEGORIES), len(TIERS), len(vendor_country)
        self.edges = edges
        # Lead time (quarters) per edge, from its category's; the book's ages.
        lead = np.zeros(n_cat, dtype=np.int64) if lead_quarters is None else np.asarray(lead_quarters, dtype=np.int64)
        self.lead = lead[edges.category] if len(edges) else np.zeros(0, dtype=np.int64)
        self.book = np.zeros((len(edges), backlog.book_ages(self.lead)))
        self._seller_lead = np.tile(lead, n_vendors)  # per seller cell (vendor x category, flat)
        self.cancelled = np.zeros(len(edges))  # units cancelled since the last sale, per edge
        self.last = ToolBooks.empty(len(edges))
        self.started = False  # the first orders placed stand for those placed before the run
        self.n_buyers = n_buyers
        self.weight = vendor_weight[edges.supplier, edges.category]  # buyers' base preference
        self.group = (edges.buyer * n_cat + edges.category) * n_tier + edges.tier
        self.seller = edges.supplier * n_cat + edges.category
        self.china_buyer = (buyer_country == "CN")[edges.buyer]
        self.domestic = (vendor_country == "CN")[edges.supplier]
        self.unit_price = unit_price
        self.by_vendor = Segments(edges.supplier, n_vendors)
        self.by_vendor_china = Segments(edges.supplier, n_vendors, self.china_buyer)
        self.by_seller = Segments(self.seller, n_vendors * n_cat)
        self.reachable: np.ndarray | None = None  # (buyer, category, tier), after the first sale
        # Fixed per edge: its (vendor, category, tier) cell of `capable`, flat; its unit
        # price; whether a Chinese buyer's `bias` weights it.
        self.cell = self.seller * n_tier + edges.tier
        # Where its tools land: the buyer's stock cell in the fleet's inventory (foundries,
        # categories, tiers, origins [foreign, domestic]), flat (FoundryFleet.receive_tools);
        # meaningful on a foundry's edges only (buyer < the number of foundries).
        self.stock_cell = self.group * 2 + self.domestic
        self.edge_price = unit_price[edges.category]
        self.biased = self.domestic & self.china_buyer
        self._weights: tuple[tuple, np.ndarray] | None = None  # ((bias, its sign), weights), the last made
        # `sell_served`'s state: the first tiers its `capable` edges were made for, and
        # the eligible edges (as bytes) the demand-free part of the split was made for.
        self._first: tuple | None = None
        self._capable: np.ndarray | None = None
        self._split_key: bytes | None = None
        self._share = np.zeros(0)
        self.n_sellers = n_vendors * n_cat
        # The three per-vendor (and per seller) sums of a sale as one padded layout: each
        # group's values after a +0.0 of its own, summed by one `np.add.reduceat` (each
        # segment the same terms in the same grouping as `Segments.sums`, wherever it
        # lies): revenue by vendor, revenue from Chinese buyers by vendor, orders by
        # seller, over the values [revenue per edge, orders per edge].
        self._sum_order, self._sum_slot, self._sum_starts, size = stacked_layout(
            ((edges.supplier, n_vendors, None, 0), (edges.supplier, n_vendors, self.china_buyer, 0),
             (self.seller, self.n_sellers, None, len(edges))))
        self._sum_layout = np.zeros(size)  # its pads never written: they stay +0.0

    def sell(self, demand: np.ndarray, capacity: np.ndarray, capable: np.ndarray, bias: float,
             at_risk: np.ndarray, stockpile_factor: float, required: np.ndarray | None = None,
             rush: np.ndarray | None = None) -> ToolSales:
        """Fill the buyers' tool `demand` (units per buyer x category x tier) from
        the vendors' `capacity` (units per vendor x category) over active edges whose
        vendor's technology serves the tier (`capable[vendor, category, tier]`).

        Demand splits over vendors by the buyers' preference (Chinese buyers weight
        domestic vendors by `bias`); orders on relations an announced rule will cut are
        `stockpile_factor` x larger (pulled forward into the books); a buyer with a
        domestic-tool requirement (`required`, a least domestic share by value per
        buyer) moves or forgoes foreign orders to meet it (`require_domestic`); the orders join
        the books and each seller's capacity fills its due orders oldest first
        (`_book_and_fill`). Also keeps
        `reachable`: what each buyer can still buy (a foundry's next orders route
        around the rest).

        Same numbers as computing every term afresh: the weights are made again only
        when `bias` changes (or its sign: -0.0 is not 0.0 here), and with nothing at risk
        the stockpile factor is 1.0 + f x 0.0 = 1.0 (f finite), which leaves every
        order as it is, so it is not applied."""
        edges = self.edges
        n_cat, n_tier = len(TOOL_CATEGORIES), len(TIERS)
        eligible = np.ravel(capable)[self.cell]
        eligible &= edges.active
        key = (bias, math.copysign(1.0, bias))
        if self._weights is None or self._weights[0] != key:
            self._weights = (key, np.where(self.biased, self.weight * bias, self.weight))
        self.reachable = np.bincount(
            self.group, weights=eligible, minlength=self.n_buyers * n_cat * n_tier
        ).reshape(self.n_buyers, n_cat, n_tier) > 0
        waits = self.wait_factor(capacity)
        weights = self._weights[1] if waits is None else self._weights[1] * waits[self.seller]
        orders = split_orders(demand, self.group, weights, eligible)
        if required is not None:
            orders = self._required(orders, eligible, weights, required)
        if not math.isfinite(stockpile_factor) or np.count_nonzero(at_risk):
            orders *= 1.0 + stockpile_factor * at_risk
        flow = self._book_and_fill(orders, capacity, eligible, rush)
        revenue = flow * self.edge_price
        revenue /= 1e6
        return ToolSales(flow=flow, revenue=self.by_vendor.sums(revenue),
                         china_revenue=self.by_vendor_china.sums(revenue), ordered=self.by_seller.sums(orders))


    def sell_served(self, demand: np.ndarray, capacity: list[float], first: list[int], bias: float,
                    at_risk: np.ndarray | None, stockpile_factor: float, required: np.ndarray | None = None,
                    rush: np.ndarray | None = None):
        """`sell` with each seller cell's (vendor x category, flat) `first` tier served
        (`capable[v, c, t]` is `t >= first[v x categories + c]`), `capacity` as a list
        of floats, `at_risk` None when no announced rule is at risk (all 0.0).

        Returns (flow per edge, revenue per vendor, China revenue per vendor, orders
        per seller cell), the last three as lists: the same numbers as `sell`'s, with
        what depends only on the eligible edges (which rarely change) kept from quarter
        to quarter: `reachable` and the split's shares (`split_orders`, whose demand is
        multiplied in last); the orders join the books, filled by `_book_and_fill`; the
        sums are one `reduceat`."""
        edges = self.edges
        if len(edges) >= SPARSE_MIN_EDGES:  # the kernels' sparse forms
            n_tier = len(TIERS)
            capable = np.arange(n_tier) >= np.array(first, dtype=np.int64).reshape(-1, len(TOOL_CATEGORIES), 1)
            sales = self.sell(demand, np.array(capacity), capable, bias,
                              np.zeros(len(edges)) if at_risk is None else at_risk, stockpile_factor, required,
                              rush)
            return sales.flow, sales.revenue.tolist(), sales.china_revenue.tolist(), sales.ordered.tolist()
        key = tuple(first)
        if key != self._first:
            self._first, self._capable = key, edges.tier >= np.array(first, dtype=np.int64)[self.seller]
        eligible = self._capable & edges.active
        bias_key = (bias, math.copysign(1.0, bias))
        if self._weights is None or self._weights[0] != bias_key:
            self._weights = (bias_key, np.where(self.biased, self.weight * bias, self.weight))
            self._split_key = None
        split_key = eligible.tobytes()
        if split_key != self._split_key:
            n_cat, n_tier = len(TOOL_CATEGORIES), len(TIERS)
            n_groups = self.n_buyers * n_cat * n_tier
            self.reachable = np.bincount(
                self.group, weights=eligible, minlength=n_groups).reshape(self.n_buyers, n_cat, n_tier) > 0
            # Each edge's share of its group's demand (`split_orders` of a demand of 1.0:
            # share x 1.0 is the share), kept while the eligible edges and bias stay.
            self._share = split_orders(np.ones(n_groups), self.group, self._weights[1], eligible)
            self._split_key = split_key
        waits = self.wait_factor(np.asarray(capacity, dtype=float))
        if waits is None:
            orders = np.take(np.asarray(demand, dtype=float), self.group)
            orders *= self._share  # share x demand, as `split_orders` makes it
        else:  # a vendor's long book moves this quarter's split: made afresh
            orders = split_orders(np.asarray(demand, dtype=float), self.group,
                                  self._weights[1] * waits[self.seller], eligible)
        if required is not None:
            orders = self._required(orders, eligible, self._weights[1], required)
        if not math.isfinite(stockpile_factor) or (at_risk is not None and np.count_nonzero(at_risk)):
            orders *= 1.0 + stockpile_factor * (np.zeros(len(edges)) if at_risk is None else at_risk)
        flow = self._book_and_fill(orders, np.array(capacity, dtype=float), eligible, rush)
        revenue = flow * self.edge_price
        revenue /= 1e6
        layout = self._sum_layout
        layout[self._sum_slot] = np.concatenate((revenue, orders))[self._sum_order]
        sums = np.add.reduceat(layout, self._sum_starts).tolist()
        n_vendors = len(self.by_vendor.bounds) - 1
        return flow, sums[:n_vendors], sums[n_vendors:2 * n_vendors], sums[2 * n_vendors:]


    def _required(self, orders: np.ndarray, eligible: np.ndarray, weights: np.ndarray,
                  required: np.ndarray) -> np.ndarray:
        """`orders` with each buyer's domestic-tool requirement met (`require_domestic`)."""
        return require_domestic(orders, self.group, self.edges.buyer, self.domestic, eligible, weights,
                                self.edge_price, required)

    def _book_and_fill(self, orders: np.ndarray, capacity: np.ndarray, eligible: np.ndarray,
                       rush: np.ndarray | None = None) -> np.ndarray:
        """This quarter's `orders` (units per edge) join the books at age 0; each seller's
        `capacity` fills its due orders on `eligible` edges oldest first
        (`model.backlog.fill_due`); the books age a quarter. Orders on a `rush` edge (one
        an announced rule cuts soon: `controls.deadline_risk`) go first and without their
        lead time: vendors ship what the buyer has on order before the deadline. Returns
        the units filled per edge (also the edges' volume) and keeps the quarter's books in `last`."""
        before = self.book.sum(axis=1) + self.cancelled  # the book as last quarter left it
        # The run's first orders fill the gaps foundries had when it starts: orders placed
        # before it, due now (ASSUMPTION: the books start in steady state, not empty, so
        # the first lead time of a run is no drought).
        self.book[:, 0 if self.started else -1] += orders
        self.started = self.started or bool(np.count_nonzero(orders))
        rushed = 0.0
        if rush is not None and np.count_nonzero(rush):
            rushed = backlog.fill_due(self.book, np.zeros_like(self.lead), capacity, self.seller,
                                      eligible & (rush > 0))
            self.book -= rushed
            capacity = np.maximum(capacity - np.bincount(self.seller, weights=rushed.sum(axis=1),
                                                         minlength=len(capacity)), 0.0)
        filled = backlog.fill_due(self.book, self.lead, capacity, self.seller, eligible)
        self.book -= filled
        self.book = backlog.age_book(self.book)
        flow = (filled + rushed).sum(axis=1)
        self.last = ToolBooks(before=before, placed=np.array(orders, dtype=float), filled=flow,
                              cancelled=self.cancelled, after=self.book.sum(axis=1))
        self.cancelled = np.zeros(len(self.edges))
        self.edges.volume = flow
        return flow

    def wait_factor(self, capacity: np.ndarray) -> np.ndarray | None:
        """Per seller cell, how buyers weight it for new orders by the wait its book
        implies: min(1, (lead + 1) x output / units on its book). A vendor whose book
        holds more than its lead time's output (plus this quarter's) is weighted down in
        proportion, so new orders go where tools will come sooner (ASSUMPTION: buyers
        book where delivery slots are; its book then stays near its lead time's worth of
        output). None when no book is that long (every factor 1)."""
        on_book = np.bincount(self.seller, weights=self.book.sum(axis=1), minlength=self.n_sellers)
        slots = (self._seller_lead + 1) * np.maximum(capacity, 0.0)
        if not np.count_nonzero(on_book > slots):
            return None
        return np.divide(slots, on_book, out=np.ones(self.n_sellers), where=on_book > slots)

    def book_rate(self) -> np.ndarray:
        """Per seller cell (vendor x category, flat), the units on its book per quarter
        of its lead time (+1): the rate at which its book asks to be delivered."""
        on_book = np.bincount(self.seller, weights=self.book.sum(axis=1), minlength=self.n_sellers)
        return on_book / (self._seller_lead + 1)

    def cancel(self, edges: np.ndarray) -> np.ndarray:
        """Cancel the orders on `edges` (indices: relations a rule has cut); the units
        cancelled per edge (counted in the next sale's `last.cancelled`)."""
        cancelled = backlog.cancel(self.book, np.asarray(edges, dtype=np.intp))
        self.cancelled += cancelled
        return cancelled

    def on_order(self) -> np.ndarray:
        """Units on order per (buyer, category, tier of use): the books by buyer group."""
        n_groups = self.n_buyers * len(TOOL_CATEGORIES) * len(TIERS)
        return np.bincount(self.group, weights=self.book.sum(axis=1), minlength=n_groups).reshape(
            self.n_buyers, len(TOOL_CATEGORIES), len(TIERS))

    def by_buyer_usd_m(self, units: np.ndarray) -> np.ndarray:
        """Per-edge `units` summed by buyer (the market's order), US$ million at the unit prices."""
        return np.bincount(self.edges.buyer, weights=units * self.edge_price, minlength=self.n_buyers) / 1e6

    def by_buyer_units(self, units: np.ndarray) -> np.ndarray:
        """Per-edge `units` summed by buyer (the market's order)."""
        return np.bincount(self.edges.buyer, weights=units, minlength=self.n_buyers)

    def by_vendor_units_and_usd(self, units: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per-edge `units` summed by vendor: (units, US$ million at the unit prices)."""
        return self.by_vendor.sums(units), self.by_vendor.sums(units * self.edge_price / 1e6)


def tool_demand(foundry_units: np.ndarray, purchases) -> np.ndarray:
    """The tool market's demand, flat over (buyers, categories, tiers): the foundries'
    requests (`foundry_units`, (foundries, categories, tiers) units) and then, per other
    fab, its purchase (`agents.base.ToolPurchase`: units by category at its tier)."""
    n_cat, n_tier = len(TOOL_CATEGORIES), len(TIERS)
    extra = np.zeros((len(purchases), n_cat, n_tier))
    for b, purchase in enumerate(purchases):
        for category, units in purchase.units.items():
            extra[b, CATEGORY_INDEX[category], TIER_INDEX[purchase.tier]] = units
    return np.concatenate((np.ravel(foundry_units), extra.ravel()))


@dataclass(frozen=True)
class ToolBooks:
    """A quarter of the vendors' books, units per edge: the book at its start (`before`),
    orders placed, filled and cancelled, and the book at its end (`after`):
    before + placed - filled - cancelled == after."""

    before: np.ndarray
    placed: np.ndarray
    filled: np.ndarray
    cancelled: np.ndarray
    after: np.ndarray

    @classmethod
    def empty(cls, n_edges: int) -> ToolBooks:
        zero = np.zeros(n_edges)
        return cls(zero, zero, zero, zero, zero)


@dataclass(frozen=True)
class ToolSales:
    """flow: units per edge; revenue, china_revenue: US$ million per vendor; ordered:
    units per vendor x category cell."""

    flow: np.ndarray
    revenue: np.ndarray
    china_revenue: np.ndarray
    ordered: np.ndarray
