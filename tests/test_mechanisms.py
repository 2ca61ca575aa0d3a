"""Behavioural rules of the default world that the calibration leans on: node migration
of demand streams and state build-out instructions."""

from __future__ import annotations

import numpy as np

from helpers import chipstate, paired_interval

from agents.fabless import DemandStreams, ai_boom_log_growth, stream_demand
from model import ChipMarketModel
from model.technology import parse_quarter
from model.world import load_world


def test_a_stream_grows_to_its_peak_then_declines():
    world = load_world()
    spec = world.firms[0].model_copy(update={"demand": [
        world.firms[0].demand[0].model_copy(update={
            "tier": "7nm", "wafers": 1000.0, "growth": 0.2, "ai": False, "start": None,
            "peak": "2021Q1", "decline": -0.3,
        })
    ]})
    streams = DemandStreams.from_specs([spec])
    origin = parse_quarter("2019Q1")

    def at(label: str) -> float:
        total, _ = stream_demand(streams, 1, parse_quarter(label), origin, 0.35, 1.0, np.ones(1))
        return float(total[0, 1])

    assert np.isclose(at("2021Q1"), 1000 * 1.2**2)
    assert np.isclose(at("2022Q1"), 1000 * 1.2**2 * 0.7)
    assert at("2020Q3") < at("2021Q1") > at("2021Q3")


def test_the_ai_boom_grows_at_its_first_year_rate_then_cools():
    quarters = np.arange(0, 17)
    constant = np.exp(ai_boom_log_growth(quarters, 0.35, 0.0))
    assert np.allclose(constant, 1.35 ** (quarters / 4))
    cooling = np.exp(ai_boom_log_growth(quarters, 1.4, 0.4))
    assert np.isclose(cooling[4], 2.4)                      # 2023: +140%
    assert np.isclose(cooling[8] / cooling[4], 1 + 1.4 * 0.6)  # 2024: the rate times 0.6
    assert np.all(np.diff(np.log(cooling)) > 0) and ai_boom_log_growth(np.array([-3]), 1.4, 0.4)[0] == 0


def test_a_build_out_instruction_makes_its_recipients_build_ahead(tmp_path):
    scenario = tmp_path / "drive.toml"
    scenario.write_text(
        '[scenario]\nname = "drive"\nextends = "no_controls"\n'
        '[[subsidies]]\nid = "drive"\nissuer = "China"\nrecipients = ["Hua Hong"]\n'
        'usd_m_per_quarter = 2000\nbuild_ahead = 0.5\neffective = "2020Q1"\nevent = "test"\n'
    )
    # Without the cleanroom limit (`install_rate`), which would bind on Hua Hong's
    # build-out in both runs alike and hide the instruction (tests/test_install_rate.py).
    runs = {
        name: ChipMarketModel(scenario=s, rng=3, install_rate=0.0).run(16).frames()["foundry"]
        .set_index(["quarter", "name"])
        for name, s in (("plain", "no_controls"), ("drive", str(scenario)))
    }
    capacity = {k: f.loc[("2022Q4", "Hua Hong"), "capacity_wafers"] for k, f in runs.items()}
    load = {k: f.loc[("2022Q4", "Hua Hong"), "delivered_wafers"] / f.loc[("2022Q4", "Hua Hong"), "capacity_wafers"]
            for k, f in runs.items()}
    assert capacity["drive"] > 1.15 * capacity["plain"]
    assert load["drive"] < load["plain"]
    # The instruction is the recipient's alone: TSMC builds as before.
    assert np.isclose(runs["drive"].loc[("2022Q4", "TSMC"), "capacity_wafers"],
                      runs["plain"].loc[("2022Q4", "TSMC"), "capacity_wafers"], rtol=0.02)


def test_a_build_out_share_out_of_range_is_refused(tmp_path):
    scenario = tmp_path / "bad.toml"
    scenario.write_text(
        '[scenario]\nname = "bad"\nextends = "no_controls"\n'
        '[[subsidies]]\nid = "x"\nissuer = "China"\nrecipients = ["SMIC"]\n'
        'usd_m_per_quarter = 0\nbuild_ahead = 5\neffective = "2020Q1"\nevent = "test"\n'
    )
    result = chipstate("run", "--scenario", str(scenario), "--out", str(tmp_path / "out"))
    assert result.returncode == 2
    assert "build_ahead" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists()


def test_cut_off_foundries_order_around_the_rule_for_older_lines():
    """After the 2023-2024 DUV rules SMIC can no longer buy immersion scanners for its
    7nm lines; with repurposing allowed it buys them as for 28nm and moves them over,
    so its 7nm capacity keeps growing and ASML's China sales hold up. Paired over ten
    seeds: the effect is 1-4% of SMIC's 7nm capacity at the end of 2025 (it has shrunk
    as the model's 7nm lines came to build closer to their forecast), too small for a
    threshold on one seed."""
    capacity, asml = {0.0: [], 0.25: []}, {0.0: [], 0.25: []}
    for seed in range(200, 210):
        for share in capacity:
            frames = ChipMarketModel(scenario="historical", rng=seed, repurpose_share=share).run(28).frames()
            capacity[share].append(frames["model"].set_index("quarter").loc["2025Q4", "smic_capacity_7nm"])
            vendors = frames["vendor"].set_index(["quarter", "name"]).xs("ASML", level="name")
            asml[share].append(vendors.loc["2024Q1":"2025Q4", "china_revenue_usd_m"].sum())
    grown = paired_interval(np.array(capacity[0.25]), np.array(capacity[0.0]))
    assert grown[1] > 0, f"SMIC's 7nm capacity 2025Q4, repurposing 0.25 - 0: {grown}"
    sales = paired_interval(np.array(asml[0.25]), np.array(asml[0.0]))
    assert sales[1] > 0, f"ASML's China revenue 2024-2025, US$ million: {sales}"
