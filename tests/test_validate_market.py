"""Validation speaks to China's AI-chip market (issue 13): each row of the data about
buyers of accelerators, what they received and paid, is compared with the model column
and over the quarters its comparison says (Nvidia's fiscal years included), with its
caveat, or listed with a reason of its own.

The runs are short real runs of the historical scenario (to 2025Q4, the last quarter a
row names). No figure the model makes is pinned here: each compared value is recomputed
from the run's own frames, where it can be, from other columns than the ones validation
reads (the buyer frame against the model's reporters), so a mapping to the wrong column
or the wrong quarters fails.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from experiments.batch.runner import run_frames
from experiments.calibration.observed import (
    ACCELERATORS_FILE, DATA_FILE, fiscal_quarters, read_data, read_tables, remark_quarters,
)
from experiments.calibration.validate import (
    CALIBRATION_MARKET_QUANTITIES, MARKET_QUANTITIES, US_HOPPERS_2024, compare_with_data, errors_by_quantity,
    modelled_foundries, report, Validation,
)
from model import ChipMarketModel

SEEDS = (31, 32)
STEPS = 28  # 2018Q4 + 28 quarters = 2025Q4
CHINESE_DESIGNERS = ("huawei", "cambricon", "other_chinese_fabless")
PLATFORMS = ("ByteDance", "Tencent", "Alibaba", "Baidu")


# ------------------------------------------------------------------------ periods
@pytest.mark.parametrize("period,quarters", [
    ("FY2024 (Feb23-Jan24)", ["2023Q1", "2023Q2", "2023Q3", "2023Q4"]),
    ("FY2025 (Feb24-Jan25)", ["2024Q1", "2024Q2", "2024Q3", "2024Q4"]),
    ("FY2024 Q1-Q3", ["2023Q1", "2023Q2", "2023Q3"]),
    ("FY2024 Q4", ["2023Q4"]),  # Nov 2023-Jan 2024: two of its months in 2023Q4
    ("FY2025", ["2024Q1", "2024Q2", "2024Q3", "2024Q4"]),
    ("FY2024 (Feb22-Jan24)", None),  # months that are not Nvidia's FY2024
    ("FY2024 Q3-Q1", None), ("2025 Q1 FY26", None), ("2024", None),
])
def test_nvidias_fiscal_periods_are_the_calendar_quarters_of_their_middle_months(period, quarters):
    assert fiscal_quarters(period, 1) == quarters


def test_a_calendar_fiscal_year_is_its_calendar_year():
    assert fiscal_quarters("FY2024", 12) == ["2024Q1", "2024Q2", "2024Q3", "2024Q4"]
    assert fiscal_quarters("FY2024 (Jan23-Dec23)", 12) is None


def test_a_remarks_loose_dates():
    assert remark_quarters("Oct 2025") == ["2025Q4"] and remark_quarters("Sept 2024") == ["2024Q3"]
    assert remark_quarters("pre-2022") == ["2021Q1", "2021Q2", "2021Q3", "2021Q4"]
    assert remark_quarters("2023H2") == ["2023Q3", "2023Q4"] and remark_quarters("Foo 2024") is None


def test_every_market_quantity_of_the_data_is_routed_here():
    accelerators = set(read_data(ACCELERATORS_FILE)["quantity"])
    calibration = set(read_data(DATA_FILE)["quantity"])
    assert MARKET_QUANTITIES <= accelerators and CALIBRATION_MARKET_QUANTITIES <= calibration


# ----------------------------------------------------------- against real runs
@pytest.fixture(scope="module")
def runs() -> list[dict[str, pd.DataFrame]]:
    return [run_frames("historical", seed, steps=STEPS) for seed in SEEDS]


@pytest.fixture(scope="module")
def table(runs) -> pd.DataFrame:
    return compare_with_data(read_tables(), runs, modelled_foundries(runs))


def one(table: pd.DataFrame, quantity: str, entity: str, period: str) -> pd.Series:
    rows = table[(table["quantity"] == quantity) & (table["entity"] == entity) & (table["period"] == period)]
    assert len(rows) == 1, (quantity, entity, period, len(rows))
    row = rows.iloc[0]
    assert row["speaks"], row["reason"]
    return row


def per_run(runs, extract) -> float:
    """The mean over the runs of a figure recomputed from each run's frames."""
    return float(np.mean([extract(frames) for frames in runs]))


