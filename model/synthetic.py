"""Synthetic worlds: the default world's actors plus a long tail of generated ones.

`synthetic_world(world, rng, firms=N, foundries=M, vendors=K)` returns a copy of a
loaded `World` with N fabless firms, M foundries and K equipment vendors appended after
the world's own actors (which are kept exactly as they are). The model calls it when the
`synthetic_firms` / `synthetic_foundries` / `synthetic_vendors` parameters are set
(``--set world.synthetic_firms=10000``); it works on any world file.

Every draw comes from the `rng` it is given (the model's), in a fixed order, so a seed
gives the same world; with all three counts 0 nothing is drawn and the world is returned
unchanged. Generated actors are ordinary world entries: the model treats them like the
named ones, except that firms trade with a synthetic foundry only if they name it as a
supplier (`model.world.FoundrySpec.synthetic`), which keeps the number of supply relations
linear in the number of firms.

Sizing keeps the world balanced (all ASSUMPTIONs, open to anyone with better data):
- Synthetic firms together want TAIL_SHARE (15%) on top of the named firms' wafer demand
  of the world's first quarter, split over firms by a heavy-tailed (lognormal, sigma
  1.5) size: a few sizeable designers and many small ones, as in the long tail of the
  fabless industry.
- Synthetic foundries together add TAIL_SHARE of the named foundries' capacity at the
  tiers they run (mature, 28nm, some 14nm: the long tail of foundries is specialty and
  mature-node), split by a lognormal (sigma 1) size.
- Firms pick 1-3 suppliers per demand stream with probability in proportion to each
  foundry's capacity at that tier (three times as likely for a foundry of their own
  country, the rule firms use when they search), so demand lands where capacity is and
  utilisation stays near the named world's.
- Synthetic vendors together add TAIL_SHARE of the named vendors' output (and buyers'
  base preference weight) in each category they make: dry DUV, etch/deposition and
  metrology (immersion and EUV scanners stay with the named lithography vendors).
"""

from __future__ import annotations

import numpy as np

from model.technology import TIER_NAMES, TIERS, Tier, parse_quarter
from model.world import DemandStream, FirmSpec, FoundrySpec, FoundryTier, ToolLine, VendorSpec, World

TAIL_SHARE = 0.15
"""ASSUMPTION: the generated long tail adds 15% to demand, capacity and tool output."""

FIRM_TIER_MIX = {Tier.LEADING: 0.02, Tier.N7: 0.04, Tier.N14: 0.09, Tier.N28: 0.25, Tier.MATURE: 0.60}
"""ASSUMPTION: a long-tail designer's most advanced tier (mostly MCUs, analog, PMICs,
display drivers on mature nodes; few leading-edge designs)."""

FIRM_COUNTRIES = {"US": 0.30, "CN": 0.30, "TW": 0.15, "JP": 0.07, "KR": 0.06, "DE": 0.06,
                  "IL": 0.03, "IN": 0.03}
"""ASSUMPTION: home countries of long-tail fabless firms, loosely after the design
value-chain shares (calibration.csv: value_chain_country_share, Design), with China's
count share larger than its value share (many small designers)."""

FOUNDRY_COUNTRIES = {"CN": 0.35, "TW": 0.20, "US": 0.10, "KR": 0.10, "JP": 0.10,
                     "DE": 0.05, "IL": 0.05, "SG": 0.05}
"""ASSUMPTION: home countries of small and specialty foundries (China's mature-node
build-out makes it the largest group)."""

VENDOR_COUNTRIES = {"US": 0.30, "JP": 0.30, "CN": 0.20, "KR": 0.10, "DE": 0.10}
"""ASSUMPTION: home countries of second-tier equipment vendors."""

VENDOR_CATEGORIES = ("duv_dry", "etch_dep", "metrology")
"""Categories a synthetic vendor may make (ASSUMPTION: no new scanner makers)."""

