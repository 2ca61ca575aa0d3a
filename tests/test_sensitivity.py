"""Sensitivity indices from finished sweeps: a parameter the toy ignores gets zero
indices, those it uses do not; grids are refused; the CLI saves and plots the real model's."""

from __future__ import annotations

import pandas as pd
import pytest

from experiments.batch.runner import run_sweep
from experiments.analysis.sensitivity import METHODS, adequacy, analyse, seed_noise, sensitivity
from experiments.batch.sweep import SweepError
from helpers import chipstate
from sweep_helpers import toy_simulator, toy_sweep

PARAMETERS = {"reserved_share": {"range": [0.0, 1.0]}, "ai_demand_growth": {"range": [0.0, 1.0]},
              "price_adjustment": {"range": [0.0, 0.5]}}  # the toy ignores price_adjustment


def indices_of(tmp_path, kind, samples):
    sweep = toy_sweep(name=f"toy_{kind}", design={"kind": kind, "samples": samples, "seed": 3},
                      parameters=PARAMETERS, seeds={"replicates": 2})
    run_sweep(sweep, tmp_path, workers=0, simulator=toy_simulator, progress=False)
    return analyse(tmp_path).set_index(["outcome", "parameter", "index"])["value"]


def test_sobol_separates_used_and_ignored_parameters(tmp_path):
    value = indices_of(tmp_path, "sobol", 16)
    assert value[("dies_end", "price_adjustment", "ST")] == pytest.approx(0.0, abs=1e-9)
    assert value[("dies_end", "reserved_share", "ST")] > 0.1
    assert value[("dies_end", "ai_demand_growth", "ST")] > 0.1
    # fulfil_mean depends on reserved_share only.
    assert value[("fulfil_mean", "ai_demand_growth", "ST")] == pytest.approx(0.0, abs=1e-9)
    assert value[("fulfil_mean", "reserved_share", "ST")] > 0.5


def test_morris_gives_zero_effect_to_an_ignored_parameter(tmp_path):
    value = indices_of(tmp_path, "morris", 6)
    assert value[("dies_end", "price_adjustment", "mu_star")] == pytest.approx(0.0, abs=1e-9)
    assert value[("dies_end", "reserved_share", "mu_star")] > 0.5


def test_seed_noise_is_small_when_parameters_dominate(tmp_path):
    indices_of(tmp_path, "lhs", 20)
    noise = seed_noise(tmp_path).set_index("outcome")
    assert (noise["replicates"] == 2).all()
    assert 0 <= noise.loc["dies_end", "noise_share"] < 0.05


def test_indices_name_their_method_and_confidence(tmp_path):
    indices_of(tmp_path, "sobol", 16)
    table = analyse(tmp_path)
    assert set(table["method"]) == {METHODS["sobol"]} and "Sobol'" in METHODS["sobol"]
    assert set(table["confidence"]) == {"95% bootstrap (SALib, 100 resamples of the design rows)"}


def _warnings(tmp_path, kind, samples):
    sweep = toy_sweep(name=f"toy_{kind}_{samples}", design={"kind": kind, "samples": samples, "seed": 3},
                      parameters=PARAMETERS, seeds={"replicates": 1})
    run_sweep(sweep, tmp_path, workers=0, simulator=toy_simulator, progress=False)
    return sensitivity(tmp_path)


def test_a_too_small_design_is_said_in_words(tmp_path):
    result = _warnings(tmp_path, "sobol", 8)
    text = " ".join(result.warnings)
    assert "N = 8 base samples" in text and "too wide to rank" in text
    assert (tmp_path / "sensitivity" / "warnings.txt").read_text().startswith("The Sobol' design has N = 8")
    assert "WARNING: the sample is too small" in result.report()
    assert "95% bootstrap" in result.report() and METHODS["sobol"] in result.report()


def test_a_big_enough_design_gives_no_warning(tmp_path):
    # The toy's outcomes are smooth in two parameters: 20 Morris trajectories rank them.
    result = _warnings(tmp_path, "morris", 20)
    assert result.warnings == [], result.warnings
    assert (tmp_path / "sensitivity" / "warnings.txt").read_text() == "none\n"
    assert "No adequacy warning" in result.report()


