"""Sweeps whose design samples the posterior (`[design] kind = "posterior"`): the rows are
draws of the posterior file picked by weight, crossed with the swept levers; the file's
content is part of the sweep's hash; a changed posterior is refused on resume; bad
input is one line naming the sweep file and the field, exit 2. The posteriors here are
real ensembles in posterior.csv's format, drawn from the priors into tmp_path."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from experiments.batch.sweep import DRAW_COLUMN, SWEEP_DIR, SweepError, expand, load_sweep
from helpers import chipstate
from experiments.posterior import posterior_frame
from model.priors import load_priors

DRAWS_IN_FILE = 40


def write_posterior(path: Path, weights=None, seed: int = 7) -> Path:
    draws = load_priors().draw(DRAWS_IN_FILE, seed)
    frame = posterior_frame(draws, np.ones(len(draws)) if weights is None else np.asarray(weights, float))
    frame["draw"] = frame["draw"] + 100  # ids that are not row positions
    frame.to_csv(path, index=False)
    return path


SWEEP = """
[sweep]
name = "post"
scenario = "state_allocation"
steps = 1

[design]
kind = "posterior"
draws = {draws}
seed = 3
{posterior}

[seeds]
replicates = 2
base = 5

[parameters.reserved_share]
values = [0.25, 1.0]

