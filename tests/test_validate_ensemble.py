"""`chipstate validate --ensemble N` as a user calls it: a small posterior ensemble
(drawn from the priors, in the posterior's format) and a small data file of one's own,
both written into tmp_path; the bands over draws x seeds, the predictive band and the
coverage by group, the files' new columns, and bad input refused on one line."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from experiments.calibration.observed import DATA_FILE
from experiments.outputs import validation_folder, validation_settings
from helpers import chipstate

PROVENANCE = """[provenance]
method = "drawn from the priors (a test ensemble)"
held_back_from = "{start}"
held_back_to = "2023Q4"

[discrepancy]
default = 0.1
default_percent = 2.0

[discrepancy.scales]
foundry_revenue_share = 3.0
"""

ROWS = [  # in sample, held back (2023Q3-2023Q4), out of sample, and a bound (no coverage flag)
    ("foundry_revenue_share", "TSMC", "2022Q3", "56.1", "% of top-10 foundry revenue"),
    ("utilization", "SMIC", "2023Q4", "76.8", "% of capacity"),
    ("foundry_revenue", "TSMC", "2024Q2", "20820", "USD million"),
    ("utilization", "SMIC", "2024Q2", "<99", "% of capacity"),
]


def _posterior(folder, draws: int = 3, start: str = "2023Q3"):
    from experiments.posterior import posterior_frame
    from model.priors import load_priors

    frame = load_priors().draw(draws, 11)
    path = folder / "posterior.csv"
    posterior_frame(frame, np.ones(len(frame))).to_csv(path, index=False)
    (folder / "posterior.toml").write_text(PROVENANCE.format(start=start))
    return path


def _data(folder):
    path = folder / "mine.csv"
    pd.DataFrame([dict(zip(("quantity", "entity", "period", "value", "unit"), row), source="test", note="")
                  for row in ROWS]).to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def ensemble_validation(tmp_path_factory):
    folder = tmp_path_factory.mktemp("ensemble")
    posterior, data = _posterior(folder), _data(folder)
    out = folder / "validation"
    result = chipstate("validate", "--ensemble", "3", "--seeds", "2", "--posterior", str(posterior),
                       "--data", str(data), "--out", str(out), "--workers", "2")
    return folder, posterior, data, out, result


def test_the_report_prints_coverage_by_group(ensemble_validation):
    _, _, _, out, result = ensemble_validation
    assert result.returncode == 0, result.stderr
    assert "3 draw(s) (sample seed 0) x seeds 1000, 1001 = 6 runs: 4 of 4 rows compared" in result.stdout
    block = result.stdout.split("Coverage over the posterior ensemble")[1]
    assert "held-back window (2023Q3-2023Q4)" in block
    rows = block.splitlines()
    rule = next(i for i, line in enumerate(rows) if line.startswith("  ---"))
    table = rows[rule + 1:rule + 4]  # the three rows under the header's rule
    lines = {line.split("  ")[1].strip(): line.split() for line in table}
    assert set(lines) == {"in sample (fitted)", "held back", "out of sample"}
    # one point row in each group (the bound is left out); shares of one row are 0% or 100%
    for name, cells in lines.items():
        count = cells[len(name.split())]
        assert count == "1", (name, cells)
        shares = cells[len(name.split()) + 1:len(name.split()) + 5]
        assert all(share in ("0%", "100%") for share in shares), (name, cells)
    assert "points" in lines["in sample (fitted)"][-1] or "points" in " ".join(lines["in sample (fitted)"])
    assert "% of value" in " ".join(lines["out of sample"])
    assert "validate historical ensemble" in result.stderr  # the progress bar, on stderr


def test_the_files_carry_both_bands_and_the_flags(ensemble_validation):
    _, _, _, out, result = ensemble_validation
    assert result.returncode == 0, result.stderr
    table = pd.read_parquet(out / "validation.parquet")
    assert table.equals(table)  # readable, then its columns:
    names = ["q05", "q25", "q50", "q75", "q95"]
    for band in ("model", "pred"):
        quantiles = table[[f"{band}_{n}" for n in names]].to_numpy(dtype=float)
        assert np.all(np.diff(quantiles, axis=1) >= 0)
    assert table["model_p05"].to_numpy() == pytest.approx(table["model_q05"].to_numpy())  # 5-95%: all runs
    # the discrepancy widens every band (3 points for the share, 2 for the other percentages, a 0.1 log
    # ratio for the level)
    width = lambda band, lo, hi: table[f"{band}_{hi}"] - table[f"{band}_{lo}"]  # noqa: E731
    assert (width("pred", "q05", "q95") > width("model", "q05", "q95")).all()
    assert (width("pred", "q25", "q75") > width("model", "q25", "q75")).all()
    assert table["held_back"].tolist() == [False, True, False, False]
    point = table[table["bound"] == "="]
    assert point["inside_50"].notna().all() and point["inside_90"].notna().all()
    assert table.loc[table["bound"] == "<", "inside_90"].isna().all()  # a bound: no coverage flag
    assert point["group"].tolist() == ["in sample", "held back", "out of sample"]
    # inside_90 is the predictive 5-95% band holding the value
    expected = (point["pred_q05"] <= point["data_value"]) & (point["data_value"] <= point["pred_q95"])
    assert point["inside_90"].astype(bool).tolist() == expected.tolist()
    csv = pd.read_csv(out / "validation.csv")
    assert {"pred_q95", "model_q25", "inside_50", "inside_90", "held_back", "pit"} <= set(csv.columns)
    coverage = pd.read_csv(out / "coverage.csv")
    assert coverage["group"].tolist() == ["in sample", "held back", "out of sample"]
    assert coverage["rows"].tolist() == [1, 1, 1]
    assert (out / "figures" / "coverage.png").stat().st_size > 10_000
    assert {p.stem for p in (out / "figures").iterdir()} == {"coverage", "foundry_revenue_share",
                                                             "utilization", "foundry_revenue"}


def test_one_worker_or_two_the_same_table(ensemble_validation, tmp_path):
    _, posterior, data, out, result = ensemble_validation
    assert result.returncode == 0, result.stderr
    serial = tmp_path / "serial"
    again = chipstate("validate", "--ensemble", "3", "--seeds", "2", "--posterior", str(posterior),
                      "--data", str(data), "--out", str(serial), "--workers", "0")
    assert again.returncode == 0, again.stderr
    pd.testing.assert_frame_equal(pd.read_parquet(out / "validation.parquet"),
                                  pd.read_parquet(serial / "validation.parquet"))


def test_bad_input_is_one_line_and_nothing_written(tmp_path):
    data = _data(tmp_path)
    out = tmp_path / "o"
    zero = chipstate("validate", "--ensemble", "0", "--seeds", "2", "--data", str(data), "--out", str(out))
    assert zero.returncode == 2 and "--ensemble" in zero.stderr and "expected a whole number >= 1" in zero.stderr
    assert len(zero.stderr.strip().splitlines()) == 1 and not out.exists()

    bad = tmp_path / "bad"
    bad.mkdir()
    posterior = _posterior(bad, draws=2, start="2023-Q3")
    result = chipstate("validate", "--ensemble", "2", "--seeds", "2", "--posterior", str(posterior),
                       "--data", str(data), "--out", str(out))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert str(bad / "posterior.toml") in result.stderr and "provenance.held_back_from" in result.stderr
    assert "'2023-Q3'" in result.stderr and "expected a quarter like '2023Q3'" in result.stderr
    assert not out.exists()

    missing = chipstate("validate", "--ensemble", "2", "--posterior", str(tmp_path / "none.csv"),
                        "--data", str(data), "--out", str(out))
    assert missing.returncode == 2 and "none.csv" in missing.stderr and not out.exists()
    assert len(missing.stderr.strip().splitlines()) == 1


def test_an_ensemble_validation_has_a_folder_of_its_own(tmp_path):
    plain = validation_settings("historical", 2, DATA_FILE, {})
    assert "ensemble" not in plain  # a plain validation's settings as before
    ensemble = {"posterior": str(tmp_path / "posterior.csv"), "draws": 30, "sample_seed": 0}
    folder = validation_folder("historical", 2, DATA_FILE, {}, DATA_FILE, ensemble)
    assert folder != validation_folder("historical", 2, DATA_FILE, {}, DATA_FILE)
    assert folder.name.endswith("-ensemble30-seeds2")
    other = validation_folder("historical", 2, DATA_FILE, {}, DATA_FILE, {**ensemble, "sample_seed": 1})
    assert other != folder
    # a posterior calibrated anew (its draws or its discrepancy) is another validation
    from experiments.calibration.validate import ensemble_settings
    from experiments.posterior import load_posterior

    path = _posterior(tmp_path, draws=2)
    before = ensemble_settings(load_posterior(path), 30, 0)
    (tmp_path / "posterior.toml").write_text(PROVENANCE.format(start="2023Q3").replace("3.0", "4.0"))
    after = ensemble_settings(load_posterior(path), 30, 0)
    assert before["posterior"] == after["posterior"] and before != after
    assert validation_folder("historical", 2, DATA_FILE, {}, DATA_FILE, before) != \
        validation_folder("historical", 2, DATA_FILE, {}, DATA_FILE, after)


def test_the_held_back_window_is_read_from_the_provenance(tmp_path):
    from experiments.calibration.validate import held_back_window
    from experiments.posterior import PosteriorError, load_posterior

    ensemble = load_posterior(_posterior(tmp_path, draws=2))
    assert held_back_window(ensemble) == ("2023Q3", "2023Q4")
    for provenance in ({}, {"held_back_from": "", "held_back_to": ""}):  # calibrate --hold-back none
        ensemble.provenance = provenance
        assert held_back_window(ensemble) is None
    for provenance, field in (({"held_back_from": "2023Q3"}, "held_back_to"),
                              ({"held_back_from": "2024Q1", "held_back_to": "2023Q4"}, "held_back_to"),
                              ({"held_back_from": 2023, "held_back_to": "2023Q4"}, "held_back_from")):
        ensemble.provenance = provenance
        with pytest.raises(PosteriorError, match=f"posterior.toml: field 'provenance.{field}'"):
            held_back_window(ensemble)
