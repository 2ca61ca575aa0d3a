"""What a run records: named reporter functions for Mesa's DataCollector.

Model reporters are one number per quarter each (DESIGN.md, "What a run records");
names are stable, since notebooks and validation rely on them. Shares are percent,
wafers are per quarter, money is US$ million per quarter.
"""

from __future__ import annotations

import re
from functools import partial

import numpy as np

from model.market import herfindahl
from model.technology import ADVANCED_TIERS, TIERS, quarter_label

CHAMPION = "Huawei"
ADVANCED = [t.index for t in ADVANCED_TIERS]
WAFERS_8IN_PER_12IN = (300 / 200) ** 2
"""8-inch-equivalent wafers per 300 mm wafer, by area (2.25)."""


def slug(name: str) -> str:
    """'Hua Hong' -> 'hua_hong'; the form names take in reporter columns."""
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


# ------------------------------------------------------------------------- firms
def quarter(model) -> str:
    return quarter_label(model.quarter_number)


def huawei_ai_dies(model) -> float:
    """Good AI-accelerator dies delivered to Huawei this quarter."""
    return model.firm(CHAMPION).ai_dies if CHAMPION in model.firm_index else 0.0


def _fulfilment(firms) -> float:
    wanted = sum(f.demand[ADVANCED].sum() for f in firms)
    got = sum(f.delivered[ADVANCED].sum() for f in firms)
    return got / wanted if wanted > 0 else np.nan


def huawei_fulfilment(model) -> float:
    """Delivered / wanted advanced-tier (leading, 7nm) wafers of Huawei (0-1)."""
    return _fulfilment([model.firm(CHAMPION)]) if CHAMPION in model.firm_index else np.nan


def other_china_fulfilment(model) -> float:
    """The same for every other Chinese firm together."""
    return _fulfilment([f for f in model.firms if f.country == "CN" and f.name != CHAMPION])


def huawei_smic_advanced_wafers(model) -> float:
    return _from_smic(model, [CHAMPION])


def other_china_smic_advanced_wafers(model) -> float:
    return _from_smic(model, [f.name for f in model.firms if f.country == "CN" and f.name != CHAMPION])


def _from_smic(model, firms) -> float:
    wafers = model.trade.wafers
    sides = model.sides["wafers"]
    mask = (sides["supplier_names"] == "SMIC") & np.isin(sides["buyer_names"], firms) & np.isin(wafers.tier, ADVANCED)
    return float(wafers.volume[mask].sum())


def china_self_sufficiency(model) -> float:
    """Share of Chinese firms' delivered wafers made by Chinese foundries (0-1)."""
    chinese = [f for f in model.firms if f.country == "CN"]
    total = sum(f.delivered.sum() for f in chinese)
    return sum(f.domestic_wafers for f in chinese) / total if total > 0 else np.nan


def china_advanced_from_smic(model) -> float:
    """Share of Chinese firms' delivered advanced wafers that SMIC made (0-1)."""
    chinese = [f.name for f in model.firms if f.country == "CN"]
    total = sum(model.firm(n).delivered[ADVANCED].sum() for n in chinese)
    return _from_smic(model, chinese) / total if total > 0 else np.nan


# ---------------------------------------------------------------------- foundries
def smic_capacity(model, tier: int) -> float:
    return float(model.foundry("SMIC").capacity_by_tier[tier]) if "SMIC" in model.foundry_index else 0.0


def smic_yield(model, tier: int) -> float:
    return float(model.foundry("SMIC").yields()[tier]) if "SMIC" in model.foundry_index else np.nan


def smic_utilisation(model) -> float:
    """Delivered / capacity over all SMIC tiers (0-1)."""
    smic = model.foundry("SMIC")
    cap = smic.capacity_by_tier.sum()
    return float(smic.delivered.sum() / cap) if cap > 0 else np.nan


def smic_capacity_8in_eq_per_month(model) -> float:
    """SMIC's capacity in the unit SMIC reports: 8-inch-equivalent wafers a month."""
    return float(model.foundry("SMIC").capacity_by_tier.sum() / 3 * WAFERS_8IN_PER_12IN)


def smic_china_revenue_share(model) -> float:
    """Share of SMIC's revenue from Chinese firms (percent)."""
    smic = model.foundry("SMIC")
    return 100 * smic.china_revenue_usd_m / smic.revenue_usd_m if smic.revenue_usd_m > 0 else np.nan


def smic_revenue_usd_m(model) -> float:
    return model.foundry("SMIC").revenue_usd_m


def foundry_revenue_usd_m(model) -> float:
    """All modelled foundries' revenue (the top-10 ranking's universe)."""
    return float(sum(f.revenue_usd_m for f in model.foundries))


def foundry_share(model, name: str) -> float:
    """A foundry's share of all modelled foundries' revenue (percent)."""
    total = foundry_revenue_usd_m(model)
    return 100 * model.foundry(name).revenue_usd_m / total if total > 0 else np.nan


def foundry_hhi(model) -> float:
    """Herfindahl-Hirschman index of foundry revenue shares (points, 0-10,000)."""
    total = foundry_revenue_usd_m(model)
    if total <= 0:
        return np.nan
    return herfindahl([100 * f.revenue_usd_m / total for f in model.foundries])


def price_index(model, tier: int) -> float:
    """Volume-weighted wafer price of a tier relative to its 2020 reference (1 = list)."""
    cap = np.array([f.capacity_by_tier[tier] for f in model.foundries])
    rel = np.array([f.price[tier] / (f.reference_price[tier] / f.price_factor) for f in model.foundries])
    if cap.sum() <= 0:
        return np.nan
    return float((rel * cap).sum() / cap.sum())


