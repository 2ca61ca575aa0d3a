"""What users do with the model, in rooms (the import rules between them are in
setup.cfg's [importlinter] sections and checked by tests/test_imports.py):

- `cli`: the `chipstate` command; each command imports its own modules when it runs;
- `run`, `compare`: one run to a folder; scenarios A and B on the same seeds to a folder;
- `bench`, `calibration`, `app` (these never import each other):
  the benchmarks, one module each; the observed data once, validation and calibration;
  the browser app's painters and panels;
- `analysis`: paired differences, sensitivity indices, figures; never runs the model;
- `batch`: sweep files and designs, the runner and its executors, the store, the loader;
- `outputs`, `provenance`, `tables`: output folders and atomic files; the model's
  version, git revision and library versions; number formats and text tables.

Each room imports only the rooms listed below it. scenarios/, sweeps/, notebooks/
and examples/ hold data files, notebooks and scripts.
"""

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = REPO_ROOT / "results"
"""Where runs, sweeps, comparisons and validations write by default (git-ignored)."""


def import_quickly(*modules: str) -> None:
    """Import the named modules (those not loaded yet) with the garbage collector paused,
    then freeze what they made (`gc.freeze`).

    For a command's heavy start-up: Mesa, pandas, SciPy, pyarrow and the model make
    ~10^6 long-lived objects and almost no garbage, yet trigger full collections over
    all of them while they import, again after, and at the interpreter's exit (~0.3 s
    of a short sweep's ~1 s start-up and exit here). Frozen, the collector skips them
    for good, and a forked worker's collector leaves their pages unwritten. Objects
    that exist before the call are frozen too, so a long-lived process calls this once
    per module (already loaded: nothing is done).
    """
    import gc
    import importlib
    import sys

    missing = [name for name in modules if name not in sys.modules]
    if not missing:
        return
    enabled = gc.isenabled()
    gc.disable()
    try:
        for name in missing:
            importlib.import_module(name)
    finally:
        gc.freeze()
        if enabled:
            gc.enable()
