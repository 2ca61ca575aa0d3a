"""Building a model from its world and scenario: the agents, the fabless sector, the
trade graph and its two markets, and each government's instruments.

`populate(model)` is the whole of `ChipMarketModel`'s set-up after the scenario and
world are loaded; everything here runs once, at build time.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from agents.base import ToolPurchase
from agents.buyer import ComputeBuyer
from agents.designer import AcceleratorDesigner
from agents.fab import ToolBuyer
from agents.fabless import DemandStreams, FablessFirm, FablessSector, Relations
from agents.foundry import ROUTES, Foundry, FoundryFleet
from agents.government import Government
from agents.memory import MemoryMaker
from agents.packager import Packager
from agents.vendor import EquipmentVendor, progress_of
from model import costs
from model.accelerators import answering, product_dates
from model.chain import AcceleratorMarket, HbmMarket, LeakRoutes, PackagingMarket, accelerator_edges, leak_edges
from model.graph import EdgeSet, EdgeSides, TradeGraph, wafer_relations
from model.ledger import Ledger
from model.markets import ToolMarket, WaferMarket
from model.policy import lever_rules
from model.scenario import Directive, ScenarioError
from model.generations import GenerationBook, generation_table
from model.technology import CATEGORY_INDEX, TIER_INDEX, TIERS, TOOL_CATEGORIES, parse_quarter


def populate(model) -> None:
    """Agents, sector, graph, markets and instruments of `model` (its `world`,
    `scenario` and `parameters` set)."""
    meta = model.world.meta
    model.lag = int(meta["installation_lag_quarters"])
    model.depreciation = float(meta["base_depreciation"])
    model.unserviced_extra = float(meta["unserviced_depreciation"])
    model.headroom = float(meta["headroom"])
    model.ledger = Ledger()
    tables = world_tables(model.world)
    model.bills = {key: dict(bill) for key, bill in tables.bills.items()}  # the model's own copies
    model.tool_price = dict(tables.tool_price)
    build_agents(model)
    build_graph(model)
    distribute_instruments(model)
    model.announced = {}  # rule id -> wafer-edge mask at risk
    model.announced_tools = {}
    model.announced_hbm = {}  # rule id -> HBM-edge mask at risk
    model.tool_requirements = {}  # domestic_tools rule id -> (tool market buyers it binds, least domestic share)
    model.effective_quarter = {}  # announced rule id -> the quarter it takes effect (controls.announce)
    model.allocated = None  # the state allocator's directives last resolved (controls.allocate_state_priority)
    model.mineral_multiplier = np.ones(len(model.vendors))
    model.tool_orders = model.fleet.no_orders()  # nothing ordered before the first quarter
    model.tool_purchases = [ToolPurchase(b.name, b.tier, {}, 0.0) for b in model.tool_buyers]  # nor by other fabs
    # Process generations inside each foundry's tiers, and what a wafer/quarter of each
    # foundry x tier's capacity costs in tools by its own route's bill (US$: the cost
    # books' tool values, at the route each foundry builds by).
    bases = [{tier: spec.base for tier, spec in f.tiers.items()} for f in model.world.foundries]
    model.generations = GenerationBook(generation_table(model.world.generations, [f.name for f in model.foundries],
                                                        bases),
                                       model.fleet.capacity_by_tier())
    model.bill_value_usd = np.take_along_axis(model.fleet.books.tool_value[None],
                                              model.fleet.preferred_route[..., None], axis=2)[..., 0]
    # The same bills in tool units by category, (foundries, categories, tiers): what
    # converting a wafer/quarter of capacity orders from the vendors; and the units
    # ordered for conversions that have not yet arrived (`ChipMarketModel._run_foundries`).
    model.conversion_bill_units = np.zeros((len(model.foundries), len(TOOL_CATEGORIES), len(TIERS)))
    for f, routes in enumerate(model.fleet.preferred_route.tolist()):
        for t, (tier, route) in enumerate(zip(TIERS, routes)):
            for category, units in model.bills.get((tier, ROUTES[route]), {}).items():
                model.conversion_bill_units[f, CATEGORY_INDEX[category], t] = units
    model.conversion_owed = np.zeros_like(model.conversion_bill_units)
    model.conversion_ordered = np.zeros_like(model.conversion_bill_units)  # the quarter's figures
    model.conversion_received = np.zeros_like(model.conversion_bill_units)


def build_agents(model) -> None:
    w, p = model.world, model.parameters
    ref = np.array([w.reference_price(t) for t in TIERS])
    y = w.yields
    ceilings = np.array([[float(y[f"{route}_ceiling"][t.value]) for t in TIERS] for route in ("euv", "duv")])
    model.governments = [
        Government(model, g.name, g.country, [], [], [], g.domestic_tool_bias,
                   champions=p.champions if g.country == "CN" else (),
                   reserved_share=p.reserved_share if g.country == "CN" else 0.0,
                   ration_buyers=p.ration_buyers if g.country == "CN" else (),
                   ration_share=p.ration_share if g.country == "CN" else 0.0)
        for g in w.governments
    ]
    model.vendors = [
        EquipmentVendor(
            model, v.name, v.country,
            output={c: line.output for c, line in v.tools.items()},
            progress={c: progress_of(line.level) for c, line in v.tools.items()},
            weight={c: line.weight for c, line in v.tools.items()},
            learning=v.learning, gross_margin=v.gross_margin,
        )
        for v in w.vendors
    ]
    model.foundries = [
        Foundry(
            model, f.name, f.country, spec=f, reference_price=ref, yield_start=float(y["start"]), ceilings=ceilings,
            half_life_wafers=(p.smic_yield_half_life_wafers if f.name == w.tracked.foundry
                              else float(y["half_life_wafers"])),
            lag=model.lag,
        )
        for f in w.foundries
    ]
    model.fleet = FoundryFleet(model.foundries)
    model.tool_buyers = [ToolBuyer(model, b.name, b.country, spec=b) for b in w.tool_buyers]
    # The tool market's buyers, in its order: the foundries, then the other fabs.
    model.tool_market_buyers = [*model.foundries, *model.tool_buyers]
    routes = ("euv", "duv")
    model.fleet.keep_books(
        costs.tool_value_per_wafer(model.bill, model.tool_price, TIERS, routes),
        np.array([w.wafer_cost_usd.variable[t.value] for t in TIERS]),
        np.array([w.wafer_cost_usd.recent_share_2019[t.value] for t in TIERS]),
        np.array(["euv" in w.bill_of_tools[t.value] for t in TIERS]), costs.CostRules.of(p))
    # The prices each quarter's wafers were sold at (what buyers paid: model.reporters),
    # kept before the quarter's price update moves `fleet.price`.
    model.wafer_sale_price = model.fleet.price.copy()
    model.origin = origin = parse_quarter(str(w.meta["first_quarter"]))
    model.firms = []
    for spec in w.firms:
        firm = FablessFirm(model, spec.name, spec.country, spec=spec)
        firm.start_quarter = origin
        model.firms.append(firm)
    model.firm_dies_per_wafer = np.array([f.dies_per_wafer for f in model.firms])
    model.foundry_index = {f.name: i for i, f in enumerate(model.foundries)}
    model.firm_index = {f.name: i for i, f in enumerate(model.firms)}
    model.vendor_index = {v.name: i for i, v in enumerate(model.vendors)}
    # Per vendor, its categories (in its output's order, which plans keep) with their
    # seller cells of the tool market (vendor x categories + category, flat).
    model.vendor_cells = [[(c, v * len(TOOL_CATEGORIES) + CATEGORY_INDEX[c]) for c in vendor.output]
                          for v, vendor in enumerate(model.vendors)]
    model.firm_names = [f.name for f in model.firms]
    model.firm_countries = [f.country for f in model.firms]
    model.china = next((g for g in model.governments if g.country == "CN"), None)
    model.recipients = {a.name: a for a in [*model.foundries, *model.vendors]}
    unknown = [name for name in p.champions if name not in model.firm_index]
    if unknown:
        raise ScenarioError(
            f"{model.scenario_spec.path}: field 'champions': unknown firm '{unknown[0]}'; expected "
            "firms of the world: " + ", ".join(f.name for f in model.firms[:20])
        )


def build_graph(model) -> None:
    """Potential supply relations, all active at the start, and the markets over them.

    Wafers: foundry -> firm for every tier the foundry runs (or will) at or behind the
    firm's most advanced demand (so that it can fall back), from every foundry of the
    world, and from the synthetic foundries the firm names as suppliers
    (`model.graph.wafer_relations`). Tools: vendor -> foundry for every category the
    vendor makes that a tier of the foundry uses. Built as arrays: a synthetic world
    has 10^6 relations.
    """
    w = model.world
    tables = world_tables(w)
    tg = TradeGraph()
    for kind, group in (("government", model.governments), ("vendor", model.vendors),
                        ("foundry", model.foundries), ("firm", model.firms)):
        for agent in group:
            tg.add_node(agent.name, kind, agent.country)

    n_tiers, n_foundries, n_firms = len(TIERS), len(model.foundries), len(model.firms)
    streams = DemandStreams.from_specs(w.firms)
    has_tier = np.array([f.has_tier for f in model.foundries]).reshape(n_foundries, n_tiers)
    supplier, buyer, tier = wafer_relations(
        streams.most_advanced_tier(n_firms), has_tier,
        np.array([not spec.synthetic for spec in w.foundries], dtype=bool), _named_synthetic_suppliers(model),
    )
    foundry_names = [f.name for f in model.foundries]
    wafers = EdgeSet("wafers", supplier, buyer, tier, np.full(len(supplier), -1), foundry_names, model.firm_names)

    # Per vendor, its categories in its own order; per (vendor, category) pair, the
    # foundry x tier cells that run a tier using the category, foundry by foundry: one
    # nonzero over the pairs' stacked masks lists them in that order (pair, foundry, tier).
    pair_vendor = np.array([v for v, vendor in enumerate(model.vendors) for _ in vendor.output], dtype=np.int64)
    pair_category = np.array([CATEGORY_INDEX[c] for vendor in model.vendors for c in vendor.output], dtype=np.int64)
    pair, foundry, t = np.nonzero(has_tier[None, :, :] & tables.uses[pair_category][:, None, :])
    sup, buy, tier, cat = (x.astype(np.int64) for x in (pair_vendor[pair], foundry, t, pair_category[pair]))
    sup, buy, tier, cat = (np.concatenate(pair) for pair in zip((sup, buy, tier, cat), tool_buyer_relations(model)))
    tools = EdgeSet("tools", sup, buy, tier, cat, [v.name for v in model.vendors],
                    [a.name for a in model.tool_market_buyers])
    chain, chain_sides = build_chain(model, tg, wafers)
    kinds = {name: kind for name, kind, _ in tg.nodes}
    for buyer in model.tool_buyers:  # one of a memory maker's: its node (the same company)
        if buyer.name not in kinds:
            tg.add_node(buyer.name, "fab", buyer.country)
    tg.set_edges(wafers, tools, *chain)
    model.trade = tg
    # Per-edge names and countries, for rule matching (made on demand).
    model.sides = {"wafers": EdgeSides(wafers, model.foundries, model.firms),
                   "tools": EdgeSides(tools, model.vendors, model.tool_market_buyers), **chain_sides}

    firm_country = np.array([f.country for f in model.firms])
    foundry_country = np.array([f.country for f in model.foundries])
    buyer_country = np.array([a.country for a in model.tool_market_buyers])
    vendor_country = np.array([v.country for v in model.vendors])
    model.firm_is_chinese = firm_country == "CN"
    model.wafer_market = WaferMarket(wafers, n_foundries, foundry_country, firm_country)
    vendor_weight = np.zeros((len(model.vendors), len(TOOL_CATEGORIES)))  # buyers' base preference
    for v, vendor in enumerate(model.vendors):
        for c_name, value in vendor.weight.items():
            vendor_weight[v, CATEGORY_INDEX[c_name]] = value
    unit_price = np.array([model.tool_price[c.value] for c in TOOL_CATEGORIES])
    scale = model.parameters.tool_lead_scale
    lead = np.array([round(w.lead_quarters(c.value) * scale) for c in TOOL_CATEGORIES], dtype=np.int64)
    model.tool_lead = {c.value: int(q) for c, q in zip(TOOL_CATEGORIES, lead)}  # quarters, by category
    model.tool_market = ToolMarket(tools, vendor_weight, vendor_country, buyer_country, unit_price,
                                   len(model.tool_market_buyers), lead)
    # The tool edges whose tools a foundry installs (the rest go to the other fabs).
    model.foundry_tool_edges = tools.buyer < n_foundries

    relations = Relations(
        buyer=wafers.buyer, group=wafers.buyer * n_tiers + wafers.tier,
        seller=model.wafer_market.seller,
        same_country=foundry_country[wafers.supplier] == firm_country[wafers.buyer],
        supplier_country=foundry_country[wafers.supplier], buyer_country=firm_country[wafers.buyer],
        quality=np.array([f.quality for f in model.foundries])[wafers.supplier],
    )
    model.sector = FablessSector(streams, n_firms, relations, _base_preferences(model, wafers, tables), model.origin)
    for j, firm in enumerate(model.firms):
        firm.bind(model.sector.figures, j)


def tool_buyer_relations(model) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The vendor -> fab tool relations of the tool buyers (`world.tool_buyers`):
    (vendor, buyer, tier, category) arrays, an edge per vendor making a category the
    buyer's split names, at the buyer's tier; buyers numbered after the foundries (the
    tool market's order, `model.tool_market_buyers`), in buyer, category, vendor order."""
    rows = [(v, len(model.foundries) + b, TIER_INDEX[buyer.tier], CATEGORY_INDEX[c])
            for b, buyer in enumerate(model.tool_buyers) for c in buyer.shares
            for v, vendor in enumerate(model.vendors) if c in vendor.output]
    return tuple(np.array(col, dtype=np.int64) for col in (zip(*rows) if rows else ((), (), (), ())))


