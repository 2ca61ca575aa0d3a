"""One agent, tested alone: each agent type built with stub inputs (a bare Mesa model,
no ChipMarketModel), and one of its decisions checked (STYLE.md 15)."""

from __future__ import annotations

import math

import mesa
import numpy as np
import pytest

from agents.fabless import DemandStreams, FablessSector, Relations
from agents.foundry import Foundry, FoundryFleet
from agents.government import Government
from agents.vendor import EquipmentVendor
from model.scenario import Directive
from model.technology import TIERS, Tier, parse_quarter
from model.world import FoundrySpec, FoundryTier

N = len(TIERS)


def stub_model() -> mesa.Model:
    return mesa.Model(rng=0)


# ---------------------------------------------------------------- government
def test_a_state_allocator_directs_its_champions_while_its_directive_is_in_force():
    directive = Directive(id="d", foundry="Fab", effective="2025Q4", end="2027Q1", event="stub")
    china = Government(stub_model(), "China", "CN", [], [directive], [], champions=("A", "B"), reserved_share=0.6)
    assert china.allocation_directives(parse_quarter("2025Q3")) == []
    (order,) = china.allocation_directives(parse_quarter("2026Q2"))
    assert (order.foundry, order.champions, order.reserved_share) == ("Fab", ("A", "B"), 0.6)
    assert order.tiers == (Tier.LEADING.value, Tier.N7.value)
    assert china.allocation_directives(parse_quarter("2027Q1")) == []  # ended


def test_a_government_without_champions_directs_nothing():
    directive = Directive(id="d", foundry="Fab", effective="2020Q1", event="stub")
    assert Government(stub_model(), "US", "US", [], [directive], []).allocation_directives(parse_quarter("2021Q1")) == []


# -------------------------------------------------------------------- vendor
def test_a_vendor_grows_output_with_its_backlog_and_learns_from_sales():
    vendor = EquipmentVendor(stub_model(), "V", "CN", output={"duv_immersion": 100.0},
                             progress={"duv_immersion": 3.0}, weight={"duv_immersion": 1.0}, learning=0.5)
    vendor.record_sales(revenue_usd_m=100.0, china_revenue_usd_m=100.0, orders_units={"duv_immersion": 200.0})
    vendor.subsidy_usd_m = 50.0
    plan = vendor.plan_output(learning_multiplier=2.0)
    assert plan.output["duv_immersion"] == pytest.approx(105.0)  # at most 5% a quarter
    step = 0.5 * 2.0 * 0.1 * math.log1p(150.0 / 50.0)
    assert plan.progress["duv_immersion"] == pytest.approx(3.0 - step)
    floored = vendor.plan_output(learning_multiplier=2.0, floors={"duv_immersion": 1.0})
    assert floored.progress["duv_immersion"] == 1.0  # a what-if date caps progress
    vendor.adopt(plan)
    assert vendor.output == plan.output and vendor.serves("duv_immersion") == [False, False, False, True, True]  # 2.86: not yet 14nm


def test_a_vendor_with_slack_shrinks_output():
    vendor = EquipmentVendor(stub_model(), "V", "NL", output={"euv": 10.0}, progress={"euv": 0.0},
                             weight={"euv": 1.0}, learning=0.0)
    vendor.record_sales(0.0, 0.0, {"euv": 1.0})
    assert vendor.plan_output(1.0).output["euv"] == pytest.approx(9.9)


# ------------------------------------------------------------------- foundry
def stub_foundry(capex_ratio: float = 1.0) -> Foundry:
    spec = FoundrySpec(name="Fab", country="TW", price_factor=1.0, capex_ratio=capex_ratio, quality=1.0,
                       tiers={"28nm": FoundryTier(capacity=1000.0)})
    return Foundry(stub_model(), "Fab", "TW", spec=spec, reference_price=np.full(N, 3000.0), yield_start=0.5,
                   ceilings=np.full((2, N), 0.9), half_life_wafers=1e5, lag=2)


def bill(tier, route):
    return {"etch_dep": 2.0, "duv_dry": 1.0}


PRICE = {"etch_dep": 4000.0, "duv_dry": 2000.0, "euv": 1.0, "duv_immersion": 1.0, "metrology": 1.0}


def test_a_foundry_orders_the_tools_that_close_its_gap_to_forecast():
    foundry = stub_foundry()
    t = Tier.N28.index
    foundry.forecast[t] = 1500.0
    foundry.wafer_revenue_usd_m = 1e6  # budget enough (capex follows wafer revenue)
    order = foundry.plan_tool_orders(parse_quarter("2020Q1"), bill, PRICE, headroom=0.0, depreciation=0.0)
    gap = 1500.0 - 1000.0
    assert order.units == {("etch_dep", "28nm"): pytest.approx(2 * gap), ("duv_dry", "28nm"): pytest.approx(gap)}


