"""What several test modules share: the repository's root and the CLI as a user calls it."""

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
