"""The browser app: its controls, and the app in a real browser.

`solara run app.py` serves the app on a free loopback port; Debian's chromium, driven by
Playwright, loads it, steps the model, checks that the step counter and the trade-graph
image change (and that the cuts appear in red), that the graph shows the accelerator
chain's layers (HBM makers, packaging houses, the leak route's shell company) and that
the panel of Huawei's accelerators follows the steps with the input that bound them
(its caption in words, its shading in the image), switches levers and the scenario,
resets, and fails on any console error (China's AI-chip market, its buyers and the
rationing levers: tests/test_app_market.py, which serves the app as here). A screenshot
goes to results/screenshots/ for a person to look at. Never skipped: without chromium
the test fails and says how to get it (tests/run_all.sh installs it).
"""

from __future__ import annotations

import base64
import io
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from matplotlib.colors import to_rgb

from app import CHAMPION_LISTS, LITHO_WHAT_IFS, MODEL_PARAMS, NO_CHAMPIONS, PolicyLab, initial_parameters
from experiments.app.graph import GRAPH_AXES, KIND_COLOURS
from experiments.app.panels import BINDING_ALPHA, BINDING_COLOURS, BINDING_LABELS

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
SCREENSHOTS = ROOT / "results" / "screenshots"
CUT_RED = np.array([214, 39, 40])  # experiments.app.graph.EDGE_STYLES["cut"], drawn opaque
TIMEOUT_MS = 90_000  # a loaded 2-core machine builds the first page slowly
CHAIN_NODES_MIN_PIXELS = {"memory": 200, "packager": 150, "shell": 20}
"""Pixels of each new node kind's face colour above the legends (the default world: 4 HBM
makers, 3 packaging houses, 1 shell; measured 666, 493 and 44)."""
BINDING_MIN_PIXELS = 400  # a legend patch is ~75 pixels; a year of shading is thousands
CAPTION = re.compile(r"Huawei, (\d{4}Q\d): -?[\d,]+\.\d thousand accelerators made; "
                     r"(binding input: (?P<binding>[^.]+)|no binding input recorded)\.")


