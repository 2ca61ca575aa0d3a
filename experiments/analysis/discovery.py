"""Scenario discovery: where in the uncertainty space an outcome is high (or low), by PRIM.

Reads a finished sweep folder (`experiments.batch.results.load_sweep_results`, the
loader `chipstate sensitivity` uses), never runs the model. For each design sample it
takes the outcome of each successful run, either the sweep's own outcome column or the
outcome recomputed over a user's window of quarters from the kept series
(`experiments.batch.runner.outcome_values`' statistics), optionally minus a baseline
sweep's run on the same sample and seed (a paired effect: state_allocation -
historical is the directive's effect), and averages it over the seeds. A sample is of
interest when that mean lies above (or below) the threshold.

PRIM (Friedman and Fisher 1999) is the EMA Workbench's (`ema_workbench.analysis.prim`,
Kwakkel 2017), in its binary mode: it peels the box of swept parameters a little at a
time (peel_alpha of the samples a step) towards a higher share of samples of interest,
then pastes back what it can. Each box of the peeling trajectory has

- *coverage*: the share of all samples of interest that lie in the box (0-1);
- *density*: the share of the samples in the box that are of interest (0-1; the whole
  space's density is the base rate);
- *restricted dimensions*: how many parameters the box limits.

The chosen box is the one with the highest coverage among those whose density reaches
`density` (ties: fewer restricted dimensions); when none does, the densest box, and the
result says so. Beside each limit of the chosen box: the range the sweep sampled and the
parameter's prior (model/data/priors.toml), and EMA's quasi-p value (a one-sided
binomial test that the limit raises the density; small is significant).
"""

from __future__ import annotations

import logging
import sys
import textwrap
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from experiments.batch.results import SweepResults, is_sweep_dir, load_sweep_results
from model.technology import parse_quarter

OUT_DIR = "discovery"
DEFAULT_DENSITY = 0.8
DEFAULT_PEEL_ALPHA = 0.05
DEFAULT_PASTE_ALPHA = 0.05
DEFAULT_MASS_MIN = 0.05
STATS = ("sum", "mean", "min", "max")
SIGNIFICANCE = 0.05
CATEGORY_SEPARATOR = " | "
"""Quasi-p at or below which a limit of the chosen box counts as significant (EMA's habit)."""
METHOD = "PRIM, binary mode (ema_workbench.analysis.prim; Friedman and Fisher 1999)"


class DiscoveryError(ValueError):
    """Bad input to discovery; the message names the flag and what was expected."""


@dataclass(frozen=True)
class Target:
    """What makes a sample of interest: `outcome` (a sweep outcome, or a kept series
    with a window) above or below `threshold`, over `window` (first and last quarter,
    None: the sweep's own outcome definition), by `stat` over the window."""

    outcome: str
    threshold: float
    direction: str  # "above" or "below"
    window: tuple[str, str] | None = None
    stat: str | None = None

    @property
    def flag(self) -> str:
        return f"--{self.direction}"


# ------------------------------------------------------------------ the outcome table
def _outcome_spec(results: SweepResults, name: str) -> dict | None:
    for spec in results.manifest.get("sweep", {}).get("outcomes", []):
        if spec.get("name") == name:
            return spec
    return None