[[outcomes]]
name = "huawei_accelerators_last"
reporter = "huawei_accelerators"
stat = "value"
at = "last"
"""


def write_sweep(folder: Path, posterior: Path | str | None, draws: int = 6, name: str = "post.toml") -> Path:
    line = "" if posterior is None else f'posterior = "{posterior}"'
    path = folder / name
    path.write_text(SWEEP.format(draws=draws, posterior=line))
    return path


@pytest.fixture
def posterior(tmp_path) -> Path:
    return write_posterior(tmp_path / "posterior.csv")


def test_the_rows_are_posterior_draws_crossed_with_the_levers(tmp_path, posterior):
    sweep = load_sweep(write_sweep(tmp_path, "posterior.csv"))  # relative: beside the sweep file
    assert sweep.posterior_path() == posterior.resolve()
    samples = sweep.samples()
    assert sweep.sample_count() == len(samples) == 6 * 2
    file = pd.read_csv(posterior).set_index("draw")
    names = [c for c in file.columns if c != "weight"]
    assert list(samples.columns) == [DRAW_COLUMN, *names, "reserved_share"]
    assert sweep.parameter_names() == [*names, "reserved_share"]
    for _, row in samples.iterrows():  # every value is the file's, for the row's draw
        assert row[names].astype(float).to_numpy() == pytest.approx(file.loc[row[DRAW_COLUMN], names].to_numpy())
    # draw-major: each pick under both lever values, in order
    assert samples["reserved_share"].tolist() == [0.25, 1.0] * 6
    assert (samples[DRAW_COLUMN].to_numpy()[::2] == samples[DRAW_COLUMN].to_numpy()[1::2]).all()
    # the runs: every sample with every seed, the draw's values as the model's overrides
    _, tasks = expand(sweep)
    assert len(tasks) == 6 * 2 * 2 and {t.seed for t in tasks} == {5, 6}
    first = tasks[0]
    assert first.overrides["reserved_share"] == 0.25
    assert first.overrides["ai_demand_growth"] == pytest.approx(file.loc[first.columns[DRAW_COLUMN], "ai_demand_growth"])
    assert DRAW_COLUMN not in first.overrides and first.columns[DRAW_COLUMN] == samples[DRAW_COLUMN][0]
    # reproducible from the design's seed; another seed picks other draws
    assert load_sweep(write_sweep(tmp_path, "posterior.csv")).samples().equals(samples)
    other = load_sweep(write_sweep(tmp_path, "posterior.csv").with_name("post.toml"),
                       {"design": {"kind": "posterior", "draws": 6, "seed": 4, "posterior": str(posterior)}})
    assert other.samples()[DRAW_COLUMN].tolist() != samples[DRAW_COLUMN].tolist()


def test_draws_are_picked_by_weight(tmp_path):
    """A draw of weight w appears about N x w times (systematic resampling: within one)."""
    weights = np.ones(DRAWS_IN_FILE)
    weights[0], weights[1] = 30.0, 10.0  # 30 / 78 and 10 / 78 of the mass
    path = write_posterior(tmp_path / "weighted.csv", weights)
    n = 156
    sweep = load_sweep(write_sweep(tmp_path, path, draws=n))
    picks = Counter(sweep.samples()[DRAW_COLUMN].tolist()[::2])  # one row per pick
    expected = {100 + i: n * w / weights.sum() for i, w in enumerate(weights)}
    assert sum(picks.values()) == n
    assert all(abs(picks.get(draw, 0) - e) <= 1 for draw, e in expected.items()), picks
    assert picks[100] == 60 and picks[101] == 20


def test_the_hash_holds_the_posterior_content_not_its_path(tmp_path, posterior):
    sweep = load_sweep(write_sweep(tmp_path, posterior))
    design = sweep.definition()["design"]
    assert "posterior" not in design and len(design["posterior_sha256"]) == 64
    copy = tmp_path / "elsewhere" / "copy.csv"
    copy.parent.mkdir()
    copy.write_bytes(posterior.read_bytes())
    assert load_sweep(write_sweep(tmp_path, copy, name="b.toml")).digest() == sweep.digest()
    write_posterior(posterior, seed=8)  # other draws in the same file
    changed = load_sweep(write_sweep(tmp_path, posterior))
    assert changed.digest() != sweep.digest()
    # a design of another kind carries none of the posterior's fields
    grid = load_sweep(SWEEP_DIR / "allocation_grid.toml")
    assert not {"draws", "posterior", "posterior_sha256"} & set(grid.definition()["design"])


def test_the_shipped_sweep_runs_the_directive_on_and_off_over_the_posterior(tmp_path, posterior):
    text = (SWEEP_DIR / "directive_posterior.toml").read_text()
    assert 'kind = "posterior"' in text
    path = tmp_path / "directive_posterior.toml"
    path.write_text(text.replace("draws = 64\n", f'draws = 64\nposterior = "{posterior}"\n'))
    sweep = load_sweep(path)
    samples = sweep.samples()
    assert sweep.sample_count() == len(samples) == 128 and len(sweep.seed_list()) == 2
    assert samples["scenario"].tolist() == ["historical", "state_allocation"] * 64
    _, tasks = expand(sweep)
    pair = [t for t in tasks if t.sample in (0, 1) and t.replicate == 0]
    assert [t.scenario for t in pair] == ["historical", "state_allocation"]
    assert pair[0].overrides == pair[1].overrides and pair[0].seed == pair[1].seed  # paired


@pytest.mark.parametrize("change, field, expected", [
    ("missing", "design.posterior", "no such file"),
    ("zero", "design.draws", "greater than or equal to 1"),
    ("no_draws", "design", "needs 'draws'"),
    ("swept", "parameters.ai_demand_growth", "the posterior"),
])
def test_bad_input_is_one_line_naming_the_file_and_field(tmp_path, posterior, change, field, expected):
    path = write_sweep(tmp_path, posterior)
    text = path.read_text()
    if change == "missing":
        text = text.replace(str(posterior), str(tmp_path / "nowhere.csv"))
    elif change == "zero":
        text = text.replace("draws = 6", "draws = 0")
    elif change == "no_draws":
        text = text.replace("draws = 6\n", "")
    else:
        text = text.replace("[parameters.reserved_share]", "[parameters.ai_demand_growth]\nvalues = [1.0]\n\n"
                            "[parameters.reserved_share]")
    path.write_text(text)
    with pytest.raises(SweepError) as error:
        load_sweep(path)
    message = str(error.value)
    assert "\n" not in message and str(path) in message and f"field '{field}" in message and expected in message


def test_cli_refuses_bad_input_and_a_changed_posterior(tmp_path, posterior):
    bad = write_sweep(tmp_path, tmp_path / "nowhere.csv", name="bad.toml")
    result = chipstate("sweep", str(bad), "--workers", "0", "--out", str(tmp_path / "bad"))
    assert result.returncode == 2 and result.stderr.count("\n") == 1
    assert str(bad) in result.stderr and "design.posterior" in result.stderr and "Traceback" not in result.stderr
    zero = write_sweep(tmp_path, posterior, draws=0, name="zero.toml")
    result = chipstate("sweep", str(zero), "--workers", "0", "--out", str(tmp_path / "zero"))
    assert result.returncode == 2 and "design.draws" in result.stderr and str(zero) in result.stderr
    assert not (tmp_path / "bad").exists() and not (tmp_path / "zero").exists()

    # a real sweep (2 draws x 2 levers x 2 seeds of one quarter), then the posterior changes
    good = write_sweep(tmp_path, posterior, draws=2)
    out = tmp_path / "out"
    first = chipstate("sweep", str(good), "--workers", "0", "--out", str(out))
    assert first.returncode == 0, first.stderr
    stored = sorted(p.name for p in (out / "runs").iterdir())
    assert len(stored) == 8
    write_posterior(posterior, seed=8)
    again = chipstate("sweep", str(good), "--workers", "0", "--out", str(out))
    assert again.returncode == 2 and again.stderr.count("\n") == 1, again.stderr
    assert "another posterior" in again.stderr and "--overwrite" in again.stderr
    assert sorted(p.name for p in (out / "runs").iterdir()) == stored  # nothing written
