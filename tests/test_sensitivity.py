"""Sensitivity indices from finished sweeps: a parameter the toy ignores gets zero
indices, those it uses do not; grids are refused; the CLI saves and plots the real model's."""

from __future__ import annotations

import pandas as pd
import pytest

from experiments.runner import run_sweep
from experiments.sensitivity import analyse, seed_noise
from experiments.sweep import SweepError
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
    assert set(indices["parameter"]) == {"ai_demand_growth", "price_adjustment", "demand_noise"}
    assert indices["value"].notna().all()
    assert (sweep_dir / "sensitivity" / "indices.png").stat().st_size > 1000
    missing = chipstate("sensitivity", str(tmp_path / "none"), timeout=60)
    assert missing.returncode == 2 and "not a sweep folder" in missing.stderr
