"""Sweep files and definitions: schema errors, designs, seeds, keys, outcome summaries."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from experiments.batch.runner import outcome_values
from experiments.batch.sweep import SweepError, expand, load_sweep
from sweep_helpers import MINIMAL_SCENARIO, toy_simulator, toy_sweep

GOOD = f"""
[sweep]
name = "demo"
scenario = "{MINIMAL_SCENARIO}"
steps = 8

[design]
kind = "lhs"
samples = 5
seed = 11

[seeds]
replicates = 3
base = 100

[fixed]
demand_noise = 0.01

[parameters.ai_demand_growth]
range = [0.1, 0.9]
group = "uncertainties"

[parameters.champions]
values = [["Huawei"], ["Huawei", "Cambricon"]]

[[outcomes]]
name = "dies_2020"
reporter = "huawei_ai_dies"
stat = "value"
at = "2020Q4"

[series]
keep = ["huawei_ai_dies"]
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "sweep.toml"
    path.write_text(text)
    return path


def test_a_good_file_loads_and_expands_with_common_random_numbers(tmp_path):
    sweep = load_sweep(write(tmp_path, GOOD))
    samples, tasks = expand(sweep)
    assert len(samples) == 5 and len(tasks) == 15
    # Every sample runs with the same seed list, in replicate order.
    for sample in range(5):
        assert [t.seed for t in tasks if t.sample == sample] == [100, 101, 102]
    assert all(0.1 <= v <= 0.9 for v in samples["ai_demand_growth"])
    assert set(samples["champions"]) <= {("Huawei",), ("Huawei", "Cambricon")}
    assert all(t.overrides["demand_noise"] == 0.01 for t in tasks)
    assert len({t.key for t in tasks}) == 15


def test_designs_are_reproducible_from_their_seed(tmp_path):
    a = load_sweep(write(tmp_path, GOOD)).samples()
    b = load_sweep(write(tmp_path, GOOD)).samples()
    pd.testing.assert_frame_equal(a, b)
    c = load_sweep(write(tmp_path, GOOD.replace("seed = 11", "seed = 12"))).samples()
    assert not a["ai_demand_growth"].equals(c["ai_demand_growth"])


@pytest.mark.parametrize("kind, samples, rows", [
    ("sobol", 8, 8 * (2 + 2)),
    ("morris", 3, 3 * (2 + 1)),
    ("lhs", 7, 7),
])
def test_sampled_design_sizes(kind, samples, rows):
    sweep = toy_sweep(design={"kind": kind, "samples": samples, "seed": 1},
                      parameters={"reserved_share": {"range": [0, 1]},
                                  "ai_demand_growth": {"range": [0.1, 0.5]}})
    frame = sweep.samples()
    assert len(frame) == rows
    assert frame.attrs["X"].shape == (rows, 2)
    assert sweep.problem()["names"] == ["reserved_share", "ai_demand_growth"]


def test_grid_is_the_full_factorial_and_ranges_take_levels():
    sweep = toy_sweep(parameters={"reserved_share": {"range": [0.0, 1.0], "levels": 3},
                                  "champions": {"values": [["Huawei"], ["Huawei", "Cambricon"]]}})
    frame = sweep.samples()
    assert len(frame) == 6
    assert sorted(set(frame["reserved_share"])) == [0.0, 0.5, 1.0]


def test_run_keys_change_with_parameters_seed_and_steps():
    _, base = expand(toy_sweep())
    _, other_steps = expand(toy_sweep(steps=9))
    _, other_seeds = expand(toy_sweep(seeds={"replicates": 2, "base": 8}))
    assert {t.key for t in base}.isdisjoint({t.key for t in other_steps})
    # Seeds 8 is shared between the two seed lists: same run, same key.
    shared = {t.key for t in base if t.seed == 8}
    assert shared == {t.key for t in other_seeds if t.seed == 8}
    assert {t.key for t in base if t.seed == 7}.isdisjoint({t.key for t in other_seeds})


