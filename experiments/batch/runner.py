"""The sweep runner: expand a sweep, run what is not stored yet, store each run at once.

Executors (all give identical stored results, because a run depends only on its task):

- ``workers=0``: in this process, one run after another;
- ``workers=N`` (default: the number of CPUs): a local process pool (forked on Linux,
  spawned elsewhere: `pool_context`). A worker that dies takes its pool with it: the
  pool is rebuilt and the unfinished runs are resubmitted (a run in flight at three
  such deaths is recorded as failed);
- ``scheduler="tcp://host:port"``: an existing Dask distributed cluster;
- ``dask_local=N``: a Dask LocalCluster of N single-threaded worker processes bound to
  127.0.0.1 (dashboard on a free loopback port).

Only the parent writes results: each finished run's rows come back to it, are written
as one Parquet file, and are dropped, so the parent's memory does not grow with the
number of runs, and remote Dask workers need no shared file system. At most
2 x workers runs are in flight at any time.

A sweep folder has one writer at a time (`RunStore.lock`): a second sweep on a folder
in use is refused at once with one line (`StoreBusy`, a SweepError), and nothing is
written. Everything that can fail is checked before the first byte is written (the
output folder's kind and settings, the design's size, the model starting and having
every reporter asked for); a folder this call created is removed again if the start
fails anyway.

Ctrl-C (or SIGTERM) stops the executor (pool workers terminated, Dask futures
cancelled), writes the manifest as ``interrupted`` with its counts and raises
`SweepInterrupted`; the same call again resumes. Pool workers ignore SIGINT, so a
Ctrl-C in a terminal prints no traceback from them.

Memory: Mesa 3.3.1 keeps every model alive through ``Agent._ids`` (a class-level dict
keyed by model; fixed in Mesa 3.4.2, mesa#3180). `run_frames` and `simulate_model`
release each model after its run (`release_model`), so a worker's memory stays flat
over thousands of runs.
"""

from __future__ import annotations

import contextlib
import gc
import multiprocessing
import os
import shutil
import signal
import sys
import threading
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

from experiments import RESULTS_DIR, import_quickly
from experiments.outputs import MARKER, OutputError, claim, mark, read_marker
from experiments.batch.store import DESIGN, MANIFEST, RUNS, RunStore, this_process
from experiments.batch.sweep import (
    RunTask,
    Sweep,
    SweepError,
    expand,
    load_sweep,
    simulator_name,
)
from experiments.provenance import git_revision, model_version, versions
from model.technology import parse_quarter

MAX_WORKER_DEATHS = 3
"""A run in flight when this many pools (or Dask workers) died is recorded as failed."""

MAX_RUNS = 1_000_000
"""The most runs a sweep may plan (samples x seeds); see experiments.batch.sweep.MAX_RUNS."""

Simulator = Callable[[str, dict, int, "int | None"], pd.DataFrame]


class SweepInterrupted(Exception):
    """A sweep stopped by Ctrl-C or SIGTERM. `stored` of `total` runs are in `out`.

    ``str(exc)`` is "N of M runs stored in OUT; run the same command again to resume".
    """

    def __init__(self, stored: int, total: int, out: Path):
        self.stored, self.total, self.out = stored, total, Path(out)
        super().__init__(f"{stored} of {total} runs stored in {out}; run the same command again to resume")


# ------------------------------------------------------------------------ one run
def release_model(model: Any) -> None:
    """Let a finished model be garbage-collected.

    Mesa 3.3.1 counts agent ids per model in a class-level dict, ``Agent._ids``, keyed
    by the model: every model ever built stays alive (~1.3 MiB each here). Dropping
    the model's entry frees it. Later Mesa (3.4.2+, mesa#3180) has no such dict, so
    this does nothing there. Call it only when the model will build no more agents.
    """
    from mesa import Agent

    ids = getattr(Agent, "_ids", None)
    if ids is not None and hasattr(ids, "pop"):
        ids.pop(model, None)


def run_frames(scenario: str | Path, seed: int, overrides: dict | None = None,
               steps: int | None = None, collect: Iterable[str] | None = None) -> dict[str, pd.DataFrame]:
    """Build the model, run it, return its frames (`ChipMarketModel.frames`), release it.

    What every caller that runs many models in one process should use (sweeps,
    validation seeds, calibration): memory stays flat however many runs it makes.
    `steps=None` runs to the scenario's end. `collect` names the model reporters to
    record (the model's lean mode: only those and `quarter`, no agent-type frame, no
    ledger); None records everything.
    """
    from model import ChipMarketModel

    lean = {} if collect is None else {"collect": tuple(collect)}
    model = ChipMarketModel(scenario=scenario, rng=seed, **lean, **(overrides or {}))
    try:
        model.run(steps=steps)
        return model.frames()
    finally:
        release_model(model)


