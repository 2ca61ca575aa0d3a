"""Comparative statics over many seeds (paired: the same seeds with and without a policy)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from model import ChipMarketModel

SEEDS = range(100, 120)  # 20 paired replicates


def window_mean(scenario: str, seed: int, column: str, start: str = "2026Q1", end: str = "2030Q4") -> float:
    frame = ChipMarketModel(scenario=scenario, rng=seed).run().frames()["model"]
    rows = frame[(frame["quarter"] >= start) & (frame["quarter"] <= end)]
    return float(rows[column].mean())


def paired_interval(a: list[float], b: list[float]) -> tuple[float, float]:
    """95% t interval of the mean paired difference a - b."""
    diff = np.asarray(a) - np.asarray(b)
    half = stats.t.ppf(0.975, len(diff) - 1) * diff.std(ddof=1) / np.sqrt(len(diff))
    return diff.mean() - half, diff.mean() + half


@pytest.mark.slow
def test_directive_raises_huawei_fulfilment_and_lowers_the_others():
    columns = ("huawei_fulfilment", "other_china_fulfilment")
    on = {c: [window_mean("state_allocation", s, c) for s in SEEDS] for c in columns}
    off = {c: [window_mean("historical", s, c) for s in SEEDS] for c in columns}
    low, _ = paired_interval(on["huawei_fulfilment"], off["huawei_fulfilment"])
    assert low > 0, "the directive must raise Huawei's advanced-node fulfilment"
    _, high = paired_interval(on["other_china_fulfilment"], off["other_china_fulfilment"])
    assert high < 0, "the directive must crowd out the other Chinese firms"


@pytest.mark.slow
def test_controls_raise_smics_share_of_chinese_advanced_wafers():
    column = "china_advanced_from_smic"
    controlled = [window_mean("historical", s, column, "2021Q1", "2025Q4") for s in SEEDS]
    free = [window_mean("no_controls", s, column, "2021Q1", "2025Q4") for s in SEEDS]
    low, _ = paired_interval(controlled, free)
    assert low > 0
