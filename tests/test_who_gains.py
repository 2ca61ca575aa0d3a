"""Who gains, who loses (issue 14): the money-flow reporters add up (countries and firms
to totals, what buyers pay to what sellers earn), `chipstate compare`'s who-gains table
is the paired differences of those sums, and the scenario pair splits the historical
timeline into the US-led controls and China's answer."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from conftest import run_model
from helpers import lean_frame, paired_interval
from experiments.compare import DEFAULT_WINDOW, compare, gains_lines, parse_window
from model import ChipMarketModel
from model.reporters import MONEY_FLOWS, money_flow_columns, wafer_cost_by_firm
from model.scenario import load_scenario
from model.technology import TIERS, parse_quarter
from model.world import load_world

TOTAL_OF = {"foundry_revenue_usd_m": "foundry_revenue_usd_m"}


def _parts(columns: tuple[str, ...], stem: str) -> tuple[list[str], list[str]]:
    """A flow's country columns (upper-case code) and firm columns (lower-case slug)."""
    suffixes = [c[len(stem) + 1:] for c in columns if c != stem]
    countries = [f"{stem}_{s}" for s in suffixes if s.isupper()]
    firms = [f"{stem}_{s}" for s in suffixes if not s.isupper()]
    return countries, firms


# ------------------------------------------------------------------ one reporter alone
@settings(max_examples=60, deadline=None)
@given(st.data())
def test_wafer_bill_is_price_times_wafers_per_buyer(data):
    """`wafer_cost_by_firm` on a stub market: each firm's bill is the sum, over its edges,
    of its seller cell's price times the wafers delivered, in US$ million."""
    n_foundries = data.draw(st.integers(1, 4))
    n_firms = data.draw(st.integers(1, 5))
    n_edges = data.draw(st.integers(0, 12))
    prices = data.draw(st.lists(st.floats(0, 30_000), min_size=n_foundries * len(TIERS),
                                max_size=n_foundries * len(TIERS)))
    supplier = np.array(data.draw(st.lists(st.integers(0, n_foundries - 1), min_size=n_edges, max_size=n_edges)),
                        dtype=np.int64)
    tier = np.array(data.draw(st.lists(st.integers(0, len(TIERS) - 1), min_size=n_edges, max_size=n_edges)),
                    dtype=np.int64)
    buyer = np.array(data.draw(st.lists(st.integers(0, n_firms - 1), min_size=n_edges, max_size=n_edges)),
                     dtype=np.int64)
    flow = np.array(data.draw(st.lists(st.floats(0, 1e5), min_size=n_edges, max_size=n_edges)), dtype=float)
    price = np.array(prices).reshape(n_foundries, len(TIERS))
    model = SimpleNamespace(
        wafer_sale_price=price, firms=[None] * n_firms,
        wafer_market=SimpleNamespace(seller=supplier * len(TIERS) + tier, flow=flow,
                                     edges=SimpleNamespace(buyer=buyer)))
    bill = wafer_cost_by_firm(model)
    expected = np.zeros(n_firms)
    for e in range(n_edges):
        expected[buyer[e]] += price[supplier[e], tier[e]] * flow[e] / 1e6
    assert bill.shape == (n_firms,)
    assert bill == pytest.approx(expected, rel=1e-12, abs=1e-9)
    assert bill.sum() == pytest.approx((price[supplier, tier] * flow).sum() / 1e6, rel=1e-12, abs=1e-9)