def quarters(frame: pd.DataFrame, first: str, last: str) -> pd.DataFrame:
    rows = frame[(frame["quarter"] >= first) & (frame["quarter"] <= last)]
    assert rows["quarter"].nunique() == (int(last[:4]) - int(first[:4])) * 4 + int(last[-1]) - int(first[-1]) + 1
    return rows


def model_sum(column: str, first: str, last: str):
    return lambda f: quarters(f["model"], first, last)[column].sum()


def chinese_buyers(frames, first: str, last: str) -> pd.DataFrame:
    buyers = quarters(frames["buyer"], first, last)
    return buyers[buyers["country"] == "CN"]


def test_no_market_row_waits_for_issue_13(table):
    market = table[table["quantity"].isin(MARKET_QUANTITIES | CALIBRATION_MARKET_QUANTITIES)]
    assert len(market) >= 30
    assert not market["reason"].str.contains("issue 13|no buyers yet|no chip sales|no revenue by customer").any()
    spoken = market[market["speaks"]]
    assert set(spoken["quantity"]) == MARKET_QUANTITIES | CALIBRATION_MARKET_QUANTITIES
    assert (spoken["caveat"].str.len() > 40).all()  # every comparison says what it compares
    assert np.isfinite(spoken[["model_mean", "model_p05", "model_p95", "error"]].to_numpy(float)).all()
    silent = table[table["quantity"].isin(["china_hyperscaler_capex", "china_hyperscaler_capex_plan",
                                           "cambricon_revenue", "china_accelerator_card_shipments",
                                           "china_ai_chip_shipments"])]
    assert len(silent) >= 10 and not silent["speaks"].any()
    assert silent["reason"].str.len().min() > 60


def test_nvidias_china_revenue_is_read_on_its_fiscal_years(table, runs):
    billing = one(table, "nvidia_china_revenue", "Nvidia (China incl. HK, billing basis)", "FY2024 (Feb23-Jan24)")
    assert billing["quarters"] == "2023Q1,2023Q2,2023Q3,2023Q4" and billing["bound"] == "="
    assert billing["model_mean"] == pytest.approx(per_run(runs, model_sum("nvidia_china_revenue_usd_m",
                                                                           "2023Q1", "2023Q4")))
    assert billing["model_mean"] == pytest.approx(per_run(  # the designer frame says the same
        runs, lambda f: quarters(f["designer"].query("name == 'Nvidia'"), "2023Q1", "2023Q4")[
            "china_revenue_usd_m"].sum()))
    assert billing["in_sample"] and not billing["hard_target"]  # an all-products figure: not a hard target
    assert "gaming" in billing["caveat"] and "billed to China" in billing["caveat"]
    assert "late January" in billing["caveat"]
    later = one(table, "nvidia_china_revenue", "Nvidia (China incl. HK, billing basis)", "FY2025 (Feb24-Jan25)")
    assert later["quarters"] == "2024Q1,2024Q2,2024Q3,2024Q4" and not later["in_sample"]
    assert later["model_mean"] == pytest.approx(per_run(runs, model_sum("nvidia_china_revenue_usd_m",
                                                                         "2024Q1", "2024Q4")))
    recast = one(table, "nvidia_china_revenue", "Nvidia (China incl. HK, customer-HQ basis, recast)",
                 "FY2025 (Feb24-Jan25)")
    assert recast["bound"] == "<" and recast["model_mean"] == pytest.approx(later["model_mean"])
    assert recast["inside_band"] == (recast["model_mean"] < 25048) and "must lie below" in recast["caveat"]


