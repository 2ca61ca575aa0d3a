"""The sweep runner: expand a sweep, run what is not stored yet, store each run at once.

Executors (all give identical stored results, because a run depends only on its task):

- ``workers=0``: in this process, one run after another;
- ``workers=N`` (default: the number of CPUs): a local process pool (spawn start
  method, as ``import mesa`` forces). A worker that dies takes its pool with it: the
  pool is rebuilt and the unfinished runs are resubmitted (a run in flight at three
  such deaths is recorded as failed);
- ``scheduler="tcp://host:port"``: an existing Dask distributed cluster;
- ``dask_local=N``: a Dask LocalCluster of N single-threaded worker processes bound to
  127.0.0.1 (dashboard on a free loopback port).

Only the parent writes results: each finished run's rows come back to it, are written
as one Parquet file, and are dropped, so the parent's memory does not grow with the
number of runs, and remote Dask workers need no shared file system. At most
2 x workers runs are in flight at any time.
"""

from __future__ import annotations

import multiprocessing
import os
import platform
import subprocess
import sys
import time
import traceback
from collections import Counter, deque
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

import numpy as np
import pandas as pd

from experiments import REPO_ROOT, RESULTS_DIR
from experiments.store import RunStore
from experiments.sweep import (
    RunTask,
    Sweep,
    SweepError,
    expand,
    load_sweep,
    model_version,
    simulator_name,
)
from model.technology import parse_quarter

MAX_WORKER_DEATHS = 3
"""A run in flight when this many pools (or Dask workers) died is recorded as failed."""

Simulator = Callable[[str, dict, int, "int | None"], pd.DataFrame]


# ------------------------------------------------------------------------ one run
def simulate_model(scenario: str, overrides: dict, seed: int, steps: int | None) -> pd.DataFrame:
    """Run the real model once and return its model-level frame (one row per quarter).

    Row 0 is the initial state; then one row per step. `steps=None` runs to the
    scenario's end.
    """
    from model import ChipMarketModel

    model = ChipMarketModel(scenario=scenario, rng=seed, **overrides)
    model.run(steps=steps)
    return model.frames()["model"]


def summarise(frame: pd.DataFrame, outcomes: Iterable[dict]) -> dict[str, float]:
    """Each outcome's scalar from a model frame with a ``quarter`` column.

    ``value`` reads one quarter (``last`` = the final row); mean/sum/min/max read the
    window's quarters. An empty window, or a quarter the run did not reach, gives NaN.
    Units are the reporter's.
    """
    numbers = frame["quarter"].map(parse_quarter).to_numpy()
    result: dict[str, float] = {}
    for outcome in outcomes:
        series = frame[outcome["reporter"]].to_numpy(dtype=float)
        if outcome["stat"] == "value":
            if outcome["at"] == "last":
                picked = series[-1:]
            else:
                picked = series[numbers == parse_quarter(outcome["at"])]
            result[outcome["name"]] = float(picked[0]) if len(picked) else float("nan")
            continue
        mask = np.ones(len(series), dtype=bool)
        if outcome["start"] is not None:
            mask &= numbers >= parse_quarter(outcome["start"])
        if outcome["end"] is not None:
            mask &= numbers <= parse_quarter(outcome["end"])
        window = series[mask]
        if len(window) == 0:
            result[outcome["name"]] = float("nan")
        else:
            result[outcome["name"]] = float(getattr(np, outcome["stat"])(window))
    return result


def _meta(task: RunTask) -> dict[str, Any]:
    return {
        "run_key": task.key, "sweep": task.sweep, "sample": task.sample,
        "replicate": task.replicate, "seed": task.seed, "scenario": task.scenario,
        **task.columns,
        "model_version": task.model_version, "parameters_json": task.parameters_json,
    }


def failed_rows(task: RunTask, error: str, trace: str = "", elapsed_s: float = float("nan")) -> pd.DataFrame:
    """The one row that records a failed run: its error, NaN outcomes and series."""
    row = {
        **_meta(task), "status": "failed", "error": error, "traceback": trace,
        "elapsed_s": elapsed_s,
        **{o["name"]: float("nan") for o in task.outcomes},
        "quarter": None, **{name: float("nan") for name in task.series},
    }
    return pd.DataFrame([row])


