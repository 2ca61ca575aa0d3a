"""Validation speaks to model/data/accelerators.csv (issue 12): every row is compared with
a model quantity, in the data's unit, or listed with its reason; the new row formats
(ranges, bounds, one row for several makers, fiscal periods) parse.

The runs are short real runs of the historical scenario (to 2025Q4, the last quarter a
row names); no figure the model makes is pinned here (it is being re-calibrated): the
checks recompute each compared value from the run's own frames.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from experiments.batch.runner import run_frames
from experiments.calibration.observed import (
    ACCELERATORS_FILE, DATA_FILE, data_files, is_weak, parse_range, parse_value, quarters_of, read_data,
    read_tables,
)
from experiments.calibration.validate import (
    ACCELERATOR_QUANTITIES, PACKAGES_PER_WAFER, PACKAGES_PER_WAFER_MONTH, compare_with_data,
    errors_by_file_and_sample, errors_by_quantity, modelled_foundries, report, validation_figure, Validation,
)

SEEDS = (21, 22)
LAST = "2025Q4"
STEPS = 28  # 2018Q4 + 28 quarters = 2025Q4


# ------------------------------------------------------------------------ parsing
def test_ranges_bounds_and_numbers_parse():
    assert parse_value("35000-40000") == (37500.0, "range") and parse_range("35000-40000") == (35000.0, 40000.0)
    assert parse_range("120,000-125,000") == (120000.0, 125000.0) and parse_range("20 - 25") == (20.0, 25.0)
    assert parse_value(">65000") == (65000.0, ">") and parse_range(">65000") is None
    assert parse_value("290000000") == (290000000.0, "=")
    assert parse_value("-5") == (-5.0, "=") and parse_range("-5") is None  # a sign, not a range
    assert parse_value("40-30") == (None, "") and parse_range("-5-5") is None  # reversed or negative ends
    assert parse_value("56 / 26 / 18") == (None, "")  # one number per maker: read_data splits the row
    assert parse_value("samples shown to clients") == (None, "")


@pytest.mark.parametrize("period,quarters", [
    ("2023 end", ["2023Q4"]),
    ("2024 end (target as of 2023-11)", ["2024Q4"]),
    ("2025 end (forecast 2024-08)", ["2025Q4"]),
    ("2024 (forecast made 2023)", ["2024Q1", "2024Q2", "2024Q3", "2024Q4"]),
    ("2024H1", ["2024Q1", "2024Q2"]),
    ("2024-12-02", ["2024Q4"]),
    ("2025-02", ["2025Q1"]),
    ("c.2024", ["2024Q1", "2024Q2", "2024Q3", "2024Q4"]),
    ("FY2023", ["2023Q1", "2023Q2", "2023Q3", "2023Q4"]),
    # not calendar quarters the model can place: never read as a whole calendar year
    ("FY2024 (Feb23-Jan24)", None), ("FY2024 Q1-Q3", None), ("2025 Q1 FY26", None),
    ("c.2022-2024", None), ("mid-2026 (planned)", None),
])
def test_the_new_periods_parse(period, quarters):
    assert quarters_of(period) == quarters


def test_a_row_for_several_makers_is_one_observation_each(tmp_path):
    path = tmp_path / "data.csv"
    pd.DataFrame([
        {"quantity": "hbm_market_share_forecast", "entity": "SK hynix / Samsung / Micron", "period": "2025 (forecast)",
         "value": "56 / 26 / 18", "unit": "% of HBM market", "source": "t", "note": "forecast"},
        {"quantity": "h100_class_purchases", "entity": "Meta / Microsoft (each)", "period": "2023",
         "value": "150000", "unit": "H100 GPUs", "source": "t", "note": ""},
    ]).to_csv(path, index=False)
    data = read_data(path)
    assert data["entity"].tolist() == ["SK hynix", "Samsung", "Micron", "Meta / Microsoft (each)"]
    assert data["value"].tolist() == ["56", "26", "18", "150000"]


def test_weak_rows_follow_the_data_readme():
    def row(note="", unit="units", quantity="q", period="2024"):
        return {"note": note, "unit": unit, "quantity": quantity, "period": period}
    assert is_weak(row(note="CONFLICT: DigiTimes said 8k"))
    assert is_weak(row(note="CONTESTED: one chiplet"))
    assert is_weak(row(unit="chips/cards sold (derived)"))
    assert is_weak(row(period="2024 (forecast made 2023)")) and is_weak(row(quantity="cowos_capacity_forecast"))
    assert is_weak(row(period="2022 (plan)"))
    assert is_weak(row(note="CEO statement, rhetorical"))
    assert not is_weak(row(note="Counterpoint attributes Samsung's 1H25 weakness to export rules"))
    assert not is_weak(row(note="Samsung 40, Micron 10"))


def test_the_projects_data_is_both_tables():
    assert data_files(DATA_FILE) == (DATA_FILE, ACCELERATORS_FILE)
    assert data_files(ACCELERATORS_FILE) == (ACCELERATORS_FILE,)
    tables = read_tables()
    assert set(tables["file"]) == {"calibration.csv", "accelerators.csv"}
    assert (tables["file"] == "accelerators.csv").sum() == len(read_data(ACCELERATORS_FILE))


def test_every_quantity_of_the_accelerator_table_is_mapped_or_has_a_reason():
    """A new quantity in the data must be given a comparison or a reason of its own."""
    quantities = set(read_data(ACCELERATORS_FILE)["quantity"])
    assert quantities <= ACCELERATOR_QUANTITIES, sorted(quantities - ACCELERATOR_QUANTITIES)


# ----------------------------------------------------------- against real runs
@pytest.fixture(scope="module")
def runs() -> list[dict[str, pd.DataFrame]]:
    return [run_frames("historical", seed, steps=STEPS) for seed in SEEDS]


@pytest.fixture(scope="module")
def table(runs) -> pd.DataFrame:
    data = read_data(ACCELERATORS_FILE).assign(file=ACCELERATORS_FILE.name)
    return compare_with_data(data, runs, modelled_foundries(runs))


def one(table: pd.DataFrame, quantity: str, entity: str, period: str) -> pd.Series:
    rows = table[(table["quantity"] == quantity) & (table["entity"] == entity) & (table["period"] == period)]
    assert len(rows) == 1, (quantity, entity, period, len(rows))
    return rows.iloc[0]


def per_run(runs, extract) -> float:
    """The mean over the runs of a figure recomputed from each run's frames."""
    return float(np.mean([extract(frames) for frames in runs]))


