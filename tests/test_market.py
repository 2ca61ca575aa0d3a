"""Market clearing and order splitting, alone: hypothesis properties over random inputs."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from model.market import clear, herfindahl, split_orders, update_prices

finite = st.floats(min_value=0.0, max_value=1e6, allow_nan=False, allow_infinity=False)


@st.composite
def markets(draw):
    """A random market: suppliers with capacity, edges with orders, activity, classes."""
    n_suppliers = draw(st.integers(1, 6))
    n_edges = draw(st.integers(0, 30))
    capacity = draw(arrays(float, n_suppliers, elements=finite))
    orders = draw(arrays(float, n_edges, elements=finite))
    supplier = draw(arrays(np.int64, n_edges, elements=st.integers(0, n_suppliers - 1)))
    active = draw(arrays(bool, n_edges))
    priority = draw(arrays(np.int64, n_edges, elements=st.integers(0, 2)))
    caps = np.array(draw(st.lists(st.floats(0.0, 1.0), min_size=3, max_size=3)))
    return capacity, orders, supplier, active, priority, caps


@settings(max_examples=300, deadline=None)
@given(markets())
def test_clearing_respects_bounds_and_cut_edges(market):
    capacity, orders, supplier, active, priority, caps = market
    flow = clear(capacity, orders, supplier, active, priority, caps)
    assert np.all(flow >= 0)
    assert np.all(flow <= orders + 1e-9)
    assert np.all(flow[~active] == 0), "no flow ever runs on a cut edge"
    used = np.bincount(supplier, weights=flow, minlength=len(capacity))
    assert np.all(used <= capacity * (1 + 1e-9) + 1e-9), "nothing beyond capacity"


@settings(max_examples=300, deadline=None)
@given(markets())
def test_clearing_conserves_capacity(market):
    """A supplier whose active orders exceed its capacity is fully used; otherwise
    every active order on it is filled."""
    capacity, orders, supplier, active, priority, caps = market
    flow = clear(capacity, orders, supplier, active, priority, caps)
    wanted = np.bincount(supplier, weights=np.where(active, orders, 0.0), minlength=len(capacity))
    used = np.bincount(supplier, weights=flow, minlength=len(capacity))
    assert np.allclose(used, np.minimum(wanted, capacity), rtol=1e-9, atol=1e-6)


@settings(max_examples=300, deadline=None)
@given(markets())
def test_priority_class_is_served_first(market):
    """Class 0 gets min(its orders, cap_0 x capacity) before anyone else gets anything."""
    capacity, orders, supplier, active, priority, caps = market
    flow = clear(capacity, orders, supplier, active, priority, caps)
    first = active & (priority == 0)
    wanted0 = np.bincount(supplier, weights=np.where(first, orders, 0.0), minlength=len(capacity))
    got0 = np.bincount(supplier, weights=np.where(first, flow, 0.0), minlength=len(capacity))
    assert np.all(got0 >= np.minimum(wanted0, caps[0] * capacity) - 1e-6 * (1 + capacity))


def test_reserved_share_then_market():
    """A champion with a 60% reservation on 100 wafers, against one rival ordering 100:
    the champion takes 60 first, then the remaining 40 are split pro rata to unfilled
    orders (champion 40 unfilled, rival 100) -> champion 60 + 40*40/140."""
    flow = clear(np.array([100.0]), np.array([100.0, 100.0]), np.array([0, 0]),
                 np.array([True, True]), np.array([0, 1]), np.array([0.6, 1.0]))
    assert flow[0] == __import__("pytest").approx(60 + 40 * 40 / 140)
    assert flow[1] == __import__("pytest").approx(40 * 100 / 140)


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 5).flatmap(lambda g: st.tuples(
    arrays(float, g, elements=finite),
    arrays(np.int64, 12, elements=st.integers(0, g - 1)),
    arrays(float, 12, elements=st.floats(0, 10)),
    arrays(bool, 12),
)))
def test_split_orders_places_each_groups_demand_once(case):
    demand, group, weights, active = case
    orders = split_orders(demand, group, weights, active)
    assert np.all(orders >= 0) and np.all(orders[~active] == 0)
    placed = np.bincount(group, weights=orders, minlength=len(demand))
    reachable = np.bincount(group, weights=np.where(active, weights, 0.0), minlength=len(demand)) > 0
    assert np.allclose(placed[reachable], demand[reachable])
    assert np.all(placed[~reachable] == 0)


def test_prices_move_with_excess_demand_within_bounds():
    ref = np.array([100.0, 100.0, 100.0])
    price = update_prices(ref.copy(), np.array([200.0, 50.0, 90.0]), np.array([100.0, 100.0, 100.0]), ref, 0.2)
    assert price[0] > 100 > price[1] and price[2] == 100  # 90% loaded: the normal load, price held
    full = update_prices(ref.copy(), np.array([100.0]), np.array([100.0]), ref[:1], 0.2, normal_load=1.0)
    assert full[0] == 100
    for _ in range(100):
        price = update_prices(price, np.array([1e9, 0.0, 100.0]), np.array([1.0, 100.0, 100.0]), ref, 0.5)
    assert price[0] == 130 and price[1] == 75


def test_herfindahl():
    assert herfindahl(np.array([100.0])) == 10_000
    assert herfindahl(np.array([50.0, 50.0])) == 5_000
