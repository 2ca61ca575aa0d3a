"""The collector records through Mesa's public interface, and what it records is what
Mesa's own DataCollector records from the per-agent reporters."""

from __future__ import annotations

import mesa
import pandas as pd
import pytest

from model import ChipMarketModel
from model.reporters import agenttype_reporters, firm_records


@pytest.fixture(scope="module")
def stepped():
    """A model with synthetic firms and foundries, and a plain Mesa DataCollector that
    collected the same quarters from the per-agent reporters."""
    model = ChipMarketModel(scenario="historical", rng=5, synthetic_firms=60, synthetic_foundries=3,
                            synthetic_vendors=2)
    plain = mesa.DataCollector(agenttype_reporters=agenttype_reporters([d.name for d in model.designers]))
    plain.collect(model)
    for _ in range(6):
        model.step()
        plain.collect(model)
    return model, plain


def test_agent_type_frames_equal_mesas_from_per_agent_reporters(stepped):
    model, plain = stepped
    for cls in agenttype_reporters([d.name for d in model.designers]):
        ours = model.datacollector.get_agenttype_vars_dataframe(cls)
        theirs = plain.get_agenttype_vars_dataframe(cls)
        assert len(ours) == 7 * len(model.agents_by_type[cls])
        # Mesa 3.4+ labels records by model.time, a float; ours keep integer steps
        steps = theirs.index.get_level_values("Step")
        theirs.index = theirs.index.set_levels(theirs.index.levels[0].astype("int64"), level="Step")
        assert (theirs.index.get_level_values("Step") == steps).all()
        pd.testing.assert_frame_equal(ours, theirs, check_exact=True)


def test_firm_records_are_mesas_records_of_the_last_quarter(stepped):
    model, plain = stepped
    frame = plain.get_agenttype_vars_dataframe(type(model.firms[0]))
    last = frame.xs(model.steps, level="Step").reset_index()
    assert firm_records(model) == [(model.steps, *row) for row in last.itertuples(index=False)]


def test_lean_collection_records_only_the_named_reporters():
    full = ChipMarketModel(scenario="historical", rng=2).run(8).frames()
    lean_model = ChipMarketModel(scenario="historical", rng=2, collect=("huawei_ai_dies", "smic_capacity_7nm"))
    lean = lean_model.run(8).frames()
    assert list(lean) == ["model"]
    assert list(lean["model"].columns) == ["quarter", "huawei_ai_dies", "smic_capacity_7nm"]
    pd.testing.assert_frame_equal(lean["model"], full["model"][["quarter", "huawei_ai_dies", "smic_capacity_7nm"]])


def test_lean_collection_refuses_an_unknown_reporter():
    with pytest.raises(ValueError, match="unknown model reporter 'huawei_dies'"):
        ChipMarketModel(scenario="historical", rng=2, collect=("huawei_dies",))


def test_tracked_entities_name_the_columns(tmp_path):
    """The world's [tracked] table, not the engine, says whom the named columns follow."""
    from model.world import DATA_DIR

    text = (DATA_DIR / "default_world.toml").read_text().replace(
        'champion = "Huawei"', 'champion = "Cambricon"').replace('vendor = "ASML"', 'vendor = "Naura"')
    path = tmp_path / "w.toml"
    path.write_text(text)
    columns = ChipMarketModel(scenario="historical", rng=1, world=str(path)).frames()["model"].columns
    assert "cambricon_ai_dies" in columns and "naura_china_share" in columns
    assert "huawei_ai_dies" not in columns and "smic_capacity_7nm" in columns
