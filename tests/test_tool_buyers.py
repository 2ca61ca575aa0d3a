"""Memory makers' and IDMs' fabs as tool buyers (issue 14, `agents.fab`): the world's
`[[tool_buyers]]` table and its bad input, one buyer alone with stub inputs, the tool
market's books with them (conservation, nothing filled over a cut relation: YMTC after
its Entity List rule), the CXMT denial kept with its cut edges, and paired comparative
statics over 20 seeds (slow)."""

from __future__ import annotations

from pathlib import Path

import mesa
import numpy as np
import pytest

from agents.fab import ToolBuyer
from agents.memory import DRAM_TOOLS
from helpers import paired_interval
from model import ChipMarketModel
from model.scenario import ScenarioError, load_scenario
from model.technology import CATEGORY_NAMES, TIER_INDEX
from model.world import DATA_DIR, ToolBuyerSpec, load_world

YMTC_RULE = "us-2022-12-entity-ymtc"


# ------------------------------------------------------------------ the world's table
def test_the_default_world_holds_memory_makers_and_idms_as_tool_buyers():
    world = load_world("default")
    buyers = {b.name: b for b in world.tool_buyers}
    assert {"Samsung HBM", "SK hynix", "Micron", "CXMT", "YMTC"} <= set(buyers)
    assert {b.kind for b in world.tool_buyers} == {"memory", "idm"}
    assert buyers["CXMT"].country == buyers["YMTC"].country == "CN"
    for b in world.tool_buyers:
        assert sum(b.shares().values()) == pytest.approx(1.0)
    # the 2023 memory downturn outside China, the Chinese makers' spending in 2023-2024
    for name in ("SK hynix", "Micron"):
        assert buyers[name].spend_usd_m(2023) <= 0.6 * buyers[name].spend_usd_m(2022)
    assert buyers["CXMT"].spend_usd_m(2023) > buyers["CXMT"].spend_usd_m(2022)
    # the last year's figure holds after it, the first's before it
    assert buyers["Micron"].spend_usd_m(2030) == buyers["Micron"].spend_usd_m(2025)
    assert buyers["Micron"].spend_usd_m(2015) == buyers["Micron"].spend_usd_m(2019)


def _bad_world(tmp_path: Path, old: str, new: str) -> Path:
    text = (DATA_DIR / "default_world.toml").read_text()
    assert old in text
    path = tmp_path / "bad_world.toml"
    path.write_text(text.replace(old, new, 1))
    return path


@pytest.mark.parametrize("old, new, field, expected", [
    ('split = { euv = 0.08, duv_immersion = 0.15,', 'split = { euv = 0.18, duv_immersion = 0.15,',
     "tool_buyers.0.split", "expected 1"),
    ('split = { euv = 0.08, duv_immersion = 0.15,', 'split = { euvv = 0.08, duv_immersion = 0.15,',
     "tool_buyers.0.split", "unknown tool category 'euvv'"),
    ('wfe_usd_m = { "2019" = 10000,', 'wfe_usd_m = { "2019" = -10000,', "tool_buyers.0.wfe_usd_m", "0 or more"),
    ('wfe_usd_m = { "2019" = 10000,', 'wfe_usd_m = { "19" = 10000,', "tool_buyers.0.wfe_usd_m", "not a year"),
    ('name = "YMTC"\ncountry = "CN"', 'name = "SMIC"\ncountry = "CN"', "tool_buyers.4.name", "already a"),
    ('name = "CXMT"\ncountry = "CN"\nkind = "memory"', 'name = "CXMT"\ncountry = "KR"\nkind = "memory"',
     "tool_buyers.3.country", "same company's country"),
    ('kind = "idm"\ntier = "mature"', 'kind = "logic"\ntier = "mature"', "tool_buyers.6.kind", "'memory' or 'idm'"),
])
def test_bad_tool_buyers_get_one_line_naming_file_and_field(tmp_path, old, new, field, expected):
    path = _bad_world(tmp_path, old, new)
    with pytest.raises(ScenarioError) as caught:
        load_world(str(path))
    message = str(caught.value)
    assert "\n" not in message
    assert str(path) in message and field in message and expected in message, message


# ------------------------------------------------------------------ one agent alone
def _spec(**kw) -> ToolBuyerSpec:
    data = dict(name="Test fab", country="KR", kind="memory", tier="14nm",
                wfe_usd_m={"2022": 8000.0, "2023": 4000.0}, split={"duv_immersion": 0.25, "etch_dep": 0.75})
    data.update(kw)
    return ToolBuyerSpec(**data)


