"""Memory makers: HBM stacks by generation, from capacity that grows with investment.

A maker's capacity follows its dated figures (`model.world.MemoryMakerSpec`), then
grows at its rate, faster the more of its output sells and slower the more of the
tools it needs that rules deny it; each generation arrives at its date, later while
tools are denied (CXMT). What it ships, and to whom, the model's HBM market resolves.
"""

from __future__ import annotations

import mesa

from agents.base import ChipAgent, HbmPlan
from model.accelerators import capacity_at, dated, denied_share, grown_with_use
from model.technology import HBM_GENERATIONS, HBM_INDEX, parse_quarter

DRAM_TOOLS = ("duv_immersion", "etch_dep", "metrology")
"""The tool categories an HBM line needs (ASSUMPTION: DRAM at 1x nm is 14nm-class)."""


class MemoryMaker(ChipAgent):
    """An HBM maker (SK hynix, Samsung, Micron, CXMT)."""

    kind = "memory"

    def __init__(self, model: mesa.Model, name: str, country: str, *, spec) -> None:
        super().__init__(model, name, country)
        self.spec = spec
        self.points = dated(spec.capacity)
        self.generation_quarter = {HBM_INDEX[g]: parse_quarter(q) for g, q in spec.generations.items()}
        self.capacity_stacks = 0.0
        self.newest = -1  # the newest generation it ships (an index; -1 before its first)
        self.extra_delay = 0.0  # quarters its next generations slip, from denied tools
        self.denied: set[str] = set()  # tool categories rules in force deny it
        self.denied_by: dict[str, set[str]] = {}  # by rule id (model.controls)
        # Figures of the last quarter, written by the model.
        self.ordered_stacks = 0.0
        self.shipped_stacks = 0.0
        self.china_stacks = 0.0
        self.shipped_by_generation = [0.0] * len(HBM_GENERATIONS)  # stacks shipped, by generation

    def plan(self, quarter: int, tool_drag: float) -> HbmPlan:
        """This quarter's capacity (stacks) and the newest generation it ships.

        Past its last dated figure capacity grows at its rate times the share of last
        quarter's capacity it sold (a maker that sells out invests, ASSUMPTION) times
        (1 - tool_drag x the share of its tools denied); past that figure, a generation not
        yet reached slips tool_drag x that share of a quarter for every quarter tools stay
        denied (ASSUMPTION). Its dated figures and generation dates are history, made
        under the rules of their day: the drag acts past them."""
        denied = denied_share(self.denied, DRAM_TOOLS)
        last = self.points[-1][0]
        if quarter <= last:
            capacity = capacity_at(self.points, quarter, self.spec.growth_before, self.spec.growth_after)
        else:
            capacity = grown_with_use(self.capacity_stacks, self.ordered_stacks, self.spec.growth_after,
                                      1.0 - tool_drag * denied)
        if quarter > last:  # its dated figures and generations are history, made under the rules of their day
            self.extra_delay += tool_drag * denied  # a quarter's slip per quarter denied, at full drag
        newest = -1
        for g, q in sorted(self.generation_quarter.items()):
            slip = self.extra_delay if q > quarter else 0.0
            if quarter >= q + slip:
                newest = g
        return HbmPlan(self.name, capacity, newest)

    def adopt(self, plan: HbmPlan) -> None:
        self.capacity_stacks = plan.capacity_stacks
        self.newest = plan.newest

    @property
    def newest_generation(self) -> str:
        """The newest generation it ships ('' before its first)."""
        return HBM_GENERATIONS[self.newest] if self.newest >= 0 else ""
