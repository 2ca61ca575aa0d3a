"""Provenance: what made a result. The model's version (package version plus a hash of
the model's code and data), the git revision and whether model/agents/experiments
have local edits, and the versions of Python and the libraries results depend on.

Run folders, sweep manifests and every stored run carry these. `model_version` reads
and hashes the model's files once per process (it is cached): a sweep worker pays it
once, not per run.
"""

from __future__ import annotations

import hashlib
import platform
import subprocess
from functools import lru_cache
from typing import Any

from experiments import REPO_ROOT


@lru_cache(maxsize=1)
def model_version() -> str:
    """The package version plus a hash of the model's code and data.

    Any change to model/ or agents/ (code, world data, shipped scenarios) changes it,
    so stored runs from another model never pass for this one's.
    """
    from importlib import metadata

    try:
        version = metadata.version("chipstate")
    except metadata.PackageNotFoundError:
        version = _setup_cfg_version()
    digest = hashlib.sha256()
    roots = [REPO_ROOT / "model", REPO_ROOT / "agents", REPO_ROOT / "experiments" / "scenarios"]
    for root in roots:
        for path in sorted(root.rglob("*")):
            if path.suffix in {".py", ".toml", ".csv", ".json"} and "__pycache__" not in path.parts:
                digest.update(str(path.relative_to(REPO_ROOT)).encode())
                digest.update(path.read_bytes())
    return f"{version}+{digest.hexdigest()[:12]}"


def _setup_cfg_version() -> str:
    import configparser

    config = configparser.ConfigParser()
    config.read(REPO_ROOT / "setup.cfg")
    return config.get("metadata", "version", fallback="0")


def git_revision() -> dict[str, Any]:
    """The repository's commit and whether model/agents/experiments have local edits."""
    def git(*args: str) -> str | None:
        try:
            return subprocess.run(
                ["git", "-C", str(REPO_ROOT), *args], capture_output=True, text=True, timeout=10, check=True
            ).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return None

    status = git("status", "--porcelain", "--", "model", "agents", "experiments")
    return {"revision": git("rev-parse", "HEAD"), "dirty": None if status is None else bool(status)}


def versions() -> dict[str, str | None]:
    """Versions of Python and of every library a run's results depend on."""
    from importlib import metadata

    found: dict[str, str | None] = {"python": platform.python_version(), "model": model_version()}
    for package in ("mesa", "numpy", "pandas", "pyarrow", "networkx", "scipy", "SALib", "pydantic", "dask", "distributed"):
        try:
            found[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            found[package] = None
    return found
