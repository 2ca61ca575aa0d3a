"""The fast paths of the speed work give, to the last bit, what the forms they replaced
gave: the same numbers in the same order (tests/test_pins.py checks whole runs; these
check the kernels and decisions alone, over random inputs, signed zeros included)."""

from __future__ import annotations

import math
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agents.base import Installation, ToolOrder, tool_cost_usd_m
from agents.fabless import adapt_preferences, derisk_preferences
from agents.foundry import EUV, LITHOGRAPHY_NAMES, ROUTES, Foundry, blended_yields
from model import ChipMarketModel
from model import costs
from model.market import clear, split_orders
from model.policy import issuer_country, matching_edges
from model.technology import CATEGORY_INDEX, CATEGORY_NAMES, TIER_INDEX, TIER_NAMES, TIERS, learned_yield, parse_quarter


def bits(x):
    """Floats as their exact hex form (signed zeros told apart), containers kept."""
    if isinstance(x, np.ndarray):
        return bits(x.tolist())
    if isinstance(x, float):
        return x.hex()
    if isinstance(x, dict):
        return [(k, bits(v)) for k, v in x.items()]  # key order matters: it is the order of use
    if isinstance(x, (list, tuple)):
        return [bits(v) for v in x]
    return x


# ------------------------------------------------- the forms that were replaced
def reference_clear(
    capacity: np.ndarray,
    orders: np.ndarray,
    edge_supplier: np.ndarray,
    active: np.ndarray,
    priority: np.ndarray | None = None,
    class_caps: np.ndarray | None = None,
) -> np.ndarray:
    capacity = np.maximum(np.asarray(capacity, dtype=float), 0.0)
    remaining_order = np.where(active, np.maximum(orders, 0.0), 0.0)
    n_suppliers = len(capacity)
    if priority is None:
        priority = np.zeros(len(orders), dtype=np.int64)
    n_classes = int(priority.max()) + 1 if len(priority) else 1
    caps = np.ones(n_classes) if class_caps is None else np.asarray(class_caps, dtype=float)
    if len(caps) < n_classes:
        caps = np.concatenate([caps, np.ones(n_classes - len(caps))])
    caps = caps.copy()
    caps[n_classes - 1] = 1.0

    used = np.zeros(n_suppliers)
    flow = np.zeros(len(orders))
    for k in range(n_classes):
        competing = np.where(priority <= k, remaining_order, 0.0)
        wanted = np.bincount(edge_supplier, weights=competing, minlength=n_suppliers)
        available = np.maximum(caps[k] * capacity - used, 0.0)
        ratio = np.divide(
            np.minimum(available, wanted), wanted, out=np.zeros(n_suppliers), where=wanted > 0
        )
        granted = competing * ratio[edge_supplier]
        flow += granted
        remaining_order -= granted
        used += np.bincount(edge_supplier, weights=granted, minlength=n_suppliers)
    # Floating-point rounding can leave a hair over an order; never exceed it.
    return np.minimum(flow, np.where(active, np.maximum(orders, 0.0), 0.0))


def reference_split_orders(
    demand: np.ndarray,
    edge_group: np.ndarray,
    weights: np.ndarray,
    active: np.ndarray,
) -> np.ndarray:
    w = np.where(active, np.maximum(weights, 0.0), 0.0)
    group_total = np.bincount(edge_group, weights=w, minlength=len(demand))[edge_group]
    share = np.divide(w, group_total, out=np.zeros(len(w)), where=group_total > 0)
    return share * demand[edge_group]


def reference_blended_yields(cumulative, capacity, start, ceilings, half_life, preferred_route):
    by_route = np.stack([learned_yield(cumulative, start, ceilings[:, r], half_life[:, None])
                         for r in range(len(ROUTES))], axis=1)
    weight = capacity.sum(axis=3).transpose(0, 2, 1)
    total = weight[:, 0] + weight[:, 1]
    fallback = np.take_along_axis(by_route, preferred_route[:, None, :], axis=1)[:, 0]
    blended = by_route[:, 0] * weight[:, 0] + by_route[:, 1] * weight[:, 1]
    return np.divide(blended, total, out=fallback.copy(), where=total > 0)


