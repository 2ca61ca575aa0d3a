"""`chipstate`: the command line. Each command is a few lines over library functions.

Errors the user can fix (a bad scenario, sweep or value) print one line naming the
file, the field and what was expected, and exit with code 2; never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from model.scenario import ScenarioError


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
    run.add_argument("--scenario", default="state_allocation",
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
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except ScenarioError as exc:
        print(f"chipstate: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
