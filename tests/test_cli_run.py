"""`chipstate run` and `chipstate scenarios`, as a user calls them."""

from __future__ import annotations

import json

import pandas as pd

from helpers import chipstate


def test_run_writes_frames_ledger_graph_figure_and_manifest(tmp_path):
    out = tmp_path / "run"
    result = chipstate("run", "--scenario", "historical", "--seed", "5", "--steps", "12",
                       "--out", str(out), "--set", "reserved_share=0.5")
    assert result.returncode == 0, result.stderr
    assert "Huawei" in result.stdout and str(out) in result.stdout
    names = {p.name for p in out.iterdir()}
    assert {"model.parquet", "foundry.parquet", "firm.parquet", "vendor.parquet",
            "government.parquet", "ledger.parquet", "graph.graphml", "figure.png",
            "manifest.json"} <= names
    model = pd.read_parquet(out / "model.parquet")
    assert len(model) == 13 and model["quarter"].iloc[-1] == "2021Q4"
    ledger = pd.read_parquet(out / "ledger.parquet")
    assert (ledger["action"] == "cut").any()
    firms = pd.read_parquet(out / "firm.parquet")
    assert {"quarter", "name", "ai_dies", "delivered_wafers"} <= set(firms.columns)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["seed"] == 5 and manifest["scenario"] == "historical"
    assert manifest["overrides"] == {"reserved_share": 0.5}
    assert manifest["versions"]["mesa"] == "3.3.1"
    assert "revision" in manifest["git"]
    assert (out / "figure.png").stat().st_size > 20_000
    assert not any(p.name.startswith("_") for p in tmp_path.iterdir()), "no temporary left behind"


def test_scenarios_lists_one_line_each():
    result = chipstate("scenarios")
    assert result.returncode == 0
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 12 and lines[0].startswith("buildout_only") and lines[1].startswith("controls_only")


def test_help_everywhere():
    for args in (["--help"], ["run", "--help"], ["scenarios", "--help"]):
        result = chipstate(*args)
        assert result.returncode == 0 and "usage: chipstate" in result.stdout
