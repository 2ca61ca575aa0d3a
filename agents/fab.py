"""Tool buyers that are not foundries: memory makers' DRAM and NAND fabs (Samsung, SK
hynix, Micron, CXMT, YMTC) and integrated device makers' own fabs (Intel, Texas
Instruments).

Each quarter a buyer orders a quarter of a year's spend on wafer-fab equipment
(`model.world.ToolBuyerSpec.wfe_usd_m`; the year its tools will arrive in, a lead time
on), split over tool categories by its `split`, in tool units at the tool prices. The
model's tool market (`model.markets.ToolMarket`) takes the orders into the vendors'
books with the foundries', so that the same lead times, rules, cancellations, rushes and
domestic-tool requirements apply. Its tools add
no foundry capacity: what it received is kept as a figure.
"""

from __future__ import annotations

import mesa

from agents.base import ChipAgent, ToolPurchase
from model.technology import quarter_year


class ToolBuyer(ChipAgent):
    """A memory maker's or an IDM's fabs as a buyer of tools (`fab_kind`: 'memory' or
    'idm'), all of them for use at one tier (`tier`, a tier name)."""

    kind = "fab"

    def __init__(self, model: mesa.Model, name: str, country: str, *, spec) -> None:
        super().__init__(model, name, country)
        self.spec = spec
        self.fab_kind = spec.kind
        self.tier = spec.tier
        self.shares = spec.shares()
        # Figures of the last quarter, written by the model (US$ million, tool units).
        self.planned_usd_m = 0.0
        self.ordered_usd_m = 0.0
        self.received_units = 0.0
        self.received_usd_m = 0.0
        self.received_total_usd_m = 0.0  # every tool received since the run's start

    def plan_purchase(self, quarter: int, unit_price: dict[str, float], scale: float = 1.0,
                      lead_quarters: dict[str, int] | None = None) -> ToolPurchase:
        """This quarter's order: per tool category, `scale` x its WFE spend / 4 of the
        year in which tools ordered now arrive (`quarter` + the category's lead time in
        `lead_quarters`, none: 0) x the category's share, in units at `unit_price` (US$
        a unit by category). ASSUMPTION: a fab's equipment spend (capex) is booked when
        its tools arrive, evenly over the year, so it orders a lead time ahead; it does
        not answer tool prices or what it got last quarter (memory capex follows the
        memory price cycle, which the world's dated spend carries)."""
        lead = lead_quarters or {}
        usd = {category: scale * self.spec.spend_usd_m(int(quarter_year(quarter + lead.get(category, 0))))
               / 4.0 * 1e6 * share for category, share in self.shares.items()}
        units = {category: value / unit_price[category] for category, value in usd.items()}
        return ToolPurchase(self.name, self.tier, units, sum(usd.values()) / 1e6)

    def record(self, planned_usd_m: float, ordered_usd_m: float, received_units: float,
               received_usd_m: float) -> None:
        """The quarter's purchase as the tool market resolved it: what it planned, what
        joined the vendors' books (more ahead of an announced rule; none over a cut
        relation), and what it received."""
        self.planned_usd_m, self.ordered_usd_m = planned_usd_m, ordered_usd_m
        self.received_units, self.received_usd_m = received_units, received_usd_m
        self.received_total_usd_m += received_usd_m
