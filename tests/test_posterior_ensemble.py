"""The posterior ensemble (experiments/posterior.py) and the ABC-SMC calibration that writes it
(experiments/calibration/inference.py): reading and checking the files, seeded
resampling by weight, the held-back window, and the calibration's promises: the same
seed gives the same posterior on one process or a pool of two, and a calibration
continued from its history ends where an uninterrupted one does."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings, strategies as st

from experiments.posterior import POSTERIOR_FILE, Discrepancy, PosteriorError, load_posterior, posterior_frame
from model.priors import load_priors

from helpers import chipstate


def prior_ensemble(path, n=40, seed=3, weights=None):
    draws = load_priors().draw(n, seed)
    posterior_frame(draws, np.ones(n) if weights is None else weights).to_csv(path, index=False)
    return path


def test_an_ensemble_reads_back_with_normalised_weights(tmp_path):
    path = prior_ensemble(tmp_path / "p.csv", weights=np.arange(1, 41, dtype=float))
    ensemble = load_posterior(path)
    assert len(ensemble) == 40 and ensemble.weights.sum() == pytest.approx(1.0)
    assert ensemble.weights[-1] == pytest.approx(40 / 820)
    overrides = ensemble.overrides(0)
    assert set(overrides["foundry_preference"]) >= {"SMIC", "Samsung"}


@settings(max_examples=25, deadline=None)
@given(n=st.integers(1, 200), seed=st.integers(0, 2**31))
def test_sampling_is_reproducible_and_follows_the_weights(tmp_path_factory, n, seed):
    path = tmp_path_factory.mktemp("p") / "p.csv"
    weights = np.r_[np.full(10, 1.0), 30.0]  # the last draw carries 75% of the weight
    ensemble = load_posterior(prior_ensemble(path, n=11, weights=weights))
    picked = ensemble.sample(n, seed)
    assert picked == ensemble.sample(n, seed)
    # systematic resampling: a draw of weight w appears floor(n w) or ceil(n w) times
    assert abs(picked.count(10) - 0.75 * n) <= 1


@pytest.mark.parametrize("change, field", [
    (lambda f: f.assign(weight=-1.0), "weight"),
    (lambda f: f.drop(columns="weight"), "weight"),
    (lambda f: f.rename(columns={"install_rate": "no_such_parameter"}), "no_such_parameter"),
    (lambda f: f.assign(install_rate=5.0), "install_rate"),
])
def test_a_bad_ensemble_is_one_line_naming_the_field(tmp_path, change, field):
    path = prior_ensemble(tmp_path / "p.csv")
    change(pd.read_csv(path)).to_csv(path, index=False)
    with pytest.raises(PosteriorError) as caught:
        load_posterior(path)
    message = str(caught.value)
    assert "\n" not in message and str(path) in message and field in message


def test_a_bad_discrepancy_is_one_line(tmp_path):
    path = prior_ensemble(tmp_path / "p.csv")
    (tmp_path / "p.toml").write_text('[discrepancy]\ndefault = -1\n')
    with pytest.raises(PosteriorError, match=r"p\.toml: field 'discrepancy\.default'"):
        load_posterior(path)


def test_discrepancy_defaults_by_unit():
    scales = Discrepancy({"utilization": 2.0}, default=0.3, default_percent=4.0)
    assert scales.scale("utilization") == 2.0
    assert scales.scale("foundry_revenue", percent=False) == 0.3
    assert scales.scale("some_share", percent=True) == 4.0


def test_held_back_rows_are_the_window_only():
    from experiments.calibration.inference import Settings, held_back

    window = Settings(held_back_from="2023Q3", held_back_to="2023Q4")
    assert held_back("2023Q4", window) and held_back("2023Q3", window)
    assert not held_back("2023Q2", window) and not held_back("2022", window)
    assert not held_back("2023Q4", Settings(held_back_from=None, held_back_to=None))


def test_a_history_of_another_model_is_not_resumed(tmp_path):
    """The history's key digests the model: its code, world and scenarios; a changed
    scenario gives another folder, a new posterior or point fit (outputs) does not."""
    import shutil
    from pathlib import Path

    from experiments.calibration.inference import MODEL_SOURCES, model_sha

    root = Path(__file__).resolve().parents[1]
    for folder, _ in MODEL_SOURCES:
        shutil.copytree(root / folder, tmp_path / folder, dirs_exist_ok=True,
                        ignore=shutil.ignore_patterns("__pycache__"))
    before = model_sha(tmp_path)
    assert before == model_sha(root)
    (tmp_path / "model/data/posterior.toml").write_text("# another calibration's output\n")
    assert model_sha(tmp_path) == before
    scenario = tmp_path / "experiments/scenarios/historical.toml"
    scenario.write_text(scenario.read_text() + "\n[parameters]\ninstall_rate = 0.05\n")
    assert model_sha(tmp_path) != before


def test_the_shipped_posterior_is_a_real_calibration():
    """model/data/posterior.csv: at least 200 weighted draws of every prior's parameter,
    with the provenance that makes it reproducible."""
    ensemble = load_posterior(POSTERIOR_FILE)
    assert len(ensemble) >= 200
    assert set(ensemble.names) == set(load_priors().names)
    p = ensemble.provenance
    for key in ("method", "library", "seed", "population", "generations", "epsilons", "rows", "held_back_from",
                "held_back_to", "settings_key"):
        assert key in p, key
    assert "pyabc" in p["library"] and p["generations"] >= 2
    assert all(a > b for a, b in zip(p["epsilons"], p["epsilons"][1:])), "epsilon shrinks each generation"
    assert ensemble.discrepancy.scales, "discrepancy scales from the posterior predictive"


@pytest.mark.slow
def test_the_calibration_is_reproducible_on_any_executor_and_resumes(tmp_path):
    """A small ABC-SMC (12 particles, 2 generations) in this process, on a pool of two
    and on a Dask LocalCluster of two gives the same draws and weights; one generation,
    then the same history continued to two, ends at the same draws as well."""
    from experiments.calibration.inference import Settings, infer

    two = Settings(population=12, generations=2, predictive_draws=2)
    serial = infer(two, tmp_path / "serial", workers=1, progress=False, log=lambda _: None)
    pooled = infer(two, tmp_path / "pooled", workers=2, progress=False, log=lambda _: None)
    pd.testing.assert_frame_equal(serial.draws, pooled.draws)
    np.testing.assert_array_equal(serial.weights, pooled.weights)
    on_dask = infer(two, tmp_path / "dask", dask_local=2, progress=False, log=lambda _: None)  # LocalCluster, 127.0.0.1
    pd.testing.assert_frame_equal(serial.draws, on_dask.draws)
    np.testing.assert_array_equal(serial.weights, on_dask.weights)
    said = []
    infer(Settings(population=12, generations=1, predictive_draws=2), tmp_path / "resumed", workers=2,
          progress=False)
    resumed = infer(two, tmp_path / "resumed", workers=2, progress=False, log=said.append)
    assert said and "1 of 2 generations done" in said[0]
    pd.testing.assert_frame_equal(serial.draws, resumed.draws)
    assert list(serial.generations["epsilon"]) == list(resumed.generations["epsilon"])


@pytest.mark.slow
def test_the_calibration_never_draws_from_numpys_global_state(tmp_path, monkeypatch):
    """In this process, with numpy's global draws forbidden, a small calibration runs:
    pyabc's prior and proposals draw from each particle's own generator."""
    from experiments.calibration.inference import Settings, infer

    def forbidden(*args, **kwargs):
        raise AssertionError("numpy's global random state used")

    for name in ("seed", "choice", "multivariate_normal", "normal", "uniform", "random", "rand"):
        monkeypatch.setattr(np.random, name, forbidden)
    result = infer(Settings(population=12, generations=2, predictive_draws=2), tmp_path / "h", workers=0,
                   progress=False, log=lambda _: None)
    assert len(result.draws) == 12


def test_a_history_of_other_settings_is_not_replaced_unasked(tmp_path):
    out = tmp_path / "history"
    out.mkdir()
    (out / "abc.db").write_bytes(b"someone's history")
    (out / "settings.json").write_text('{"key": "other"}')
    result = chipstate("calibrate", "--population", "20", "--generations", "1", "--out", str(out), "--dry-run")
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1
    assert str(out) in result.stderr and "--overwrite" in result.stderr
    assert (out / "abc.db").read_bytes() == b"someone's history"
