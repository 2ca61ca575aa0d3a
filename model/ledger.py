"""The ledger: events (cuts, restorations, leaks, re-wirings, directives, searches), a
row each, apart from the per-quarter state the reporters record (STYLE.md 8)."""

from __future__ import annotations

import pandas as pd

LEDGER_COLUMNS = ["step", "quarter", "action", "rule", "supplier", "buyer", "item", "note"]


class Ledger:
    """Rows of (step, quarter, action, rule, supplier, buyer, item, note)."""

    def __init__(self) -> None:
        self.rows: list[dict] = []

    def log(self, step: int, quarter: str, action: str, rule: str, supplier: str, buyer: str,
            item: str, note: str) -> None:
        self.rows.append(dict(step=step, quarter=quarter, action=action, rule=rule, supplier=supplier,
                              buyer=buyer, item=item, note=note))

    def log_edges(self, step: int, quarter: str, action: str, rule: str, edges, indices, note: str) -> None:
        """A row per edge of `edges` (an EdgeSet) at `indices`, named by its graph key."""
        keys = edges.keys
        for i in indices:
            u, v, key = keys[i]
            self.log(step, quarter, action, rule, u, v, key, note)

    def __len__(self) -> int:
        return len(self.rows)

    def __iter__(self):
        return iter(self.rows)

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.rows, columns=LEDGER_COLUMNS)
