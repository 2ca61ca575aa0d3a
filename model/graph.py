"""The trade graph: one networkx MultiDiGraph of supply relations, with edge arrays.

Every agent is a node (attributes `kind`, `country`, `layer`). An edge is one supply
relation for one item: vendor -> foundry (or a memory maker's or IDM's fabs, node kind
'fab', or 'memory' where they are an HBM maker's) for a tool category used at a tier (key
``"duv_immersion:7nm"``), foundry -> firm for wafers of a tier (key ``"7nm"``). A
MultiDiGraph rather than a DiGraph because one pair trades several items that rules cut
apart (the 2024-11 letter cut TSMC's <=7nm wafers to Chinese firms, not its mature ones).

The phases work on arrays (one entry per edge, in a fixed order); the graph object is
kept as plain data (strings, numbers, booleans) for drawing and GraphML/GEXF export and
is brought up to date from the arrays by `sync()`. Switching edges off and on goes
through `switch_off` / `switch_on`, which return what changed and write the ledger.

Cost: the phases never touch the networkx object. It is built the first time someone
asks for it (`TradeGraph.graph`, `sync()`), so a synthetic world of 10^6 relations
costs arrays, not graph objects, until it is drawn or exported; edge keys are made on
demand from the arrays (`EdgeKeys`); switching is array work.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import networkx as nx
import numpy as np

from model.technology import CATEGORY_NAMES, HBM_GENERATIONS, TIER_NAMES

LAYERS = {"vendor": 0, "foundry": 1, "memory": 1, "fab": 1, "packager": 1, "shell": 2, "firm": 3, "buyer": 4, "government": 5}
"""Each node kind's column in the app's layered drawing (suppliers left of buyers)."""


class EdgeKeys(Sequence):
    """The (u, v, key) graph id of every edge of an EdgeSet, made on demand.

    u and v are node names; key is the tier (wafers and a leak route's dies, ``"7nm"``),
    ``"<tool category>:<tier>"`` (tools, ``"duv_immersion:7nm"``), the HBM generation
    (``"HBM2E"``), ``"packaging"``, ``"dies"`` (a shell company's relay) or the
    accelerator sold (``"H20"``).
    """

    def __init__(self, edges: EdgeSet) -> None:
        self._edges = edges

    def __len__(self) -> int:
        return len(self._edges.supplier)

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self[k] for k in range(*i.indices(len(self)))]
        e = self._edges
        return (e.supplier_names[e.supplier[i]], e.buyer_names[e.buyer[i]], e.label(i))

    def __iter__(self):
        for i in range(len(self)):
            yield self[i]


@dataclass
class EdgeSet:
    """Parallel arrays over one kind of edge ('wafers', 'tools', 'hbm', 'packaging',
    'dies': foundry -> shell company, 'relay': shell company -> designer,
    'accelerators': designer -> buyer, by product).

    `supplier_names` / `buyer_names` are the names of the supplier and buyer agents,
    by the index the arrays hold. State: `cut_count` (how many rules cut an edge; an
    edge is active when none does), `volume` (last quarter's flow), `rewired` (by the
    state allocator), and `cuts` (rule id -> the edges it cut, in the order applied).
    """

    kind: str
    supplier: np.ndarray  # index into the supplier agents' list
    buyer: np.ndarray  # index into the buyer agents' list
    tier: np.ndarray  # Tier.index
    category: np.ndarray  # ToolCategory index for tools, HBM generation index for hbm, else -1
    supplier_names: Sequence[str]
    buyer_names: Sequence[str]
    category_names: Sequence[str] = ()  # accelerators: the products, by category index
    cut_count: np.ndarray = field(init=False)
    volume: np.ndarray = field(init=False)
    rewired: np.ndarray = field(init=False)
    cuts: dict[str, list[np.ndarray]] = field(init=False)

    def __post_init__(self) -> None:
        n = len(self.supplier)
        self.cut_count = np.zeros(n, dtype=np.int64)
        self.volume = np.zeros(n)
        self.rewired = np.zeros(n, dtype=bool)
        self.cuts = {}

    @property
    def active(self) -> np.ndarray:
        return self.cut_count == 0

    @property
    def keys(self) -> EdgeKeys:
        return EdgeKeys(self)

    def label(self, i: int) -> str:
        """Edge i's key: its tier, '<tool category>:<tier>' for tools, the generation
        for HBM, 'packaging', or 'dies' for a shell company's relay."""
        if self.kind == "hbm":
            return HBM_GENERATIONS[self.category[i]]
        if self.kind == "accelerators":
            return self.category_names[self.category[i]]
        if self.kind in ("packaging", "relay"):
            return "packaging" if self.kind == "packaging" else "dies"
        tier = TIER_NAMES[self.tier[i]]
        return f"{CATEGORY_NAMES[self.category[i]]}:{tier}" if self.kind == "tools" else tier

    def cut_by(self) -> list[str]:
        """Per edge, the ids of the rules that cut it, comma-separated, in order applied."""
        labels = [[] for _ in range(len(self))]
        for rule_id, applications in self.cuts.items():
            for idx in applications:
                for i in idx:
                    labels[i].append(rule_id)
        return [",".join(x) for x in labels]

    def __len__(self) -> int:
        return len(self.supplier)


class TradeGraph:
    """The model's graph and its edge arrays. Owned by the model; phases call it."""

    def __init__(self) -> None:
        self.nodes: list[tuple[str, str, str]] = []  # (name, kind, country)
        self.wafers: EdgeSet | None = None
        self.tools: EdgeSet | None = None
        self.chain: dict[str, EdgeSet] = {}  # the accelerator chain's sets by kind (hbm, packaging, dies, relay)
        self._graph: nx.MultiDiGraph | None = None

    def add_node(self, name: str, kind: str, country: str) -> None:
        self.nodes.append((name, kind, country))
        self._graph = None

    def set_edges(self, wafers: EdgeSet, tools: EdgeSet, *chain: EdgeSet) -> None:
        """Install the edge sets (all active): wafers, tools and the accelerator chain's."""
        self.wafers, self.tools = wafers, tools
        self.chain = {edges.kind: edges for edges in chain}
        self._graph = None

    @property
    def edge_sets(self) -> list[EdgeSet]:
        """Every edge set, wafers and tools first."""
        return [self.wafers, self.tools, *self.chain.values()]

    def __getitem__(self, kind: str) -> EdgeSet:
        """The edge set of a kind ('wafers', 'tools', 'hbm', ...)."""
        return getattr(self, kind) if kind in ("wafers", "tools") else self.chain[kind]

    @property
    def graph(self) -> nx.MultiDiGraph:
        """The networkx graph (built on first use; `sync()` brings its state up to date)."""
        if self._graph is None:
            self._graph = self._build()
        return self._graph

    def _build(self) -> nx.MultiDiGraph:
        from model.technology import TIERS, TOOL_CATEGORIES

        graph = nx.MultiDiGraph()
        for name, kind, country in self.nodes:
            graph.add_node(name, kind=kind, country=country, layer=LAYERS[kind])
        for edges in self.edge_sets:
            for i, (u, v, key) in enumerate(edges.keys):
                item = (
                    TOOL_CATEGORIES[edges.category[i]].value
                    if edges.kind == "tools"
                    else key if edges.kind in ("hbm", "packaging", "accelerators")
                    else TIERS[edges.tier[i]].value
                )
                graph.add_edge(
                    u, v, key=key, kind=edges.kind, item=item, tier=TIERS[edges.tier[i]].value,
                    active=True, volume=0.0, cut_by="", rewired=False,
                )
        return graph

    # ----------------------------------------------------------------- switching
    def switch_off(self, edges: EdgeSet, mask: np.ndarray, rule_id: str) -> list[int]:
        """Cut the edges in `mask` by `rule_id`; return the indices newly cut.

        An edge cut by several rules stays cut until all of them are lifted.
        """
        idx = np.flatnonzero(mask)
        newly = idx[edges.cut_count[idx] == 0]
        edges.cut_count[idx] += 1
        edges.cuts.setdefault(rule_id, []).append(idx)
        return newly.tolist()

    def switch_on(self, edges: EdgeSet, rule_id: str) -> list[int]:
        """Lift `rule_id`: restore what it cut; return the indices active again."""
        applications = edges.cuts.get(rule_id)
        if not applications:
            return []
        idx = applications.pop(0)
        if not applications:
            del edges.cuts[rule_id]
        edges.cut_count[idx] -= 1
        return idx[edges.cut_count[idx] == 0].tolist()

    # -------------------------------------------------------------------- views
    def counts(self) -> tuple[int, int]:
        """(active edges, cut edges) over every kind."""
        cut = int(np.count_nonzero(self.wafers.cut_count) + np.count_nonzero(self.tools.cut_count))
        total = len(self.wafers) + len(self.tools)
        for edges in self.chain.values():
            cut += int(np.count_nonzero(edges.cut_count))
            total += len(edges)
        return total - cut, cut

    def sync(self) -> nx.MultiDiGraph:
        """Write the arrays' state into the graph's edge attributes; return the graph."""
        graph = self.graph
        for edges in self.edge_sets:
            active, volume, rewired = edges.active.tolist(), edges.volume.tolist(), edges.rewired.tolist()
            cut_by = edges.cut_by()
            for i, (u, v, key) in enumerate(edges.keys):
                data = graph.edges[u, v, key]
                data["active"] = active[i]
                data["volume"] = volume[i]
                data["cut_by"] = cut_by[i]
                data["rewired"] = rewired[i]
        return graph


# ------------------------------------------------------------------ building edges
def wafer_relations(
    most_advanced: np.ndarray,
    has_tier: np.ndarray,
    open_to_all: np.ndarray,
    named_pairs: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The potential foundry -> firm wafer relations: (supplier, buyer, tier) arrays.

    Firm j may buy tier t from foundry i when i runs t (`has_tier[i, t]`, now or later)
    and t is at or behind j's most advanced demand (`most_advanced[j]`, so that it can
    fall back), for every foundry `open_to_all` and for the (firm, foundry) pairs in
    `named_pairs` (shape (k, 2): foundries a firm names as suppliers). Edges come in
    firm, foundry, tier order. Cost: O(edges).
    """
    n_firms, (n_foundries, n_tiers) = len(most_advanced), has_tier.shape
    everyone = np.flatnonzero(open_to_all)
    firm = np.repeat(np.arange(n_firms), len(everyone))
    foundry = np.tile(everyone, n_firms)
    if len(named_pairs):
        extra = np.unique(named_pairs[:, 0] * n_foundries + named_pairs[:, 1])
        extra = extra[~open_to_all[extra % n_foundries]]  # not already there
        code = np.sort(np.concatenate([firm * n_foundries + foundry, extra]))
        firm, foundry = code // n_foundries, code % n_foundries
    tiers = np.arange(n_tiers)
    keep = has_tier[foundry] & (tiers[None, :] >= most_advanced[firm][:, None])
    pair, tier = np.nonzero(keep)
    return foundry[pair], firm[pair], tier


class EdgeSides(Mapping):
    """Per edge: `supplier_names`, `supplier_countries`, `buyer_names`, `buyer_countries`.

    Made on demand from the agents' names and countries (rule matching needs them a few
    times a run; holding a string per edge would cost more than every other array).
    """

    def __init__(self, edges: EdgeSet, suppliers: Sequence, buyers: Sequence) -> None:
        self._index = {"supplier": edges.supplier, "buyer": edges.buyer}
        self._values = {
            (side, attr): np.array([getattr(a, attr) for a in agents], dtype=object if attr == "name" else str)
            for side, agents in (("supplier", suppliers), ("buyer", buyers))
            for attr in ("name", "country")
        }
        # Countries as integer codes shared by both sides: whether an edge's supplier and
        # buyer share a country is an integer comparison.
        table: dict[str, int] = {}
        self._codes = {side: np.array([table.setdefault(a.country, len(table)) for a in agents], dtype=np.int64)
                       for side, agents in (("supplier", suppliers), ("buyer", buyers))}

    def index(self, side: str) -> np.ndarray:
        """Per edge, the row of its `side` ('supplier' or 'buyer') agent."""
        return self._index[side]

    def agents(self, side: str) -> tuple[np.ndarray, np.ndarray]:
        """(names, countries) of the `side` agents, a row per agent (not per edge):
        a per-edge test of one side's own attributes is that test per agent, gathered
        by `index(side)`."""
        return self._values[(side, "name")], self._values[(side, "country")]

    def country_codes(self, side: str) -> np.ndarray:
        """Per `side` agent, its country as a code (equal codes: the same country, on
        either side)."""
        return self._codes[side]

    def __getitem__(self, key: str) -> np.ndarray:
        side, _, what = key.partition("_")
        attr = {"names": "name", "countries": "country"}.get(what)
        if side not in self._index or attr is None:
            raise KeyError(key)
        return self._values[(side, attr)][self._index[side]]

    def __iter__(self):
        return iter(["supplier_names", "supplier_countries", "buyer_names", "buyer_countries"])

    def __len__(self) -> int:
        return 4


class Segments:
    """Per-group sums over edges, in edge order: the same numbers, bit for bit, as
    ``values[(group == g) & mask].sum()`` for every g (numpy's pairwise summation over
    the group's edges in their order). Groups are agents such as foundries or vendors,
    edges are many.

    Below `PADDED_MAX` values, in a few numpy calls whatever the number of groups:
    `sum()` of a float array starts from its identity, +0.0, and adds the pairwise sum
    of all the elements; `np.add.reduceat` starts a segment from its first element and
    adds the pairwise sum of the rest. So each group's values are laid out after a +0.0
    of their own and `reduceat` over those segments adds the same terms in the same
    grouping; an empty group is its pad alone, 0.0, as the empty sum is (checked
    against `sum()` in tests/test_fast_paths.py). From `PADDED_MAX` values on, the
    layout's extra pass costs more than a Python step per group: each group's slice of
    the gathered values is summed."""

    PADDED_MAX = 10_000

    def __init__(self, group: np.ndarray, n_groups: int, mask: np.ndarray | None = None) -> None:
        self.order, bounds = grouped(group, n_groups, mask)
        self.bounds = bounds.tolist()
        self.padded = len(self.order) < self.PADDED_MAX
        if self.padded:
            self._slot, self._starts, size = padded_slots(bounds)
            self._layout = np.zeros(size)  # its pads are never written: they stay +0.0
        else:
            # Scratch for the gather, made (and its pages touched) here at set-up rather
            # than in the first quarter: a fresh array of 10^6 floats costs page faults.
            self._gathered = np.zeros(len(self.order))
            self._gathered.fill(0.0)

    def sums(self, values: np.ndarray) -> np.ndarray:
        values = np.asarray(values)
        if not self.padded or values.dtype != np.float64:
            return self._sums_by_group(values)
        if not len(self._starts):
            return np.zeros(0)
        self._layout[self._slot] = values[self.order]
        return np.add.reduceat(self._layout, self._starts)

    def _sums_by_group(self, values: np.ndarray) -> np.ndarray:
        """`sums` a group at a time."""
        if values.dtype == np.float64 and not self.padded:  # gathered into a buffer kept from call to call
            ordered = np.take(values, self.order, out=self._gathered)
        else:
            ordered = values[self.order]
        b, zero = self.bounds, ordered.dtype.type(0)
        # An empty group's sum is numpy's empty sum (0) without a call: most tool
        # sellers are empty, a vendor making few of the categories.
        return np.array([ordered[b[g]:b[g + 1]].sum() if b[g + 1] > b[g] else zero for g in range(len(b) - 1)])


def grouped(group: np.ndarray, n_groups: int, mask: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(the values' indices grouped, each group's in value order; the bounds of each
    group's run in it, n_groups + 1 of them), over the values `mask` keeps (None: all)."""
    chosen = np.flatnonzero(mask) if mask is not None else np.arange(len(group))
    order = chosen[np.argsort(group[chosen], kind="stable")]
    return order, np.searchsorted(group[order], np.arange(n_groups + 1))


def padded_slots(bounds: np.ndarray, at: int = 0) -> tuple[np.ndarray, np.ndarray, int]:
    """`Segments`' padded layout of grouped values (`grouped`'s bounds), from position
    `at`: group g's segment is its pad (+0.0) at at + bounds[g] + g, then its values.
    Returns (each value's slot, each segment's start, the position after the last)."""
    n_groups = len(bounds) - 1
    slot = at + np.arange(bounds[-1]) + np.repeat(np.arange(1, n_groups + 1), np.diff(bounds))
    return slot, at + bounds[:-1] + np.arange(n_groups), at + bounds[-1] + n_groups


def stacked_layout(parts) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """Several groupings' padded layouts end to end, summed by one `np.add.reduceat`
    (each segment the same terms in the same grouping as `Segments.sums`, wherever it
    lies). `parts`: (group per value, number of groups, mask or None, offset added to
    the value indices). Returns (value indices in slot order, their slots, the
    segments' starts, the layout's size)."""
    order, slot, starts, size = [], [], [], 0
    for group, n_groups, mask, offset in parts:
        indices, bounds = grouped(group, n_groups, mask)
        slots, begins, size_after = padded_slots(bounds, size)
        order.append(indices + offset)
        slot.append(slots)
        starts.append(begins)
        size = size_after
    return np.concatenate(order), np.concatenate(slot), np.concatenate(starts), size
