"""The accelerator chain's rules as pure functions: capacities over time, a designer's
product mix, and how many accelerators its inputs allow.

An accelerator is `dies` good logic dies + `hbm_stacks` HBM stacks + one CoWoS-class
package (a product's bill of materials, `model.world.ProductSpec`). A designer makes
its products in the shares of its mix, so a unit of its output is one "bundle": the
mix-weighted dies and stacks. Units made are the least of what its die stock, its
usable HBM stock, its packaging slots and its demand allow; the input that sets the
least is the binding one. No model, no agents: arrays and numbers in, out.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence

import numpy as np

from model.technology import parse_quarter

AI_BOOM_QUARTER = parse_quarter("2023Q1")
"""From here AI demand grows on the boom path of `ai_boom_log_growth` (ASSUMPTION: the
post-ChatGPT surge in accelerator orders)."""

BINDING = ("dies", "hbm", "demand", "packaging")
"""The inputs that can bind, in the order a tie is reported: packaging is booked for
what the other three allow, so it binds only when it falls short of them."""


def capacity_at(points: Sequence[tuple[int, float]], quarter: int, growth_before: float,
                growth_after: float) -> float:
    """Capacity (units a quarter) in `quarter` from dated `points` (absolute quarter,
    value; sorted): log-linear between points (linear where a point is 0), at
    `growth_before` a year before the first (backwards), `growth_after` a year after
    the last."""
    first, last = points[0], points[-1]
    if quarter <= first[0]:
        return first[1] * (1.0 + growth_before) ** ((quarter - first[0]) / 4.0)
    if quarter >= last[0]:
        return last[1] * (1.0 + growth_after) ** ((quarter - last[0]) / 4.0)
    for (q0, v0), (q1, v1) in zip(points, points[1:]):
        if q0 <= quarter <= q1:
            t = (quarter - q0) / (q1 - q0)
            if v0 > 0 and v1 > 0:
                return v0 * (v1 / v0) ** t
            return v0 + (v1 - v0) * t
    raise AssertionError("unreachable: the quarter lies between the first and last points")


def grown_with_use(capacity: float, used: float, growth: float, factor: float = 1.0) -> float:
    """Next quarter's capacity past the dated figures: `growth` a year times the share
    of this quarter's `capacity` that was `used` (at most 1; 1 if there was none) times
    `factor` (ASSUMPTION: a maker that sells out invests)."""
    share = min(used / capacity, 1.0) if capacity > 0 else 1.0
    return capacity * (1.0 + growth * share * factor) ** 0.25


def dated(table: dict[str, float]) -> list[tuple[int, float]]:
    """A table keyed by quarter labels as sorted (absolute quarter, value) points."""
    return sorted((parse_quarter(q), float(v)) for q, v in table.items())


def product_dates(product) -> tuple[int, int | None, list[tuple[int, float]]]:
    """A product's (start, end or None, dated shares) as absolute quarters, for
    `share_at`."""
    end = parse_quarter(product.end) if product.end is not None else None
    return parse_quarter(product.start), end, dated(product.share)


def answering(dates: tuple[int, int | None, list[tuple[int, float]]], rule_effective: int | None,
              lag: int) -> tuple[int, int | None, list[tuple[int, float]]]:
    """A China part's dates when it answers a rule (`responds_to`): made from `lag`
    quarters after the rule takes effect (`rule_effective`), not before its own start;
    never (an end before its start) where the scenario has no such rule."""
    start, end, points = dates
    if rule_effective is None:
        return start, start - 1, points
    return max(start, rule_effective + lag), end, points


def share_at(dates: tuple[int, int | None, list[tuple[int, float]]], quarter: int) -> float:
    """A product's share of its designer's units in `quarter` before normalising
    (`product_dates` gives `dates`): 0 out of its dates; the latest dated share at or
    before the quarter (1.0 if none)."""
    start, end, points = dates
    if quarter < start or (end is not None and quarter > end):
        return 0.0
    value = 1.0
    for at, share in points:
        if at > quarter:
            break
        value = share
    return value


def mix(shares: np.ndarray) -> np.ndarray:
    """Products' shares of a designer's units, normalised to sum to 1 (all 0 if none)."""
    shares = np.asarray(shares, dtype=float)
    total = shares.sum()
    return shares / total if total > 0 else np.zeros_like(shares)


def bundle(shares: np.ndarray, dies: np.ndarray, stacks: np.ndarray) -> tuple[float, float]:
    """(dies, HBM stacks) per unit of a designer's output at mix `shares` (normalised)."""
    shares = mix(shares)
    return float(shares @ np.asarray(dies, dtype=float)), float(shares @ np.asarray(stacks, dtype=float))


