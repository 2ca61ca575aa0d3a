"""The world: who exists at the start, read from a TOML data file under model/data/.

`load_world` validates the file with pydantic (a bad world file gets one message naming
the file and field, like a scenario) and returns a `World`. The values and their sources
live in the data file, not here.

What a loaded world guarantees: every table and key the model reads is there; every
number is finite and in its range (no negative capacity, weight or price; depreciation
and yields are fractions; an AI die fits a wafer at least once); names are unique among
firms, foundries and vendors (they are the trade graph's nodes) and among governments,
one government a country; every firm has suppliers for each demand stream, all of them
foundries of the world; prices, tool prices, bills of tools and wafer costs cover every
tier and tool category. Keys other than fields are notes: `source`, `note` or `<field>_source`.
"""

from __future__ import annotations

import math
import os
from collections import Counter
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_core import PydanticCustomError

from model.scenario import FileCache, Quarter, ScenarioError, TierName, read_toml
from model.technology import (
    CATEGORY_NAMES, TIER_NAMES, Tier, gross_dies_per_wafer, hbm_from, parse_quarter, quarter_label, tier_from,
    tool_from,
)

DATA_DIR = Path(__file__).resolve().parent / "data"

def _country(code: str) -> str:
    if not (len(code) == 2 and code.isascii() and code.isalpha() and code.isupper()):
        raise PydanticCustomError("country", "'{code}' is not a country code; expected two capital "
                                  "letters (ISO 3166) like 'CN'", {"code": code})
    return code


Country = Annotated[str, AfterValidator(_country)]
"""An ISO 3166 alpha-2 country code ('CN'), as rules' `country:XX` targets name them."""
NonNegative = Annotated[float, Field(ge=0)]
Fraction = Annotated[float, Field(ge=0, le=1)]

_A, _B = math.pi * 150.0**2, math.pi * 300.0 / math.sqrt(2)
LARGEST_DIE_MM2 = ((math.sqrt(_B * _B + 4 * _A) - _B) / 2) ** 2
"""The die area (mm2) at which `gross_dies_per_wafer` (300 mm wafer) falls to one: its
formula pi r^2/S - pi d/sqrt(2S) = 1 solved for S (about 8,660 mm2)."""


def _is_note(key: str) -> bool:
    return key in ("source", "note") or key.endswith("_source")


def _every_tier(value: dict, what: str) -> dict:
    """`value` (keyed by tier name) if it names every tier; else a one-line error naming
    the first tier missing and `what` it lacks."""
    missing = [t for t in TIER_NAMES if t not in value]
    if missing:
        raise PydanticCustomError("missing", "no {what} for tier '{tier}'; expected one for every tier ({tiers})",
                                  {"what": what, "tier": missing[0], "tiers": ", ".join(TIER_NAMES)})
    return value


def _duplicate(names: list[str]) -> str | None:
    repeated = [name for name, n in Counter(names).items() if n > 1]
    return repeated[0] if repeated else None


class _Data(BaseModel):
    # Extra keys may only be notes (`source`, `note`, `<field>_source`): any other is a
    # typo that would otherwise leave a default in place silently.
    model_config = ConfigDict(extra="allow", frozen=True, allow_inf_nan=False)

    @model_validator(mode="after")
    def _only_notes_beside_fields(self):
        unknown = [key for key in self.model_extra or {} if not _is_note(key)]
        if unknown:
            raise PydanticCustomError(
                "unknown_key", "unknown key '{key}'; expected one of {fields} or a note "
                "('source', 'note', '<field>_source')",
                {"key": unknown[0], "fields": ", ".join(type(self).model_fields)},
            )
        return self


class _Table(_Data):
    """A table the model reads by key (``meta["headroom"]``) as well as by attribute."""

    def __getitem__(self, key: str) -> Any:
        return getattr(self, key)


class WorldMeta(_Table):
    """The world's `[meta]` table: when it starts and how fabs build and age."""

    first_quarter: Quarter
    installation_lag_quarters: int = Field(ge=1, le=40)
    """Quarters from a tool's delivery to qualified capacity (>= 1: the pipeline holds
    them); the vendors' lead times (`tool_lead_quarters`) come before it."""
    base_depreciation: float = Field(ge=0, lt=1)
    """Share of capacity lost each quarter."""
    unserviced_depreciation: float = Field(ge=0, lt=1)
    """Extra share lost each quarter by DUV tools nobody services."""
    headroom: float = Field(ge=0, le=2)
    """Share of capacity built above forecast orders (a foundry may override it)."""


