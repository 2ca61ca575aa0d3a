"""What one Step of the browser app costs: `python -m experiments.app.timing`."""

from __future__ import annotations

import time

import pandas as pd
from matplotlib.figure import Figure

from experiments.app.graph import GRAPH_SIZE_IN, TradeGraphPainter
from experiments.app.panels import AcceleratorPanel, ChinaComputePanel, SeriesPanels, latest_ledger
from model.scenario import DEFAULT_SCENARIO


# --------------------------------------------------------------------- timing
def time_redraws(scenario: str = DEFAULT_SCENARIO, seed: int = 42, steps: int = 48) -> pd.DataFrame:
    """Seconds per quarter of what the app does on Step: the model's step, the trade
    graph, the series panels, the accelerator panel and China's compute panel drawn and
    encoded as PNG, the ledger rows. Wall-clock and CPU time (this process) per phase, a row per step; the
    per-model set-up (layout, first static layers) is not in the rows, their re-renders
    when something changes are."""
    import io

    from model import ChipMarketModel

    def encode(figure: Figure) -> int:
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png")
        return buffer.tell()

    model = ChipMarketModel(scenario=scenario, rng=seed)
    painter = TradeGraphPainter(model)
    panels = SeriesPanels(model)
    accelerators = AcceleratorPanel(model)
    china = ChinaComputePanel(model, width_in=GRAPH_SIZE_IN[0])  # as the app draws it
    encode(painter.draw())
    encode(panels.update())
    encode(accelerators.update())
    encode(china.update())
    rows = []
    for _ in range(min(steps, model.last_quarter - model.quarter_number)):
        row = {}
        for phase, work in (("step", model.step),
                            ("graph", lambda: encode(painter.draw())),
                            ("panels", lambda: encode(panels.update())),
                            ("accelerators", lambda: encode(accelerators.update())),
                            ("china_compute", lambda: encode(china.update())),
                            ("ledger", lambda: latest_ledger(model))):
            wall, cpu = time.perf_counter(), time.process_time()
            work()
            row[f"{phase}_s"] = time.perf_counter() - wall
            row[f"{phase}_cpu_s"] = time.process_time() - cpu
        rows.append(row)
    frame = pd.DataFrame(rows)
    frame["total_s"] = frame[[c for c in frame if c.endswith("_s") and "cpu" not in c]].sum(axis=1)
    frame["total_cpu_s"] = frame[[c for c in frame if c.endswith("_cpu_s")]].sum(axis=1)
    return frame


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description="Time the app's work per Step (see time_redraws).")
    parser.add_argument("--scenario", default=DEFAULT_SCENARIO)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--steps", type=int, default=48)
    args = parser.parse_args()
    times = time_redraws(args.scenario, args.seed, args.steps)
    print(times.describe(percentiles=[0.5, 0.9]).T[["mean", "50%", "90%", "max"]].round(3).to_string())
