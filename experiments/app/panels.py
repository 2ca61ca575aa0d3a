"""The browser app's series panels and ledger: the run's key series in six panels
(`SeriesPanels`, kept for the model's life and redrawn per Step), the champion's
accelerators with the input that bound them (`AcceleratorPanel`, likewise), who
supplies China's AI compute (`ChinaComputePanel`, likewise; both are `EventPanel`s,
which mark the quarters measures take effect) and the latest rows of the ledger of
cuts, re-wirings and rationing. Drawn on a `matplotlib.figure.Figure`, never pyplot
(whose global state every browser session would share).
"""

from __future__ import annotations

import textwrap
from itertools import cycle

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from experiments.analysis.figures import (
    CHINESE_COLOURS, FOREIGN_COLOURS, designer_name, grouped_events, run_events,
)
from model.reporters import slug
from model.technology import ADVANCED_TIERS, TIERS, parse_quarter, quarter_year


# ------------------------------------------------------------------ time series
def _years(frame: pd.DataFrame) -> np.ndarray:
    return np.array([quarter_year(parse_quarter(q)) for q in frame["quarter"]])


def series_frame(model) -> pd.DataFrame:
    """The model frame without row 0 (the state before any trade), with a `year` column.

    Only quarters every reporter has recorded: with SolaraViz's "Use Threads" the page
    may be drawn while `collect()` is appending, one reporter at a time."""
    columns = model.datacollector.model_vars
    rows = min((len(values) for values in columns.values()), default=0)
    frame = pd.DataFrame({name: values[:rows] for name, values in columns.items()}).iloc[1:].copy()
    frame["year"] = _years(frame) if len(frame) else []
    return frame


def _style(ax, model, title: str) -> None:
    from matplotlib.ticker import MaxNLocator

    ax.set_title(title, fontsize=9, loc="left")
    ax.set_xlim(quarter_year(model.first_quarter), quarter_year(model.last_quarter) + 0.25)
    ax.grid(True, color="#eeeeee")
    ax.tick_params(labelsize=7.5, length=2, pad=2)
    ax.xaxis.set_major_locator(MaxNLocator(6, integer=True))
    ax.yaxis.set_major_locator(MaxNLocator(5, steps=[1, 2, 2.5, 5, 10]))


BAND_ALPHA = 0.22
"""The uncertainty band's opacity: the live run's colour, faint, behind its line."""


def _fill_band(ax, band, column: str, scale: float, colour) -> tuple[list, float]:
    """Fill `band`'s 5-95% range of `column` (x `scale`) on `ax` behind the lines;
    return the artists made and the band's peak (-inf without a band)."""
    span = band.low_high(column, scale) if band is not None else None
    if span is None:
        return [], -np.inf
    years, low, high = span
    artist = ax.fill_between(years, low, high, color=colour, alpha=BAND_ALPHA, linewidth=0, zorder=0.5)
    return [artist], float(np.nanmax(high, initial=-np.inf))


def _legend(ax, **kwargs) -> None:
    ax.legend(**{"fontsize": 7, "loc": "upper left", "frameon": False, **kwargs})


ADVANCED_COLOURS = ["#6a040f", "#e85d04"]
TIER_COLOURS = ["#03045e", "#0077b6", "#00b4d8", "#90be6d", "#adb5bd"]
FOUNDRY_COLOURS = {"TSMC": "#2a9d8f", "Samsung": "#7b3fa0", "Intel Foundry": "#1f4e9c",
                   "GlobalFoundries": "#6f8fb8", "UMC": "#8ab17d", "SMIC": "#c8102e",
                   "Hua Hong": "#f4a261", "Other Chinese foundries": "#e9c46a", "Other foundries": "#bbbbbb"}
PANELS_SIZE_IN = (7.6, 7.2)
HEADROOM = 1.35
"""Autoscaled panels keep their top quarter free for the legend."""
PANELS_DPI = 80


