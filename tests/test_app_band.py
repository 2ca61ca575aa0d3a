"""The browser app's uncertainty band (`experiments.app.band`): its quantiles, its cache
and its one-line refusal of a missing posterior; the panels drawing it; and in the real
browser, the "Uncertainty" box that, ticked, draws the band behind Huawei's accelerators
with its caption, and, unticked, takes it away. The posterior is a real ensemble in
posterior.csv's format drawn from the priors into a temporary folder; the served app
reads it through CHIPSTATE_POSTERIOR (what `chipstate viz --posterior` sets)."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pytest
from matplotlib.colors import to_rgb

from app import PolicyLab, initial_parameters
from experiments.app.band import BAND_DRAWS, POSTERIOR_ENV, Band, band_frame, ensemble_band
from experiments.app.panels import BAND_ALPHA, AcceleratorPanel, SeriesPanels
from helpers import chipstate
from experiments.posterior import posterior_frame
from model.priors import load_priors
from test_app import (  # noqa: F401 (fixtures: the browser, the served app)
    SCREENSHOTS, _colour_pixels, _expect, _image_pixels, _open, _step, app_url, browser_type_launch_args,
)

HUAWEI_RED = "#c8102e"
BAND_MIN_PIXELS = 1500
"""Pixels of Huawei's band colour in the accelerator image (its red at BAND_ALPHA over
white): the band spans 2020-2030 behind the line, thousands of pixels; without it, none."""


def write_posterior(path) -> str:
    draws = load_priors().draw(30, 11)
    posterior_frame(draws, np.linspace(1.0, 2.0, len(draws))).to_csv(path, index=False)
    return str(path)


@pytest.fixture(scope="module", autouse=True)
def posterior_env(tmp_path_factory):
    """The served app (`app_url`, started after this) and `ensemble_band` read this file."""
    before = os.environ.get(POSTERIOR_ENV)
    os.environ[POSTERIOR_ENV] = write_posterior(tmp_path_factory.mktemp("posterior") / "posterior.csv")
    yield os.environ[POSTERIOR_ENV]
    if before is None:
        os.environ.pop(POSTERIOR_ENV)
    else:
        os.environ[POSTERIOR_ENV] = before


def _frame(values: dict[str, list[float]]) -> pd.DataFrame:
    n = len(next(iter(values.values())))
    quarters = [f"{2019 + i // 4}Q{i % 4 + 1}" for i in range(n)]
    return pd.DataFrame({"quarter": quarters, **values})


def test_band_frame_takes_the_quantiles_per_quarter_over_the_runs():
    # 21 runs of 3 rows (row 0, the state before any trade, is left out): run k holds k
    # and 10k; a tier not run is NaN in some runs and in all of one quarter's
    frames = [_frame({"a": [99.0, k, k], "b": [0.0, 10.0 * k, np.nan if k % 2 else k]}) for k in range(21)]
    frames[3] = frames[3].iloc[:-1]  # a run that recorded a quarter less: only the common quarters
    band = band_frame(frames, ["a", "b"])
    assert band["quarter"].tolist() == ["2019Q2"] and band["year"].tolist() == [2019.25]
    assert band["a_low"].iloc[0] == pytest.approx(1.0) and band["a_high"].iloc[0] == pytest.approx(19.0)
    assert band["b_low"].iloc[0] == pytest.approx(10.0) and band["b_high"].iloc[0] == pytest.approx(190.0)
    whole = band_frame([f for i, f in enumerate(frames) if i != 3], ["b"])
    evens = np.arange(0, 21, 2.0)  # the NaNs are left out of the quantile
    assert whole["b_low"].iloc[1] == pytest.approx(np.quantile(evens, 0.05))
    assert whole["b_high"].iloc[1] == pytest.approx(np.quantile(evens, 0.95))
    nan = band_frame([_frame({"c": [0.0, np.nan]})] * 3, ["c"])
    assert np.isnan(nan["c_low"].iloc[0]) and np.isnan(nan["c_high"].iloc[0])
    with pytest.raises(ValueError, match="frames"):
        band_frame([], ["a"])


def test_the_panels_draw_a_band_behind_the_lines_and_say_what_it_is():
    model = PolicyLab(**initial_parameters())
    model.step()
    frame = pd.DataFrame({"quarter": ["2030Q1", "2030Q2"], "year": [2030.0, 2030.25],
                          "huawei_accelerators_low": [1e5, 2e5], "huawei_accelerators_high": [3e5, 4e5],
                          "smic_capacity_7nm_low": [1e3, 2e3], "smic_capacity_7nm_high": [9e5, 9e5]})
    band = Band(frame, BAND_DRAWS)
    accelerators, series = AcceleratorPanel(model), SeriesPanels(model)
    for panel in (accelerators, series):
        panel.update()
        assert panel.band_artists == [] and panel.band_caption.get_text() == ""
        panel.set_band(band)
        panel.update()
        assert panel.band_caption.get_text() == f"band: 5-95% over {BAND_DRAWS} posterior draws"
    (fill,) = accelerators.band_artists
    assert fill.get_zorder() < accelerators.units_line.get_zorder()
    assert accelerators.front.get_ylim()[1] >= 400  # thousands: the band's top fits
    assert len(series.band_artists) == 1  # SMIC's 7nm capacity; the other lines have no band here
    assert series.front[2].get_ylim()[1] >= 9e5
    for panel in (accelerators, series):
        panel.set_band(None)
        panel.update()
        assert panel.band_artists == [] and panel.band_caption.get_text() == ""


def test_a_missing_posterior_is_one_line_and_no_band(tmp_path):
    band = ensemble_band(PolicyLab(**initial_parameters()), tmp_path / "none.csv")
    assert band.frame is None and "\n" not in band.caption
    assert band.caption.startswith("no uncertainty band: ") and "none.csv: no such file" in band.caption


def test_viz_refuses_a_bad_posterior_on_one_line(tmp_path):
    result = chipstate("viz", "--port", "1", "--posterior", str(tmp_path / "none.csv"))
    assert result.returncode == 2 and result.stderr.count("\n") == 1
    assert "--posterior" in result.stderr and "none.csv: no such file" in result.stderr


def _band_pixels(page) -> int:
    rgb = 255 * (1 - BAND_ALPHA) + BAND_ALPHA * 255 * np.array(to_rgb(HUAWEI_RED))
    return _colour_pixels(_image_pixels(page, ".chipstate-accelerators img"), rgb, tolerance=4)


def _wait_band_pixels(page, shown: bool, seconds: float = 60) -> int:
    """Poll the accelerator image until its band pixels are at least BAND_MIN_PIXELS
    (`shown`) or under 50 (not shown), or `seconds` pass; return the last count."""
    for _ in range(int(seconds * 2)):
        pixels = _band_pixels(page)
        if (pixels >= BAND_MIN_PIXELS) if shown else (pixels < 50):
            return pixels
        page.wait_for_timeout(500)
    return pixels


@pytest.mark.browser
def test_the_uncertainty_box_draws_the_band_and_takes_it_away(app_url, page):
    console = _open(page, app_url)
    _step(page, 0, 4)
    _expect(page, page.locator(".chipstate-accelerators-caption").filter(has_text="2019Q4"),
            "the accelerator caption names 2019Q4 after 4 steps")
    assert _band_pixels(page) < 50  # off by default: no band
    page.locator("label", has_text="Uncertainty").click()
    _expect(page, page.locator(".chipstate-band-caption").filter(
        has_text=f"band: 5-95% over {BAND_DRAWS} posterior draws"), "the band's caption once its runs are done")
    pixels = _wait_band_pixels(page, shown=True)
    assert pixels >= BAND_MIN_PIXELS, pixels
    page.screenshot(path=SCREENSHOTS / "policy_lab_band.png", full_page=True)
    # stepping on keeps the band; unticking takes it and its caption away
    _step(page, 4, 1)
    assert _wait_band_pixels(page, shown=True) >= BAND_MIN_PIXELS
    page.locator("label", has_text="Uncertainty").click()
    page.wait_for_function(
        "() => { const c = document.querySelector('.chipstate-band-caption');"
        " return c !== null && c.innerText.trim() === ''; }")
    assert _wait_band_pixels(page, shown=False) < 50
    assert console.errors == []
