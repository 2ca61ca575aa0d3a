"""Bad scenario, world, parameter and data input fails at load with one line naming
the file (or source), the field and what was expected (issue 10). Library-level: the
CLI's table of bad inputs is tests/test_cli_errors.py's business."""

from __future__ import annotations

import pytest

from experiments.calibration.observed import DataFileError, quarters_of, read_data
from model import ChipMarketModel, ScenarioError, list_scenarios, load_scenario
from model.scenario import (
    check_against_world, fitted_parameters, parse_assignment, parse_assignments, read_toml,
)
from model.technology import gross_dies_per_wafer, parse_quarter
from model.world import DATA_DIR, LARGEST_DIE_MM2, load_world

DEFAULT_WORLD = (DATA_DIR / "default_world.toml").read_text()


def one_line(info, *parts: str) -> str:
    """The error's message, asserted to be one line holding every part."""
    message = str(info.value)
    assert "\n" not in message, message
    for part in parts:
        assert part in message, f"{part!r} not in {message!r}"
    return message


# ------------------------------------------------------------------------ scenarios
RULE = '[[rules]]\nid = "{id}"\nissuer = "US"\nkind = "wafers"\ntargets = ["Huawei"]\nevent = "e"\n'

BAD_SCENARIOS = {
    "end before effective": (RULE.format(id="r") + 'effective = "2020Q3"\nend = "2020Q1"\n', "rules.0.end"),
    "end equal to effective": (RULE.format(id="r") + 'effective = "2020Q3"\nend = "2020Q3"\n', "rules.0.end"),
    "announced after effective": (RULE.format(id="r") + 'effective = "2020Q3"\nannounced = "2021Q1"\n',
                                  "rules.0.effective"),
    "duplicate rule id": (RULE.format(id="r") + 'effective = "2020Q3"\n' + RULE.format(id="r")
                          + 'effective = "2021Q3"\n', "share id 'r'"),
    "tools on a wafers rule": (RULE.format(id="r") + 'effective = "2020Q3"\ntools = ["euv"]\n', "rules.0.tools"),
    "repeated target": (RULE.format(id="r").replace('["Huawei"]', '["Huawei", "Huawei"]')
                        + 'effective = "2020Q3"\n', "rules.0.targets"),
    "directive ending before it starts": (
        '[[directives]]\nid = "d"\neffective = "2025Q4"\nend = "2025Q1"\nevent = "e"\n', "directives.0.end"),
    "duplicate directive id": (
        '[[directives]]\nid = "d"\neffective = "2025Q4"\nevent = "e"\n' * 2, "share id 'd'"),
    "subsidy ending when it starts": (
        '[[subsidies]]\nid = "s"\nissuer = "US"\nrecipients = ["TSMC"]\nusd_m_per_quarter = 1\n'
        'effective = "2023Q1"\nend = "2023Q1"\nevent = "e"\n', "subsidies.0.end"),
    "infinite subsidy": (
        '[[subsidies]]\nid = "s"\nissuer = "US"\nrecipients = ["TSMC"]\nusd_m_per_quarter = inf\n'
        'effective = "2023Q1"\nevent = "e"\n', "subsidies.0.usd_m_per_quarter"),
    "quarter 7": (RULE.format(id="r") + 'effective = "2022Q7"\n', "rules.0.effective"),
    "quarter 0": (RULE.format(id="r") + 'effective = "2022Q0"\n', "rules.0.effective"),
    "infinite half-life": ("[parameters]\nsmic_yield_half_life_wafers = inf\n", "smic_yield_half_life_wafers"),
    "nan preference": ("[parameters]\nfoundry_preference = { TSMC = nan }\n", "foundry_preference.TSMC"),
    "negative preference": ("[parameters]\nfoundry_preference = { TSMC = -1.0 }\n", "foundry_preference.TSMC"),
    "start after end": ('[parameters]\nstart = "2025Q1"\nend = "2024Q4"\n', "field 'end'"),
    "duplicate champion": ('[parameters]\nchampions = ["Huawei", "Huawei"]\n', "champions"),
}


@pytest.mark.parametrize("case", sorted(BAD_SCENARIOS))
def test_bad_scenarios_fail_at_load_in_one_line(tmp_path, case):
    text, field = BAD_SCENARIOS[case]
    path = tmp_path / "bad.toml"
    path.write_text('[scenario]\nname = "bad"\n' + text)
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    one_line(info, str(path), field)