def build_chain(model, tg: TradeGraph, wafers: EdgeSet) -> tuple[list[EdgeSet], dict]:
    """The accelerator chain (`world.memory_makers`, `packagers`, `designers`,
    `accelerators`, `leak_routes`): its agents, nodes, edge sets and markets.

    HBM: an edge per (memory maker, designer, generation its products take).
    Packaging: an edge per (packaging house, designer) the designer names. Leak routes:
    foundry -> shell company -> designer. Returns the edge sets and their `EdgeSides`
    by kind; keeps, per designer, its firm's wafer edges at its die tier. A world
    without these tables has an empty chain."""
    w = model.world
    model.memory_makers = [MemoryMaker(model, m.name, m.country, spec=m) for m in w.memory_makers]
    model.packagers = [Packager(model, p.name, p.country, spec=p) for p in w.packagers]
    # Per packaging house, the row of the foundry whose company revenue counts its own
    # (`PackagerSpec.foundry`; None: a house of its own).
    model.packager_foundry = [model.foundry_index.get(p.foundry) if p.foundry else None for p in w.packagers]
    dates = product_calendar(model)
    model.designers = [
        AcceleratorDesigner(model, d.firm, model.firms[model.firm_index[d.firm]].country, spec=d,
                            products=[p for p in w.accelerators if p.designer == d.firm],
                            dates=[dates[p.name] for p in w.accelerators if p.designer == d.firm],
                            firm_row=model.firm_index[d.firm],
                            dies_per_wafer=model.firms[model.firm_index[d.firm]].dies_per_wafer)
        for d in w.designers
    ]
    model.designer_index = {d.name: i for i, d in enumerate(model.designers)}
    for kind, group in (("memory", model.memory_makers), ("packager", model.packagers), ("shell", w.leak_routes),
                        ("buyer", w.buyers)):
        for agent in group:
            tg.add_node(agent.name, kind, agent.country)
    designer_names = [d.name for d in model.designers]
    triples = [(m, d, g) for m in range(len(model.memory_makers))
               for d, designer in enumerate(model.designers) for g in designer.generations]
    m_, d_, g_ = (np.array(col, dtype=np.int64) for col in (zip(*triples) if triples else ((), (), ())))
    hbm = EdgeSet("hbm", m_, d_, np.zeros(len(m_), dtype=np.int64), g_,
                  [m.name for m in model.memory_makers], designer_names)
    pairs = [(p, d, designer.spec.packagers[packager.name]) for d, designer in enumerate(model.designers)
             for p, packager in enumerate(model.packagers) if designer.spec.packagers.get(packager.name, 0) > 0]
    p_, pd_, weight = (np.array(col) for col in (zip(*pairs) if pairs else ((), (), ())))
    packaging = EdgeSet("packaging", p_.astype(np.int64), pd_.astype(np.int64), np.zeros(len(p_), dtype=np.int64),
                        np.full(len(p_), -1), [p.name for p in model.packagers], designer_names)
    inbound, outbound, opens = leak_edges(w.leak_routes, model.foundry_index, [f.name for f in model.foundries],
                                          model.designer_index, designer_names)
    chinese = np.array([d.country == "CN" for d in model.designers], dtype=bool)
    model.hbm_market = HbmMarket(hbm, len(model.memory_makers), chinese)
    model.packaging_market = PackagingMarket(packaging, weight.astype(float), len(model.packagers), chinese)
    direct = [np.flatnonzero((wafers.supplier == inbound.supplier[r]) & (wafers.tier == inbound.tier[r])
                             & (wafers.buyer == model.firm_index[route.recipient]))
              for r, route in enumerate(w.leak_routes)]  # each route's recipient's own wafer edges
    model.leak_routes = LeakRoutes(inbound, outbound, opens, len(model.designers), wafers, direct)
    shells = list(w.leak_routes)
    sides = {"hbm": EdgeSides(hbm, model.memory_makers, model.designers),
             "packaging": EdgeSides(packaging, model.packagers, model.designers),
             "dies": EdgeSides(inbound, model.foundries, shells),
             "relay": EdgeSides(outbound, shells, model.designers)}
    model.designer_wafer_edges = {d.firm_row: np.flatnonzero((wafers.buyer == d.firm_row) & (wafers.tier == d.die_tier))
                                  for d in model.designers}
    sales = build_buyers(model, chinese)
    sides["accelerators"] = EdgeSides(sales, model.designers, model.buyers)
    return [hbm, packaging, inbound, outbound, sales], sides


