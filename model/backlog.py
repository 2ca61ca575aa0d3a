"""The tool vendors' order books as pure functions over numpy arrays.

A book holds, per edge (a vendor x category -> foundry relation at a tier of use), the
units on order by age in quarters: column a holds orders placed a quarters ago, the last
column those placed that long ago or longer (all of them due). An order may be filled
from the quarter its age reaches its category's lead time on; each seller (vendor x
category cell) fills its due orders oldest first, up to its output, orders of the same
age pro rata (the rounds of `model.market.clear`, a round an age). Nothing here
knows about agents, Mesa or the graph; `model.markets.ToolMarket` holds a book and the
model calls it in its tool phase.

Books balance: for every edge, every quarter, placed - filled - cancelled = the change
in the book, and no entry is ever negative (tests/test_tool_backlog.py).
"""

from __future__ import annotations

import numpy as np



def book_ages(lead: np.ndarray) -> int:
    """Columns a book needs for these lead times (quarters): one per age up to the
    longest lead, the last holding every older (due) order."""
    return int(np.max(lead, initial=0)) + 1


def fill_due(book: np.ndarray, lead: np.ndarray, capacity: np.ndarray, seller: np.ndarray,
             eligible: np.ndarray) -> np.ndarray:
    """Units filled from `book` (edges x ages, units) this quarter, the same shape.

    An entry is due when its age (column) is at least its edge's `lead` (quarters) and
    the edge is `eligible` (active, and its vendor's technology serves the tier). Each
    seller's `capacity` (units, by seller cell; `seller[e]` is edge e's) goes to its due
    orders oldest first, an age's orders pro rata to what each edge has on order.

    Guarantees: 0 <= filled <= book; nothing filled before the lead time or on an
    ineligible edge; per seller, sum(filled) <= capacity; an order is filled only when
    every older due order of its seller is (FIFO); a seller with due orders beyond its
    capacity uses all of it."""
    book = np.asarray(book, dtype=float)
    n_edges, n_ages = book.shape
    filled = np.zeros_like(book)
    if not n_edges:
        return filled
    seller = np.asarray(seller)
    n_sellers = len(capacity)
    left = np.maximum(np.asarray(capacity, dtype=float), 0.0)
    ok = np.asarray(eligible, dtype=bool)
    lead = np.asarray(lead)
    # Oldest age first (the rounds of `model.market.clear` with the ages as priority
    # classes, each over one column): what an age cannot take, the next competes for.
    for age in range(n_ages - 1, -1, -1):
        due = np.where(ok & (lead <= age), np.maximum(book[:, age], 0.0), 0.0)
        wanted = np.bincount(seller, weights=due, minlength=n_sellers)
        ratio = np.divide(np.minimum(left, wanted), wanted, out=np.zeros(n_sellers), where=wanted > 0)
        granted = np.minimum(ratio[seller] * due, due)  # rounding never fills above an order
        filled[:, age] = granted
        left = np.maximum(left - np.bincount(seller, weights=granted, minlength=n_sellers), 0.0)
    return filled


def age_book(book: np.ndarray) -> np.ndarray:
    """The book a quarter later: every order a quarter older; the last column keeps
    what it held and takes the one before it (orders that old are all due)."""
    older = np.zeros_like(book)
    if book.shape[1] == 1:
        return book.copy()
    older[:, 1:] = book[:, :-1]
    older[:, -1] += book[:, -1]
    return older


def cancel(book: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Cancel every order on `edges` (indices), in place; the units cancelled per edge
    of `book` (zero elsewhere)."""
    cancelled = np.zeros(book.shape[0])
    if len(edges):
        cancelled[edges] = book[edges].sum(axis=1)
        book[edges] = 0.0
    return cancelled