# ----------------------------------------------------------------------- fixtures
@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    """pytest-playwright launches Debian's chromium, never a downloaded one."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} not found: the browser tests drive Debian's chromium. "
                    "Run `bash tests/run_all.sh` (installs it) or `apt-get install chromium`.")
    return {**browser_type_launch_args, "executable_path": str(CHROMIUM), "args": CHROMIUM_ARGS}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def app_url(tmp_path_factory):
    """`solara run app.py` on a free loopback port; killed (its whole process group)
    when the module's tests are done, whatever happened."""
    port = _free_port()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    log_path = SCREENSHOTS / "solara_server.log"  # kept for a person when a test fails
    with open(log_path, "wb") as log:
        server = subprocess.Popen(
            # --production: no watching of files, which in development mode re-executes the
            # app (and resets every session) whenever any file of the tree is saved
            [sys.executable, "-m", "solara", "run", str(ROOT / "app.py"), "--host", "127.0.0.1",
             "--port", str(port), "--no-open", "--production"],
            cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 120
        while True:
            if server.poll() is not None:
                pytest.fail(f"solara exited with {server.returncode}:\n{log_path.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(url, timeout=5) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"solara did not serve {url} in 120 s:\n{log_path.read_text()[-3000:]}")
            time.sleep(0.5)
        yield url
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGTERM)
            try:
                server.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
                server.wait()


class Console:
    """Every console error and uncaught page error of a page."""

    def __init__(self, page) -> None:
        self.errors: list[str] = []
        page.on("console", lambda m: self.errors.append(f"console.{m.type}: {m.text}")
                if m.type == "error" else None)
        page.on("pageerror", lambda e: self.errors.append(f"pageerror: {e}"))


def _open(page, url: str) -> Console:
    console = Console(page)
    page.set_default_timeout(TIMEOUT_MS)
    page.set_viewport_size({"width": 1600, "height": 1150})
    page.goto(url)
    page.get_by_role("button", name="Step").wait_for()
    page.locator(".chipstate-trade-graph img").wait_for()
    page.locator(".chipstate-series img").wait_for()
    page.locator(".chipstate-accelerators img").wait_for()
    page.locator(".chipstate-china-compute img").wait_for()
    _wait_steps(page, 0)
    return console


def _wait_steps(page, n: int) -> None:
    page.get_by_text(f"Step: {n}", exact=True).wait_for()


def _step(page, n_from: int, times: int) -> list[float]:
    """Click Step `times` times, each time waiting for the counter. Returns, per click,
    the seconds from the click to the new count in the page, timed in the page by a
    requestAnimationFrame poll (logged, never asserted: it depends on the machine)."""
    seconds = []
    for k in range(n_from + 1, n_from + times + 1):
        page.evaluate("""(label) => {
            window.__stepSeen = null;
            const start = performance.now();
            const poll = () => document.body.innerText.includes(label)
                ? (window.__stepSeen = (performance.now() - start) / 1000)
                : requestAnimationFrame(poll);
            requestAnimationFrame(poll);
        }""", f"Step: {k}")
        page.get_by_role("button", name="Step").click()
        _wait_steps(page, k)
        seconds.append(page.evaluate("window.__stepSeen"))
    return seconds


def _graph_pixels(page) -> np.ndarray:
    """The trade graph image as the server sent it (RGB array), read from the <img>."""
    return _image_pixels(page, ".chipstate-trade-graph img")


def _image_pixels(page, selector: str) -> np.ndarray:
    """The image `selector` finds, as the server sent it (RGB array), read from the <img>."""
    data_url = page.locator(selector).evaluate(
        """async (img) => {
            const blob = await (await fetch(img.src)).blob();
            return await new Promise((resolve) => {
                const reader = new FileReader();
                reader.onload = () => resolve(reader.result);
                reader.readAsDataURL(blob);
            });
        }"""
    )
    from PIL import Image

    raw = base64.b64decode(data_url.split(",", 1)[1])
    return np.asarray(Image.open(io.BytesIO(raw)).convert("RGB")).astype(int)


def _red_pixels(pixels: np.ndarray) -> int:
    return int((np.abs(pixels - CUT_RED).max(axis=2) <= 12).sum())


def _colour_pixels(pixels: np.ndarray, rgb, tolerance: int = 8) -> int:
    return int((np.abs(pixels - np.asarray(rgb)).max(axis=2) <= tolerance).sum())


def _chain_node_pixels(pixels: np.ndarray) -> dict[str, int]:
    """Per new node kind, pixels of its face colour in the graph's area (above the legends)."""
    above_legends = pixels[: int(pixels.shape[0] * (1 - GRAPH_AXES[1]))]
    return {kind: _colour_pixels(above_legends, 255 * np.array(to_rgb(KIND_COLOURS[kind])))
            for kind in CHAIN_NODES_MIN_PIXELS}


def _binding_pixels(pixels: np.ndarray) -> dict[str, int]:
    """Per binding input, pixels of its shading (its colour at BINDING_ALPHA over white)."""
    return {name: _colour_pixels(pixels, 255 * (1 - BINDING_ALPHA) + BINDING_ALPHA * 255 * np.array(to_rgb(c)),
                                 tolerance=4)
            for name, c in BINDING_COLOURS.items()}


def _accelerator_caption(page) -> str:
    return page.locator(".chipstate-accelerators-caption").inner_text()


def _settings(page) -> str:
    return page.locator(".chipstate-settings").inner_text()


def _expect(page, locator, what: str) -> None:
    """Wait for `locator`; on time-out fail with what the page showed (and a screenshot)."""
    try:
        locator.wait_for()
    except Exception:
        page.screenshot(path=SCREENSHOTS / "failure.png", full_page=True)
        pytest.fail(f"expected {what}; settings: {_settings(page)!r}; steps shown: "
                    f"{page.get_by_text('Step: ').all_inner_texts()}; see "
                    f"{SCREENSHOTS / 'failure.png'} and {SCREENSHOTS / 'solara_server.log'}")


def _select(page, label: str, option: str) -> None:
    """Choose `option` in the select labelled `label`. Vuetify's menu animates open: a
    click that lands mid-animation is lost, so look and try again (three times)."""
    select = page.locator(".v-select").filter(has_text=label)
    for _ in range(3):
        select.click()
        page.get_by_role("option", name=option, exact=True).click()
        try:
            select.filter(has_text=option).wait_for(timeout=10_000)
            return
        except Exception:
            page.keyboard.press("Escape")
    _expect(page, select.filter(has_text=option), f"the {label} select shows {option}")


# -------------------------------------------------------------------------- tests
@pytest.mark.browser
def test_step_switch_scenario_and_reset(app_url, page):
    console = _open(page, app_url)
    print("loaded")
    assert "state_allocation" in _settings(page)
    graph = page.locator(".chipstate-trade-graph img")
    src_before = graph.get_attribute("src")
    pixels_before = _graph_pixels(page)
    # the accelerator chain's layers are drawn: HBM makers, packaging houses, the shell
    chain_nodes = _chain_node_pixels(pixels_before)
    assert all(chain_nodes[k] >= n for k, n in CHAIN_NODES_MIN_PIXELS.items()), chain_nodes
    assert "none made yet" in _accelerator_caption(page)
    accelerators_src = page.locator(".chipstate-accelerators img").get_attribute("src")
    shading_before = _binding_pixels(_image_pixels(page, ".chipstate-accelerators img"))
    assert max(shading_before.values()) < BINDING_MIN_PIXELS  # the legend's patches alone

    seconds = _step(page, 0, 8)
    page.wait_for_function(
        "(old) => { const img = document.querySelector('.chipstate-trade-graph img');"
        " return img !== null && img.src !== old; }", arg=src_before)
    # Huawei's accelerators to 2020Q4: the caption names the quarter and the binding
    # input; the image changed and shades the quarters by their binding input
    _expect(page, page.locator(".chipstate-accelerators-caption").filter(has_text="2020Q4"),
            "the accelerator caption names 2020Q4 after 8 steps")
    caption = CAPTION.fullmatch(_accelerator_caption(page).strip())
    assert caption is not None, _accelerator_caption(page)
    assert caption["binding"] is None or caption["binding"] in BINDING_LABELS.values()
    page.wait_for_function(
        "(old) => { const img = document.querySelector('.chipstate-accelerators img');"
        " return img !== null && img.src !== old; }", arg=accelerators_src)
    shading = _binding_pixels(_image_pixels(page, ".chipstate-accelerators img"))
    assert max(shading.values()) >= BINDING_MIN_PIXELS, shading
    pixels_after = _graph_pixels(page)
    assert pixels_after.shape == pixels_before.shape
    assert (pixels_after != pixels_before).any(axis=2).mean() > 0.01  # the picture changed
    # the 2019-2020 rules cut relations: red dashed lines appear
    assert _red_pixels(pixels_after) > _red_pixels(pixels_before) + 80
    assert "Ledger of cuts and re-wirings: 0 rows" not in page.locator(".chipstate-ledger").inner_text()
    assert "cut" in page.locator(".chipstate-ledger table").inner_text()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SCREENSHOTS / "policy_lab.png", full_page=True)
    print("seconds from Step click to the new count in the page:",
          ", ".join(f"{s:.2f}" for s in seconds if s is not None))

    # Levers and the scenario take effect at Reset: no controls, seed 43, DUV ban on.
    print("stepped 8 times; switching scenario and levers")
    _select(page, "Scenario", "no_controls")
    page.locator("label", has_text="DUV servicing ban").click()  # vuetify's ripple covers the box
    assert page.get_by_label("DUV servicing ban").is_checked()
    seed = page.get_by_role("slider", name="Seed")
    seed.focus()
    seed.press("ArrowRight")
    assert "state_allocation" in _settings(page)  # nothing rebuilt before Reset
    print("reset")
    page.get_by_role("button", name="Reset").click()
    _expect(page, page.locator(".chipstate-settings").filter(has_text="no_controls"),
            "after Reset the run settings name no_controls")
    settings = _settings(page)
    assert "seed 43" in settings
    assert "DUV servicing ban: 2026Q1" in settings
    _wait_steps(page, 0)
    _expect(page, page.locator(".chipstate-accelerators-caption").filter(has_text="none made yet"),
            "after Reset the accelerator panel starts again")
    _step(page, 0, 4)
    assert _red_pixels(_graph_pixels(page)) <= _red_pixels(pixels_before) + 20  # nothing cut
    _expect(page, page.locator(".chipstate-accelerators-caption").filter(has_text="2019Q4"),
            "the accelerator caption names 2019Q4 after 4 steps of the new model")
    page.screenshot(path=SCREENSHOTS / "policy_lab_no_controls.png", full_page=True)
    assert console.errors == []


