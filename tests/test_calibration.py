"""The historical scenario against published figures (issue 3's targets), over 10 seeds.

The numbers come out of the mechanisms: nothing here or in the model pins a reporter to
a data value. Targets are rows of model/data/calibration.csv.
"""

from __future__ import annotations

import pandas as pd
import pytest

from experiments.calibration.validate import validate

SEEDS = 10


@pytest.fixture(scope="module")
def validation():
    return validate("historical", seeds=SEEDS)


@pytest.fixture(scope="module")
def model_frames(validation) -> pd.DataFrame:
    return pd.concat(run["model"].assign(seed=i) for i, run in enumerate(validation.runs))


def mean_by_quarter(frames: pd.DataFrame, column: str) -> pd.Series:
    return frames.groupby("quarter")[column].mean()


def rows(table: pd.DataFrame, quantity: str, entity: str | None = None) -> pd.DataFrame:
    out = table[(table["quantity"] == quantity) & table["speaks"]]
    return out if entity is None else out[out["entity"] == entity]


def test_every_row_is_spoken_to_or_has_a_reason(validation):
    table = validation.table
    assert len(table) >= 190
    assert table.loc[~table["speaks"], "reason"].str.len().min() > 10
    assert table["speaks"].sum() >= 60


def test_trendforce_revenue_shares_within_3_points(validation):
    shares = rows(validation.table, "foundry_revenue_share")
    shares = shares[shares["period"].between("2022Q3", "2023Q4")]
    assert set(shares["entity"]) == {"TSMC", "Samsung", "SMIC", "UMC", "GlobalFoundries"}
    assert shares["abs_error"].mean() <= 3.0, shares[["entity", "period", "data_value", "model_mean"]]


def test_smic_capacity_within_10_percent(validation):
    capacity = rows(validation.table, "capacity_8in_eq_per_month", "SMIC")
    assert set(capacity["period"]) == {"2022Q4", "2023Q4"}
    assert (capacity["rel_error"] <= 0.10).all(), capacity[["period", "data_value", "model_mean"]]


def test_smic_utilisation_2023q4_within_10_points(validation):
    row = rows(validation.table, "utilization", "SMIC").set_index("period").loc["2023Q4"]
    assert abs(row["error"]) <= 10


def test_smic_china_revenue_share_within_5_points(validation):
    china = rows(validation.table, "revenue_share_by_customer_region", "SMIC - China")
    china = china[china["period"].str.startswith(("2022", "2023"))]
    assert len(china) == 2
    assert (china["abs_error"] <= 5).all(), china[["period", "data_value", "model_mean"]]


def test_huawei_high_end_supply_collapses_after_2020q3_and_recovers_on_smic(model_frames):
    fulfilment = mean_by_quarter(model_frames, "huawei_fulfilment")
    from_smic = mean_by_quarter(model_frames, "huawei_smic_advanced_wafers")
    assert fulfilment.loc["2019Q1":"2020Q2"].mean() > 0.5
    assert fulfilment.loc["2020Q4":"2021Q2"].max() < 0.1, "collapse after the FDPR"
    assert fulfilment.loc["2023Q1":"2024Q4"].mean() > 3 * fulfilment.loc["2020Q4":"2021Q4"].mean()
    assert from_smic.loc["2023Q1":"2024Q4"].mean() > 10 * max(from_smic.loc["2020Q4":"2021Q2"].mean(), 1.0)


def test_smic_keeps_growing_capacity_after_it_is_listed(model_frames):
    capacity = mean_by_quarter(model_frames, "smic_capacity_8in_eq_per_month")
    assert capacity.loc["2023Q4"] > 1.3 * capacity.loc["2020Q4"]
    advanced = mean_by_quarter(model_frames, "smic_capacity_7nm")
    assert advanced.loc["2023Q4"] > advanced.loc["2021Q4"] > 0


def test_smic_advanced_yield_stays_below_50_percent_through_2024(model_frames):
    for tier in ("leading", "7nm"):
        per_seed = model_frames[model_frames["quarter"] <= "2024Q4"].groupby("seed")[f"smic_yield_{tier}"].max()
        assert (per_seed < 0.5).all()


def test_asml_china_share_rises_before_the_dutch_rules_take_effect(model_frames):
    """ASML: 14% of system sales from China in 2022, 29% in 2023, 46% in 2023Q3 and 39%
    in 2023Q4 (calibration.csv asml_china_share), so about 15% in 2023H1: the rise came
    in the half year before ASML's licences for China ended (the first Dutch rule,
    announced 2023Q1, bites in 2024Q1 in the historical timeline; vendors now ship from
    order books). In that window China's share must stand well above its 2022 level."""
    share = mean_by_quarter(model_frames, "asml_china_share")
    before = share.loc["2022Q1":"2022Q4"].mean()
    assert share.loc["2023Q3":"2023Q4"].mean() > 1.5 * before