class ReferenceFoundry(Foundry):
    """Foundry with the decisions as written before the speed work (numpy scalars,
    generator expressions, (category, tier) dicts)."""

    def plan_tool_orders(
        self, quarter: int, bill, unit_price: dict[str, float], headroom: float, depreciation: float,
        reachable: np.ndarray | None = None, repurpose_share: float = 0.0, tier_totals=None,
    ) -> ToolOrder:
        lag = self.pipeline.shape[0]
        headroom = self.target_headroom(headroom)
        capacity, in_pipeline = tier_totals if tier_totals is not None else self.tier_totals()
        forecast, runs, ready = self.forecast.tolist(), self.has_tier.tolist(), self.ready.tolist()
        units: dict[tuple[str, str], float] = {}
        for i, tier in enumerate(TIERS):
            name = TIER_NAMES[i]
            if not runs[i] or quarter + lag + 1 < ready[i]:
                continue
            will_have = capacity[i] * (1 - depreciation) ** (lag + 1) + in_pipeline[i]
            gap = forecast[i] * (1 + headroom[i]) - will_have
            if gap <= 0:
                continue
            for category, per_wafer in bill(tier, self.route[i]).items():
                held = self.inventory[CATEGORY_INDEX[category], i]
                stocked = held[0] + held[1]
                need = gap * per_wafer - stocked
                if need > 0:
                    units[(category, name)] = need
        if reachable is not None and repurpose_share > 0:
            units = self._route_around(units, reachable, repurpose_share)
        cost = tool_cost_usd_m(units, unit_price)
        budget = self.capex_ratio * self.wafer_revenue_usd_m + self.subsidy_usd_m
        scale = min(1.0, budget / cost) if cost > 0 else 0.0
        return ToolOrder(self.name, {k: v * scale for k, v in units.items() if v * scale > 0})

    def _route_around(self, units: dict, reachable: np.ndarray, repurpose_share: float) -> dict:
        routed: dict[tuple[str, str], float] = {}
        for (category, tier_name), need in units.items():
            c, t = CATEGORY_INDEX[category], TIER_INDEX[tier_name]
            if reachable[c, t]:
                routed[(category, tier_name)] = routed.get((category, tier_name), 0.0) + need
                continue
            older = next((o for o in range(t + 1, len(TIERS)) if self.has_tier[o] and reachable[c, o]), None)
            if older is not None:
                key = (category, TIERS[older].value)
                routed[key] = routed.get(key, 0.0) + repurpose_share * need
        return routed

    def plan_installation(self, quarter: int, bill, headroom: float, repurpose_share: float,
                          tier_totals=None, stock=None, install_rate: float = 0.0) -> Installation:
        additions: dict[tuple[str, str], float] = {}
        uses: dict[tuple[str, str, str], float] = {}
        held = (self.inventory[:, :, 0] + self.inventory[:, :, 1]).tolist()
        stock = {(c, t): held[i][j] for i, c in enumerate(CATEGORY_NAMES) for j, t in enumerate(TIER_NAMES)}
        lag = self.pipeline.shape[0]
        headroom = self.target_headroom(headroom)
        capacity, in_pipeline = tier_totals if tier_totals is not None else self.tier_totals()
        forecast, runs, ready = self.forecast.tolist(), self.has_tier.tolist(), self.ready.tolist()
        room = install_rate * sum(capacity) if install_rate > 0 and sum(capacity) > 0 else math.inf
        for i, tier in enumerate(TIERS):
            if not runs[i] or quarter < ready[i] - lag:
                continue
            here = TIER_NAMES[i]
            older = TIER_NAMES[i + 1:]
            gap = max(0.0, forecast[i] * (1 + headroom[i]) - capacity[i] - in_pipeline[i])
            routes = [self.route[i]] + [r for r in ROUTES if r != self.route[i]]
            for route in routes:
                need = bill(tier, route)
                if not need or (route == "euv" and EUV not in need):
                    continue
                own = min(stock.get((c, here), 0.0) / u for c, u in need.items() if u > 0)
                spare = {c: repurpose_share * sum(stock.get((c, t), 0.0) for t in older) for c in need}
                reach = min((stock.get((c, here), 0.0) + spare[c]) / u for c, u in need.items() if u > 0)
                wafers = min(max(own, min(reach, max(gap, own))), room)
                if wafers <= 1e-9:
                    continue
                room -= wafers
                additions[(here, route)] = additions.get((here, route), 0.0) + wafers
                gap = max(0.0, gap - wafers)
                for c, u in need.items():
                    wanted = wafers * u
                    from_own = min(wanted, stock.get((c, here), 0.0))
                    self._take(stock, uses, c, here, here, from_own)
                    rest = wanted - from_own
                    pool = sum(stock.get((c, t), 0.0) for t in older)
                    for t in older:
                        if rest > 1e-12 and pool > 0:
                            self._take(stock, uses, c, t, here, rest * stock.get((c, t), 0.0) / pool)
        return Installation(self.name, additions, uses)

    @staticmethod
    def _take(stock, uses, category: str, stock_tier: str, use_tier: str, units: float) -> None:
        if units <= 0:
            return
        stock[(category, stock_tier)] -= units
        key = (category, stock_tier, use_tier)
        uses[key] = uses.get(key, 0.0) + units

    # ------------------------------------------------------- own state updates
    def install(self, plan: Installation) -> None:
        origin_share: dict[str, list[float]] = {}
        for (category, stock_tier, use_tier), used in plan.uses.items():
            stock = self.inventory[CATEGORY_INDEX[category], TIER_INDEX[stock_tier]]
            total = stock[0] + stock[1]
            if total <= 0:
                continue
            if category in LITHOGRAPHY_NAMES:
                before = origin_share.get(use_tier, (0.0, 0.0))
                origin_share[use_tier] = [before[0] + stock[0] / total * used, before[1] + stock[1] / total * used]
            kept = 1 - used / total
            stock[0], stock[1] = max(stock[0] * kept, 0.0), max(stock[1] * kept, 0.0)
        for (tier, route), wafers in plan.additions.items():
            share = origin_share.get(tier)
            whole = share[0] + share[1] if share else 0.0
            share = np.array([share[0] / whole, share[1] / whole]) if whole > 0 else np.array([1.0, 0.0])
            self.pipeline[-1, TIER_INDEX[tier], ROUTES.index(route)] += wafers * share



# ------------------------------------------------------------------ the kernels
def _orders(rng, n_edges):
    orders = rng.random(n_edges) * 10.0 ** rng.uniform(-3, 4, n_edges)
    orders[rng.random(n_edges) < 0.2] = 0.0
    orders[rng.random(n_edges) < 0.1] = -0.0
    return orders


