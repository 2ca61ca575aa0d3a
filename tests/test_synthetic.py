"""Synthetic worlds: generated from the model's rng, on top of the world's own actors,
and the model runs on them with the clearing invariants intact."""

from __future__ import annotations

import numpy as np
import pytest

from agents.fabless import stream_demand
from model import ChipMarketModel
from model.scenario import parse_assignment
from model.synthetic import synthetic_world
from model.world import load_world, world_path

N_FIRMS, N_FOUNDRIES, N_VENDORS = 1000, 6, 4


def generated(seed: int, firms=300, foundries=5, vendors=4):
    return synthetic_world(load_world(), np.random.default_rng(seed), firms=firms,
                           foundries=foundries, vendors=vendors)


def dump(world) -> list:
    return [[a.model_dump() for a in group] for group in (world.firms, world.foundries, world.vendors)]


def test_same_seed_same_world_other_seed_other_world():
    assert dump(generated(3)) == dump(generated(3))
    assert dump(generated(3)) != dump(generated(4))


def test_keeps_the_default_actors_and_adds_the_requested_counts():
    base = load_world()
    world = generated(5, firms=250, foundries=7, vendors=3)
    for group, extra in (("firms", 250), ("foundries", 7), ("vendors", 3)):
        mine, theirs = getattr(world, group), getattr(base, group)
        assert len(mine) == len(theirs) + extra
        assert [a.model_dump() for a in mine[:len(theirs)]] == [a.model_dump() for a in theirs]
    assert world.governments == base.governments
    names = [a.name for group in (world.firms, world.foundries, world.vendors) for a in group]
    assert len(names) == len(set(names))
    assert all(f.synthetic for f in world.foundries[len(base.foundries):])
    assert not any(f.synthetic for f in base.foundries)


def test_no_counts_no_draws():
    rng = np.random.default_rng(9)
    state = rng.bit_generator.state
    world = load_world()
    assert synthetic_world(world, rng) is world
    assert rng.bit_generator.state == state


