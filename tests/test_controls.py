"""The historical control timeline, as the trade graph lives through it."""

from __future__ import annotations

import numpy as np
import pytest

from model import ChipMarketModel
from model.technology import parse_quarter


def edge_states(model, supplier: str, buyer: str, prefix: str = "") -> dict[str, bool]:
    """key -> active, for the edges from `supplier` to `buyer` (keys starting with prefix)."""
    out = {}
    for edges in (model.trade.wafers, model.trade.tools):
        for i, (u, v, key) in enumerate(edges.keys):
            if u == supplier and v == buyer and key.startswith(prefix):
                out[key] = bool(edges.active[i])
    return out


@pytest.fixture(scope="module")
def history():
    """The historical run, with edge states recorded every quarter."""
    model = ChipMarketModel(scenario="historical", rng=3)
    states = {}
    while model.running:
        model.step()
        states[model.quarter] = {
            "tsmc_huawei": edge_states(model, "TSMC", "Huawei"),
            "asml_smic_euv": edge_states(model, "ASML", "SMIC", "euv"),
            "asml_smic_duv_7nm": edge_states(model, "ASML", "SMIC", "duv_immersion:7nm"),
        }
    return model, states


def test_tsmc_huawei_cut_from_2020q3_and_stays_cut(history):
    _, states = history
    for quarter, state in states.items():
        edges = state["tsmc_huawei"]
        assert edges, "TSMC -> Huawei relations exist"
        if parse_quarter(quarter) < parse_quarter("2020Q3"):
            assert all(edges.values()), f"{quarter}: TSMC still supplies Huawei before the FDPR"
        else:
            assert not any(edges.values()), f"{quarter}: TSMC -> Huawei must be cut"


def test_smic_loses_euv_from_the_start_and_duv_immersion_later(history):
    _, states = history
    assert all(not any(s["asml_smic_euv"].values()) for s in states.values())
    duv = {q: all(s["asml_smic_duv_7nm"].values()) for q, s in states.items()}
    # The Dutch rule (in force 2023-09, shipments under earlier licences until 2024-01)
    # and the US rule of 2023-10 (foreign direct product, 2023Q4) close it.
    assert duv["2019Q1"] and duv["2023Q3"], "immersion DUV for 7nm reaches SMIC before the 2023 rules"
    assert not any(v for q, v in duv.items() if parse_quarter(q) >= parse_quarter("2023Q4"))


def test_cut_edges_never_fall_while_no_rule_is_lifted(history):
    """Edges come back only when a rule ends (the H20 licence requirement, 2025Q3; the
    2023 chip rule, replaced in 2026Q1): before the first end no cut edge is restored,
    and every restore names a rule that ended."""
    model, _ = history
    frame = model.frames()["model"]
    ends = {r.id: r.end for r in model.rules if r.end is not None}
    first_end = min(parse_quarter(q) for q in ends.values())
    before = frame[frame["quarter"].map(parse_quarter) < first_end]
    assert np.all(np.diff(before["cut_edges"]) >= 0)
    ledger = model.ledger_frame()
    restores = ledger[ledger["action"] == "restore"]
    assert len(restores) > 0 and set(restores["rule"]) <= set(ends)
    assert (restores["quarter"].map(parse_quarter) >= first_end).all()
    assert frame["cut_edges"].iloc[-1] > 0
    assert (frame["active_edges"] + frame["cut_edges"]).nunique() == 1


def test_every_cut_is_in_the_ledger_with_its_rule(history):
    """Cut edges now = cuts in the ledger - restores (an edge two rules cut is restored
    once, when the second goes)."""
    model, _ = history
    ledger = model.ledger_frame()
    cuts = ledger[ledger["action"] == "cut"]
    restores = ledger[ledger["action"] == "restore"]
    assert len(cuts) - len(restores) == model.frames()["model"]["cut_edges"].iloc[-1]
    assert set(cuts["rule"]) <= {r.id for r in model.rules}
    assert cuts["note"].str.len().min() > 0, "each cut cites its event"


def test_no_flow_on_cut_edges_and_none_beyond_capacity(history):
    model, _ = history
    wafers = model.trade.wafers
    assert np.all(wafers.volume[~wafers.active] == 0)
    for foundry in model.foundries:
        assert np.all(foundry.delivered <= foundry.capacity_by_tier * (1 + 1e-9) + 1e-6)


