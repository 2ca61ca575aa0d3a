"""Comparative statics of China's AI-chip market (issue 13) over 20 seeds, paired: the
same seeds with and without an event of the timeline (a scenario that drops it) or the
state's rationing. Each run once per worker."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from model import ChipMarketModel

SEEDS = range(200, 220)  # 20 paired replicates
PRIORITY = ["Other Chinese buyers"]  # the ration_buyers default
PLATFORMS = ["ByteDance", "Tencent", "Alibaba", "Baidu"]
_RUNS: dict = {}


def frames(scenario: str, seed: int, **overrides) -> dict:
    key = (scenario, seed, tuple(sorted(overrides.items())))
    if key not in _RUNS:
        _RUNS[key] = ChipMarketModel(scenario=scenario, rng=seed, **overrides).run().frames()
    return _RUNS[key]


def per_seed(scenario: str, measure, **overrides) -> np.ndarray:
    return np.array([measure(frames(scenario, s, **overrides)) for s in SEEDS])


def window(column: str, start: str, end: str, how: str = "sum"):
    def measure(f):
        rows = f["model"].set_index("quarter").loc[start:end, column]
        return float(rows.sum() if how == "sum" else rows.mean())
    return measure


def fulfilment(buyers: list[str], start: str, end: str):
    """Compute received over compute ordered, summed over `buyers` and the quarters."""
    def measure(f):
        b = f["buyer"]
        rows = b[b["name"].isin(buyers) & (b["quarter"] >= start) & (b["quarter"] <= end)]
        return float(rows["received_h100e"].sum() / rows["ordered_h100e"].sum())
    return measure


def paired(a: np.ndarray, b: np.ndarray) -> tuple[float, float, float]:
    """Mean paired difference a - b and its 95% t interval."""
    diff = a - b
    half = stats.t.ppf(0.975, len(diff) - 1) * diff.std(ddof=1) / np.sqrt(len(diff))
    return diff.mean(), diff.mean() - half, diff.mean() + half


def said(figures) -> str:
    return "paired mean difference {:,.3f}, 95% interval [{:,.3f}, {:,.3f}]".format(*figures)


@pytest.mark.slow
@pytest.mark.parametrize("without", ["no_h20_licence", "no_purchase_guidance"])
def test_the_event_raises_huaweis_share_and_lowers_nvidias_china_revenue_in_2025_2026(without):
    """The April 2025 H20 licence requirement (with the August fee), and China's
    September 2025 purchase guidance, each against the same timeline without it."""
    share = paired(per_seed("state_allocation", window("huawei_china_share", "2025Q1", "2026Q4", "mean")),
                   per_seed(without, window("huawei_china_share", "2025Q1", "2026Q4", "mean")))
    assert share[1] > 0, f"Huawei's share of China's accelerators, points: {said(share)}"
    revenue = paired(per_seed("state_allocation", window("nvidia_china_revenue_usd_m", "2025Q1", "2026Q4")),
                     per_seed(without, window("nvidia_china_revenue_usd_m", "2025Q1", "2026Q4")))
    assert revenue[2] < 0, f"Nvidia's China revenue, US$ million: {said(revenue)}"


@pytest.mark.slow
def test_rationing_serves_the_priority_buyers_first_and_creates_no_compute():
    """The state's rationing (from the 2025Q4 directive) against the market alone."""
    on, off = {}, {"ration_share": 0.0}
    priority = paired(per_seed("state_allocation", fulfilment(PRIORITY, "2025Q4", "2027Q4"), **on),
                      per_seed("state_allocation", fulfilment(PRIORITY, "2025Q4", "2027Q4"), **off))
    assert priority[1] > 0, f"priority buyers' fulfilment: {said(priority)}"
    others = paired(per_seed("state_allocation", fulfilment(PLATFORMS, "2025Q4", "2027Q4"), **on),
                    per_seed("state_allocation", fulfilment(PLATFORMS, "2025Q4", "2027Q4"), **off))
    assert others[2] < 0, f"the platforms' fulfilment: {said(others)}"
    total = (per_seed("state_allocation", window("china_compute_h100e", "2025Q4", "2030Q4"), **on)
             - per_seed("state_allocation", window("china_compute_h100e", "2025Q4", "2030Q4"), **off))
    assert np.all(total <= 1e-6 * per_seed("state_allocation", window("china_compute_h100e", "2025Q4", "2030Q4"))), (
        f"China's delivered compute rose with rationing by up to {total.max():,.0f} H100e")


@pytest.fixture(scope="module")
def world_without_the_step(tmp_path_factory) -> str:
    """The default world with the buyers abroad taking no step into the boom (their
    `demand_jump` 1: the boom path alone back to 2019)."""
    text = (Path(__file__).parents[1] / "model" / "data" / "default_world.toml").read_text()
    assert "demand_jump = 1.8\n" in text
    path = tmp_path_factory.mktemp("world") / "no_step.toml"
    path.write_text(text.replace("demand_jump = 1.8\n", "demand_jump = 1.0\n"))
    return str(path)


@pytest.mark.slow
def test_the_step_into_the_boom_eases_nvidias_rationing_so_china_gets_more_nvidia_before_2022(
        world_without_the_step):
    """Before 2023 the buyers abroad want 1/1.8 of what the boom path alone gives: TSMC's
    CoWoS lines ration Nvidia less, so China's buyers receive more Nvidias (paired)."""
    share = paired(per_seed("historical", window("nvidia_china_share", "2020Q2", "2021Q4", "mean")),
                   per_seed("historical", window("nvidia_china_share", "2020Q2", "2021Q4", "mean"),
                            world=world_without_the_step))
    assert share[1] > 0, f"Nvidia's share of China's accelerators 2020Q2-2021Q4, points: {said(share)}"
    made = paired(per_seed("historical", window("accelerators_nvidia", "2020Q1", "2022Q4")),
                  per_seed("historical", window("accelerators_nvidia", "2020Q1", "2022Q4"),
                           world=world_without_the_step))
    assert made[2] < 0, f"Nvidia's accelerators made 2020-2022, units: {said(made)}"
