"""Fabless firms: wafer demand per tier that grows with their end markets, supplier
preferences that adapt to who delivers, search and fall-back when cut off.

The firm's rules are the same for every firm, so the ones that run over supply
relations are written once, batched over arrays (`adapt_preferences`, `search_weights`);
the `FablessFirm` agent holds each firm's own demand streams and figures.
"""

from __future__ import annotations

import mesa
import numpy as np

from agents.base import ChipAgent
from model.technology import TIERS, gross_dies_per_wafer, parse_quarter

AI_BOOM_QUARTER = parse_quarter("2023Q1")
"""From here AI streams grow at the `ai_demand_growth` parameter (ASSUMPTION: the
post-ChatGPT surge in accelerator orders)."""


class FablessFirm(ChipAgent):
    """A chip designer that buys wafers (Huawei/HiSilicon, Nvidia, ..., Cambricon).

    Demand is a sum of streams (tier, wafers/quarter at start, annual growth, AI or not).
    AI wafers become good AI dies: wafers x gross dies per wafer x the foundry's yield.
    """

    kind = "firm"

    def __init__(self, model: mesa.Model, name: str, country: str, *, spec) -> None:
        super().__init__(model, name, country)
        self.streams = [
            (
                [t.value for t in TIERS].index(s.tier),
                s.wafers,
                s.growth,
                bool(s.ai),
                parse_quarter(s.start) if s.start else -(10**6),
            )
            for s in spec.demand
        ]
        self.dies_per_wafer = gross_dies_per_wafer(spec.ai_die_mm2)
        self.start_quarter: int | None = None
        # Figures of the last quarter, written by the model.
        n = len(TIERS)
        self.demand = np.zeros(n)
        self.demand_ai = np.zeros(n)
        self.ordered = np.zeros(n)
        self.delivered = np.zeros(n)
        self.fallback_wafers = 0.0
        self.ai_dies = 0.0
        self.domestic_wafers = 0.0

    def wafer_demand(
        self, quarter: int, ai_growth: float, cycle: float, shock: float = 1.0
    ) -> tuple[np.ndarray, np.ndarray]:
        """(all wafers, AI wafers) wanted per tier in `quarter`.

        Each stream grows at its own annual rate from its start quarter; AI streams grow
        at `ai_growth` from 2023Q1. Non-AI demand is scaled by the market `cycle` of
        the year; all of it by `shock` (the firm's own demand noise).
        """
        total = np.zeros(len(TIERS))
        ai = np.zeros(len(TIERS))
        origin = self.start_quarter if self.start_quarter is not None else quarter
        for tier, wafers, growth, is_ai, start in self.streams:
            if quarter < start:
                continue
            since = quarter - max(start, origin)
            if is_ai and quarter > AI_BOOM_QUARTER:
                before = max(0, AI_BOOM_QUARTER - max(start, origin))
                after = quarter - max(AI_BOOM_QUARTER, start, origin)
                value = wafers * (1 + growth) ** (before / 4) * (1 + ai_growth) ** (after / 4)
            else:
                value = wafers * (1 + growth) ** (since / 4)
            value *= shock if is_ai else shock * cycle
            total[tier] += value
            if is_ai:
                ai[tier] += value
        return total, ai


# ------------------------------------------------------------ batched firm decisions
def adapt_preferences(
    weights: np.ndarray,
    base: np.ndarray,
    fill_rate: np.ndarray,
    quality: np.ndarray,
    active: np.ndarray,
    rate: float,
) -> np.ndarray:
    """Each firm moves its supplier weights a share `rate` toward a target mix.

    Target weight of a relation = base preference x reliability (last quarter's fill
    rate, floored at 0.2 so one bad quarter does not end a relation) x supplier quality
    (yield ceiling factor). Cut relations keep weight 0. Partial adjustment is the
    classic adaptive-expectations rule (ASSUMPTION on its speed: the
    `preference_adaptation` parameter).
    """
    target = base * np.maximum(fill_rate, 0.2) * quality
    moved = (1.0 - rate) * weights + rate * target
    return np.where(active, moved, 0.0)


def search_weights(
    group_has_weight: np.ndarray,
    edge_group: np.ndarray,
    supplier_capacity: np.ndarray,
    same_country: np.ndarray,
    active: np.ndarray,
) -> np.ndarray:
    """Weights for a firm cut off from all its suppliers of a tier: it searches the
    permitted foundries that have capacity, in proportion to capacity, three times
    as keen on a foundry of its own country (ASSUMPTION: security of supply)."""
    orphan = ~group_has_weight[edge_group]
    w = supplier_capacity * np.where(same_country, 3.0, 1.0)
    return np.where(orphan & active & (supplier_capacity > 0), w, 0.0)
