"""`chipstate validate` as a user calls it, on a small data file of their own."""

from __future__ import annotations

import pandas as pd

from experiments.calibration.observed import parse_value, quarters_of
from helpers import chipstate


def test_periods_and_values_parse():
    assert quarters_of("2023Q4") == ["2023Q4"]
    assert quarters_of("2023") == ["2023Q1", "2023Q2", "2023Q3", "2023Q4"]
    assert quarters_of("2022H2") == ["2022Q3", "2022Q4"]
    assert quarters_of("2024-09") == ["2024Q3"]
    assert quarters_of("2021 end (plan)") == ["2021Q4"]
    assert quarters_of("2021 (mid)") == ["2021Q2", "2021Q3"]
    assert quarters_of("c.2024") == ["2024Q1", "2024Q2", "2024Q3", "2024Q4"]
    assert quarters_of("scenario") is None and quarters_of("2019/2022") is None
    assert parse_value("<50") == (50.0, "<") and parse_value("1,234.5") == (1234.5, "=")
    assert parse_value("46 -> 36") == (None, "")
    assert parse_value("35000-40000") == (37500.0, "range") and parse_value(">65000") == (65000.0, ">")
    assert quarters_of("2024 end (target as of 2023-11)") == ["2024Q4"] and quarters_of("FY2024 (Feb23-Jan24)") is None


def test_validate_with_a_user_data_file(tmp_path):
    data = tmp_path / "mine.csv"
    pd.DataFrame([
        {"quantity": "foundry_revenue_share", "entity": "TSMC", "period": "2022Q3", "value": "56.1",
         "unit": "%", "source": "test", "note": ""},
        {"quantity": "utilization", "entity": "SMIC", "period": "2023Q4", "value": "76.8",
         "unit": "% of capacity", "source": "test", "note": ""},
        {"quantity": "revenue_share_by_application", "entity": "SMIC - consumer electronics", "period": "2024",
         "value": "37.8", "unit": "% of wafer revenue", "source": "test", "note": ""},
    ]).to_csv(data, index=False)
    out = tmp_path / "validation"
    result = chipstate("validate", "--seeds", "2", "--data", str(data), "--out", str(out))
    assert result.returncode == 0, result.stderr
    # compared rows with their units; the rest counted by reason, listed only with --all
    assert "2 of 3 rows compared" in result.stdout
    compared = [line for line in result.stdout.splitlines() if line.strip().startswith("utilization")]
    assert len(compared) == 2 and all("% of capacity" in line for line in compared)  # row and summary
    assert "1 row(s) the model cannot speak to, by reason (--all lists them)" in result.stdout
    assert "the model has no end-application split" in result.stdout
    assert "revenue_share_by_application" not in result.stdout
    assert "validate historical" in result.stderr  # the progress bar, on stderr
    listed = chipstate("validate", "--seeds", "2", "--data", str(data), "--out", str(out), "--all")
    assert listed.returncode == 0, listed.stderr
    assert "revenue_share_by_application" in listed.stdout and "no end-application split" in listed.stdout
    table = pd.read_parquet(out / "validation.parquet")
    assert len(table) == 3 and table["speaks"].sum() == 2
    spoken = table[table["speaks"]]
    assert spoken["model_p05"].le(spoken["model_mean"]).all()
    assert (out / "validation.csv").exists() and (out / "summary.csv").exists()
    assert (out / "projections.parquet").exists()
    assert {p.name for p in (out / "figures").iterdir()} == {"foundry_revenue_share.png", "utilization.png"}


def test_a_bad_data_file_is_one_clear_error(tmp_path):
    data = tmp_path / "bad.csv"
    data.write_text("quantity,entity,value\nx,y,1\n")
    result = chipstate("validate", "--seeds", "1", "--data", str(data), "--out", str(tmp_path / "o"))
    assert result.returncode == 2
    assert str(data) in result.stderr and "'period'" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "o").exists()


def test_validate_on_the_projects_data_writes_a_figure_per_quantity(tmp_path):
    out = tmp_path / "validation"
    result = chipstate("validate", "--seeds", "2", "--out", str(out))
    assert result.returncode == 0, result.stderr
    summary = pd.read_csv(out / "summary.csv")
    figures = {p.stem for p in (out / "figures").iterdir()}
    assert set(summary["quantity"]) == figures and len(figures) >= 15
    # the project's data is both tables: the accelerator chain's rows are compared or have a reason
    table = pd.read_parquet(out / "validation.parquet")
    assert set(table["file"]) == {"calibration.csv", "accelerators.csv"}
    chain = table[table["file"] == "accelerators.csv"]
    assert chain["speaks"].any() and chain.loc[~chain["speaks"], "reason"].str.len().gt(10).all()
    assert {"cowos_capacity", "hbm_market_share", "datacenter_gpu_shipments"} <= figures
    assert "35,000-40,000" in result.stdout
    # China's AI-chip market (issue 13): its rows are compared, each with its note
    market = {"nvidia_china_revenue", "nvidia_china_dc_share", "nvidia_china_revenue_share",
              "nvidia_share_china_ai_chips", "domestic_share_china_ai_chip_sales", "h20_shipments_forecast",
              "ascend_910b_expected_2024", "china_orders_nvidia", "h100_class_purchases", "hopper_purchases",
              "cambricon_units_sold", "amd_china_revenue", "china_accelerated_server_market"}
    assert market <= figures
    compared = result.stdout.split("row(s) the model cannot speak to")[0]
    for quantity in market:
        lines = [line for line in compared.splitlines() if line.strip().startswith(quantity[:29])]
        assert lines and all(line.rstrip().endswith("]") for line in lines), quantity  # each with its note
    assert "FY2025 (F..." in compared and "Nvidia's fiscal year ends in late January" in compared
    assert "issue 13" not in result.stdout and "no buyers yet" not in result.stdout
