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

Every row of the indices names its `method` and `confidence` (the level and how the
interval is made: SALib's bootstrap over the design rows), and `adequacy` says in plain
words when the sample is too small for the indices to mean anything. Its criteria,
per outcome (each is a symptom SALib's estimators show on too small a sample):

- *too few rows*: a Sobol' design with fewer than 64 base samples (N; the design has
  N x (k + 2) rows), an RBD-FAST (lhs) design with fewer than 64 rows, a Morris design
  with fewer than 10 trajectories. Below these, SALib's bootstrap intervals are
  themselves unreliable (Saltelli et al. 2010 use N in the thousands; Campolongo et al.
  2007 use 10-20 trajectories);
- *impossible values*: a first-order or total index below 0 or above 1 by more than its
  own interval and a tolerance of 0.05 (a share of variance lies in 0-1), or first-order
  indices summing above 1 + 0.1;
- *intervals too wide to rank*: a 95% half-width above 0.1 (an interval 0.2 wide cannot
  tell parameters apart whose shares of variance differ by less); for Morris, a mu*
  interval wider than half of mu* for a parameter whose mu* is at least a tenth of the
  largest;
- *noise*: seed-to-seed variance above half of the outcome's variance (`seed_noise`).
"""

from __future__ import annotations

import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from experiments.batch.results import SweepResults, load_sweep_results
from experiments.batch.sweep import SweepError

OUT_DIR = "sensitivity"
CONFIDENCE = 0.95
CONFIDENCE_TEXT = "95% bootstrap (SALib, 100 resamples of the design rows)"
METHODS = {
    "sobol": "Sobol' indices (Saltelli 2010 first-order, Jansen total; SALib.analyze.sobol)",
    "morris": "Morris elementary effects (mu*, mu, sigma; SALib.analyze.morris)",
    "lhs": "RBD-FAST first-order indices on a Latin hypercube (SALib.analyze.rbd_fast)",
}
MIN_SOBOL_BASE = 64
MIN_LHS_ROWS = 64
MIN_MORRIS_TRAJECTORIES = 10
RANGE_TOLERANCE = 0.05
MAX_HALF_WIDTH = 0.1
SUM_TOLERANCE = 0.1
MAX_NOISE_SHARE = 0.5


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
    """Tidy indices: one row per outcome, parameter and index, with value and conf, and
    the `method` and `confidence` that made them.

    `conf` is the half-width of the 95% bootstrap interval (NaN where SALib gives none).
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
                             "value": float(value), "conf": float(conf), "method": METHODS[kind],
                             "confidence": CONFIDENCE_TEXT if np.isfinite(conf) else "none (SALib gives no interval)"})
    return pd.DataFrame(rows, columns=["outcome", "parameter", "index", "value", "conf", "method", "confidence"])