def run_values(results: SweepResults, target: Target) -> tuple[pd.DataFrame, str, str]:
    """One row per successful run: sample, seed and the outcome's value (`value`); its
    definition in words and its unit (from the sweep's outcome description, when any).

    Raises DiscoveryError naming ``--outcome``, ``--window`` or ``--stat`` when the
    sweep cannot give the outcome that way."""
    spec = _outcome_spec(results, target.outcome)
    kept = list(results.manifest.get("series", []))
    ok = results.ok
    if not len(ok):
        raise DiscoveryError(f"SWEEP_DIR {results.path}: no successful run stored; expected a finished sweep")
    if spec is None and target.outcome not in kept:
        raise DiscoveryError(
            f"--outcome {target.outcome}: not an outcome or kept series of the sweep in {results.path}; "
            f"expected one of: {', '.join(results.outcomes + kept)}")
    description = (spec or {}).get("description", "")
    if target.window is None:
        if spec is None:
            raise DiscoveryError(f"--outcome {target.outcome}: a kept series needs --window START-END "
                                 f"(or name an outcome: {', '.join(results.outcomes)})")
        if target.stat is not None:
            raise DiscoveryError(f"--stat {target.stat}: only with --window (without it the sweep's outcome "
                                 f"'{target.outcome}' is used as defined)")
        frame = ok[["sample", "seed", target.outcome]].rename(columns={target.outcome: "value"})
        where = (f"{spec['stat']} of {spec['reporter']}" + (f" at {spec['at']}" if spec.get("at") else
                 f" {spec.get('start') or '...'}-{spec.get('end') or '...'}"))
        return frame.reset_index(drop=True), where, description
    reporter = spec["reporter"] if spec is not None else target.outcome
    if reporter not in kept:
        raise DiscoveryError(
            f"--window {'-'.join(target.window)}: the sweep kept no series of '{reporter}' "
            f"(kept: {', '.join(kept) or 'none'}); expected a sweep whose [series] keeps it, or no --window")
    stat = target.stat or (spec["stat"] if spec is not None and spec["stat"] in STATS else "mean")
    series = results.series
    numbers = series["quarter"].map(parse_quarter)
    first, last = (parse_quarter(q) for q in target.window)
    inside = series[(numbers >= first) & (numbers <= last)]
    recorded = sorted(set(numbers))
    if inside.empty:
        raise DiscoveryError(
            f"--window {'-'.join(target.window)}: no recorded quarter in it; expected quarters within "
            f"the runs' {series['quarter'].iloc[numbers.idxmin()]}-{series['quarter'].iloc[numbers.idxmax()]}"
            if recorded else f"--window: the sweep in {results.path} recorded no quarter")
    grouped = inside[inside["run_key"].isin(ok["run_key"])].groupby("run_key")[reporter].agg(stat)
    frame = ok[["run_key", "sample", "seed"]].merge(grouped.rename("value"), left_on="run_key",
                                                    right_index=True, how="inner")
    return (frame[["sample", "seed", "value"]].reset_index(drop=True),
            f"{stat} of {reporter} {target.window[0]}-{target.window[1]}", description)


def sample_table(results: SweepResults, target: Target, baseline: SweepResults | None = None) -> tuple[pd.DataFrame, dict]:
    """One row per design sample: the swept parameters and `value`, the outcome's mean
    over the sample's seeds (minus the baseline's on the same sample and seed when a
    baseline is given), and `seeds`, how many seeds went into it. Also what the value is,
    in words (`definition`, `unit`).

    A baseline must be the same design (parameters, their values per sample, seeds):
    otherwise DiscoveryError naming ``--baseline``."""
    values, definition, unit = run_values(results, target)
    parameters = [p for p in results.parameters if p != "scenario"]
    if baseline is not None:
        _check_paired(results, baseline, parameters)
        base_values, _, _ = run_values(baseline, target)
        values = values.merge(base_values, on=["sample", "seed"], suffixes=("", "_baseline"), how="inner")
        if values.empty:
            raise DiscoveryError(f"--baseline {baseline.path}: no run shares a sample and seed with "
                                 f"{results.path}; expected the same design run under another scenario")
        values["value"] = values["value"] - values["value_baseline"]
        definition = f"{definition}, {_scenario(results)} - {_scenario(baseline)} (paired by sample and seed)"
    values = values.dropna(subset=["value"])
    means = values.groupby("sample")["value"].agg(["mean", "size"]).rename(columns={"mean": "value", "size": "seeds"})
    design = results.design.drop_duplicates("sample").set_index("sample")[parameters]
    table = design.join(means, how="inner").reset_index()
    for name in parameters:
        numeric = pd.to_numeric(table[name], errors="coerce")
        if numeric.notna().all():
            table[name] = numeric.astype(float)
        else:
            table[name] = table[name].astype(str)
    return table, {"definition": definition, "unit": unit}


def _scenario(results: SweepResults) -> str:
    return str(results.manifest.get("sweep", {}).get("scenario", results.path.name))


def _check_paired(results: SweepResults, baseline: SweepResults, parameters: list[str]) -> None:
    flag = f"--baseline {baseline.path}"
    other = [p for p in baseline.parameters if p != "scenario"]
    if other != parameters:
        raise DiscoveryError(f"{flag}: sweeps other parameters ({', '.join(other)}); expected the same "
                             f"parameters as {results.path} ({', '.join(parameters)})")
    if list(baseline.manifest.get("seeds", [])) != list(results.manifest.get("seeds", [])):
        raise DiscoveryError(f"{flag}: runs seeds {baseline.manifest.get('seeds')}; expected the same seeds "
                             f"as {results.path} ({results.manifest.get('seeds')})")
    mine = results.design.drop_duplicates("sample").set_index("sample")[parameters].sort_index()
    theirs = baseline.design.drop_duplicates("sample").set_index("sample")[parameters].sort_index()
    if not mine.index.equals(theirs.index) or not mine.astype(str).equals(theirs.astype(str)):
        raise DiscoveryError(f"{flag}: its design samples other parameter values; expected the same design "
                             f"(the same [design] and [parameters]) as {results.path}")


