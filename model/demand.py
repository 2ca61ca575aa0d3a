"""Wafer demand that answers prices, and supplier choice by price, quality and home
bias: pure functions over numpy arrays (a pure leaf of `model`: agents import it).

Three rules, each written once and called by the fabless sector (`agents.fabless`):

- `price_response`, `demand_at_price`: a firm's non-AI wafer orders for a tier scale
  with the price it faces there relative to the reference (list) price,
  (p / p_ref) ** -elasticity (constant-elasticity demand).
- `choice_weights`, `choice_shares`, `faced_price`: the share of a firm's orders for a
  tier that goes to each permitted foundry is a multinomial logit,
  share_i = exp(u_i) / sum_j exp(u_j), with
  u_i = log(weight_i) - sensitivity * log(p_i / p_ref_i) + localisation * home_i:
  `weight_i` is the firm's learned preference (its base market share x the fill rate
  it saw x the supplier's yield quality, `agents.fabless.adapt_preferences`), so the
  quality terms enter as they always did and the price and home-bias terms multiply
  them. Prices enter relative to each foundry's own reference price: the base
  preferences were set (and are fitted) at reference prices, so they are the logit's
  alternative-specific constants and already hold the level differences between
  foundries (SMIC's list prices ~0.68 of TSMC's: default_world.toml price_factor).
- `RuleExposure`, `localisation_level`: firms of a country that foreign chip controls
  target lean toward home foundries at mature tiers, by a log-preference that rises
  each quarter by a rate per such rule announced or in force (and does not fall back
  when a rule ends: relations moved home stay home).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np

from model.scenario import Rule
from model.technology import parse_quarter

CHIP_CONTROL_KINDS = frozenset({"wafers", "tools", "servicing", "hbm", "packaging", "accelerators"})
"""Rule kinds that threaten a country's chip supply (what its firms read as risk);
minerals controls and a country's own purchase measures are not among them."""


# ------------------------------------------------------------ price elasticity
def price_response(ratio: np.ndarray, elasticity: float) -> np.ndarray:
    """(p / p_ref) ** -elasticity, elementwise; 1.0 where the ratio is not a positive
    finite number (no price seen: no response). Units: a multiplier on wafers."""
    ratio = np.asarray(ratio, dtype=float)
    ok = np.isfinite(ratio) & (ratio > 0)
    out = np.ones(ratio.shape)
    if elasticity != 0.0:
        np.power(ratio, -elasticity, out=out, where=ok)
    return out


def demand_at_price(wafers: np.ndarray, ai_wafers: np.ndarray, multiplier: np.ndarray) -> np.ndarray:
    """Wafers wanted once non-AI demand answers the price: the AI wafers as they were,
    the rest x `multiplier` (`price_response`); the same shape as `wafers`.

    AI wafers do not answer the wafer price: a large AI die's wafer is a small share
    of the accelerator's price, so the derived demand for it is near perfectly
    inelastic (Marshall-Hicks: the elasticity of derived demand scales with the
    input's cost share). Written as wafers - non-AI x (1 - multiplier), so that a
    multiplier of exactly 1 returns `wafers` bit for bit."""
    return wafers - (wafers - ai_wafers) * (1.0 - multiplier)


# ------------------------------------------------------------- supplier choice
def choice_weights(
    weights: np.ndarray,
    price_ratio: np.ndarray,
    sensitivity: float,
    home: np.ndarray | None = None,
    localisation: np.ndarray | float = 0.0,
) -> np.ndarray:
    """Each relation's logit weight exp(u) = weight x (p / p_ref) ** -sensitivity x
    exp(localisation x home) (the module's utility). `price_ratio`: p / p_ref of each
    relation's supplier; `home`: whether the relation is one that localisation favours
    (None: none); `localisation`: log-preference, one value or one per relation. A
    zero weight (a cut or unused relation) stays zero; shares come from
    `choice_shares`."""
    out = np.asarray(weights, dtype=float) * price_response(price_ratio, sensitivity)
    if home is not None:
        bonus = np.exp(np.where(home, localisation, 0.0))
        out *= bonus
    return out


def choice_shares(weights: np.ndarray, group: np.ndarray, n_groups: int) -> np.ndarray:
    """Logit shares: each relation's weight over its group's total (0 in a group whose
    total is 0). Each group with a positive total sums to 1."""
    total = np.bincount(group, weights=weights, minlength=n_groups)[group]
    return np.divide(weights, total, out=np.zeros(len(weights)), where=total > 0)


