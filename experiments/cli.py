"""`chipstate`: the command line. Each command is a few lines over library functions.

Each command imports its own modules when it runs, so `chipstate --help` (and a bad
flag) loads neither Mesa nor pandas. Errors the user can fix (a bad scenario, sweep
or value) print one line naming the file, the field and what was expected, and exit
with code 2; never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

USER_ERRORS = (
    ("model.scenario", "ScenarioError"),
    ("experiments.batch.sweep", "SweepError"),
    ("experiments.calibration.observed", "DataFileError"),
    ("experiments.outputs", "OutputError"),
    ("experiments.analysis.discovery", "DiscoveryError"),
    ("model.priors", "PriorsError"),
    ("experiments.posterior", "PosteriorError"),
    ("experiments.calibration.inference", "InferenceError"),
    ("experiments.ensemble", "EnsembleError"),
)
"""Errors the user can fix (module, class): one line, exit code 2. Named, not imported:
an error can only be raised once its module is loaded, so `_user_error` looks only at
the modules already in `sys.modules`."""

DEFAULT_SCENARIO_TEXT = "state_allocation"
"""The default scenario as --help shows it; `run` resolves the real default
(`model.scenario.DEFAULT_SCENARIO`) only when it runs (tests/test_imports.py checks
they agree)."""

POSTERIOR_FILE_TEXT = "model/data/posterior.csv"
"""The default posterior ensemble as --help shows it (`experiments.posterior.POSTERIOR_FILE`)."""

DATA_FILE_TEXT = "model/data/calibration.csv"
"""The default calibration table as --help shows it (`experiments.calibration.observed.DATA_FILE`)."""


def _user_error(exc: BaseException) -> bool:
    """Whether `exc` is one of `USER_ERRORS` (of a module already loaded)."""
    for module, name in USER_ERRORS:
        loaded = sys.modules.get(module)
        if loaded is not None and isinstance(exc, getattr(loaded, name)):
            return True
    return False


def _sweep_error(message: str) -> Exception:
    from experiments.batch.sweep import SweepError

    return SweepError(message)


def _data_file(args: argparse.Namespace) -> Path:
    from experiments.calibration.observed import DATA_FILE

    return DATA_FILE if args.data is None else args.data


class _Parser(argparse.ArgumentParser):
    """argparse, with a bad flag reported on one line (the flag, what was expected)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _window(text: str) -> tuple[str, str]:
    """An argparse type: a who-gains window (`experiments.compare.parse_window`), refused on one line."""
    from experiments.compare import parse_window

    try:
        return parse_window(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _count(minimum: int):
    """An argparse type: a whole number >= `minimum`, refused on one line otherwise."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"expected a whole number >= {minimum}, got {value}")
        return value
    parse.__name__ = f"whole number >= {minimum}"
    return parse


positive, non_negative = _count(1), _count(0)


def _number(text: str) -> float:
    """An argparse type: a finite number (1e6, -0.5), refused on one line otherwise."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    return value


def _fraction(text: str) -> float:
    """An argparse type: a number in (0, 1], refused on one line otherwise."""
    value = _number(text)
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"expected a number in (0, 1], got {text!r}")
    return value



def _overrides(items: list[str] | None) -> dict:
    from model.scenario import parse_assignments

    return parse_assignments(items or [])


# ---------------------------------------------------------------------- commands
def _posterior(args: argparse.Namespace):
    """The posterior ensemble of --posterior (default: model/data/posterior.csv), loaded
    and checked (a PosteriorError, one line, otherwise)."""
    from experiments.posterior import POSTERIOR_FILE, load_posterior

    return load_posterior(POSTERIOR_FILE if args.posterior is None else args.posterior)


def _only_with_ensemble(args: argparse.Namespace, flags: dict[str, object]) -> None:
    """Refuse, on one line, flags that mean something only with --ensemble."""
    from experiments.ensemble import EnsembleError

    for flag, value in flags.items():
        if value is not None and value is not False:
            raise EnsembleError(f"{flag}: only with --ensemble N; expected --ensemble, or no {flag}")