@settings(max_examples=80, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(1, 3), st.booleans())
def test_clear_is_the_round_by_round_rule_bit_for_bit(seed, n_classes, everyone_low):
    rng = np.random.default_rng(seed)
    n_suppliers, n_edges = 6, 60
    supplier = rng.integers(0, n_suppliers, n_edges)
    capacity = rng.random(n_suppliers) * 100.0
    orders, active = _orders(rng, n_edges), rng.random(n_edges) < 0.8
    # classes may start above 0 (no champion edge: round 0 has nobody)
    priority = rng.integers(0 if everyone_low else 1, n_classes + 1, n_edges)
    caps = rng.random(n_classes + 1)
    expected = reference_clear(capacity, orders, supplier, active, priority, caps)
    assert bits(clear(capacity, orders, supplier, active, priority, caps)) == bits(expected)
    assert bits(clear(capacity, orders, supplier, active)) == bits(reference_clear(capacity, orders, supplier, active))


@settings(max_examples=80, deadline=None)
@given(st.integers(0, 2**32 - 1))
def test_split_orders_is_the_masked_share_rule_bit_for_bit(seed):
    rng = np.random.default_rng(seed)
    n_groups, n_edges = 9, 70
    group = rng.integers(0, n_groups, n_edges)
    weights = rng.normal(size=n_edges) * 10.0 ** rng.uniform(-3, 3, n_edges)
    weights[rng.random(n_edges) < 0.1] = -0.0
    active, demand = rng.random(n_edges) < 0.7, rng.random(n_groups) * 100.0
    assert bits(split_orders(demand, group, weights, active)) == bits(
        reference_split_orders(demand, group, weights, active))


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**32 - 1))
def test_derisk_changes_only_the_relations_hit(seed):
    rng = np.random.default_rng(seed)
    base = rng.random(50)
    base[:5] = -0.0
    relation, hit = rng.random(50) < 0.5, rng.random(50) < 0.5
    expected = np.where(hit & relation, base * 1.7, base)
    assert bits(derisk_preferences(base, relation, hit, 1.7)) == bits(expected)
    assert bits(derisk_preferences(base, relation, np.True_, 0.5)) == bits(np.where(relation, base * 0.5, base))
    got = derisk_preferences(base, relation, hit, 1.7, out=base)  # in place: the same figures
    assert got is base and bits(got) == bits(expected)


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(1, 30))
def test_blended_yields_are_each_routes_curve_weighted_bit_for_bit(seed, n):
    rng = np.random.default_rng(seed)
    cumulative = rng.random((n, 5)) * 10.0 ** rng.uniform(0, 7, (n, 5))
    capacity = rng.random((n, 5, 2, 2)) * 1000.0 * (rng.random((n, 5, 2, 2)) < 0.6)
    ceilings, half_life = rng.uniform(0.5, 0.95, (n, 2, 5)), rng.uniform(1e3, 1e6, n)
    route = rng.integers(0, 2, (n, 5))
    assert bits(blended_yields(cumulative, capacity, 0.3, ceilings, half_life, route)) == bits(
        reference_blended_yields(cumulative, capacity, 0.3, ceilings, half_life, route))


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**32 - 1), st.floats(0.0, 1.0))
def test_adapt_preferences_is_the_partial_adjustment_rule_bit_for_bit(seed, rate):
    rng = np.random.default_rng(seed)
    weights, base, quality = rng.random(60), rng.random(60) * 3.0, rng.uniform(0.5, 1.0, 60)
    fill, active = rng.random(60) * 1.2, rng.random(60) < 0.8
    weights[:4], base[4:8] = -0.0, 0.0
    expected = np.where(active, (1.0 - rate) * weights + rate * (base * np.maximum(fill, 0.2) * quality), 0.0)
    before = fill.copy()
    assert bits(adapt_preferences(weights, base, fill, quality, active, rate)) == bits(expected)
    assert bits(fill) == bits(before)  # its inputs are left alone
    got = adapt_preferences(weights, base, fill, quality, active, rate, out=weights, work=fill)  # in place
    assert got is weights and bits(got) == bits(expected)


# ------------------------------------------------------------ the foundries
def _randomise(foundry: Foundry, rng) -> None:
    """A state a foundry may be in: stock of every kind, some empty; forecasts above
    and below capacity; part of the capacity domestic."""
    shape = foundry.inventory.shape
    foundry.inventory[...] = rng.random(shape) * 10.0 ** rng.uniform(0, 3, shape) * (rng.random(shape) < 0.7)
    foundry.capacity[...] *= rng.uniform(0.5, 1.5, foundry.capacity.shape)
    foundry.capacity[..., 1] = foundry.capacity[..., 0] * rng.random(foundry.capacity.shape[:-1])
    foundry.pipeline[...] = rng.random(foundry.pipeline.shape) * 50.0
    foundry.forecast[...] = foundry.capacity_by_tier * rng.uniform(0.5, 1.6, len(TIERS)) + rng.random(len(TIERS)) * 100
    foundry.build_ahead = np.full(len(TIERS), float(rng.choice([0.0, 0.1])))
    foundry.wafer_revenue_usd_m, foundry.subsidy_usd_m = float(rng.random() * 2000.0), float(rng.random() * 100.0)
    foundry.revenue_usd_m = foundry.wafer_revenue_usd_m * float(rng.uniform(1.0, 1.2))  # with any packaging


