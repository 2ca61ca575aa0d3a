"""Bayesian calibration: a posterior ensemble of the uncertain parameters by ABC-SMC.

`infer` draws the parameters named in the priors (model/data/priors.toml: every
uncertain parameter, and the foundry preferences) by approximate Bayesian computation
with sequential Monte Carlo (pyabc.ABCSMC), against the rows of the calibration data
that the point fit uses (experiments.calibration.calibrate: TARGETS, in sample, hard,
SMIC's yield rows at weight 0.5), less a held-back window (default 2023Q3-2023Q4) kept
to check the posterior, never to fit it.

Why pyabc: the model has no likelihood, only a simulator; ABC-SMC needs nothing else,
and pyabc (maintained at the ICB Munich, 0.13) gives adaptive epsilon schedules,
kernel transitions with a multivariate normal fitted to each population, importance
weights, and a SQLite history after each generation, which is what makes a killed
calibration resumable. ELFI and sbi would need a GPU-friendly density estimator
(sbi) or a fixed simulation budget up front (ELFI's BOLFI); black-it fits point
estimates, not posteriors.

Distance: each used row's scaled error (calibrate.target_rows: points for a
percentage, percent of the data value otherwise; SMIC yield rows x sqrt(0.5), so the
squared distance is the point fit's objective x the number of rows). The observation
is all zeros; the distance is the Euclidean norm (pyabc.PNormDistance(p=2)), epsilon
the median of the last population's distances (pyabc's default QuantileEpsilon).
Each simulation draws its own model seed, so the posterior carries the seed noise.

Reproducible from `seed`: `SeededSampler` evaluates particles in numbered chunks, each
particle from its own seed (`seed`, generation, index) whichever worker runs it, and
accepts them in index order; the same seed gives the same posterior on one process,
a local pool or a Dask cluster. Resumable: the history (results/calibration/abc.db)
holds every finished generation; a re-run with the same settings continues from the
last (and, by the seeding, ends where an uninterrupted run would).

After the last generation, `posterior_discrepancy` runs the posterior predictive
(draws x one seed each) over the whole in-sample data and sets each quantity's
model-discrepancy scale from its rows outside the held-back window: how far the data
sit from the model's mean beyond the ensemble's own spread, in points (percentages) or
as a log ratio (levels), shrunk toward the pooled scale of its unit. `chipstate
validate --ensemble N` adds that error to its predictive bands (Kennedy and O'Hagan's
model discrepancy, estimated by moments rather than jointly).
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
import sys
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from experiments.calibration.calibrate import RUN_END, target_rows, toml_value
from experiments.calibration.observed import DATA_FILE, quarters_of, read_data
from experiments.calibration.validate import compare_with_data, modelled_foundries, run_seeds
from experiments.posterior import POSTERIOR_FILE, Discrepancy, posterior_frame, provenance_path
from model.priors import PRIORS_FILE, Priors, load_priors
from model.scenario import ScenarioError, load_scenario
from model.technology import parse_quarter

SAMPLER_VERSION = 3
"""How particles draw their randomness; a history made by another version is not resumed
(2: the model's seed and the nuisance draws from the particle's own generator; 3: pyabc's
proposals too, `_particle_classes`: numpy's global state is not touched)."""
FAILED = 1e3  # the scaled error of every row when a draw's scenario is not valid
DEFAULT_HELD_BACK = ("2023Q3", "2023Q4")
SHRINKAGE = 1.0
"""Pseudo-rows of the pooled discrepancy variance each quantity's own is shrunk toward
(ASSUMPTION, range 0.5-3: one row of the quantity weighs as much as the pool)."""


class InferenceError(ValueError):
    """Settings or a history that cannot be used; the message names the field."""


@dataclass(frozen=True)
class Settings:
    """What a calibration is: everything that changes its result."""

    population: int = 300
    generations: int = 6
    seed: int = 0
    held_back_from: str | None = DEFAULT_HELD_BACK[0]
    held_back_to: str | None = DEFAULT_HELD_BACK[1]
    min_acceptance_rate: float = 0.02
    predictive_draws: int = 60
    data_file: str = str(DATA_FILE)
    priors_file: str = str(PRIORS_FILE)
    fitted: tuple[str, ...] = (
        "smic_yield_half_life_wafers", "derisk_factor", "localisation_rate", "install_rate",
        "foundry_preference.Samsung", "foundry_preference.UMC", "foundry_preference.GlobalFoundries",
        "foundry_preference.SMIC", "stockpile_factor",
    )
    chunk: int = 10

    def key(self) -> str:
        """A digest of the settings, of the data and priors files' contents and of the
        model's (`model_sha`): a history simulated by another model is not resumed."""
        material = asdict(self) | {
            "data_sha": _file_sha(Path(self.data_file)), "priors_sha": _file_sha(Path(self.priors_file)),
            "model_sha": model_sha(), "sampler": SAMPLER_VERSION,
        }
        for name in ("chunk", "generations", "predictive_draws"):
            # how particles are batched changes nothing; more generations continue the
            # same history; the predictive draws come after it
            material.pop(name)
        return hashlib.sha256(json.dumps(material, sort_keys=True).encode()).hexdigest()[:16]


def _file_sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


MODEL_SOURCES = (("model", "*.py"), ("agents", "*.py"), ("model/data", "*.toml"), ("experiments/scenarios", "*.toml"))
NOT_MODEL = {"posterior.toml", "fitted_parameters.toml"}  # outputs of calibrations, not what they simulate


def model_sha(root: Path | None = None) -> str:
    """A digest of what the calibration simulates: the model's and agents' code, the
    world and priors, and the scenarios (the historical chain and its counterparts),
    under `root` (default: this checkout). The calibrations' own outputs (the
    posterior, the point fit) are left out."""
    root = Path(__file__).resolve().parents[2] if root is None else Path(root)
    digest = hashlib.sha256()
    for folder, pattern in MODEL_SOURCES:
        for path in sorted((root / folder).glob(pattern)):
            if path.name not in NOT_MODEL:
                digest.update(f"{folder}/{path.name}".encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def default_folder(settings: Settings) -> Path:
    """results/calibration/abc-<settings key>/: a calibration of other settings never
    shares a history."""
    from experiments.outputs import RESULTS_DIR

    return RESULTS_DIR / "calibration" / f"abc-{settings.key()}"


def held_back(period: str, settings: Settings) -> bool:
    """Whether a data row's period ends inside the held-back window."""
    if settings.held_back_from is None:
        return False
    quarters = quarters_of(period)
    if not quarters:
        return False
    last = parse_quarter(quarters[-1])
    return parse_quarter(settings.held_back_from) <= last <= parse_quarter(settings.held_back_to)


def fit_data(settings: Settings) -> pd.DataFrame:
    """The data rows a simulation is compared with: placeable by RUN_END, not held back."""
    data = read_data(settings.data_file)
    last = parse_quarter(RUN_END)
    placeable = data["period"].map(lambda p: bool(quarters_of(p)) and parse_quarter(quarters_of(p)[-1]) <= last)
    kept = placeable & ~data["period"].map(lambda p: held_back(p, settings))
    return data[kept].reset_index(drop=True)


# ---------------------------------------------------------------- the simulator
def _safe(name: str) -> str:
    """A parameter name as pyabc stores it (its history keys names; no dots)."""
    return name.replace(".", "__")


def _unsafe(name: str) -> str:
    return name.replace("__", ".")


@dataclass
class Simulator:
    """pyabc's model: parameters -> each used row's weighted scaled error.

    pyabc proposes the `fitted` parameters; every other parameter with a prior (a
    nuisance here) is drawn from its prior for each simulation, so the posterior of the
    fitted ones is marginal over them (ABC integrates the nuisance out)."""

    data: pd.DataFrame
    priors: Priors
    fitted: tuple[str, ...]
    rows: list[str] = field(default_factory=list)

    def nuisance(self, rng: np.random.Generator) -> dict[str, float]:
        """One draw of the other parameters from their priors."""
        return {name: float(self.priors[name].frozen().rvs(random_state=rng))
                for name in self.priors.names if name not in self.fitted}

    def errors(self, values: dict[str, float], seed: int) -> dict[str, float]:
        overrides = Priors.overrides(values)
        try:
            scenario = load_scenario("historical", fitted=False).with_overrides({**overrides, "end": RUN_END})
        except ScenarioError:
            return dict.fromkeys(self.rows, FAILED)
        runs = run_seeds(scenario, [seed])
        table = target_rows(self.data, runs, modelled_foundries(runs))
        keyed = dict(zip(row_keys(table), table["scaled_error"] * np.sqrt(table["weight"])))
        return {key: float(keyed.get(key, FAILED)) for key in self.rows}

    def __call__(self, parameters) -> dict[str, float]:
        """The particle's own generator (`_particle`) gives the model's seed and the
        nuisance draws, as it gave pyabc's proposal (`parameters`: `_particle_classes`)."""
        rng = _particle()
        seed = int(rng.integers(0, 2**31 - 1))
        values = {_unsafe(k): float(v) for k, v in dict(parameters).items()}
        return self.errors({**self.nuisance(rng), **values}, seed)


def row_keys(table: pd.DataFrame) -> list[str]:
    return [f"{q} | {e} | {p}" for q, e, p in zip(table["quantity"], table["entity"], table["period"])]


# ---------------------------------------------------------------- the sampler
_LOADED: dict[str, Any] = {}
_PARTICLE: list[np.random.Generator] = []  # the generator of the particle simulated now


def _particle() -> np.random.Generator:
    if not _PARTICLE:
        raise RuntimeError("Simulator called outside _simulate_chunk: no particle generator")
    return _PARTICLE[0]


@functools.cache
def _particle_classes() -> tuple[type, type]:
    """pyabc's prior and multivariate-normal transition, drawing from the particle's own
    generator (`_particle`) where pyabc's draw from numpy's global state: every draw of a
    particle, its proposal included, comes from its own SeedSequence."""
    import pyabc
    from pyabc.transition import MultivariateNormalTransition

    class ParticlePrior(pyabc.Distribution):
        def rvs(self, *args, **kwargs):
            return super().rvs(random_state=_particle())

    class ParticleTransition(MultivariateNormalTransition):
        def rvs(self, size: int | None = None):
            if size is None:
                return self.rvs_single()
            rng = _particle()
            rows = rng.choice(self._range, size=size, p=self.w, replace=True)
            return self.X.iloc[rows] + rng.multivariate_normal(np.zeros(self.cov.shape[0]), self.cov, size=size)

        def rvs_single(self):
            rng = _particle()
            row = rng.choice(self._range, p=self.w, replace=True)
            return pyabc.Parameter(self.X.iloc[row] + rng.multivariate_normal(np.zeros(self.cov.shape[0]), self.cov))

    return ParticlePrior, ParticleTransition


def _loaded(blob: bytes, digest: str) -> Any:
    """The object a chunk's `blob` pickles, unpickled once per worker and generation."""
    import cloudpickle

    if digest not in _LOADED:
        _LOADED.clear()
        _LOADED[digest] = cloudpickle.loads(blob)
    return _LOADED[digest]


def _simulate_chunk(blob: bytes, digest: str, keys: list[tuple[int, int, int]]) -> list:
    """Run pyabc's `simulate_one` once per key, each from its own seed (worker side)."""
    simulate_one = _loaded(blob, digest)
    out = []
    for key in keys:
        _PARTICLE[:] = [np.random.default_rng(np.random.SeedSequence(key, spawn_key=(1,)))]
        out.append(simulate_one())
    return out


def _sampler_class():
    from pyabc.sampler import Sampler

    class SeededSampler(Sampler):
        """pyabc sampler over the project's executors, reproducible from a seed.

        Particles are numbered within a generation and simulated in chunks; particle i
        of generation t starts from seed (seed, t + 1, i) on whichever worker, and
        particles are accepted in number order until n are, so the population does not
        depend on the executor or on the number of workers."""

        def __init__(self, seed: int, chunk: int, executor: ChunkExecutor, progress: bool = True) -> None:
            super().__init__()
            self.seed, self.chunk, self.executor, self.progress = seed, chunk, executor, progress
            self.show_progress = False

        def sample_until_n_accepted(self, n, simulate_one, t, *, max_eval=np.inf, all_accepted=False,
                                    ana_vars=None):
            import cloudpickle
            from tqdm import tqdm

            blob = cloudpickle.dumps(simulate_one)
            digest = hashlib.sha256(blob).hexdigest()
            sample = self._create_empty_sample()
            accepted = evaluated = 0
            bar = tqdm(total=n, desc=f"generation {t + 1}" if t >= 0 else "prior sample", unit="accepted",
                       file=sys.stderr, leave=False, disable=not self.progress)
            chunks = ([(self.seed, t + 1, i) for i in range(start, start + self.chunk)]
                      for start in _count(0, self.chunk))
            results = self.executor.imap(_simulate_chunk, blob, digest, chunks)
            try:
                for particles in results:
                    for particle in particles:
                        sample.append(particle)
                        evaluated += 1
                        if particle.accepted:
                            accepted += 1
                            bar.update(1)
                        if accepted >= n or evaluated >= max_eval:
                            break
                    bar.set_postfix_str(f"{evaluated} simulated", refresh=False)
                    if accepted >= n or evaluated >= max_eval:
                        break
            finally:
                results.close()
                bar.close()
            self.nr_evaluations_ = evaluated
            if sample.n_accepted < n:
                sample.ok = False
            return sample

    return SeededSampler


def _count(start: int, step: int) -> Iterator[int]:
    while True:
        yield start
        start += step


class ChunkExecutor:
    """Runs `fn(blob, digest, keys)` for a stream of key chunks, results in order, a
    window of chunks in flight: in this process, on a local pool (forked workers, as
    the sweeps' runner starts them) or on a Dask cluster."""

    def __init__(self, workers: int | None = None, scheduler: str | None = None, dask_local: int | None = None):
        import os

        if workers is None and not scheduler and not dask_local:
            workers = os.cpu_count() or 1  # as the sweeps' default: a pool of the CPU count
        self.workers, self.scheduler, self.dask_local = workers, scheduler, dask_local
        self._pool = self._client = self._cluster = None

    def __enter__(self) -> ChunkExecutor:
        from experiments.batch.runner import worker_init, pool_context, start_local_dask

        if self.scheduler or self.dask_local:
            if self.scheduler:
                from distributed import Client

                self._client = Client(self.scheduler, timeout="10s")
            else:
                self._cluster, self._client = start_local_dask(self.dask_local)
        elif self.workers and self.workers > 1:
            from concurrent.futures import ProcessPoolExecutor

            self._pool = ProcessPoolExecutor(max_workers=self.workers, mp_context=pool_context(),
                                             initializer=worker_init)
        return self

    def __exit__(self, *exc) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
        if self._client is not None:
            self._client.close()
        if self._cluster is not None:
            self._cluster.close()

    @property
    def width(self) -> int:
        if self._client is not None:
            return max(1, 2 * len(self._client.scheduler_info().get("workers", {})))
        return 2 * self.workers if self._pool is not None else 1

    def imap(self, fn: Callable, blob: bytes, digest: str, chunks: Iterator[list]):
        """A generator of fn's results in chunk order; closing it cancels what is in flight."""
        if self._pool is None and self._client is None:
            for keys in chunks:
                yield fn(blob, digest, keys)
            return
        shared = self._client.scatter(blob, broadcast=True) if self._client is not None else blob
        submit = (self._client.submit if self._client is not None else self._pool.submit)
        window: list = []
        try:
            more = True
            while more or window:
                while more and len(window) < self.width:
                    keys = next(chunks, None)
                    if keys is None:
                        more = False
                    elif self._client is not None:
                        window.append(submit(fn, shared, digest, keys, pure=False))
                    else:
                        window.append(submit(fn, shared, digest, keys))
                if window:
                    yield window.pop(0).result()
        finally:
            for future in window:
                future.cancel()


# ---------------------------------------------------------------- the run
@dataclass
class Result:
    draws: pd.DataFrame
    weights: np.ndarray
    provenance: dict
    discrepancy: Discrepancy
    generations: pd.DataFrame


def pyabc_prior(priors: Priors, names) -> Any:
    import pyabc

    rvs = {}
    for name in names:
        dist, args, keywords = priors[name].scipy_spec()
        rvs[_safe(name)] = pyabc.RV(dist, *args, **keywords)
    return _particle_classes()[0](**rvs)


def infer(settings: Settings, folder: Path, *, workers: int | None = None, scheduler: str | None = None,
          dask_local: int | None = None, progress: bool = True, overwrite: bool = False,
          log: Callable[[str], None] = print) -> Result:
    """Run (or resume) the ABC-SMC calibration whose history lives in `folder`
    (abc.db, settings.json); a folder holding another calibration's history is refused
    unless `overwrite`."""
    import logging

    import pyabc

    logging.getLogger("ABC").setLevel(logging.WARNING)
    logging.getLogger("Sampler").setLevel(logging.WARNING)
    logging.getLogger("Epsilon").setLevel(logging.WARNING)
    logging.getLogger("History").setLevel(logging.WARNING)
    priors = load_priors(settings.priors_file)
    data = fit_data(settings)
    unknown = [n for n in settings.fitted if n not in priors]
    if unknown:
        raise InferenceError(f"{settings.priors_file}: no prior for fitted parameter '{unknown[0]}'")
    simulator = Simulator(data, priors, tuple(settings.fitted))
    simulator.rows = _used_rows(data)
    observed = dict.fromkeys(simulator.rows, 0.0)
    folder.mkdir(parents=True, exist_ok=True)
    db, stamp = folder / "abc.db", folder / "settings.json"
    key = settings.key()
    with ChunkExecutor(workers, scheduler, dask_local) as executor:
        sampler = _sampler_class()(settings.seed, settings.chunk, executor, progress)
        abc = pyabc.ABCSMC(simulator, pyabc_prior(priors, settings.fitted), pyabc.PNormDistance(p=2),
                           population_size=settings.population, sampler=sampler,
                           transitions=_particle_classes()[1]())
        stamped = json.loads(stamp.read_text()).get("key") if stamp.is_file() else None
        if db.exists() and stamped != key:
            if not overwrite:
                raise InferenceError(f"{folder}: holds a calibration history of other settings; expected "
                                     "--overwrite to replace it, or another --out")
            db.unlink()
        if db.is_file():
            history = abc.load(f"sqlite:///{db}", 1)
            done = history.max_t + 1
            log(f"resuming {db}: {done} of {settings.generations} generations done")
        else:
            stamp.write_text(json.dumps({"key": key, "settings": asdict(settings)}, indent=1))
            history = abc.new(f"sqlite:///{db}", observed)
            done = 0
        if done < settings.generations:
            history = abc.run(max_nr_populations=settings.generations - done,
                              min_acceptance_rate=settings.min_acceptance_rate)
        frame, weights = history.get_distribution(m=0, t=history.max_t)
        fitted = frame.rename(columns=_unsafe)[list(settings.fitted)].reset_index(drop=True)
        others = priors.draw(len(fitted), settings.seed, [n for n in priors.names if n not in settings.fitted])
        draws = pd.concat([fitted, others], axis=1)[priors.names]
        populations = history.get_all_populations()
        discrepancy, predictive = posterior_discrepancy(draws, weights, settings, executor, progress)
    generations = populations[populations["t"] >= 0][["t", "epsilon", "samples"]].rename(
        columns={"t": "generation", "samples": "simulations"})
    generations["acceptance_rate"] = settings.population / generations["simulations"]
    provenance = {
        "date": dt.date.today().isoformat(),
        "scenario": "historical",
        "method": "ABC-SMC (pyabc.ABCSMC; multivariate normal transitions, median epsilon schedule, "
                  "Euclidean distance of the rows' scaled errors), seeded sampler (experiments.calibration.inference)",
        "library": f"pyabc {pyabc.__version__}",
        "seed": settings.seed,
        "population": settings.population,
        "generations": int(history.max_t + 1),
        "epsilons": [round(float(e), 4) for e in generations["epsilon"]],
        "simulations": int(populations["samples"].sum()),  # the prior sample (t = -1) included
        "sampling_wall_time_s": round(float(populations["wall_time"].sum()), 1),  # over every call
        "effective_sample_size": round(float(1 / np.sum(np.asarray(weights) ** 2)), 1),
        "data": Path(settings.data_file).name,
        "priors": Path(settings.priors_file).name,
        "fitted": list(settings.fitted),
        "others": "drawn from their priors (seeded), independently of the fitted ones; in the fit, drawn afresh for each simulation",
        "rows": simulator.rows,
        "held_back_from": settings.held_back_from or "",
        "held_back_to": settings.held_back_to or "",
        "predictive_draws": settings.predictive_draws,
        "settings_key": key,
    }
    return Result(draws, np.asarray(weights, dtype=float), provenance, discrepancy,
                  generations.reset_index(drop=True))


def _used_rows(data: pd.DataFrame) -> list[str]:
    """The rows the distance uses (one run at the prior's defaults names them)."""
    scenario = load_scenario("historical", fitted=False).with_overrides({"end": RUN_END})
    runs = run_seeds(scenario, [0])
    return row_keys(target_rows(data, runs, modelled_foundries(runs)))


# ---------------------------------------------------------------- discrepancy
def _predictive_chunk(blob: bytes, digest: str, keys: list[tuple[int, int, int]]) -> list:
    """Worker side: the historical run to RUN_END of each (_, draw, seed) key."""
    rows = _loaded(blob, digest)
    out = []
    for _, index, seed in keys:
        scenario = load_scenario("historical", fitted=False).with_overrides(
            {**Priors.overrides(rows[index]), "end": RUN_END})
        out.append(run_seeds(scenario, [seed])[0])
    return out


def posterior_discrepancy(draws: pd.DataFrame, weights, settings: Settings, executor: ChunkExecutor,
                          progress: bool = True) -> tuple[Discrepancy, pd.DataFrame]:
    """Each data quantity's discrepancy scale from the posterior predictive: a moment
    estimate over its in-sample rows outside the held-back window, the mean squared
    error of the predictive mean less the variance the ensemble's own spread already
    gives (floored at 0), shrunk toward the pooled figure of its unit (`SHRINKAGE`);
    in points for percentages and as a log ratio otherwise."""
    import cloudpickle
    from tqdm import tqdm

    weights = np.asarray(weights, dtype=float) / np.sum(weights)
    rng = np.random.default_rng(np.random.SeedSequence((settings.seed, 7)))
    n = settings.predictive_draws
    picked = rng.choice(len(draws), size=n, p=weights)
    rows = [draws.iloc[i].to_dict() for i in picked]
    blob = cloudpickle.dumps(rows)
    digest = hashlib.sha256(blob).hexdigest()
    keys = [(0, i, int(s)) for i, s in enumerate(rng.integers(0, 2**31 - 1, size=n))]
    chunks = iter([keys[i:i + 5] for i in range(0, n, 5)])
    runs = []
    results = executor.imap(_predictive_chunk, blob, digest, chunks)
    with tqdm(total=n, desc="posterior predictive", unit="run", file=sys.stderr, leave=False,
              disable=not progress) as bar:
        try:
            for part in results:
                runs.extend(part)
                bar.update(len(part))
        finally:
            results.close()
    data = read_data(settings.data_file)
    table = compare_with_data(data, runs, modelled_foundries(runs))
    table = table[table["speaks"] & table["in_sample"].astype(bool)].copy()
    table["held_back"] = table["period"].map(lambda p: held_back(p, settings))
    table["percent"] = table["unit"].str.startswith("%") | table["unit"].str.contains("% of")
    value = table["data_value"].astype(float)
    error = table["error"].astype(float)
    low, high = table["model_p05"].astype(float), table["model_p95"].astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = np.where(table["percent"], np.nan, (value + error) / value)
        table["residual"] = np.where(table["percent"], error, np.log(np.where(ratio > 0, ratio, np.nan)))
        # the model's own spread over the predictive runs, as a normal's sd from its 5-95% band
        spread = np.where(table["percent"], high - low, np.log(np.where((low > 0) & (high > 0), high / low, np.nan)))
    table["model_sd"] = spread / (2 * 1.6449)
    fitted = table[~table["held_back"] & np.isfinite(table["residual"]) & np.isfinite(table["model_sd"])]
    excess = fitted["residual"] ** 2 - fitted["model_sd"] ** 2  # what the ensemble's spread does not cover
    own = excess.clip(lower=0).groupby([fitted["percent"], fitted["quantity"]]).agg(["sum", "count"])
    # a unit's pooled variance: the typical quantity's (the median over quantities of
    # their mean excess), not the mean over rows, which the worst-fitted quantity rules
    defaults = {kind: float((own.loc[kind, "sum"] / own.loc[kind, "count"]).median())
                if kind in own.index.get_level_values(0) else 0.0 for kind in (False, True)}
    scales = {}
    for (kind, quantity), (total, n) in own.iterrows():
        # shrunk toward the unit's pooled variance by SHRINKAGE pseudo-rows, so a quantity
        # with one row does not get a band built around its own residual
        variance = (total + SHRINKAGE * defaults[bool(kind)]) / (n + SHRINKAGE)
        scales[quantity] = round(float(np.sqrt(variance)), 4)
    discrepancy = Discrepancy(scales, default=round(float(np.sqrt(defaults[False])), 4),
                              default_percent=round(float(np.sqrt(defaults[True])), 4))
    return discrepancy, table


# ---------------------------------------------------------------- writing
def write_posterior(result: Result, path: Path = POSTERIOR_FILE) -> tuple[Path, Path]:
    """posterior.csv and posterior.toml, each written to a temporary file and renamed."""
    from experiments.outputs import write_text_atomic

    frame = posterior_frame(result.draws, result.weights)
    write_text_atomic(path, frame.to_csv(index=False, float_format="%.8g"))
    lines = ["# Written by `chipstate calibrate`. Do not edit by hand: re-run the command.",
             "# The draws are in posterior.csv beside this file (experiments/posterior.py reads both).", "",
             "[provenance]"]
    lines += [f"{k} = {toml_value(v)}" for k, v in result.provenance.items()]
    lines += ["", "[discrepancy]",
              "# Model-discrepancy scale per data quantity: points for percentages, a log ratio",
              "# otherwise; default (levels) and default_percent for quantities the fit saw no row of.",
              f"default = {toml_value(result.discrepancy.default)}",
              f"default_percent = {toml_value(result.discrepancy.default_percent)}", "", "[discrepancy.scales]"]
    lines += [f"{json.dumps(q)} = {toml_value(s)}" for q, s in sorted(result.discrepancy.scales.items())]
    meta = provenance_path(path)
    write_text_atomic(meta, "\n".join(lines) + "\n")
    return path, meta
