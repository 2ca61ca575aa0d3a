"""`chipstate bench memory`: a worker's memory over many runs in one process, with and
without releasing each model (Mesa 3.3.1 keeps every model alive); a benchmark, not a
test."""

from __future__ import annotations

import time

SCENARIO = "state_allocation"


def rss_mib() -> float:
    """This process's resident memory now, MiB (VmRSS; psutil where /proc is absent)."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    import psutil

    return psutil.Process().memory_info().rss / (1024 * 1024)


def worker_memory(runs: int, steps: int = 4, warmup: int = 30, release: bool = True,
                  every: int = 100) -> dict:
    """Resident memory growth of this process over `runs` model runs, one after another.

    What a sweep worker, a validation or a calibration does: `runner.run_frames`
    (build, run `steps` quarters, take the frames, release the model). Measured after
    `warmup` runs (imports, caches, allocator pools). `release=False` skips the release
    (what Mesa 3.3.1 does unaided). Returns the growth (MiB) every `every` runs.
    """
    from experiments.batch import runner

    def one(seed: int) -> None:
        if release:
            runner.run_frames(SCENARIO, seed, None, steps)
        else:
            from model import ChipMarketModel

            ChipMarketModel(scenario=SCENARIO, rng=seed).run(steps=steps).frames()

    for seed in range(warmup):
        one(seed)
    before = rss_mib()
    started = time.perf_counter()
    path = []
    for i in range(runs):
        one(warmup + i)
        if (i + 1) % every == 0 or i + 1 == runs:
            path.append((i + 1, rss_mib() - before))
    elapsed = time.perf_counter() - started
    return {"runs": runs, "steps": steps, "warmup": warmup, "release": release,
            "rss_before_mib": before, "growth_mib": path[-1][1], "path": path,
            "seconds": elapsed, "ms_per_run": 1000 * elapsed / runs}


def bench_memory(quick: bool = False) -> dict:
    """A worker's memory over many runs in one process, with and without the release."""
    runs = 200 if quick else 1000
    steps = 4
    print(f"worker memory: {runs} runs of {steps} quarters ({SCENARIO}) one after another in one "
          f"process (runner.run_frames), after a warm-up of 30 runs")
    released = worker_memory(runs, steps, release=True)
    for done, growth in released["path"]:
        print(f"  after {done:5d} runs: RSS {growth:+7.1f} MiB")
    print(f"  growth over {runs} runs: {released['growth_mib']:+.1f} MiB "
          f"({released['seconds']:.1f} s, {released['ms_per_run']:.0f} ms a run); the bound is 50 MiB")
    # Mesa 3.3.1 without the release, on fewer runs (each keeps its model alive).
    leak_runs = 50 if quick else 200
    leaked = worker_memory(leak_runs, steps, warmup=0, release=False, every=leak_runs)
    per_run = 1024 * leaked["growth_mib"] / leak_runs
    print(f"  without releasing the model: {leaked['growth_mib']:+.1f} MiB over {leak_runs} runs "
          f"({per_run:.0f} KiB a run; 0 expected on Mesa 3.4.2+)")
    return {"released": released, "unreleased": leaked}