class Yields(_Table):
    """Large-die yield ceilings per patterning route and tier, and the learning curve."""

    euv_ceiling: dict[TierName, Annotated[float, Field(gt=0, le=1)]]
    duv_ceiling: dict[TierName, Annotated[float, Field(gt=0, le=1)]]
    start: Fraction
    half_life_wafers: float = Field(gt=0)

    @field_validator("euv_ceiling", "duv_ceiling")
    @classmethod
    def _a_ceiling_per_tier(cls, value: dict[str, float]) -> dict[str, float]:
        return _every_tier(value, "ceiling")

    @model_validator(mode="after")
    def _start_below_ceilings(self):
        lowest = min(*self.euv_ceiling.values(), *self.duv_ceiling.values())
        if self.start > lowest:
            raise PydanticCustomError("order", "start {start} is above a ceiling ({lowest}); expected "
                                      "start <= every ceiling (learning raises yields)",
                                      {"start": self.start, "lowest": lowest})
        return self


class WaferCosts(_Table):
    """The world's `[wafer_cost_usd]` table (model.costs): `variable`, US$ of materials,
    labour and power per wafer start by tier (positive, every tier); `recent_share_2019`,
    the share of each tier's 2019 tool fleet installed within the depreciation life
    before 2019 and so still being written off (a fraction, every tier)."""

    variable: dict[TierName, Annotated[float, Field(gt=0)]]
    recent_share_2019: dict[TierName, Fraction]

    @field_validator("variable", "recent_share_2019")
    @classmethod
    def _a_value_per_tier(cls, value: dict[str, float]) -> dict[str, float]:
        return _every_tier(value, "value")


class TrackedSpec(_Data):
    """Which firm, foundry and vendor the model's named reporters and parameters follow
    (`huawei_ai_dies`, `smic_capacity_7nm`, `asml_china_share`, the
    `smic_yield_half_life_wafers` parameter); columns are prefixed with
    `model.reporters.slug` of the name. The engine itself names no entity."""

    champion: str
    foundry: str
    vendor: str


class GovernmentSpec(_Data):
    name: str
    country: Country
    domestic_tool_bias: dict[Quarter, NonNegative] = Field(default_factory=dict)
    """Multiplier on domestic vendors' weight for this country's foundries, from each quarter."""


class ToolLine(_Data):
    output: float = Field(ge=0)
    level: str
    weight: float = Field(ge=0)

    @field_validator("level")
    @classmethod
    def _level(cls, value: str) -> str:
        return value if value == "none" else tier_from(value).value


def _by_value(table: dict, parse) -> dict:
    """`table` keyed by Enum values (keys may be values or names); two keys for one
    member would leave one silently unused, so they are refused."""
    out = {parse(k).value: v for k, v in table.items()}
    if len(out) < len(table):
        raise PydanticCustomError("duplicate", "two keys name the same entry ({keys}); expected each once",
                                  {"keys": ", ".join(table)})
    return out


class VendorSpec(_Data):
    name: str
    country: Country
    tools: dict[str, ToolLine] = Field(min_length=1)
    learning: float = Field(0.0, ge=0)
    gross_margin: float = Field(0.45, gt=0, lt=1)
    """Its gross margin at its normal load (`agents.vendor.SLACK_LOAD`;
    `model.costs.vendor_cost_of_sales_usd_m`)."""

    @field_validator("tools")
    @classmethod
    def _tools(cls, value: dict[str, ToolLine]) -> dict[str, ToolLine]:
        return _by_value(value, tool_from)


class FoundryTier(_Data):
    capacity: float = Field(ge=0)
    ready: Quarter | None = None
    route: Literal["euv", "duv"] = "duv"
    base: str = "base"
    """The name of the tier's base generation at this foundry (N5 in TSMC's leading
    tier, SMIC's N+1 in 7nm-class): what its capacity runs before the world's
    `[[generations]]` for the tier (`model.generations`); 'base' when the world names none."""