# ------------------------------------------------------------------ the accounts add up
@pytest.mark.parametrize("scenario", ["historical", "controls_only"])
def test_countries_and_firms_add_up_to_each_flows_total(scenario):
    model = run_model(scenario, 1)
    frames = model.frames()
    frame = frames["model"]
    columns = money_flow_columns(model)
    assert set(columns) == {f.stem for f in MONEY_FLOWS}  # foundries carry gross profit (model.costs)
    for stem, names in columns.items():
        total = frame[stem].to_numpy()
        countries, firms = _parts(names, stem)
        assert len(countries) >= 2, stem
        np.testing.assert_allclose(frame[countries].sum(axis=1), total, rtol=1e-12, atol=1e-6, err_msg=stem)
        if firms:  # the default world has no synthetic agents: the named firms are all
            np.testing.assert_allclose(frame[firms].sum(axis=1), total, rtol=1e-12, atol=1e-6, err_msg=stem)
    assert frame["foundry_revenue_usd_m"].iloc[-1] > 0 and frame["buyer_accelerator_cost_usd_m"].iloc[-1] > 0


def test_what_buyers_pay_is_what_sellers_earn():
    """Fabless firms' wafer bill = the foundries' revenue less their packaging's (TSMC's
    CoWoS, which the rankings count in TSMC's revenue); the designers' packaging bill +
    what the houses' other customers pay = the houses' revenue; accelerator buyers' bill
    = the designers' revenue plus the licence fees they passed to governments; the firm
    frame's per-firm bills add up to the model's total. (controls_only: Nvidia's H20
    and H200 sell to China under licence there, with no purchase guidance against them.)"""
    frames = run_model("controls_only", 1).frames()
    frame = frames["model"]
    packaging = frames["foundry"].groupby("step")["packaging_revenue_usd_m"].sum().to_numpy()
    assert packaging[-1] > 0  # the identity is not trivially wafer bill = revenue
    np.testing.assert_allclose(frame["fabless_wafer_cost_usd_m"], frame["foundry_revenue_usd_m"] - packaging,
                               rtol=1e-12, atol=1e-6)
    np.testing.assert_allclose(frame["packaging_revenue_usd_m_tsmc_cowos"],
                               frames["foundry"].query("name == 'TSMC'")["packaging_revenue_usd_m"].to_numpy(),
                               rtol=1e-12)
    houses = frames["packager"]
    others = (houses["capacity_packages"] * houses["name"].map({p.name: p.other_customers for p in
                                                               load_world("default").packagers})
              * houses["price_usd"] / 1e6).groupby(houses["step"]).sum()
    designers_paid = frames["designer"].groupby("step")["packaging_cost_usd_m"].sum()
    np.testing.assert_allclose(frame["designer_packaging_cost_usd_m"], designers_paid.to_numpy(), rtol=1e-12)
    np.testing.assert_allclose(frame["packaging_revenue_usd_m"], (designers_paid + others).to_numpy(),
                               rtol=1e-9, atol=1e-6)
    designers = frames["designer"].groupby("step")[["revenue_usd_m", "licence_fees_usd_m"]].sum().sum(axis=1)
    np.testing.assert_allclose(frame["buyer_accelerator_cost_usd_m"], designers.to_numpy(), rtol=1e-12, atol=1e-9)
    assert (frames["designer"]["licence_fees_usd_m"] > 0).any()  # the identity is not trivially revenue = bill
    firms = frames["firm"].groupby("step")["wafer_cost_usd_m"].sum()
    np.testing.assert_allclose(frame["fabless_wafer_cost_usd_m"], firms.to_numpy(), rtol=1e-12, atol=1e-9)
    by_country = frames["firm"].groupby(["step", "country"])["wafer_cost_usd_m"].sum().unstack(fill_value=0.0)
    for country in by_country.columns:
        np.testing.assert_allclose(frame[f"fabless_wafer_cost_usd_m_{country}"], by_country[country].to_numpy(),
                                   rtol=1e-12, atol=1e-9)


