"""Cleanroom space: a foundry puts at most `install_rate` x its capacity into service a
quarter; tools beyond it wait in stock (agents/foundry.py `plan_installation`).

One foundry with stub stock and forecasts: the cap holds and leaves the rest in stock;
0 is no limit. The whole model over 20 paired seeds: a tighter cap slows SMIC's
build-out (the tools it stockpiled go into service over more quarters).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers import lean_frame, paired_interval
from model import ChipMarketModel

SEEDS = range(300, 320)  # 20 paired replicates


def _flush_foundry(model, name: str):
    """`name` with ample stock of every tool and forecasts far above its capacity."""
    foundry = model.foundries[model.foundry_index[name]]
    foundry.inventory[...] = 1e7
    foundry.forecast[...] = foundry.capacity_by_tier * 5.0 + 1e5
    return foundry


@settings(max_examples=20, deadline=None)
@given(st.floats(0.005, 0.3), st.sampled_from(["SMIC", "TSMC", "UMC"]))
def test_additions_stay_within_the_rate_and_the_rest_waits_in_stock(rate, name):
    model = ChipMarketModel(scenario="historical", rng=1)
    foundry = _flush_foundry(model, name)
    capacity = sum(foundry.tier_totals()[0])
    stock_before = foundry.inventory.sum()
    plan = foundry.plan_installation(model.quarter_number + 1, model.bill, model.headroom, 0.0, install_rate=rate)
    added = sum(plan.additions.values())
    assert added <= rate * capacity * (1 + 1e-9)
    assert added == pytest.approx(rate * capacity, rel=1e-6)  # the gap is far larger: the cap binds
    foundry.install(plan)
    assert foundry.inventory.sum() > 0.5 * stock_before  # most of the stock waits


def test_no_rate_is_no_limit_and_an_empty_foundry_is_not_limited():
    model = ChipMarketModel(scenario="historical", rng=1)
    foundry = _flush_foundry(model, "SMIC")
    q = model.quarter_number + 1
    free = sum(foundry.plan_installation(q, model.bill, model.headroom, 0.0, install_rate=0.0).additions.values())
    capped = sum(foundry.plan_installation(q, model.bill, model.headroom, 0.0, install_rate=0.05).additions.values())
    assert free > capped > 0
    foundry.capacity[...] = 0.0
    empty = sum(foundry.plan_installation(q, model.bill, model.headroom, 0.0, install_rate=0.05).additions.values())
    assert empty > 0


def _smic(seed: int, **overrides):
    return lean_frame("historical", seed, ("smic_capacity_8in_eq_per_month", "smic_utilisation"), **overrides)


@pytest.mark.slow
def test_a_tighter_cap_slows_smics_build_out():
    """Paired over 20 seeds: with half the rate SMIC's capacity stands lower at the end of
    2023 and of 2024 (the tools it stockpiled go into service more slowly)."""
    p = ChipMarketModel(scenario="historical", rng=0).parameters
    base = [_smic(s)["smic_capacity_8in_eq_per_month"] for s in SEEDS]
    tight = [_smic(s, install_rate=p.install_rate / 2)["smic_capacity_8in_eq_per_month"] for s in SEEDS]
    for quarter in ("2023Q4", "2024Q4"):
        figures = paired_interval(np.array([c[quarter] for c in base]), np.array([c[quarter] for c in tight]))
        assert figures[1] > 0, f"SMIC's capacity at {quarter}, default - half rate: {figures}"
    assert np.isfinite([c["2024Q4"] for c in base]).all()
