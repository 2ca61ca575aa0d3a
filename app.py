"""chipstate's policy lab: the browser app.

Run with ``chipstate viz`` (``solara run app.py --host 127.0.0.1 --port 8765
--production``) and open the address it prints; without ``--production`` (development
mode) solara re-executes the app, resetting every session, whenever a file is saved. Each browser session gets its own model, built from the
controls in the sidebar; Reset rebuilds it from them, Step runs one quarter.

The page shows the trade graph (vendors -> foundries, HBM makers and packaging houses
-> the leak route's shell company -> firms -> buyers of AI compute; cut relations red
and dashed, the state allocator's re-wiring purple), under it who supplies China's AI
compute (H100-equivalents delivered to Chinese buyers by designer, and what they wanted
and did not get), the run's key series, Huawei's accelerators per quarter with the
input that bound them, and the newest rows of the ledger of cuts, re-wirings and
rationing. An "uncertainty" box (off by default) adds the 5-95% band of the same setting
over a few posterior draws behind the series and the accelerators (`experiments.app.band`;
the posterior is model/data/posterior.csv, or `chipstate viz --posterior FILE`). Drawing
lives in `experiments.app` (`graph`: the trade graph; `panels`: the series, the
accelerators, China's compute and the ledger; `band`: the band's runs).
"""

from __future__ import annotations

import html

import solara
from mesa.visualization import SolaraViz
from mesa.visualization.utils import update_counter

from experiments.app.band import BAND_DRAWS, ensemble_band
from experiments.app.graph import GRAPH_DPI, GRAPH_SIZE_IN, TradeGraphPainter
from experiments.app.panels import PANELS_DPI, AcceleratorPanel, ChinaComputePanel, SeriesPanels, latest_ledger
from model import ChipMarketModel
from model.scenario import DEFAULT_SCENARIO, list_scenarios

NO_CHAMPIONS = "(none: no priority)"
CHAMPION_LISTS = [
    "Huawei",
    "Huawei, Cambricon",
    "Huawei, Cambricon, Alibaba T-Head",
    "Huawei, Cambricon, Alibaba T-Head, Baidu Kunlun",
    "Cambricon, Alibaba T-Head, Baidu Kunlun",
    NO_CHAMPIONS,
]
"""Priority lists for the state allocator, in priority order (firms of the default
world); the model takes a comma-separated string."""

NO_RATIONING = "(none: no rationing)"
RATION_LISTS = [
    "Other Chinese buyers",
    "Other Chinese buyers, ByteDance, Tencent, Alibaba, Baidu",
    "ByteDance, Tencent, Alibaba, Baidu",
    NO_RATIONING,
]
"""Whom the state serves first with Chinese designers' accelerators while its directive
is in force, in priority order (buyers of the default world; the first is the model's
default: state-linked buyers, telecom operators and AI labs before the platforms); the
model takes a comma-separated string."""

LEARNING_ONLY = "learning only"
LITHO_WHAT_IFS = {
    LEARNING_ONLY: {},
    "28nm by 2026": {"domestic_litho_28nm_year": 2026.0},
    "28nm by 2025, 7nm by 2028": {"domestic_litho_28nm_year": 2025.0, "domestic_litho_7nm_year": 2028.0},
    "28nm by 2024, 7nm by 2026": {"domestic_litho_28nm_year": 2024.0, "domestic_litho_7nm_year": 2026.0},
}
"""Domestic lithography progress: Chinese immersion lithography reaches a tier by a year
whatever its learning says (the uncertainties `domestic_litho_*_year`)."""


