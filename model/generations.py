"""Process generations inside a tier: N5 -> N3 -> N2 in the leading tier, N7 -> N6 and
SMIC's N+1 -> N+2 -> N+3 in 7nm-class, each with its date, price premium, cost premium
and conversion share (the world's `[[generations]]`).

A foundry's capacity of a tier is a mix of the generations it runs: the tier's base
generation (premium 1; named by the foundry's tier in the world, `FoundryTier.base`:
TSMC's N5 and N7, SMIC's N+1) and the newer ones the world lists for it. From a generation's
ready quarter, the foundry's net new capacity of the tier runs it, and a share of its
older capacity migrates to it each quarter (`migration`, ASSUMPTION: a fab converts its
lines over a few years); migrating a wafer/quarter of capacity buys the generation's
`conversion_share` of a new bill of the tier's tools (the capex a new generation costs).
The mix sets the foundry's price premium of the tier (what its wafers earn over the
tier's price) and cost premium (what they cost over the tier's cost).

Pure arrays in, arrays out; `GenerationBook` holds the mix between quarters for the model.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from model.technology import TIER_INDEX, TIERS, parse_quarter


@dataclass(frozen=True)
class GenerationTable:
    """The world's generations laid out per (foundry, tier): slot 0 is the tier's base
    generation; slots 1.. the listed ones in ready order. Arrays are (foundries, tiers,
    slots); a slot a foundry does not run has `ready` = +inf (never)."""

    names: list[list[list[str]]]
    ready: np.ndarray  # quarter number from which it runs (inf: never)
    price_premium: np.ndarray
    cost_premium: np.ndarray
    conversion_share: np.ndarray

    @property
    def slots(self) -> int:
        return self.ready.shape[2]


def generation_table(generations: list, foundry_names: list[str],
                     bases: list[dict[str, str]] | None = None) -> GenerationTable:
    """Lay out the world's `generations` (each with name, tier, foundries, ready and its
    premiums) for `foundry_names`, in ready order within each (foundry, tier). `bases`:
    per foundry, its base generation's name by tier name ('7nm' -> 'N+1'); a tier it
    does not name (or no `bases`) calls its base 'base'."""
    nf, nt = len(foundry_names), len(TIERS)
    per_cell: dict[tuple[int, int], list] = {}
    at = {name: f for f, name in enumerate(foundry_names)}
    for g in sorted(generations, key=lambda g: parse_quarter(g.ready)):
        t = TIER_INDEX[g.tier]
        for name in g.foundries:
            if name in at:
                per_cell.setdefault((at[name], t), []).append(g)
    slots = 1 + max((len(v) for v in per_cell.values()), default=0)
    ready = np.full((nf, nt, slots), np.inf)
    ready[:, :, 0] = -np.inf  # the base generation runs from the start
    price, cost = np.ones((nf, nt, slots)), np.ones((nf, nt, slots))
    conversion = np.zeros((nf, nt, slots))
    bases = bases if bases is not None else [{} for _ in range(nf)]
    names = [[[bases[f].get(TIERS[t].value, "base")] + [""] * (slots - 1) for t in range(nt)] for f in range(nf)]
    for (f, t), listed in per_cell.items():
        for s, g in enumerate(listed, start=1):
            ready[f, t, s] = parse_quarter(g.ready)
            price[f, t, s], cost[f, t, s] = g.price_premium, g.cost_premium
            conversion[f, t, s] = g.conversion_share
            names[f][t][s] = g.name
    return GenerationTable(names, ready, price, cost, conversion)


def newest_ready(ready: np.ndarray, quarter: int) -> np.ndarray:
    """Per (foundry, tier), the slot of the newest generation ready by `quarter`."""
    running = ready <= quarter
    # The last True along the slot axis (slot 0 is always ready).
    return running.shape[-1] - 1 - np.argmax(running[..., ::-1], axis=-1)


def advance_mix(shares: np.ndarray, newest: np.ndarray, capacity_before: np.ndarray, capacity_now: np.ndarray,
                migration: float) -> tuple[np.ndarray, np.ndarray]:
    """(next shares, migrated wafers by slot): one quarter of a (foundry, tier) mix.

    Capacity the tier lost is lost from every generation alike; net new capacity runs
    the newest generation ready (`newest`, a slot per cell); then `migration` of the
    capacity on older slots moves to the newest. Shares of a cell with no capacity stay
    as they were. Guarantees: shares >= 0, sum to 1 per cell, nothing moves to a slot
    other than the newest, and `migrated` >= 0 (wafers/quarter of capacity that changed
    generation, counted on the slot they moved to)."""
    shares = np.asarray(shares, dtype=float)
    capacity_before = np.asarray(capacity_before, dtype=float)
    capacity_now = np.asarray(capacity_now, dtype=float)
    grown = np.maximum(capacity_now - capacity_before, 0.0)
    kept = np.divide(np.minimum(capacity_now, capacity_before), capacity_before,
                     out=np.ones_like(grown), where=capacity_before > 0)  # survived of each slot
    wafers = capacity_before[..., None] * shares * kept[..., None]
    is_newest = np.arange(shares.shape[-1]) == np.asarray(newest)[..., None]
    older = np.where(is_newest, 0.0, wafers)
    moved = older * migration
    wafers = wafers - moved + is_newest * (moved.sum(axis=-1) + grown)[..., None]
    migrated = is_newest * moved.sum(axis=-1)[..., None]
    total = wafers.sum(axis=-1, keepdims=True)
    out = np.divide(wafers, total, out=shares.copy(), where=total > 0)
    return out, migrated


def premium(shares: np.ndarray, premiums: np.ndarray) -> np.ndarray:
    """Per (foundry, tier), the capacity-weighted premium of its generation mix."""
    return (np.asarray(shares) * np.asarray(premiums)).sum(axis=-1)


class GenerationBook:
    """The foundries' generation mix per tier between quarters (model state)."""

    def __init__(self, table: GenerationTable, capacity: np.ndarray) -> None:
        self.table = table
        self.shares = np.zeros(table.ready.shape)
        self.shares[..., 0] = 1.0
        self.capacity = np.asarray(capacity, dtype=float).copy()
        self.migrated = np.zeros(table.ready.shape)

    def advance(self, quarter: int, capacity_now: np.ndarray, migration: float) -> None:
        """One quarter: the mix follows `capacity_now` (foundries x tiers)."""
        newest = newest_ready(self.table.ready, quarter)
        self.shares, self.migrated = advance_mix(self.shares, newest, self.capacity, capacity_now, migration)
        self.capacity = np.asarray(capacity_now, dtype=float).copy()

    def price_premium(self) -> np.ndarray:
        return premium(self.shares, self.table.price_premium)

    def cost_premium(self) -> np.ndarray:
        return premium(self.shares, self.table.cost_premium)

    def named_cells(self) -> list[tuple[int, int]]:
        """The (foundry, tier) cells that run more than one generation: their mixes are
        worth reporting (`generation_shares`)."""
        listed = np.isfinite(self.table.ready[..., 1:]).any(axis=-1)
        return [(int(f), int(t)) for f, t in zip(*np.nonzero(listed))]

    def conversion_bills(self) -> np.ndarray:
        """Per (foundry, tier), the bills of the tier's tools (per wafer/quarter of
        capacity) that this quarter's migration bought: migrated capacity x its
        generation's conversion share."""
        return (self.migrated * self.table.conversion_share).sum(axis=-1)
