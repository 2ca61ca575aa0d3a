"""Output folders: named by what made them; a user's folder is never touched.

The issue's reproductions, through the real CLI, and the naming rules through the
library (experiments.outputs, experiments.run).
"""

from __future__ import annotations

import json

import pytest

from experiments.outputs import MARKER, OutputError, claim, compare_folder, mark, run_folder, validation_folder
from experiments.run import run_scenario
from experiments.calibration.observed import DATA_FILE
from helpers import chipstate


def _tree(root):
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_a_folder_holding_a_users_file_is_refused_and_left_alone(tmp_path):
    work = tmp_path / "mywork"
    work.mkdir()
    (work / "thesis.tex").write_text("a")
    result = chipstate("run", "--steps", "1", "--out", str(work))
    assert result.returncode == 2, result.stderr
    assert "did not write" in result.stderr and str(work) in result.stderr
    assert _tree(tmp_path) == {"mywork/thesis.tex": b"a"}, "nothing added, nothing removed"
    # --overwrite never reaches a folder chipstate did not write
    result = chipstate("run", "--steps", "1", "--out", str(work), "--overwrite")
    assert result.returncode == 2 and (work / "thesis.tex").read_text() == "a"


def test_a_parent_folder_is_refused(tmp_path):
    (tmp_path / "notes.txt").write_text("keep")
    run_dir = tmp_path / "cwd"
    run_dir.mkdir()
    with pytest.raises(OutputError, match="did not write"):
        claim(run_dir / "..", "run", {"x": 1})
    assert (tmp_path / "notes.txt").read_text() == "keep"


def test_different_settings_never_share_a_default_folder():
    base = run_folder("state_allocation", 0)
    assert base.name == "state_allocation-seed0"
    assert run_folder("historical", 0).name == "historical-seed0"  # what notebook 01 reads
    names = {
        base,
        run_folder("state_allocation", 0, overrides={"reserved_share": 0.5}),
        run_folder("state_allocation", 0, overrides={"reserved_share": 0.6}),
        run_folder("state_allocation", 0, steps=1),
        run_folder("state_allocation", 1),
    }
    assert len(names) == 5
    assert run_folder("state_allocation", 0, overrides={"reserved_share": 0.5}) == \
        run_folder("state_allocation", 0, overrides={"reserved_share": 0.5}), "stable"
    assert compare_folder("historical", "state_allocation", 5) != compare_folder("historical", "state_allocation", 1)
    assert compare_folder("historical", "state_allocation", 5).name == "historical-vs-state_allocation-seeds0-4"
    assert validation_folder("historical", 10, DATA_FILE, None, DATA_FILE).name == "historical-seeds10"
    assert validation_folder("historical", 10, DATA_FILE, {"reserved_share": 0.5}, DATA_FILE) != \
        validation_folder("historical", 10, DATA_FILE, None, DATA_FILE)


def test_same_settings_replace_and_say_so_other_settings_need_overwrite(tmp_path):
    out = tmp_path / "run"
    first = run_scenario("historical", 3, out, steps=1)
    assert first.replaced == "" and (out / MARKER).is_file()
    again = run_scenario("historical", 3, out, steps=1)
    assert again.replaced == "same settings"
    with pytest.raises(OutputError, match="other settings"):
        run_scenario("historical", 3, out, steps=2)
    assert json.loads((out / "manifest.json").read_text())["steps"] == 1, "the earlier run is intact"
    replaced = run_scenario("historical", 3, out, steps=2, overwrite=True)
    assert replaced.replaced.startswith("other settings")
    assert json.loads((out / "manifest.json").read_text())["steps"] == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"], "no temporary folder left behind"


def test_a_run_folder_with_a_users_file_added_is_not_replaced(tmp_path):
    out = tmp_path / "run"
    run_scenario("historical", 3, out, steps=1)
    (out / "my_notes.md").write_text("mine")
    with pytest.raises(OutputError, match="my_notes.md"):
        run_scenario("historical", 3, out, steps=1)
    assert (out / "my_notes.md").read_text() == "mine"


def test_another_kind_of_output_is_refused(tmp_path):
    mark(tmp_path / "v", "validation", {"a": 1})
    with pytest.raises(OutputError, match="validation"):
        claim(tmp_path / "v", "run", {"a": 1}, overwrite=True)


def test_cli_says_when_it_replaces_a_run(tmp_path):
    out = tmp_path / "r"
    assert chipstate("run", "--steps", "1", "--out", str(out)).returncode == 0
    result = chipstate("run", "--steps", "1", "--out", str(out))
    assert result.returncode == 0 and "replaced the earlier run" in result.stdout
    result = chipstate("run", "--steps", "1", "--seed", "4", "--out", str(out))
    assert result.returncode == 2 and "--overwrite" in result.stderr


def test_a_comparison_of_other_seeds_is_not_replaced(tmp_path):
    out = tmp_path / "cmp"
    args = ["compare", "historical", "state_allocation", "--workers", "0", "--out", str(out)]
    first = chipstate(*args, "--replicates", "3")
    assert first.returncode == 0, first.stderr
    before = _tree(out)
    second = chipstate(*args, "--replicates", "2")
    assert second.returncode == 2 and "other settings" in second.stderr
    assert _tree(out) == before
