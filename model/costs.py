"""Foundry costs, gross margins and cost-plus wafer prices, and equipment vendors' cost of
sales (`vendor_cost_of_sales_usd_m`), as pure functions of arrays.

Nothing here knows about agents, Mesa or the graph (as `model.market`): each function
takes numpy arrays and returns arrays, and tests/test_costs.py exercises them alone.
Shapes: (foundries, tiers) unless said; money in US$ (per wafer) or US$ million (per
quarter, `_usd_m`); wafers are 300 mm wafer starts a quarter.

The cost of a wafer has two parts:

- **variable cost** per wafer start (materials, labour, power): the world's
  `[wafer_cost_usd] variable` by tier, times the foundry's cost level (its
  `price_factor`: ASSUMPTION, a foundry's wafer mix, 8-inch share and local labour and
  power costs move its costs as they move its list prices), times
  `multipatterning_cost_factor` on the share of a tier's capacity patterned by DUV
  multi-patterning at the tiers whose preferred route is EUV (leading, 7nm): more
  litho, etch and deposition passes per wafer;
- **depreciation**: the tools of capacity placed in service, valued at the world's
  unit prices (`tool_unit_price_usd` x the bill of tools of the tier and route),
  written off straight-line over `depreciation_life_years`. The 2019 fleet is partly
  written off already: a share `recent_share_2019` of each tier's tools was installed
  evenly over the life before 2019 and is still on the books (`depreciation`).

Cost per wafer at normal load = variable + depreciation / (normal load x capacity);
cost per good wafer = cost per wafer / yield (the model's large-die yield): a tier made
by DUV multi-patterning pays more passes and a lower yield ceiling, so it costs more per
good wafer than the EUV route.

Prices (`target_prices`, `move_prices`) are cost-plus with a markup from market power
and load: the Lerner index (p - c) / p = L of a Cournot seller is its share over the
elasticity of demand it faces, L = s / e (Tirole, *The Theory of Industrial
Organization*, 1988, ch. 5; Cowling and Waterson, Economica 1976), plus a base term
(differentiation, long-term agreements) so small foundries are not priced at cost.
The foundry's share is its share of its tier's capacity. Load above normal raises the
target, below lowers it. Prices move toward the target at `price_adjustment` a
quarter, never below variable cost (no seller prices below its cash cost) nor
`price_floor` x the reference price (list prices held on written-off nodes), nor above
`price_cap` x the reference price.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

NORMAL_LOAD = 0.9
"""The load at which a fab counts as full and prices hold (ASSUMPTION: fabs count ~90%
as full; list prices held through 2019 at 80-90% loading; as `model.market.update_prices`)."""
MAX_LERNER = 0.8
"""The largest markup over price (ASSUMPTION: no foundry's gross margin has exceeded
~60%; the cap keeps p = c / (1 - L) finite when share / elasticity nears 1)."""


def tool_value_per_wafer(bill, unit_price: dict[str, float], tiers, routes) -> np.ndarray:
    """(tiers, routes) US$ of tools per wafer/quarter of capacity: the bill of tools of
    each tier and route (`bill(tier, route)`: units per wafer/quarter by category) at
    the unit prices (US$ per unit by category)."""
    return np.array([[sum(units * unit_price[c] for c, units in bill(t, r).items()) for r in routes] for t in tiers])


def variable_cost(variable_usd: np.ndarray, cost_level: np.ndarray, duv_share: np.ndarray,
                  multipatterning: np.ndarray, factor: float) -> np.ndarray:
    """(foundries, tiers) US$ per wafer start: `variable_usd` (tiers,) x `cost_level`
    (foundries,) x (1 + (factor - 1) x the DUV share of capacity) where the tier is
    one made by multi-patterning on DUV (`multipatterning`, (tiers,) bool)."""
    passes = 1.0 + (factor - 1.0) * duv_share * multipatterning
    return variable_usd * cost_level[:, None] * passes


def route_shares(capacity: np.ndarray, preferred_duv: np.ndarray) -> np.ndarray:
    """(foundries, tiers) share of capacity on the DUV route; a tier with no capacity
    takes its preferred route (1 if DUV). `capacity` is (foundries, tiers, routes
    [euv, duv], ...origins) wafers/quarter."""
    by_route = capacity.reshape(capacity.shape[0], capacity.shape[1], 2, -1).sum(axis=3)
    total = by_route.sum(axis=2)
    return np.divide(by_route[..., 1], total, out=preferred_duv.astype(float), where=total > 0)


def depreciation(vintages: np.ndarray, recent_2019: np.ndarray, elapsed: int) -> np.ndarray:
    """(foundries, tiers) straight-line depreciation of a quarter, US$.

    `vintages` (foundries, life quarters, tiers): the tool value placed in service in
    each of the last `life` quarters (the run's own; older ones are written off).
    `recent_2019` (foundries, tiers): the 2019 fleet's tools still on the books, placed
    evenly over the `life` quarters before the run; in the run's quarter `elapsed`
    (1 = first) the vintages of those still depreciating are life - elapsed of them.
    Each vintage loses value / life a quarter."""
    life = vintages.shape[1]
    left = max(life - elapsed, 0) / life
    return (vintages.sum(axis=1) + recent_2019 * left) / life


def cost_per_wafer(variable: np.ndarray, depreciation_usd: np.ndarray, capacity: np.ndarray,
                   normal_load: float = NORMAL_LOAD) -> np.ndarray:
    """(foundries, tiers) US$ per wafer at normal load: variable + depreciation /
    (normal load x capacity); where a tier has no capacity, its variable cost alone."""
    run = normal_load * capacity
    return variable + np.divide(depreciation_usd, run, out=np.zeros(np.shape(variable)), where=run > 0)


def cost_per_good_wafer(cost: np.ndarray, yields: np.ndarray) -> np.ndarray:
    """US$ per good wafer: cost per wafer / yield (yields in (0, 1]; a yield of 0
    gives inf, which the model never has: learning starts at the world's start yield)."""
    return cost / yields


def cost_of_goods_usd_m(variable: np.ndarray, delivered: np.ndarray, depreciation_usd: np.ndarray) -> np.ndarray:
    """(foundries,) cost of goods sold, US$ million: variable cost of the wafers
    delivered plus the quarter's depreciation of every tool in service (idle or not)."""
    return ((variable * delivered).sum(axis=1) + depreciation_usd.sum(axis=1)) / 1e6


def gross_margin(revenue: np.ndarray, cost: np.ndarray) -> np.ndarray:
    """(revenue - cost) / revenue, a fraction, finite always: a loss beyond revenue
    reports -1 (the margin is clipped to [-1, 1]); no revenue and a cost gives -1 (the
    limit as revenue falls to 0); no revenue and no cost (a foundry not yet running)
    gives 0."""
    revenue, cost = np.asarray(revenue, dtype=float), np.asarray(cost, dtype=float)
    with np.errstate(over="ignore"):  # a loss over a tiny revenue is -inf before the clip
        margin = np.divide(revenue - cost, revenue, out=np.where(cost > 0, -1.0, 0.0), where=revenue > 0)
    return np.clip(margin, -1.0, 1.0)


def vendor_cost_of_sales_usd_m(revenue_usd_m, capacity_usd_m, margin, fixed_share, normal_load):
    """An equipment vendor's cost of sales, US$ million a quarter (arrays or floats).

    At its normal load (sales = `normal_load` x the value of its output capacity at list
    prices, `capacity_usd_m`) its gross margin is `margin`; `fixed_share` of that cost
    is the capacity's own (factories, field service, staff), paid whether or not the
    tools sell, and the rest varies with sales:
    cost = (1 - margin) x ((1 - fixed_share) x revenue + fixed_share x normal_load x capacity).
    So a vendor that loses sales loses gross profit faster than revenue (operating
    leverage), and one that sells above its normal load earns more than `margin`."""
    return (1.0 - margin) * ((1.0 - fixed_share) * revenue_usd_m + fixed_share * normal_load * capacity_usd_m)


def tier_shares(capacity_by_tier: np.ndarray) -> np.ndarray:
    """(foundries, tiers) each foundry's share of its tier's capacity (0-1; 0 where the
    tier has none)."""
    total = capacity_by_tier.sum(axis=0)
    return np.divide(capacity_by_tier, total, out=np.zeros(capacity_by_tier.shape), where=total > 0)


def lerner_markup(share: np.ndarray, base: float, elasticity: float, cap: float = MAX_LERNER) -> np.ndarray:
    """The Lerner index (p - c) / p: base + share / elasticity (a Cournot seller's
    markup), within [0, cap]."""
    return np.clip(base + share / elasticity, 0.0, cap)


def target_prices(unit_cost: np.ndarray, lerner: np.ndarray, orders: np.ndarray, capacity: np.ndarray,
                  load_response: float, normal_load: float = NORMAL_LOAD) -> np.ndarray:
    """The price a foundry aims at, US$ per wafer: unit cost / (1 - Lerner index) x
    (1 + load_response x clip(load - 1, -0.5, 0.5)), load = orders / (normal load x
    capacity) (0 where there is no capacity)."""
    run = normal_load * capacity
    load = np.divide(orders, run, out=np.ones(np.shape(unit_cost)), where=run > 0)
    return unit_cost / (1.0 - lerner) * (1.0 + load_response * np.clip(load - 1.0, -0.5, 0.5))


def move_prices(price: np.ndarray, target: np.ndarray, capacity: np.ndarray, floor: np.ndarray,
                ceiling: np.ndarray, adjustment: float) -> np.ndarray:
    """Next quarter's price: `adjustment` of the way to the target (partial
    adjustment), within [floor, ceiling] (the floor wins if they cross); a tier without
    capacity keeps its price."""
    moved = np.where(capacity > 0, price + adjustment * (target - price), price)
    return np.maximum(np.minimum(moved, ceiling), floor)


@dataclass(frozen=True)
class CostRules:
    """The cost and price rule's settings (scenario parameters, model/scenario.py)."""

    life_quarters: int
    multipatterning_factor: float
    base_lerner: float
    elasticity: float
    load_response: float
    price_floor: float
    price_cap: float

    @classmethod
    def of(cls, p) -> CostRules:
        return cls(max(1, round(4 * p.depreciation_life_years)), p.multipatterning_cost_factor, p.base_lerner,
                   p.tier_demand_elasticity, p.load_markup_response, p.price_floor,
                   p.price_cap)
