"""Figures of a run's key series (seaborn), shared by the CLI and the notebooks."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402

from model.technology import TIERS, mid_quarter_year, parse_quarter, quarter_year  # noqa: E402

PANELS = [
    ("Huawei good AI dies / quarter", ["huawei_ai_dies"]),
    ("Advanced-node fulfilment (0-1)", ["huawei_fulfilment", "other_china_fulfilment"]),
    ("SMIC advanced capacity (wafers / quarter)", ["smic_capacity_leading", "smic_capacity_7nm"]),
    ("Foundry revenue share (%)", None),  # every share_* column
    ("Wafer price index (1 = 2020 list)", [f"price_index_{t.key}" for t in TIERS]),
    ("Trade graph: cut edges", ["cut_edges"]),
]


def plot_run(frame: pd.DataFrame, path: str | Path, title: str = "") -> Path:
    """Save a 2x3 panel of the key series of one model frame (or several seeds: a
    `seed` column is drawn as a mean line with a 90% band). Returns the path."""
    sns.set_theme(style="whitegrid", context="notebook")
    data = frame.iloc[1:].copy()  # row 0 is the initial state, before any trade
    data["year"] = [quarter_year(parse_quarter(q)) for q in data["quarter"]]
    fig, axes = plt.subplots(2, 3, figsize=(17, 9))
    for ax, (label, columns) in zip(axes.flat, PANELS):
        if columns is None:
            columns = [c for c in data.columns if c.startswith("share_")]
        long = data.melt(id_vars=["year"] + (["seed"] if "seed" in data else []),
                         value_vars=[c for c in columns if c in data], var_name="series")
        sns.lineplot(long, x="year", y="value", hue="series", ax=ax, errorbar=("pi", 90), lw=1.6)
        ax.set_title(label)
        ax.set_xlabel("")
        ax.set_ylabel("")
        ax.legend(fontsize=7, loc="best")
    fig.suptitle(title)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_validation(quantity: str, rows: pd.DataFrame, runs: list[dict], path: str | Path) -> Path:
    """The model's 90% band over time for each series a quantity's rows speak to, with
    the data points (markers; open markers for bounds '<' / '>')."""
    from experiments.validate import modelled_foundries, speaker_for

    sns.set_theme(style="whitegrid", context="notebook")
    foundries = modelled_foundries(runs)
    long = []
    for series, group in rows.groupby("series"):
        speaker, _ = speaker_for(group.iloc[0], foundries)
        for seed, frames in enumerate(runs):
            values = speaker.extract(frames).iloc[1:]
            long.append(pd.DataFrame({"year": [mid_quarter_year(q) for q in values.index],
                                      "value": values.to_numpy(), "series": series, "seed": seed}))
    data = pd.concat(long, ignore_index=True)
    fig, ax = plt.subplots(figsize=(9, 5))
    sns.lineplot(data, x="year", y="value", hue="series", errorbar=("pi", 90), ax=ax)
    for _, row in rows.iterrows():
        quarters = row["quarters"].split(",")
        x = sum(mid_quarter_year(q) for q in quarters) / len(quarters)
        marker = {"<": "v", ">": "^"}.get(row["bound"], "o")
        ax.scatter([x], [row["data_value"]], marker=marker, s=60, color="black", zorder=5,
                   facecolors="none" if row["bound"] in "<>" else "black")
    ax.set_title(f"{quantity}: model (mean, 90% band over seeds) vs data (black)")
    ax.set_xlabel("")
    ax.set_ylabel(rows["unit"].iloc[0])
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
