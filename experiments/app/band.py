"""The browser app's uncertainty band: the live run's world over a few posterior draws.

With the app's "uncertainty" box ticked, `ensemble_band` runs `BAND_DRAWS` draws of the
posterior ensemble (`experiments.posterior`, picked by weight with `Ensemble.sample` from
seed 0) with the live run's seed, scenario and levers, to `BAND_END`, in the model's lean
mode (only the reporters the panels band), and `band_frame` reduces them to the 5% and
95% quantiles per quarter. Results are cached per (posterior file's content, scenario,
levers, seed): ticking the box again, or another session with the same settings, costs
nothing. The app's controls win over a draw where both set a parameter (the
lithography what-if sets years the posterior also draws).

A band is over draws x one seed: it shows what the posterior leaves open about this
world, not the seed-to-seed noise of the live run.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from experiments.batch.runner import simulate_model
from experiments.posterior import POSTERIOR_FILE, PosteriorError, load_posterior
from model.reporters import slug
from model.scenario import ScenarioError
from model.technology import parse_quarter, quarter_year

BAND_DRAWS = 8
BAND_SEED = 0
"""Which draws: `Ensemble.sample(BAND_DRAWS, BAND_SEED)`, the same for every setting, so
bands of two lever settings are over the same draws."""
BAND_END = "2030Q4"
QUANTILES = (0.05, 0.95)
POSTERIOR_ENV = "CHIPSTATE_POSTERIOR"
"""The posterior file the app reads (`chipstate viz --posterior FILE` sets it); unset:
model/data/posterior.csv."""


def posterior_path() -> Path:
    """The posterior file the app bands over."""
    value = os.environ.get(POSTERIOR_ENV)
    return Path(value) if value else POSTERIOR_FILE


def band_columns(model) -> list[str]:
    """The reporters the app bands: the champion's accelerators, both fulfilment
    series and the tracked foundry's capacity and yield per tier (the series panels'
    lines, `experiments.app.panels`)."""
    champion, foundry = slug(model.world.tracked.champion), slug(model.world.tracked.foundry)
    wanted = [f"{champion}_accelerators", f"{champion}_fulfilment", "other_china_fulfilment"]
    wanted += [c for c in model.datacollector.model_vars
               if c.startswith((f"{foundry}_capacity_", f"{foundry}_yield_"))
               and c != f"{foundry}_capacity_8in_eq_per_month"]
    return [c for c in wanted if c in model.datacollector.model_vars]


def band_frame(frames: list[pd.DataFrame], columns: list[str],
               quantiles: tuple[float, float] = QUANTILES) -> pd.DataFrame:
    """Per quarter (rows of the frames after row 0, the state before any trade) and
    column: the `quantiles` over the runs, as ``COLUMN_low`` and ``COLUMN_high``, with
    ``quarter`` and ``year``. Quarters are those every run recorded; NaNs (a yield where
    a tier is not run) are left out of a quarter's quantile, all-NaN gives NaN."""
    if not frames:
        raise ValueError("frames: expected at least one run")
    rows = min(len(f) for f in frames)
    quarters = frames[0]["quarter"].iloc[1:rows].astype(str).to_numpy()
    out = {"quarter": quarters,
           "year": np.array([quarter_year(parse_quarter(q)) for q in quarters], dtype=float)}
    for column in columns:
        stack = np.vstack([f[column].to_numpy(dtype=float)[1:rows] for f in frames])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # an all-NaN quarter is NaN
            low, high = np.nanquantile(stack, quantiles, axis=0)
        out[f"{column}_low"], out[f"{column}_high"] = low, high
    return pd.DataFrame(out)


@dataclass(frozen=True)
class Band:
    """A computed band (`frame`, see `band_frame`) over `draws` posterior draws, or the
    one-line reason there is none (`error`)."""

    frame: pd.DataFrame | None
    draws: int
    error: str = ""

    @property
    def caption(self) -> str:
        if self.error:
            return f"no uncertainty band: {self.error}"
        return f"band: 5-95% over {self.draws} posterior draws"

    def low_high(self, column: str, scale: float = 1.0) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        """Years, low and high of `column` (times `scale`); None without it."""
        if self.frame is None or f"{column}_low" not in self.frame:
            return None
        f = self.frame
        return (f["year"].to_numpy(), scale * f[f"{column}_low"].to_numpy(dtype=float),
                scale * f[f"{column}_high"].to_numpy(dtype=float))


_CACHE: dict[str, Band] = {}
_LOCK = threading.Lock()


def _key(path: Path, scenario: str, overrides: dict, seed, columns: list[str]) -> str:
    content = hashlib.sha256(path.read_bytes()).hexdigest()
    return json.dumps([content, scenario, overrides, seed, columns, BAND_DRAWS, BAND_SEED, BAND_END],
                      sort_keys=True, default=str)


def ensemble_band(model, path: Path | None = None) -> Band:
    """The band of `model`'s setting (a `PolicyLab`: its scenario, `lab_overrides`
    and seed) over `BAND_DRAWS` posterior draws to `BAND_END`; cached per setting.
    Never raises for a missing or bad posterior: the Band says why in one line."""
    path = posterior_path() if path is None else Path(path)
    columns = band_columns(model)
    scenario = getattr(model, "lab_scenario", model.scenario_spec.name)
    overrides = dict(getattr(model, "lab_overrides", {}))
    try:
        ensemble = load_posterior(path)
        key = _key(path, scenario, overrides, model.seed, columns)
    except (PosteriorError, OSError) as exc:
        return Band(None, BAND_DRAWS, str(exc).splitlines()[0])
    with _LOCK:
        if key in _CACHE:
            return _CACHE[key]
    steps = parse_quarter(BAND_END) - model.first_quarter + 1
    frames = []
    try:
        for position in ensemble.sample(BAND_DRAWS, BAND_SEED):
            frames.append(simulate_model(scenario, {**ensemble.overrides(position), **overrides},
                                         model.seed, steps, collect=columns))
    except ScenarioError as exc:
        return Band(None, BAND_DRAWS, str(exc).splitlines()[0])
    band = Band(band_frame(frames, columns), BAND_DRAWS)
    with _LOCK:
        _CACHE[key] = band
    return band
