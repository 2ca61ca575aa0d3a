"""Test-only helpers for the sweep runner's unit tests (not shipped code).

`toy_simulator` stands in for the model where a test checks the store and executors
alone: a pure function of (parameters, seed) that returns a frame shaped like the
model's (a ``quarter`` column and reporters). Integration tests use the real model.
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd

from pathlib import Path

from experiments.batch.sweep import build_sweep

MINIMAL_SCENARIO = Path(__file__).resolve().parent / "data" / "minimal_scenario.toml"


def toy_simulator(scenario: str, overrides: dict, seed: int, steps: int | None) -> pd.DataFrame:
    """Quarters 2018Q4.. with reporters drawn only from `seed`'s Generator.

    Raises when `demand_noise` > 0.4 (a failing run); sleeps `stockpile_factor` / 10
    seconds per run when it is above 1 (to keep runs in flight while a test kills one).
    """
    if overrides.get("demand_noise", 0.0) > 0.4:
        raise RuntimeError("toy model refuses demand_noise > 0.4")
    if overrides.get("stockpile_factor", 0.0) > 1.0:
        time.sleep(overrides["stockpile_factor"] / 10)
    rng = np.random.default_rng(seed)
    n = 48 if steps is None else steps
    share = overrides.get("reserved_share", 0.8)
    growth = overrides.get("ai_demand_growth", 0.45)
    quarters = [f"{2018 + (q + 3) // 4}Q{(q + 3) % 4 + 1}" for q in range(n + 1)]
    shocks = rng.normal(0.0, 0.1, n + 1)
    dies = np.cumsum(1.0 + share * growth + shocks)
    return pd.DataFrame({
        "quarter": quarters,
        "huawei_ai_dies": dies,
        "other_china_fulfilment": 1.0 - share * 0.5 + shocks / 10,
        "active_edges": np.arange(n + 1),
    })


def toy_sweep(**changes):
    """A small grid (2 x 2 samples x 2 seeds) over the toy's parameters."""
    fields = dict(
        name="toy",
        scenario=str(MINIMAL_SCENARIO),
        steps=8,
        design={"kind": "grid"},
        seeds={"replicates": 2, "base": 7},
        parameters={
            "reserved_share": {"values": [0.2, 0.9]},
            "ai_demand_growth": {"values": [0.1, 0.5]},
        },
        outcomes=[
            {"name": "dies_end", "reporter": "huawei_ai_dies", "stat": "value", "at": "last"},
            {"name": "fulfil_mean", "reporter": "other_china_fulfilment", "stat": "mean",
             "start": "2019Q3", "end": "2020Q4"},
        ],
        series=["huawei_ai_dies"],
    )
    fields.update(changes)
    return build_sweep(**fields)