class PolicyLab(ChipMarketModel):
    """ChipMarketModel built from the app's controls.

    The controls are shown as the levers read, but two of them must not override a
    scenario that sets them: a checkbox left off means "as the scenario says" (the
    escalation scenario turns both on), on means on. The champion list, the rationed
    buyers and the lithography what-if are translated to the model's parameters.
    """

    def __init__(
        self,
        *,
        policy_scenario: str = DEFAULT_SCENARIO,
        rng: int | None = None,
        champions: str = CHAMPION_LISTS[0],
        ration_buyers: str = RATION_LISTS[0],
        allies_aligned: bool = False,
        duv_servicing_ban: bool = False,
        domestic_litho: str = LEARNING_ONLY,
        **kwargs,
    ) -> None:
        # `policy_scenario`, not `scenario`: from Mesa 3.5 the app passes a Mesa Scenario
        # of its own as `scenario` on Reset; the lab's scenario is the control's.
        overrides = {name: value for name, value in kwargs.items() if name != "scenario"}
        overrides["champions"] = "" if champions == NO_CHAMPIONS else champions
        overrides["ration_buyers"] = "" if ration_buyers == NO_RATIONING else ration_buyers
        if allies_aligned:
            overrides["allies_aligned"] = True
        if duv_servicing_ban:
            overrides["duv_servicing_ban"] = True
        overrides.update(LITHO_WHAT_IFS[domestic_litho])
        super().__init__(scenario=policy_scenario, rng=rng, **overrides)
        # What the uncertainty band re-runs over posterior draws (`experiments.app.band`).
        self.lab_scenario, self.lab_overrides = policy_scenario, overrides


MODEL_PARAMS = {
    "policy_scenario": {"type": "Select", "value": DEFAULT_SCENARIO, "values": list_scenarios(),
                 "label": "Scenario"},
    # Mesa passes the value as `rng`; a slider, since a text seed would be a string.
    "rng": {"type": "SliderInt", "value": 42, "min": 0, "max": 999, "step": 1, "label": "Seed"},
    "reserved_share": {"type": "SliderFloat", "value": 0.8, "min": 0.0, "max": 1.0, "step": 0.05,
                       # of SMIC's advanced capacity, for the champions below; a short label:
                       # a long one squeezes the slider's track to nothing
                       "label": "Reserved share of SMIC"},
    "champions": {"type": "Select", "value": CHAMPION_LISTS[0], "values": CHAMPION_LISTS,
                  "label": "Champions (priority order)"},
    # The state's rationing (while its directive is in force): this share of each Chinese
    # designer's accelerators goes to the rationed buyers first; 0 leaves them to the market.
    "ration_share": {"type": "SliderFloat", "value": 0.5, "min": 0.0, "max": 1.0, "step": 0.05,
                     "label": "Rationed share (0: off)"},
    "ration_buyers": {"type": "Select", "value": RATION_LISTS[0], "values": RATION_LISTS,
                      "label": "Rationed buyers, served first (priority order)"},
    "allies_aligned": {"type": "Checkbox", "value": False,
                       "label": "Allies aligned: NL and JP apply US tool rules (off: as the scenario)"},
    "duv_servicing_ban": {"type": "Checkbox", "value": False,
                          "label": "DUV servicing ban from 2026Q1 (off: as the scenario)"},
    "domestic_litho": {"type": "Select", "value": LEARNING_ONLY, "values": list(LITHO_WHAT_IFS),
                       "label": "Domestic lithography progress"},
}


def initial_parameters() -> dict:
    """The keyword arguments the controls start at (what Reset would pass untouched)."""
    return {name: spec["value"] for name, spec in MODEL_PARAMS.items()}


# ------------------------------------------------------------------- components
# Each reads `update_counter` (Mesa bumps it after every Step) and draws on its own
# matplotlib Figure (never pyplot: its state would be shared by every session).


@solara.component
def TradeGraph(model):
    """The trade graph after the last step; its layout is fixed per model."""
    update_counter.get()
    painter = solara.use_memo(lambda: TradeGraphPainter(model), [model])
    figure = painter.draw()  # a new Figure each step
    with solara.Div(classes=["chipstate-trade-graph"]) as main:
        solara.FigureMatplotlib(figure, format="png", dpi=GRAPH_DPI)
    return main


