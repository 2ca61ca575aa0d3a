"""What several test modules share: the repository's root, the CLI as a user calls it,
paired intervals and the lean runs the statistical tests share."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
from scipy import stats

REPO = Path(__file__).resolve().parent.parent


def chipstate(*args: str, timeout: float = 300, **kwargs) -> subprocess.CompletedProcess:
    """``chipstate ARGS`` run from the repository's root, its output captured as text."""
    return subprocess.run([sys.executable, "-m", "experiments.cli", *args], cwd=REPO,
                          capture_output=True, text=True, timeout=timeout, **kwargs)


def paired_interval(a, b) -> tuple[float, float, float]:
    """Mean paired difference a - b (same seeds) and its 95% t interval."""
    diff = np.asarray(a, dtype=float) - np.asarray(b, dtype=float)
    half = stats.t.ppf(0.975, len(diff) - 1) * diff.std(ddof=1) / np.sqrt(len(diff))
    return diff.mean(), diff.mean() - half, diff.mean() + half


_LEAN: dict = {}


def lean_frame(scenario: str, seed: int, columns, **overrides):
    """The model frame of a lean run (only `columns` recorded), indexed by quarter; each
    (scenario, seed, columns, overrides) run once per test worker and kept."""
    from model import ChipMarketModel

    key = (scenario, seed, tuple(columns), tuple(sorted(overrides.items())))
    if key not in _LEAN:
        model = ChipMarketModel(scenario=scenario, rng=seed, collect=tuple(columns), **overrides).run()
        _LEAN[key] = model.frames()["model"].set_index("quarter")
    return _LEAN[key]
