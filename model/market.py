"""Market rules as pure functions over numpy arrays.

Nothing here knows about agents, Mesa or the graph: each function takes arrays and
returns arrays, and the tests exercise them alone (as ABIDES tests its order book
without an exchange). The model calls them in its phases.

Vocabulary: a *supplier* is one selling unit with a capacity (a foundry-tier, or a
vendor's output of one tool category); an *edge* is a permitted supply relation from a
supplier to a buyer, with an order on it; a *flow* is what the edge carries this quarter.
"""

from __future__ import annotations

import numpy as np


try:
    from numpy._core.umath import clip as _clip  # numpy >= 2
except ImportError:  # pragma: no cover
    from numpy.core.umath import clip as _clip

SPARSE_MIN_EDGES = 10_000
"""From this many edges the kernels work on the edges that carry something (the same
numbers); below it numpy's cost per call dominates and the dense forms are quicker."""


def split_orders(
    demand: np.ndarray,
    edge_group: np.ndarray,
    weights: np.ndarray,
    active: np.ndarray,
) -> np.ndarray:
    """Split each group's demand over its active edges in proportion to their weights.

    demand[g] is what buyer-group g wants (a firm's wafers at one tier, a foundry's tool
    units of one category for one tier); edge_group[e] names the group of edge e.
    Returns orders[e] >= 0 with, for every group that has an active edge of positive
    weight, sum(orders of the group) == demand[g]; a group with none gets nothing
    (the caller decides what an unplaced demand means). Inactive edges get 0.
    """
    if len(weights) < SPARSE_MIN_EDGES or not zero_elsewhere(demand):
        return _split_orders_dense(demand, edge_group, weights, active)
    live = live_edges(weights, active)
    orders = np.zeros(len(weights))
    orders[live] = split_live(demand, edge_group[live], weights[live])
    return orders


def live_edges(weights: np.ndarray, active: np.ndarray) -> np.ndarray:
    """Indices of the active edges whose weight counts in `split_orders`: positive (or
    NaN, which must spread to its group as it does in the masked rule). A world of 10^6
    relations has a few 10^5 of them: firms weight few of the foundries they could use."""
    live = np.less_equal(weights, 0.0)
    np.logical_not(live, out=live)
    live &= active
    return np.flatnonzero(live)


def zero_elsewhere(demand: np.ndarray) -> bool:
    """Whether `split_live` over the live edges is all of `split_orders`: every other
    edge's order is then (0 / total or 0) x demand = +0.0 exactly, which holds when
    every demand is finite with a clear sign bit (0 x inf is NaN, 0 x -1 is -0.0)."""
    # (.all() and .any() as counts: the same answers, in fewer steps)
    return np.count_nonzero(np.isfinite(demand)) == np.size(demand) and not np.count_nonzero(np.signbit(demand))