class SeriesPanels:
    """The run's key series in six panels (3 x 2), kept for the model's life.

    Text (titles, tick labels, legends) is most of matplotlib's rendering time and
    hardly changes: each panel's frame is drawn on a background figure of its own,
    rendered to pixels only when its axis range changes (ranges only grow, to round
    numbers, so a few times a run), and the panels' pixels are pasted under a foreground
    figure that holds just the data, whose lines are updated in place. One image to
    encode per step; fixed margins (no tight_layout, which would render twice).
    """

    GRID = dict(left=0.075, right=0.82, bottom=0.04, top=0.955, wspace=0.28, hspace=0.33)

    def __init__(self, model) -> None:
        self.model = model
        self.figure = Figure(figsize=PANELS_SIZE_IN, dpi=PANELS_DPI)
        self.backgrounds = [Figure(figsize=PANELS_SIZE_IN, dpi=PANELS_DPI) for _ in range(6)]
        back = []
        for i, fig in enumerate(self.backgrounds):
            fig.patch.set_alpha(0.0)
            back.append(fig.add_subplot(fig.add_gridspec(3, 2, **self.GRID)[i // 2, i % 2]))
        self.back = back
        front = self.figure.subplots(3, 2, gridspec_kw=self.GRID).flat
        self.front = list(front)
        for ax in self.front:
            ax.set_axis_off()
        self.lines: list[tuple] = []  # (line, column, scale)
        self.ranges: list[tuple] = []  # (back axes, front axes, bottom, lowest top, columns)
        self.layers: list[np.ndarray | None] = [None] * 6  # each panel's frame, RGBA
        fulfil, shares, capacity, yields, cuts, prices = range(6)
        titles = ["Advanced-tier fulfilment: delivered / wanted (%)", "Foundry revenue shares (%)",
                  "SMIC advanced capacity (wafers / quarter)", "SMIC advanced yield (good dies / dies)",
                  "Relations cut by export controls (items)", "Wafer price index (1 = 2020 list)"]
        for ax, title in zip(back, titles):
            _style(ax, model, title)
        for ax in self.front:
            ax.set_xlim(quarter_year(model.first_quarter), quarter_year(model.last_quarter) + 0.25)

        self._line(back[fulfil], self.front[fulfil], "huawei_fulfilment", 100.0,
                   color="#c8102e", lw=2, label="Huawei")
        self._line(back[fulfil], self.front[fulfil], "other_china_fulfilment", 100.0,
                   color="#f4a261", lw=2, label="other Chinese firms")
        _legend(back[fulfil], ncol=2)
        self.ranges.append((back[fulfil], self.front[fulfil], -2.0, 125.0,
                            [("huawei_fulfilment", 100.0), ("other_china_fulfilment", 100.0)]))

        # The advanced tiers SMIC runs in this world (the default's: 7nm-class alone,
        # N+1/N+2/N+3), each in its own colour.
        smic = model.foundries[model.foundry_index["SMIC"]] if "SMIC" in model.foundry_index else None
        tiers = [(t, c) for t, c in zip(ADVANCED_TIERS, ADVANCED_COLOURS) if smic is None or smic.has_tier[t.index]]
        tiers = tiers or list(zip(ADVANCED_TIERS, ADVANCED_COLOURS))  # none run: show them all (at zero)
        for tier, colour in tiers:
            self._line(back[capacity], self.front[capacity], f"smic_capacity_{tier.key}", 1.0,
                       color=colour, lw=2, label=tier.value)
            self._line(back[yields], self.front[yields], f"smic_yield_{tier.key}", 1.0,
                       color=colour, lw=2, label=tier.value)
        _legend(back[capacity], ncol=2)
        _legend(back[yields], ncol=2)
        self.ranges.append((back[capacity], self.front[capacity], 0.0, 1000.0,
                            [(f"smic_capacity_{t.key}", 1.0) for t, _ in tiers]))
        for ax in (back[yields], self.front[yields]):
            ax.set_ylim(0, 1.2)
        back[yields].set_yticks([0, 0.25, 0.5, 0.75, 1.0])

        self.shares_ax = self.front[shares]
        self.share_columns = [f"share_{slug(f.name)}" for f in model.foundries]
        self.share_colours = [FOUNDRY_COLOURS.get(f.name, "#999999") for f in model.foundries]
        for ax in (back[shares], self.front[shares]):
            ax.set_ylim(0, 100)
        handles = [Patch(color=c, label=f.name) for c, f in zip(self.share_colours, model.foundries)]
        back[shares].legend(handles=handles[::-1], loc="center left", bbox_to_anchor=(1.0, 0.5),
                            fontsize=6.5, frameon=False)
        self.stack: list = []

        for tier, colour in zip(TIERS, TIER_COLOURS):
            self._line(back[prices], self.front[prices], f"price_index_{tier.key}", 1.0,
                       color=colour, lw=1.8, label=tier.value)
        _legend(back[prices], ncol=3)
        self.ranges.append((back[prices], self.front[prices], 0.0, 1.5,
                            [(f"price_index_{t.key}", 1.0) for t in TIERS]))

        self._line(back[cuts], self.front[cuts], "cut_edges", 1.0, color="#d62728", lw=2,
                   drawstyle="steps-post")
        self.ranges.append((back[cuts], self.front[cuts], 0.0, 10.0, [("cut_edges", 1.0)]))

        self.hint = self.figure.text(0.5, 0.5, "press Step to run a quarter", ha="center",
                                     va="center", fontsize=14, color="#888888")
        self.band = None  # an `experiments.app.band.Band`, or None: no band
        self.band_artists: list = []
        self.band_caption = self.figure.text(0.99, 0.995, "", ha="right", va="top", fontsize=7.5,
                                             color="#444444")
        self.pasted = None
        self.background_renders = 0  # panel frames rendered, for the curious

    def set_band(self, band) -> None:
        """Draw `band` (an `experiments.app.band.Band`; None: none) behind the lines from
        the next `update` on."""
        self.band = band

    def _line(self, back, front, column: str, scale: float, **style) -> None:
        back.plot([], [], **style)  # for the legend
        (line,) = front.plot([], [], **{k: v for k, v in style.items() if k != "label"})
        self.lines.append((line, column, scale))

    def update(self, frame: pd.DataFrame | None = None) -> Figure:
        """Show `frame` (default: the model's frame so far); return the figure to save
        (at its own dpi, the default, so that the layers align)."""
        frame = series_frame(self.model) if frame is None else frame
        years = frame["year"].to_numpy(dtype=float)
        for line, column, scale in self.lines:
            line.set_data(years, scale * frame[column].to_numpy(dtype=float))
        for artist in self.stack:
            artist.remove()
        self.stack = []
        if len(frame):
            values = frame[self.share_columns].fillna(0.0).to_numpy(dtype=float).T
            self.stack = list(self.shares_ax.stackplot(years, values, colors=self.share_colours,
                                                       alpha=0.9))
        for artist in self.band_artists:
            artist.remove()
        self.band_artists, band_peaks = [], {}
        for line, column, scale in self.lines:
            made, band_peaks[column] = _fill_band(line.axes, self.band, column, scale, line.get_color())
            self.band_artists += made
        self.band_caption.set_text(self.band.caption if self.band is not None else "")
        changed = [i for i, layer in enumerate(self.layers) if layer is None]
        for back, front, bottom, lowest_top, columns in self.ranges:
            top = max(back.get_ylim()[1], lowest_top)
            peak = max((np.nanmax(scale * frame[c].to_numpy(dtype=float), initial=-np.inf)
                        for c, scale in columns), default=-np.inf) if len(frame) else -np.inf
            peak = max([peak, *(band_peaks.get(c, -np.inf) for c, _ in columns)])
            if np.isfinite(peak) and peak * HEADROOM > top:
                top = nice_ceiling(peak * HEADROOM)
            if top != back.get_ylim()[1]:
                back.set_ylim(bottom, top)
                front.set_ylim(bottom, top)
                changed.append(self.back.index(back))
        self.hint.set_visible(not len(frame))
        if changed:
            self._render_frames(sorted(set(changed)))
        return self.figure

    def _render_frames(self, panels: list[int]) -> None:
        """Render the frames of `panels` again and paste all six under the data."""
        from matplotlib.backends.backend_agg import FigureCanvasAgg

        for i in panels:
            canvas = FigureCanvasAgg(self.backgrounds[i])
            canvas.draw()
            self.layers[i] = np.asarray(canvas.buffer_rgba()).copy()
            self.background_renders += 1
        pixels = np.full(self.layers[0].shape[:2] + (3,), 255.0)
        for layer in self.layers:  # the panels do not overlap: "over" in any order
            alpha = layer[..., 3:4] / 255.0
            pixels = pixels * (1.0 - alpha) + layer[..., :3] * alpha
        if self.pasted is not None:
            self.pasted.remove()
        self.pasted = self.figure.figimage(np.round(pixels).astype(np.uint8), xo=0, yo=0,
                                           origin="upper", zorder=-1)


def nice_ceiling(value: float) -> float:
    """The smallest of 1, 1.25, 1.5, 2, 2.5, 3, 4, 5, 6, 8 (x 10^k) at or above `value`:
    round numbers a few steps apart, so that a growing series moves its axis (and costs
    a render of that panel's frame) only a few times a run."""
    if value <= 0:
        return 1.0
    exponent = np.floor(np.log10(value))
    for step in (1.0, 1.25, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0):
        if step * 10**exponent >= value * (1 - 1e-12):
            return float(step * 10**exponent)
    return float(10 ** (exponent + 1))


# ------------------------------------------------------------- the accelerators
BINDING_COLOURS = {"dies": "#9fd8cf", "hbm": "#d9b8ae", "packaging": "#e4e48f", "demand": "#c9d3e0"}
"""Background of a quarter by the input that bound the champion's accelerators: the
colours of the trade graph's wafers, HBM and packaging relations, paler; demand a blue-grey
that no grey of the frame (grid, text) matches."""
BINDING_LABELS = {"dies": "logic dies", "hbm": "HBM stacks", "packaging": "packaging slots",
                  "demand": "demand (no input short)"}
BINDING_ALPHA = 0.6
EVENT_COLOURS = {"rule": "#555555", "directive": "#c8102e", "lifted": "#999999"}
"""As the run figures' (experiments.analysis.figures): grey for a rule, red for the
state's directive, pale grey for a rule's end."""
ADJECTIVES = {"CN": "Chinese", "US": "US", "TW": "Taiwanese", "KR": "Korean", "JP": "Japanese",
              "NL": "Dutch"}
ACCELERATOR_WIDTH_IN = 7.6
ACCELERATOR_AXES_IN = 1.9  # the plot's height; the figure adds the title, axis and key
KEY_LINE_IN = 0.15


def chain_events(model) -> list[tuple[str, str, str]]:
    """(quarter, short text, kind) of what acts on the accelerator chain of the
    champion's country, in date order (`experiments.analysis.figures.run_events`): the
    rules on wafers, HBM and packaging that name one of its designers or their country
    (their start, and their end as 'lifted'), and the state's directives. Kind: 'rule',
    'directive' or 'lifted'."""
    champion = model.world.tracked.champion
    designers = [d for d in model.designers if d.name == champion]
    country = designers[0].country if designers else model.firms[model.firm_index[champion]].country
    reached = {d.name for d in model.designers if d.country == country} | {champion, f"country:{country}"}
    return run_events(model, keep=lambda rule: rule.kind in ("wafers", "hbm", "packaging")
                      and bool(reached & set(rule.targets)), subsidies=False)


def binding_spans(years: np.ndarray, binding) -> list[tuple[float, float, str]]:
    """Runs of quarters with the same binding input: (start year, end year, input),
    a quarter lasting 0.25 years; quarters with no input named ('') are left out."""
    spans: list[tuple[float, float, str]] = []
    for year, name in zip(years, binding):
        name = "" if not isinstance(name, str) else name
        if spans and spans[-1][2] == name and abs(spans[-1][1] - year) < 1e-9:
            spans[-1] = (spans[-1][0], year + 0.25, name)
        else:
            spans.append((year, year + 0.25, name))
    return [span for span in spans if span[2]]


class EventPanel:
    """One plot over the model's quarters, kept for the model's life, with the quarters
    in which measures take effect marked: numbered dashed lines, keyed under the plot
    (`events`: (quarter, text, kind), kind 'rule', 'directive' or 'lifted').

    Text is most of matplotlib's rendering time: the frame (title, ticks, axis labels,
    legends, the events' numbers and key) is drawn on a background figure, rendered to
    pixels only when the y range grows (to round numbers, `nice_ceiling`) and pasted
    under a foreground figure that holds the data. A subclass puts its legends on
    `back` and its data on `front`, and in `update` calls `_fit` with the data's peak.
    """

    LEFT_IN = 0.646  # the y axis' ticks and label
    RIGHT_IN = 2.09  # the legends, right of the plot

    def __init__(self, model, title: str, ylabel: str, events, width_in: float = ACCELERATOR_WIDTH_IN,
                 initial_top: float = 10.0) -> None:
        from matplotlib.collections import LineCollection
        from matplotlib.transforms import blended_transform_factory

        self.model = model
        first, last = quarter_year(model.first_quarter), quarter_year(model.last_quarter) + 0.25
        self.groups = grouped_events(events, first, last)
        key = [f"{k + 1}  {quarter}: " + "; ".join(text for text, _ in items)
               for k, (_, quarter, items) in enumerate(self.groups)]
        columns = int(118 * width_in / ACCELERATOR_WIDTH_IN)  # characters a key line holds
        wrapped = [w for line in key for w in textwrap.wrap(line, columns, subsequent_indent="      ")]

        # Inches from the top: title, plot, x axis, key.
        top_in, below_in = 0.52, 0.5
        height = top_in + ACCELERATOR_AXES_IN + below_in + KEY_LINE_IN * len(wrapped) + 0.08
        size = (width_in, height)
        rect = (self.LEFT_IN / width_in, 1 - (top_in + ACCELERATOR_AXES_IN) / height,
                (width_in - self.LEFT_IN - self.RIGHT_IN) / width_in, ACCELERATOR_AXES_IN / height)
        self.figure = Figure(figsize=size, dpi=PANELS_DPI)
        self.background = Figure(figsize=size, dpi=PANELS_DPI)
        self.background.patch.set_alpha(0.0)
        back = self.background.add_axes(rect)
        front = self.figure.add_axes(rect)
        front.set_axis_off()
        self.back, self.front = back, front
        for ax in (back, front):
            ax.set_xlim(first, last)
            ax.set_ylim(0.0, initial_top)

        _style(back, model, "")
        self.background.text(0.012, 1 - 0.07 / height, title, fontsize=9, va="top")
        back.set_xlabel("year (quarters)", fontsize=8, labelpad=2)
        back.set_ylabel(ylabel, fontsize=8, labelpad=3)
        on_axes = blended_transform_factory(back.transData, back.transAxes)
        for k, (x, _, items) in enumerate(self.groups):
            colour = self._event_colour(items)
            back.text(x, 1.0 + 0.025 + 0.07 * (k % 2), str(k + 1), transform=on_axes, fontsize=6.5,
                      ha="center", va="bottom", color=colour, clip_on=False,
                      bbox=dict(boxstyle="round,pad=0.12", fc="white", ec=colour, lw=0.5))
        if wrapped:
            key_top = 1 - (top_in + ACCELERATOR_AXES_IN + below_in) / height
            self.background.text(0.012, key_top + 0.012, "Dashed lines: the quarter a measure takes effect "
                                 "(red: state directive, grey: export rule, pale: its end)",
                                 fontsize=6.8, color="#222222", va="bottom")
            for i, text in enumerate(wrapped):
                self.background.text(0.012, key_top - i * KEY_LINE_IN / height, text, fontsize=6.8,
                                     color="#444444", va="top")

        self.on_front = blended_transform_factory(front.transData, front.transAxes)
        if self.groups:
            front.add_collection(LineCollection(
                [[(x, 0.0), (x, 1.0)] for x, _, _ in self.groups], transform=self.on_front,
                colors=[self._event_colour(items) for _, _, items in self.groups],
                linestyles=(0, (4, 3)), linewidths=0.9, alpha=0.8, zorder=1))
        self.hint = front.text(0.5, 0.5, "press Step to run a quarter", transform=front.transAxes,
                               ha="center", va="center", fontsize=12, color="#888888")
        self.caption = ""
        self.pasted = None
        self._rendered_top: float | None = None  # the y range the pasted frame shows
        self.background_renders = 0

    @staticmethod
    def _event_colour(items) -> str:
        """A quarter's colour: the directive's if it has one, else a rule's, else an end's."""
        kinds = {kind for _, kind in items}
        return EVENT_COLOURS[next((k for k in ("directive", "rule") if k in kinds), "lifted")]

    def _fit(self, peak: float) -> None:
        """Grow the y range to a round number above `peak` x 1.1 (never shrink it) and
        render the frame again if its range changed."""
        top = self.back.get_ylim()[1]
        if np.isfinite(peak) and peak * 1.1 > top:
            top = nice_ceiling(peak * 1.1)
            self.back.set_ylim(0.0, top)
            self.front.set_ylim(0.0, top)
        if top != self._rendered_top:
            self._render_background()

    def _render_background(self) -> None:
        from matplotlib.backends.backend_agg import FigureCanvasAgg

        canvas = FigureCanvasAgg(self.background)
        canvas.draw()
        layer = np.asarray(canvas.buffer_rgba())
        alpha = layer[..., 3:4] / 255.0
        pixels = 255.0 * (1.0 - alpha) + layer[..., :3] * alpha
        if self.pasted is not None:
            self.pasted.remove()
        self.pasted = self.figure.figimage(np.round(pixels).astype(np.uint8), xo=0, yo=0,
                                           origin="upper", zorder=-1)
        self._rendered_top = self.back.get_ylim()[1]
        self.background_renders += 1


class AcceleratorPanel(EventPanel):
    """The champion's (Huawei's) accelerators per quarter, in thousands of packaged
    units, over a background coloured by the input that bound them (logic dies, HBM
    stacks, packaging, or its demand), with the same for the other designers of its
    country as a thinner line. The quarters in which rules on wafers, HBM and packaging
    that reach those designers, and the state's directives, take effect are marked
    (`chain_events`). Lines are updated in place, the spans remade per update."""

    def __init__(self, model) -> None:
        from matplotlib.collections import PolyCollection

        champion = model.world.tracked.champion
        possessive = f"{champion}'" if champion.endswith("s") else f"{champion}'s"
        super().__init__(model, f"{possessive} accelerators made per quarter; shading: the input that bound them",
                         "accelerators / quarter (thousands)", chain_events(model))
        self.champion = champion
        self.units_column = f"{slug(champion)}_accelerators"
        self.binding_column = f"{slug(champion)}_binding_input"
        champion_designer = [d for d in model.designers if d.name == champion]
        country = champion_designer[0].country if champion_designer else None
        self.other_columns = [f"accelerators_{slug(d.name)}" for d in model.designers
                              if d.country == country and d.name != champion]

        back, front = self.back, self.front
        line_handles = [
            back.plot([], [], color="#c8102e", lw=2.2, label=f"{champion} (packaged units)")[0],
        ]
        if self.other_columns:
            line_handles.append(back.plot([], [], color="#f4a261", lw=1.4, ls=(0, (4, 1.5)),
                                          label=f"other {ADJECTIVES.get(country, country)} designers")[0])
        span_handles = [Patch(facecolor=BINDING_COLOURS[b], alpha=BINDING_ALPHA, label=BINDING_LABELS[b])
                        for b in BINDING_COLOURS]
        back.legend(handles=line_handles, loc="upper left", bbox_to_anchor=(1.02, 1.02), fontsize=7,
                    frameon=False, title="accelerators", title_fontsize=7.5, alignment="left")
        back.add_artist(back.get_legend())
        back.legend(handles=span_handles, loc="lower left", bbox_to_anchor=(1.02, -0.02), fontsize=7,
                    frameon=False, title="binding input", title_fontsize=7.5, alignment="left")

        # The data: spans (remade per update) under the event lines, lines (updated in place).
        self.spans = PolyCollection([], transform=self.on_front, alpha=BINDING_ALPHA, linewidths=0, zorder=0)
        front.add_collection(self.spans)
        (self.units_line,) = front.plot([], [], color="#c8102e", lw=2.2, zorder=4)
        (self.others_line,) = front.plot([], [], color="#f4a261", lw=1.4, ls=(0, (4, 1.5)), zorder=3)
        self.band = None  # an `experiments.app.band.Band`, or None: no band
        self.band_artists: list = []
        self.band_caption = front.text(0.995, 0.98, "", transform=front.transAxes, ha="right", va="top",
                                       fontsize=7.5, color="#444444", zorder=5)

    def set_band(self, band) -> None:
        """Draw `band` (an `experiments.app.band.Band`; None: none) behind the champion's
        line from the next `update` on."""
        self.band = band

    def update(self, frame: pd.DataFrame | None = None) -> Figure:
        """Show `frame` (default: the model's frame so far); return the figure to save
        (at its own dpi, the default, so that the layers align). Sets `caption`: the
        latest quarter's units and binding input, in words."""
        frame = series_frame(self.model) if frame is None else frame
        years = frame["year"].to_numpy(dtype=float)
        units = frame[self.units_column].to_numpy(dtype=float) / 1e3
        others = (frame[self.other_columns].to_numpy(dtype=float).sum(axis=1) / 1e3
                  if self.other_columns else np.zeros(0))
        self.units_line.set_data(years, units)
        self.others_line.set_data(years if self.other_columns else [], others)
        spans = binding_spans(years, frame[self.binding_column].tolist())
        self.spans.set_verts([[(a, 0.0), (a, 1.0), (b, 1.0), (b, 0.0)] for a, b, _ in spans])
        self.spans.set_facecolor([BINDING_COLOURS.get(name, "#ffffff") for _, _, name in spans])
        self.hint.set_visible(not len(frame))
        for artist in self.band_artists:
            artist.remove()
        self.band_artists, band_peak = _fill_band(self.front, self.band, self.units_column, 1e-3, "#c8102e")
        self.band_caption.set_text(self.band.caption if self.band is not None else "")
        self._fit(max(np.nanmax(units, initial=-np.inf), np.nanmax(others, initial=-np.inf), band_peak))
        self.caption = self._caption(frame)
        return self.figure

    def _caption(self, frame: pd.DataFrame) -> str:
        if not len(frame):
            return f"{self.champion}'s accelerators: none made yet (press Step)."
        last = frame.iloc[-1]
        binding = last[self.binding_column]
        bound = (f"binding input: {BINDING_LABELS.get(binding, binding)}" if binding
                 else "no binding input recorded")
        return (f"{self.champion}, {last['quarter']}: {float(last[self.units_column]) / 1e3:,.1f} thousand "
                f"accelerators made; {bound}.")


# ------------------------------------------------------ China's AI-chip market
CHINA = "CN"
UNMET_HATCH = "///"
UNMET_COLOUR = "#777777"
"""The hatching of the compute Chinese buyers wanted and did not get, as the run
figure's (`experiments.analysis.figures`, whose designer colours and names the panel
takes too)."""
MARKET_RULE_KINDS = ("accelerators", "purchases")


def rationing_text(parameters) -> str:
    """The rationing levers in words ('' when they ration nothing)."""
    if not parameters.ration_buyers or parameters.ration_share <= 0:
        return ""
    return (f"Chinese designers' accelerators go to {', '.join(parameters.ration_buyers)} first "
            f"(up to {parameters.ration_share:.0%} of each one's)")


def market_events(model) -> list[tuple[str, str, str]]:
    """(quarter, short text, kind) of what acts on China's accelerator market, in date
    order (`experiments.analysis.figures.run_events`): the chip rules and purchase
    measures that reach Chinese buyers (their start, and their end as 'lifted'), and
    the state's directives, under which it rations (`rationing_text`, added to the
    directive's words). Kind: 'rule', 'directive' or 'lifted'."""
    reached = {f"country:{CHINA}"} | {b.name for b in model.buyers if b.country == CHINA}
    rations = rationing_text(model.parameters)
    events = run_events(model, keep=lambda rule: rule.kind in MARKET_RULE_KINDS and bool(reached & set(rule.targets)),
                        subsidies=False)
    return [(quarter, f"{text}; {rations}" if kind == "directive" and rations else text, kind)
            for quarter, text, kind in events]


def _share(part: float, whole: float) -> str:
    return f"{100.0 * part / whole:.0f}%" if whole > 0 else "n/a"


class ChinaComputePanel(EventPanel):
    """Who supplies China's AI compute: per quarter, the H100-equivalents delivered to
    Chinese buyers, stacked by designer (`<designer>_china_h100e`; Chinese designers at
    the bottom, in the run figure's colours and names), in thousands, with what those
    buyers wanted and did not receive
    (`china_unmet_compute_h100e`) hatched on top, so that the top of the hatching is
    what they wanted. The quarters in which chip rules, purchase measures and the
    state's directives take effect are marked (`market_events`). The caption says the
    latest quarter in words: compute received, the domestic share, what went unmet, and
    whether the state rationed (with the rationed buyers' fill rate beside the other
    Chinese buyers')."""

    def __init__(self, model, width_in: float = ACCELERATOR_WIDTH_IN) -> None:
        super().__init__(model, "Who supplies China's AI compute: H100-equivalents (H100e) delivered to Chinese "
                         "buyers, by designer; hatched: wanted, not received",
                         "H100e / quarter (thousands)", market_events(model), width_in, initial_top=50.0)
        chinese = [d for d in model.designers if d.country == CHINA]
        foreign = [d for d in model.designers if d.country != CHINA]
        self.columns = [f"{slug(d.name)}_china_h100e" for d in chinese + foreign]  # stacked from the bottom
        self.designers = [designer_name(slug(d.name)) for d in chinese + foreign]
        reds, blues = cycle(CHINESE_COLOURS), cycle(FOREIGN_COLOURS)
        self.colours = [next(reds) for _ in chinese] + [next(blues) for _ in foreign]
        self.chinese = set(self.designers[:len(chinese)])
        handles = [Patch(facecolor=c, label=name) for name, c in zip(self.designers, self.colours)][::-1]
        handles.append(Patch(facecolor="white", edgecolor=UNMET_COLOUR, hatch=UNMET_HATCH,
                             label="wanted, not received"))
        self.back.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.02, 1.02), fontsize=7,
                         frameon=False, title="delivered by (top to bottom)", title_fontsize=7.5,
                         alignment="left")
        self.stack: list = []  # the stacked areas and the hatching, remade per update

    def update(self, frame: pd.DataFrame | None = None) -> Figure:
        """Show `frame` (default: the model's frame so far); return the figure to save
        (at its own dpi, the default, so that the layers align). Sets `caption`."""
        frame = series_frame(self.model) if frame is None else frame
        years = frame["year"].to_numpy(dtype=float)
        delivered = frame[self.columns].fillna(0.0).to_numpy(dtype=float).T / 1e3  # (designer, quarter)
        unmet = frame["china_unmet_compute_h100e"].fillna(0.0).to_numpy(dtype=float) / 1e3
        for artist in self.stack:
            artist.remove()
        self.stack = []
        total = delivered.sum(axis=0)
        if len(frame):
            self.stack = list(self.front.stackplot(years, delivered, colors=self.colours, alpha=0.9,
                                                   linewidth=0, zorder=2))
            self.stack.append(self.front.fill_between(years, total, total + unmet, facecolor="none",
                                                      edgecolor=UNMET_COLOUR, hatch=UNMET_HATCH,
                                                      linewidth=0, zorder=2))
            self.stack.extend(self.front.plot(years, total + unmet, color=UNMET_COLOUR, lw=0.8, zorder=3))
        self.hint.set_visible(not len(frame))
        self._fit(np.nanmax(total + unmet, initial=-np.inf))
        self.caption = self._caption(frame)
        return self.figure

    def _caption(self, frame: pd.DataFrame) -> str:
        if not len(frame):
            return "China's AI compute: nothing delivered yet (press Step)."
        last = frame.iloc[-1]
        got = {name: float(last[column]) for name, column in zip(self.designers, self.columns)}
        total = sum(got.values())
        top = sorted(((v, n) for n, v in got.items() if v > 0), reverse=True)[:3]
        by = ", ".join(f"{n} {v / 1e3:,.1f}k" for v, n in top)
        text = (f"{last['quarter']}: Chinese buyers received {total / 1e3:,.1f} thousand H100-equivalents"
                f"{f' ({by})' if by else ''}, {_share(sum(got[n] for n in self.chinese), total)} from "
                f"Chinese designers; {float(last['china_unmet_compute_h100e']) / 1e3:,.1f} thousand they "
                "wanted went unmet. ")
        return text + self._rationing_caption(last["quarter"])

    def _rationing_caption(self, quarter: str) -> str:
        """Whether the state rationed in `quarter`, and the rationed buyers' orders filled
        beside the other Chinese buyers' (read from the buyers, so only when the model's
        quarter is the frame's)."""
        model, p = self.model, self.model.parameters
        if model.rationing is not None:
            head = (f"State rationing in force: {', '.join(model.rationing.buyers)} served first with up to "
                    f"{model.rationing.share:.0%} of each Chinese designer's accelerators")
        elif not p.ration_buyers or p.ration_share <= 0:
            head = "No state rationing (the levers ration nothing)"
        else:
            head = "No state rationing this quarter (no directive in force)"
        buyers = [b for b in model.buyers if b.country == CHINA]
        if model.quarter != quarter or not buyers or not p.ration_buyers:
            return head + "."
        listed = [b for b in buyers if b.name in p.ration_buyers]
        others = [b for b in buyers if b.name not in p.ration_buyers]

        def filled(group) -> str:
            return _share(sum(b.received_h100e for b in group), sum(b.ordered_h100e for b in group))

        return (f"{head}. Orders filled: {', '.join(b.name for b in listed)} {filled(listed)}, "
                f"the other Chinese buyers {filled(others)}.")


LEDGER_SHOWN = ["quarter", "action", "rule", "supplier", "buyer", "item"]


def latest_ledger(model, rows: int = 12) -> pd.DataFrame:
    """The newest `rows` ledger rows, newest first."""
    frame = model.ledger_frame()
    return frame[LEDGER_SHOWN].iloc[::-1].head(rows).reset_index(drop=True)
