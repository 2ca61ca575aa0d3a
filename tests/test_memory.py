"""A worker's memory stays flat over many runs in one process (Mesa 3.3.1 keeps every
model alive through ``Agent._ids`` unless `runner.run_frames` releases it)."""

from __future__ import annotations

from experiments.bench.memory import worker_memory
from experiments.batch.runner import release_model, run_frames


def test_many_runs_in_one_process_keep_resident_memory_flat():
    # 300 short runs after a warm-up: unreleased, each keeps ~0.5 MiB (4-quarter runs)
    # alive, ~150 MiB in all; released, the growth stays under 20 MiB here.
    figures = worker_memory(300, steps=4, warmup=30, every=100)
    assert figures["growth_mib"] < 50, figures["path"]


def test_run_frames_returns_every_frame_and_release_is_harmless():
    frames = run_frames("state_allocation", 3, None, 2)
    assert len(frames["model"]) == 3 and "quarter" in frames["model"]
    release_model(object())  # a model Mesa never saw: nothing to drop, no error
