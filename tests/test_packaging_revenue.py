"""Advanced packaging's books (issue 14): a packaging house earns its price on every
package booked (its other customers' too), designers pay for the slots they booked,
and a house a foundry owns counts in that foundry's revenue (TSMC's CoWoS in TSMC's,
as the top-10 foundry rankings count it). One agent alone, then the whole model."""

from __future__ import annotations

import numpy as np
import pytest

from agents.packager import Packager
from model import ChipMarketModel
from model.world import PackagerSpec


def test_a_house_earns_its_price_on_every_package_booked_its_other_customers_too():
    model = ChipMarketModel(scenario="historical", rng=0)
    spec = PackagerSpec(name="P", country="TW", capacity={"2023Q4": 1000.0}, other_customers=0.25,
                        price_usd=800.0, cost_share=0.6, source="test")
    house = Packager(model, "P", "TW", spec=spec)
    house.capacity_packages = 1000.0
    house.record(600.0, 100.0, 800.0)
    assert house.booked_packages == pytest.approx(600 + 250)
    assert house.revenue_usd_m == pytest.approx(850 * 800 / 1e6)
    assert house.china_revenue_usd_m == pytest.approx(100 * 800 / 1e6)
    assert house.cost_usd_m == pytest.approx(0.6 * 850 * 800 / 1e6)
    assert house.gross_profit_usd_m == pytest.approx(0.4 * 850 * 800 / 1e6)


@pytest.fixture(scope="module")
def frames():
    return ChipMarketModel(scenario="historical", rng=3).run(28).frames()  # to 2025Q4


def test_a_houses_revenue_is_its_packages_booked_times_its_price(frames):
    houses = frames["packager"]
    np.testing.assert_allclose(houses["revenue_usd_m"], houses["booked_packages"] * houses["price_usd"] / 1e6,
                               rtol=1e-12)
    tsmc = houses[houses["name"] == "TSMC CoWoS"]
    assert (tsmc["price_usd"].iloc[1:] == 1000.0).all()  # the world's x packaging_price_scale 1 (row 0: before any quarter)
    assert tsmc["revenue_usd_m"].iloc[-1] > 1000  # billions a year by 2025


def test_tsmcs_revenue_is_its_wafers_plus_its_packaging(frames):
    foundries, houses = frames["foundry"], frames["packager"]
    tsmc = foundries[foundries["name"] == "TSMC"].set_index("step")
    cowos = houses[houses["name"] == "TSMC CoWoS"].set_index("step")
    np.testing.assert_allclose(tsmc["packaging_revenue_usd_m"], cowos["revenue_usd_m"], rtol=1e-12)
    np.testing.assert_allclose(tsmc["revenue_usd_m"], tsmc["wafer_revenue_usd_m"] + cowos["revenue_usd_m"],
                               rtol=1e-12)
    model = frames["model"].set_index("quarter")
    np.testing.assert_allclose(model["foundry_revenue_usd_m_tsmc"].to_numpy(), tsmc["revenue_usd_m"].to_numpy(),
                               rtol=1e-12)
    others = foundries[foundries["name"] != "TSMC"]
    assert (others["packaging_revenue_usd_m"] == 0).all()  # no other foundry owns a house in this world
    assert (others["revenue_usd_m"] == others["wafer_revenue_usd_m"]).all()


def test_tsmcs_gross_profit_counts_its_packagings(frames):
    foundries, houses = frames["foundry"], frames["packager"]
    tsmc = foundries[foundries["name"] == "TSMC"].set_index("step")
    cowos = houses[houses["name"] == "TSMC CoWoS"].set_index("step")
    np.testing.assert_allclose(tsmc["gross_profit_usd_m"], tsmc["revenue_usd_m"] - tsmc["cost_usd_m"], rtol=1e-9)
    assert (cowos["gross_profit_usd_m"].iloc[1:] > 0).all()


def test_packaging_priced_at_zero_leaves_the_wafer_side_as_it_was():
    """The price scale moves the accounts only: capex is paid from wafer revenue, so
    capacity, wafers and the chain are the same with and without packaging revenue."""
    a = ChipMarketModel(scenario="historical", rng=5).run(28).frames()
    b = ChipMarketModel(scenario="historical", rng=5, packaging_price_scale=0.0).run(28).frames()
    np.testing.assert_allclose(a["foundry"]["wafer_revenue_usd_m"], b["foundry"]["wafer_revenue_usd_m"], rtol=1e-12)
    np.testing.assert_allclose(a["model"]["huawei_accelerators"], b["model"]["huawei_accelerators"], rtol=1e-12)
    assert (b["foundry"]["packaging_revenue_usd_m"] == 0).all()
    assert a["model"]["share_tsmc"].iloc[-1] > b["model"]["share_tsmc"].iloc[-1]
