"""`chipstate bench sweep`: `chipstate sweep`'s throughput against `mesa.batch_run` on
the same runs, both timed as whole commands from start to finish; the sweep's overhead
beyond the model runs themselves (the sum of the runs' model time against wall time x
workers); and the parent process's memory over many runs. A benchmark, not a test."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

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


def sweep_toml(samples: int, replicates: int, steps: int | None, name: str = "bench") -> str:
    """`bench_sweep_definition` as a sweep file (what `chipstate sweep` reads)."""
    sweep = bench_sweep_definition(samples, replicates, steps, name)
    values = ", ".join(repr(v) for v in sweep.parameters["reserved_share"].values)
    return "\n".join([
        "[sweep]", f'name = "{name}"', f'scenario = "{SCENARIO}"',
        *([f"steps = {steps}"] if steps is not None else []),
        "", "[design]", 'kind = "grid"', "", "[seeds]", f"replicates = {replicates}", "base = 0",
        "", "[parameters.reserved_share]", f"values = [{values}]",
        "", "[[outcomes]]", 'name = "huawei_ai_dies_last"', 'reporter = "huawei_ai_dies"',
        'stat = "value"', 'at = "last"', "",
    ])


def _chipstate() -> list[str]:
    """The `chipstate` command of this environment (the console script beside this
    interpreter, else ``python -m experiments.cli``)."""
    script = os.path.join(os.path.dirname(sys.executable), "chipstate")
    return [script] if os.path.isfile(script) else [sys.executable, "-m", "experiments.cli"]


def _timed_command(command: list[str]) -> tuple[float, str]:
    """Wall-clock seconds of a whole command, start to finish, and its output."""
    started = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True, cwd=REPO_ROOT)
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed: {result.stderr[-2000:]}")
    return elapsed, result.stdout


def timed_sweep_command(sweep_file: Path, out: Path, workers: int) -> dict:
    """`chipstate sweep FILE --workers N --out OUT` timed as a whole command, with the
    sum of its runs' model time (each run's `elapsed_s`: build, run, outcomes)."""
    from experiments.batch.results import load_sweep_results

    command = [*_chipstate(), "sweep", str(sweep_file), "--workers", str(workers), "--out", str(out)]
    seconds, _ = _timed_command(command)
    results = load_sweep_results(out)
    if len(results.failed):
        raise RuntimeError(f"benchmark sweep had {len(results.failed)} failed runs, "
                           f"e.g. {results.failed['error'].iloc[0]}")
    return {"command": " ".join(["chipstate", *command[len(_chipstate()):]]), "seconds": seconds,
            "runs": len(results.runs), "model_seconds": float(results.runs["elapsed_s"].sum())}


BATCH_RUN_SCRIPT = """
import inspect, json, sys, time

if __name__ == "__main__":  # batch_run's processes are spawned: they re-import this file
    import mesa
    from model import ChipMarketModel

    spec = json.loads(sys.argv[1])
    parameters = {"scenario": spec["scenario"], "reserved_share": spec["values"]}
    if spec["end"] is not None:
        parameters["end"] = spec["end"]  # the model stops itself there (model.running)
    kwargs = {}
    if "rng" in inspect.signature(mesa.batch_run).parameters:  # Mesa 3.4+: seeds as rng=[...]
        kwargs["rng"] = spec["seeds"]
    else:  # Mesa 3.3.1: seeds as a swept 'rng' parameter
        parameters["rng"] = spec["seeds"]
    # max_steps stays at its default (1000): every run ends at the scenario's last quarter
    # (or `end`), where the model stops itself, on Mesa 3.3.1 and 3.4+ alike.
    rows = mesa.batch_run(ChipMarketModel, parameters, number_processes=spec["processes"],
                          data_collection_period=-1, display_progress=False, **kwargs)
    # Mesa 3.4+ gives a row per agent of each run: count runs, not rows.
    runs = {(r["reserved_share"], r["rng"]) for r in rows}
    quarters = {r["quarter"] for r in rows}
    print(json.dumps({"rows": len(rows), "runs": len(runs), "quarters": sorted(quarters)}))
