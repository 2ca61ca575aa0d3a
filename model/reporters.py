"""What a run records: named reporter functions for Mesa's DataCollector.

Model reporters are one number per quarter each (DESIGN.md, "What a run records");
names are stable, since notebooks and validation rely on them. Shares are percent,
wafers are per quarter, money is US$ million per quarter.
"""

from __future__ import annotations

import re
from functools import partial

import mesa
import numpy as np

from model.market import herfindahl
from model.technology import ADVANCED_TIERS, TIERS, quarter_label

CHAMPION = "Huawei"
ADVANCED = [t.index for t in ADVANCED_TIERS]
ADVANCED_MASK = np.isin(np.arange(len(TIERS)), ADVANCED)
WAFERS_8IN_PER_12IN = (300 / 200) ** 2
"""8-inch-equivalent wafers per 300 mm wafer, by area (2.25)."""


def slug(name: str) -> str:
    """'Hua Hong' -> 'hua_hong'; the form names take in reporter columns."""
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


# ------------------------------------------------------------------- collecting
class ChipDataCollector(mesa.DataCollector):
    """Mesa's DataCollector, with economies that change no recorded number.

    - Figures several reporters share (a foundry's yields, total foundry revenue) are
      computed once per `collect` (`per_collect`): the model does not change during one.
    - The fabless firms' agent-type rows are read from the model's firm arrays in one
      pass and kept as columns (`FirmBlock`, one per collect) instead of calling each
      reporter on each firm and keeping a tuple per firm: a synthetic world has 10^5
      firms. A block iterates as Mesa's record tuples, and
      `get_agenttype_vars_dataframe(FablessFirm)` gives the frame Mesa would build from
      them (tests/test_synthetic.py checks both against the per-firm reporters of
      `agenttype_reporters`). If the firm reporters are changed to other columns, the
      per-firm path is used.
    """

    def collect(self, model) -> None:
        model.report_cache = {}
        try:
            super().collect(model)
            if self._firms_batched():
                from agents.fabless import FablessFirm

                self._agenttype_records[model.steps][FablessFirm] = FirmBlock.of(model)
        finally:
            model.report_cache = None

    def _firms_batched(self) -> bool:
        from agents.fabless import FablessFirm

        return list(self.agenttype_reporters.get(FablessFirm, {})) == FIRM_COLUMNS

    def _record_agenttype(self, model, agent_type):
        from agents.fabless import FablessFirm

        if agent_type is FablessFirm and self._firms_batched():
            return iter(())  # `collect` stores the firms' block itself
        return super()._record_agenttype(model, agent_type)

    def get_agenttype_vars_dataframe(self, agent_type):
        from agents.fabless import FablessFirm

        blocks = [r[agent_type] for r in self._agenttype_records.values() if agent_type in r]
        if agent_type is not FablessFirm or not blocks or not all(isinstance(b, FirmBlock) for b in blocks):
            return _integer_steps(super().get_agenttype_vars_dataframe(agent_type))
        return FirmBlock.frame(blocks)


def _integer_steps(frame):
    """`frame` with an integer "Step" level. Mesa 3.3 stamps agent-type records with
    `model.steps`; Mesa 3.5 with `model.time`, a float (equal to the step count here)."""
    if "Step" in frame.index.names and frame.index.get_level_values("Step").dtype.kind == "f":
        level = frame.index.names.index("Step")
        frame.index = frame.index.set_levels(frame.index.levels[level].astype("int64"), level=level)
    return frame


def per_collect(model, key, compute):
    """`compute()`, once per DataCollector collect for `key` (every call outside a
    collect computes afresh)."""
    cache = getattr(model, "report_cache", None)
    if cache is None:
        return compute()
    if key not in cache:
        cache[key] = compute()
    return cache[key]


FIRM_COLUMNS = ["name", "country", "demand_wafers", "ordered_wafers", "delivered_wafers",
                "advanced_demand_wafers", "advanced_delivered_wafers", "fallback_wafers",
                "ai_dies", "domestic_wafers"]


