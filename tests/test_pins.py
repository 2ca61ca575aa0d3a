"""Every frame of every shipped scenario, over a few seeds, is pinned exactly.

tests/data/pins.json holds a digest of each frame (model, agent types, ledger) of one
full run per scenario and seed. A refactor leaves them all in place; a change meant to
move results regenerates them (python tests/regenerate_pins.py) and says so.
"""

from __future__ import annotations

import json
import sys

import pytest
from regenerate_pins import PATH, READABLE, pins

from model.scenario import list_scenarios

PINNED = json.loads(PATH.read_text())
EXACT = pytest.mark.skipif(
    sys.version_info[:2] != (3, 11),
    reason="digests are exact under Python 3.11, where they were made; Python 3.12's "
    "compensated sum() moves the last bit of float sums (tests/test_regression.py "
    "checks the numbers with a tolerance under every interpreter)",
)


def test_every_shipped_scenario_is_pinned_over_several_seeds():
    scenarios = {key.split("/")[0] for key in PINNED["runs"]}
    assert scenarios == set(list_scenarios())
    assert len(PINNED["seeds"]) >= 3


@EXACT
@pytest.mark.parametrize("key", sorted(PINNED["runs"]))
def test_frames_match_their_pins(key):
    scenario, seed = key.split("/")
    got = pins(scenario, int(seed.removeprefix("seed")))
    want = PINNED["runs"][key]
    assert got["rows"] == want["rows"]
    assert got["last"] == want["last"], f"{key}: 2030Q4 values moved"
    moved = [name for name in want["digests"] if got["digests"].get(name) != want["digests"][name]]
    assert not moved, f"{key}: frames {moved} moved (last row: {got['last']})"


def test_pins_differ_between_scenarios_and_seeds():
    """The pins could fail: scenarios and seeds give different frames."""
    digests = [run["digests"]["model"] for run in PINNED["runs"].values()]
    assert len(set(digests)) == len(digests)
    assert all(set(run["last"]) == {"quarter", *READABLE} for run in PINNED["runs"].values())