def test_every_row_is_compared_or_has_a_reason(table):
    assert len(table) == len(read_data(ACCELERATORS_FILE))
    assert (table["file"] == "accelerators.csv").all()
    silent = table[~table["speaks"]]
    assert silent["reason"].str.len().min() > 20
    assert not silent["reason"].str.startswith("no model series").any()  # each has a reason of its own
    spoken = table[table["speaks"]]
    assert {"cowos_capacity", "cowos_output_annual", "cowos_demand_share", "hbm_market_share",
            "hbm_market_share_forecast", "hbm_demand_units", "hbm_stockpile_window", "datacenter_gpu_shipments",
            "high_end_server_gpu_shipments_forecast", "cambricon_units_sold", "nvidia_installed_compute",
            "ascend_910b_expected_2024", "nvidia_china_revenue", "hopper_purchases"} <= set(spoken["quantity"])
    assert np.isfinite(spoken[["model_mean", "model_p05", "model_p95", "error"]].to_numpy(float)).all()
    assert (spoken["model_p05"] <= spoken["model_mean"] + 1e-9).all()
    assert (spoken["model_mean"] <= spoken["model_p95"] + 1e-9).all()


def test_bills_of_materials_are_inputs(table):
    bom = table[table["quantity"].isin(["hbm_stacks_per_package", "logic_dies_per_package"])]
    assert len(bom) and not bom["speaks"].any() and bom["reason"].str.contains("input").all()


