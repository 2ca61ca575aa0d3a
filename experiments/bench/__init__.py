"""Benchmarks (not tests): `chipstate bench NAME`, one module per benchmark.

`BENCHMARKS` is the registry: a name -> the module that holds its function
``(quick: bool) -> dict``. The CLI offers every name in it, so adding a benchmark is
adding a module and an entry. Each prints what it measured and the command that gives
it; the figures also go to results/bench/<name>.json. Timings on a shared machine are
noisy: read them as orders of magnitude, and re-run before comparing.

- sweep: `chipstate sweep` throughput against `mesa.batch_run` on the same runs,
  the sweep's overhead beyond model time (whole command, and per extra run), the fixed
  cost of a sweep command, the parent's memory (`experiments.bench.sweep`);
- scale: step cost against world size, the default world's run time (`experiments.bench.scale`);
- memory: a worker's memory over many runs (`experiments.bench.memory`).
"""

from __future__ import annotations

import importlib
import json
from pathlib import Path

from experiments import RESULTS_DIR

BENCHMARKS: dict[str, tuple[str, str]] = {
    "sweep": ("experiments.bench.sweep", "bench_sweep"),
    "scale": ("experiments.bench.scale", "bench_scale"),
    "memory": ("experiments.bench.memory", "bench_memory"),
}
"""Benchmark name -> (module, function); modules are imported only when their benchmark runs."""


def run_benchmark(name: str, quick: bool = False) -> Path:
    """Run one benchmark by name, print its figures, save them as JSON; return the path."""
    module, function = BENCHMARKS[name]
    print(f"command: chipstate bench {name}{' --quick' if quick else ''}")
    figures = getattr(importlib.import_module(module), function)(quick)
    out = RESULTS_DIR / "bench"
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{name}.json"
    path.write_text(json.dumps({"benchmark": name, "quick": quick, **figures}, indent=2))
    print(f"wrote {path}")
    return path
