"""The priors (model/data/priors.toml) cover every uncertain parameter, lie inside the
fields' bounds, contain the defaults, draw reproducibly, and a bad file is refused.

- Completeness compares with whatever `Parameters` defines now: a parameter added to
  the `uncertainties` group without a prior fails here, and so does every per-foundry
  multiplier `chipstate calibrate` fits (its FREE list) without one.
- Each prior's support lies within the field's ge/gt/le/lt and holds the code's default
  and the fitted value (model/data/fitted_parameters.toml); a default of None (a what-if
  that is off) is held when the support reaches beyond the default run's last year.
- Draws: the same seed gives the same draws, another seed others; each parameter's
  column does not depend on which others are drawn; every draw lies in the support,
  and a row of draws is a valid set of model overrides.
- Bad files: one line naming the file and the field, and exit code 2 through the CLI.
"""

from __future__ import annotations

import numpy as np
import pytest

from helpers import chipstate
from model.priors import PRIORS_FILE, PriorsError, field_bounds, load_priors, uncertain_fields
from model.scenario import FITTED_FILE, Parameters, load_scenario, parameter_groups, read_toml

PRIORS = load_priors()
GOOD = PRIORS_FILE.read_text()


def test_every_uncertain_parameter_has_a_prior():
    assert PRIORS.missing() == [], f"no prior in {PRIORS_FILE} for: {PRIORS.missing()}"
    covered = {name.split(".", 1)[0] for name in PRIORS.names}
    assert set(uncertain_fields()) <= covered
    # and nothing but uncertainties (levers and the world are not uncertain)
    groups = parameter_groups()
    assert all(groups[name.split(".", 1)[0]] == "uncertainties" for name in PRIORS.names)


def test_every_fitted_foundry_multiplier_has_a_prior():
    from experiments.calibration.calibrate import FREE

    fitted = [f"foundry_preference.{spec.foundry}" for spec in FREE if spec.foundry]
    assert fitted, "calibrate fits foundry multipliers; the test must see them"
    assert [name for name in fitted if name not in PRIORS] == []


def _defaults() -> dict[str, list]:
    """Name -> the values a prior must hold: the code's default and the fitted value."""
    fitted = read_toml(FITTED_FILE, ValueError).get("parameters", {})
    out: dict[str, list] = {}
    for name in PRIORS.names:
        base, _, key = name.partition(".")
        field = Parameters.model_fields[base]
        if key:
            values = [1.0]  # a missing multiplier is 1
            if key in fitted.get(base, {}):
                values.append(fitted[base][key])
        else:
            values = [field.default]
            if base in fitted:
                values.append(fitted[base])
        out[name] = values
    return out


@pytest.mark.parametrize("name", PRIORS.names)
def test_prior_lies_in_the_field_bounds_and_holds_the_default(name):
    prior = PRIORS[name]
    lower, upper, strict_lower, strict_upper = field_bounds(name.split(".", 1)[0])
    if lower is not None:
        assert prior.low > lower if strict_lower else prior.low >= lower
    if upper is not None:
        assert prior.high < upper if strict_upper else prior.high <= upper
    last_year = int(Parameters().end[:4])
    for value in _defaults()[name]:
        if value is None:  # a what-if that is off: any year after the run's end
            assert prior.high > last_year + 1, f"{name}: the prior never leaves the what-if off"
        else:
            assert prior.low <= value <= prior.high, f"{name}: default or fitted {value} outside the prior"
    assert prior.source.strip() and ("ASSUMPTION" in prior.source or ".csv" in prior.source)


def test_draws_are_reproducible_and_independent_of_the_others_drawn():
    a = PRIORS.draw(50, seed=7)
    b = PRIORS.draw(50, seed=7)
    assert a.equals(b)
    c = PRIORS.draw(50, seed=8)
    assert not np.allclose(a.to_numpy(), c.to_numpy())
    alone = PRIORS.draw(50, seed=7, names=["fee_pass_through"])
    assert np.array_equal(alone["fee_pass_through"], a["fee_pass_through"])
    for name in PRIORS.names:
        column = a[name].to_numpy()
        assert (column >= PRIORS[name].low).all() and (column <= PRIORS[name].high).all()
        assert column.std() > 0


def test_draws_follow_their_distributions():
    draws = PRIORS.draw(4000, seed=1)
    for name in ("ai_demand_growth", "smic_yield_half_life_wafers", "depreciation_life_years", "fee_pass_through"):
        prior = PRIORS[name].frozen()
        assert draws[name].mean() == pytest.approx(prior.mean(), rel=0.03)
    # log-uniform: the log is uniform, so the median is the geometric mean of the ends
    low, high = PRIORS.ranges(["smic_yield_half_life_wafers"])["smic_yield_half_life_wafers"]
    assert draws["smic_yield_half_life_wafers"].median() == pytest.approx(np.sqrt(low * high), rel=0.05)