def test_a_foundry_scales_its_tool_order_to_its_capex_budget():
    foundry = stub_foundry(capex_ratio=0.5)
    foundry.forecast[Tier.N28.index] = 1500.0
    foundry.wafer_revenue_usd_m, foundry.subsidy_usd_m = 4.0, 1.0  # budget US$3m; the full order costs US$5m
    order = foundry.plan_tool_orders(parse_quarter("2020Q1"), bill, PRICE, headroom=0.0, depreciation=0.0)
    assert order.cost_usd_m(PRICE) == pytest.approx(3.0)
    assert order.units[("etch_dep", "28nm")] / order.units[("duv_dry", "28nm")] == pytest.approx(2.0)


def test_a_foundry_with_capacity_enough_orders_nothing():
    foundry = stub_foundry()
    foundry.forecast[Tier.N28.index] = 900.0
    foundry.wafer_revenue_usd_m = 1e6
    assert foundry.plan_tool_orders(parse_quarter("2020Q1"), bill, PRICE, 0.0, 0.0).units == {}


def test_the_fleet_installs_each_foundrys_plan_as_the_foundry_would():
    """FoundryFleet.install (the phase's one pass over the fleet's arrays) leaves every
    foundry's stock and pipeline as its own Foundry.install of the same plan does."""
    rng = np.random.default_rng(7)
    foundries = []
    for k in range(3):
        foundry = stub_foundry()
        foundry.inventory[...] = rng.random(foundry.inventory.shape) * 100.0
        foundry.forecast[Tier.N28.index] = 1000.0 + 800.0 * k
        foundries.append(foundry)
    plans = [f.plan_installation(parse_quarter("2020Q1"), bill, 0.0, 0.5) for f in foundries]
    assert any(p.additions for p in plans)
    alone = []
    for foundry, plan in zip(foundries, plans):
        saved = foundry.inventory.copy(), foundry.pipeline.copy()
        foundry.install(plan)
        alone.append((foundry.inventory.copy(), foundry.pipeline.copy()))
        foundry.inventory[...], foundry.pipeline[...] = saved
    FoundryFleet(foundries).install(plans)
    for foundry, (inventory, pipeline) in zip(foundries, alone):
        assert foundry.inventory.tobytes() == inventory.tobytes()
        assert foundry.pipeline.tobytes() == pipeline.tobytes()


# ------------------------------------------------------------ fabless sector
def stub_sector():
    """One Chinese firm wanting 100 mature wafers a quarter; two foundries run mature:
    0 abroad (its only preferred supplier), 1 at home (not preferred)."""
    t = Tier.MATURE.index
    streams = DemandStreams(firm=np.array([0]), tier=np.array([t]), wafers=np.array([100.0]),
                            growth=np.array([0.0]), ai=np.array([False]), start=np.array([-(10**6)]),
                            peak=np.array([10**6]), decline=np.array([0.0]))
    relations = Relations(buyer=np.array([0, 0]), group=np.array([t, t]), seller=np.array([t, N + t]),
                          same_country=np.array([False, True]), supplier_country=np.array(["US", "CN"]),
                          buyer_country=np.array(["CN", "CN"]), quality=np.ones(2))
    return FablessSector(streams, 1, relations, base=np.array([1.0, 0.0]), origin=parse_quarter("2019Q1"))


def orders_of(sector, eligible):
    capacity = np.zeros(2 * N)
    capacity[[Tier.MATURE.index, N + Tier.MATURE.index]] = 1000.0
    q = parse_quarter("2020Q1")
    return sector.place_orders(q, q + 4, ai_growth=0.0, ai_fade=0.0, cycle=1.0, shocks=np.ones(1),
                               eligible_now=eligible, eligible_ahead=eligible, capacity=capacity,
                               coming=capacity, at_risk=np.zeros(2), stockpile_factor=1.0)


def test_the_sector_orders_from_its_preferred_supplier():
    intent = orders_of(stub_sector(), np.array([True, True]))
    assert intent.orders.tolist() == [100.0, 0.0] and not intent.first_use.any()


def test_the_sector_searches_when_its_supplier_is_cut():
    sector = stub_sector()
    intent = orders_of(sector, np.array([False, True]))  # the foreign relation is cut
    assert intent.orders.tolist() == [0.0, 100.0]
    assert intent.first_use.tolist() == [False, True]  # a new relation, for the ledger
    assert sector.base[1] > 0  # adopted as a relation of its own
    assert intent.forecast[N + Tier.MATURE.index] == pytest.approx(100.0)


def test_the_sector_falls_back_a_tier_with_no_supplier_and_records_it():
    sector = stub_sector()
    intent = orders_of(sector, np.array([False, False]))
    assert intent.orders.sum() == 0.0
    # mature is the oldest tier: nowhere to fall back to, nothing ordered
    assert sector.figures.demand.sum() == pytest.approx(100.0)
