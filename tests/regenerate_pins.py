"""Regenerate tests/data/pins.json: every frame of every shipped scenario, pinned exactly.

    python tests/regenerate_pins.py

For each shipped scenario and each of a few seeds, one full run (2019Q1-2030Q4): a
SHA-256 digest of each frame (model, each agent type, ledger) written with every float
as its exact repr, plus a few readable numbers. A refactor must leave every digest
where it is (tests/test_pins.py); a change that is meant to move results regenerates
this file in the same commit and says what moved and why.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pandas as pd

PATH = Path(__file__).resolve().parent / "data" / "pins.json"
SEEDS = (1, 2, 3)
READABLE = ("huawei_ai_dies", "smic_capacity_7nm", "share_tsmc", "cut_edges")
"""Model-frame columns whose 2030Q4 value is kept in clear, to see what moved."""


def frame_digest(frame: pd.DataFrame) -> str:
    """A digest of a frame's columns, dtypes and every value (floats by exact repr)."""
    digest = hashlib.sha256()
    digest.update(repr(list(frame.columns)).encode())
    digest.update(repr([str(t) for t in frame.dtypes]).encode())
    for column in frame.columns:
        digest.update(repr(frame[column].tolist()).encode())
    return digest.hexdigest()


def pins(scenario: str, seed: int) -> dict:
    """The digests of one full run's frames and a few readable 2030Q4 values."""
    from model import ChipMarketModel

    frames = ChipMarketModel(scenario=scenario, rng=seed).run().frames()
    last = frames["model"].iloc[-1]
    return {
        "digests": {name: frame_digest(frame) for name, frame in sorted(frames.items())},
        "rows": {name: len(frame) for name, frame in sorted(frames.items())},
        "last": {"quarter": str(last["quarter"]), **{c: float(last[c]) for c in READABLE}},
    }


def regenerate(path: Path = PATH) -> Path:
    from model.scenario import list_scenarios

    data = {
        "note": "Exact digests of every frame; regenerate with python tests/regenerate_pins.py",
        "seeds": list(SEEDS),
        "runs": {f"{name}/seed{seed}": pins(name, seed) for name in list_scenarios() for seed in SEEDS},
    }
    path.write_text(json.dumps(data, indent=1) + "\n")
    return path


if __name__ == "__main__":
    print(f"wrote {regenerate()}")
