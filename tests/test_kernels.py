"""The fleet kernels give, to the last bit, what the per-foundry forms give."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from agents.foundry import DOMESTIC, FOREIGN, age_fleet, tier_totals
from model.market import split_orders


def _arrays(seed: int, shape) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.random(shape) * 10.0 ** rng.uniform(-3, 6, size=shape)


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(1, 6), st.integers(1, 12))
def test_tier_totals_are_the_per_foundry_sums_bit_for_bit(seed, lag, n_foundries):
    capacity, pipeline = _arrays(seed, (n_foundries, 5, 2, 2)), _arrays(seed + 1, (n_foundries, lag, 5, 2, 2))
    cap, pipe = tier_totals(capacity, pipeline)
    for f in range(n_foundries):
        assert cap[f].tolist() == capacity[f].sum(axis=(1, 2)).tolist()
        assert pipe[f].tolist() == [pipeline[f][:, i].sum() for i in range(5)]


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**32 - 1), st.lists(st.booleans(), min_size=1, max_size=8))
def test_age_fleet_is_each_foundry_aged_alone(seed, unserviced):
    n = len(unserviced)
    capacity, pipeline = _arrays(seed, (n, 5, 2, 2)), _arrays(seed + 1, (n, 3, 5, 2, 2))
    expected_cap, expected_pipe = capacity.copy(), pipeline.copy()
    for f in range(n):  # the per-foundry rule as it was written before the fleet
        expected_cap[f] += expected_pipe[f][0]
        expected_pipe[f] = np.roll(expected_pipe[f], -1, axis=0)
        expected_pipe[f][-1] = 0.0
        expected_cap[f] *= 1.0 - 0.05
        if unserviced[f]:
            expected_cap[f][:, :, FOREIGN] *= 1.0 - 0.06
    age_fleet(capacity, pipeline, 0.05, 0.06, np.array(unserviced))
    assert capacity.tolist() == expected_cap.tolist() and pipeline.tolist() == expected_pipe.tolist()
    assert (pipeline[:, -1] == 0).all()


def test_fleet_deliveries_add_in_edge_order():
    """Two vendors' deliveries to one cell add one after another, as per-edge calls did."""
    inventory = np.zeros((1, 5, 5, 2))
    units = np.array([0.1, 0.2, 0.3])
    np.add.at(inventory, (np.zeros(3, int), np.zeros(3, int), np.zeros(3, int),
                          np.array([FOREIGN, FOREIGN, DOMESTIC])), units)
    assert inventory[0, 0, 0, FOREIGN] == 0.0 + 0.1 + 0.2 and inventory[0, 0, 0, DOMESTIC] == 0.3


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**32 - 1))
def test_split_orders_conserves_each_groups_demand(seed):
    rng = np.random.default_rng(seed)
    n_groups, n_edges = 7, 40
    group = rng.integers(0, n_groups, n_edges)
    weights, active = rng.random(n_edges), rng.random(n_edges) < 0.7
    demand = rng.random(n_groups) * 100
    orders = split_orders(demand, group, weights, active)
    placed = np.bincount(group, weights=orders, minlength=n_groups)
    served = np.bincount(group, weights=active * weights, minlength=n_groups) > 0
    assert np.allclose(placed[served], demand[served]) and (placed[~served] == 0).all()
    assert (orders[~active] == 0).all()