def execute_run(task: RunTask) -> pd.DataFrame:
    """Make one run and return the rows to store; never raises for a failing model.

    Rows: one per recorded quarter when series are kept (outcomes repeated on each),
    else one. Outcomes and series are float64. A run that raises gives one row with
    status 'failed' and its error ("Type: message") and traceback.
    """
    started = time.perf_counter()
    simulate = task.simulator or simulate_model
    if task.simulator is None and model_version() != task.model_version:
        # The run key promises the model the sweep was planned with; this process
        # would run other code (model/ or agents/ edited since), so it refuses.
        return failed_rows(task, f"ModelChanged: this worker's model is {model_version()}, "
                                 f"the sweep's is {task.model_version} (restart long-lived workers, then run again)")
    try:
        frame = simulate(task.scenario, dict(task.overrides), task.seed, task.steps)
        scalars = summarise(frame, task.outcomes)
    except Exception as exc:  # noqa: BLE001 - a failing run is data, not a crash
        return failed_rows(
            task, f"{type(exc).__name__}: {exc}", traceback.format_exc(), time.perf_counter() - started
        )
    head = {**_meta(task), "status": "ok", "error": "", "traceback": "",
            "elapsed_s": time.perf_counter() - started, **scalars}
    if not task.series:
        return pd.DataFrame([{**head, "quarter": None}])
    n = len(frame)
    columns: dict[str, Any] = {name: [value] * n for name, value in head.items()}
    columns["quarter"] = frame["quarter"].astype(str).to_numpy()
    for name in task.series:
        columns[name] = frame[name].to_numpy(dtype=float)
    return pd.DataFrame(columns)


# ---------------------------------------------------------------------- executors
def _serial(tasks: Iterable[RunTask]) -> Iterator[tuple[RunTask, pd.DataFrame]]:
    for task in tasks:
        yield task, execute_run(task)


def _pool(tasks: Iterable[RunTask], workers: int) -> Iterator[tuple[RunTask, pd.DataFrame]]:
    pending: deque[RunTask] = deque(tasks)
    deaths: Counter[str] = Counter()
    context = multiprocessing.get_context("spawn")
    while pending:
        inflight: dict = {}
        broken = False
        pool = ProcessPoolExecutor(max_workers=workers, mp_context=context)
        try:
            while (pending or inflight) and not broken:
                while pending and len(inflight) < 2 * workers:
                    task = pending.popleft()
                    inflight[pool.submit(execute_run, task)] = task
                done, _ = wait(inflight, return_when=FIRST_COMPLETED)
                for future in done:
                    if isinstance(future.exception(), BrokenProcessPool):
                        broken = True
                        continue
                    task = inflight.pop(future)
                    yield task, future.result()
        finally:
            pool.shutdown(wait=not broken, cancel_futures=True)
        # A dead worker breaks every future in flight; which run killed it is unknown,
        # so each is retried, and given up after MAX_WORKER_DEATHS.
        for task in reversed(list(inflight.values())):
            deaths[task.key] += 1
            if deaths[task.key] >= MAX_WORKER_DEATHS:
                yield task, failed_rows(task, f"WorkerDied: a worker process died {MAX_WORKER_DEATHS} times during this run")
            else:
                pending.appendleft(task)


def _dask(tasks: Iterable[RunTask], client) -> Iterator[tuple[RunTask, pd.DataFrame]]:
    from distributed import as_completed

    queue = iter(tasks)
    window = 2 * max(1, sum(client.nthreads().values()))
    by_key: dict[str, RunTask] = {}
    completed = as_completed()

    def submit(task: RunTask) -> None:
        # pure=False: two runs are never merged by Dask, whatever their arguments.
        future = client.submit(execute_run, task, pure=False, retries=0)
        by_key[future.key] = task
        completed.add(future)

    for _, task in zip(range(window), queue):
        submit(task)
    for future in completed:
        task = by_key.pop(future.key)
        try:
            rows = future.result()
        except Exception as exc:  # noqa: BLE001 - e.g. KilledWorker after repeated deaths
            rows = failed_rows(task, f"{type(exc).__name__}: {exc}")
        # Drop the future at once: Dask recomputes finished tasks still referenced
        # when the worker holding them dies.
        future.release()
        del future
        yield task, rows
        following = next(queue, None)
        if following is not None:
            submit(following)