def test_adequacy_criteria_on_made_up_indices():
    def table(rows):
        return pd.DataFrame(rows, columns=["outcome", "parameter", "index", "value", "conf"])

    size = {"kind": "sobol", "rows": 8 * 512, "parameters": 6, "base": 512}
    good = table([("y", "a", "S1", 0.6, 0.03), ("y", "a", "ST", 0.7, 0.04),
                  ("y", "b", "S1", 0.2, 0.02), ("y", "b", "ST", 0.3, 0.03)])
    assert adequacy(good, size) == []
    above_one = table([("y", "a", "S1", 1.3, 0.1), ("y", "a", "ST", 1.2, 0.05)])
    assert any("outside 0-1" in w for w in adequacy(above_one, size))
    negative = table([("y", "a", "S1", -0.3, 0.08)])
    assert any("S1 of a is -0.30" in w for w in adequacy(negative, size))
    # a negative index within its own interval of zero is estimation noise, not a symptom
    assert adequacy(table([("y", "a", "S1", -0.06, 0.07)]), size) == []
    assert any("sum to 1.30" in w for w in adequacy(table([("y", "a", "S1", 0.7, 0.05),
                                                            ("y", "b", "S1", 0.6, 0.05)]), size))
    small = {**size, "base": 32, "rows": 256}
    assert any("N = 32" in w for w in adequacy(good, small))
    noisy = pd.DataFrame({"outcome": ["y"], "noise_share": [0.8]})
    assert any("80% of its variance is seed-to-seed noise" in w for w in adequacy(good, size, noisy))


def test_a_grid_has_no_indices(tmp_path):
    run_sweep(toy_sweep(), tmp_path, workers=0, simulator=toy_simulator, progress=False)
    with pytest.raises(SweepError, match="needs a sobol, morris or lhs design"):
        analyse(tmp_path)


def test_cli_sensitivity_of_a_real_sobol_sweep_saves_and_plots(tmp_path):
    sweep_dir = tmp_path / "sobol"
    ran = chipstate("sweep", "tests/data/tiny_sobol.toml", "--out", str(sweep_dir), "--workers", "2")
    assert ran.returncode == 0, ran.stderr
    result = chipstate("sensitivity", str(sweep_dir))
    assert result.returncode == 0, result.stderr
    indices = pd.read_csv(sweep_dir / "sensitivity" / "indices.csv")
    assert set(indices["index"]) == {"S1", "ST"}
    assert {"method", "confidence"} <= set(indices.columns)
    # the tiny fixture is far too small: the CLI says so in words, and names method and level
    assert "Sobol'" in result.stdout and "95% bootstrap" in result.stdout
    assert "WARNING: the sample is too small" in result.stdout and "N = 4 base samples" in result.stdout
    assert set(indices["parameter"]) == {"ai_demand_growth", "price_adjustment", "demand_noise"}
    assert indices["value"].notna().all()
    assert (sweep_dir / "sensitivity" / "indices.png").stat().st_size > 1000
    missing = chipstate("sensitivity", str(tmp_path / "none"), timeout=60)
    assert missing.returncode == 2 and "not a sweep folder" in missing.stderr


def test_the_shipped_sweeps_are_sized_past_the_size_criteria():
    """The shipped Sobol and LHS sweeps clear the sample-size floors (their interval
    widths were checked on the real model: see the comments at the top of each file)."""
    from experiments.analysis.sensitivity import MIN_LHS_ROWS, MIN_SOBOL_BASE
    from experiments.batch.sweep import load_sweep

    sobol = load_sweep("sobol")
    assert sobol.design.samples >= 8 * MIN_SOBOL_BASE
    lhs = load_sweep("uncertainty_lhs")
    assert lhs.design.samples >= 8 * MIN_LHS_ROWS
    for sweep in (sobol, lhs, load_sweep("allocation_grid")):
        assert "minutes on 2 idle cores" in sweep.description or "seconds on 2 idle cores" in sweep.description