def _decide(foundry: Foundry, cls, model, quarter, repurpose, reachable, install_rate=0.0):
    """(plan, inventory and pipeline after installing it, tool order) of `foundry`
    decided by the methods of `cls`, from the state it has now (left unchanged)."""
    saved = foundry.inventory.copy(), foundry.pipeline.copy()
    foundry.__class__ = cls
    try:
        plan = foundry.plan_installation(quarter, model.bill, model.headroom, repurpose, install_rate=install_rate)
        foundry.install(plan)
        after = foundry.inventory.copy(), foundry.pipeline.copy()
        order = foundry.plan_tool_orders(quarter, model.bill, model.tool_price, model.headroom, model.depreciation,
                                         reachable, repurpose)
    finally:
        foundry.__class__ = Foundry
        foundry.inventory[...], foundry.pipeline[...] = saved
    return bits((plan.additions, plan.uses, after, order.units))


@pytest.mark.skipif(sys.version_info[:2] != (3, 11), reason="bit for bit under Python 3.11, where "
                    "the pins were made; 3.12's compensated sum() moves the last bit of Python float sums")
@settings(max_examples=25, deadline=None)
@given(st.integers(0, 2**32 - 1), st.sampled_from([0.0, 0.25, 1.0]), st.sampled_from([0.0, 0.02, 0.06]))
def test_a_foundrys_decisions_are_those_of_the_numpy_scalar_form(seed, repurpose, install_rate):
    rng = np.random.default_rng(seed)
    model = ChipMarketModel(scenario="historical", rng=1)
    quarter = model.quarter_number + int(rng.integers(0, 30))
    for foundry in model.foundries:
        _randomise(foundry, rng)
        reachable = rng.random((len(CATEGORY_NAMES), len(TIERS))) < 0.7
        assert _decide(foundry, Foundry, model, quarter, repurpose, reachable, install_rate) == _decide(
            foundry, ReferenceFoundry, model, quarter, repurpose, reachable, install_rate)


def test_fleet_prices_and_learning_are_each_foundrys_own():
    model = ChipMarketModel(scenario="historical", rng=3)
    rng = np.random.default_rng(3)
    fleet, foundries = model.fleet, model.foundries
    orders = fleet.capacity_by_tier() * rng.uniform(0.0, 2.0, (len(foundries), len(TIERS)))
    model.step()  # the books hold a quarter's costs
    books, shares = fleet.books, costs.tier_shares(fleet.capacity_by_tier())
    expected = []
    for i, f in enumerate(foundries):  # each foundry's own rule, on a copy of its state
        saved, f.orders = (f.price.copy(), f.orders), orders[i]
        f.set_prices(books.unit_cost[i], books.variable[i], shares[i], books.rules, 0.2)
        expected.append(f.price.copy())
        f.price[...], f.orders = saved
    produced = rng.random((len(foundries), len(TIERS))) * 1000.0
    learnt = [f.cumulative_wafers + produced[i] for i, f in enumerate(foundries)]
    fleet.set_prices(orders, 0.2)
    fleet.learn(produced)
    assert bits([f.price for f in foundries]) == bits(expected)
    assert bits([f.cumulative_wafers for f in foundries]) == bits(learnt)
    assert bits(fleet.yields()) == bits(np.array([f.yields() for f in foundries]))


# ---------------------------------------------------------------- rule matching
def test_rules_match_the_same_edges_per_agent_as_per_edge():
    """matching_edges over an EdgeSides (per agent, then gathered) cuts exactly the edges
    it cuts over plain per-edge arrays, for every rule of the scenario and variants
    (named suppliers, with and without the foreign direct product rule)."""
    model = ChipMarketModel(scenario="escalation", rng=2, synthetic_firms=300, synthetic_foundries=3,
                            synthetic_vendors=2)
    rules = [r for g in model.governments for r in g.rules if r.kind in ("wafers", "tools")]
    assert rules
    variants = []
    for rule in rules:
        variants += [rule, rule.model_copy(update={"foreign_direct_product": not rule.foreign_direct_product}),
                     rule.model_copy(update={"suppliers": (model.foundries[0].name, model.vendors[0].name)}),
                     rule.model_copy(update={"targets": ("country:CN", model.firms[0].name)})]
    for rule in variants:
        edges = getattr(model.trade, rule.kind)
        sides = model.sides[edges.kind]
        plain = {key: sides[key] for key in sides}  # a dict: the per-edge form
        issuer = issuer_country(rule.issuer, model.government_country)
        assert matching_edges(rule, edges, sides, issuer).tolist() == matching_edges(rule, edges, plain, issuer).tolist()


@settings(max_examples=60, deadline=None)
@given(st.one_of(st.floats(-1.0, 7.0), st.sampled_from([0.0, 1.0, 1.0 + 1e-10, 1.0 - 1e-10, 4.0, 5.0, 5.0 - 1e-12])))
def test_a_vendor_serves_the_tiers_its_progress_enables(progress):
    from agents.vendor import EquipmentVendor, enables

    vendor = EquipmentVendor.__new__(EquipmentVendor)  # only its progress is read
    vendor.progress = {"euv": progress}
    assert vendor.serves("euv") == [enables(progress, t) for t in range(len(TIERS))]


# ------------------------------------------- the sparse wafer market (issue 11)
from unittest.mock import patch  # noqa: E402

import model.market as market_kernels  # noqa: E402