# ------------------------------------------------------------------------ PRIM
@dataclass
class Discovery:
    """What `discover` found: the per-sample table, the trajectory, the chosen box."""

    target: Target
    table: pd.DataFrame
    interest: np.ndarray
    trajectory: pd.DataFrame
    box: pd.DataFrame
    chosen: int
    reached: bool
    density_target: float
    definition: str
    unit: str
    library: str
    paths: dict[str, Path]
    replaced: str = ""  # what the output folder held before, when something

    @property
    def base_rate(self) -> float:
        return float(self.interest.mean())

    @property
    def significant(self) -> list[str]:
        """The chosen box's parameters whose limits have quasi-p <= SIGNIFICANCE."""
        return [r.parameter for r in self.box.itertuples() if np.isfinite(r.qp) and r.qp <= SIGNIFICANCE]

    def box_stats(self, parameters: list[str]) -> tuple[float, float, int]:
        """Coverage, density and sample count of the chosen box limited to `parameters`
        only (its limits on the others dropped)."""
        inside = np.ones(len(self.table), dtype=bool)
        for row in self.box[self.box["parameter"].isin(parameters)].itertuples():
            column = self.table[row.parameter]
            if isinstance(row.box_low, str):
                inside &= column.astype(str).isin(row.box_low.split(CATEGORY_SEPARATOR)).to_numpy()
            else:
                inside &= ((column >= row.box_low) & (column <= row.box_high)).to_numpy()
        hits = int((inside & self.interest).sum())
        return hits / int(self.interest.sum()), hits / max(int(inside.sum()), 1), int(inside.sum())

    def report(self) -> str:
        """The trajectory and the chosen box as text."""
        from experiments.tables import format_table, number

        t = self.target
        lines = [f"{METHOD}, {self.library}",
                 f"outcome: {t.outcome} = {self.definition}" + (f" [{self.unit}]" if self.unit else ""),
                 f"of interest: mean over seeds {t.direction} {number(t.threshold)}: {int(self.interest.sum())} of "
                 f"{len(self.interest)} samples (base rate {self.base_rate:.1%}); "
                 f"seeds per sample {int(self.table['seeds'].min())}-{int(self.table['seeds'].max())}",
                 "", "peeling trajectory (coverage: share of the samples of interest in the box; density: share "
                 "of the box's samples of interest)"]
        rows, before = [], set()
        for r in self.trajectory.itertuples():
            now = set(r.restricted.split())
            change = " ".join([f"+{n}" for n in r.restricted.split() if n not in before]
                              + [f"-{n}" for n in sorted(before - now)])
            before = now
            rows.append([str(int(r.id)) + (" *" if int(r.id) == self.chosen else ""), f"{r.coverage:.3f}",
                         f"{r.density:.3f}", f"{r.mass:.3f}", str(int(r.n)), str(int(r.res_dim)), change or "-"])
        lines.append(format_table(rows, ["box", "coverage", "density", "mass", "samples", "restricted",
                                         "newly restricted (+) or freed (-)"],
                                  [False, True, True, True, True, True, False]))
        chosen = self.trajectory[self.trajectory["id"] == self.chosen].iloc[0]
        rule = (f"the highest coverage with density >= {self.density_target:g}" if self.reached else
                f"no box reaches density {self.density_target:g}: the densest")
        lines += ["", f"chosen box {self.chosen} ({rule}): coverage {chosen.coverage:.3f}, density "
                  f"{chosen.density:.3f} (base rate {self.base_rate:.3f}), {int(chosen.n)} samples, "
                  f"{int(chosen.res_dim)} restricted parameter(s)"]
        if len(self.box):
            rows = [[r.parameter, _limits(r.box_low, r.box_high), _limits(r.sweep_low, r.sweep_high),
                     r.prior if isinstance(r.prior, str) else "-",
                     "-" if not np.isfinite(r.qp) else f"{r.qp:.2g}"] for r in self.box.itertuples()]
            lines.append(format_table(rows, ["parameter", "box", "sweep range", "prior", "quasi-p"],
                                      [False, False, False, False, True]))
            kept = self.significant
            if len(kept) < len(self.box):
                cov, dens, n = self.box_stats(kept)
                lines.append(f"only the limits with quasi-p <= {SIGNIFICANCE:g} ({', '.join(kept) or 'none'}): "
                             f"coverage {cov:.3f}, density {dens:.3f}, {n} samples. The other "
                             f"{len(self.box) - len(kept)} limits are each not significant alone: a box with many "
                             "restrictions can fit these samples rather than the model (more samples tell)")
        else:
            lines.append("  (the whole space: PRIM restricted no parameter)")
        return "\n".join(lines)