# ----------------------------------------------------------------------- vendors
def vendor_china_share(model) -> float:
    """Share of non-Chinese vendors' tool revenue from Chinese foundries (0-1)."""
    foreign = [v for v in model.vendors if v.country != "CN"]
    total = sum(v.revenue_usd_m for v in foreign)
    return sum(v.china_revenue_usd_m for v in foreign) / total if total > 0 else np.nan


def asml_china_share(model) -> float:
    """Share of ASML's tool revenue from Chinese foundries (0-1)."""
    if "ASML" not in model.vendor_index:
        return np.nan
    return model.vendors[model.vendor_index["ASML"]].china_share


def china_domestic_tool_share(model) -> float:
    """Share of Chinese foundries' tool purchases made from Chinese vendors (0-1)."""
    china = [v.china_revenue_usd_m for v in model.vendors]
    total = sum(china)
    domestic = sum(v.china_revenue_usd_m for v in model.vendors if v.country == "CN")
    return domestic / total if total > 0 else np.nan


# ------------------------------------------------------------------------- graph
def active_edges(model) -> int:
    return model.trade.counts()[0]


def cut_edges(model) -> int:
    return model.trade.counts()[1]


def model_reporters(model) -> dict:
    """The DataCollector's model reporters, named as DESIGN.md and issue 2 fix them."""
    out = {
        "quarter": quarter,
        "huawei_ai_dies": huawei_ai_dies,
        "huawei_fulfilment": huawei_fulfilment,
        "other_china_fulfilment": other_china_fulfilment,
        "huawei_smic_advanced_wafers": huawei_smic_advanced_wafers,
        "other_china_smic_advanced_wafers": other_china_smic_advanced_wafers,
    }
    for t in TIERS:
        out[f"smic_capacity_{t.key}"] = partial(smic_capacity, tier=t.index)
    out["smic_capacity_8in_eq_per_month"] = smic_capacity_8in_eq_per_month
    out["smic_utilisation"] = smic_utilisation
    for t in TIERS:
        out[f"smic_yield_{t.key}"] = partial(smic_yield, tier=t.index)
    out["smic_revenue_usd_m"] = smic_revenue_usd_m
    out["smic_china_revenue_share"] = smic_china_revenue_share
    for f in model.foundries:
        out[f"share_{slug(f.name)}"] = partial(foundry_share, name=f.name)
    out["foundry_revenue_usd_m"] = foundry_revenue_usd_m
    out["foundry_hhi"] = foundry_hhi
    for t in TIERS:
        out[f"price_index_{t.key}"] = partial(price_index, tier=t.index)
    out.update(
        china_self_sufficiency=china_self_sufficiency,
        china_advanced_from_smic=china_advanced_from_smic,
        vendor_china_share=vendor_china_share,
        asml_china_share=asml_china_share,
        china_domestic_tool_share=china_domestic_tool_share,
        active_edges=active_edges,
        cut_edges=cut_edges,
    )
    return out


# ----------------------------------------------------------- agent-type reporters
def _tiers(attr: str, agent) -> dict:
    return float(getattr(agent, attr).sum())


def agenttype_reporters() -> dict:
    """Per agent type: each agent's own figures per quarter."""
    from agents.fabless import FablessFirm
    from agents.foundry import Foundry
    from agents.government import Government
    from agents.vendor import EquipmentVendor

    foundry = {"name": "name", "country": "country", "revenue_usd_m": "revenue_usd_m",
               "china_revenue_usd_m": "china_revenue_usd_m", "capex_usd_m": "capex_usd_m",
               "subsidy_usd_m": "subsidy_usd_m",
               "capacity_wafers": partial(_tiers, "capacity_by_tier"),
               "delivered_wafers": partial(_tiers, "delivered"),
               "ordered_wafers": partial(_tiers, "orders")}
    for t in TIERS:
        foundry[f"capacity_{t.key}"] = partial(_tier_value, "capacity_by_tier", t.index)
        foundry[f"yield_{t.key}"] = partial(_yield, t.index)
        foundry[f"price_usd_{t.key}"] = partial(_tier_value, "price", t.index)
    firm = {"name": "name", "country": "country",
            "demand_wafers": partial(_tiers, "demand"),
            "ordered_wafers": partial(_tiers, "ordered"),
            "delivered_wafers": partial(_tiers, "delivered"),
            "advanced_demand_wafers": partial(_advanced, "demand"),
            "advanced_delivered_wafers": partial(_advanced, "delivered"),
            "fallback_wafers": "fallback_wafers", "ai_dies": "ai_dies",
            "domestic_wafers": "domestic_wafers"}
    vendor = {"name": "name", "country": "country", "revenue_usd_m": "revenue_usd_m",
              "china_revenue_usd_m": "china_revenue_usd_m", "china_share": "china_share",
              "subsidy_usd_m": "subsidy_usd_m", "output_units": partial(_sum_dict, "output"),
              "best_progress": partial(_min_dict, "progress")}
    government = {"name": "name", "country": "country", "rules_in_force": "rules_in_force",
                  "subsidy_usd_m": "subsidy_usd_m"}
    return {Foundry: foundry, FablessFirm: firm, EquipmentVendor: vendor, Government: government}


def _tier_value(attr: str, tier: int, agent) -> float:
    return float(getattr(agent, attr)[tier])


def _yield(tier: int, agent) -> float:
    return float(agent.yields()[tier])


def _advanced(attr: str, agent) -> float:
    return float(getattr(agent, attr)[ADVANCED].sum())


def _sum_dict(attr: str, agent) -> float:
    return float(sum(getattr(agent, attr).values()))


def _min_dict(attr: str, agent) -> float:
    return float(min(getattr(agent, attr).values()))
