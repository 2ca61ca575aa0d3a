"""The browser app's view of China's AI-chip market (issue 13).

- The trade graph gives the buyers of AI compute a column right of the fabless firms,
  each buyer named, with room for the firms' names between; one line per (designer,
  buyer) pair whose width follows the units delivered that quarter, in the
  accelerators' colour while it carries them, orange dotted when some of the pair's
  products are cut and red dashed when all are (as every other kind).
- The panel "Who supplies China's AI compute" stacks what the model frame holds per
  designer (`<designer>_china_h100e`, thousands), hatches what Chinese buyers wanted and
  did not get (`china_unmet_compute_h100e`) on top, labels its axes with units, marks
  the chip rules, purchase measures and the directive (with the rationing it carries),
  and says the latest quarter in words.
- The rationing levers sit in the controls beside the state allocator's; a share of 0
  (or no buyers) builds a model that never rations.
- In a real browser (Debian's chromium through Playwright, the app served on a loopback
  port as tests/test_app.py serves it): the buyers and the accelerator relations are
  drawn, the panel follows the steps, and moving the rationed share to 0 and pressing
  Reset runs a model without rationing (caption and ledger say so).

Real models throughout (the default scenario); no assertion on the model's numbers,
which are calibrated elsewhere.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import LineCollection
from matplotlib.colors import to_rgb, to_rgba

from app import MODEL_PARAMS, NO_RATIONING, RATION_LISTS, PolicyLab, initial_parameters
from experiments.app.graph import (
    COLUMN_TITLES, COLUMNS, EDGE_STYLES, KIND_COLOURS, KIND_LABELS, LAYER_X, TradeGraphPainter,
    graph_layout, pair_status, static_figure,
)
from experiments.analysis.figures import CHINESE_COLOURS, FOREIGN_COLOURS, designer_name, rule_text
from experiments.app.panels import UNMET_HATCH, ChinaComputePanel, market_events, series_frame
from model.graph import LAYERS
from model.reporters import slug
from model.technology import parse_quarter
from test_app_chain import _model, model  # noqa: F401 (a model stepped on seed 42; the fixture)
from test_app import (  # noqa: F401 (fixtures: the browser, the served app)
    GRAPH_AXES, SCREENSHOTS, _colour_pixels, _expect, _image_pixels, _open, _settings, _step, _wait_steps,
    app_url, browser_type_launch_args,
)

DIRECTIVE_QUARTER = "2025Q4"  # the state_allocation scenario's directive: the state rations from then
STEPS_TO_DIRECTIVE = 28  # 2019Q1 .. 2025Q4
MARKET_CAPTION = re.compile(
    r"(?P<quarter>\d{4}Q\d): Chinese buyers received [\d,]+\.\d thousand H100-equivalents( \([^)]*\))?, "
    r"(\d+%|n/a) from Chinese designers; [\d,]+\.\d thousand they wanted went unmet\. (?P<rationing>.+)")


def _drawn(fig, colour: str, dashed: bool) -> set[tuple]:
    """End points (rounded) of the line segments drawn in `colour`, dashed or not, on
    the graph's axes."""
    out = set()
    for collection in fig.axes[0].collections:
        if not isinstance(collection, LineCollection) or not len(collection.get_segments()):
            continue
        if np.allclose(collection.get_colors()[0][:3], to_rgba(colour)[:3]):
            _, pattern = collection.get_linestyles()[0]
            if (pattern is not None) == dashed:
                out |= {tuple(np.round(segment, 6).ravel()) for segment in collection.get_segments()}
    return out


def _segment(layout, index, pair: int) -> tuple:
    start, end = layout.xy[index.supplier_node[pair]], layout.xy[index.buyer_node[pair]]
    return tuple(np.round([start, end], 6).ravel())


