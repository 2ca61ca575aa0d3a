"""Priors of the uncertain parameters: data beside the world (model/data/priors.toml).

A priors file is TOML (read with ``tomllib``)::

    [meta]                      description (optional)
    [priors.NAME]               distribution, its parameters, low, high, source
    [priors."TABLE.KEY"]        one entry of a table parameter (foundry_preference.SMIC)

NAME is a field of the `uncertainties` group of `model.scenario.Parameters`; TABLE.KEY
names one entry of a table field (the per-foundry preference multipliers that
`chipstate calibrate` fits), spelt as ``--set`` spells it. Distributions (scipy.stats):

- ``uniform``: `low`, `high`;
- ``loguniform``: `low` > 0, `high`: uniform in log (multipliers, scales);
- ``truncnorm``: `mean`, `sd`, `low`, `high`: a normal cut to [low, high];
- ``beta``: `alpha`, `beta`, `low`, `high`: a beta stretched onto [low, high].

Every prior is bounded: [low, high] is its support, and the range a sweep design
samples (`Priors.sweep_parameters`). `source` names a row of ../shared/data or says
ASSUMPTION with its basis (STYLE.md item 9).

`load_priors` raises one `PriorsError` naming the file and the field for anything wrong:
an unknown name (or a lever's, or a world setting's), a missing or unknown key, a bad
distribution, low >= high, or a support outside the field's own bounds (its ``ge``/
``gt``/``le``/``lt``). Draws come from a seed only: the same seed gives the same draws,
and each parameter's draws do not depend on which other parameters are drawn.
"""

from __future__ import annotations

import zlib
from functools import cached_property
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from model.scenario import Parameters, parameter_groups, read_toml

PRIORS_FILE = Path(__file__).resolve().parent / "data" / "priors.toml"


class PriorsError(ValueError):
    """A priors file is wrong. The message names the file, the field and what was expected."""