def product_calendar(model) -> dict:
    """Each accelerator's dates (`product_dates`); a China part that answers a rule
    (`responds_to`) is made from `design_lag_quarters` after that rule of the scenario
    takes effect, and never where the scenario has none (`answering`)."""
    effective = {r.id: parse_quarter(r.effective) for r in model.scenario_spec.rules}
    lag = round(model.parameters.design_lag_quarters)
    return {p.name: (answering(product_dates(p), effective.get(p.responds_to), lag) if p.responds_to
                     else product_dates(p)) for p in model.world.accelerators}


def build_buyers(model, designer_chinese: np.ndarray) -> EdgeSet:
    """The buyers of accelerators (`world.buyers`) and the accelerator market: an edge
    per (product, buyer that may buy it), each buyer holding its own edges."""
    w = model.world
    products = list(w.accelerators)
    sales = accelerator_edges(products, w.buyers, model.designer_index, [d.name for d in model.designers])
    model.buyers = [ComputeBuyer(model, b.name, b.country, spec=b, edges=np.flatnonzero(sales.buyer == k),
                                 supplier_names=[products[c].designer for c in sales.category[sales.buyer == k]])
                    for k, b in enumerate(w.buyers)]
    model.buyer_index = {b.name: k for k, b in enumerate(model.buyers)}
    ecosystem = {d.firm: d.ecosystem for d in w.designers}
    model.accelerator_market = AcceleratorMarket(
        sales, np.array([model.designer_index[p.designer] for p in products], dtype=np.int64),
        h100e=np.array([p.h100e for p in products]), price=np.array([p.price_usd or 0.0 for p in products]),
        ecosystem=np.array([ecosystem[p.designer] for p in products]),
        buyer_chinese=np.array([b.country == "CN" for b in model.buyers], dtype=bool),
        designer_chinese=designer_chinese)
    # Per designer, its products' indices among the world's (in its own products' order).
    model.designer_products = [np.flatnonzero(model.accelerator_market.product_designer == d)
                               for d in range(len(model.designers))]
    model.rationing = None  # the state's rationing this quarter (`Government.rationing`, model._update_graph)
    return sales