def simulate_model(scenario: str, overrides: dict, seed: int, steps: int | None,
                   collect: Iterable[str] | None = None) -> pd.DataFrame:
    """Run the real model once and return its model-level frame (one row per quarter).

    Row 0 is the initial state; then one row per step. `steps=None` runs to the
    scenario's end. `collect`: only these reporters (`run_frames`); a sweep passes
    the reporters its outcomes and series read. The model is released after the run.
    """
    return run_frames(scenario, seed, overrides, steps, collect)["model"]


def outcome_values(frame: pd.DataFrame, outcomes: Iterable[dict]) -> dict[str, float]:
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
    if task.simulator is None and model_version() != task.model_version:
        # The run key promises the model the sweep was planned with; this process
        # would run other code (model/ or agents/ edited since), so it refuses.
        return failed_rows(task, f"ModelChanged: this worker's model is {model_version()}, "
                                 f"the sweep's is {task.model_version} (restart long-lived workers, then run again)")
    try:
        if task.simulator is None:  # the model's lean mode: only the reporters the run stores
            frame = simulate_model(task.scenario, dict(task.overrides), task.seed, task.steps,
                                   collect=task.reporters)
        else:
            frame = task.simulator(task.scenario, dict(task.overrides), task.seed, task.steps)
        scalars = outcome_values(frame, task.outcomes)
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


def worker_init() -> None:
    """Pool workers ignore SIGINT: a terminal's Ctrl-C reaches the whole process group,
    and only the parent should act on it (it stops the pool). SIGTERM ends a worker
    (a forked worker would otherwise inherit the parent's SIGTERM handler)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def pool_context() -> multiprocessing.context.BaseContext:
    """How pool workers start: forked on Linux, spawned elsewhere.

    A forked worker starts with the parent's imports (Mesa, pandas, the model: ~1.3 s
    that each spawned worker spends again before its first run, most of a short
    sweep's cost) and its cached scenario, world and model version. Forking is safe
    here: the parent holds no lock a worker needs (its threads are idle: tqdm's
    monitor, pyarrow's pool), and a worker writes nothing but its result. Elsewhere
    (macOS, Windows) fork is unsafe or absent, and workers are spawned, as `import
    mesa` makes the default.
    """
    method = "fork" if sys.platform.startswith("linux") else "spawn"
    return multiprocessing.get_context(method)


@contextlib.contextmanager
def _sigint_ignored():
    """Ignore Ctrl-C while cleaning up (a second Ctrl-C must not leave half a cleanup)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def stop_pool(pool: ProcessPoolExecutor) -> None:
    """Stop a pool now: terminate its workers (runs in flight are abandoned), join them."""
    with _sigint_ignored():
        terminate = getattr(pool, "terminate_workers", None)  # Python 3.14+
        if terminate is not None:
            terminate()
        else:
            for process in list((getattr(pool, "_processes", None) or {}).values()):
                with contextlib.suppress(Exception):
                    process.terminate()
        pool.shutdown(wait=True, cancel_futures=True)


def _pool(tasks: Iterable[RunTask], workers: int) -> Iterator[tuple[RunTask, pd.DataFrame]]:
    source = iter(tasks)
    pending: deque[RunTask] = deque()  # runs to retry after a pool died
    deaths: Counter[str] = Counter()
    context = pool_context()

    def next_task() -> RunTask | None:
        return pending.popleft() if pending else next(source, None)

    task = next_task()
    while task is not None:
        inflight: dict = {}
        broken = False
        if context.get_start_method() == "fork":
            gc.freeze()  # forked workers then leave the parent's objects' pages unwritten (no copy-on-write by gc)
        pool = ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=worker_init)
        try:
            while (task is not None or inflight) and not broken:
                while task is not None and len(inflight) < 2 * workers:
                    inflight[pool.submit(execute_run, task)] = task
                    task = next_task()
                done, _ = wait(inflight, return_when=FIRST_COMPLETED)
                for future in done:
                    if isinstance(future.exception(), BrokenProcessPool):
                        broken = True
                        continue
                    finished = inflight.pop(future)
                    yield finished, future.result()
        except BaseException:  # Ctrl-C, or the consumer stopped (GeneratorExit)
            stop_pool(pool)
            raise
        pool.shutdown(wait=not broken, cancel_futures=True)
        if task is not None:
            pending.appendleft(task)
        # A dead worker breaks every future in flight; which run killed it is unknown,
        # so each is retried, and given up after MAX_WORKER_DEATHS.
        for lost in reversed(list(inflight.values())):
            deaths[lost.key] += 1
            if deaths[lost.key] >= MAX_WORKER_DEATHS:
                yield lost, failed_rows(lost, f"WorkerDied: a worker process died {MAX_WORKER_DEATHS} times during this run")
            else:
                pending.appendleft(lost)
        task = next_task()