def test_a_child_may_still_replace_a_parents_entry_by_id(tmp_path):
    path = tmp_path / "child.toml"
    path.write_text('[scenario]\nname = "child"\nextends = "historical"\n'
                    + RULE.format(id="us-2019-05-entity-huawei") + 'effective = "2021Q1"\n')
    parent, child = load_scenario("historical"), load_scenario(path)
    assert len(child.rules) == len(parent.rules)
    assert {r.id: r for r in child.rules}["us-2019-05-entity-huawei"].effective == "2021Q1"


@pytest.mark.parametrize("content,expected", [
    (b"\xff\xfe[scenario]\x00\x81", "not UTF-8"),
    (b"x = " + b"[" * 5000 + b"]" * 5000, "nested too deeply"),
])
def test_unreadable_toml_is_one_error_naming_the_file(tmp_path, content, expected):
    path = tmp_path / "odd.toml"
    path.write_bytes(content)
    with pytest.raises(ScenarioError) as info:
        read_toml(path, ScenarioError)
    one_line(info, str(path), expected)
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    one_line(info, str(path), expected)


def test_a_directory_is_not_a_toml_file(tmp_path):
    with pytest.raises(ScenarioError) as info:
        read_toml(tmp_path, ScenarioError)
    one_line(info, str(tmp_path), "cannot be read")


# ---------------------------------------------------------------- partial overrides
def test_a_partial_foundry_preference_keeps_the_fitted_values():
    fitted = fitted_parameters()["foundry_preference"]
    assert set(fitted) >= {"Samsung", "UMC", "GlobalFoundries", "SMIC"}
    merged = load_scenario("historical", {"foundry_preference": {"TSMC": 1.0}}).parameters.foundry_preference
    assert merged == {**fitted, "TSMC": 1.0}
    model = ChipMarketModel(scenario="historical", rng=0, foundry_preference={"SMIC": 0.5})
    assert model.parameters.foundry_preference == {**fitted, "SMIC": 0.5}


def test_a_scenarios_partial_table_merges_into_its_parents(tmp_path):
    path = tmp_path / "child.toml"
    path.write_text('[scenario]\nname = "c"\nextends = "historical"\n'
                    "[parameters.foundry_preference]\nUMC = 2.0\n")
    merged = load_scenario(path).parameters.foundry_preference
    assert merged == {**fitted_parameters()["foundry_preference"], "UMC": 2.0}


def test_set_reaches_one_entry_of_a_table():
    assert parse_assignment("foundry_preference.TSMC=1.2") == ("foundry_preference", {"TSMC": 1.2})
    assert parse_assignment("uncertainties.foundry_preference.Hua Hong=0.9") == (
        "foundry_preference", {"Hua Hong": 0.9})
    assert parse_assignments(["foundry_preference.TSMC=1.2", "foundry_preference.UMC=0.9", "enforcement=0.5"]) == {
        "foundry_preference": {"TSMC": 1.2, "UMC": 0.9}, "enforcement": 0.5}
    with pytest.raises(ScenarioError) as info:
        parse_assignment("reserved_share.x=1")
    one_line(info, "reserved_share", "not a table")


# --------------------------------------------------------------- against the world
AGAINST_WORLD = {
    "unknown target": (RULE.format(id="r").replace("Huawei", "Atlantis Chips") + 'effective = "2020Q3"\n',
                       "rules.0.targets", "Atlantis Chips"),
    "unknown country": (RULE.format(id="r").replace("Huawei", "country:ZZ") + 'effective = "2020Q3"\n',
                        "rules.0.targets", "country:XX with XX one of"),
    "a wafers rule aimed at a foundry": (RULE.format(id="r").replace("Huawei", "TSMC") + 'effective = "2020Q3"\n',
                                         "rules.0.targets", "a firm or a shell of the world"),
    "unknown supplier": (RULE.format(id="r") + 'effective = "2020Q3"\nsuppliers = ["ASML"]\n',
                         "rules.0.suppliers", "a foundry of the world"),
    "unknown issuer": (RULE.format(id="r").replace('"US"', '"Atlantis"') + 'effective = "2020Q3"\n',
                       "rules.0.issuer", "issuer 'Atlantis'"),
    "directive at a firm": ('[[directives]]\nid = "d"\nfoundry = "Huawei"\neffective = "2025Q4"\nevent = "e"\n',
                            "directives.0.foundry", "a foundry of the world"),
    "directive by a government that allocates nothing": (
        '[[directives]]\nid = "d"\nissuer = "US"\neffective = "2025Q4"\nevent = "e"\n',
        "directives.0.issuer", "government of CN"),
    "subsidy to a firm": (
        '[[subsidies]]\nid = "s"\nissuer = "US"\nrecipients = ["Nvidia"]\nusd_m_per_quarter = 1\n'
        'effective = "2023Q1"\nevent = "e"\n', "subsidies.0.recipients", "a foundry or a vendor"),
    "unknown champion": ('[parameters]\nchampions = ["Huawei", "NoSuchFirm"]\n',
                         "field 'champions': unknown firm 'NoSuchFirm'", "firms of the world"),
    "preference for an unknown foundry": ("[parameters]\nfoundry_preference = { TSMCC = 1.2 }\n",
                                          "foundry_preference.TSMCC", "foundries of the world"),
    "start before the world": ('[parameters]\nstart = "2018Q4"\n', "field 'start'", "2019Q1"),
}