@pytest.mark.parametrize("change, field, expected", [
    (("kind = \"lhs\"", "kind = \"lhc\""), "design.kind", "'grid', 'lhs', 'sobol', 'morris' or 'posterior'"),
    (("samples = 5", "samples = 0"), "design.samples", "greater than or equal to 1"),
    (("range = [0.1, 0.9]", "range = [0.9, 0.1]"), "parameters.ai_demand_growth", "low < high"),
    (("range = [0.1, 0.9]", "range = [0.1, 9.0]"), "parameters.ai_demand_growth.range", "less than or equal to 3"),
    (("[parameters.champions]", "[parameters.champion]"), "parameters.champion", "unknown parameter"),
    (("group = \"uncertainties\"", "group = \"levers\""), "parameters.ai_demand_growth.group", "'uncertainties'"),
    (("demand_noise = 0.01", "demand_nois = 0.01"), "fixed.demand_nois", "unknown parameter"),
    (("stat = \"value\"", "stat = \"median\""), "outcomes.0.stat", "'value', 'mean'"),
    (("at = \"2020Q4\"", "at = \"2020Q5\""), "outcomes.0.at", "quarter label"),
    (("at = \"2020Q4\"", "at = \"2027Q4\""), "outcomes.0", "outside the simulated 2019Q1..2020Q4"),
    (("replicates = 3", "replicates = \"3x\""), "seeds.replicates", "valid integer"),
    (("[series]", "[serie]"), "serie", "Extra inputs"),
])
def test_bad_files_give_one_error_naming_file_and_field(tmp_path, change, field, expected):
    path = write(tmp_path, GOOD.replace(*change))
    with pytest.raises(SweepError) as info:
        load_sweep(path)
    message = str(info.value)
    assert str(path) in message
    assert field in message
    assert expected in message
    assert "\n" not in message


def test_sobol_needs_a_power_of_two_and_grids_need_values():
    with pytest.raises(SweepError, match="power of 2"):
        toy_sweep(design={"kind": "sobol", "samples": 6})
    with pytest.raises(SweepError, match="needs 'values', or 'range' with 'levels'"):
        toy_sweep(parameters={"reserved_share": {"range": [0, 1]}})


def test_a_seed_list_excludes_replicates():
    assert toy_sweep(seeds={"values": [5, 3]}).seed_list() == [5, 3]
    with pytest.raises(SweepError, match="field 'seeds'.*not both"):
        toy_sweep(seeds={"values": [5, 3], "replicates": 2})
    with pytest.raises(SweepError, match="seeds must be distinct"):
        toy_sweep(seeds={"values": [5, 5]})


def test_not_toml_and_missing_files(tmp_path):
    with pytest.raises(SweepError, match="not valid TOML"):
        load_sweep(write(tmp_path, "[sweep\nname="))
    with pytest.raises(SweepError, match="no such sweep file"):
        load_sweep("no_such_sweep")


def test_outcome_summaries():
    frame = toy_simulator("x", {}, seed=3, steps=8)
    outcomes = [
        {"name": "v", "reporter": "active_edges", "stat": "value", "at": "2019Q2", "start": None, "end": None},
        {"name": "last", "reporter": "active_edges", "stat": "value", "at": "last", "start": None, "end": None},
        {"name": "s", "reporter": "active_edges", "stat": "sum", "at": None, "start": "2019Q1", "end": "2019Q4"},
        {"name": "m", "reporter": "active_edges", "stat": "mean", "at": None, "start": "2020Q1", "end": None},
        {"name": "gone", "reporter": "active_edges", "stat": "max", "at": None, "start": "2029Q1", "end": None},
        {"name": "absent", "reporter": "active_edges", "stat": "value", "at": "2030Q4", "start": None, "end": None},
    ]
    result = outcome_values(frame, outcomes)
    # Row 0 is 2018Q4 (initial state, active_edges 0); 2019Q1 is row 1.
    assert result["v"] == 2.0
    assert result["last"] == 8.0
    assert result["s"] == 1 + 2 + 3 + 4
    assert result["m"] == np.mean([5, 6, 7, 8])
    assert math.isnan(result["gone"]) and math.isnan(result["absent"])


@pytest.mark.parametrize("changes, field", [
    ({"design": {"kind": "lhs", "samples": 200_000_000}}, "design.samples"),
    ({"design": {"kind": "sobol", "samples": 2 ** 19}}, "design.samples"),  # 2^19 x 4 rows
    ({"design": {"kind": "lhs", "samples": 600_000}, "seeds": {"replicates": 2}}, "seeds.replicates"),
    ({"seeds": {"replicates": 100_000},
      "parameters": {"reserved_share": {"range": [0, 1], "levels": 100}}}, "seeds.replicates"),
    ({"parameters": {"reserved_share": {"range": [0, 1], "levels": 1001},
                     "ai_demand_growth": {"range": [0.1, 0.5], "levels": 1001}}}, "parameters"),
], ids=["lhs-samples", "sobol-rows", "samples-x-replicates", "grid-x-replicates", "grid"])
def test_huge_designs_are_refused_at_load_in_one_line_naming_the_field(changes, field):
    if "parameters" not in changes and changes.get("design", {}).get("kind") != "grid":
        changes = {**changes, "parameters": {"reserved_share": {"range": [0, 1]},
                                              "ai_demand_growth": {"range": [0.1, 0.5]}}}
    with pytest.raises(SweepError) as info:
        toy_sweep(**changes)
    message = str(info.value)
    assert f"field '{field}'" in message and "1,000,000" in message.replace("1000000", "1,000,000")
    assert "\n" not in message


