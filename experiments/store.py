"""The results store of a sweep: one Parquet file per run, a manifest, compaction.

Layout of a sweep folder::

    manifest.json            the sweep, its design, SALib problem, seeds, versions, git
    design.parquet           one row per run: key, sample, replicate, seed, parameters
    runs/<key>.parquet       one file per finished run (written by the parent only)
    merged/part-*.parquet    `merge()`'s compacted files

A run file is written as ``runs/_<key>.parquet.tmp`` and then renamed with
``os.replace`` (atomic on one file system), so a reader or a resumed sweep sees a run
either whole or not at all; pandas, pyarrow and DuckDB skip names starting with ``_``.
Readers drop duplicate run keys (a merge killed between writing its parts and deleting
the run files leaves both), so no run is ever counted twice.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Iterable

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

MANIFEST = "manifest.json"
DESIGN = "design.parquet"
RUNS = "runs"
MERGED = "merged"


def write_text_atomic(path: Path, text: str) -> None:
    """Write text to `path` through ``_<name>.tmp`` and an atomic rename: a reader sees
    the old file or the new one, never half of one."""
    tmp = path.with_name(f"_{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def write_json_atomic(path: Path, data: Any) -> None:
    """Write JSON to `path` atomically (`write_text_atomic`)."""
    write_text_atomic(path, json.dumps(data, indent=2, sort_keys=True, default=str))


def write_csv_atomic(path: Path, frame: pd.DataFrame) -> None:
    """Write a frame to `path` as CSV (no index) atomically (`write_text_atomic`)."""
    write_text_atomic(path, frame.to_csv(index=False))


def write_parquet_atomic(path: Path, frame: pd.DataFrame) -> None:
    """Write a frame to `path` as Parquet through ``_<name>.tmp`` and ``os.replace``."""
    tmp = path.with_name(f"_{path.name}.tmp")
    table = pa.Table.from_pandas(frame, preserve_index=False)
    pq.write_table(table, tmp)
    os.replace(tmp, path)


def visible(paths: Iterable[Path]) -> list[Path]:
    """The finished files among `paths`, sorted: temporary (``_``) and hidden ones left out."""
    return sorted(p for p in paths if not p.name.startswith(("_", ".")))


class RunStore:
    """The files of one sweep folder. Creating it makes the folders; nothing else."""

    def __init__(self, root: str | Path):
        self.root = Path(root)
        self.runs_dir = self.root / RUNS
        self.merged_dir = self.root / MERGED

    def create(self) -> RunStore:
        self.runs_dir.mkdir(parents=True, exist_ok=True)
        for stale in self.runs_dir.glob("_*.tmp"):
            # A temporary file is what a killed writer left: never a stored run.
            stale.unlink(missing_ok=True)
        return self

    # --------------------------------------------------------------------- manifest
    @property
    def manifest_path(self) -> Path:
        return self.root / MANIFEST

    def read_manifest(self) -> dict | None:
        if not self.manifest_path.is_file():
            return None
        return json.loads(self.manifest_path.read_text())

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
        may leave. Returns the new parts.
        """
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
