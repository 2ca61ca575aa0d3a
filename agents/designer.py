"""Accelerator designers: a firm's good logic dies, HBM stacks and packaging slots
become accelerators by its products' bills of materials.

A designer keeps a die stock (its die bank: dies from its own wafers and from any leak
route) and an HBM stock by generation; both carry over quarters. It decides what it
wants: accelerators (its buyers' demand, where the world sizes it), the AI wafers to
make their dies, the packaging to book for what its demand and dies allow, the HBM
stacks of each generation those packages take; then it assembles what its inputs allow
(`model.accelerators.buildable`) and records which input bound.
"""

from __future__ import annotations

import math

import mesa
import numpy as np

from agents.base import ChipAgent
from model.accelerators import (
    AI_BOOM_QUARTER, ai_boom_log_growth, buildable, bundle, draw, mix, product_dates, share_at, usable,
)
from model.technology import HBM_GENERATIONS, HBM_INDEX, TIER_INDEX


class AcceleratorDesigner(ChipAgent):
    """Nvidia, AMD, Huawei, Cambricon, ... as accelerator makers. Its node in the trade
    graph is its firm's (`name`); `firm_row` is the firm's row among the model's firms."""

    kind = "designer"

    def __init__(self, model: mesa.Model, name: str, country: str, *, spec, products: list, firm_row: int,
                 dies_per_wafer: float) -> None:
        super().__init__(model, name, country)
        self.spec, self.products, self.firm_row = spec, list(products), firm_row
        self.dies_per_wafer = dies_per_wafer
        self.product_dies = np.array([p.dies for p in self.products], dtype=float)
        self.product_stacks = np.array([p.hbm_stacks for p in self.products], dtype=float)
        self.product_generation = np.array([HBM_INDEX[p.hbm_generation] for p in self.products], dtype=np.int64)
        self.product_h100e = np.array([p.h100e for p in self.products], dtype=float)
        self.die_tier = TIER_INDEX[self.products[0].die_tier] if self.products else 0
        self.generations = sorted({HBM_INDEX[p.hbm_generation] for p in self.products})
        self._mixes: dict[int, tuple] = {}  # by quarter: `_mix`
        self._dates = [product_dates(p) for p in self.products]
        self._demands: dict[tuple, float] = {}  # by (quarter, boom, scale): `demand`
        self._anchors: dict[tuple, float] = {}  # by boom: the demand year's level, summed over its quarters
        # Stocks, carried over quarters.
        self.die_stock = 0.0
        self.hbm_stock = np.zeros(len(HBM_GENERATIONS))
        # Figures of the last quarter, written as it decides and assembles.
        self.demand_units = 0.0
        self.dies_in = 0.0
        self.leak_dies_in = 0.0
        self.hbm_in = 0.0
        self.hbm_ordered = 0.0
        self.packaging_booked = 0.0
        self.units = 0.0
        self.units_by_product = np.zeros(len(self.products))
        self.h100e = 0.0
        self.binding = "demand"

    # ------------------------------------------------------------------ its demand
    def shares(self, quarter: int) -> np.ndarray:
        """Its products' shares of its units in `quarter` (normalised; 0 if none made)."""
        return self._mix(quarter)[0]

    def needs(self, quarter: int) -> tuple[float, float, int]:
        """(dies, HBM stacks) per unit in `quarter`, and the oldest HBM generation its
        products of the quarter take (an index; 0 if it makes none)."""
        return self._mix(quarter)[1]

    def _mix(self, quarter: int) -> tuple[np.ndarray, tuple[float, float, int], np.ndarray]:
        """`shares`, `needs` and the stacks per unit by generation of `quarter`, worked
        out once a quarter (the products' dated shares are fixed)."""
        kept = self._mixes.get(quarter)
        if kept is None:
            shares = mix(np.array([share_at(dates, quarter) for dates in self._dates]))
            dies, stacks = bundle(shares, self.product_dies, self.product_stacks)
            made = self.product_generation[shares > 0]
            by_generation = np.bincount(self.product_generation, weights=shares * self.product_stacks,
                                        minlength=len(HBM_GENERATIONS))
            kept = self._mixes[quarter] = (shares, (dies, stacks, int(made.min()) if len(made) else 0),
                                           by_generation)
        return kept

    def demand(self, quarter: int, ai_growth: float, ai_fade: float, scale: float) -> float:
        """Accelerators its buyers want in `quarter` (units): the world's yearly figure
        x `scale` for `demand_year`, on the AI boom's path from 2023
        (`ai_boom_log_growth`, the wafer streams' own) and at `demand_growth_before`
        a year before; infinite where the world gives none (it packages every die)."""
        if self.spec.demand_units is None:
            return math.inf
        key = (quarter, ai_growth, ai_fade, scale)
        if key not in self._demands:
            self._demands[key] = self._demand(quarter, ai_growth, ai_fade, scale)
        return self._demands[key]

    def _demand(self, quarter: int, ai_growth: float, ai_fade: float, scale: float) -> float:
        anchor = self._anchors.get((ai_growth, ai_fade))
        if anchor is None:
            year = self.spec.demand_year
            anchor = self._anchors[(ai_growth, ai_fade)] = np.exp(
                self._log_level(np.arange(year * 4, year * 4 + 4), ai_growth, ai_fade)).sum()
        level = np.exp(self._log_level(np.array([quarter]), ai_growth, ai_fade))[0]
        return float(self.spec.demand_units * scale / anchor * level)

    def _log_level(self, quarters: np.ndarray, ai_growth: float, ai_fade: float) -> np.ndarray:
        boom = ai_boom_log_growth(quarters - AI_BOOM_QUARTER, ai_growth, ai_fade)
        before = np.minimum(quarters - AI_BOOM_QUARTER, 0) / 4.0 * math.log1p(self.spec.demand_growth_before)
        return boom + before

    def ai_wafers(self, quarter: int, ai_growth: float, ai_fade: float, scale: float, die_yield: float,
                  cover: float | None = None) -> float:
        """AI wafers a quarter for the dies its demand in `quarter` needs, at the
        good-die yield it sees (`die_yield`); 0 where its demand is not sized (its wafer
        streams say what it orders). With `cover`, less the dies it holds beyond `cover`
        quarters of that need (a bank that big is a reason to order less; one smaller is
        a reserve it keeps: ASSUMPTION); without, the need itself (what foundries hear
        for their capacity plans)."""
        demand = self.demand(quarter, ai_growth, ai_fade, scale)
        if not math.isfinite(demand):
            return 0.0
        dies, _, _ = self.needs(quarter)
        need = demand * dies
        if cover is not None:
            need = max(need - max(self.die_stock - cover * need, 0.0), 0.0)
        return need / (self.dies_per_wafer * max(die_yield, 1e-3))

    # --------------------------------------------------------------- its inputs
    def receive_dies(self, own: float, leaked: float) -> None:
        """Good dies of its own wafers this quarter and dies a leak route brought."""
        self.dies_in, self.leak_dies_in = own, leaked
        self.die_stock += own + leaked

    def plan(self, quarter: int, ai_growth: float, ai_fade: float, scale: float) -> float:
        """The packages it books this quarter (its demand, kept as `demand_units`, or what
        its dies allow if fewer: every die it holds where its demand is not sized)."""
        self.demand_units = self.demand(quarter, ai_growth, ai_fade, scale)
        dies, _, _ = self.needs(quarter)
        if dies <= 0:
            return 0.0
        return min(self.demand_units, self.die_stock / dies)

    def hbm_order(self, quarter: int, slots: float, cover: float) -> tuple[np.ndarray, np.ndarray]:
        """(need, extra), stacks by generation: what the `slots` it booked take of each
        generation (its products' shares x their stacks) beyond its stock of that
        generation, and `cover` quarters of that again as stock."""
        want = slots * self._mix(quarter)[2]
        need = np.maximum(want - self.hbm_stock, 0.0)
        extra = np.maximum(want * (1.0 + cover) - self.hbm_stock, 0.0) - need
        self.hbm_ordered = float(need.sum() + extra.sum())
        return need, extra

    def receive_hbm(self, stacks_by_generation: np.ndarray) -> None:
        """HBM stacks shipped to it this quarter, by generation, into its stock."""
        stacks_by_generation = np.asarray(stacks_by_generation, dtype=float)
        self.hbm_in = float(stacks_by_generation.sum())
        self.hbm_stock = self.hbm_stock + stacks_by_generation

    # ------------------------------------------------------------------ assembly
    def assemble(self, quarter: int, slots: float) -> float:
        """Make what its dies, usable HBM, `slots` packaging slots and demand allow; the
        inputs used leave its stocks. Returns the units made."""
        self.packaging_booked = slots
        shares = self.shares(quarter)
        dies, stacks, first = self.needs(quarter)
        units, binding = buildable(self.die_stock, usable(self.hbm_stock, first), slots, self.demand_units,
                                   dies, stacks)
        self.units, self.binding = units, binding
        self.units_by_product = units * shares
        self.h100e = float(self.units_by_product @ self.product_h100e) if len(self.products) else 0.0
        self.die_stock = max(self.die_stock - units * dies, 0.0)
        self.hbm_stock = self.hbm_stock - draw(self.hbm_stock, units * stacks, first)
        return units

    @property
    def hbm_stock_stacks(self) -> float:
        return float(self.hbm_stock.sum())