class FoundrySpec(_Data):
    name: str
    country: Country
    price_factor: float = Field(gt=0)
    capex_ratio: float = Field(ge=0)
    quality: float = Field(gt=0, le=1)
    headroom: Annotated[float, Field(ge=0, le=2)] | dict[TierName, Annotated[float, Field(ge=0, le=2)]] | None = None
    """Capacity built above forecast orders, for every tier or by tier (a tier not
    named takes the world's); None: the world's `meta.headroom`."""

    def headroom_by_tier(self) -> list[float | None]:
        """Its headroom per tier (None: the world's), in tier order."""
        if isinstance(self.headroom, dict):
            return [self.headroom.get(t) for t in TIER_NAMES]
        return [self.headroom] * len(TIER_NAMES)
    tiers: dict[str, FoundryTier] = Field(min_length=1)
    synthetic: bool = False
    """A generated long-tail foundry (model.synthetic): firms trade with it only if
    they name it as a supplier, so that relations grow with firms, not firms x foundries."""

    @field_validator("tiers")
    @classmethod
    def _tiers(cls, value: dict[str, FoundryTier]) -> dict[str, FoundryTier]:
        return _by_value(value, tier_from)


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
    suppliers: dict[str, NonNegative] | None = None


class FirmSpec(_Data):
    """A fabless firm. Each demand stream has suppliers (its own, else the firm's) with
    a positive total weight; its AI die fits a 300 mm wafer at least once."""

    name: str
    country: Country
    suppliers: dict[str, NonNegative]
    demand: list[DemandStream]
    ai_die_mm2: float = Field(500.0, gt=0)

    @field_validator("ai_die_mm2")
    @classmethod
    def _fits_a_wafer(cls, value: float) -> float:
        if gross_dies_per_wafer(value) < 1:
            raise PydanticCustomError(
                "too_large", "a {area} mm2 die does not fit a 300 mm wafer; expected at most "
                "{largest} mm2 (at least one gross die per wafer)",
                {"area": value, "largest": math.floor(LARGEST_DIE_MM2)},
            )
        return value

    @model_validator(mode="after")
    def _every_stream_has_suppliers(self):
        for j, stream in enumerate(self.demand):
            if sum((stream.suppliers or self.suppliers).values()) <= 0:
                raise PydanticCustomError(
                    "no_suppliers", "demand stream {j} has no supplier (its `suppliers` and the "
                    "firm's are empty or all zero); expected at least one foundry with a positive weight",
                    {"j": j},
                )
        return self


# ------------------------------------------------------------ the accelerator chain
HbmGeneration = Annotated[str, AfterValidator(hbm_from)]
"""An HBM generation ('HBM2E'), stored as its canonical name."""


class CapacityPath(_Data):
    """A capacity over time: `capacity` (units a quarter) at dated points from data,
    log-linear between them; before the first at `growth_before` a year (backwards),
    after the last at `growth_after` a year (what investment adds, `model.chain`)."""

    capacity: dict[Quarter, NonNegative] = Field(min_length=1)
    growth_before: float = Field(0.0, ge=0, le=5)
    growth_after: float = Field(0.0, ge=-0.5, le=5)


class MemoryMakerSpec(CapacityPath):
    """A maker of HBM stacks: capacity in stacks a quarter; `generations`: the first
    quarter it ships each generation (it can fill an order for that generation or any
    older one from then)."""

    name: str
    country: Country
    generations: dict[HbmGeneration, Quarter] = Field(min_length=1)


class PackagerSpec(CapacityPath):
    """CoWoS-class advanced packaging: capacity in packages (accelerators) a quarter;
    `other_customers`: the share of it booked by designers the world does not hold
    (they book it and pay for it). `price_usd`: what a package earns the house;
    `cost_share`: its cost of a package over the price (gross margin 1 - cost_share);
    `foundry`: the world's foundry whose company revenue counts the house's, as the
    foundry rankings count TSMC's packaging in TSMC's revenue (None: a house of its own)."""

    name: str
    country: Country
    other_customers: Fraction = 0.0
    price_usd: float = Field(ge=0, le=50000)
    cost_share: Fraction
    foundry: str | None = None


