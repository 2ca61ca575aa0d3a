"""The accelerator chain's accounting (issue 12): accelerators never exceed what dies,
HBM stacks, packaging or demand allow; die and HBM stocks conserve (in - used = change,
never negative); nothing flows on a cut edge. The pure rules of `model.accelerators`
and the markets of `model.chain` over random inputs (hypothesis), a designer alone with
stub inputs (STYLE.md 15), and the same books kept quarter by quarter in whole runs."""

from __future__ import annotations

import math

import mesa
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from agents.designer import AcceleratorDesigner
from model import ChipMarketModel
from model.accelerators import BINDING, buildable, bundle, capacity_at, dated, draw, mix, usable
from model.chain import HbmMarket, LeakRoutes, PackagingMarket
from model.graph import EdgeSet
from model.reporters import slug
from model.technology import HBM_GENERATIONS, HBM_INDEX, parse_quarter
from model.world import DesignerSpec, ProductSpec

G = len(HBM_GENERATIONS)
amount = st.floats(min_value=0.0, max_value=1e7, allow_nan=False, allow_infinity=False)


def close(a, b, scale=1.0) -> bool:
    """Equal up to float rounding on figures of size `scale` (units, dies, stacks)."""
    return bool(np.all(np.abs(np.asarray(a, dtype=float) - np.asarray(b, dtype=float)) <= 1e-9 * scale + 1e-6))


