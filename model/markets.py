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

from model.graph import EdgeSet, Segments
from model.market import clear, split_orders
from model.technology import TIERS, TOOL_CATEGORIES


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

    def settle(self, price: np.ndarray, yields: np.ndarray) -> WaferSettlement:
        """What the cleared flows mean to sellers at `price` and `yields` ((foundries,
        tiers), US$/wafer and fractions): revenue per foundry (US$ million), orders and
        deliveries per foundry x tier, the yield of each foundry x tier cell (flat)."""
        flow, n = self.flow, len(TIERS)
        # price[supplier, tier] of each edge is price.ravel()[seller]: a flat gather.
        edge_revenue = np.take(np.ravel(price), self.seller, out=self._revenue)
        edge_revenue *= flow  # flow x price, then / 1e6, in one buffer
        edge_revenue /= 1e6
        n_sellers = len(self.capacity)
        return WaferSettlement(
            seller_yield=np.ravel(yields).copy(),
            ordered=np.bincount(self.seller, weights=self.orders, minlength=n_sellers).reshape(-1, n),
            delivered=np.bincount(self.seller, weights=flow, minlength=n_sellers).reshape(-1, n),
            revenue=self.by_foundry.sums(edge_revenue),
            china_revenue=self.by_foundry_china.sums(edge_revenue),
        )


@dataclass(frozen=True)
class WaferSettlement:
    seller_yield: np.ndarray
    ordered: np.ndarray
    delivered: np.ndarray
    revenue: np.ndarray
    china_revenue: np.ndarray


class ToolMarket:
    """vendor -> foundry tools of a category for use at a tier. Sellers are vendor x
    category cells; buyers' demand is per foundry x category x tier group."""

    def __init__(self, edges: EdgeSet, vendor_weight: np.ndarray, vendor_country: np.ndarray,
                 foundry_country: np.ndarray, unit_price: np.ndarray, n_foundries: int) -> None:
        n_cat, n_tier, n_vendors = len(TOOL_CATEGORIES), len(TIERS), len(vendor_country)
        self.edges = edges
        self.n_foundries = n_foundries
        self.weight = vendor_weight[edges.supplier, edges.category]  # buyers' base preference
        self.group = (edges.buyer * n_cat + edges.category) * n_tier + edges.tier
        self.seller = edges.supplier * n_cat + edges.category
        self.china_buyer = (foundry_country == "CN")[edges.buyer]
        self.domestic = (vendor_country == "CN")[edges.supplier]
        self.unit_price = unit_price
        self.by_vendor = Segments(edges.supplier, n_vendors)
        self.by_vendor_china = Segments(edges.supplier, n_vendors, self.china_buyer)
        self.by_seller = Segments(self.seller, n_vendors * n_cat)
        self.reachable: np.ndarray | None = None  # (foundry, category, tier), after the first sale
        # Fixed per edge: its (vendor, category, tier) cell of `capable`, flat; its unit
        # price; whether a Chinese buyer's `bias` weights it.
        self.cell = self.seller * n_tier + edges.tier
        # Where its tools land: the buyer's stock cell in the fleet's inventory (foundries,
        # categories, tiers, origins [foreign, domestic]), flat (FoundryFleet.receive_tools).
        self.stock_cell = self.group * 2 + self.domestic
        self.edge_price = unit_price[edges.category]
        self.biased = self.domestic & self.china_buyer
        self._weights: tuple[tuple, np.ndarray] | None = None  # ((bias, its sign), weights), the last made

    def sell(self, demand: np.ndarray, capacity: np.ndarray, capable: np.ndarray, bias: float,
             at_risk: np.ndarray, stockpile_factor: float) -> ToolSales:
        """Fill the foundries' tool `demand` (units per foundry x category x tier) from
        the vendors' `capacity` (units per vendor x category) over active edges whose
        vendor's technology serves the tier (`capable[vendor, category, tier]`).

        Demand splits over vendors by the buyers' preference (Chinese buyers weight
        domestic vendors by `bias`); orders on relations an announced rule will cut are
        `stockpile_factor` x larger; capacity is cleared pro rata. Also keeps
        `reachable`: what each foundry can still buy (its next orders route around the
        rest).

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
            self.group, weights=eligible, minlength=self.n_foundries * n_cat * n_tier
        ).reshape(self.n_foundries, n_cat, n_tier) > 0
        orders = split_orders(demand, self.group, self._weights[1], eligible)
        if not math.isfinite(stockpile_factor) or np.count_nonzero(at_risk):
            orders *= 1.0 + stockpile_factor * at_risk
        flow = clear(capacity, orders, self.seller, eligible)
        edges.volume = flow
        revenue = flow * self.edge_price
        revenue /= 1e6
        return ToolSales(flow=flow, revenue=self.by_vendor.sums(revenue),
                         china_revenue=self.by_vendor_china.sums(revenue), ordered=self.by_seller.sums(orders))


@dataclass(frozen=True)
class ToolSales:
    """flow: units per edge; revenue, china_revenue: US$ million per vendor; ordered:
    units per vendor x category cell."""

    flow: np.ndarray
    revenue: np.ndarray
    china_revenue: np.ndarray
    ordered: np.ndarray
