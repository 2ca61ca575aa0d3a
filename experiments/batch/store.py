"""The results store of a sweep: one Parquet file per run, a manifest, compaction.

Layout of a sweep folder::

    manifest.json            the sweep, its design, SALib problem, seeds, versions, git
    design.parquet           one row per run: key, sample, replicate, seed, parameters
    runs/<key>.parquet       one file per finished run (written by the parent only)
    merged/part-*.parquet    `merge()`'s compacted files

A run file is written as ``runs/_<key>.parquet.<pid>.tmp`` (the writer's process id:
two processes never share a temporary name) and then renamed with ``os.replace``
(atomic on one file system), so a reader or a resumed sweep sees a run either whole or
not at all; pandas, pyarrow and DuckDB skip names starting with ``_``. Readers drop
duplicate run keys (a merge killed between writing its parts and deleting the run files
leaves both), so no run is ever counted twice.

One writer at a time: `RunStore.lock` takes an exclusive ``flock`` on the folder itself
(no lock file to leave behind; the kernel drops it when the process exits, however it
exits, so a killed sweep never blocks a resume). A second sweep (or ``--merge``) on a
folder in use is refused at once with `StoreBusy`, one line naming the process that
holds it.

Manifest states (``manifest["state"]``, with ``counts`` = runs, ok, failed, stored):

- ``running``: a process is writing the folder (``manifest["process"]`` names its pid
  and host). A manifest still saying ``running`` whose process is gone (killed, or the
  machine rebooted) is read as ``interrupted`` by `RunStore.read_manifest` (checked on
  the same host only; from another host it stays ``running``);
- ``interrupted``: stopped before every run was stored (Ctrl-C, SIGTERM, a kill); run
  the same sweep again to resume;
- ``finished``: every run is stored and every run succeeded;
- ``finished_with_failures``: every run is stored, ``counts["failed"]`` of them failed
  (their errors are stored; ``--retry-failed`` runs them again);
- ``incomplete``: the executor ended with runs missing (should not happen; re-run).
"""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path
from typing import Iterable

import pandas as pd
import pyarrow.parquet as pq

from experiments.batch.sweep import SweepError
from experiments.outputs import write_json_atomic, write_parquet_atomic

MANIFEST = "manifest.json"
DESIGN = "design.parquet"
RUNS = "runs"
MERGED = "merged"

STATES = ("running", "interrupted", "finished", "finished_with_failures", "incomplete")
"""Every value `manifest["state"]` takes (see the module docstring)."""


class StoreBusy(SweepError):
    """Another process is writing this sweep folder; the message names it (one line).

    A `SweepError`, so the command line reports it as one line with exit code 2."""


def _tmp_owner(path: Path) -> int | None:
    """The pid in a ``_<name>.<pid>.tmp`` name (None for the old ``_<name>.tmp``)."""
    parts = path.name.split(".")
    return int(parts[-2]) if len(parts) >= 3 and parts[-2].isdigit() else None