class FirmBlock:
    """The firms' agent-type rows of one collect, as columns (FIRM_COLUMNS after the
    ids); iterates as Mesa's records, (step, agent id, *FIRM_COLUMNS) per firm."""

    def __init__(self, step: int, identities: tuple[list, list, list], values: list[np.ndarray]) -> None:
        self.step, self.identities, self.values = step, identities, values

    @classmethod
    def of(cls, model) -> FirmBlock:
        figures = model.firm_figures
        values = [
            figures.demand.sum(axis=1), figures.ordered.sum(axis=1), figures.delivered.sum(axis=1),
            figures.demand[:, ADVANCED].sum(axis=1), figures.delivered[:, ADVANCED].sum(axis=1),
            figures.fallback_wafers.copy(), figures.ai_dies.copy(), figures.domestic_wafers.copy(),
        ]
        return cls(model.steps, _firm_identities(model), values)

    def __len__(self) -> int:
        return len(self.identities[0])

    def __iter__(self):
        ids, names, countries = self.identities
        return zip([self.step] * len(self), ids, names, countries, *(v.tolist() for v in self.values))

    @staticmethod
    def frame(blocks: list[FirmBlock]):
        """The frame Mesa's get_agenttype_vars_dataframe builds from these records."""
        import pandas as pd

        columns = {
            "Step": np.concatenate([np.full(len(b), b.step, dtype=np.int64) for b in blocks]),
            "AgentID": np.concatenate([np.asarray(b.identities[0], dtype=np.int64) for b in blocks]),
        }
        for k, name in enumerate(FIRM_COLUMNS[:2]):
            columns[name] = [x for b in blocks for x in b.identities[k + 1]]
        for k, name in enumerate(FIRM_COLUMNS[2:]):
            columns[name] = np.concatenate([b.values[k] for b in blocks])
        return pd.DataFrame(columns).set_index(["Step", "AgentID"])


def firm_records(model) -> list[tuple]:
    """(step, agent id, *FIRM_COLUMNS) per firm, as Mesa's agent-type records, from the
    model's `firm_figures` arrays."""
    return list(FirmBlock.of(model))


def _firm_identities(model) -> tuple[list, list, list]:
    """(agent ids, names, countries) of the model's firms, in order (made once)."""
    ids = getattr(model, "_firm_identities", None)
    if ids is None or len(ids[0]) != len(model.firms):
        firms = model.firms
        ids = model._firm_identities = ([f.unique_id for f in firms], [f.name for f in firms],
                                         [f.country for f in firms])
    return ids


# ------------------------------------------------------------------------- firms
def quarter(model) -> str:
    return quarter_label(model.quarter_number)


def huawei_ai_dies(model) -> float:
    """Good AI-accelerator dies delivered to Huawei this quarter."""
    return model.firm(CHAMPION).ai_dies if CHAMPION in model.firm_index else 0.0


def _in_order(values: np.ndarray) -> float:
    """Sum of `values` added one after another, in firm order (the order the
    per-firm sums of the first version of these reporters added them in)."""
    return float(np.cumsum(values)[-1]) if len(values) else 0


def _firm_rows(model, chinese: bool = True, champion: bool | None = None) -> np.ndarray:
    """Rows of Chinese firms (with, without, or only the champion)."""
    mask = model.firm_is_chinese.copy() if chinese else np.ones(len(model.firms), dtype=bool)
    if champion is not None and CHAMPION in model.firm_index:
        row = model.firm_index[CHAMPION]
        if champion:
            mask[:] = False
            mask[row] = True
        else:
            mask[row] = False
    return np.flatnonzero(mask)


def _fulfilment(model, rows: np.ndarray) -> float:
    figures = model.firm_figures
    wanted = _in_order(figures.demand[rows][:, ADVANCED].sum(axis=1))
    ordered = _in_order(figures.ordered[rows][:, ADVANCED].sum(axis=1))
    got = _in_order(figures.delivered[rows][:, ADVANCED].sum(axis=1))
    asked = max(wanted, ordered)
    return got / asked if asked > 0 else np.nan


def huawei_fulfilment(model) -> float:
    """Delivered / ordered advanced-tier (leading, 7nm) wafers of Huawei (0-1).

    The orders counted are the larger of what the firm ordered (stockpiling included)
    and what it wanted (so demand it could not place anywhere, or that fell back to an
    older tier, counts as unfilled)."""
    return _fulfilment(model, _firm_rows(model, False, True)) if CHAMPION in model.firm_index else np.nan


def other_china_fulfilment(model) -> float:
    """The same for every other Chinese firm together."""
    return _fulfilment(model, _firm_rows(model, True, False))


def huawei_smic_advanced_wafers(model) -> float:
    if CHAMPION not in model.firm_index:
        return 0.0
    return _from_smic(model, _firm_rows(model, False, True))