# ------------------------------------------------------------------ trade graph
def test_buyers_stand_in_their_own_column_right_of_the_firms(model):
    layout = graph_layout(model)
    buyers = [i for i, kind in enumerate(layout.kinds) if kind == "buyer"]
    assert sorted(layout.names[i] for i in buyers) == sorted(b.name for b in model.buyers)
    assert COLUMNS["buyer"] == LAYER_X[LAYERS["buyer"]] > COLUMNS["firm"]
    assert {layout.xy[i, 0] for i in buyers} == {COLUMNS["buyer"]}
    # Chinese buyers below the others, as Chinese firms sit below the others
    chinese = [layout.xy[i, 1] for i in buyers if layout.countries[i] == "CN"]
    foreign = [layout.xy[i, 1] for i in buyers if layout.countries[i] != "CN"]
    assert chinese and foreign and max(chinese) < min(foreign)

    fig = static_figure(layout)
    texts = {t.get_text() for t in fig.axes[0].texts}
    assert {b.name for b in model.buyers} <= texts
    assert any(COLUMN_TITLES["buyer"] in t for t in texts)
    legend = {t.get_text() for legend in fig.legends for t in legend.get_texts()}
    assert KIND_LABELS["buyer"] in legend and EDGE_STYLES["accelerators"][3] in legend


def test_the_firms_names_end_before_the_buyers_column(model):
    """The names right of the firms must not run into the buyers' markers."""
    layout = graph_layout(model)
    fig = static_figure(layout)
    renderer = FigureCanvasAgg(fig).get_renderer()  # the canvas the app renders the layer on
    ax = fig.axes[0]
    buyer_left = ax.transData.transform((COLUMNS["buyer"], 0.0))[0] - 8  # a marker's half-width, px
    firms = {layout.names[i] for i, kind in enumerate(layout.kinds) if kind == "firm"}
    ends = {t.get_text(): t.get_window_extent(renderer).x1 for t in ax.texts if t.get_text() in firms}
    assert set(ends) == firms
    assert max(ends.values()) < buyer_left, ends
    # and the buyers' names stay in the figure
    buyers = {b.name for b in model.buyers}
    right = max(t.get_window_extent(renderer).x1 for t in ax.texts if t.get_text() in buyers)
    assert right <= fig.bbox.x1


def test_accelerator_relations_carry_the_units_delivered_that_quarter():
    model = _model(steps=8)
    painter = TradeGraphPainter(model)
    edges, index = model.trade.chain["accelerators"], painter.layout.pairs["accelerators"]
    status, volume = pair_status(edges, index)
    # a pair's volume is what its buyer received from its designer this quarter
    received = {(d.name, b.name): b.received_from(d.name) for d in model.designers for b in model.buyers}
    for pair in range(index.n_pairs):
        key = (painter.layout.names[index.supplier_node[pair]], painter.layout.names[index.buyer_node[pair]])
        assert volume[pair] == pytest.approx(received[key], rel=1e-9, abs=1e-6), key
    assert volume.sum() == pytest.approx(sum(b.received_units for b in model.buyers))
    assert volume.sum() > 0
    # the pairs that carry units are drawn in the accelerators' colour, each once
    flowing = {_segment(painter.layout, index, p) for p in np.flatnonzero(status == "accelerators")}
    assert flowing and flowing <= _drawn(painter.draw(), EDGE_STYLES["accelerators"][0], dashed=False)


@pytest.mark.parametrize("steps, quarter, nvidia_to_china", [(17, "2023Q1", "partial"), (28, "2025Q4", "cut")])
def test_cut_accelerator_relations_are_drawn_as_the_other_kinds(steps, quarter, nvidia_to_china):
    """2023Q1: the 2022 rules cut the A100 and H100 to Chinese buyers, other Nvidia
    parts still sell (orange dotted); 2025Q4: China's purchase guidance stops every
    Nvidia sale to Chinese buyers (red dashed)."""
    model = _model(steps=steps)
    assert model.quarter == quarter
    painter = TradeGraphPainter(model)
    layout, edges = painter.layout, model.trade.chain["accelerators"]
    index = layout.pairs["accelerators"]
    status, _ = pair_status(edges, index)
    chinese = {b.name for b in model.buyers if b.country == "CN"}
    pairs = [p for p in range(index.n_pairs) if layout.names[index.supplier_node[p]] == "Nvidia"
             and layout.names[index.buyer_node[p]] in chinese]
    assert len(pairs) == len(chinese) and set(status[pairs]) == {nvidia_to_china}
    cut = (~edges.active).astype(float)
    per_pair = np.bincount(index.edge_pair, weights=cut, minlength=index.n_pairs)
    assert set(np.flatnonzero(status == "cut")) == set(np.flatnonzero(per_pair == index.n_edges))
    colour = EDGE_STYLES[nvidia_to_china][0]
    assert {_segment(layout, index, p) for p in pairs} <= _drawn(painter.draw(), colour, dashed=True)