def cmd_run(args: argparse.Namespace) -> int:
    if args.ensemble is not None:
        return _run_ensemble(args)
    _only_with_ensemble(args, {"--replicates": args.replicates, "--posterior": args.posterior,
                               "--workers": args.workers, "--scheduler": args.scheduler,
                               "--dask-local": args.dask_local})
    import pandas as pd

    from experiments.run import run_scenario, summary_table
    from model.scenario import DEFAULT_SCENARIO

    scenario = DEFAULT_SCENARIO if args.scenario is None else args.scenario
    output = run_scenario(scenario, args.seed, args.out, args.steps, _overrides(args.set),
                          overwrite=args.overwrite)
    with pd.option_context("display.width", 160, "display.float_format", "{:,.3g}".format):
        print(summary_table(output.frames["model"]).to_string())
    print(f"\nwrote {output.path}/ (model, agent-type and ledger Parquet, graph.graphml, "
          f"figure.png, manifest.json)")
    if output.replaced:
        print(f"replaced the earlier run in {output.path}/ ({output.replaced})")
    return 0


def _run_ensemble(args: argparse.Namespace) -> int:
    from experiments.ensemble import EnsembleError, summary_text
    from experiments.run import write_ensemble_run
    from experiments.posterior import POSTERIOR_FILE
    from model.scenario import DEFAULT_SCENARIO

    if args.set:
        raise EnsembleError("--set: not with --ensemble (each draw sets the uncertain parameters); "
                            "expected a scenario file for other levers")
    scenario = DEFAULT_SCENARIO if args.scenario is None else args.scenario
    k = 2 if args.replicates is None else args.replicates
    ensemble = _posterior(args)
    output = write_ensemble_run(scenario, ensemble, args.ensemble, k, args.seed, args.steps, args.out,
                                overwrite=args.overwrite, default_posterior=POSTERIOR_FILE, **_executor(args))
    print(summary_text(output.summary, args.ensemble, k))
    if output.runs.failed:
        print(f"{output.runs.failed} of {args.ensemble * k} runs failed (kept in ensemble.parquet with their error)")
    print(f"\nwrote {output.path}/ (ensemble.parquet: {', '.join(output.manifest['columns'])} per draw, seed and "
          "quarter; draws.parquet; bands.csv; figure.png; manifest.json)")
    if output.replaced:
        print(f"replaced the earlier ensemble in {output.path}/ ({output.replaced})")
    return 0


def cmd_scenarios(args: argparse.Namespace) -> int:
    from model.scenario import list_scenarios, load_scenario

    names = list_scenarios()
    width = max((len(name) for name in names), default=0)
    for name in names:
        print(f"{name:{width}s}  {load_scenario(name).description}")
    return 0


# ---------------------------------------------------- calibration and validation
def cmd_validate(args: argparse.Namespace) -> int:
    from experiments.outputs import claim, mark, validation_folder, validation_settings
    from experiments.calibration.observed import DATA_FILE
    from experiments.calibration.validate import (
        ensemble_settings, held_back_window, report, validate, validate_ensemble, write,
    )

    data = _data_file(args)
    overrides = _overrides(args.set)
    ensemble, described = None, None
    if args.ensemble is not None:
        from experiments.posterior import POSTERIOR_FILE, load_posterior

        # before anything is claimed: a bad posterior (a PosteriorError, one line) writes nothing
        ensemble = load_posterior(POSTERIOR_FILE if args.posterior is None else args.posterior)
        held_back_window(ensemble)
        described = ensemble_settings(ensemble, args.ensemble, args.seed)
    settings = validation_settings(args.scenario, args.seeds, data, overrides, described)
    out = args.out or validation_folder(args.scenario, args.seeds, data, overrides, DATA_FILE, described)
    claim(out, "validation", settings, overwrite=args.overwrite)  # before the runs, not after
    if ensemble is None:
        result = validate(args.scenario, args.seeds, data, overrides=overrides)
    else:
        result = validate_ensemble(ensemble, args.ensemble, args.scenario, args.seeds, data,
                                   sample_seed=args.seed, overrides=overrides, workers=args.workers)
    print(report(result, show_all=getattr(args, "all", False)))
    mark(out, "validation", settings)
    paths = write(result, out)
    extra = f", {paths['coverage']} and {paths['coverage_figure']}" if "coverage" in paths else ""
    print(f"\nwrote {paths['table']} (and .csv), {paths['summary']}, {paths['projections']}{extra}, "
          f"{sum(k.startswith('figure') for k in paths)} figures in {out / 'figures'}")
    return 0


