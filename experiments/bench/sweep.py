"""`chipstate bench sweep`: a sweep's throughput against `mesa.batch_run` on the same
runs, and the parent process's memory over many runs (a benchmark, not a test)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time

from experiments import REPO_ROOT
from experiments.batch.runner import run_sweep
from experiments.batch.sweep import Outcome, Sweep, build_sweep

SCENARIO = "state_allocation"


def bench_sweep_definition(samples: int, replicates: int, steps: int | None, name: str = "bench") -> Sweep:
    """`samples` values of reserved_share in [0, 1] x `replicates` seeds, one outcome."""
    values = [round(i / max(samples - 1, 1), 6) for i in range(samples)]
    return build_sweep(
        name=name, scenario=SCENARIO, steps=steps, design={"kind": "grid"},
        seeds={"replicates": replicates, "base": 0},
        parameters={"reserved_share": {"values": values}},
        outcomes=[Outcome(name="huawei_ai_dies_last", reporter="huawei_ai_dies", stat="value", at="last")],
    )


def _timed_sweep(sweep: Sweep, workers: int) -> float:
    """Seconds to run `sweep` from scratch with a pool of `workers` (store included)."""
    from experiments.batch.results import load_sweep_results

    with tempfile.TemporaryDirectory(prefix="chipstate-bench-") as out:
        started = time.perf_counter()
        counts = run_sweep(sweep, out, workers=workers, progress=False, load=False)
        elapsed = time.perf_counter() - started
        if counts["failed"]:
            first = load_sweep_results(out).failed["error"].iloc[0]
            raise RuntimeError(f"benchmark sweep had {counts['failed']} failed runs, e.g. {first}")
    return elapsed


def _timed_batch_run(sweep: Sweep, processes: int) -> float:
    """Seconds for mesa.batch_run to make the same runs (model frames kept in memory)."""
    import mesa

    from model import ChipMarketModel

    values = [v for v in sweep.parameters["reserved_share"].values]
    # batch_run's max_steps = n makes n + 1 steps; without `steps` the model stops
    # itself at the scenario's end (model.running).
    max_steps = 10_000 if sweep.steps is None else sweep.steps - 1
    started = time.perf_counter()
    rows = mesa.batch_run(
        ChipMarketModel,
        parameters={"scenario": SCENARIO, "reserved_share": values, "rng": sweep.seed_list()},
        number_processes=processes, iterations=1, max_steps=max_steps,
        data_collection_period=-1, display_progress=False,
    )
    elapsed = time.perf_counter() - started
    expected = len(values) * len(sweep.seed_list())
    if len(rows) != expected:
        raise RuntimeError(f"batch_run returned {len(rows)} rows, expected {expected}")
    return elapsed


def memory_probe(runs: int, steps: int) -> dict:
    """Run a sweep of `runs` runs of `steps` quarters with 2 workers in this process.

    Returns its duration, this process's resident memory just before the sweep, the
    highest resident memory sampled every 20 ms during it (MiB), and the lifetime
    high-water mark (ru_maxrss, MiB), which imports may dominate.
    """
    import resource
    import threading

    import psutil  # a dependency of dask.distributed

    process = psutil.Process()
    sweep = bench_sweep_definition(10, runs // 10, steps, name=f"memory{runs}")
    before = process.memory_info().rss
    peak = [before]
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.02):
            peak[0] = max(peak[0], process.memory_info().rss)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    with tempfile.TemporaryDirectory(prefix="chipstate-bench-") as out:
        started = time.perf_counter()
        counts = run_sweep(sweep, out, workers=2, progress=False, load=False)
        elapsed = time.perf_counter() - started
    done.set()
    sampler.join()
    mib = 1024 * 1024
    return {"runs": counts["runs"], "failed": counts["failed"], "seconds": elapsed,
            "rss_before_mib": before / mib, "rss_peak_during_mib": peak[0] / mib,
            "ru_maxrss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def _parent_peak_memory(runs: int, steps: int) -> dict:
    """Peak RSS of a fresh parent process that runs a sweep of `runs` short runs."""
    # A fresh process each time: ru_maxrss is a high-water mark over a process's life.
    result = subprocess.run(
        [sys.executable, "-m", "experiments.bench", "memory-probe", str(runs), str(steps)],
        capture_output=True, text=True, check=True, cwd=REPO_ROOT,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def bench_sweep(quick: bool = False) -> dict:
    """Sweep throughput (1 and 2 workers), against mesa.batch_run, and parent memory."""
    runs_grid = (4, 4) if quick else (5, 8)  # samples x seeds
    steps = 12 if quick else None
    sweep = bench_sweep_definition(*runs_grid, steps)
    n = runs_grid[0] * runs_grid[1]
    length = f"{steps} quarters" if steps else "48 quarters (2019Q1-2030Q4)"
    load = os.getloadavg()
    print(f"machine: {os.cpu_count()} CPUs, load average {load[0]:.1f} (1 min) at start; other "
          "processes competing for the CPUs lower the 2-worker figures")
    print(f"sweep throughput: {n} runs of {length}, scenario {SCENARIO}, grid over reserved_share")
    t1 = _timed_sweep(sweep, 1)
    t2 = _timed_sweep(sweep, 2)
    efficiency = t1 / (2 * t2)
    print(f"  chipstate sweep, 1 worker : {t1:7.2f} s  {n / t1:6.2f} runs/s")
    print(f"  chipstate sweep, 2 workers: {t2:7.2f} s  {n / t2:6.2f} runs/s  "
          f"(speed-up {t1 / t2:.2f}x, parallel efficiency {efficiency:.0%})")
    tb = _timed_batch_run(sweep, 2)
    print(f"  mesa.batch_run, 2 procs   : {tb:7.2f} s  {n / tb:6.2f} runs/s  "
          f"(chipstate/batch_run throughput ratio {tb / t2:.2f}; chipstate also writes one "
          "Parquet file per run, batch_run keeps everything in memory)")
    memory_steps = 2
    print(f"parent peak memory (fresh process, 2 workers, short runs of {memory_steps} quarters):")
    memory = {}
    for runs in ((250, 500) if quick else (250, 1000)):
        probe = _parent_peak_memory(runs, memory_steps)
        memory[runs] = probe
        print(f"  {runs:5d} runs: RSS before {probe['rss_before_mib']:6.1f} MiB, peak during the sweep "
              f"{probe['rss_peak_during_mib']:6.1f} MiB (sampled every 20 ms), {probe['seconds']:.1f} s, "
              f"{probe['failed']} failed")
    small, large = (memory[k]["rss_peak_during_mib"] for k in sorted(memory))
    print(f"  peak growth from {min(memory)} to {max(memory)} runs: {large - small:+.1f} MiB")
    return {
        "runs": n, "steps": steps or 48, "cpus": os.cpu_count(), "load_average_at_start": load[0],
        "seconds_1_worker": t1, "seconds_2_workers": t2, "parallel_efficiency": efficiency,
        "seconds_batch_run_2_processes": tb, "memory": {str(k): v for k, v in memory.items()},
    }


if __name__ == "__main__":
    # `python -m experiments.bench.sweep RUNS STEPS`: the fresh parent process whose
    # memory `bench sweep` measures (the guard matters: workers are spawned).
    print(json.dumps(memory_probe(int(sys.argv[1]), int(sys.argv[2]))))