class Prior(BaseModel):
    """One parameter's prior: a bounded distribution on [low, high] and its source."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    distribution: Literal["uniform", "loguniform", "truncnorm", "beta"]
    low: float
    high: float
    mean: float | None = None
    sd: float | None = Field(None, gt=0)
    alpha: float | None = Field(None, gt=0)
    beta: float | None = Field(None, gt=0)
    source: str = Field(min_length=1)

    @model_validator(mode="after")
    def _shape(self) -> Prior:
        needs = {"uniform": (), "loguniform": (), "truncnorm": ("mean", "sd"), "beta": ("alpha", "beta")}
        wanted = needs[self.distribution]
        for key in ("mean", "sd", "alpha", "beta"):
            given = getattr(self, key) is not None
            if key in wanted and not given:
                raise ValueError(f"distribution '{self.distribution}' needs '{key}'")
            if key not in wanted and given:
                raise ValueError(f"distribution '{self.distribution}' takes no '{key}' "
                                 f"(expected low, high{''.join(', ' + w for w in wanted)})")
        if not self.low < self.high:
            raise ValueError(f"low {self.low} is not below high {self.high}; expected low < high")
        if self.distribution == "loguniform" and self.low <= 0:
            raise ValueError(f"loguniform needs low > 0, got {self.low}")
        return self

    def scipy_spec(self) -> tuple[str, tuple, dict]:
        """The scipy.stats distribution as (name, args, keywords): ``frozen`` builds it,
        and `chipstate calibrate` hands it to pyabc (``pyabc.RV(name, *args, **kw)``)."""
        if self.distribution == "uniform":
            return "uniform", (), {"loc": self.low, "scale": self.high - self.low}
        if self.distribution == "loguniform":
            return "loguniform", (self.low, self.high), {}
        if self.distribution == "truncnorm":
            a, b = (self.low - self.mean) / self.sd, (self.high - self.mean) / self.sd
            return "truncnorm", (a, b), {"loc": self.mean, "scale": self.sd}
        return "beta", (self.alpha, self.beta), {"loc": self.low, "scale": self.high - self.low}

    def frozen(self):
        """The scipy.stats frozen distribution (support [low, high])."""
        from scipy import stats

        name, args, keywords = self.scipy_spec()
        return getattr(stats, name)(*args, **keywords)

    def describe(self) -> str:
        """The distribution in a few words, e.g. 'loguniform(0.3, 3)'."""
        extra = ""
        if self.distribution == "truncnorm":
            extra = f"mean {self.mean:g}, sd {self.sd:g}, "
        elif self.distribution == "beta":
            extra = f"a {self.alpha:g}, b {self.beta:g}, "
        return f"{self.distribution}({extra}{self.low:g}, {self.high:g})"


class Priors:
    """The priors of a file, by name (file order), validated against `Parameters`."""

    def __init__(self, path: Path, entries: dict[str, Prior], description: str = "") -> None:
        self.path = path
        self.entries = entries
        self.description = description

    def __getitem__(self, name: str) -> Prior:
        return self.entries[name]

    def __contains__(self, name: str) -> bool:
        return name in self.entries

    @property
    def names(self) -> list[str]:
        return list(self.entries)

    def missing(self) -> list[str]:
        """Uncertain fields of `Parameters` with no prior (a table field counts as covered
        when at least one of its entries has one)."""
        covered = {name.split(".", 1)[0] for name in self.entries}
        return [name for name in uncertain_fields() if name not in covered]

    def ranges(self, names: list[str] | None = None) -> dict[str, tuple[float, float]]:
        """Name -> (low, high), the prior's support, for `names` (default: all)."""
        return {name: (self.entries[name].low, self.entries[name].high) for name in self._pick(names)}

    def sweep_parameters(self, names: list[str] | None = None) -> dict[str, dict]:
        """The `[parameters.NAME]` tables of a sweep file (experiments.batch.sweep) that
        sample each prior's support: ``{"range": [low, high], "group": "uncertainties"}``.

        A sweep samples a range uniformly (its Latin hypercube or Sobol' design), whatever
        the prior's shape: use `draw` for draws from the priors themselves. Default
        names: every plain (non-table) parameter; a table entry such as
        ``foundry_preference.SMIC`` is refused (a sweep varies whole parameters)."""
        chosen = self._pick(names) if names is not None else [n for n in self.entries if "." not in n]
        tables = [n for n in chosen if "." in n]
        if tables:
            raise PriorsError(f"{self.path}: field 'priors.{tables[0]}': a sweep varies whole parameters; "
                              "expected a plain parameter name")
        return {name: {"range": [self.entries[name].low, self.entries[name].high], "group": "uncertainties"}
                for name in chosen}

    def draw(self, n: int, seed: int, names: list[str] | None = None):
        """`n` independent draws from each prior (a pandas frame, one column per name).

        Reproducible from `seed` alone: each parameter has its own stream, seeded by
        (`seed`, a CRC-32 of its name), so its column is the same whichever others
        are drawn beside it."""
        import pandas as pd

        if n < 1:
            raise ValueError(f"n: expected at least 1 draw, got {n}")
        columns = {}
        for name in self._pick(names):
            rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(zlib.crc32(name.encode()),)))
            columns[name] = self.entries[name].frozen().rvs(size=n, random_state=rng)
        return pd.DataFrame(columns)

    @staticmethod
    def overrides(row: dict[str, Any]) -> dict[str, Any]:
        """A row of draws as model overrides: ``foundry_preference.SMIC`` entries merge
        into a ``foundry_preference`` table (`ChipMarketModel(**overrides)`)."""
        out: dict[str, Any] = {}
        for name, value in row.items():
            if "." in name:
                table, key = name.split(".", 1)
                out.setdefault(table, {})[key] = float(value)
            else:
                out[name] = float(value)
        return out

    def _pick(self, names: list[str] | None) -> list[str]:
        if names is None:
            return self.names
        unknown = [n for n in names if n not in self.entries]
        if unknown:
            raise PriorsError(f"{self.path}: no prior for '{unknown[0]}'; expected one of: " + ", ".join(self.entries))
        return list(names)

    @cached_property
    def table(self):
        """One row per prior: name, distribution, low, high, mean of the prior, source."""
        import pandas as pd

        return pd.DataFrame([{"name": name, "distribution": p.describe(), "low": p.low, "high": p.high,
                              "prior_mean": float(p.frozen().mean()), "source": p.source}
                             for name, p in self.entries.items()])


def uncertain_fields() -> list[str]:
    """The names of `Parameters`' uncertainties, in the schema's order."""
    return [name for name, group in parameter_groups().items() if group == "uncertainties"]


