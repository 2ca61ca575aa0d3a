"""The accelerator chain's markets: HBM stacks (memory maker -> designer, by
generation), CoWoS-class packaging (packaging house -> designer), leak routes
(foundry -> shell company -> designer) and finished accelerators (designer -> buyer, by
product), each over its edges of the trade graph.

Like the wafer and tool markets (`model.markets`) a market here holds its edges'
arrays, takes the agents' intents, resolves them with the pure kernels of
`model.market` (`split_orders`, `clear`) and hands back flows; it never touches an
agent. Nothing flows on a cut edge: `clear` gives 0 there.
"""

from __future__ import annotations

import numpy as np

from model.graph import EdgeSet
from model.market import clear, split_orders
from model.technology import HBM_GENERATIONS, TIER_INDEX, parse_quarter


def summed(group: np.ndarray, values: np.ndarray, n: int, mask: np.ndarray | None = None) -> np.ndarray:
    """Per group (0..n-1), the sum of per-edge `values` over the edges of `mask` (all if None)."""
    return np.bincount(group, weights=values if mask is None else np.where(mask, values, 0.0), minlength=n)


class HbmMarket:
    """memory maker -> designer HBM stacks. An edge per (maker, designer, generation
    the designer's products take); a maker fills an order for a generation it has
    reached (or an older one). A designer's order is split over the makers it may buy
    from in proportion to their capacity (their market shares), then each maker's
    capacity goes to the orders on it: needs first, then stock, pro rata (`clear`)."""

    def __init__(self, edges: EdgeSet, n_makers: int, designer_chinese: np.ndarray) -> None:
        self.edges, self.n_makers, self.n_designers = edges, n_makers, len(designer_chinese)
        self.china_buyer = designer_chinese[edges.buyer]  # per edge: a Chinese designer buys
        self.group = edges.buyer * len(HBM_GENERATIONS) + edges.category  # designer x generation
        self.orders = np.zeros(len(edges))
        self.flow = np.zeros(len(edges))

    def trade(self, capacity: np.ndarray, newest: np.ndarray, need: np.ndarray, extra: np.ndarray,
              at_risk: np.ndarray, stockpile_factor: float) -> np.ndarray:
        """Shipments this quarter, (designers, generations) stacks. `capacity`,
        `newest`: per maker, stacks and the newest generation index it ships; `need`,
        `extra`: (designers, generations) stacks ordered for this quarter's packages and
        for stock beyond them. Makers fill needs first, then extras, each pro rata
        (`clear` with two priority classes). On an edge an announced rule will cut
        (`at_risk`) a designer orders (need + extra) x `stockpile_factor` more, as a
        need: it buys while it may."""
        e, n = self.edges, len(self.edges)
        eligible = e.active & (newest[e.supplier] >= e.category)
        weights = capacity[e.supplier]
        first = split_orders(np.asarray(need, dtype=float).ravel(), self.group, weights, eligible)
        second = split_orders(np.asarray(extra, dtype=float).ravel(), self.group, weights, eligible)
        first = first + np.where(at_risk, (first + second) * stockpile_factor, 0.0)
        orders = np.concatenate([first, second])
        flow = clear(capacity, orders, np.concatenate([e.supplier, e.supplier]), np.concatenate([eligible, eligible]),
                     np.repeat(np.array([0, 1], dtype=np.int64), n), np.ones(2))
        self.orders, self.flow = first + second, flow[:n] + flow[n:]
        e.volume = self.flow
        shipped = np.bincount(self.group, weights=self.flow, minlength=self.n_designers * len(HBM_GENERATIONS))
        return shipped.reshape(self.n_designers, len(HBM_GENERATIONS))

    def by_maker_and_generation(self, values: np.ndarray) -> np.ndarray:
        """(makers, generations): the sum of per-edge `values` per maker and generation."""
        n = len(HBM_GENERATIONS)
        cells = self.edges.supplier * n + self.edges.category
        return np.bincount(cells, weights=values, minlength=self.n_makers * n).reshape(self.n_makers, n)

    def by_maker(self, values: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
        """Per maker, the sum of per-edge `values` (over `mask`'s edges)."""
        return summed(self.edges.supplier, values, self.n_makers, mask)


class PackagingMarket:
    """packaging house -> designer CoWoS-class packages: each designer's request split
    over the houses it may use by its preference, each house's capacity to the
    requests on it pro rata."""

    def __init__(self, edges: EdgeSet, weight: np.ndarray, n_packagers: int, designer_chinese: np.ndarray) -> None:
        self.edges, self.weight = edges, weight
        self.n_packagers, self.n_designers = n_packagers, len(designer_chinese)
        self.china_buyer = designer_chinese[edges.buyer]  # per edge: a Chinese designer books
        self.orders = np.zeros(len(edges))
        self.flow = np.zeros(len(edges))

    def book(self, capacity: np.ndarray, requests: np.ndarray) -> np.ndarray:
        """Slots each designer booked this quarter (packages)."""
        e = self.edges
        self.orders = split_orders(np.asarray(requests, dtype=float), e.buyer, self.weight, e.active)
        self.flow = clear(capacity, self.orders, e.supplier, e.active)
        e.volume = self.flow
        return np.bincount(e.buyer, weights=self.flow, minlength=self.n_designers)

    def by_packager(self, values: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
        """Per packaging house, the sum of per-edge `values` (over `mask`'s edges)."""
        return summed(self.edges.supplier, values, self.n_packagers, mask)


class LeakRoutes:
    """foundry -> shell company -> designer: dies a shell buys for its recipient. Route
    r carries `rate` dies a quarter from its opening quarter while both its edges
    (`inbound`, foundry -> shell, a wafers relation a rule can cut; `outbound`, shell ->
    designer) are active, and only while the route evades a cut: its recipient's own
    wafer edges from that foundry at that tier (`direct`, per route, edges of `wafers`)
    are all cut (ASSUMPTION: nobody buys through a shell what they may buy themselves;
    with no controls Huawei orders from TSMC directly)."""

    def __init__(self, inbound: EdgeSet, outbound: EdgeSet, opens: np.ndarray, n_designers: int,
                 wafers: EdgeSet, direct: list[np.ndarray]) -> None:
        self.inbound, self.outbound, self.opens, self.n_designers = inbound, outbound, opens, n_designers
        self.wafers, self.direct = wafers, direct

    def carry(self, quarter: int, rate: float) -> np.ndarray:
        """Dies each designer receives this quarter over the open routes."""
        evading = np.array([not self.wafers.active[at].any() for at in self.direct], dtype=bool)
        flowing = (quarter >= self.opens) & self.inbound.active & self.outbound.active & evading
        moved = np.where(flowing, rate, 0.0)
        self.inbound.volume = moved.copy()
        self.outbound.volume = moved
        return np.bincount(self.outbound.buyer, weights=moved, minlength=self.n_designers)


def leak_edges(routes, foundry_index: dict[str, int], foundry_names, designer_index: dict[str, int],
               designer_names) -> tuple[EdgeSet, EdgeSet, np.ndarray]:
    """The leak routes' two edge sets (in route order) and each route's opening quarter."""
    n = len(routes)
    shells = [r.name for r in routes]
    tier = np.array([TIER_INDEX[r.tier] for r in routes], dtype=np.int64)
    inbound = EdgeSet("dies", np.array([foundry_index[r.supplier] for r in routes], dtype=np.int64),
                      np.arange(n, dtype=np.int64), tier, np.full(n, -1), foundry_names, shells)
    outbound = EdgeSet("relay", np.arange(n, dtype=np.int64),
                       np.array([designer_index[r.recipient] for r in routes], dtype=np.int64),
                       tier, np.full(n, -1), shells, designer_names)
    return inbound, outbound, np.array([parse_quarter(r.opens) for r in routes], dtype=np.int64)


class AcceleratorMarket:
    """designer -> buyer accelerators: an edge per (product, buyer that may ever buy it:
    a China part's buyers are Chinese). Buyers order on the edges offered to them;
    each product's stock goes to the orders on it pro rata, or, while the state
    rations, to the listed Chinese buyers first up to a reserved share of each Chinese
    designer's stock (`clear` with priority classes); `fill` keeps each product's share
    of its orders filled, which buyers weigh next quarter (the same whoever was served
    first: rationing moves units between buyers, not their choices). A licence rule
    leaves its edges active and puts a fee on them (`fee`: the highest fee in force on
    an edge)."""

    def __init__(self, edges: EdgeSet, product_designer: np.ndarray, h100e: np.ndarray, price: np.ndarray,
                 ecosystem: np.ndarray, buyer_chinese: np.ndarray, designer_chinese: np.ndarray) -> None:
        self.edges = edges
        self.product_designer = product_designer  # per product: its designer's index
        self.h100e, self.price, self.ecosystem = h100e, price, ecosystem  # per product
        self.n_products = len(product_designer)
        self.china_buyer = buyer_chinese[edges.buyer]  # per edge: a Chinese buyer buys
        self.domestic = designer_chinese[edges.supplier] & self.china_buyer  # per edge: China's own chips at home
        self.licences: dict[str, np.ndarray] = {}  # rule id -> fee per edge
        self.fee = np.zeros(len(edges))
        self.fill = np.ones(self.n_products)  # per product: the share of its orders filled last quarter
        self.orders = np.zeros(len(edges))
        self.flow = np.zeros(len(edges))

    def license(self, rule_id: str, mask: np.ndarray, fee: float) -> None:
        """A licence rule in force: `fee` on the edges of `mask`."""
        self.licences[rule_id] = np.where(mask, fee, 0.0)
        self._fees()

    def revoke(self, rule_id: str) -> None:
        """A licence rule lifted: its fee goes."""
        self.licences.pop(rule_id, None)
        self._fees()

    def _fees(self) -> None:
        self.fee = np.max(np.stack(list(self.licences.values())), axis=0) if self.licences else np.zeros(len(self.edges))

    def buyer_price(self, pass_through: float) -> np.ndarray:
        """Per edge: what a buyer pays a unit, the licence fee passed on in part."""
        return self.price[self.edges.category] * (1.0 + pass_through * self.fee)

    def offered(self, available: np.ndarray) -> np.ndarray:
        """Per edge: active, and its product made or held this quarter (`available`, per product)."""
        return self.edges.active & np.asarray(available, dtype=bool)[self.edges.category]

    def clear(self, stock: np.ndarray, orders: np.ndarray, priority: np.ndarray | None = None,
              caps: np.ndarray | None = None) -> np.ndarray:
        """Units per edge this quarter: each product's `stock` to the `orders` on its
        active edges (in priority classes, if given, capped at `caps` of the stock)."""
        e = self.edges
        self.orders = np.asarray(orders, dtype=float)
        self.flow = clear(stock, self.orders, e.category, e.active, priority, caps)
        e.volume = self.flow
        ordered, filled = self.by_product(self.orders), self.by_product(self.flow)
        self.fill = np.where(ordered > 0, filled / np.where(ordered > 0, ordered, 1.0), self.fill)
        return self.flow

    def ration_classes(self, ranks: np.ndarray, share: float) -> tuple[np.ndarray, np.ndarray] | None:
        """Priority classes and caps for the state's rationing: a domestic edge to a
        listed buyer takes its buyer's rank (`ranks`, per buyer; -1: not listed), every
        other edge the last class; each listed class may take up to `share` of a
        product's stock. None if nothing is rationed."""
        n_listed = int(ranks.max(initial=-1)) + 1
        if n_listed == 0 or share <= 0:
            return None
        rank = ranks[self.edges.buyer]
        priority = np.where(self.domestic & (rank >= 0), rank, n_listed).astype(np.int64)
        return priority, np.append(np.full(n_listed, share), 1.0)

    def by_product(self, values: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
        """Per product, the sum of per-edge `values` (over `mask`'s edges)."""
        return summed(self.edges.category, values, self.n_products, mask)


def accelerator_edges(products, buyers, designer_index: dict[str, int], designer_names) -> EdgeSet:
    """An edge per (product, buyer that may buy it): a 'world' product to every buyer,
    a 'china' part to the Chinese buyers alone; category = the product's index."""
    pairs = [(designer_index[p.designer], b, TIER_INDEX[p.die_tier], k)
             for k, p in enumerate(products) for b, buyer in enumerate(buyers)
             if p.market == "world" or buyer.country == "CN"]
    d_, b_, t_, k_ = (np.array(col, dtype=np.int64) for col in (zip(*pairs) if pairs else ((), (), (), ())))
    return EdgeSet("accelerators", d_, b_, t_, k_, designer_names, [b.name for b in buyers],
                   [p.name for p in products])
