"""Global sensitivity indices (SALib) from a finished sweep folder, saved and plotted.

The design decides the method:

- ``sobol``: Sobol' first-order (S1) and total (ST) indices with 95% bootstrap
  intervals (``SALib.analyze.sobol``);
- ``morris``: elementary effects: mu*, its 95% interval, mu and sigma
  (``SALib.analyze.morris``);
- ``lhs``: first-order indices S1 with 95% intervals by RBD-FAST
  (``SALib.analyze.rbd_fast``, made for Latin-hypercube samples).

The model is stochastic: each design row ran with the same R seeds, and the indices are
computed on the mean over seeds. Beside them, `seed_noise` reports how much of an
outcome's variance across runs is seed-to-seed noise rather than the parameters'.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from experiments.results import SweepResults, load_sweep_results
from experiments.sweep import SweepError

OUT_DIR = "sensitivity"


def _design_matrix(results: SweepResults) -> np.ndarray:
    names = results.parameters
    first = results.design.drop_duplicates("sample").sort_values("sample")
    return first[[f"x_{name}" for name in names]].to_numpy(dtype=float)


def _sample_means(results: SweepResults, outcome: str, n_samples: int) -> np.ndarray:
    ok = results.ok
    means = ok.groupby("sample")[outcome].mean().reindex(range(n_samples))
    missing = means.index[means.isna()].tolist()
    if missing:
        raise SweepError(
            f"{results.path}: outcome '{outcome}' has no successful run for sample(s) "
            f"{missing[:5]}{'...' if len(missing) > 5 else ''}; finish or retry the sweep first"
        )
    return means.to_numpy(dtype=float)


def analyse(results: SweepResults | str | Path, outcomes: list[str] | None = None) -> pd.DataFrame:
    """Tidy indices: one row per outcome, parameter and index, with value and conf.

    `conf` is the half-width of the 95% interval (NaN where SALib gives none).
    Raises SweepError for a grid design or a sample with no successful run.
    """
    if not isinstance(results, SweepResults):
        results = load_sweep_results(results)
    manifest = results.manifest
    kind = manifest["design"]["kind"]
    problem = manifest.get("problem")
    if kind == "grid" or problem is None:
        raise SweepError(f"{results.path}: design '{kind}' has no SALib problem; "
                         "sensitivity needs a sobol, morris or lhs design")
    design = manifest["sweep"]["design"]
    x = _design_matrix(results)
    rows = []
    for outcome in outcomes or results.outcomes:
        y = _sample_means(results, outcome, len(x))
        indices = _salib(kind, problem, design, x, y)
        for index, (values, confs) in indices.items():
            for name, value, conf in zip(problem["names"], values, confs):
                rows.append({"outcome": outcome, "parameter": name, "index": index,
                             "value": float(value), "conf": float(conf)})
    return pd.DataFrame(rows, columns=["outcome", "parameter", "index", "value", "conf"])


def _salib(kind: str, problem: dict, design: dict, x: np.ndarray, y: np.ndarray) -> dict:
    seed = design.get("seed", 0)
    nan = np.full(problem["num_vars"], np.nan)
    if kind == "sobol":
        from SALib.analyze import sobol

        si = sobol.analyze(problem, y, calc_second_order=design.get("second_order", False),
                           conf_level=0.95, seed=seed)
        return {"S1": (si["S1"], si["S1_conf"]), "ST": (si["ST"], si["ST_conf"])}
    if kind == "morris":
        from SALib.analyze import morris

        si = morris.analyze(problem, x, y, conf_level=0.95, num_levels=design.get("levels", 4), seed=seed)
        return {"mu_star": (si["mu_star"], si["mu_star_conf"]), "mu": (si["mu"], nan),
                "sigma": (si["sigma"], nan)}
    from SALib.analyze import rbd_fast

    # RBD-FAST's bootstrap uses half the rows, and its bias correction needs
    # 2M < rows/2: keep the harmonic count M (SALib default 10) below a quarter of N.
    harmonics = max(1, min(10, len(y) // 4 - 1))
    si = rbd_fast.analyze(problem, x, y, M=harmonics, conf_level=0.95, seed=seed)
    return {"S1": (np.asarray(si["S1"]), np.asarray(si["S1_conf"]))}


def seed_noise(results: SweepResults | str | Path) -> pd.DataFrame:
    """Per outcome: variance across all runs, mean within-sample (seed) variance, share.

    `noise_share` = mean within-sample variance / total variance: near 1, the seeds
    matter more than the parameters and the indices say little.
    """
    if not isinstance(results, SweepResults):
        results = load_sweep_results(results)
    ok = results.ok
    rows = []
    for outcome in results.outcomes:
        total = float(ok[outcome].var(ddof=1))
        within = float(ok.groupby("sample")[outcome].var(ddof=1).mean())
        rows.append({"outcome": outcome, "runs": int(ok[outcome].notna().sum()),
                     "replicates": int(ok.groupby("sample").size().max()) if len(ok) else 0,
                     "total_variance": total, "seed_variance": within,
                     "noise_share": within / total if total > 0 else float("nan")})
    return pd.DataFrame(rows)


def plot_indices(indices: pd.DataFrame, path: str | Path):
    """A bar chart per outcome (indices by parameter, 95% intervals as error bars)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import seaborn as sns

    outcomes = list(dict.fromkeys(indices["outcome"]))
    shown = indices[indices["index"].isin(["S1", "ST", "mu_star"])]
    n = max(len(outcomes), 1)
    fig, axes = plt.subplots(1, n, figsize=(4.5 * n, 0.5 + 0.45 * shown["parameter"].nunique() * 2),
                             squeeze=False, sharey=True)
    for ax, outcome in zip(axes[0], outcomes):
        data = shown[shown["outcome"] == outcome]
        sns.barplot(data=data, x="value", y="parameter", hue="index", orient="h", errorbar=None, ax=ax)
        # seaborn cannot take precomputed intervals: draw SALib's on the bars it made.
        for container, (_, group) in zip(ax.containers, data.groupby("index", sort=False)):
            for bar, conf in zip(container, group["conf"]):
                if np.isfinite(conf):
                    ax.errorbar(bar.get_width(), bar.get_y() + bar.get_height() / 2, xerr=conf,
                                color="black", capsize=2, lw=0.8)
        ax.set_title(outcome, fontsize=9)
        ax.set_xlabel("index")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def sensitivity(sweep_dir: str | Path, out: str | Path | None = None) -> dict[str, Path]:
    """Compute, save and plot a finished sweep's indices.

    Writes ``indices.csv``, ``indices.parquet``, ``seed_noise.csv`` and
    ``indices.png`` under `out` (default SWEEP_DIR/sensitivity/) and returns their paths.
    """
    results = load_sweep_results(sweep_dir)
    out = Path(out) if out is not None else Path(sweep_dir) / OUT_DIR
    out.mkdir(parents=True, exist_ok=True)
    indices = analyse(results)
    paths = {"indices_csv": out / "indices.csv", "indices_parquet": out / "indices.parquet",
             "seed_noise_csv": out / "seed_noise.csv", "plot": out / "indices.png"}
    indices.to_csv(paths["indices_csv"], index=False)
    indices.to_parquet(paths["indices_parquet"], index=False)
    seed_noise(results).to_csv(paths["seed_noise_csv"], index=False)
    plot_indices(indices, paths["plot"])
    return paths