def _dask(tasks: Iterable[RunTask], client, cancel: bool = True) -> Iterator[tuple[RunTask, pd.DataFrame]]:
    """Runs on a Dask cluster. Stopped early (Ctrl-C), it cancels the runs in flight
    when `cancel` (a cluster that lives on); a cluster about to be closed needs not."""
    from distributed import as_completed

    queue = iter(tasks)
    window = 2 * max(1, sum(client.nthreads().values()))
    by_key: dict[str, RunTask] = {}
    futures: dict[str, Any] = {}
    completed = as_completed()

    def submit(task: RunTask) -> None:
        # pure=False: two runs are never merged by Dask, whatever their arguments.
        future = client.submit(execute_run, task, pure=False, retries=0)
        by_key[future.key] = task
        futures[future.key] = future
        completed.add(future)

    try:
        yield from _dask_results(queue, window, by_key, futures, completed, submit)
    except BaseException:  # Ctrl-C, or the consumer stopped: cancel what is in flight
        if cancel:
            with _sigint_ignored(), contextlib.suppress(Exception):
                client.cancel(list(futures.values()), force=True)
        raise


def _dask_results(queue, window, by_key, futures, completed, submit):
    for _, task in zip(range(window), queue):
        submit(task)
    for future in completed:
        futures.pop(future.key, None)
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

    # Its processes are started with SIGINT ignored (they inherit that), so a terminal's
    # Ctrl-C reaches only this process, which closes the cluster itself.
    with _sigint_ignored():
        cluster = LocalCluster(
            n_workers=n_workers, threads_per_worker=1, processes=True,
            host="127.0.0.1", dashboard_address="127.0.0.1:0",
        )
    return cluster, Client(cluster)


# ------------------------------------------------------------------------ manifest
def _design_frame(samples: pd.DataFrame, tasks: list[RunTask], sweep: Sweep) -> pd.DataFrame:
    rows = [{"run_key": t.key, "sample": t.sample, "replicate": t.replicate, "seed": t.seed,
             "scenario": t.scenario, **t.columns} for t in tasks]
    design = pd.DataFrame(rows)
    x = samples.attrs.get("X")
    if x is not None:
        # The raw SALib matrix (what sensitivity analysis needs), one column per parameter.
        for j, name in enumerate(sweep.parameters):  # (a grid or posterior design has none)
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


def folder_settings(sweep: Sweep, exact: bool = False) -> dict:
    """What identifies a sweep's folder (`experiments.outputs`): its name and scenario.

    Not its seeds or samples: a sweep extended with more of them resumes in its folder.
    `exact`: the whole definition too, for results that must not be extended in place
    (a comparison of 20 seeds is not resumed as one of 5).
    """
    settings = {"sweep": sweep.name, "scenario": sweep.scenario}
    if sweep.design.kind == "posterior":
        # Other posterior draws are another sweep, not more runs of this one.
        settings["posterior_sha256"] = sweep.definition()["design"]["posterior_sha256"]
    return {**settings, "definition": sweep.digest()} if exact else settings


def _claim_folder(out: Path, sweep: Sweep, overwrite: bool, exact: bool) -> None:
    """Raise OutputError unless `out` may receive this sweep (nothing is written)."""
    found = read_marker(out) if out.is_dir() else None
    if found is not None and found.get("legacy") and found.get("kind") == "sweep":
        # A sweep folder from before markers: the same sweep if its name and scenario
        # are (and, with `exact`, its whole definition).
        previous = RunStore(out).read_manifest() or {}
        definition = previous.get("sweep") or {}
        same = (definition.get("name"), definition.get("scenario")) == (sweep.name, sweep.scenario)
        if same and (not exact or previous.get("sweep_digest") == sweep.digest()):
            return
    if sweep.design.kind == "posterior" and not overwrite and found is not None:
        _refuse_another_posterior(out, sweep)
    claim(out, "sweep", folder_settings(sweep, exact), overwrite=overwrite)