def buildable(dies: float, hbm: float, packaging: float, demand: float, dies_per_unit: float,
              stacks_per_unit: float) -> tuple[float, str]:
    """(units, binding input): the most accelerators `dies` good dies, `hbm` usable
    stacks, `packaging` slots and `demand` allow at (dies, stacks) per unit, and which
    of those sets the limit (`BINDING` order on a tie). Guarantees 0 <= units, units x
    dies_per_unit <= dies, units x stacks_per_unit <= hbm, units <= packaging, units <=
    demand. A designer with no product this quarter (0 dies a unit) makes nothing, bound
    by 'demand'."""
    if dies_per_unit <= 0:
        return 0.0, "demand"
    limits = {
        "dies": max(dies, 0.0) / dies_per_unit,
        "hbm": max(hbm, 0.0) / stacks_per_unit if stacks_per_unit > 0 else math.inf,
        "demand": max(demand, 0.0),
        "packaging": max(packaging, 0.0),
    }
    units = min(limits.values())
    binding = next(name for name in BINDING if limits[name] == units)
    return units, binding


def usable(stock: np.ndarray, first: int) -> float:
    """HBM stacks of generation index `first` or newer in a stock by generation."""
    return float(np.asarray(stock, dtype=float)[first:].sum())


def draw(stock: np.ndarray, need: float, first: int) -> np.ndarray:
    """What taking `need` stacks of generation `first` or newer from `stock` (by
    generation) takes from each generation: the oldest usable first (newer stacks are
    kept for products that need them). Never more than the stock holds."""
    stock = np.asarray(stock, dtype=float)
    taken = np.zeros_like(stock)
    left = max(need, 0.0)
    for g in range(first, len(stock)):
        take = min(stock[g], left)
        taken[g] = take
        left -= take
        if left <= 0:
            break
    return taken


def denied_share(denied: set[str], needed: Sequence[str]) -> float:
    """Share of the tool categories `needed` that rules in force deny (0-1)."""
    return len(denied & set(needed)) / len(needed) if needed else 0.0


def ai_boom_log_growth(quarters: np.ndarray, growth: float, fade: float) -> np.ndarray:
    """Log of the AI boom's demand multiplier `quarters` after 2023Q1 (0 before).

    Year k of the boom (k = 0 for 2023) grows at growth x (1 - fade)^k, spread evenly
    over its four quarters: a boom that cools (ASSUMPTION; fade = 0 is constant growth).
    """
    quarters = np.maximum(np.asarray(quarters, dtype=np.int64), 0)
    years = int(quarters.max(initial=0)) // 4 + 1
    rates = np.log1p(growth * (1.0 - fade) ** np.arange(years))
    whole = np.concatenate([[0.0], np.cumsum(rates)])  # log multiplier after k whole years
    k, part = quarters // 4, quarters % 4
    return whole[k] + part / 4 * rates[np.minimum(k, years - 1)]