@solara.component
def SeriesPlots(model, band=None):
    """Fulfilment, SMIC capacity and yield, revenue shares, prices, cut relations; with
    `band` (`experiments.app.band.Band`) its 5-95% ranges behind the lines."""
    counter = update_counter.get()
    panels = solara.use_memo(lambda: SeriesPanels(model), [model])
    panels.set_band(band)
    figure = panels.update()
    with solara.Div(classes=["chipstate-series"]) as main:
        # The figure object is kept and updated in place: name what makes it new.
        solara.FigureMatplotlib(figure, dependencies=[model, counter, model.steps, id(band)],
                                format="png", dpi=PANELS_DPI)
    return main


@solara.component
def EventPanelPlot(model, make_panel, css_class: str, band=None):
    """A panel of series with a line of words on the latest quarter (its caption):
    Huawei's accelerators over the input that bound them (`AcceleratorPanel`, with
    `band`'s 5-95% range behind them), or who supplies China's AI compute and how the
    state rationed it (`ChinaComputePanel`). `make_panel(model)` builds the panel once
    per model."""
    counter = update_counter.get()
    panel = solara.use_memo(lambda: make_panel(model), [model])
    if hasattr(panel, "set_band"):
        panel.set_band(band)
    figure = panel.update()
    with solara.Div(classes=[css_class]) as main:
        solara.HTML(tag="div", unsafe_innerHTML=html.escape(panel.caption), classes=[f"{css_class}-caption"],
                    style="font-size: 13px; color: #333; padding-left: 8px;")
        # The figure object is kept and updated in place: name what makes it new.
        solara.FigureMatplotlib(figure, dependencies=[model, counter, model.steps, id(band)],
                                format="png", dpi=PANELS_DPI)
    return main


def _china_compute_panel(model):
    return ChinaComputePanel(model, width_in=GRAPH_SIZE_IN[0])


@solara.component
def LedgerTable(model):
    """The newest ledger rows: what was cut, restored or re-wired, and by which rule."""
    update_counter.get()
    frame = latest_ledger(model, rows=12)
    scenario = model.scenario_spec
    with solara.Div(classes=["chipstate-ledger"], style={"padding": "0 8px"}) as main:
        # Plain HTML, not solara.Markdown: Markdown pulls KaTeX from a CDN path that
        # solara-assets does not hold (a 404 in the console).
        solara.HTML(tag="div", unsafe_innerHTML=(
            f"<b>{html.escape(scenario.name)}</b>: {html.escape(scenario.description)}<br>"
            f"Ledger of cuts, re-wirings and rationing: {len(model.ledger)} rows so far, the newest first."
        ), style="font-size: 13px; margin-bottom: 4px;")
        if frame.empty:
            solara.Text("Nothing cut or re-wired yet.")
        else:
            solara.HTML(tag="div", unsafe_innerHTML=_table_html(frame),
                        style="font-size: 12px; overflow-x: auto;")
    return main