class ProductSpec(_Data):
    """An accelerator's bill of materials: `dies` good logic dies of its designer (made
    at `die_tier`), `hbm_stacks` stacks of `hbm_generation` (or newer), one CoWoS-class
    package; `h100e` its performance in H100-equivalents. Made from `start` (to `end`)
    in the share of its designer's units that `share` gives from each quarter
    (`model.accelerators.share_at`)."""

    name: str
    designer: str
    start: Quarter
    end: Quarter | None = None
    share: dict[Quarter, Fraction] = Field(default_factory=dict)
    dies: int = Field(ge=1, le=16)
    die_tier: TierName
    hbm_stacks: int = Field(ge=0, le=16)
    hbm_generation: HbmGeneration
    h100e: float = Field(gt=0, le=20)
    # What buyers and chip rules read (a world with buyers needs the first two):
    price_usd: float | None = Field(None, gt=0)
    """Its price to buyers, US$ a unit."""
    tpp: float | None = Field(None, gt=0)
    """Total processing performance (TOPS x bit length, dense), the export rules' measure."""
    die_mm2: float | None = Field(None, gt=0)
    """Its logic dies' area in all, mm2: TPP / die_mm2 is the rules' performance density."""
    interconnect_gbps: float | None = Field(None, ge=0)
    """Chip-to-chip bandwidth, GB/s (the 2022 rule's I/O test)."""
    market: Literal["world", "china"] = "world"
    """'china': a part made for Chinese buyers alone (sold to no one else)."""
    responds_to: str | None = None
    """A rule id: the part is made only `design_lag_quarters` after that rule takes effect
    in the scenario (never where the scenario has no such rule)."""


class BuyerSpec(_Data):
    """A buyer of AI compute. `demand_h100e`: H100-equivalents a year it wants in
    `demand_year`, moving with the AI boom from 2023; before it, 1 / `demand_jump` of the
    boom's first level and falling back at `demand_growth_before` a year
    (`model.accelerators.boom_level`); `budget_usd_m`: what it may spend on accelerators
    that year (US$ million), on the same path."""

    name: str
    country: Country
    demand_h100e: float = Field(gt=0)
    budget_usd_m: float = Field(gt=0)
    demand_year: int = Field(2024, ge=2019, le=2040)
    demand_growth_before: float = Field(0.3, ge=0, le=5)
    demand_jump: float = Field(1.0, ge=1, le=10)


class DesignerSpec(_Data):
    """A firm of the world that makes accelerators. `packagers`: its base preference
    over packaging houses (split over those it may use); `demand_units`: accelerators a
    year its buyers want in `demand_year` (None: it packages every die it can), moving
    with the AI boom from 2023 and at `demand_growth_before` a year before."""

    firm: str
    packagers: dict[str, NonNegative] = Field(min_length=1)
    demand_units: float | None = Field(None, gt=0)
    demand_year: int = Field(2024, ge=2019, le=2040)
    demand_growth_before: float = Field(0.3, ge=0, le=5)
    makes_to_order: bool = False
    """Its demand is its buyers' orders (the world's `demand_units` is its plan only
    before their first orders)."""
    ecosystem: Fraction = 0.0
    """How much of the software-ecosystem premium (`ecosystem_premium`) buyers give its
    products (Nvidia's CUDA: 1)."""


class LeakRouteSpec(_Data):
    """A shell company that buys `recipient`'s dies of `tier` from `supplier` (a
    foundry) from `opens`, while neither edge is cut (the die bank's route)."""

    name: str
    country: Country
    supplier: str
    recipient: str
    tier: TierName
    opens: Quarter


def _numbers(table: Any, keys: list[str], what: str, *, complete: bool = True) -> Any:
    """Check a table of positive finite numbers by `keys` (every one of them if
    `complete`) beside text notes; return it unchanged (the field's type does the rest)."""
    if not isinstance(table, dict):
        return table
    missing = [k for k in keys if k not in table] if complete else []
    if missing:
        raise PydanticCustomError("missing", "no {what} for '{key}'; expected one for each of {keys}",
                                  {"what": what, "key": missing[0], "keys": ", ".join(keys)})
    for key, value in table.items():
        if isinstance(value, str) and _is_note(key):
            continue
        if key not in keys:
            raise PydanticCustomError("unknown_key", "unknown key '{key}'; expected one of {keys} or a note "
                                      "('source', 'note', '<field>_source')", {"key": key, "keys": ", ".join(keys)})
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value <= 0:
            raise PydanticCustomError("number", "'{key}' = {value!r}; expected a positive finite {what}",
                                      {"key": key, "value": value, "what": what})
    return table