def test_cowos_capacity_is_packages_over_60_at_the_quarter(table, runs):
    def capacity(frames, quarter, name="TSMC CoWoS"):
        packager = frames["packager"]
        row = packager[(packager["name"] == name) & (packager["quarter"] == quarter)]
        return float(row["capacity_packages"].iloc[0]) / PACKAGES_PER_WAFER_MONTH

    row = one(table, "cowos_capacity", "TSMC", "2023 end")
    assert row["speaks"] and row["unit"] == "wafers/month" and row["quarters"] == "2023Q4"
    assert row["model_mean"] == pytest.approx(per_run(runs, lambda f: capacity(f, "2023Q4")))
    assert not row["hard_target"]  # its note says CONFLICT
    assert row["in_sample"] and "input" in row["caveat"]
    ase = one(table, "cowos_like_capacity_forecast", "ASE (incl. SPIL) + Amkor", "2025 end (forecast 2024-08)")
    assert ase["model_mean"] == pytest.approx(
        per_run(runs, lambda f: capacity(f, "2025Q4", "ASE and Amkor CoWoS-like")))
    assert not ase["hard_target"] and not ase["in_sample"]


def test_a_range_is_compared_by_its_ends(table):
    row = one(table, "cowos_capacity", "TSMC", "2024 end")
    assert row["bound"] == "range" and (row["data_low"], row["data_high"]) == (35000.0, 40000.0)
    assert row["data_value"] == 37500.0 and row["hard_target"] and not row["in_sample"]
    mean = row["model_mean"]
    outside = mean - 40000.0 if mean > 40000.0 else min(0.0, mean - 35000.0)
    assert row["error"] == pytest.approx(outside)
    assert row["inside_band"] == (row["model_p05"] <= 40000.0 and row["model_p95"] >= 35000.0)
    bound = one(table, "cowos_capacity_forecast", "TSMC", "2025 end (forecast 2024-08)")
    assert bound["bound"] == ">" and bound["inside_band"] == (bound["model_mean"] > 65000.0)


def test_cowos_output_is_booked_packages_over_20_summed_over_the_year(table, runs):
    def output(frames):
        packager = frames["packager"]
        rows = packager[(packager["name"] == "TSMC CoWoS") & packager["quarter"].str.startswith("2023")]
        assert len(rows) == 4
        return rows["booked_packages"].sum() / PACKAGES_PER_WAFER

    row = one(table, "cowos_output_annual", "TSMC", "2023")
    assert row["model_mean"] == pytest.approx(per_run(runs, output))


def test_hbm_shares_are_shares_of_stacks_shipped(table, runs):
    def share(frames, maker, quarter):
        memory = frames["memory"]
        now = memory[memory["quarter"] == quarter]
        return 100 * float(now.loc[now["name"] == maker, "shipped_stacks"].iloc[0]) / now["shipped_stacks"].sum()

    row = one(table, "hbm_market_share", "Samsung", "2024Q4")  # 'Samsung' is the model's 'Samsung HBM'
    assert row["series"].startswith("memory[Samsung HBM]")
    assert row["model_mean"] == pytest.approx(per_run(runs, lambda f: share(f, "Samsung HBM", "2024Q4")))
    assert row["hard_target"] and "revenue" in row["caveat"]
    shipments = one(table, "hbm_market_share", "Micron", "2025Q2")
    assert shipments["model_mean"] == pytest.approx(per_run(runs, lambda f: share(f, "Micron", "2025Q2")))
    assert "revenue" not in shipments["caveat"]  # a share of shipments: the model's own basis
    split = table[(table["quantity"] == "hbm_market_share_forecast") & (table["period"] == "2025 (forecast)")]
    assert set(split["entity"]) == {"SK hynix", "Samsung", "Micron"} and split["speaks"].all()
    assert not split["hard_target"].any()
    stockpile = one(table, "hbm_stockpile_window", "Samsung -> China", "2024-12")
    assert stockpile["bound"] == ">" and stockpile["inside_band"] == (stockpile["model_mean"] > 7_000_000)