def at_most(a, b) -> bool:
    """a <= b up to float rounding."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return bool(np.all(a <= b + 1e-9 * np.abs(b) + 1e-6))


# ================================================================ pure functions
@settings(max_examples=400, deadline=None)
@given(dies=amount, hbm=amount, packaging=amount, demand=amount | st.just(math.inf),
       dies_per_unit=st.sampled_from([0.0, 1.0, 2.0, 1.75, 8.0]), stacks_per_unit=st.floats(0.0, 16.0))
def test_buildable_never_exceeds_an_input_and_names_the_one_that_binds(dies, hbm, packaging, demand,
                                                                         dies_per_unit, stacks_per_unit):
    units, binding = buildable(dies, hbm, packaging, demand, dies_per_unit, stacks_per_unit)
    assert binding in BINDING
    if dies_per_unit <= 0:
        assert (units, binding) == (0.0, "demand")
        return
    assert 0.0 <= units
    assert at_most(units * dies_per_unit, dies)
    assert at_most(units * stacks_per_unit, hbm)
    assert units <= packaging and units <= demand
    limits = {"dies": dies / dies_per_unit, "hbm": hbm / stacks_per_unit if stacks_per_unit > 0 else math.inf,
              "demand": demand, "packaging": packaging}
    # The binding input sets the units; any input that sets them too comes later in BINDING.
    assert units == limits[binding] == min(limits.values())
    assert all(limits[name] > units for name in BINDING[:BINDING.index(binding)])


def test_buildable_reports_each_input_when_it_alone_binds():
    # 100 dies, 1000 stacks, 60 slots, 80 wanted; a unit takes 2 dies and 8 stacks.
    assert buildable(100, 1000, 60, 80, 2, 8) == (50, "dies")
    assert buildable(1000, 160, 60, 80, 2, 8) == (20, "hbm")
    assert buildable(1000, 1000, 60, 40, 2, 8) == (40, "demand")
    assert buildable(1000, 1000, 30, 80, 2, 8) == (30, "packaging")
    assert buildable(100, 400, 60, 80, 2, 8) == (50, "dies"), "a tie goes to the first in BINDING"
    assert buildable(100, 0, 60, 80, 2, 0) == (50, "dies"), "a product without HBM is not bound by it"


@st.composite
def stocks(draw_):
    stock = draw_(arrays(float, G, elements=amount))
    return stock, draw_(amount | st.floats(-10.0, 0.0)), draw_(st.integers(0, G - 1))


@settings(max_examples=400, deadline=None)
@given(stocks())
def test_draw_takes_what_is_needed_up_to_the_usable_stock_oldest_first(case):
    stock, need, first = case
    taken = draw(stock, need, first)
    assert usable(stock, first) == pytest.approx(stock[first:].sum())
    assert np.all(taken >= 0) and np.all(taken <= stock), "never more than a generation holds"
    assert np.all(taken[:first] == 0), "generations older than the product takes are never drawn"
    assert close(taken.sum(), min(max(need, 0.0), usable(stock, first)), scale=stock.sum())
    # Oldest first: a generation is drawn only once every older usable one is exhausted.
    for g in np.flatnonzero(taken > 0):
        assert np.all(taken[first:g] == stock[first:g])


def test_draw_keeps_the_newest_stacks_for_the_products_that_need_them():
    stock = np.array([5.0, 10.0, 10.0, 10.0, 0.0])
    assert draw(stock, 15.0, 1).tolist() == [0.0, 10.0, 5.0, 0.0, 0.0]
    assert draw(stock, 100.0, 2).tolist() == [0.0, 0.0, 10.0, 10.0, 0.0]


@st.composite
def capacity_paths(draw_):
    quarters = sorted(draw_(st.lists(st.integers(8000, 8200), min_size=1, max_size=5, unique=True)))
    values = draw_(st.lists(st.just(0.0) | st.floats(1.0, 1e7), min_size=len(quarters), max_size=len(quarters)))
    return list(zip(quarters, values)), draw_(st.floats(0.0, 5.0)), draw_(st.floats(-0.5, 5.0))


@settings(max_examples=300, deadline=None)
@given(capacity_paths())
def test_a_capacity_path_hits_its_points_and_moves_monotonically_between_them(path):
    points, before, after = path
    for q, v in points:
        assert capacity_at(points, q, before, after) == pytest.approx(v, rel=1e-9, abs=1e-6)
    for (q0, v0), (q1, v1) in zip(points, points[1:]):
        values = np.array([capacity_at(points, q, before, after) for q in range(q0, q1 + 1)])
        low, high = min(v0, v1), max(v0, v1)
        assert np.all(values >= low * (1 - 1e-9) - 1e-6) and np.all(values <= high * (1 + 1e-9) + 1e-6)
        steps = np.diff(values) * (1 if v1 >= v0 else -1)
        assert np.all(steps >= -1e-9 * high - 1e-6), "monotone between two points"
    (q_first, v_first), (q_last, v_last) = points[0], points[-1]
    assert capacity_at(points, q_first - 4, before, after) == pytest.approx(v_first / (1 + before))
    assert capacity_at(points, q_last + 4, before, after) == pytest.approx(v_last * (1 + after))


def test_dated_points_are_sorted_absolute_quarters():
    assert dated({"2025Q1": 3, "2024Q3": 1.5}) == [(parse_quarter("2024Q3"), 1.5), (parse_quarter("2025Q1"), 3.0)]


@settings(max_examples=200, deadline=None)
@given(arrays(float, 3, elements=st.floats(0.0, 10.0)))
def test_a_mix_is_a_share_and_a_bundle_its_weighted_bill(shares):
    weights = mix(shares)
    assert weights.sum() == pytest.approx(1.0) if shares.sum() > 0 else np.all(weights == 0)
    dies, stacks = bundle(shares, np.array([1, 2, 1]), np.array([4, 8, 6]))
    if shares.sum() > 0:
        assert 1 - 1e-12 <= dies <= 2 + 1e-12 and 4 - 1e-12 <= stacks <= 8 + 1e-12
    else:
        assert (dies, stacks) == (0.0, 0.0)


# ======================================================================= markets
@st.composite
def hbm_markets(draw_):
    """A random HBM market: makers (capacity, newest generation), designers' needs and
    extras by generation, edges (maker, designer, generation) some of them cut, some at
    risk of an announced rule."""
    n_makers, n_designers = draw_(st.integers(1, 4)), draw_(st.integers(1, 3))
    triples = draw_(st.lists(st.tuples(st.integers(0, n_makers - 1), st.integers(0, n_designers - 1),
                                       st.integers(0, G - 1)), min_size=1, max_size=25, unique=True))
    m, d, g = (np.array(col, dtype=np.int64) for col in zip(*triples))
    edges = EdgeSet("hbm", m, d, np.zeros(len(m), dtype=np.int64), g,
                    [f"M{i}" for i in range(n_makers)], [f"D{i}" for i in range(n_designers)])
    edges.cut_count = draw_(arrays(np.int64, len(m), elements=st.integers(0, 2)))
    capacity = draw_(arrays(float, n_makers, elements=amount))
    newest = draw_(arrays(np.int64, n_makers, elements=st.integers(-1, G - 1)))
    need = draw_(arrays(float, (n_designers, G), elements=amount))
    extra = draw_(arrays(float, (n_designers, G), elements=amount))
    at_risk = draw_(arrays(bool, len(m)))
    factor = draw_(st.floats(0.0, 20.0))
    return HbmMarket(edges, n_makers, np.zeros(n_designers, dtype=bool)), capacity, newest, need, extra, at_risk, factor


@settings(max_examples=300, deadline=None)
@given(hbm_markets())
def test_hbm_flows_only_on_active_edges_a_maker_can_serve_within_orders_and_capacity(case):
    market, capacity, newest, need, extra, at_risk, factor = case
    e = market.edges
    active = e.active.copy()
    shipped = market.trade(capacity, newest, need, extra, at_risk, factor)
    flow = market.flow
    assert shipped.shape == (market.n_designers, G) and np.all(flow >= 0)
    assert np.all(flow[~active] == 0), "nothing flows on a cut edge"
    assert np.all(flow[newest[e.supplier] < e.category] == 0), "no stack of a generation its maker lacks"
    assert np.all(market.orders[~active] == 0), "no order is placed on a cut edge"
    assert at_most(flow, market.orders)
    assert at_most(market.by_maker(flow), capacity)
    assert np.array_equal(e.volume, flow)
    by_group = np.zeros((market.n_designers, G))
    np.add.at(by_group, (e.buyer, e.category), flow)
    assert close(shipped, by_group, scale=capacity.sum())
    # A designer gets at most what it ordered: needs and extras, and the stockpile on
    # edges at risk.
    assert at_most(shipped, (need + extra) * (1 + factor))
    if not at_risk.any():
        assert at_most(shipped, need + extra)
        eligible = active & (newest[e.supplier] >= e.category) & (capacity[e.supplier] > 0)
        placed = np.zeros((market.n_designers, G))
        np.add.at(placed, (e.buyer, e.category), market.orders)
        reachable = np.zeros((market.n_designers, G), dtype=bool)
        reachable[e.buyer[eligible], e.category[eligible]] = True
        assert close(placed[reachable], (need + extra)[reachable], scale=(need + extra).max(initial=1))
        assert np.all(placed[~reachable] == 0)


def one_maker_two_designers() -> HbmMarket:
    edges = EdgeSet("hbm", np.array([0, 0]), np.array([0, 1]), np.zeros(2, dtype=np.int64), np.array([1, 1]),
                    ["M"], ["A", "B"])
    return HbmMarket(edges, 1, np.zeros(2, dtype=bool))


def test_hbm_makers_fill_needs_before_stock_and_stockpiling_jumps_the_queue():
    need, extra = np.zeros((2, G)), np.zeros((2, G))
    need[0, 1], extra[1, 1] = 6.0, 20.0
    shipped = one_maker_two_designers().trade(np.array([10.0]), np.array([4]), need, extra, np.zeros(2, bool), 1.0)
    assert shipped[:, 1].tolist() == pytest.approx([6.0, 4.0])
    # B's edge is at risk of an announced rule: it orders its 20 again as a need, and
    # competes with A's 6 pro rata in the first class.
    shipped = one_maker_two_designers().trade(np.array([10.0]), np.array([4]), need, extra,
                                              np.array([False, True]), 1.0)
    assert shipped[:, 1].tolist() == pytest.approx([10 * 6 / 26, 10 * 20 / 26])


def test_an_hbm_order_goes_around_a_cut_maker():
    edges = EdgeSet("hbm", np.array([0, 1]), np.array([0, 0]), np.zeros(2, dtype=np.int64), np.array([1, 1]),
                    ["M0", "M1"], ["A"])
    edges.cut_count[0] = 1
    need = np.zeros((1, G))
    need[0, 1] = 8.0
    market = HbmMarket(edges, 2, np.zeros(1, dtype=bool))
    shipped = market.trade(np.array([10.0, 10.0]), np.array([4, 4]), need, np.zeros((1, G)), np.zeros(2, bool), 0.0)
    assert shipped[0, 1] == pytest.approx(8.0)
    assert market.flow.tolist() == pytest.approx([0.0, 8.0])


@st.composite
def packaging_markets(draw_):
    n_packagers, n_designers = draw_(st.integers(1, 3)), draw_(st.integers(1, 4))
    pairs = draw_(st.lists(st.tuples(st.integers(0, n_packagers - 1), st.integers(0, n_designers - 1)),
                           min_size=1, max_size=12, unique=True))
    p, d = (np.array(col, dtype=np.int64) for col in zip(*pairs))
    edges = EdgeSet("packaging", p, d, np.zeros(len(p), dtype=np.int64), np.full(len(p), -1),
                    [f"P{i}" for i in range(n_packagers)], [f"D{i}" for i in range(n_designers)])
    edges.cut_count = draw_(arrays(np.int64, len(p), elements=st.integers(0, 2)))
    weight = draw_(arrays(float, len(p), elements=st.floats(0.0, 1.0)))
    capacity = draw_(arrays(float, n_packagers, elements=amount))
    requests = draw_(arrays(float, n_designers, elements=amount))
    return PackagingMarket(edges, weight, n_packagers, np.zeros(n_designers, dtype=bool)), capacity, requests


@settings(max_examples=300, deadline=None)
@given(packaging_markets())
def test_packaging_is_booked_only_on_active_edges_within_requests_and_capacity(case):
    market, capacity, requests = case
    active = market.edges.active.copy()
    booked = market.book(capacity, requests)
    assert np.all(market.flow >= 0)
    assert np.all(market.flow[~active] == 0), "nothing is booked on a cut edge"
    assert at_most(market.flow, market.orders)
    assert at_most(market.by_packager(market.flow), capacity)
    assert at_most(booked, requests), "no designer books more than it asked for"
    assert close(booked, np.bincount(market.edges.buyer, weights=market.flow, minlength=market.n_designers),
                 scale=capacity.sum())


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 4).flatmap(lambda n: st.tuples(
    arrays(np.int64, n, elements=st.integers(0, 2)),  # recipient designer of each route
    arrays(np.int64, n, elements=st.integers(8090, 8100)),  # opening quarter
    arrays(bool, n), arrays(bool, n),  # inbound / outbound cut
    arrays(bool, n),  # the recipient's own wafer edge from the foundry cut (the route evades it)
    st.integers(8088, 8102), st.floats(0.0, 2e6))))
def test_a_leak_route_carries_its_rate_only_while_open_uncut_and_evading_a_cut(case):
    recipient, opens, cut_in, cut_out, cut_direct, quarter, rate = case
    n = len(recipient)
    wafers = EdgeSet("wafers", np.zeros(n, dtype=np.int64), recipient, np.ones(n, dtype=np.int64),
                     np.full(n, -1), ["F"], ["D0", "D1", "D2"])
    wafers.cut_count[cut_direct] = 1
    inbound = EdgeSet("dies", np.zeros(n, dtype=np.int64), np.arange(n), np.ones(n, dtype=np.int64),
                      np.full(n, -1), ["F"], [f"S{i}" for i in range(n)])
    outbound = EdgeSet("relay", np.arange(n), recipient, np.ones(n, dtype=np.int64), np.full(n, -1),
                       [f"S{i}" for i in range(n)], ["D0", "D1", "D2"])
    inbound.cut_count[cut_in], outbound.cut_count[cut_out] = 1, 1
    received = LeakRoutes(inbound, outbound, opens, 3, wafers, [np.array([r]) for r in range(n)]).carry(quarter, rate)
    flowing = (quarter >= opens) & ~cut_in & ~cut_out & cut_direct
    assert received == pytest.approx(np.bincount(recipient, weights=flowing * rate, minlength=3))
    assert np.all(inbound.volume[cut_in] == 0) and np.all(outbound.volume[cut_out] == 0)
    assert np.all(outbound.volume[quarter < opens] == 0)


# ============================================================ a designer, alone
OLD = ProductSpec(name="Old", designer="D", start="2023Q1", dies=1, die_tier="7nm", hbm_stacks=4,
                  hbm_generation="HBM2E", h100e=0.3, source="test stub")
NEW = ProductSpec(name="New", designer="D", start="2024Q1", share={"2024Q1": 0.5}, dies=2, die_tier="7nm",
                  hbm_stacks=8, hbm_generation="HBM3", h100e=0.8, source="test stub")


def stub_designer(demand_units: float | None) -> AcceleratorDesigner:
    spec = DesignerSpec(firm="D", packagers={"P": 1.0}, demand_units=demand_units, source="test stub")
    return AcceleratorDesigner(mesa.Model(rng=0), "D", "CN", spec=spec, products=[OLD, NEW], firm_row=0,
                               dies_per_wafer=60.0)


quarter_inputs = st.tuples(amount, st.floats(0.0, 1e6),  # own dies, leaked dies
                           arrays(float, G, elements=st.floats(0.0, 1e7)),  # HBM shipped, by generation
                           st.floats(0.0, 2.0))  # slots booked, as a share of its request


@settings(max_examples=200, deadline=None)
@given(demand_units=st.none() | st.floats(1e3, 1e7), start=st.sampled_from(["2022Q3", "2023Q3", "2024Q2"]),
       quarters=st.lists(quarter_inputs, min_size=1, max_size=10), cover=st.floats(0.0, 8.0))
def test_a_designer_conserves_its_die_and_hbm_stocks_and_builds_within_its_inputs(demand_units, start, quarters,
                                                                                  cover):
    designer = stub_designer(demand_units)
    for k, (own, leaked, hbm, slot_share) in enumerate(quarters):
        q = parse_quarter(start) + k
        dies_before, hbm_before = designer.die_stock, designer.hbm_stock.copy()
        designer.receive_dies(own, leaked)
        assert designer.die_stock == pytest.approx(dies_before + own + leaked)
        request = designer.plan(q, 1.4, 0.4, 1.0)
        dies, stacks, first = designer.needs(q)
        assert request <= designer.demand_units and at_most(request * dies, designer.die_stock)
        slots = request * slot_share
        need, extra = designer.hbm_order(q, slots, cover)
        assert np.all(need >= 0) and np.all(extra >= 0)
        # By generation: what the slots take of each (shares x stacks of its products)
        # beyond the stock of that generation; the total is the bundle's stacks.
        want = np.zeros(len(hbm_before))
        np.add.at(want, designer.product_generation, slots * designer.shares(q) * designer.product_stacks)
        assert close(want.sum(), slots * stacks, scale=slots * stacks)
        assert np.allclose(need, np.maximum(want - hbm_before, 0.0), rtol=1e-9, atol=1e-6 * max(slots * stacks, 1.0))
        designer.receive_hbm(hbm)
        units = designer.assemble(q, slots)
        in_dies, in_hbm = dies_before + own + leaked, hbm_before + hbm
        # Within every input.
        assert 0 <= units and at_most(units, slots) and units <= designer.demand_units
        assert at_most(units * dies, in_dies) and at_most(units * stacks, usable(in_hbm, first))
        assert designer.binding in BINDING
        assert designer.units_by_product.sum() == pytest.approx(units)
        # Stocks conserve: in - used = change, never negative; only usable HBM is drawn.
        assert designer.die_stock >= 0 and np.all(designer.hbm_stock >= 0)
        assert close(designer.die_stock, in_dies - units * dies, scale=in_dies)
        taken = in_hbm - designer.hbm_stock
        assert np.all(taken >= -1e-6) and close(taken[:first], 0.0)
        assert close(taken.sum(), units * stacks, scale=in_hbm.sum())


def test_a_designer_without_products_in_the_quarter_makes_nothing():
    designer = stub_designer(1e5)
    q = parse_quarter("2022Q1")  # before either product starts
    designer.receive_dies(1000.0, 0.0)
    assert designer.plan(q, 1.4, 0.4, 1.0) == 0.0
    designer.receive_hbm(np.full(G, 100.0))
    assert designer.assemble(q, 50.0) == 0.0
    assert designer.die_stock == 1000.0 and designer.hbm_stock.sum() == 500.0


# ========================================================= whole runs, quarter by quarter
def run_recording(scenario: str = "state_allocation", seed: int = 1, **overrides):
    """A finished run and, per quarter, what the chain's edges carried: activity and
    flow of each edge set, makers' newest generations, designers' HBM stocks by
    generation and the stacks shipped to each (designers x generations)."""
    model = ChipMarketModel(scenario=scenario, rng=seed, **overrides)
    hbm, packaging = model.hbm_market, model.packaging_market
    records = []
    stocks_before = np.array([d.hbm_stock for d in model.designers])
    for _ in range(model.last_quarter - model.quarter_number):
        model.step()
        shipped = np.zeros((len(model.designers), G))
        np.add.at(shipped, (hbm.edges.buyer, hbm.edges.category), hbm.flow)
        stocks_now = np.array([d.hbm_stock for d in model.designers])
        records.append({
            "quarter": model.quarter,
            "edges": {kind: (edges.active.copy(), edges.volume.copy()) for kind, edges in (
                ("hbm", hbm.edges), ("packaging", packaging.edges),
                ("dies", model.leak_routes.inbound), ("relay", model.leak_routes.outbound))},
            "hbm_orders": hbm.orders.copy(),
            "newest": np.array([m.newest for m in model.memory_makers]),
            "hbm_before": stocks_before, "hbm_after": stocks_now, "hbm_shipped": shipped,
        })
        stocks_before = stocks_now
    return model, records


def edge_index(edges: EdgeSet, supplier: str, buyer: str) -> int:
    (i,) = [i for i in range(len(edges)) if edges.supplier_names[edges.supplier[i]] == supplier
            and edges.buyer_names[edges.buyer[i]] == buyer]
    return i


def check_chain_books(model, records) -> None:
    """Every quarter: nothing on a cut edge, no stack of a generation a maker lacks, no
    flow above an order; per designer the die bank and HBM stock conserve, never
    negative, and accelerators stay within dies, HBM, packaging and demand."""
    hbm = model.hbm_market.edges
    for r in records:
        for kind, (active, flow) in r["edges"].items():
            assert np.all(flow[~active] == 0), f"{r['quarter']}: flow on a cut {kind} edge"
            assert np.all(flow >= 0)
        flow = r["edges"]["hbm"][1]
        assert np.all(flow[r["newest"][hbm.supplier] < hbm.category] == 0), r["quarter"]
        assert at_most(flow, r["hbm_orders"]), r["quarter"]
    frames = model.frames()
    for name, rows in frames["designer"].groupby("name", sort=False):
        designer = model.designers[model.designer_index[name]]
        rows = rows.sort_values("step")
        quarters = [parse_quarter(q) for q in rows["quarter"].iloc[1:]]
        per_unit = np.array([designer.needs(q)[:2] for q in quarters]).reshape(-1, 2)
        units = rows["accelerators"].to_numpy()[1:]
        bank, hbm_stock = rows["die_bank_dies"].to_numpy(), rows["hbm_stock_stacks"].to_numpy()
        dies_in = rows["dies_in"].to_numpy()[1:] + rows["leak_dies_in"].to_numpy()[1:]
        hbm_in = rows["hbm_in_stacks"].to_numpy()[1:]
        scale = max(bank.max(), hbm_stock.max(), 1.0)
        assert np.all(bank >= 0) and np.all(hbm_stock >= 0), name
        assert close(bank[1:], bank[:-1] + dies_in - units * per_unit[:, 0], scale), f"{name}: die bank"
        assert close(hbm_stock[1:], hbm_stock[:-1] + hbm_in - units * per_unit[:, 1], scale), f"{name}: HBM stock"
        assert at_most(units * per_unit[:, 0], bank[:-1] + dies_in), name
        assert at_most(units, rows["packaging_booked"].to_numpy()[1:]), name
        assert np.all(units <= rows["demand_units"].to_numpy()[1:]), name
        assert set(rows["binding_input"].iloc[1:]) <= set(BINDING), name
    # HBM by generation: what each designer received is what its edges carried; only
    # the generations its products take are drawn, never more than it holds.
    made = frames["designer"].pivot(index="quarter", columns="name", values="accelerators")
    for r, q in zip(records, [parse_quarter(r["quarter"]) for r in records]):
        taken = r["hbm_before"] + r["hbm_shipped"] - r["hbm_after"]
        assert np.all(r["hbm_after"] >= 0), r["quarter"]
        assert np.all(taken >= -1e-6 * (1 + r["hbm_before"].max())), r["quarter"]
        for d, designer in enumerate(model.designers):
            _, stacks, first = designer.needs(q)
            assert close(taken[d, :first], 0.0, r["hbm_before"].max()), (r["quarter"], designer.name)
            assert close(taken[d].sum(), made.loc[r["quarter"], designer.name] * stacks,
                         r["hbm_before"][d].sum() + r["hbm_shipped"][d].sum()), (r["quarter"], designer.name)
    makers, packagers = frames["memory"], frames["packager"]
    assert at_most(makers["shipped_stacks"], makers["capacity_stacks"])
    assert at_most(makers["shipped_stacks"], makers["ordered_stacks"])
    assert at_most(packagers["booked_packages"], packagers["capacity_packages"])


@pytest.fixture(scope="module")
def default_run():
    return run_recording("state_allocation", 1)


def test_the_default_run_keeps_the_chains_books(default_run):
    check_chain_books(*default_run)


@settings(max_examples=25, deadline=None)
@given(scenario=st.sampled_from(["state_allocation", "historical", "no_die_bank", "hbm_sealed"]),
       seed=st.integers(0, 2**31 - 1), leak=st.floats(0.0, 2e6), stockpile=st.floats(0.0, 20.0),
       scale=st.floats(0.1, 5.0), cover=st.floats(0.0, 8.0), reserved=st.floats(0.0, 1.0))
def test_random_runs_keep_the_chains_books(scenario, seed, leak, stockpile, scale, cover, reserved):
    """The same books over random seeds and random values of the chain's parameters,
    anywhere in their allowed ranges."""
    check_chain_books(*run_recording(scenario, seed, end="2027Q4", die_leak_per_quarter=leak,
                                     hbm_stockpile_factor=stockpile, accelerator_demand_scale=scale,
                                     hbm_cover_quarters=cover, reserved_share=reserved))


def test_the_reporters_read_the_designers_rows(default_run):
    model, _ = default_run
    frames = model.frames()
    designers = frames["designer"].set_index(["quarter", "name"])
    rows = frames["model"].set_index("quarter")
    huawei = designers.xs("Huawei", level="name").loc[rows.index]
    assert np.array_equal(rows["huawei_accelerators"], huawei["accelerators"])
    assert np.array_equal(rows["huawei_binding_input"], huawei["binding_input"])
    assert np.array_equal(rows["huawei_die_bank_dies"], huawei["die_bank_dies"])
    assert np.array_equal(rows["huawei_leak_dies"], huawei["leak_dies_in"])
    chinese = frames["designer"][frames["designer"]["country"] == "CN"].groupby("quarter")["hbm_stock_stacks"].sum()
    assert np.allclose(rows["china_hbm_stock_stacks"], chinese.loc[rows.index])
    for designer in model.designers:
        column = f"accelerators_{slug(designer.name)}"
        assert np.array_equal(rows[column], designers.xs(designer.name, level="name").loc[rows.index, "accelerators"])


# ================================================================ cut edges, by date
def test_leak_dies_stop_when_the_tsmc_letter_cuts_the_shell(default_run):
    model, records = default_run
    frame = model.frames()["model"]
    leak = frame.set_index("quarter")["huawei_leak_dies"]
    assert leak.loc["2023Q1":"2024Q3"].sum() > 0, "the die bank's route is open before the letter"
    assert np.all(leak.loc["2024Q4":] == 0)
    inbound = model.leak_routes.inbound
    shell = edge_index(inbound, "TSMC", "Sophgo (shell)")
    assert "us-2024-11-tsmc-letter" in inbound.cut_by()[shell].split(",")
    for r in records:
        if r["quarter"] >= "2024Q4":
            active, flow = r["edges"]["dies"]
            assert not active[shell] and flow[shell] == 0, r["quarter"]


def test_without_controls_nobody_buys_through_a_shell():
    """In no_controls TSMC may sell Huawei its 7nm wafers: the shell's route carries nothing."""
    model, _ = run_recording("no_controls", 1)
    assert np.all(model.frames()["model"]["huawei_leak_dies"] == 0)
    assert model.frames()["model"].set_index("quarter").loc["2023Q1":"2025Q4", "huawei_ai_dies"].sum() > 0


