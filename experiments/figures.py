"""Figures of a run's key series (seaborn), shared by the CLI and the notebooks."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402

from model.technology import TIERS  # noqa: E402

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
    data["year"] = data["quarter"].str[:4].astype(int) + (data["quarter"].str[-1].astype(int) - 1) / 4
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