def test_generated_world_is_plausible():
    base, world = load_world(), generated(11, firms=2000, foundries=10, vendors=8)
    firms = world.firms[len(base.firms):]
    wafers = np.array([sum(s.wafers for s in f.demand) for f in firms])
    named = sum(s.wafers for f in base.firms for s in f.demand if s.start is None)
    # Heavy tail: the biggest tenth of firms wants most of the wafers; all want some.
    top = np.sort(wafers)[::-1][: len(wafers) // 10].sum() / wafers.sum()
    assert (wafers > 0).all() and top > 0.4
    assert wafers.sum() == pytest.approx(0.15 * named)  # model.synthetic.TAIL_SHARE
    assert len({f.country for f in firms}) >= 4
    tiers = {s.tier for f in firms for s in f.demand}
    assert {"mature", "28nm", "7nm"} <= tiers
    foundry_names = {f.name for f in world.foundries}
    for f in firms:
        for s in f.demand:
            assert s.suppliers and set(s.suppliers) <= foundry_names
            assert sum(s.suppliers.values()) == pytest.approx(1.0)
            # every named supplier runs the tier
            assert all(s.tier in next(x for x in world.foundries if x.name == n).tiers for n in s.suppliers)


def test_set_option_parses():
    assert parse_assignment("world.synthetic_firms=10000") == ("synthetic_firms", 10000)


@pytest.fixture(scope="module")
def synthetic_model():
    """Historical scenario with 1k synthetic firms, stepped through 2020Q4 (Huawei's
    FDPR cut, SMIC's entity listing); invariants are checked after every step."""
    model = ChipMarketModel(scenario="historical", rng=2, synthetic_firms=N_FIRMS,
                            synthetic_foundries=N_FOUNDRIES, synthetic_vendors=N_VENDORS)
    checked = []
    for _ in range(8):
        model.step()
        checked.append(clearing_invariants(model))
    return model, checked


def clearing_invariants(model) -> dict:
    wafers, tools = model.trade.wafers, model.trade.tools
    flow, orders = model.wafer_market.flow, model.wafer_market.orders
    capacity = model.foundry_capacity().ravel()  # unchanged since phase 6 cleared against it
    per_supplier = np.bincount(model.wafer_market.seller, weights=flow, minlength=len(capacity))
    assert (flow >= 0).all() and (tools.volume >= 0).all()
    assert (flow <= orders * (1 + 1e-12) + 1e-9).all()
    assert (per_supplier <= capacity * (1 + 1e-9) + 1e-6).all()
    assert (flow[~wafers.active] == 0).all() and (tools.volume[~tools.active] == 0).all()
    assert (wafers.volume == flow).all()
    return {"cut": int((~wafers.active).sum() + (~tools.active).sum()), "flow": float(flow.sum())}


def test_runs_with_clearing_invariants(synthetic_model):
    model, checked = synthetic_model
    assert model.quarter == "2020Q4"
    assert len(model.firms) == len(load_world().firms) + N_FIRMS
    assert checked[-1]["cut"] > 0 and all(c["flow"] > 0 for c in checked)
    frame = model.frames()["model"]
    assert len(frame) == 9 and frame["huawei_ai_dies"].notna().all()
    # Synthetic firms trade: most of them got wafers in the last quarter.
    delivered = model.firm_figures.delivered.sum(axis=1)[len(load_world().firms):]
    assert (delivered > 0).mean() > 0.8


def test_firms_buy_from_synthetic_foundries_only_when_they_name_them(synthetic_model):
    model, _ = synthetic_model
    wafers, world = model.trade.wafers, model.world
    synthetic = np.array([f.synthetic for f in world.foundries])
    named = {
        (j, model.foundry_index[name])
        for j, spec in enumerate(world.firms)
        for prefs in (spec.suppliers, *(s.suppliers or {} for s in spec.demand)) for name in prefs
    }
    links = set(zip(wafers.buyer[synthetic[wafers.supplier]].tolist(),
                    wafers.supplier[synthetic[wafers.supplier]].tolist()))
    assert links and links <= named
    # every firm may buy from every named foundry that runs a tier it can use
    assert len(wafers) < len(model.firms) * len(model.foundries) * 5


def test_batched_demand_equals_each_firms_own_rule(synthetic_model):
    model, _ = synthetic_model
    n = len(model.firms)
    shock = np.random.default_rng(0).lognormal(0, 0.1, n)
    total, ai = stream_demand(model.sector.streams, n, model.quarter_number, model.origin, 0.45, 0.9, shock)
    for j in list(range(12)) + list(range(12, n, 97)):
        mine, mine_ai = model.firms[j].wafer_demand(model.quarter_number, 0.45, 0.9, shock[j])
        assert (mine == total[j]).all() and (mine_ai == ai[j]).all()


def test_a_world_file_with_synthetic_actors():
    model = ChipMarketModel(scenario="no_controls", rng=1, world=str(world_path("default")),
                            synthetic_firms=50, synthetic_foundries=2, synthetic_vendors=2)
    model.run(2)
    assert len(model.firms) == len(load_world().firms) + 50
    assert model.graph.number_of_edges() == sum(len(edges) for edges in model.trade.edge_sets)


def test_a_scenario_file_can_ask_for_a_synthetic_world(tmp_path):
    scenario = tmp_path / "long_tail.toml"
    scenario.write_text(
        '[scenario]\nname = "long_tail"\nextends = "historical"\n'
        f'[parameters]\nsynthetic_firms = 40\nsynthetic_foundries = 2\nworld = "{world_path("default")}"\n'
    )
    model = ChipMarketModel(scenario=str(scenario), rng=4)
    assert len(model.firms) == len(load_world().firms) + 40
    assert len(model.foundries) == len(load_world().foundries) + 2
    assert model.rules  # the historical timeline came along
