"""Pinned default-world results: a refactor must leave them where they are.

The values live in tests/data/regression_default.json; `python
tests/regenerate_regression.py` rewrites them when the numbers are meant to move
(calibration), never to make a refactor pass.
"""

from __future__ import annotations

import json
import math

import pytest
from regenerate_regression import COLUMNS, PATH, SEED, STEPS

from model import ChipMarketModel

PINNED = json.loads(PATH.read_text())
REL = 1e-9


@pytest.mark.parametrize("scenario", sorted(PINNED["scenarios"]))
def test_default_world_results_are_pinned(scenario):
    assert PINNED["steps"] == list(STEPS) and PINNED["seed"] == SEED
    pinned = PINNED["scenarios"][scenario]
    frame = ChipMarketModel(scenario=scenario, rng=SEED).run().frames()["model"]
    assert [frame["quarter"].iloc[k] for k in STEPS] == pinned["quarter"]
    for column in COLUMNS:
        got = [float(frame[column].iloc[k]) for k in STEPS]
        want = [math.nan if v is None else v for v in pinned[column]]
        assert got == pytest.approx(want, rel=REL, abs=1e-12, nan_ok=True), (
            f"{scenario}: {column} moved; if the default world was recalibrated on purpose, "
            "run python tests/regenerate_regression.py"
        )


def test_pins_are_not_trivial():
    """The pinned series move over time and differ between the two scenarios."""
    a, b = (PINNED["scenarios"][s] for s in ("historical", "state_allocation"))
    assert len(set(a["huawei_ai_dies"])) > 3
    assert a["huawei_smic_advanced_wafers"] != b["huawei_smic_advanced_wafers"]