def _table_html(frame) -> str:
    head = "".join(f"<th style='text-align:left;padding:2px 10px'>{html.escape(c)}</th>"
                   for c in frame.columns)
    colour = {"cut": "#d62728", "rewire": "#9b30ff", "restore": "#2a9d8f", "ration": "#9b30ff"}
    rows = []
    for record in frame.itertuples(index=False):
        cells = "".join(f"<td style='padding:1px 10px'>{html.escape(str(v))}</td>" for v in record)
        style = f"color:{colour[record.action]}" if record.action in colour else ""
        rows.append(f"<tr style='{style}'>{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


CSS = """
.chipstate-trade-graph img, .chipstate-series img, .chipstate-accelerators img,
.chipstate-china-compute img {
    max-width: 100%; height: auto; }
"""


@solara.component
def RunSettings(model):
    """The levers the current model was built with (sliders do not show their values,
    and a moved control only takes effect at Reset)."""
    p = model.parameters

    def year(value):
        return "learning only" if value is None else f"{value:g}"

    rationing = (f"rationing: {p.ration_share:.2f} to {', '.join(p.ration_buyers)} first"
                 if p.ration_buyers and p.ration_share > 0 else
                 f"rationing: off (share {p.ration_share:.2f}, buyers: {', '.join(p.ration_buyers) or 'none'})")

    text = (
        f"<b>{html.escape(model.scenario_spec.name)}</b>, seed {model.seed} · reserved share "
        f"{p.reserved_share:.2f} · champions: {html.escape(', '.join(p.champions) or 'none')} · "
        f"{html.escape(rationing)} · "
        f"allies aligned: {'yes' if p.allies_aligned else 'no'} · DUV servicing ban: "
        f"{p.servicing_ban_quarter if p.duv_servicing_ban else 'no'} · domestic litho 28nm: "
        f"{year(p.domestic_litho_28nm_year)}, 7nm: {year(p.domestic_litho_7nm_year)}"
    )
    solara.HTML(tag="div", unsafe_innerHTML=text, classes=["chipstate-settings"],
                style="font-size: 13px; color: #333;")


def _band_text(show: bool, result) -> str:
    """The line under the uncertainty box: what the band is, that it is being made, or
    why there is none."""
    if not show:
        return ""
    if result.state == solara.ResultState.FINISHED and result.value is not None:
        return result.value.caption
    if result.state == solara.ResultState.ERROR:
        return f"no uncertainty band: {type(result.error).__name__}: {result.error}"
    return f"computing the band: {BAND_DRAWS} posterior draws of this setting to 2030Q4 …"


@solara.component
def UncertaintyBand(show, result):
    """The uncertainty box (off by default) and the band's caption."""
    with solara.Row(style={"align-items": "center", "gap": "12px"}):
        solara.Checkbox(label="Uncertainty: 5-95% band over posterior draws", value=show)
        solara.HTML(tag="div", unsafe_innerHTML=html.escape(_band_text(show.value, result)),
                    classes=["chipstate-band-caption"], style="font-size: 13px; color: #333;")


@solara.component
def PolicyLabView(model):
    """The main area: the run's settings and the uncertainty box; the graph over
    China's compute, beside the series over the accelerators; the ledger.

    With the box ticked, the band of this model's setting (`ensemble_band`: a few
    posterior draws to 2030Q4, cached per setting) is made in a thread of its own, so
    Step and Play go on meanwhile, and drawn behind the lines when it is done."""
    solara.Style(CSS)
    show = solara.use_reactive(False)
    result = solara.use_thread(lambda: ensemble_band(model) if show.value else None,
                               dependencies=[model, show.value], intrusive_cancel=False)
    band = result.value if show.value and result.state == solara.ResultState.FINISHED else None
    with solara.Column(style={"padding": "8px"}):
        RunSettings(model)
        UncertaintyBand(show, result)
        with solara.Columns([11, 10]):
            with solara.Column(gap="4px"):
                TradeGraph(model)
                EventPanelPlot(model, _china_compute_panel, "chipstate-china-compute")
            with solara.Column(gap="4px"):
                SeriesPlots(model, band)
                EventPanelPlot(model, AcceleratorPanel, "chipstate-accelerators", band)
        LedgerTable(model)


@solara.component
def Page():
    """One model per browser session, built here (a model built at import would be
    shared by every tab). SolaraViz gets it as a reactive value and draws the app bar and
    the sidebar (Reset / Play / Step, the controls, the step counter); its Reset replaces
    the value, which re-renders the main area with the new model. The main area is laid
    out here rather than in SolaraViz's draggable grid, whose half-width, 300-pixel cells
    are too small for the trade graph."""
    model = solara.use_reactive(solara.use_memo(lambda: PolicyLab(**initial_parameters()), []))
    SolaraViz(model, components=[], model_params=MODEL_PARAMS, name="chipstate · policy lab")
    PolicyLabView(model.value)