AI_SHARE = 0.3
"""ASSUMPTION: share of long-tail firms at leading/7nm whose main stream is AI chips."""


def synthetic_world(world: World, rng: np.random.Generator, *, firms: int = 0, foundries: int = 0,
                    vendors: int = 0) -> World:
    """`world` plus `firms` firms, `foundries` foundries and `vendors` vendors.

    Deterministic for a given `rng` state; draws nothing when all counts are 0.
    Names are ``"Synthetic foundry 001"`` etc. (they do not clash with world names).
    """
    if firms == 0 and foundries == 0 and vendors == 0:
        return world
    new_foundries = _foundries(world, rng, foundries) if foundries else []
    new_vendors = _vendors(world, rng, vendors) if vendors else []
    all_foundries = [*world.foundries, *new_foundries]
    new_firms = _firms(world, all_foundries, rng, firms) if firms else []
    return world.model_copy(update={
        "foundries": all_foundries,
        "vendors": [*world.vendors, *new_vendors],
        "firms": [*world.firms, *new_firms],
    })


# ------------------------------------------------------------------------ helpers
def _pick(rng: np.random.Generator, table: dict, size: int) -> np.ndarray:
    keys = list(table)
    p = np.array([table[k] for k in keys], dtype=float)
    return np.array(keys, dtype=object)[rng.choice(len(keys), size=size, p=p / p.sum())]


def _split(total: float, sizes: np.ndarray) -> np.ndarray:
    """`total` split in proportion to `sizes`."""
    return total * sizes / sizes.sum() if sizes.sum() > 0 else np.zeros_like(sizes)


def named_capacity(world: World) -> np.ndarray:
    """The named foundries' capacity per tier in the first quarter (wafers/quarter)."""
    out = np.zeros(len(TIERS))
    for f in world.foundries:
        for tier, spec in f.tiers.items():
            out[Tier(tier).index] += spec.capacity
    return out


def named_demand(world: World) -> float:
    """The named firms' wafer demand in the first quarter (wafers/quarter, all tiers)."""
    first = parse_quarter(str(world.meta["first_quarter"]))
    return float(sum(s.wafers for f in world.firms for s in f.demand
                     if s.start is None or parse_quarter(s.start) <= first))


# ---------------------------------------------------------------------- foundries
def _foundries(world: World, rng: np.random.Generator, n: int) -> list[FoundrySpec]:
    """Specialty/mature foundries: every one runs mature; 45% also 28nm; a third of
    those also 14nm (ASSUMPTION). Capacity per tier: TAIL_SHARE of the named capacity
    at that tier, split by lognormal size."""
    countries = _pick(rng, FOUNDRY_COUNTRIES, n)
    size = rng.lognormal(0.0, 1.0, n)
    runs_28 = rng.random(n) < 0.45
    runs_14 = runs_28 & (rng.random(n) < 1 / 3)
    price_factor = rng.uniform(0.6, 0.9, n)
    capex_ratio = rng.uniform(0.2, 0.5, n)
    quality = rng.uniform(0.85, 0.95, n)
    runs = {Tier.MATURE: np.ones(n, dtype=bool), Tier.N28: runs_28, Tier.N14: runs_14}
    target = TAIL_SHARE * named_capacity(world)
    capacity = {t: _split(target[t.index], np.where(mask, size, 0.0)) for t, mask in runs.items()}
    out = []
    for i in range(n):
        tiers = {t.value: FoundryTier.model_construct(capacity=float(capacity[t][i]), ready=None, route="duv")
                 for t in TIERS if t in runs and runs[t][i]}
        out.append(FoundrySpec.model_construct(
            name=f"Synthetic foundry {i + 1:0{len(str(n))}d}", country=str(countries[i]),
            price_factor=float(price_factor[i]), capex_ratio=float(capex_ratio[i]),
            quality=float(quality[i]), tiers=tiers, synthetic=True,
            source="model.synthetic (generated; see its ASSUMPTIONs)",
        ))
    return out