def test_lifting_a_rule_restores_what_it_cut(tmp_path):
    scenario = tmp_path / "lifted.toml"
    scenario.write_text(
        """
[scenario]
name = "lifted"
extends = "no_controls"

[[rules]]
id = "test-fdpr"
issuer = "US"
kind = "wafers"
targets = ["Huawei"]
foreign_direct_product = true
effective = "2020Q3"
end = "2022Q1"
event = "test rule"
"""
    )
    model = ChipMarketModel(scenario=scenario, rng=1)
    model.run()
    frame = model.frames()["model"].set_index("quarter")
    assert frame.loc["2020Q2", "cut_edges"] == 0
    assert frame.loc["2021Q4", "cut_edges"] > 0
    assert frame.loc["2022Q1", "cut_edges"] == 0
    ledger = model.ledger_frame()
    assert (ledger["action"] == "cut").sum() == (ledger["action"] == "restore").sum() > 0
    assert all(edge_states(model, "TSMC", "Huawei").values())


def test_state_allocator_rewires_smic_advanced_tiers_for_champions():
    model = ChipMarketModel(scenario="state_allocation", rng=1).run()
    ledger = model.ledger_frame()
    rewired = ledger[ledger["action"] == "rewire"]
    assert set(rewired["supplier"]) == {"SMIC"}
    assert set(rewired["buyer"]) == {"Huawei"}
    assert set(rewired["item"]) == {"7nm"}  # SMIC's advanced tiers: 7nm-class alone (N+1/N+2/N+3; no leading tier)
    assert set(rewired["quarter"]) == {"2025Q4"}
    assert (ledger["action"] == "directive").sum() == 1


def test_graphml_export_at_any_step(tmp_path):
    import networkx as nx

    model = ChipMarketModel(scenario="state_allocation", rng=2)
    for step in range(0, 48, 7):
        path = model.export_graph(tmp_path / f"graph_{step}.graphml")
        back = nx.read_graphml(path, force_multigraph=True)
        assert back.number_of_nodes() == model.graph.number_of_nodes()
        assert back.number_of_edges() == model.graph.number_of_edges()
        cut = sum(1 for *_, d in back.edges(data=True) if not d["active"])
        assert cut == model.trade.counts()[1]
        model.run(7)
    assert model.export_graph(tmp_path / "end.gexf").exists()


def test_a_run_that_starts_late_inherits_the_controls_in_force():
    """Rules that took effect before the start are in force from the first quarter (they
    were silently skipped before); none that ended before it is applied."""
    model = ChipMarketModel(scenario="historical", rng=3, start="2021Q1", end="2021Q4")
    model.step()
    assert not any(edge_states(model, "TSMC", "Huawei").values()), "the 2020 FDPR is in force"
    assert not any(edge_states(model, "ASML", "SMIC", "euv").values())
    ledger = model.ledger_frame()
    applied = set(ledger.loc[ledger["action"] == "cut", "rule"])
    assert {"us-2019-05-entity-huawei", "us-2020-05-fdpr-huawei"} <= applied
    assert (ledger.loc[ledger["action"] == "cut", "quarter"] == "2021Q1").all()


def test_a_government_alone_applies_at_its_first_quarter_what_is_in_force():
    """One Government with stub rules: the first quarter asked catches up, later ones
    report only what changes in that quarter."""
    from agents.government import Government
    from model.scenario import Rule

    def rule(id, effective, end=None, announced=None):
        return Rule(id=id, issuer="US", kind="wafers", targets=("Huawei",), effective=effective,
                    end=end, announced=announced, event="stub")

    rules = [rule("in-force", "2019Q2"), rule("ended", "2019Q2", end="2020Q1"),
             rule("announced", "2021Q3", announced="2020Q2"), rule("later", "2021Q2")]
    model = ChipMarketModel(scenario="no_controls", rng=0)
    government = Government(model, "Stub", "US", rules, [], [])
    first = {(c.action, c.item.id) for c in government.policy_changes(parse_quarter("2021Q1"))}
    assert first == {("apply", "in-force"), ("announce", "announced")}
    second = {(c.action, c.item.id) for c in government.policy_changes(parse_quarter("2021Q2"))}
    assert second == {("apply", "later")}