def start_local_dask(n_workers: int):
    """A LocalCluster of `n_workers` single-threaded processes on 127.0.0.1, and a Client."""
    from distributed import Client, LocalCluster

    cluster = LocalCluster(
        n_workers=n_workers, threads_per_worker=1, processes=True,
        host="127.0.0.1", dashboard_address="127.0.0.1:0",
    )
    return cluster, Client(cluster)


# ------------------------------------------------------------------------ manifest
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


def _design_frame(samples: pd.DataFrame, tasks: list[RunTask], sweep: Sweep) -> pd.DataFrame:
    rows = [{"run_key": t.key, "sample": t.sample, "replicate": t.replicate, "seed": t.seed,
             "scenario": t.scenario, **t.columns} for t in tasks]
    design = pd.DataFrame(rows)
    x = samples.attrs.get("X")
    if x is not None:
        # The raw SALib matrix (what sensitivity analysis needs), one column per parameter.
        for j, name in enumerate(sweep.parameters):
            design[f"x_{name}"] = x[design["sample"].to_numpy(), j]
    return design


def _check_outputs(sweep: Sweep, task: RunTask) -> None:
    """Fail fast if an outcome or series names a reporter the model does not have.

    Builds the model once with the sweep's fixed parameters only: a sample whose values
    make the model raise is a failed run (data), not a broken sweep.
    """
    simulate = task.simulator or simulate_model
    try:
        frame = simulate(task.scenario, dict(sweep.fixed), task.seed, 0)
    except Exception as exc:  # noqa: BLE001 - reported with the sweep's name
        raise SweepError(f"{sweep.source}: the model fails to start: {type(exc).__name__}: {exc}") from None
    available = set(frame.columns) - {"quarter"}
    for i, outcome in enumerate(sweep.outcomes):
        if outcome.reporter not in available:
            raise SweepError(
                f"{sweep.source}: field 'outcomes.{i}.reporter': no reporter '{outcome.reporter}'; "
                "expected one of: " + ", ".join(sorted(available))
            )
    for name in sweep.series:
        if name not in available:
            raise SweepError(
                f"{sweep.source}: field 'series.keep': no reporter '{name}'; expected one of: "
                + ", ".join(sorted(available))
            )


# -------------------------------------------------------------------------- runner
def default_out(sweep: Sweep) -> Path:
    """Where a sweep writes unless told: results/sweeps/<sweep name>/."""
    return RESULTS_DIR / "sweeps" / sweep.name