# Met again since the memory makers and IDMs buy tools (issue 14, agents.fab): with them
# ASML's 2022 China share is ~14% (data 14%), 2023 ~27% (data 29%; 10 seeds); it was an xfail while
# the model's ASML sold to foundries alone (19.2% in 2022, 24.0% in 2023).
def test_asml_china_share_of_2023_stands_above_2022(model_frames):
    share = mean_by_quarter(model_frames, "asml_china_share")
    assert share.loc["2023Q1":"2023Q4"].mean() > share.loc["2022Q1":"2022Q4"].mean() + 0.05


def test_announcements_make_chinese_fabs_stockpile_asml_tools(tmp_path):
    """Paired over seeds: the historical timeline against the same timeline with one
    Dutch rule unannounced (it bites by surprise), rule by rule, so that each window
    sees its own rule's notice alone. Stockpiling raises ASML's China share in the half
    year before each rule bites (2023H2 for the 2023 rule, 2024H1 for the 2024 one)."""
    from model import ChipMarketModel
    from model.scenario import load_scenario

    scenario = load_scenario("historical")
    for rule_id, window in (("nl-2023-09-duv", ("2023Q3", "2023Q4")), ("nl-2024-09-duv", ("2024Q1", "2024Q2"))):
        surprise = scenario.model_copy(update={"rules": tuple(
            r.model_copy(update={"announced": None}) if r.id == rule_id else r for r in scenario.rules
        )})
        differences = []
        for seed in range(5):
            with_notice, without = (
                ChipMarketModel(scenario=s, rng=seed).run().frames()["model"].set_index("quarter")
                for s in (scenario, surprise)
            )
            differences.append(with_notice.loc[window[0]:window[1], "asml_china_share"].mean()
                               - without.loc[window[0]:window[1], "asml_china_share"].mean())
        assert min(differences) > 0, (rule_id, window, differences)


def test_chinese_vendors_share_of_chinese_tool_purchases_rises_after_2022(model_frames):
    domestic = mean_by_quarter(model_frames, "china_domestic_tool_share")
    assert domestic.loc["2023Q1":"2025Q4"].mean() > domestic.loc["2020Q1":"2022Q3"].mean() + 0.05


def test_tsmc_share_rises_over_2022_2025(model_frames):
    tsmc = mean_by_quarter(model_frames, "share_tsmc")
    assert tsmc.loc["2025Q1":"2025Q4"].mean() > tsmc.loc["2022Q1":"2022Q4"].mean()


def test_projections_cover_every_reporter_to_2030_with_a_band(validation):
    projections = validation.projections
    assert projections["quarter"].max() == "2030Q4"
    assert {"huawei_ai_dies", "share_tsmc", "smic_capacity_7nm"} <= set(projections["reporter"])
    last = projections[projections["quarter"] == "2030Q4"].set_index("reporter")
    assert (last["p05"] <= last["mean"] + 1e-9).all() and (last["mean"] <= last["p95"] + 1e-9).all()
    assert (last.loc["huawei_ai_dies", "p95"] - last.loc["huawei_ai_dies", "p05"]) > 0


def test_no_reporter_is_pinned_to_the_data():
    """A static guard: the model's code never reads the calibration table."""
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    for package in ("agents", "model"):
        for path in (root / package).rglob("*.py"):
            assert "calibration.csv\")" not in path.read_text() and "read_csv" not in path.read_text(), path


def test_calibrate_is_reproducible_and_a_dry_run_writes_nothing():
    """`chipstate calibrate` starts from the code's defaults over fixed seeds: two short
    fits print the same values; --dry-run leaves the fitted file untouched."""
    from helpers import chipstate
    from model.scenario import FITTED_FILE

    before = FITTED_FILE.read_bytes()
    outputs = [chipstate("calibrate", "--point", "--max-evaluations", "8", "--dry-run") for _ in range(2)]
    assert all(o.returncode == 0 for o in outputs), outputs[0].stderr
    fitted = [o.stdout[o.stdout.index("objective"):] for o in outputs]
    assert fitted[0] == fitted[1] and "foundry_preference" in fitted[0]
    assert FITTED_FILE.read_bytes() == before


def test_the_fit_uses_asmls_annual_china_shares_not_its_quarters(validation):
    """The objective's rows (`target_rows`): ASML's 2022 and 2023 China shares size the
    stockpiling before the Dutch rules; its 2023Q3/2023Q4 rows, which time the shipments,
    are left to validation (`ANNUAL_ONLY`). Every other target quantity keeps its
    quarterly rows."""
    from experiments.calibration.calibrate import target_rows
    from experiments.calibration.observed import DATA_FILE, read_data
    from experiments.calibration.validate import modelled_foundries

    rows = target_rows(read_data(DATA_FILE), validation.runs, modelled_foundries(validation.runs))
    asml = rows[rows["quantity"] == "asml_china_share"]
    assert sorted(asml["period"]) == ["2022", "2023", "2023"]
    assert {"2023Q3", "2023Q4"} <= set(rows.loc[rows["quantity"] == "foundry_revenue_share", "period"])
