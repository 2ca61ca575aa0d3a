"""The trade graph: one networkx MultiDiGraph of supply relations, with edge arrays.

Every agent is a node (attributes `kind`, `country`, `layer`). An edge is one supply
relation for one item: vendor -> foundry for a tool category used at a tier (key
``"duv_immersion:7nm"``), foundry -> firm for wafers of a tier (key ``"7nm"``). A
MultiDiGraph rather than a DiGraph because one pair trades several items that rules cut
apart (the 2024-11 letter cut TSMC's <=7nm wafers to Chinese firms, not its mature ones).

The phases work on arrays (one entry per edge, in a fixed order); the graph object is
kept as plain data (strings, numbers, booleans) for drawing and GraphML/GEXF export and
is brought up to date from the arrays by `sync()`. Switching edges off and on goes
through `switch_off` / `switch_on`, which return what changed and write the ledger.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import networkx as nx
import numpy as np

LAYERS = {"vendor": 0, "foundry": 1, "firm": 2, "government": 3}


@dataclass
class EdgeSet:
    """Parallel arrays over one kind of edge ('wafers' or 'tools')."""

    kind: str
    supplier: np.ndarray  # index into the supplier agents' list
    buyer: np.ndarray  # index into the buyer agents' list
    tier: np.ndarray  # Tier.index
    category: np.ndarray  # ToolCategory index for tools, -1 for wafers
    keys: list[tuple[str, str, str]]  # (u, v, key) in the graph
    cut_count: np.ndarray = field(init=False)
    volume: np.ndarray = field(init=False)
    rewired: np.ndarray = field(init=False)
    cut_by: list[str] = field(init=False)

    def __post_init__(self) -> None:
        n = len(self.keys)
        self.cut_count = np.zeros(n, dtype=np.int64)
        self.volume = np.zeros(n)
        self.rewired = np.zeros(n, dtype=bool)
        self.cut_by = [""] * n

    @property
    def active(self) -> np.ndarray:
        return self.cut_count == 0

    def __len__(self) -> int:
        return len(self.keys)


class TradeGraph:
    """The model's graph and its edge arrays. Owned by the model; phases call it."""

    def __init__(self) -> None:
        self.graph = nx.MultiDiGraph()
        self.wafers: EdgeSet | None = None
        self.tools: EdgeSet | None = None

    def add_node(self, name: str, kind: str, country: str) -> None:
        self.graph.add_node(name, kind=kind, country=country, layer=LAYERS[kind])

    def set_edges(self, wafers: EdgeSet, tools: EdgeSet) -> None:
        """Install the edge sets and add their edges to the graph (all active)."""
        from model.technology import TIERS, TOOL_CATEGORIES

        self.wafers, self.tools = wafers, tools
        for edges in (wafers, tools):
            for i, (u, v, key) in enumerate(edges.keys):
                item = (
                    TOOL_CATEGORIES[edges.category[i]].value
                    if edges.kind == "tools"
                    else TIERS[edges.tier[i]].value
                )
                self.graph.add_edge(
                    u, v, key=key, kind=edges.kind, item=item, tier=TIERS[edges.tier[i]].value,
                    active=True, volume=0.0, cut_by="", rewired=False,
                )

    # ----------------------------------------------------------------- switching
    def switch_off(self, edges: EdgeSet, mask: np.ndarray, rule_id: str) -> list[int]:
        """Cut the edges in `mask` by `rule_id`; return the indices newly cut.

        An edge cut by several rules stays cut until all of them are lifted.
        """
        idx = np.flatnonzero(mask)
        newly = [int(i) for i in idx if edges.cut_count[i] == 0]
        for i in idx:
            edges.cut_count[i] += 1
            edges.cut_by[i] = rule_id if not edges.cut_by[i] else f"{edges.cut_by[i]},{rule_id}"
        return newly

    def switch_on(self, edges: EdgeSet, rule_id: str) -> list[int]:
        """Lift `rule_id`: restore what it cut; return the indices active again."""
        restored = []
        for i, by in enumerate(edges.cut_by):
            rules = by.split(",") if by else []
            if rule_id in rules:
                rules.remove(rule_id)
                edges.cut_by[i] = ",".join(rules)
                edges.cut_count[i] -= 1
                if edges.cut_count[i] == 0:
                    restored.append(i)
        return restored

    # -------------------------------------------------------------------- views
    def counts(self) -> tuple[int, int]:
        """(active edges, cut edges) over both kinds."""
        active = int(self.wafers.active.sum() + self.tools.active.sum())
        total = len(self.wafers) + len(self.tools)
        return active, total - active

    def sync(self) -> nx.MultiDiGraph:
        """Write the arrays' state into the graph's edge attributes; return the graph."""
        for edges in (self.wafers, self.tools):
            active = edges.active
            for i, (u, v, key) in enumerate(edges.keys):
                data = self.graph.edges[u, v, key]
                data["active"] = bool(active[i])
                data["volume"] = float(edges.volume[i])
                data["cut_by"] = edges.cut_by[i]
                data["rewired"] = bool(edges.rewired[i])
        return self.graph