def test_a_row_of_draws_is_a_valid_scenario():
    scenario = load_scenario("state_allocation")
    for row in PRIORS.draw(3, seed=3).to_dict("records"):
        overrides = PRIORS.overrides(row)
        assert set(overrides["foundry_preference"]) == {"Samsung", "UMC", "GlobalFoundries", "SMIC"}
        params = scenario.with_overrides(overrides, "draw").parameters
        assert params.ai_demand_growth == pytest.approx(row["ai_demand_growth"])


def test_sweep_parameters_are_the_supports():
    tables = PRIORS.sweep_parameters()
    assert "foundry_preference.SMIC" not in tables
    assert tables["install_rate"] == {"range": [0.03, 0.12], "group": "uncertainties"}
    with pytest.raises(PriorsError, match="foundry_preference.SMIC"):
        PRIORS.sweep_parameters(["foundry_preference.SMIC"])


BAD = [
    ("unknown name", GOOD.replace("[priors.ai_growth_fade]", "[priors.ai_growth_fad]"),
     "priors.ai_growth_fad", "unknown parameter"),
    ("a lever", GOOD + '\n[priors.reserved_share]\ndistribution = "uniform"\nlow = 0.1\nhigh = 0.9\nsource = "x"\n',
     "priors.reserved_share", "group 'levers'"),
    ("low above high", GOOD.replace("low = 0.2\nhigh = 0.6", "low = 0.6\nhigh = 0.2", 1),
     "priors.ai_growth_fade", "low < high"),
    ("outside the field's ge", GOOD.replace("low = 0.05\nhigh = 0.4", "low = -0.1\nhigh = 0.4", 1),
     "priors.price_adjustment", "low >= 0"),
    ("outside the field's le", GOOD.replace("low = 0.0\nhigh = 1.0\nsource = \"ASSUMPTION: domestic",
                                            "low = 0.0\nhigh = 1.5\nsource = \"ASSUMPTION: domestic", 1),
     "priors.memory_tool_drag", "high <= 1"),
    ("outside a strict gt", GOOD.replace('distribution = "loguniform"\nlow = 100000.0',
                                         'distribution = "uniform"\nlow = 0.0', 1),
     "priors.smic_yield_half_life_wafers", "low > 0"),
    ("missing parameter", GOOD.replace("mean = 5.0\n", "", 1), "priors.depreciation_life_years", "needs 'mean'"),
    ("typo in a key", GOOD.replace("high = 2.2\n", "hihg = 2.2\n", 1), "priors.ai_demand_growth", "hihg"),
    ("unknown foundry", GOOD.replace('[priors."foundry_preference.UMC"]', '[priors."foundry_preference.UMX"]'),
     "foundry_preference.UMX", "unknown foundry"),
    ("bad distribution", GOOD.replace('distribution = "beta"', 'distribution = "gamma"'),
     "priors.fee_pass_through", "distribution"),
    ("not TOML", "[priors\n", "", "not valid TOML"),
]


@pytest.mark.parametrize("case, text, field, problem", BAD, ids=[b[0] for b in BAD])
def test_bad_file_is_refused_on_one_line(tmp_path, case, text, field, problem):
    assert text != GOOD
    path = tmp_path / "priors.toml"
    path.write_text(text)
    with pytest.raises(PriorsError) as info:
        load_priors(path)
    message = str(info.value)
    assert "\n" not in message and message.startswith(str(path))
    assert field in message and problem in message, message


def test_bad_file_through_the_cli_exits_2_with_one_line(tmp_path):
    path = tmp_path / "priors.toml"
    path.write_text(GOOD.replace("low = 0.2\nhigh = 0.6", "low = 0.6\nhigh = 0.2", 1))
    result = chipstate("priors", "--file", str(path))
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "priors.ai_growth_fade" in lines[0] and str(path) in lines[0], result.stderr
    assert "Traceback" not in result.stderr


def test_cli_lists_the_priors_and_draws_without_replacing_a_file(tmp_path):
    out = tmp_path / "draws.csv"
    result = chipstate("priors", "--draw", "5", "--seed", "2", "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert "install_rate" in result.stdout and "no prior for" not in result.stdout
    first = out.read_text()
    assert len(first.strip().splitlines()) == 6
    again = chipstate("priors", "--draw", "5", "--seed", "3", "--out", str(out))
    assert again.returncode == 2 and "--overwrite" in again.stderr
    assert out.read_text() == first
    assert chipstate("priors", "--draw", "5", "--seed", "3", "--out", str(out), "--overwrite").returncode == 0
    assert out.read_text() != first

