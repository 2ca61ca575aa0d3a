"""Scenarios: the schema of a scenario file, the model's parameters, and the loader.

A scenario is a TOML file (read with the standard library's ``tomllib``) with four
tables::

    [scenario]            name, description, optional `extends` (another scenario)
    [parameters]          overrides of `Parameters` below, by name
    [[rules]]             export-control rules (see `Rule`)
    [[directives]]        state allocation directives (see `Directive`)
    [[subsidies]]         industrial subsidies (see `Subsidy`)

Parameters follow the EMA Workbench's split: *uncertainties* (what the world might be),
*levers* (what a government chooses) and *world* (what the world holds). Every problem
with a file is raised as one `ScenarioError` that names the file, the field and what was
expected; the CLI prints it and exits non-zero.
"""

from __future__ import annotations

import tomllib
from functools import partial
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, field_validator

from model.technology import parse_quarter, tier_from, tool_from

SCENARIO_DIR = Path(__file__).resolve().parent.parent / "experiments" / "scenarios"
FITTED_FILE = Path(__file__).resolve().parent / "data" / "fitted_parameters.toml"
"""Parameter values fitted by `chipstate calibrate`, with their provenance; they sit
under every scenario (a scenario's own [parameters] override them)."""
DEFAULT_SCENARIO = "state_allocation"