def test_no_die_bank_means_no_leak_dies_in_any_quarter():
    model, records = run_recording("no_die_bank", 1)
    designers = model.frames()["designer"]
    assert np.all(designers["leak_dies_in"] == 0)
    assert np.all(model.frames()["model"]["huawei_leak_dies"] == 0)
    assert all(np.all(r["edges"]["relay"][1] == 0) for r in records)


@pytest.mark.parametrize("scenario, rule_from", [("historical", "2025Q1"), ("hbm_sealed", "2024Q3")])
def test_chinese_designers_get_no_foreign_hbm_once_the_rule_bites(scenario, rule_from):
    model, records = run_recording(scenario, 2)
    frames = model.frames()
    makers = frames["memory"]
    foreign = makers[makers["country"] != "CN"]
    assert foreign.loc[foreign["quarter"] < rule_from, "china_stacks"].sum() > 0, "China bought HBM before the rule"
    assert np.all(foreign.loc[foreign["quarter"] >= rule_from, "china_stacks"] == 0)
    # What Chinese designers received from then on is what Chinese makers shipped to them.
    designers = frames["designer"]
    received = designers[(designers["country"] == "CN") & (designers["quarter"] >= rule_from)].groupby("quarter")[
        "hbm_in_stacks"].sum()
    domestic = makers[(makers["country"] == "CN") & (makers["quarter"] >= rule_from)].groupby("quarter")[
        "china_stacks"].sum()
    assert np.allclose(received, domestic.loc[received.index])
    # Edge by edge: every foreign maker -> Chinese designer edge of a generation the rule
    # reaches (HBM2E and newer) is cut by it and carries nothing.
    hbm = model.hbm_market.edges
    reached = np.array([
        model.memory_makers[s].country != "CN" and model.designers[b].country == "CN" and g >= HBM_INDEX["HBM2E"]
        for s, b, g in zip(hbm.supplier, hbm.buyer, hbm.category)])
    assert reached.any()
    assert all("us-2024-12-hbm" in hbm.cut_by()[i].split(",") for i in np.flatnonzero(reached))
    for r in records:
        if r["quarter"] >= rule_from:
            active, flow = r["edges"]["hbm"]
            assert not active[reached].any() and np.all(flow[reached] == 0), r["quarter"]


def test_huawei_gets_no_tsmc_packaging_after_the_2020_rule(default_run):
    model, records = default_run
    tsmc_huawei = edge_index(model.packaging_market.edges, "TSMC CoWoS", "Huawei")
    before = [r["edges"]["packaging"][1][tsmc_huawei] for r in records if r["quarter"] < "2020Q3"]
    assert sum(before) > 0, "TSMC packaged Huawei's Ascend 910 before the rule"
    for r in records:
        if r["quarter"] >= "2020Q3":
            active, flow = r["edges"]["packaging"]
            assert not active[tsmc_huawei] and flow[tsmc_huawei] == 0, r["quarter"]
