"""`chipstate`: the command line. Each command is a few lines over library functions.

Errors the user can fix (a bad scenario, sweep or value) print one line naming the
file, the field and what was expected, and exit with code 2; never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from experiments import RESULTS_DIR
from experiments.sweep import SweepError
from experiments.validate import DATA_FILE, DataFileError
from model.scenario import DEFAULT_SCENARIO, ScenarioError



def _overrides(items: list[str] | None) -> dict:
    from model.scenario import parse_assignment

    return dict(parse_assignment(item) for item in items or [])


# ---------------------------------------------------------------------- commands
def cmd_run(args: argparse.Namespace) -> int:
    import pandas as pd

    from experiments.run import run_scenario, summary_table

    output = run_scenario(args.scenario, args.seed, args.out, args.steps, _overrides(args.set))
    with pd.option_context("display.width", 160, "display.float_format", "{:,.3g}".format):
        print(summary_table(output.frames["model"]).to_string())
    print(f"\nwrote {output.path}/ (model, agent-type and ledger Parquet, graph.graphml, "
          f"figure.png, manifest.json)")
    return 0


def cmd_scenarios(args: argparse.Namespace) -> int:
    from model.scenario import list_scenarios, load_scenario

    for name in list_scenarios():
        scenario = load_scenario(name)
        print(f"{name:18s} {scenario.description}")
    return 0


# ---------------------------------------------------- calibration and validation
def cmd_validate(args: argparse.Namespace) -> int:
    import pandas as pd

    from experiments.validate import validate, write

    result = validate(args.scenario, args.seeds, args.data, overrides=_overrides(args.set))
    table = result.table
    spoken = table[table["speaks"]]
    columns = ["quantity", "entity", "period", "value", "model_mean", "model_p05", "model_p95",
               "error", "inside_band"]
    with pd.option_context("display.width", 200, "display.max_rows", 500, "display.max_colwidth", 38,
                           "display.float_format", "{:,.4g}".format):
        print(spoken[columns].to_string(index=False))
        print(f"\nrows the model cannot speak to ({(~table['speaks']).sum()}):")
        print(table.loc[~table["speaks"], ["quantity", "entity", "period", "reason"]].to_string(index=False))
        print("\nsummary by quantity (mae in the data's unit; inside = inside the 90% band):")
        print(result.summary.to_string(index=False))
    out = args.out or RESULTS_DIR / "validation" / Path(str(args.scenario)).stem
    paths = write(result, out)
    print(f"\nwrote {paths['table']} (and .csv), {paths['summary']}, {paths['projections']}, "
          f"{sum(k.startswith('figure') for k in paths)} figures in {out / 'figures'}")
    return 0


def cmd_calibrate(args: argparse.Namespace) -> int:
    from experiments.calibrate import calibrate, write_fitted

    done = [0]

    def progress(value: float) -> None:
        done[0] += 1
        if done[0] % 10 == 1:
            print(f"  evaluation {done[0]}: objective {value:.4g}", flush=True)

    fit = calibrate(args.data, args.max_evaluations, progress=progress)
    print(f"objective {fit.start_value:.4g} at the defaults -> {fit.objective_value:.4g} "
          f"after {fit.evaluations} evaluations over seeds {list(fit.seeds)}")
    for name, value in fit.values.items():
        print(f"  {name} = {value}")
    if args.dry_run:
        return 0
    print(f"wrote {write_fitted(fit)}")
    return 0


# ------------------------------------------------------------ experiments (sweeps)
def _executor(args: argparse.Namespace) -> dict:
    chosen = {"workers": args.workers, "scheduler": args.scheduler, "dask_local": args.dask_local}
    return {name: value for name, value in chosen.items() if value is not None}


def cmd_sweep(args: argparse.Namespace) -> int:
    from experiments.runner import default_out, run_sweep
    from experiments.store import RunStore
    from experiments.sweep import load_sweep

    sweep = load_sweep(args.file, {} if args.steps is None else {"steps": args.steps})
    out = args.out or default_out(sweep)
    if args.merge:
        if not (out / "manifest.json").is_file():
            raise SweepError(f"{out}: no sweep results to merge (run the sweep first)")
        parts = RunStore(out).merge()
        print(f"merged {out}/ into {len(parts)} file(s) under {out / 'merged'}/")
        return 0
    try:
        counts = run_sweep(sweep, out, load=False, retry_failed=args.retry_failed, **_executor(args))
    except OSError as exc:  # e.g. no Dask scheduler at that address
        raise SweepError(f"{args.scheduler or 'executor'}: {exc}") from None
    print(f"wrote {out}/: {counts['ok']} ok, {counts['failed']} failed of {counts['runs']} runs "
          f"({counts['ran']} run now, {counts['skipped']} already stored)")
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    from experiments.compare import compare

    result = compare(args.a, args.b, replicates=args.replicates, base_seed=args.seed,
                     steps=args.steps, out=args.out, **_executor(args))
    print(result.report())
    path = result.results.path / "comparison.csv"
    result.table.to_csv(path, index=False)
    print(f"wrote {path}")
    return 0


def cmd_sensitivity(args: argparse.Namespace) -> int:
    import pandas as pd

    from experiments.results import is_sweep_dir
    from experiments.sensitivity import sensitivity

    if not is_sweep_dir(args.sweep_dir):
        raise SweepError(f"{args.sweep_dir}: not a sweep folder (no design.parquet or runs/)")
    paths = sensitivity(args.sweep_dir, args.out)
    indices = pd.read_csv(paths["indices_csv"])
    with pd.option_context("display.width", 160, "display.float_format", "{:.3f}".format):
        print(indices.pivot_table(index=["outcome", "parameter"], columns="index",
                                  values=["value", "conf"], sort=False).to_string())
    print("wrote " + ", ".join(str(p) for p in paths.values()))
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    from experiments.bench import BENCHMARKS, run_benchmark

    if args.name not in BENCHMARKS:
        print(f"chipstate: error: no benchmark '{args.name}'; expected one of: "
              + ", ".join(sorted(BENCHMARKS)), file=sys.stderr)
        return 2
    run_benchmark(args.name, quick=args.quick)
    return 0


def cmd_viz(args: argparse.Namespace) -> int:
    """Serve the browser app: exec `solara run <repo>/app.py` on host:port."""
    import os

    app = Path(__file__).resolve().parent.parent / "app.py"
    if not app.is_file():
        print(f"chipstate: error: {app} not found: `chipstate viz` needs a source checkout "
              "(pip install -e .)", file=sys.stderr)
        return 2
    # --production: without it solara re-executes the app, resetting every open session,
    # whenever a file of the tree is saved
    command = [sys.executable, "-m", "solara", "run", str(app), "--host", args.host,
               "--port", str(args.port), "--no-open", "--production"]
    os.execv(sys.executable, command)
    return 0  # not reached


def _add_executor_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--workers", type=int, metavar="N",
                       help="local process pool size (default: the CPU count; 0 = in this process)")
    group.add_argument("--scheduler", metavar="ADDRESS", help="run on a Dask cluster, e.g. tcp://host:8786")
    group.add_argument("--dask-local", type=int, metavar="N",
                       help="run on a Dask LocalCluster of N workers on 127.0.0.1")


def _add_experiment_parsers(sub) -> None:
    sweep = sub.add_parser("sweep", help="run (or resume) a parameter sweep",
                           description="Run the runs of a sweep file not yet stored; each run is "
                           "written at once as its own Parquet file, so a killed sweep resumes.")
    sweep.add_argument("file", help="a sweep TOML file, or the name of one in experiments/sweeps/")
    sweep.add_argument("--out", type=Path, default=None,
                       help="output folder (default: results/sweeps/<sweep name>/)")
    sweep.add_argument("--steps", type=int, default=None, help="quarters per run (default: the sweep's)")
    sweep.add_argument("--merge", action="store_true",
                       help="compact the stored runs into a few files instead of running")
    sweep.add_argument("--retry-failed", action="store_true", help="run again the runs stored as failed")
    _add_executor_options(sweep)
    sweep.set_defaults(func=cmd_sweep)

    compare = sub.add_parser("compare", help="paired replicates of two scenarios",
                             description="Run scenarios A and B on the same seeds and report each "
                             "outcome's mean difference B - A with a 95%% t interval.")
    compare.add_argument("a", help="scenario A (e.g. historical)")
    compare.add_argument("b", help="scenario B (e.g. state_allocation)")
    compare.add_argument("--replicates", type=int, default=10, help="seeds (default: 10)")
    compare.add_argument("--seed", type=int, default=0, help="first seed (default: 0)")
    compare.add_argument("--steps", type=int, default=None, help="quarters per run (default: to 2030Q4)")
    compare.add_argument("--out", type=Path, default=None,
                         help="output folder (default: results/compare/<A>-vs-<B>/)")
    _add_executor_options(compare)
    compare.set_defaults(func=cmd_compare)

    sensitivity = sub.add_parser("sensitivity", help="Sobol/Morris indices of a finished sweep",
                                 description="Compute SALib indices from a finished sweep folder; "
                                 "save them (CSV, Parquet) and plot them.")
    sensitivity.add_argument("sweep_dir", type=Path, help="the sweep's output folder")
    sensitivity.add_argument("--out", type=Path, default=None,
                             help="output folder (default: SWEEP_DIR/sensitivity/)")
    sensitivity.set_defaults(func=cmd_sensitivity)

    bench = sub.add_parser("bench", help="benchmarks (bench sweep, bench scale)",
                           description="Run a benchmark and print what it measured.")
    bench.add_argument("name", help="which benchmark: sweep (sweep throughput) or scale "
                       "(step cost against world size)")
    bench.add_argument("--quick", action="store_true", help="a smaller, faster version")
    bench.set_defaults(func=cmd_bench)


# ------------------------------------------------------------------------ parser
def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="chipstate",
        description="An agent-based geopolitical market model of the semiconductor supply chain.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser("run", help="run one scenario and write its results and a figure",
                         description="Run one scenario; write Parquet frames, the ledger, "
                         "the trade graph, a figure and a manifest; print a summary.")
    run.add_argument("--scenario", default=DEFAULT_SCENARIO,
                     help="a shipped scenario name or a TOML path (default: state_allocation)")
    run.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    run.add_argument("--out", type=Path, default=None,
                     help="output folder (default: results/runs/<scenario>-seed<N>/)")
    run.add_argument("--steps", type=int, default=None, help="quarters to run (default: to 2030Q4)")
    run.add_argument("--set", action="append", metavar="KEY=VALUE",
                     help="override a parameter, e.g. --set reserved_share=0.5 or "
                     "--set world.synthetic_firms=1000 (repeatable)")
    run.set_defaults(func=cmd_run)

    scenarios = sub.add_parser("scenarios", help="list the shipped scenarios",
                               description="List the shipped scenarios, one line each.")
    scenarios.set_defaults(func=cmd_scenarios)

    validate = sub.add_parser("validate", help="the model against published figures",
                              description="Run a scenario over N seeds and compare it with every row "
                              "of a calibration table: data value, model mean and 90%% band, error; "
                              "rows the model cannot speak to are listed with the reason.")
    validate.add_argument("--scenario", default="historical", help="scenario (default: historical)")
    validate.add_argument("--seeds", type=int, default=10, help="seeds (default: 10)")
    validate.add_argument("--data", type=Path, default=DATA_FILE,
                          help="a CSV with columns quantity, entity, period, value, unit, source, note "
                          "(default: the project's copy, model/data/calibration.csv)")
    validate.add_argument("--out", type=Path, default=None,
                          help="output folder (default: results/validation/<scenario>/)")
    validate.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a parameter")
    validate.set_defaults(func=cmd_validate)

    calibrate = sub.add_parser("calibrate", help="fit the named uncertain parameters to in-sample data",
                               description="Fit the parameters listed in experiments/calibrate.py "
                               "(FREE) to the in-sample rows with scipy.optimize over common seeds, and "
                               "write them with their provenance to model/data/fitted_parameters.toml.")
    calibrate.add_argument("--data", type=Path, default=DATA_FILE, help="calibration table (CSV)")
    calibrate.add_argument("--max-evaluations", type=int, default=250,
                           help="objective evaluations at most (default: 250; ~0.6 s each)")
    calibrate.add_argument("--dry-run", action="store_true", help="fit and print, write nothing")
    calibrate.set_defaults(func=cmd_calibrate)

    viz = sub.add_parser("viz", help="the browser app: the policy lab (Mesa SolaraViz)",
                         description="Serve the browser app (app.py) with solara; open the "
                         "address it prints. Each browser tab gets its own model.")
    viz.add_argument("--port", type=int, default=8765, help="port (default: 8765)")
    viz.add_argument("--host", default="127.0.0.1",
                     help="address to listen on (default: 127.0.0.1, this machine only)")
    viz.set_defaults(func=cmd_viz)
    _add_experiment_parsers(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (ScenarioError, SweepError, DataFileError) as exc:
        print(f"chipstate: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
