"""Scenario files, parameters and the errors a user sees for bad input."""

from __future__ import annotations

import inspect

import mesa
import pytest

from helpers import chipstate
from model import ChipMarketModel, ScenarioError, list_scenarios, load_scenario

SHIPPED = ["buildout_only", "controls_only", "escalation", "hbm_sealed", "historical", "leaky", "no_controls",
           "no_die_bank", "no_h20_licence", "no_purchase_guidance", "retaliation", "state_allocation"]


def test_shipped_scenarios_load_and_differ():
    assert list_scenarios() == SHIPPED
    loaded = {name: load_scenario(name) for name in SHIPPED}
    assert not loaded["no_controls"].rules
    assert len(loaded["historical"].rules) >= 10
    assert not loaded["historical"].directives
    assert [d.foundry for d in loaded["state_allocation"].directives] == ["SMIC"]
    assert loaded["escalation"].parameters.allies_aligned
    assert loaded["leaky"].parameters.enforcement < 1
    # 'buyers stockpile harder': above the fitted value every other scenario starts from
    assert loaded["leaky"].parameters.stockpile_factor > loaded["state_allocation"].parameters.stockpile_factor
    assert any(r.kind == "minerals" for r in loaded["retaliation"].rules)
    # The two accelerator counterfactuals: the HBM rule unannounced and earlier; the
    # shell company's route cut from 2023.
    sealed = {r.id: r for r in loaded["hbm_sealed"].rules}["us-2024-12-hbm"]
    actual = {r.id: r for r in loaded["historical"].rules}["us-2024-12-hbm"]
    assert sealed.announced is None and sealed.effective < actual.effective and actual.announced is not None
    closed = {r.id: r for r in loaded["no_die_bank"].rules}["counterfactual-2023-shell-closed"]
    assert closed.kind == "wafers" and closed.effective == "2023Q1" and closed.suppliers == ("TSMC",)
    # The AI-chip market's counterfactuals: the default timeline without the April 2025
    # H20 licence requirement (and the August fee), or without China's guidance.
    default = {r.id for r in loaded["state_allocation"].rules}
    assert default - {r.id for r in loaded["no_h20_licence"].rules} == {"us-2025-04-h20-licence",
                                                                          "us-2025-08-h20-licence-fee"}
    assert default - {r.id for r in loaded["no_purchase_guidance"].rules} == {"cn-2025-09-purchase-guidance"}
    # The who-gains pair (issue 14; tests/test_who_gains.py checks the split in full).
    assert {s.id for s in loaded["controls_only"].subsidies} == {s.id for s in loaded["no_controls"].subsidies}
    assert {r.issuer for r in loaded["buildout_only"].rules} == {"China"}


def test_every_historical_rule_cites_a_timeline_event():
    for rule in load_scenario("historical").rules:
        assert rule.event and rule.event[:4].isdigit() or "Reuters" in rule.event


def test_default_scenario_is_state_allocation():
    assert ChipMarketModel(rng=0).scenario_spec.name == "state_allocation"


def test_keyword_overrides_apply_and_unknown_names_raise_at_once():
    model = ChipMarketModel(scenario="historical", rng=0, reserved_share=0.3, champions="Huawei,Cambricon")
    assert model.parameters.reserved_share == 0.3
    assert model.parameters.champions == ("Huawei", "Cambricon")
    with pytest.raises(ScenarioError, match="unknown parameter 'reserverd_share'"):
        ChipMarketModel(rng=0, reserverd_share=0.3)
    with pytest.raises(ScenarioError, match="reserved_share"):
        ChipMarketModel(rng=0, reserved_share=1.5)
    with pytest.raises(ScenarioError, match="field 'champions': unknown firm 'NoSuchFirm'"):
        ChipMarketModel(rng=0, champions="Huawei, NoSuchFirm")


BAD_FILES = {
    "not toml": ("[scenario\nname=", "not valid TOML"),
    "unknown field": ('[scenario]\nname = "x"\ncolour = "red"\n', "scenario.colour"),
    "bad value": ('[scenario]\nname = "x"\n[parameters]\nreserved_share = "lots"\n', "reserved_share"),
    "unknown parameter": ('[scenario]\nname = "x"\n[parameters]\nreserve = 0.5\n', "unknown parameter 'reserve'"),
    "bad quarter": (
        '[scenario]\nname = "x"\n[[rules]]\nid = "r"\nissuer = "US"\nkind = "wafers"\n'
        'targets = ["Huawei"]\neffective = "2020-Q3"\nevent = "e"\n',
        "rules.0.effective",
    ),
    "bad kind": (
        '[scenario]\nname = "x"\n[[rules]]\nid = "r"\nissuer = "US"\nkind = "sanctions"\n'
        'targets = ["Huawei"]\neffective = "2020Q3"\nevent = "e"\n',
        "rules.0.kind",
    ),
    "missing parent": ('[scenario]\nname = "x"\nextends = "nowhere"\n', "scenario.extends"),
}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_bad_scenario_files_name_file_and_field(tmp_path, case):
    text, expected = BAD_FILES[case]
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    message = str(info.value)
    assert str(path) in message and expected in message


def test_cli_reports_a_bad_file_in_one_line_and_exits_nonzero(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text('[scenario]\nname = "x"\n[parameters]\nreserved_share = 2.0\n')
    out = tmp_path / "out"
    result = chipstate("run", "--scenario", str(path), "--out", str(out))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr
    assert str(path) in lines[0] and "reserved_share" in lines[0]
    assert not out.exists(), "no half-written result"


@pytest.mark.parametrize("setting,expected", [
    ("reserved_share=abc", "reserved_share"),
    ("levers.synthetic_firms=10", "group 'world'"),
    ("nonsense", "expected key=value"),
])
def test_cli_rejects_bad_set_values(setting, expected):
    result = chipstate("run", "--set", setting)
    assert result.returncode == 2 and expected in result.stderr and "Traceback" not in result.stderr


def test_unknown_issuer_is_reported(tmp_path):
    path = tmp_path / "issuer.toml"
    path.write_text(
        '[scenario]\nname = "x"\n[[rules]]\nid = "r"\nissuer = "Atlantis"\nkind = "wafers"\n'
        'targets = ["Huawei"]\neffective = "2020Q3"\nevent = "e"\n'
    )
    with pytest.raises(ScenarioError, match="issuer 'Atlantis'"):
        ChipMarketModel(scenario=path, rng=0)


def test_mesa_batch_run_works_on_the_model():
    seeds = [1, 2]
    parameters = {"scenario": "historical", "reserved_share": [0.2, 0.9]}
    if "rng" in inspect.signature(mesa.batch_run).parameters:  # Mesa 3.4+: seeds as rng=
        extra = {"rng": seeds}
    else:                                                       # Mesa 3.3.1: a parameter
        parameters["rng"], extra = seeds, {}
    results = mesa.batch_run(ChipMarketModel, parameters, max_steps=4,
                             number_processes=1, data_collection_period=1,
                             display_progress=False, **extra)
    # Four runs, each collected at steps 0 (the initial state) to 4 (Mesa 3.4+ repeats
    # a step's model row once per agent: agent-type reporters).
    assert len({(r["RunId"], r["Step"]) for r in results}) == 4 * 5
    assert {r["Step"] for r in results} == set(range(5))
    assert {(r["reserved_share"], r["rng"]) for r in results} == {(s, n) for s in (0.2, 0.9) for n in seeds}
    assert all("huawei_fulfilment" in r for r in results)
