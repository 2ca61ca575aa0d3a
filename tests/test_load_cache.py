"""Loaded scenarios and worlds are kept while their files are unchanged, and read
again when a file changes; a synthetic world (drawn from the model's rng) is not kept."""

import os
import shutil

from model import ChipMarketModel
from model.scenario import SCENARIO_DIR, load_scenario
from model.world import DATA_DIR, load_world


def test_a_scenario_is_read_again_when_its_file_changes(tmp_path):
    path = tmp_path / "mine.toml"
    shutil.copy(SCENARIO_DIR / "historical.toml", path)
    first = load_scenario(path)
    assert load_scenario(path) is first
    text = path.read_text().replace('name = "historical"', 'name = "changed"', 1)
    assert text != path.read_text()
    path.write_text(text)
    os.utime(path, ns=(1, 1))  # a different stamp even on a coarse clock
    assert load_scenario(path).name == "changed"


def test_overrides_do_not_reach_the_kept_scenario():
    base = load_scenario("historical")
    noise = base.parameters.demand_noise + 0.125
    changed = load_scenario("historical", overrides={"demand_noise": noise})
    assert changed.parameters.demand_noise == noise
    again = load_scenario("historical")
    assert again is base and again.parameters.demand_noise == noise - 0.125


def test_a_world_is_read_again_when_its_file_changes(tmp_path):
    path = tmp_path / "w.toml"
    shutil.copy(DATA_DIR / "default_world.toml", path)
    first = load_world(str(path))
    assert load_world(str(path)) is first
    path.write_text(path.read_text().replace("unserviced_depreciation = 0.06", "unserviced_depreciation = 0.07"))
    os.utime(path, ns=(1, 1))
    assert load_world(str(path)).meta["unserviced_depreciation"] == 0.07


def test_synthetic_worlds_follow_the_seed():
    kw = dict(scenario="historical", synthetic_firms=30, synthetic_foundries=2, synthetic_vendors=1)
    a, b, c = ChipMarketModel(rng=1, **kw), ChipMarketModel(rng=2, **kw), ChipMarketModel(rng=1, **kw)
    assert a.world is not b.world and a.world is not c.world
    assert [f.name for f in a.world.firms] == [f.name for f in c.world.firms]
    assert [f.demand for f in a.world.firms] == [f.demand for f in c.world.firms]
    assert [f.demand for f in a.world.firms] != [f.demand for f in b.world.firms]