class ScenarioError(ValueError):
    """A scenario file or override is wrong. The message names file, field, expectation."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _quarter(value: str) -> str:
    parse_quarter(value)
    return value


Quarter = Annotated[str, AfterValidator(_quarter)]
"""A quarter label such as '2023Q4'."""
TierName = Annotated[str, AfterValidator(lambda v: tier_from(v).value)]
"""A tier, by value or name, stored as its value ('7nm')."""
ToolName = Annotated[str, AfterValidator(lambda v: tool_from(v).value)]
"""A tool category, by value or name, stored as its value ('duv_immersion')."""


def read_toml(path: Path, error: type[Exception]) -> dict:
    """A TOML file as a dict; a missing, unreadable or malformed file raises `error`
    with one message naming the file."""
    try:
        with open(path, "rb") as handle:
            return tomllib.load(handle)
    except tomllib.TOMLDecodeError as exc:
        raise error(f"{path}: not valid TOML ({exc})") from None
    except OSError as exc:
        raise error(f"{path}: cannot be read ({exc.strerror or exc})") from None


# ------------------------------------------------------------------------ parameters
def _in_group(group: str):
    """A pydantic `Field` that records its parameter group (see `parameter_groups`)."""
    return partial(Field, json_schema_extra={"group": group})


lever, uncertainty, world_setting = _in_group("levers"), _in_group("uncertainties"), _in_group("world")


class Parameters(_Strict):
    """Every number a user may override (scenario `[parameters]`, keyword, `--set`).

    Each field's `group` says whether it is an uncertainty, a lever or the world's
    size; the description says its unit and where its default comes from.
    """

    # --- levers: what governments choose
    reserved_share: float = lever(
        0.8, ge=0.0, le=1.0,
        description="Share of SMIC's advanced-tier capacity the state directive reserves "
        "for champion firms (fraction). Assumption: reports say Huawei is served first, "
        "no figure is published.",
    )
    champions: tuple[str, ...] = lever(
        ("Huawei",),
        description="Firms the state allocator serves first, in priority order.",
    )
    allies_aligned: bool = lever(
        False,
        description="The Netherlands and Japan apply every US tool rule to their vendors.",
    )
    duv_servicing_ban: bool = lever(
        False,
        description="Dutch and Japanese vendors stop servicing installed DUV tools in "
        "China from `servicing_ban_quarter`.",
    )
    servicing_ban_quarter: Quarter = lever(
        "2026Q1",
        description="Quarter a DUV servicing ban takes effect (when it is on).",
    )
    enforcement: float = lever(
        1.0, ge=0.0, le=1.0,
        description="Share of a rule's targets that it actually reaches (1 = all). "
        "Lower values leave the smallest targeted buyers uncut (leaky controls).",
    )
    domestic_subsidy_usd_m: float = lever(
        0.0, ge=0.0,
        description="Extra Chinese subsidy to domestic equipment vendors, USD million "
        "per quarter, on top of the scenario's subsidies.",
    )
    # --- uncertainties: what the world might be
    ai_demand_growth: float = uncertainty(
        1.4, ge=-0.5, le=3.0,
        description="Annual growth of AI-accelerator wafer demand in 2023, the first year "
        "of the boom (fraction per year); later years grow at this rate times "
        "(1 - ai_growth_fade) per year since 2023. Assumption: Nvidia's data-centre "
        "shipments roughly doubled or more each year 2023-2025.",
    )
    ai_growth_fade: float = uncertainty(
        0.4, ge=0.0, le=1.0,
        description="Share by which the AI boom's growth rate shrinks each year after "
        "2023 (0 = the 2023 rate forever). Assumption.",
    )
    smic_yield_half_life_wafers: float = uncertainty(
        250_000.0, gt=0.0,
        description="Cumulative wafers at which SMIC closes half the gap from its start "
        "yield to its ceiling on a new tier. Assumption, fitted.",
    )
    domestic_learning_rate: float = uncertainty(
        1.0, ge=0.0, le=10.0,
        description="Multiplier on Chinese vendors' technology learning from sales and "
        "subsidy (1 = default world). Assumption.",
    )
    domestic_litho_28nm_year: float | None = uncertainty(
        None, ge=2019.0, le=2060.0,
        description="What-if: Chinese immersion lithography reaches 28nm by this year "
        "(decimal year) regardless of learning. None: learning only.",
    )
    domestic_litho_7nm_year: float | None = uncertainty(
        None, ge=2019.0, le=2060.0,
        description="What-if: Chinese immersion lithography reaches 7nm by this year.",
    )
    price_adjustment: float = uncertainty(
        0.15, ge=0.0, le=1.0,
        description="Quarterly wafer-price response to excess demand (price change per "
        "unit of orders beyond the normal load, over that load; model.market.update_prices). "
        "Assumption.",
    )
    stockpile_factor: float = uncertainty(
        1.0, ge=0.0, le=5.0,
        description="Extra orders, as a share of normal orders, placed on a supply "
        "relation between a rule's announcement and its effect. Assumption.",
    )
    preference_adaptation: float = uncertainty(
        0.15, ge=0.0, le=1.0,
        description="Share of the gap to its target supplier mix a firm closes each "
        "quarter. Assumption.",
    )
    repurpose_share: float = uncertainty(
        0.25, ge=0.0, le=1.0,
        description="Share of the tools a foundry stocked for older tiers that it may move "
        "to a more advanced tier short of tools each quarter (tools licensed for mature "
        "lines used on advanced ones). Assumption.",
    )
    foundry_preference: dict[str, float] = uncertainty(
        default_factory=dict,
        description="Multiplier on every firm's base preference for a foundry, by name "
        "(missing: 1). The base market-share preferences `chipstate calibrate` fits.",
    )
    derisk_factor: float = uncertainty(
        1.15, ge=1.0, le=3.0,
        description="Multiplier on a firm's preference for home foundries each time a "
        "wafers rule cuts its supply, and divisor on the issuing country's firms' preference "
        "for a targeted country's foundries. Assumption, fitted (direction: SMIC's China "
        "revenue share 69.9% in 2021 -> 84% in 2023Q3, Americas 22.3% -> 12.9%, calibration.csv).",
    )
    mineral_shock: float = uncertainty(
        0.15, ge=0.0, le=1.0,
        description="Share of a targeted country's tool output lost while a "
        "critical-mineral export control is in force. Assumption.",
    )
    demand_noise: float = uncertainty(
        0.03, ge=0.0, le=0.5,
        description="Standard deviation of a firm's quarterly demand shock (lognormal, "
        "drawn from the model's rng). Assumption.",
    )
    # --- world: what the world holds
    world: str = world_setting(
        "default",
        description="World file: a name under model/data/ (without .toml) or a path.",
    )
    synthetic_firms: int = world_setting(
        0, ge=0, le=1_000_000,
        description="Extra synthetic fabless firms added to the world.",
    )
    synthetic_foundries: int = world_setting(
        0, ge=0, le=10_000,
        description="Extra synthetic foundries added to the world.",
    )
    synthetic_vendors: int = world_setting(
        0, ge=0, le=10_000,
        description="Extra synthetic equipment vendors added to the world.",
    )
    start: Quarter = world_setting(
        "2019Q1",
        description="First simulated quarter.",
    )
    end: Quarter = world_setting(
        "2030Q4",
        description="Last simulated quarter (inclusive).",
    )

    @field_validator("champions", mode="before")
    @classmethod
    def _champion_list(cls, value: Any) -> Any:
        if isinstance(value, str):
            return tuple(v.strip() for v in value.split(",") if v.strip())
        return value


def parameter_groups() -> dict[str, str]:
    """Parameter name -> group ('levers', 'uncertainties', 'world')."""
    return {
        name: (field.json_schema_extra or {}).get("group", "world")
        for name, field in Parameters.model_fields.items()
    }


# ------------------------------------------------------------------------- timeline
class Rule(_Strict):
    """An export control, as data.

    kind:
      - ``wafers``: foundry -> firm supply of `tier` and every more advanced tier;
      - ``tools``: vendor -> foundry supply of `tools` for use at `tier` and above;
      - ``servicing``: vendors stop servicing installed `tools` (faster depreciation);
      - ``minerals``: an export control on critical minerals that cuts the output of
        vendors in the `targets` countries by the `mineral_shock` parameter.
    Targets are entity names or ``country:XX``. The rule reaches the suppliers named in
    `suppliers` alone if it names any; otherwise the issuer's own suppliers and, with
    `foreign_direct_product`, every supplier outside the buyer's own country
    (model.policy.supplier_reach). A rule reaches the tier it names and every more
    advanced one.
    """

    id: str
    issuer: str
    kind: Literal["wafers", "tools", "servicing", "minerals"]
    targets: tuple[str, ...] = Field(min_length=1)
    tier: TierName = "mature"
    tools: tuple[ToolName, ...] = ()
    suppliers: tuple[str, ...] = ()
    foreign_direct_product: bool = False
    announced: Quarter | None = None
    effective: Quarter
    end: Quarter | None = None
    event: str = Field(description="The controls_timeline.csv event this rule models.")


class Directive(_Strict):
    """A state allocation directive: `foundry`'s advanced tiers serve champions first."""

    id: str
    issuer: str = "CN"
    foundry: str = "SMIC"
    effective: Quarter
    end: Quarter | None = None
    event: str


