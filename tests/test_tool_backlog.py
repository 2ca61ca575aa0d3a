"""The vendors' order books (issue 14, tool market): the pure kernels of `model.backlog`
alone (hypothesis: conservation, FIFO, lead times, nothing on a cut edge), the whole
model's books over random parameters, and paired comparative statics over 20 seeds
(lean runs)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers import lean_frame, paired_interval
from model import ChipMarketModel
from model.backlog import age_book, book_ages, cancel, fill_due

TOL = 1e-9


@st.composite
def books(draw):
    """A book (edges x ages), lead per edge, sellers' capacities, each edge's seller,
    and which edges are eligible."""
    n_edges = draw(st.integers(1, 12))
    n_sellers = draw(st.integers(1, 4))
    lead = np.array(draw(st.lists(st.integers(0, 4), min_size=n_edges, max_size=n_edges)))
    n_ages = book_ages(lead)
    units = st.one_of(st.just(0.0), st.floats(0.0, 1e4, allow_nan=False, allow_infinity=False))
    book = np.array(draw(st.lists(units, min_size=n_edges * n_ages, max_size=n_edges * n_ages))).reshape(
        n_edges, n_ages)
    capacity = np.array(draw(st.lists(st.floats(0.0, 3e4, allow_nan=False), min_size=n_sellers,
                                      max_size=n_sellers)))
    seller = np.array(draw(st.lists(st.integers(0, n_sellers - 1), min_size=n_edges, max_size=n_edges)))
    eligible = np.array(draw(st.lists(st.booleans(), min_size=n_edges, max_size=n_edges)))
    return book, lead, capacity, seller, eligible


@given(books())
@settings(max_examples=300, deadline=None)
def test_fill_respects_orders_capacity_lead_times_and_cut_edges(case):
    book, lead, capacity, seller, eligible = case
    filled = fill_due(book, lead, capacity, seller, eligible)
    assert filled.shape == book.shape
    assert (filled >= 0).all() and (filled <= book + TOL).all()
    ages = np.arange(book.shape[1])
    early = ages[None, :] < lead[:, None]
    assert not filled[early].any(), "an order was filled before its lead time"
    assert not filled[~eligible].any(), "an order was filled on a cut (ineligible) edge"
    by_seller = np.bincount(seller, weights=filled.sum(axis=1), minlength=len(capacity))
    assert (by_seller <= capacity * (1 + 1e-12) + TOL).all()
    due = np.where(~early & eligible[:, None], book, 0.0)
    wanted = np.bincount(seller, weights=due.sum(axis=1), minlength=len(capacity))
    # work-conserving: a seller with more due than it can make uses all of its output,
    # one with less fills every due order
    np.testing.assert_allclose(by_seller, np.minimum(wanted, capacity), rtol=1e-9, atol=1e-6)


@given(books())
@settings(max_examples=300, deadline=None)
def test_fill_is_oldest_first(case):
    """No due order of a seller is filled while an older due order of the same seller
    is left (partly) unfilled."""
    book, lead, capacity, seller, eligible = case
    filled = fill_due(book, lead, capacity, seller, eligible)
    ages = np.arange(book.shape[1])
    due = (ages[None, :] >= lead[:, None]) & eligible[:, None] & (book > 0)
    short = due & (book - filled > 1e-6 * np.maximum(book, 1.0))
    for s in np.unique(seller):
        mine = seller == s
        if not short[mine].any():
            continue
        oldest_short = ages[short[mine].any(axis=0)].max()
        younger = filled[mine][:, ages < oldest_short]
        assert not (younger > 1e-6).any(), (
            f"seller {s}: orders younger than age {oldest_short} filled while one of that age waits")


@given(books(), st.lists(st.integers(0, 11), max_size=4))
@settings(max_examples=200, deadline=None)
def test_age_and_cancel_conserve_units(case, to_cancel):
    book = case[0]
    aged = age_book(book)
    np.testing.assert_allclose(aged.sum(axis=1), book.sum(axis=1), rtol=1e-12, atol=1e-9)
    assert (aged[:, 0] == 0).all() or book.shape[1] == 1
    edges = np.array([e for e in to_cancel if e < len(book)], dtype=np.intp)
    before = book.copy()
    cancelled = cancel(book, edges)
    np.testing.assert_allclose(cancelled + book.sum(axis=1), before.sum(axis=1), atol=1e-9)
    assert (book[edges] == 0).all()


@given(st.integers(1, 3), st.lists(st.integers(0, 3), min_size=3, max_size=3),
       st.lists(st.tuples(st.lists(st.floats(0, 100), min_size=3, max_size=3),
                          st.floats(0, 150), st.booleans()), min_size=1, max_size=12))
@settings(max_examples=200, deadline=None)
def test_quarters_of_a_book_balance_and_never_deliver_early(n_sellers, lead_list, quarters):
    """Quarter after quarter (cancel on cut edges, place, fill, age): placed - filled -
    cancelled = the change in the book per edge; cumulative deliveries never exceed the
    orders placed at least a lead time earlier; a cut edge holds nothing."""
    lead = np.array(lead_list)
    seller = np.arange(3) % n_sellers
    book = np.zeros((3, book_ages(lead)))
    placed_log, filled_total = [], np.zeros(3)
    for placed, capacity, cut_first in quarters:
        placed = np.array(placed)
        before = book.sum(axis=1)
        eligible = np.array([not cut_first, True, True])
        cancelled = cancel(book, np.flatnonzero(~eligible))
        placed = np.where(eligible, placed, 0.0)  # no order goes over a cut relation
        book[:, 0] += placed
        filled = fill_due(book, lead, np.full(n_sellers, capacity), seller, eligible)
        book = age_book(book - filled)
        np.testing.assert_allclose(before + placed - filled.sum(axis=1) - cancelled, book.sum(axis=1),
                                   rtol=1e-9, atol=1e-7)
        assert (book >= 0).all()
        placed_log.append(placed)
        filled_total += filled.sum(axis=1)
        # what was placed at least `lead` quarters ago bounds what has been delivered
        history = np.array(placed_log)
        ripe = np.array([history[: max(len(history) - lead[e], 0), e].sum() for e in range(3)])
        assert (filled_total <= ripe + 1e-7).all()
        if cut_first:
            # cancelled orders can never be delivered later: forget them in the bound
            for row in placed_log:
                row[0] = 0.0
            filled_total[0] = 0.0


# ----------------------------------------------------------------- the whole model
@given(st.floats(0.0, 2.0), st.floats(0.0, 5.0), st.floats(0.5, 1.0), st.integers(0, 2**16))
@settings(max_examples=4, deadline=None)
def test_the_models_books_balance_every_quarter(lead_scale, stockpile, enforcement, seed):
    model = ChipMarketModel(scenario="historical", rng=seed, collect=["tool_backlog_usd_m"],
                            tool_lead_scale=lead_scale, stockpile_factor=stockpile, enforcement=enforcement,
                            end="2025Q4")
    market = model.tool_market
    cancelled_total = 0.0
    while model.quarter_number < model.last_quarter:
        model.step()
        books = market.last
        np.testing.assert_allclose(books.before + books.placed - books.filled - books.cancelled, books.after,
                                   rtol=1e-9, atol=1e-6)
        for figure in (books.placed, books.filled, books.cancelled, books.after):
            assert (figure >= 0).all()
        assert (market.book >= 0).all()
        assert not books.filled[~market.edges.active].any(), "tools delivered over a cut relation"
        assert not books.placed[~market.edges.active].any(), "tools ordered over a cut relation"
        assert not market.book[~market.edges.active].any(), "orders kept on a cut relation"
        delivered = sum(v.delivered_units for v in model.vendors)
        assert delivered == pytest.approx(books.filled.sum(), rel=1e-9, abs=1e-6)
        cancelled_total += books.cancelled.sum()
    ledger = model.ledger_frame()
    assert (ledger.action == "cancel").any() == (cancelled_total > 0)


def test_a_lifted_rule_does_not_bring_cancelled_orders_back():
    """Cut every tool relation of SMIC with orders on the books, then restore them:
    the orders stay cancelled (the books on those edges start again from nothing)."""
    model = ChipMarketModel(scenario="historical", rng=1, collect=["tool_backlog_usd_m"], end="2022Q4")
    model.run()
    market, trade = model.tool_market, model.trade
    smic = model.foundry_index["SMIC"]
    edges = market.edges
    mask = (edges.buyer == smic) & (market.book.sum(axis=1) > 0)
    assert mask.any()
    before = market.book.sum()
    cut = trade.switch_off(edges, mask, "test-cut")
    cancelled = market.cancel(np.array(cut, dtype=np.intp))
    assert cancelled.sum() > 0 and market.book.sum() == pytest.approx(before - cancelled.sum())
    restored = trade.switch_on(edges, "test-cut")
    assert sorted(restored) == sorted(cut)
    assert not market.book[mask].any()


# --------------------------------------------------------- paired statics, 20 seeds
SEEDS = range(300, 320)


def lean_run(seed: int, columns: tuple[str, ...], **overrides):
    return lean_frame("historical", seed, columns, end="2026Q4", **overrides)


def window_sums(column: str, start: str, end: str, **overrides) -> np.ndarray:
    return np.array([float(lean_run(s, (column,), **overrides).loc[start:end, column].sum()) for s in SEEDS])


@pytest.mark.slow
def test_longer_lead_times_delay_deliveries():
    """Half as long again lead times: fewer tools delivered (US$) over 2019-2020, the
    same seeds."""
    longer = window_sums("tools_delivered_usd_m", "2019Q1", "2020Q4", tool_lead_scale=1.5)
    default = window_sums("tools_delivered_usd_m", "2019Q1", "2020Q4", tool_lead_scale=1.0)
    mean, low, high = paired_interval(longer, default)
    assert high < 0, f"lead x1.5 - x1.0: {mean:,.0f} US$ m delivered, 95% interval [{low:,.0f}, {high:,.0f}]"


@pytest.mark.slow
def test_an_announced_rule_pulls_orders_forward():
    """Between the Dutch and Japanese DUV rules' announcement (2023Q1) and their effect,
    buyers at risk book more tools when they stockpile than when they do not (the same
    seeds), and the extra orders are on the books when the rules take effect."""
    ahead = window_sums("tools_ordered_usd_m", "2023Q1", "2023Q2", stockpile_factor=1.0)
    none = window_sums("tools_ordered_usd_m", "2023Q1", "2023Q2", stockpile_factor=0.0)
    mean, low, high = paired_interval(ahead, none)
    assert low > 0, f"stockpiling - none: {mean:,.0f} US$ m ordered, 95% interval [{low:,.0f}, {high:,.0f}]"