def field_bounds(name: str) -> tuple[float | None, float | None, bool, bool]:
    """The bounds of field `name` of `Parameters` (for a table field, of its values):
    (lower, upper, lower is strict, upper is strict); None where unbounded."""
    field = Parameters.model_fields[name]
    metadata = list(field.metadata)
    if get_origin(field.annotation) is dict:
        value_type = get_args(field.annotation)[1]
        for extra in get_args(value_type)[1:]:
            metadata += list(getattr(extra, "metadata", []))
    lower = upper = None
    strict_lower = strict_upper = False
    for item in metadata:
        for attr, is_lower, strict in (("ge", True, False), ("gt", True, True), ("le", False, False), ("lt", False, True)):
            value = getattr(item, attr, None)
            if value is None:
                continue
            if is_lower:
                lower, strict_lower = float(value), strict
            else:
                upper, strict_upper = float(value), strict
    return lower, upper, strict_lower, strict_upper


def _check_name(name: str) -> str | None:
    """Why `name` cannot have a prior (None: it can)."""
    groups = parameter_groups()
    base, _, key = name.partition(".")
    if base not in groups:
        return "unknown parameter; expected an uncertain parameter of model/scenario.py: " + ", ".join(uncertain_fields())
    if groups[base] != "uncertainties":
        return f"'{base}' is in group '{groups[base]}', not 'uncertainties'; expected an uncertain parameter"
    is_table = get_origin(Parameters.model_fields[base].annotation) is dict
    if is_table and not key:
        return f"'{base}' is a table; expected one prior per entry, named '{base}.<key>'"
    if key and not is_table:
        return f"'{base}' is not a table; expected '{base}' alone"
    if key and base == "foundry_preference":
        from model.world import load_world

        foundries = [f.name for f in load_world("default").foundries]
        if key not in foundries:
            return f"unknown foundry '{key}'; expected a foundry of the default world: " + ", ".join(foundries)
    return None


def _check_bounds(prior: Prior, name: str) -> str | None:
    lower, upper, strict_lower, strict_upper = field_bounds(name.split(".", 1)[0])
    if lower is not None and (prior.low < lower or (strict_lower and prior.low == lower)):
        return f"low {prior.low:g} is outside the field's bounds; expected low {'>' if strict_lower else '>='} {lower:g}"
    if upper is not None and (prior.high > upper or (strict_upper and prior.high == upper)):
        return f"high {prior.high:g} is outside the field's bounds; expected high {'<' if strict_upper else '<='} {upper:g}"
    return None


def _describe(error: dict) -> str:
    loc = ".".join(str(part) for part in error["loc"])
    msg = error["msg"].removeprefix("Value error, ")
    return f"'{loc}': {msg}" if loc else msg


def load_priors(path: str | Path = PRIORS_FILE) -> Priors:
    """Read and validate a priors file; raise one PriorsError naming the file and field."""
    path = Path(path)
    raw = read_toml(path, PriorsError)
    unknown = sorted(set(raw) - {"meta", "priors"})
    if unknown:
        raise PriorsError(f"{path}: table [{unknown[0]}] is unknown; expected [meta] and [priors.NAME] tables")
    table = raw.get("priors")
    if not isinstance(table, dict) or not table:
        raise PriorsError(f"{path}: table [priors] is missing or empty; expected [priors.NAME] tables")
    meta = raw.get("meta", {})
    if not isinstance(meta, dict) or set(meta) - {"description"}:
        raise PriorsError(f"{path}: field 'meta': expected a table with only 'description'")
    entries: dict[str, Prior] = {}
    for name, spec in _flatten(table).items():
        where = f"{path}: field 'priors.{name}'"
        problem = _check_name(name)
        if problem:
            raise PriorsError(f"{where}: {problem}")
        if not isinstance(spec, dict):
            raise PriorsError(f"{where}: expected a table with distribution, low, high and source")
        try:
            prior = Prior(**spec)
        except ValidationError as exc:
            raise PriorsError(f"{where}: " + "; ".join(_describe(e) for e in exc.errors())) from None
        problem = _check_bounds(prior, name)
        if problem:
            raise PriorsError(f"{where}: {problem}")
        entries[name] = prior
    return Priors(path, entries, str(meta.get("description", "")))


def _flatten(table: dict) -> dict[str, Any]:
    """``{"foundry_preference": {"SMIC": {...}}}`` (TOML's dotted key, unquoted) as
    ``{"foundry_preference.SMIC": {...}}``; a quoted ``"foundry_preference.SMIC"`` key
    arrives flat already."""
    out: dict[str, Any] = {}
    for name, spec in table.items():
        is_table = name in Parameters.model_fields and get_origin(Parameters.model_fields[name].annotation) is dict
        if is_table and isinstance(spec, dict) and all(isinstance(v, dict) for v in spec.values()) and spec:
            for key, entry in spec.items():
                out[f"{name}.{key}"] = entry
        else:
            out[name] = spec
    return out


