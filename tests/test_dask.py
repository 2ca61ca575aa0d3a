"""Dask distributed on loopback: the same stored runs as serial and pool runs, a worker
killed mid-run loses nothing, and `--dask-local` from the CLI."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import pandas as pd
import pytest

from experiments.batch.results import load_sweep_results
from experiments.batch.runner import run_sweep
from experiments.batch.sweep import load_sweep
from helpers import chipstate

TINY = Path(__file__).resolve().parent / "data" / "tiny_grid.toml"


def assert_same(a, b) -> None:
    # Other engineers edit the model while tests run: say so rather than show a diff.
    assert set(a.runs["model_version"]) == set(b.runs["model_version"]), "model code changed during the test"
    pd.testing.assert_frame_equal(a.runs.drop(columns="elapsed_s"), b.runs.drop(columns="elapsed_s"))
    pd.testing.assert_frame_equal(a.series, b.series)


@pytest.fixture(scope="module")
def cluster():
    from distributed import Client, LocalCluster

    local = LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                         host="127.0.0.1", dashboard_address="127.0.0.1:0")
    client = Client(local)
    yield local, client
    client.close()
    local.close()


@pytest.fixture(scope="module")
def serial(tmp_path_factory):
    return run_sweep(load_sweep(TINY), tmp_path_factory.mktemp("serial"), workers=0, progress=False)


def test_the_cluster_listens_on_loopback_only(cluster):
    local, client = cluster
    assert local.scheduler_address.startswith("tcp://127.0.0.1:")
    assert client.dashboard_link.startswith("http://127.0.0.1:")
    assert all(address.startswith("tcp://127.0.0.1:") for address in client.nthreads())


def test_serial_pool_and_dask_store_identical_runs(tmp_path, cluster, serial):
    local, _ = cluster
    pooled = run_sweep(load_sweep(TINY), tmp_path / "pool", workers=2, progress=False)
    dasked = run_sweep(load_sweep(TINY), tmp_path / "dask", scheduler=local.scheduler_address, progress=False)
    assert len(serial.runs) == 8 and (serial.runs["status"] == "ok").all()
    assert_same(serial, pooled)
    assert_same(serial, dasked)


def test_a_dask_worker_killed_mid_run_loses_nothing(tmp_path, cluster):
    local, client = cluster
    # Full-length runs (2019Q1-2030Q4) so that runs are in flight when a worker dies.
    sweep = load_sweep(TINY, {"steps": None})
    reference = run_sweep(sweep, tmp_path / "serial", workers=0, progress=False)
    runs = tmp_path / "dask" / "runs"
    killed: list[int] = []

    def kill_a_worker() -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if runs.is_dir() and len(list(runs.glob("*.parquet"))) >= 1:
                pid = next(iter(client.run(os.getpid).values()))
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
                return
            time.sleep(0.02)

    killer = threading.Thread(target=kill_a_worker)
    killer.start()
    dasked = run_sweep(sweep, tmp_path / "dask", client=client, progress=False)
    killer.join()
    assert killed, "no worker was killed: the test did not test anything"
    assert (dasked.runs["status"] == "ok").all() and len(dasked.runs) == 8
    assert_same(reference, dasked)


def test_cli_dask_local(tmp_path, serial):
    result = chipstate("sweep", str(TINY), "--out", str(tmp_path), "--dask-local", "2")
    assert result.returncode == 0, result.stderr
    assert "Dask dashboard: http://127.0.0.1:" in result.stderr
    assert_same(serial, load_sweep_results(tmp_path))