class GenerationSpec(_Data):
    """A process generation inside a tier (N3 in leading, SMIC's N+2 in 7nm-class): from
    `ready` the listed foundries' new capacity of the tier runs it and their older
    capacity migrates to it (`model.generations`)."""

    name: str
    tier: TierName
    foundries: list[str] = Field(min_length=1)
    ready: Quarter
    price_premium: float = Field(gt=0, le=5)
    """Its wafer price over the tier's (1.12: 12% more)."""
    cost_premium: float = Field(gt=0, le=5)
    """Its cost per wafer over the tier's."""
    conversion_share: float = Field(ge=0, le=2)
    """Share of a new bill of the tier's tools that converting a wafer/quarter of older
    capacity to it buys."""


class ToolBuyerSpec(_Data):
    """A fab that buys tools but sells no wafers to the fabless firms: a memory maker's
    DRAM or NAND fabs or an integrated device maker's own fabs (`kind`). Its tools are
    for `tier` (what tool rules by tier read: DRAM at 1x nm is 14nm-class, ASSUMPTION);
    `wfe_usd_m`: what it spends on wafer-fab equipment, US$ million a year, by year
    ('2023'), the last year's figure holding after it (`agents.fab.ToolBuyer`);
    `split`: the shares of that spend by tool category (fractions summing to 1).
    It may carry the name of a memory maker of the world of its own country: the same
    company, one graph node, and a rule naming it reaches its tools and its HBM."""

    name: str
    country: Country
    kind: Literal["memory", "idm"]
    tier: TierName
    wfe_usd_m: dict[str, float | str] = Field(min_length=1)
    split: dict[str, float | str] = Field(min_length=1)

    @field_validator("wfe_usd_m", mode="before")
    @classmethod
    def _spend_by_year(cls, value: Any) -> Any:
        if isinstance(value, dict):
            bad = [k for k in value if not _is_note(k) and not (k.isdigit() and len(k) == 4)]
            if bad:
                raise PydanticCustomError("year", "'{key}' is not a year; expected keys such as '2023'",
                                          {"key": bad[0]})
            for key, usd in value.items():
                if _is_note(key) and isinstance(usd, str):
                    continue
                if isinstance(usd, bool) or not isinstance(usd, int | float) or not math.isfinite(usd) or usd < 0:
                    raise PydanticCustomError("number", "'{key}' = {value!r}; expected a finite US$ million "
                                              "a year, 0 or more", {"key": key, "value": usd})
        return value

    @field_validator("split", mode="before")
    @classmethod
    def _split_over_categories(cls, value: Any) -> Any:
        if not isinstance(value, dict):
            return value
        shares = {}
        for key, share in value.items():
            if _is_note(key) and isinstance(share, str):
                continue
            if key not in CATEGORY_NAMES:
                raise PydanticCustomError("unknown_key", "unknown tool category '{key}'; expected one of {keys} "
                                          "or a note", {"key": key, "keys": ", ".join(CATEGORY_NAMES)})
            if isinstance(share, bool) or not isinstance(share, int | float) or not 0 <= share <= 1:
                raise PydanticCustomError("number", "'{key}' = {value!r}; expected a share from 0 to 1",
                                          {"key": key, "value": share})
            shares[key] = float(share)
        if abs(sum(shares.values()) - 1.0) > 1e-6:
            raise PydanticCustomError("sum", "the shares sum to {total}; expected 1 (the whole spend)",
                                      {"total": round(sum(shares.values()), 6)})
        return value

    def spend_usd_m(self, year: int) -> float:
        """Its WFE spend in `year`, US$ million: that year's figure; before the first
        year the first's, after the last the last's (ASSUMPTION: flat beyond the data)."""
        years = sorted(int(k) for k in self.wfe_usd_m if not _is_note(k))
        chosen = min(max(year, years[0]), years[-1])
        while chosen not in years:  # a gap in the years: the latest figure before it
            chosen -= 1
        return float(self.wfe_usd_m[str(chosen)])

    def shares(self) -> dict[str, float]:
        """Its spend's shares by tool category (the categories it buys, share > 0)."""
        return {k: float(v) for k, v in self.split.items() if not _is_note(k) and float(v) > 0}


