"""The browser app's trade-graph painter: the graph as supply relations between columns.

Every function draws on a `matplotlib.figure.Figure` it is given or makes (never
pyplot, whose global state is shared by every browser session of the app). The graph's
layout, the grouping of parallel edges and the pixels of what never changes (nodes,
names, legends) are made once per model (`TradeGraphPainter`); each redraw then costs a
few numpy reductions over the edge arrays plus matplotlib's rendering of the edges,
which is the slow part. `python -m experiments.app.graph` times the work of one Step.

Edges are drawn one line per (supplier, buyer, kind) pair, aggregating the items the
pair trades (a foundry sells a firm wafers of several tiers; a vendor sells a foundry
tools of several categories for several tiers):
- width: the pair's summed last-quarter volume, as the square root of its share of the
  largest pair of its kind (tools are units, wafers are wafer starts: not comparable);
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

from model.technology import quarter_label


KIND_COLOURS = {"vendor": "#6f8fb8", "foundry": "#e0a458", "firm": "#7fb77e", "government": "#b9b9b9"}
KIND_LABELS = {"vendor": "equipment vendor", "foundry": "foundry", "firm": "fabless firm",
               "government": "government (rules in force)"}
COUNTRY_COLOURS = {"US": "#1f4e9c", "CN": "#c8102e", "TW": "#138a36", "KR": "#7b3fa0",
                   "NL": "#f07f09", "JP": "#333333"}
OTHER_COUNTRY = "#888888"
COUNTRY_ORDER = ["US", "NL", "JP", "KR", "TW", "CN"]
"""Top to bottom within a column: China at the bottom, so the relations the controls
cut run diagonally across the picture and SMIC's re-wired supply sits low."""

EDGE_STYLES = {
    # status: (colour, linestyle, z-order, legend label)
    "idle": ("#d9d9d9", "solid", 1, "permitted, no flow last quarter"),
    "cut": ("#d62728", (0, (4, 3)), 2, "cut: every item of the pair"),
    "partial": ("#ff7f0e", (0, (1, 1.5)), 3, "partly cut (width: what still flows)"),
    "tools": ("#4a6fa5", "solid", 4, "tools, vendor -> foundry (width ~ volume)"),
    "wafers": ("#2a9d8f", "solid", 4, "wafers, foundry -> firm (width ~ volume)"),
    "rewired": ("#9b30ff", "solid", 5, "re-wired by the state allocator"),
}
COLUMNS = {"vendor": 0.0, "foundry": 1.0, "firm": 2.0}
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
    wafers: PairIndex
    tools: PairIndex


