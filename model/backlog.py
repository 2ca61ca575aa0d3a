"""The tool vendors' order books as pure functions over numpy arrays.

A book holds, per edge (a vendor x category -> foundry relation at a tier of use), the
units on order by age in quarters: column a holds orders placed a quarters ago, the last
column those placed that long ago or longer (all of them due). An order may be filled
from the quarter its age reaches its category's lead time on; each seller (vendor x
category cell) fills its due orders oldest first, up to its output, orders of the same
age pro rata (`model.market.clear` with the ages as priority classes). Nothing here
knows about agents, Mesa or the graph; `model.markets.ToolMarket` holds a book and the
model calls it in its tool phase.

Books balance: for every edge, every quarter, placed - filled - cancelled = the change
in the book, and no entry is ever negative (tests/test_tool_backlog.py).
"""

from __future__ import annotations

import numpy as np

from model.market import clear


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
    if not n_edges:
        return np.zeros_like(book)
    ages = np.arange(n_ages)
    due = (ages[None, :] >= np.asarray(lead)[:, None]) & np.asarray(eligible, dtype=bool)[:, None]
    # One entry per (edge, age), oldest age = priority class 0 (served first, uncapped:
    # what an older class cannot take, the next one competes for).
    priority = np.broadcast_to(n_ages - 1 - ages, book.shape).ravel()
    flat_seller = np.repeat(np.asarray(seller), n_ages)
    filled = clear(capacity, book.ravel(), flat_seller, due.ravel(), priority, np.ones(n_ages))
    return filled.reshape(book.shape)


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