def test_synthetic_agents_count_in_their_country_but_get_no_columns_of_their_own():
    model = ChipMarketModel(scenario="historical", rng=3, synthetic_firms=40, synthetic_foundries=3,
                            synthetic_vendors=2).run(12)
    frame, columns = model.frames()["model"], money_flow_columns(model)
    for stem in ("foundry_revenue_usd_m", "vendor_revenue_usd_m"):
        countries, firms = _parts(columns[stem], stem)
        assert not any("synthetic" in c for c in firms)
        np.testing.assert_allclose(frame[countries].sum(axis=1), frame[stem], rtol=1e-12, atol=1e-6)
    assert len(_parts(columns["vendor_revenue_usd_m"], "vendor_revenue_usd_m")[1]) == len(model.vendors) - 2
    packaging = model.frames()["foundry"].groupby("step")["packaging_revenue_usd_m"].sum().to_numpy()
    np.testing.assert_allclose(frame["fabless_wafer_cost_usd_m"], frame["foundry_revenue_usd_m"] - packaging,
                               rtol=1e-12, atol=1e-6)


def test_foundries_gross_profit_is_rolled_up_by_firm_and_country():
    model = ChipMarketModel(scenario="historical", rng=2).run(6)
    row = model.frames()["model"].iloc[-1]
    assert row["foundry_gross_profit_usd_m"] == pytest.approx(sum(f.gross_profit_usd_m for f in model.foundries))
    assert row["foundry_gross_profit_usd_m_tsmc"] == pytest.approx(model.foundries[0].gross_profit_usd_m)
    cn = sum(f.gross_profit_usd_m for f in model.foundries if f.country == "CN")
    assert row["foundry_gross_profit_usd_m_CN"] == pytest.approx(cn)
    lines, notes = gains_lines("historical", "no_controls")
    assert any(line.stem == "foundry_gross_profit_usd_m" for line in lines)
    assert not any(note.startswith("Foundry gross profit") for note in notes)


# ------------------------------------------------------------------ the compare table
def test_the_who_gains_table_is_the_paired_differences_of_the_frames(tmp_path):
    window = ("2021Q1", "2022Q4")
    result = compare("no_controls", "controls_only", replicates=2, base_seed=4, out=tmp_path, workers=0,
                     progress=False, window=window)
    table = result.gains.table.set_index("column")
    assert (table["n"] == 2).all()
    assert "huawei_smic_wafers_2026_2030" in set(result.table["outcome"])  # the headline table is kept
    assert not result.table["outcome"].str.startswith("gains_").any()
    by_hand = {}
    for scenario in ("no_controls", "controls_only"):
        for seed in (4, 5):
            frame = ChipMarketModel(scenario=scenario, rng=seed).run().frames()["model"].set_index("quarter")
            by_hand[scenario, seed] = frame.loc[window[0]:window[1]]
    checked = 0
    for column, row in table.iterrows():
        a = np.array([by_hand["no_controls", s][column].sum() for s in (4, 5)])
        b = np.array([by_hand["controls_only", s][column].sum() for s in (4, 5)])
        assert row["mean_a"] == pytest.approx(a.mean(), rel=1e-12, abs=1e-9), column
        assert row["mean_b"] == pytest.approx(b.mean(), rel=1e-12, abs=1e-9), column
        assert row["mean_difference"] == pytest.approx((b - a).mean(), rel=1e-9, abs=1e-6), column
        if np.std(b - a) > 0:
            low, high = stats.t.interval(0.95, 1, loc=(b - a).mean(), scale=stats.sem(b - a))
            assert (row["ci_low"], row["ci_high"]) == pytest.approx((low, high), rel=1e-9), column
            checked += 1
    assert checked > 10
    assert {"Foundry revenue", "Equipment vendor revenue", "Fabless firms' wafer bill",
            "Accelerator buyers' bill"} <= set(table["account"])
    text = result.gains.report()
    assert "2021Q1-2022Q4" in text and "TSMC (TW)" in text and "United States (US)" in text
    assert "Foundry gross profit" in text
    path = result.gains.to_csv(tmp_path / "who_gains.csv")
    assert path.read_text().startswith("account,side,level,who,country,column,unit,n,")


