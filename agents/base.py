"""What every agent shares: a name, a country, and the intents agents return.

Agents decide; the model resolves. An agent's decision method returns one of the small
frozen dataclasses below; only the model's phases change other agents or the graph.
Agents refer to each other by name (the graph's node id), never by reference.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import mesa
import numpy as np

from model.technology import CATEGORY_NAMES, TIER_NAMES


class ChipAgent(mesa.Agent):
    """A named actor of one country. `name` is its node id in the trade graph."""

    kind: str = "agent"

    def __init__(self, model: mesa.Model, name: str, country: str) -> None:
        super().__init__(model)
        self.name = name
        self.country = country

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r}, {self.country})"


# ---------------------------------------------------------------------------- intents
@dataclass(frozen=True)
class PolicyChange:
    """A government's instrument changing state this quarter.

    action: 'announce' (a rule becomes known before it bites), 'apply', 'lift'.
    item: the Rule, Directive or Subsidy (model.scenario) it concerns.
    """

    government: str
    action: str
    item: object


@dataclass(frozen=True)
class Rationing:
    """The state allocator's rationing of its country's own accelerators: each domestic
    designer's stock serves `buyers` first, in order, up to `share` of it."""

    government: str
    directive_id: str
    buyers: tuple[str, ...]
    share: float


@dataclass(frozen=True)
class AllocationDirective:
    """The state allocator's order: `foundry`'s `tiers` serve `champions` first, up to
    `reserved_share` of capacity (a priority class in market clearing)."""

    government: str
    directive_id: str
    foundry: str
    tiers: tuple[str, ...]
    champions: tuple[str, ...]
    reserved_share: float


@dataclass(frozen=True)
class ToolOrder:
    """A foundry's tool request: units per (tool category, tier of use)."""

    foundry: str
    units: dict[tuple[str, str], float] = field(default_factory=dict)

    def cost_usd_m(self, unit_price: dict[str, float]) -> float:
        """What the order costs at these tool unit prices (US$ million)."""
        return tool_cost_usd_m(self.units, unit_price)


def tool_cost_usd_m(units: dict[tuple[str, str], float], unit_price: dict[str, float]) -> float:
    """Cost of tool units per (category, tier) at unit prices per category, US$ million."""
    return sum(u * unit_price[c] for (c, _), u in units.items()) / 1e6


@dataclass(frozen=True)
class ToolOrders:
    """The foundries' tool requests of a quarter, as arrays over (foundries, tool
    categories, tiers of use): `units` requested (0 where none), `rank` the place of
    each request in its foundry's list (a larger number where none), `cost_usd_m` what
    each foundry's requests cost (US$ million)."""

    units: np.ndarray
    rank: np.ndarray
    cost_usd_m: np.ndarray

    def order(self, row: int, foundry: str) -> ToolOrder:
        """One foundry's requests as a ToolOrder, in the order it lists them."""
        n_tiers, units = self.units.shape[2], self.units[row].ravel().tolist()
        listed = sorted((r, k) for k, r in enumerate(self.rank[row].ravel().tolist()) if r < len(units))
        return ToolOrder(foundry, {(CATEGORY_NAMES[k // n_tiers], TIER_NAMES[k % n_tiers]): units[k]
                                   for _, k in listed})


@dataclass(frozen=True)
class Installation:
    """Capacity a foundry puts into its installation pipeline this quarter.

    additions: (tier, route) -> wafers/quarter; uses: (tool category, tier it was
    stocked for, tier it is used at) -> units consumed.
    """

    foundry: str
    additions: dict[tuple[str, str], float]
    uses: dict[tuple[str, str, str], float]


@dataclass(frozen=True)
class OutputPlan:
    """A vendor's output limit (units/quarter) and technology level per category."""

    vendor: str
    output: dict[str, float]
    progress: dict[str, float]


@dataclass(frozen=True)
class HbmPlan:
    """A memory maker's HBM capacity this quarter (stacks) and the newest generation it
    ships (an index of `model.technology.HBM_GENERATIONS`; -1 before its first)."""

    maker: str
    capacity_stacks: float
    newest: int


@dataclass(frozen=True)
class ToolPurchase:
    """A tool buyer's order of a quarter (`agents.fab.ToolBuyer.plan_purchase`): units
    per tool category, all for use at `tier` (a tier name); `usd_m` what they cost at
    the unit prices it was planned with (US$ million)."""

    buyer: str
    tier: str
    units: dict[str, float]
    usd_m: float