def pid_alive(pid: int) -> bool:
    """Whether a process with this id exists on this machine."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def this_process() -> dict:
    """What a manifest records of the process writing it: pid and host."""
    return {"pid": os.getpid(), "host": socket.gethostname()}


def process_gone(process: dict | None) -> bool:
    """Whether the process a manifest names has certainly ended (same host, pid dead)."""
    if not isinstance(process, dict) or process.get("host") != socket.gethostname():
        return False
    pid = process.get("pid")
    return isinstance(pid, int) and not pid_alive(pid)


def visible(paths: Iterable[Path]) -> list[Path]:
    """The finished files among `paths`, sorted: temporary (``_``) and hidden ones left out."""
    return sorted(p for p in paths if not p.name.startswith(("_", ".")))


class RunStore:
    """The files of one sweep folder. Creating it makes the folders; nothing else."""

    def __init__(self, root: str | Path):
        self.root = Path(root)
        self.runs_dir = self.root / RUNS
        self.merged_dir = self.root / MERGED
        self._lock_fd: int | None = None

    def create(self) -> RunStore:
        self.runs_dir.mkdir(parents=True, exist_ok=True)
        for folder in (self.root, self.runs_dir, self.merged_dir):
            for stale in folder.glob("_*.tmp") if folder.is_dir() else ():
                # What a killed writer left (never a stored run); another live
                # process's temporary file is left alone.
                owner = _tmp_owner(stale)
                if owner is None or owner == os.getpid() or not pid_alive(owner):
                    stale.unlink(missing_ok=True)
        return self

    # ------------------------------------------------------------------------ lock
    def lock(self) -> RunStore:
        """Take the folder's writer lock (the folder must exist); raise `StoreBusy`.

        An exclusive, non-blocking ``flock`` on the folder's own descriptor, held until
        `unlock` or the process's end. Where ``fcntl`` does not exist, no lock is taken.
        """
        if self._lock_fd is not None:
            return self
        try:
            import fcntl
        except ImportError:  # pragma: no cover - not POSIX
            return self
        fd = os.open(self.root, os.O_RDONLY)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            holder = (self._read_manifest_raw() or {}).get("process") or {}
            who = f"pid {holder['pid']} on {holder.get('host')}" if "pid" in holder else "another process"
            raise StoreBusy(
                f"{self.root}: busy: {who} is writing this sweep folder; wait for it to "
                "finish (or stop it), then run again (nothing was written)"
            ) from None
        self._lock_fd = fd
        return self

    def unlock(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # closing the descriptor drops the flock
            self._lock_fd = None

    # --------------------------------------------------------------------- manifest
    @property
    def manifest_path(self) -> Path:
        return self.root / MANIFEST

    def _read_manifest_raw(self) -> dict | None:
        if not self.manifest_path.is_file():
            return None
        try:
            return json.loads(self.manifest_path.read_text())
        except (OSError, ValueError):
            return None

    def read_manifest(self) -> dict | None:
        """The manifest, its ``state`` as it is now: ``running`` whose process is gone
        reads as ``interrupted`` (``state_written`` keeps what the file says)."""
        manifest = self._read_manifest_raw()
        if manifest and manifest.get("state") == "running" and process_gone(manifest.get("process")):
            manifest = {**manifest, "state": "interrupted", "state_written": "running"}
        return manifest

    def write_manifest(self, manifest: dict) -> None:
        write_json_atomic(self.manifest_path, manifest)

    def write_design(self, design: pd.DataFrame) -> None:
        write_parquet_atomic(self.root / DESIGN, design)

    def read_design(self) -> pd.DataFrame:
        return pd.read_parquet(self.root / DESIGN)

    # ------------------------------------------------------------------------- runs
    def run_path(self, key: str) -> Path:
        return self.runs_dir / f"{key}.parquet"

    def write_run(self, key: str, frame: pd.DataFrame) -> None:
        """Store one run's rows under its key, atomically (replacing a failed attempt)."""
        write_parquet_atomic(self.run_path(key), frame)

    def run_files(self) -> list[Path]:
        return visible(self.runs_dir.glob("*.parquet")) if self.runs_dir.is_dir() else []

    def merged_files(self) -> list[Path]:
        return visible(self.merged_dir.glob("*.parquet")) if self.merged_dir.is_dir() else []

    def stored_status(self) -> dict[str, str]:
        """Run key -> status ('ok' or 'failed') of every stored run.

        Reads only the key and status columns, one file at a time, so memory stays
        small whatever the number of runs.
        """
        status: dict[str, str] = {}
        for path in self.merged_files():
            table = pq.read_table(path, columns=["run_key", "status"])
            for key, value in zip(table.column("run_key").to_pylist(), table.column("status").to_pylist()):
                status.setdefault(key, value)
        for path in self.run_files():
            table = pq.read_table(path, columns=["status"])
            # A loose run file is newer than a merged copy of the same run (a retry).
            status[path.stem] = table.column("status")[0].as_py()
        return status

    # ---------------------------------------------------------------------- merging
    def merge(self, rows_per_file: int = 500_000) -> list[Path]:
        """Compact every stored run into a few ``merged/part-*.parquet`` files.

        New parts are written (atomically) before the files they replace are deleted,
        so a merge killed at any point loses nothing; readers drop the duplicates it
        may leave. Takes the folder's lock (`StoreBusy` while a sweep writes it).
        Returns the new parts.
        """
        held = self._lock_fd is not None
        self.lock()
        try:
            return self._merge(rows_per_file)
        finally:
            if not held:
                self.unlock()

    def _merge(self, rows_per_file: int) -> list[Path]:
        old_parts, loose = self.merged_files(), self.run_files()
        if not old_parts and not loose:
            return []
        frame = self.read()
        self.merged_dir.mkdir(parents=True, exist_ok=True)
        generation = 1 + max((int(p.stem.split("-")[1]) for p in old_parts), default=0)
        parts = []
        for i, start in enumerate(range(0, max(len(frame), 1), rows_per_file)):
            path = self.merged_dir / f"part-{generation:04d}-{i:04d}.parquet"
            write_parquet_atomic(path, frame.iloc[start:start + rows_per_file])
            parts.append(path)
        for path in old_parts + loose:
            path.unlink(missing_ok=True)
        return parts

    def read(self, columns: list[str] | None = None) -> pd.DataFrame:
        """All stored rows with each run once: a loose run file beats a merged copy."""
        frames = []
        for order, path in enumerate(self.merged_files() + self.run_files()):
            part = pq.read_table(path, columns=columns).to_pandas()
            part["_order"] = order
            frames.append(part)
        if not frames:
            return pd.DataFrame()
        frame = pd.concat(frames, ignore_index=True)
        if "run_key" in frame.columns:
            newest = frame.groupby("run_key")["_order"].transform("max")
            frame = frame[frame["_order"] == newest]
        return frame.drop(columns="_order").reset_index(drop=True)
