"""The coverage functions alone (experiments/calibration/coverage.py): bands from
samples, inside flags, PIT, predictive widening, widths and the summary by group."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from experiments.calibration import coverage as cov

seeds = st.integers(0, 2**32 - 1)
finite = st.floats(-1e6, 1e6, allow_nan=False)


@settings(max_examples=25, deadline=None)
@given(seed=seeds, loc=st.floats(-100, 100), scale=st.floats(0.1, 50))
def test_a_band_from_samples_covers_its_distribution_at_about_the_nominal_rate(seed, loc, scale):
    rng = np.random.default_rng(seed)
    band = rng.normal(loc, scale, 4000)
    fresh = rng.normal(loc, scale, 2000)  # new observations from the same distribution
    for level in cov.LEVELS:
        share = np.mean([cov.inside(x, band, level) for x in fresh[:400]])
        # 400 Bernoulli(level) draws: sd <= 0.025; band quantiles from 4000 samples add a little
        assert share == pytest.approx(level, abs=0.1)
    pits = np.array([cov.pit(x, band) for x in fresh[:400]])
    assert np.histogram(pits, bins=4, range=(0, 1))[0].min() > 60  # about uniform: 100 a bin expected


def test_a_shifted_distribution_is_covered_less():
    rng = np.random.default_rng(3)
    band = rng.normal(0, 1, 4000)
    shifted = rng.normal(2, 1, 400)
    assert np.mean([cov.inside(x, band, 0.9) for x in shifted]) < 0.6
    assert np.mean([cov.pit(x, band) for x in shifted]) > 0.8  # the model too low: PITs pile up near 1


@settings(max_examples=50, deadline=None)
@given(values=st.lists(finite, min_size=1, max_size=50))
def test_band_quantiles_ascend_and_stay_within_the_samples(values):
    q = cov.band_quantiles(values + [np.nan])  # NaN left out
    assert len(q) == len(cov.QUANTILES) and np.all(np.diff(q) >= -1e-9 * (1 + np.abs(q[:-1])))
    assert min(values) <= q[0] and q[-1] <= max(values)
    assert np.isnan(cov.band_quantiles([np.nan, np.nan])).all()


@settings(max_examples=40, deadline=None)
@given(centre=st.floats(1, 1e4), spread=st.floats(0.01, 1.0), scale=st.floats(0, 1.0), percent=st.booleans(),
       seed=seeds)
def test_widening_never_narrows_a_band(centre, spread, scale, percent, seed):
    """The model's figures over the runs, unimodal (normal for a percentage, log-normal
    for a level): the predictive 50% and 90% bands hold the model's widths, within the
    noise of estimating quantiles from 300 runs. (For a few runs far apart, the
    interpolated quantiles of the model band can sit in a gap that the widened samples
    fill, so there it may come out a little narrower: a property of bands from few
    samples, not of the widening.)"""
    rng = np.random.default_rng(seed)
    noise = rng.normal(0, 1, 300)
    values = centre + spread * centre * noise if percent else centre * np.exp(spread * noise)
    widened = cov.predictive_samples(values, scale * (centre if percent else 1), percent,
                                     np.random.default_rng(seed + 1), draws=20)
    for level in cov.LEVELS:
        model_low, model_high = cov.band_quantiles(values, cov.band_ends(level))
        low, high = cov.band_quantiles(widened, cov.band_ends(level))
        assert high - low >= 0.95 * (model_high - model_low)
        if scale >= 0.5 and spread <= 0.1:  # a discrepancy well above the runs' spread: much wider
            assert high - low > 2 * (model_high - model_low)


@given(values=st.lists(st.floats(0.01, 1e5), min_size=1, max_size=20), percent=st.booleans(), seed=seeds)
def test_a_zero_discrepancy_leaves_the_model_values(values, percent, seed):
    widened = cov.predictive_samples(values, 0.0, percent, np.random.default_rng(seed), draws=3)
    assert np.allclose(widened, np.repeat(values, 3))


def test_percentages_widen_by_points_and_levels_by_ratios():
    rng = np.random.default_rng(1)
    points = cov.predictive_samples([40.0, 60.0], 2.0, True, rng, draws=20000)
    assert points[:20000].std() == pytest.approx(2.0, rel=0.03)  # 2 points, whatever the value
    assert points[20000:].std() == pytest.approx(2.0, rel=0.03)
    levels = cov.predictive_samples([100.0, 10_000.0], 0.2, False, np.random.default_rng(1), draws=20000)
    assert np.log(levels[:20000] / 100).std() == pytest.approx(0.2, rel=0.03)  # a log ratio of 0.2
    assert np.log(levels[20000:] / 10_000).std() == pytest.approx(0.2, rel=0.03)
    assert (levels > 0).all()  # a level never turns negative
    same = cov.predictive_samples([40.0, 60.0], 2.0, True, np.random.default_rng(1), draws=20000)
    assert np.array_equal(points, same)  # seeded: deterministic
    with pytest.raises(ValueError, match="scale"):
        cov.predictive_samples([1.0], -1.0, True, rng)


@pytest.mark.parametrize("unit, percent", [
    ("%", True), ("% of capacity", True), ("%/yr", True), ("wafer share (% of world)", True),
    ("USD million", False), ("wafers/month", False), ("percent", False),
])
def test_the_percent_rule_is_calibrates(unit, percent):
    assert cov.is_percent(unit) is percent


def test_widths_in_points_and_in_percent_of_the_value():
    assert cov.band_width(40.0, 46.0, 50.0, percent=True) == 6.0
    assert cov.band_width(80.0, 120.0, 200.0, percent=False) == 20.0
    assert cov.band_width(80.0, 120.0, -200.0, percent=False) == 20.0
    assert np.isnan(cov.band_width(1.0, 2.0, 0.0, percent=False))


def test_inside_counts_the_ends_and_the_levels_nest():
    samples = np.arange(101.0)  # quantiles: q05 = 5, q25 = 25, q75 = 75, q95 = 95
    assert cov.inside(5.0, samples, 0.9) and cov.inside(95.0, samples, 0.9)
    assert not cov.inside(4.9, samples, 0.9) and not cov.inside(95.1, samples, 0.9)
    assert cov.inside(25.0, samples, 0.5) and not cov.inside(24.0, samples, 0.5)
    assert cov.pit(50.0, samples) == pytest.approx(0.5) and cov.pit(-1, samples) == 0.0
    with pytest.raises(ValueError, match="level"):
        cov.band_ends(1.0)


def test_the_summary_by_group():
    table = pd.DataFrame({
        "group": ["in sample"] * 4 + ["out of sample"] * 2 + ["in sample"],
        "percent": [True, True, False, False, False, True, False],
        "inside_50": pd.array([True, False, False, True, False, True, pd.NA], dtype="boolean"),
        "inside_90": pd.array([True, True, True, False, False, True, pd.NA], dtype="boolean"),
        "model_inside_50": pd.array([False, False, False, False, False, False, pd.NA], dtype="boolean"),
        "model_inside_90": pd.array([True, False, False, False, False, True, pd.NA], dtype="boolean"),
        "width_90": [4.0, 6.0, 30.0, 50.0, 10.0, 2.0, np.nan],
    })
    summary = cov.coverage_summary(table).set_index("group")
    assert list(summary.index) == list(cov.GROUPS)
    assert summary.loc["in sample", "rows"] == 4  # the row without a flag (a bound) is left out
    assert summary.loc["in sample", "inside_50"] == 0.5 and summary.loc["in sample", "inside_90"] == 0.75
    assert summary.loc["in sample", "model_inside_90"] == 0.25
    assert summary.loc["in sample", "median_width_90_points"] == 5.0
    assert summary.loc["in sample", "median_width_90_levels_pct"] == 40.0
    assert summary.loc["held back", "rows"] == 0 and np.isnan(summary.loc["held back", "inside_90"])
    assert summary.loc["out of sample", "inside_90"] == 0.5
    assert cov.coverage_group(True, True) == "held back" and cov.coverage_group(False, False) == "out of sample"
