"""The world: who exists at the start, read from a TOML data file under model/data/.

`load_world` validates the file with pydantic (a bad world file gets one message naming
the file and field, like a scenario) and returns a `World`. The values and their sources
live in the data file, not here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from model.scenario import Quarter, ScenarioError, TierName, read_toml
from model.technology import TIERS, Tier, tier_from, tool_from

DATA_DIR = Path(__file__).resolve().parent / "data"


class _Data(BaseModel):
    # Extra keys are allowed so that every table can carry `source` / `<field>_source`.
    model_config = ConfigDict(extra="allow", frozen=True)


class Government(_Data):
    name: str
    country: str
    domestic_tool_bias: dict[str, float] = Field(default_factory=dict)


class ToolLine(_Data):
    output: float = Field(ge=0)
    level: str
    weight: float = Field(ge=0)

    @field_validator("level")
    @classmethod
    def _level(cls, value: str) -> str:
        return value if value == "none" else tier_from(value).value


class Vendor(_Data):
    name: str
    country: str
    tools: dict[str, ToolLine]
    learning: float = Field(0.0, ge=0)

    @field_validator("tools")
    @classmethod
    def _tools(cls, value: dict[str, ToolLine]) -> dict[str, ToolLine]:
        return {tool_from(k).value: v for k, v in value.items()}


class FoundryTier(_Data):
    capacity: float = Field(ge=0)
    ready: Quarter | None = None
    route: Literal["euv", "duv"] = "duv"


class Foundry(_Data):
    name: str
    country: str
    price_factor: float = Field(gt=0)
    capex_ratio: float = Field(ge=0)
    quality: float = Field(gt=0, le=1)
    headroom: float | None = Field(None, ge=0, le=2)
    """Capacity built above forecast orders; None: the world's `meta.headroom`."""
    tiers: dict[str, FoundryTier]
    synthetic: bool = False
    """A generated long-tail foundry (model.synthetic): firms trade with it only if
    they name it as a supplier, so that relations grow with firms, not firms x foundries."""

    @field_validator("tiers")
    @classmethod
    def _tiers(cls, value: dict[str, FoundryTier]) -> dict[str, FoundryTier]:
        return {tier_from(k).value: v for k, v in value.items()}


class DemandStream(_Data):
    tier: TierName
    wafers: float = Field(ge=0)
    growth: float = Field(ge=-0.9, le=5)
    ai: bool = False
    start: Quarter | None = None
    peak: Quarter | None = None
    """After this quarter the stream declines at `decline` a year: its designs move to
    a newer tier (another stream)."""
    decline: float = Field(-0.25, ge=-0.9, le=0)
    suppliers: dict[str, float] | None = None


class Firm(_Data):
    name: str
    country: str
    suppliers: dict[str, float]
    demand: list[DemandStream]
    ai_die_mm2: float = Field(500.0, gt=0)


class World(_Data):
    meta: dict
    reference_price_usd: dict[str, float | str]
    tool_unit_price_usd: dict[str, float | str]
    bill_of_tools: dict[str, dict[str, dict[str, float | str]]]
    yields: dict
    market_cycle: dict[str, float | str] = Field(default_factory=dict)
    governments: list[Government]
    vendors: list[Vendor]
    foundries: list[Foundry]
    firms: list[Firm]

    # -- convenient, validated views ------------------------------------------------
    def reference_price(self, tier: Tier) -> float:
        return float(self.reference_price_usd[tier.value])

    def unit_price(self, category: str) -> float:
        return float(self.tool_unit_price_usd[category])

    def bill(self, tier: Tier, route: str) -> dict[str, float]:
        """Tool units per wafer/quarter of capacity at `tier` by `route` ('euv'/'duv')."""
        table = self.bill_of_tools[tier.value]
        chosen = table.get(route) or table.get("duv") or next(iter(table.values()))
        return {k: float(v) for k, v in chosen.items() if not isinstance(v, str)}

    def cycle(self, year: int) -> float:
        value = self.market_cycle.get(str(year), 1.0)
        return float(value) if not isinstance(value, str) else 1.0


def world_path(name_or_path: str) -> Path:
    candidate = Path(name_or_path)
    if candidate.suffix == ".toml":
        return candidate
    return DATA_DIR / f"{name_or_path}_world.toml"


def load_world(name_or_path: str = "default") -> World:
    """Read and validate a world file; raise ScenarioError naming file and field."""
    path = world_path(name_or_path)
    if not path.is_file():
        raise ScenarioError(f"world '{name_or_path}': no such world file ({path})")
    raw = read_toml(path, ScenarioError)
    try:
        world = World(**raw)
    except ValidationError as exc:
        detail = "; ".join(
            f"field '{'.'.join(str(p) for p in e['loc'])}': {e['msg']}" for e in exc.errors()
        )
        raise ScenarioError(f"{path}: {detail}") from None
    _check_references(world, path)
    return world


def _check_references(world: World, path: Path) -> None:
    foundries = {f.name for f in world.foundries}
    for i, firm in enumerate(world.firms):
        for j, stream in enumerate(firm.demand):
            for name in (stream.suppliers or firm.suppliers):
                if name not in foundries:
                    raise ScenarioError(
                        f"{path}: field 'firms.{i}.demand.{j}.suppliers': unknown foundry "
                        f"'{name}'; expected one of {sorted(foundries)}"
                    )
    for tier in TIERS:
        if tier.value not in world.reference_price_usd:
            raise ScenarioError(f"{path}: field 'reference_price_usd.{tier.value}' is missing")