def boom_level(quarters: np.ndarray, ai_growth: float, ai_fade: float, growth_before: float,
               jump: float = 1.0) -> np.ndarray:
    """Log level of AI demand in `quarters` (absolute): the boom path from 2023Q1
    (`ai_boom_log_growth`); before it, 1 / `jump` of the boom's first level, falling back
    at `growth_before` a year (`jump`: the step up at the boom's start)."""
    since = np.asarray(quarters, dtype=np.int64) - AI_BOOM_QUARTER
    before = np.minimum(since, 0) / 4.0 * math.log1p(growth_before) - (since < 0) * math.log(jump)
    return ai_boom_log_growth(since, ai_growth, ai_fade) + before


def on_boom_path(yearly: float, year: int, quarter: int, ai_growth: float, ai_fade: float,
                 growth_before: float, jump: float = 1.0) -> float:
    """A quarter's share of a yearly figure: `yearly` is the sum over `year`'s four
    quarters, and each quarter moves with `boom_level`."""
    now, total = _boom_levels(year, quarter, ai_growth, ai_fade, growth_before, jump)
    return float(yearly * now / total)


@functools.lru_cache(maxsize=4096)
def _boom_levels(year: int, quarter: int, ai_growth: float, ai_fade: float,
                 growth_before: float, jump: float) -> tuple[float, float]:
    """`quarter`'s level and the sum of `year`'s four (kept: every buyer and run of a
    sweep point asks the same few)."""
    levels = np.exp(boom_level(np.arange(year * 4, year * 4 + 4), ai_growth, ai_fade, growth_before, jump))
    return math.exp(boom_level(np.array([quarter]), ai_growth, ai_fade, growth_before, jump)[0]), levels.sum()


# ------------------------------------------------------------ the AI-chip market
def caught(tests, named: Sequence[str], exempt: Sequence[str], names: Sequence[str], tpp: np.ndarray,
           die_mm2: np.ndarray, interconnect_gbps: np.ndarray) -> np.ndarray:
    """Per product: whether an accelerators rule reaches it. A product is reached when
    the rule names it or it meets every threshold of one of `tests` (each with `tpp`,
    and optionally `density` = TPP per mm2 and `interconnect_gbps`), unless it is
    `exempt`. A threshold a product has no figure for (NaN) is not met."""
    names = np.asarray(names, dtype=object)
    tpp, area, link = (np.asarray(a, dtype=float) for a in (tpp, die_mm2, interconnect_gbps))
    with np.errstate(invalid="ignore", divide="ignore"):
        density = tpp / area
    hit = np.isin(names, list(named))
    for test in tests:
        meets = tpp >= test.tpp
        if test.density is not None:
            meets &= density >= test.density
        if test.interconnect_gbps is not None:
            meets &= link >= test.interconnect_gbps
        hit |= meets
    return hit & ~np.isin(names, list(exempt))


def choice_shares(utility: np.ndarray) -> np.ndarray:
    """A buyer's shares of its compute over the offers it may take (a logit): exp(u)
    normalised, 0 where u is -inf (no offer); all 0 if it has none."""
    utility = np.asarray(utility, dtype=float)
    if not np.isfinite(utility).any():
        return np.zeros_like(utility)
    weights = np.exp(utility - utility[np.isfinite(utility)].max())
    return weights / weights.sum()


def compute_orders(want_h100e: float, budget_usd: float, shares: np.ndarray, h100e: np.ndarray,
                   price_usd: np.ndarray) -> np.ndarray:
    """Units a buyer orders of each offer: its wanted compute split by `shares` and
    turned into units (per unit `h100e`), all scaled down together if they would cost
    more than `budget_usd`. Guarantees: units >= 0; sum(units x price) <= budget;
    sum(units x h100e) <= want."""
    shares, h100e, price = (np.asarray(a, dtype=float) for a in (shares, h100e, price_usd))
    units = np.where(shares > 0, max(want_h100e, 0.0) * shares / np.where(h100e > 0, h100e, 1.0), 0.0)
    cost = float(units @ price)
    if cost > max(budget_usd, 0.0) and cost > 0:
        units = units * (max(budget_usd, 0.0) / cost)
    return units