def cmd_calibrate(args: argparse.Namespace) -> int:
    if args.point:
        return _calibrate_point(args)
    if args.max_evaluations is not None:
        raise _calibrate_error("--max-evaluations: applies to the point fit only; expected it with --point")
    from experiments.calibration.inference import Settings, default_folder, infer, write_posterior
    from experiments.tables import number
    from experiments.posterior import POSTERIOR_FILE

    from experiments.calibration.observed import read_data

    read_data(_data_file(args))  # a bad table is one line here, before any run
    window = (None, None) if args.hold_back == "none" else tuple(args.hold_back.split("-"))
    settings = Settings(population=args.population, generations=args.generations, seed=args.seed,
                        held_back_from=window[0], held_back_to=window[1],
                        data_file=str(_data_file(args)))
    folder = args.out or default_folder(settings)
    result = infer(settings, folder, overwrite=args.overwrite, **_executor(args))
    print(result.generations.to_string(index=False))
    p = result.provenance
    print(f"\nABC-SMC: {p['generations']} generations of {p['population']} particles, {p['simulations']} "
          f"simulations; final epsilon {number(p['epsilons'][-1])}; effective sample size "
          f"{number(p['effective_sample_size'])}; rows fitted {len(p['rows'])}, held back "
          f"{p['held_back_from'] or 'none'}-{p['held_back_to'] or ''}")
    from experiments.posterior import Ensemble

    ensemble = Ensemble(POSTERIOR_FILE, result.draws, result.weights / result.weights.sum())
    summary = ensemble.summary().set_index("name").loc[list(p["fitted"])]
    print("\nposterior of the fitted parameters (weighted mean, 5-50-95% quantiles):")
    for name, row in summary.iterrows():
        print(f"  {name}: {number(row['mean'])} [{number(row['q05'])}, {number(row['q50'])}, {number(row['q95'])}]")
    print(f"history in {folder}/ (resumable: run the same command again)")
    if args.dry_run:
        return 0
    paths = write_posterior(result)
    print(f"wrote {paths[0]} ({len(result.draws)} weighted draws) and {paths[1]} (provenance, discrepancy)")
    return 0


def _calibrate_point(args: argparse.Namespace) -> int:
    from experiments.calibration.calibrate import calibrate, write_fitted
    from experiments.tables import number

    fit = calibrate(_data_file(args), args.max_evaluations or 250)  # a progress bar on stderr
    print(f"objective {number(fit.start_value)} at the defaults -> {number(fit.objective_value)} "
          f"after {fit.evaluations} evaluations over seeds {list(fit.seeds)} "
          "(mean weighted squared error: points for percentages, % of the data value otherwise)")
    for name, value in fit.values.items():
        if isinstance(value, dict):
            print(f"  {name}: " + ", ".join(f"{k} = {number(v)}" for k, v in value.items()))
        else:
            print(f"  {name} = {number(value)}")
    if args.dry_run:
        return 0
    print(f"wrote {write_fitted(fit)}")
    return 0


def _calibrate_error(message: str) -> Exception:
    from experiments.calibration.inference import InferenceError

    return InferenceError(message)


def _hold_back(text: str) -> str:
    """'none', or two quarters FROM-TO (e.g. 2023Q3-2023Q4)."""
    import re

    if text == "none":
        return text
    match = re.fullmatch(r"(\d{4}Q[1-4])-(\d{4}Q[1-4])", text)
    if not match or match.group(1) > match.group(2):
        raise argparse.ArgumentTypeError(f"expected 'none' or FROM-TO quarters such as 2023Q3-2023Q4, got '{text}'")
    return text


# ------------------------------------------------------------ experiments (sweeps)
def _executor(args: argparse.Namespace) -> dict:
    chosen = {"workers": args.workers, "scheduler": args.scheduler, "dask_local": args.dask_local}
    return {name: value for name, value in chosen.items() if value is not None}


