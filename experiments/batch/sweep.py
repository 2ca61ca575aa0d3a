"""Sweeps as data: the schema of a sweep file, its designs, seeds, outcomes and runs.

A sweep file is TOML (read with ``tomllib``) with these tables::

    [sweep]               name, description, scenario (name or path), steps (optional)
    [design]              kind = "grid" | "lhs" | "sobol" | "morris" | "posterior", samples, seed, ...;
                          an lhs may take marginals = "priors" (model/data/priors.toml);
                          a posterior design takes draws = N and posterior = "path"
    [seeds]               replicates and base (seeds base, base+1, ...) or an explicit list
    [fixed]               parameter overrides applied to every run
    [parameters.NAME]     values = [...] (grid, or categories) or range = [low, high]
    [[outcomes]]          name, reporter, stat ("value", "mean", "sum", "min", "max"),
                          at (a quarter or "last") or start/end (a window of quarters)
    [series]              keep = [reporter, ...]: the time series stored for every run

Seed policy: common random numbers. Every sample runs with the same list of seeds, so
any two samples (or two scenarios) differ only by what the design changed. Sampled
designs (LHS, Sobol, Morris) are drawn by SALib from `design.seed`, so a sweep file
always expands to the same runs.

Size: a sweep plans at most `MAX_RUNS` runs (samples x seeds; 1,000,000, about what
one machine can hold as a plan and a results folder). A larger design is refused when
the file is read, naming the field, before any sample is drawn.

Every problem with a file is raised as one `SweepError` naming the file, the field and
what was expected.
"""

from __future__ import annotations

import hashlib
import io
import itertools
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, field_validator, model_validator

from experiments.outputs import digest
from experiments.provenance import model_version
from experiments.posterior import POSTERIOR_FILE, Ensemble, PosteriorError, load_posterior
from model.priors import Priors, PriorsError, load_priors
from model.scenario import (
    DEFAULT_SCENARIO,
    Parameters,
    Scenario,
    ScenarioError,
    load_scenario,
    parameter_groups,
    read_toml,
)
from model.technology import parse_quarter, quarter_label

SWEEP_DIR = Path(__file__).resolve().parents[1] / "sweeps"
SCENARIO_PARAMETER = "scenario"
"""A grid may vary the base scenario itself (paired scenario comparisons do)."""
DRAW_COLUMN = "draw"
"""In a posterior design, the column holding each sample's draw (the posterior file's
`draw` id): runs of one draw under two lever settings are paired by it and the seed."""

# Columns every stored run has; parameter and outcome names may not take them.
META_COLUMNS = (
    "run_key", "sweep", "sample", "replicate", "seed", "scenario", "status", "error",
    "traceback", "elapsed_s", "model_version", "parameters_json", "quarter",
)


MAX_RUNS = 1_000_000
"""The most runs (samples x seeds) a sweep may plan; `design.samples` is capped alike."""