def faced_price(weights: np.ndarray, price_ratio: np.ndarray, group: np.ndarray, n_groups: int) -> np.ndarray:
    """Per group, the price ratio p / p_ref the firm faces for the tier: the mean over
    its relations weighted by where it would order (`choice_weights`); 1.0 for a group
    with no weighted relation. Between the smallest and largest ratio of the group."""
    total = np.bincount(group, weights=weights, minlength=n_groups)
    paid = np.bincount(group, weights=weights * price_ratio, minlength=n_groups)
    return np.divide(paid, total, out=np.ones(n_groups), where=total > 0)


def orders_at_price(
    orders: np.ndarray, group: np.ndarray, price_ratio: np.ndarray, wafers: np.ndarray, ai_wafers: np.ndarray,
    elasticity: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Orders split at reference prices, scaled to what each group wants at the
    prices it faces: (orders per relation, wafers per group).

    `orders`: per relation, each group's `wafers` split over its relations (the logit
    shares x wafers; a group with no relation has none); `price_ratio`: p / p_ref of
    each relation's supplier. The price a group faces is the mean of its relations'
    ratios weighted by its orders (`faced_price` over the logit weights, in one sum
    fewer); its wafers become `demand_at_price` of it, and its orders scale with them.
    A group with no orders faces no price and keeps its wafers."""
    # Worked on the groups with orders alone (in a world of 10^5 firms, a fraction of
    # the firm x tier groups): elsewhere the wafers and their scale stay as they are.
    wafers = np.asarray(wafers, dtype=float)
    paid = np.bincount(group, weights=orders * price_ratio, minlength=len(wafers))
    at = np.flatnonzero(paid > 0)
    here = wafers.take(at)
    faced = np.divide(paid.take(at), here, out=np.zeros(len(at)), where=here > 0)  # 0: no price (response 1)
    moved = demand_at_price(here, np.asarray(ai_wafers, dtype=float).take(at), price_response(faced, elasticity))
    wanted = wafers.copy()
    wanted[at] = moved
    scale = paid  # reused: 1 wherever no group has orders
    scale.fill(1.0)
    scale[at] = np.divide(moved, here, out=np.ones(len(at)), where=here > 0)
    return orders * scale.take(group), wanted


# ----------------------------------------------------------------- localisation
@dataclass(frozen=True)
class RuleExposure:
    """Which countries each chip control (`CHIP_CONTROL_KINDS`) exposes, and when: a
    rule exposes the countries its targets name (``country:XX``) or belong to (a named
    entity's country), other than its issuer's own, from its announcement (or its
    effect, if unannounced) to its end."""

    country: tuple[str, ...]
    start: np.ndarray
    end: np.ndarray

    @classmethod
    def of(cls, rules: Iterable[Rule], issuer_country: Mapping[str, str],
           entity_country: Mapping[str, str]) -> RuleExposure:
        """From a scenario's rules; `issuer_country`: government name -> country
        (an issuer not in it is a country code); `entity_country`: agent name ->
        country (a target not in it names nobody of this world)."""
        rows = []
        for rule in rules:
            if rule.kind not in CHIP_CONTROL_KINDS:
                continue
            issuer = issuer_country.get(rule.issuer, rule.issuer)
            exposed = {t.split(":", 1)[1] if t.startswith("country:") else entity_country.get(t)
                       for t in rule.targets}
            start = parse_quarter(rule.announced or rule.effective)
            end = parse_quarter(rule.end) if rule.end else 10**6
            rows += [(c, start, end) for c in sorted(exposed - {None, issuer})]
        return cls(tuple(r[0] for r in rows), np.array([r[1] for r in rows], dtype=np.int64),
                   np.array([r[2] for r in rows], dtype=np.int64))

    def count(self, quarter: int) -> dict[str, int]:
        """Per exposed country, the rules announced or in force in `quarter`."""
        live = (self.start <= quarter) & (quarter < self.end)
        out: dict[str, int] = {}
        for c in np.asarray(self.country, dtype=object)[live] if len(self.country) else ():
            out[c] = out.get(c, 0) + 1
        return out


def localisation_level(previous: float, rate: float, rules: int) -> float:
    """A country's firms' log-preference for home foundries after one more quarter:
    it rises by `rate` for each chip control announced or in force against the
    country this quarter (partial adjustment to a standing risk: the longer and the
    more controls stand, the further firms have moved their designs home), and never
    falls (no rule in force: it stays where it is; relations moved home stay home).
    The rate is an ASSUMPTION (`localisation_rate`). Units: log points; >= 0 for
    `previous` >= 0."""
    return previous + max(rate * rules, 0.0)