def cmd_sweep(args: argparse.Namespace) -> int:
    import atexit
    import gc

    from experiments import import_quickly

    import_quickly("experiments.batch.runner")  # pandas, pyarrow, pydantic: see import_quickly
    # At exit the interpreter collects over every object still tracked (what the model
    # and a serial sweep's runs left): frozen first, they are skipped (~0.1 s). Nothing
    # relies on that collection: files are closed and temporary files removed explicitly.
    atexit.unregister(gc.freeze)  # once, however often a process runs this command
    atexit.register(gc.freeze)
    from experiments.batch.runner import default_out, run_sweep
    from experiments.batch.store import RunStore
    from experiments.batch.sweep import load_sweep

    sweep = load_sweep(args.file, {} if args.steps is None else {"steps": args.steps})
    out = args.out or default_out(sweep)
    if args.merge:
        if not (out / "manifest.json").is_file():
            raise _sweep_error(f"{out}: no sweep results to merge (run the sweep first)")
        parts = RunStore(out).merge()
        print(f"merged {out}/ into {len(parts)} file(s) under {out / 'merged'}/")
        return 0
    try:
        counts = run_sweep(sweep, out, load=False, retry_failed=args.retry_failed,
                           overwrite=args.overwrite, **_executor(args))
    except OSError as exc:  # e.g. no Dask scheduler at that address
        raise _sweep_error(f"{args.scheduler or 'executor'}: {exc}") from None
    print(f"wrote {out}/: {counts['ok']} ok, {counts['failed']} failed of {counts['runs']} runs "
          f"({counts['ran']} run now, {counts['skipped']} already stored)")
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    from experiments.compare import compare

    if args.ensemble is not None:
        return _compare_ensemble(args)
    _only_with_ensemble(args, {"--posterior": args.posterior})
    result = compare(args.a, args.b, replicates=args.replicates, base_seed=args.seed,
                     steps=args.steps, out=args.out, overwrite=args.overwrite, window=args.window,
                     **_executor(args))
    print(result.report())
    print()
    print(result.gains.report())
    path = result.results.path / "comparison.csv"
    result.table.to_csv(path, index=False)
    gains = result.gains.to_csv(result.results.path / "who_gains.csv")
    print(f"\nwrote {path}, {gains} and {result.figure} (forest plot: B - A as % of A, 95% intervals)")
    return 0


def _compare_ensemble(args: argparse.Namespace) -> int:
    from experiments.compare import compare_ensemble, ensemble_gains_report, ensemble_report
    from experiments.posterior import POSTERIOR_FILE

    result = compare_ensemble(args.a, args.b, _posterior(args), args.ensemble, replicates=args.replicates,
                              base_seed=args.seed, steps=args.steps, out=args.out, overwrite=args.overwrite,
                              window=args.window, default_posterior=POSTERIOR_FILE, **_executor(args))
    print(ensemble_report(result))
    print()
    print(ensemble_gains_report(result.gains, result.ensemble))
    path = result.results.path / "comparison.csv"
    result.table.to_csv(path, index=False)
    gains = result.gains.to_csv(result.results.path / "who_gains.csv")
    print(f"\nwrote {path}, {gains} (both intervals: t over seeds, post_q05-post_q95 over draws x seeds), "
          f"{result.figure} (forest plot: seeds at the fitted parameters) and ensemble_runs.parquet, "
          "draws.parquet, ensemble.json")
    return 0


def cmd_sensitivity(args: argparse.Namespace) -> int:
    from experiments.batch.results import is_sweep_dir
    from experiments.analysis.sensitivity import sensitivity

    if not is_sweep_dir(args.sweep_dir):
        raise _sweep_error(f"{args.sweep_dir}: not a sweep folder (no design.parquet or runs/)")
    result = sensitivity(args.sweep_dir, args.out)
    print(result.report())
    print("\nwrote " + ", ".join(str(p) for p in result.paths.values()))
    return 0


def cmd_discover(args: argparse.Namespace) -> int:
    from experiments.analysis.discovery import Target, discover
    from model.priors import load_priors

    priors = load_priors() if args.priors is None else load_priors(args.priors)
    direction, threshold = ("above", args.above) if args.above is not None else ("below", args.below)
    target = Target(args.outcome, threshold, direction, args.window, args.stat)
    result = discover(args.sweep_dir, target, baseline=args.baseline, out=args.out, overwrite=args.overwrite,
                      density=args.density, peel_alpha=args.peel_alpha, mass_min=args.mass_min, priors=priors)
    print(result.report())
    print("\nwrote " + ", ".join(str(p) for p in result.paths.values()))
    if result.replaced:
        print(f"replaced {result.replaced} in {result.paths['figure'].parent}/")
    return 0


