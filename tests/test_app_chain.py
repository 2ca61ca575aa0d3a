"""The browser app's drawing of the accelerator chain (issue 12), without a browser.

- The trade graph places every node in its layer's column (`model.graph.LAYERS`):
  HBM makers and packaging houses below the foundries in their column, the shell
  company between its foundry and its recipient; every edge set is grouped into
  pairs whose ends are of the kinds its edges join; a cut HBM relation is drawn red
  and dashed and comes back when its rule is lifted; the legends name the new kinds.
- Huawei's accelerator panel shows what the model frame holds (units in thousands),
  shades every quarter by the input that bound it, marks the chain's rules and the
  state's directive, and says the latest quarter in words.

Real models throughout (the default scenario); no assertion on the model's numbers,
which are calibrated elsewhere.
"""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.collections import LineCollection
from matplotlib.colors import to_rgba

from experiments.app.graph import (
    COLUMNS, EDGE_ENDS, EDGE_STYLES, end_kinds, KIND_LABELS, LAYER_X, MAX_LABELLED, TradeGraphPainter,
    draw_trade_graph, graph_layout, pair_status, static_figure,
)
from experiments.app.panels import (
    BINDING_COLOURS, BINDING_LABELS, AcceleratorPanel, binding_spans, chain_events, series_frame,
)
from model import ChipMarketModel
from model.graph import LAYERS
from model.reporters import slug
from model.technology import parse_quarter


def _model(steps: int = 0, **kwargs) -> ChipMarketModel:
    model = ChipMarketModel(rng=42, **kwargs)
    for _ in range(steps):
        model.step()
    return model


@pytest.fixture(scope="module")
def model():
    return _model()


# ------------------------------------------------------------------ trade graph
def test_every_node_sits_in_its_layers_column(model):
    layout = graph_layout(model)
    assert sorted(zip(layout.names, layout.kinds)) == sorted((n, k) for n, k, _ in model.trade.nodes)
    assert {"memory", "packager", "shell"} <= set(layout.kinds)
    for (x, y), kind in zip(layout.xy, layout.kinds):
        if kind == "government":
            assert y > 1.0  # the row along the top
        else:
            assert x == LAYER_X[LAYERS[kind]] == COLUMNS[kind]
            assert -0.2 <= y <= 1.0
    assert len({tuple(p) for p in layout.xy.round(6)}) == len(layout.names)  # no two on one spot


def test_the_middle_column_holds_foundries_above_hbm_makers_above_packaging(model):
    layout = graph_layout(model)
    ys = {kind: layout.xy[[k == kind for k in layout.kinds], 1] for kind in ("foundry", "memory", "packager")}
    assert ys["foundry"].min() > ys["memory"].max()
    assert ys["memory"].min() > ys["packager"].max()
    # the columns still hold what they held: vendors left, foundries in the middle, firms right
    assert COLUMNS["vendor"] < COLUMNS["foundry"] == COLUMNS["memory"] == COLUMNS["packager"]
    assert COLUMNS["foundry"] < COLUMNS["shell"] < COLUMNS["firm"]


def test_the_shell_sits_between_the_foundry_and_the_firm_it_links(model):
    layout = graph_layout(model)
    for route in model.world.leak_routes:
        shell = layout.names.index(route.name)
        foundry = next(i for i, (n, k) in enumerate(zip(layout.names, layout.kinds))
                       if n == route.supplier and k == "foundry")
        firm = next(i for i, (n, k) in enumerate(zip(layout.names, layout.kinds))
                    if n == route.recipient and k == "firm")
        assert layout.xy[foundry, 0] < layout.xy[shell, 0] < layout.xy[firm, 0]
        low, high = sorted((layout.xy[foundry, 1], layout.xy[firm, 1]))
        assert low - 0.15 <= layout.xy[shell, 1] <= high