@pytest.mark.parametrize("case", sorted(AGAINST_WORLD))
def test_names_and_dates_must_mean_something_in_the_world(tmp_path, case):
    text, field, expected = AGAINST_WORLD[case]
    path = tmp_path / "bad.toml"
    path.write_text('[scenario]\nname = "bad"\n' + text)
    scenario = load_scenario(path)
    with pytest.raises(ScenarioError) as info:
        check_against_world(scenario, load_world())
    one_line(info, str(path), field, expected)


def test_the_model_checks_its_scenario_against_its_world(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text('[scenario]\nname = "bad"\nextends = "historical"\n'
                    + RULE.format(id="r").replace("Huawei", "country:ZZ") + 'effective = "2020Q3"\n')
    with pytest.raises(ScenarioError) as info:
        ChipMarketModel(scenario=path, rng=0)
    one_line(info, str(path), "rules.0.targets")


def test_an_inherited_entry_is_reported_in_the_file_that_wrote_it():
    scenario = load_scenario("state_allocation")
    assert scenario.origin("subsidies", scenario.subsidies[0], "recipients").startswith(
        f"{load_scenario('no_controls').path}: field 'subsidies.0.recipients'")


def test_shipped_scenarios_pass_the_world_check():
    world = load_world()
    for name in list_scenarios():
        check_against_world(load_scenario(name), world)


def test_synthetic_actors_are_valid_targets(tmp_path):
    path = tmp_path / "synthetic.toml"
    path.write_text('[scenario]\nname = "s"\n[parameters]\nsynthetic_foundries = 2\n'
                    + RULE.format(id="r").replace('"wafers"', '"tools"').replace("Huawei", "Synthetic foundry 1")
                    + 'effective = "2020Q3"\n')
    model = ChipMarketModel(scenario=path, rng=0)
    assert "Synthetic foundry 1" in model.foundry_index


# --------------------------------------------------------------------------- worlds
def _edit(old: str, new: str) -> str:
    assert DEFAULT_WORLD.count(old) >= 1, old
    return DEFAULT_WORLD.replace(old, new, 1)


BAD_WORLDS = {
    "no meta": (_edit("[meta]\n", "[metadata]\n"), "meta"),
    "no headroom": (_edit("headroom = 0.08\n", ""), "meta.headroom"),
    "no installation lag": (_edit("installation_lag_quarters = 2\n", ""), "meta.installation_lag_quarters"),
    "bad first quarter": (_edit('first_quarter = "2019Q1"', 'first_quarter = "2019-Q1"'), "meta.first_quarter"),
    "nan headroom": (_edit("headroom = 0.08\n", "headroom = nan\n"), "meta.headroom"),
    "infinite capacity": (_edit("tiers.mature = { capacity = 1900000 }", "tiers.mature = { capacity = inf }"),
                          "foundries.0.tiers.mature.capacity"),
    "negative capacity": (_edit('tiers."28nm" = { capacity = 400000 }', 'tiers."28nm" = { capacity = -1 }'),
                          "foundries.0.tiers.28nm.capacity"),
    "negative weight": (_edit("weight = 1.0 }", "weight = -1.0 }"), "vendors.0.tools.euv.weight"),
    "negative supplier weight": (_edit("suppliers = { TSMC = 0.85, SMIC = 0.15 }",
                                       "suppliers = { TSMC = -0.85, SMIC = 0.15 }"), "firms.0.suppliers.TSMC"),
    "die too large": (_edit("ai_die_mm2 = 665.61", "ai_die_mm2 = 20000"), "firms.0.ai_die_mm2"),
    "duplicate firm": (_edit('name = "Nvidia"', 'name = "Huawei"'), "'Huawei' is used twice"),
    "firm named like a foundry": (_edit('name = "Nvidia"', 'name = "TSMC"'), "'TSMC' is used twice"),
    "duplicate vendor": (_edit('name = "KLA"', 'name = "ASML"'), "'ASML' is used twice"),
    "duplicate government": (_edit('name = "Japan"\ncountry = "JP"', 'name = "Japan"\ncountry = "NL"'),
                             "'NL' is used twice"),
    "firm with no suppliers": (_edit('suppliers = { TSMC = 1.0 }\ndemand = [\n  { tier = "7nm", wafers = 80000',
                                     'suppliers = {}\ndemand = [\n  { tier = "7nm", wafers = 80000'),
                               "firms.3", "no supplier"),
    "unknown supplier": (_edit("suppliers = { TSMC = 0.85, SMIC = 0.15 }", "suppliers = { TSMC = 0.85, SMIK = 0.15 }"),
                         "firms.0.suppliers", "SMIK"),
    "missing reference price": (_edit('"7nm" = 9346\n', ""), "reference_price_usd", "7nm"),
    "missing tool price": (_edit("metrology = 2000\nsource", "source"), "tool_unit_price_usd", "metrology"),
    "missing bill of tools": (_edit('[bill_of_tools."14nm".duv]\nduv_immersion = 3\netch_dep = 4\nmetrology = 2\n', ""),
                              "bill_of_tools", "14nm"),
    "missing yield ceiling": (_edit('"14nm" = 0.88, "28nm" = 0.9, mature = 0.92 }\nduv',
                                    '"14nm" = 0.88, "28nm" = 0.9 }\nduv'), "yields.euv_ceiling", "mature"),
    "a typo in a key": (_edit("headroom = {", "headrom = {"), "foundries.5", "headrom"),
    "not a country code": (_edit('country = "KR"', 'country = "Korea"'), "governments.5.country"),
    "AI dies years before the product": (_edit('{ tier = "7nm", wafers = 206, growth = 0.30, ai = true, start = "2021Q4"',
                                               '{ tier = "7nm", wafers = 100, growth = 0.30, ai = true'),
                                         "demand.2.start", "2019Q1", "2021Q4", "Other Chinese fabless"),
}


@pytest.mark.parametrize("case", sorted(BAD_WORLDS))
def test_bad_worlds_fail_at_load_in_one_line(tmp_path, case):
    text, *expected = BAD_WORLDS[case]
    path = tmp_path / "bad_world.toml"
    path.write_text(text)
    with pytest.raises(ScenarioError) as info:
        load_world(str(path))
    one_line(info, str(path), *expected)


def test_a_world_file_that_is_binary_is_one_error(tmp_path):
    path = tmp_path / "binary_world.toml"
    path.write_bytes(bytes(range(256)))
    with pytest.raises(ScenarioError) as info:
        load_world(str(path))
    one_line(info, str(path), "not UTF-8")


def test_the_largest_die_fits_exactly_once():
    assert gross_dies_per_wafer(LARGEST_DIE_MM2) == pytest.approx(1.0)
    assert gross_dies_per_wafer(LARGEST_DIE_MM2 * 1.01) < 1


def test_the_default_world_reads_by_key_as_the_model_does():
    world = load_world()
    assert world.meta["headroom"] == world.meta.headroom == 0.08
    assert world.yields["euv_ceiling"]["7nm"] == 0.80


# ------------------------------------------------------------------------- quarters
@pytest.mark.parametrize("label", ["2022Q7", "2022Q0", "2022-Q1", "22Q1", "2022q1", ""])
def test_parse_quarter_refuses_what_is_not_a_quarter(label):
    with pytest.raises(ValueError):
        parse_quarter(label)


@pytest.mark.parametrize("label", ["2022Q7", "2022Q0", "2022H3", "2024-13", "2024-00", "2023-02-30"])
def test_validate_places_no_malformed_period(label):
    assert quarters_of(label) is None


# ----------------------------------------------------------------- validate's CSVs
HEADER = "quantity,entity,period,value,unit,source,note\n"


@pytest.mark.parametrize("content,expected", [
    (b"", "empty"),
    (HEADER.encode(), "no usable row"),
    ((HEADER + "share,TSMC,2022Q7,56,%,s,\nshare,TSMC,2023,about half,%,s,\n").encode(), "no usable row"),
    (HEADER.encode() + b"share,TSMC,2023,\xff\xfe,%,s,\n", "not UTF-8"),
    (bytes(range(256)) * 4, "not UTF-8"),
    (b"a,b\n1,2\n", "field 'quantity' is missing"),
])
def test_unusable_data_files_raise_one_error(tmp_path, content, expected):
    path = tmp_path / "data.csv"
    path.write_bytes(content)
    with pytest.raises(DataFileError) as info:
        read_data(path)
    one_line(info, str(path), expected)


def test_one_usable_row_is_enough(tmp_path):
    path = tmp_path / "data.csv"
    path.write_text(HEADER + "foundry_revenue_share,TSMC,2023Q4,61.2,%,s,\n")
    assert len(read_data(path)) == 1