def test_nvidias_china_shares_of_revenue_are_shares_of_the_periods_totals(table, runs):
    def share(frames, first, last):
        nvidia = quarters(frames["designer"].query("name == 'Nvidia'"), first, last)
        return 100 * nvidia["china_revenue_usd_m"].sum() / nvidia["revenue_usd_m"].sum()

    dc = one(table, "nvidia_china_dc_share", "Nvidia (China + other newly controlled destinations)", "FY2024 Q1-Q3")
    assert dc["quarters"] == "2023Q1,2023Q2,2023Q3" and dc["bound"] == "range"
    assert (dc["data_low"], dc["data_high"]) == (20.0, 25.0)
    assert dc["model_mean"] == pytest.approx(per_run(runs, lambda f: share(f, "2023Q1", "2023Q3")))
    assert dc["hard_target"] and dc["in_sample"]
    whole = one(table, "nvidia_china_revenue_share", "Nvidia", "2022")  # calibration.csv's row
    assert whole["file"] == "calibration.csv" and whole["quarters"] == "2022Q1,2022Q2,2022Q3,2022Q4"
    assert whole["model_mean"] == pytest.approx(per_run(runs, lambda f: share(f, "2022Q1", "2022Q4")))
    assert not whole["hard_target"] and "fiscal 2022" in whole["caveat"]


def test_a_fiscal_share_row_of_ones_own_is_read_on_nvidias_quarters(runs, tmp_path):
    """The FY2025 13% sits in the unit of a revenue row; a row of its own would be compared."""
    path = tmp_path / "mine.csv"
    pd.DataFrame([{"quantity": "nvidia_china_revenue_share", "entity": "Nvidia", "period": "FY2025 (Feb24-Jan25)",
                   "value": "13", "unit": "% of revenue", "source": "t", "note": ""}]).to_csv(path, index=False)
    row = compare_with_data(read_data(path), runs, modelled_foundries(runs)).iloc[0]
    assert row["speaks"] and row["quarters"] == "2024Q1,2024Q2,2024Q3,2024Q4"

    def share(frames):
        nvidia = quarters(frames["designer"].query("name == 'Nvidia'"), "2024Q1", "2024Q4")
        return 100 * nvidia["china_revenue_usd_m"].sum() / nvidia["revenue_usd_m"].sum()
    assert row["model_mean"] == pytest.approx(per_run(runs, share))


def test_china_market_shares_are_of_the_units_chinese_buyers_received(table, runs):
    def share(frames, year, columns):
        buyers = chinese_buyers(frames, f"{year}Q1", f"{year}Q4")
        return 100 * buyers[[f"received_{c}_units" for c in columns]].to_numpy().sum() / buyers["received_units"].sum()

    nvidia = one(table, "nvidia_share_china_ai_chips", "Nvidia", "2024")
    assert nvidia["model_mean"] == pytest.approx(per_run(runs, lambda f: share(f, 2024, ["nvidia"])))
    assert "fitted to this row" in nvidia["caveat"] and nvidia["hard_target"] and not nvidia["in_sample"]
    domestic = one(table, "domestic_share_china_ai_chip_sales", "Chinese vendors", "2023")
    assert domestic["model_mean"] == pytest.approx(per_run(runs, lambda f: share(f, 2023, CHINESE_DESIGNERS)))
    assert not domestic["hard_target"] and domestic["in_sample"]  # 'secondary blog -- weak'
    for period, quarter, year in (("pre-2022", None, 2021), ("Oct 2025", "2025Q4", None)):
        remark = one(table, "nvidia_china_ai_accelerator_share", "Nvidia", period)
        if year:
            assert remark["model_mean"] == pytest.approx(per_run(runs, lambda f: share(f, year, ["nvidia"])))
        else:
            assert remark["quarters"] == quarter
            assert remark["model_mean"] == pytest.approx(per_run(
                runs, lambda f: f["model"].set_index("quarter").loc[quarter, "nvidia_china_share"]))
        assert not remark["hard_target"]  # 'CEO statement, rhetorical'