@pytest.mark.browser
def test_each_session_has_its_own_model(app_url, browser):
    """Two tabs (sessions): stepping one leaves the other's model alone."""
    first, second = browser.new_page(), browser.new_page()
    try:
        console_first, console_second = _open(first, app_url), _open(second, app_url)
        _step(first, 0, 2)
        _step(second, 0, 1)  # a shared model would now be at step 3
        _wait_steps(first, 2)
        # Play runs quarters on its own until paused
        first.get_by_role("button", name="▶").click()
        first.wait_for_function(  # counts may be skipped when drawing lags: at least 5
            "() => { const m = document.body.innerText.match(/Step: (\\d+)/);"
            " return m !== null && Number(m[1]) >= 5; }")
        first.get_by_role("button", name="❚❚").click()
        first.get_by_role("button", name="▶").wait_for()
        first.wait_for_timeout(2000)  # a quarter already under way may still land
        paused_at = first.get_by_text("Step: ").inner_text()
        first.wait_for_timeout(2000)
        assert first.get_by_text("Step: ").inner_text() == paused_at
        _wait_steps(second, 1)
        assert console_first.errors == [] and console_second.errors == []
    finally:
        first.close()
        second.close()


def test_viz_command_serves_on_loopback():
    """`chipstate viz --port N` serves the app on 127.0.0.1 (its default host)."""
    port = _free_port()
    server = subprocess.Popen([sys.executable, "-m", "experiments.cli", "viz", "--port", str(port)],
                              cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while True:
            assert server.poll() is None, server.stdout.read().decode()[-3000:]
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as response:
                    assert response.status == 200
                    break
            except OSError:
                assert time.monotonic() < deadline, "chipstate viz did not serve in 120 s"
                time.sleep(0.5)
        with open(f"/proc/{server.pid}/cmdline", "rb") as handle:
            command = handle.read().split(b"\0")
        assert b"solara" in command and command[command.index(b"--host") + 1] == b"127.0.0.1"
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=15)