def cmd_priors(args: argparse.Namespace) -> int:
    from experiments.outputs import OutputError, write_csv_atomic
    from experiments.tables import format_table, number
    from model.priors import load_priors

    priors = load_priors() if args.file is None else load_priors(args.file)
    rows = [[r.name, r.distribution, number(r.prior_mean), r.source[:70] + ("..." if len(r.source) > 70 else "")]
            for r in priors.table.itertuples()]
    print(f"{priors.path}: {len(rows)} priors")
    print(format_table(rows, ["parameter", "distribution", "mean", "source"], [False, False, True, False]))
    missing = priors.missing()
    if missing:
        print("no prior for: " + ", ".join(missing))
    if args.draw:
        out = args.out or Path(f"prior_draws-{args.draw}-seed{args.seed}.csv")
        if out.exists() and not args.overwrite:
            raise OutputError(f"--out {out}: exists; expected a new file, or --overwrite to replace it")
        write_csv_atomic(out, priors.draw(args.draw, args.seed))
        print(f"wrote {out} ({args.draw} draws, seed {args.seed})")
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    from experiments.bench import BENCHMARKS, run_benchmark  # the registry; each benchmark loads on use

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
    if args.posterior is not None:  # the uncertainty band's posterior, checked before serving
        from experiments.app.band import POSTERIOR_ENV
        from experiments.posterior import PosteriorError, load_posterior

        try:
            load_posterior(args.posterior)
        except PosteriorError as exc:
            print(f"chipstate viz: error: --posterior {exc}", file=sys.stderr)
            return 2
        os.environ[POSTERIOR_ENV] = str(args.posterior.resolve())
    # --production: without it solara re-executes the app, resetting every open session,
    # whenever a file of the tree is saved
    command = [sys.executable, "-m", "solara", "run", str(app), "--host", args.host,
               "--port", str(args.port), "--no-open", "--production"]
    os.execv(sys.executable, command)
    return 0  # not reached


def _add_executor_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--workers", type=non_negative, metavar="N",
                       help="local process pool size (default: the CPU count; 0 = in this process)")
    group.add_argument("--scheduler", metavar="ADDRESS", help="run on a Dask cluster, e.g. tcp://host:8786")
    group.add_argument("--dask-local", type=positive, metavar="N",
                       help="run on a Dask LocalCluster of N workers on 127.0.0.1")


