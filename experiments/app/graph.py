"""The browser app's trade-graph painter: the graph as supply relations between columns.

Every function draws on a `matplotlib.figure.Figure` it is given or makes (never
pyplot, whose global state is shared by every browser session of the app). The graph's
layout, the grouping of parallel edges and the pixels of what never changes (nodes,
names, legends) are made once per model (`TradeGraphPainter`); each redraw then costs a
few numpy reductions over the edge arrays plus matplotlib's rendering of the edges,
which is the slow part. `python -m experiments.app.timing` times the work of one Step.

Columns follow the graph's layers (`model.graph.LAYERS`), suppliers left of buyers:
equipment vendors | foundries, HBM makers and packaging houses (one column, in blocks
from the top) | shell companies (the leak route, between the columns) | fabless firms
(the accelerator designers among them) | buyers of AI compute; governments in a row
along the top.

Edges are drawn one line per (supplier, buyer, kind) pair, aggregating the items the
pair trades (a foundry sells a firm wafers of several tiers; a vendor sells a foundry
tools of several categories for several tiers; a memory maker sells a designer HBM
stacks of several generations; a designer sells a buyer several accelerators):
- colour: the kind (tools, wafers, HBM stacks, packaging, the leak route's dies,
  accelerators);
- width: the pair's summed last-quarter volume, as the square root of its share of the
  largest pair of its kind (tools are units, wafers are wafer starts, accelerators are
  units delivered: not comparable);
- red dashed: every item of the pair is cut; orange dotted: some are (the width is
  then what still flows);
- purple: at least one item was re-wired by the state allocator (champions first);
- pale grey: a permitted relation that carried nothing last quarter.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from model.graph import LAYERS
from model.technology import quarter_label


KIND_COLOURS = {"vendor": "#6f8fb8", "foundry": "#e0a458", "memory": "#a47a6f", "fab": "#c9b79c", "packager": "#b8b84a",
                "shell": "#d67bb5", "firm": "#7fb77e", "buyer": "#f2cf5b", "government": "#b9b9b9"}
"""Node faces. HBM makers, packaging houses, shells and buyers take a mid tone of their
relations' colour (EDGE_STYLES), far from what those relations blend to when drawn."""
KIND_MARKERS = {"vendor": "o", "foundry": "o", "memory": "D", "fab": "s", "packager": "h", "shell": "v",
                "firm": "o", "buyer": "p", "government": "s"}
KIND_LABELS = {"vendor": "equipment vendor", "foundry": "foundry", "memory": "HBM maker",
               "fab": "memory or IDM fabs (buy tools)",
               "packager": "packaging house (CoWoS-class)", "shell": "shell company (leak route)",
               "firm": "fabless firm (designer)", "buyer": "buyer of AI compute",
               "government": "government (rules in force)"}
COUNTRY_COLOURS = {"US": "#1f4e9c", "CN": "#c8102e", "TW": "#138a36", "KR": "#7b3fa0",
                   "NL": "#f07f09", "JP": "#333333"}
OTHER_COUNTRY = "#888888"
COUNTRY_ORDER = ["US", "NL", "JP", "KR", "TW", "CN"]
"""Top to bottom within a block: China at the bottom, so the relations the controls
cut run diagonally across the picture and SMIC's re-wired supply sits low."""