def _salib(kind: str, problem: dict, design: dict, x: np.ndarray, y: np.ndarray) -> dict:
    seed = design.get("seed", 0)
    nan = np.full(problem["num_vars"], np.nan)
    if kind == "sobol":
        from SALib.analyze import sobol

        si = sobol.analyze(problem, y, calc_second_order=design.get("second_order", False),
                           conf_level=CONFIDENCE, seed=seed)
        return {"S1": (si["S1"], si["S1_conf"]), "ST": (si["ST"], si["ST_conf"])}
    if kind == "morris":
        from SALib.analyze import morris

        si = morris.analyze(problem, x, y, conf_level=CONFIDENCE, num_levels=design.get("levels", 4), seed=seed)
        return {"mu_star": (si["mu_star"], si["mu_star_conf"]), "mu": (si["mu"], nan),
                "sigma": (si["sigma"], nan)}
    from SALib.analyze import rbd_fast

    # RBD-FAST's bootstrap uses half the rows, and its bias correction needs
    # 2M < rows/2: keep the harmonic count M (SALib default 10) below a quarter of N.
    harmonics = max(1, min(10, len(y) // 4 - 1))
    si = rbd_fast.analyze(problem, x, y, M=harmonics, conf_level=CONFIDENCE, seed=seed)
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


def design_size(results: SweepResults) -> dict:
    """The design's kind, its rows, and its base samples (Sobol' N) or trajectories (Morris)."""
    manifest = results.manifest
    kind = manifest["design"]["kind"]
    rows = int(results.design["sample"].nunique())
    k = len((manifest.get("problem") or {}).get("names", results.parameters))
    second = bool(manifest["sweep"]["design"].get("second_order", False))
    per = {"sobol": (2 * k + 2) if second else (k + 2), "morris": k + 1}.get(kind, 1)
    return {"kind": kind, "rows": rows, "parameters": k, "base": rows // per if per else rows}


def adequacy(indices: pd.DataFrame, size: dict, noise: pd.DataFrame | None = None) -> list[str]:
    """Plain-words warnings, one per problem, when the sample is too small (or too noisy)
    for the indices to mean anything; an empty list when none of the module's criteria
    is met. `size` is `design_size(results)`."""
    warnings: list[str] = []
    kind = size["kind"]
    if kind == "sobol" and size["base"] < MIN_SOBOL_BASE:
        warnings.append(f"The Sobol' design has N = {size['base']} base samples ({size['rows']} rows); "
                        f"below N = {MIN_SOBOL_BASE} the indices and their intervals are not reliable. "
                        f"Use samples >= {MIN_SOBOL_BASE} (a power of 2).")
    if kind == "lhs" and size["rows"] < MIN_LHS_ROWS:
        warnings.append(f"The Latin hypercube has {size['rows']} rows; RBD-FAST needs at least "
                        f"{MIN_LHS_ROWS} for its first-order indices to mean anything.")
    if kind == "morris" and size["base"] < MIN_MORRIS_TRAJECTORIES:
        warnings.append(f"The Morris design has {size['base']} trajectories; at least "
                        f"{MIN_MORRIS_TRAJECTORIES} are needed to rank the parameters.")
    for outcome, group in indices.groupby("outcome", sort=False):
        shares = group[group["index"].isin(["S1", "ST"])]
        bad = shares[((shares["value"] < -RANGE_TOLERANCE) | (shares["value"] > 1 + RANGE_TOLERANCE))
                     & ((shares["value"].clip(0, 1) - shares["value"]).abs() > shares["conf"].fillna(0))]
        for row in bad.itertuples():
            warnings.append(f"{outcome}: {row.index} of {row.parameter} is {row.value:+.2f} "
                            f"(+/- {row.conf:.2f}), outside 0-1 where a share of variance must lie: "
                            "the sample is too small for these indices to mean anything.")
        first = shares[shares["index"] == "S1"]
        if len(first) and first["value"].sum() > 1 + SUM_TOLERANCE:
            warnings.append(f"{outcome}: the first-order indices sum to {first['value'].sum():.2f}, "
                            "more than 1: the sample is too small.")
        wide = shares[shares["conf"] > MAX_HALF_WIDTH]
        if len(wide):
            worst = wide.loc[wide["conf"].idxmax()]
            warnings.append(f"{outcome}: {len(wide)} of {len(shares)} indices have 95% intervals wider "
                            f"than +/- {MAX_HALF_WIDTH} (widest: {worst['index']} of {worst['parameter']}, "
                            f"{worst['value']:.2f} +/- {worst['conf']:.2f}): too wide to rank the "
                            "parameters; use more samples.")
        mu = group[group["index"] == "mu_star"]
        if len(mu) and mu["value"].max() > 0:
            big = mu[mu["value"] >= 0.1 * mu["value"].max()]
            loose = big[big["conf"] > 0.5 * big["value"]]
            if len(loose):
                warnings.append(f"{outcome}: mu* of {', '.join(loose['parameter'])} has a 95% interval "
                                "wider than half its value: the ranking is not reliable; use more trajectories.")
    if noise is not None:
        for row in noise.itertuples():
            if np.isfinite(row.noise_share) and row.noise_share > MAX_NOISE_SHARE:
                warnings.append(f"{row.outcome}: {row.noise_share:.0%} of its variance is seed-to-seed "
                                "noise, not the parameters: add replicates before reading the indices.")
    return warnings


def plot_indices(indices: pd.DataFrame, path: str | Path, caption: str = ""):
    """A bar chart per outcome (indices by parameter, 95% intervals as error bars); the
    method and confidence level, and `caption` (red when it starts with WARNING), under it."""
    import matplotlib

    if "ipykernel" not in sys.modules:
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import seaborn as sns

    sns.set_theme(style="whitegrid", context="notebook")
    outcomes = list(dict.fromkeys(indices["outcome"]))
    shown = indices[indices["index"].isin(["S1", "ST", "mu_star"])]
    order = list(dict.fromkeys(shown["parameter"]))
    n = max(len(outcomes), 1)
    method = indices["method"].iloc[0] if "method" in indices and len(indices) else ""
    width = 40 * n + 70
    lines = [(textwrap.fill(f"{method}; error bars: {CONFIDENCE_TEXT} intervals", width), "#222222")]
    if caption:
        lines.append((textwrap.fill(caption, width), "#b00000" if caption.startswith("WARNING") else "#222222"))
    footer_lines = sum(text.count("\n") + 1 for text, _ in lines)
    height = 1.4 + 0.45 * len(order) * 2 + 0.16 * footer_lines
    fig, axes = plt.subplots(1, n, figsize=(4.8 * n + 1.5, height), squeeze=False, sharey=True)
    for ax, outcome in zip(axes[0], outcomes):
        data = shown[shown["outcome"] == outcome]
        sns.barplot(data=data, x="value", y="parameter", hue="index", order=order, orient="h",
                    errorbar=None, ax=ax)
        # seaborn cannot take precomputed intervals: draw SALib's on the bars it made.
        for container, (_, group) in zip(ax.containers, data.groupby("index", sort=False)):
            confs = group.set_index("parameter")["conf"].reindex(order)
            for bar, conf in zip(container, confs):
                if np.isfinite(conf):
                    ax.errorbar(bar.get_width(), bar.get_y() + bar.get_height() / 2, xerr=conf,
                                color="black", capsize=2, lw=0.8)
        ax.axvline(0, color="black", lw=0.8)
        ax.set_title(textwrap.fill(outcome.replace("_", " "), 40), fontsize=9)
        ax.set_xlabel("index (share of variance)" if "mu_star" not in set(data["index"])
                      else "mu* (outcome's unit per parameter range)")
        ax.set_ylabel("parameter")
        ax.set_yticks(range(len(order)))
        ax.set_yticklabels([textwrap.fill(o.replace("_", " "), 22) for o in order], fontsize=8)
        if ax.get_legend() is not None:
            ax.get_legend().set_title(None)
    line_h = 8 * 1.45 / 72 / height
    y = 0.01
    for text, colour in reversed(lines):
        fig.text(0.01, y, text, fontsize=8, va="bottom", ha="left", color=colour)
        y += line_h * (text.count("\n") + 1)
    fig.tight_layout(rect=(0, y + 0.01, 1, 1))
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


@dataclass
class Sensitivity:
    """What `sensitivity` computed and wrote: the indices, the seed noise, the warnings
    (empty when the sample is big enough) and the paths of the files."""

    indices: pd.DataFrame
    noise: pd.DataFrame
    warnings: list[str]
    paths: dict[str, Path]

    def __getitem__(self, key: str) -> Path:  # the paths, as the dict this returned before
        return self.paths[key]

    def values(self):
        return self.paths.values()

    def report(self) -> str:
        """The indices as text, naming the method and the confidence level, then the warnings."""
        from experiments.tables import format_table, number

        lines = [f"{self.indices['method'].iloc[0]}" if len(self.indices) else "no indices",
                 f"intervals: {CONFIDENCE_TEXT}; value +/- half-width", ""]
        table = self.indices
        names = list(dict.fromkeys(table["index"]))
        for outcome, group in table.groupby("outcome", sort=False):
            lines.append(outcome)
            rows = []
            for parameter, part in group.groupby("parameter", sort=False):
                cells = [parameter]
                for name in names:
                    row = part[part["index"] == name]
                    if not len(row):
                        cells.append("-")
                        continue
                    value, conf = row["value"].iloc[0], row["conf"].iloc[0]
                    cells.append(number(value) + (f" +/- {number(conf)}" if np.isfinite(conf) else ""))
                rows.append(cells)
            lines.append(format_table(rows, ["parameter", *names], [False] + [True] * len(names)))
            lines.append("")
        if len(self.noise) and int(self.noise["replicates"].max()) < 2:
            lines.append("Note: one seed per design row, so seed-to-seed noise was not measured "
                         "(run 2+ replicates to check it).")
        if self.warnings:
            lines.append("WARNING: the sample is too small (or too noisy) for these indices to mean anything:")
            lines += [f"  - {w}" for w in self.warnings]
        else:
            lines.append("No adequacy warning: no index outside 0-1, no interval wider than "
                         f"+/- {MAX_HALF_WIDTH}, enough samples (see experiments/analysis/sensitivity.py).")
        return "\n".join(lines)


def sensitivity(sweep_dir: str | Path, out: str | Path | None = None) -> Sensitivity:
    """Compute, save and plot a finished sweep's indices.

    Writes ``indices.csv``, ``indices.parquet`` (with `method` and `confidence`
    columns), ``seed_noise.csv``, ``warnings.txt`` (the adequacy warnings; "none" when
    there are none) and ``indices.png`` under `out` (default SWEEP_DIR/sensitivity/).
    Returns a Sensitivity (indexing it by name gives the paths, as before).
    """
    from experiments.outputs import write_text_atomic

    results = load_sweep_results(sweep_dir)
    out = Path(out) if out is not None else Path(sweep_dir) / OUT_DIR
    indices = analyse(results)
    noise = seed_noise(results)
    size = design_size(results)
    warnings = adequacy(indices, size, noise)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"indices_csv": out / "indices.csv", "indices_parquet": out / "indices.parquet",
             "seed_noise_csv": out / "seed_noise.csv", "warnings": out / "warnings.txt",
             "plot": out / "indices.png"}
    indices.to_csv(paths["indices_csv"], index=False)
    indices.to_parquet(paths["indices_parquet"], index=False)
    noise.to_csv(paths["seed_noise_csv"], index=False)
    write_text_atomic(paths["warnings"], "\n".join(warnings) + "\n" if warnings else "none\n")
    caption = (f"{size['kind']} design, {size['rows']} rows x {int(noise['replicates'].max()) if len(noise) else 0} "
               "seed(s); indices on the seed means")
    if warnings:
        caption = (f"WARNING: {len(warnings)} sign(s) that the sample is too small for these indices to mean "
                   f"anything (see warnings.txt). {caption}")
    plot_indices(indices, paths["plot"], caption)
    return Sensitivity(indices, noise, warnings, paths)
