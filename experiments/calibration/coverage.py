"""Calibrated coverage: whether the data falls inside the ensemble's bands as often as
the bands' levels promise. Pure functions of numpy arrays and tables; nothing here runs
the model (experiments/calibration/validate.py feeds them the runs' figures).

Two bands per compared data row, both over the runs of a posterior ensemble (N draws x
K seeds):

- the **model band**: quantiles of the model's figure over the runs;
- the **predictive band**: the same figures widened by the posterior's model
  discrepancy (`experiments.posterior.Discrepancy`): each figure m gets errors e ~ Normal(0,
  scale), m + e for a percentage (scale in points), m x exp(e) for a level (scale a log
  ratio), the units the calibration's distance uses (`is_percent`, the rule of
  experiments/calibration/calibrate.py `target_rows`).

A central band at level L runs from the (1 - L)/2 to the (1 + L)/2 quantile; the
observation is inside if it lies within (ends included). Coverage of a group of rows is
the share inside; a calibrated ensemble covers about L of them. The PIT (probability
integral transform) of an observation is the share of the band's samples below it
(ties counted half); calibrated PITs are uniform on [0, 1].
"""

from __future__ import annotations

import numpy as np
import pandas as pd

QUANTILES = (0.05, 0.25, 0.50, 0.75, 0.95)
"""The band quantiles kept per row (columns q05, q25, q50, q75, q95)."""

LEVELS = (0.50, 0.90)
"""The central bands whose coverage is reported: 25-75% and 5-95%."""

ERROR_DRAWS = 20
"""Discrepancy errors drawn per run for the predictive band (smooth quantiles)."""


def is_percent(unit: str) -> bool:
    """Whether a data unit is a percentage (errors in points): it starts with '%' or
    holds '% of' (calibrate.target_rows' rule)."""
    unit = str(unit)
    return unit.startswith("%") or "% of" in unit


def quantile_names(quantiles=QUANTILES) -> list[str]:
    """'q05', 'q25', ... for the quantiles 0.05, 0.25, ..."""
    return [f"q{round(q * 100):02d}" for q in quantiles]


def band_quantiles(samples, quantiles=QUANTILES) -> np.ndarray:
    """The `quantiles` of the finite `samples` (linear interpolation), ascending; all
    NaN if no sample is finite."""
    values = np.asarray(samples, dtype=float).ravel()
    values = values[np.isfinite(values)]
    if not len(values):
        return np.full(len(quantiles), np.nan)
    return np.quantile(values, quantiles)


def band_ends(level: float) -> tuple[float, float]:
    """The quantiles that bound the central band at `level` (0.9 -> 0.05, 0.95)."""
    if not 0 < level < 1:
        raise ValueError(f"level: expected a number in (0, 1), got {level!r}")
    return (1 - level) / 2, (1 + level) / 2


def inside(value: float, samples, level: float) -> bool:
    """Whether `value` lies within the central `level` band of `samples` (ends included)."""
    low, high = band_quantiles(samples, band_ends(level))
    return bool(low <= value <= high)


def pit(value: float, samples) -> float:
    """The share of the finite `samples` below `value`, ties counted half; NaN if none."""
    values = np.asarray(samples, dtype=float).ravel()
    values = values[np.isfinite(values)]
    if not len(values):
        return np.nan
    return float((np.sum(values < value) + 0.5 * np.sum(values == value)) / len(values))


def predictive_samples(model_values, scale: float, percent: bool, rng: np.random.Generator,
                       draws: int = ERROR_DRAWS) -> np.ndarray:
    """Each finite model value with `draws` discrepancy errors e ~ Normal(0, `scale`):
    m + e for a percentage (`scale` in points), m x exp(e) for a level (`scale` a log
    ratio). Shape (runs x draws,); the same `rng` state gives the same samples. A zero
    scale gives the model values themselves (each repeated `draws` times)."""
    if not (np.isfinite(scale) and scale >= 0):
        raise ValueError(f"scale: expected a number >= 0, got {scale!r}")
    values = np.asarray(model_values, dtype=float).ravel()
    values = values[np.isfinite(values)]
    errors = rng.normal(0.0, 1.0, size=(len(values), draws)) * scale
    widened = values[:, None] + errors if percent else values[:, None] * np.exp(errors)
    return widened.ravel()


def band_width(low: float, high: float, value: float, percent: bool) -> float:
    """A band's width against the data: in points for a percentage, else in % of the
    data value (NaN for a value of 0)."""
    width = high - low
    if percent:
        return float(width)
    return float(100 * width / abs(value)) if value else np.nan


GROUPS = ("in sample", "held back", "out of sample")
"""The coverage groups, in report order: rows the fit saw (in sample, not held back),
rows held back from it, rows after the fit's window (out of sample, not held back)."""


def coverage_group(in_sample: bool, held_back: bool) -> str:
    """A row's coverage group (`GROUPS`)."""
    if held_back:
        return "held back"
    return "in sample" if in_sample else "out of sample"


def coverage_summary(table: pd.DataFrame) -> pd.DataFrame:
    """Per group of `GROUPS` (all three, in order, even if empty): rows, the share
    inside the 50% and 90% predictive bands and model bands, and the median 90%
    predictive band width, apart for levels (% of the data value) and percentages
    (points). `table` needs the columns group, percent, inside_50, inside_90,
    model_inside_50, model_inside_90 and width_90; rows whose inside_90 is missing
    (bounds, ranges) are left out."""
    out = []
    for group in GROUPS:
        rows = table[(table["group"] == group) & table["inside_90"].notna()]
        shares = {name: float(rows[name].astype(float).mean()) if len(rows) else np.nan
                  for name in ("inside_50", "inside_90", "model_inside_50", "model_inside_90")}
        percent = rows["percent"].astype(bool)
        levels, points = rows.loc[~percent, "width_90"], rows.loc[percent, "width_90"]
        out.append({"group": group, "rows": len(rows), **shares,
                    "median_width_90_levels_pct": float(levels.median()) if len(levels) else np.nan,
                    "median_width_90_points": float(points.median()) if len(points) else np.nan})
    return pd.DataFrame(out)