EDGE_STYLES = {
    # status: (colour, linestyle, z-order, legend label)
    "idle": ("#d9d9d9", "solid", 1, "permitted, no flow last quarter"),
    "cut": ("#d62728", (0, (4, 3)), 2, "cut: every item of the pair"),
    "partial": ("#ff7f0e", (0, (1, 1.5)), 3, "partly cut (width: what still flows)"),
    "tools": ("#4a6fa5", "solid", 4, "tools, vendor -> foundry (width ~ volume)"),
    "wafers": ("#2a9d8f", "solid", 4, "wafers, foundry -> firm (width ~ volume)"),
    "hbm": ("#8c564b", "solid", 4, "HBM stacks, maker -> designer"),
    "packaging": ("#a5a61d", "solid", 4, "packaging, house -> designer"),
    "dies": ("#e377c2", "solid", 4, "leak route: dies, foundry -> shell -> firm"),
    "relay": ("#e377c2", "solid", 4, "leak route: dies, shell -> firm"),
    "accelerators": ("#c99a06", "solid", 4, "accelerators, designer -> buyer (units)"),
    "rewired": ("#9b30ff", "solid", 5, "re-wired by the state allocator"),
}
FLOW_KINDS = ("tools", "wafers", "hbm", "packaging", "dies", "relay", "accelerators")
"""Edge kinds drawn in their own colour while they carry volume (translucent)."""
LEGEND_EDGES = ("tools", "wafers", "hbm", "packaging", "dies", "accelerators", "rewired", "partial", "cut",
                "idle")
"""The relations' legend, in order ('relay' shares the leak route's entry with 'dies')."""

EDGE_ENDS = {"tools": ("vendor", ("foundry", "fab", "memory")), "wafers": ("foundry", "firm"), "hbm": ("memory", "firm"),
             "packaging": ("packager", "firm"), "dies": ("foundry", "shell"), "relay": ("shell", "firm"),
             "accelerators": ("firm", "buyer")}
"""Per edge kind, the node kinds of its (supplier, buyer); a tuple: the kinds its
buyers may be, the first that has the name (tools go to foundries and to memory makers'
and IDMs' fabs, an HBM maker's own node where it is one). A designer's node is its
firm's: HBM and packaging edges end at, and accelerator edges start from, the firm of
the same name."""

LAYER_X = {0: 0.0, 1: 0.95, 2: 1.4, 3: 1.85, 4: 2.95}
"""x of each layer's column. The shell layer holds a node or two: it sits half-way; the
buyers stand far enough right of the firms for the firms' names between them."""
COLUMNS = {kind: LAYER_X[layer] for kind, layer in LAYERS.items() if kind != "government"}
BLOCK_ORDER = ["vendor", "foundry", "fab", "memory", "packager", "shell", "firm", "buyer"]
"""Top to bottom within a column, where one column holds several kinds."""
BLOCK_GAP = 0.9  # extra slots between two blocks of one column
SLOT = {"memory": 0.75, "fab": 0.75, "packager": 0.75}
"""Slots a node takes in its column (default 1): HBM makers and packaging houses are
named beside their node, not above it as foundries are, and sit closer."""
COLUMN_TITLES = {"vendor": "equipment vendors", "foundry": "foundries", "memory": "HBM makers",
                 "fab": "memory and IDM fabs",
                 "packager": "packaging", "firm": "fabless firms", "buyer": "buyers of AI compute"}
MARKER_SCALE = {"memory": 0.8, "packager": 1.1, "shell": 1.15}
"""Marker area relative to a circle's, so that the shapes look the same size."""
MAX_LABELLED = 40  # a column with more nodes than this (synthetic worlds) is not labelled


@dataclass(frozen=True)
class PairIndex:
    """The parallel edges of one EdgeSet grouped by (supplier, buyer) pair."""

    edge_pair: np.ndarray  # per edge: its pair's index
    supplier_node: np.ndarray  # per pair: node index in the layout
    buyer_node: np.ndarray
    n_edges: np.ndarray  # per pair: how many items it trades

    @property
    def n_pairs(self) -> int:
        return len(self.supplier_node)


@dataclass(frozen=True)
class GraphLayout:
    """Node positions and pair grouping of one model's trade graph (fixed per model)."""

    names: list[str]
    kinds: list[str]
    countries: list[str]
    xy: np.ndarray  # (n_nodes, 2)
    government_nodes: list[int]
    pairs: dict[str, PairIndex]  # by edge kind, in the order of `model.trade.edge_sets`

    @property
    def wafers(self) -> PairIndex:
        return self.pairs["wafers"]

    @property
    def tools(self) -> PairIndex:
        return self.pairs["tools"]

    def column_size(self, kind: str) -> int:
        """Nodes in the column that holds `kind` (the unit of `MAX_LABELLED`)."""
        return sum(1 for k in self.kinds if k != "government" and COLUMNS[k] == COLUMNS[kind])