def _specials(rng, n):
    """Values with the corner cases a skipped zero must not hide: signed zeros,
    negatives, inf and NaN among ordinary numbers."""
    x = rng.random(n) * 10.0 ** rng.uniform(-3, 3, n)
    pick = rng.random(n)
    x[pick < 0.15] = 0.0
    x[(pick >= 0.15) & (pick < 0.25)] = -0.0
    x[(pick >= 0.25) & (pick < 0.3)] = -1.0
    x[(pick >= 0.3) & (pick < 0.32)] = np.inf
    x[(pick >= 0.32) & (pick < 0.34)] = np.nan
    return x


@settings(max_examples=80, deadline=None)
@given(st.integers(0, 2**32 - 1), st.booleans())
def test_split_orders_over_live_edges_is_the_masked_rule_even_with_odd_demand(seed, odd):
    """The split over the live edges (or its dense fall-back) equals the masked rule,
    bit for bit, with NaN, inf, negative and signed-zero weights and demands."""
    rng = np.random.default_rng(seed)
    n_groups, n_edges = 9, 80
    group = rng.integers(0, n_groups, n_edges)
    weights, active = _specials(rng, n_edges), rng.random(n_edges) < 0.7
    demand = _specials(rng, n_groups) if odd else rng.random(n_groups) * 100.0
    with np.errstate(all="ignore"):
        expected = reference_split_orders(demand, group, weights, active)
        for smallest in (0, 10**9):  # the sparse form (any size) and the dense one
            with patch.object(market_kernels, "SPARSE_MIN_EDGES", smallest):
                assert bits(split_orders(demand, group, weights, active)) == bits(expected)


@settings(max_examples=80, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(1, 3))
def test_clear_over_the_ordered_edges_is_the_round_by_round_rule_with_odd_orders(seed, n_classes):
    """Clearing over the edges with an order equals the round-by-round rule over every
    edge, NaN and inf orders or capacities included (they take the dense rerun)."""
    rng = np.random.default_rng(seed)
    n_suppliers, n_edges = 5, 60
    supplier = rng.integers(0, n_suppliers, n_edges)
    capacity = _specials(rng, n_suppliers) if rng.random() < 0.5 else rng.random(n_suppliers) * 100.0
    orders, active = _specials(rng, n_edges), rng.random(n_edges) < 0.8
    priority = rng.integers(0, n_classes + 1, n_edges)
    caps = rng.random(n_classes + 1)
    with np.errstate(all="ignore"):
        expected = reference_clear(capacity, orders, supplier, active, priority, caps)
        for smallest in (0, 10**9):  # the sparse form (any size) and the dense one
            with patch.object(market_kernels, "SPARSE_MIN_EDGES", smallest):
                assert bits(clear(capacity, orders, supplier, active, priority, caps)) == bits(expected)


def reference_fall_back(demand, demand_ai, reach):
    """fall_back as it was written, on the (firms, tiers) columns."""
    n = demand.shape[1]
    routed, routed_ai = demand.copy(), demand_ai.copy()
    fallback = np.zeros(len(demand))
    for t in range(n - 1):
        spill = np.maximum(routed[:, t] - reach[:, t], 0.0)
        share = np.divide(spill, routed[:, t], out=np.zeros_like(spill), where=routed[:, t] > 0)
        fallback += spill
        routed[:, t + 1] += spill
        routed_ai[:, t + 1] += routed_ai[:, t] * share
        routed[:, t] -= spill
        routed_ai[:, t] -= routed_ai[:, t] * share
    return routed, routed_ai, fallback


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(1, 40))
def test_fall_back_on_tier_rows_is_the_column_rule_bit_for_bit(seed, n_firms):
    from agents.fabless import fall_back

    rng = np.random.default_rng(seed)
    demand = rng.random((n_firms, 5)) * 100.0 * (rng.random((n_firms, 5)) < 0.7)
    demand_ai = demand * rng.random((n_firms, 5))
    reach = np.where(rng.random((n_firms, 5)) < 0.3, np.inf, rng.random((n_firms, 5)) * 80.0)
    assert bits(fall_back(demand, demand_ai, reach)) == bits(reference_fall_back(demand, demand_ai, reach))
    # Fresh sums (no -0.0): passing quiet tiers over changes no bit, infinite AI figures included.
    demand[:, 0] = np.where(rng.random(n_firms) < 0.5, 0.0, demand[:, 0])
    demand_ai[rng.random((n_firms, 5)) < 0.05] = np.inf
    reach[:, :2] = np.inf  # the first tiers quiet
    with np.errstate(invalid="ignore"):  # inf x 0.0 is NaN in both forms
        assert bits(fall_back(demand, demand_ai, reach, fresh=True)) == bits(fall_back(demand, demand_ai, reach))


def test_the_sectors_demand_and_forecast_in_one_call_are_the_two_calls():
    """One stream_demand over the streams taken twice (a quarter and a cycle per
    stream) gives, to the last bit, this quarter's demand and the forecast."""
    model = ChipMarketModel(scenario="historical", rng=5, synthetic_firms=200, synthetic_foundries=2,
                            synthetic_vendors=1)
    sector, m = model.sector, model.sector.n_firms
    for quarter in (model.first_quarter, parse_quarter("2022Q3"), parse_quarter("2026Q2")):
        shocks = np.random.default_rng(quarter).lognormal(0.0, 0.1, m)
        total, ai = sector._demand_and_forecast(quarter, quarter + 5, 0.4, 0.1, 0.93, shocks)
        demand, demand_ai = sector.demand(quarter, 0.4, 0.1, 0.93, shocks)
        forecast, _ = sector.demand(quarter + 5, 0.4, 0.1, 1.0, np.ones(m))
        assert bits(total) == bits(np.concatenate([demand, forecast])) and bits(ai[:m]) == bits(demand_ai)