class Subsidy(_Strict):
    """Money a government gives its firms, USD million per quarter, split evenly; with
    `build_ahead`, also a state instruction: foundries among the recipients build that
    share of capacity above their forecast orders while it is in force."""

    id: str
    issuer: str
    recipients: tuple[str, ...] = Field(min_length=1)
    usd_m_per_quarter: float = Field(ge=0.0)
    build_ahead: float = Field(0.0, ge=0.0, le=2.0)
    effective: Quarter
    end: Quarter | None = None
    event: str


class ScenarioInfo(_Strict):
    name: str
    description: str = ""
    extends: str | None = None


class ScenarioFile(_Strict):
    """The schema of one scenario file."""

    scenario: ScenarioInfo
    parameters: dict[str, Any] = Field(default_factory=dict)
    rules: list[Rule] = Field(default_factory=list)
    directives: list[Directive] = Field(default_factory=list)
    subsidies: list[Subsidy] = Field(default_factory=list)


class Scenario(_Strict):
    """A scenario with its `extends` chain resolved and its parameters validated."""

    name: str
    description: str
    path: str
    parameters: Parameters
    rules: tuple[Rule, ...]
    directives: tuple[Directive, ...]
    subsidies: tuple[Subsidy, ...]

    def with_overrides(self, overrides: dict[str, Any], source: str = "override") -> Scenario:
        """A copy with parameters replaced; unknown names or bad values raise ScenarioError."""
        if not overrides:
            return self
        params = validate_parameters(
            {**self.parameters.model_dump(exclude_unset=False), **overrides}, source
        )
        return self.model_copy(update={"parameters": params})


# --------------------------------------------------------------------------- loading
def _describe(error: dict) -> str:
    field = ".".join(str(part) for part in error["loc"]) or "(file)"
    return f"field '{field}': {error['msg']}" + (
        f" (got {error['input']!r})" if "input" in error and not isinstance(error["input"], dict) else ""
    )


def validate_parameters(values: dict[str, Any], source: str) -> Parameters:
    """Validate parameter values; raise one ScenarioError naming source and field."""
    unknown = sorted(set(values) - set(Parameters.model_fields))
    if unknown:
        raise ScenarioError(
            f"{source}: unknown parameter '{unknown[0]}'; expected one of: "
            + ", ".join(sorted(Parameters.model_fields))
        )
    try:
        return Parameters(**values)
    except ValidationError as exc:
        raise ScenarioError(f"{source}: " + "; ".join(_describe(e) for e in exc.errors())) from None