def end_kinds(kinds) -> tuple[str, ...]:
    """An `EDGE_ENDS` entry's node kinds as a tuple (one kind or several)."""
    return (kinds,) if isinstance(kinds, str) else tuple(kinds)


def _check_drawable(node_kinds, edge_kinds) -> None:
    unknown = sorted({k for k in node_kinds if k not in KIND_COLOURS}
                     | {k for k in edge_kinds if k not in EDGE_ENDS})
    if unknown:
        raise ValueError(f"the app cannot draw node or edge kind(s) {unknown}: give them a column "
                         "(model.graph.LAYERS, LAYER_X), a colour and a marker, or ends and a style "
                         "(experiments.app.graph KIND_*, EDGE_ENDS, EDGE_STYLES)")


def graph_layout(model) -> GraphLayout:
    """Nodes in columns by layer (`model.graph.LAYERS` -> `LAYER_X`); within a column,
    blocks by kind in `BLOCK_ORDER` (foundries above HBM makers above packaging houses),
    each ordered by country (`COUNTRY_ORDER`) then world order, spread over y in [0, 1].
    A shell company sits half-way between the nodes it links (its foundry and its
    recipient), a little below, so that its route does not hide the direct wafer
    relation. Governments in a short row along the top. Pure function of the model's
    graph nodes and edge arrays (which never change length during a run)."""
    nodes = list(model.trade.nodes)  # (name, kind, country), world order within a kind
    edge_sets = model.trade.edge_sets
    _check_drawable([kind for _, kind, _ in nodes], [edges.kind for edges in edge_sets])
    rank = {c: i for i, c in enumerate(COUNTRY_ORDER)}
    by_kind: dict[str, list[int]] = {}
    for i, (_, kind, _) in enumerate(nodes):
        by_kind.setdefault(kind, []).append(i)

    # Within a block: country, then world order. Blocks of a column one after another.
    order = {kind: sorted(members, key=lambda i: (rank.get(nodes[i][2], -1), i))
             for kind, members in by_kind.items()}
    xy = np.zeros((len(nodes), 2))
    for x in sorted(set(LAYER_X.values())):
        blocks = [k for k in BLOCK_ORDER if COLUMNS[k] == x and k != "shell" and order.get(k)]
        slot, slots = 0.0, []
        for b, kind in enumerate(blocks):
            slot += BLOCK_GAP if b else 0.0
            for i in order[kind]:
                slots.append((i, slot))
                slot += SLOT.get(kind, 1.0)
        last = max(slots[-1][1], 1.0) if slots else 1.0
        for i, s in slots:
            xy[i] = (x, 1.0 - s / last)
    government_nodes = order.get("government", [])
    for k, i in enumerate(government_nodes):
        xy[i] = (0.35 + 1.9 * k / max(len(government_nodes) - 1, 1), 1.2)

    node_of = {(kind, name): i for i, (name, kind, _) in enumerate(nodes)}

    def pairs(edges) -> PairIndex:
        supplier_kind, buyer_kinds = EDGE_ENDS[edges.kind]
        supplier_nodes = np.array([node_of[(supplier_kind, n)] for n in edges.supplier_names], dtype=np.int64)
        buyer_nodes = np.array([next(node_of[(k, n)] for k in end_kinds(buyer_kinds) if (k, n) in node_of)
                                for n in edges.buyer_names], dtype=np.int64)
        n_buyers = max(len(buyer_nodes), 1)
        code = edges.supplier.astype(np.int64) * n_buyers + edges.buyer.astype(np.int64)
        unique, inverse = np.unique(code, return_inverse=True)
        return PairIndex(
            edge_pair=inverse.ravel(),
            supplier_node=supplier_nodes[unique // n_buyers] if len(unique) else np.zeros(0, np.int64),
            buyer_node=buyer_nodes[unique % n_buyers] if len(unique) else np.zeros(0, np.int64),
            n_edges=np.bincount(inverse.ravel(), minlength=len(unique)),
        )

    pair_index = {edges.kind: pairs(edges) for edges in edge_sets}
    for i in order.get("shell", []):  # between what it links, below the direct line
        linked = [index.supplier_node[index.buyer_node == i] for index in pair_index.values()]
        linked += [index.buyer_node[index.supplier_node == i] for index in pair_index.values()]
        linked = np.concatenate(linked)
        y = xy[linked, 1].mean() - 0.09 if len(linked) else 0.5
        xy[i] = (COLUMNS["shell"], y)
    return GraphLayout(
        names=[n for n, _, _ in nodes], kinds=[k for _, k, _ in nodes], countries=[c for _, _, c in nodes],
        xy=xy, government_nodes=government_nodes, pairs=pair_index,
    )


def pair_status(edges, index: PairIndex) -> tuple[np.ndarray, np.ndarray]:
    """Per pair: (status name, summed last-quarter volume).

    Status is 'rewired' if any item was re-wired by the state allocator and not all are
    cut, else 'cut' if all items are cut, 'partial' if some are, the edge kind if it
    carried volume, 'idle' otherwise.
    """
    n = index.n_pairs
    volume = np.bincount(index.edge_pair, weights=edges.volume, minlength=n)
    cut = np.bincount(index.edge_pair, weights=(~edges.active).astype(float), minlength=n)
    rewired = np.bincount(index.edge_pair, weights=edges.rewired.astype(float), minlength=n) > 0
    status = np.where(volume > 0, edges.kind, "idle").astype(object)
    status[(cut > 0) & (cut < index.n_edges)] = "partial"
    status[cut == index.n_edges] = "cut"
    status[rewired & (cut < index.n_edges)] = "rewired"
    return status, volume


GRAPH_SIZE_IN = (8.6, 9.4)
GRAPH_DPI = 80
GRAPH_AXES = (0.0, 0.2, 1.0, 0.75)  # room below for the captions and the taller kind key


def _graph_axes(fig: Figure):
    ax = fig.add_axes(GRAPH_AXES)
    ax.set_axis_off()
    ax.set_xlim(-0.74, 3.78)
    ax.set_ylim(-0.06, 1.28)
    return ax


def static_layer(layout: GraphLayout) -> np.ndarray:
    """What does not change from step to step (nodes, names, legends) as a transparent
    RGBA image (rows top first) the size of the graph figure.

    Text is most of matplotlib's rendering time; drawing it once per model and pasting
    the pixels over each step's edges keeps a redraw cheap.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(static_figure(layout))
    canvas.draw()
    return np.asarray(canvas.buffer_rgba()).copy()


def static_figure(layout: GraphLayout) -> Figure:
    """The figure `static_layer` renders: nodes, their names and the legends (relations,
    node kinds, countries) on a transparent background."""
    fig = Figure(figsize=GRAPH_SIZE_IN, dpi=GRAPH_DPI)
    fig.patch.set_alpha(0.0)
    ax = _graph_axes(fig)
    _draw_nodes(ax, layout)
    _draw_legend(fig, layout)
    return fig


class TradeGraphPainter:
    """Draws one model's trade graph step after step, with the layout and the static
    layer made once."""

    def __init__(self, model) -> None:
        self.model = model
        self.layout = graph_layout(model)
        self.static = static_layer(self.layout)

    def draw(self) -> Figure:
        return draw_trade_graph(self.model, self.layout, self.static)


def draw_trade_graph(model, layout: GraphLayout, static: np.ndarray | None = None) -> Figure:
    """The trade graph of `model` as it stands after its last step.

    `static` is `static_layer(layout)` (made here when not given; a `TradeGraphPainter`
    keeps it between steps). Save the figure at its own dpi (the default) so that the
    layers align. The governments' counts of rules in force are drawn here: they change
    every few quarters, and re-rendering the static layer costs more than nine texts.
    """
    if static is None:
        static = static_layer(layout)
    fig = Figure(figsize=GRAPH_SIZE_IN, dpi=GRAPH_DPI)
    ax = _graph_axes(fig)
    for edges in model.trade.edge_sets:
        index = layout.pairs[edges.kind]
        if not index.n_pairs:
            continue
        status, volume = pair_status(edges, index)
        largest = volume.max() if volume.max() > 0 else 1.0
        width = 0.5 + 5.0 * np.sqrt(volume / largest)
        start, end = layout.xy[index.supplier_node], layout.xy[index.buyer_node]
        for name in np.unique(status):
            mask = status == name
            colour, style, z, _ = EDGE_STYLES[name]
            segments = np.stack([start[mask], end[mask]], axis=1)
            lw = {"cut": np.full(mask.sum(), 1.1), "idle": np.full(mask.sum(), 0.6),
                  "rewired": np.maximum(width[mask], 2.2)}.get(name, width[mask])
            ax.add_collection(LineCollection(segments, colors=colour, linewidths=lw,
                                             linestyles=style, zorder=z,
                                             alpha=0.55 if name in FLOW_KINDS else 1.0))
    fig.figimage(static, xo=0, yo=0, origin="upper", zorder=10)
    rules_in_force = {g.name: int(g.rules_in_force) for g in model.governments}
    for i in layout.government_nodes:
        x, y = layout.xy[i]
        count = rules_in_force.get(layout.names[i], 0)
        ax.text(x, y - 0.045, f"{count} rule{'' if count == 1 else 's'}", ha="center", va="top",
                fontsize=7, color="#444444")
    _draw_title(fig, model)
    return fig


def _draw_nodes(ax, layout: GraphLayout) -> None:
    xy = layout.xy
    kinds = np.array(layout.kinds)
    face = np.array([KIND_COLOURS[k] for k in layout.kinds])
    ring = np.array([COUNTRY_COLOURS.get(c, OTHER_COUNTRY) for c in layout.countries])
    labelled = {k: layout.column_size(k) <= MAX_LABELLED for k in set(layout.kinds) if k != "government"}
    size = 220 if layout.column_size("firm") <= MAX_LABELLED else 20
    for kind in dict.fromkeys(layout.kinds):  # each kind its marker
        mask = kinds == kind
        is_gov = kind == "government"
        ax.scatter(xy[mask, 0], xy[mask, 1], s=150 if is_gov else size * MARKER_SCALE.get(kind, 1.0),
                   c=face[mask], edgecolors=ring[mask], linewidths=2.4, marker=KIND_MARKERS[kind],
                   zorder=11 if is_gov else 10)
    for i, (name, kind, country) in enumerate(zip(layout.names, layout.kinds, layout.countries)):
        x, y = xy[i]
        if kind == "government":
            ax.text(x, y + 0.035, name, ha="center", va="bottom", fontsize=7.5, zorder=12)
        elif labelled[kind]:
            ax.text(x, y + (0.006 if kind == "shell" else 0.0), country, ha="center", va="center",
                    fontsize=5.5, color="white", fontweight="bold", zorder=12)
            if kind == "vendor":
                ax.text(x - 0.07, y, name, ha="right", va="center", fontsize=8.5, zorder=12)
            elif kind in ("firm", "buyer"):  # a white box: accelerator relations pass under firms' names
                ax.text(x + 0.06, y, name, ha="left", va="center", fontsize=8.5, zorder=12,
                        bbox=dict(boxstyle="round,pad=0.1", fc="white", ec="none", alpha=0.85))
            elif kind in ("memory", "packager"):
                ax.text(x - 0.055, y, name, ha="right", va="center", fontsize=7.5, zorder=12,
                        bbox=dict(boxstyle="round,pad=0.12", fc="white", ec="none", alpha=0.85))
            elif kind == "shell":
                ax.text(x, y - 0.03, name, ha="center", va="top", fontsize=7.5, zorder=12, style="italic",
                        bbox=dict(boxstyle="round,pad=0.15", fc="white", ec="none", alpha=0.85))
            else:
                ax.text(x, y + 0.021, name, ha="center", va="bottom", fontsize=7.5, zorder=12,
                        bbox=dict(boxstyle="round,pad=0.12", fc="white", ec="none", alpha=0.85))
    columns: dict[float, list[str]] = {}
    for kind in BLOCK_ORDER:
        if kind in COLUMN_TITLES and kind in labelled:
            columns.setdefault(COLUMNS[kind], []).append(COLUMN_TITLES[kind])
    for x, titles in columns.items():  # two titles a line: a shared column's stay under it
        text = "\n".join(" · ".join(titles[i:i + 2]) for i in range(0, len(titles), 2))
        ax.text(x, -0.045, text, ha="center", va="top", fontsize=9, color="#555555", style="italic")


def _draw_legend(fig: Figure, layout: GraphLayout) -> None:
    present = {k for k, index in layout.pairs.items() if index.n_pairs}
    present |= {"rewired", "partial", "cut", "idle"}
    if "relay" in present:
        present.add("dies")
    edge_handles = [
        Line2D([], [], color=EDGE_STYLES[k][0], linestyle=EDGE_STYLES[k][1],
               lw=1.2 if k in ("cut", "idle") else 2.6, label=EDGE_STYLES[k][3])
        for k in LEGEND_EDGES if k in present
    ]
    kind_handles = [
        Line2D([], [], marker=KIND_MARKERS[k], linestyle="none", markerfacecolor=KIND_COLOURS[k],
               markeredgecolor="#666666", markersize=8, label=KIND_LABELS[k])
        for k in KIND_COLOURS if k in layout.kinds
    ]
    country_handles = [
        Line2D([], [], marker="o", linestyle="none", markerfacecolor="white",
               markeredgecolor=colour, markeredgewidth=2.4, markersize=8, label=country)
        for country, colour in COUNTRY_COLOURS.items()
    ]
    common = dict(frameon=False, fontsize=7.5, handlelength=2.6, borderaxespad=0.2, labelspacing=0.35)
    fig.legend(handles=edge_handles, loc="lower left", bbox_to_anchor=(0.01, 0.01), ncol=2,
               title="relations (one line per pair and kind)", title_fontsize=8, **common)
    fig.legend(handles=kind_handles, loc="lower left", bbox_to_anchor=(0.6, 0.01), ncol=1,
               title="node: kind", title_fontsize=8, **{**common, "handlelength": 1.2})
    fig.legend(handles=country_handles, loc="lower left", bbox_to_anchor=(0.875, 0.01), ncol=2,
               title="ring: country", title_fontsize=8, handlelength=1.0, frameon=False,
               fontsize=7.5, borderaxespad=0.2, columnspacing=0.6)


def _draw_title(fig: Figure, model) -> None:
    label = model.quarter if model.steps > 0 else f"before {quarter_label(model.quarter_number + 1)}"
    fig.text(0.015, 0.98, label, fontsize=20, fontweight="bold", va="top", ha="left")
    fig.text(0.985, 0.98, f"{model.scenario_spec.name} · seed {model.seed} · step {model.steps}",
             fontsize=9, va="top", ha="right", color="#444444")
    n_cut = model.trade.counts()[1]
    n_rewired = int(model.trade.wafers.rewired.sum())
    fig.text(0.985, 0.955, f"relations (items) cut: {n_cut} · re-wired by the state: {n_rewired}",
             fontsize=8.5, va="top", ha="right", color="#444444")