def test_a_buyer_orders_a_quarter_of_its_years_spend_split_at_unit_prices():
    buyer = ToolBuyer(mesa.Model(rng=0), "Test fab", "KR", spec=_spec())
    price = {c: 1000.0 * (k + 1) for k, c in enumerate(CATEGORY_NAMES)}
    q2023 = 2023 * 4 + 2  # 2023Q3
    purchase = buyer.plan_purchase(q2023, price)
    assert purchase.tier == "14nm" and set(purchase.units) == {"duv_immersion", "etch_dep"}
    for category, share in (("duv_immersion", 0.25), ("etch_dep", 0.75)):
        assert purchase.units[category] == pytest.approx(4000e6 / 4 * share / price[category])
    assert purchase.usd_m == pytest.approx(1000.0)
    # at its costs, the units are what it spends; the scale multiplies it; zero buys nothing
    assert sum(u * price[c] for c, u in purchase.units.items()) / 1e6 == pytest.approx(purchase.usd_m)
    assert buyer.plan_purchase(q2023, price, 0.5).usd_m == pytest.approx(500.0)
    assert not any(buyer.plan_purchase(q2023, price, 0.0).units.values())
    # past its last year its spend holds
    assert buyer.plan_purchase(2030 * 4, price).usd_m == pytest.approx(1000.0)
    assert buyer.plan_purchase(2022 * 4, price).usd_m == pytest.approx(2000.0)
    # it orders a lead time ahead: in 2022Q4 the etch tools (lead 1) are 2023's spend,
    # the immersion tools (lead 0) 2022's
    ahead = buyer.plan_purchase(2022 * 4 + 3, price, lead_quarters={"etch_dep": 1, "duv_immersion": 0})
    assert ahead.units["etch_dep"] == pytest.approx(4000e6 / 4 * 0.75 / price["etch_dep"])
    assert ahead.units["duv_immersion"] == pytest.approx(8000e6 / 4 * 0.25 / price["duv_immersion"])
    assert ahead.usd_m == pytest.approx(750.0 + 500.0)


# ------------------------------------------------------------- in the whole model
@pytest.fixture(scope="module")
def historical():
    """A historical run to 2024Q4, with the books checked every quarter."""
    model = ChipMarketModel(scenario="historical", rng=3, end="2024Q4")
    market = model.tool_market
    n = len(model.foundries)
    buyer_edge = market.edges.buyer >= n
    seen = {"buyer_filled": 0.0, "balanced": True}
    while model.quarter_number < model.last_quarter:
        model.step()
        books = market.last
        np.testing.assert_allclose(books.before + books.placed - books.filled - books.cancelled, books.after,
                                   rtol=1e-9, atol=1e-6)
        assert not books.filled[~market.edges.active].any(), "tools delivered over a cut relation"
        assert not books.placed[~market.edges.active].any(), "tools ordered over a cut relation"
        seen["buyer_filled"] += books.filled[buyer_edge].sum()
        # what the fabs record is what the market filled on their edges
        received = sum(b.received_units for b in model.tool_buyers)
        assert received == pytest.approx(books.filled[buyer_edge].sum(), rel=1e-9, abs=1e-6)
    return model, seen


def test_the_fabs_buy_over_the_same_books_and_the_foundries_install_none_of_it(historical):
    model, seen = historical
    assert seen["buyer_filled"] > 0
    frames = model.frames()
    fab = frames["fab"]
    assert set(fab.name) == {b.name for b in model.world.tool_buyers}
    # the vendors' revenue is what foundries and fabs received, by buyer kind
    m = frames["model"]
    sales = m[["tool_sales_usd_m_foundry", "tool_sales_usd_m_memory", "tool_sales_usd_m_idm"]].sum(axis=1)
    np.testing.assert_allclose(sales, m["vendor_revenue_usd_m"], rtol=1e-9, atol=1e-6)
    assert (m["tool_sales_usd_m_memory"].iloc[4:] > 0).all() and (m["tool_sales_usd_m_idm"].iloc[4:] > 0).all()
    # China's share of every vendor's sales is between 0 and 1 and counts the Chinese fabs
    assert m["china_equipment_share"].dropna().between(0, 1).all()
    # the graph holds the fabs: YMTC as a node of its own, CXMT at its HBM maker's node
    graph = model.graph
    assert graph.nodes["YMTC"]["kind"] == "fab" and graph.nodes["CXMT"]["kind"] == "memory"
    assert any(v == "YMTC" and d["kind"] == "tools" for _, v, d in graph.edges(data=True))


def test_nothing_reaches_ymtc_from_us_vendors_after_its_entity_listing(historical):
    model, _ = historical
    market, tools = model.tool_market, model.tool_market.edges
    ymtc = [a.name for a in model.tool_market_buyers].index("YMTC")
    us = np.array([v.country == "US" for v in model.vendors])[tools.supplier]
    cut = (tools.buyer == ymtc) & us
    assert cut.any() and not tools.active[cut].any()
    # the rule reaches every one of them (some the 2022-10 rule had cut already) and no other
    assert set(np.concatenate(tools.cuts[YMTC_RULE]).tolist()) == set(np.flatnonzero(cut).tolist())
    assert not market.book[cut].any()
    ledger = model.ledger_frame()
    rows = ledger[(ledger.rule == YMTC_RULE) & (ledger.action == "cut")]
    # a ledger row for each relation it cut first (the 2022-10 rule, in force the same
    # quarter, had cut US etch and metrology at 14nm-class fabs in China already)
    assert set(rows.buyer) <= {"YMTC"} and len(rows) <= cut.sum()


