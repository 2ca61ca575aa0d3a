"""`mesa.batch_run` on the model, called plainly, reaches the scenario's last quarter.

Mesa 3.3.1's batch_run reports the row at `model.steps - 1` and Mesa 3.5's the last row
the DataCollector recorded; the model is stepped until it stops itself (`running`), so
both report the last quarter (2019Q4 here, the same row as `model.run()` ends with).

Seeds go in differently: Mesa 3.3.1 sweeps `rng` as a parameter; Mesa 3.4+ takes
`batch_run(..., rng=[...])` and overwrites an `rng` parameter with that argument
(default None: a fresh seed). Mesa 3.4+ also adds a row per agent (agent-type reporters).
"""

from __future__ import annotations

import inspect

import mesa
import pytest

from model import ChipMarketModel

END = "2019Q4"  # four quarters: a short run
SEEDS = [1, 2]
RNG_ARGUMENT = "rng" in inspect.signature(mesa.batch_run).parameters  # Mesa 3.4+


def batch(**kwargs) -> list[dict]:
    parameters = {"scenario": "historical", "end": END}
    if RNG_ARGUMENT:
        kwargs["rng"] = SEEDS
    else:
        parameters["rng"] = SEEDS
    return mesa.batch_run(ChipMarketModel, parameters, number_processes=1,
                          display_progress=False, **kwargs)


def reference(rng: int) -> dict:
    """The last model row of the same run through `model.run()`."""
    return ChipMarketModel(scenario="historical", end=END, rng=rng).run().frames()["model"].iloc[-1]


def test_plain_batch_run_reports_the_last_quarter():
    rows = batch()  # batch_run's defaults: max_steps=1000, data_collection_period=-1
    assert {r["rng"] for r in rows} == set(SEEDS)
    for rng in SEEDS:
        mine = [r for r in rows if r["rng"] == rng]
        assert mine[-1]["quarter"] == END
        # Mesa 3.3.1 gives one row per run; Mesa 3.5 one per agent, all of the last step.
        assert {r["quarter"] for r in mine} == {END}
        want = reference(rng)
        assert mine[-1]["huawei_ai_dies"] == pytest.approx(want["huawei_ai_dies"], rel=1e-12)
        assert mine[-1]["smic_capacity_7nm"] == pytest.approx(want["smic_capacity_7nm"], rel=1e-12)


def test_batch_run_every_quarter_reaches_the_last_one():
    rows = [r for r in batch(data_collection_period=1) if r["rng"] == 1]
    quarters = list(dict.fromkeys(r["quarter"] for r in rows))  # in order, once each
    assert quarters == ["2018Q4", "2019Q1", "2019Q2", "2019Q3", "2019Q4"]
    assert rows[-1]["quarter"] == END


def test_stepping_past_the_last_quarter_simulates_nothing():
    model = ChipMarketModel(scenario="historical", end=END, rng=1).run()
    assert not model.running and model.quarter == END
    rows = len(model.frames()["model"])
    model.step()
    assert not model.running and model.quarter == END
    assert len(model.frames()["model"]) == rows