"""


def timed_batch_run_command(sweep: Sweep, processes: int, folder: Path) -> dict:
    """`mesa.batch_run` on the same runs (same scenario, reserved_share values, seeds and
    last quarter), timed as a whole command: ``python batch_run_bench.py SPEC``."""
    from model.scenario import load_scenario
    from model.technology import parse_quarter, quarter_label

    end = None
    if sweep.steps is not None:
        first = parse_quarter(load_scenario(SCENARIO).parameters.start)
        end = quarter_label(first + sweep.steps - 1)
    spec = {"scenario": SCENARIO, "values": list(sweep.parameters["reserved_share"].values),
            "seeds": sweep.seed_list(), "end": end, "processes": processes}
    script = folder / "batch_run_bench.py"
    script.write_text(BATCH_RUN_SCRIPT)
    seconds, output = _timed_command([sys.executable, str(script), json.dumps(spec)])
    found = json.loads(output.strip().splitlines()[-1])
    expected = len(spec["values"]) * len(spec["seeds"])
    if found["runs"] != expected:
        raise RuntimeError(f"batch_run made {found['runs']} runs, expected {expected}")
    return {"command": f"python {script.name} '{json.dumps(spec)}' (mesa.batch_run, {processes} processes)",
            "seconds": seconds, "runs": found["runs"], "last_quarters": found["quarters"]}


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
        [sys.executable, "-m", "experiments.bench.sweep", str(runs), str(steps)],
        capture_output=True, text=True, check=True, cwd=REPO_ROOT,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def bench_sweep(quick: bool = False) -> dict:
    """Sweep throughput against mesa.batch_run, each timed as a whole command; the
    sweep's overhead beyond model time; parent memory over many runs."""
    samples, replicates = (4, 4) if quick else (5, 8)
    steps = 12 if quick else None
    sweep = bench_sweep_definition(samples, replicates, steps)
    n = samples * replicates
    length = f"{steps} quarters" if steps else "48 quarters (2019Q1-2030Q4)"
    load = os.getloadavg()
    print(f"machine: {os.cpu_count()} CPUs, load average {load[0]:.1f} (1 min) at start; other "
          "processes competing for the CPUs lower the 2-worker figures")
    print(f"sweep throughput: {n} runs of {length}, scenario {SCENARIO}, grid over reserved_share; "
          "each timed as a whole command, start to finish (interpreter, imports, workers, writing)")
    with tempfile.TemporaryDirectory(prefix="chipstate-bench-") as tmp:
        folder = Path(tmp)
        sweep_file = folder / "bench.toml"
        sweep_file.write_text(sweep_toml(samples, replicates, steps))
        one = timed_sweep_command(sweep_file, folder / "one", 1)
        two = timed_sweep_command(sweep_file, folder / "two", 2)
        batch = timed_batch_run_command(sweep, 2, folder)
    t1, t2, tb = one["seconds"], two["seconds"], batch["seconds"]
    print(f"  {one['command']}")
    print(f"      {t1:7.2f} s  {n / t1:6.2f} runs/s")
    print(f"  {two['command']}")
    print(f"      {t2:7.2f} s  {n / t2:6.2f} runs/s  (speed-up {t1 / t2:.2f}x over 1 worker)")
    print(f"  {batch['command']}")
    print(f"      {tb:7.2f} s  {n / tb:6.2f} runs/s  (every run ends at {', '.join(batch['last_quarters'])})")
    ratio = tb / t2
    print(f"  throughput, chipstate sweep / mesa.batch_run, 2 processes each: {ratio:.2f}x (target >= 1.5x; "
          "chipstate also writes one Parquet file per run, batch_run keeps everything in memory)")
    overhead = 1 - two["model_seconds"] / (t2 * 2)
    overhead_one = 1 - one["model_seconds"] / t1
    print(f"  sweep overhead beyond model time, 1 - (sum of the runs' model time) / (wall x workers): "
          f"{overhead:.0%} with 2 workers ({two['model_seconds']:.2f} s of runs in {t2:.2f} s x 2), "
          f"{overhead_one:.0%} with 1 ({one['model_seconds']:.2f} s in {t1:.2f} s); target <= 10%")
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
        "sweep_1_worker": one, "sweep_2_workers": two, "batch_run_2_processes": batch,
        "throughput_ratio_vs_batch_run": ratio, "overhead_2_workers": overhead,
        "overhead_1_worker": overhead_one, "memory": {str(k): v for k, v in memory.items()},
    }


if __name__ == "__main__":
    # `python -m experiments.bench.sweep RUNS STEPS`: the fresh parent process whose
    # memory `bench sweep` measures (the guard matters: workers are spawned).
    print(json.dumps(memory_probe(int(sys.argv[1]), int(sys.argv[2]))))
