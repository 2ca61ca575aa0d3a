"""The ledger: events (cuts, restorations, leaks, re-wirings, directives, searches), a
row each, apart from the per-quarter state the reporters record (STYLE.md 8)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from model.technology import CATEGORY_NAMES, TIER_NAMES

LEDGER_COLUMNS = ["step", "quarter", "action", "rule", "supplier", "buyer", "item", "note"]


class Ledger:
    """Rows of (step, quarter, action, rule, supplier, buyer, item, note), each kept as
    a tuple in `LEDGER_COLUMNS` order; the frame is made from the tuples (the same
    frame, values, dtypes and index, as from a dict per row, and sooner)."""

    def __init__(self) -> None:
        self.entries: list[tuple] = []

    def log(self, step: int, quarter: str, action: str, rule: str, supplier: str, buyer: str,
            item: str, note: str) -> None:
        self.entries.append((step, quarter, action, rule, supplier, buyer, item, note))

    def log_edges(self, step: int, quarter: str, action: str, rule: str, edges, indices, note: str) -> None:
        """A row per edge of `edges` (an EdgeSet) at `indices`, in their order, named by
        its graph key (`EdgeKeys`: supplier and buyer names, the tier or
        '<category>:<tier>'), made for all the edges at once from the edge arrays."""
        if not len(indices):
            return
        at = np.asarray(indices, dtype=np.intp)  # a list of ints or an index array: the same rows
        supplier_names, buyer_names = edges.supplier_names, edges.buyer_names
        items = [TIER_NAMES[t] for t in edges.tier[at].tolist()]
        if edges.kind == "tools":
            items = [f"{CATEGORY_NAMES[c]}:{t}" for c, t in zip(edges.category[at].tolist(), items)]
        self.entries.extend(
            (step, quarter, action, rule, supplier_names[s], buyer_names[b], item, note)
            for s, b, item in zip(edges.supplier[at].tolist(), edges.buyer[at].tolist(), items)
        )

    def __len__(self) -> int:
        return len(self.entries)

    def __iter__(self):
        """The rows, each a dict keyed by `LEDGER_COLUMNS`."""
        return (dict(zip(LEDGER_COLUMNS, row)) for row in self.entries)

    @property
    def rows(self) -> list[dict]:
        """The rows as dicts (made on demand)."""
        return list(self)

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.entries, columns=LEDGER_COLUMNS)
