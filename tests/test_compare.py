"""Paired comparisons: the interval arithmetic, the pairing by seed, and the headline questions on the real model (what the 2025
directive adds for Huawei and costs others; what China's purchase guidance costs
Nvidia)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from experiments.analysis.paired import paired_differences, summarise_differences
from experiments.compare import compare
from experiments.batch.runner import run_sweep
from experiments.batch.sweep import build_sweep
from helpers import chipstate
from sweep_helpers import MINIMAL_SCENARIO, toy_simulator


def test_interval_is_the_paired_t_interval():
    rng = np.random.default_rng(0)
    a = rng.normal(10, 2, 12)
    b = a + rng.normal(1.5, 0.5, 12)
    paired = pd.DataFrame({"outcome": "y", "seed": range(12), "a": a, "b": b, "difference": b - a})
    row = summarise_differences(paired).iloc[0]
    low, high = stats.t.interval(0.95, 11, loc=np.mean(b - a), scale=stats.sem(b - a))
    assert row["n"] == 12
    assert row["mean_difference"] == pytest.approx(np.mean(b - a))
    assert (row["ci_low"], row["ci_high"]) == pytest.approx((low, high))
    assert row["mean_a"] == pytest.approx(a.mean()) and row["mean_b"] == pytest.approx(b.mean())
    assert row["relative"] == pytest.approx(np.mean(b - a) / a.mean())


def test_one_pair_has_no_interval():
    paired = pd.DataFrame({"outcome": ["y"], "seed": [1], "a": [1.0], "b": [3.0], "difference": [2.0]})
    row = summarise_differences(paired).iloc[0]
    assert row["mean_difference"] == 2.0 and np.isnan(row["ci_low"]) and np.isnan(row["ci_high"])


def test_pairs_are_matched_by_seed_and_failed_runs_are_left_out(tmp_path):
    sweep = build_sweep(
        name="pairs", scenario=str(MINIMAL_SCENARIO), steps=4, design={"kind": "grid"},
        seeds={"values": [3, 1, 2]},
        parameters={"demand_noise": {"values": [0.0, 0.45]}},  # the toy fails at 0.45
        outcomes=[{"name": "dies", "reporter": "huawei_ai_dies", "stat": "value", "at": "last"}],
    )
    results = run_sweep(sweep, tmp_path, workers=0, simulator=toy_simulator, progress=False)
    # Relabel the samples as two "scenarios" to pair them by seed.
    results.runs["scenario"] = np.where(results.runs["demand_noise"] == 0.0, "A", "B")
    assert paired_differences(results, "A", "B").empty
    results.runs["status"] = "ok"
    results.runs["dies"] = results.runs["dies"].fillna(0.0)
    paired = paired_differences(results, "A", "B")
    assert sorted(paired["seed"]) == [1, 2, 3]
    by_seed = results.runs.set_index(["scenario", "seed"])["dies"]
    for row in paired.itertuples():
        assert row.a == by_seed[("A", row.seed)] and row.b == by_seed[("B", row.seed)]


def test_the_directive_adds_huawei_smic_wafers_and_costs_the_other_chinese_firms(tmp_path):
    # (Its AI dies follow its accelerator demand, net of its die bank, since issue 12:
    # the directive's wafers go to its phones' and AI orders alike.)
    result = compare("historical", "state_allocation", replicates=3, out=tmp_path, workers=2, progress=False)
    table = result.table.set_index("outcome")
    assert (table["n"] == 3).all()
    gain = table.loc["huawei_smic_wafers_2026_2030"]
    assert gain["ci_low"] > 0, result.report()
    cost = table.loc["other_china_fulfilment_2026_2030"]
    assert cost["ci_high"] < 0, result.report()
    # Both scenarios ran on the same three seeds.
    runs = result.results.runs
    assert sorted(runs[runs["scenario"] == "historical"]["seed"]) == sorted(
        runs[runs["scenario"] == "state_allocation"]["seed"]) == [0, 1, 2]
    assert "state_allocation minus historical" in result.report()
    assert result.figure == tmp_path / "forest.png" and result.figure.is_file()
    assert result.units["other_china_fulfilment_2026_2030"] == "fraction, 0-1"


def test_chinas_purchase_guidance_cuts_nvidias_china_revenue(tmp_path):
    # The guidance (2025Q3) stops Chinese buyers ordering Nvidia's parts: Nvidia's China
    # revenue is lower with it (A) than without (B), and Huawei's share higher.
    result = compare("state_allocation", "no_purchase_guidance", replicates=3, out=tmp_path, workers=2,
                     progress=False)
    table = result.table.set_index("outcome")
    assert (table["n"] == 3).all()
    nvidia = table.loc["nvidia_china_revenue_2025_2026"]
    assert nvidia["mean_a"] < nvidia["mean_b"] and nvidia["ci_low"] > 0, result.report()
    assert table.loc["huawei_china_share_2025_2026", "ci_high"] < 0, result.report()
    assert result.units["nvidia_china_revenue_2025_2026"] == "US$ million in total"
    assert result.units["china_compute_2025_2026"] == "H100-equivalents in total"
    # Under either scenario the state rations from 2025Q4: its priority buyers are served
    # better than the other Chinese buyers, seed by seed.
    runs = result.results.ok
    assert (runs["priority_buyers_fulfilment_2026_2027"] > runs["non_priority_buyers_fulfilment_2026_2027"]).all()
    assert runs[[o for o in result.results.outcomes if "fulfilment" in o]].stack().between(0, 1).all()


def test_cli_compare_prints_the_table_and_refuses_an_unknown_scenario(tmp_path):
    result = chipstate("compare", "historical", "state_allocation",
                       "--replicates", "2", "--workers", "0", "--out", str(tmp_path / "cmp"))
    assert result.returncode == 0, result.stderr
    assert "state_allocation minus historical" in result.stdout
    assert "huawei_ai_dies_2026_2030" in result.stdout
    table = pd.read_csv(tmp_path / "cmp" / "comparison.csv")
    assert list(table["n"].unique()) == [2]
    # the forest plot of the paired differences, and units in the printed table
    assert (tmp_path / "cmp" / "forest.png").stat().st_size > 10_000
    assert "forest.png" in result.stdout
    dies = next(line for line in result.stdout.splitlines() if line.strip().startswith("huawei_ai_dies_2026_2030"))
    assert "dies in total" in dies and "e+" not in dies  # one number format, never scientific
    for outcome in ("china_compute_2025_2026", "huawei_china_share_2025_2026", "nvidia_china_revenue_2025_2026",
                    "priority_buyers_fulfilment_2026_2027", "non_priority_buyers_fulfilment_2026_2027"):
        assert outcome in set(table["outcome"]), outcome
    bad = chipstate("compare", "historical", "no_such_scenario", "--replicates", "2",
                    "--out", str(tmp_path / "bad"), timeout=120)
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1
    assert "no_such_scenario" in bad.stderr and "Traceback" not in bad.stderr