def test_products_delivered_to_chinese_buyers(table, runs):
    h20 = one(table, "h20_shipments_forecast", "Nvidia H20 (China)", "2024")
    assert h20["model_mean"] == pytest.approx(per_run(runs, model_sum("china_units_h20", "2024Q1", "2024Q4")))
    assert "sized from this row" in h20["caveat"] and not h20["hard_target"]
    ascend = one(table, "ascend_910b_expected_2024", "Huawei Ascend 910B", "2024")
    assert ascend["model_mean"] == pytest.approx(per_run(runs, model_sum("china_units_ascend_910b",
                                                                          "2024Q1", "2024Q4")))
    assert ascend["model_mean"] < per_run(runs, model_sum("huawei_accelerators", "2024Q1", "2024Q4")) + 1e-6
    for product, column in (("Huawei Ascend 910B", "china_units_ascend_910b"),
                            ("Huawei Ascend 910C", "china_units_ascend_910c")):
        plan = one(table, "ascend_production_plan", product, "2025")
        assert plan["model_mean"] == pytest.approx(per_run(runs, model_sum(column, "2025Q1", "2025Q4")))
        assert "a plan, not output" in plan["caveat"] and not plan["hard_target"]
    planned = sum(one(table, "ascend_production_plan", p, "2025")["model_mean"]
                  for p in ("Huawei Ascend 910B", "Huawei Ascend 910C"))  # Huawei's units: its two products
    assert planned == pytest.approx(per_run(runs, model_sum("huawei_accelerators", "2025Q1", "2025Q4")), rel=0.02)
    cambricon = one(table, "cambricon_units_sold", "Cambricon", "2024")
    assert cambricon["model_mean"] == pytest.approx(per_run(
        runs, lambda f: quarters(f["buyer"], "2024Q1", "2024Q4")["received_cambricon_units"].sum()))
    assert cambricon["model_mean"] == pytest.approx(per_run(  # Cambricon sells in China alone
        runs, lambda f: sum(model_sum(f"china_units_{p}", "2024Q1", "2024Q4")(f) for p in ("mlu290", "mlu370_590"))))
    assert not cambricon["hard_target"]  # derived


def test_the_platforms_a800s_and_h800s_split_their_nvidia_units(table, runs):
    def split(frames, product, names):
        model = quarters(frames["model"], "2023Q1", "2023Q4").set_index("quarter")
        buyers = chinese_buyers(frames, "2023Q1", "2023Q4")
        to_china = buyers.groupby("quarter")["received_nvidia_units"].sum()
        mine = buyers[buyers["name"].isin(names)].groupby("quarter")["received_nvidia_units"].sum()
        part = (mine / to_china.where(to_china > 0)).fillna(0.0)
        return float((model[f"china_units_{product}"] * part.reindex(model.index)).sum())

    orders = one(table, "china_orders_nvidia", "Baidu+ByteDance+Tencent+Alibaba", "2023 (delivery)")
    assert orders["model_mean"] == pytest.approx(per_run(runs, lambda f: split(f, "a800", PLATFORMS)))
    assert orders["in_sample"] and not orders["hard_target"]
    for name in PLATFORMS:
        h800 = one(table, "h100_class_purchases", name, "2023")
        assert h800["model_mean"] == pytest.approx(per_run(runs, lambda f: split(f, "h800", [name])))
        assert "H800" in h800["caveat"] and h800["hard_target"]
    us = table[(table["quantity"] == "h100_class_purchases") & (table["entity"] == "Meta / Microsoft (each)")].iloc[0]
    assert not us["speaks"] and "US hyperscalers" in us["reason"] and "A100s and H100s" in us["reason"]


def test_every_chinese_buyer_takes_the_same_mix_of_nvidias_parts():
    """What the A800/H800 split by buyer rests on (validate.SAME_MIX): checked on the
    market's edges, which hold units by product and buyer."""
    model = ChipMarketModel(scenario="historical", rng=SEEDS[0])
    model.run(steps=18)  # to 2023Q2: the A800 and the H800 on sale
    market, names = model.accelerator_market, [p.name for p in model.world.accelerators]
    edges = market.edges
    mixes = []
    for b, buyer in enumerate(model.buyers):
        if buyer.country != "CN":
            continue
        mine = edges.buyer == b
        units = {names[k]: float(f) for k, f in zip(edges.category[mine], market.flow[mine])}
        assert units["A800"] > 0 and units["H800"] > 0
        mixes.append(units["A800"] / units["H800"])
    assert len(mixes) == 5 and np.allclose(mixes, mixes[0], rtol=1e-9)


