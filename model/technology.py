"""Technology: process tiers, tool categories, quarters, yields and dies per wafer.

Tiers and tool categories are Enums whose values are the plain strings that appear in
data files, the trade graph and reporter names. Everything here is pure: no model, no
agents.
"""

from __future__ import annotations

import functools
import math
import re
from enum import Enum

import numpy as np


class Tier(str, Enum):
    """Process-node tiers, most advanced first. ``Tier.index`` orders them (0 = leading)."""

    LEADING = "leading"  # <= 5 nm
    N7 = "7nm"  # 7 nm class (incl. SMIC N+1/N+2)
    N14 = "14nm"  # 14/16/12 nm FinFET
    N28 = "28nm"  # 28/22 nm planar
    MATURE = "mature"  # >= 40 nm

    @property
    def index(self) -> int:
        return TIERS.index(self)

    @property
    def key(self) -> str:
        """Name used in reporter columns (``smic_capacity_7nm``)."""
        return self.value


TIERS: list[Tier] = list(Tier)
ADVANCED_TIERS: tuple[Tier, ...] = (Tier.LEADING, Tier.N7)
"""Tiers that count as 'advanced' in fulfilment and in the state allocator's remit."""


class ToolCategory(str, Enum):
    """Wafer-fab equipment categories that the model trades."""

    EUV = "euv"
    DUV_IMMERSION = "duv_immersion"
    DUV_DRY = "duv_dry"
    ETCH_DEP = "etch_dep"
    METROLOGY = "metrology"


TOOL_CATEGORIES: list[ToolCategory] = list(ToolCategory)
TIER_NAMES: list[str] = [t.value for t in Tier]
TIER_INDEX: dict[str, int] = {name: i for i, name in enumerate(TIER_NAMES)}
CATEGORY_NAMES: list[str] = [c.value for c in ToolCategory]
CATEGORY_INDEX: dict[str, int] = {name: i for i, name in enumerate(CATEGORY_NAMES)}
"""Array positions of tiers and tool categories (tiers newest first, as `Tier.index`)."""
LITHOGRAPHY: tuple[ToolCategory, ...] = (
    ToolCategory.EUV,
    ToolCategory.DUV_IMMERSION,
    ToolCategory.DUV_DRY,
)


HBM_GENERATIONS: tuple[str, ...] = ("HBM2", "HBM2E", "HBM3", "HBM3E", "HBM4")
"""HBM generations, oldest first (`HBM_INDEX` orders them): a product that needs one
generation can take any newer one, and an HBM rule reaches its generation and newer."""
HBM_INDEX: dict[str, int] = {name: i for i, name in enumerate(HBM_GENERATIONS)}


def hbm_from(value: str) -> str:
    """An HBM generation's name ('HBM2E', case-insensitive); raise ValueError."""
    for name in HBM_GENERATIONS:
        if str(value).strip().upper() == name:
            return name
    raise ValueError(f"unknown HBM generation {value!r}; expected one of {list(HBM_GENERATIONS)}")


def _member(enum, value, what: str):
    """An Enum member from itself, its value ("7nm") or its name ("N7", "n7")."""
    if isinstance(value, enum):
        return value
    for member in enum:
        if value in (member.value, member.name, member.name.lower()):
            return member
    raise ValueError(f"unknown {what} {value!r}; expected one of {[m.value for m in enum]}")


def tier_from(value: str | Tier) -> Tier:
    """Parse a tier from its value or name; raise ValueError."""
    return _member(Tier, value, "tier")


def tool_from(value: str | ToolCategory) -> ToolCategory:
    """Parse a tool category from its value or name; raise ValueError."""
    return _member(ToolCategory, value, "tool category")


# --------------------------------------------------------------------------- quarters
_QUARTER = re.compile(r"^(\d{4})Q([1-4])$")


@functools.lru_cache(maxsize=4096)
def parse_quarter(label: str) -> int:
    """``"2023Q4"`` -> absolute quarter number (year * 4 + q - 1). Raise ValueError
    for anything else: four digits, 'Q', a quarter 1-4 ('2022Q7', '2022Q0', '2022-Q1'
    are refused). Cached: governments ask about the same few labels every quarter."""
    match = _QUARTER.match(str(label).strip())
    if not match:
        raise ValueError(f"{label!r} is not a quarter label; expected a year and quarter 1-4 like '2023Q4'")
    return int(match.group(1)) * 4 + int(match.group(2)) - 1


def quarter_label(number: int) -> str:
    """Absolute quarter number -> ``"2023Q4"``."""
    return f"{number // 4}Q{number % 4 + 1}"


def quarter_year(number: int) -> float:
    """Absolute quarter number -> decimal year at the quarter's start (2023Q3 -> 2023.5)."""
    return number / 4.0


def mid_quarter_year(label: str) -> float:
    """A quarter label -> decimal year at the quarter's middle (2023Q4 -> 2023.875)."""
    return quarter_year(parse_quarter(label)) + 0.125


# ------------------------------------------------------------------------ dies, yields
def gross_dies_per_wafer(die_area_mm2: float, wafer_diameter_mm: float = 300.0) -> float:
    """Gross dies on a wafer: pi(d/2)^2/S - pi d/sqrt(2S), no edge exclusion.

    The formula and its check values are calibration.csv's gross_dies_per_300mm_wafer
    rows (e.g. 665.61 mm2 -> 80.4 dies).
    """
    d, s = wafer_diameter_mm, die_area_mm2
    return math.pi * (d / 2) ** 2 / s - math.pi * d / math.sqrt(2 * s)


def learned_yield(
    cumulative_wafers: np.ndarray | float,
    start: np.ndarray | float,
    ceiling: np.ndarray | float,
    half_life_wafers: np.ndarray | float,
) -> np.ndarray:
    """Die yield after learning: start + (ceiling - start)(1 - 2^(-W / half-life)).

    A saturating learning curve in cumulative wafers W (Wright-type learning with a
    ceiling set by the patterning route). Guarantees start <= yield <= ceiling for
    W >= 0, non-decreasing in W. Units: fractions of dies, wafers.
    """
    w = np.maximum(np.asarray(cumulative_wafers, dtype=float), 0.0)
    progress = 1.0 - np.exp2(-w / np.maximum(half_life_wafers, 1e-9))
    return np.asarray(start + (np.asarray(ceiling) - start) * progress, dtype=float)
