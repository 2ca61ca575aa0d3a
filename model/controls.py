"""Resolving what governments decide: export-control rules cut and restore edges of the
trade graph (with a ledger row each), servicing bans and mineral controls change what
foundries and vendors can do, and the state allocator's directives become priority
classes of the wafer market. Called by the model's first two phases; which edges a
rule reaches is `model.policy`'s pure matching.
"""

from __future__ import annotations

import numpy as np

from model.graph import EdgeSet
from model.policy import issuer_country, matching_edges, targets_mask, tier_position
from model.scenario import Rule
from model.technology import CATEGORY_NAMES, TIER_INDEX, TIERS, Tier, parse_quarter


def announce(model, rule: Rule) -> None:
    """Remember which relations an announced rule will cut (firms and designers stockpile)."""
    model.effective_quarter[rule.id] = parse_quarter(rule.effective)
    if rule.kind == "hbm":
        model.announced_hbm[rule.id] = _matches(model, rule, model.trade.chain["hbm"])
    if rule.kind in ("wafers", "tools"):
        store = model.announced if rule.kind == "wafers" else model.announced_tools
        # Buyers cannot know where a tool threshold will land: a foundry that a tools
        # rule targets stockpiles the rule's categories for every tier (precautionary
        # stockpiling, ASSUMPTION; China's DUV imports surged ahead of the Dutch rules:
        # calibration.csv: asml_china_share, ASML, 2023Q3).
        tier = Tier.MATURE.value if rule.kind == "tools" else None
        store[rule.id] = _matches(model, rule, getattr(model.trade, rule.kind), tier)
    model.log("announce", rule.id, rule.issuer, ",".join(rule.targets), rule.tier, rule.event)


def apply_rule(model, rule: Rule) -> None:
    """Cut what a rule reaches (each edge escapes with probability 1 - enforcement);
    the firms de-risk along it."""
    model.announced.pop(rule.id, None)
    model.announced_tools.pop(rule.id, None)
    model.announced_hbm.pop(rule.id, None)
    if rule.kind == "servicing":
        for i in np.flatnonzero(targeted(rule, model.foundries)):
            model.foundries[i].unserviced = True
            model.log("servicing_ban", rule.id, rule.issuer, model.foundries[i].name, ",".join(rule.tools), rule.event)
        return
    if rule.kind == "minerals":
        _restrict_minerals(model, rule, on=True)
        return
    if rule.kind == "domestic_tools":
        # Every buyer of the tool market it names: foundries and the other fabs.
        model.tool_requirements[rule.id] = (targeted(rule, model.tool_market_buyers), rule.domestic_share)
        for i in np.flatnonzero(model.tool_requirements[rule.id][0]):
            model.log("requirement", rule.id, rule.issuer, model.tool_market_buyers[i].name, "tools",
                      f"at least {rule.domestic_share:.0%} of new tools (by value) from domestic vendors")
        return
    if rule.kind == "accelerators" and rule.licence_fee > 0:
        edges = model.trade.chain["accelerators"]
        mask = _matches(model, rule, edges)
        model.accelerator_market.license(rule.id, mask, rule.licence_fee)
        model.log_edges("licence", rule.id, edges, np.flatnonzero(mask),
                        f"sales under licence, {rule.licence_fee:.0%} of revenue to {rule.issuer}")
        return
    for edges in _reached_sets(model, rule):
        _cut(model, rule, edges)
    if rule.kind == "tools":
        _deny_memory_tools(model, rule, on=True)
    if rule.kind not in ("wafers", "tools"):
        return
    factor = model.parameters.derisk_factor
    if factor != 1.0:
        # The firms' names and countries as arrays, made once at set-up (10^5 firms).
        cut_firms = (targets_mask(rule.targets, *model.sides["wafers"].agents("buyer"))
                     if rule.kind == "wafers" else None)
        countries = {t.split(":", 1)[1] for t in rule.targets if t.startswith("country:")}
        model.sector.derisk(factor, cut_firms, issuer_country(rule.issuer, model.government_country), countries)