def test_window_flag_forms():
    assert parse_window("2020-2030") == DEFAULT_WINDOW
    assert parse_window("2022Q3-2025") == ("2022Q3", "2025Q4")
    for bad in ("2020", "2020-", "20-30", "2030-2020", "2020Q5-2021", "2020/2030", "2020-2025-2030"):
        with pytest.raises(ValueError, match="expected START-END"):
            parse_window(bad)


# ------------------------------------------------------------------ the scenario pair
def _entries(name: str) -> dict[str, object]:
    s = load_scenario(name)
    return {f"{table}.{e.id}": e for table in ("rules", "directives", "subsidies") for e in getattr(s, table)}


def test_controls_only_and_buildout_only_split_historical_by_issuer():
    """Together the pair holds exactly historical's entries: controls_only everything but
    China's answer, buildout_only the baseline plus China's answer (historical's own
    entries, unchanged). A new entry in historical fails here until it is classified."""
    historical, baseline = _entries("historical"), _entries("no_controls")
    controls, buildout = _entries("controls_only"), _entries("buildout_only")
    added = {k: e for k, e in historical.items() if k not in baseline}
    china = {k for k, e in added.items() if e.issuer == "China"}
    assert china == {"subsidies.cn-2022-10-self-reliance-drive", "rules.cn-2025-09-purchase-guidance",
                     "rules.cn-2025-domestic-tool-requirement"}
    assert set(controls) == set(historical) - china
    assert set(buildout) == set(baseline) | china
    for key in china:
        assert buildout[key] == historical[key], key  # copied unchanged
    assert all(controls[k] == historical[k] for k in controls)
    assert load_scenario("controls_only").parameters == load_scenario("historical").parameters
    assert load_scenario("buildout_only").parameters == load_scenario("no_controls").parameters


# ------------------------------------------------------------------ comparative statics
SEEDS = range(200, 220)  # 20 paired replicates
FLOWS = ("vendor_revenue_usd_m_US", "vendor_revenue_usd_m_asml", "vendor_gross_profit_usd_m_US")


def _window_sum(scenario: str, column: str, start: str, end: str) -> np.ndarray:
    """Per seed, `column` summed over start..end (lean runs of the money flows compared)."""
    return np.array([float(lean_frame(scenario, seed, FLOWS).loc[start:end, column].sum()) for seed in SEEDS])


@pytest.mark.slow
def test_us_equipment_vendors_earn_less_2020_2030_under_controls_alone():
    a = _window_sum("no_controls", "vendor_revenue_usd_m_US", "2020Q1", "2030Q4")
    b = _window_sum("controls_only", "vendor_revenue_usd_m_US", "2020Q1", "2030Q4")
    mean, _, high = paired_interval(b, a)
    assert high < 0, f"controls_only - no_controls, US vendors 2020-2030: mean {mean:,.0f} US$ m, upper {high:,.0f}"
    assert parse_quarter("2030Q4") - parse_quarter("2020Q1") == 43  # the window is eleven years


@pytest.mark.slow
def test_us_vendors_gross_profit_falls_by_a_larger_share_than_their_revenue_under_controls_alone():
    """Operating leverage (model.costs.vendor_cost_of_sales_usd_m): the capacity they
    keep costs them whether the China sales come or not."""
    revenue = [_window_sum(s, "vendor_revenue_usd_m_US", "2020Q1", "2030Q4") for s in ("no_controls", "controls_only")]
    profit = [_window_sum(s, "vendor_gross_profit_usd_m_US", "2020Q1", "2030Q4")
              for s in ("no_controls", "controls_only")]
    mean, _, high = paired_interval(profit[1], profit[0])
    assert high < 0, f"controls_only - no_controls, US vendors' gross profit: mean {mean:,.0f}, upper {high:,.0f}"
    assert (profit[1] / profit[0]).mean() < (revenue[1] / revenue[0]).mean()