def _add_experiment_parsers(sub) -> None:
    sweep = sub.add_parser("sweep", help="run (or resume) a parameter sweep",
                           description="Run the runs of a sweep file not yet stored; each run is "
                           "written at once as its own Parquet file, so a killed sweep resumes.")
    sweep.add_argument("file", help="a sweep TOML file, or the name of one in experiments/sweeps/")
    sweep.add_argument("--out", type=Path, default=None,
                       help="output folder (default: results/sweeps/<sweep name>/)")
    sweep.add_argument("--steps", type=positive, default=None, help="quarters per run (default: the sweep's)")
    sweep.add_argument("--merge", action="store_true",
                       help="compact the stored runs into a few files instead of running")
    sweep.add_argument("--retry-failed", action="store_true", help="run again the runs stored as failed")
    sweep.add_argument("--overwrite", action="store_true",
                       help="write into --out although it holds another sweep's results")
    _add_executor_options(sweep)
    sweep.set_defaults(func=cmd_sweep)

    compare = sub.add_parser("compare", help="paired replicates of two scenarios",
                             description="Run scenarios A and B on the same seeds and report each "
                             "outcome's mean difference B - A with a 95% t interval, and a forest plot of them.")
    compare.add_argument("a", help="scenario A (e.g. historical)")
    compare.add_argument("b", help="scenario B (e.g. state_allocation)")
    compare.add_argument("--replicates", type=_count(2), default=10,
                         help="seeds, at least 2 for an interval (default: 10)")
    compare.add_argument("--seed", type=non_negative, default=0, help="first seed (default: 0)")
    compare.add_argument("--steps", type=positive, default=None, help="quarters per run (default: to 2030Q4)")
    compare.add_argument("--out", type=Path, default=None,
                         help="output folder (default: results/compare/<A>-vs-<B>-seeds<first>-<last>[-<steps>q]/)")
    compare.add_argument("--overwrite", action="store_true",
                         help="replace an earlier comparison of other settings in --out")
    compare.add_argument("--window", type=_window, default="2020-2030", metavar="START-END",
                         help="quarters the who-gains table sums each money flow over: years (2020-2030) "
                         "or quarters (2020Q1-2030Q4) (default: 2020-2030)")
    compare.add_argument("--ensemble", type=positive, default=None, metavar="N",
                         help="also run A and B over N posterior draws x the same seeds, paired, and print "
                         "each effect's 5-95%% interval over them beside the seed-only t interval")
    compare.add_argument("--posterior", type=Path, default=None, metavar="FILE",
                         help=f"with --ensemble: the posterior draws (default: {POSTERIOR_FILE_TEXT})")
    _add_executor_options(compare)
    compare.set_defaults(func=cmd_compare)

    sensitivity = sub.add_parser("sensitivity", help="Sobol/Morris indices of a finished sweep",
                                 description="Compute SALib indices from a finished sweep folder; "
                                 "save them (CSV, Parquet) and plot them.")
    sensitivity.add_argument("sweep_dir", type=Path, help="the sweep's output folder")
    sensitivity.add_argument("--out", type=Path, default=None,
                             help="output folder (default: SWEEP_DIR/sensitivity/)")
    sensitivity.set_defaults(func=cmd_sensitivity)

    discover = sub.add_parser("discover", help="scenario discovery (PRIM) on a finished sweep",
                              description="Find boxes of swept parameters where an outcome (mean over "
                              "seeds) is above or below a threshold, with PRIM (EMA Workbench): print "
                              "coverage and density along the peeling trajectory and the chosen box beside "
                              "the priors; write trajectory.csv, box.csv, samples.csv and tradeoff.png.")
    discover.add_argument("sweep_dir", type=Path, help="the sweep's output folder")
    discover.add_argument("--outcome", required=True, metavar="NAME",
                          help="an outcome of the sweep, or a kept series with --window")
    side = discover.add_mutually_exclusive_group(required=True)
    side.add_argument("--above", type=_number, metavar="X", help="samples of interest: outcome above X")
    side.add_argument("--below", type=_number, metavar="X", help="samples of interest: outcome below X")
    discover.add_argument("--window", type=_window, default=None, metavar="START-END",
                          help="recompute the outcome over these years (2026-2030) or quarters from the kept "
                          "series (default: the sweep's outcome definition)")
    discover.add_argument("--stat", choices=("sum", "mean", "min", "max"), default=None,
                          help="with --window: how the quarters are summarised (default: the outcome's, or mean)")
    discover.add_argument("--baseline", type=Path, default=None, metavar="SWEEP_DIR",
                          help="the same design run under another scenario: the outcome becomes this sweep's "
                          "minus the baseline's, paired by sample and seed (e.g. the directive's effect)")
    discover.add_argument("--density", type=_fraction, default=0.8,
                          help="the chosen box: highest coverage with at least this density (default: 0.8)")
    discover.add_argument("--peel-alpha", type=_fraction, default=0.05,
                          help="share of the box's samples peeled a step (default: 0.05)")
    discover.add_argument("--mass-min", type=_fraction, default=0.05,
                          help="smallest box, as a share of the samples (default: 0.05)")
    discover.add_argument("--priors", type=Path, default=None,
                          help="priors file shown beside the box (default: model/data/priors.toml)")
    discover.add_argument("--out", type=Path, default=None,
                          help="output folder (default: SWEEP_DIR/discovery/<outcome>-<above|below><X>[...]/)")
    discover.add_argument("--overwrite", action="store_true",
                          help="replace an earlier discovery of other settings in --out")
    discover.set_defaults(func=cmd_discover)

    priors = sub.add_parser("priors", help="the priors of the uncertain parameters; draws from them",
                            description="Check and list the priors file (model/data/priors.toml): "
                            "distribution, mean and source of each uncertain parameter; --draw N writes "
                            "N reproducible draws to a CSV.")
    priors.add_argument("--file", type=Path, default=None, help="a priors TOML file (default: model/data/priors.toml)")
    priors.add_argument("--draw", type=positive, default=0, metavar="N", help="write N draws from the priors")
    priors.add_argument("--seed", type=non_negative, default=0, help="seed of the draws (default: 0)")
    priors.add_argument("--out", type=Path, default=None,
                        help="CSV of the draws (default: prior_draws-<N>-seed<S>.csv)")
    priors.add_argument("--overwrite", action="store_true", help="replace an existing --out file")
    priors.set_defaults(func=cmd_priors)

    bench = sub.add_parser("bench", help="benchmarks (bench sweep, bench scale, bench memory)",
                           description="Run a benchmark and print what it measured.")
    bench.add_argument("name", help="which benchmark: sweep (sweep throughput), scale "
                       "(step cost against world size) or memory (a worker's memory over many runs)")
    bench.add_argument("--quick", action="store_true", help="a smaller, faster version")
    bench.set_defaults(func=cmd_bench)