def other_china_smic_advanced_wafers(model) -> float:
    return _from_smic(model, _firm_rows(model, True, False))


def _from_smic(model, rows: np.ndarray) -> float:
    """Advanced-tier wafers SMIC delivered to the firms in `rows` this quarter."""
    wafers = model.trade.wafers
    buyers = np.zeros(len(model.firms), dtype=bool)
    buyers[rows] = True
    smic = model.foundry_index.get("SMIC", -1)
    mask = (wafers.supplier == smic) & buyers[wafers.buyer] & ADVANCED_MASK[wafers.tier]
    return float(wafers.volume[mask].sum())


def china_self_sufficiency(model) -> float:
    """Share of Chinese firms' delivered wafers made by Chinese foundries (0-1)."""
    rows, figures = _firm_rows(model), model.firm_figures
    total = _in_order(figures.delivered[rows].sum(axis=1))
    return _in_order(figures.domestic_wafers[rows]) / total if total > 0 else np.nan


def china_advanced_from_smic(model) -> float:
    """Share of Chinese firms' delivered advanced wafers that SMIC made (0-1)."""
    rows = _firm_rows(model)
    total = _in_order(model.firm_figures.delivered[rows][:, ADVANCED].sum(axis=1))
    return _from_smic(model, rows) / total if total > 0 else np.nan


# ---------------------------------------------------------------------- foundries
def smic_capacity(model, tier: int) -> float:
    return float(_capacity(model.foundry("SMIC"))[tier]) if "SMIC" in model.foundry_index else 0.0


def smic_yield(model, tier: int) -> float:
    return float(_yields(model.foundry("SMIC"))[tier]) if "SMIC" in model.foundry_index else np.nan


def smic_utilisation(model) -> float:
    """Delivered / capacity over all SMIC tiers (0-1)."""
    smic = model.foundry("SMIC")
    cap = _capacity(smic).sum()
    return float(smic.delivered.sum() / cap) if cap > 0 else np.nan


def smic_capacity_8in_eq_per_month(model) -> float:
    """SMIC's capacity in the unit SMIC reports: 8-inch-equivalent wafers a month."""
    return float(_capacity(model.foundry("SMIC")).sum() / 3 * WAFERS_8IN_PER_12IN)


def smic_china_revenue_share(model) -> float:
    """Share of SMIC's revenue from Chinese firms (percent)."""
    smic = model.foundry("SMIC")
    return 100 * smic.china_revenue_usd_m / smic.revenue_usd_m if smic.revenue_usd_m > 0 else np.nan


def smic_revenue_usd_m(model) -> float:
    return model.foundry("SMIC").revenue_usd_m


def foundry_revenue_usd_m(model) -> float:
    """All modelled foundries' revenue (the top-10 ranking's universe)."""
    return per_collect(model, "foundry_revenue_usd_m",
                       lambda: float(sum(f.revenue_usd_m for f in model.foundries)))


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
    cap = np.array([_capacity(f)[tier] for f in model.foundries])
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
    for f, spec in zip(model.foundries, model.world.foundries):
        if not spec.synthetic:  # a column per named foundry; synthetic ones are in the foundry frame
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
def _tiers(attr: str, agent) -> float:
    return float(_figure(agent, attr).sum())


def _figure(agent, attr: str):
    """An agent's attribute; the computed ones (a foundry's capacity by tier) once per
    collect."""
    if attr == "capacity_by_tier":
        return _capacity(agent)
    return getattr(agent, attr)


def _capacity(foundry) -> np.ndarray:
    """The foundry's capacity per tier (wafers/quarter), computed once per collect."""
    return per_collect(foundry.model, ("capacity", foundry.unique_id), lambda: foundry.capacity_by_tier)


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
        foundry[f"delivered_{t.key}"] = partial(_tier_value, "delivered", t.index)
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
    return float(_figure(agent, attr)[tier])


def _yield(tier: int, agent) -> float:
    return float(_yields(agent)[tier])


def _yields(foundry) -> np.ndarray:
    """The foundry's yields per tier, computed once per collect."""
    return per_collect(foundry.model, ("yields", foundry.unique_id), foundry.yields)


def _advanced(attr: str, agent) -> float:
    return float(getattr(agent, attr)[ADVANCED].sum())


def _sum_dict(attr: str, agent) -> float:
    return float(sum(getattr(agent, attr).values()))


def _min_dict(attr: str, agent) -> float:
    return float(min(getattr(agent, attr).values()))
