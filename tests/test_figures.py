"""Figures an analyst can read: every panel has axis labels with units, legends name
series in words (no reporter column names), rule and directive dates are marked and
keyed, a caption says the scenario, seeds and band; the China panel stacks who
delivered China's AI compute and what its buyers lacked; validation points are drawn in
their series' colour with bounds in the legend; the forest plot has one row per outcome;
`chipstate run`'s summary names its columns in words."""

from __future__ import annotations

import matplotlib.colors as mcolors
import numpy as np
import pandas as pd
import pytest

from experiments.analysis.figures import (
    PANELS, forest_figure, label, plot_run, rule_text, run_events, run_figure, stack_layers)
from experiments.calibration.validate import validation_figure
from model import ChipMarketModel


@pytest.fixture(scope="module")
def short_run():
    """state_allocation to 2026Q2 (the directive takes effect in 2025Q4), two seeds."""
    frames, model = [], None
    for seed in (0, 1):
        model = ChipMarketModel(scenario="state_allocation", rng=seed)
        model.run(30)
        frames.append(model.frames()["model"].assign(seed=seed))
    return model, frames


def _texts(fig) -> list[str]:
    return [t.get_text() for t in fig.texts]


def test_every_panel_has_axis_labels_with_units_and_human_legends(short_run):
    model, frames = short_run
    fig = run_figure(frames[0].drop(columns="seed"), "t", run_events(model), "scenario state_allocation; seed 0")
    axes = fig.axes
    assert len(axes) == len(PANELS)
    for ax, panel in zip(axes, PANELS):
        assert ax.get_xlabel() == "year"
        assert ax.get_ylabel() == panel.unit and ax.get_ylabel().strip()
        legend = ax.get_legend()
        assert legend is not None
        for text in legend.get_texts():
            assert "_" not in text.get_text(), text.get_text()
    shares = [t.get_text() for t in axes[3].get_legend().get_texts()]
    assert "Other Chinese foundries" in shares and "TSMC" in shares


def test_rules_and_the_directive_are_marked_and_keyed(short_run):
    model, frames = short_run
    events = run_events(model)
    quarters = {q for q, _, _ in events}
    assert {"2019Q2", "2020Q3", "2022Q4", "2025Q4"} <= quarters
    assert any(kind == "directive" and q == "2025Q4" and "SMIC" in text for q, text, kind in events)
    fig = run_figure(frames[0].drop(columns="seed"), "t", events, "scenario state_allocation; seed 0")
    # one dashed vertical line per marked quarter in every panel (the run ends 2026Q2)
    shown = sorted({q for q in quarters if q <= "2026Q2"})
    for ax in fig.axes:
        vertical = [line for line in ax.get_lines()
                    if line.get_linestyle() == "--" and len(set(line.get_xdata())) == 1]
        assert len(vertical) == len(shown)
    texts = "\n".join(_texts(fig))
    assert "2025Q4: China: SMIC serves Huawei first" in texts
    assert "2019Q2: US controls wafers to Huawei" in texts
    assert "scenario state_allocation; seed 0; one seed: no band" in texts


def test_several_seeds_are_a_band_said_in_the_caption(short_run, tmp_path):
    model, frames = short_run
    path = plot_run(pd.concat(frames), tmp_path / "run.png", events=run_events(model),
                    caption="scenario state_allocation; seeds 0-1")
    assert path.stat().st_size > 10_000
    fig = run_figure(pd.concat(frames), caption="scenario state_allocation; seeds 0-1")
    assert any("band: 5-95% of the 2 seeds' values" in t for t in _texts(fig))


CHINA_PANEL = next(p for p in PANELS if p.title == "Who supplies China's AI compute")


