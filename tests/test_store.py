"""The results store and runner on a toy simulator: atomic files, resume, failures,
merging, and equal results from the serial and process-pool executors."""

from __future__ import annotations

import json
import os
import signal
import threading
import time

import pandas as pd
import psutil
import pytest

from experiments.batch.results import load, load_sweep_results
from experiments.batch.runner import run_sweep
from experiments.batch.store import RunStore
from sweep_helpers import toy_simulator, toy_sweep

VOLATILE = ["elapsed_s"]


def comparable(results) -> tuple[pd.DataFrame, pd.DataFrame]:
    """What must be equal whatever ran the sweep: all but wall-clock times."""
    return results.runs.drop(columns=VOLATILE), results.series


def assert_same(a, b) -> None:
    for left, right in zip(comparable(a), comparable(b)):
        pd.testing.assert_frame_equal(left, right)


def test_each_run_is_one_file_and_the_manifest_records_the_sweep(tmp_path):
    sweep = toy_sweep()
    results = run_sweep(sweep, tmp_path, workers=0, simulator=toy_simulator, progress=False)
    files = sorted(p.name for p in (tmp_path / "runs").iterdir())
    assert len(files) == 8 and all(f.endswith(".parquet") and not f.startswith("_") for f in files)
    assert sorted(f.removesuffix(".parquet") for f in files) == sorted(results.runs["run_key"])
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["seeds"] == [7, 8]
    assert manifest["state"] == "finished"
    assert manifest["counts"] == {"runs": 8, "ok": 8, "failed": 0, "stored": 8}
    assert manifest["design"] == {"kind": "grid", "samples": 4, "runs": 8}
    assert set(manifest["versions"]) >= {"python", "mesa", "numpy", "SALib", "model"}
    assert "revision" in manifest["git"]
    assert manifest["sweep"]["name"] == "toy"
    # One row per run and outcome; the kept series has a row per recorded quarter.
    assert len(results.runs) == 8 and (results.runs["status"] == "ok").all()
    assert len(results.series) == 8 * 9
    assert list(results.series.columns[-2:]) == ["quarter", "huawei_ai_dies"]


def test_temporary_files_are_never_read_and_are_cleared_on_resume(tmp_path):
    run_sweep(toy_sweep(), tmp_path, workers=0, simulator=toy_simulator, progress=False)
    stray = tmp_path / "runs" / "_deadbeef.parquet.tmp"
    stray.write_bytes(b"half a parquet file")
    assert len(load_sweep_results(tmp_path).runs) == 8
    assert len(pd.read_parquet(tmp_path / "runs")) == 8 * 9
    counts = run_sweep(toy_sweep(), tmp_path, workers=0, simulator=toy_simulator, progress=False, load=False)
    assert counts["ran"] == 0 and counts["skipped"] == 8
    assert not stray.exists()


def test_resume_runs_only_what_is_missing_and_extending_reuses_runs(tmp_path):
    run_sweep(toy_sweep(), tmp_path, workers=0, simulator=toy_simulator, progress=False)
    victims = sorted((tmp_path / "runs").iterdir())[:3]
    for path in victims:
        path.unlink()
    counts = run_sweep(toy_sweep(), tmp_path, workers=0, simulator=toy_simulator, progress=False, load=False)
    assert counts == {"runs": 8, "ran": 3, "skipped": 5, "ok": 8, "failed": 0}
    # Three seeds instead of two: the runs of seeds 7 and 8 are reused.
    more = toy_sweep(seeds={"replicates": 3, "base": 7})
    counts = run_sweep(more, tmp_path, workers=0, simulator=toy_simulator, progress=False, load=False)
    assert counts["ran"] == 4 and counts["skipped"] == 8
    assert len(load_sweep_results(tmp_path).runs) == 12


def test_a_failing_run_is_recorded_and_the_sweep_goes_on(tmp_path):
    sweep = toy_sweep(parameters={"reserved_share": {"values": [0.2, 0.9]},
                                  "demand_noise": {"values": [0.1, 0.45]}})
    results = run_sweep(sweep, tmp_path, workers=0, simulator=toy_simulator, progress=False)
    failed = results.failed
    assert len(failed) == 4 and set(failed["demand_noise"]) == {0.45}
    assert set(failed["error"]) == {"RuntimeError: toy model refuses demand_noise > 0.4"}
    assert failed["traceback"].str.contains("toy_simulator").all()
    assert failed["dies_end"].isna().all()
    assert len(results.ok) == 4 and results.ok["dies_end"].notna().all()
    assert results.manifest["counts"] == {"runs": 8, "ok": 4, "failed": 4, "stored": 8}
    assert results.manifest["state"] == "finished_with_failures"
    # Stored failures are not re-run on resume, unless asked.
    assert run_sweep(sweep, tmp_path, workers=0, simulator=toy_simulator, progress=False, load=False)["ran"] == 0
    again = run_sweep(sweep, tmp_path, workers=0, simulator=toy_simulator, progress=False,
                      load=False, retry_failed=True)
    assert again["ran"] == 4 and again["failed"] == 4


