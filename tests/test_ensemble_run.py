"""`chipstate run --ensemble` and `chipstate compare --ensemble`: a scenario over N
posterior draws x K seeds (issue 15), on tiny ensembles written into tmp_path."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from experiments.ensemble import HEADLINE, run_ensemble
from helpers import chipstate
from experiments.posterior import load_posterior, posterior_frame
from model.priors import load_priors


@pytest.fixture(scope="module")
def posterior(tmp_path_factory):
    """A real ensemble of 12 equally weighted draws from the priors, as calibrate writes one."""
    path = tmp_path_factory.mktemp("posterior") / "posterior.csv"
    draws = load_priors().draw(12, 3)
    posterior_frame(draws, np.ones(len(draws))).to_csv(path, index=False)
    return path


def _ensemble_run(posterior, out, *extra):
    return chipstate("run", "--scenario", "historical", "--ensemble", "3", "--replicates", "2", "--seed", "4",
                     "--steps", "8", "--posterior", str(posterior), "--out", str(out), *extra)


def test_run_ensemble_writes_runs_draws_bands_figure_and_manifest(posterior, tmp_path):
    out = tmp_path / "ens"
    result = _ensemble_run(posterior, out, "--workers", "2")
    assert result.returncode == 0, result.stderr
    assert "median and 90% band" in result.stdout and str(out) in result.stdout
    assert {p.name for p in out.iterdir()} >= {"ensemble.parquet", "draws.parquet", "bands.csv", "figure.png",
                                               "manifest.json", ".chipstate.json"}
    runs = pd.read_parquet(out / "ensemble.parquet")
    assert set(HEADLINE) <= set(runs.columns)
    assert (runs["status"] == "ok").all()
    # 3 draws x 2 seeds (4, 5), each the initial state and 8 quarters
    assert runs.groupby(["draw", "seed"]).size().to_dict() == {(d, s): 9 for d in range(3) for s in (4, 5)}
    assert runs["quarter"].iloc[-1] == "2020Q4"
    draws = pd.read_parquet(out / "draws.parquet")
    assert list(draws["draw"]) == [0, 1, 2] and "ai_demand_growth" in draws
    ensemble = load_posterior(posterior)
    assert list(draws["posterior_row"]) == ensemble.sample(3, 4)  # --seed picks the draws too
    picked = ensemble.draws.iloc[draws["posterior_row"]].reset_index(drop=True)
    assert np.allclose(draws["ai_demand_growth"], picked["ai_demand_growth"])
    bands = pd.read_csv(out / "bands.csv")
    assert set(bands["column"]) == set(HEADLINE)
    assert (bands["n"] == 6).all()
    assert (bands["q05"] <= bands["q25"] + 1e-12).all() and (bands["q25"] <= bands["median"] + 1e-12).all()
    assert (bands["median"] <= bands["q75"] + 1e-12).all() and (bands["q75"] <= bands["q95"] + 1e-12).all()
    # a band is over the runs: its median is the runs' median in that quarter
    last = runs[runs["quarter"] == "2020Q4"]["huawei_ai_dies"]
    row = bands[(bands["column"] == "huawei_ai_dies") & (bands["quarter"] == "2020Q4")].iloc[0]
    assert row["median"] == pytest.approx(last.median()) and row["q95"] == pytest.approx(last.quantile(0.95))
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["ensemble"] == 3 and manifest["replicates"] == 2 and manifest["seeds"] == [4, 5]
    assert manifest["posterior"] == str(posterior) and manifest["posterior_rows"] == list(draws["posterior_row"])
    assert "posterior_provenance" in manifest and manifest["failed_runs"] == 0
    assert (out / "figure.png").stat().st_size > 20_000
    assert not any(p.name.startswith("_") for p in tmp_path.iterdir()), "no temporary left behind"


def test_same_seed_same_numbers_whichever_executor(posterior):
    """The same draws and seeds give the same numbers, in this process or on a pool of two."""
    ensemble = load_posterior(posterior)
    serial = run_ensemble("historical", ensemble, 3, [4, 5], HEADLINE, 8, sample_seed=4, progress=False, workers=0)
    pooled = run_ensemble("historical", ensemble, 3, [4, 5], HEADLINE, 8, sample_seed=4, progress=False, workers=2)
    pd.testing.assert_frame_equal(serial.rows, pooled.rows)
    pd.testing.assert_frame_equal(serial.draws, pooled.draws)
    other = run_ensemble("historical", ensemble, 3, [4, 5], HEADLINE, 8, sample_seed=5, progress=False, workers=0)
    assert list(other.draws["posterior_row"]) != list(serial.draws["posterior_row"])  # --seed picks the draws


def test_each_draws_parameters_reach_the_model(tmp_path):
    """Two draws equal but for ai_demand_growth: same seeds, different outputs; the
    same draw twice: the same outputs."""
    draws = load_priors().draw(1, 0)
    draws = pd.concat([draws] * 3, ignore_index=True)
    draws.loc[1, "ai_demand_growth"] = 0.7
    draws.loc[[0, 2], "ai_demand_growth"] = 2.0
    path = tmp_path / "two.csv"
    posterior_frame(draws, np.ones(3)).to_csv(path, index=False)
    ensemble = load_posterior(path)
    runs = run_ensemble("historical", ensemble, 3, [0], ["huawei_accelerators", "huawei_ai_dies"], 24,
                        progress=False, workers=0)
    totals = runs.ok.groupby("posterior_row")["huawei_accelerators"].sum()
    assert sorted(totals.index) == [0, 1, 2]
    assert totals[0] == totals[2]  # same parameters, same seed
    assert totals[0] != pytest.approx(totals[1], rel=1e-3)


def test_compare_ensemble_pairs_draws_and_seeds_and_prints_both_intervals(posterior, tmp_path):
    out = tmp_path / "cmp"
    result = chipstate("compare", "historical", "state_allocation", "--ensemble", "3", "--replicates", "2",
                       "--posterior", str(posterior), "--out", str(out), "--workers", "2")
    assert result.returncode == 0, result.stderr
    assert "95% t interval (seeds)" in result.stdout and "5-95% (draws x seeds)" in result.stdout
    runs = pd.read_parquet(out / "ensemble_runs.parquet")
    assert (runs["status"] == "ok").all()
    pairs = {s: set(map(tuple, g[["draw", "posterior_row", "seed"]].to_numpy()))
             for s, g in runs.groupby("scenario")}
    assert pairs["historical"] == pairs["state_allocation"] and len(pairs["historical"]) == 6
    table = pd.read_csv(out / "comparison.csv")
    for column in ("ci_low", "ci_high", "post_mean_difference", "post_q05", "post_q95"):
        assert column in table
    assert (table["post_n"] == 6).all() and (table["n"] == 2).all()
    assert (table["post_q05"] <= table["post_mean_difference"] + 1e-9).all()
    assert (table["post_mean_difference"] <= table["post_q95"] + 1e-9).all()
    # the posterior interval is over B - A paired by (draw, seed)
    name = "huawei_smic_wafers_2026_2030"
    wide = runs.pivot_table(index=["draw", "seed"], columns="scenario", values=name)
    difference = wide["state_allocation"] - wide["historical"]
    row = table.set_index("outcome").loc[name]
    assert row["post_mean_difference"] == pytest.approx(difference.mean())
    assert row["post_q05"] == pytest.approx(np.quantile(difference, 0.05))
    gains = pd.read_csv(out / "who_gains.csv")
    assert {"ci_low", "post_q05", "post_q95"} <= set(gains.columns) and gains["post_q05"].notna().all()
    meta = json.loads((out / "ensemble.json").read_text())
    assert meta["ensemble"] == 3 and meta["seeds"] == [0, 1] and meta["posterior"] == str(posterior)


@pytest.mark.parametrize("args, words", [
    (["run", "--ensemble", "0"], ["--ensemble", "expected a whole number >= 1"]),
    (["run", "--replicates", "3"], ["--replicates", "only with --ensemble"]),
    (["compare", "historical", "state_allocation", "--ensemble", "0"], ["--ensemble", ">= 1"]),
    (["run", "--ensemble", "2", "--set", "reserved_share=0.5"], ["--set", "not with --ensemble"]),
    (["compare", "historical", "state_allocation", "--posterior", "x.csv"], ["--posterior", "only with --ensemble"]),
])
def test_bad_flags_one_line_exit_2_nothing_written(args, words, tmp_path):
    out = tmp_path / "out"
    result = chipstate(*args, "--out", str(out))
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
    assert all(word in result.stderr for word in words), result.stderr
    assert not out.exists()


@pytest.mark.parametrize("command", ["run", "compare"])
def test_a_posterior_with_a_bad_column_is_refused_nothing_written(posterior, command, tmp_path):
    bad = tmp_path / "bad.csv"
    frame = pd.read_csv(posterior).rename(columns={"install_rate": "instal_rate"})
    frame.to_csv(bad, index=False)
    out = tmp_path / "out"
    head = ["run", "--ensemble", "2"] if command == "run" else ["compare", "historical", "state_allocation",
                                                                 "--ensemble", "2"]
    result = chipstate(*head, "--posterior", str(bad), "--out", str(out))
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
    assert str(bad) in result.stderr and "instal_rate" in result.stderr
    assert not out.exists()


def test_help_names_the_real_default_posterior():
    from experiments.cli import POSTERIOR_FILE_TEXT
    from experiments.posterior import POSTERIOR_FILE

    assert POSTERIOR_FILE.as_posix().endswith(POSTERIOR_FILE_TEXT)