def test_pairs_join_the_kinds_each_edge_set_joins(model):
    layout = graph_layout(model)
    assert set(layout.pairs) == {edges.kind for edges in model.trade.edge_sets}
    assert {"hbm", "packaging", "dies", "relay"} <= set(layout.pairs)
    for edges in model.trade.edge_sets:
        index = layout.pairs[edges.kind]
        assert index.n_edges.sum() == len(edges) and index.n_pairs > 0
        supplier_kind, buyer_kinds = EDGE_ENDS[edges.kind]
        assert {layout.kinds[i] for i in index.supplier_node} == {supplier_kind}
        assert {layout.kinds[i] for i in index.buyer_node} <= set(end_kinds(buyer_kinds))
        assert end_kinds(buyer_kinds)[0] in {layout.kinds[i] for i in index.buyer_node}
        # each buyer node is its edge's buyer by name
        names = [layout.names[i] for i in index.buyer_node]
        assert set(names) == set(edges.buyer_names[b] for b in np.unique(edges.buyer))
        # each edge's pair joins that edge's supplier and buyer, by name
        for e in range(len(edges)):
            pair = index.edge_pair[e]
            assert layout.names[index.supplier_node[pair]] == edges.supplier_names[edges.supplier[e]]
            assert layout.names[index.buyer_node[pair]] == edges.buyer_names[edges.buyer[e]]
    # HBM: one pair per (maker, designer), several generations in some
    hbm = model.trade["hbm"]
    assert layout.pairs["hbm"].n_pairs == len(set(zip(hbm.supplier.tolist(), hbm.buyer.tolist())))


def _segments(fig, colour: str, dashed: bool) -> int:
    """Line segments drawn in `colour` (and dashed or not) on the graph's axes."""
    n = 0
    for collection in fig.axes[0].collections:
        if not isinstance(collection, LineCollection) or not len(collection.get_segments()):
            continue
        if np.allclose(collection.get_colors()[0][:3], to_rgba(colour)[:3]):
            offset, pattern = collection.get_linestyles()[0]
            if (pattern is not None) == dashed:
                n += len(collection.get_segments())
    return n


def test_a_cut_hbm_relation_is_drawn_red_dashed_until_its_rule_is_lifted():
    model = _model(steps=2)
    painter = TradeGraphPainter(model)
    hbm = model.trade["hbm"]
    to_huawei = np.array([hbm.buyer_names[b] == "Huawei" for b in hbm.buyer])
    index = painter.layout.pairs["hbm"]
    huawei_pairs = np.unique(index.edge_pair[to_huawei])
    red = EDGE_STYLES["cut"][0]

    before = _segments(painter.draw(), red, dashed=True)
    model.trade.switch_off(hbm, to_huawei, "test-hbm-rule")
    status, _ = pair_status(hbm, index)
    assert set(status[huawei_pairs]) == {"cut"}
    assert _segments(painter.draw(), red, dashed=True) == before + len(huawei_pairs)
    model.trade.switch_on(hbm, "test-hbm-rule")
    assert "cut" not in set(pair_status(hbm, index)[0][huawei_pairs])
    assert _segments(painter.draw(), red, dashed=True) == before


def test_relations_that_carry_volume_take_their_kinds_colour():
    model = _model(steps=6)
    fig = TradeGraphPainter(model).draw()
    for kind in ("tools", "wafers", "hbm", "packaging"):
        flowing = (model.trade[kind].volume > 0) & model.trade[kind].active
        if flowing.any():
            assert _segments(fig, EDGE_STYLES[kind][0], dashed=False) > 0, kind


def test_the_legends_name_the_new_kinds(model):
    fig = static_figure(graph_layout(model))
    texts = [t.get_text() for legend in fig.legends for t in legend.get_texts()]
    for kind in ("memory", "packager", "shell"):
        assert KIND_LABELS[kind] in texts
    for kind in ("hbm", "packaging", "dies"):
        assert EDGE_STYLES[kind][3] in texts
    names = [t.get_text() for t in fig.axes[0].texts]
    assert {m.name for m in model.memory_makers} | {p.name for p in model.packagers} <= set(names)
    assert model.world.leak_routes and {r.name for r in model.world.leak_routes} <= set(names)


def test_a_kind_the_app_cannot_draw_fails_at_once_and_says_what_to_add(model):
    other = _model()
    other.trade.add_node("Somebody", "smelter", "CN")
    with pytest.raises(ValueError, match="smelter"):
        graph_layout(other)


def test_a_synthetic_world_is_drawn_without_names_in_crowded_columns():
    model = _model(steps=1, synthetic_firms=60, synthetic_foundries=45)
    layout = graph_layout(model)
    assert layout.column_size("memory") == layout.column_size("foundry") > MAX_LABELLED
    fig = draw_trade_graph(model, layout)
    names = {t.get_text() for t in static_figure(layout).axes[0].texts}
    assert not names & ({m.name for m in model.memory_makers} | {f.name for f in model.foundries})
    assert fig.get_size_inches().tolist() == static_figure(layout).get_size_inches().tolist()


