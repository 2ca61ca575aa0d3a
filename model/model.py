"""ChipMarketModel: the world, its agents, the trade graph, and the quarterly step.

`step()` is DESIGN.md's seven phases in order; each phase is one method below. Agents
decide (their methods return intents), the phases resolve those intents against the
graph and each other, and the pure functions of `model.market` compute allocations.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from collections.abc import Sequence
from typing import Any

import mesa
import numpy as np
import pandas as pd

from agents.fabless import (
    DemandStreams,
    FablessFirm,
    FirmFigures,
    adapt_preferences,
    derisk_preferences,
    search_weights,
    stream_demand,
)
from agents.foundry import Foundry
from agents.government import Government
from agents.vendor import EquipmentVendor, enables, progress_of
from model import reporters
from model.graph import EdgeSet, EdgeSides, Segments, TradeGraph, wafer_relations
from model.market import clear, split_orders
from model.policy import issuer_country, lever_rules, matching_edges, targets_mask
from model.scenario import DEFAULT_SCENARIO, Directive, Rule, Scenario, ScenarioError, check_against_world, load_scenario
from model.technology import (
    CATEGORY_INDEX,
    CATEGORY_NAMES,
    TIER_INDEX,
    TIER_NAMES,
    TIERS,
    TOOL_CATEGORIES,
    Tier,
    parse_quarter,
    quarter_label,
    quarter_year,
)
from model.synthetic import synthetic_world
from model.world import World, load_world

LEDGER_COLUMNS = ["step", "quarter", "action", "rule", "supplier", "buyer", "item", "note"]


class ChipMarketModel(mesa.Model):
    """The semiconductor supply chain, one quarter a step.

    `scenario` is a shipped scenario's name or a TOML path (or a loaded `Scenario`);
    keyword arguments override its parameters (unknown names raise ScenarioError at
    once); `rng` seeds every random draw (None: a fresh seed, kept in `self.seed`).
    """

    # Mesa 3.5 makes `Model.scenario` a property whose setter writes `scenario.model`
    # (for its experimental Scenario); ours is the project's frozen Scenario. A plain
    # class attribute here shadows the property, so `self.scenario` is an ordinary one.
    scenario: Scenario | None = None

    def __init__(
        self,
        *,
        scenario: str | Path | Scenario = DEFAULT_SCENARIO,
        rng: int | None = None,
        collect: Sequence[str] | None = None,
        **kwargs: Any,
    ) -> None:
        seed = int(rng) if rng is not None else secrets.randbits(32)
        super().__init__(rng=seed)
        self.seed = seed
        base = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
        self.scenario = base.with_overrides(kwargs, "ChipMarketModel keyword arguments")
        self.parameters = p = self.scenario.parameters
        self.world: World = synthetic_world(
            load_world(p.world), self.rng,
            firms=p.synthetic_firms, foundries=p.synthetic_foundries, vendors=p.synthetic_vendors,
        )
        check_against_world(self.scenario, self.world)  # names and dates mean something here
        self.first_quarter = parse_quarter(p.start)
        self.last_quarter = parse_quarter(p.end)
        self.quarter_number = self.first_quarter - 1  # the initial state is the quarter before
        meta = self.world.meta
        self.lag = int(meta["installation_lag_quarters"])
        self.depreciation = float(meta["base_depreciation"])
        self.unserviced_extra = float(meta["unserviced_depreciation"])
        self.headroom = float(meta["headroom"])
        self.ledger: list[dict] = []
        self._bills = {(t, r): self.world.bill(t, r) for t in TIERS for r in ("euv", "duv")}
        self.tool_price = {c.value: self.world.unit_price(c.value) for c in TOOL_CATEGORIES}

        self._build_agents()
        unknown = [name for name in p.champions if name not in self.firm_index]
        if unknown:
            raise ScenarioError(
                f"{self.scenario.path}: field 'champions': unknown firm '{unknown[0]}'; expected "
                "firms of the world: " + ", ".join(f.name for f in self.firms[:20])
            )
        self._build_graph()
        self.rules = lever_rules(self.scenario.rules, p)
        self._distribute_instruments()
        self.announced: dict[str, np.ndarray] = {}  # rule id -> wafer-edge mask at risk
        self.announced_tools: dict[str, np.ndarray] = {}
        self.mineral_multiplier = np.ones(len(self.vendors))
        self.tool_orders: list = []
        self.tool_reachable: np.ndarray | None = None  # (foundry, category, tier), set in phase 3

        self.datacollector = reporters.ChipDataCollector(self, collect)
        self.datacollector.collect(self)

    # =================================================================== the step
    def step(self) -> None:
        """One quarter, in DESIGN.md's order.

        Past the scenario's last quarter it simulates nothing and stops the model
        (`running = False`): `mesa.batch_run` steps until then, and Mesa 3.3.1 reports
        the row at `steps - 1`, which is the last quarter's only after this extra call."""
        if self.quarter_number >= self.last_quarter:
            self.running = False
            return
        self.quarter_number += 1
        self._apply_policies()
        self._update_graph()
        self._sell_tools()
        self._run_foundries()
        self._place_orders()
        self._clear_markets()
        self._produce_and_price()
        self.datacollector.collect(self)

    def run(self, steps: int | None = None) -> ChipMarketModel:
        """Run `steps` quarters, or to the scenario's last quarter."""
        remaining = self.last_quarter - self.quarter_number
        for _ in range(remaining if steps is None else min(steps, remaining)):
            self.step()
        if self.quarter_number >= self.last_quarter:
            self.running = False
        return self

    @property
    def quarter(self) -> str:
        """The label of the quarter just simulated (before any step: the one before)."""
        return quarter_label(self.quarter_number)

    # ======================================================================= set-up
    def _build_agents(self) -> None:
        w, p = self.world, self.parameters
        ref = np.array([w.reference_price(t) for t in TIERS])
        y = w.yields
        ceilings = np.array(
            [[float(y[f"{route}_ceiling"][t.value]) for t in TIERS] for route in ("euv", "duv")]
        )
        self.governments = [
            Government(self, g.name, g.country, [], [], [], g.domestic_tool_bias) for g in w.governments
        ]
        self.vendors = [
            EquipmentVendor(
                self, v.name, v.country,
                output={c: line.output for c, line in v.tools.items()},
                progress={c: progress_of(line.level) for c, line in v.tools.items()},
                weight={c: line.weight for c, line in v.tools.items()},
                learning=v.learning,
            )
            for v in w.vendors
        ]
        self.foundries = [
            Foundry(
                self, f.name, f.country, spec=f, reference_price=ref,
                yield_start=float(y["start"]), ceilings=ceilings,
                half_life_wafers=(
                    p.smic_yield_half_life_wafers if f.name == w.tracked.foundry else float(y["half_life_wafers"])
                ),
                lag=self.lag,
            )
            for f in w.foundries
        ]
        self.origin = origin = parse_quarter(str(w.meta["first_quarter"]))
        self.firms = []
        for spec in w.firms:
            firm = FablessFirm(self, spec.name, spec.country, spec=spec)
            firm.start_quarter = origin
            self.firms.append(firm)
        # The firms' identical rules run over arrays the model owns; each firm's
        # figures are its row of `firm_figures`.
        self.streams = DemandStreams.from_specs(w.firms)
        self.firm_figures = FirmFigures.zeros(len(self.firms))
        for j, firm in enumerate(self.firms):
            firm.bind(self.firm_figures, j)
        self.firm_dies_per_wafer = np.array([f.dies_per_wafer for f in self.firms])
        self.foundry_index = {f.name: i for i, f in enumerate(self.foundries)}
        self.firm_index = {f.name: i for i, f in enumerate(self.firms)}
        self.firm_names = [f.name for f in self.firms]
        self.firm_countries = [f.country for f in self.firms]
        self.vendor_index = {v.name: i for i, v in enumerate(self.vendors)}
        self.china = next((g for g in self.governments if g.country == "CN"), None)
        self.recipients = {a.name: a for a in [*self.foundries, *self.vendors]}

    def _build_graph(self) -> None:
        """Potential supply relations, all active at the start.

        Wafers: foundry -> firm for every tier the foundry runs (or will) at or behind
        the firm's most advanced demand (so that it can fall back), from every foundry
        of the world, and from the synthetic foundries the firm names as suppliers
        (`model.graph.wafer_relations`). Tools: vendor -> foundry for every category the
        vendor makes that a tier of the foundry uses. Built as arrays: a synthetic world
        has 10^6 relations.
        """
        w = self.world
        tg = TradeGraph()
        for kind, group in (("government", self.governments), ("vendor", self.vendors),
                            ("foundry", self.foundries), ("firm", self.firms)):
            for agent in group:
                tg.add_node(agent.name, kind, agent.country)

        n_tiers, n_foundries = len(TIERS), len(self.foundries)
        has_tier = np.array([f.has_tier for f in self.foundries]).reshape(n_foundries, n_tiers)
        supplier, buyer, tier = wafer_relations(
            self.streams.most_advanced_tier(len(self.firms)),
            has_tier,
            np.array([not spec.synthetic for spec in w.foundries], dtype=bool),
            self._named_synthetic_suppliers(),
        )
        firm_names = [f.name for f in self.firms]
        foundry_names = [f.name for f in self.foundries]
        wafers = EdgeSet("wafers", supplier, buyer, tier, np.full(len(supplier), -1), foundry_names, firm_names)
        self.wafer_base = self._base_preferences(wafers)
        self.wafer_weight = self.wafer_base.copy()
        self.wafer_quality = np.array([f.quality for f in self.foundries])[wafers.supplier]
        self.wafer_ready = np.array([f.ready for f in self.foundries])[wafers.supplier, wafers.tier]
        self.wafer_ever_used = self.wafer_base > 0

        uses = np.array([[any(c.value in self.bill(t, r) for r in ("euv", "duv")) for t in TIERS]
                         for c in TOOL_CATEGORIES])  # (categories, tiers)
        columns: list[list[np.ndarray]] = [[], [], [], []]  # vendor, foundry, tier, category
        for v, vendor in enumerate(self.vendors):
            for c_name in vendor.output:  # in the vendor's own order, foundry by foundry
                c = CATEGORY_INDEX[c_name]
                foundry, t = np.nonzero(has_tier & uses[c])
                for col, values in zip(columns, (np.full(len(t), v), foundry, t, np.full(len(t), c))):
                    col.append(values)
        sup, buy, tier, cat = (np.concatenate([np.zeros(0, dtype=np.int64), *col]).astype(np.int64)
                               for col in columns)
        tools = EdgeSet("tools", sup, buy, tier, cat, [v.name for v in self.vendors], foundry_names)
        tg.set_edges(wafers, tools)
        self.trade = tg

        # Per-edge names and countries, for rule matching (made on demand).
        self.sides = {
            "wafers": EdgeSides(wafers, self.foundries, self.firms),
            "tools": EdgeSides(tools, self.vendors, self.foundries),
        }
        firm_country = np.array([f.country for f in self.firms])
        foundry_country = np.array([f.country for f in self.foundries])
        vendor_country = np.array([v.country for v in self.vendors])
        self.wafer_china_buyer = (firm_country == "CN")[wafers.buyer]
        self.tool_china_buyer = (foundry_country == "CN")[tools.buyer]
        self.tool_domestic = (vendor_country == "CN")[tools.supplier]
        self.firm_is_chinese = firm_country == "CN"
        self.wafer_group = wafers.buyer * n_tiers + wafers.tier  # (firm, tier)
        self.wafer_supplier = wafers.supplier * n_tiers + wafers.tier  # (foundry, tier)
        self.wafer_supplier_country = foundry_country[wafers.supplier]
        self.wafer_buyer_country = firm_country[wafers.buyer]
        self.wafer_same_country = self.wafer_supplier_country == self.wafer_buyer_country
        self.wafer_priority = np.ones(len(wafers), dtype=np.int64)
        self.wafer_orders = np.zeros(len(wafers))
        self.wafer_ai_share = np.zeros(len(wafers))
        self.class_caps = np.ones(2)
        self.tool_unit_price = np.array([self.tool_price[c.value] for c in TOOL_CATEGORIES])
        n_cat = len(TOOL_CATEGORIES)
        vendor_weight = np.zeros((len(self.vendors), n_cat))  # buyers' base preference
        for v, vendor in enumerate(self.vendors):
            for c_name, value in vendor.weight.items():
                vendor_weight[v, CATEGORY_INDEX[c_name]] = value
        self.tool_weight = vendor_weight[tools.supplier, tools.category]
        self.tool_group = (tools.buyer * n_cat + tools.category) * n_tiers + tools.tier  # (foundry, category, tier)
        self.tool_seller = tools.supplier * n_cat + tools.category  # (vendor, category)
        n_vendors = len(self.vendors)
        self.tool_segments = {
            "vendor": Segments(tools.supplier, n_vendors),
            "vendor_china": Segments(tools.supplier, n_vendors, self.tool_china_buyer),
            "seller": Segments(self.tool_seller, n_vendors * n_cat),
        }
        self.wafer_segments = {
            "foundry": Segments(wafers.supplier, n_foundries),
            "foundry_china": Segments(wafers.supplier, n_foundries, self.wafer_china_buyer),
        }

    def _named_synthetic_suppliers(self) -> np.ndarray:
        """(firm, foundry) pairs where a firm names a synthetic foundry as a supplier."""
        synthetic = {spec.name for spec in self.world.foundries if spec.synthetic}
        if not synthetic:
            return np.zeros((0, 2), dtype=np.int64)
        pairs = {
            (j, self.foundry_index[name])
            for j, spec in enumerate(self.world.firms)
            for prefs in (spec.suppliers, *(s.suppliers or {} for s in spec.demand))
            for name in prefs if name in synthetic
        }
        return np.array(sorted(pairs), dtype=np.int64).reshape(-1, 2)

    def _base_preferences(self, wafers: EdgeSet) -> np.ndarray:
        """Per wafer edge: the firm's base preference weight for that foundry at that
        tier (its streams' suppliers at the tier, merged in stream order, else its
        default suppliers; 0 for a foundry it does not name)."""
        n_tiers, n_foundries = len(TIERS), len(self.foundries)
        foundry_index, codes, weights, specific = self.foundry_index, [], [], []
        for j, spec in enumerate(self.world.firms):  # a Python pass over specs: build time only
            default = spec.suppliers
            by_tier: dict[str, dict[str, float]] = {}
            for s in spec.demand:
                by_tier.setdefault(s.tier, {}).update(s.suppliers or default)
            for slot, prefs in ((0, default), *((TIER_INDEX[t] + 1, p) for t, p in by_tier.items())):
                if slot:
                    specific.append(j * n_tiers + slot - 1)
                first = (j * (n_tiers + 1) + slot) * n_foundries
                for name, weight in prefs.items():
                    i = foundry_index.get(name)
                    if i is not None:
                        codes.append(first + i)
                        weights.append(float(weight))
        tier_specific = np.zeros(len(self.firms) * n_tiers, dtype=bool)
        tier_specific[specific] = True
        tier_specific = tier_specific.reshape(-1, n_tiers)
        codes, weights = np.array(codes, dtype=np.int64), np.array(weights, dtype=float)
        order = np.argsort(codes, kind="stable")
        codes, weights = codes[order], weights[order]
        slot = np.where(tier_specific[wafers.buyer, wafers.tier], wafers.tier + 1, 0)
        wanted = (wafers.buyer * (n_tiers + 1) + slot) * n_foundries + wafers.supplier
        at = np.minimum(np.searchsorted(codes, wanted), max(len(codes) - 1, 0))
        found = (codes[at] == wanted) if len(codes) else np.zeros(len(wanted), dtype=bool)
        base = np.where(found, weights[at] if len(codes) else 0.0, 0.0)
        preference = self.parameters.foundry_preference
        if preference:
            scale = np.array([preference.get(f.name, 1.0) for f in self.foundries])
            base = base * scale[wafers.supplier]
        return base

    def _distribute_instruments(self) -> None:
        """Give each government the rules, directives and subsidies it issues."""
        by_key = {}
        for g in self.governments:
            by_key[g.name] = g
            by_key[g.country] = g
        self.government_country = {g.name: g.country for g in self.governments}
        for item_list, attr in ((self.rules, "rules"), (self.scenario.directives, "directives"),
                                (self.scenario.subsidies, "subsidies")):
            for item in item_list:
                if isinstance(item, Directive) and item.foundry is None:
                    item = item.model_copy(update={"foundry": self.world.tracked.foundry})
                government = by_key.get(item.issuer)
                if government is None:
                    raise ScenarioError(
                        f"{self.scenario.path}: field '{attr}' id '{item.id}': issuer "
                        f"'{item.issuer}' is not a government of the world; expected one of "
                        + ", ".join(sorted(by_key))
                    )
                getattr(government, attr).append(item)

    # ================================================================ the phases
    def _apply_policies(self) -> None:
        """Phase 1: governments say what is announced, takes effect or ends."""
        q = self.quarter_number
        self.pending: list = []
        for agent in [*self.foundries, *self.vendors]:
            agent.subsidy_usd_m = 0.0
        for foundry in self.foundries:
            foundry.build_ahead = 0.0
        recipients = self.recipients
        for government in self.governments:
            for change in government.policy_changes(q):
                self.pending.append(change)
            for name, usd_m in government.subsidies_due(q).items():
                if name in recipients:
                    recipients[name].subsidy_usd_m += usd_m
            for name, share in government.build_ahead_due(q).items():
                if name in self.foundry_index:
                    self.foundries[self.foundry_index[name]].build_ahead += share
        if self.parameters.domestic_subsidy_usd_m > 0:
            domestic = [v for v in self.vendors if v.country == "CN"]
            for v in domestic:
                v.subsidy_usd_m += self.parameters.domestic_subsidy_usd_m / len(domestic)

    def _update_graph(self) -> None:
        """Phase 2: rules cut or restore edges; the state allocator re-wires SMIC."""
        for change in self.pending:
            item = change.item
            if isinstance(item, Rule):
                if change.action == "announce":
                    self._announce(item)
                elif change.action == "apply":
                    self._apply_rule(item)
                elif change.action == "lift":
                    self._lift_rule(item)
            elif isinstance(item, Directive):
                action = "directive" if change.action == "apply" else "directive_end"
                self._log(action, item.id, change.government, item.foundry, "advanced tiers", item.event)
        self._allocate_state_priority()

    def _sell_tools(self) -> None:
        """Phase 3: vendors fill last quarter's tool orders over active vendor->foundry
        edges their technology can serve; then plan their next output."""
        tools = self.trade.tools
        n_cat, n_tier, n_vendors = len(TOOL_CATEGORIES), len(TIERS), len(self.vendors)
        demand = np.zeros(len(self.foundries) * n_cat * n_tier)
        for order in self.tool_orders:
            f = self.foundry_index[order.foundry]
            for (c_name, t_name), units in order.units.items():
                demand[(f * n_cat + CATEGORY_INDEX[c_name]) * n_tier + TIER_INDEX[t_name]] += units
        # Per (vendor, category, tier): can the vendor's technology serve the tier?
        capable = np.zeros((n_vendors, n_cat, n_tier), dtype=bool)
        capacity = np.zeros(n_vendors * n_cat)
        for v, vendor in enumerate(self.vendors):
            for c_name, units in vendor.output.items():
                c = CATEGORY_INDEX[c_name]
                capable[v, c] = [enables(vendor.progress[c_name], t) for t in range(n_tier)]
                capacity[v * n_cat + c] = units * self.mineral_multiplier[v]
        eligible = tools.active & capable[tools.supplier, tools.category, tools.tier]
        bias = self.china.domestic_tool_bias(self.quarter_number) if self.china else 1.0
        weights = np.where(self.tool_domestic & self.tool_china_buyer, self.tool_weight * bias, self.tool_weight)
        # What each foundry can still buy, per (category, tier): its orders next quarter
        # route around what it cannot (Foundry.plan_tool_orders).
        self.tool_reachable = np.bincount(
            self.tool_group, weights=eligible, minlength=len(self.foundries) * n_cat * n_tier
        ).reshape(len(self.foundries), n_cat, n_tier) > 0
        orders = split_orders(demand, self.tool_group, weights, eligible)
        orders *= 1.0 + self.parameters.stockpile_factor * self._at_risk(self.announced_tools, len(tools))
        flow = clear(capacity, orders, self.tool_seller, eligible)
        tools.volume = flow
        revenue = flow * self.tool_unit_price[tools.category] / 1e6
        by_vendor = self.tool_segments["vendor"].sums(revenue)
        china_by_vendor = self.tool_segments["vendor_china"].sums(revenue)
        ordered = self.tool_segments["seller"].sums(orders)
        for v, vendor in enumerate(self.vendors):
            vendor.revenue_usd_m = float(by_vendor[v])
            vendor.china_revenue_usd_m = float(china_by_vendor[v])
            vendor.orders_units = {c_name: float(ordered[v * n_cat + CATEGORY_INDEX[c_name]])
                                   for c_name in vendor.output}
        sold = np.flatnonzero(flow > 0)
        for f, c, t, units, domestic in zip(tools.buyer[sold].tolist(), tools.category[sold].tolist(),
                                            tools.tier[sold].tolist(), flow[sold].tolist(),
                                            self.tool_domestic[sold].tolist()):
            self.foundries[f].receive_tools(CATEGORY_NAMES[c], TIER_NAMES[t], units, domestic)
        floors = self._domestic_litho_floors()
        for vendor in self.vendors:
            plan = vendor.plan_output(self.parameters.domestic_learning_rate,
                                      floors if vendor.country == "CN" else None)
            vendor.output, vendor.progress = plan.output, plan.progress

    def _run_foundries(self) -> None:
        """Phase 4: foundries install tools, depreciate, and order next quarter's tools."""
        q = self.quarter_number
        self.tool_orders = []
        repurpose = self.parameters.repurpose_share
        for f, foundry in enumerate(self.foundries):
            foundry.age(self.depreciation, self.unserviced_extra)
            foundry.install(foundry.plan_installation(q, self.bill, self.headroom, repurpose))
            order = foundry.plan_tool_orders(q, self.bill, self.tool_price, self.headroom, self.depreciation,
                                             self.tool_reachable[f], repurpose)
            foundry.capex_usd_m = order.cost_usd_m(self.tool_price)
            self.tool_orders.append(order)

    def _place_orders(self) -> None:
        """Phase 5: firms order wafers over active edges (searching, falling back a tier,
        stockpiling ahead of announced rules) and tell foundries their forecast."""
        p, q = self.parameters, self.quarter_number
        cycle = self.world.cycle(int(quarter_year(q)))
        n_firms = len(self.firms)
        shocks = self.rng.lognormal(0.0, p.demand_noise, size=n_firms) if p.demand_noise > 0 else np.ones(n_firms)
        horizon = q + self.lag + 1
        demand, demand_ai = stream_demand(self.streams, n_firms, q, self.origin, p.ai_demand_growth, cycle, shocks,
                                          p.ai_growth_fade)
        # Capacity is planned for trend demand: forecasts look through the market cycle
        # (ASSUMPTION: fabs take years to build; the cycle shows in utilisation and prices).
        forecast, _ = stream_demand(self.streams, n_firms, horizon, self.origin, p.ai_demand_growth,
                                    1.0, np.ones(n_firms), p.ai_growth_fade)
        figures = self.firm_figures
        figures.demand = demand

        wafers = self.trade.wafers
        ready = self.wafer_ready
        self.wafer_capacity = capacity = self._supplier_capacity()  # cleared against in phase 6
        coming = capacity + np.concatenate([f.pipeline.sum(axis=(0, 2, 3)) for f in self.foundries])
        # Orders go where a process runs and has (or is installing) capacity; forecasts
        # also reach processes that will be ready within the planning horizon.
        eligible_now = wafers.active & (ready <= q) & (coming[self.wafer_supplier] > 0)
        eligible_ahead = wafers.active & (ready <= horizon)
        routed, routed_ai, fallback = self._fall_back(demand, demand_ai, eligible_now, coming)
        routed_forecast, _, _ = self._fall_back(forecast, forecast, eligible_ahead)
        figures.fallback_wafers = fallback

        n_groups = len(self.firms) * len(TIERS)
        weights = np.where(eligible_now, self.wafer_weight, 0.0)
        searched = self._searched(weights, eligible_now, capacity)
        if searched.any():
            # The firm adopts the suppliers it found as relations of its own.
            share = searched / np.bincount(self.wafer_group, weights=searched, minlength=n_groups)[self.wafer_group].clip(min=1e-12)
            adopted = searched > 0
            self.wafer_base[adopted] = share[adopted]
            self.wafer_weight[adopted] = share[adopted]
            weights = np.where(eligible_now, self.wafer_weight, 0.0)
        orders = split_orders(routed.ravel(), self.wafer_group, weights, eligible_now)
        orders *= 1.0 + p.stockpile_factor * self._at_risk(self.announced, len(wafers))
        self._log_searches(orders)
        self.wafer_orders = orders
        group_total = routed.ravel()[self.wafer_group]
        self.wafer_ai_share = np.divide(routed_ai.ravel()[self.wafer_group], group_total,
                                        out=np.zeros(len(wafers)), where=group_total > 0)
        ahead = np.where(eligible_ahead, self.wafer_weight, 0.0)
        ahead = ahead + self._searched(ahead, eligible_ahead, coming)
        fc = split_orders(routed_forecast.ravel(), self.wafer_group, ahead, eligible_ahead)
        per_supplier = np.bincount(self.wafer_supplier, weights=fc, minlength=len(self.foundries) * len(TIERS))
        for i, foundry in enumerate(self.foundries):
            foundry.forecast = per_supplier[i * len(TIERS):(i + 1) * len(TIERS)].copy()

    def _searched(self, weights: np.ndarray, eligible: np.ndarray, capacity: np.ndarray) -> np.ndarray:
        """Search weights for the (firm, tier) groups left with no weighted eligible
        supplier (`agents.fabless.search_weights`; zero elsewhere)."""
        n_groups = len(self.firms) * len(TIERS)
        has_weight = np.bincount(self.wafer_group, weights=weights, minlength=n_groups) > 0
        return search_weights(has_weight, self.wafer_group, np.maximum(capacity[self.wafer_supplier], 1.0),
                              self.wafer_same_country, eligible)

    def _clear_markets(self) -> None:
        """Phase 6: each foundry-tier's capacity goes to orders over active edges:
        the state's champions first (up to the reserved share), the rest pro rata."""
        wafers = self.trade.wafers
        self.wafer_flow = clear(
            self.wafer_capacity, self.wafer_orders, self.wafer_supplier, wafers.active,
            self.wafer_priority, self.class_caps,
        )

    def _produce_and_price(self) -> None:
        """Phase 7: deliveries become dies and revenue; prices and preferences adapt."""
        wafers, flow, n = self.trade.wafers, self.wafer_flow, len(TIERS)
        wafers.volume = flow
        yields = np.array([f.yields() for f in self.foundries])  # (foundries, tiers)
        price = np.array([f.price for f in self.foundries])
        edge_yield = yields[wafers.supplier, wafers.tier]
        edge_revenue = flow * price[wafers.supplier, wafers.tier] / 1e6
        n_suppliers = len(self.foundries) * n
        ordered = np.bincount(self.wafer_supplier, weights=self.wafer_orders, minlength=n_suppliers).reshape(-1, n)
        delivered = np.bincount(self.wafer_supplier, weights=flow, minlength=n_suppliers).reshape(-1, n)
        revenue = self.wafer_segments["foundry"].sums(edge_revenue)
        china_revenue = self.wafer_segments["foundry_china"].sums(edge_revenue)
        for i, foundry in enumerate(self.foundries):
            foundry.orders, foundry.delivered = ordered[i], delivered[i]
            foundry.revenue_usd_m = float(revenue[i])
            foundry.china_revenue_usd_m = float(china_revenue[i])
            foundry.learn(delivered[i])
            foundry.set_prices(self.parameters.price_adjustment)
        n_groups = len(self.firms) * n
        figures = self.firm_figures
        figures.ordered = np.bincount(self.wafer_group, weights=self.wafer_orders, minlength=n_groups).reshape(-1, n)
        figures.delivered = np.bincount(self.wafer_group, weights=flow, minlength=n_groups).reshape(-1, n)
        dies = flow * self.wafer_ai_share * edge_yield
        figures.domestic_wafers = np.bincount(wafers.buyer, weights=flow * self.wafer_same_country,
                                              minlength=len(self.firms))
        die_wafers = np.bincount(wafers.buyer, weights=dies, minlength=len(self.firms))
        figures.ai_dies = die_wafers * self.firm_dies_per_wafer
        fill = np.divide(flow, self.wafer_orders, out=np.ones_like(flow), where=self.wafer_orders > 0)
        self.wafer_weight = adapt_preferences(
            self.wafer_weight, self.wafer_base,
            fill, self.wafer_quality, wafers.active, self.parameters.preference_adaptation,
        )
        self.wafer_ever_used |= flow > 0

    # ============================================================ phase helpers
    def bill(self, tier: Tier, route: str) -> dict[str, float]:
        """The world's bill of tools (`World.bill`) for a tier and route, parsed once at
        set-up; read-only."""
        return self._bills[(tier, route)]

    def _announce(self, rule: Rule) -> None:
        """Remember which relations an announced rule will cut (firms stockpile)."""
        if rule.kind in ("wafers", "tools"):
            store = self.announced if rule.kind == "wafers" else self.announced_tools
            # Buyers cannot know where a tool threshold will land: a foundry that a
            # tools rule targets stockpiles the rule's categories for every tier
            # (precautionary stockpiling, ASSUMPTION; China's DUV imports surged ahead
            # of the Dutch rules: calibration.csv: asml_china_share, ASML, 2023Q3).
            reach = rule.model_copy(update={"tier": Tier.MATURE.value}) if rule.kind == "tools" else rule
            store[rule.id] = self._matches(reach, getattr(self.trade, rule.kind))
        self._log("announce", rule.id, rule.issuer, ",".join(rule.targets), rule.tier, rule.event)

    def _matches(self, rule: Rule, edges: EdgeSet) -> np.ndarray:
        issuer = issuer_country(rule.issuer, self.government_country)
        return matching_edges(rule, edges, self.sides[edges.kind], issuer)

    def _apply_rule(self, rule: Rule) -> None:
        """Cut what a rule reaches (each edge escapes with probability 1 - enforcement)."""
        self.announced.pop(rule.id, None)
        self.announced_tools.pop(rule.id, None)
        if rule.kind == "servicing":
            self._ban_servicing(rule)
            return
        if rule.kind == "minerals":
            self._restrict_minerals(rule, on=True)
            return
        edges = self.trade.wafers if rule.kind == "wafers" else self.trade.tools
        mask = self._matches(rule, edges)
        enforcement = self.parameters.enforcement
        if enforcement < 1.0 and mask.any():
            escaped = mask & (self.rng.random(len(mask)) >= enforcement)
            for i in np.flatnonzero(escaped):
                u, v, key = edges.keys[i]
                self._log("leak", rule.id, u, v, key, "not enforced on this relation")
            mask &= ~escaped
        for i in self.trade.switch_off(edges, mask, rule.id):
            u, v, key = edges.keys[i]
            self._log("cut", rule.id, u, v, key, rule.event)
        self._derisk(rule)

    def _derisk(self, rule: Rule) -> None:
        """Supply chains pull apart along a rule (agents.fabless.derisk_preferences):
        firms whose wafer supply a rule cuts move toward home foundries, and firms of
        the issuing country move away from foundries of a country the rule targets."""
        factor = self.parameters.derisk_factor
        if factor == 1.0 or rule.kind not in ("wafers", "tools"):
            return
        wafers = self.trade.wafers
        if rule.kind == "wafers":
            hit = self._targeted(rule, self.firms)
            self.wafer_base = derisk_preferences(
                self.wafer_base, self.wafer_same_country, hit[wafers.buyer], factor)
        targeted = {t.split(":", 1)[1] for t in rule.targets if t.startswith("country:")}
        if targeted:
            issuer = issuer_country(rule.issuer, self.government_country)
            leaving = (self.wafer_buyer_country == issuer) & np.isin(self.wafer_supplier_country, list(targeted))
            self.wafer_base = derisk_preferences(self.wafer_base, leaving, np.ones(len(wafers), bool), 1 / factor)

    def _lift_rule(self, rule: Rule) -> None:
        if rule.kind == "minerals":
            self._restrict_minerals(rule, on=False)
            return
        if rule.kind == "servicing":
            return
        edges = self.trade.wafers if rule.kind == "wafers" else self.trade.tools
        for i in self.trade.switch_on(edges, rule.id):
            u, v, key = edges.keys[i]
            self._log("restore", rule.id, u, v, key, "rule lifted")

    @staticmethod
    def _targeted(rule: Rule, agents) -> np.ndarray:
        """Which of `agents` a rule's targets name (by name, or country:XX)."""
        return targets_mask(rule.targets, np.array([a.name for a in agents]),
                            np.array([a.country for a in agents]))

    def _ban_servicing(self, rule: Rule) -> None:
        for i in np.flatnonzero(self._targeted(rule, self.foundries)):
            self.foundries[i].unserviced = True
            self._log("servicing_ban", rule.id, rule.issuer, self.foundries[i].name,
                      ",".join(rule.tools), rule.event)

    def _restrict_minerals(self, rule: Rule, on: bool) -> None:
        hit = self._targeted(rule, self.vendors)
        self.mineral_multiplier = np.where(hit, 1.0 - self.parameters.mineral_shock if on else 1.0,
                                           self.mineral_multiplier)
        for i in np.flatnonzero(hit):
            self._log("minerals" if on else "minerals_end", rule.id, rule.issuer, self.vendors[i].name,
                      "minerals", rule.event)

    def _allocate_state_priority(self) -> None:
        """The state allocator: champion -> foundry edges of the advanced tiers become
        priority class 0, capped at the reserved share of capacity; the ledger records
        the re-wiring the first quarter it happens."""
        if self.china is None:
            return
        p = self.parameters
        directives = self.china.allocation_directives(self.quarter_number, p.champions, p.reserved_share)
        wafers = self.trade.wafers
        priority = np.ones(len(wafers), dtype=np.int64)
        for d in directives:
            advanced = np.isin(np.arange(len(TIERS)), [TIER_INDEX[x] for x in d.tiers])[wafers.tier]
            at_foundry = wafers.supplier == self.foundry_index.get(d.foundry, -1)
            champion = np.zeros(len(self.firms), dtype=bool)
            champion[[self.firm_index[c] for c in d.champions]] = True  # known: checked at set-up
            mask = advanced & at_foundry & champion[wafers.buyer]
            priority[mask] = 0
            self.class_caps = np.array([d.reserved_share, 1.0])
            for i in np.flatnonzero(mask & ~wafers.rewired):
                u, v, key = wafers.keys[i]
                self._log("rewire", d.directive_id, u, v, key,
                          f"state allocator: priority class 0, up to {d.reserved_share:.0%} of capacity")
            wafers.rewired |= mask
        self.wafer_priority = priority

    def _fall_back(self, demand: np.ndarray, demand_ai: np.ndarray, eligible: np.ndarray,
                   supplier_capacity: np.ndarray | None = None):
        """Move the part of each firm's demand at a tier that its eligible suppliers
        cannot make (all of it when it has none; beyond their whole capacity at that
        tier when `supplier_capacity` is given) to the next older tier: a performance
        penalty the firm's `fallback_wafers` records. AI demand moves pro rata."""
        n = len(TIERS)
        n_groups = len(self.firms) * n
        if supplier_capacity is None:
            reach = np.where(np.bincount(self.wafer_group, weights=eligible.astype(float),
                                         minlength=n_groups) > 0, np.inf, 0.0)
        else:
            reach = np.bincount(self.wafer_group, weights=np.where(eligible, supplier_capacity[self.wafer_supplier], 0.0),
                                minlength=n_groups)
        reach = reach.reshape(-1, n)
        routed, routed_ai = demand.copy(), demand_ai.copy()
        fallback = np.zeros(len(self.firms))
        for t in range(n - 1):
            spill = np.maximum(routed[:, t] - reach[:, t], 0.0)
            share = np.divide(spill, routed[:, t], out=np.zeros_like(spill), where=routed[:, t] > 0)
            fallback += spill
            routed[:, t + 1] += spill
            routed_ai[:, t + 1] += routed_ai[:, t] * share
            routed[:, t] -= spill
            routed_ai[:, t] -= routed_ai[:, t] * share
        return routed, routed_ai, fallback

    def _supplier_capacity(self) -> np.ndarray:
        return np.concatenate([f.capacity_by_tier for f in self.foundries])

    @staticmethod
    def _at_risk(store: dict[str, np.ndarray], n: int) -> np.ndarray:
        risk = np.zeros(n, dtype=bool)
        for mask in store.values():
            risk |= mask
        return risk.astype(float)

    def _domestic_litho_floors(self) -> dict[str, float]:
        """What-if dates: Chinese immersion lithography reaches 28nm / 7nm by a year."""
        year, p, floors = quarter_year(self.quarter_number), self.parameters, {}
        if p.domestic_litho_28nm_year is not None and year >= p.domestic_litho_28nm_year:
            floors["duv_immersion"] = float(Tier.N28.index)
        if p.domestic_litho_7nm_year is not None and year >= p.domestic_litho_7nm_year:
            floors["duv_immersion"] = float(Tier.N7.index)
        return floors

    def _log_searches(self, orders: np.ndarray) -> None:
        """Ledger rows for relations a firm uses for the first time (search, re-wiring)."""
        wafers = self.trade.wafers
        for i in np.flatnonzero((orders > 0) & ~self.wafer_ever_used):
            u, v, key = wafers.keys[i]
            self._log("search", "", u, v, key, "firm re-wired to a permitted supplier")
            self.wafer_ever_used[i] = True

    def _log(self, action: str, rule: str, supplier: str, buyer: str, item: str, note: str) -> None:
        self.ledger.append(dict(step=self.steps, quarter=self.quarter, action=action, rule=rule,
                                supplier=supplier, buyer=buyer, item=item, note=note))

    # ==================================================================== output
    @property
    def graph(self):
        """The trade graph (networkx MultiDiGraph), brought up to date."""
        return self.trade.sync()

    def export_graph(self, path: str | Path) -> Path:
        """Write the trade graph as GraphML (.graphml) or GEXF (.gexf)."""
        import networkx as nx

        path = Path(path)
        graph = self.graph
        if path.suffix == ".gexf":
            nx.write_gexf(graph, path)
        else:
            nx.write_graphml(graph, path)
        return path

    def ledger_frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.ledger, columns=LEDGER_COLUMNS)

    def frames(self) -> dict[str, pd.DataFrame]:
        """Tidy frames: 'model' (a row per quarter), one per agent type, 'ledger'; in
        the lean mode (`collect=` names) the model frame alone."""
        out = self.datacollector.frames()
        if not self.datacollector.lean:
            out["ledger"] = self.ledger_frame()
        return out

    # figures the reporters share
    def foundry_capacity(self) -> np.ndarray:
        """(foundries, tiers) capacity, wafers/quarter."""
        return np.array([f.capacity_by_tier for f in self.foundries])

    def foundry_yields(self) -> np.ndarray:
        """(foundries, tiers) large-die yields."""
        return np.array([f.yields() for f in self.foundries])