def _named_synthetic_suppliers(model) -> np.ndarray:
    """(firm, foundry) pairs where a firm names a synthetic foundry as a supplier."""
    synthetic = {spec.name for spec in model.world.foundries if spec.synthetic}
    if not synthetic:
        return np.zeros((0, 2), dtype=np.int64)
    pairs = {
        (j, model.foundry_index[name])
        for j, spec in enumerate(model.world.firms)
        for prefs in (spec.suppliers, *(s.suppliers or {} for s in spec.demand))
        for name in prefs if name in synthetic
    }
    return np.array(sorted(pairs), dtype=np.int64).reshape(-1, 2)


def _base_preferences(model, wafers: EdgeSet, tables: WorldTables) -> np.ndarray:
    """Per wafer edge: the firm's base preference weight for that foundry at that tier
    (its streams' suppliers at the tier, merged in stream order, else its default
    suppliers; 0 for a foundry it does not name), times `foundry_preference`. The
    weights by (firm, slot, foundry) code are the world's (`preference_table`)."""
    n_tiers, n_foundries = len(TIERS), len(model.foundries)
    codes, weights, tier_specific = tables.preferences
    slot = np.where(tier_specific[wafers.buyer, wafers.tier], wafers.tier + 1, 0)
    wanted = (wafers.buyer * (n_tiers + 1) + slot) * n_foundries + wafers.supplier
    at = np.minimum(np.searchsorted(codes, wanted), max(len(codes) - 1, 0))
    found = (codes[at] == wanted) if len(codes) else np.zeros(len(wanted), dtype=bool)
    base = np.where(found, weights[at] if len(codes) else 0.0, 0.0)
    preference = model.parameters.foundry_preference
    if preference:
        scale = np.array([preference.get(f.name, 1.0) for f in model.foundries])
        base = base * scale[wafers.supplier]
    return base


