"""Every analysis notebook runs top to bottom (nbclient, a real kernel) against small
results the test makes first: a run folder, a paired comparison, a Sobol sweep, the
rationing runs (state_allocation at ration_share 0.5 and 0.0, three seeds), an ensemble
validation over the shipped posterior (4 draws x 1 seed) and a scenario discovery on two
small paired sweeps."""

from __future__ import annotations

import nbformat
import pytest
from nbclient import NotebookClient

from experiments.compare import compare
from experiments.run import run_scenario
from experiments.batch.runner import run_sweep
from experiments.analysis.sensitivity import sensitivity
from experiments.analysis.discovery import Target, discover
from experiments.batch.results import load_sweep_results
from experiments.batch.sweep import build_sweep, load_sweep
from experiments.calibration.validate import validate_ensemble, write
from experiments.outputs import run_folder
from experiments.posterior import POSTERIOR_FILE, load_posterior
from helpers import REPO
from model.priors import load_priors

pytestmark = pytest.mark.notebook
NOTEBOOKS = sorted((REPO / "experiments" / "notebooks").glob("*.ipynb"))
RATION_SEEDS = (0, 1, 2)
"""Seeds of the rationing runs made here (notebook 02 reads every seed it finds at both
settings; its commands make 0-3): three keep the test short and still give a band."""


@pytest.fixture(scope="module")
def small_results(tmp_path_factory):
    root = tmp_path_factory.mktemp("notebook-results")
    run_scenario("historical", seed=0, out=root / "run")
    compare("historical", "state_allocation", replicates=2, out=root / "compare", workers=2, progress=False)
    run_sweep(load_sweep(REPO / "tests" / "data" / "tiny_sobol.toml"), root / "sobol", workers=2, progress=False)
    sensitivity(root / "sobol")
    for seed in RATION_SEEDS:
        for share in (0.5, 0.0):  # as `chipstate run --scenario state_allocation --seed S --set ration_share=X`
            overrides = {"ration_share": share}
            run_scenario("state_allocation", seed=seed, overrides=overrides,
                         out=root / "runs" / run_folder("state_allocation", seed, overrides=overrides).name)
    write(validate_ensemble(load_posterior(POSTERIOR_FILE), 4, "historical", seeds=1, workers=2, progress=False),
          root / "validation")
    for scenario in ("state_allocation", "historical"):
        run_sweep(discovery_sweep(scenario), root / scenario, workers=2, progress=False, load=False)
    effect = (load_sweep_results(root / "state_allocation").ok.set_index(["sample", "seed"])[DISCOVERED]
              - load_sweep_results(root / "historical").ok.set_index(["sample", "seed"])[DISCOVERED])
    discover(root / "state_allocation", Target(DISCOVERED, float(effect.median()), "above"),  # where it adds most
             baseline=root / "historical", out=root / "discovery")
    return {"CHIPSTATE_RUN_DIR": root / "run", "CHIPSTATE_COMPARE_DIR": root / "compare",
            "CHIPSTATE_SWEEP_DIR": root / "sobol", "CHIPSTATE_RATION_RUNS": root / "runs",
            "CHIPSTATE_VALIDATION_DIR": root / "validation", "CHIPSTATE_DISCOVERY_DIR": root / "discovery"}


DISCOVERED = "huawei_accelerators_2026_2030"


def discovery_sweep(scenario: str):
    """A small Latin hypercube through three priors (24 samples, one seed), to 2030Q4,
    with the outcome notebook 04 asks about."""
    return build_sweep(
        name=f"notebook_discovery_{scenario}", scenario=scenario,
        design={"kind": "lhs", "samples": 24, "seed": 5, "marginals": "priors"}, seeds={"replicates": 1, "base": 7},
        parameters=load_priors().sweep_parameters(["ai_demand_growth", "accelerator_demand_scale", "memory_tool_drag"]),
        outcomes=[{"name": DISCOVERED, "reporter": "huawei_accelerators", "stat": "sum",
                   "start": "2026Q1", "end": "2030Q4", "description": "Huawei's accelerators, 2026-2030 (units)"}],
    )