# ------------------------------------------------------------------------ vendors
def _vendors(world: World, rng: np.random.Generator, n: int) -> list[VendorSpec]:
    """Second-tier tool makers of one or two of VENDOR_CATEGORIES. Technology level:
    foreign vendors 7nm-mature for etch/metrology, Chinese ones 28nm or mature, with
    domestic learning; dry DUV enables mature only (ASSUMPTIONs)."""
    countries = _pick(rng, VENDOR_COUNTRIES, n)
    size = rng.lognormal(0.0, 1.0, n)
    two = rng.random(n) < 0.4
    first = rng.integers(0, len(VENDOR_CATEGORIES), n)
    second = (first + rng.integers(1, len(VENDOR_CATEGORIES), n)) % len(VENDOR_CATEGORIES)
    level_foreign = rng.choice([Tier.N7.value, Tier.N14.value, Tier.N28.value, Tier.MATURE.value], n)
    level_china = rng.choice([Tier.N28.value, Tier.MATURE.value], n)
    makes = {c: (first == k) | (two & (second == k)) for k, c in enumerate(VENDOR_CATEGORIES)}
    output, weight = {}, {}
    for c, mask in makes.items():
        named_output = sum(v.tools[c].output for v in world.vendors if c in v.tools)
        named_weight = sum(v.tools[c].weight for v in world.vendors if c in v.tools)
        output[c] = _split(TAIL_SHARE * named_output, np.where(mask, size, 0.0))
        weight[c] = _split(TAIL_SHARE * named_weight, np.where(mask, size, 0.0))
    out = []
    for i in range(n):
        chinese = countries[i] == "CN"
        tools = {}
        for c, mask in makes.items():
            if mask[i]:
                level = Tier.MATURE.value if c == "duv_dry" else (level_china[i] if chinese else level_foreign[i])
                tools[c] = ToolLine.model_construct(output=float(output[c][i]), level=level,
                                                    weight=float(weight[c][i]))
        out.append(VendorSpec.model_construct(
            name=f"Synthetic vendor {i + 1:0{len(str(n))}d}", country=str(countries[i]), tools=tools,
            learning=0.05 if chinese else 0.0, source="model.synthetic (generated; see its ASSUMPTIONs)",
        ))
    return out