def run_sweep(
    sweep: Sweep | str | Path,
    out: str | Path | None = None,
    *,
    workers: int | None = None,
    scheduler: str | None = None,
    dask_local: int | None = None,
    client: Any = None,
    progress: bool = True,
    retry_failed: bool = False,
    load: bool = True,
    simulator: Simulator | None = None,
):
    """Run every run of `sweep` not yet stored in `out`; return the results.

    `sweep` is a `Sweep` or a sweep file (path or shipped name). Runs already stored
    are skipped (failed ones too, unless `retry_failed`), so calling this again after
    a crash or a kill resumes with no run lost or duplicated. A run that raises is
    stored as failed and the sweep goes on. Exactly one executor is used: `client` (a
    dask.distributed Client), `scheduler` (its address), `dask_local` (a LocalCluster
    of that many workers), or a process pool of `workers` (0: in this process).
    `simulator` replaces the model (tests only).

    A folder is a cache of runs keyed by run key; the sweep last run into it defines
    (through design.parquet) which of them its results include. So a sweep extended
    with more seeds or samples reuses every run it already has, and runs of another
    model version or other outputs are never taken for this sweep's (their keys differ).

    Returns `experiments.results.SweepResults` (all stored runs) when `load`, else a
    dict of counts (what a benchmark wants: nothing kept in memory).
    """
    if not isinstance(sweep, Sweep):
        sweep = load_sweep(sweep)
    if sum(x is not None for x in (scheduler, dask_local, client)) > 1 or (
        workers is not None and (scheduler or dask_local or client)
    ):
        raise SweepError("choose one executor: workers, scheduler, dask_local or client")
    out = Path(out) if out is not None else default_out(sweep)
    samples, tasks = expand(sweep, simulator)
    store = RunStore(out)
    previous = store.read_manifest()
    identity = {"sweep_digest": sweep.digest(), "model_version": model_version(),
                "simulator": simulator_name(simulator) or "model.ChipMarketModel"}
    store.create()
    manifest = {
        **identity,
        "sweep": sweep.definition(), "source": sweep.source,
        "design": {"kind": sweep.design.kind, "samples": len(samples), "runs": len(tasks)},
        "problem": sweep.problem(), "seeds": sweep.seed_list(),
        "parameters": list(sweep.parameters), "outcomes": [o.name for o in sweep.outcomes],
        "series": list(sweep.series), "versions": versions(), "git": git_revision(),
        "created": (previous or {}).get("created", _now()),
    }
    store.write_design(_design_frame(samples, tasks, sweep))
    store.write_manifest({**manifest, "state": "running"})
    del samples

    stored = store.stored_status()
    first: dict = {}
    for task in tasks:  # equal keys (e.g. meeting Morris trajectories) are one run, made once
        first.setdefault(task.key, task)
    keys = list(first)
    todo = [t for t in first.values()
            if t.key not in stored or (retry_failed and stored[t.key] == "failed")]
    total, skipped = len(keys), len(keys) - len(todo)
    del tasks, stored, first
    if todo:
        _check_outputs(sweep, todo[0])
    counts = Counter()
    for task, rows in _execute(todo, workers, scheduler, dask_local, client, sweep, progress, skipped, total, counts):
        store.write_run(task.key, rows)
    status = store.stored_status()
    final = Counter(status.get(key, "missing") for key in keys)
    store.write_manifest({
        **manifest, "state": "finished" if not final["missing"] else "incomplete",
        "updated": _now(), "counts": {"runs": total, "ok": final["ok"], "failed": final["failed"]},
    })
    if not load:
        return {"runs": total, "ran": sum(counts.values()), "skipped": skipped, "ok": final["ok"], "failed": final["failed"]}
    from experiments.results import load_sweep_results

    return load_sweep_results(out)


def _execute(todo, workers, scheduler, dask_local, client, sweep, progress, skipped, total, counts):
    """Yield (task, rows) from the chosen executor, with a progress bar on stderr."""
    from tqdm import tqdm

    bar = tqdm(total=total, initial=skipped, unit="run", desc=sweep.name, disable=not progress,
               file=sys.stderr, dynamic_ncols=True)
    cluster = own_client = None
    try:
        if client is not None or scheduler or dask_local:
            if client is None:
                from distributed import Client

                if scheduler:
                    client = own_client = Client(scheduler, timeout="10s")
                else:
                    cluster, client = start_local_dask(dask_local)
                    own_client = client
                    bar.write(f"Dask dashboard: {client.dashboard_link}", file=sys.stderr)
            results = _dask(todo, client)
        elif workers == 0 or (workers is None and len(todo) <= 1):
            results = _serial(todo)
        else:
            results = _pool(todo, workers or os.cpu_count() or 1)
        for task, rows in results:
            status = rows["status"].iloc[0]
            counts[status] += 1
            yield task, rows
            bar.update(1)
            if counts["failed"]:
                bar.set_postfix(failed=counts["failed"], refresh=False)
    finally:
        bar.close()
        if own_client is not None:
            own_client.close()
        if cluster is not None:
            cluster.close()


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")
