"""The import rules between rooms (DESIGN.md layout; issue 11), checked on the source,
imports inside functions included: agents import only agents.base and the model's
pure leaves; agent modules never import each other; model never imports experiments."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
AGENT_MAY_IMPORT = {"agents.base", "model.technology", "model.market", "model.scenario"}


def imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append(node.module)
    return found


def project(names: list[str]) -> list[str]:
    return [n for n in names if n.split(".")[0] in ("agents", "model", "experiments")]


def test_agents_import_only_their_base_and_the_models_pure_leaves():
    modules = [p for p in (ROOT / "agents").glob("*.py") if p.name != "__init__.py"]  # the package re-exports them
    bad = [(p.name, name) for p in modules for name in project(imports(p)) if name not in AGENT_MAY_IMPORT]
    assert not bad, bad


def test_the_model_never_imports_experiments():
    bad = [(str(p.relative_to(ROOT)), name) for p in (ROOT / "model").rglob("*.py")
           for name in project(imports(p)) if name.startswith("experiments")]
    assert not bad, bad


def test_the_rule_could_fail():
    assert "model.model" not in AGENT_MAY_IMPORT and project(["model.model", "numpy"]) == ["model.model"]