def _refuse_another_posterior(out: Path, sweep: Sweep) -> None:
    """Raise OutputError (one line) if `out` holds this sweep over another posterior file:
    its draws would be mixed with other draws."""
    previous = RunStore(out).read_manifest() or {}
    design = (previous.get("sweep") or {}).get("design") or {}
    before = design.get("posterior_sha256")
    now = sweep.definition()["design"]["posterior_sha256"]
    if previous.get("sweep", {}).get("name") == sweep.name and before is not None and before != now:
        raise OutputError(
            f"--out {out}: holds sweep '{sweep.name}' over another posterior (sha256 {before[:12]}); "
            f"{sweep.posterior_path()} is now {now[:12]}; expected a new folder, or --overwrite to "
            "replace it (nothing was written)"
        )


_OURS = {MARKER, MANIFEST, DESIGN, RUNS}


def _remove_if_ours(out: Path) -> None:
    """Remove a folder this call created, if it holds only what this call writes."""
    try:
        names = {p.name for p in out.iterdir()}
        runs = list((out / RUNS).iterdir()) if (out / RUNS).is_dir() else []
    except OSError:
        return
    strays = {n for n in names - _OURS if not (n.startswith("_") and n.endswith(f".{os.getpid()}.tmp"))}
    if not strays and not runs:
        shutil.rmtree(out, ignore_errors=True)


