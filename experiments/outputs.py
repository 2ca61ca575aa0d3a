"""Output folders: named by what made them, and never a user's folder.

Every folder a command writes (a run, a sweep, a comparison, a validation) carries a
marker, ``.chipstate.json``: which kind of output it is and a digest of the settings
that made it. The rules, checked before any work starts:

- a missing or empty folder is claimed (the marker is written first);
- a folder holding anything but this tool's marked output is refused: never written
  into, never deleted (``--out ..`` or a folder holding a thesis is safe);
- a marked folder of another kind is refused;
- a marked folder of the same kind but other settings is refused unless the caller
  asks to overwrite (``--overwrite``);
- a marked folder of the same settings is the same result: a resumable output (a
  sweep) carries on in it; a one-shot output (a run) is replaced and the command says
  so.

Folders written before the marker existed are recognised by their manifest (a run's
``manifest.json`` with ``seed`` and ``scenario``; a sweep's with ``sweep_digest``).

Every file is written whole or not at all (`write_text_atomic` and its kin: a
temporary ``_<name>.<pid>.tmp``, then an atomic rename); readers skip names that
start with ``_`` or ``.``.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from experiments import RESULTS_DIR

if TYPE_CHECKING:
    import pandas as pd

MARKER = ".chipstate.json"


class OutputError(ValueError):
    """An output folder the command may not write; the message names it and says why."""


def digest(settings: Any, length: int | None = 8) -> str:
    """A stable SHA-256 hash of plain data (sorted keys; tuples as lists), its first
    `length` hex digits (None: all 64). Folder names, markers, sweep digests and run
    keys all hash this way."""
    text = json.dumps(settings, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:length]


def slug(text: str) -> str:
    """A file-name-safe form of a scenario name or path ('my/x.toml' -> 'x')."""
    stem = Path(str(text)).stem if str(text).endswith(".toml") else str(text)
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in stem) or "x"


# ---------------------------------------------------------------- folder names
def _scenario_id(scenario: str | Path) -> tuple[str, bool]:
    """A shipped scenario's name, or a scenario file's resolved path; and which it is."""
    name = str(scenario)
    if name.endswith(".toml") or Path(name).exists():
        return str(Path(name).resolve()), False
    return name, True


def run_settings(scenario: str, seed: int, steps: int | None, overrides: dict | None) -> dict:
    """What makes a run: the scenario (a shipped name, or a file's resolved path), the
    overrides, the seed and the steps (None: to the scenario's end)."""
    return {"scenario": _scenario_id(scenario)[0], "overrides": overrides or {}, "seed": seed,
            "steps": steps}


def run_folder(scenario: str, seed: int, steps: int | None = None,
               overrides: dict | None = None) -> Path:
    """results/runs/<scenario>[-<overrides hash>]-seed<N>[-<steps>q]/.

    The default run of a shipped scenario keeps the plain name (`historical-seed0`); a
    scenario file or overrides add a hash of both, a partial run its number of steps.
    """
    settings = run_settings(scenario, seed, steps, overrides)
    shipped = _scenario_id(scenario)[1]
    name = slug(str(scenario))
    if overrides or not shipped:
        name += "-" + digest([settings["scenario"], settings["overrides"]], 6)
    name += f"-seed{seed}"
    if steps is not None:
        name += f"-{steps}q"
    return RESULTS_DIR / "runs" / name


def compare_settings(a: str, b: str, replicates: int, base_seed: int, steps: int | None,
                     outcomes: Any = None) -> dict:
    """What makes a comparison: both scenarios, the seeds, the steps, the outcomes."""
    return {"a": _scenario_id(a)[0], "b": _scenario_id(b)[0], "replicates": replicates,
            "base_seed": base_seed, "steps": steps, "outcomes": outcomes}


def compare_folder(a: str, b: str, replicates: int, base_seed: int = 0, steps: int | None = None,
                   outcomes: Any = None, window: tuple[str, str] | None = None) -> Path:
    """results/compare/<A>-vs-<B>[-<hash>]-seeds<first>-<last>[-<steps>q][-w<start>-<end>]/;
    the hash stands for scenario files and non-default outcomes, `window` for a
    who-gains window other than the default (None)."""
    name = f"{slug(a)}-vs-{slug(b)}"
    if outcomes is not None or not (_scenario_id(a)[1] and _scenario_id(b)[1]):
        settings = compare_settings(a, b, replicates, base_seed, steps, outcomes)
        name += "-" + digest([settings["a"], settings["b"], outcomes], 6)
    name += f"-seeds{base_seed}-{base_seed + replicates - 1}"
    if steps is not None:
        name += f"-{steps}q"
    if window is not None:
        name += f"-w{window[0]}-{window[1]}"
    return RESULTS_DIR / "compare" / name


def validation_settings(scenario: str, seeds: int, data: str | Path, overrides: dict | None,
                        ensemble: dict | None = None) -> dict:
    """What makes a validation: the scenario, the seeds, the data file, the overrides;
    over a posterior ensemble also `ensemble` (its file, draws and sample seed), absent
    from a plain validation's settings."""
    settings = {"scenario": _scenario_id(scenario)[0], "seeds": seeds,
                "data": str(Path(data).resolve()), "overrides": overrides or {}}
    if ensemble:
        settings["ensemble"] = ensemble
    return settings


def validation_folder(scenario: str, seeds: int, data: str | Path, overrides: dict | None,
                      default_data: str | Path, ensemble: dict | None = None) -> Path:
    """results/validation/<scenario>[-<hash>]-seeds<N>/; the hash stands for a scenario
    file, another data file or overrides. Over a posterior ensemble:
    <scenario>-<hash>-ensemble<D>-seeds<N>/, the hash standing also for the ensemble."""
    settings = validation_settings(scenario, seeds, data, overrides, ensemble)
    name = slug(scenario)
    own = Path(data).resolve() != Path(default_data).resolve()
    if ensemble:
        name += "-" + digest([settings["scenario"], settings["data"], settings["overrides"], ensemble], 6)
        return RESULTS_DIR / "validation" / f"{name}-ensemble{ensemble['draws']}-seeds{seeds}"
    if overrides or own or not _scenario_id(scenario)[1]:
        name += "-" + digest([settings["scenario"], settings["data"], settings["overrides"]], 6)
    return RESULTS_DIR / "validation" / f"{name}-seeds{seeds}"


# --------------------------------------------------------------------- the rules
def read_marker(folder: Path) -> dict | None:
    """The marker of a folder this tool made (or a legacy manifest's equivalent), else None."""
    marker = folder / MARKER
    if marker.is_file():
        try:
            return json.loads(marker.read_text())
        except (OSError, ValueError, UnicodeDecodeError):
            return None
    manifest = folder / "manifest.json"
    if manifest.is_file():
        try:
            data = json.loads(manifest.read_text())
        except (OSError, ValueError, UnicodeDecodeError):
            return None
        if isinstance(data, dict) and "sweep_digest" in data:
            return {"kind": "sweep", "settings": None, "legacy": True}
        if isinstance(data, dict) and {"seed", "scenario"} <= set(data):
            return {"kind": "run", "settings": None, "legacy": True}
    return None


@dataclass(frozen=True)
class Claim:
    """What `claim` found: whether the folder held an earlier output of these settings
    (`same`) or of other settings that the caller chose to overwrite (`replaced`)."""

    path: Path
    existed: bool
    same: bool
    replaced: bool


def claim(folder: str | Path, kind: str, settings: Any, *, overwrite: bool = False,
          flag: str = "--out") -> Claim:
    """Check that `folder` may receive output of `kind` made from `settings`.

    Raises OutputError (one line naming the folder, what is there and what to do) for
    a file, a foreign folder, a folder of another kind, or other settings without
    `overwrite`. Writes nothing: the caller writes the marker (`mark`) once it knows
    the work can start.
    """
    folder = Path(folder)
    key = digest(settings, 16)
    if folder.exists() and not folder.is_dir():
        raise OutputError(f"{flag} {folder}: is a file, expected a folder (or a path that does not exist)")
    if not folder.exists() or not any(folder.iterdir()):
        return Claim(folder, existed=False, same=False, replaced=False)
    found = read_marker(folder)
    if found is None:
        raise OutputError(
            f"{flag} {folder}: this folder holds files chipstate did not write; "
            "expected a new or empty folder (nothing was written)"
        )
    if found.get("kind") != kind:
        raise OutputError(
            f"{flag} {folder}: holds a chipstate {found.get('kind')} output, not a {kind}; "
            f"expected a new folder for the {kind} (nothing was written)"
        )
    if found.get("settings") == key:
        return Claim(folder, existed=True, same=True, replaced=False)
    if not overwrite:
        raise OutputError(
            f"{flag} {folder}: holds a {kind} made with other settings; "
            "expected a new folder, or --overwrite to replace it (nothing was written)"
        )
    return Claim(folder, existed=True, same=False, replaced=True)


def mark(folder: str | Path, kind: str, settings: Any) -> None:
    """Write the marker that makes `folder` this tool's `kind` output of `settings`."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    write_json_atomic(folder / MARKER, {"kind": kind, "settings": digest(settings, 16),
                                        "described": _describe(settings)})


def _describe(settings: Any) -> Any:
    """The settings as readable JSON (for people opening the marker)."""
    return json.loads(json.dumps(settings, default=str))


# ------------------------------------------------------------------ atomic files
def tmp_name(path: Path) -> Path:
    """This process's temporary name for `path`: ``_<name>.<pid>.tmp``."""
    return path.with_name(f"_{path.name}.{os.getpid()}.tmp")


def write_text_atomic(path: Path, text: str) -> None:
    """Write text to `path` through ``_<name>.<pid>.tmp`` and an atomic rename: a reader
    sees the old file or the new one, never half of one."""
    tmp = tmp_name(path)
    try:
        tmp.write_text(text)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_json_atomic(path: Path, data: Any) -> None:
    """Write JSON to `path` atomically (`write_text_atomic`)."""
    write_text_atomic(path, json.dumps(data, indent=2, sort_keys=True, default=str))


def write_csv_atomic(path: Path, frame: pd.DataFrame) -> None:
    """Write a frame to `path` as CSV (no index) atomically (`write_text_atomic`)."""
    write_text_atomic(path, frame.to_csv(index=False))


def write_parquet_atomic(path: Path, frame: pd.DataFrame) -> None:
    """Write a frame to `path` as Parquet through ``_<name>.<pid>.tmp`` and ``os.replace``."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    tmp = tmp_name(path)
    table = pa.Table.from_pandas(frame, preserve_index=False)
    try:
        pq.write_table(table, tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
