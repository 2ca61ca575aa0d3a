"""Scenario discovery (`chipstate discover`, experiments/analysis/discovery.py).

- On a real small sweep of the model (64 Latin-hypercube samples of three uncertain
  parameters under state_allocation and historical, real Parquet files), PRIM finds a
  box whose density exceeds the base rate; the outcome recomputed over its own window
  from the kept series equals the stored outcome; the paired (--baseline) outcome is
  the difference of the two sweeps' runs on the same sample and seed.
- Synthetic: when the outcome is high exactly when one parameter is above a value,
  the chosen box restricts that parameter, its lower limit near that value.
- The CLI: bad input (no such folder, unknown outcome, a threshold selecting no or
  every sample, a window the sweep cannot give, a baseline of another design, a bad
  number) gives one line naming the flag, exit code 2; an output of other settings is
  not replaced without --overwrite.
- The shipped directive_discovery sweeps sample the priors' supports, the same design
  under both scenarios.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from experiments.analysis.discovery import Target, choose, discover, run_prim, run_values, sample_table
from experiments.batch.results import load_sweep_results
from experiments.batch.runner import run_sweep
from experiments.batch.sweep import build_sweep, load_sweep
from helpers import chipstate
from model.priors import load_priors

PRIORS = load_priors()
NAMES = ["ai_demand_growth", "accelerator_demand_scale", "memory_tool_drag"]
OUTCOME = "huawei_accelerators_2026_2027"


def small_sweep(scenario: str):
    return build_sweep(
        name=f"discover_{scenario}", scenario=scenario, steps=36,  # 2019Q1-2027Q4
        design={"kind": "lhs", "samples": 64, "seed": 11}, seeds={"replicates": 1, "base": 4},
        parameters=PRIORS.sweep_parameters(NAMES),
        outcomes=[{"name": OUTCOME, "reporter": "huawei_accelerators", "stat": "sum",
                   "start": "2026Q1", "end": "2027Q4", "description": "Huawei's accelerators, 2026-2027 (units)"}],
        series=["huawei_accelerators"],
    )


@pytest.fixture(scope="module")
def sweeps(tmp_path_factory):
    """The small design run by the real model under state_allocation and historical."""
    root = tmp_path_factory.mktemp("discover")
    out = {}
    for scenario in ("state_allocation", "historical"):
        run_sweep(small_sweep(scenario), root / scenario, workers=0, progress=False, load=False)
        out[scenario] = root / scenario
    return out


def _median(path) -> float:
    return float(load_sweep_results(path).ok[OUTCOME].median())


def test_prim_on_a_real_sweep_finds_a_box_denser_than_the_base_rate(sweeps, tmp_path):
    path = sweeps["state_allocation"]
    result = discover(path, Target(OUTCOME, _median(path), "above"), out=tmp_path / "d", priors=PRIORS)
    assert 0.3 < result.base_rate < 0.7
    chosen = result.trajectory.set_index("id").loc[result.chosen]
    assert chosen["density"] > result.base_rate + 0.2
    assert chosen["res_dim"] >= 1 and len(result.box) == chosen["res_dim"]
    for name in ("trajectory", "box", "samples", "figure"):
        assert result.paths[name].is_file() and result.paths[name].stat().st_size > 0
    trajectory = pd.read_csv(result.paths["trajectory"])
    assert trajectory["coverage"].iloc[0] == 1.0
    assert trajectory["density"].iloc[0] == pytest.approx(result.base_rate)
    box = pd.read_csv(result.paths["box"])
    for row in box.itertuples():  # limits inside the sampled range, the prior beside them
        assert row.sweep_low <= row.box_low <= row.box_high <= row.sweep_high
        assert row.prior == PRIORS[row.parameter].describe()
    assert "chosen box" in result.report()


def test_window_recomputes_the_outcome_from_the_kept_series(sweeps):
    results = load_sweep_results(sweeps["state_allocation"])
    stored, _, _ = run_values(results, Target(OUTCOME, 0.0, "above"))
    again, definition, _ = run_values(results, Target(OUTCOME, 0.0, "above", ("2026Q1", "2027Q4")))
    assert np.allclose(stored.sort_values(["sample", "seed"])["value"], again.sort_values(["sample", "seed"])["value"])
    shorter, _, _ = run_values(results, Target(OUTCOME, 0.0, "above", ("2027Q1", "2027Q4")))
    assert (shorter["value"].to_numpy() < again["value"].to_numpy()).all()
    assert "2027Q1-2027Q4" not in definition


def test_baseline_pairs_runs_by_sample_and_seed(sweeps):
    results = load_sweep_results(sweeps["state_allocation"])
    base = load_sweep_results(sweeps["historical"])
    table, about = sample_table(results, Target(OUTCOME, 0.0, "above"), base)
    a = results.ok.set_index("sample")[OUTCOME]
    b = base.ok.set_index("sample")[OUTCOME]
    assert np.allclose(table.set_index("sample")["value"], (a - b).loc[table["sample"]])
    assert "state_allocation - historical" in about["definition"]


def test_synthetic_threshold_on_one_parameter_is_found():
    rng = np.random.default_rng(5)
    x = pd.DataFrame({name: rng.uniform(0, 1, 400) for name in ("a", "b", "c", "d")})
    x["b"] = x["b"] * 4 + 1  # b in [1, 5]
    interest = (x["b"] > 3.4).to_numpy()
    trajectory, lims, init, qp, _ = run_prim(x, interest)
    chosen, reached = choose(trajectory, 0.95)
    assert reached
    row = trajectory.set_index("id").loc[chosen]
    assert row["restricted"].split() == ["b"]
    assert row["density"] >= 0.95 and row["coverage"] >= 0.9
    assert abs(lims[chosen]["b"].iloc[0] - 3.4) < 0.1


def test_choose_falls_back_to_the_densest_box():
    trajectory = pd.DataFrame({"id": [0, 1, 2], "coverage": [1.0, 0.8, 0.5], "density": [0.2, 0.5, 0.6],
                               "res_dim": [0, 1, 2]})
    assert choose(trajectory, 0.9) == (2, False)
    assert choose(trajectory, 0.5) == (1, True)


# ------------------------------------------------------------------------ the CLI
def _one_line_exit_2(result, *needles):
    assert result.returncode == 2, (result.returncode, result.stdout[-500:], result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


def test_cli_bad_input_gives_one_line_and_exit_2(sweeps, tmp_path):
    path = str(sweeps["state_allocation"])
    out = ["--out", str(tmp_path / "never")]
    _one_line_exit_2(chipstate("discover", str(tmp_path / "nowhere"), "--outcome", OUTCOME, "--above", "1", *out),
                     "SWEEP_DIR", "no such folder")
    _one_line_exit_2(chipstate("discover", str(tmp_path), "--outcome", OUTCOME, "--above", "1", *out),
                     "SWEEP_DIR", "not a sweep folder")
    _one_line_exit_2(chipstate("discover", path, "--outcome", "huawei_dies", "--above", "1", *out),
                     "--outcome huawei_dies", OUTCOME)
    _one_line_exit_2(chipstate("discover", path, "--outcome", OUTCOME, "--above", "1e15", *out),
                     "--above", "no sample", "expected a threshold between")
    _one_line_exit_2(chipstate("discover", path, "--outcome", OUTCOME, "--below", "1e15", *out),
                     "--below", "every sample")
    _one_line_exit_2(chipstate("discover", path, "--outcome", OUTCOME, "--above", "lots", *out),
                     "--above", "expected a number")
    _one_line_exit_2(chipstate("discover", path, "--outcome", OUTCOME, "--above", "1", "--window", "2031-2032", *out),
                     "--window", "no recorded quarter")
    _one_line_exit_2(chipstate("discover", path, "--outcome", OUTCOME, "--above", "1", "--baseline",
                               str(tmp_path / "nowhere"), *out), "--baseline", "no such folder")
    assert not (tmp_path / "never").exists()


def test_cli_refuses_a_baseline_of_another_design(sweeps, tmp_path):
    other = build_sweep(**{**small_sweep("historical").model_dump(exclude={"source"}),
                           "design": {"kind": "lhs", "samples": 4, "seed": 12}, "name": "other"})
    run_sweep(other, tmp_path / "other", workers=0, progress=False, load=False)
    _one_line_exit_2(chipstate("discover", str(sweeps["state_allocation"]), "--outcome", OUTCOME, "--above", "1",
                               "--baseline", str(tmp_path / "other"), "--out", str(tmp_path / "never")),
                     "--baseline", "design")


def test_cli_writes_and_does_not_replace_other_settings_unasked(sweeps, tmp_path):
    path = str(sweeps["state_allocation"])
    out = tmp_path / "found"
    threshold = f"{_median(path):.6g}"
    first = chipstate("discover", path, "--outcome", OUTCOME, "--above", threshold, "--out", str(out))
    assert first.returncode == 0, first.stderr
    assert "coverage" in first.stdout and "density" in first.stdout and "chosen box" in first.stdout
    assert (out / "tradeoff.png").is_file()
    before = (out / "trajectory.csv").read_text()
    _one_line_exit_2(chipstate("discover", path, "--outcome", OUTCOME, "--below", threshold, "--out", str(out)),
                     "--out", "--overwrite")
    assert (out / "trajectory.csv").read_text() == before
    again = chipstate("discover", path, "--outcome", OUTCOME, "--below", threshold, "--out", str(out), "--overwrite")
    assert again.returncode == 0, again.stderr
    assert "replaced an earlier discovery of other settings" in again.stdout
    assert (out / "trajectory.csv").read_text() != before


# ------------------------------------------------------------------ the shipped design
def test_shipped_directive_sweeps_sample_the_priors_in_both_scenarios():
    state = load_sweep("directive_discovery")
    historical = load_sweep("directive_discovery_historical")
    assert state.scenario == "state_allocation" and historical.scenario == "historical"
    assert state.design.kind == "lhs"
    ranges = PRIORS.sweep_parameters()
    assert {name: list(spec.range) for name, spec in state.parameters.items()} == \
        {name: spec["range"] for name, spec in ranges.items()}
    for field in ("design", "seeds", "parameters", "outcomes", "series", "steps", "fixed"):
        assert getattr(state, field) == getattr(historical, field), field
    assert "huawei_accelerators_2026_2030" in [o.name for o in state.outcomes]
    assert pd.DataFrame(state.samples()).equals(pd.DataFrame(historical.samples()))



def test_synthetic_categorical_parameter_is_restricted_to_its_category():
    from experiments.analysis.discovery import box_table

    rng = np.random.default_rng(9)
    x = pd.DataFrame({"a": rng.uniform(0, 1, 300),
                      "champions": rng.choice(["Huawei", "Huawei,Cambricon", "Huawei,Cambricon,Baidu Kunlun"], 300)})
    interest = (x["champions"] == "Huawei,Cambricon").to_numpy()
    trajectory, lims, init, qp, _ = run_prim(x, interest)
    chosen, reached = choose(trajectory, 0.95)
    assert reached
    box = box_table(lims[chosen], init, qp[chosen])
    assert list(box["parameter"]) == ["champions"]
    assert box["box_low"].iloc[0] == "Huawei,Cambricon"
    assert box["sweep_low"].iloc[0].split(" | ") == sorted(set(x["champions"]))