def test_there_are_four_notebooks_committed_without_outputs():
    assert len(NOTEBOOKS) == 4
    for path in NOTEBOOKS:
        book = nbformat.read(path, as_version=4)
        for cell in book.cells:
            if cell.cell_type == "code":
                assert cell.outputs == [] and cell.execution_count is None, f"{path.name} has outputs"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs(path, small_results, monkeypatch):
    for name, value in small_results.items():
        monkeypatch.setenv(name, str(value))
    book = nbformat.read(path, as_version=4)
    # A failing cell raises CellExecutionError with the cell and its traceback.
    NotebookClient(book, timeout=300, kernel_name="python3",
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    errors = [o for cell in book.cells if cell.cell_type == "code" for o in cell.outputs if o.output_type == "error"]
    assert not errors
    figures = [o for cell in book.cells if cell.cell_type == "code" for o in cell.outputs
               if "image/png" in o.get("data", {})]
    assert figures, f"{path.name} drew no figure"


def test_each_notebook_names_the_commands_that_make_the_folder_it_reads():
    """From a fresh clone, the commands at a notebook's top make the folder it reads by
    default (the notebook asks the same naming functions the commands use)."""
    from experiments import RESULTS_DIR
    from experiments.outputs import compare_folder, run_folder
    from experiments.batch.runner import default_out

    def top_and_code(stem):
        book = nbformat.read(REPO / "experiments" / "notebooks" / f"{stem}.ipynb", as_version=4)
        code = "\n".join(c.source for c in book.cells if c.cell_type == "code")
        return book.cells[0].source, code

    top, code = top_and_code("01_historical_replay")
    assert "pip install -e ." in top and "chipstate run --scenario historical --seed 0" in top
    assert run_folder("historical", 0) == RESULTS_DIR / "runs" / "historical-seed0"
    assert "results/runs/historical-seed0/" in top and 'run_folder("historical", 0)' in code

    top, code = top_and_code("02_state_allocation_effect")
    assert "chipstate compare historical state_allocation --replicates 20" in top
    folder = compare_folder("historical", "state_allocation", 20)
    assert f"results/compare/{folder.name}/" in top
    assert 'compare_folder("historical", "state_allocation", 20)' in code
    # the rationing section's runs: the commands at the top, and the folders they write
    assert "for seed in 0 1 2 3; do" in top
    for share in ("0.5", "0.0"):
        assert f"chipstate run --scenario state_allocation --seed $seed --set ration_share={share}" in top
    assert "results/runs/state_allocation-<hash>-seed<N>/" in top
    assert 'run_folder("state_allocation", seed, overrides={"ration_share": share})' in code
    assert "RATION_SHARES = (0.5, 0.0)" in code
    for share in (0.5, 0.0):
        folder = run_folder("state_allocation", 3, overrides={"ration_share": share})
        assert folder.parent == RESULTS_DIR / "runs" and folder.name.startswith("state_allocation-")
        assert folder.name.endswith("-seed3")

    top, code = top_and_code("03_sweep_sensitivity")
    assert "chipstate sweep sobol" in top and "chipstate sensitivity results/sweeps/sobol" in top
    assert default_out(load_sweep("sobol")) == RESULTS_DIR / "sweeps" / "sobol"
    assert '"sweeps/sobol"' in code

    top, code = top_and_code("04_posterior_checks")
    assert "chipstate validate --ensemble 30 --seeds 2" in top
    assert 'validation_folder("historical", 2, DATA_FILE, None, DATA_FILE, ensemble_settings(posterior, 30, 0))' in code
    assert "results/validation/historical-<hash>-ensemble30-seeds2/" in top
    from experiments.calibration.observed import DATA_FILE
    from experiments.calibration.validate import ensemble_settings
    from experiments.outputs import validation_folder
    folder = validation_folder("historical", 2, DATA_FILE, None, DATA_FILE,
                               ensemble_settings(load_posterior(POSTERIOR_FILE), 30, 0))
    assert folder.parent == RESULTS_DIR / "validation" and folder.name.endswith("-ensemble30-seeds2")
    command = ("chipstate discover results/sweeps/directive_discovery --baseline results/sweeps/directive_discovery_historical "
               "--outcome huawei_accelerators_2026_2030 --above 400000")
    assert command in top
    from experiments.analysis.discovery import Target, default_out
    discovered = default_out(RESULTS_DIR / "sweeps" / "directive_discovery", Target("huawei_accelerators_2026_2030", 400000, "above"),
                             RESULTS_DIR / "sweeps" / "directive_discovery_historical")
    assert f"results/sweeps/directive_discovery/discovery/{discovered.name}/" in top
