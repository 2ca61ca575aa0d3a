"""Foundry costs, gross margins and cost-plus prices (model.costs, issue 14): the pure
functions alone (hypothesis), the accounting in the whole model over random parameters,
the 2020 anchor of prices, and over 20 seeds the cost of losing EUV."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from model import ChipMarketModel, costs
from model.technology import TIER_INDEX

money = st.floats(0.0, 1e5, allow_nan=False)
F, T = 3, 5
grid = arrays(float, (F, T), elements=st.floats(0.0, 1e6, allow_nan=False))


# ------------------------------------------------------------------ pure functions
@given(st.floats(0.0, 1e4), st.floats(1.0, 1e4), st.floats(0.05, 0.8), st.floats(0.0, 1.0), st.floats(0.3, 1.0))
def test_a_vendor_earns_its_margin_at_normal_load_and_less_below_it(sales, capacity, margin, fixed, normal):
    cost = costs.vendor_cost_of_sales_usd_m(normal * capacity, capacity, margin, fixed, normal)
    assert (normal * capacity - cost) / (normal * capacity) == pytest.approx(margin, rel=1e-9)
    cost = costs.vendor_cost_of_sales_usd_m(sales, capacity, margin, fixed, normal)
    profit = sales - cost
    if sales < normal * capacity and fixed > 0.01:  # operating leverage: below normal load, a lower margin
        assert profit < margin * sales
    # Gross profit rises with sales at the variable margin 1 - (1 - margin)(1 - fixed).
    more = costs.vendor_cost_of_sales_usd_m(sales + 1.0, capacity, margin, fixed, normal)
    assert (sales + 1.0 - more) - profit == pytest.approx(1 - (1 - margin) * (1 - fixed), rel=1e-6)


def test_vendor_books_in_the_model_add_up():
    """Every vendor, every quarter: gross profit = revenue - its cost of sales at the
    world's margin and the scenario's fixed share, on the output it offered."""
    model = ChipMarketModel(scenario="historical", rng=5)
    for _ in range(20):
        model.step()
        for vendor in model.vendors:
            assert np.isfinite(vendor.gross_profit_usd_m)
            assert vendor.gross_profit_usd_m == pytest.approx(vendor.revenue_usd_m - vendor.cost_of_sales_usd_m)
            assert vendor.cost_of_sales_usd_m >= (1 - vendor.gross_margin) * (
                1 - model.parameters.vendor_fixed_cost_share) * vendor.revenue_usd_m - 1e-9
    asml = model.vendors[model.vendor_index["ASML"]]
    assert asml.gross_margin == 0.51  # the world's figure reaches the agent


@given(arrays(float, 20, elements=money), arrays(float, 20, elements=money))
def test_gross_margin_is_finite_bounded_and_the_usual_one_when_profitable(revenue, cost):
    margin = costs.gross_margin(revenue, cost)
    assert np.isfinite(margin).all() and (margin >= -1).all() and (margin <= 1).all()
    usual = (revenue > 0) & (cost <= 2 * revenue)  # loss within revenue: no clipping
    assert np.allclose(margin[usual], (revenue - cost)[usual] / revenue[usual])
    assert (margin[(revenue == 0) & (cost > 0)] == -1).all()
    assert (margin[(revenue == 0) & (cost == 0)] == 0).all()


@given(st.integers(1, 28), arrays(float, (F, T), elements=money), st.integers(0, 60))
def test_straight_line_writes_off_each_vintage_once_over_its_life(life, placed, start):
    """A value placed in service is written off in `life` equal quarters, then nothing;
    the 2019 fleet's book runs off linearly and is gone after `life` quarters."""
    vintages = np.zeros((F, life, T))
    written = np.zeros((F, T))
    for k in range(life + 5):
        vintages[:, :-1] = vintages[:, 1:]
        vintages[:, -1] = placed if k == 0 else 0.0
        written += costs.depreciation(vintages, np.zeros((F, T)), start + k + 1)
    assert np.allclose(written, placed)
    recent = placed
    off = sum(costs.depreciation(np.zeros((F, life, T)), recent, k) for k in range(1, life + 3))
    assert np.allclose(off, recent * (life - 1) / (2 * life))  # (life - 1) + ... + 1 over life^2
    assert np.all(costs.depreciation(np.zeros((F, life, T)), recent, life) == 0)


@given(st.floats(1.0, 3.0), arrays(float, (F, T), elements=st.floats(0.0, 1.0)))
def test_multipatterning_raises_variable_cost_only_where_duv_patterns_an_euv_tier(factor, duv):
    variable = np.array([3400.0, 1900.0, 1650.0, 1500.0, 930.0])
    level = np.array([1.0, 0.95, 0.68])
    multipatterning = np.array([True, True, False, False, False])
    with_duv = costs.variable_cost(variable, level, duv, multipatterning, factor)
    without = costs.variable_cost(variable, level, np.zeros((F, T)), multipatterning, factor)
    assert np.all(with_duv >= without)
    assert np.array_equal(with_duv[:, 2:], without[:, 2:])
    assert np.allclose(with_duv[:, :2], without[:, :2] * (1 + (factor - 1) * duv[:, :2]))


