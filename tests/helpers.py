"""What several test modules share: the repository's root and the CLI as a user calls it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def chipstate(*args: str, timeout: float = 300, **kwargs) -> subprocess.CompletedProcess:
    """``chipstate ARGS`` run from the repository's root, its output captured as text."""
    return subprocess.run([sys.executable, "-m", "experiments.cli", *args], cwd=REPO,
                          capture_output=True, text=True, timeout=timeout, **kwargs)