def scenario_path(name_or_path: str | Path) -> Path:
    """A shipped scenario's file by name, or the given path; raise ScenarioError."""
    candidate = Path(name_or_path)
    if candidate.suffix == ".toml" or candidate.exists():
        if not candidate.is_file():
            raise ScenarioError(f"{candidate}: no such scenario file")
        return candidate
    shipped = SCENARIO_DIR / f"{name_or_path}.toml"
    if not shipped.is_file():
        raise ScenarioError(
            f"scenario '{name_or_path}': no such scenario; expected a file path or one of: "
            + ", ".join(list_scenarios())
        )
    return shipped


def list_scenarios() -> list[str]:
    """Names of the shipped scenarios."""
    return sorted(p.stem for p in SCENARIO_DIR.glob("*.toml"))


def read_scenario_file(path: Path) -> ScenarioFile:
    """Parse and validate one file (no `extends` resolution)."""
    raw = read_toml(path, ScenarioError)
    try:
        return ScenarioFile(**raw)
    except ValidationError as exc:
        raise ScenarioError(f"{path}: " + "; ".join(_describe(e) for e in exc.errors())) from None


def fitted_parameters(path: Path = FITTED_FILE) -> dict[str, Any]:
    """The [parameters] table of the fitted-parameters file ({} if there is none)."""
    if not path.is_file():
        return {}
    values = read_toml(path, ScenarioError).get("parameters", {})
    validate_parameters(values, f"{path} [parameters]")
    return values


def load_scenario(
    name_or_path: str | Path = DEFAULT_SCENARIO, overrides: dict | None = None, fitted: bool = True
) -> Scenario:
    """Load a scenario by name or path, resolve `extends`, apply `overrides`.

    Parameters start from the code's defaults, then the fitted values
    (model/data/fitted_parameters.toml, unless `fitted` is False), then each file of the
    chain from the root; a child's rules, directives and subsidies are added to the
    parent's (a child entry with a parent's id replaces it). Raises ScenarioError for any
    problem, naming the file and field.
    """
    path = scenario_path(name_or_path)
    chain: list[tuple[Path, ScenarioFile]] = []
    seen: set[Path] = set()
    current: Path | None = path
    while current is not None:
        resolved = current.resolve()
        if resolved in seen:
            raise ScenarioError(f"{current}: field 'scenario.extends' forms a cycle")
        seen.add(resolved)
        data = read_scenario_file(current)
        chain.append((current, data))
        parent = data.scenario.extends
        current = None if parent is None else _parent_path(current, parent)

    params: dict[str, Any] = fitted_parameters() if fitted else {}
    merged: dict[str, dict[str, Any]] = {"rules": {}, "directives": {}, "subsidies": {}}
    for file_path, data in reversed(chain):
        params.update(data.parameters)
        validate_parameters(params, f"{file_path} [parameters]")
        for table in merged:
            for entry in getattr(data, table):
                merged[table][entry.id] = entry
    _, leaf = chain[0]
    scenario = Scenario(
        name=leaf.scenario.name,
        description=leaf.scenario.description,
        path=str(path),
        parameters=validate_parameters(params, f"{path} [parameters]"),
        rules=tuple(merged["rules"].values()),
        directives=tuple(merged["directives"].values()),
        subsidies=tuple(merged["subsidies"].values()),
    )
    return scenario.with_overrides(overrides or {}, "override")


def _parent_path(child: Path, parent: str) -> Path:
    sibling = child.parent / f"{parent}.toml"
    if sibling.is_file():
        return sibling
    try:
        return scenario_path(parent)
    except ScenarioError:
        raise ScenarioError(
            f"{child}: field 'scenario.extends': no scenario named '{parent}'"
        ) from None


def parse_assignment(text: str) -> tuple[str, Any]:
    """``"group.name=value"`` or ``"name=value"`` -> (name, value parsed as TOML).

    Unquoted strings are accepted as strings. Raise ScenarioError on a malformed item,
    an unknown name or a group that does not hold the name.
    """
    if "=" not in text:
        raise ScenarioError(f"--set {text!r}: expected key=value")
    key, raw = (part.strip() for part in text.split("=", 1))
    groups = parameter_groups()
    if "." in key:
        group, name = key.split(".", 1)
        if name in groups and group != groups[name]:
            raise ScenarioError(
                f"--set {text!r}: parameter '{name}' is in group '{groups[name]}', not '{group}'"
            )
        key = name
    if key not in groups:
        raise ScenarioError(
            f"--set {text!r}: unknown parameter '{key}'; expected one of: " + ", ".join(sorted(groups))
        )
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw
    return key, value
