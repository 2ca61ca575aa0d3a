"""Sweeps that never lose, duplicate or hang: two `chipstate sweep` processes on one
folder, Ctrl-C in a terminal, a killed sweep's manifest, a busy folder, and the output
folder rules (a run folder or a user's folder is never written)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from experiments.outputs import OutputError
from experiments.batch.results import load_sweep_results
from experiments.batch.runner import SweepInterrupted, run_sweep
from experiments.batch.store import RunStore, StoreBusy
from experiments.batch.sweep import SweepError
from helpers import REPO, chipstate
from sweep_helpers import toy_simulator, toy_sweep

DATA = Path(__file__).resolve().parent / "data"


def real_sweep_file(tmp_path: Path) -> Path:
    """3 x 4 cells x 2 seeds = 24 real runs of 6 quarters."""
    path = tmp_path / "concurrent.toml"
    path.write_text((DATA / "tiny_grid.toml").read_text()
                    .replace("values = [0.5, 1.0]", "values = [0.0, 0.5, 1.0]")
                    .replace("values = [0.3, 0.6]", "values = [0.2, 0.3, 0.5, 0.6]"))
    return path


def sweep_process(sweep_file: Path, out: Path, workers: int = 2) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "experiments.cli", "sweep", str(sweep_file), "--out", str(out),
         "--workers", str(workers)],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
    )


def ran_now(stdout: str) -> int:
    """'(N run now, M already stored)' from `chipstate sweep`'s last line."""
    return int(stdout.rsplit("(", 1)[1].split(" run now")[0])


def test_two_concurrent_sweeps_on_one_folder_never_crash_or_compute_a_run_twice(tmp_path):
    sweep_file, out = real_sweep_file(tmp_path), tmp_path / "shared"
    first, second = sweep_process(sweep_file, out), sweep_process(sweep_file, out)
    results = [p.communicate(timeout=300) for p in (first, second)]
    codes = [first.returncode, second.returncode]
    ran = 0
    for code, (stdout, stderr) in zip(codes, results):
        assert "Traceback" not in stderr, stderr
        if code == 0:
            ran += ran_now(stdout)
        else:
            # The folder is locked by the other process: one line, exit 2, nothing done.
            assert code == 2, stderr
            lines = stderr.strip().splitlines()
            assert len(lines) == 1 and lines[0].startswith("chipstate: error: ") and "busy" in lines[0], stderr
    assert 0 in codes
    files = RunStore(out).run_files()
    assert len(files) == 24 and not list((out / "runs").glob("_*"))
    assert ran == 24, "a run was computed twice (or not at all)"
    results = load_sweep_results(out)
    assert len(results.runs) == 24 and results.runs["run_key"].is_unique
    assert results.manifest["state"] == "finished"


def test_ctrl_c_stops_the_sweep_in_one_line_and_a_rerun_completes_it(tmp_path):
    sweep_file, out = real_sweep_file(tmp_path), tmp_path / "interrupted"
    process = sweep_process(sweep_file, out)
    runs = out / "runs"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        if runs.is_dir() and len(list(runs.glob("*.parquet"))) >= 2:
            break
        time.sleep(0.02)
    # What a terminal's Ctrl-C does: SIGINT to the whole process group (the sweep and
    # its pool workers).
    os.killpg(process.pid, signal.SIGINT)
    stdout, stderr = process.communicate(timeout=60)
    stored = len(list(runs.glob("*.parquet")))
    assert 2 <= stored < 24, f"the interrupt came too late to test anything ({stored} runs)"
    assert process.returncode == 130, stderr
    assert "Traceback" not in stderr, stderr
    last = stderr.strip().splitlines()[-1]
    assert last == (f"chipstate: interrupted: {stored} of 24 runs stored in {out}; "
                    "run the same command again to resume"), stderr
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["state"] == "interrupted"
    assert manifest["counts"]["stored"] == stored and manifest["counts"]["runs"] == 24
    assert not list(runs.glob("_*"))

    again = chipstate("sweep", str(sweep_file), "--out", str(out), "--workers", "2")
    assert again.returncode == 0, again.stderr
    assert f"({24 - stored} run now, {stored} already stored)" in again.stdout
    results = load_sweep_results(out)
    assert len(results.runs) == 24 and results.runs["run_key"].is_unique
    assert (results.runs["status"] == "ok").all() and results.manifest["state"] == "finished"


CALLS: list[int] = []
INTERRUPT_AT: list[int] = []


def interrupting_simulator(scenario, overrides, seed, steps):
    """The toy model, raising KeyboardInterrupt (as Ctrl-C does) at call INTERRUPT_AT."""
    CALLS.append(seed)
    if len(CALLS) in INTERRUPT_AT:
        raise KeyboardInterrupt
    return toy_simulator(scenario, overrides, seed, steps)


def test_interrupting_an_in_process_sweep_records_it_and_raises_sweep_interrupted(tmp_path):
    CALLS.clear()
    INTERRUPT_AT[:] = [4]  # the first call is the start check (steps=0), then runs
    with pytest.raises(SweepInterrupted) as info:
        run_sweep(toy_sweep(), tmp_path, workers=0, simulator=interrupting_simulator, progress=False)
    assert (info.value.stored, info.value.total, info.value.out) == (2, 8, tmp_path)
    assert str(info.value) == f"2 of 8 runs stored in {tmp_path}; run the same command again to resume"
    manifest = RunStore(tmp_path).read_manifest()
    assert manifest["state"] == "interrupted" and manifest["counts"]["stored"] == 2
    INTERRUPT_AT.clear()
    counts = run_sweep(toy_sweep(), tmp_path, workers=0, simulator=interrupting_simulator,
                       progress=False, load=False)
    assert counts["ran"] == 6 and counts["skipped"] == 2
    assert RunStore(tmp_path).read_manifest()["state"] == "finished"


