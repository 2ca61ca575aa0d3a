"""`chipstate bench scale`: how the step's cost grows with the world (a benchmark, not a test).

One run per size, each in a fresh interpreter (so that its peak memory is its own):
the historical scenario with `synthetic_firms` = 1k, 10k, 100k (and 20 synthetic
foundries, 10 synthetic vendors, so that only the long tail of firms grows), built, then
stepped STEPS quarters. It prints seconds per step, the supply relations (edges), the
share of step time inside the clearing kernel (`model.market.clear`, wafers and tools),
peak resident memory, the slope of log(step time) against log(edges), and the default
world's historical run (build + 48 quarters, best of three) against the targets of
issue 6. Timings on a shared machine are noisy: re-run before comparing.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np

from experiments import REPO_ROOT

SIZES = (1_000, 10_000, 100_000)
QUICK_SIZES = (1_000, 10_000)
SYNTHETIC_FOUNDRIES = 20
SYNTHETIC_VENDORS = 10
STEPS = 4
SCENARIO = "historical"
TARGETS = {"default_run_s": 0.030, "step_100k_s": 0.15, "slope": 1.0}
"""Issue 11's targets: a default run (build + 48 quarters) in 30 ms, a 100k-firm step
in 0.15 s, step time growing at most linearly with edges."""

_SIZE_PROBE = """
import json, resource, sys, time
import model.markets as mm  # the markets call the clearing kernel by this module's name
from model import ChipMarketModel

if __name__ == "__main__":
    firms, foundries, vendors, steps, scenario = (int(sys.argv[1]), int(sys.argv[2]),
                                                   int(sys.argv[3]), int(sys.argv[4]), sys.argv[5])
    clearing = [0.0]
    kernel = mm.clear

    def timed_clear(*args, **kwargs):  # measures the kernel; the result is the kernel's
        started = time.perf_counter()
        try:
            return kernel(*args, **kwargs)
        finally:
            clearing[0] += time.perf_counter() - started

    mm.clear = timed_clear
    started = time.perf_counter()
    model = ChipMarketModel(scenario=scenario, rng=1, synthetic_firms=firms,
                            synthetic_foundries=foundries, synthetic_vendors=vendors)
    build = time.perf_counter() - started
    step_times = []
    for _ in range(steps):
        started = time.perf_counter()
        model.step()
        step_times.append(time.perf_counter() - started)
    print(json.dumps({
        "firms": len(model.firms), "foundries": len(model.foundries), "vendors": len(model.vendors),
        "wafer_edges": len(model.trade.wafers), "tool_edges": len(model.trade.tools),
        "build_s": build, "step_s": step_times, "clearing_s": clearing[0],
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }))
"""

_DEFAULT_PROBE = """
import json, sys, time
from model import ChipMarketModel

if __name__ == "__main__":
    times, cpu = [], []
    for _ in range(int(sys.argv[2])):
        started, started_cpu = time.perf_counter(), time.process_time()
        ChipMarketModel(scenario=sys.argv[1], rng=1).run()
        times.append(time.perf_counter() - started)
        cpu.append(time.process_time() - started_cpu)
    print(json.dumps({"run_s": times, "cpu_s": cpu}))
"""


def _probe(code: str, *args) -> dict:
    result = subprocess.run(
        [sys.executable, "-c", code, *map(str, args)], capture_output=True, text=True, check=True,
        cwd=REPO_ROOT,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def loglog_slope(edges: list[float], seconds: list[float]) -> float:
    """Least-squares slope of log(seconds) on log(edges)."""
    return float(np.polyfit(np.log(edges), np.log(seconds), 1)[0])


def bench_scale(quick: bool = False) -> dict:
    """Seconds per step by world size, the log-log slope, clearing share, peak memory,
    and the default world's historical run time."""
    sizes = QUICK_SIZES if quick else SIZES
    steps = 2 if quick else STEPS
    print(f"scale: scenario {SCENARIO}, + {SYNTHETIC_FOUNDRIES} synthetic foundries and "
          f"{SYNTHETIC_VENDORS} vendors; mean of {steps} steps; one fresh process per size")
    print(f"  {'firms':>8} {'edges':>10} {'build s':>8} {'s/step':>8} {'clearing':>9} {'peak MiB':>9}")
    rows = []
    for n in sizes:
        r = _probe(_SIZE_PROBE, n, SYNTHETIC_FOUNDRIES, SYNTHETIC_VENDORS, steps, SCENARIO)
        r["edges"] = r["wafer_edges"] + r["tool_edges"]
        r["seconds_per_step"] = float(np.mean(r["step_s"]))
        r["clearing_share"] = r["clearing_s"] / sum(r["step_s"])
        rows.append(r)
        print(f"  {r['firms']:>8,} {r['edges']:>10,} {r['build_s']:>8.2f} {r['seconds_per_step']:>8.3f} "
              f"{r['clearing_share']:>8.1%} {r['peak_rss_mib']:>9.0f}")
    slope = loglog_slope([r["edges"] for r in rows], [r["seconds_per_step"] for r in rows])
    first, last = rows[0], rows[-1]
    endpoint = float(np.log(last["seconds_per_step"] / first["seconds_per_step"])
                     / np.log(last["edges"] / first["edges"]))
    print(f"  slope of log(step time) on log(edges), {first['firms']:,} -> {last['firms']:,} firms: "
          f"{slope:.2f} (least squares), {endpoint:.2f} (end points); target <= {TARGETS['slope']}")
    default = _probe(_DEFAULT_PROBE, SCENARIO, 5)
    best = min(default["run_s"])
    print(f"  default world, {SCENARIO}, build + 48 quarters: {best:.3f} s (best of 5 runs; "
          f"CPU {min(default['cpu_s']):.3f} s); target < {TARGETS['default_run_s']} s")
    verdict = {
        "default_run": best < TARGETS["default_run_s"],
        "slope": slope <= TARGETS["slope"],
    }
    if last["firms"] >= 100_000:
        verdict["step_100k"] = last["seconds_per_step"] < TARGETS["step_100k_s"]
        print(f"  100k firms: {last['seconds_per_step']:.3f} s per step; target < {TARGETS['step_100k_s']} s")
    print("  targets: " + ", ".join(f"{k} {'met' if v else 'MISSED'}" for k, v in verdict.items()))
    load = os.getloadavg()
    print(f"  load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {os.cpu_count()} CPUs "
          "(timings above are wall-clock; a busy machine inflates them)")
    return {"scenario": SCENARIO, "synthetic_foundries": SYNTHETIC_FOUNDRIES,
            "synthetic_vendors": SYNTHETIC_VENDORS, "steps": steps, "sizes": rows,
            "loglog_slope": slope, "loglog_slope_endpoints": endpoint,
            "default_historical_run_s": default["run_s"], "default_historical_cpu_s": default["cpu_s"],
            "load_average": load, "targets": TARGETS, "met": verdict}
