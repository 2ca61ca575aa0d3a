"""Equipment vendors: tool output per category, and (for domestic Chinese vendors)
technology that improves with sales and subsidy."""

from __future__ import annotations

import math

import mesa

from agents.base import ChipAgent, OutputPlan
from model.costs import vendor_cost_of_sales_usd_m
from model.technology import TIER_INDEX, TIERS

SLACK_LOAD = 0.7
"""Orders below this share of its output shrink a vendor's output (`plan_output`); its
normal load, at which its gross margin is the world's (`account`). ASSUMPTION."""

NO_TECHNOLOGY = float(len(TIERS))
"""Technology progress value meaning 'cannot make this category yet'."""


def progress_of(level: str) -> float:
    """A tier value (or 'none') -> technology progress (tier index; lower is better)."""
    if level == "none":
        return NO_TECHNOLOGY
    return float(TIER_INDEX[level])


def enables(progress: float, tier_index: int) -> bool:
    """Whether tools at `progress` can be used for the tier with `tier_index`."""
    return progress < NO_TECHNOLOGY and tier_index >= math.ceil(progress - 1e-9)


def first_served(progress: float) -> int:
    """The first tier index (the most advanced) tools at `progress` can be used at:
    they serve it and every later tier (`enables`, its threshold computed once);
    len(TIERS) when they serve none."""
    return math.ceil(progress - 1e-9) if progress < NO_TECHNOLOGY else len(TIERS)


class EquipmentVendor(ChipAgent):
    """A tool maker (ASML, Applied Materials, ..., Naura, AMEC, SMEE).

    Holds per category: output limit (units/quarter), technology progress (the tier
    index its tools enable; fractional while learning), buyers' base preference weight;
    and its gross margin at its normal load (its books: `account`).
    """

    kind = "vendor"

    def __init__(
        self,
        model: mesa.Model,
        name: str,
        country: str,
        output: dict[str, float],
        progress: dict[str, float],
        weight: dict[str, float],
        learning: float,
        gross_margin: float = 0.45,
    ) -> None:
        super().__init__(model, name, country)
        self.gross_margin = gross_margin
        self.output = dict(output)
        self.progress = dict(progress)
        self.weight = dict(weight)
        self.learning = learning
        # Figures of the last quarter, written by the model.
        self.revenue_usd_m = 0.0
        self.china_revenue_usd_m = 0.0
        self.orders_units: dict[str, float] = {c: 0.0 for c in output}
        self.subsidy_usd_m = 0.0
        # Its order book (model.backlog): units ordered from it and shipped this quarter,
        # and what it has on order at the quarter's end (units, US$ million).
        self.ordered_units = 0.0
        self.delivered_units = 0.0
        self.backlog_units = 0.0
        self.backlog_usd_m = 0.0
        # Its books of the quarter (`account`), US$ million.
        self.cost_of_sales_usd_m = 0.0
        self.gross_profit_usd_m = 0.0

    @property
    def china_share(self) -> float:
        return self.china_revenue_usd_m / self.revenue_usd_m if self.revenue_usd_m > 0 else 0.0

    def first_tier(self, category: str) -> int:
        """The first tier index this vendor's `category` tools can be used at
        (`first_served`)."""
        return first_served(self.progress[category])

    def offer(self, multiplier: float) -> list[tuple[int, float]]:
        """Per category it makes (in `output`'s order): the first tier its tools serve
        and the units it can deliver this quarter, its output x `multiplier` (the
        critical-minerals shock)."""
        progress = self.progress
        return [(first_served(progress[c]), units * multiplier) for c, units in self.output.items()]

    def serves(self, category: str) -> list[bool]:
        """Per tier (by index): whether this vendor's `category` tools can be used there."""
        first = self.first_tier(category)
        return [t >= first for t in range(len(TIERS))]

    def record_sales(self, revenue_usd_m: float, china_revenue_usd_m: float, orders_units: dict[str, float]) -> None:
        """The quarter's sales, as the tool market resolved them."""
        self.revenue_usd_m, self.china_revenue_usd_m, self.orders_units = revenue_usd_m, china_revenue_usd_m, orders_units

    def record_books(self, ordered_units: float, delivered_units: float, backlog_units: float,
                     backlog_usd_m: float) -> None:
        """The quarter's order book, as the tool market kept it."""
        self.ordered_units, self.delivered_units = ordered_units, delivered_units
        self.backlog_units, self.backlog_usd_m = backlog_units, backlog_usd_m

    def account(self, capacity_usd_m: float, fixed_share: float) -> None:
        """The quarter's cost of sales and gross profit: its sales against the value of
        the output it offered (`capacity_usd_m`, at list prices), `fixed_share` of the
        cost at its normal load (`SLACK_LOAD`) paid either way
        (`model.costs.vendor_cost_of_sales_usd_m`)."""
        self.cost_of_sales_usd_m = vendor_cost_of_sales_usd_m(self.revenue_usd_m, capacity_usd_m,
                                                              self.gross_margin, fixed_share, SLACK_LOAD)
        self.gross_profit_usd_m = self.revenue_usd_m - self.cost_of_sales_usd_m

    @property
    def gross_margin_now(self) -> float:
        """This quarter's gross margin (0 with no sales; negative when capacity idles)."""
        return self.gross_profit_usd_m / self.revenue_usd_m if self.revenue_usd_m > 0 else 0.0

    def adopt(self, plan: OutputPlan) -> None:
        """Carry out an output plan of this vendor's (`plan_output`)."""
        self.output, self.progress = plan.output, plan.progress

    def plan_output(
        self, learning_multiplier: float, floors: dict[str, float] | None = None
    ) -> OutputPlan:
        """Next quarter's output and technology.

        Output follows orders: a backlog grows it by up to 5% a quarter (capacity
        expansion), orders below `SLACK_LOAD` of it shrink it by 1% (ASSUMPTION: vendors
        size output to their order book). Technology learns with sales and subsidy, with diminishing returns:
        progress falls by learning x multiplier x 0.1 x ln(1 + (sales + subsidy)/US$50m)
        per quarter (a learning-by-doing rule, ASSUMPTION), never below 0 (leading).
        `floors` caps progress (what-if dates for domestic lithography).
        """
        output, progress = {}, {}
        spend = self.revenue_usd_m + self.subsidy_usd_m
        step = self.learning * learning_multiplier * 0.1 * math.log1p(spend / 50.0)  # the same for every category
        orders_units, progress_now = self.orders_units, self.progress
        # The conditional expressions are the builtins' min/max to the bit: max(0.0, x)
        # is x only if x > 0.0 (else 0.0, also for -0.0 and NaN), min(0.05, x) is x only
        # if x < 0.05, max(units, 1e-9) is 1e-9 only if 1e-9 > units, min(v, f) is f
        # only if f < v.
        for category, units in self.output.items():
            ordered = orders_units.get(category, 0.0)
            if ordered > units:
                growth = 0.5 * (ordered / (1e-9 if 1e-9 > units else units) - 1.0)
                units *= 1.0 + (growth if growth < 0.05 else 0.05)
            elif ordered < SLACK_LOAD * units:
                units *= 0.99
            output[category] = units
            value = progress_now[category] - step
            if not value > 0.0:
                value = 0.0
            if floors and category in floors and floors[category] < value:
                value = floors[category]
            progress[category] = value
        return OutputPlan(self.name, output, progress)