# -------------------------------------------------------------------------- firms
def _firms(world: World, foundries: list[FoundrySpec], rng: np.random.Generator, n: int) -> list[FirmSpec]:
    """Long-tail designers. Each has a main stream at its most advanced tier (60-100%
    of its wafers) and, half of them, a second stream at the mature tier with the rest
    (ASSUMPTION). Growth: 4% a year +- 4% (non-AI; ASSUMPTION, near the named firms'
    mature streams); AI streams 30% (as the named AI streams before 2023)."""
    tier_values = list(FIRM_TIER_MIX)
    p = np.array([FIRM_TIER_MIX[t] for t in tier_values])
    top = np.array([t.index for t in tier_values])[rng.choice(len(tier_values), size=n, p=p / p.sum())]
    countries = _pick(rng, FIRM_COUNTRIES, n)
    size = _split(TAIL_SHARE * named_demand(world), rng.lognormal(0.0, 1.5, n))
    main_share = rng.uniform(0.6, 1.0, n)
    second = (rng.random(n) < 0.5) & (top < Tier.MATURE.index)
    main_share = np.where(second, main_share, 1.0)
    ai = (top <= Tier.N7.index) & (rng.random(n) < AI_SHARE)
    growth = np.clip(rng.normal(0.04, 0.04, (n, 2)), -0.2, 0.3)
    growth[:, 0] = np.where(ai, 0.30, growth[:, 0])
    die_mm2 = rng.uniform(300.0, 800.0, n)

    # Streams: (firm, tier, wafers, growth, ai), main then second.
    s_firm = np.concatenate([np.arange(n), np.flatnonzero(second)])
    s_tier = np.concatenate([top, np.full(int(second.sum()), Tier.MATURE.index)])
    s_wafers = np.concatenate([size * main_share, (size * (1 - main_share))[second]])
    s_growth = np.concatenate([growth[:, 0], growth[second, 1]])
    s_ai = np.concatenate([ai, np.zeros(int(second.sum()), dtype=bool)])
    suppliers, shares = _choose_suppliers(foundries, s_tier, countries[s_firm], rng)

    names = [f.name for f in foundries]
    streams: list[list[DemandStream]] = [[] for _ in range(n)]
    order = np.argsort(s_firm, kind="stable")
    rows = zip(s_firm[order].tolist(), s_tier[order].tolist(), s_wafers[order].tolist(),
               s_growth[order].tolist(), s_ai[order].tolist(), suppliers[order].tolist(),
               shares[order].tolist())
    for firm, tier, wafers, grow, is_ai, picked, share in rows:
        prefs = {names[k]: w for k, w in zip(picked, share) if k >= 0}
        streams[firm].append(DemandStream.model_construct(
            tier=TIER_NAMES[tier], wafers=wafers, growth=grow, ai=is_ai, start=None, suppliers=prefs or None,
        ))
    width = len(str(n))
    return [
        FirmSpec.model_construct(
            name=f"Synthetic firm {j + 1:0{width}d}", country=str(countries[j]),
            suppliers=dict(streams[j][0].suppliers or {}), demand=streams[j],
            ai_die_mm2=float(die_mm2[j]) if ai[j] else 500.0,
            source="model.synthetic (generated; see its ASSUMPTIONs)",
        )
        for j in range(n)
    ]


def _choose_suppliers(foundries: list[FoundrySpec], tier: np.ndarray, country: np.ndarray,
                      rng: np.random.Generator, chunk: int = 20_000) -> tuple[np.ndarray, np.ndarray]:
    """Per stream, 1-3 distinct foundries (index, -1 for none) and preference shares.

    A foundry is drawn with probability in proportion to its first-quarter capacity at
    the stream's tier (or, where no one has capacity yet, at the next older tier among
    those that run it), three times as likely for one of the firm's own country.
    Sampling without replacement by the Gumbel top-k method.
    """
    n_f, n_s = len(foundries), len(tier)
    cap = np.zeros((len(TIERS), n_f))
    runs = np.zeros((len(TIERS), n_f), dtype=bool)
    for i, f in enumerate(foundries):
        for t, spec in f.tiers.items():
            cap[Tier(t).index, i] = spec.capacity
            runs[Tier(t).index, i] = True
    for t in range(len(TIERS) - 1):
        if cap[t].sum() <= 0:
            cap[t] = np.where(runs[t], cap[t + 1], 0.0)
    f_country = np.array([f.country for f in foundries], dtype=object)
    k = rng.choice([1, 2, 3], size=n_s, p=[0.4, 0.35, 0.25])
    weights = rng.exponential(1.0, (n_s, 3))
    picks = np.full((n_s, 3), -1, dtype=np.int64)
    with np.errstate(divide="ignore"):
        log_cap = np.log(cap)
    for lo in range(0, n_s, chunk):
        hi = min(lo + chunk, n_s)
        keys = log_cap[tier[lo:hi]] + np.log(3.0) * (f_country[None, :] == country[lo:hi, None])
        keys = keys + rng.gumbel(size=keys.shape)
        best = np.argsort(-keys, axis=1)[:, :3]
        valid = np.isfinite(np.take_along_axis(keys, best, axis=1))
        picks[lo:hi, :best.shape[1]] = np.where(valid, best, -1)
    picks = np.where(np.arange(3)[None, :] < k[:, None], picks, -1)
    weights = np.where(picks >= 0, weights, 0.0)
    total = weights.sum(axis=1, keepdims=True)
    return picks, np.divide(weights, total, out=np.zeros_like(weights), where=total > 0)