# -------------------------------------------------------- China's compute panel
def _layers(collection, years) -> tuple[np.ndarray, np.ndarray]:
    """(bottom, top) per year of a filled area (its polygon's lowest and highest y there)."""
    vertices = np.concatenate([path.vertices for path in collection.get_paths()])
    bottom = np.array([vertices[np.isclose(vertices[:, 0], x), 1].min() for x in years])
    top = np.array([vertices[np.isclose(vertices[:, 0], x), 1].max() for x in years])
    return bottom, top


def test_the_panel_stacks_china_compute_by_designer_with_unmet_hatched():
    model = _model()
    panel = ChinaComputePanel(model)
    panel.update()
    assert "nothing delivered yet" in panel.caption and panel.hint.get_visible()
    for _ in range(30):
        model.step()
        panel.update()
    frame = series_frame(model)
    years = frame["year"].to_numpy(dtype=float)

    # Chinese designers at the bottom in reds, the others in blues, each named as the
    # run figure names it ("Other Chinese fabless" -> "Other Chinese designers")
    chinese = [d.name for d in model.designers if d.country == "CN"]
    foreign = [d.name for d in model.designers if d.country != "CN"]
    assert panel.columns == [f"{slug(name)}_china_h100e" for name in chinese + foreign]
    assert panel.designers == [designer_name(slug(name)) for name in chinese + foreign]
    assert "Other Chinese designers" in panel.designers
    assert set(panel.colours[:len(chinese)]) <= set(CHINESE_COLOURS)
    assert set(panel.colours[len(chinese):]) <= set(FOREIGN_COLOURS)
    assert len(set(panel.colours)) == len(panel.colours)
    *areas, hatch, wanted = panel.stack
    assert len(areas) == len(panel.designers)
    delivered = frame[panel.columns].to_numpy(dtype=float).T / 1e3
    tops = np.cumsum(delivered, axis=0)
    for k, (area, colour) in enumerate(zip(areas, panel.colours)):
        bottom, top = _layers(area, years)
        np.testing.assert_allclose(top, tops[k], atol=1e-9)
        np.testing.assert_allclose(bottom, tops[k - 1] if k else 0.0, atol=1e-9)
        np.testing.assert_allclose(area.get_facecolor()[0][:3], to_rgb(colour))
    unmet = frame["china_unmet_compute_h100e"].to_numpy(dtype=float) / 1e3
    bottom, top = _layers(hatch, years)
    np.testing.assert_allclose(bottom, tops[-1], atol=1e-9)
    np.testing.assert_allclose(top, tops[-1] + unmet, atol=1e-9)
    assert hatch.get_hatch() == UNMET_HATCH and unmet.max() > 0
    np.testing.assert_allclose(wanted.get_ydata(), tops[-1] + unmet)
    assert panel.front.get_ylim()[1] >= (tops[-1] + unmet).max()

    # axes with units; a legend of human names, top to bottom as stacked
    assert panel.back.get_xlabel() == "year (quarters)"
    assert "H100e" in panel.back.get_ylabel() and "thousands" in panel.back.get_ylabel()
    legend = [t.get_text() for t in panel.back.get_legend().get_texts()]
    assert legend == panel.designers[::-1] + ["wanted, not received"]
    assert any("Who supplies China's AI compute" in t.get_text() for t in panel.background.texts)

    # the caption: the latest quarter in words, and the state's rationing (in force since 2025Q4)
    caption = MARKET_CAPTION.fullmatch(panel.caption)
    assert caption is not None, panel.caption
    assert caption["quarter"] == frame["quarter"].iloc[-1] == "2026Q2"
    assert caption["rationing"].startswith("State rationing in force: Other Chinese buyers served first")
    assert "Orders filled: Other Chinese buyers " in caption["rationing"]
    assert not panel.hint.get_visible()