# ------------------------------------------------------------- the accelerators
def test_binding_spans_merge_runs_of_quarters():
    years = np.array([2020.0, 2020.25, 2020.5, 2020.75, 2021.5])
    spans = binding_spans(years, ["dies", "dies", "", "hbm", "hbm"])
    assert spans == [(2020.0, 2020.5, "dies"), (2020.75, 2021.0, "hbm"), (2021.5, 2021.75, "hbm")]
    assert binding_spans(np.zeros(0), []) == []


def test_chain_events_are_the_rules_on_the_chain_and_the_directive(model):
    events = chain_events(model)
    quarters = [q for q, _, _ in events]
    assert [parse_quarter(q) for q in quarters] == sorted(parse_quarter(q) for q in quarters)
    hbm_rules = [r for r in model.rules if r.kind == "hbm"]
    assert hbm_rules and all(any(q == r.effective and "HBM" in text for q, text, _ in events) for r in hbm_rules)
    assert any(kind == "directive" and "SMIC serves Huawei first" in text for _, text, kind in events)
    tool_quarters = {r.effective for r in model.rules if r.kind == "tools"}
    chain_quarters = {r.effective for r in model.rules if r.kind in ("wafers", "hbm", "packaging")}
    directive_quarters = {d.effective for d in model.scenario_spec.directives}
    assert set(quarters) <= chain_quarters | directive_quarters
    assert tool_quarters - chain_quarters - directive_quarters  # there were tool-only quarters to leave out
    assert not (tool_quarters - chain_quarters - directive_quarters) & set(quarters)


def test_the_panel_shows_the_frame_in_thousands_over_the_binding_input():
    model = _model()
    panel = AcceleratorPanel(model)
    panel.update()
    assert "none made yet" in panel.caption and panel.hint.get_visible()
    for _ in range(30):
        model.step()
        panel.update()
    frame = series_frame(model)
    years, units = panel.units_line.get_data()
    np.testing.assert_allclose(units, frame["huawei_accelerators"].to_numpy(dtype=float) / 1e3)
    np.testing.assert_allclose(years, frame["year"])
    others = [f"accelerators_{slug(d.name)}" for d in model.designers if d.country == "CN" and d.name != "Huawei"]
    assert others
    np.testing.assert_allclose(panel.others_line.get_data()[1],
                               frame[others].to_numpy(dtype=float).sum(axis=1) / 1e3)
    assert panel.front.get_ylim()[1] >= max(units.max(), panel.others_line.get_data()[1].max())

    # every quarter with a binding input is shaded once, in that input's colour
    binding = frame["huawei_binding_input"].tolist()
    shaded = {}
    for path, colour in zip(panel.spans.get_paths(), panel.spans.get_facecolor()):
        start, end = path.vertices[:, 0].min(), path.vertices[:, 0].max()
        for year, name in zip(years, binding):
            if start - 1e-9 <= year < end - 1e-9:
                assert year not in shaded
                shaded[year] = colour
    assert sorted(shaded) == [y for y, b in zip(years, binding) if b]
    for year, name in zip(years, binding):
        if name:
            np.testing.assert_allclose(shaded[year][:3], to_rgba(BINDING_COLOURS[name])[:3])

    last = frame.iloc[-1]
    assert panel.caption.startswith(f"Huawei, {last['quarter']}: ")
    assert BINDING_LABELS[last["huawei_binding_input"]] in panel.caption
    assert not panel.hint.get_visible()
    # one dashed line per marked quarter, numbered in the frame's key
    event_lines = [c for c in panel.front.collections if isinstance(c, LineCollection)]
    assert len(event_lines) == 1 and len(event_lines[0].get_segments()) == len(panel.groups) > 0
    back_texts = [t.get_text() for t in panel.background.texts]
    assert any(text.startswith("1  ") for text in back_texts)
    assert [t.get_text() for t in panel.back.texts] == [str(k + 1) for k in range(len(panel.groups))]


def test_the_panels_frame_is_rendered_only_when_its_range_grows():
    model = _model()
    panel = AcceleratorPanel(model)
    panel.update()
    tops = [panel.front.get_ylim()[1]]
    for _ in range(model.last_quarter - model.quarter_number):
        model.step()
        panel.update()
        tops.append(panel.front.get_ylim()[1])
    assert tops == sorted(tops)
    assert panel.background_renders == len(set(tops))  # once at first, then per new range