def test_cxmts_hbm_is_denied_what_14nm_class_fabs_in_china_are_denied_and_its_dram_fabs_buy_on(historical):
    """Two lines of one company: its HBM (on DRAM at <=18nm half-pitch, what the
    2022-10-07 rule names) is denied the DRAM categories the rules in force cut at
    14nm-class fabs in China (SMIC's 14nm relations); its commodity-DRAM fabs (19nm-class,
    the world's `tier = "28nm"`) are not reached by those rules and buy on."""
    model, _ = historical
    tools = model.tool_market.edges
    smic_14 = (tools.buyer == model.foundry_index["SMIC"]) & (tools.tier == TIER_INDEX["14nm"])
    cut_at_14 = {CATEGORY_NAMES[c] for c in np.unique(tools.category[smic_14 & ~tools.active])}
    maker = next(m for m in model.memory_makers if m.name == "CXMT")
    assert maker.denied, "historical rules in force by 2024Q4 deny CXMT's HBM tools"
    assert (maker.denied & set(DRAM_TOOLS)) == (cut_at_14 & set(DRAM_TOOLS))
    fab = (tools.buyer == [a.name for a in model.tool_market_buyers].index("CXMT")) & (
        np.array([v.country != "CN" for v in model.vendors])[tools.supplier])
    bought = {CATEGORY_NAMES[c] for c in np.unique(tools.category[fab & tools.active])}
    assert set(DRAM_TOOLS) <= bought  # every DRAM category still open from a foreign vendor


def test_the_buyers_tier_is_what_tool_rules_read():
    model = ChipMarketModel(scenario="historical", rng=0, end="2019Q4")
    tools = model.tool_market.edges
    for row, buyer in enumerate(model.tool_buyers, start=len(model.foundries)):
        mine = tools.buyer == row
        assert set(tools.tier[mine].tolist()) == {TIER_INDEX[buyer.tier]}
        # an edge from every vendor of every category it buys, and no other
        pairs = set(zip(tools.supplier[mine].tolist(), (CATEGORY_NAMES[c] for c in tools.category[mine])))
        assert pairs == {(v, c) for c in buyer.shares for v, vendor in enumerate(model.vendors) if c in vendor.output}
        assert len(pairs) == mine.sum()


# ------------------------------------------------------------- comparative statics
SEEDS = range(20)


def _asml_china_share(vendor_frame, year: str) -> float:
    asml = vendor_frame[(vendor_frame.name == "ASML") & vendor_frame.quarter.str.startswith(year)]
    return asml.china_revenue_usd_m.sum() / asml.revenue_usd_m.sum()


@pytest.mark.slow
def test_the_ymtc_listing_alone_lowers_what_ymtc_receives_in_2023_2024():
    """No controls but the 2022-12 listing against none at all: YMTC receives less. (In
    `historical` the 2022-10 rule has cut the same US relations the same quarter.)"""
    rule = next(r for r in load_scenario("historical").rules if r.id == YMTC_RULE)
    without = load_scenario("no_controls")
    spec = without.model_copy(update={"rules": (*without.rules, rule)})
    with_rule, without_rule = [], []
    for seed in SEEDS:
        for scenario, out in ((spec, with_rule), (without, without_rule)):
            fab = ChipMarketModel(scenario=scenario, rng=seed, end="2024Q4").run().frames()["fab"]
            ymtc = fab[(fab.name == "YMTC") & fab.quarter.str[:4].isin(["2023", "2024"])]
            out.append(ymtc.received_usd_m.sum())
    mean, low, high = paired_interval(with_rule, without_rule)
    assert high < 0, (mean, low, high)


@pytest.mark.slow
def test_memory_buyers_raise_asmls_china_share_from_2022_to_2023():
    """With the fabs buying, ASML's China share rises more from 2022 to 2023 than with
    their spend scaled to zero: the 2023 memory downturn outside China (SK hynix and
    Micron halving) and CXMT's spending move ASML's sales toward China."""
    present, absent = [], []
    for seed in SEEDS:
        for scale, out in ((1.0, present), (0.0, absent)):
            vendors = ChipMarketModel(scenario="historical", rng=seed, end="2023Q4",
                                      tool_buyer_capex_scale=scale).run().frames()["vendor"]
            out.append(_asml_china_share(vendors, "2023") - _asml_china_share(vendors, "2022"))
    mean, low, high = paired_interval(present, absent)
    assert low > 0, (mean, low, high)
