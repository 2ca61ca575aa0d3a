"""Accelerator designers: a firm's good logic dies, HBM stacks and packaging slots
become accelerators by its products' bills of materials.

A designer keeps a die stock (its die bank: dies from its own wafers and from any leak
route), an HBM stock by generation and a stock of finished accelerators by product; all
carry over quarters. It decides what it wants: accelerators (its buyers' orders where it
makes to order, else every die it can package), the AI wafers to make their dies, the
packaging to book for what its demand and dies allow, the HBM stacks of each generation
those packages take; then it assembles what its inputs allow
(`model.accelerators.buildable`), records which input bound, and ships from its stock
what the accelerator market gives its buyers.
"""

from __future__ import annotations

import math

import mesa
import numpy as np

from agents.base import ChipAgent
from model.accelerators import (
    boom_level, buildable, bundle, draw, mix, on_boom_path, product_dates, share_at, usable,
)
from model.technology import HBM_GENERATIONS, HBM_INDEX, TIER_INDEX


class AcceleratorDesigner(ChipAgent):
    """Nvidia, AMD, Huawei, Cambricon, ... as accelerator makers. Its node in the trade
    graph is its firm's (`name`); `firm_row` is the firm's row among the model's firms."""

    kind = "designer"

    def __init__(self, model: mesa.Model, name: str, country: str, *, spec, products: list, firm_row: int,
                 dies_per_wafer: float, dates: list | None = None) -> None:
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
        # Per product, its dates (`product_dates`; the model's answer the scenario's rules: `answering`).
        self._dates = list(dates) if dates is not None else [product_dates(p) for p in self.products]
        # Stocks, carried over quarters.
        self.die_stock = 0.0
        self.hbm_stock = np.zeros(len(HBM_GENERATIONS))
        self.unit_stock = np.zeros(len(self.products))  # finished accelerators, by product
        # Its buyers' orders of the latest quarter they ordered in (units by product).
        self.orders_quarter: int | None = None
        self.orders_by_product = np.zeros(len(self.products))
        self.shipped_units = 0.0
        self.shipped_by_product = np.zeros(len(self.products))
        self.revenue_usd_m = 0.0
        self.china_revenue_usd_m = 0.0
        self.licence_fees_usd_m = 0.0
        # Figures of the last quarter, written as it decides and assembles.
        self.demand_units = 0.0
        self.dies_in = 0.0
        self.leak_dies_in = 0.0
        self.hbm_in = 0.0
        self.hbm_ordered = 0.0
        self.packaging_booked = 0.0
        self.packaging_cost_usd_m = 0.0  # what its booked packages cost it (the houses' prices), US$ m
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

    def made(self, quarter: int) -> np.ndarray:
        """Which of its products it makes in `quarter` (by their dates)."""
        return np.array([share_at(dates, quarter) > 0 for dates in self._dates], dtype=bool)

    def _mix(self, quarter: int) -> tuple[np.ndarray, tuple[float, float, int], np.ndarray]:
        """`shares`, `needs` and the stacks per unit by generation of `quarter`, worked
        out once a quarter: the products' dated shares, or, making to order, the shares
        of its buyers' orders of that quarter among the products it makes then."""
        kept = self._mixes.get(quarter)
        if kept is None:
            shares = np.array([share_at(dates, quarter) for dates in self._dates])
            if self.spec.makes_to_order and self.orders_quarter == quarter:
                ordered = np.where(shares > 0, self.orders_by_product, 0.0)
                shares = ordered if ordered.sum() > 0 else shares
            shares = mix(shares)
            dies, stacks = bundle(shares, self.product_dies, self.product_stacks)
            made = self.product_generation[shares > 0]
            by_generation = np.bincount(self.product_generation, weights=shares * self.product_stacks,
                                        minlength=len(HBM_GENERATIONS))
            kept = self._mixes[quarter] = (shares, (dies, stacks, int(made.min()) if len(made) else 0),
                                           by_generation)
        return kept

    def demand(self, quarter: int, ai_growth: float, ai_fade: float, scale: float) -> float:
        """Accelerators its buyers want in `quarter` (units). Making to order: their
        latest orders, moved along the AI boom's path to `quarter`; before their first,
        or where it does not make to order, the world's yearly figure x `scale` for
        `demand_year` on that path (`model.accelerators.on_boom_path`); infinite where
        the world gives none (it packages every die)."""
        if self.spec.makes_to_order and self.orders_quarter is not None:
            ordered = float(self.orders_by_product.sum())
            if quarter == self.orders_quarter:
                return ordered
            levels = boom_level(np.array([quarter, self.orders_quarter]), ai_growth, ai_fade,
                                self.spec.demand_growth_before)
            return ordered * math.exp(levels[0] - levels[1])
        if self.spec.demand_units is None:
            return math.inf
        return on_boom_path(self.spec.demand_units * scale, self.spec.demand_year, quarter, ai_growth, ai_fade,
                            self.spec.demand_growth_before)

    def take_orders(self, quarter: int, units_by_product: np.ndarray) -> None:
        """Its buyers' orders of `quarter`, units by product (what it makes to order)."""
        self.orders_quarter, self.orders_by_product = quarter, np.asarray(units_by_product, dtype=float)
        if self.spec.makes_to_order:
            self._mixes.pop(quarter, None)  # its mix of the quarter follows them

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
        if self.spec.makes_to_order and self.orders_quarter == quarter:  # net of what it holds made
            self.demand_units = max(self.demand_units - float(self.unit_stock.sum()), 0.0)
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
        self.unit_stock = self.unit_stock + self.units_by_product
        return units

    # ------------------------------------------------------------------ its sales
    def ship(self, units_by_product: np.ndarray, revenue_usd_m: float, china_revenue_usd_m: float,
             fees_usd_m: float) -> None:
        """Units the accelerator market gave its buyers (never more than its stock
        holds), and what it earned on them (net of licence fees, which it records)."""
        units_by_product = np.minimum(np.asarray(units_by_product, dtype=float), self.unit_stock)
        self.unit_stock = self.unit_stock - units_by_product
        self.shipped_by_product = units_by_product
        self.shipped_units = float(units_by_product.sum())
        self.revenue_usd_m, self.china_revenue_usd_m = revenue_usd_m, china_revenue_usd_m
        self.licence_fees_usd_m = fees_usd_m

    @property
    def hbm_stock_stacks(self) -> float:
        return float(self.hbm_stock.sum())

    @property
    def ordered_units(self) -> float:
        return float(self.orders_by_product.sum())

    @property
    def unsold_units(self) -> float:
        return float(self.unit_stock.sum())
