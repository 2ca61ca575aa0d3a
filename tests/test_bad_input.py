"""Every bad input gets one line and exit code 2, and nothing is written.

One table: scenario files, world files, sweep files, validate CSVs and CLI flags, as a
user would get them wrong. Each case runs the real `chipstate` command in a fresh
folder and asserts: exit code 2; one line on stderr, naming the file or flag it is
about (`names`); no traceback; and nothing written (the case's folder holds exactly
the files the case put there, unchanged, and no output folder appeared).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from helpers import REPO, chipstate

WORLD = (REPO / "model" / "data" / "default_world.toml").read_text()
TINY_SWEEP = (REPO / "tests" / "data" / "tiny_grid.toml").read_text()
CSV_HEADER = "quantity,entity,period,value,unit,source,note\n"


def _scenario(body: str, name: str = "bad") -> str:
    return f'[scenario]\nname = "{name}"\nextends = "historical"\n{body}'


def _rule(**fields: str) -> str:
    base = {"id": '"x-rule"', "issuer": '"US"', "kind": '"wafers"', "targets": '["Huawei"]',
            "effective": '"2024Q1"', "event": '"test"'}
    base.update(fields)
    return "[[rules]]\n" + "\n".join(f"{k} = {v}" for k, v in base.items() if v is not None) + "\n"


def _world(old: str, new: str, count: int = 1) -> str:
    assert old in WORLD, old
    return WORLD.replace(old, new, count)


def _sweep(old: str, new: str) -> str:
    assert old in TINY_SWEEP, old
    return TINY_SWEEP.replace(old, new, 1)


@dataclass
class Case:
    id: str
    args: list[str]
    files: dict[str, str | bytes] = field(default_factory=dict)
    names: str = ""  # the file or flag the message must name ({tmp} is the case folder)


def _run(*extra: str) -> list[str]:
    return ["run", "--steps", "2", "--out", "{tmp}/out", *extra]


SCENARIO_ARGS = _run("--scenario", "{tmp}/bad.toml")
WORLD_ARGS = _run("--set", "world={tmp}/w.toml")
SWEEP_ARGS = ["sweep", "{tmp}/s.toml", "--out", "{tmp}/out", "--workers", "0"]
VALIDATE_ARGS = ["validate", "--seeds", "1", "--data", "{tmp}/d.csv", "--out", "{tmp}/out"]
FOREIGN = {"foreign/thesis.tex": "my thesis"}
RUN_FOLDER = {"runfolder/.chipstate.json": '{"kind": "run", "settings": "0"}',
              "runfolder/manifest.json": '{"seed": 0, "scenario": "x"}'}

CASES = [
    # ------------------------------------------------------------- CLI flags: run
    Case("run-steps-0", _run("--steps", "0"), names="--steps"),
    Case("run-steps-negative", _run("--steps", "-1"), names="--steps"),
    Case("run-steps-text", _run("--steps", "many"), names="--steps"),
    Case("run-seed-negative", _run("--seed", "-1"), names="--seed"),
    Case("run-seed-text", _run("--seed", "abc"), names="--seed"),
    Case("run-set-no-equals", _run("--set", "reserved_share"), names="--set"),
    Case("run-set-unknown", _run("--set", "nosuch=1"), names="nosuch"),
    Case("run-set-out-of-range", _run("--set", "reserved_share=1.5"), names="reserved_share"),
    Case("run-set-wrong-group", _run("--set", "levers.ai_demand_growth=1"), names="ai_demand_growth"),
    Case("run-set-unknown-champion", _run("--set", "champions=Nobody"), names="champions"),
    Case("run-set-infinite-half-life", _run("--set", "smic_yield_half_life_wafers=inf"),
         names="smic_yield_half_life_wafers"),
    Case("run-set-nan-preference", _run("--set", "foundry_preference={TSMC = nan}"), names="foundry_preference"),
    Case("run-set-negative-preference", _run("--set", "foundry_preference={TSMC = -1.0}"),
         names="foundry_preference"),
    Case("run-set-unknown-foundry-preference", _run("--set", "foundry_preference={Nofab = 1.0}"),
         names="foundry_preference"),
    Case("run-set-start-after-end", _run("--set", "start=2025Q1", "--set", "end=2020Q1"), names="start"),
    Case("run-set-start-before-world", _run("--set", "start=2015Q1"), names="start"),
    Case("run-set-bad-quarter", _run("--set", "servicing_ban_quarter=2026Q7"), names="servicing_ban_quarter"),
    Case("run-set-negative-firms", _run("--set", "synthetic_firms=-1"), names="synthetic_firms"),
    Case("run-set-unknown-world", _run("--set", "world=nosuch"), names="nosuch"),
    Case("run-unknown-scenario", _run("--scenario", "nosuch"), names="nosuch"),
    Case("run-missing-scenario-file", _run("--scenario", "{tmp}/missing.toml"), names="missing.toml"),
    Case("run-out-is-a-file", ["run", "--steps", "1", "--out", "{tmp}/afile"], {"afile": "x"}, names="--out"),
    Case("run-out-foreign-folder", ["run", "--steps", "1", "--out", "{tmp}/foreign"], FOREIGN, names="--out"),
    Case("run-out-parent-of-files", ["run", "--steps", "1", "--out", "{tmp}"], FOREIGN, names="--out"),
    Case("run-out-under-a-file", ["run", "--steps", "1", "--out", "{tmp}/afile/run"], {"afile": "x"},
         names="afile"),
    Case("run-out-unwritable", ["run", "--steps", "1", "--out", "/proc/chipstate-run"], names="/proc"),
    Case("run-unknown-flag", ["run", "--seeds", "3"], names="--seeds"),
    # ---------------------------------------------------------- scenario files
    Case("scenario-not-toml", SCENARIO_ARGS, {"bad.toml": "this is = = not toml"}, names="bad.toml"),
    Case("scenario-binary", SCENARIO_ARGS, {"bad.toml": bytes(range(256))}, names="bad.toml"),
    Case("scenario-latin1", SCENARIO_ARGS, {"bad.toml": '[scenario]\nname = "caf\xe9"\n'.encode("latin-1")},
         names="bad.toml"),
    Case("scenario-deeply-nested", SCENARIO_ARGS, {"bad.toml": "x = " + "[" * 5000 + "]" * 5000 + "\n"},
         names="bad.toml"),
    Case("scenario-is-a-folder", _run("--scenario", "{tmp}/dir.toml"), {"dir.toml/x": "x"}, names="dir.toml"),
    Case("scenario-no-scenario-table", SCENARIO_ARGS, {"bad.toml": "[parameters]\nreserved_share = 0.5\n"},
         names="bad.toml"),
    Case("scenario-unknown-table", SCENARIO_ARGS, {"bad.toml": _scenario("[rulez]\nx = 1\n")}, names="bad.toml"),
    Case("scenario-unknown-parameter", SCENARIO_ARGS,
         {"bad.toml": _scenario("[parameters]\nreserved_shares = 0.5\n")}, names="bad.toml"),
    Case("scenario-parameter-wrong-type", SCENARIO_ARGS,
         {"bad.toml": _scenario('[parameters]\nreserved_share = "half"\n')}, names="bad.toml"),
    Case("scenario-infinite-parameter", SCENARIO_ARGS,
         {"bad.toml": _scenario("[parameters]\nsmic_yield_half_life_wafers = inf\n")}, names="bad.toml"),
    Case("scenario-nan-preference", SCENARIO_ARGS,
         {"bad.toml": _scenario("[parameters]\nfoundry_preference = { SMIC = nan }\n")}, names="bad.toml"),
    Case("scenario-negative-preference", SCENARIO_ARGS,
         {"bad.toml": _scenario("[parameters]\nfoundry_preference = { SMIC = -0.5 }\n")}, names="bad.toml"),
    Case("scenario-negative-price-elasticity", SCENARIO_ARGS,
         {"bad.toml": _scenario("[parameters]\nwafer_price_elasticity = -0.3\n")}, names="bad.toml"),
    Case("scenario-localisation-rate-out-of-range", SCENARIO_ARGS,
         {"bad.toml": _scenario("[parameters]\nlocalisation_rate = 5.0\n")}, names="bad.toml"),
    Case("scenario-extends-unknown", SCENARIO_ARGS,
         {"bad.toml": '[scenario]\nname = "bad"\nextends = "nosuch"\n'}, names="bad.toml"),
    Case("scenario-extends-cycle", SCENARIO_ARGS,
         {"bad.toml": '[scenario]\nname = "bad"\nextends = "other"\n',
          "other.toml": '[scenario]\nname = "other"\nextends = "bad"\n'}, names=".toml"),
    Case("rule-end-before-effective", SCENARIO_ARGS,
         {"bad.toml": _scenario(_rule(end='"2023Q1"'))}, names="bad.toml"),
    Case("rule-end-equals-effective", SCENARIO_ARGS,
         {"bad.toml": _scenario(_rule(end='"2024Q1"'))}, names="bad.toml"),
    Case("rule-announced-after-effective", SCENARIO_ARGS,
         {"bad.toml": _scenario(_rule(announced='"2024Q3"'))}, names="bad.toml"),
    Case("rule-duplicate-ids", SCENARIO_ARGS,
         {"bad.toml": _scenario(_rule() + _rule(targets='["SMIC"]'))}, names="bad.toml"),
    Case("rule-unknown-target", SCENARIO_ARGS,
         {"bad.toml": _scenario(_rule(targets='["Huawel"]'))}, names="bad.toml"),
    Case("rule-unknown-country", SCENARIO_ARGS,
         {"bad.toml": _scenario(_rule(targets='["country:ZZ"]'))}, names="bad.toml"),
    Case("rule-unknown-issuer", SCENARIO_ARGS,
         {"bad.toml": _scenario(_rule(issuer='"ZZ"'))}, names="bad.toml"),
    Case("rule-unknown-supplier", SCENARIO_ARGS,
         {"bad.toml": _scenario(_rule(suppliers='["TSNC"]'))}, names="bad.toml"),
    Case("rule-bad-quarter", SCENARIO_ARGS,
         {"bad.toml": _scenario(_rule(effective='"2024Q5"'))}, names="bad.toml"),
    Case("rule-unknown-kind", SCENARIO_ARGS,
         {"bad.toml": _scenario(_rule(kind='"memes"'))}, names="bad.toml"),
    Case("rule-bad-tier", SCENARIO_ARGS,
         {"bad.toml": _scenario(_rule(tier='"3nm-ish"'))}, names="bad.toml"),
    Case("rule-no-targets", SCENARIO_ARGS,
         {"bad.toml": _scenario(_rule(targets="[]"))}, names="bad.toml"),
    Case("rule-tests-on-a-wafers-rule", SCENARIO_ARGS,
         {"bad.toml": _scenario(_rule(tests="[{ tpp = 4800 }]"))}, names="bad.toml"),
    Case("rule-unknown-product", SCENARIO_ARGS,
         {"bad.toml": _scenario(_rule(kind='"accelerators"', targets='["country:CN"]', products='["H2O"]'))},
         names="bad.toml"),
    Case("rule-licence-fee-above-one", SCENARIO_ARGS,
         {"bad.toml": _scenario(_rule(kind='"accelerators"', targets='["country:CN"]', products='["H20"]',
                                      licence_fee="1.5"))}, names="bad.toml"),
    Case("rule-accelerators-unknown-buyer", SCENARIO_ARGS,
         {"bad.toml": _scenario(_rule(kind='"accelerators"', targets='["Bytedance"]', products='["H20"]'))},
         names="bad.toml"),
    Case("scenario-without-unknown-id", SCENARIO_ARGS,
         {"bad.toml": '[scenario]\nname = "bad"\nextends = "historical"\nwithout = ["us-2025-04-h2o"]\n'},
         names="bad.toml"),
    Case("run-set-unknown-ration-buyer", _run("--set", "ration_buyers=Nobody"), names="ration_buyers"),
    Case("directive-unknown-foundry", SCENARIO_ARGS,
         {"bad.toml": _scenario('[[directives]]\nid = "d"\nfoundry = "SMlC"\neffective = "2026Q1"\nevent = "t"\n')},
         names="bad.toml"),
    Case("directive-end-before-effective", SCENARIO_ARGS,
         {"bad.toml": _scenario('[[directives]]\nid = "d"\neffective = "2026Q1"\nend = "2025Q1"\nevent = "t"\n')},
         names="bad.toml"),
    Case("subsidy-unknown-recipient", SCENARIO_ARGS,
         {"bad.toml": _scenario('[[subsidies]]\nid = "s"\nissuer = "CN"\nrecipients = ["Nobody"]\n'
                                'usd_m_per_quarter = 10.0\neffective = "2024Q1"\nevent = "t"\n')}, names="bad.toml"),
    Case("subsidy-infinite", SCENARIO_ARGS,
         {"bad.toml": _scenario('[[subsidies]]\nid = "s"\nissuer = "CN"\nrecipients = ["SMIC"]\n'
                                'usd_m_per_quarter = inf\neffective = "2024Q1"\nevent = "t"\n')}, names="bad.toml"),
    Case("subsidy-negative", SCENARIO_ARGS,
         {"bad.toml": _scenario('[[subsidies]]\nid = "s"\nissuer = "CN"\nrecipients = ["SMIC"]\n'
                                'usd_m_per_quarter = -5.0\neffective = "2024Q1"\nevent = "t"\n')}, names="bad.toml"),
    # -------------------------------------------------------------- world files
    Case("world-missing-file", _run("--set", "world={tmp}/none.toml"), names="none.toml"),
    Case("world-binary", WORLD_ARGS, {"w.toml": bytes(range(256)) * 4}, names="w.toml"),
    Case("world-infinite-capacity", WORLD_ARGS,
         {"w.toml": _world('tiers."14nm" = { capacity = 280000 }', 'tiers."14nm" = { capacity = inf }')},
         names="w.toml"),
    Case("world-nan-headroom", WORLD_ARGS, {"w.toml": _world("headroom = 0.08", "headroom = nan")}, names="w.toml"),
    Case("world-die-larger-than-wafer", WORLD_ARGS,
         {"w.toml": _world("ai_die_mm2 = 665.61", "ai_die_mm2 = 80000")}, names="w.toml"),
    Case("world-negative-weight", WORLD_ARGS,
         {"w.toml": _world("weight = 0.91", "weight = -0.91")}, names="w.toml"),
    Case("world-duplicate-firm", WORLD_ARGS,
         {"w.toml": _world('name = "Nvidia"', 'name = "Huawei"')}, names="w.toml"),
    Case("world-firm-without-suppliers", WORLD_ARGS,
         {"w.toml": _world("suppliers = { TSMC = 0.85, SMIC = 0.15 }", "suppliers = {}")}, names="w.toml"),
    Case("world-unknown-supplier", WORLD_ARGS,
         {"w.toml": _world("suppliers = { TSMC = 0.85, SMIC = 0.15 }", "suppliers = { TSNC = 1.0 }")},
         names="w.toml"),
    Case("world-no-meta", WORLD_ARGS, {"w.toml": _world("[meta]\n", "[meta_data]\n")}, names="w.toml"),
    Case("world-meta-missing-key", WORLD_ARGS,
         {"w.toml": _world("headroom = 0.08\n", "")}, names="w.toml"),
    Case("world-bad-first-quarter", WORLD_ARGS,
         {"w.toml": _world('first_quarter = "2019Q1"', 'first_quarter = "2019Q9"')}, names="w.toml"),
    Case("world-accelerator-without-price", WORLD_ARGS,
         {"w.toml": _world("price_usd = 12500\n", "")}, names="w.toml"),
    Case("world-buyer-negative-demand", WORLD_ARGS,
         {"w.toml": _world("demand_h100e = 128000", "demand_h100e = -128000")}, names="w.toml"),
    Case("world-duplicate-buyer", WORLD_ARGS,
         {"w.toml": _world('name = "Tencent"\ncountry = "CN"', 'name = "ByteDance"\ncountry = "CN"')},
         names="w.toml"),
    Case("world-missing-price", WORLD_ARGS,
         {"w.toml": _world("leading = 16988\n", "")}, names="w.toml"),
    Case("world-generation-unknown-foundry", WORLD_ARGS,
         {"w.toml": _world('foundries = ["Samsung"]\nready = "2022Q3"', 'foundries = ["Samsnug"]\nready = "2022Q3"')},
         names="w.toml"),
    Case("world-generation-negative-premium", WORLD_ARGS,
         {"w.toml": _world("price_premium = 1.45", "price_premium = -1.45")}, names="w.toml"),
    Case("world-generation-bad-ready", WORLD_ARGS,
         {"w.toml": _world('ready = "2025Q4"\nprice_premium', 'ready = "late 2025"\nprice_premium')}, names="w.toml"),
    Case("world-wafer-cost-missing-tier", WORLD_ARGS,
         {"w.toml": _world('variable = { leading = 3400, ', 'variable = { ')}, names="w.toml"),
    Case("world-wafer-cost-negative", WORLD_ARGS,
         {"w.toml": _world('"28nm" = 1500, mature = 930', '"28nm" = -1500, mature = 930')}, names="w.toml"),
    Case("world-wafer-cost-share-above-one", WORLD_ARGS,
         {"w.toml": _world('recent_share_2019 = { leading = 1.0,', 'recent_share_2019 = { leading = 1.5,')},
         names="w.toml"),
    Case("world-no-wafer-cost-table", WORLD_ARGS,
         {"w.toml": _world("[wafer_cost_usd]\n", "[wafer_costs_usd]\n")}, names="w.toml"),
    Case("run-set-depreciation-life-out-of-range", _run("--set", "depreciation_life_years=0.5"),
         names="depreciation_life_years"),
    Case("world-fractional-lead-time", WORLD_ARGS,
         {"w.toml": _world("euv = 4\nduv_immersion = 3", "euv = 4.5\nduv_immersion = 3")}, names="w.toml"),
    Case("world-missing-lead-time", WORLD_ARGS,
         {"w.toml": _world("metrology = 1\nsource = \"ASSUMPTION (no row", "source = \"ASSUMPTION (no row")},
         names="w.toml"),
    Case("scenario-lead-scale-out-of-range", SCENARIO_ARGS,
         {"bad.toml": _scenario("[parameters]\ntool_lead_scale = 4.0\n")}, names="bad.toml"),
    # -------------------------------------------------------------- sweep files
    Case("sweep-unknown-name", ["sweep", "nosuch", "--out", "{tmp}/out"], names="nosuch"),
    Case("sweep-not-toml", SWEEP_ARGS, {"s.toml": "[sweep\nname="}, names="s.toml"),
    Case("sweep-binary", SWEEP_ARGS, {"s.toml": b"\x00\x01\xff\xfe" * 100}, names="s.toml"),
    Case("sweep-latin1", SWEEP_ARGS, {"s.toml": TINY_SWEEP.replace("tiny_grid", "t\xefny").encode("latin-1")},
         names="s.toml"),
    Case("sweep-deeply-nested", SWEEP_ARGS, {"s.toml": "x = " + "[" * 5000 + "]" * 5000 + "\n"}, names="s.toml"),
    Case("sweep-no-sweep-table", SWEEP_ARGS, {"s.toml": _sweep("[sweep]", "[sweeps]")}, names="s.toml"),
    Case("sweep-unknown-parameter", SWEEP_ARGS,
         {"s.toml": _sweep("[parameters.reserved_share]", "[parameters.reserved_shares]")}, names="s.toml"),
    Case("sweep-value-out-of-range", SWEEP_ARGS,
         {"s.toml": _sweep("values = [0.5, 1.0]", "values = [0.5, 1.5]")}, names="s.toml"),
    Case("sweep-huge-design", SWEEP_ARGS,
         {"s.toml": _sweep('kind = "grid"', 'kind = "lhs"\nsamples = 200000000').replace(
             "values = [0.5, 1.0]", "range = [0.5, 1.0]").replace("values = [0.3, 0.6]", "range = [0.3, 0.6]")},
         names="s.toml"),
    Case("sweep-sobol-not-power-of-2", SWEEP_ARGS,
         {"s.toml": _sweep('kind = "grid"', 'kind = "sobol"\nsamples = 100').replace(
             "values = [0.5, 1.0]", "range = [0.5, 1.0]").replace("values = [0.3, 0.6]", "range = [0.3, 0.6]")},
         names="s.toml"),
    Case("sweep-unknown-reporter", SWEEP_ARGS,
         {"s.toml": _sweep('reporter = "huawei_ai_dies"', 'reporter = "huawei_ai_diez"')}, names="s.toml"),
    Case("sweep-window-outside-run", SWEEP_ARGS,
         {"s.toml": _sweep('end = "2020Q2"', 'end = "2018Q2"').replace('start = "2019Q1"', 'start = "2018Q1"')},
         names="s.toml"),
    Case("sweep-negative-seed", SWEEP_ARGS,
         {"s.toml": _sweep("replicates = 2\nbase = 5", "values = [1, -2]")}, names="s.toml"),
    Case("sweep-steps-0", [*SWEEP_ARGS, "--steps", "0"], {"s.toml": TINY_SWEEP}, names="--steps"),
    Case("sweep-workers-negative", ["sweep", "{tmp}/s.toml", "--out", "{tmp}/out", "--workers", "-2"],
         {"s.toml": TINY_SWEEP}, names="--workers"),
    Case("sweep-out-foreign-folder", ["sweep", "{tmp}/s.toml", "--out", "{tmp}/foreign", "--workers", "0"],
         {"s.toml": TINY_SWEEP, **FOREIGN}, names="--out"),
    Case("sweep-out-run-folder", ["sweep", "{tmp}/s.toml", "--out", "{tmp}/runfolder", "--workers", "0"],
         {"s.toml": TINY_SWEEP, **RUN_FOLDER}, names="--out"),
    Case("sweep-merge-nothing", ["sweep", "{tmp}/s.toml", "--out", "{tmp}/out", "--merge"],
         {"s.toml": TINY_SWEEP}, names="out"),
    # ----------------------------------------------------------- compare flags
    Case("compare-one-replicate", ["compare", "historical", "state_allocation", "--replicates", "1",
                                   "--out", "{tmp}/out"], names="--replicates"),
    Case("compare-unknown-scenario", ["compare", "historical", "nosuch", "--out", "{tmp}/out"], names="nosuch"),
    Case("compare-steps-before-outcomes", ["compare", "historical", "state_allocation", "--steps", "4",
                                           "--out", "{tmp}/out"], names="chipstate compare"),
    Case("compare-steps-0", ["compare", "historical", "state_allocation", "--steps", "0", "--out", "{tmp}/out"],
         names="--steps"),
    Case("compare-workers-negative", ["compare", "historical", "state_allocation", "--workers", "-2",
                                      "--out", "{tmp}/out"], names="--workers"),
    Case("compare-window-malformed", ["compare", "no_controls", "controls_only", "--window", "2020to2030",
                                      "--out", "{tmp}/out"], names="--window"),
    Case("compare-window-reversed", ["compare", "no_controls", "controls_only", "--window", "2030-2020",
                                     "--out", "{tmp}/out"], names="--window"),
    Case("compare-window-bad-quarter", ["compare", "no_controls", "controls_only", "--window", "2020Q5-2030",
                                        "--out", "{tmp}/out"], names="--window"),
    Case("compare-out-foreign-folder", ["compare", "historical", "state_allocation", "--replicates", "2",
                                        "--workers", "0", "--out", "{tmp}/foreign"],
         FOREIGN, names="--out"),
    # ------------------------------------------------------- validate and data
    Case("validate-seeds-0", ["validate", "--seeds", "0", "--out", "{tmp}/out"], names="--seeds"),
    Case("validate-missing-csv", VALIDATE_ARGS, names="d.csv"),
    Case("validate-empty-csv", VALIDATE_ARGS, {"d.csv": ""}, names="d.csv"),
    Case("validate-header-only", VALIDATE_ARGS, {"d.csv": CSV_HEADER}, names="d.csv"),
    Case("validate-no-usable-row", VALIDATE_ARGS,
         {"d.csv": CSV_HEADER + "foundry_revenue_share,TSMC,2022Q7,lots,%,x,\n"}, names="d.csv"),
    Case("validate-missing-column", VALIDATE_ARGS, {"d.csv": "quantity,entity,period\nx,y,2020\n"}, names="d.csv"),
    Case("validate-binary-csv", VALIDATE_ARGS, {"d.csv": bytes(range(256)) * 8}, names="d.csv"),
    Case("validate-out-foreign-folder", ["validate", "--seeds", "1", "--out", "{tmp}/foreign"], FOREIGN,
         names="--out"),
    Case("calibrate-no-evaluations", ["calibrate", "--point", "--max-evaluations", "0", "--dry-run"],
         names="--max-evaluations"),
    Case("calibrate-evaluations-without-point", ["calibrate", "--max-evaluations", "5", "--dry-run"],
         names="--max-evaluations"),
    Case("calibrate-bad-hold-back", ["calibrate", "--hold-back", "2023Q4-2023Q1", "--dry-run"], names="--hold-back"),
    Case("calibrate-tiny-population", ["calibrate", "--population", "5", "--dry-run"], names="--population"),
    Case("calibrate-missing-csv", ["calibrate", "--data", "{tmp}/none.csv", "--dry-run"], names="none.csv"),
    # ------------------------------------------------------ other commands
    Case("sensitivity-not-a-sweep", ["sensitivity", "{tmp}/foreign"], FOREIGN, names="foreign"),
    Case("discover-not-a-sweep", ["discover", "{tmp}/foreign", "--outcome", "x", "--above", "1"], FOREIGN,
         names="SWEEP_DIR"),
    Case("discover-no-folder", ["discover", "{tmp}/none", "--outcome", "x", "--above", "1"], names="SWEEP_DIR"),
    Case("discover-no-side", ["discover", "{tmp}/none", "--outcome", "x"], names="--above"),
    Case("discover-both-sides", ["discover", "{tmp}/none", "--outcome", "x", "--above", "1", "--below", "2"],
         names="--below"),
    Case("discover-threshold-nan", ["discover", "{tmp}/none", "--outcome", "x", "--above", "nan"], names="--above"),
    Case("discover-density-above-1", ["discover", "{tmp}/none", "--outcome", "x", "--above", "1",
                                      "--density", "1.5"], names="--density"),
    Case("discover-bad-window", ["discover", "{tmp}/none", "--outcome", "x", "--above", "1",
                                 "--window", "2030-2026"], names="--window"),
    Case("priors-missing-file", ["priors", "--file", "{tmp}/none.toml"], names="none.toml"),
    Case("priors-bad-bounds", ["priors", "--file", "{tmp}/p.toml"],
         {"p.toml": '[priors.price_floor]\ndistribution = "uniform"\nlow = 0.5\nhigh = 1.5\nsource = "x"\n'},
         names="priors.price_floor"),
    Case("priors-draw-0", ["priors", "--draw", "0"], names="--draw"),
    Case("bench-unknown", ["bench", "nosuch"], names="nosuch"),
    Case("viz-port-0", ["viz", "--port", "0"], names="--port"),
    Case("no-command", [], names="COMMAND"),
    Case("unknown-command", ["fly"], names="fly"),
]


def _snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): (p.read_bytes() if p.is_file() else b"<dir>")
            for p in sorted(root.rglob("*"))}


def test_the_table_is_large_and_ids_unique():
    assert len(CASES) >= 60
    assert len({c.id for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input_one_line_exit_2_nothing_written(case: Case, tmp_path: Path):
    for name, content in case.files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)
    before = _snapshot(tmp_path)
    args = [a.replace("{tmp}", str(tmp_path)) for a in case.args]
    result = chipstate(*args, timeout=240)
    err = result.stderr.strip()
    assert result.returncode == 2, f"exit {result.returncode}; stderr:\n{result.stderr}\nstdout:\n{result.stdout[-800:]}"
    assert "Traceback" not in result.stderr and "Traceback" not in result.stdout
    assert len(err.splitlines()) == 1, f"expected one line, got:\n{result.stderr}"
    assert re.match(r"chipstate( \w+)?: error: ", err), err
    assert case.names.replace("{tmp}", str(tmp_path)) in err, err
    assert _snapshot(tmp_path) == before, "the command wrote or changed files"