def test_segment_sums_reuse_their_buffer_without_stale_values():
    from model.graph import Segments

    rng = np.random.default_rng(3)
    group = rng.integers(0, 4, 50)
    segments = Segments(group, 4)
    for _ in range(3):
        values = rng.random(50)
        assert bits(segments.sums(values)) == bits(np.array([values[group == g].sum() for g in range(4)]))


def test_the_sectors_countries_per_cell_and_firm_are_each_relations():
    model = ChipMarketModel(scenario="historical", rng=5, synthetic_firms=200, synthetic_foundries=2,
                            synthetic_vendors=1)
    rel = model.sector.relations
    seller_country, firm_country = model.sector._countries()
    assert (seller_country[rel.seller] == rel.supplier_country).all()
    assert (firm_country[rel.buyer] == rel.buyer_country).all()


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(1, 70), st.sampled_from([0, 5, 40, 400]))
def test_segment_sums_are_each_groups_numpy_sum(seed, n_groups, mean_size):
    """Per group, the padded `reduceat` of Segments is the group's `sum()` to the last
    bit: empty groups, a mask, signed zeros, infinities, and groups long enough for
    numpy's pairwise blocks (over 8 and over 128 values)."""
    from model.graph import Segments

    rng = np.random.default_rng(seed)
    n = int(rng.integers(0, 2 * mean_size * n_groups + 2))
    group = np.sort(rng.integers(0, n_groups, n)) if seed % 2 else rng.integers(0, n_groups, n)
    mask = rng.random(n) < 0.6 if seed % 3 else None
    values = rng.standard_normal(n) * 10.0 ** rng.integers(-8, 12, n)
    values[rng.random(n) < 0.2] = 0.0
    values[rng.random(n) < 0.1] = -0.0
    if seed % 5 == 0 and n:
        values[rng.integers(0, n)] = np.inf
    chosen = np.ones(n, dtype=bool) if mask is None else mask
    expected = np.array([values[(group == g) & chosen].sum() for g in range(n_groups)])
    segments = Segments(group, n_groups, mask)
    assert bits(segments.sums(values)) == bits(expected)
    assert bits(segments.sums(values[::-1].copy())) == bits(
        np.array([values[::-1][(group == g) & chosen].sum() for g in range(n_groups)]))


def reference_stream_demand(streams, n_firms, quarter, origin, ai_growth, cycle, shock, ai_fade=0.0):
    """`stream_demand` as it was computed whole on each call (before StreamGrowth)."""
    from agents.fabless import AI_BOOM_QUARTER, ai_boom_log_growth

    n = len(TIERS)
    began = np.maximum(streams.start, origin)
    until = np.minimum(quarter, streams.peak)
    grown = streams.wafers * (1 + streams.growth) ** ((until - began) / 4)
    boom = until > AI_BOOM_QUARTER
    if boom.any():
        before = np.maximum(0, AI_BOOM_QUARTER - began)
        joined = np.maximum(AI_BOOM_QUARTER, began) - AI_BOOM_QUARTER
        boom_path = (ai_boom_log_growth(until - AI_BOOM_QUARTER, ai_growth, ai_fade)
                     - ai_boom_log_growth(joined, ai_growth, ai_fade))
        boomed = streams.wafers * (1 + streams.growth) ** (before / 4) * np.exp(boom_path)
        grown = np.where(streams.ai & boom, boomed, grown)
    grown = grown * (1 + streams.decline) ** (np.maximum(0, quarter - streams.peak) / 4)
    own = np.asarray(shock, dtype=float)[streams.firm]
    value = grown * np.where(streams.ai, own, own * cycle)
    value = np.where(quarter >= streams.start, value, 0.0)
    cell = streams.firm * n + streams.tier
    total = np.bincount(cell, weights=value, minlength=n_firms * n).reshape(n_firms, n)
    ai = np.bincount(cell, weights=np.where(streams.ai, value, 0.0), minlength=n_firms * n).reshape(n_firms, n)
    return total, ai


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**32 - 1), st.floats(0.0, 3.0), st.floats(0.0, 0.9), st.booleans())
def test_stream_demand_with_the_boom_table_is_the_whole_rule_bit_for_bit(seed, growth, fade, per_stream):
    """StreamGrowth's fixed parts and table of the boom's log multiplier give, to the
    last bit, what computing every figure on each call gave; so does the sector's
    demand over quarters it keeps."""
    from agents.fabless import DemandStreams, FablessSector, Relations, stream_demand

    rng = np.random.default_rng(seed)
    n_firms, k = int(rng.integers(1, 8)), int(rng.integers(1, 30))
    origin = parse_quarter("2019Q1")
    streams = DemandStreams(
        firm=rng.integers(0, n_firms, k), tier=rng.integers(0, 5, k), wafers=rng.random(k) * 1e4,
        growth=rng.random(k) - 0.2, ai=rng.random(k) < 0.5,
        start=np.where(rng.random(k) < 0.5, -(10**6), origin + rng.integers(-8, 40, k)),
        peak=np.where(rng.random(k) < 0.5, 10**6, origin + rng.integers(0, 60, k)), decline=-rng.random(k) * 0.3)
    shock = rng.lognormal(0.0, 0.1, n_firms)
    quarters = [origin + int(q) for q in rng.integers(0, 60, 6)]
    if per_stream:
        quarters = [origin + rng.integers(0, 60, k) for _ in range(3)]
    for quarter in quarters:
        cycle = np.where(rng.random(k) < 0.5, 0.9, 1.1) if per_stream else 0.93
        got = stream_demand(streams, n_firms, quarter, origin, growth, cycle, shock, fade)
        assert bits(got) == bits(reference_stream_demand(streams, n_firms, quarter, origin, growth, cycle, shock,
                                                         fade))
    empty = np.zeros(0, dtype=np.int64)
    sector = FablessSector(streams, n_firms, Relations(empty, empty, empty, empty, empty, empty, np.zeros(0)),
                           np.zeros(0), origin)
    for quarter in [origin + int(q) for q in rng.integers(0, 60, 20)]:  # repeats read kept quarters
        got = sector.demand(quarter, growth, fade, 0.95, shock)
        assert bits(got) == bits(reference_stream_demand(streams, n_firms, quarter, origin, growth, 0.95, shock,
                                                         fade))