def test_the_panel_marks_the_chip_rules_and_the_directive_with_its_rationing(model):
    events = market_events(model)
    quarters = [parse_quarter(q) for q, _, _ in events]
    assert quarters == sorted(quarters)
    chip_rules = [r for r in model.rules if r.kind in ("accelerators", "purchases")]
    assert chip_rules
    for rule in chip_rules:  # every rule on China's accelerator market, as the run figure words it
        assert (rule.effective, rule_text(rule), "rule") in events
    texts = [text for _, text, _ in events]
    assert not any("mineral" in text for text in texts)
    assert any("H20" in text and "15%" in text for text in texts)
    assert any("not to buy" in text and "Nvidia" in text for text in texts)
    # and only those: no rule on tools, wafers or the chain's inputs
    assert len([kind for _, _, kind in events if kind == "rule"]) == len(chip_rules)
    directive = [text for q, text, kind in events if kind == "directive"]
    assert directive == ["China: SMIC serves Huawei first; Chinese designers' accelerators go to "
                         "Other Chinese buyers first (up to 50% of each one's)"]
    assert [q for q, _, kind in events if kind == "directive"] == [DIRECTIVE_QUARTER]
    # the levers rationing nothing: the directive says nothing of rationing
    quiet = market_events(_model(ration_share=0.0))
    assert [text for _, text, kind in quiet if kind == "directive"] == ["China: SMIC serves Huawei first"]
    # each marked quarter numbered over the plot, keyed under it
    panel = ChinaComputePanel(model)
    assert [t.get_text() for t in panel.back.texts] == [str(k + 1) for k in range(len(panel.groups))]
    key = " ".join(t.get_text() for t in panel.background.texts)
    assert "US controls A100/H100 to China" in key


def test_the_panels_frame_is_rendered_only_when_its_range_grows():
    model = _model()
    panel = ChinaComputePanel(model)
    panel.update()
    tops = [panel.front.get_ylim()[1]]
    for _ in range(model.last_quarter - model.quarter_number):
        model.step()
        panel.update()
        tops.append(panel.front.get_ylim()[1])
    assert tops == sorted(tops) and tops[-1] > tops[0]
    assert panel.background_renders == len(set(tops))


# ----------------------------------------------------------- controls -> model
def test_the_rationing_levers_sit_beside_the_state_allocators():
    names = list(MODEL_PARAMS)
    assert names.index("ration_share") == names.index("champions") + 1
    assert names.index("ration_buyers") == names.index("ration_share") + 1
    share = MODEL_PARAMS["ration_share"]
    assert (share["type"], share["min"], share["max"]) == ("SliderFloat", 0.0, 1.0)
    lab = PolicyLab(**initial_parameters())
    assert lab.parameters.ration_share == share["value"] == 0.5
    assert lab.parameters.ration_buyers == ("Other Chinese buyers",)  # the model's default


def test_every_rationing_choice_names_chinese_buyers_and_reaches_the_model():
    lab = PolicyLab(**initial_parameters())
    chinese = {b.name for b in lab.buyers if b.country == "CN"}
    for choice in RATION_LISTS:
        built = PolicyLab(**{**initial_parameters(), "ration_buyers": choice, "ration_share": 0.35})
        assert built.parameters.ration_share == 0.35
        if choice == NO_RATIONING:
            assert built.parameters.ration_buyers == ()
        else:
            named = tuple(name.strip() for name in choice.split(","))
            assert built.parameters.ration_buyers == named and set(named) <= chinese


def test_a_share_of_zero_switches_rationing_off():
    """The state rations from its directive on; with the share at 0 it never does, and
    the buyers it served first get what the market alone gives them."""
    runs = {}
    for share in (0.5, 0.0):
        lab = PolicyLab(**{**initial_parameters(), "ration_share": share})
        while lab.quarter != DIRECTIVE_QUARTER:
            lab.step()
        runs[share] = lab
    rationed, free = runs[0.5], runs[0.0]
    assert rationed.rationing is not None and free.rationing is None
    assert (rationed.ledger_frame()["action"] == "ration").any()
    assert not (free.ledger_frame()["action"] == "ration").any()

    def received(lab):
        return {b.name: b.received_h100e for b in lab.buyers}

    assert received(rationed)["Other Chinese buyers"] > received(free)["Other Chinese buyers"]
    panel = ChinaComputePanel(free)
    panel.update()
    assert "No state rationing (the levers ration nothing)" in panel.caption


# ------------------------------------------------------------------ the browser
def _market_caption(page) -> str:
    return page.locator(".chipstate-china-compute-caption").inner_text().strip()


def _ledger_actions(page) -> list[str]:
    return page.locator(".chipstate-ledger table tbody tr td:nth-child(2)").all_inner_texts()