def lift_rule(model, rule: Rule) -> None:
    """Restore what a rule cut (an edge other rules cut stays cut)."""
    if rule.kind == "minerals":
        _restrict_minerals(model, rule, on=False)
        return
    if rule.kind == "domestic_tools":
        model.tool_requirements.pop(rule.id, None)
        return
    if rule.kind == "servicing":
        return
    if rule.kind == "accelerators" and rule.licence_fee > 0:
        model.accelerator_market.revoke(rule.id)
        model.log("licence_end", rule.id, rule.issuer, ",".join(rule.targets), "accelerators", rule.event)
        return
    for edges in _reached_sets(model, rule):
        model.log_edges("restore", rule.id, edges, model.trade.switch_on(edges, rule.id), "rule lifted")
    if rule.kind == "tools":
        _deny_memory_tools(model, rule, on=False)


def _reached_sets(model, rule: Rule) -> list:
    """The edge sets a trade rule reaches: its kind's (a purchases rule's: the
    accelerator sales it stops), and for a wafers rule also the dies a shell company
    buys from a foundry (a leak route's first edge)."""
    kind = "accelerators" if rule.kind == "purchases" else rule.kind  # a buyer country's measure cuts sales
    sets = [model.trade[kind]] if kind in ("wafers", "tools") else [model.trade.chain[kind]]
    if rule.kind == "wafers" and "dies" in model.trade.chain:
        sets.append(model.trade.chain["dies"])
    return sets


def _cut(model, rule: Rule, edges: EdgeSet) -> None:
    """Cut the edges of `edges` that `rule` reaches (each escapes with probability
    1 - enforcement); a ledger row each."""
    mask = _matches(model, rule, edges)
    enforcement = model.parameters.enforcement
    if enforcement < 1.0 and mask.any():
        escaped = mask & (model.rng.random(len(mask)) >= enforcement)
        model.log_edges("leak", rule.id, edges, np.flatnonzero(escaped), "not enforced on this relation")
        mask &= ~escaped
    cut = model.trade.switch_off(edges, mask, rule.id)
    model.log_edges("cut", rule.id, edges, cut, rule.event)
    if edges.kind == "tools" and len(cut):
        # Orders on the vendors' books over a cut relation are cancelled, for good: a
        # lifted rule restores the relation, not the orders.
        cancelled = model.tool_market.cancel(np.asarray(cut, dtype=np.intp))
        model.log_edges("cancel", rule.id, edges, np.flatnonzero(cancelled > 0),
                        "orders on the vendor's book cancelled")


def allocate_state_priority(model, directives) -> None:
    """The state allocator: champion -> foundry edges of the directed tiers become
    priority class 0 of the wafer market, capped at the directive's reserved share of
    capacity; the ledger records the re-wiring the first quarter it happens.

    A directive's edges depend on it and the fixed edge arrays alone: they are found
    once (`_champion_edges`), and the priority array is made again only when the
    directives in force change (the same classes as made afresh each quarter). The same
    directives as last quarter change nothing (their edges stay re-wired: nothing
    un-rewires an edge; the caps and classes are those already set) and are passed over."""
    directives = tuple(directives)  # frozen dataclasses: equal when every field is
    if directives == model.allocated:
        return
    model.allocated = directives
    market = model.wafer_market
    wafers = market.edges
    for d in directives:
        edges = _champion_edges(model, d)
        market.class_caps = np.array([d.reserved_share, 1.0])
        model.log_edges("rewire", d.directive_id, wafers, edges[~wafers.rewired[edges]],
                        f"state allocator: priority class 0, up to {d.reserved_share:.0%} of capacity")
        wafers.rewired[edges] = True
    key = tuple((d.foundry, d.tiers, d.champions) for d in directives)
    if key != market.priority_key:
        priority = np.ones(len(wafers), dtype=np.int64)
        for d in directives:
            priority[_champion_edges(model, d)] = 0
        market.priority, market.priority_key = priority, key


