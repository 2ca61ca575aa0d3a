"""The posterior ensemble: weighted parameter draws that `chipstate calibrate` writes
(model/data/posterior.csv, its provenance in model/data/posterior.toml) and that every
command reporting uncertainty samples (`--ensemble N`). It lives in experiments/, not
model/: the model runs one parameter set; experiments run ensembles of them.

posterior.csv has one row per draw::

    draw,weight,NAME,NAME,...

`weight` is the draw's importance weight (positive, summing to 1); each NAME is a
parameter spelt as model/data/priors.toml spells it (``foundry_preference.SMIC`` for
an entry of a table parameter). posterior.toml holds::

    [provenance]    how the draws were made (method, library, seed, data, rows, ...)
    [discrepancy]   the model-discrepancy scale per data quantity (`Discrepancy`)

A band over an ensemble is a band over (draw, seed) pairs: `Ensemble.sample` picks N
draws by weight, reproducibly from a seed, and each is run with the same seeds, so two
scenarios compared over one sample are paired draw by draw and seed by seed.

`load_posterior` raises one `PosteriorError` naming the file and the field for
anything wrong: a missing file or column, a weight that is not positive and finite, a
parameter the priors do not know, a value outside its prior's support.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from model.priors import PRIORS_FILE, Priors, load_priors
from model.scenario import FITTED_FILE, read_toml

POSTERIOR_FILE = FITTED_FILE.parent / "posterior.csv"
"""The shipped posterior: model/data/, beside the priors and the point fit."""


class PosteriorError(ValueError):
    """A posterior ensemble that cannot be read; the message names the file and field."""


@dataclass(frozen=True)
class Discrepancy:
    """How far the data may sit from the model where the model is right in every
    parameter: one scale per data quantity, in the units the calibration's distance
    uses (points for a percentage, a log ratio otherwise), and for quantities the fit
    saw no row of, `default` (a level's) or `default_percent` (a percentage's). A
    predictive band adds a normal error of that scale."""

    scales: dict[str, float] = field(default_factory=dict)
    default: float = 0.0
    default_percent: float = 0.0

    def scale(self, quantity: str, percent: bool = False) -> float:
        """The scale for `quantity`; `percent`: whether its unit is a percentage (which
        default applies when the quantity has no scale of its own)."""
        return float(self.scales.get(quantity, self.default_percent if percent else self.default))


@dataclass
class Ensemble:
    """Weighted parameter draws (`draws`, one column per parameter) and their weights."""

    path: Path
    draws: pd.DataFrame
    weights: np.ndarray
    provenance: dict[str, Any] = field(default_factory=dict)
    discrepancy: Discrepancy = field(default_factory=Discrepancy)

    def __len__(self) -> int:
        return len(self.draws)

    @property
    def names(self) -> list[str]:
        return list(self.draws.columns)

    @property
    def effective_size(self) -> float:
        """Kish's effective sample size of the weights, 1 / sum(w^2)."""
        return float(1.0 / np.sum(self.weights ** 2))

    def sample(self, n: int, seed: int = 0) -> list[int]:
        """`n` draws (their row positions) picked by weight, by systematic resampling
        from `seed`: the same (n, seed) gives the same draws, and a draw of weight w
        appears about n x w times."""
        if n < 1:
            raise ValueError(f"n: expected at least 1 draw, got {n}")
        rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(0x9057,)))
        positions = (rng.random() + np.arange(n)) / n
        cumulative = np.cumsum(self.weights)
        cumulative[-1] = 1.0
        picked = np.searchsorted(cumulative, positions, side="right")
        return [int(i) for i in rng.permutation(picked)]

    def overrides(self, position: int) -> dict[str, Any]:
        """Draw `position` as model overrides (``ChipMarketModel(**overrides)``)."""
        return Priors.overrides(self.draws.iloc[position].to_dict())

    def summary(self) -> pd.DataFrame:
        """Per parameter: the weighted mean, 5%, 50% and 95% quantiles."""
        rows = []
        for name in self.names:
            values = self.draws[name].to_numpy(dtype=float)
            rows.append({"name": name, "mean": float(np.sum(self.weights * values)),
                         **{f"q{int(q * 100):02d}": weighted_quantile(values, self.weights, q)
                            for q in (0.05, 0.5, 0.95)}})
        return pd.DataFrame(rows)


