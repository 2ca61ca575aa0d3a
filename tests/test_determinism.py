"""One seed feeds everything: same seed, same frames; no hidden global randomness."""

from __future__ import annotations

import ast
import random
from pathlib import Path

import numpy as np
import pandas as pd

from model import ChipMarketModel

ROOT = Path(__file__).resolve().parent.parent


def frames(seed: int, scenario: str = "leaky") -> dict[str, pd.DataFrame]:
    return ChipMarketModel(scenario=scenario, rng=seed).run().frames()


def test_same_seed_gives_identical_frames():
    a, b = frames(7), frames(7)
    assert a.keys() == b.keys()
    for name in a:
        pd.testing.assert_frame_equal(a[name], b[name])


def test_different_seeds_differ():
    a, b = frames(7)["model"], frames(8)["model"]
    assert not np.allclose(a["huawei_ai_dies"], b["huawei_ai_dies"])


def test_no_draws_from_global_random_state(monkeypatch):
    """Run a stochastic scenario with the global generators booby-trapped."""

    def forbidden(*args, **kwargs):
        raise AssertionError("drew from a global random generator")

    for name in ("random", "uniform", "randint", "choice", "shuffle", "gauss", "sample"):
        monkeypatch.setattr(random, name, forbidden)
    for name in ("random", "rand", "randn", "randint", "choice", "normal", "uniform", "lognormal",
                 "shuffle", "permutation", "seed"):
        monkeypatch.setattr(np.random, name, forbidden)
    ChipMarketModel(scenario="leaky", rng=3).run(12)




def test_no_module_imports_random_or_calls_np_random_functions():
    """A static check of the packages: the model's rng is the only source (the
    calibration's particles draw from their own generators, pyabc's proposals too)."""
    offenders = []
    for package in ("agents", "model", "experiments"):
        for path in (ROOT / package).rglob("*.py"):
            tree = ast.parse(path.read_text(), str(path))
            for node in ast.walk(tree):
                if isinstance(node, ast.Import) and any(a.name == "random" for a in node.names):
                    offenders.append(f"{path}: import random")
                if isinstance(node, ast.ImportFrom) and node.module == "random":
                    offenders.append(f"{path}: from random import")
                if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Attribute)
                        and node.value.attr == "random" and isinstance(node.value.value, ast.Name)
                        and node.value.value.id in ("np", "numpy")
                        and node.attr not in ("Generator", "SeedSequence", "default_rng", "PCG64")):
                    offenders.append(f"{path}:{node.lineno}: np.random.{node.attr}")
    assert not offenders, offenders


def test_seed_is_kept_when_none_is_given():
    model = ChipMarketModel(rng=None)
    assert isinstance(model.seed, int)
    again = ChipMarketModel(rng=model.seed)
    model.run(6)
    again.run(6)
    pd.testing.assert_frame_equal(model.frames()["model"], again.frames()["model"])