# ----------------------------------------------------------- controls -> model
def test_controls_start_where_the_default_scenario_is():
    lab = PolicyLab(**initial_parameters())
    assert lab.scenario_spec.name == "state_allocation" and lab.seed == MODEL_PARAMS["rng"]["value"]
    assert lab.parameters.champions == ("Huawei",) and lab.parameters.reserved_share == 0.8
    assert not lab.parameters.allies_aligned and not lab.parameters.duv_servicing_ban


def test_unticked_boxes_leave_the_scenario_levers_alone():
    """Escalation turns both levers on; unticked boxes must not turn them off."""
    lab = PolicyLab(**{**initial_parameters(), "policy_scenario": "escalation"})
    assert lab.parameters.allies_aligned and lab.parameters.duv_servicing_ban


def test_ticked_boxes_champions_and_litho_reach_the_model():
    lab = PolicyLab(**{**initial_parameters(), "rng": 7, "allies_aligned": True,
                       "duv_servicing_ban": True, "champions": CHAMPION_LISTS[2],
                       "domestic_litho": "28nm by 2025, 7nm by 2028", "reserved_share": 0.35})
    p = lab.parameters
    assert lab.seed == 7 and p.allies_aligned and p.duv_servicing_ban and p.reserved_share == 0.35
    assert p.champions == ("Huawei", "Cambricon", "Alibaba T-Head")
    assert (p.domestic_litho_28nm_year, p.domestic_litho_7nm_year) == (2025.0, 2028.0)
    assert PolicyLab(**{**initial_parameters(), "champions": NO_CHAMPIONS}).parameters.champions == ()


def test_every_choice_names_firms_of_the_world_and_valid_years():
    lab = PolicyLab(**initial_parameters())
    firms = {f.name for f in lab.firms}
    for choice in CHAMPION_LISTS:
        if choice != NO_CHAMPIONS:
            assert {name.strip() for name in choice.split(",")} <= firms, choice
    for what_if in LITHO_WHAT_IFS.values():
        assert all(2019 <= year <= 2030 for year in what_if.values())
