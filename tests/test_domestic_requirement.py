"""China's domestic-tool requirement for new capacity (issue 14): the kernel alone
(model.market.require_domestic), the rule as data, and the whole model over seeds."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy import stats

from model import ChipMarketModel
from model.market import require_domestic
from model.scenario import ScenarioError, load_scenario

EDGES = 12


@st.composite
def books(draw):
    """Random tool orders over edges of 3 buyers x 2 groups each (a group per buyer x
    category x tier), some domestic, some eligible, with prices and weights."""
    buyer = draw(arrays(np.int64, EDGES, elements=st.integers(0, 2)))
    group = buyer * 2 + draw(arrays(np.int64, EDGES, elements=st.integers(0, 1)))
    price_of_group = draw(arrays(float, 6, elements=st.floats(1.0, 100.0)))
    return dict(
        orders=draw(arrays(float, EDGES, elements=st.floats(0, 1e4))),
        group=group, buyer=buyer, price=price_of_group[group],
        domestic=draw(arrays(bool, EDGES)), eligible=draw(arrays(bool, EDGES)),
        weight=draw(arrays(float, EDGES, elements=st.floats(0, 2))),
        required=draw(arrays(float, 3, elements=st.sampled_from([0.0, 0.25, 0.5, 1.0]))),
    )


@settings(max_examples=300, deadline=None)
@given(books())
def test_a_requirement_is_met_by_value_and_never_raises_spending(b):
    out = require_domestic(**b)
    value_in, value_out = b["orders"] * b["price"], out * b["price"]
    assert np.all(out >= 0)
    for k in range(3):
        mine = b["buyer"] == k
        assert value_out[mine].sum() <= value_in[mine].sum() * (1 + 1e-9) + 1e-6
        if b["required"][k] == 0:
            np.testing.assert_array_equal(out[mine], b["orders"][mine])
            continue
        total = value_out[mine].sum()
        if total > 1e-6:
            share = value_out[mine & b["domestic"]].sum() / total
            assert share >= b["required"][k] - 1e-9
    # Nothing crosses a group; only domestic edges gain, and only eligible ones.
    gained = out > b["orders"] * (1 + 1e-12) + 1e-9
    assert not np.any(gained & ~(b["domestic"] & b["eligible"]))
    for g in np.unique(b["group"]):
        in_group = b["group"] == g
        assert out[in_group].sum() <= b["orders"][in_group].sum() * (1 + 1e-9) + 1e-6


def test_foreign_orders_move_home_where_a_domestic_vendor_serves_and_are_forgone_where_none_does():
    # Buyer 0: group 0 (etch: a domestic and a foreign vendor), group 1 (litho: foreign only).
    orders = np.array([0.0, 100.0, 100.0])
    out = require_domestic(orders, group=np.array([0, 0, 1]), buyer=np.array([0, 0, 0]),
                           domestic=np.array([True, False, False]), eligible=np.array([True, True, True]),
                           weight=np.ones(3), price=np.ones(3), required=np.array([0.5]))
    # All 100 of foreign etch moves home: 100 domestic, 100 foreign litho = 50%.
    np.testing.assert_allclose(out, [100.0, 0.0, 100.0])
    out = require_domestic(orders, group=np.array([0, 0, 1]), buyer=np.array([0, 0, 0]),
                           domestic=np.array([True, False, False]), eligible=np.array([True, True, True]),
                           weight=np.ones(3), price=np.ones(3), required=np.array([0.75]))
    # Moving all etch gives 50%: foreign litho is cut to a third of the domestic 100.
    np.testing.assert_allclose(out, [100.0, 0.0, 100.0 / 3])


def test_a_domestic_share_belongs_to_domestic_tools_rules_only(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text('[scenario]\nname = "bad"\nextends = "historical"\n\n[[rules]]\nid = "x"\nissuer = "US"\n'
                    'kind = "tools"\ntargets = ["SMIC"]\ntools = ["euv"]\ndomestic_share = 0.5\n'
                    'effective = "2021Q1"\nevent = "e"\n')
    with pytest.raises(ScenarioError, match="domestic_share"):
        load_scenario(path)


def test_the_rule_is_in_the_historical_timeline_with_its_ledger_rows():
    scenario = load_scenario("historical")
    rule = next(r for r in scenario.rules if r.kind == "domestic_tools")
    assert rule.domestic_share == 0.5 and rule.issuer == "China"
    model = ChipMarketModel(scenario="historical", rng=0, end="2025Q2").run()
    ledger = model.frames()["ledger"]
    rows = ledger[ledger["action"] == "requirement"]
    # every Chinese buyer of tools: the foundries and the memory makers' fabs (CXMT, YMTC)
    assert set(rows["buyer"]) == {a.name for a in model.tool_market_buyers if a.country == "CN"}
    assert {"SMIC", "CXMT", "YMTC"} <= set(rows["buyer"])
    assert (rows["quarter"] == rule.effective).all()


SEEDS = range(100, 120)


@pytest.mark.slow
def test_the_requirement_raises_domestic_vendors_share_of_chinese_tool_purchases(tmp_path):
    without = tmp_path / "no_requirement.toml"
    without.write_text('[scenario]\nname = "no_requirement"\nextends = "historical"\n'
                       'without = ["cn-2025-domestic-tool-requirement"]\n')
    column = ("china_domestic_tool_share",)

    def share(scenario):
        return np.array([ChipMarketModel(scenario=scenario, rng=s, collect=column, end="2027Q4").run()
                         .frames()["model"].set_index("quarter").loc["2025Q2":"2027Q4", column[0]].mean()
                         for s in SEEDS])

    diff = share("historical") - share(str(without))
    half = stats.t.ppf(0.975, len(diff) - 1) * diff.std(ddof=1) / np.sqrt(len(diff))
    assert diff.mean() - half > 0, f"domestic share, with - without: {diff.mean():+.3f} +- {half:.3f}"
