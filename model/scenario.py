"""Scenarios: the schema of a scenario file, the model's parameters, and the loader.

A scenario is a TOML file (read with the standard library's ``tomllib``) with four
tables::

    [scenario]            name, description, optional `extends` (another scenario)
                          and `without` (ids of its rules, directives or subsidies to drop)
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

import os
import tomllib
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, get_origin

from pydantic import (
    AfterValidator, BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator,
)
from pydantic_core import PydanticCustomError

from model.technology import hbm_from, parse_quarter, tier_from, tool_from

if TYPE_CHECKING:
    from model.world import World

SCENARIO_DIR = Path(__file__).resolve().parent.parent / "experiments" / "scenarios"
FITTED_FILE = Path(__file__).resolve().parent / "data" / "fitted_parameters.toml"
"""Parameter values fitted by `chipstate calibrate`, with their provenance; they sit
under every scenario (a scenario's own [parameters] override them)."""
DEFAULT_SCENARIO = "state_allocation"


class ScenarioError(ValueError):
    """A scenario file or override is wrong. The message names file, field, expectation."""


class _Strict(BaseModel):
    # Unknown keys are typos; inf and nan are never meant (TOML allows both literals).
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


def _quarter(value: str) -> str:
    parse_quarter(value)
    return value


Quarter = Annotated[str, AfterValidator(_quarter)]
"""A quarter label such as '2023Q4'."""


def _unique(names: tuple[str, ...]) -> tuple[str, ...]:
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise PydanticCustomError("unique", "'{name}' is named twice; expected each name once",
                                  {"name": repeated[0]})
    return names


Names = Annotated[tuple[str, ...], AfterValidator(_unique)]
"""Entity names or ``country:XX``, each at most once."""


def _after(earlier: str, *, strictly: bool):
    """A field validator: the field's quarter is after field `earlier`'s (or equal,
    unless `strictly`). Either may be None (then nothing is checked)."""

    def check(cls, value: str | None, info: ValidationInfo) -> str | None:
        before = info.data.get(earlier)
        if value is not None and before is not None:
            if parse_quarter(value) < parse_quarter(before) + strictly:
                raise PydanticCustomError(
                    "quarter_order", "{value} is {relation} {earlier} {before}; expected a quarter "
                    "{expected} {earlier}",
                    {"value": value, "earlier": earlier, "before": before,
                     "relation": "before" if parse_quarter(value) < parse_quarter(before) else "equal to",
                     "expected": "after" if strictly else "at or after"},
                )
        return value

    return check
TierName = Annotated[str, AfterValidator(lambda v: tier_from(v).value)]
"""A tier, by value or name, stored as its value ('7nm')."""
ToolName = Annotated[str, AfterValidator(lambda v: tool_from(v).value)]
"""A tool category, by value or name, stored as its value ('duv_immersion')."""


def read_toml(path: Path, error: type[Exception]) -> dict:
    """A TOML file as a dict; a missing, unreadable (a directory, no permission),
    non-UTF-8 or binary, malformed or too deeply nested file raises `error` with one
    message naming the file."""
    try:
        with open(path, "rb") as handle:
            return tomllib.load(handle)
    except tomllib.TOMLDecodeError as exc:
        raise error(f"{path}: not valid TOML ({exc})") from None
    except UnicodeDecodeError as exc:
        raise error(f"{path}: not valid TOML (not UTF-8 text: byte {exc.start}); expected a UTF-8 text file") from None
    except RecursionError:
        raise error(f"{path}: not valid TOML (nested too deeply); expected a few levels of tables and arrays") from None
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
    champions: Names = lever(
        ("Huawei",),
        description="Firms the state allocator serves first, in priority order; none: the "
        "directive reserves nothing (the browser app's 'no champions').",
    )
    ration_buyers: Names = lever(
        ("Other Chinese buyers",),
        description="Chinese buyers the state allocator serves first with domestic "
        "accelerators while a directive is in force, in priority order (none: no "
        "rationing). Default: state-linked buyers, telecom operators and AI labs "
        "(ASSUMPTION: reports of a platform firm receiving under a third of the Ascends it "
        "ordered in 2024; issue 13).",
    )
    ration_share: float = lever(
        0.5, ge=0.0, le=1.0,
        description="Share of each Chinese designer's accelerators of a quarter the state "
        "allocator reserves for `ration_buyers` while a directive is in force (0: the "
        "market alone). ASSUMPTION: no figure is published; range 0-1.",
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
        description="Share of the gap to its cost-plus target price (model.costs.target_prices) a "
        "foundry closes each quarter (partial adjustment; 0: prices stay at their references). "
        "Assumption.",
    )
    generation_migration: float = uncertainty(
        0.04, ge=0.0, le=0.5,
        description="Share of a foundry's older-generation capacity of a tier converted to "
        "the newest generation it runs each quarter (model.generations; the world's "
        "[[generations]]). ASSUMPTION: fabs convert lines over four to eight years; range 0.02-0.08.",
    )
    packaging_price_scale: float = uncertainty(
        1.0, ge=0.0, le=3.0,
        description="Multiplier on the packaging houses' prices a package (the world's "
        "[[packagers]] price_usd: TSMC's CoWoS ~US$1,000 a package, an ASSUMPTION checked "
        "against TSMC's advanced packaging near 7-10% of its 2023-2025 revenue). Range 0.6-2.0; "
        "0 counts no packaging revenue (the accounts before issue 14).",
    )
    depreciation_life_years: float = uncertainty(
        5.0, ge=2.0, le=10.0,
        description="Years over which a foundry writes its tools off, straight-line (model.costs."
        "depreciation). ASSUMPTION: fab equipment is commonly depreciated over ~5 years; range 4-7.",
    )
    multipatterning_cost_factor: float = uncertainty(
        1.4, ge=1.0, le=3.0,
        description="Multiplier on the variable cost of a wafer of leading or 7nm-class made by "
        "DUV multi-patterning instead of EUV (more litho, etch and deposition passes; the bill of "
        "tools already holds its larger tool fleet). ASSUMPTION: SMIC N+2 needs ~3x the immersion "
        "passes of EUV for its critical layers (default_world.toml bill_of_tools note); range 1.2-1.8.",
    )
    base_lerner: float = uncertainty(
        0.2, ge=0.0, le=0.6,
        description="Base markup over price, (p - c) / p, that every foundry earns at normal load "
        "whatever its share (differentiation, long-term agreements; model.costs.lerner_markup). "
        "ASSUMPTION sized so small foundries' gross margins sit near 20-30%; range 0.1-0.3.",
    )
    tier_demand_elasticity: float = uncertainty(
        2.5, ge=1.0, le=10.0,
        description="Price elasticity of a tier's wafer demand that sets the Cournot markup "
        "share / elasticity (model.costs.lerner_markup): TSMC's ~90% of the leading tier earns "
        "0.2 + 0.9 / 2.5 = 0.56 over price. ASSUMPTION sized so TSMC's gross margin lands near "
        "50-55%; range 1.5-4.",
    )
    load_markup_response: float = uncertainty(
        0.5, ge=0.0, le=2.0,
        description="Rise of the target price per unit of orders beyond the normal load, over "
        "that load (clipped to +-50%: at most +-25% by default; model.costs.target_prices). "
        "ASSUMPTION: list prices rose 20-30% on mature nodes in the 2021-2022 shortage; range 0.2-1.",
    )
    price_floor: float = uncertainty(
        0.5, ge=0.0, le=1.0,
        description="Lowest wafer price, as a multiple of the foundry's reference price, unless "
        "its variable cost per wafer is higher (then that). ASSUMPTION: a node's price falls as its "
        "tools are written off, but foundries hold list prices on depreciated nodes (TSMC 28nm "
        "~5,000 in 2013 to ~3,000 later, calibration.csv: wafer_price, TSMC 28nm); range 0.3-0.75.",
    )
    price_cap: float = uncertainty(
        1.6, ge=1.0, le=5.0,
        description="Highest wafer price, as a multiple of the foundry's reference price (the "
        "floor is its variable cost per wafer). ASSUMPTION: TSMC's 3nm at ~20k over its 5nm "
        "reference 17k (calibration.csv: wafer_price, TSMC 3nm, 2022-2023) and shortage "
        "surcharges; range 1.3-2.5.",
    )
    stockpile_factor: float = uncertainty(
        1.0, ge=0.0, le=5.0,
        description="Extra orders, as a share of normal orders, placed on a supply "
        "relation between a rule's announcement and its effect. ASSUMPTION 1.0; `chipstate "
        "calibrate` fits it to ASML's China share in 2022-2023 (calibration.csv: "
        "asml_china_share); prior 0-4.",
    )
    tool_lead_scale: float = uncertainty(
        1.0, ge=0.0, le=3.0,
        description="Multiplier on the vendors' lead times by tool category (world "
        "`tool_lead_quarters`, ASSUMPTION; rounded to whole quarters; 0: orders filled the "
        "quarter they are placed). Range for sweeps 0.5-1.5.",
    )
    preference_adaptation: float = uncertainty(
        0.15, ge=0.0, le=1.0,
        description="Share of the gap to its target supplier mix a firm closes each "
        "quarter. Assumption.",
    )
    vendor_fixed_cost_share: float = uncertainty(
        0.3, ge=0.0, le=1.0,
        description="Share of an equipment vendor's cost of sales at full load that its "
        "capacity costs whether or not the tools sell (model.costs.vendor_cost_of_sales_usd_m). "
        "ASSUMPTION, range for sweeps 0.1-0.5.",
    )
    install_rate: float = uncertainty(
        0.06, ge=0.0, le=1.0,
        description="Most new capacity a foundry puts into service in a quarter, as a share "
        "of its capacity (0: no limit): cleanroom space limits it (fab shells take years to "
        "build), and tools beyond it wait in stock, as China's 2023 stockpile did. ASSUMPTION "
        "0.06 (~26% a year; SMIC grew 13% in 2023: calibration.csv capacity_8in_eq_per_month, "
        "SMIC, 2022Q4-2023Q4); `chipstate calibrate` fits it (0.114 in the shipped fit: the "
        "in-sample capacity rows want the 2019-2023 build-out unlimited); range for sweeps 0.03-0.12.",
    )
    repurpose_share: float = uncertainty(
        0.25, ge=0.0, le=1.0,
        description="Share of the tools a foundry stocked for older tiers that it may move "
        "to a more advanced tier short of tools each quarter (tools licensed for mature "
        "lines used on advanced ones). Assumption.",
    )
    foundry_preference: dict[str, Annotated[float, Field(ge=0.0)]] = uncertainty(
        default_factory=dict,
        description="Multiplier (>= 0) on every firm's base preference for a foundry, by name "
        "(missing: 1). The base market-share preferences `chipstate calibrate` fits. A "
        "partial table merges key by key into the one beneath it (fitted values, then each "
        "scenario of the chain, then overrides).",
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
    die_leak_per_quarter: float = uncertainty(
        414_000.0, ge=0.0, le=2_000_000.0,
        description="Good logic dies a quarter that a leak route (a shell company) carries "
        "from its foundry to its recipient while open. Default: ~2.9M TSMC-made Ascend dies "
        "reached Huawei in 2023-2024 (issue 12, citing SemiAnalysis 2025-09-08, 'Die Banks, "
        "TSMC Continued Production', calibration.csv), over the 7 quarters 2023Q1-2024Q3 the "
        "route is open before the 2024-11 TSMC letter: 2.9M / 7. Range for sweeps: 2.0M-3.5M "
        "over the window (286k-500k a quarter; ASSUMPTION, the figure is an estimate).",
    )
    hbm_stockpile_factor: float = uncertainty(
        22.0, ge=0.0, le=100.0,
        description="Extra HBM orders, as a share of a designer's normal orders, on a "
        "memory maker -> designer relation between an HBM rule's announcement and its "
        "effect (precautionary stockpiling). ASSUMPTION, fitted: China held ~13M stacks "
        "by the December 2024 rule, 7M shipped in its window (accelerators.csv: "
        "hbm_stockpile_window, Samsung -> China, 2024-12): 22 gives ~13M in the default "
        "world, where Chinese designers' normal orders follow their buyers' 2024 orders. "
        "Range 10-35.",
    )
    accelerator_demand_scale: float = uncertainty(
        1.0, ge=0.1, le=5.0,
        description="Multiplier on the compute (and budget) Chinese buyers want "
        "(model/data/default_world.toml [[buyers]]: ~520k H100e in 2024, from the ~1M H20s "
        "and the Ascends they took, with Ascend demand twice what they expected to get). "
        "Range 0.6-1.5 (Ascend demand 1-3 times what they got).",
    )
    hbm_cover_quarters: float = uncertainty(
        1.0, ge=0.0, le=8.0,
        description="HBM stock a designer aims to hold beyond this quarter's needs, in "
        "quarters of its planned use: it orders HBM up to it, after every designer's "
        "needs are filled (ASSUMPTION; range 0.5-2).",
    )
    die_cover_quarters: float = uncertainty(
        2.0, ge=0.0, le=20.0,
        description="Quarters of its die needs a designer with a sized demand keeps as a "
        "reserve: it orders fewer AI wafers by the dies it holds beyond that (ASSUMPTION; "
        "range 1-4).",
    )
    design_lag_quarters: float = uncertainty(
        1.0, ge=0.0, le=8.0,
        description="Quarters after a chip rule takes effect before a designer offers the "
        "China part that answers it (a product's `responds_to`; rounded to a whole quarter). 1: the A800 followed the "
        "2022-10 rule within weeks and the H20 the 2023-10 rule by early 2024 "
        "(controls_timeline.csv; accelerators.csv: h20_shipments_forecast, 2024); range 1-3.",
    )
    price_sensitivity: float = uncertainty(
        1.0, ge=0.0, le=10.0,
        description="Weight of log(H100-equivalents per US$) in a buyer's choice among the "
        "accelerators it may buy (a logit). ASSUMPTION; range 0.5-3.",
    )
    ecosystem_premium: float = uncertainty(
        1.0, ge=0.0, le=10.0,
        description="Utility (log units) buyers give a designer's software ecosystem "
        "(x its world `ecosystem`: Nvidia's CUDA 1). ASSUMPTION, fitted: Nvidia held 66% "
        "of China's AI processor market in 2024 (accelerators.csv: "
        "nvidia_share_china_ai_chips, Bernstein) though Ascends gave more compute per "
        "dollar; 1.0 gives 65%; range 0.5-2.",
    )
    fee_pass_through: float = uncertainty(
        0.5, ge=0.0, le=1.0,
        description="Share of a licence fee a designer passes on in its price to the "
        "licensed buyers. ASSUMPTION; range 0-1.",
    )
    tool_buyer_capex_scale: float = uncertainty(
        1.0, ge=0.0, le=3.0,
        description="Multiplier on the memory makers' and IDMs' spend on wafer-fab equipment "
        "(world `tool_buyers`, `agents.fab.ToolBuyer`; 0: they buy no tools). ASSUMPTION: "
        "their dated spend is an estimate (see the world file); range 0.7-1.3.",
    )
    memory_tool_drag: float = uncertainty(
        0.5, ge=0.0, le=1.0,
        description="Share of a memory maker's capacity growth lost, and of a year by which "
        "each later HBM generation is delayed, per share of its tool categories (DUV "
        "immersion, etch/deposition, metrology) that rules in force deny it (ASSUMPTION; "
        "domestic tools fill part of the gap; range 0-1).",
    )
    wafer_price_elasticity: float = uncertainty(
        0.3, ge=0.0, le=2.0,
        description="Price elasticity of a firm's non-AI wafer orders for a tier: they scale "
        "with (price it faces / reference price) ** -elasticity (model.demand.demand_at_price; "
        "AI wafers do not answer the wafer price). ASSUMPTION: short-run wafer demand is "
        "inelastic (a wafer is a small share of an end product's cost and a design is tied "
        "to its node); no published estimate in ../shared/data; range 0.1-1.0.",
    )
    foundry_price_sensitivity: float = uncertainty(
        1.0, ge=0.0, le=5.0,
        description="Weight of -log(price / reference price) of a foundry in a firm's choice "
        "among the foundries it may use at a tier (a logit whose other terms are its learned "
        "preference: base share x fill rate x yield quality; model.demand.choice_weights). "
        "ASSUMPTION: porting a design between foundries is costly, so shares move little "
        "with price; range 0-3 (0: choice by preference and fill rate alone).",
    )
    localisation_rate: float = uncertainty(
        0.005, ge=0.0, le=0.1,
        description="Quarterly rise in a firm's log-preference for home foundries at 28nm and "
        "mature tiers per foreign chip control (wafers, tools, servicing, HBM, packaging, "
        "accelerators rules) announced or in force against its country or its country's "
        "firms; it never falls back (model.demand.localisation_level). ASSUMPTION; 0.005 "
        "puts historical Chinese firms' log-preference at ~0.6 by 2023Q4 and ~1.3 by 2025Q4 "
        "(x1.8, x3.5 on their domestic relations); the direction is what SMIC's customers "
        "did: China 69.9% (2021) -> 84% (2023Q3) of its revenue (calibration.csv: "
        "revenue_share_by_customer_region, SMIC - China); range 0-0.015.",
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

    @field_validator("champions", "ration_buyers", mode="before")
    @classmethod
    def _champion_list(cls, value: Any) -> Any:
        if isinstance(value, str):
            return tuple(v.strip() for v in value.split(",") if v.strip())
        return value

    _end_not_before_start = field_validator("end")(_after("start", strictly=False))


def parameter_groups() -> dict[str, str]:
    """Parameter name -> group ('levers', 'uncertainties', 'world')."""
    return {
        name: (field.json_schema_extra or {}).get("group", "world")
        for name, field in Parameters.model_fields.items()
    }


# ------------------------------------------------------------------------- timeline
class PerformanceTest(_Strict):
    """One test of an export rule on accelerators (ECCN 3A090): a product is caught when
    it meets every threshold given: total processing performance `tpp`, performance
    density `density` (TPP per mm2 of die) and chip-to-chip bandwidth `interconnect_gbps`."""

    tpp: float = Field(ge=0)
    density: float | None = Field(None, ge=0)
    interconnect_gbps: float | None = Field(None, ge=0)


class Rule(_Strict):
    """An export control, as data.

    kind:
      - ``wafers``: foundry -> firm supply of `tier` and every more advanced tier;
      - ``tools``: vendor -> foundry (and -> memory maker's or IDM's fabs, world
        `tool_buyers`) supply of `tools` for use at `tier` and above;
      - ``servicing``: vendors stop servicing installed `tools` (faster depreciation);
      - ``minerals``: an export control on critical minerals that cuts the output of
        vendors in the `targets` countries by the `mineral_shock` parameter;
      - ``hbm``: memory maker -> designer supply of HBM stacks of `generation` and
        every newer one;
      - ``packaging``: packaging house -> designer bookings of CoWoS-class packaging;
      - ``accelerators``: designer -> buyer sales of finished accelerators: those named
        in `products` and those any of `tests` catches (a product meeting every
        threshold of one test), less those in `exempt`. With a `licence_fee` the rule
        cuts nothing: sales go on under licence, the fee share of their revenue going
        to the issuer;
      - ``purchases``: a buyer country's own measure (purchase guidance, customs
        checks): its buyers in `targets` stop buying from the designers in `suppliers`
        (their `products` only, if it names any).
      - ``domestic_tools``: a buyer country's own requirement that the foundries (and other
        fabs) in `targets` buy at least `domestic_share` of their new tools (by value) from
        vendors of its own country (model.market.require_domestic); it cuts nothing.
    A ``wafers`` rule also reaches the dies a shell company buys (a leak route's
    foundry -> shell edge is a wafers relation of the shell's).
    Targets are entity names or ``country:XX``. The rule reaches the suppliers named in
    `suppliers` alone if it names any; otherwise the issuer's own suppliers and, with
    `foreign_direct_product`, every supplier outside the buyer's own country
    (model.policy.supplier_reach). A rule reaches the tier it names and every more
    advanced one.
    """

    id: str
    issuer: str
    kind: Literal["wafers", "tools", "servicing", "minerals", "hbm", "packaging", "accelerators", "purchases",
                  "domestic_tools"]
    targets: Names = Field(min_length=1)
    tier: TierName = "mature"
    tools: tuple[ToolName, ...] = ()
    suppliers: Names = ()
    generation: Annotated[str, AfterValidator(hbm_from)] = "HBM2"
    """The oldest HBM generation an ``hbm`` rule reaches (every newer one too)."""
    tests: tuple[PerformanceTest, ...] = ()
    """An ``accelerators`` rule's thresholds: a product is caught by a test when it meets
    every threshold the test sets."""
    products: Names = ()
    """Accelerators an ``accelerators`` or ``purchases`` rule names."""
    exempt: Names = ()
    """Accelerators an ``accelerators`` rule does not reach, whatever its tests say."""
    licence_fee: float = Field(0.0, ge=0.0, le=1.0)
    """An ``accelerators`` rule's licence: sales go on, this share of their revenue to the issuer."""
    domestic_share: float = Field(0.0, ge=0.0, le=1.0)
    """A ``domestic_tools`` rule's least share of new tools, by value, bought at home."""
    foreign_direct_product: bool = False
    announced: Quarter | None = None
    effective: Quarter
    end: Quarter | None = None
    event: str = Field(description="The controls_timeline.csv event this rule models.")

    _effective_not_before_announced = field_validator("effective")(_after("announced", strictly=False))
    _ends_after_effective = field_validator("end")(_after("effective", strictly=True))

    @field_validator("tools")
    @classmethod
    def _tools_for_tool_rules(cls, value: tuple[str, ...], info: ValidationInfo) -> tuple[str, ...]:
        """`tools` means something only to tools and servicing rules."""
        if value and info.data.get("kind") not in ("tools", "servicing"):
            raise PydanticCustomError("kind", "a {kind} rule names no tools; expected no `tools` "
                                      "(only tools and servicing rules take them)", {"kind": info.data["kind"]})
        return value

    @field_validator("generation")
    @classmethod
    def _generation_for_hbm_rules(cls, value: str, info: ValidationInfo) -> str:
        """`generation` means something only to hbm rules."""
        if value != "HBM2" and info.data.get("kind") != "hbm":
            raise PydanticCustomError("kind", "a {kind} rule names no HBM generation; expected no "
                                      "`generation` (only hbm rules take one)", {"kind": info.data.get("kind")})
        return value

    @field_validator("tests", "products", "exempt", "licence_fee")
    @classmethod
    def _for_chip_rules(cls, value, info: ValidationInfo):
        """Tests, exemptions and licence fees mean something only to accelerators rules;
        named products to accelerators and purchases rules."""
        kinds = ("accelerators", "purchases") if info.field_name == "products" else ("accelerators",)
        if value and info.data.get("kind") not in kinds:
            raise PydanticCustomError("kind", "a {kind} rule takes no `{field}`; expected none (only {kinds} "
                                      "rules take it)", {"kind": info.data.get("kind"), "field": info.field_name,
                                                         "kinds": " and ".join(kinds)})
        return value

    @field_validator("domestic_share")
    @classmethod
    def _share_for_domestic_tools(cls, value: float, info: ValidationInfo) -> float:
        """`domestic_share` means something only to domestic_tools rules, which need one."""
        kind = info.data.get("kind")
        if (value > 0) != (kind == "domestic_tools"):
            raise PydanticCustomError("kind", "a {kind} rule {takes}; expected `domestic_share` in (0, 1] on "
                                      "domestic_tools rules only",
                                      {"kind": kind, "takes": "takes no `domestic_share`" if value > 0
                                       else "needs a `domestic_share` above 0"})
        return value

    @field_validator("suppliers")
    @classmethod
    def _suppliers_for_trade_rules(cls, value: tuple[str, ...], info: ValidationInfo) -> tuple[str, ...]:
        """`suppliers` means something only to rules that cut trade (wafers, tools)."""
        if value and info.data.get("kind") in ("servicing", "minerals"):
            raise PydanticCustomError("kind", "a {kind} rule reaches no suppliers; expected no "
                                      "`suppliers` (only wafers and tools rules take them)", {"kind": info.data["kind"]})
        return value


class Directive(_Strict):
    """A state allocation directive: `foundry`'s advanced tiers serve champions first."""

    id: str
    issuer: str = "CN"
    foundry: str | None = None
    """The foundry directed; None: the world's tracked foundry (`World.tracked`)."""
    effective: Quarter
    end: Quarter | None = None
    event: str

    _ends_after_effective = field_validator("end")(_after("effective", strictly=True))


class Subsidy(_Strict):
    """Money a government gives its firms, USD million per quarter, split evenly; with
    `build_ahead`, also a state instruction: foundries among the recipients build that
    share of capacity above their forecast orders while it is in force."""

    id: str
    issuer: str
    recipients: Names = Field(min_length=1)
    usd_m_per_quarter: float = Field(ge=0.0)
    build_ahead: float = Field(0.0, ge=0.0, le=2.0)
    build_ahead_tiers: tuple[TierName, ...] = ()
    """The tiers a build-out instruction covers (none named: every tier)."""
    effective: Quarter
    end: Quarter | None = None
    event: str

    _ends_after_effective = field_validator("end")(_after("effective", strictly=True))


class ScenarioInfo(_Strict):
    name: str
    description: str = ""
    extends: str | None = None
    without: Names = ()
    """Ids of the extended scenario's rules, directives or subsidies this one drops
    (a counterfactual timeline without an event)."""


class ScenarioFile(_Strict):
    """The schema of one scenario file. Ids are unique within each of its tables (a
    child scenario may reuse a parent's id: its entry then replaces the parent's)."""

    scenario: ScenarioInfo
    parameters: dict[str, Any] = Field(default_factory=dict)
    rules: list[Rule] = Field(default_factory=list)
    directives: list[Directive] = Field(default_factory=list)
    subsidies: list[Subsidy] = Field(default_factory=list)

    @field_validator("rules", "directives", "subsidies")
    @classmethod
    def _unique_ids(cls, entries: list) -> list:
        ids = [entry.id for entry in entries]
        for j, entry_id in enumerate(ids):
            if entry_id in ids[:j]:
                raise PydanticCustomError(
                    "unique", "entries {i} and {j} share id '{id}'; expected unique ids within a "
                    "file (a child scenario replaces a parent's entry by reusing its id)",
                    {"i": ids.index(entry_id), "j": j, "id": entry_id},
                )
        return entries


class Scenario(_Strict):
    """A scenario with its `extends` chain resolved and its parameters validated."""

    name: str
    description: str
    path: str
    parameters: Parameters
    rules: tuple[Rule, ...]
    directives: tuple[Directive, ...]
    subsidies: tuple[Subsidy, ...]
    origins: dict[str, tuple[str, int]] = Field(default_factory=dict, repr=False)
    """Where each rule, directive and subsidy was written: '<table>.<id>' -> (file, its
    index in that file's table), so that a message points at the right entry."""

    def with_overrides(self, overrides: dict[str, Any], source: str = "override") -> Scenario:
        """A copy with parameters replaced (dict-valued ones merged key by key, see
        `merge_parameters`); unknown names or bad values raise ScenarioError."""
        if not overrides:
            return self
        params = validate_parameters(
            merge_parameters(self.parameters.model_dump(exclude_unset=False), overrides), source
        )
        return self.model_copy(update={"parameters": params})

    def origin(self, table: str, entry: Rule | Directive | Subsidy, field: str) -> str:
        """'<file>: field '<table>.<i>.<field>'' for an entry (the leaf file if unknown)."""
        path, index = self.origins.get(f"{table}.{entry.id}", (self.path, entry.id))
        return f"{path}: field '{table}.{index}.{field}'"


# --------------------------------------------------------------------------- loading
def merge_parameters(beneath: dict[str, Any], above: dict[str, Any]) -> dict[str, Any]:
    """`above`'s values over `beneath`'s; where both hold a table (a dict, such as
    `foundry_preference`), key by key, so that a partial table keeps the values beneath
    it (a scenario setting TSMC's multiplier keeps the fitted ones of the others)."""
    merged = dict(beneath)
    for name, value in above.items():
        below = merged.get(name)
        merged[name] = {**below, **value} if isinstance(below, dict) and isinstance(value, dict) else value
    return merged


def _describe(error: dict) -> str:
    field = ".".join(str(part) for part in error["loc"]) or "(file)"
    shown = "input" in error and not isinstance(error["input"], dict | list | tuple) and (
        error["type"] != "quarter_order")  # those messages name the quarters themselves
    return f"field '{field}': {error['msg'].removeprefix('Value error, ')}" + (
        f" (got {error['input']!r})" if shown else ""
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


def file_stamp(path: Path | str) -> tuple | None:
    """What identifies a file's present content cheaply, from one stat of the path
    (symbolic links followed): (device, inode, mtime in ns, size); None if it does not
    exist or cannot be stat'ed. The device and inode tell which file the path reaches
    now (a link turned to another file, or a file put in its place, gives another),
    without resolving each component of the path."""
    try:
        st = os.stat(path)
    except (OSError, ValueError):
        return None
    return (st.st_dev, st.st_ino, st.st_mtime_ns, st.st_size)


class FileCache:
    """Parsed, validated objects by key, each kept with the stamps (`file_stamp`) of the
    files it was read from and given back only while every one of them is unchanged.

    The objects are frozen pydantic models, shared by every model that loads them (a
    model constructs its own world copy when it adds synthetic actors, from its own
    rng: that copy is never cached). Bounded: cleared when it holds `limit` entries."""

    def __init__(self, limit: int = 64) -> None:
        self.entries: dict = {}
        self.limit = limit

    def get(self, key):
        hit = self.entries.get(key)
        if hit is None:
            return None
        files, stamps, value = hit
        return value if [file_stamp(f) for f in files] == stamps else None

    def put(self, key, files: list[Path], value) -> None:
        if len(self.entries) >= self.limit:
            self.entries.clear()
        self.entries[key] = (files, [file_stamp(f) for f in files], value)


_SCENARIOS = FileCache()


def load_scenario(
    name_or_path: str | Path = DEFAULT_SCENARIO, overrides: dict | None = None, fitted: bool = True
) -> Scenario:
    """Load a scenario by name or path, resolve `extends`, apply `overrides`.

    Parameters start from the code's defaults, then the fitted values
    (model/data/fitted_parameters.toml, unless `fitted` is False), then each file of the
    chain from the root; a child's rules, directives and subsidies are added to the
    parent's (a child entry with a parent's id replaces it). Raises ScenarioError for any
    problem, naming the file and field. The loaded scenario is kept (`FileCache`) while
    none of its files changes: a sweep constructs thousands of models from one file.
    """
    path = scenario_path(name_or_path)
    # The path as given (a Scenario records it) and as an absolute one (a relative path
    # names another file in another working directory); which file it reaches is in
    # the stamps the cache checks.
    key = (str(path), os.path.abspath(path), fitted)
    scenario = _SCENARIOS.get(key)
    if scenario is None:
        scenario, files = _read_scenario(path, fitted)
        _SCENARIOS.put(key, files, scenario)
    return scenario.with_overrides(overrides or {}, "override")


def _read_scenario(path: Path, fitted: bool) -> tuple[Scenario, list[Path]]:
    """The scenario of `path` (its `extends` chain resolved, no overrides) and the files
    it was read from."""
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
    origins: dict[str, tuple[str, int]] = {}
    for file_path, data in reversed(chain):
        params = merge_parameters(params, data.parameters)
        validate_parameters(params, f"{file_path} [parameters]")
        for dropped in data.scenario.without:
            if not any(merged[table].pop(dropped, None) for table in merged):
                raise ScenarioError(f"{file_path}: field 'scenario.without': no rule, directive or subsidy "
                                    f"'{dropped}' in the scenarios it extends; expected one of their ids")
        for table in merged:
            for i, entry in enumerate(getattr(data, table)):
                merged[table][entry.id] = entry
                origins[f"{table}.{entry.id}"] = (str(file_path), i)
    _, leaf = chain[0]
    scenario = Scenario(
        name=leaf.scenario.name,
        description=leaf.scenario.description,
        path=str(path),
        parameters=validate_parameters(params, f"{path} [parameters]"),
        rules=tuple(merged["rules"].values()),
        directives=tuple(merged["directives"].values()),
        subsidies=tuple(merged["subsidies"].values()),
        origins=origins,
    )
    return scenario, [p for p, _ in chain] + ([FITTED_FILE] if fitted else [])


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


# --------------------------------------------------------------- against the world
TARGET_KIND = {"wafers": ("firm", "shell"), "tools": ("foundry", "memory maker", "tool buyer"),
               "servicing": ("foundry",), "minerals": ("vendor",), "hbm": ("designer",), "packaging": ("designer",),
               "accelerators": ("buyer",), "purchases": ("buyer",), "domestic_tools": ("foundry", "tool buyer")}
"""Whom each kind of rule reaches: the buyers of the trade it cuts (firms and shell
companies buy wafers and dies, foundries and the other fabs (world `tool_buyers`) buy
tools and foundries have them serviced, memory makers are denied tools, designers buy
HBM and packaging); a minerals rule hits vendors' output."""
SUPPLIER_KIND = {"wafers": ("foundry",), "tools": ("vendor",), "hbm": ("memory maker",), "packaging": ("packager",),
                 "accelerators": ("designer",), "purchases": ("designer",)}
"""Who supplies the trade a rule cuts (its `suppliers` must be of this kind)."""


def _listing(names) -> str:
    names = sorted(names)
    return ", ".join(names[:20]) + (f", ... ({len(names)} in all)" if len(names) > 20 else "")


def check_against_world(scenario: Scenario, world: World) -> None:
    """Raise one ScenarioError, naming the file and field, unless every name and date
    the scenario uses means something in `world` (the loaded world, synthetic actors
    included). Guarantees:

    - issuers are governments of the world (by name or country); a directive's issuer
      is the government of CN, the one state allocator the model runs;
    - a rule's targets are agents of the kind it reaches (`TARGET_KIND`) or
      ``country:XX`` with XX the country of some agent of the world; its `suppliers`
      are of `SUPPLIER_KIND`; a directive's foundry is a foundry; subsidy recipients
      are foundries or vendors (the agents that take money);
    - `champions` are firms, `foundry_preference` names foundries, `start` is not before
      the world's first quarter; `domestic_subsidy_usd_m` has Chinese vendors to go to,
      and `allies_aligned` / `duv_servicing_ban` have NL and JP governments to issue rules.

    A pair that passed is remembered (both are frozen: the same pair passes again), so
    the models a sweep builds on one loaded scenario and world check it once.
    """
    passed = _CHECKED.get((id(scenario), id(world)))
    if passed is not None and passed[0] is scenario and passed[1] is world:
        return
    _check_against_world(scenario, world)
    if len(_CHECKED) >= 64:
        _CHECKED.clear()
    _CHECKED[(id(scenario), id(world))] = (scenario, world)


_CHECKED: dict[tuple[int, int], tuple] = {}
"""Scenario and world pairs that passed `check_against_world`, by identity (held, so
that an identity is not reused while it is here)."""


def _check_against_world(scenario: Scenario, world: World) -> None:
    agents = {"firm": {f.name for f in world.firms}, "foundry": {f.name for f in world.foundries},
              "vendor": {v.name for v in world.vendors}, "shell": {r.name for r in world.leak_routes},
              "memory maker": {m.name for m in world.memory_makers}, "designer": {d.firm for d in world.designers},
              "packager": {p.name for p in world.packagers}, "buyer": {b.name for b in world.buyers},
              "tool buyer": {b.name for b in world.tool_buyers}}
    countries = {a.country for group in (world.firms, world.foundries, world.vendors, world.governments,
                                         world.memory_makers, world.packagers, world.leak_routes, world.buyers,
                                         world.tool_buyers)
                 for a in group}
    products = {p.name for p in world.accelerators}
    governments = {key: g.country for g in world.governments for key in (g.name, g.country)}

    def fail(where: str, problem: str, expected: str) -> None:
        raise ScenarioError(f"{where}: {problem}; expected {expected}")

    def check_names(where: str, names, kinds: tuple[str, ...], allow_countries: bool) -> None:
        known = set().union(*(agents[k] for k in kinds))
        for name in names:
            country = name.removeprefix("country:") if allow_countries and name.startswith("country:") else None
            if name not in known and country not in countries:
                what = " or ".join(f"a {k}" for k in kinds) + " of the world"
                if allow_countries:
                    what += f", or country:XX with XX one of {_listing(countries)}"
                fail(where, f"unknown name '{name}'", f"{what} ({_listing(known)})" if not allow_countries else what)

    for table in ("rules", "directives", "subsidies"):
        for entry in getattr(scenario, table):
            if entry.issuer not in governments:
                fail(scenario.origin(table, entry, "issuer"), f"issuer '{entry.issuer}' is not a government of the world",
                     f"a government by name or country: {_listing(governments)}")
    for rule in scenario.rules:
        check_names(scenario.origin("rules", rule, "targets"), rule.targets, TARGET_KIND[rule.kind], True)
        if rule.suppliers:
            check_names(scenario.origin("rules", rule, "suppliers"), rule.suppliers, SUPPLIER_KIND[rule.kind], False)
        for field in ("products", "exempt"):
            for name in getattr(rule, field):
                if name not in products:
                    fail(scenario.origin("rules", rule, field), f"unknown accelerator '{name}'",
                         f"accelerators of the world ({_listing(products)})")
    for directive in scenario.directives:
        if governments[directive.issuer] != "CN":
            fail(scenario.origin("directives", directive, "issuer"), f"issuer '{directive.issuer}' does not run "
                 "China's state allocator", "the government of CN (the only state allocator the model runs)")
        check_names(scenario.origin("directives", directive, "foundry"),
                    [directive.foundry or world.tracked.foundry], ("foundry",), False)
    for subsidy in scenario.subsidies:
        check_names(scenario.origin("subsidies", subsidy, "recipients"), subsidy.recipients,
                    ("foundry", "vendor"), False)

    p, source = scenario.parameters, f"{scenario.path} [parameters]"
    for name in p.champions:
        if name not in agents["firm"]:
            raise ScenarioError(f"{source}: field 'champions': unknown firm '{name}'; expected firms "
                                f"of the world: {_listing(agents['firm'])}")
    for name in p.ration_buyers:
        if name not in agents["buyer"]:
            raise ScenarioError(f"{source}: field 'ration_buyers': unknown buyer '{name}'; expected buyers "
                                f"of the world: {_listing(agents['buyer']) or '(none)'}")
    for name in p.foundry_preference:
        if name not in agents["foundry"]:
            raise ScenarioError(f"{source}: field 'foundry_preference.{name}': unknown foundry; "
                                f"expected foundries of the world: {_listing(agents['foundry'])}")
    first = world.meta["first_quarter"]
    if parse_quarter(p.start) < parse_quarter(first):
        fail(f"{source}: field 'start'", f"{p.start} is before the world's first quarter",
             f"a quarter at or after {first} (meta.first_quarter)")
    if p.domestic_subsidy_usd_m > 0 and not any(v.country == "CN" for v in world.vendors):
        fail(f"{source}: field 'domestic_subsidy_usd_m'", "the world has no Chinese (CN) vendor to receive it",
             "0")
    for lever in ("allies_aligned", "duv_servicing_ban"):
        missing = sorted({"NL", "JP"} - set(governments))
        if getattr(p, lever) and missing:
            fail(f"{source}: field '{lever}'", f"the lever has NL and JP issue rules and the world has no "
                 f"government of {', '.join(missing)}", "false, or a world with both governments")


def parse_assignment(text: str) -> tuple[str, Any]:
    """``"group.name=value"`` or ``"name=value"`` -> (name, value parsed as TOML); for a
    table parameter also ``"[group.]name.key=value"`` -> (name, {key: value}), which
    merges into the table beneath (``foundry_preference.TSMC=1.2``).

    Unquoted strings are accepted as strings. Raise ScenarioError on a malformed item,
    an unknown name or a group that does not hold the name.
    """
    if "=" not in text:
        raise ScenarioError(f"--set {text!r}: expected key=value")
    key, raw = (part.strip() for part in text.split("=", 1))
    groups = parameter_groups()
    parts = key.split(".")
    if len(parts) > 1 and (parts[1] in groups or parts[0] not in groups):
        group = parts.pop(0)
        if parts[0] in groups and group != groups[parts[0]]:
            raise ScenarioError(
                f"--set {text!r}: parameter '{parts[0]}' is in group '{groups[parts[0]]}', not '{group}'"
            )
    key, entry = parts[0], ".".join(parts[1:])
    if key not in groups:
        raise ScenarioError(
            f"--set {text!r}: unknown parameter '{key}'; expected one of: " + ", ".join(sorted(groups))
        )
    if entry and get_origin(Parameters.model_fields[key].annotation) is not dict:
        raise ScenarioError(f"--set {text!r}: parameter '{key}' is not a table; expected {key}=value")
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except (tomllib.TOMLDecodeError, RecursionError):
        value = raw
    return key, ({entry: value} if entry else value)


def parse_assignments(items: list[str]) -> dict[str, Any]:
    """Several ``--set`` items as one overrides dict (`parse_assignment` each); entries
    of one table merge (``foundry_preference.TSMC=1.2 foundry_preference.UMC=0.9``)."""
    overrides: dict[str, Any] = {}
    for item in items:
        overrides = merge_parameters(overrides, dict([parse_assignment(item)]))
    return overrides
