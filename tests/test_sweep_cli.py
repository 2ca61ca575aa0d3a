"""`chipstate sweep` on the real model: a SIGKILLed sweep resumes to the same stored
runs as an uninterrupted one; --merge; bad files exit 2 with one line; the example."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from experiments.batch.results import load_sweep_results
from experiments.batch.runner import run_sweep
from experiments.batch.store import RunStore
from experiments.batch.sweep import load_sweep
from helpers import REPO, chipstate

DATA = Path(__file__).resolve().parent / "data"


def stored_runs(path: Path) -> pd.DataFrame:
    """Every stored row, ordered, without wall-clock times (the comparable part)."""
    frame = RunStore(path).read().drop(columns=["elapsed_s"])
    return frame.sort_values(["run_key", "quarter"]).reset_index(drop=True)


def test_a_killed_sweep_resumes_to_the_same_runs_as_an_uninterrupted_one(tmp_path):
    # 3 x 4 cells x 4 seeds = 48 real runs of 48 quarters: long enough (~1.5 s of model
    # time) that the kill lands mid-way on a loaded machine too.
    sweep_file = tmp_path / "kill.toml"
    sweep_file.write_text((DATA / "tiny_grid.toml").read_text()
                          .replace("values = [0.5, 1.0]", "values = [0.0, 0.5, 1.0]")
                          .replace("values = [0.3, 0.6]", "values = [0.2, 0.3, 0.5, 0.6]")
                          .replace("steps = 6", "steps = 48").replace("replicates = 2", "replicates = 4"))
    total = 48
    killed_dir, whole_dir = tmp_path / "killed", tmp_path / "whole"
    process = subprocess.Popen(
        [sys.executable, "-m", "experiments.cli", "sweep", str(sweep_file), "--out", str(killed_dir),
         "--workers", "2"],
        cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )
    runs = killed_dir / "runs"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        if runs.is_dir() and len(list(runs.glob("*.parquet"))) >= 3:
            break
        time.sleep(0.02)
    # SIGKILL the sweep and its pool workers (its own process group) mid-way.
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    done_at_kill = len(list(runs.glob("*.parquet")))
    assert 3 <= done_at_kill < total, f"the kill came too late to test anything ({done_at_kill} runs)"

    resumed = chipstate("sweep", str(sweep_file), "--out", str(killed_dir), "--workers", "2")
    assert resumed.returncode == 0, resumed.stderr
    assert f"{total - done_at_kill} run now, {done_at_kill} already stored" in resumed.stdout

    run_sweep(load_sweep(sweep_file), whole_dir, workers=0, progress=False)
    # No run lost, none duplicated, every row equal to the uninterrupted sweep's.
    assert len(list(runs.glob("*.parquet"))) == total
    assert not list(runs.glob("_*"))
    pd.testing.assert_frame_equal(stored_runs(killed_dir), stored_runs(whole_dir))
    killed, whole = load_sweep_results(killed_dir), load_sweep_results(whole_dir)
    assert (killed.runs["status"] == "ok").all() and len(killed.runs) == total
    pd.testing.assert_frame_equal(killed.runs.drop(columns="elapsed_s"), whole.runs.drop(columns="elapsed_s"))

    merged = chipstate("sweep", str(sweep_file), "--out", str(killed_dir), "--merge")
    assert merged.returncode == 0, merged.stderr
    assert RunStore(killed_dir).run_files() == [] and len(RunStore(killed_dir).merged_files()) == 1
    pd.testing.assert_frame_equal(stored_runs(killed_dir), stored_runs(whole_dir))


@pytest.mark.parametrize("text, expected", [
    ("[sweep]\nname = 'x'\n", "field 'design': Field required"),
    ((DATA / "tiny_grid.toml").read_text().replace('kind = "grid"', 'kind = "factorial"'), "field 'design.kind'"),
    ((DATA / "tiny_grid.toml").read_text().replace("[parameters.reserved_share]", "[parameters.reserved]"),
     "field 'parameters.reserved': unknown parameter"),
    ((DATA / "tiny_grid.toml").read_text().replace("values = [0.5, 1.0]", "values = [0.5, 1.5]"),
     "field 'parameters.reserved_share.values'"),
    ((DATA / "tiny_grid.toml").read_text().replace('reporter = "huawei_ai_dies"', 'reporter = "huawei_dies"'),
     "field 'outcomes.0.reporter': no reporter 'huawei_dies'"),
    ("not = toml = at all", "not valid TOML"),
], ids=["no-design", "bad-kind", "unknown-parameter", "value-out-of-range", "unknown-reporter", "not-toml"])
def test_bad_sweep_files_exit_2_with_one_line_naming_file_and_field(tmp_path, text, expected):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    result = chipstate("sweep", str(path), "--out", str(tmp_path / "out"), "--workers", "0")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("chipstate: error: ") and str(path) in lines[0]
    assert expected in lines[0]
    assert "Traceback" not in result.stderr


def test_the_example_script_runs_a_sweep_and_prints_its_results(tmp_path):
    result = subprocess.run(
        [sys.executable, "experiments/examples/run_sweep.py", "--out", str(tmp_path / "example"),
         "--steps", "6", "--replicates", "2", "--workers", "2"],
        cwd=REPO, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr
    results = load_sweep_results(tmp_path / "example")
    assert len(results.runs) > 0 and (results.runs["status"] == "ok").all()
    assert "reserved_share" in result.stdout


def test_bench_names_an_unknown_benchmark_in_one_line():
    result = chipstate("bench", "nothing")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("chipstate: error: no benchmark 'nothing'; expected one of: ")
    assert "sweep" in lines[0].split("expected one of: ")[1].split(", ")