# ------------------------------------------------------------------------ parser
def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="chipstate",
        description="An agent-based geopolitical market model of the semiconductor supply chain.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=_Parser)

    run = sub.add_parser("run", help="run one scenario and write its results and a figure",
                         description="Run one scenario; write Parquet frames, the ledger, "
                         "the trade graph, a figure and a manifest; print a summary.")
    run.add_argument("--scenario", default=None,
                     help=f"a shipped scenario name or a TOML path (default: {DEFAULT_SCENARIO_TEXT})")
    run.add_argument("--seed", type=non_negative, default=0, help="random seed, >= 0 (default: 0)")
    run.add_argument("--out", type=Path, default=None,
                     help="output folder (default: results/runs/<scenario>[-<overrides hash>]-seed<N>"
                     "[-<steps>q]/); a folder chipstate did not write is refused")
    run.add_argument("--steps", type=positive, default=None, help="quarters to run (default: to 2030Q4)")
    run.add_argument("--overwrite", action="store_true",
                     help="replace an earlier run of other settings in --out")
    run.add_argument("--set", action="append", metavar="KEY=VALUE",
                     help="override a parameter, e.g. --set reserved_share=0.5 or "
                     "--set world.synthetic_firms=1000 (repeatable)")
    run.add_argument("--ensemble", type=positive, default=None, metavar="N",
                     help="run N posterior draws x --replicates seeds and write bands (5/25/50/75/95%%) of "
                     "the headline outputs (default folder: results/runs/<scenario>-ensemble<N>x<K>-seed<S>/)")
    run.add_argument("--replicates", type=positive, default=None, metavar="K",
                     help="with --ensemble: seeds per draw, --seed.. (default: 2)")
    run.add_argument("--posterior", type=Path, default=None, metavar="FILE",
                     help=f"with --ensemble: the posterior draws (default: {POSTERIOR_FILE_TEXT})")
    _add_executor_options(run)
    run.set_defaults(func=cmd_run)

    scenarios = sub.add_parser("scenarios", help="list the shipped scenarios",
                               description="List the shipped scenarios, one line each.")
    scenarios.set_defaults(func=cmd_scenarios)

    validate = sub.add_parser("validate", help="the model against published figures",
                              description="Run a scenario over N seeds and compare it with every row "
                              "of a calibration table: data value, model mean and 5-95% band over seeds, error; "
                              "rows the model cannot speak to are counted by reason (--all lists them).")
    validate.add_argument("--scenario", default="historical", help="scenario (default: historical)")
    validate.add_argument("--seeds", type=positive, default=10, help="seeds (default: 10)")
    validate.add_argument("--data", type=Path, default=None,
                          help="a CSV with columns quantity, entity, period, value, unit, source, note, "
                          "read alone (default: the project's copies of calibration.csv and "
                          "accelerators.csv, both under model/data/)")
    validate.add_argument("--out", type=Path, default=None,
                          help="output folder (default: results/validation/<scenario>[-<hash>]-seeds<N>/)")
    validate.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a parameter")
    validate.add_argument("--all", action="store_true",
                          help="list every row the model cannot speak to, not only their count by reason")
    validate.add_argument("--overwrite", action="store_true",
                          help="replace an earlier validation of other settings in --out")
    validate.add_argument("--ensemble", type=positive, default=None, metavar="N",
                          help="run N draws of the posterior ensemble (picked by weight), each with the "
                          "--seeds seeds; bands are over draws x seeds, with each row's predictive band "
                          "(widened by the posterior's model discrepancy) and the coverage of the data "
                          "by group (in sample, held back, out of sample)")
    validate.add_argument("--posterior", type=Path, default=None, metavar="FILE",
                          help="with --ensemble: the posterior ensemble (default: model/data/posterior.csv)")
    validate.add_argument("--seed", type=non_negative, default=0,
                          help="with --ensemble: seed of the draws' sample and of the discrepancy errors "
                          "(default: 0)")
    validate.add_argument("--workers", type=non_negative, default=None, metavar="N",
                          help="with --ensemble: local process pool size (default: the CPU count; 0 = in "
                          "this process)")
    validate.set_defaults(func=cmd_validate)

    calibrate = sub.add_parser("calibrate", help="a posterior ensemble of the uncertain parameters (ABC-SMC)",
                               description="Bayesian calibration by ABC-SMC (pyabc) against the in-sample "
                               "rows of the calibration data, less a held-back window kept to check: writes "
                               "the weighted draws to model/data/posterior.csv and their provenance and "
                               "model-discrepancy scales to model/data/posterior.toml. Resumable: the history "
                               "lives in results/calibration/abc-<settings>/; the same command continues it. "
                               "--point: the earlier point fit (Powell) of the same parameters, written to "
                               "model/data/fitted_parameters.toml, which single runs start from.")
    calibrate.add_argument("--data", type=Path, default=None,
                           help=f"calibration table (CSV; default: {DATA_FILE_TEXT})")
    calibrate.add_argument("--population", type=_count(20), default=300,
                           help="particles per generation, >= 20 (default: 300)")
    calibrate.add_argument("--generations", type=positive, default=6, help="SMC generations (default: 6)")
    calibrate.add_argument("--seed", type=non_negative, default=0, help="seed of the whole calibration (default: 0)")
    calibrate.add_argument("--hold-back", type=_hold_back, default="2023Q3-2023Q4", metavar="FROM-TO",
                           help="quarters whose rows are kept to check, not to fit ('none'; default: 2023Q3-2023Q4)")
    calibrate.add_argument("--out", type=Path, default=None,
                           help="folder of the calibration history (default: results/calibration/abc-<settings>/)")
    calibrate.add_argument("--overwrite", action="store_true",
                           help="replace a history of other settings in --out")
    _add_executor_options(calibrate)
    calibrate.add_argument("--point", action="store_true",
                           help="the point fit (Powell) instead, written to model/data/fitted_parameters.toml")
    calibrate.add_argument("--max-evaluations", type=positive, default=None,
                           help="with --point: objective evaluations at most (default: 250; ~0.6 s each)")
    calibrate.add_argument("--dry-run", action="store_true", help="fit and print, write nothing in model/data")
    calibrate.set_defaults(func=cmd_calibrate)

    viz = sub.add_parser("viz", help="the browser app: the policy lab (Mesa SolaraViz)",
                         description="Serve the browser app (app.py) with solara; open the "
                         "address it prints. Each browser tab gets its own model.")
    viz.add_argument("--port", type=_count(1), default=8765, help="port (default: 8765)")
    viz.add_argument("--host", default="127.0.0.1",
                     help="address to listen on (default: 127.0.0.1, this machine only)")
    viz.add_argument("--posterior", type=Path, default=None, metavar="FILE",
                     help="the posterior ensemble the app's uncertainty band draws from "
                     "(default: model/data/posterior.csv)")
    viz.set_defaults(func=cmd_viz)
    _add_experiment_parsers(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except OSError as exc:  # a path the user named cannot be written or read
        where = exc.filename or "a file"
        print(f"chipstate: error: {where}: {exc.strerror or exc}; expected a readable input "
              "and a writable output folder", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("chipstate: interrupted: stopped by the user; nothing half-written was kept",
              file=sys.stderr)
        return 130
    except Exception as exc:
        if _user_error(exc):
            print(f"chipstate: error: {_one_line(exc)}", file=sys.stderr)
            return 2
        runner = sys.modules.get("experiments.batch.runner")  # loaded by then if a sweep ran
        if runner is None or not isinstance(exc, runner.SweepInterrupted):
            raise
        print(f"chipstate: interrupted: {exc}", file=sys.stderr)
        return 130


def _one_line(exc: Exception) -> str:
    return " ".join(str(exc).split())


if __name__ == "__main__":
    sys.exit(main())
