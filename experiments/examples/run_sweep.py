"""Example: a sweep built in code, run from a script, analysed with pandas.

How much of SMIC's advanced capacity should the state reserve for Huawei? Sweep the
directive's reserved share, with the same seeds for every value (common random
numbers), and print what each share gives Huawei and leaves the other Chinese firms.

    python experiments/examples/run_sweep.py                 # 2019Q1-2030Q4, 4 seeds
    python experiments/examples/run_sweep.py --steps 12 --replicates 2

Re-running it resumes: stored runs are not run again. The `__main__` guard is needed:
`import mesa` makes worker processes start by "spawn", which re-imports this file.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # run from a checkout

from experiments.batch.runner import run_sweep  # noqa: E402
from experiments.batch.sweep import build_sweep  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=None, help="default: results/sweeps/example_reserved_share/")
    parser.add_argument("--steps", type=int, default=None, help="quarters per run (default: to 2030Q4)")
    parser.add_argument("--replicates", type=int, default=4)
    parser.add_argument("--workers", type=int, default=None, help="default: the CPU count")
    args = parser.parse_args()

    sweep = build_sweep(
        name="example_reserved_share",
        scenario="state_allocation",
        steps=args.steps,
        design={"kind": "grid"},
        seeds={"replicates": args.replicates, "base": 0},
        parameters={"reserved_share": {"values": [0.0, 0.25, 0.5, 0.75, 1.0]}},
        outcomes=[
            # Whole-run windows and the last quarter, so any --steps works.
            {"name": "huawei_ai_dies_total", "reporter": "huawei_ai_dies", "stat": "sum"},
            {"name": "huawei_fulfilment_last", "reporter": "huawei_fulfilment", "stat": "value", "at": "last"},
            {"name": "other_china_fulfilment_last", "reporter": "other_china_fulfilment",
             "stat": "value", "at": "last"},
        ],
        series=["huawei_ai_dies"],
    )
    results = run_sweep(sweep, args.out, workers=args.workers)
    print(f"{len(results.ok)} runs ok, {len(results.failed)} failed; stored in {results.path}")
    table = results.sample_means()
    columns = ["reserved_share", "replicates", "huawei_ai_dies_total", "huawei_fulfilment_last",
               "other_china_fulfilment_last"]
    print(table[columns].to_string(index=False, float_format="{:,.3f}".format))


if __name__ == "__main__":
    main()