def test_hoppers_by_buyer(table, runs):
    def nvidia_units(frames, name):
        buyers = quarters(frames["buyer"], "2024Q1", "2024Q4")
        return buyers.loc[buyers["name"] == name, "received_nvidia_units"].sum()

    for name in ("ByteDance", "Tencent"):
        row = one(table, "hopper_purchases", name, "2024")
        assert row["model_mean"] == pytest.approx(per_run(runs, lambda f: nvidia_units(f, name)))
        assert not row["hard_target"]  # 'approx.'
    microsoft = one(table, "hopper_purchases", "Microsoft", "2024")
    part = 485_000 / (485_000 + 224_000 + 196_000 + 169_000)
    assert US_HOPPERS_2024["Microsoft"] / sum(US_HOPPERS_2024.values()) == pytest.approx(part)
    assert microsoft["model_mean"] == pytest.approx(per_run(runs, lambda f: part * nvidia_units(f, "US hyperscalers")))
    assert microsoft["hard_target"] and "1,074,000" in microsoft["caveat"]


def test_bounds_the_market_sets(table, runs):
    baidu = one(table, "ascend_order", "Baidu", "2023")
    assert baidu["bound"] == ">" and baidu["model_mean"] == pytest.approx(per_run(
        runs, lambda f: quarters(f["buyer"].query("name == 'Baidu'"), "2023Q1", "2023Q4")[
            "received_huawei_units"].sum()))
    assert baidu["inside_band"] == (baidu["model_mean"] > 1600)
    amd = one(table, "amd_china_revenue", "AMD (China incl. HK)", "2024")
    assert amd["bound"] == "<" and not amd["hard_target"] and "all its products" in amd["caveat"]
    assert amd["model_mean"] == pytest.approx(per_run(runs, model_sum("amd_china_revenue_usd_m", "2024Q1", "2024Q4")))
    for period, first, last in (("2023", "2023Q1", "2023Q4"), ("2024H1", "2024Q1", "2024Q2")):
        servers = one(table, "china_accelerated_server_market", "China (IDC)", period)
        assert servers["bound"] == "<" and not servers["hard_target"] and "servers" in servers["caveat"]
        assert servers["model_mean"] == pytest.approx(per_run(
            runs, lambda f: chinese_buyers(f, first, last)["spent_usd_m"].sum()))
        assert servers["inside_band"] == (servers["model_mean"] < servers["data_value"])


def test_money_at_the_world_files_prices(table, runs):
    market = one(table, "china_ai_chip_market_value", "China (Bernstein)", "2025 (forecast)")
    assert market["model_mean"] == pytest.approx(per_run(
        runs, lambda f: chinese_buyers(f, "2025Q1", "2025Q4")["spent_usd_m"].sum()))
    revenue = one(table, "datacenter_gpu_revenue", "Nvidia (TechInsights)", "2023")
    assert revenue["model_mean"] == pytest.approx(per_run(
        runs, lambda f: quarters(f["designer"].query("name == 'Nvidia'"), "2023Q1", "2023Q4")["revenue_usd_m"].sum()))
    assert "ASSUMPTIONS" in revenue["caveat"]


def test_the_report_lists_the_market_rows_with_their_notes(table, runs):
    market = table[table["file"] == "accelerators.csv"]
    text = report(Validation(market, errors_by_quantity(market), pd.DataFrame(), runs, "historical", SEEDS))
    compared = text.split("row(s) the model cannot speak to")[0]
    lines = [line for line in compared.splitlines() if line.strip().startswith(("nvidia_china_revenue ",
                                                                               "hopper_purchases "))]
    assert len(lines) == 4 + 3 and all(line.rstrip().endswith("]") for line in lines)  # each with its note
    assert "an input: the Chinese buyers' 2024 budgets" in text