def test_the_china_panel_stacks_each_designers_deliveries_then_what_buyers_lacked(short_run):
    model, frames = short_run  # model: seed 1's
    frame = frames[1].drop(columns="seed").iloc[1:]
    layers, chinese = stack_layers(frame, CHINA_PANEL)
    assert list(layers.columns) == ["Huawei", "Cambricon", "Other Chinese designers", "Nvidia", "AMD",
                                    "Wanted by Chinese buyers, not received"]
    assert chinese == [True, True, True, False, False]
    # The designers' layers add up to China's delivered compute (thousand H100e) ...
    delivered = layers.iloc[:, :5].sum(axis=1).to_numpy()
    assert delivered == pytest.approx(frame["china_compute_h100e"].to_numpy() / 1e3, rel=1e-9)
    assert delivered.max() > 10  # thousand H100e a quarter: the panel is not empty
    # ... and with what they lacked on top, to what the Chinese buyers wanted.
    buyers = model.frames()["buyer"]
    wanted = buyers[buyers["country"] == "CN"].groupby("quarter")["want_h100e"].sum()
    assert layers.sum(axis=1).to_numpy() == pytest.approx(wanted.loc[frame["quarter"]].to_numpy() / 1e3, rel=1e-6)
    # Several seeds: the seeds' mean.
    both, _ = stack_layers(pd.concat([f.iloc[1:] for f in frames]), CHINA_PANEL)
    one, _ = stack_layers(frames[0].iloc[1:], CHINA_PANEL)
    assert both.to_numpy() == pytest.approx((one.to_numpy() + layers.to_numpy()) / 2)


def test_the_china_panel_is_drawn_with_units_events_and_a_caption(short_run):
    model, frames = short_run
    fig = run_figure(frames[0].drop(columns="seed"), "t", run_events(model), "scenario state_allocation; seed 0")
    ax = fig.axes[PANELS.index(CHINA_PANEL)]
    assert ax.get_title() == "Who supplies China's AI compute"
    assert ax.get_ylabel() == "thousand H100-equivalents per quarter" and ax.get_xlabel() == "year"
    key = [t.get_text() for t in ax.get_legend().get_texts()]
    assert key[0] == "Wanted by Chinese buyers, not received" and key[-1] == "Huawei"  # top-down, as stacked
    assert {"Nvidia", "AMD", "Cambricon", "Other Chinese designers"} <= set(key)
    assert len(ax.collections) == 6  # five designers' areas and the hatched unmet
    texts = " ".join(" ".join(_texts(fig)).split())  # the key's wrapped lines joined again
    assert "Who supplies China's AI compute: H100-equivalents delivered to Chinese buyers" in texts
    assert "2025Q3: lifted: US controls H20 to China; US licenses H20 sales to China, 15% fee" in texts


def test_chip_rules_and_purchase_guidance_are_named_as_what_they_are(short_run):
    model, _ = short_run
    events = run_events(model)
    texts = {text for _, text, _ in events}
    assert "US controls A100/H100 to China" in texts
    assert "US controls AI chips with TPP >= 4800 and I/O >= 600 GB/s to China" in texts
    assert "US controls H20 to China" in texts and "US licenses H20 sales to China, 15% fee" in texts
    assert "China: buyers in China told not to buy Nvidia's accelerators" in texts
    assert not any("mineral" in t for t in texts)  # the default timeline has no mineral rule
    from model.scenario import load_scenario

    minerals = [rule for rule in load_scenario("retaliation").rules if rule.kind == "minerals"]
    assert minerals and all("mineral exports" in rule_text(rule) for rule in minerals)


def test_run_summary_adds_chinas_ai_chip_market_in_words(short_run):
    from experiments.run import SUMMARY_QUARTERS, summary_table

    _, frames = short_run
    frame = frames[0].drop(columns="seed")
    table = summary_table(frame)
    assert list(table.index) == [q for q in SUMMARY_QUARTERS if q <= "2026Q2"]
    assert {"Huawei % CN accel.", "Nvidia % rev. CN"} <= set(table.columns)
    assert not any("_" in c for c in table.columns)
    row = frame.set_index("quarter")
    assert table.loc["2023Q4", "Nvidia % rev. CN"] == row.loc["2023Q4", "nvidia_china_revenue_share"]
    assert table.loc["2025Q4", "Huawei % CN accel."] == row.loc["2025Q4", "huawei_china_share"] > 50
    assert table[["Huawei % CN accel.", "Nvidia % rev. CN"]].stack().between(0, 100).all()