def test_merge_compacts_without_changing_results_and_survives_a_half_merge(tmp_path):
    before = run_sweep(toy_sweep(), tmp_path, workers=0, simulator=toy_simulator, progress=False)
    store = RunStore(tmp_path)
    loose = {p.name: p.read_bytes() for p in store.run_files()}
    parts = store.merge()
    assert len(parts) == 1 and store.run_files() == []
    assert_same(before, load_sweep_results(tmp_path))
    # A merge killed after writing its part but before deleting the run files leaves
    # both: every run must still be read once.
    for name, data in loose.items():
        (tmp_path / "runs" / name).write_bytes(data)
    assert_same(before, load_sweep_results(tmp_path))
    store.merge()
    assert len(store.merged_files()) == 1 and store.run_files() == []
    assert_same(before, load_sweep_results(tmp_path))
    counts = run_sweep(toy_sweep(), tmp_path, workers=0, simulator=toy_simulator, progress=False, load=False)
    assert counts["ran"] == 0


def test_serial_and_process_pools_of_any_size_store_the_same_results(tmp_path):
    serial = run_sweep(toy_sweep(), tmp_path / "serial", workers=0, simulator=toy_simulator, progress=False)
    for workers in (1, 2):
        pooled = run_sweep(toy_sweep(), tmp_path / f"pool{workers}", workers=workers,
                           simulator=toy_simulator, progress=False)
        assert_same(serial, pooled)


def test_a_pool_worker_killed_mid_run_loses_nothing(tmp_path):
    # stockpile_factor 3 makes each toy run sleep 0.3 s, so runs are in flight.
    sweep = toy_sweep(fixed={"stockpile_factor": 3.0})
    reference = run_sweep(sweep, tmp_path / "serial", workers=0, simulator=toy_simulator, progress=False)
    killed: list[int] = []

    def kill_one_worker() -> None:
        runs = tmp_path / "pool" / "runs"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not killed:
            done = len(list(runs.glob("*.parquet"))) if runs.is_dir() else 0
            workers = psutil.Process().children(recursive=True)
            if done >= 1 and workers:
                os.kill(workers[-1].pid, signal.SIGKILL)
                killed.append(workers[-1].pid)
            time.sleep(0.05)

    killer = threading.Thread(target=kill_one_worker)
    killer.start()
    pooled = run_sweep(sweep, tmp_path / "pool", workers=2, simulator=toy_simulator, progress=False)
    killer.join()
    assert killed, "no worker was killed: the test did not test anything"
    assert (pooled.runs["status"] == "ok").all()
    assert_same(reference, pooled)


def test_load_tells_run_and_sweep_folders_apart(tmp_path):
    run_sweep(toy_sweep(), tmp_path / "sweep", workers=0, simulator=toy_simulator, progress=False)
    assert load(tmp_path / "sweep").runs.shape[0] == 8
    # Without its design file (say, copied without it) a sweep still reads from its runs.
    (tmp_path / "sweep" / "design.parquet").unlink()
    assert sorted(load_sweep_results(tmp_path / "sweep").runs["sample"]) == [0, 0, 1, 1, 2, 2, 3, 3]
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    toy_simulator("x", {}, 1, 4).to_parquet(run_dir / "model.parquet")
    (run_dir / "manifest.json").write_text(json.dumps({"seed": 1}))
    run = load(run_dir)
    assert run.manifest == {"seed": 1} and len(run.model) == 5
    with pytest.raises(FileNotFoundError):
        load(tmp_path / "nothing")


def test_a_worker_with_other_model_code_refuses_the_run():
    from dataclasses import replace

    from experiments.batch.runner import execute_run
    from experiments.batch.sweep import expand

    _, tasks = expand(toy_sweep())
    # The real model (no simulator) under a key that promises another model version.
    task = replace(tasks[0], simulator=None, model_version="0.0.0+othercode")
    rows = execute_run(task)
    assert rows["status"].tolist() == ["failed"]
    assert rows["error"].iloc[0].startswith("ModelChanged: ")