# ------------------------------------------------- rule matching tables, the ledger
def test_tier_position_and_category_table_are_tier_from_and_isin():
    """tier_position is tier_from(...).index for values, names and members; a category
    table gathered by the edges' categories is np.isin over the named categories."""
    from model.policy import category_table, tier_position
    from model.technology import Tier, tier_from

    for tier in Tier:
        for value in (tier, tier.value, tier.name, tier.name.lower()):
            assert tier_position(value) == tier_from(value).index
    with pytest.raises(ValueError):
        tier_position("3nm")
    rng = np.random.default_rng(5)
    category = rng.integers(0, len(CATEGORY_NAMES), 500)
    for k in range(len(CATEGORY_NAMES) + 1):
        tools = tuple(rng.choice(CATEGORY_NAMES, k, replace=False))
        wanted = [CATEGORY_INDEX[t] for t in tools]
        assert category_table(tools)[category].tolist() == np.isin(category, wanted).tolist()
    with pytest.raises(KeyError):
        category_table(("lasers",))


def test_a_rule_matched_at_another_tier_is_its_copy_with_that_tier():
    """matching_edges(..., tier=t) is matching_edges of the rule copied with tier t (what
    an announced tools rule is matched as), for every rule and tier."""
    model = ChipMarketModel(scenario="escalation", rng=2, synthetic_firms=100, synthetic_foundries=2)
    rules = [r for g in model.governments for r in g.rules if r.kind in ("wafers", "tools")]
    assert rules
    for rule in rules:
        edges = getattr(model.trade, rule.kind)
        issuer = issuer_country(rule.issuer, model.government_country)
        for tier in TIER_NAMES:
            copied = rule.model_copy(update={"tier": tier})
            want = matching_edges(copied, edges, model.sides[edges.kind], issuer)
            assert matching_edges(rule, edges, model.sides[edges.kind], issuer, tier).tolist() == want.tolist()


def test_the_ledger_rows_and_frame_are_those_of_a_dict_per_edge_key():
    """Ledger.log_edges writes a row per edge named by its EdgeKeys key, in the order
    given (a list or an index array), and frame() is the frame of a dict per row (the
    empty ledger's too: object columns)."""
    import pandas as pd

    from model.ledger import LEDGER_COLUMNS, Ledger

    model = ChipMarketModel(scenario="historical", rng=3)
    assert Ledger().frame().dtypes.tolist() == pd.DataFrame([], columns=LEDGER_COLUMNS).dtypes.tolist()
    assert Ledger().frame().equals(pd.DataFrame([], columns=LEDGER_COLUMNS))
    ledger, expected = Ledger(), []
    rng = np.random.default_rng(1)
    for s, edges in enumerate((model.trade.wafers, model.trade.tools) * 2):
        at = rng.choice(len(edges), 7, replace=False)
        indices = at if s < 2 else at.tolist()
        ledger.log_edges(s, "2020Q1", "cut", f"r{s}", edges, indices, "note")
        ledger.log_edges(s, "2020Q1", "cut", f"r{s}", edges, [], "nothing")
        keys = edges.keys
        expected += [dict(step=s, quarter="2020Q1", action="cut", rule=f"r{s}", supplier=keys[i][0],
                          buyer=keys[i][1], item=keys[i][2], note="note") for i in indices]
        ledger.log(s, "2020Q2", "directive", "d", "SMIC", "x", "advanced tiers", "")
        expected.append(dict(step=s, quarter="2020Q2", action="directive", rule="d", supplier="SMIC", buyer="x",
                             item="advanced tiers", note=""))
    assert list(ledger) == expected and len(ledger) == len(expected)
    got, want = ledger.frame(), pd.DataFrame(expected, columns=LEDGER_COLUMNS)
    assert got.equals(want) and got.dtypes.tolist() == want.dtypes.tolist()