class World(_Data):
    meta: WorldMeta
    reference_price_usd: dict[str, float | str]
    """US$ per wafer by tier, before each foundry's price factor."""
    tool_unit_price_usd: dict[str, float | str]
    """US$ per tool capacity unit by category."""
    tool_lead_quarters: dict[str, int | str] = Field(default_factory=dict)
    """Vendors' lead time by category: whole quarters (0-12) from an order joining a
    vendor's book to its first possible shipment (none given: 0, filled at once)."""
    bill_of_tools: dict[str, dict[str, dict[str, float | str]]]
    """Tool units by category per wafer/quarter of capacity, by tier and route (euv/duv)."""
    yields: Yields
    wafer_cost_usd: WaferCosts
    """Variable cost per wafer start and the 2019 fleet's book (model.costs)."""
    market_cycle: dict[str, float | str] = Field(default_factory=dict)
    """Multiplier on non-AI demand by year ('2023')."""
    tracked: TrackedSpec
    governments: list[GovernmentSpec]
    vendors: list[VendorSpec] = Field(min_length=1)
    foundries: list[FoundrySpec] = Field(min_length=1)
    firms: list[FirmSpec] = Field(min_length=1)
    memory_makers: list[MemoryMakerSpec] = Field(default_factory=list)
    packagers: list[PackagerSpec] = Field(default_factory=list)
    designers: list[DesignerSpec] = Field(default_factory=list)
    accelerators: list[ProductSpec] = Field(default_factory=list)
    leak_routes: list[LeakRouteSpec] = Field(default_factory=list)
    buyers: list[BuyerSpec] = Field(default_factory=list)
    generations: list[GenerationSpec] = Field(default_factory=list)
    tool_buyers: list[ToolBuyerSpec] = Field(default_factory=list)
    """Memory makers' and IDMs' fabs that buy tools (`agents.fab`)."""

    @field_validator("reference_price_usd", mode="before")
    @classmethod
    def _price_per_tier(cls, value: Any) -> Any:
        return _numbers(value, TIER_NAMES, "price (US$ per wafer)")

    @field_validator("tool_unit_price_usd", mode="before")
    @classmethod
    def _price_per_tool(cls, value: Any) -> Any:
        return _numbers(value, CATEGORY_NAMES, "price (US$ per tool unit)")

    @field_validator("tool_lead_quarters", mode="before")
    @classmethod
    def _lead_per_tool(cls, value: Any) -> Any:
        if not isinstance(value, dict) or not value:
            return value
        missing = [c for c in CATEGORY_NAMES if c not in value]
        if missing:
            raise PydanticCustomError("missing", "no lead time for '{key}'; expected one for each of {keys}",
                                      {"key": missing[0], "keys": ", ".join(CATEGORY_NAMES)})
        for key, lead in value.items():
            if isinstance(lead, str) and _is_note(key):
                continue
            if key not in CATEGORY_NAMES:
                raise PydanticCustomError("unknown_key", "unknown key '{key}'; expected one of {keys} or a note "
                                          "('source', 'note', '<field>_source')",
                                          {"key": key, "keys": ", ".join(CATEGORY_NAMES)})
            if isinstance(lead, bool) or not isinstance(lead, int) or not 0 <= lead <= 12:
                raise PydanticCustomError("number", "'{key}' = {value}; expected a whole number of quarters "
                                          "from 0 to 12", {"key": key, "value": lead})
        return value

    @field_validator("market_cycle", mode="before")
    @classmethod
    def _cycle_by_year(cls, value: Any) -> Any:
        years = [k for k in value if k.isdigit() and len(k) == 4] if isinstance(value, dict) else []
        return _numbers(value, years, "demand multiplier for a year (a key such as '2023')", complete=False)

    @field_validator("bill_of_tools", mode="before")
    @classmethod
    def _bill_per_tier(cls, value: Any) -> Any:
        if not isinstance(value, dict):
            return value
        _every_tier(value, "bill")
        for tier, routes in value.items():
            if tier not in TIER_NAMES:
                raise PydanticCustomError("unknown_key", "unknown tier '{tier}'; expected one of {tiers}",
                                          {"tier": tier, "tiers": ", ".join(TIER_NAMES)})
            if not isinstance(routes, dict) or not routes or set(routes) - {"euv", "duv"}:
                raise PydanticCustomError("routes", "tier '{tier}' holds {routes}; expected tables "
                                          "'euv' and/or 'duv'", {"tier": tier, "routes": routes})
            for route, bill in routes.items():
                units = [v for k, v in _numbers(bill, CATEGORY_NAMES, f"units of tools ({tier}, {route})",
                                                complete=False).items() if not _is_note(k)]
                if not units:
                    raise PydanticCustomError("empty", "the {tier} {route} bill names no tools; expected "
                                              "units for at least one category", {"tier": tier, "route": route})
        return value

    @model_validator(mode="after")
    def _names_unique_and_known(self):
        """Agents' names are graph nodes and targets: unique across firms, foundries and
        vendors; governments are found by name or country: each unique; suppliers exist."""
        checks = [
            ("governments", [g.name for g in self.governments]),
            ("governments' countries", [g.country for g in self.governments]),
            ("governments (one's name is another's country)",
             [key for g in self.governments for key in {g.name, g.country}]),
            ("firms, foundries, vendors, memory makers, packagers, shell companies and buyers",
             [a.name for group in (self.firms, self.foundries, self.vendors, self.memory_makers, self.packagers,
                                   self.leak_routes, self.buyers) for a in group]),
            ("designers", [d.firm for d in self.designers]),
            ("tool buyers", [b.name for b in self.tool_buyers]),
            ("accelerators", [p.name for p in self.accelerators]),
        ]
        for where, names in checks:
            name = _duplicate(names)
            if name is not None:
                raise PydanticCustomError("duplicate", "'{name}' is used twice among {where}; expected "
                                          "unique names and one government a country", {"name": name, "where": where})
        foundries = {f.name for f in self.foundries}
        for field, name, group in (("champion", self.tracked.champion, self.firms),
                                   ("foundry", self.tracked.foundry, self.foundries),
                                   ("vendor", self.tracked.vendor, self.vendors)):
            if name not in {a.name for a in group}:
                raise PydanticCustomError(
                    "unknown", "field 'tracked.{field}': unknown name '{name}'; expected one of {known}",
                    {"field": field, "name": name, "known": ", ".join(sorted(a.name for a in group))},
                )
        for i, firm in enumerate(self.firms):
            tables = [("suppliers", firm.suppliers)] + [(f"demand.{j}.suppliers", s.suppliers or {})
                                                        for j, s in enumerate(firm.demand)]
            for field, table in tables:
                unknown = [name for name in table if name not in foundries]
                if unknown:
                    raise PydanticCustomError(
                        "unknown", "field 'firms.{i}.{field}': unknown foundry '{name}'; expected one of {known}",
                        {"i": i, "field": field, "name": unknown[0], "known": ", ".join(sorted(foundries))},
                    )
        self._chain_names_known(foundries)
        self._tool_buyers_known()
        self._ai_streams_follow_products()
        return self

    def _ai_streams_follow_products(self) -> None:
        """A designer's AI wafer streams start at most one quarter (a wafer's lead)
        before its first accelerator is made: dies made earlier would wait in its die
        bank for a product, then reach buyers all at once. A stream without `start`
        starts in the world's first quarter."""
        first: dict[str, int] = {}
        for p in self.accelerators:
            q = parse_quarter(p.start)
            first[p.designer] = min(first.get(p.designer, q), q)
        for i, firm in enumerate(self.firms):
            if firm.name not in first:
                continue
            earliest = first[firm.name] - 1
            for j, stream in enumerate(firm.demand):
                start = parse_quarter(stream.start or self.meta.first_quarter)
                if stream.ai and start < earliest:
                    raise PydanticCustomError(
                        "order", "field 'firms.{i}.demand.{j}.start': {start}; expected {earliest} or later (one "
                        "quarter before {firm}'s first accelerator, from {first}): dies made earlier would wait "
                        "for a product", {"i": i, "j": j, "start": quarter_label(start),
                                          "earliest": quarter_label(earliest), "firm": firm.name,
                                          "first": quarter_label(first[firm.name])})

    def _tool_buyers_known(self) -> None:
        """A tool buyer's name is a node of its own, or its memory maker's (same country)."""
        makers = {m.name: m.country for m in self.memory_makers}
        others = {a.name for group in (self.firms, self.foundries, self.vendors, self.packagers, self.leak_routes,
                                       self.buyers) for a in group}
        for i, b in enumerate(self.tool_buyers):
            if b.name in others:
                raise PydanticCustomError(
                    "duplicate", "field 'tool_buyers.{i}.name': '{name}' is already a firm, foundry, vendor, "
                    "packager, shell or buyer; expected a name of its own or a memory maker's", {"i": i, "name": b.name})
            if b.name in makers and makers[b.name] != b.country:
                raise PydanticCustomError(
                    "country", "field 'tool_buyers.{i}.country': '{country}' but memory maker '{name}' is of "
                    "'{maker}'; expected the same company's country", {"i": i, "country": b.country,
                                                                        "name": b.name, "maker": makers[b.name]})

    def _chain_names_known(self, foundries: set[str]) -> None:
        """The accelerator chain's tables name firms, packagers and foundries of the world."""
        firms, designers = {f.name for f in self.firms}, {d.firm for d in self.designers}
        packagers = {p.name for p in self.packagers}
        references = [(f"designers.{i}.firm", d.firm, firms) for i, d in enumerate(self.designers)]
        references += [(f"designers.{i}.packagers", name, packagers)
                       for i, d in enumerate(self.designers) for name in d.packagers]
        references += [(f"accelerators.{i}.designer", p.designer, designers) for i, p in enumerate(self.accelerators)]
        references += [(f"leak_routes.{i}.supplier", r.supplier, foundries) for i, r in enumerate(self.leak_routes)]
        references += [(f"leak_routes.{i}.recipient", r.recipient, designers) for i, r in enumerate(self.leak_routes)]
        references += [(f"packagers.{i}.foundry", p.foundry, foundries)
                       for i, p in enumerate(self.packagers) if p.foundry is not None]
        references += [(f"generations.{i}.foundries", name, {f.name for f in self.foundries if g.tier in f.tiers})
                       for i, g in enumerate(self.generations) for name in g.foundries]
        if self.buyers:  # the accelerator market reads prices and the rules' measures
            for i, p in enumerate(self.accelerators):
                for field in ("price_usd", "tpp"):
                    if getattr(p, field) is None:
                        raise PydanticCustomError(
                            "missing", "field 'accelerators.{i}.{field}': missing; expected a number for "
                            "every accelerator of a world with buyers", {"i": i, "field": field})
        for field, name, known in references:
            if name not in known:
                raise PydanticCustomError(
                    "unknown", "field '{field}': unknown name '{name}'; expected one of {known}",
                    {"field": field, "name": name, "known": ", ".join(sorted(known)) or "(none)"},
                )

    # -- convenient, validated views ------------------------------------------------
    def reference_price(self, tier: Tier) -> float:
        return float(self.reference_price_usd[tier.value])

    def unit_price(self, category: str) -> float:
        return float(self.tool_unit_price_usd[category])

    def lead_quarters(self, category: str) -> int:
        """The vendors' lead time for `category` (quarters; 0 when the world gives none)."""
        return int(self.tool_lead_quarters.get(category, 0))

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


_WORLDS = FileCache()


def load_world(name_or_path: str = "default") -> World:
    """Read and validate a world file (see the module's docstring for what a loaded
    world guarantees); raise one ScenarioError naming the file, the field and what was
    expected (the first problem, and how many more there are). The loaded world is kept
    while its file is unchanged (`model.scenario.FileCache`; a World is frozen)."""
    path = world_path(name_or_path)
    if not path.is_file():
        raise ScenarioError(f"world '{name_or_path}': no such world file ({path})")
    key = os.path.abspath(path)  # which file the path reaches is in the stamps the cache checks
    world = _WORLDS.get(key)
    if world is None:
        world = _read_world(path)
        _WORLDS.put(key, [path], world)
    return world


def _read_world(path: Path) -> World:
    raw = read_toml(path, ScenarioError)
    try:
        return World(**raw)
    except ValidationError as exc:
        errors = exc.errors()
        first = errors[0]
        field = ".".join(str(part) for part in first["loc"])
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise ScenarioError(f"{path}: " + (f"field '{field}': " if field else "") + first["msg"].removeprefix("Value error, ") + more) from None
