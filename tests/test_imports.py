"""The import rules between rooms hold, and no module imports itself round a cycle.

- `lint-imports` (import-linter, configured in setup.cfg's [importlinter] sections)
  passes: model never imports experiments; agents import only agents.base and
  model's pure leaves; analysis never imports the model engine; experiments' rooms
  sit in layers.
- grimp's import graph of agents, model and experiments, imports inside functions
  included (what a lazy import hides from a reader), has no cycle.
- `chipstate --help` loads neither Mesa nor pandas (each command imports its own).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import grimp
import networkx as nx

REPO = Path(__file__).resolve().parent.parent
PACKAGES = ("experiments", "model", "agents")


def _lint_imports() -> str:
    beside = Path(sys.executable).parent / "lint-imports"
    found = str(beside) if beside.is_file() else shutil.which("lint-imports")
    assert found, "lint-imports not found: install the test extra (pip install -e '.[test]')"
    return found


def test_lint_imports_passes():
    result = subprocess.run([_lint_imports(), "--config", "setup.cfg", "--no-cache"], cwd=REPO,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "0 broken" in result.stdout, result.stdout[-4000:]


def _graph() -> nx.DiGraph:
    # Imports under `if TYPE_CHECKING:` never run: left out, as in setup.cfg.
    imports = grimp.build_graph(*PACKAGES, exclude_type_checking_imports=True, cache_dir=None)
    graph = nx.DiGraph()
    graph.add_nodes_from(imports.modules)
    for module in imports.modules:
        graph.add_edges_from((module, imported) for imported in imports.find_modules_directly_imported_by(module))
    return graph


def cycles(graph: nx.DiGraph) -> list[list[str]]:
    """One shortest cycle through each group of modules that import each other."""
    found = []
    for group in nx.strongly_connected_components(graph):
        if len(group) > 1 or any(graph.has_edge(m, m) for m in group):
            start = min(group)
            found.append(nx.find_cycle(graph.subgraph(group), start))
    return found


def test_no_import_cycle_including_imports_inside_functions():
    graph = _graph()
    # The graph does see imports inside functions: the runner imports the model only
    # when a run is made, and model/__init__ imports model.model on first use.
    assert graph.has_edge("experiments.batch.runner", "model")
    assert graph.has_edge("model", "model.model")
    found = cycles(graph)
    assert not found, "import cycles: " + "; ".join(" -> ".join(a for a, _ in c) + f" -> {c[0][0]}" for c in found)


def test_the_cycle_check_finds_a_cycle_made_by_a_function_level_import():
    graph = _graph()
    graph.add_edge("experiments.analysis.figures", "experiments.analysis.paired")  # paired imports figures
    assert cycles(graph)


def test_help_loads_neither_mesa_nor_pandas():
    code = ("import sys\nfrom experiments.cli import build_parser\n"
            "try:\n    build_parser().parse_args(['--help'])\nexcept SystemExit:\n    pass\n"
            "print(sorted(m for m in ('mesa', 'pandas', 'numpy', 'pydantic', 'model') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "[]"


def test_help_texts_name_the_real_defaults():
    from experiments import REPO_ROOT, cli
    from experiments.calibration.observed import DATA_FILE
    from model.scenario import DEFAULT_SCENARIO

    assert cli.DEFAULT_SCENARIO_TEXT == DEFAULT_SCENARIO
    assert Path(cli.DATA_FILE_TEXT) == DATA_FILE.relative_to(REPO_ROOT)