def test_labels_are_words():
    assert label("share_other_chinese_foundries") == "Other Chinese foundries"
    assert label("share_hua_hong") == "Hua Hong"
    assert label("price_index_leading").startswith("Leading edge")
    assert "_" not in label("some_new_reporter")
    assert label("nvidia_china_revenue_usd_m") == "Nvidia: revenue from China"
    assert label("other_chinese_fabless_china_share") == "Other Chinese designers: share of China's accelerators"
    assert label("china_unmet_compute_h100e") == "Wanted by Chinese buyers, not received"


def test_validation_points_take_their_series_colour_and_bounds_are_in_the_legend(short_run):
    from experiments.calibration.validate import compare_with_data, modelled_foundries

    _, frames_list = short_run
    model_frames = ChipMarketModel(scenario="historical", rng=3).run(24).frames()
    runs = [model_frames]
    data = pd.DataFrame([
        {"quantity": "foundry_revenue_share", "entity": "TSMC", "period": "2022Q3", "value": "56.1",
         "unit": "% of top-10 foundry revenue", "source": "t", "note": ""},
        {"quantity": "foundry_revenue_share", "entity": "SMIC", "period": "2022Q3", "value": "<9",
         "unit": "% of top-10 foundry revenue", "source": "t", "note": ""},
        {"quantity": "foundry_revenue_share", "entity": "Samsung", "period": "2022Q3", "value": ">10",
         "unit": "% of top-10 foundry revenue", "source": "t", "note": ""},
    ])
    table = compare_with_data(data, runs, modelled_foundries(runs))
    rows = table[table["speaks"]].astype({"data_value": float})
    fig = validation_figure("foundry_revenue_share", rows, runs, "scenario historical; seed 3")
    ax = fig.axes[0]
    assert ax.get_ylabel() == "% of top-10 foundry revenue" and ax.get_xlabel() == "year"
    lines = {line.get_label(): line.get_color() for line in ax.get_legend().get_lines()}
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert {"model: TSMC", "model: SMIC", "model: Samsung"} <= set(legend)
    assert any(t.startswith("data: upper bound") for t in legend)
    assert any(t.startswith("data: lower bound") for t in legend)
    # each point's edge colour is its series line's colour
    for collection, entity in zip(ax.collections[-3:], ["TSMC", "SMIC", "Samsung"]):
        edge = collection.get_edgecolor()[0]
        assert np.allclose(edge[:3], mcolors.to_rgb(lines[f"model: {entity}"]), atol=1e-6)


def test_forest_has_a_row_per_outcome_with_its_interval_and_a_zero_line():
    table = pd.DataFrame({
        "outcome": ["dies", "fulfilment"], "n": [5, 5], "mean_a": [100.0, 0.8], "mean_b": [120.0, 0.76],
        "mean_difference": [20.0, -0.04], "ci_low": [15.0, -0.05], "ci_high": [25.0, -0.03],
        "sd_difference": [1.0, 0.01], "relative": [0.2, -0.05]})
    fig = forest_figure(table, "A = x, B = y; seeds 0-4", {"dies": "AI dies (dies in total)"}, "x", "y")
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["AI dies (dies in total)", "Fulfilment"]
    assert "% of the mean under A" in ax.get_xlabel()
    xs = [tuple(line.get_xdata()) for line in ax.get_lines()]
    assert (20.0,) in xs and (-5.0,) in xs  # the relative differences, in %
    assert (15.0, 25.0) in xs  # the 'dies' interval
    assert any(set(x) == {0} for x in xs)  # the zero line
    assert any("+20.0  [+15.0, +25.0]" in t.get_text() for t in ax.texts)
