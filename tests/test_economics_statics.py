"""Comparative statics of prices, costs and node generations (issue 14) over many seeds,
paired where a lever moves: the same seeds with and without. Lean runs (`collect=`)."""

from __future__ import annotations

import numpy as np
import pytest

from helpers import lean_frame, paired_interval

SEEDS = range(100, 120)  # 20 replicates
COLUMNS = ("share_tsmc", "foundry_revenue_usd_m")


def lean_run(scenario: str, seed: int, **overrides):
    return lean_frame(scenario, seed, COLUMNS, **overrides)


def window_mean(scenario: str, column: str, start: str, end: str, **overrides) -> np.ndarray:
    """Per seed, the mean of `column` over the quarters start..end."""
    return np.array([float(lean_run(scenario, s, **overrides).loc[start:end, column].mean()) for s in SEEDS])


@pytest.mark.slow
def test_tsmcs_revenue_share_rises_from_2022_to_2025_in_historical():
    # TrendForce's rankings (calibration.csv foundry_revenue_share): 56.1% in 2022Q3, 61.2% in 2023Q4.
    y2022 = window_mean("historical", "share_tsmc", "2022Q1", "2022Q4")
    y2025 = window_mean("historical", "share_tsmc", "2025Q1", "2025Q4")
    low = paired_interval(y2025, y2022)[1]
    assert low > 1.0, f"TSMC share 2025 - 2022: {np.mean(y2025 - y2022):+.2f} pts, 95% interval from {low:+.2f}"


@pytest.mark.slow
def test_converting_to_new_generations_faster_raises_tsmcs_share_of_revenue():
    fast = window_mean("historical", "share_tsmc", "2023Q1", "2026Q4", generation_migration=0.08)
    slow = window_mean("historical", "share_tsmc", "2023Q1", "2026Q4", generation_migration=0.0)
    mean, low, high = paired_interval(fast, slow)
    assert low > 0, f"TSMC share, migration 0.08 - 0: {mean:+.2f} pts [{low:+.2f}, {high:+.2f}]"


@pytest.mark.slow
def test_counting_tsmcs_packaging_raises_its_share_rise_from_2022_to_2025():
    """TSMC's CoWoS revenue grew faster than its wafers' (accelerators.csv: cowos_capacity
    doubled in 2024 and 2025): counted in its revenue, as the rankings count it, its share
    of foundry revenue rises more from 2022 to 2025 than without it (price scale 0)."""
    def rise(**overrides):
        return (window_mean("historical", "share_tsmc", "2025Q1", "2025Q4", **overrides)
                - window_mean("historical", "share_tsmc", "2022Q1", "2022Q4", **overrides))
    mean, low, high = paired_interval(rise(), rise(packaging_price_scale=0.0))
    assert low > 0.5, f"TSMC share rise 2022->2025, packaging counted - not: {mean:+.2f} pts [{low:+.2f}, {high:+.2f}]"
