"""Shared fixtures: model runs are cached per (scenario, seed, overrides) for the session,
so that many tests can look at one run without re-running it."""

from __future__ import annotations

import pytest

from model import ChipMarketModel

_RUNS: dict = {}


def run_model(scenario: str = "historical", seed: int = 1, **overrides) -> ChipMarketModel:
    """A finished run (2019Q1-2030Q4), built once per session per arguments."""
    key = (scenario, seed, tuple(sorted(overrides.items())))
    if key not in _RUNS:
        _RUNS[key] = ChipMarketModel(scenario=scenario, rng=seed, **overrides).run()
    return _RUNS[key]


@pytest.fixture(scope="session")
def historical() -> ChipMarketModel:
    return run_model("historical", 1)