def test_gpu_shipments_are_nvidia_and_amd_summed_over_the_year(table, runs):
    def units(frames, year, columns):
        model = frames["model"]
        return model.loc[model["quarter"].str.startswith(year), columns].to_numpy().sum()

    for period, in_sample in (("2022", True), ("2023", True)):
        row = one(table, "datacenter_gpu_shipments", "World (TechInsights)", period)
        assert row["model_mean"] == pytest.approx(
            per_run(runs, lambda f: units(f, period, ["accelerators_nvidia", "accelerators_amd"])))
        assert row["in_sample"] == in_sample
    assert not one(table, "datacenter_gpu_shipments", "World (TechInsights)", "2023")["hard_target"]  # weak split
    # the AI-chip market's rows (Cambricon's units sold, the 910Bs expected): tests/test_validate_market.py


def test_installed_compute_is_nvidias_h100e_to_date(table, runs):
    def stock(frames):
        designer = frames["designer"]
        rows = designer[(designer["name"] == "Nvidia") & (designer["quarter"] <= "2025Q1")]
        return rows["accelerators_h100e"].sum()

    row = one(table, "nvidia_installed_compute", "World (Epoch AI)", "2025-02")
    assert row["model_mean"] == pytest.approx(per_run(runs, stock))


def test_a_row_past_the_runs_end_keeps_a_reason():
    short = [run_frames("historical", SEEDS[0], steps=24)]  # to 2024Q4
    data = read_data(ACCELERATORS_FILE)
    table = compare_with_data(data[data["quantity"] == "cowos_capacity"], short, modelled_foundries(short))
    late = table[table["period"] == "2025 end"].iloc[0]
    assert not late["speaks"] and "2025 end" in late["reason"]
    assert table.loc[table["period"] == "2024 end", "speaks"].all()


def test_the_report_shows_ranges_targets_and_notes(table, runs):
    result = Validation(table, errors_by_quantity(table), pd.DataFrame(), runs, "historical", SEEDS)
    text = report(result)
    compared = text.split("row(s) the model cannot speak to")[0]
    capacity = [line for line in compared.splitlines() if line.strip().startswith("cowos_capacity ")]
    assert len(capacity) == 3
    assert any("35,000-40,000" in line for line in capacity)
    assert all(line.split()[-1].startswith("[") for line in capacity)  # each with its note
    assert any(line.strip().startswith("[1] ") for line in text.splitlines())
    assert "issue 13" not in text and "no buyers yet" not in text  # the market's rows speak or say why not


def test_the_report_sums_up_each_file_in_and_out_of_sample(table, runs):
    by_file = errors_by_file_and_sample(table).set_index(["file", "sample"])
    spoken = table[table["speaks"]]
    assert by_file["rows"].sum() == len(spoken)
    outside = spoken[~spoken["in_sample"].astype(bool)]
    hard = outside[outside["hard_target"].astype(bool)]
    row = by_file.loc[("accelerators.csv", "out")]
    assert row["rows"] == len(outside) and row["inside"] == outside["inside_band"].astype(bool).sum()
    assert row["mean_rel_error"] == pytest.approx(outside["rel_error"].mean())
    assert row["hard_rows"] == len(hard) and row["hard_mean_rel_error"] == pytest.approx(hard["rel_error"].mean())
    text = report(Validation(table, errors_by_quantity(table), pd.DataFrame(), runs, "historical", SEEDS))
    block = text.split("Summary by file and sample")[1].splitlines()
    line = next(x for x in block if x.split()[:2] == ["accelerators.csv", "out"])
    assert line.split()[2:4] == [str(int(row["rows"])), str(int(row["inside"]))]


def test_a_range_is_drawn_as_a_bar(table, runs):
    rows = table[(table["quantity"] == "cowos_capacity") & table["speaks"]].astype({"data_value": float})
    fig = validation_figure("cowos_capacity", rows, runs, "test")
    ax = fig.axes[0]
    assert any(t.get_text().startswith("data: a range") for t in ax.get_legend().get_texts())
    bars = [line for line in ax.get_lines() if sorted(line.get_ydata()) in ([35000.0, 40000.0], [75000.0, 80000.0])]
    assert len(bars) == 2