def graph_layout(model) -> GraphLayout:
    """Columns vendors | foundries | firms, each ordered by country then world order;
    governments in a short row along the top. Pure function of the model's agents and
    edge arrays (which never change length during a run)."""
    groups = {"vendor": model.vendors, "foundry": model.foundries, "firm": model.firms}
    names, kinds, countries, xy = [], [], [], []
    offset = {}
    rank = {c: i for i, c in enumerate(COUNTRY_ORDER)}
    for kind, agents in groups.items():
        offset[kind] = len(names)
        order = sorted(range(len(agents)), key=lambda i: (rank.get(agents[i].country, -1), i))
        position = np.empty(len(agents))
        n = len(agents)
        for slot, i in enumerate(order):
            position[i] = 1.0 - slot / max(n - 1, 1)
        for i, agent in enumerate(agents):
            names.append(agent.name)
            kinds.append(kind)
            countries.append(agent.country)
            xy.append((COLUMNS[kind], position[i]))
    government_nodes = []
    governments = list(model.governments)
    for i, g in enumerate(governments):
        government_nodes.append(len(names))
        names.append(g.name)
        kinds.append("government")
        countries.append(g.country)
        xy.append((0.35 + 1.3 * i / max(len(governments) - 1, 1), 1.2))

    def pairs(edges, supplier_kind: str, buyer_kind: str) -> PairIndex:
        n_buyers = len(groups[buyer_kind])
        code = edges.supplier.astype(np.int64) * n_buyers + edges.buyer.astype(np.int64)
        unique, inverse = np.unique(code, return_inverse=True)
        return PairIndex(
            edge_pair=inverse.ravel(),
            supplier_node=offset[supplier_kind] + unique // n_buyers,
            buyer_node=offset[buyer_kind] + unique % n_buyers,
            n_edges=np.bincount(inverse.ravel(), minlength=len(unique)),
        )

    return GraphLayout(
        names=names, kinds=kinds, countries=countries, xy=np.array(xy, dtype=float),
        government_nodes=government_nodes,
        wafers=pairs(model.trade.wafers, "foundry", "firm"),
        tools=pairs(model.trade.tools, "vendor", "foundry"),
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


GRAPH_SIZE_IN = (8.6, 6.8)
GRAPH_DPI = 80
GRAPH_AXES = (0.0, 0.18, 1.0, 0.73)


def _graph_axes(fig: Figure):
    ax = fig.add_axes(GRAPH_AXES)
    ax.set_axis_off()
    ax.set_xlim(-0.74, 2.92)
    ax.set_ylim(-0.06, 1.3)
    return ax


def static_layer(layout: GraphLayout) -> np.ndarray:
    """What does not change from step to step (nodes, names, legends) as a transparent
    RGBA image (rows top first) the size of the graph figure.

    Text is most of matplotlib's rendering time; drawing it once per model and pasting
    the pixels over each step's edges keeps a redraw cheap.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    fig = Figure(figsize=GRAPH_SIZE_IN, dpi=GRAPH_DPI)
    fig.patch.set_alpha(0.0)
    canvas = FigureCanvasAgg(fig)
    ax = _graph_axes(fig)
    _draw_nodes(ax, layout)
    _draw_legend(fig)
    canvas.draw()
    return np.asarray(canvas.buffer_rgba()).copy()


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
    for edges, index in ((model.trade.tools, layout.tools), (model.trade.wafers, layout.wafers)):
        status, volume = pair_status(edges, index)
        largest = volume.max() if len(volume) and volume.max() > 0 else 1.0
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
                                             alpha=0.55 if name in ("tools", "wafers") else 1.0))
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
    face = np.array([KIND_COLOURS[k] for k in layout.kinds])
    ring = np.array([COUNTRY_COLOURS.get(c, OTHER_COUNTRY) for c in layout.countries])
    is_gov = np.array([k == "government" for k in layout.kinds])
    column_size = {k: layout.kinds.count(k) for k in COLUMNS}
    size = 260 if column_size["firm"] <= MAX_LABELLED else 20
    ax.scatter(xy[~is_gov, 0], xy[~is_gov, 1], s=size, c=face[~is_gov],
               edgecolors=ring[~is_gov], linewidths=2.4, marker="o", zorder=10)
    ax.scatter(xy[is_gov, 0], xy[is_gov, 1], s=150, c=face[is_gov], edgecolors=ring[is_gov],
               linewidths=2.4, marker="s", zorder=11)
    for i, (name, kind, country) in enumerate(zip(layout.names, layout.kinds, layout.countries)):
        x, y = xy[i]
        if kind == "government":
            ax.text(x, y + 0.035, name, ha="center", va="bottom", fontsize=7.5, zorder=12)
        elif column_size[kind] <= MAX_LABELLED:
            ax.text(x, y, country, ha="center", va="center", fontsize=5.5, color="white",
                    fontweight="bold", zorder=12)
            if kind == "vendor":
                ax.text(x - 0.07, y, name, ha="right", va="center", fontsize=8.5, zorder=12)
            elif kind == "firm":
                ax.text(x + 0.07, y, name, ha="left", va="center", fontsize=8.5, zorder=12)
            else:
                ax.text(x, y + 0.038, name, ha="center", va="bottom", fontsize=8, zorder=12,
                        bbox=dict(boxstyle="round,pad=0.15", fc="white", ec="none", alpha=0.85))
    for kind, x in COLUMNS.items():
        ax.text(x, -0.055, {"vendor": "equipment vendors", "foundry": "foundries",
                            "firm": "fabless firms"}[kind],
                ha="center", va="top", fontsize=9, color="#555555", style="italic")


def _draw_legend(fig: Figure) -> None:
    edge_handles = [
        Line2D([], [], color=EDGE_STYLES[k][0], linestyle=EDGE_STYLES[k][1],
               lw=1.2 if k in ("cut", "idle") else 2.6, label=EDGE_STYLES[k][3])
        for k in ("tools", "wafers", "rewired", "partial", "cut", "idle")
    ]
    kind_handles = [
        Line2D([], [], marker="s" if k == "government" else "o", linestyle="none",
               markerfacecolor=KIND_COLOURS[k], markeredgecolor="#666666", markersize=8,
               label=KIND_LABELS[k])
        for k in KIND_COLOURS
    ]
    country_handles = [
        Line2D([], [], marker="o", linestyle="none", markerfacecolor="white",
               markeredgecolor=colour, markeredgewidth=2.4, markersize=8, label=country)
        for country, colour in COUNTRY_COLOURS.items()
    ]
    common = dict(frameon=False, fontsize=7.5, handlelength=2.6, borderaxespad=0.2)
    fig.legend(handles=edge_handles, loc="lower left", bbox_to_anchor=(0.01, 0.01), ncol=2,
               title="relations (one line per pair and kind)", title_fontsize=8, **common)
    fig.legend(handles=kind_handles, loc="lower left", bbox_to_anchor=(0.63, 0.01), ncol=1,
               title="node: kind", title_fontsize=8, **common)
    fig.legend(handles=country_handles, loc="lower left", bbox_to_anchor=(0.86, 0.01), ncol=2,
               title="ring: country", title_fontsize=8, handlelength=1.0, frameon=False,
               fontsize=7.5, borderaxespad=0.2, columnspacing=0.6)


def _draw_title(fig: Figure, model) -> None:
    label = model.quarter if model.steps > 0 else f"before {quarter_label(model.quarter_number + 1)}"
    fig.text(0.015, 0.975, label, fontsize=20, fontweight="bold", va="top", ha="left")
    fig.text(0.985, 0.975, f"{model.scenario_spec.name} · seed {model.seed} · step {model.steps}",
             fontsize=9, va="top", ha="right", color="#444444")
    n_cut = int((~model.trade.wafers.active).sum() + (~model.trade.tools.active).sum())
    n_rewired = int(model.trade.wafers.rewired.sum())
    fig.text(0.985, 0.945, f"relations (items) cut: {n_cut} · re-wired by the state: {n_rewired}",
             fontsize=8.5, va="top", ha="right", color="#444444")
