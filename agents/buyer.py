"""Buyers of AI compute: cloud and platform firms, state-linked buyers, AI labs.

A buyer wants compute (H100-equivalents a quarter, on the AI boom's path from its
world figure) and has a budget for it. Each quarter it chooses among the accelerators it
may buy (the offers on its active designer -> buyer edges) by a logit over
price-performance, the designer's software ecosystem and how well each product filled
its buyers' orders last quarter (`model.accelerators.choice_shares`; the market's
figure, known to all: lead times are public), orders units within its budget
(`compute_orders`), and records what it received, from whom.
"""

from __future__ import annotations

import math

import mesa
import numpy as np

from agents.base import ChipAgent
from model.accelerators import choice_shares, compute_orders, on_boom_path

FILL_FLOOR = 0.05
"""The least fill rate a buyer expects of an offer (so a product that filled nothing
last quarter is tried again, a little): ASSUMPTION."""


class ComputeBuyer(ChipAgent):
    """A buyer of accelerators. `edges`: the indices of its edges in the accelerator
    market (one per product it may ever buy), in the market's order."""

    kind = "buyer"

    def __init__(self, model: mesa.Model, name: str, country: str, *, spec, edges: np.ndarray,
                 supplier_names: list[str]) -> None:
        super().__init__(model, name, country)
        self.spec, self.edges = spec, np.asarray(edges, dtype=np.int64)
        self.supplier_names = list(supplier_names)  # per edge of its: the designer's name
        self._from = np.array(self.supplier_names, dtype=object)
        # Figures of the last quarter.
        self.want_h100e = 0.0
        self.budget_usd_m = 0.0
        self.ordered = np.zeros(len(self.edges))  # units, per edge
        self.received = np.zeros(len(self.edges))
        self.ordered_h100e = 0.0
        self.received_h100e = 0.0
        self.spent_usd_m = 0.0

    def _on_path(self, yearly: float, quarter: int, ai_growth: float, ai_fade: float) -> float:
        return on_boom_path(yearly, self.spec.demand_year, quarter, ai_growth, ai_fade,
                            self.spec.demand_growth_before, self.spec.demand_jump)

    def order(self, quarter: int, offered: np.ndarray, h100e: np.ndarray, price_usd: np.ndarray,
              ecosystem: np.ndarray, fill: np.ndarray, *, ai_growth: float, ai_fade: float, scale: float,
              price_sensitivity: float, ecosystem_premium: float) -> np.ndarray:
        """Units it orders on each of its edges this quarter. `offered`, `h100e`,
        `price_usd` (what it would pay, licence fees passed on included), `ecosystem`,
        `fill` (the share of its orders the product's buyers got last quarter): per
        edge of its. Its wanted compute and budget (x `scale` for a Chinese buyer:
        the model passes 1 abroad) follow the boom path; the logit's utility of an offer
        is price_sensitivity x log(H100e per US$) + ecosystem_premium x ecosystem +
        log(expected fill)."""
        self.want_h100e = self._on_path(self.spec.demand_h100e, quarter, ai_growth, ai_fade) * scale
        self.budget_usd_m = self._on_path(self.spec.budget_usd_m, quarter, ai_growth, ai_fade) * scale
        with np.errstate(divide="ignore"):
            utility = (price_sensitivity * np.log(h100e / price_usd) + ecosystem_premium * ecosystem
                       + np.log(np.maximum(fill, FILL_FLOOR)))
        utility = np.where(offered, utility, -math.inf)
        self.ordered = compute_orders(self.want_h100e, self.budget_usd_m * 1e6, choice_shares(utility), h100e,
                                      price_usd)
        self.ordered_h100e = float(self.ordered @ h100e)
        return self.ordered

    def receive(self, units: np.ndarray, h100e: np.ndarray, price_usd: np.ndarray) -> None:
        """Units the market gave it on each edge."""
        self.received = np.asarray(units, dtype=float)
        self.received_h100e = float(self.received @ h100e)
        self.spent_usd_m = float(self.received @ price_usd) / 1e6

    # ------------------------------------------------------------------ figures
    @property
    def ordered_units(self) -> float:
        return float(self.ordered.sum())

    @property
    def received_units(self) -> float:
        return float(self.received.sum())

    @property
    def fulfilment(self) -> float:
        """Compute received over compute ordered this quarter (1 if it ordered none)."""
        return self.received_h100e / self.ordered_h100e if self.ordered_h100e > 0 else 1.0

    @property
    def unmet_h100e(self) -> float:
        """Compute it wanted and did not receive this quarter."""
        return max(self.want_h100e - self.received_h100e, 0.0)

    def received_from(self, supplier: str) -> float:
        """Units received from a designer this quarter."""
        return float(self.received[self._from == supplier].sum()) if len(self.received) else 0.0

    def received_by(self, suppliers: list[str]) -> list[float]:
        """Units received this quarter from each of `suppliers` (designers' names), in order."""
        return [self.received_from(s) for s in suppliers]
