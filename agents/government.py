"""Governments: the policy instruments of one jurisdiction, and China's state allocator.

A government holds the rules, directives and subsidies it issues (from the scenario) and
says, each quarter, which of them change state. It never touches the graph itself: the
model applies what it returns (DESIGN.md, step phase 1).
"""

from __future__ import annotations

import mesa

from agents.base import AllocationDirective, ChipAgent, PolicyChange
from model.scenario import Directive, Rule, Subsidy
from model.technology import ADVANCED_TIERS, parse_quarter


def _in_force(effective: str, end: str | None, quarter: int) -> bool:
    return parse_quarter(effective) <= quarter and (end is None or quarter < parse_quarter(end))


class Government(ChipAgent):
    """A jurisdiction's government (US, China, Netherlands, Japan, Taiwan, South Korea)."""

    kind = "government"

    def __init__(
        self,
        model: mesa.Model,
        name: str,
        country: str,
        rules: list[Rule],
        directives: list[Directive],
        subsidies: list[Subsidy],
        domestic_tool_bias: dict[str, float] | None = None,
        *,
        champions: tuple[str, ...] = (),
        reserved_share: float = 0.0,
    ) -> None:
        super().__init__(model, name, country)
        # The state allocator's levers (scenario parameters): whom its directives serve
        # first and what share of the directed capacity they reserve.
        self.champions = tuple(champions)
        self.reserved_share = reserved_share
        self.rules = list(rules)
        self.directives = list(directives)
        self.subsidies = list(subsidies)
        self._bias = sorted((parse_quarter(q), b) for q, b in (domestic_tool_bias or {}).items())
        self.rules_in_force = 0
        self.subsidy_usd_m = 0.0
        self._last_quarter: int | None = None  # the quarter last asked about (None: not yet)

    # ------------------------------------------------------------------ decisions
    def policy_changes(self, quarter: int) -> list[PolicyChange]:
        """The instruments that are announced, take effect or end in `quarter`.

        The first quarter a government is asked about is the run's start: what took
        effect before it and is still in force is applied then, and a rule announced
        before it that is not yet effective is announced then, so a run that starts
        after 2019Q1 inherits the controls of the years it skips.
        """
        first = self._last_quarter is None
        self._last_quarter = quarter
        changes: list[PolicyChange] = []
        for item in (*self.rules, *self.directives, *self.subsidies):
            announced = getattr(item, "announced", None)  # rules only
            if first:
                action = self._state_at_start(item.effective, item.end, announced, quarter)
                if action:
                    changes.append(PolicyChange(self.name, action, item))
                continue
            for action, label in (("announce", announced), ("apply", item.effective), ("lift", item.end)):
                if label and parse_quarter(label) == quarter:
                    changes.append(PolicyChange(self.name, action, item))
        self.rules_in_force = sum(_in_force(r.effective, r.end, quarter) for r in self.rules)
        return changes

    @staticmethod
    def _state_at_start(effective: str, end: str | None, announced: str | None, quarter: int) -> str | None:
        """'apply' for an instrument in force at the start, 'announce' for a rule announced
        by then but not yet effective, else None (not yet announced, or already ended)."""
        if _in_force(effective, end, quarter):
            return "apply"
        if announced and parse_quarter(announced) <= quarter < parse_quarter(effective):
            return "announce"
        return None

    def _subsidies_in_force(self, quarter: int):
        return (s for s in self.subsidies if _in_force(s.effective, s.end, quarter))

    def subsidies_due(self, quarter: int) -> dict[str, float]:
        """Recipient name -> US$ million this quarter, from subsidies in force."""
        due: dict[str, float] = {}
        for subsidy in self._subsidies_in_force(quarter):
            each = subsidy.usd_m_per_quarter / len(subsidy.recipients)
            for recipient in subsidy.recipients:
                due[recipient] = due.get(recipient, 0.0) + each
        self.subsidy_usd_m = sum(due.values())
        return due

    def build_ahead_due(self, quarter: int) -> dict[str, float]:
        """Recipient name -> extra capacity share to build above forecast orders, from
        subsidies in force that carry a build-out instruction (they add up)."""
        due: dict[str, float] = {}
        for subsidy in self._subsidies_in_force(quarter):
            for recipient in subsidy.recipients:
                due[recipient] = due.get(recipient, 0.0) + subsidy.build_ahead
        return {name: share for name, share in due.items() if share > 0}

    def allocation_directives(self, quarter: int) -> list[AllocationDirective]:
        """The state allocator: directives in force re-wire a foundry's advanced tiers.

        From the quarter a directive takes effect, the named foundry's advanced tiers
        (leading, 7nm) serve this government's `champions` first, up to its
        `reserved_share` of capacity; the rest is cleared by the market. Based on 2025 reports that Beijing told SMIC to
        serve Huawei's Ascend orders first (DESIGN.md; scenario `state_allocation`).
        """
        return [
            AllocationDirective(
                government=self.name,
                directive_id=d.id,
                foundry=d.foundry,
                tiers=tuple(t.value for t in ADVANCED_TIERS),
                champions=self.champions,
                reserved_share=self.reserved_share,
            )
            for d in self.directives
            if _in_force(d.effective, d.end, quarter) and self.champions and self.reserved_share > 0
        ]

    def domestic_tool_bias(self, quarter: int) -> float:
        """How much more this government's foundries weight domestic tool vendors."""
        bias = 1.0
        for start, value in self._bias:
            if start <= quarter:
                bias = value
        return bias
