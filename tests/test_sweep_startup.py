"""A sweep's start-up and bookkeeping: `experiments.import_quickly` imports with the
collector paused and leaves it as it was; the manifest's counts, kept as runs are
written, equal what the folder holds (a resumed, partly failing sweep); the benchmark's
arithmetic."""

from __future__ import annotations

import gc
import json
import subprocess
import sys

import pytest

from experiments.batch.runner import run_sweep
from experiments.batch.store import RunStore
from experiments.bench.sweep import _overhead, runs_for_target
from helpers import REPO
from sweep_helpers import toy_simulator, toy_sweep


def test_import_quickly_imports_and_leaves_the_collector_as_it_was():
    # A fresh interpreter: which modules are loaded, and the collector's state, are its own.
    code = (
        "import gc, sys\n"
        "from experiments import import_quickly\n"
        "assert 'colorsys' not in sys.modules\n"
        "import_quickly('colorsys')\n"
        "assert 'colorsys' in sys.modules and gc.isenabled()\n"
        "frozen = gc.get_freeze_count()\n"
        "assert frozen > 0\n"
        "import_quickly('colorsys')  # loaded: nothing done, nothing more frozen\n"
        "assert gc.get_freeze_count() == frozen\n"
        "gc.disable()\n"
        "import_quickly('fractions')\n"
        "assert 'fractions' in sys.modules and not gc.isenabled()\n"
        "print('ok')\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


def test_import_quickly_restores_the_collector_when_an_import_fails():
    from experiments import import_quickly

    assert gc.isenabled()
    with pytest.raises(ModuleNotFoundError):
        import_quickly("no_such_module_for_chipstate")
    assert gc.isenabled()


def test_the_manifest_counts_what_the_folder_holds_after_a_resume_with_failures(tmp_path):
    sweep = toy_sweep(parameters={"reserved_share": {"values": [0.2, 0.9]},
                                  "demand_noise": {"values": [0.1, 0.45]}})
    run_sweep(sweep, tmp_path, workers=0, simulator=toy_simulator, progress=False, load=False)
    for path in sorted((tmp_path / "runs").iterdir())[:3]:
        path.unlink()
    counts = run_sweep(sweep, tmp_path, workers=2, simulator=toy_simulator, progress=False, load=False)
    assert counts["ran"] == 3 and counts["skipped"] == 5
    on_disk = RunStore(tmp_path).stored_status()
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["counts"] == {
        "runs": 8, "stored": len(on_disk),
        "ok": sum(s == "ok" for s in on_disk.values()),
        "failed": sum(s == "failed" for s in on_disk.values()),
    }
    assert manifest["counts"]["failed"] == 4 and manifest["state"] == "finished_with_failures"


def test_overhead_and_the_sweep_size_that_reaches_the_target():
    assert _overhead(model_seconds=1.8, wall_seconds=1.0, workers=2) == pytest.approx(0.1)
    # 1 s fixed, runs of 50 ms on 2 workers at no marginal cost: 10% needs
    # n r / (2 (1 + n r / 2)) = 0.9, i.e. n r = 18 s, n = 360 runs.
    assert runs_for_target(1.0, 0.05, 2, 0.0) == pytest.approx(360)
    needed = runs_for_target(1.0, 0.05, 2, 0.05)
    wall = 1.0 + needed * 0.05 / (2 * 0.95)
    assert _overhead(needed * 0.05, wall, 2) == pytest.approx(0.1)
    assert runs_for_target(1.0, 0.05, 2, 0.1) is None  # the marginal cost alone is at the target