@given(st.floats(1.01, 3.0), st.floats(0.2, 0.8), st.floats(0.05, 0.8))
def test_a_duv_route_costs_more_per_good_wafer_than_euv(factor, euv_yield, gap):
    """Same foundry, tier and tools' value: the DUV route's more passes and lower
    yield ceiling give a higher cost per good wafer."""
    multipatterning = np.array([True, True, False, False, False])
    variable = np.array([3400.0, 1900.0, 1650.0, 1500.0, 930.0])
    duv = np.zeros((2, T))
    duv[1, 1] = 1.0  # row 0: the EUV route at 7nm; row 1: DUV multi-patterning
    unit = costs.cost_per_wafer(costs.variable_cost(variable, np.ones(2), duv, multipatterning, factor),
                                np.full((2, T), 1e8), np.full((2, T), 1e5))
    yields = np.array([[euv_yield] * T, [euv_yield] * T])
    yields[1, 1] = euv_yield * (1 - gap)
    per_good = costs.cost_per_good_wafer(unit, yields)
    assert per_good[1, 1] > per_good[0, 1]


@given(grid)
def test_shares_sum_to_one_per_tier_with_capacity_and_markups_rise_with_share(capacity):
    share = costs.tier_shares(capacity)
    has = capacity.sum(axis=0) > 0
    assert np.allclose(share.sum(axis=0)[has], 1.0) and np.all(share[:, ~has] == 0)
    lerner = costs.lerner_markup(share, 0.2, 2.5)
    assert np.all((lerner >= 0) & (lerner <= costs.MAX_LERNER))
    order = np.argsort(share, axis=0)
    assert np.all(np.diff(np.take_along_axis(lerner, order, axis=0), axis=0) >= 0)


@given(arrays(float, (F, T), elements=st.floats(100.0, 1e4)), arrays(float, (F, T), elements=st.floats(1.0, 1e6)),
       st.floats(0.0, 2.0), st.floats(0.0, 1.0))
def test_target_prices_rise_with_load_and_prices_move_within_bounds(unit, capacity, response, adjustment):
    lerner = np.full((F, T), 0.4)
    low = costs.target_prices(unit, lerner, 0.5 * capacity, capacity, response)
    high = costs.target_prices(unit, lerner, 1.5 * capacity, capacity, response)
    assert np.all(high >= low) and np.all(low > 0)
    normal = costs.target_prices(unit, lerner, costs.NORMAL_LOAD * capacity, capacity, response)
    assert np.allclose(normal, unit / 0.6)
    price, floor, ceiling = unit * 1.5, unit * 0.8, unit * 2.0
    moved = costs.move_prices(price, high, capacity, floor, ceiling, adjustment)
    assert np.all((moved >= floor) & (moved <= ceiling))
    idle = costs.move_prices(price, high, np.zeros((F, T)), floor, ceiling, adjustment)
    assert np.array_equal(idle, price)  # no capacity: the price is kept
    assert np.array_equal(costs.move_prices(price, high, capacity, floor, ceiling, 0.0), price)


def test_tool_value_per_wafer_prices_the_bill():
    bill = {("a", "euv"): {"euv": 1.0, "etch": 2.0}, ("a", "duv"): {"etch": 3.0}}
    value = costs.tool_value_per_wafer(lambda t, r: bill[(t, r)], {"euv": 10.0, "etch": 1.0}, ["a"], ("euv", "duv"))
    assert value.tolist() == [[12.0, 3.0]]


# --------------------------------------------------------------- the whole model
@settings(max_examples=6, deadline=None)
@given(st.integers(0, 2**31), st.floats(2.0, 10.0), st.floats(1.0, 3.0), st.floats(0.0, 0.6), st.floats(1.0, 10.0),
       st.floats(0.0, 2.0), st.floats(0.0, 1.0))