def reference_base_preferences(model, wafers):
    """The per-model pass over the firms' specs that `preference_table` replaced."""
    from model.technology import TIER_INDEX as tier_index

    n_tiers, n_foundries = len(TIERS), len(model.foundries)
    codes, weights, specific = [], [], []
    for j, spec in enumerate(model.world.firms):
        default = spec.suppliers
        by_tier = {}
        for s in spec.demand:
            by_tier.setdefault(s.tier, {}).update(s.suppliers or default)
        for slot, prefs in ((0, default), *((tier_index[t] + 1, p) for t, p in by_tier.items())):
            if slot:
                specific.append(j * n_tiers + slot - 1)
            first = (j * (n_tiers + 1) + slot) * n_foundries
            for name, weight in prefs.items():
                i = model.foundry_index.get(name)
                if i is not None:
                    codes.append(first + i)
                    weights.append(float(weight))
    tier_specific = np.zeros(len(model.firms) * n_tiers, dtype=bool)
    tier_specific[specific] = True
    tier_specific = tier_specific.reshape(-1, n_tiers)
    codes, weights = np.array(codes, dtype=np.int64), np.array(weights, dtype=float)
    order = np.argsort(codes, kind="stable")
    codes, weights = codes[order], weights[order]
    slot = np.where(tier_specific[wafers.buyer, wafers.tier], wafers.tier + 1, 0)
    wanted = (wafers.buyer * (n_tiers + 1) + slot) * n_foundries + wafers.supplier
    at = np.minimum(np.searchsorted(codes, wanted), max(len(codes) - 1, 0))
    found = (codes[at] == wanted) if len(codes) else np.zeros(len(wanted), dtype=bool)
    base = np.where(found, weights[at] if len(codes) else 0.0, 0.0)
    if model.parameters.foundry_preference:
        scale = np.array([model.parameters.foundry_preference.get(f.name, 1.0) for f in model.foundries])
        base = base * scale[wafers.supplier]
    return base


@pytest.mark.parametrize("kw", [dict(scenario="historical", rng=1),
                                dict(scenario="escalation", rng=4, synthetic_firms=80, synthetic_foundries=3,
                                     synthetic_vendors=2, foundry_preference={"TSMC": 1.5})])
def test_world_tables_give_the_per_model_tool_edges_and_preferences(kw):
    """Set-up from the world's kept tables (`world_tables`: bills, category use, supplier
    weights) and one nonzero over the vendors' (vendor, category) pairs gives the tool
    edges of the per-vendor loop, in its order, and the base preferences of the
    per-model pass; a second model on the same world reads the same tables."""
    from model.build import _base_preferences, tool_buyer_relations, world_tables

    for _ in range(2):
        model = ChipMarketModel(**kw)
        tables = world_tables(model.world)
        assert world_tables(model.world) is tables and not tables.uses.flags.writeable
        assert model.bills == {(t, r): model.world.bill(t, r) for t in TIERS for r in ("euv", "duv")}
        assert all(model.bills[k] is not tables.bills[k] for k in model.bills)  # the model's own copies
        has_tier = np.array([f.has_tier for f in model.foundries]).reshape(len(model.foundries), len(TIERS))
        columns = [[], [], [], []]
        for v, vendor in enumerate(model.vendors):
            for c_name in vendor.output:
                c = CATEGORY_INDEX[c_name]
                uses = [any(c_name in model.bills[(t, r)] for r in ("euv", "duv")) for t in TIERS]
                foundry, t = np.nonzero(has_tier & np.array(uses))
                for col, values in zip(columns, (np.full(len(t), v), foundry, t, np.full(len(t), c))):
                    col.append(values)
        tools = model.trade.tools
        n_foundry_edges = int(model.foundry_tool_edges.sum())
        assert model.foundry_tool_edges[:n_foundry_edges].all()  # the foundries' edges come first
        fabs = tool_buyer_relations(model)  # then the other fabs' (memory makers', IDMs')
        for got, col, fab in zip((tools.supplier, tools.buyer, tools.tier, tools.category), columns, fabs):
            want = np.concatenate([np.zeros(0, dtype=np.int64), *col]).astype(np.int64)
            assert got.dtype == want.dtype and got[:n_foundry_edges].tolist() == want.tolist()
            assert got[n_foundry_edges:].tolist() == fab.tolist()
        wafers = model.trade.wafers
        assert bits(_base_preferences(model, wafers, tables)) == bits(reference_base_preferences(model, wafers))


def test_kept_scenarios_follow_a_link_turned_to_another_file(tmp_path):
    """The file caches' stamps (one stat: device, inode, mtime, size) tell which file a
    path reaches: a link turned to another file is read again, with the same mtime."""
    import os
    import shutil

    from model.scenario import SCENARIO_DIR, load_scenario

    a, b, link = tmp_path / "a.toml", tmp_path / "b.toml", tmp_path / "link.toml"
    shutil.copy(SCENARIO_DIR / "historical.toml", a)
    b.write_text(a.read_text().replace('name = "historical"', 'name = "other"', 1))
    os.utime(a, ns=(1, 1))
    os.utime(b, ns=(1, 1))
    link.symlink_to(a)
    assert load_scenario(link).name == "historical" and load_scenario(link) is load_scenario(link)
    link.unlink()
    link.symlink_to(b)
    assert load_scenario(link).name == "other"


def test_a_checked_scenario_and_world_are_checked_again_only_when_they_pass():
    """check_against_world remembers pairs that passed (by identity); a pair that fails
    raises every time."""
    from model.scenario import ScenarioError, check_against_world, load_scenario
    from model.world import load_world

    world, scenario = load_world("default"), load_scenario("historical")
    check_against_world(scenario, world)
    check_against_world(scenario, world)
    bad = scenario.with_overrides({"champions": ["Nobody Inc"]})
    for _ in range(2):
        with pytest.raises(ScenarioError, match="unknown firm 'Nobody Inc'"):
            check_against_world(bad, world)