def _limits(low, high) -> str:
    from experiments.tables import number

    if isinstance(low, str):
        return low
    return f"{number(low)} - {number(high)}"


def _prim_library():
    """The EMA Workbench's prim module and its version. It warns at import about
    optional parallel back-ends this module does not use; those warnings are silenced."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import ema_workbench
        from ema_workbench.analysis import prim
    logging.getLogger("EMA").setLevel(logging.WARNING)
    return prim, f"ema_workbench {ema_workbench.__version__}"


def _restricted(lims: pd.DataFrame, init: pd.DataFrame) -> list[str]:
    """Parameters whose limits in `lims` are narrower than in `init` (file order)."""
    out = []
    for name in init.columns:
        a, b = lims[name], init[name]
        if isinstance(b.iloc[0], set):
            if a.iloc[0] != b.iloc[0]:
                out.append(name)
        elif a.iloc[0] > b.iloc[0] or a.iloc[1] < b.iloc[1]:
            out.append(name)
    return out


def run_prim(x: pd.DataFrame, interest: np.ndarray, *, peel_alpha: float = DEFAULT_PEEL_ALPHA,
             paste_alpha: float = DEFAULT_PASTE_ALPHA, mass_min: float = DEFAULT_MASS_MIN):
    """PRIM's first box over `x` (one column per parameter) for binary `interest`.

    Returns (trajectory frame with a `restricted` column, the box limits of each step,
    the initial limits, the quasi-p values of each step, the library's name).

    EMA's `threshold` does two jobs: a sample is of interest when y >= threshold, and
    the box is kept only when its density reaches it (else a 'dump box', the whole
    space, and no trajectory). With y in {0, 1}, 0.5 / n counts exactly the ones as of
    interest and keeps every box that holds one: the trajectory is always kept, and the
    box is chosen here (`choose`), against the user's density."""
    prim, library = _prim_library()
    y = np.asarray(interest, dtype=int)
    algorithm = prim.Prim(x.reset_index(drop=True), y, threshold=0.5 / len(y), peel_alpha=peel_alpha,
                          paste_alpha=paste_alpha, mass_min=mass_min)
    box = algorithm.find_box()
    trajectory = box.peeling_trajectory.copy()
    trajectory = trajectory[["id", "coverage", "density", "mass", "n", "k", "res_dim"]].astype(
        {"id": int, "n": int, "k": int, "res_dim": int})
    init = algorithm.box_init
    trajectory["restricted"] = [" ".join(_restricted(lims, init)) for lims in box.box_lims]
    return trajectory.reset_index(drop=True), list(box.box_lims), init, list(box.qp), library


def choose(trajectory: pd.DataFrame, density: float) -> tuple[int, bool]:
    """The chosen step of a trajectory: the highest coverage among the steps whose
    density is at least `density` (ties: fewer restricted dimensions, then the earlier
    step), and True; when none reaches it, the densest step (ties: higher coverage) and
    False."""
    dense = trajectory[trajectory["density"] >= density - 1e-12]
    if len(dense):
        best = dense.sort_values(["coverage", "res_dim", "id"], ascending=[False, True, True]).iloc[0]
        return int(best["id"]), True
    best = trajectory.sort_values(["density", "coverage", "id"], ascending=[False, False, True]).iloc[0]
    return int(best["id"]), False


def box_table(lims: pd.DataFrame, init: pd.DataFrame, qp: dict, priors=None) -> pd.DataFrame:
    """The chosen box's restricted parameters: its limits, the sweep's sampled range
    (the initial box), the prior (distribution and support) and EMA's quasi-p value."""
    rows = []
    for name in _restricted(lims, init):
        prior = priors[name].describe() if priors is not None and name in priors else None
        p = qp.get(name, [np.nan])
        # EMA gives [lower limit's, upper limit's]; -1 where that side is not restricted
        finite = [float(v) for v in np.atleast_1d(p) if v is not None and np.isfinite(v) and v >= 0]
        if isinstance(init[name].iloc[0], set):
            # categories (a list parameter's values are joined with commas): " | " between them
            low = high = CATEGORY_SEPARATOR.join(sorted(map(str, lims[name].iloc[0])))
            sweep_low = sweep_high = CATEGORY_SEPARATOR.join(sorted(map(str, init[name].iloc[0])))
        else:
            low, high = float(lims[name].iloc[0]), float(lims[name].iloc[1])
            sweep_low, sweep_high = float(init[name].iloc[0]), float(init[name].iloc[1])
        rows.append({"parameter": name, "box_low": low, "box_high": high, "sweep_low": sweep_low,
                     "sweep_high": sweep_high, "prior": prior, "qp": min(finite) if finite else np.nan})
    return pd.DataFrame(rows, columns=["parameter", "box_low", "box_high", "sweep_low", "sweep_high", "prior", "qp"])


# ------------------------------------------------------------------- the whole command
def load_sweep_dir(path: str | Path, flag: str = "SWEEP_DIR") -> SweepResults:
    """A finished sweep folder, or DiscoveryError naming `flag`."""
    path = Path(path)
    if not path.is_dir():
        raise DiscoveryError(f"{flag} {path}: no such folder; expected a sweep folder `chipstate sweep` wrote")
    if not is_sweep_dir(path):
        raise DiscoveryError(f"{flag} {path}: not a sweep folder (no design.parquet or runs/); "
                             "expected a folder `chipstate sweep` wrote")
    try:
        return load_sweep_results(path)
    except FileNotFoundError as exc:
        raise DiscoveryError(f"{flag} {path}: {exc}; expected a finished sweep folder") from None


def default_out(sweep_dir: Path, target: Target, baseline: Path | None) -> Path:
    """SWEEP_DIR/discovery/<outcome>-<above|below><threshold>[-<window>][-vs-<baseline>]/."""
    name = f"{target.outcome}-{target.direction}{target.threshold:g}"
    if target.window is not None:
        name += f"-{target.window[0]}-{target.window[1]}" + (f"-{target.stat}" if target.stat else "")
    if baseline is not None:
        name += f"-vs-{baseline.name}"
    return Path(sweep_dir) / OUT_DIR / name.replace("/", "_")


def discover(sweep_dir: str | Path, target: Target, *, baseline: str | Path | None = None,
             out: str | Path | None = None, overwrite: bool = False, density: float = DEFAULT_DENSITY,
             peel_alpha: float = DEFAULT_PEEL_ALPHA, paste_alpha: float = DEFAULT_PASTE_ALPHA,
             mass_min: float = DEFAULT_MASS_MIN, priors=None) -> Discovery:
    """Run PRIM on a finished sweep and write ``trajectory.csv``, ``box.csv``,
    ``samples.csv`` (each sample's parameters, value and whether it is of interest) and
    ``tradeoff.png`` under `out` (default `default_out`).

    `out` is claimed as a chipstate ``discovery`` output (experiments.outputs): a folder
    of other settings is refused unless `overwrite`; one of the same settings is
    replaced. Raises DiscoveryError (one line naming the flag) for bad input: no such
    folder, an unknown outcome, a window the sweep cannot give, a threshold that selects
    no sample or every sample, a baseline of another design."""
    from experiments.outputs import claim, mark, write_csv_atomic

    sweep_dir = Path(sweep_dir)
    results = load_sweep_dir(sweep_dir)
    base = load_sweep_dir(baseline, "--baseline") if baseline is not None else None
    table, about = sample_table(results, target, base)
    values = table["value"].to_numpy(dtype=float)
    interest = values > target.threshold if target.direction == "above" else values < target.threshold
    if not interest.any() or interest.all():
        how = "no" if not interest.any() else "every"
        raise DiscoveryError(
            f"{target.flag} {target.threshold:g}: {how} sample ({int(interest.sum())} of {len(interest)}) has "
            f"{target.outcome} {target.direction} it; expected a threshold between the samples' lowest "
            f"{np.min(values):.6g} and highest {np.max(values):.6g}")
    parameters = [c for c in table.columns if c not in ("sample", "value", "seeds")]
    trajectory, lims, init, qp, library = run_prim(table[parameters], interest, peel_alpha=peel_alpha,
                                                   paste_alpha=paste_alpha, mass_min=mass_min)
    chosen, reached = choose(trajectory, density)
    box = box_table(lims[chosen], init, qp[chosen], priors)

    out = Path(out) if out is not None else default_out(sweep_dir, target, Path(baseline) if baseline else None)
    settings = {"sweep": str(sweep_dir.resolve()), "baseline": str(Path(baseline).resolve()) if baseline else None,
                "outcome": target.outcome, "threshold": target.threshold, "direction": target.direction,
                "window": target.window, "stat": target.stat, "density": density, "peel_alpha": peel_alpha,
                "paste_alpha": paste_alpha, "mass_min": mass_min}
    claimed = claim(out, "discovery", settings, overwrite=overwrite)
    mark(out, "discovery", settings)
    paths = {"trajectory": out / "trajectory.csv", "box": out / "box.csv", "samples": out / "samples.csv",
             "figure": out / "tradeoff.png"}
    write_csv_atomic(paths["trajectory"], trajectory.assign(chosen=trajectory["id"] == chosen))
    write_csv_atomic(paths["box"], box)
    write_csv_atomic(paths["samples"], table.assign(of_interest=interest))
    replaced = ("an earlier discovery of other settings (--overwrite)" if claimed.replaced else
                "an earlier discovery of the same settings" if claimed.same else "")
    result = Discovery(target, table, interest, trajectory, box, chosen, reached, density,
                       about["definition"], about["unit"], library, paths, replaced)
    plot_tradeoff(result, paths["figure"])
    return result


def plot_tradeoff(result: Discovery, path: Path) -> Path:
    """Coverage against density along the peeling trajectory, each point labelled with
    its number of restricted parameters, the chosen box starred, the base rate and the
    density target drawn; a caption says what the outcome and the threshold are."""
    import matplotlib

    if "ipykernel" not in sys.modules:
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    t = result.trajectory
    fig = Figure(figsize=(7.0, 6.2))
    ax = fig.add_subplot(1, 1, 1)
    points = ax.scatter(t["coverage"], t["density"], c=t["res_dim"], cmap="viridis", s=28, zorder=3)
    for row in t.itertuples():
        ax.annotate(str(int(row.res_dim)), (row.coverage, row.density), textcoords="offset points",
                    xytext=(4, 3), fontsize=7)
    chosen = t[t["id"] == result.chosen].iloc[0]
    ax.scatter([chosen.coverage], [chosen.density], marker="*", s=260, facecolor="none",
               edgecolor="#c0392b", linewidths=1.5, zorder=4, label=f"chosen box ({int(chosen.res_dim)} restricted)")
    ax.axhline(result.base_rate, color="grey", lw=0.8, ls=":", label=f"base rate {result.base_rate:.2f}")
    ax.axhline(result.density_target, color="#c0392b", lw=0.8, ls="--",
               label=f"density target {result.density_target:g}")
    ax.set_xlim(-0.02, 1.04)
    ax.set_ylim(0, 1.04)
    ax.set_xlabel("coverage: share of the samples of interest inside the box (0-1)")
    ax.set_ylabel("density: share of the box's samples that are of interest (0-1)")
    bar = fig.colorbar(points, ax=ax)
    bar.set_label("restricted parameters (number)")
    bar.locator = MaxNLocator(integer=True)
    bar.update_ticks()
    ax.legend(loc="lower left", fontsize=8)
    ax.set_title("PRIM peeling trajectory: coverage against density", fontsize=10)
    target = result.target
    from experiments.tables import number

    caption = (f"Outcome: {target.outcome} = {result.definition}" + (f" [{result.unit}]" if result.unit else "")
               + f". Of interest: mean over seeds {target.direction} {number(target.threshold)} "
               f"({int(result.interest.sum())} of {len(result.interest)} samples). Each point is a box of the "
               "peeling trajectory (from the whole space at coverage 1 towards smaller, denser boxes), labelled "
               f"with the number of parameters it restricts. {METHOD}; {result.library}.")
    fig.text(0.02, 0.01, textwrap.fill(caption, 118), fontsize=7, va="bottom", ha="left")
    fig.tight_layout(rect=(0, 0.12, 1, 1))
    fig.savefig(path, dpi=120)
    plt.close("all")
    return path
