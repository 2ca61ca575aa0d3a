"""Governments: the policy instruments of one jurisdiction, and China's state allocator.

A government holds the rules, directives and subsidies it issues (from the scenario) and
says, each quarter, which of them change state. It never touches the graph itself: the
model applies what it returns (DESIGN.md, step phase 1).
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass

import mesa

from agents.base import AllocationDirective, ChipAgent, PolicyChange, Rationing
from model.scenario import Directive, Rule, Subsidy
from model.technology import ADVANCED_TIERS, TIER_NAMES, parse_quarter


def _in_force(effective: int, end: int | None, quarter: int) -> bool:
    """Whether an instrument with these quarter numbers (end None: open-ended) is in
    force in `quarter`."""
    return effective <= quarter and (end is None or quarter < end)


def _number(label: str | None) -> int | None:
    return parse_quarter(label) if label else None


@dataclass(frozen=True)
class _Timed:
    """An instrument (Rule, Directive or Subsidy) with its quarters as numbers: when it
    is announced (rules only, else None), takes effect and ends (None: never)."""

    item: Rule | Directive | Subsidy
    announced: int | None
    effective: int
    end: int | None

    @classmethod
    def of(cls, item) -> _Timed:
        return cls(item, _number(getattr(item, "announced", None)), parse_quarter(item.effective), _number(item.end))

    def in_force(self, quarter: int) -> bool:
        return _in_force(self.effective, self.end, quarter)


class _Timeline:
    """A government's instruments with their quarters parsed once: per kind ('rules',
    'directives', 'subsidies') the `_Timed` instruments in order, and per quarter the
    (action, instrument) changes of that quarter in the order a pass over the
    instruments (rules, directives, subsidies; announce, apply, lift) meets them."""

    KINDS = ("rules", "directives", "subsidies")

    def __init__(self, rules, directives, subsidies) -> None:
        self.timed = {kind: [_Timed.of(item) for item in items]
                      for kind, items in zip(self.KINDS, (rules, directives, subsidies))}
        self.events: dict[int, list[tuple[str, object]]] = {}
        for kind in self.KINDS:
            for timed in self.timed[kind]:
                for action, when in (("announce", timed.announced), ("apply", timed.effective), ("lift", timed.end)):
                    if when is not None:
                        self.events.setdefault(when, []).append((action, timed.item))
        # A rule is in force from its effective quarter up to (not including) its end:
        # of the rules that can be in force at all (end after effective, as validated),
        # those in force in q are those effective by q less those ended by q.
        spans = [(t.effective, t.end) for t in self.timed["rules"] if t.end is None or t.end > t.effective]
        self._starts = sorted(start for start, _ in spans)
        self._ends = sorted(end for _, end in spans if end is not None)
        # Whether an instrument is in force changes only at its effective and end
        # quarters: quarters between two consecutive such quarters of a kind (the same
        # `bisect_right` position, a "period") have the same instruments in force.
        self._changes = {kind: sorted({q for t in self.timed[kind] for q in (t.effective, t.end) if q is not None})
                         for kind in self.KINDS}
        self._in_force: dict[tuple[str, int], tuple] = {}
        self._subsidy_figures: dict[int, tuple[dict[str, float], float, dict[str, float]]] = {}

    def rules_in_force(self, quarter: int) -> int:
        return bisect_right(self._starts, quarter) - bisect_right(self._ends, quarter)

    def in_force(self, kind: str, quarter: int) -> tuple:
        """The instruments of `kind` in force in `quarter`, in order (found once a period)."""
        key = (kind, bisect_right(self._changes[kind], quarter))
        items = self._in_force.get(key)
        if items is None:
            items = self._in_force[key] = tuple(t.item for t in self.timed[kind] if t.in_force(quarter))
        return items

    def subsidy_figures(self, quarter: int) -> tuple[dict[str, float], float, dict[str, float]]:
        """For the subsidies in force in `quarter`: recipient name -> US$ million, their
        total, and recipient name -> extra capacity share to build per tier (only those
        with a share > 0);
        made once a period (the same dicts, in the same order, so the same total)."""
        period = bisect_right(self._changes["subsidies"], quarter)
        figures = self._subsidy_figures.get(period)
        if figures is None:
            due: dict[str, float] = {}
            ahead: dict[str, list[float]] = {}
            for subsidy in self.in_force("subsidies", quarter):
                each = subsidy.usd_m_per_quarter / len(subsidy.recipients)
                for recipient in subsidy.recipients:
                    due[recipient] = due.get(recipient, 0.0) + each
            for subsidy in self.in_force("subsidies", quarter):
                covered = subsidy.build_ahead_tiers or TIER_NAMES
                for recipient in subsidy.recipients:
                    shares = ahead.setdefault(recipient, [0.0] * len(TIER_NAMES))
                    for t, tier in enumerate(TIER_NAMES):
                        if tier in covered:
                            shares[t] += subsidy.build_ahead
            figures = self._subsidy_figures[period] = (
                due, sum(due.values()), {name: shares for name, shares in ahead.items() if max(shares) > 0})
        return figures


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
        ration_buyers: tuple[str, ...] = (),
        ration_share: float = 0.0,
    ) -> None:
        super().__init__(model, name, country)
        # The state allocator's levers (scenario parameters): whom its directives serve
        # first and what share of the directed capacity they reserve; whom it serves
        # first with its country's own accelerators, and what share of them.
        self.champions = tuple(champions)
        self.reserved_share = reserved_share
        self.ration_buyers = tuple(ration_buyers)
        self.ration_share = ration_share
        self.rules = list(rules)
        self.directives = list(directives)
        self.subsidies = list(subsidies)
        self._bias = sorted((parse_quarter(q), b) for q, b in (domestic_tool_bias or {}).items())
        self.rules_in_force = 0
        self.subsidy_usd_m = 0.0
        self._last_quarter: int | None = None  # the quarter last asked about (None: not yet)
        self._timed: tuple[tuple, _Timeline | None] = ((), None)
        self._timed_quarter: int | None = None  # the quarter `_timed` was last checked in

    def _timeline(self, quarter: int) -> _Timeline:
        """The instruments with their quarters parsed once, not every quarter. The lists
        are filled after the government is made (model.build), so the timeline is made
        again whenever they are not the ones it was made from (compared item by item,
        by identity first: that is what this check costs), checked once a quarter (the
        first question of the quarter; the model asks several)."""
        if quarter != self._timed_quarter or self._timed[1] is None:
            key = (tuple(self.rules), tuple(self.directives), tuple(self.subsidies))
            if self._timed[1] is None or key != self._timed[0]:
                self._timed = (key, _Timeline(*key))
            self._timed_quarter = quarter
        return self._timed[1]

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
        timeline = self._timeline(quarter)
        if first:
            changes = []
            for kind in timeline.KINDS:
                for timed in timeline.timed[kind]:
                    action = self._state_at_start(timed, quarter)
                    if action:
                        changes.append(PolicyChange(self.name, action, timed.item))
        else:
            changes = [PolicyChange(self.name, action, item) for action, item in timeline.events.get(quarter, ())]
        self.rules_in_force = timeline.rules_in_force(quarter)
        return changes

    @staticmethod
    def _state_at_start(timed: _Timed, quarter: int) -> str | None:
        """'apply' for an instrument in force at the start, 'announce' for a rule announced
        by then but not yet effective, else None (not yet announced, or already ended)."""
        if timed.in_force(quarter):
            return "apply"
        if timed.announced is not None and timed.announced <= quarter < timed.effective:
            return "announce"
        return None

    def subsidies_due(self, quarter: int) -> dict[str, float]:
        """Recipient name -> US$ million this quarter, from subsidies in force."""
        due, self.subsidy_usd_m, _ = self._timeline(quarter).subsidy_figures(quarter)
        return dict(due)

    def build_ahead_due(self, quarter: int) -> dict[str, list[float]]:
        """Recipient name -> extra capacity share to build above forecast orders per
        tier, from subsidies in force that carry a build-out instruction for the tiers
        they name (they add up)."""
        return dict(self._timeline(quarter).subsidy_figures(quarter)[2])

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
            for d in self._timeline(quarter).in_force("directives", quarter)
            if self.champions and self.reserved_share > 0
        ]

    def rationing(self, quarter: int) -> Rationing | None:
        """While a directive is in force, the state rations its own accelerators: its
        `ration_buyers` first, up to `ration_share` of each domestic designer's stock
        (reports of Chinese buyers receiving a fraction of the Ascends they ordered;
        issue 13). None when no directive is in force or the levers reserve nothing."""
        if not self.ration_buyers or self.ration_share <= 0:
            return None
        directive = next(iter(self._timeline(quarter).in_force("directives", quarter)), None)
        if directive is None:
            return None
        return Rationing(self.name, directive.id, self.ration_buyers, self.ration_share)

    def domestic_tool_bias(self, quarter: int) -> float:
        """How much more this government's foundries weight domestic tool vendors."""
        bias = 1.0
        for start, value in self._bias:
            if start <= quarter:
                bias = value
        return bias
