"""A worker's memory stays flat over many runs in one process (Mesa 3.3.1 keeps every
model alive through ``Agent._ids`` unless `runner.run_frames` releases it)."""

from __future__ import annotations

import json
import subprocess
import sys

from experiments.batch.runner import release_model, run_frames


def test_many_runs_in_one_process_keep_resident_memory_flat():
    # 300 short runs after a warm-up: unreleased, each keeps ~0.5 MiB (4-quarter runs)
    # alive, ~150 MiB in all; released, the growth stays under 20 MiB here. Measured in
    # a fresh process, as a sweep worker is one: a pytest worker that has run hundreds
    # of other tests first grew 12-24 MiB per 100 runs (CI, 2026-12-02) though the same
    # runs in a fresh process grow ~8 MiB in all.
    code = ("import json; from experiments.bench.memory import worker_memory; "
            "print(json.dumps(worker_memory(300, steps=4, warmup=30, every=100)))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600, check=True)
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    assert figures["growth_mib"] < 50, figures["path"]


def test_run_frames_returns_every_frame_and_release_is_harmless():
    frames = run_frames("state_allocation", 3, None, 2)
    assert len(frames["model"]) == 3 and "quarter" in frames["model"]
    release_model(object())  # a model Mesa never saw: nothing to drop, no error
