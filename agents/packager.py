"""Advanced packaging houses: CoWoS-class capacity that accelerator designers book.

Capacity follows the house's dated figures (`model.world.PackagerSpec`), then grows at
its rate, faster the more of it is booked (ASSUMPTION: a house that sells out builds).
Who books what the model's packaging market resolves.
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

    def record(self, booked: float, china: float) -> None:
        """The quarter's bookings: the model's designers' (`booked`, `china` of them by
        Chinese designers) and the other customers' share."""
        self.booked_packages = booked + self.capacity_packages * self.spec.other_customers
        self.china_packages = china
