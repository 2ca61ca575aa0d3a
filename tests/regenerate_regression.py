"""Regenerate tests/data/regression_default.json: the default world's pinned results.

    python tests/regenerate_regression.py

Run it when the default world's numbers are meant to change (calibration of
model/data/default_world.toml, agent rules, scenario files), after checking that the
change is intended; commit the JSON with the change that moved it. A refactor must not
need it: tests/test_regression.py failing after a refactor means results moved.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

PATH = Path(__file__).resolve().parent / "data" / "regression_default.json"
SCENARIOS = ("historical", "state_allocation")
SEED = 1
STEPS = (1, 4, 8, 12, 16, 20, 24, 28, 36, 48)
"""Rows of the model frame pinned (row k is after step k; 48 is 2030Q4)."""
COLUMNS = (
    "huawei_ai_dies",
    "huawei_fulfilment",
    "other_china_fulfilment",
    "huawei_smic_advanced_wafers",
    "other_china_smic_advanced_wafers",
    "smic_capacity_7nm",
    "smic_capacity_8in_eq_per_month",
    "smic_utilisation",
    "smic_revenue_usd_m",
    "share_tsmc",
    "foundry_revenue_usd_m",
    "foundry_hhi",
    "price_index_7nm",
    "price_index_mature",
    "china_self_sufficiency",
    "vendor_china_share",
    "china_domestic_tool_share",
    "active_edges",
    "cut_edges",
)


def pinned_values(scenario: str, seed: int = SEED) -> dict:
    """{column: [value at each of STEPS]} of one full run (NaN as None)."""
    from model import ChipMarketModel

    frame = ChipMarketModel(scenario=scenario, rng=seed).run().frames()["model"]
    out = {"quarter": [str(frame["quarter"].iloc[k]) for k in STEPS]}
    for column in COLUMNS:
        values = [float(frame[column].iloc[k]) for k in STEPS]
        out[column] = [None if math.isnan(v) else v for v in values]
    return out


def regenerate(path: Path = PATH) -> Path:
    data = {
        "note": "Pinned default-world results; regenerate with python tests/regenerate_regression.py",
        "seed": SEED,
        "steps": list(STEPS),
        "scenarios": {name: pinned_values(name) for name in SCENARIOS},
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=1) + "\n")
    return path


if __name__ == "__main__":
    print(f"wrote {regenerate()}")