def test_foundry_accounts_add_up_over_random_parameters(seed, life, factor, base, elasticity, response, adjustment):
    """Wafer revenue = sum of price x wafers delivered (at the price of the quarter, set
    the quarter before); revenue = wafer revenue + its packaging house's (TSMC's
    CoWoS); cost of goods = variable cost x delivered + depreciation + its house's cost;
    gross profit = revenue - cost; margins finite; prices within their bounds."""
    model = ChipMarketModel(scenario="historical", rng=seed, collect=["foundry_cost_usd_m"],
                            depreciation_life_years=life, multipatterning_cost_factor=factor, base_lerner=base,
                            tier_demand_elasticity=elasticity, load_markup_response=response,
                            price_adjustment=adjustment)
    fleet, rules = model.fleet, model.fleet.books.rules
    for _ in range(14):
        price = fleet.price.copy()
        model.step()
        books = fleet.books
        for f, foundry in enumerate(model.foundries):
            assert foundry.wafer_revenue_usd_m == pytest.approx(float((price[f] * foundry.delivered).sum()) / 1e6,
                                                                rel=1e-9, abs=1e-9)
            # Its packaging house's books join its own (TSMC's CoWoS; none elsewhere).
            houses = [k for k, row in zip(model.packagers, model.packager_foundry) if row == f]
            assert foundry.packaging_revenue_usd_m == pytest.approx(sum(k.revenue_usd_m for k in houses), abs=1e-9)
            assert foundry.revenue_usd_m == pytest.approx(foundry.wafer_revenue_usd_m + foundry.packaging_revenue_usd_m,
                                                          rel=1e-12, abs=1e-9)
            cost = ((books.variable[f] * foundry.delivered).sum() + books.depreciation[f].sum()) / 1e6
            cost += sum(k.cost_usd_m for k in houses)
            assert foundry.cost_usd_m == pytest.approx(cost, rel=1e-9, abs=1e-9)
            assert foundry.gross_profit_usd_m == pytest.approx(foundry.revenue_usd_m - foundry.cost_usd_m, abs=1e-9)
            assert np.isfinite(foundry.gross_margin) and -1 <= foundry.gross_margin <= 1
        assert np.all(fleet.price <= rules.price_cap * fleet.reference_price * (1 + 1e-12))
        floor = np.maximum(books.variable, rules.price_floor * fleet.reference_price)
        moved = fleet.capacity_by_tier() > 0
        assert np.all(fleet.price[moved] >= floor[moved] * (1 - 1e-12))
    frame = model.frames()["model"]
    assert np.isfinite(frame["foundry_cost_usd_m"]).all()


def test_default_prices_stay_near_the_2020_wafer_price_rows():
    """TSMC's prices through 2020, under the default parameters, within 15% of
    calibration.csv: wafer_price, TSMC 5nm 16,988 / 7nm 9,346 / 16/12nm 3,984 / 90nm
    1,650 (2020) and 28nm 3,000 (2011)."""
    model = ChipMarketModel(scenario="historical", rng=0)
    tsmc = model.foundries[model.foundry_index["TSMC"]]
    rows = {"leading": 16988, "7nm": 9346, "14nm": 3984, "28nm": 3000, "mature": 1650}
    for _ in range(8):  # 2019Q1-2020Q4
        model.step()
        for tier, reference in rows.items():
            assert tsmc.price[TIER_INDEX[tier]] == pytest.approx(reference, rel=0.15), (model.quarter, tier)


def test_gross_margins_land_near_published_levels():
    """TSMC's gross margin 2020-2023 in the model sits within 40-60% (its reported
    ~53-59%: ASSUMPTION, not a calibration.csv row); SMIC's 2022 margin is positive and
    below TSMC's (calibration.csv: gross_margin, SMIC, 2022: 38%)."""
    frame = ChipMarketModel(scenario="historical", rng=0, collect=["tsmc_gross_margin", "smic_gross_margin"]
                            ).run().frames()["model"].set_index("quarter")
    tsmc = frame.loc["2020Q1":"2023Q4", "tsmc_gross_margin"]
    assert tsmc.between(0.40, 0.60).all(), tsmc.describe()
    smic = frame.loc["2022Q1":"2022Q4", "smic_gross_margin"].mean()
    assert 0.1 < smic < tsmc.mean()


# ------------------------------------------------------------------ over 20 seeds
SEEDS = range(200, 220)


@pytest.mark.slow
def test_a_foundry_without_euv_has_a_higher_cost_per_good_wafer_at_7nm():
    """In `historical` SMIC makes 7nm-class by DUV multi-patterning (EUV was never
    licensed: nl-2019-euv-licence), TSMC by EUV: over 20 seeds, in every quarter of
    2022-2026 SMIC's cost per good 7nm wafer is higher, and by a paired mean of over
    1.5 times. (A paired SMIC-with-EUV run is not in the shipped scenarios: SMIC's
    route is DUV in the world, so `no_controls` does not give it EUV.)"""
    columns = ["smic_cost_per_good_wafer_7nm", "tsmc_cost_per_good_wafer_7nm"]
    ratios = []
    for seed in SEEDS:
        frame = ChipMarketModel(scenario="historical", rng=seed, collect=columns).run().frames()["model"]
        window = frame.set_index("quarter").loc["2022Q1":"2026Q4"]
        assert window.notna().all().all(), seed
        assert (window[columns[0]] > window[columns[1]]).all(), seed
        ratios.append(float((window[columns[0]] / window[columns[1]]).mean()))
    assert np.mean(ratios) > 1.5, ratios
