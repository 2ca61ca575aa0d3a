"""ChipMarketModel: the world, its agents, the trade graph, and the quarterly step.

`step()` is DESIGN.md's seven phases in order, then the accelerator chain and its
markets (buyers' orders, HBM, packaging, delivery); each phase is one method below.
Agents decide (their methods return intents), the phases resolve those intents against
the graph, the markets (`model.markets`, `model.chain`) and each other, and the pure
functions of `model.market` and `model.accelerators` compute allocations. Set-up is `model.build`; resolving governments'
rules and directives is `model.controls`; what is recorded is `model.reporters`.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import mesa
import numpy as np
import pandas as pd

from agents.fabless import AiNeeds
from model import build, controls, reporters
from model.chain import summed
from model.demand import RuleExposure
from model.markets import tool_demand
from model.scenario import DEFAULT_SCENARIO, Directive, Rule, Scenario, check_against_world, load_scenario
from model.synthetic import synthetic_world
from model.technology import HBM_GENERATIONS, TIERS, Tier
from model.technology import parse_quarter, quarter_label, quarter_year
from model.world import World, load_world


class ChipMarketModel(mesa.Model):
    """The semiconductor supply chain, one quarter a step.

    `scenario` is a shipped scenario's name or a TOML path (or a loaded `Scenario`);
    keyword arguments override its parameters (unknown names raise ScenarioError at
    once); `rng` seeds every random draw (None: a fresh seed, kept in `self.seed`).
    `collect`: None records every reporter and agent-type frame; a sequence of model
    reporter names records only those (and `quarter`): the lean mode for sweeps.
    """

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
        # The scenario as run (its file and these overrides). Not `self.scenario`: from
        # Mesa 3.5 that is Mesa's own (experimental) Scenario, which its browser app reads.
        self.scenario_spec = base.with_overrides(kwargs, "ChipMarketModel keyword arguments")
        self.parameters = p = self.scenario_spec.parameters
        self.world: World = synthetic_world(
            load_world(p.world), self.rng,
            firms=p.synthetic_firms, foundries=p.synthetic_foundries, vendors=p.synthetic_vendors,
        )
        check_against_world(self.scenario_spec, self.world)  # names and dates mean something here
        self.first_quarter = parse_quarter(p.start)
        self.last_quarter = parse_quarter(p.end)
        self.quarter_number = self.first_quarter - 1  # the initial state is the quarter before
        self._exposure: RuleExposure | None = None  # the chip controls' exposure (`_rule_exposure`)
        build.populate(self)
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
        self._make_accelerators()
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

    # ================================================================ the phases
    def _apply_policies(self) -> None:
        """Phase 1: governments say what is announced, takes effect or ends; their
        subsidies and build-out instructions reach the recipients."""
        q, recipients = self.quarter_number, self.recipients
        self.pending = []
        for foundry in self.foundries:
            foundry.subsidy_usd_m = 0.0
            foundry.build_ahead = np.zeros(len(TIERS))
        for vendor in self.vendors:
            vendor.subsidy_usd_m = 0.0
        for government in self.governments:
            self.pending.extend(government.policy_changes(q))
            for name, usd_m in government.subsidies_due(q).items():
                if name in recipients:
                    recipients[name].subsidy_usd_m += usd_m
            for name, shares in government.build_ahead_due(q).items():
                if name in self.foundry_index:
                    self.foundries[self.foundry_index[name]].build_ahead += shares
        if self.parameters.domestic_subsidy_usd_m > 0:
            domestic = [v for v in self.vendors if v.country == "CN"]
            for v in domestic:
                v.subsidy_usd_m += self.parameters.domestic_subsidy_usd_m / len(domestic)

    def _update_graph(self) -> None:
        """Phase 2: rules cut or restore edges; the state allocator re-wires its foundry."""
        resolve = {"announce": controls.announce, "apply": controls.apply_rule, "lift": controls.lift_rule}
        for change in self.pending:
            if isinstance(change.item, Rule):
                resolve[change.action](self, change.item)
            elif isinstance(change.item, Directive):
                self.log("directive" if change.action == "apply" else "directive_end", change.item.id,
                         change.government, change.item.foundry, "advanced tiers", change.item.event)
        if self.china is not None:
            controls.allocate_state_priority(self, self.china.allocation_directives(self.quarter_number))
            self.rationing = self.china.rationing(self.quarter_number)

    def _sell_tools(self) -> None:
        """Phase 3: last quarter's tool orders (the foundries' and the other fabs': memory
        makers', IDMs', `agents.fab`) join the vendors' books; vendors fill the due
        orders (placed a lead time ago or more, oldest first) over active vendor->buyer
        edges their technology can serve; foundries stock what they got, the other fabs
        record theirs; vendors plan their next output."""
        # Per seller cell (vendor x category, flat), the first tier its tools serve
        # (none: len(TIERS)) and its capacity, as each vendor offers them: a few dozen
        # cells, as Python lists (numpy's per-call cost would dominate).
        first, capacity = [len(TIERS)] * self.tool_market.n_sellers, [0.0] * self.tool_market.n_sellers
        for vendor, cells, multiplier in zip(self.vendors, self.vendor_cells, self.mineral_multiplier.tolist()):
            for (_, i), (tier, units) in zip(cells, vendor.offer(multiplier)):
                first[i], capacity[i] = tier, units
        bias = self.china.domestic_tool_bias(self.quarter_number) if self.china else 1.0
        market = self.tool_market
        at_risk = controls.at_risk(self.announced_tools, len(market.edges)) if self.announced_tools else None
        flow, revenue, china_revenue, ordered = market.sell_served(
            tool_demand(self.tool_orders.units, self.tool_purchases), capacity, first, bias, at_risk,
            self.parameters.stockpile_factor, controls.required_domestic_shares(self),
            controls.deadline_risk(self, market.edges))
        # What a vendor sizes its output to: this quarter's orders and its book, spread
        # over the book's lead time (`ToolMarket.book_rate`).
        waiting = market.book_rate().tolist()
        # What its offered output was worth at list prices: its books (`EquipmentVendor.account`).
        price, fixed = market.unit_price.tolist(), self.parameters.vendor_fixed_cost_share
        n_cat = len(price)  # seller cell i is vendor x category: its category is i % n_cat
        for vendor, cells, r, cr in zip(self.vendors, self.vendor_cells, revenue, china_revenue):
            vendor.record_sales(r, cr, {c_name: ordered[i] + waiting[i] for c_name, i in cells})
            vendor.account(sum(capacity[i] * price[i % n_cat] for _, i in cells) / 1e6, fixed)
        books = market.last
        for vendor, placed, filled, units, usd in zip(
                self.vendors, *(market.by_vendor.sums(x).tolist() for x in (books.placed, books.filled)),
                *(x.tolist() for x in market.by_vendor_units_and_usd(books.after))):
            vendor.record_books(placed, filled, units, usd)
        sold = ((flow > 0) & self.foundry_tool_edges).nonzero()[0]
        self.fleet.receive_tools(market.stock_cell[sold], flow[sold])
        self._fabs_receive(flow)
        floors, learning = self._domestic_litho_floors(), self.parameters.domestic_learning_rate
        for vendor in self.vendors:
            vendor.adopt(vendor.plan_output(learning, floors if vendor.country == "CN" else None))

    def _fabs_receive(self, flow: np.ndarray) -> None:
        """Each other fab records its quarter: what it planned, what joined the books
        and what it received (`flow`: units per tool edge; its rows of the market's
        buyers follow the foundries')."""
        market, n = self.tool_market, len(self.foundries)
        for buyer, purchase, placed, received_usd, received in zip(
                self.tool_buyers, self.tool_purchases, market.by_buyer_usd_m(market.last.placed)[n:].tolist(),
                market.by_buyer_usd_m(flow)[n:].tolist(), market.by_buyer_units(flow)[n:].tolist()):
            buyer.record(purchase.usd_m, placed, received, received_usd)

    def _run_foundries(self) -> None:
        """Phase 4: foundries age a quarter (the pipeline advances, capacity depreciates),
        install the tools they stock, and order next quarter's tools; the other fabs
        order theirs (`ToolBuyer.plan_purchase`)."""
        q, repurpose, n = self.quarter_number, self.parameters.repurpose_share, len(self.foundries)
        reachable = self.tool_market.reachable
        reachable = reachable[:n] if reachable is not None else None  # the foundries' rows
        self.fleet.age(self.depreciation, self.unserviced_extra)
        # Conversion tools that arrived go into converted lines (the quarter's figure).
        self.conversion_received = self.fleet.consume(self.conversion_owed)
        before, stock = self.fleet.tier_totals(), self.fleet.stock_lists()
        rate = self.parameters.install_rate
        self.fleet.install([foundry.plan_installation(q, self.bill, self.headroom, repurpose, before[f], stock[f], rate)
                            for f, foundry in enumerate(self.foundries)])  # each its own Foundry.install
        # Installing filled the pipeline; orders see it (every foundry's plan_tool_orders),
        # and what is on order for its expansion: its books less the conversion tools
        # still to come (those a rule cancelled are forgiven: the line converts without).
        on_order = self.tool_market.on_order()[:n]
        np.minimum(self.conversion_owed, on_order, out=self.conversion_owed)
        self.tool_orders = self.fleet.plan_tool_orders(q, self.bill, self.tool_price, self.headroom,
                                                       self.depreciation, reachable, repurpose,
                                                       on_order - self.conversion_owed)
        self.tool_purchases = [b.plan_purchase(q, self.tool_price, self.parameters.tool_buyer_capex_scale,
                                               self.tool_lead) for b in self.tool_buyers]
        # A foundry's capacity of a tier moves to the newest generation it runs (its new
        # capacity and `generation_migration` of the rest); converting orders its share of
        # the tier's bill of tools from the vendors, beside its expansion (capex funded
        # apart, ASSUMPTION); what it cannot buy it converts without.
        self.generations.advance(q, self.fleet.capacity_by_tier(), self.parameters.generation_migration)
        bills = self.generations.conversion_bills()  # (foundries, tiers)
        self.conversion_usd = bills * self.bill_value_usd
        converting = bills[:, None, :] * self.conversion_bill_units
        if reachable is not None:
            converting = np.where(reachable, converting, 0.0)
        self.tool_orders.units[...] += converting
        self.conversion_owed += converting
        self.conversion_ordered = converting
        conversion = self.conversion_usd.sum(axis=1) / 1e6
        premium = self.generations.price_premium()
        for f, (foundry, capex, converting) in enumerate(zip(self.foundries, self.tool_orders.cost_usd_m.tolist(),
                                                             conversion.tolist())):
            foundry.conversion_capex_usd_m, foundry.price_premium = converting, premium[f]
            foundry.capex_usd_m = capex + converting

    def _place_orders(self) -> None:
        """Phase 5: the fabless sector orders wafers over active edges (searching,
        falling back a tier, stockpiling ahead of announced rules; answering prices and
        the chip controls against its firms' countries: `model.demand`); foundries hear
        its forecast."""
        p, q, market = self.parameters, self.quarter_number, self.wafer_market
        n_firms = len(self.firms)
        shocks = self.rng.lognormal(0.0, p.demand_noise, size=n_firms) if p.demand_noise > 0 else np.ones(n_firms)
        horizon = q + self.lag + 1
        capacity = self.foundry_capacity().ravel()  # per foundry x tier cell: the market's sellers
        # Each foundry's pipeline (its row of the fleet's) over lag, routes and origins,
        # all foundries in one reduction: the same sums as foundry by foundry.
        coming = capacity + self.fleet.pipeline.sum(axis=(1, 3, 4)).ravel()
        # Orders go where a process runs and has (or is installing) capacity; forecasts
        # also reach processes that will be ready within the planning horizon.
        active = market.edges.active
        # Readiness and capacity are per seller cell: tested per cell, gathered per edge.
        ready = np.array([f.ready for f in self.foundries]).ravel()
        intent = self.sector.place_orders(
            q, horizon, ai_growth=p.ai_demand_growth, ai_fade=p.ai_growth_fade,
            cycle=self.world.cycle(int(quarter_year(q))), shocks=shocks,
            eligible_now=active & ((ready <= q) & (coming > 0))[market.seller],
            eligible_ahead=active & (ready <= horizon)[market.seller], capacity=capacity, coming=coming,
            at_risk=controls.at_risk_mask(self.announced, len(market.edges)), stockpile_factor=p.stockpile_factor,
            ai_needs=self._designer_wafer_needs(q, horizon),
            price_ratio=(self.fleet.price / self.fleet.reference_price).ravel(), elasticity=p.wafer_price_elasticity,
            price_sensitivity=p.foundry_price_sensitivity, exposure=self._rule_exposure().count(q),
            localisation_rate=p.localisation_rate,
        )
        searched = intent.first_use.nonzero()[0]
        if len(searched):
            self.log_edges("search", "", market.edges, searched, "firm re-wired to a permitted supplier")
        market.take_orders(intent.orders, intent.ai_share, capacity)
        self.fleet.forecast[...] = intent.forecast.reshape(self.fleet.forecast.shape)  # each foundry hears its row

    def _rule_exposure(self) -> RuleExposure:
        """Which countries the run's chip controls expose, and when (made once)."""
        if self._exposure is None:
            named = {t for rule in self.rules for t in rule.targets if not t.startswith("country:")}
            names = {a.name: a.country for a in self.agents if getattr(a, "name", None) in named}
            self._exposure = RuleExposure.of(self.rules, self.government_country, names)
        return self._exposure

    def _clear_markets(self) -> None:
        """Phase 6: each foundry-tier's capacity goes to orders over active edges:
        the state's champions first (up to the reserved share), the rest pro rata."""
        self.wafer_market.clear()

    def _produce_and_price(self) -> None:
        """Phase 7: deliveries become dies, revenue and costs (the foundries' books);
        prices move toward their cost-plus targets; preferences adapt."""
        market, p = self.wafer_market, self.parameters
        # What a wafer earns: the foundry's price of the tier x its generation mix's premium
        # (kept for the reporters: what buyers paid, before the quarter's price update).
        self.wafer_sale_price[...] = self.fleet.price * self.generations.price_premium()
        settled = market.settle(self.wafer_sale_price, self.foundry_yields())
        for foundry, ordered, delivered, revenue, china_revenue in zip(
                self.foundries, settled.ordered, settled.delivered, settled.revenue.tolist(),
                settled.china_revenue.tolist()):
            foundry.orders, foundry.delivered = ordered, delivered  # its rows of the settlement's
            foundry.revenue_usd_m, foundry.china_revenue_usd_m = revenue, china_revenue  # its packaging joins (phase 8)
            foundry.wafer_revenue_usd_m, foundry.packaging_revenue_usd_m = revenue, 0.0
        self.fleet.learn(settled.delivered)  # every foundry's Foundry.learn and set_prices at once
        self.fleet.account(settled.delivered, settled.revenue, settled.seller_yield.reshape(settled.delivered.shape),
                           self.generations.cost_premium(), self.conversion_usd)
        self.fleet.set_prices(settled.ordered, p.price_adjustment)
        self.sector.receive(market.orders, market.flow, settled.seller_yield, market.ai_share,
                            self.firm_dies_per_wafer, market.edges.active, p.preference_adaptation)

    def _make_accelerators(self) -> None:
        """Phase 8, the accelerator chain: buyers order accelerators; designers take in
        the quarter's good dies (their own wafers' and a leak route's) and book
        packaging for what their demand (the orders, where they make to order) and dies
        allow; memory makers ship the HBM those packages take over active edges (more
        ahead of an announced rule); designers assemble what their dies, HBM, packaging
        and demand allow (`model.accelerators.buildable`); the accelerator market
        delivers to the buyers, the state rationing China's own chips while it directs."""
        if not self.designers:
            return
        p, q = self.parameters, self.quarter_number
        self._order_accelerators(q)
        growth = (p.ai_demand_growth, p.ai_growth_fade, p.accelerator_demand_scale)
        leaked = self.leak_routes.carry(q, p.die_leak_per_quarter)
        ai_dies = self.firm_figures.ai_dies
        requests = np.zeros(len(self.designers))
        for d, designer in enumerate(self.designers):
            designer.receive_dies(float(ai_dies[designer.firm_row]), float(leaked[d]))
            requests[d] = designer.plan(q, *growth)
        booked = self._book_packaging(q, requests)
        shape = (len(self.designers), len(HBM_GENERATIONS))  # designers x generations
        need, extra = np.zeros(shape), np.zeros(shape)
        for d, designer in enumerate(self.designers):
            need[d], extra[d] = designer.hbm_order(q, booked[d], p.hbm_cover_quarters)
        self._ship_hbm(q, need, extra)
        for designer, slots in zip(self.designers, booked.tolist()):
            designer.assemble(q, slots)
        self._deliver_accelerators()

    def _order_accelerators(self, q: int) -> None:
        """Buyers order on the offers open to them (a product its designer makes this
        quarter or holds, over an active edge; the price with licence fees passed on);
        designers take their orders by product."""
        if not self.buyers:
            return
        p, market = self.parameters, self.accelerator_market
        available = np.zeros(market.n_products, dtype=bool)
        for designer, at in zip(self.designers, self.designer_products):
            available[at] = designer.made(q) | (designer.unit_stock > 0)
        offered, price, category = market.offered(available), market.buyer_price(p.fee_pass_through), market.edges.category
        orders = np.zeros(len(market.edges))
        for buyer in self.buyers:
            at = buyer.edges
            orders[at] = buyer.order(q, offered[at], market.h100e[category[at]], price[at],
                                     market.ecosystem[category[at]], market.fill[category[at]],
                                     ai_growth=p.ai_demand_growth,
                                     ai_fade=p.ai_growth_fade,
                                     scale=p.accelerator_demand_scale if buyer.country == "CN" else 1.0,
                                     price_sensitivity=p.price_sensitivity, ecosystem_premium=p.ecosystem_premium)
        market.orders = orders
        ordered = market.by_product(orders)
        for designer, at in zip(self.designers, self.designer_products):
            designer.take_orders(q, ordered[at])

    def _deliver_accelerators(self) -> None:
        """Each product's stock to its buyers' orders over active edges, pro rata; while
        a directive is in force the state reserves `ration_share` of each Chinese
        designer's stock for `ration_buyers` first (a ledger row for each buyer served
        above what the market alone gave it). Buyers receive; designers ship and earn."""
        if not self.buyers:
            return
        p, market = self.parameters, self.accelerator_market
        stock = np.zeros(market.n_products)
        for designer, at in zip(self.designers, self.designer_products):
            stock[at] = designer.unit_stock
        rationing = self.rationing
        classes = None
        if rationing is not None:
            ranks = np.array([rationing.buyers.index(b.name) if b.name in rationing.buyers else -1
                              for b in self.buyers], dtype=np.int64)
            classes = market.ration_classes(ranks, rationing.share)
        market_alone = market.clear(stock, market.orders)
        flow = market.clear(stock, market.orders, *classes) if classes is not None else market_alone
        if classes is not None:
            self._log_rationing(market_alone, flow)
        price, category = market.buyer_price(p.fee_pass_through), market.edges.category
        for buyer in self.buyers:
            at = buyer.edges
            buyer.receive(flow[at], market.h100e[category[at]], price[at])
        paid = flow * price / 1e6
        kept, fees = paid * (1.0 - market.fee), paid * market.fee
        shipped, by_designer, n = market.by_product(flow), market.edges.supplier, len(self.designers)
        revenue, china = summed(by_designer, kept, n), summed(by_designer, kept, n, market.china_buyer)
        fee = summed(by_designer, fees, n)
        for d, (designer, at) in enumerate(zip(self.designers, self.designer_products)):
            designer.ship(shipped[at], float(revenue[d]), float(china[d]), float(fee[d]))

    def _log_rationing(self, market_alone: np.ndarray, rationed: np.ndarray) -> None:
        """A ledger row per (Chinese designer, listed buyer) the state served above what
        the market alone would have given it this quarter."""
        market = self.accelerator_market
        e = market.edges
        pairs = e.supplier * len(self.buyers) + e.buyer
        extra = np.bincount(pairs, weights=np.where(market.domestic, rationed - market_alone, 0.0),
                            minlength=len(self.designers) * len(self.buyers))
        for pair in np.flatnonzero(extra > 0.5):
            designer, buyer = divmod(int(pair), len(self.buyers))
            self.log("ration", self.rationing.directive_id, self.designers[designer].name, self.buyers[buyer].name,
                     "accelerators", f"state allocator: {extra[pair]:,.0f} units above the market's share")

    def _book_packaging(self, q: int, requests: np.ndarray) -> np.ndarray:
        """Packaging houses' capacity of the quarter to the designers' requests over
        active edges; per designer, the slots it booked. Each house earns its price a
        package booked (its other customers' too) x `packaging_price_scale`; a designer
        pays that for each slot it booked (`packaging_cost_usd_m`); a house's books
        join its foundry's (`Foundry.add_packaging`: TSMC's CoWoS in TSMC's revenue)."""
        market, scale = self.packaging_market, self.parameters.packaging_price_scale
        for packager in self.packagers:
            packager.capacity_packages = packager.plan_capacity(q)
        booked = market.book(np.array([k.open_capacity() for k in self.packagers]), requests)
        price = np.array([k.spec.price_usd for k in self.packagers]) * scale  # US$ a package
        for packager, used, to_china, usd in zip(self.packagers, market.by_packager(market.flow).tolist(),
                                                 market.by_packager(market.flow, market.china_buyer).tolist(),
                                                 price.tolist()):
            packager.record(used, to_china, usd)
        paid = summed(market.edges.buyer, market.flow * price[market.edges.supplier] / 1e6, len(self.designers))
        for designer, usd_m in zip(self.designers, paid.tolist()):
            designer.packaging_cost_usd_m = usd_m
        for packager, row in zip(self.packagers, self.packager_foundry):
            if row is not None:
                self.foundries[row].add_packaging(packager.revenue_usd_m, packager.china_revenue_usd_m,
                                                  packager.cost_usd_m)
        return booked

    def _ship_hbm(self, q: int, need: np.ndarray, extra: np.ndarray) -> None:
        """Memory makers' HBM of the quarter to the designers' orders (by generation:
        needs, then stock) over active edges, more on edges an announced rule will cut;
        into their stocks."""
        p, market = self.parameters, self.hbm_market
        for maker in self.memory_makers:
            maker.adopt(maker.plan(q, p.memory_tool_drag))
        shipped = market.trade(np.array([m.capacity_stacks for m in self.memory_makers]),
                               np.array([m.newest for m in self.memory_makers], dtype=np.int64), need, extra,
                               controls.at_risk_mask(self.announced_hbm, len(market.edges)), p.hbm_stockpile_factor)
        for maker, ordered, sold, to_china, by_generation in zip(
                self.memory_makers, market.by_maker(market.orders).tolist(), market.by_maker(market.flow).tolist(),
                market.by_maker(market.flow, market.china_buyer).tolist(),
                market.by_maker_and_generation(market.flow).tolist()):
            maker.ordered_stacks, maker.shipped_stacks, maker.china_stacks = ordered, sold, to_china
            maker.shipped_by_generation = by_generation
        for designer, stacks in zip(self.designers, shipped):
            designer.receive_hbm(stacks)

    def _designer_wafer_needs(self, quarter: int, horizon: int):
        """The AI wafers designers whose demand the world sizes want now and at the
        horizon, at the good-die yield each saw (`_die_yield_seen`); None if none."""
        sized = [d for d in self.designers if d.spec.demand_units is not None]
        if not sized:
            return None
        p, yields = self.parameters, self.foundry_yields()
        growth = (p.ai_demand_growth, p.ai_growth_fade, p.accelerator_demand_scale)
        seen = [self._die_yield_seen(d, yields) for d in sized]
        return AiNeeds(rows=np.array([d.firm_row for d in sized], dtype=np.int64),
                       tiers=np.array([d.die_tier for d in sized], dtype=np.int64),
                       now=np.array([d.ai_wafers(quarter, *growth, y, p.die_cover_quarters)
                                     for d, y in zip(sized, seen)]),
                       ahead=np.array([d.ai_wafers(horizon, *growth, y) for d, y in zip(sized, seen)]))

    def _die_yield_seen(self, designer, yields: np.ndarray) -> float:
        """The yield a designer saw on its die tier last quarter: its suppliers' yields
        weighted by what each delivered; if none delivered, the best of the suppliers it
        may still use; if none, the world's start yield."""
        market, tier = self.wafer_market, designer.die_tier
        at = self.designer_wafer_edges[designer.firm_row]
        y = yields[market.edges.supplier[at], tier]
        flow = market.flow[at]
        if flow.sum() > 0:
            return float((flow * y).sum() / flow.sum())
        active = market.edges.active[at]
        return float(y[active].max()) if active.any() else float(self.world.yields.start)

    # ============================================================ phase helpers
    def bill(self, tier: Tier, route: str) -> dict[str, float]:
        """The world's bill of tools (`World.bill`) for a tier and route, parsed once at
        set-up; read-only."""
        return self.bills[(tier, route)]

    def _domestic_litho_floors(self) -> dict[str, float]:
        """What-if dates: Chinese immersion lithography reaches 28nm / 7nm by a year."""
        year, p, floors = quarter_year(self.quarter_number), self.parameters, {}
        if p.domestic_litho_28nm_year is not None and year >= p.domestic_litho_28nm_year:
            floors["duv_immersion"] = float(Tier.N28.index)
        if p.domestic_litho_7nm_year is not None and year >= p.domestic_litho_7nm_year:
            floors["duv_immersion"] = float(Tier.N7.index)
        return floors

    def foundry_capacity(self) -> np.ndarray:
        """(foundries, tiers) capacity, wafers/quarter."""
        return self.fleet.capacity_by_tier()

    def foundry_yields(self) -> np.ndarray:
        """(foundries, tiers) large-die yields."""
        return self.fleet.yields()

    def log(self, action: str, rule: str, supplier: str, buyer: str, item: str, note: str) -> None:
        self.ledger.log(self.steps, self.quarter, action, rule, supplier, buyer, item, note)

    def log_edges(self, action: str, rule: str, edges, indices, note: str) -> None:
        self.ledger.log_edges(self.steps, self.quarter, action, rule, edges, indices, note)

    @property
    def firm_figures(self):
        """The fabless sector's per-firm figures of the quarter (what reporters read)."""
        return self.sector.figures

    # ==================================================================== output
    @property
    def graph(self):
        """The trade graph (networkx MultiDiGraph), brought up to date."""
        return self.trade.sync()

    def export_graph(self, path: str | Path) -> Path:
        """Write the trade graph as GraphML (.graphml) or GEXF (.gexf)."""
        import networkx as nx

        path = Path(path)
        (nx.write_gexf if path.suffix == ".gexf" else nx.write_graphml)(self.graph, path)
        return path

    def ledger_frame(self) -> pd.DataFrame:
        return self.ledger.frame()

    def frames(self) -> dict[str, pd.DataFrame]:
        """Tidy frames: 'model' (a row per quarter), one per agent type, 'ledger'; in
        the lean mode (`collect=` names) the model frame alone."""
        out = self.datacollector.frames()
        if not self.datacollector.lean:
            out["ledger"] = self.ledger_frame()
        return out
