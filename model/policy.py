"""Export-control rules: which supply relations a rule reaches, and the rules that the
levers add to a scenario's timeline.

Pure functions over the edge arrays and the agents' names and countries; the model calls
them in its first two phases and does the cutting through the trade graph.
"""

from __future__ import annotations

import numpy as np

from model.accelerators import caught
from model.scenario import Parameters, Rule
from model.technology import CATEGORY_INDEX, CATEGORY_NAMES, HBM_INDEX, LITHOGRAPHY, TIER_INDEX, Tier, tier_from


def issuer_country(issuer: str, governments: dict[str, str]) -> str:
    """A rule's issuer (government name or country code) -> country code."""
    return governments.get(issuer, issuer)


def targets_mask(targets: tuple[str, ...], names: np.ndarray, countries: np.ndarray) -> np.ndarray:
    """Which agents (by name/country arrays) a rule's targets name."""
    hit = np.zeros(len(names), dtype=bool)
    for target in targets:
        if target.startswith("country:"):
            hit |= countries == target.split(":", 1)[1]
        else:
            hit |= names == target
    return hit


def supplier_reach(
    rule: Rule,
    issuer: str,
    supplier_names: np.ndarray,
    supplier_countries: np.ndarray,
    buyer_countries: np.ndarray,
) -> np.ndarray:
    """Per edge: whether the rule reaches the supplier.

    Named `suppliers` (e.g. the 2024-11 letter to TSMC) are reached alone. Otherwise the
    issuer's own suppliers are, and with the foreign direct product rule every supplier
    outside the buyer's own country too (ASSUMPTION: a target's domestic suppliers are
    beyond enforcement: SMIC went on making Huawei's 7nm chips, controls_timeline.csv
    2023-08-29).
    """
    if rule.suppliers:
        return np.isin(supplier_names, list(rule.suppliers))
    reach = supplier_countries == issuer
    if rule.foreign_direct_product:
        reach |= supplier_countries != buyer_countries
    return reach


def _supplier_reach_by_agent(rule: Rule, issuer: str, sides) -> np.ndarray:
    """`supplier_reach` per edge, from the suppliers' own names and countries and the
    country codes of an `EdgeSides` (the same mask; tests/test_fast_paths.py)."""
    names, countries = sides.agents("supplier")
    at = sides.index("supplier")
    if rule.suppliers:
        return np.isin(names, list(rule.suppliers))[at]
    reach = (countries == issuer)[at]
    if rule.foreign_direct_product:
        reach |= sides.country_codes("supplier")[at] != sides.country_codes("buyer")[sides.index("buyer")]
    return reach


def matching_edges(rule: Rule, edges, sides: dict, issuer: str, tier: str | None = None,
                   products=()) -> np.ndarray:
    """Mask of the edges of `edges` (an EdgeSet) that `rule` cuts.

    `sides` holds name/country arrays: supplier_names, supplier_countries, buyer_names,
    buyer_countries, each indexed per edge (an `EdgeSides` also gives them per agent,
    `agents(side)`, with each edge's row, `index(side)`). A rule reaches the tier it names and every
    more advanced one; a tools rule reaches only its tool categories (all if none); an
    hbm rule its generation and every newer one; an accelerators or purchases rule the
    accelerators of `products` (the world's, in order) that `product_reach` gives.
    `tier`, if given, stands for the rule's own (an announced tools rule is matched at
    every tier: the mask of a copy of the rule with that tier, without making the copy).
    """
    tier_ok = edges.tier <= tier_position(rule.tier if tier is None else tier)
    if hasattr(sides, "agents"):  # per agent, then per edge: the same masks, 10^5 tests not 10^6
        buyer_ok = targets_mask(rule.targets, *sides.agents("buyer"))[sides.index("buyer")]
        supplier_ok = _supplier_reach_by_agent(rule, issuer, sides)
    else:
        buyer_ok = targets_mask(rule.targets, sides["buyer_names"], sides["buyer_countries"])
        supplier_ok = supplier_reach(
            rule, issuer, sides["supplier_names"], sides["supplier_countries"], sides["buyer_countries"]
        )
    if rule.kind == "purchases" and not rule.suppliers:  # a buyer country's measure: whoever supplies
        supplier_ok = np.ones(len(edges), dtype=bool)
    mask = tier_ok & buyer_ok & supplier_ok
    if edges.kind == "tools" and rule.tools:
        mask &= category_table(rule.tools)[edges.category]
    if edges.kind == "hbm":  # the rule's generation and every newer one
        mask &= edges.category >= HBM_INDEX[rule.generation]
    if edges.kind == "accelerators":  # the products the rule reaches
        mask &= product_reach(rule, products)[edges.category]
    return mask