def preference_table(world) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The firms' named supplier weights of `world` as sorted codes
    ``(firm * (tiers + 1) + slot) * foundries + foundry`` (slot 0: the firm's default
    suppliers; tier + 1: its streams' suppliers at that tier, merged in stream order)
    with their weights, and per (firm, tier) whether the firm names suppliers for that
    tier (its streams' tables) rather than its defaults. Foundries by their place in
    `world.foundries` (the model's `foundry_index`)."""
    n_tiers, n_foundries = len(TIERS), len(world.foundries)
    foundry_index = {f.name: i for i, f in enumerate(world.foundries)}
    codes, weights, specific = [], [], []
    for j, spec in enumerate(world.firms):  # a Python pass over specs: once per world
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
    tier_specific = np.zeros(len(world.firms) * n_tiers, dtype=bool)
    tier_specific[specific] = True
    tier_specific = tier_specific.reshape(-1, n_tiers)
    codes, weights = np.array(codes, dtype=np.int64), np.array(weights, dtype=float)
    order = np.argsort(codes, kind="stable")
    return codes[order], weights[order], tier_specific


@dataclass(frozen=True)
class WorldTables:
    """What set-up derives from a world alone: its bill of tools by (tier, route) and
    tool prices (`World.bill`, `World.unit_price`), which categories each tier uses
    (categories x tiers, by either route), and the firms' supplier weights
    (`preference_table`). Arrays are read-only: shared by every model on the world."""

    bills: dict
    tool_price: dict
    uses: np.ndarray
    preferences: tuple[np.ndarray, np.ndarray, np.ndarray]


_LAST_TABLES: list = [None, None]  # [world, its WorldTables]


def world_tables(world) -> WorldTables:
    """`WorldTables` of `world`, kept for the last world asked about: a World is frozen
    and shared by the models loaded from one file (`load_world`'s cache), so a sweep
    derives them once; a synthetic world (a new one per model) only replaces them."""
    if _LAST_TABLES[0] is world:
        return _LAST_TABLES[1]
    bills = {(t, r): world.bill(t, r) for t in TIERS for r in ("euv", "duv")}
    uses = np.array([[any(c.value in bills[(t, r)] for r in ("euv", "duv")) for t in TIERS]
                     for c in TOOL_CATEGORIES])
    preferences = preference_table(world)
    for array in (uses, *preferences):
        array.flags.writeable = False
    tables = WorldTables(bills, {c.value: world.unit_price(c.value) for c in TOOL_CATEGORIES}, uses, preferences)
    _LAST_TABLES[:] = [world, tables]
    return tables


def distribute_instruments(model) -> None:
    """Give each government the rules (with those the levers add), directives and
    subsidies it issues; a directive that names no foundry directs the world's tracked one."""
    model.rules = lever_rules(model.scenario_spec.rules, model.parameters)
    by_key = {}
    for g in model.governments:
        by_key[g.name] = g
        by_key[g.country] = g
    model.government_country = {g.name: g.country for g in model.governments}
    for item_list, attr in ((model.rules, "rules"), (model.scenario_spec.directives, "directives"),
                            (model.scenario_spec.subsidies, "subsidies")):
        for item in item_list:
            if isinstance(item, Directive) and item.foundry is None:
                item = item.model_copy(update={"foundry": model.world.tracked.foundry})
            government = by_key.get(item.issuer)
            if government is None:
                raise ScenarioError(
                    f"{model.scenario_spec.path}: field '{attr}' id '{item.id}': issuer "
                    f"'{item.issuer}' is not a government of the world; expected one of " + ", ".join(sorted(by_key))
                )
            getattr(government, attr).append(item)
