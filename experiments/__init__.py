"""What users do with the model: sweeps, comparisons, sensitivity, the CLI."""

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = REPO_ROOT / "results"
"""Where runs, sweeps, comparisons and validations write by default (git-ignored)."""