def split_live(demand: np.ndarray, group: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """`split_orders` on the live edges alone (`live_edges`, in edge order): `group`
    and `weights` are theirs. The same numbers, bit for bit: a group's total over its
    live edges adds the same terms in the same order as over all its edges (the others
    add +0.0, which changes no sum that starts at +0.0), and each share is the same
    quotient and product."""
    if not len(group):  # no live edge (bincount of nothing is an integer array)
        return np.zeros(0)
    total = np.bincount(group, weights=weights, minlength=len(demand))[group]
    share = np.zeros(len(weights))
    np.divide(weights, total, out=share, where=total > 0)
    share *= np.take(demand, group, out=total)
    return share


def _split_orders_dense(demand, edge_group, weights, active) -> np.ndarray:
    """The masked rule over every edge (for demands `zero_elsewhere` rejects)."""
    # w = max(weight, 0) on active edges, +0.0 elsewhere: picked by np.where rather than
    # written through `where=` (the same numbers; a masked ufunc costs more per call).
    share = np.zeros(len(weights))
    w = np.where(active, np.maximum(weights, share), share)
    group_total = np.bincount(edge_group, weights=w, minlength=len(demand))[edge_group]
    np.divide(w, group_total, out=share, where=group_total > 0)
    share *= np.asarray(demand, dtype=float)[edge_group]
    return share


_ONE_CLASS = np.ones(1)
_ONE_CLASS.flags.writeable = False


def clear(
    capacity: np.ndarray,
    orders: np.ndarray,
    edge_supplier: np.ndarray,
    active: np.ndarray,
    priority: np.ndarray | None = None,
    class_caps: np.ndarray | None = None,
) -> np.ndarray:
    """Allocate each supplier's capacity to the orders on its edges.

    Priority classes are served in order 0, 1, ...; in round k every edge of class <= k
    with an unfilled order competes, pro rata to its unfilled order (the market rule:
    proportional rationing), for what the supplier has left, but the cumulative use of a
    supplier after round k may not exceed ``class_caps[k] * capacity`` (the last class is
    always uncapped). So class 0 may take up to cap_0 of capacity first, and what it could
    not get it still competes for in later rounds alongside everyone else.

    Guarantees: flow >= 0; flow <= order; flow == 0 on inactive edges; per supplier,
    sum(flow) <= capacity; if a supplier's active orders exceed its capacity it is fully
    used (conservation: nothing is left idle while an order is unfilled), else every
    active order on it is filled.
    """
    capacity = np.maximum(np.asarray(capacity, dtype=float), 0.0)
    zero = np.zeros(len(orders))
    ordered = np.where(active, np.maximum(orders, zero), zero)  # active orders, +0.0 elsewhere
    if priority is None:
        # One class: its round is the last, where every edge competes whatever the
        # caps (the last is 1.0) and no priority is read.
        n_classes, lowest, caps = 1, 0, _ONE_CLASS
    else:
        n_classes = int(priority.max()) + 1 if len(priority) else 1
        # A round below the lowest class present has no competing edge: it grants 0.0
        # everywhere, which changes no flow, order or use; it is skipped.
        lowest = int(priority.min()) if len(priority) else 0
        caps = np.ones(n_classes) if class_caps is None else np.asarray(class_caps, dtype=float)
        if len(caps) < n_classes:
            caps = np.concatenate([caps, np.ones(n_classes - len(caps))])
        caps = caps.copy()
        caps[n_classes - 1] = 1.0
    rounds = range(lowest, n_classes)

    # The rounds over the edges with an order alone (a few of 10^6 relations): every
    # other edge competes with 0.0 and is granted ratio x 0.0 = 0.0, adding nothing to
    # any sum, as long as every ratio is finite; if one is not, the rounds run again
    # over every edge (where 0 x inf is NaN, as it was).
    if len(orders) < SPARSE_MIN_EDGES:
        return _clear_rounds(capacity, ordered, edge_supplier, priority, caps, rounds, False)
    live = np.flatnonzero(ordered != 0)
    flow = _clear_rounds(capacity, ordered[live], edge_supplier[live],
                         None if priority is None else priority[live], caps, rounds, True)
    if flow is None:
        return _clear_rounds(capacity, ordered, edge_supplier, priority, caps, rounds, False)
    out = np.zeros(len(orders))
    out[live] = flow
    return out


def _clear_rounds(capacity, ordered, edge_supplier, priority, caps, rounds, finite_only) -> np.ndarray | None:
    """`clear`'s rounds over the edges given (their active orders `ordered`, >= 0;
    `capacity` >= 0); the flows, or None if `finite_only` and a round's ratio is not
    finite.

    Each round is, to the bit, the textbook one (remaining orders from a copy of
    `ordered`, flow and use from zeros, available = max(cap x capacity - used, 0))
    with the work that changes no number left out: before the first round nothing is
    used (x - 0.0 is x) and 1.0 x capacity is capacity, already >= 0; the first
    round's flow is 0.0 + granted, i.e. granted + 0.0, and its use is the bincount
    itself (which starts each sum at +0.0, so never gives -0.0); what remains and what
    is used after the last round is never read."""
    n_suppliers, n_classes = len(capacity), len(caps)
    remaining_order, used, flow = ordered, None, None
    for k in rounds:
        last = k == n_classes - 1
        # Every edge competes in the last round (read before it is updated below).
        competing = remaining_order if last else np.where(priority <= k, remaining_order, 0.0)
        wanted = np.bincount(edge_supplier, weights=competing, minlength=n_suppliers)
        if used is not None:
            available = np.maximum(caps[k] * capacity - used, 0.0)
        elif caps[k] == 1.0:
            available = capacity
        else:
            available = np.maximum(caps[k] * capacity, 0.0)
        ratio = np.divide(
            np.minimum(available, wanted), wanted, out=np.zeros(n_suppliers), where=wanted > 0
        )
        if finite_only and not np.isfinite(ratio).all():
            return None
        granted = ratio[edge_supplier]
        granted *= competing  # competing x ratio, the same product
        if flow is None:
            flow = granted + 0.0
        else:
            flow += granted
        if not last:
            remaining_order = remaining_order - granted
            sold = np.bincount(edge_supplier, weights=granted, minlength=n_suppliers)
            if used is None:
                used = sold
            else:
                used += sold
    if flow is None:
        flow = np.zeros(len(ordered))
    # Floating-point rounding can leave a hair over an order; never exceed it.
    return np.minimum(flow, ordered, out=flow)


def update_prices(
    price: np.ndarray,
    orders: np.ndarray,
    capacity: np.ndarray,
    reference: np.ndarray,
    adjustment: float,
    floor: float = 0.75,
    ceiling: float = 1.3,
    normal_load: float = 0.9,
) -> np.ndarray:
    """Next quarter's price: moves with excess demand, bounded around a reference price.

    p' = p * (1 + adjustment * clip((orders - L * capacity) / (L * capacity), -0.5, 0.5)),
    then clipped to [floor, ceiling] x reference, where L is the normal load: a foundry
    holds its price while orders fill `normal_load` of its capacity (ASSUMPTION: fabs
    count ~90% as full; list prices held through 2019 at 80-90% loading). A tatonnement
    rule (Walrasian price adjustment) with bounds, so that a supplier with no capacity
    keeps its price; the bounds are an ASSUMPTION on the range foundries moved list
    prices in the 2021-2022 shortage and the 2023 glut (+20-30% mature, less at the
    leading edge). Units: USD per wafer.
    """
    # np.clip of float arrays with both bounds is the clip ufunc (numpy's _clip calls
    # it), here without the Python layers around it: the same numbers.
    normal = normal_load * capacity
    excess = np.divide(orders - normal, normal, out=np.zeros(np.shape(price)), where=capacity > 0)
    moved = price * (1.0 + adjustment * _clip(excess, -0.5, 0.5))
    return _clip(moved, floor * reference, ceiling * reference)


def herfindahl(shares_percent: np.ndarray) -> float:
    """Herfindahl-Hirschman index of shares given in percent (0-10,000 points)."""
    s = np.asarray(shares_percent, dtype=float)
    return float(np.sum(s * s))


def require_domestic(orders: np.ndarray, group: np.ndarray, buyer: np.ndarray, domestic: np.ndarray,
                     eligible: np.ndarray, weight: np.ndarray, price: np.ndarray,
                     required: np.ndarray) -> np.ndarray:
    """Tool orders per edge with each buyer's domestic-tool requirement met by value.

    `required[b]` is the least share of buyer b's orders (by value: units x `price` per
    edge) that must go to `domestic` vendors. Where its domestic share falls short, its
    foreign orders in groups (buyer x category x tier) that an `eligible` domestic edge
    serves move to those edges (pro rata to their `weight` within the group) until the
    share is met; if moving all of them is not enough, its foreign orders are cut pro
    rata to what the share allows beside its domestic orders (what domestic vendors
    cannot make is not bought: the requirement binds the build-out).

    Guarantees: orders >= 0; a buyer with no requirement is unchanged; nothing moves to
    an ineligible edge or across groups; a buyer's orders by value never rise; its
    domestic share by value is at least `required` where it orders anything domestic
    or can; orders on an edge are never increased unless it is domestic."""
    orders = np.asarray(orders, dtype=float)
    required = np.asarray(required, dtype=float)
    need = required[buyer]
    if not np.count_nonzero(need > 0):
        return orders
    n_buyers, n_groups = len(required), int(group.max()) + 1 if len(group) else 0
    value = orders * price
    dom = domestic.astype(bool)
    have = np.bincount(buyer, weights=np.where(dom, value, 0.0), minlength=n_buyers)
    total = np.bincount(buyer, weights=value, minlength=n_buyers)
    short = np.maximum(required * total - have, 0.0)  # domestic value still wanted, per buyer
    # Groups a domestic edge can take orders in, and each such edge's share of its group.
    dom_w = np.where(dom & eligible, np.maximum(weight, 0.0), 0.0)
    group_w = np.bincount(group, weights=dom_w, minlength=n_groups)
    movable = ~dom & (group_w[group] > 0)
    can_move = np.bincount(buyer, weights=np.where(movable, value, 0.0), minlength=n_buyers)
    # Moving x of the movable foreign value raises domestic by x and leaves the total.
    moved_share = np.divide(np.minimum(short, can_move), can_move, out=np.zeros(n_buyers), where=can_move > 0)
    leaving = np.where(movable, orders * moved_share[buyer], 0.0)  # units (same price within a group)
    arriving = np.bincount(group, weights=leaving, minlength=n_groups)
    out = orders - leaving + np.divide(dom_w, group_w[group], out=np.zeros_like(orders),
                                       where=group_w[group] > 0) * arriving[group]
    # Still short: cut foreign orders to what the share allows beside domestic ones.
    value = out * price
    have = np.bincount(buyer, weights=np.where(dom, value, 0.0), minlength=n_buyers)
    foreign = np.bincount(buyer, weights=np.where(dom, 0.0, value), minlength=n_buyers)
    ratio = np.divide(np.maximum(1.0 - required, 0.0), required, out=np.zeros(n_buyers), where=required > 0)
    allowed = np.where(required > 0, have * ratio, np.inf)  # foreign value the share allows
    keep = np.divide(np.minimum(allowed, foreign), foreign, out=np.ones(n_buyers), where=foreign > 0)
    return np.where(dom, out, out * np.where(required[buyer] > 0, keep[buyer], 1.0))