def product_reach(rule: Rule, products) -> np.ndarray:
    """Per accelerator of `products` (the world's, in order): whether a chip rule
    reaches it. An ``accelerators`` rule: named, or caught by one of its tests, unless
    exempt (`model.accelerators.caught`); a ``purchases`` rule: the products it names,
    or every product if it names none."""
    names = [p.name for p in products]
    if rule.kind == "purchases":
        return np.isin(names, list(rule.products)) if rule.products else np.ones(len(names), dtype=bool)
    figure = lambda field: np.array([np.nan if getattr(p, field) is None else getattr(p, field) for p in products],
                                    dtype=float)
    return caught(rule.tests, rule.products, rule.exempt, names, figure("tpp"), figure("die_mm2"),
                  figure("interconnect_gbps"))


def tier_position(value: str | Tier) -> int:
    """`tier_from(value).index` (0 = leading), by a dict lookup for a tier's value (what
    a validated Rule holds) and `tier_from` otherwise."""
    position = TIER_INDEX.get(value) if type(value) is str else None
    return tier_from(value).index if position is None else position


def category_table(tools) -> np.ndarray:
    """A boolean per tool category (`CATEGORY_INDEX` order): True for those named in
    `tools`. Gathered by the edges' category indices it is
    ``np.isin(edges.category, [CATEGORY_INDEX[t] for t in tools])`` (an unknown name
    raises KeyError as that does) without isin's sorting, for 5 categories."""
    table = np.zeros(len(CATEGORY_NAMES), dtype=bool)
    table[[CATEGORY_INDEX[t] for t in tools]] = True
    return table


def lever_rules(rules: tuple[Rule, ...], params: Parameters) -> list[Rule]:
    """The scenario's rules plus those its levers add.

    - `allies_aligned`: every US tools rule is also issued by the Netherlands and Japan
      for their own vendors (the trilateral alignment pressed for since 2023).
    - `duv_servicing_ban`: the Netherlands and Japan stop servicing DUV scanners at
      Chinese fabs from `servicing_ban_quarter`.
    """
    out = list(rules)
    if params.allies_aligned:
        for rule in rules:
            if rule.issuer == "US" and rule.kind == "tools" and not rule.suppliers:
                for ally in ("NL", "JP"):
                    out.append(
                        rule.model_copy(
                            update={
                                "id": f"{rule.id}+{ally}",
                                "issuer": ally,
                                "foreign_direct_product": False,
                                "event": f"{rule.event} (mirrored by {ally}: allies_aligned lever)",
                            }
                        )
                    )
    if params.duv_servicing_ban:
        for ally in ("NL", "JP"):
            out.append(
                Rule(
                    id=f"lever-duv-servicing-ban-{ally}",
                    issuer=ally,
                    kind="servicing",
                    targets=("country:CN",),
                    tier=Tier.MATURE.value,
                    tools=tuple(c.value for c in LITHOGRAPHY if c.value != "euv"),
                    effective=params.servicing_ban_quarter,
                    event="duv_servicing_ban lever: no servicing of installed DUV tools in China",
                )
            )
    return out