def _champion_edges(model, d) -> np.ndarray:
    """Indices of the wafer edges from directive `d`'s foundry, at its tiers, to its
    champions (kept by the wafer market, by foundry, tiers and champions)."""
    market = model.wafer_market
    key = (d.foundry, d.tiers, d.champions)
    if key not in market.champion_edges:
        wafers = market.edges
        advanced = np.isin(np.arange(len(TIERS)), [TIER_INDEX[x] for x in d.tiers])[wafers.tier]
        at_foundry = wafers.supplier == model.foundry_index.get(d.foundry, -1)
        champion = np.zeros(len(model.firms), dtype=bool)
        champion[[model.firm_index[c] for c in d.champions]] = True  # known: checked at set-up
        market.champion_edges[key] = np.flatnonzero(advanced & at_foundry & champion[wafers.buyer])
    return market.champion_edges[key]


def at_risk(store: dict[str, np.ndarray], n: int) -> np.ndarray:
    """1.0 on the edges an announced rule will cut, else 0.0."""
    return at_risk_mask(store, n).astype(float)


RUSH_QUARTERS = 2
"""Quarters before an announced tools rule bites in which vendors rush what is on order
(ASSUMPTION: ASML's China share was ~15% in 2023H1, 46% in 2023Q3 and 39% in 2023Q4,
the half year before its licences for China ended: calibration.csv asml_china_share)."""


def deadline_risk(model, edges) -> np.ndarray | None:
    """True on the tool edges an announced rule cuts within `RUSH_QUARTERS` (vendors
    rush what is on order before it bites); None when no rule is that close."""
    if not model.announced_tools:
        return None
    soon = {rule_id: mask for rule_id, mask in model.announced_tools.items()
            if model.effective_quarter[rule_id] - model.quarter_number <= RUSH_QUARTERS}
    return at_risk_mask(soon, len(edges)) if soon else None


def at_risk_mask(store: dict[str, np.ndarray], n: int) -> np.ndarray:
    """True on the edges an announced rule will cut (`at_risk` as booleans: True
    multiplies as 1.0 does)."""
    risk = np.zeros(n, dtype=bool)
    for mask in store.values():
        risk |= mask
    return risk


def targeted(rule: Rule, agents) -> np.ndarray:
    """Which of `agents` a rule's targets name (by name, or country:XX)."""
    return targets_mask(rule.targets, np.array([a.name for a in agents]), np.array([a.country for a in agents]))


def _matches(model, rule: Rule, edges: EdgeSet, tier: str | None = None) -> np.ndarray:
    issuer = issuer_country(rule.issuer, model.government_country)
    return matching_edges(rule, edges, model.sides[edges.kind], issuer, tier, model.world.accelerators)


def _deny_memory_tools(model, rule: Rule, on: bool) -> None:
    """A tools rule that reaches 14nm-class tools (DRAM's, ASSUMPTION) and targets a
    memory maker denies it the rule's categories while in force (its capacity growth
    and later generations slow, `MemoryMaker.plan`); a ledger row each."""
    if tier_position(rule.tier) < TIER_INDEX[Tier.N14.value]:
        return
    for i in np.flatnonzero(targeted(rule, model.memory_makers)):
        maker = model.memory_makers[i]
        if on:
            maker.denied_by[rule.id] = set(rule.tools) or set(CATEGORY_NAMES)
        else:
            maker.denied_by.pop(rule.id, None)
        maker.denied = set().union(*maker.denied_by.values())
        model.log("tools_denied" if on else "tools_restored", rule.id, rule.issuer, maker.name,
                  ",".join(rule.tools), rule.event)


def _restrict_minerals(model, rule: Rule, on: bool) -> None:
    hit = targeted(rule, model.vendors)
    model.mineral_multiplier = np.where(hit, 1.0 - model.parameters.mineral_shock if on else 1.0,
                                        model.mineral_multiplier)
    for i in np.flatnonzero(hit):
        model.log("minerals" if on else "minerals_end", rule.id, rule.issuer, model.vendors[i].name,
                  "minerals", rule.event)


def required_domestic_shares(model) -> np.ndarray | None:
    """Per buyer of the tool market (foundries, then the other fabs), the least domestic
    share of new tools the requirements in force ask of it (the largest of them); None
    when none is in force."""
    if not model.tool_requirements:
        return None
    shares = np.zeros(len(model.tool_market_buyers))
    for mask, share in model.tool_requirements.values():
        shares = np.where(mask, np.maximum(shares, share), shares)
    return shares
