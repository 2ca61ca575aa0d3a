"""Advanced packaging houses: CoWoS-class capacity that accelerator designers book.

Capacity follows the house's dated figures (`model.world.PackagerSpec`), then grows at
its rate, faster the more of it is booked (ASSUMPTION: a house that sells out builds).
Who books what the model's packaging market resolves. Every package booked (the
model's designers' and its other customers') earns the house its price; a package costs
it `cost_share` of the price (`record`).
"""

from __future__ import annotations

import mesa

from agents.base import ChipAgent
from model.accelerators import capacity_at, dated, grown_with_use


class Packager(ChipAgent):
    """TSMC's CoWoS lines, the OSATs' CoWoS-like lines, China's domestic aggregate."""

    kind = "packager"

    def __init__(self, model: mesa.Model, name: str, country: str, *, spec) -> None:
        super().__init__(model, name, country)
        self.spec = spec
        self.points = dated(spec.capacity)
        self.capacity_packages = 0.0
        # Figures of the last quarter, written by the model.
        self.booked_packages = 0.0
        self.china_packages = 0.0
        self.price_usd = 0.0
        self.revenue_usd_m = 0.0
        self.china_revenue_usd_m = 0.0
        self.cost_usd_m = 0.0
        self.gross_profit_usd_m = 0.0

    def plan_capacity(self, quarter: int) -> float:
        """This quarter's capacity, packages: its figures, then its growth rate times
        the share of last quarter's capacity booked."""
        if quarter <= self.points[-1][0]:
            return capacity_at(self.points, quarter, self.spec.growth_before, self.spec.growth_after)
        return grown_with_use(self.capacity_packages, self.booked_packages, self.spec.growth_after)

    def open_capacity(self) -> float:
        """What the model's designers may book of this quarter's capacity: the rest goes
        to customers the world does not hold (its `other_customers` share)."""
        return self.capacity_packages * (1.0 - self.spec.other_customers)

    def record(self, booked: float, china: float, price_usd: float) -> None:
        """The quarter's bookings and books: the model's designers' packages (`booked`,
        `china` of them by Chinese designers) and the other customers' share of its
        capacity (they book it and pay, though the world does not hold them as
        designers), each at `price_usd` a package (the world's price x the scenario's
        `packaging_price_scale`): revenue = packages x price, cost = `cost_share` of it, US$ m."""
        self.booked_packages = booked + self.capacity_packages * self.spec.other_customers
        self.china_packages = china
        self.price_usd = price_usd
        self.revenue_usd_m = self.booked_packages * price_usd / 1e6
        self.china_revenue_usd_m = china * price_usd / 1e6
        self.cost_usd_m = self.revenue_usd_m * self.spec.cost_share
        self.gross_profit_usd_m = self.revenue_usd_m - self.cost_usd_m
