"""Process generations inside a tier (model.generations): the mix kernel alone, the
world's table, and the whole model's books."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from model.generations import GenerationBook, advance_mix, generation_table, newest_ready, premium
from model.technology import TIER_INDEX, parse_quarter
from model.world import load_world

CELLS, SLOTS = 6, 3
capacities = arrays(float, CELLS, elements=st.floats(0, 1e6))


@st.composite
def mixes(draw):
    raw = draw(arrays(float, (CELLS, SLOTS), elements=st.floats(0, 1)))
    raw[:, 0] += 1e-3  # never all zero
    return raw / raw.sum(axis=1, keepdims=True)


@settings(max_examples=200, deadline=None)
@given(mixes(), arrays(np.int64, CELLS, elements=st.integers(0, SLOTS - 1)), capacities, capacities,
       st.floats(0, 1))
def test_a_mix_stays_a_mix_and_only_the_newest_gains(shares, newest, before, now, migration):
    out, migrated = advance_mix(shares, newest, before, now, migration)
    assert np.all(out >= 0)
    np.testing.assert_allclose(out.sum(axis=1), 1.0, rtol=1e-9)
    assert np.all(migrated >= 0)
    older = np.arange(SLOTS)[None, :] != newest[:, None]
    assert np.all(migrated[older] == 0)
    # Capacity on a slot other than the newest never grows (in wafers).
    had, has = shares * before[:, None], out * now[:, None]
    assert np.all(has[older] <= had[older] * (1 + 1e-9) + 1e-6)
    # Wafers migrated are `migration` of the older wafers that survived the quarter.
    kept = np.divide(np.minimum(now, before), before, out=np.ones(CELLS), where=before > 0)
    np.testing.assert_allclose(migrated.sum(axis=1), (had * older).sum(axis=1) * kept * migration,
                               rtol=1e-9, atol=1e-6)


def test_growth_runs_the_newest_and_a_shrinking_tier_keeps_its_mix():
    shares = np.array([[1.0, 0.0], [0.5, 0.5]])
    out, _ = advance_mix(shares, np.array([1, 1]), np.array([100.0, 100.0]), np.array([150.0, 50.0]), 0.0)
    np.testing.assert_allclose(out[0], [100 / 150, 50 / 150])
    np.testing.assert_allclose(out[1], [0.5, 0.5])


def test_premium_is_the_capacity_weighted_mean():
    shares = np.array([[0.25, 0.75]])
    assert premium(shares, np.array([[1.0, 1.2]]))[0] == pytest.approx(1.15)


def test_the_newest_ready_slot():
    ready = np.array([[-np.inf, 10.0, 20.0], [-np.inf, np.inf, np.inf]])
    assert newest_ready(ready, 9).tolist() == [0, 0]
    assert newest_ready(ready, 10).tolist() == [1, 0]
    assert newest_ready(ready, 25).tolist() == [2, 0]


def _bases(world):
    return [{tier: spec.base for tier, spec in f.tiers.items()} for f in world.foundries]


def test_the_world_lays_out_its_generations_in_ready_order():
    world = load_world("default")
    names = [f.name for f in world.foundries]
    table = generation_table(world.generations, names, _bases(world))
    tsmc, leading = names.index("TSMC"), TIER_INDEX["leading"]
    assert table.names[tsmc][leading] == ["N5", "N3", "N2"]
    assert table.names[tsmc][TIER_INDEX["7nm"]] == ["N7", "N6", ""]  # slots run to the longest list (SMIC's)
    assert table.ready[tsmc, leading, 1] == parse_quarter("2022Q4")
    assert np.all(np.diff(table.ready[tsmc, leading]) > 0)
    intel = names.index("Intel Foundry")
    assert np.all(np.isinf(table.ready[intel, :, 1:]))  # it runs no listed generation
    assert table.names[intel][TIER_INDEX["14nm"]][0] == "base"  # a base the world does not name
    assert generation_table(world.generations, names).names[tsmc][leading][0] == "base"  # no names given


def test_smics_n_plus_3_is_a_7nm_class_generation_after_n_plus_2():
    """calibration.csv: advanced_node_capacity_estimate, SMIC 7nm-class (N+1/N+2/N+3)
    counts N+3 in 7nm-class; SMIC runs no leading tier (its tools build 7nm-class)."""
    world = load_world("default")
    names = [f.name for f in world.foundries]
    table = generation_table(world.generations, names, _bases(world))
    smic, n7 = names.index("SMIC"), TIER_INDEX["7nm"]
    assert table.names[smic][n7][:3] == ["N+1", "N+2", "N+3"]
    assert table.ready[smic, n7, 1] == parse_quarter("2023Q3")  # slot 0 is the base, N+1
    assert table.ready[smic, n7, 2] == parse_quarter("2025Q4")
    assert 1 < table.cost_premium[smic, n7, 1] < table.cost_premium[smic, n7, 2]  # more multi-patterning
    assert table.price_premium[smic, n7, 2] > table.price_premium[smic, n7, 1]
    assert "leading" not in world.foundries[smic].tiers
    assert np.all(np.isinf(table.ready[smic, TIER_INDEX["leading"], 1:]))


def test_the_model_reports_each_generations_share_of_its_tier():
    from model import ChipMarketModel

    frame = ChipMarketModel(scenario="historical", rng=1).run(32).frames()["model"].set_index("quarter")
    smic = frame[["generation_share_smic_7nm_n_1", "generation_share_smic_7nm_n_2", "generation_share_smic_7nm_n_3"]]
    np.testing.assert_allclose(smic.sum(axis=1), 1.0)
    assert (frame.loc[:"2025Q3", "generation_share_smic_7nm_n_3"] == 0).all()
    assert frame.loc["2026Q4", "generation_share_smic_7nm_n_3"] > 0
    assert frame.loc["2022Q4", "generation_share_tsmc_leading_n3"] > 0 and "generation_share_tsmc_leading_n5" in frame


def test_a_book_converts_capacity_and_counts_what_the_conversion_bought():
    world = load_world("default")
    names = [f.name for f in world.foundries]
    table = generation_table(world.generations, names)
    capacity = np.full((len(names), 5), 1000.0)
    book = GenerationBook(table, capacity)
    tsmc, leading = names.index("TSMC"), TIER_INDEX["leading"]
    book.advance(parse_quarter("2022Q3"), capacity, 0.05)
    assert book.price_premium()[tsmc, leading] == 1.0 and book.conversion_bills()[tsmc, leading] == 0.0
    book.advance(parse_quarter("2022Q4"), capacity, 0.05)
    assert book.shares[tsmc, leading, 1] == pytest.approx(0.05)
    assert book.conversion_bills()[tsmc, leading] == pytest.approx(1000 * 0.05 * 0.5)
    assert book.price_premium()[tsmc, leading] == pytest.approx(1 + 0.05 * 0.12)


# ------------------------------------------- conversion tools through the vendors' books
@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**32 - 1))
def test_conversion_takes_from_stock_what_it_holds_and_no_more(seed):
    from model import ChipMarketModel

    rng = np.random.default_rng(seed)
    fleet = ChipMarketModel(scenario="historical", rng=1).fleet
    fleet.inventory[...] = rng.random(fleet.inventory.shape) * 100 * (rng.random(fleet.inventory.shape) < 0.7)
    owed = rng.random(fleet.inventory.shape[:3]) * 150 * (rng.random(fleet.inventory.shape[:3]) < 0.5)
    stock, owed_before = fleet.inventory.copy(), owed.copy()
    taken = fleet.consume(owed)
    np.testing.assert_allclose(taken, np.minimum(owed_before, stock.sum(axis=-1)))
    np.testing.assert_allclose(owed, owed_before - taken)
    np.testing.assert_allclose(fleet.inventory.sum(axis=-1), stock.sum(axis=-1) - taken, atol=1e-9)
    assert (fleet.inventory >= -1e-12).all()
    # both origins give up the same share of what they held
    held = stock.sum(axis=-1) > 0
    share = np.divide(fleet.inventory, stock, out=np.ones_like(stock), where=stock > 0)
    np.testing.assert_allclose(share[..., 0][held & (stock[..., 0] > 0) & (stock[..., 1] > 0)],
                               share[..., 1][held & (stock[..., 0] > 0) & (stock[..., 1] > 0)])


def test_converting_orders_its_bill_from_the_vendors_and_the_books_balance():
    """Every quarter: what converting ordered is the conversion bills x the bill of tools
    by category (where the foundry can buy); what was owed either arrived into converted
    lines, is still on order, or was forgiven when a rule cancelled it; never negative."""
    from model import ChipMarketModel

    model = ChipMarketModel(scenario="historical", rng=2)
    ordered_total = 0.0
    for _ in range(36):
        owed_before = model.conversion_owed.copy()
        model.step()
        bills = model.generations.conversion_bills()
        expected = bills[:, None, :] * model.conversion_bill_units
        reachable = model.tool_market.reachable[:len(model.foundries)]
        np.testing.assert_allclose(model.conversion_ordered, np.where(reachable, expected, 0.0))
        assert (model.conversion_received <= owed_before + 1e-9).all()
        carried = model.conversion_owed - model.conversion_ordered  # what was owed and not forgiven
        assert (carried >= -1e-9).all() and (carried <= owed_before - model.conversion_received + 1e-6).all()
        ordered_total += model.conversion_ordered.sum()
    assert ordered_total > 0
    tsmc, leading = model.foundry_index["TSMC"], TIER_INDEX["leading"]
    assert model.conversion_bill_units[tsmc, :, leading].sum() > 0  # N3 and N2 buy EUV-route tools


def test_conversions_add_to_the_vendors_revenue():
    """Paired over 8 seeds: vendors earn more in 2021-2027 when conversions order their
    tools than when the same runs convert without buying any (bills of zero)."""
    from helpers import paired_interval
    from model import ChipMarketModel

    def revenue(seed, buy):
        model = ChipMarketModel(scenario="historical", rng=seed, collect=("vendor_revenue_usd_m",))
        if not buy:
            model.conversion_bill_units[...] = 0.0
        return model.run().frames()["model"].set_index("quarter").loc["2021Q1":"2027Q4", "vendor_revenue_usd_m"].sum()

    seeds = range(400, 408)
    figures = paired_interval([revenue(s, True) for s in seeds], [revenue(s, False) for s in seeds])
    assert figures[1] > 0, f"vendor revenue 2021-2027, conversions buying - not: {figures}"