def test_a_manifest_left_running_by_a_dead_process_reads_as_interrupted(tmp_path):
    run_sweep(toy_sweep(), tmp_path, workers=0, simulator=toy_simulator, progress=False)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    path = tmp_path / "manifest.json"
    manifest = json.loads(path.read_text())
    assert manifest["process"]["pid"] == os.getpid()
    path.write_text(json.dumps({**manifest, "state": "running",
                                "process": {**manifest["process"], "pid": dead.pid}}))
    assert RunStore(tmp_path).read_manifest()["state"] == "interrupted"
    assert load_sweep_results(tmp_path).manifest["state"] == "interrupted"
    # A live writer's 'running' stays 'running'.
    path.write_text(json.dumps({**manifest, "state": "running"}))
    assert RunStore(tmp_path).read_manifest()["state"] == "running"


def test_a_busy_folder_is_refused_in_one_line_and_nothing_is_written(tmp_path):
    run_sweep(toy_sweep(), tmp_path, workers=0, simulator=toy_simulator, progress=False)
    before = {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*")}
    holder = RunStore(tmp_path).lock()
    try:
        with pytest.raises(StoreBusy) as info:
            run_sweep(toy_sweep(seeds={"replicates": 3, "base": 7}), tmp_path, workers=0,
                      simulator=toy_simulator, progress=False)
        assert isinstance(info.value, SweepError) and "busy" in str(info.value)
        assert "\n" not in str(info.value)
        with pytest.raises(StoreBusy):
            RunStore(tmp_path).merge()
    finally:
        holder.unlock()
    assert {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*")} == before


def test_temporary_files_of_a_live_process_are_left_alone(tmp_path):
    run_sweep(toy_sweep(), tmp_path, workers=0, simulator=toy_simulator, progress=False)
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    try:
        theirs = tmp_path / "runs" / f"_abc.parquet.{live.pid}.tmp"
        stale = tmp_path / "runs" / f"_abd.parquet.{dead.pid}.tmp"
        theirs.write_bytes(b"half")
        stale.write_bytes(b"half")
        RunStore(tmp_path).create()
        assert theirs.exists() and not stale.exists()
    finally:
        live.kill()
        live.wait()


# ------------------------------------------------------------ output folder rules
def snapshot(folder: Path) -> dict:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def test_a_user_folder_or_a_run_folder_is_refused_and_untouched(tmp_path):
    user = tmp_path / "mywork"
    user.mkdir()
    (user / "thesis.tex").write_text("a")
    run = tmp_path / "run"
    run.mkdir()
    (run / "manifest.json").write_text(json.dumps({"seed": 0, "scenario": "state_allocation"}))
    (run / "model.parquet").write_bytes(b"x")
    for folder in (user, run):
        before = snapshot(folder)
        with pytest.raises(OutputError) as info:
            run_sweep(toy_sweep(), folder, workers=0, simulator=toy_simulator, progress=False)
        assert "\n" not in str(info.value) and str(folder) in str(info.value)
        assert snapshot(folder) == before


def test_another_sweeps_folder_needs_overwrite_and_a_file_is_refused(tmp_path):
    run_sweep(toy_sweep(), tmp_path / "a", workers=0, simulator=toy_simulator, progress=False)
    other = toy_sweep(name="other", seeds={"replicates": 2, "base": 20})
    before = snapshot(tmp_path / "a")
    with pytest.raises(OutputError, match="other settings"):
        run_sweep(other, tmp_path / "a", workers=0, simulator=toy_simulator, progress=False)
    assert snapshot(tmp_path / "a") == before
    results = run_sweep(other, tmp_path / "a", workers=0, simulator=toy_simulator, progress=False,
                        overwrite=True)
    assert len(results.runs) == 8 and set(results.runs["sweep"]) == {"other"}
    assert results.manifest["sweep"]["name"] == "other"
    (tmp_path / "file").write_text("x")
    with pytest.raises(OutputError, match="is a file"):
        run_sweep(other, tmp_path / "file", workers=0, simulator=toy_simulator, progress=False)


@pytest.mark.parametrize("change, expected", [
    ({"outcomes": [{"name": "x", "reporter": "no_such_reporter", "stat": "value", "at": "last"}]},
     "no reporter 'no_such_reporter'"),
    ({"fixed": {"demand_noise": 0.45}}, "the model fails to start"),
], ids=["unknown-reporter", "model-fails-to-start"])
def test_a_failing_check_writes_nothing(tmp_path, change, expected):
    sweep = toy_sweep(**change)
    new = tmp_path / "new" / "deeper"
    with pytest.raises(SweepError, match=expected):
        run_sweep(sweep, new, workers=0, simulator=toy_simulator, progress=False)
    assert not (tmp_path / "new").exists()
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(SweepError, match=expected):
        run_sweep(sweep, empty, workers=0, simulator=toy_simulator, progress=False)
    assert list(empty.iterdir()) == []


def test_a_sweep_folder_from_before_markers_resumes_and_refuses_another_sweep(tmp_path):
    run_sweep(toy_sweep(), tmp_path, workers=0, simulator=toy_simulator, progress=False)
    (tmp_path / ".chipstate.json").unlink()  # as written before output markers existed
    counts = run_sweep(toy_sweep(seeds={"replicates": 3, "base": 7}), tmp_path, workers=0,
                       simulator=toy_simulator, progress=False, load=False)
    assert counts["ran"] == 4 and counts["skipped"] == 8
    (tmp_path / ".chipstate.json").unlink()
    with pytest.raises(OutputError):
        run_sweep(toy_sweep(name="other"), tmp_path, workers=0, simulator=toy_simulator, progress=False)