@contextlib.contextmanager
def _sigterm_as_interrupt():
    """Within the block, SIGTERM raises KeyboardInterrupt (as Ctrl-C does), so a
    terminated sweep stops cleanly and records itself as interrupted."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum, frame):  # noqa: ARG001 - signal handler signature
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


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
    overwrite: bool = False,
    exact: bool = False,
):
    """Run every run of `sweep` not yet stored in `out`; return the results.

    `sweep` is a `Sweep` or a sweep file (path or shipped name). Runs already stored
    are skipped (failed ones too, unless `retry_failed`), so calling this again after
    a crash, a kill or Ctrl-C resumes with no run lost or duplicated. A run that raises
    is stored as failed and the sweep goes on. Exactly one executor is used: `client`
    (a dask.distributed Client), `scheduler` (its address), `dask_local` (a
    LocalCluster of that many workers), or a process pool of `workers` (0: in this
    process). `simulator` replaces the model (tests only).

    The output folder follows `experiments.outputs`: a new or empty folder, or this
    sweep's own (same name and scenario, `folder_settings`); another sweep's folder only
    with `overwrite` (its stored runs stay as a cache, not part of the results); with
    `exact`, the same sweep means the same whole definition (seeds and samples too); a run
    folder or a user's folder never (`OutputError`, nothing written). Another process
    writing the folder: `StoreBusy` (a SweepError), nothing written.

    A folder is a cache of runs keyed by run key; the sweep last run into it defines
    (through design.parquet) which of them its results include. So a sweep extended
    with more seeds or samples reuses every run it already has, and runs of another
    model version or other outputs are never taken for this sweep's (their keys differ).

    Ctrl-C or SIGTERM: the executor is stopped, the manifest says ``interrupted`` and
    `SweepInterrupted` is raised (its message: how many runs are stored, and that the
    same call resumes).

    Returns `experiments.batch.results.SweepResults` (all stored runs) when `load`, else a
    dict of counts (what a benchmark wants: nothing kept in memory).
    """
    if not isinstance(sweep, Sweep):
        sweep = load_sweep(sweep)
    if sum(x is not None for x in (scheduler, dask_local, client)) > 1 or (
        workers is not None and (scheduler or dask_local or client)
    ):
        raise SweepError("choose one executor: workers, scheduler, dask_local or client")
    out = Path(out) if out is not None else default_out(sweep)
    keys: list[str] = []
    try:
        with _sigterm_as_interrupt():
            return _run_sweep(sweep, out, workers, scheduler, dask_local, client, progress,
                              retry_failed, load, simulator, overwrite, exact, keys)
    except KeyboardInterrupt:
        # Interrupted before the runs started (the runs phase raises SweepInterrupted
        # itself): count what the folder already holds of this sweep.
        with _sigint_ignored():
            stored = RunStore(out).stored_status() if (out / RUNS).is_dir() else {}
        raise SweepInterrupted(sum(k in stored for k in keys), len(keys), out) from None


def _run_sweep(sweep, out, workers, scheduler, dask_local, client, progress, retry_failed,
               load, simulator, overwrite, exact, keys):
    # ---- every check before anything is written
    _claim_folder(out, sweep, overwrite, exact)
    samples, tasks = expand(sweep, simulator)
    first: dict = {}
    for task in tasks:  # equal keys (e.g. meeting Morris trajectories) are one run, made once
        first.setdefault(task.key, task)
    keys.extend(first)
    store = RunStore(out)
    stored = store.stored_status()
    if any(t.key not in stored or (retry_failed and stored[t.key] == "failed") for t in first.values()):
        if simulator is None:  # the model's code (Mesa, networkx), before a pool forks
            import_quickly("model.model")
        _check_outputs(sweep, next(iter(first.values())))
    identity = {"sweep_digest": sweep.digest(), "model_version": model_version(),
                "simulator": simulator_name(simulator) or "model.ChipMarketModel"}
    design = _design_frame(samples, tasks, sweep)
    manifest = {
        **identity,
        "sweep": sweep.definition(), "source": sweep.source,
        "design": {"kind": sweep.design.kind, "samples": len(samples), "runs": len(tasks)},
        "problem": sweep.problem(), "seeds": sweep.seed_list(),
        "parameters": sweep.parameter_names(), "outcomes": [o.name for o in sweep.outcomes],
        "series": list(sweep.series), "versions": versions(), "git": git_revision(),
        "process": this_process(),
    }
    del samples, tasks

    # ---- claim the folder: lock it, mark it, write design and manifest
    created = not out.exists()
    locked = False
    try:
        out.mkdir(parents=True, exist_ok=True)
        store.lock()
        locked = True
        _claim_folder(out, sweep, overwrite, exact)  # again, under the lock
        previous = store.read_manifest()
        manifest["created"] = (previous or {}).get("created", _now())
        mark(out, "sweep", folder_settings(sweep, exact))
        store.create()
        store.write_design(design)
        store.write_manifest({**manifest, "state": "running", "updated": _now()})
        stored = store.stored_status()  # what is stored now that no one else writes
    except BaseException:
        with _sigint_ignored():
            if created and locked:
                _remove_if_ours(out)
            store.unlock()
        raise
    del design

    todo = [t for t in first.values()
            if t.key not in stored or (retry_failed and stored[t.key] == "failed")]
    total, skipped = len(keys), len(keys) - len(todo)
    del first

    # ---- the runs
    counts: Counter = Counter()
    interrupted = completed = False
    try:
        execution = execute_tasks(todo, workers, scheduler, dask_local, client, sweep, progress, skipped, total, counts)
        try:
            for task, rows in execution:
                store.write_run(task.key, rows)
                # What the folder holds, kept here rather than read back at the end (~1.4 ms
                # a run file): under the lock, no one else writes it, and a run counts once
                # its file is in place.
                stored[task.key] = rows["status"].iloc[0]
        finally:
            with _sigint_ignored():
                execution.close()
        completed = True
    except KeyboardInterrupt:
        interrupted = True
    finally:
        with _sigint_ignored():
            final = Counter(stored.get(key, "missing") for key in keys)
            done = total - final["missing"]
            if not completed:  # Ctrl-C, SIGTERM, or an error (e.g. a lost Dask scheduler)
                state = "interrupted"
            elif final["missing"]:
                state = "incomplete"
            else:
                state = "finished_with_failures" if final["failed"] else "finished"
            store.write_manifest({
                **manifest, "state": state, "updated": _now(),
                "counts": {"runs": total, "ok": final["ok"], "failed": final["failed"], "stored": done},
            })
            store.unlock()
    if interrupted:
        raise SweepInterrupted(done, total, out)
    if not load:
        return {"runs": total, "ran": sum(counts.values()), "skipped": skipped, "ok": final["ok"], "failed": final["failed"]}
    from experiments.batch.results import load_sweep_results

    return load_sweep_results(out)


def execute_tasks(todo, workers, scheduler, dask_local, client, sweep, progress, skipped, total, counts):
    """Yield (task, rows) from the chosen executor (a local pool, Dask, or this process),
    with a progress bar on stderr: the sweeps' and `experiments.ensemble.run_ensemble`'s."""
    from tqdm import tqdm

    bar = tqdm(total=total, initial=skipped, unit="run", desc=sweep.name, disable=not progress,
               file=sys.stderr, dynamic_ncols=True)
    cluster = own_client = results = None
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
            results = _dask(todo, client, cancel=cluster is None)
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
    except BaseException:
        # Stopped early (Ctrl-C): our own cluster's workers would log a warning for
        # each run cancelled by its closing; those runs are simply not stored.
        if cluster is not None:
            with _sigint_ignored(), contextlib.suppress(Exception):
                client.run(_quiet_dask_worker)
        raise
    finally:
        with _sigint_ignored():
            bar.close()
            if results is not None:
                results.close()  # stops the pool / cancels Dask futures if runs are left
            if own_client is not None:
                own_client.close()
            if cluster is not None:
                cluster.close()


def _quiet_dask_worker() -> None:
    import logging

    logging.getLogger("distributed.worker.state_machine").setLevel(logging.ERROR)


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")