def _stack_pixels(pixels: np.ndarray, name: str) -> int:
    """Pixels of a designer's stacked area (its colour at alpha 0.9 over white; the
    legend's patch is opaque, so not counted)."""
    panel = ChinaComputePanel(_model())  # the colours the app's panel gives the default world
    colour = panel.colours[panel.designers.index(name)]
    return _colour_pixels(pixels, 255 * (0.9 * np.array(to_rgb(colour)) + 0.1), tolerance=6)


def _graph_areas(page) -> tuple[int, int]:
    """(buyer node faces, accelerator relations carrying units) in the graph's pixels
    above the legends."""
    pixels = _image_pixels(page, ".chipstate-trade-graph img")
    above = pixels[: int(pixels.shape[0] * (1 - GRAPH_AXES[1]))]
    flowing = 255 * (0.55 * np.array(to_rgb(EDGE_STYLES["accelerators"][0])) + 0.45)  # drawn at alpha 0.55
    return (_colour_pixels(above, 255 * np.array(to_rgb(KIND_COLOURS["buyer"]))),
            _colour_pixels(above, flowing, tolerance=10))


@pytest.mark.browser
def test_the_market_in_the_browser_and_rationing_switched_off(app_url, page):
    console = _open(page, app_url)
    assert "nothing delivered yet" in _market_caption(page)
    assert "rationing: 0.50 to Other Chinese buyers first" in _settings(page)
    buyers, flowing = _graph_areas(page)
    assert buyers >= 250, buyers  # seven pentagons (measured 338)
    assert flowing < 50, flowing  # nothing delivered before the first quarter

    _step(page, 0, 8)
    _expect(page, page.locator(".chipstate-china-compute-caption").filter(has_text="2020Q4"),
            "the China compute caption names 2020Q4 after 8 steps")
    caption = MARKET_CAPTION.fullmatch(_market_caption(page))
    assert caption is not None, _market_caption(page)
    assert caption["rationing"].startswith("No state rationing this quarter (no directive in force)")
    buyers, flowing = _graph_areas(page)
    assert buyers >= 250 and flowing >= 1000, (buyers, flowing)  # measured 3565
    china = _image_pixels(page, ".chipstate-china-compute img")
    assert _stack_pixels(china, "Huawei") >= 300 and _stack_pixels(china, "Nvidia") >= 120

    # to the directive: the state rations, and the ledger says so
    _step(page, 8, STEPS_TO_DIRECTIVE - 8)
    _expect(page, page.locator(".chipstate-china-compute-caption").filter(has_text=DIRECTIVE_QUARTER),
            f"the China compute caption names {DIRECTIVE_QUARTER}")
    assert "State rationing in force: Other Chinese buyers served first" in _market_caption(page)
    # the ledger panel redraws after the captions: wait for its row, as for the caption
    actions = page.locator(".chipstate-ledger table tbody tr td:nth-child(2)")
    _expect(page, actions.get_by_text("ration", exact=True).first, "a 'ration' row in the ledger panel")
    assert "ration" in _ledger_actions(page)
    page.screenshot(path=SCREENSHOTS / "policy_lab_market.png", full_page=True)

    # the rationed share to 0: nothing changes before Reset, then the model never rations
    share = page.get_by_role("slider", name="Rationed share")
    share.focus()
    share.press("Home")
    assert "rationing: 0.50" in _settings(page)
    page.get_by_role("button", name="Reset").click()
    _expect(page, page.locator(".chipstate-settings").filter(has_text="rationing: off (share 0.00"),
            "after Reset the run settings say rationing is off")
    _wait_steps(page, 0)
    _expect(page, page.locator(".chipstate-china-compute-caption").filter(has_text="nothing delivered yet"),
            "after Reset the China compute panel starts again")
    _step(page, 0, STEPS_TO_DIRECTIVE)
    _expect(page, page.locator(".chipstate-china-compute-caption").filter(has_text=DIRECTIVE_QUARTER),
            f"the China compute caption names {DIRECTIVE_QUARTER} in the new model")
    assert "No state rationing (the levers ration nothing)" in _market_caption(page)
    assert "ration" not in _ledger_actions(page)
    page.screenshot(path=SCREENSHOTS / "policy_lab_market_no_rationing.png", full_page=True)
    assert console.errors == []