def weighted_quantile(values: np.ndarray, weights: np.ndarray, q: float) -> float:
    """The `q` quantile of `values` under `weights` (the inverse of the weighted
    empirical distribution, midpoint interpolation)."""
    order = np.argsort(values)
    v, w = np.asarray(values, dtype=float)[order], np.asarray(weights, dtype=float)[order]
    cumulative = np.cumsum(w) - 0.5 * w
    cumulative /= w.sum()
    return float(np.interp(q, cumulative, v))


def provenance_path(path: Path) -> Path:
    """posterior.csv's provenance file: the same name with .toml."""
    return path.with_suffix(".toml")


def load_posterior(path: str | Path = POSTERIOR_FILE, priors: Priors | None = None) -> Ensemble:
    """Read and check a posterior ensemble; raise one PosteriorError naming file and field."""
    path = Path(path)
    if not path.is_file():
        raise PosteriorError(f"{path}: no such file; expected a posterior ensemble written by `chipstate calibrate`")
    try:
        frame = pd.read_csv(path)
    except (OSError, ValueError, pd.errors.ParserError) as exc:
        raise PosteriorError(f"{path}: not a readable CSV ({str(exc).splitlines()[0]})") from None
    for column in ("draw", "weight"):
        if column not in frame.columns:
            raise PosteriorError(f"{path}: column '{column}' is missing; expected draw, weight and one column per parameter")
    if frame.empty:
        raise PosteriorError(f"{path}: no draws; expected at least one row")
    weights = pd.to_numeric(frame["weight"], errors="coerce").to_numpy(dtype=float)
    bad = np.flatnonzero(~(np.isfinite(weights) & (weights > 0)))
    if bad.size:
        raise PosteriorError(f"{path}: field 'weight' of draw {frame['draw'].iloc[bad[0]]}: expected a positive number, "
                             f"got {frame['weight'].iloc[bad[0]]!r}")
    priors = priors if priors is not None else load_priors(PRIORS_FILE)
    draws = frame.drop(columns=["draw", "weight"])
    if draws.columns.empty:
        raise PosteriorError(f"{path}: no parameter columns; expected one column per parameter after draw, weight")
    for name in draws.columns:
        if name not in priors:
            raise PosteriorError(f"{path}: column '{name}': no prior of that name in {priors.path}")
        values = pd.to_numeric(draws[name], errors="coerce").to_numpy(dtype=float)
        prior = priors[name]
        outside = np.flatnonzero(~(np.isfinite(values) & (values >= prior.low) & (values <= prior.high)))
        if outside.size:
            raise PosteriorError(f"{path}: column '{name}', draw {frame['draw'].iloc[outside[0]]}: expected a value in "
                                 f"[{prior.low:g}, {prior.high:g}] (its prior's support), got {draws[name].iloc[outside[0]]!r}")
        draws[name] = values
    meta_path = provenance_path(path)
    provenance: dict[str, Any] = {}
    discrepancy = Discrepancy()
    if meta_path.is_file():
        meta = read_toml(meta_path, PosteriorError)
        provenance = dict(meta.get("provenance", {}))
        table = meta.get("discrepancy", {})
        scales = table.get("scales", {})
        for quantity, value in scales.items():
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value >= 0):
                raise PosteriorError(f"{meta_path}: field 'discrepancy.scales.{quantity}': expected a number >= 0, got {value!r}")
        defaults = {}
        for name in ("default", "default_percent"):
            value = table.get(name, 0.0)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value >= 0):
                raise PosteriorError(f"{meta_path}: field 'discrepancy.{name}': expected a number >= 0, got {value!r}")
            defaults[name] = float(value)
        discrepancy = Discrepancy({k: float(v) for k, v in scales.items()}, **defaults)
    return Ensemble(path, draws.reset_index(drop=True), weights / weights.sum(), provenance, discrepancy)


def posterior_frame(draws: pd.DataFrame, weights: np.ndarray) -> pd.DataFrame:
    """The posterior.csv frame for `draws` and `weights` (normalised); the caller
    writes it (atomically) beside its provenance."""
    weights = np.asarray(weights, dtype=float)
    frame = pd.DataFrame({"draw": np.arange(len(draws)), "weight": weights / weights.sum()})
    return pd.concat([frame, draws.reset_index(drop=True)], axis=1)