def test_the_largest_design_allowed_is_counted_without_drawing_it():
    sweep = toy_sweep(design={"kind": "sobol", "samples": 2 ** 16}, seeds={"replicates": 3},
                      parameters={"reserved_share": {"range": [0, 1]}, "ai_demand_growth": {"range": [0.1, 0.5]}})
    assert sweep.sample_count() == 2 ** 16 * 4  # N(D+2), 786,432 runs with 3 seeds


# ------------------------------------------------------------ prior marginals
PRIORED = GOOD.replace('seed = 11\n', 'seed = 11\nmarginals = "priors"\n').replace(
    'samples = 5\n', 'samples = 200\n').replace(
    '[parameters.ai_demand_growth]\nrange = [0.1, 0.9]',
    '[parameters.depreciation_life_years]\nrange = [4.0, 7.0]\ngroup = "uncertainties"\n\n'
    '[parameters.packaging_price_scale]\nrange = [0.6, 2.0]\ngroup = "uncertainties"\n\n'
    '[parameters.ai_demand_growth]\nrange = [0.6, 2.2]')


def test_an_lhs_with_prior_marginals_draws_each_prior_once_per_stratum(tmp_path):
    """Each ranged column is the prior's inverse CDF of a Latin hypercube: its prior CDF
    values fall one in each of the n strata, and the column follows the prior's shape
    (a truncated normal piles up near its mean, a log-uniform near its low end)."""
    from scipy import stats

    from model.priors import load_priors

    priors = load_priors()
    sweep = load_sweep(write(tmp_path, PRIORED))
    samples = sweep.samples()
    n = len(samples)
    assert n == 200
    for name in ("depreciation_life_years", "packaging_price_scale", "ai_demand_growth"):
        prior = priors[name]
        values = samples[name].astype(float).to_numpy()
        assert values.min() >= prior.low and values.max() <= prior.high
        strata = np.floor(prior.frozen().cdf(values) * n).clip(0, n - 1).astype(int)
        assert sorted(strata.tolist()) == list(range(n))
        assert stats.kstest(values, prior.frozen().cdf).pvalue > 0.5  # stratified: far closer than random
    life = samples["depreciation_life_years"].astype(float)
    assert ((life - priors["depreciation_life_years"].mean).abs() < 0.5).mean() > 0.3  # not uniform on [4, 7]
    assert (samples["packaging_price_scale"].astype(float) < 1.1).mean() > 0.45  # log-uniform: half below sqrt(1.2)
    # the categorical column is sampled as before
    assert set(map(tuple, samples["champions"])) <= {("Huawei",), ("Huawei", "Cambricon")}
    # reproducible from the design's seed
    assert load_sweep(write(tmp_path, PRIORED)).samples().equals(samples)


@pytest.mark.parametrize("change, expected", [
    (('range = [4.0, 7.0]', 'range = [4.0, 6.0]'), "parameters.depreciation_life_years.range"),
    (('[parameters.ai_demand_growth]\nrange = [0.6, 2.2]', '[parameters.price_adjustment]\nrange = [0.0, 0.9]'),
     "is not the prior's support"),
    (('kind = "lhs"', 'kind = "morris"'), "marginals 'priors' is for an lhs design"),
])
def test_prior_marginals_refuse_a_range_off_the_prior_and_other_designs(tmp_path, change, expected):
    with pytest.raises(SweepError) as error:
        load_sweep(write(tmp_path, PRIORED.replace(*change)))
    assert expected in str(error.value) and "\n" not in str(error.value)


def test_a_uniform_design_keeps_the_definition_it_had_before_marginals(tmp_path):
    """Its hash (the results folder's key) is unchanged, so earlier sweeps resume."""
    assert "marginals" not in load_sweep(write(tmp_path, GOOD)).definition()["design"]
    assert load_sweep(write(tmp_path, PRIORED)).definition()["design"]["marginals"] == "priors"
