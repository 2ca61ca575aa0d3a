"""Issue 15's coverage targets, asserted on the SHIPPED posterior (model/data/posterior.csv
and its posterior.toml): over 30 draws x 2 seeds of the historical scenario, the in-sample
hard-target rows with a point value fall inside their 90% predictive band 80-97% of the
time and inside their 50% band 35-65% of the time (a calibrated ensemble: about 90% and
50%). Until the posterior is shipped, loading it fails: that is this test failing, as it
should, not a reason to skip it."""

from __future__ import annotations

import pytest

from experiments.calibration.validate import validate_ensemble
from experiments.posterior import POSTERIOR_FILE, load_posterior


@pytest.mark.slow
def test_the_shipped_posterior_covers_the_in_sample_data_at_about_the_nominal_rates():
    ensemble = load_posterior(POSTERIOR_FILE)
    result = validate_ensemble(ensemble, 30, "historical", seeds=2, workers=2, progress=False)
    fitted = result.coverage.set_index("group").loc["in sample"]
    assert fitted["rows"] >= 10  # enough rows for a share to mean something
    assert 0.80 <= fitted["inside_90"] <= 0.97, result.coverage.to_string()
    assert 0.35 <= fitted["inside_50"] <= 0.65, result.coverage.to_string()