class SweepError(ValueError):
    """A sweep file or sweep definition is wrong. The message names file, field, expectation."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _check_quarter(value: str | None) -> str | None:
    if value is not None and value != "last":
        parse_quarter(value)
    return value


# --------------------------------------------------------------------------- schema
class ParameterRange(_Strict):
    """One swept parameter: explicit `values`, or a uniform `range` [low, high].

    In a grid, a range needs `levels` (evenly spaced values, ends included). In a
    sampled design a `values` list is a categorical factor: SALib samples its index.
    `integer` rounds sampled values (for count parameters).
    """

    values: tuple[Any, ...] | None = Field(None, min_length=1)
    range: tuple[float, float] | None = None
    levels: int | None = Field(None, ge=2)
    integer: bool = False
    group: Literal["levers", "uncertainties", "world"] | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> ParameterRange:
        if (self.values is None) == (self.range is None):
            raise ValueError("give exactly one of 'values' or 'range'")
        if self.range is not None and not self.range[0] < self.range[1]:
            raise ValueError(f"'range' must be [low, high] with low < high, got {list(self.range)}")
        return self


class Design(_Strict):
    """How samples are drawn.

    - ``grid``: the full factorial of every parameter's values;
    - ``lhs``: `samples` Latin-hypercube rows (SALib ``latin``);
    - ``sobol``: Saltelli/Sobol' rows for `samples` = N (a power of 2): N(D+2) rows,
      or N(2D+2) with `second_order`;
    - ``morris``: `samples` = r trajectories of D+1 rows on a `levels`-level grid.

    `marginals` (lhs only): ``uniform`` samples each range evenly; ``priors`` takes each
    ranged parameter's prior (model/data/priors.toml, `model.priors`) as its marginal:
    the Latin hypercube's strata on [0, 1) go through the prior's inverse CDF, so a
    truncated normal or log-uniform prior is sampled as it is shaped. Its range must
    then be the prior's support (checked).

    ``posterior``: `draws` = N draws of a posterior ensemble (`posterior`, a posterior.csv;
    default model/data/posterior.csv; a relative path is taken relative to the sweep
    file), picked by weight with `experiments.posterior.Ensemble.sample(N, seed)`, each with
    every parameter the posterior has, crossed with the full factorial of the swept
    parameters (levers: `values`, or `range` with `levels`). The posterior file's
    content hash is part of the sweep's definition: a changed posterior is another sweep.
    """

    kind: Literal["grid", "lhs", "sobol", "morris", "posterior"]
    samples: int | None = Field(None, ge=1, le=MAX_RUNS)
    seed: int = Field(0, ge=0)
    second_order: bool = False
    levels: int = Field(4, ge=2)
    marginals: Literal["uniform", "priors"] = "uniform"
    draws: int | None = Field(None, ge=1, le=MAX_RUNS)
    posterior: str | None = Field(None, min_length=1)

    @model_validator(mode="after")
    def _samples(self) -> Design:
        if self.kind == "posterior":
            if self.draws is None:
                raise ValueError("design 'posterior' needs 'draws' (how many posterior draws, >= 1)")
            if self.samples is not None:
                raise ValueError("design 'posterior' takes 'draws', not 'samples'")
            if self.marginals != "uniform":
                raise ValueError("design 'posterior' takes no 'marginals' (its draws are the posterior's)")
            return self
        for name in ("draws", "posterior"):
            if getattr(self, name) is not None:
                raise ValueError(f"'{name}' is for a posterior design (kind = \"posterior\"), not '{self.kind}'")
        if self.kind != "grid" and self.samples is None:
            raise ValueError(f"design '{self.kind}' needs 'samples'")
        if self.kind == "grid" and self.samples is not None:
            raise ValueError("design 'grid' takes no 'samples' (its size is the product of the values)")
        if self.kind == "sobol" and self.samples & (self.samples - 1):
            raise ValueError(f"sobol 'samples' must be a power of 2, got {self.samples}")
        if self.marginals == "priors" and self.kind != "lhs":
            raise ValueError(f"marginals 'priors' is for an lhs design, not '{self.kind}'")
        return self


class Seeds(_Strict):
    """The seed list every sample runs with (common random numbers).

    Either `values` (an explicit list) or `replicates` seeds ``base, base+1, ...``.
    Each seed feeds the model's numpy Generator (``rng=seed``).
    """

    replicates: int = Field(1, ge=1, le=100_000)
    base: int = Field(0, ge=0)
    values: tuple[int, ...] | None = Field(None, min_length=1)

    @model_validator(mode="after")
    def _one_policy(self) -> Seeds:
        if self.values is not None and {"replicates", "base"} & self.model_fields_set:
            raise ValueError("give either 'values' (a seed list) or 'replicates'/'base', not both")
        return self

    def seed_list(self) -> list[int]:
        if self.values is not None:
            return list(self.values)
        return [self.base + r for r in range(self.replicates)]

    @field_validator("values")
    @classmethod
    def _distinct(cls, value: tuple[int, ...] | None) -> tuple[int, ...] | None:
        if value is not None:
            if len(set(value)) != len(value):
                raise ValueError("seeds must be distinct")
            if min(value) < 0:
                raise ValueError("seeds must be >= 0")
        return value


class Outcome(_Strict):
    """A scalar summary of one model reporter over a run.

    ``stat = "value"`` takes the reporter at quarter `at` (or ``"last"``, the final
    quarter); the others (mean, sum, min, max) summarise the window `start`..`end`
    (inclusive quarters; either end may be left open). Units are the reporter's.
    """

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    reporter: str
    stat: Literal["value", "mean", "sum", "min", "max"] = "value"
    at: str | None = None
    start: str | None = None
    end: str | None = None
    description: str = ""

    _quarters = field_validator("at", "start", "end")(_check_quarter)

    @model_validator(mode="after")
    def _window(self) -> Outcome:
        if self.stat == "value":
            if self.at is None:
                raise ValueError("stat 'value' needs 'at' (a quarter like '2030Q4' or 'last')")
            if self.start is not None or self.end is not None:
                raise ValueError("stat 'value' takes 'at', not 'start'/'end'")
        else:
            if self.at is not None:
                raise ValueError(f"stat '{self.stat}' takes 'start'/'end', not 'at'")
            if "last" in (self.start, self.end):
                raise ValueError("'start'/'end' must be quarters like '2024Q1'")
            if self.start and self.end and parse_quarter(self.start) > parse_quarter(self.end):
                raise ValueError(f"'start' {self.start} is after 'end' {self.end}")
        return self

    def window(self) -> tuple[int | None, int | None]:
        """The quarters (absolute numbers, inclusive) this outcome reads; None = open."""
        if self.stat == "value":
            return (None, None) if self.at == "last" else (parse_quarter(self.at),) * 2
        return (
            None if self.start is None else parse_quarter(self.start),
            None if self.end is None else parse_quarter(self.end),
        )


class Sweep(_Strict):
    """A whole sweep, validated. Build one in code or with `load_sweep`."""

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    description: str = ""
    scenario: str = DEFAULT_SCENARIO
    steps: int | None = Field(None, ge=0)
    design: Design
    seeds: Seeds = Seeds()
    fixed: dict[str, Any] = Field(default_factory=dict)
    parameters: dict[str, ParameterRange] = Field(min_length=1)
    outcomes: tuple[Outcome, ...] = Field(min_length=1)
    series: tuple[str, ...] = ()
    source: str = Field("(in code)", description="The file it came from, for messages.")
    _posterior: tuple | None = PrivateAttr(None)  # a posterior design's file, read once (`_pinned`)

    @model_validator(mode="after")
    def _names(self) -> Sweep:
        names = [o.name for o in self.outcomes]
        if len(set(names)) != len(names):
            raise ValueError("outcome names must be distinct")
        clash = set(names) & (set(self.parameters) | set(META_COLUMNS) | set(self.series))
        if clash:
            raise ValueError(f"outcome name '{sorted(clash)[0]}' clashes with a parameter, series or column")
        clash = set(self.series) & (set(self.parameters) | set(META_COLUMNS))
        if clash:
            raise ValueError(f"series '{sorted(clash)[0]}' clashes with a parameter or column")
        return self

    @model_validator(mode="after")
    def _size(self) -> Sweep:
        samples = self.sample_count()
        if samples > MAX_RUNS:
            where = "parameters" if self.design.kind == "grid" else "design.samples"
            raise ValueError(
                f"field '{where}': the design has {samples:,} samples; at most {MAX_RUNS:,} "
                "runs (samples x seeds) per sweep"
            )
        seeds = len(self.seed_list())
        if samples * seeds > MAX_RUNS:
            where = "seeds.values" if self.seeds.values is not None else "seeds.replicates"
            raise ValueError(
                f"field '{where}': {samples:,} samples x {seeds:,} seeds = {samples * seeds:,} runs; "
                f"at most {MAX_RUNS:,} runs per sweep"
            )
        return self

    def sample_count(self) -> int:
        """How many samples the design has, computed without drawing them."""
        d = len(self.parameters)
        if self.design.kind in ("grid", "posterior"):
            count = self.design.draws if self.design.kind == "posterior" else 1
            for spec in self.parameters.values():
                count *= len(spec.values) if spec.values is not None else (spec.levels or 1)
            return count
        n = self.design.samples
        if self.design.kind == "sobol":
            return n * (2 * d + 2 if self.design.second_order else d + 2)
        if self.design.kind == "morris":
            return n * (d + 1)
        return n

    # ------------------------------------------------------------------ derived data
    def seed_list(self) -> list[int]:
        """The seeds every sample runs with, in replicate order."""
        return self.seeds.seed_list()

    def problem(self) -> dict | None:
        """The SALib problem of a sampled design (None for a grid).

        Ranged parameters are sampled on their range; categorical ones (`values`) on
        [0, 1), the value's index being floor(x * len(values)).
        """
        if self.design.kind in ("grid", "posterior"):
            return None
        names = list(self.parameters)
        bounds = [list(p.range) if p.range is not None else [0.0, 1.0] for p in self.parameters.values()]
        return {"num_vars": len(names), "names": names, "bounds": bounds}

    def samples(self) -> pd.DataFrame:
        """One row per sample (index = sample number), one column per swept parameter.

        Values are what the model receives (tuples for list parameters). For sampled
        designs, the raw SALib matrix is in ``frame.attrs["X"]`` (samples x D).

        A posterior design's frame has `DRAW_COLUMN` (the posterior's draw id), one
        column per posterior parameter (as the posterior names it: ``table.KEY`` for a
        table entry) and the swept parameters; draw-major (pick 0 under every lever
        setting first).
        """
        names = list(self.parameters)
        specs = list(self.parameters.values())
        if self.design.kind == "posterior":
            _, ensemble, ids = self._pinned()
            picks = ensemble.sample(self.design.draws, self.design.seed)
            draws = ensemble.draws.to_numpy(dtype=float)
            levers = list(itertools.product(*[_grid_values(spec) for spec in specs]))
            rows = [[int(ids[pick]), *draws[pick].tolist(), *combo]
                    for pick in picks for combo in levers]
            frame = pd.DataFrame(rows, columns=[DRAW_COLUMN, *ensemble.names, *names], dtype=object)
            frame[DRAW_COLUMN] = frame[DRAW_COLUMN].astype(int)
            for name in ensemble.names:
                frame[name] = frame[name].astype(float)
            frame.attrs["X"] = None
            return frame
        if self.design.kind == "grid":
            columns = [_grid_values(spec) for spec in specs]
            rows = list(itertools.product(*columns))
            frame = pd.DataFrame(rows, columns=names, dtype=object)
            frame.attrs["X"] = None
            return frame
        if self.design.marginals == "priors":
            x = _prior_marginals(_salib_sample(self.design, _unit_problem(names)), names, specs)
        else:
            x = _salib_sample(self.design, self.problem())
        rows = []
        for row in x:
            rows.append([_decode(spec, value) for spec, value in zip(specs, row)])
        frame = pd.DataFrame(rows, columns=names, dtype=object)
        frame.attrs["X"] = x
        return frame

    def definition(self) -> dict:
        """The sweep as plain JSON data (for the manifest and the sweep hash). A design
        with uniform marginals (the default) leaves the field out, so sweeps written
        before `marginals` existed keep their hash and resume. A posterior design's
        definition holds its posterior file's content hash (`posterior_sha256`), not its
        path: the same draws from anywhere are the same sweep, other draws another."""
        exclude: dict = {"source": True}
        design_fields = set()
        if self.design.marginals == "uniform":
            design_fields.add("marginals")
        if self.design.kind != "posterior":
            design_fields |= {"draws", "posterior"}
        else:
            design_fields.add("posterior")
        exclude["design"] = design_fields
        definition = json.loads(self.model_dump_json(exclude=exclude))
        if self.design.kind == "posterior":
            definition["design"]["posterior_sha256"] = self._pinned()[0]
        return definition

    def posterior_path(self) -> Path:
        """A posterior design's posterior file (absolute; model/data/posterior.csv unless
        `design.posterior` names another, relative to the sweep file)."""
        if self.design.posterior is None:
            return POSTERIOR_FILE
        path = Path(self.design.posterior)
        if not path.is_absolute() and self.source != "(in code)":
            path = Path(self.source).resolve().parent / path
        return path

    def ensemble(self) -> Ensemble:
        """A posterior design's ensemble; SweepError naming 'design.posterior' if it
        cannot be read."""
        return self._pinned()[1]

    def _pinned(self) -> tuple[str, Ensemble, np.ndarray]:
        """The posterior as this sweep first read it: its sha256, ensemble and draw ids.
        Read once per Sweep, so a file rewritten later cannot change a sweep under way
        (it is another sweep when read again)."""
        if self._posterior is None:
            path = self.posterior_path()
            where = f"{self.source}: field 'design.posterior'"
            try:
                ensemble = load_posterior(path)
                content = path.read_bytes()
            except PosteriorError as exc:
                raise SweepError(f"{where}: {exc}") from None
            except OSError as exc:
                raise SweepError(f"{where}: {path}: cannot be read ({exc.strerror})") from None
            ids = pd.read_csv(io.BytesIO(content), usecols=["draw"])["draw"].to_numpy()
            if len(ids) != len(ensemble):  # rewritten between the two reads
                raise SweepError(f"{where}: {path} changed while it was read; expected a file at rest")
            self._posterior = (hashlib.sha256(content).hexdigest(), ensemble, ids)
        return self._posterior

    def parameter_names(self) -> list[str]:
        """Every parameter a sample sets: a posterior design's posterior parameters,
        then the swept ones (what the manifest lists and scenario discovery reads)."""
        names = list(self.parameters)
        return [*self.ensemble().names, *names] if self.design.kind == "posterior" else names

    def digest(self) -> str:
        """A hash of what the sweep computes (definition without its source path)."""
        return digest(self.definition(), None)


def _grid_values(spec: ParameterRange) -> list[Any]:
    if spec.values is not None:
        return [_model_value(v) for v in spec.values]
    if spec.levels is None:
        raise ValueError("a grid parameter with 'range' needs 'levels'")
    values = np.linspace(spec.range[0], spec.range[1], spec.levels)
    return [int(round(v)) if spec.integer else float(v) for v in values]


def _model_value(value: Any) -> Any:
    # TOML arrays arrive as lists; tuples keep samples hashable and match Parameters.
    return tuple(value) if isinstance(value, list) else value


def _decode(spec: ParameterRange, x: float) -> Any:
    if spec.values is not None:
        index = min(int(x * len(spec.values)), len(spec.values) - 1)
        return _model_value(spec.values[index])
    return int(round(x)) if spec.integer else float(x)


def _unit_problem(names: list[str]) -> dict:
    """A SALib problem over the unit cube (the strata that `_prior_marginals` maps)."""
    return {"num_vars": len(names), "names": names, "bounds": [[0.0, 1.0]] * len(names)}


def _prior_marginals(u: np.ndarray, names: list[str], specs: list[ParameterRange]) -> np.ndarray:
    """Each ranged column of the unit-cube sample `u` through its prior's inverse CDF
    (a categorical column stays on [0, 1), as `_decode` reads it)."""
    priors = load_priors()
    x = np.array(u, dtype=float)
    for j, (name, spec) in enumerate(zip(names, specs)):
        if spec.range is not None:
            x[:, j] = priors[name].frozen().ppf(u[:, j])
    return x


def _salib_sample(design: Design, problem: dict) -> np.ndarray:
    # SALib draws from the seed given here only (its samplers take `seed=`).
    if design.kind == "lhs":
        from SALib.sample import latin

        return latin.sample(problem, design.samples, seed=design.seed)
    if design.kind == "sobol":
        from SALib.sample import sobol

        return sobol.sample(
            problem, design.samples, calc_second_order=design.second_order, seed=design.seed
        )
    from SALib.sample import morris

    return morris.sample(problem, design.samples, num_levels=design.levels, seed=design.seed)


# --------------------------------------------------------------------------- loading
def _describe(error: dict) -> str:
    loc = ".".join(str(part) for part in error["loc"])
    msg = error["msg"].removeprefix("Value error, ")
    text = f"field '{loc}': {msg}" if loc else msg
    if "input" in error and not isinstance(error["input"], dict):
        text += f" (got {error['input']!r})"
    return text


def _file_layout(raw: dict) -> dict:
    """Map the file's tables onto `Sweep`'s fields, leaving unknown tables to fail."""
    data = dict(raw)
    info = data.pop("sweep", None)
    if not isinstance(info, dict):
        raise SweepError("table [sweep] is missing; expected name, scenario, ...")
    series = data.pop("series", {})
    if not isinstance(series, dict):
        raise SweepError("field 'series': expected a table with 'keep = [reporter, ...]'")
    unknown = sorted(set(series) - {"keep"})
    if unknown:
        raise SweepError(f"field 'series.{unknown[0]}': unknown key; expected 'keep'")
    return {**info, **data, "series": series.get("keep", [])}


def load_sweep(name_or_path: str | Path, overrides: dict | None = None) -> Sweep:
    """Read and validate a sweep file (a path, or a name under experiments/sweeps/).

    `overrides` replaces top-level fields (e.g. ``{"steps": 8}``). A relative scenario
    path is taken relative to the sweep file. Raises one SweepError naming the file,
    the field and what was expected; checks every parameter name and value against the
    scenario's schema (`Parameters`).
    """
    path = Path(name_or_path)
    if path.suffix != ".toml" and not path.exists():
        path = SWEEP_DIR / f"{name_or_path}.toml"
        if not path.is_file():
            shipped = ", ".join(list_sweeps())
            raise SweepError(f"sweep '{name_or_path}': no such sweep file; expected a path or one of: {shipped}")
    raw = read_toml(path, SweepError)
    try:
        data = _file_layout(raw)
    except SweepError as exc:
        raise SweepError(f"{path}: {exc}") from None
    scenario = data.get("scenario")
    if isinstance(scenario, str) and scenario.endswith(".toml") and not Path(scenario).is_absolute():
        data["scenario"] = str((path.parent / scenario).resolve())
    data.update(overrides or {})
    return build_sweep(source=str(path), **data)


def build_sweep(source: str = "(in code)", **fields: Any) -> Sweep:
    """Validate a sweep given as keyword fields (the same as a file's); raise SweepError."""
    try:
        sweep = Sweep(source=source, **fields)
    except ValidationError as exc:
        raise SweepError(f"{source}: " + "; ".join(_describe(e) for e in exc.errors())) from None
    check_sweep(sweep)
    return sweep


def check_sweep(sweep: Sweep) -> None:
    """Check a sweep against the model's parameters and scenarios; raise SweepError.

    Every swept and fixed name must be a `Parameters` field (or ``scenario`` in a grid),
    its declared group must match, and every value (both ends of a range) must be valid
    for the base scenario. Outcome windows must overlap the simulated quarters.
    """
    src = sweep.source
    groups = parameter_groups()
    bases: dict[str, Scenario] = {}  # each base scenario read once, then overridden

    def try_scenario(name: str, overrides: dict, where: str) -> Scenario:
        try:
            if name not in bases:
                bases[name] = load_scenario(name)
            return bases[name].with_overrides(overrides, "override")
        except ScenarioError as exc:
            raise SweepError(f"{where}: {str(exc).removeprefix('override: ')}") from None

    for name in sweep.fixed:
        if name not in groups:
            raise SweepError(f"{src}: field 'fixed.{name}': unknown parameter; expected one of: " + ", ".join(sorted(groups)))
    for name, spec in sweep.parameters.items():
        where = f"parameters.{name}"
        if name == SCENARIO_PARAMETER:
            if sweep.design.kind not in ("grid", "posterior") or spec.values is None:
                raise SweepError(f"{src}: field '{where}': the scenario can only be varied in a grid "
                                 "or a posterior design, with 'values'")
            for value in spec.values:
                try_scenario(value, sweep.fixed, f"{src}: field '{where}.values'")
            continue
        if name not in groups:
            raise SweepError(f"{src}: field '{where}': unknown parameter; expected one of: " + ", ".join(sorted(groups)))
        if name in sweep.fixed:
            raise SweepError(f"{src}: field '{where}': also set in [fixed]; a parameter is either fixed or swept")
        if spec.group is not None and spec.group != groups[name]:
            raise SweepError(f"{src}: field '{where}.group': '{name}' is in group '{groups[name]}', not '{spec.group}'")
        if sweep.design.kind in ("grid", "posterior") and spec.range is not None and spec.levels is None:
            raise SweepError(f"{src}: field '{where}': a {sweep.design.kind} design needs 'values', "
                             "or 'range' with 'levels'")
        if spec.values is not None:
            candidates = [("values", _model_value(v)) for v in spec.values]
        else:
            ends = [int(round(v)) if spec.integer else v for v in spec.range]
            candidates = [("range", v) for v in ends]
        for part, value in candidates:
            try_scenario(sweep.scenario, {**sweep.fixed, name: value}, f"{src}: field '{where}.{part}'")
    if sweep.design.marginals == "priors":
        _check_prior_ranges(sweep)
    if sweep.design.kind == "posterior":
        _check_posterior(sweep, try_scenario)
    base = try_scenario(_scenarios(sweep)[0], sweep.fixed, f"{src}: field 'fixed'")
    _check_windows(sweep, base.parameters)


def _check_prior_ranges(sweep: Sweep) -> None:
    """With `marginals = "priors"`, every ranged parameter has a prior and its range is
    the prior's support; raise SweepError naming the field otherwise."""
    try:
        priors = load_priors()
    except PriorsError as exc:
        raise SweepError(f"{sweep.source}: field 'design.marginals': {exc}") from None
    for name, spec in sweep.parameters.items():
        if spec.range is None:
            continue
        where = f"{sweep.source}: field 'parameters.{name}.range'"
        if name not in priors:
            raise SweepError(f"{where}: marginals 'priors' needs a prior for '{name}' in {priors.path}; "
                             "expected a parameter that has one")
        low, high = priors.ranges([name])[name]
        if not np.allclose(spec.range, (low, high), rtol=1e-12, atol=0.0):
            raise SweepError(f"{where}: {list(spec.range)} is not the prior's support; expected [{low:g}, {high:g}]")


def _check_posterior(sweep: Sweep, try_scenario) -> None:
    """A posterior design's ensemble must be readable (`Sweep.ensemble`), its parameters
    neither swept nor fixed nor named like an outcome or series, and a draw valid for
    every scenario the sweep runs; raise SweepError naming the field otherwise."""
    src = sweep.source
    ensemble = sweep.ensemble()
    drawn = set(ensemble.names) | {name.split(".", 1)[0] for name in ensemble.names}
    for table, names in (("parameters", sweep.parameters), ("fixed", sweep.fixed)):
        for name in names:
            if name in drawn or name == DRAW_COLUMN:
                raise SweepError(f"{src}: field '{table}.{name}': the posterior {ensemble.path} draws it; "
                                 "expected a parameter the posterior does not set")
    names = {o.name for o in sweep.outcomes} | set(sweep.series)
    clash = sorted(names & (set(ensemble.names) | {DRAW_COLUMN}))
    if clash:
        raise SweepError(f"{src}: field 'outcomes': '{clash[0]}' is a column of the posterior design; expected another name")
    overrides = Priors.overrides(ensemble.draws.iloc[0].to_dict())
    for scenario in _scenarios(sweep):
        try_scenario(scenario, {**sweep.fixed, **overrides}, f"{src}: field 'design.posterior' ({ensemble.path}, first draw)")


def _scenarios(sweep: Sweep) -> list[str]:
    spec = sweep.parameters.get(SCENARIO_PARAMETER)
    return list(spec.values) if spec is not None else [sweep.scenario]


def simulated_quarters(params: Parameters, steps: int | None) -> tuple[int, int]:
    """First and last quarter (absolute numbers) a run records after its initial row."""
    first, last = parse_quarter(params.start), parse_quarter(params.end)
    if steps is not None:
        last = min(last, first + steps - 1)
    return first, last


def _check_windows(sweep: Sweep, params: Parameters) -> None:
    first, last = simulated_quarters(params, sweep.steps)
    for i, outcome in enumerate(sweep.outcomes):
        low, high = outcome.window()
        if (low is not None and low > last) or (high is not None and high < first):
            raise SweepError(
                f"{sweep.source}: field 'outcomes.{i}' ({outcome.name}): quarters "
                f"{outcome.at or (outcome.start or '...') + '..' + (outcome.end or '...')} lie outside "
                f"the simulated {quarter_label(first)}..{quarter_label(last)}"
                + (f" (steps={sweep.steps})" if sweep.steps is not None else "")
            )


def list_sweeps() -> list[str]:
    """Names of the shipped sweep files."""
    return sorted(p.stem for p in SWEEP_DIR.glob("*.toml"))


# ---------------------------------------------------------------------- runs and keys
@dataclass(frozen=True)
class RunTask:
    """One run to make: everything a worker needs, in plain picklable data.

    `overrides` go to the model as keyword parameters; `columns` are the swept values
    as stored (lists joined with commas); `key` identifies the run in the store.
    """

    key: str
    sweep: str
    sample: int
    replicate: int
    seed: int
    scenario: str
    overrides: dict
    columns: dict
    steps: int | None
    outcomes: tuple[dict, ...]
    series: tuple[str, ...]
    model_version: str
    parameters_json: str
    simulator: Any = field(default=None, compare=False)

    @property
    def reporters(self) -> tuple[str, ...]:
        """The model reporters this run's outcomes and series read (sorted, once each):
        all a sweep records of a run (the model's lean collection mode)."""
        return tuple(sorted({o["reporter"] for o in self.outcomes} | set(self.series)))


def column_value(value: Any) -> Any:
    """A parameter value as stored in a column: sequences joined with commas."""
    if isinstance(value, (tuple, list)):
        return ",".join(str(v) for v in value)
    return value


def simulator_name(simulator: Any = None) -> str | None:
    """The dotted name of a stand-in simulator (None: the model itself)."""
    return None if simulator is None else f"{simulator.__module__}.{simulator.__qualname__}"


def expand(sweep: Sweep, simulator: Any = None) -> tuple[pd.DataFrame, list[RunTask]]:
    """The sweep's samples and its runs, sample-major (sample 0's replicates first).

    A posterior design's runs take each draw's parameters as overrides (table entries
    merged into their tables) and store the draw's id and values as columns.

    Each run's key hashes the resolved scenario (its parameters, rules, directives and
    subsidies), the seed, the steps, the outputs asked for, the model version and the
    simulator, so equal keys mean equal results.
    """
    samples = sweep.samples()
    seeds = sweep.seed_list()
    version = model_version()
    outputs = digest([[o.model_dump() for o in sweep.outcomes], list(sweep.series)], None)
    sim_name = simulator_name(simulator)
    scenarios: dict[str, Any] = {}
    tasks: list[RunTask] = []
    names = list(samples.columns)
    posterior = sweep.design.kind == "posterior"
    drawn = sweep.ensemble().names if posterior else []
    for sample, row in enumerate(samples.itertuples(index=False, name=None)):
        values = dict(zip(names, row))
        scenario_name = values.pop(SCENARIO_PARAMETER, sweep.scenario)
        if posterior:  # the draw's id is no parameter; its values go to the model as overrides
            values.pop(DRAW_COLUMN)
            values = {**Priors.overrides({n: values.pop(n) for n in drawn}), **values}
        if scenario_name not in scenarios:
            scenarios[scenario_name] = load_scenario(scenario_name, sweep.fixed)
        overrides = {**sweep.fixed, **values}
        try:
            resolved = scenarios[scenario_name].with_overrides(values, f"sample {sample}")
        except ScenarioError as exc:
            raise SweepError(f"{sweep.source}: {exc}") from None
        identity = resolved.model_dump(mode="json", exclude={"path"})
        parameters_json = json.dumps(resolved.parameters.model_dump(mode="json"), sort_keys=True)
        columns = {name: column_value(v) for name, v in zip(names, row)}
        for replicate, seed in enumerate(seeds):
            key = digest([identity, seed, sweep.steps, outputs, version, sim_name], 24)
            tasks.append(RunTask(
                key=key, sweep=sweep.name, sample=sample, replicate=replicate, seed=seed,
                scenario=scenario_name, overrides={k: _plain(v) for k, v in overrides.items()},
                columns=columns, steps=sweep.steps,
                outcomes=tuple(o.model_dump() for o in sweep.outcomes),
                series=tuple(sweep.series), model_version=version,
                parameters_json=parameters_json, simulator=simulator,
            ))
    return samples, tasks


def _plain(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value
