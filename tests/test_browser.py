"""The Draw tab in a real browser: headless Chromium draws with the mouse and a finger; the reconstructions follow.

Starts `app.py` as a subprocess on a free port (bundled weights; env AE_VAE_WEIGHTS_DIR overrides the folder)
and drives the system Chromium (/usr/bin/chromium; env CHROMIUM_PATH) with Playwright's Python API.
Skips, with the reason, when the weights, Chromium or the playwright package are missing.
Never run `playwright install`: the system browser is used.
"""

from __future__ import annotations

import base64
import io
import re

import numpy as np
import pytest
from PIL import Image

# One way to find the weights and Chromium, start the app and drive the pad, shared with the benchmarks
# (conftest puts the repo root on sys.path).
from support.harness import DEFAULT_WEIGHTS_DIR as WEIGHTS_DIR
from support.harness import (
    app_server,
    chromium,
    clear_pad,
    img_src,
    move_slider,
    not_ready,
    open_app,
    open_tab,
    stroke,
    touch_stroke,
    wait_new_image,
    wait_status,
    write_digit_png,
)

from ae_vae.app.contract import KNOB_ELEMENTS
from ae_vae.app.draw import DONE_STATUS, LIVE_STATUS, NEIGHBOURS_HINT
from ae_vae.app.figures import PANELS
from ae_vae.app.pad import encode_payload, sketch_value
from ae_vae.app.sources import load_explorer

SERVER_TIMEOUT_S = 60
RECON_TIMEOUT_MS = 15_000
OUTPUT_IDS = ("model-input", "ae-recon", "vae-recon")
DONE = "Reconstructed your drawing"

pytestmark = pytest.mark.browser

_problem = not_ready(WEIGHTS_DIR)
if _problem:
    pytest.skip(_problem, allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")

# Records every change of the outputs' <img src> and the pad's pointer events, with the page's clock.
TRACE_JS = """(ids) => {
  window.__trace = [];
  for (const id of ids) {
    const root = document.getElementById(id);
    let last = null;
    new MutationObserver(() => {
      const img = root.querySelector('img'), src = img ? img.src : null;
      if (src !== last) { last = src; window.__trace.push({t: performance.now(), id, src}); }
    }).observe(root, {subtree: true, childList: true, attributes: true, attributeFilter: ['src']});
  }
  for (const type of ['pointerdown', 'pointerup']) {
    window.addEventListener(type, (e) => window.__trace.push({t: performance.now(), id: type, src: e.pointerType}),
                            true);
  }
}"""


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    """`python app.py` on a free port, serving once its HTTP port answers; terminated on teardown."""
    with app_server(WEIGHTS_DIR, log_path=tmp_path_factory.mktemp("browser-app") / "app.log",
                    timeout=SERVER_TIMEOUT_S) as running:
        yield running


@pytest.fixture(scope="module")
def app_url(app):
    return app.url


@pytest.fixture(scope="module")
def explorer():
    """The served models in this process: what the server computes, to compare the page's answers with."""
    return load_explorer(None, WEIGHTS_DIR)


@pytest.fixture
def page(app_url):
    """The app with its models running in the page (the default where WebAssembly works)."""
    with chromium() as page:
        page.set_default_timeout(30_000)
        open_app(page, app_url)
        wait_for_engine(page, "page")
        # the page's on-load events (the Interpolate and Sample tabs' first outputs) are done
        page.wait_for_function("() => document.documentElement.dataset.firstOutputs === 'shown'", timeout=30_000)
        page.evaluate(IN_PAGE_IMAGES_JS)
        yield page


@pytest.fixture
def server_page(app_url):
    """The app with every reconstruction computed on the server (the documented switch)."""
    with chromium() as page:
        page.set_default_timeout(30_000)
        open_app(page, app_url + "?inference=server")
        wait_for_engine(page, "server")
        yield page


def wait_for_engine(page, where: str) -> str:
    """Wait until the pad has decided where reconstructions are computed ("page" or "server"); its line."""
    page.wait_for_function("() => document.querySelector('#sketchpad .pad').dataset.inference", timeout=30_000)
    found = page.evaluate("() => document.querySelector('#sketchpad .pad').dataset.inference")
    line = page.locator("#sketchpad .pad-engine").inner_text()
    assert found == where, f"reconstructions computed on the {found}, not the {where}: {line!r}"
    return line


def srcs(page) -> dict[str, str | None]:
    return {id_: img_src(page, id_) for id_ in OUTPUT_IDS}


def wait_for_drawing(page, before: dict[str, str | None]) -> dict[str, str | None]:
    """Wait until the status says a stroke's final frame is done and every output shows a loaded image other than
    `before`'s; the new srcs."""
    try:
        page.wait_for_function("""([ids, before, done]) => document.querySelector('#draw-status').innerText
            .includes(done) && ids.every(id => { const img = document.querySelector('#' + id + ' img');
            return img && img.src && img.src !== before[id] && img.complete && img.naturalWidth > 0; })""",
                               arg=[list(OUTPUT_IDS), before, DONE], timeout=RECON_TIMEOUT_MS, polling=100)
    except sync_api.TimeoutError:
        pytest.fail(f"no final reconstruction within {RECON_TIMEOUT_MS} ms; before {before}; now {srcs(page)}; "
                    f"status {wait_status(page, timeout_s=0.5)!r}")
    return srcs(page)


def wait_for_srcs(page, expected: dict[str, str | None]) -> None:
    try:
        page.wait_for_function("""(expected) => Object.entries(expected).every(([id, src]) => {
            const img = document.querySelector('#' + id + ' img'); return (img ? img.src : null) === src; })""",
                               arg=expected, timeout=RECON_TIMEOUT_MS, polling=100)
    except sync_api.TimeoutError:
        pytest.fail(f"expected {expected}, got {srcs(page)}; status {wait_status(page, timeout_s=0.5)!r}")


IN_PAGE = "document.querySelector('#sketchpad canvas').aeVae.pad.inPage()"


def page_drawn(page, before: dict | None = None) -> dict[str, list[int]]:
    """Wait until the page shows a finished drawing other than `before` (`in_page_images`): its final frame drawn and
    the status line saying so (the server's answer to the page's results); the page's images."""
    try:
        page.wait_for_function(f"() => {IN_PAGE}.idle() && document.querySelector('#draw-status').innerText"
                               f".includes('{DONE}')", timeout=RECON_TIMEOUT_MS, polling=100)
        page.wait_for_function("""([ids, before]) => ids.every((id) => {
            const c = document.querySelector('#' + id + ' canvas.in-page-image');
            return c && !c.hidden; }) && JSON.stringify(window.__inPageImages(ids)) !== JSON.stringify(before)""",
                               arg=[list(OUTPUT_IDS), before], timeout=RECON_TIMEOUT_MS, polling=100)
    except sync_api.TimeoutError:
        pytest.fail(f"no finished drawing in the page within {RECON_TIMEOUT_MS} ms; status "
                    f"{wait_status(page, timeout_s=0.5)!r}")
    return in_page_images(page)


def wait_for_page_images(page, expected: dict) -> None:
    """Wait until the page's own images are `expected` (`in_page_images`; None: hidden)."""
    try:
        page.wait_for_function("([ids, expected]) => JSON.stringify(window.__inPageImages(ids)) === "
                               "JSON.stringify(expected)", arg=[list(expected), expected], timeout=RECON_TIMEOUT_MS,
                               polling=100)
    except sync_api.TimeoutError:
        pytest.fail(f"the page's images are not as expected; status {wait_status(page, timeout_s=0.5)!r}")


def model_input_stats(page) -> dict[str, float]:
    """Size and brightness of the displayed 28x28 model input (a digit: white strokes on black): the page's own image
    when it shows one, else the server's."""
    return page.evaluate("""() => {
        const own = document.querySelector('#model-input canvas.in-page-image');
        const img = own && !own.hidden ? own : document.querySelector('#model-input img');
        const c = document.createElement('canvas'); c.width = img.naturalWidth || img.width;
        c.height = img.naturalHeight || img.height;
        const ctx = c.getContext('2d'); ctx.drawImage(img, 0, 0);
        const d = ctx.getImageData(0, 0, c.width, c.height).data;
        let sum = 0, max = 0;
        for (let i = 0; i < d.length; i += 4) { sum += d[i]; max = Math.max(max, d[i]); }
        return {width: c.width, height: c.height, mean: sum / (d.length / 4), max};
    }""")


def test_draw_then_example_updates_reconstructions(page, tmp_path):
    before = srcs(page)
    assert before["ae-recon"] is None and before["vae-recon"] is None, before
    assert page.locator("#sketchpad .pad-hint").is_visible(), "an empty pad says 'draw a digit'"

    stroke(page, "7")
    page_drawn(page)
    page.screenshot(path=str(tmp_path / "draw.png"), full_page=True)
    assert not page.locator("#sketchpad .pad-hint").is_visible()
    stats = model_input_stats(page)
    assert (stats["width"], stats["height"]) == (28, 28), stats
    assert stats["max"] > 128 and stats["mean"] < 100, f"the model input does not look like a drawn digit: {stats}"

    page.locator("#examples button.thumbnail-item").nth(3).click()  # the server's images replace the page's
    page.wait_for_function("""(before) => ['model-input', 'ae-recon', 'vae-recon'].every(id => {
        const img = document.querySelector('#' + id + ' img'); return img && img.src !== before[id]; })""",
                           arg=before, timeout=RECON_TIMEOUT_MS)
    status = wait_status(page, contains="test example #3")
    assert "⚠" not in status and "test example #3" in status, status
    wait_for_page_images(page, {id_: None for id_ in (*OUTPUT_IDS, "vae-samples")})


def test_on_the_server_path_reconstructions_follow_the_pen_before_pointer_up(server_page):
    """A slow 2-second stroke with every frame computed on the server: the AE and VAE images change while the
    button is still down, and once more after."""
    page = server_page
    assert "?inference=server" in page.locator("#sketchpad .pad-engine").inner_text()
    page.evaluate(TRACE_JS, list(OUTPUT_IDS))
    # the last segment is drawn right before the button goes up, so the final frame has ink no live frame had
    stroke(page, "Z", duration_s=2.0, before_up=lambda: page.mouse.move(*_last_point(page), steps=1))
    wait_for_drawing(page, {id_: None for id_ in OUTPUT_IDS})
    trace = page.evaluate("() => window.__trace")
    down = next(e["t"] for e in trace if e["id"] == "pointerdown")
    up = next(e["t"] for e in trace if e["id"] == "pointerup")
    for id_ in ("ae-recon", "vae-recon"):
        during = [e for e in trace if e["id"] == id_ and down < e["t"] < up and e["src"]]
        assert len(during) >= 2, f"{id_} did not follow the pen before pointer-up: {trace}"
    # The final frame, sent on pointer-up, was answered after it (wait_for_drawing saw the "done" status, which only
    # the final frame sets). Its images differ from the last live frame's only if the pen moved after that frame was
    # sent: on a loaded machine the last segment can make it into a live frame, so a change is not required here.


def _last_point(page) -> tuple[float, float]:
    box = page.locator("#sketchpad canvas").bounding_box()
    return box["x"] + box["width"] * 0.82, box["y"] + box["height"] * 0.72


def test_undo_restores_the_previous_reconstruction(page):
    stroke(page, "1")
    first = page_drawn(page)
    stroke(page, [(-0.6, 0.0), (0.6, 0.0)])  # a bar across the "1"
    second = page_drawn(page, first)
    assert all(second[id_] != first[id_] for id_ in OUTPUT_IDS)

    page.keyboard.press("Control+z")
    wait_for_page_images(page, first)  # the same images: undo redraws the earlier drawing exactly
    page.locator("#sketchpad .pad-undo").click()  # and undoing the last stroke empties the pad
    wait_for_page_images(page, {id_: None for id_ in OUTPUT_IDS})
    assert "draw a digit" in wait_status(page, contains="draw a digit")
    assert srcs(page) == {id_: None for id_ in OUTPUT_IDS}


def test_reconstruct_on_an_empty_pad_says_so_beside_the_pad(page):
    """The status line is in view at 1280x900 without scrolling, and an empty pad's Reconstruct is said there,
    with the outputs emptied: no error pop-up over stale images."""
    stroke(page, "7")
    page_drawn(page)
    clear_pad(page)
    wait_for_page_images(page, {id_: None for id_ in OUTPUT_IDS})
    wait_for_srcs(page, {id_: None for id_ in OUTPUT_IDS})
    page.evaluate("() => window.scrollTo(0, 0)")
    box = page.locator("#draw-status").bounding_box()
    assert box is not None and box["y"] + 20 <= page.viewport_size["height"], box
    page.get_by_role("button", name="Reconstruct", exact=True).click()
    status = wait_status(page, contains="Nothing to read")
    assert "draw a digit" in status, status
    assert page.locator(".toast-body").count() == 0
    assert srcs(page) == {id_: None for id_ in OUTPUT_IDS}


@pytest.mark.parametrize("how", ["button", "Delete key"])
def test_clear_empties_the_outputs_and_says_draw_a_digit(page, how):
    stroke(page, "L")
    page_drawn(page)
    if how == "button":
        clear_pad(page)
    else:
        page.keyboard.press("Delete")
    wait_for_page_images(page, {id_: None for id_ in (*OUTPUT_IDS, "vae-samples", "walk-ae", "walk-vae")})
    wait_for_srcs(page, {id_: None for id_ in OUTPUT_IDS})
    status = wait_status(page, contains="draw a digit")
    assert "draw a digit" in status and "⚠" not in status, status
    assert page.locator("#sketchpad .pad-hint").is_visible()
    assert page.evaluate("() => document.querySelector('#sketchpad canvas').aeVae.pad.payload('final')") == ""


def test_a_touch_stroke_draws(page):
    """Touch events from the Chrome DevTools Protocol: the page gets touch pointer events, as on a phone."""
    page.evaluate(TRACE_JS, list(OUTPUT_IDS))
    touch_stroke(page, "7")
    page_drawn(page)
    kinds = {e["src"] for e in page.evaluate("() => window.__trace") if e["id"] == "pointerdown"}
    assert kinds == {"touch"}, kinds
    assert model_input_stats(page)["max"] > 128


def test_the_pads_payload_is_the_python_encoders(page):
    """The script's reduction of the canvas equals `encode_payload` of the same canvas (exported as PNG), so the
    tolerance measured with `encode_payload` (tests/test_drawing_pad.py) holds for the real pad."""
    stroke(page, "N", scale=0.5)
    stroke(page, "U", scale=1.2)
    canvas = page.locator("#sketchpad canvas")
    data_url = canvas.evaluate("c => c.toDataURL('image/png')")
    alpha = np.asarray(Image.open(io.BytesIO(base64.b64decode(data_url.split(",", 1)[1]))))[..., 3]
    assert canvas.evaluate("c => c.aeVae.pad.payload('final')") == encode_payload(alpha, "final")


# ---------------------------------------------------------------- the models in the page

# Random drawings painted straight onto the pad's canvas with its brush (strokes of 2-7 segments, some closed, at
# random sizes and places), each framed by the page's framing.js for MNIST or Fashion-MNIST, half of the garments
# with their outlines filled.
FRAMING_JS = """async ([count, seed, modules]) => {
  const framing = await import(new URL(modules + '/framing.js', window.gradio_config.root).href);
  const canvas = document.querySelector('#sketchpad canvas'), ctx = canvas.getContext('2d');
  let s = seed;
  const rand = () => { s = (s * 1103515245 + 12345) % 2147483648; return s / 2147483648; };
  const out = [];
  for (let i = 0; i < count; i++) {
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    const size = 0.2 + rand() * 0.7, cx = 140 + (rand() - 0.5) * 100, cy = 140 + (rand() - 0.5) * 100;
    const at = () => [cx + (rand() - 0.5) * 280 * size, cy + (rand() - 0.5) * 280 * size];
    for (let k = 1 + Math.floor(rand() * 3); k > 0; k--) {
      ctx.beginPath(); ctx.moveTo(...at());
      for (let j = 1 + Math.floor(rand() * 6); j > 0; j--) ctx.lineTo(...at());
      if (rand() < 0.3) ctx.closePath();
      ctx.stroke();
    }
    const reduced = canvas.aeVae.pad.reduce();
    const dataset = i % 2 ? 'fashion_mnist' : 'mnist', fill = i % 4 === 3;
    const input = Array.from(framing.modelInput(reduced, canvas.aeVae.config.framings[dataset], fill));
    out.push({payload: canvas.aeVae.pad.payload('final', reduced), dataset, fill, input});
  }
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  return out;
}"""


def test_the_pages_framing_is_pythons_on_hundreds_of_drawings(page):
    """framing.js gives the model input `to_model_input` gives the server for the same payload, on 240 drawings of
    both data sets (60 with filled outlines): the same numbers, not only within the payload's tolerance."""
    from ae_vae.app.contract import PAGE_MODULES
    from ae_vae.app.pad import PAYLOAD_TOLERANCE, decode_payload, framing_difference
    from ae_vae.app.page import file_url
    from ae_vae.preprocess import to_model_input

    drawings = page.evaluate(FRAMING_JS, [240, 11, file_url(PAGE_MODULES)])
    worst = 0.0
    for drawing in drawings:
        python = to_model_input(decode_payload(drawing["payload"]).image(), drawing["dataset"],
                                fill_outlines=drawing["fill"])
        js = np.asarray(drawing["input"], np.float32).reshape(28, 28)
        assert js.max() > 0.5, "each drawing has ink"
        assert framing_difference(js, python) <= PAYLOAD_TOLERANCE
        worst = max(worst, float(np.abs(js - python).max()))
    assert worst <= 1e-5, f"largest |JS - Python| of a pixel: {worst}"
    assert {d["dataset"] for d in drawings} == {"mnist", "fashion_mnist"} and sum(d["fill"] for d in drawings) == 60


# Counts, from the page's clock: the in-page frames and the requests the page makes while the button is down.
PEN_TRACE_JS = """() => {
  window.__pen = {frames: [], requests: 0, down: false, downAt: null, upAt: null, urls: [], after: []};
  const pad = () => document.querySelector('#sketchpad canvas').aeVae.pad.inPage();
  for (const type of ['pointerdown', 'pointerup']) {
    window.addEventListener(type, () => {
      window.__pen.down = type === 'pointerdown';
      window.__pen[type === 'pointerdown' ? 'downAt' : 'upAt'] = performance.now();
      window.__pen.frames.push([type, pad() ? pad().frames : null]); }, true);
  }
  // Requests that reach the app's events (queue, calls); static files the page fetches in the background (its
  // modules, the map data it prefetches while the server writes it) are not questions to the server.
  // (An entry arrives when its response ends: only requests that started while the button was down count, not
  // the page's earlier ones finishing meanwhile.)
  new PerformanceObserver((list) => {
    const {downAt, upAt} = window.__pen;
    for (const e of list.getEntries()) {
      if (upAt !== null && e.startTime > upAt && !e.name.includes('/gradio_api/file=')) window.__pen.after.push(e.name);
      if (downAt === null || e.startTime < downAt || (upAt !== null && e.startTime > upAt)) continue;
      window.__pen.urls.push(e.name);
      if (!e.name.includes('/gradio_api/file=')) window.__pen.requests += 1;
    }
  }).observe({type: 'resource', buffered: false});
  const send = WebSocket.prototype.send;
  WebSocket.prototype.send = function (...args) { if (window.__pen.down) window.__pen.requests += 1;
                                                  return send.apply(this, args); };
}"""


# The pixels (grey levels, row-major) each component's in-page canvas shows, null where it is hidden or absent.
IN_PAGE_IMAGES_JS = """() => { window.__inPageImages = (ids) => Object.fromEntries(ids.map((id) => {
    const c = document.querySelector('#' + id + ' canvas.in-page-image');
    if (!c || c.hidden) return [id, null];
    const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    return [id, Array.from({length: c.width * c.height}, (_, i) => d[4 * i])]; })); }"""


def in_page_images(page, ids=OUTPUT_IDS) -> dict[str, list[int] | None]:
    """The pixels (grey levels) each component's in-page canvas shows, None where it is hidden or absent."""
    page.evaluate(IN_PAGE_IMAGES_JS)
    return page.evaluate("(ids) => window.__inPageImages(ids)", list(ids))


def test_the_page_reconstructs_while_the_pen_moves_and_asks_the_server_once(page, explorer):
    """A 1-s stroke: the page shows new reconstructions many times while the button is down and sends nothing;
    after pointer-up it shows the final model input, reconstructions, posterior samples and the walk at 0, as the
    server computes them for the same drawing, and one plain request (not the queue's join and stream) with its
    results brings what needs the server's data: the error table, typicality and neighbours."""
    line = page.locator("#sketchpad .pad-engine").inner_text()
    assert "computed in this page" in line, line
    page.evaluate(PEN_TRACE_JS)
    stroke(page, "7", duration_s=1.0)
    ids = (*OUTPUT_IDS, "vae-samples", "walk-ae", "walk-vae")
    shown = page_drawn(page) | in_page_images(page, ids[3:])
    pen = page.evaluate("() => window.__pen")
    (_, at_down), (_, at_up) = pen["frames"][:2]
    assert at_up - at_down >= 15, f"only {at_up - at_down} in-page frames during a 1-s stroke: {pen}"
    assert pen["requests"] == 0, f"the page sent {pen['requests']} requests while the pen was down: {pen['urls']}"
    payload = page.evaluate("() => document.querySelector('#sketchpad canvas').aeVae.pad.payload('final')")
    server = explorer.reconstruct(sketch_value(payload)["composite"], "mnist")
    for id_, expected in zip(ids, (server.model_input, server.ae, server.vae, server.vae_samples, server.ae, server.vae)):
        pixels = np.asarray(shown[id_], float).reshape(expected.shape)
        assert np.abs(pixels - expected).mean() / 255 <= 0.01, id_
    page.wait_for_function("() => document.querySelectorAll('#vae-neighbours .thumbnail-item img').length >= 1 "
                           "&& document.querySelector('#typicality').innerText.includes('typical')", timeout=20_000)
    errors = page.locator("#draw-errors").inner_text()
    numbers = [float(n) for n in re.findall(r"\d+\.\d{4}", errors)]  # AE, VAE, then each posterior sample
    expected = [server.ae_mse, server.vae_mse, *server.vae_sample_mse]
    assert len(numbers) == len(expected) and np.abs(np.subtract(numbers, expected)).max() <= 0.002, errors
    page.wait_for_timeout(1000)  # anything else the answer would set off has had time to start
    after = page.evaluate("() => window.__pen.after")
    assert len(after) == 1 and after[0].endswith("/gradio_api/run/predict"), after
    assert srcs(page) == {id_: None for id_ in OUTPUT_IDS}  # the server sent no image: the page drew them


def test_with_the_server_frozen_the_reconstructions_still_follow_the_pen(app, page):
    """The server process stopped (SIGSTOP) after the page loaded: a stroke still updates both reconstructions in
    the page during the stroke and gives the final ones after pointer-up."""
    import os
    import signal

    page.evaluate(PEN_TRACE_JS)
    os.kill(app.process.pid, signal.SIGSTOP)
    try:
        stroke(page, "Z", duration_s=1.0)
        page.wait_for_function("() => document.querySelector('#sketchpad canvas').aeVae.pad.inPage().idle()",
                               timeout=5_000)
        pen = page.evaluate("() => window.__pen")
        shown = in_page_images(page)
    finally:
        os.kill(app.process.pid, signal.SIGCONT)
    (_, at_down), (_, at_up) = pen["frames"][:2]
    assert at_up - at_down >= 15, pen
    assert shown["ae-recon"] is not None and max(shown["ae-recon"]) > 128, "the final AE reconstruction is shown"
    assert max(shown["model-input"]) > 128 and shown["vae-recon"] is not None


def test_the_maps_star_takes_the_drawing_when_the_tab_opens(page):
    """The Embeddings tab's star is the Draw tab's drawing (4x larger) once the tab is opened after a stroke, and no
    star once it is opened after the pad was cleared."""
    stroke(page, "7")
    drawn = np.asarray(page_drawn(page)["model-input"], np.uint8).reshape(28, 28)
    open_tab(page, "Embeddings")
    page.wait_for_function("() => { const img = document.querySelector('#maps-star img'); "
                           "return img && img.complete && img.naturalWidth > 0; }", timeout=20_000)
    star = page.evaluate("""async () => { const r = await fetch(document.querySelector('#maps-star img').src);
        return Array.from(new Uint8Array(await r.arrayBuffer())); }""")
    starred = np.asarray(Image.open(io.BytesIO(bytes(star))).convert("L"))
    assert np.array_equal(starred, np.kron(drawn, np.ones((4, 4), np.uint8)))
    open_tab(page, "Draw")
    clear_pad(page)
    open_tab(page, "Embeddings")
    page.wait_for_function("() => !document.querySelector('#maps-star img')", timeout=20_000)


MAPS_VIEW = "document.querySelector('#maps-view .maps-view').aeVaeMaps"
# the inset's picture of the map (model, projection) when shown: its 28x28 grey levels, else null
INSET_JS = """([model, projection]) => {
    const inset = document.querySelector(`#maps-view figure[data-model=${model}][data-projection=${projection}] .map-inset`);
    if (!inset || inset.hidden) return null;
    const c = inset.querySelector('canvas');
    return Array.from(c.getContext('2d').getImageData(0, 0, c.width, c.height).data.filter((_, i) => i % 4 === 0)); }"""


def open_maps(page) -> None:
    """Open the Embeddings tab and wait until its four live maps are drawn."""
    open_tab(page, "Embeddings")
    page.wait_for_function(f"() => {MAPS_VIEW} && {MAPS_VIEW}.data && "
                           "document.querySelectorAll('#maps-view figure.map').length === 4", timeout=60_000)


def map_area(page, model: str, projection: str):
    return page.locator(f"#maps-view figure[data-model={model}][data-projection={projection}] .map-area")


def map_point_on_page(page, model: str, projection: str, fx: float, fy: float, extents: dict
                      ) -> tuple[float, float, float, float]:
    """The page position of the point at fractions (fx, fy) of a live map (scrolled into view), and its data
    coordinates by the map's extent (`page.map_data`)."""
    area = map_area(page, model, projection)
    area.scroll_into_view_if_needed()
    box = area.bounding_box()
    x0, x1, y0, y1 = extents[model][projection]
    return (box["x"] + fx * box["width"], box["y"] + fy * box["height"], x0 + fx * (x1 - x0), y1 - fy * (y1 - y0))


@pytest.fixture(scope="module")
def mnist_extents(explorer):
    from ae_vae.app.page import map_data

    return {kind: model["extents"] for kind, model in map_data(explorer, "mnist")["models"].items()}


def test_the_live_maps_decode_under_the_pointer_in_the_page(page, explorer, mnist_extents):
    """Each of the four maps is drawn, named for assistive technology, with the drawing's star; moving the pointer
    over a map shows, inside that map, what the server decodes at that point (PCA exact, the UMAP inverse from the
    stored points and codes); leaving the map takes the inset away."""
    stroke(page, "7")
    page_drawn(page)
    open_maps(page)
    page.wait_for_function(f"() => {MAPS_VIEW}.state.star !== null", timeout=30_000)
    labels = page.locator("#maps-view figure.map").evaluate_all("(fs) => fs.map((f) => f.getAttribute('aria-label'))")
    assert len(labels) == 4 and all("test images" in label and "star" in label for label in labels), labels
    for model, projection in PANELS:
        for fx, fy in ((0.3, 0.4), (0.62, 0.71)):
            px, py, x, y = map_point_on_page(page, model, projection, fx, fy, mnist_extents)
            before = page.evaluate(f"() => {MAPS_VIEW}.decoded")
            page.mouse.move(px, py)
            page.wait_for_function(f"(n) => {MAPS_VIEW}.decoded > n", arg=before, timeout=5_000)
            shown = page.evaluate(INSET_JS, [model, projection])
            assert shown is not None, (model, projection)
            server = explorer.decode_point("mnist", model, projection, x, y).image.astype(int)
            assert np.abs(np.asarray(shown).reshape(28, 28) - server).mean() / 255 <= 0.01, (model, projection)
        page.mouse.move(2, 2)
        page.wait_for_function(INSET_JS.replace("return Array.from", "return false && Array.from").replace(
            "if (!inset || inset.hidden) return null;", "if (!inset || inset.hidden) return true;"),
            arg=[model, projection], timeout=5_000)


def test_the_live_maps_follow_the_data_set_switch(page):
    """Switched to Fashion-MNIST on the Embeddings tab: the maps are Fashion-MNIST's (legend, points), the drawing
    starred on them again."""
    stroke(page, "7")
    page_drawn(page)
    open_maps(page)
    page.wait_for_function(f"() => {MAPS_VIEW}.state.star !== null", timeout=30_000)
    page.locator("#dataset").get_by_label("Fashion-MNIST").check()
    page.wait_for_function(f"() => {MAPS_VIEW}.data.dataset === 'fashion_mnist' && {MAPS_VIEW}.state.star !== null",
                           timeout=60_000)
    legend = page.locator("#maps-view .maps-legend li").all_inner_texts()
    assert legend[0] == "T-shirt/top" and legend[-1] == "Ankle boot" and len(legend) == 10


def test_a_live_map_decodes_its_own_data_set_while_another_loads(page, explorer, mnist_extents):
    """Between a switch of data set and the new maps' arrival, the pointer is still over the shown maps: what it
    points at is decoded by their data set's model, not by the one loading."""
    open_maps(page)
    page.evaluate(f"() => {{ {MAPS_VIEW}.state = {{dataset: 'fashion_mnist', star: null}}; }}")  # its maps not in yet
    px, py, x, y = map_point_on_page(page, "vae", "pca", 0.3, 0.4, mnist_extents)
    before = page.evaluate(f"() => {MAPS_VIEW}.decoded")
    page.mouse.move(px, py)
    page.wait_for_function(f"(n) => {MAPS_VIEW}.decoded > n", arg=before, timeout=5_000)
    shown = np.asarray(page.evaluate(INSET_JS, ["vae", "pca"])).reshape(28, 28)
    server = explorer.decode_point("mnist", "vae", "pca", x, y).image.astype(int)
    assert np.abs(shown - server).mean() / 255 <= 0.01


@pytest.mark.parametrize("how", ["page", "?inference=server", "no WebAssembly"])
def test_a_tap_on_a_live_map_pins_the_point_with_its_sentence(app_url, explorer, mnist_extents, how):
    """On a phone: every map at least 340 px wide, one per row; a tap pins the point: its decode stays in the map's
    inset, inside the viewport, beside the map's sentence about its distance to the data, whether the page decodes
    it or the server does (the address asks for the server, or the browser has no WebAssembly)."""
    address = "?inference=server" if how == "?inference=server" else ""
    with chromium(viewport=SIZES["phone"][0], phone=True) as page:
        if how == "no WebAssembly":
            page.add_init_script("delete window.WebAssembly;")
        open_app(page, app_url + address)
        wait_for_engine(page, "page" if how == "page" else "server")
        open_maps(page)
        widths = page.locator("#maps-view figure.map").evaluate_all("(fs) => fs.map((f) => f.offsetWidth)")
        assert min(widths) >= 340, widths
        px, py, x, y = map_point_on_page(page, "vae", "umap", 0.5, 0.5, mnist_extents)
        page.touchscreen.tap(px, py)
        figure = "#maps-view figure[data-model=vae][data-projection=umap]"
        page.wait_for_selector(f"{figure}[data-pinned]", timeout=RECON_TIMEOUT_MS)
        assert page.locator(f"{figure} .map-text").inner_text().startswith("VAE at UMAP (")
        assert "nearest test code at" in page.locator(f"{figure} .map-text").inner_text()
        shown = page.evaluate(INSET_JS, ["vae", "umap"])
        pinned = page.evaluate(f"() => {MAPS_VIEW}.panels.find((p) => p.model === 'vae' && p.projection === 'umap')"
                               ".pinned")  # where the tap landed (the finger's point, rounded), as the page read it
        assert abs(pinned["x"] - x) < 0.1 and abs(pinned["y"] - y) < 0.1
        server = explorer.decode_point("mnist", "vae", "umap", pinned["x"], pinned["y"]).image.astype(int)
        assert np.abs(np.asarray(shown).reshape(28, 28) - server).mean() / 255 <= 0.01
        assert page.evaluate(IN_VIEW_JS.replace("'#' + id + ' img, #' + id + ' canvas'", "id"),
                             [f"{figure} .map-inset"])[f"{figure} .map-inset"]["inside"]


def test_a_walk_slider_decodes_in_the_page_while_it_moves(app, page):
    """With the server stopped, moving a walk slider still decodes the moved codes of the page's own drawing in the
    page (the model input it framed itself, not pixels read back from an image), and they are what the server computes
    for the same drawing and slider value. An example replaces the drawing: its walk is the server's."""
    import os
    import signal

    from ae_vae.app.pad import decode_payload

    stroke(page, "7")
    page.wait_for_function(f"() => {IN_PAGE} && {IN_PAGE}.drawing !== null", timeout=RECON_TIMEOUT_MS)
    page.wait_for_function("() => document.querySelector('#sketchpad canvas').aeVae.services.maps.loaded.has('mnist')",
                           timeout=30_000)  # the map data (walk directions) the server writes as it starts
    payload = page.evaluate("() => document.querySelector('#sketchpad canvas').aeVae.pad.payload('final')")
    explorer = load_explorer(None, WEIGHTS_DIR)
    os.kill(app.process.pid, signal.SIGSTOP)
    try:
        move_slider(page, "walk-1", 2.5)
        page.wait_for_function("() => document.querySelector('#sketchpad canvas').aeVae.services.walk.moves >= 1",
                               timeout=5_000)
        shown = list(in_page_images(page, ('walk-ae', 'walk-vae')).values())
    finally:
        os.kill(app.process.pid, signal.SIGCONT)
    for pixels, server in zip(shown, explorer.walk(decode_payload(payload).image(), "mnist", [2.5, 0.0, 0.0]),
                              strict=True):
        assert pixels is not None, "the page drew the moved code"
        assert np.abs(np.asarray(pixels).reshape(28, 28) - server.astype(int)).mean() / 255 <= 0.01
    page.locator("#examples button.thumbnail-item").nth(7).click()
    page.wait_for_function(f"() => {IN_PAGE}.drawing === null", timeout=5_000)


def test_the_interpolation_scrubber_decodes_in_the_page(app, page, explorer):
    """After Interpolate, dragging t decodes both models' frame in the page (with the server stopped), the frame
    the server's /interpolate_at gives for the same t; clearing the drawing pad then takes the page's images off the
    Draw tab only."""
    import os
    import signal

    stroke(page, "7")
    page_drawn(page)
    open_tab(page, "Interpolate")
    page.locator("#interpolate-button").click()
    page.wait_for_selector("#interp-codes .interp-codes", state="attached", timeout=RECON_TIMEOUT_MS)
    a, b = explorer.default_pair("mnist")
    os.kill(app.process.pid, signal.SIGSTOP)
    try:
        move_slider(page, "interp-t", 0.3)
        page.wait_for_function("() => document.querySelector('#sketchpad canvas').aeVae.services.scrub.moves >= 1",
                               timeout=5_000)
        shown = list(in_page_images(page, ('scrub-ae', 'scrub-vae')).values())
        open_tab(page, "Draw")
        clear_pad(page)  # the page takes its images away at once; the server answers once it runs again
        wait_for_page_images(page, {id_: None for id_ in OUTPUT_IDS})
        assert list(in_page_images(page, ('scrub-ae', 'scrub-vae')).values()) == shown
    finally:
        os.kill(app.process.pid, signal.SIGCONT)
    for pixels, server in zip(shown, explorer.interpolate_at(a, b, "mnist", "linear", 0.3), strict=True):
        assert pixels is not None
        assert np.abs(np.asarray(pixels).reshape(28, 28) - server.astype(int)).mean() / 255 <= 0.01


def test_without_webassembly_the_server_reconstructs_and_the_page_says_so(app_url):
    with chromium() as page:
        page.add_init_script("delete window.WebAssembly;")
        open_app(page, app_url)
        line = wait_for_engine(page, "server")
        assert "computed on the server" in line and "could not run the models" in line, line
        stroke(page, "7")
        wait_for_drawing(page, {id_: None for id_ in OUTPUT_IDS})
        assert all(v is None for v in in_page_images(page).values())


@pytest.mark.parametrize("upload, message", [("blank", "No ink"), ("broken", "not an image that can be read")])
def test_a_failed_upload_empties_the_outputs_and_says_why(page, tmp_path, upload, message):
    """A blank page (read, no ink) and a broken PNG (not even readable: Gradio's own opening fails) alike: the
    message says what is wrong in words, and nothing on screen is left from the drawing before (the images, the
    page's own reconstructions, the neighbour galleries)."""
    stroke(page, "7")
    page_drawn(page)
    galleries = "() => ['ae-neighbours', 'vae-neighbours'].map((id) => document.querySelectorAll('#' + id + ' img').length)"
    page.wait_for_function(f"() => ({galleries})().every((n) => n === 8)", timeout=RECON_TIMEOUT_MS)
    path = tmp_path / f"{upload}.png"
    if upload == "blank":
        Image.new("RGB", (300, 300), "white").save(path)
    else:
        path.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 40)
    page.locator("#upload input[type=file]").set_input_files(str(path))
    status = wait_status(page, contains=message, timeout_s=RECON_TIMEOUT_MS / 1000)
    assert status.startswith("⚠"), status  # no "Error" badge before it
    assert page.locator(".toast-body").count() == 0
    assert "Error" not in status, status  # no Python class names
    wait_for_srcs(page, {id_: None for id_ in OUTPUT_IDS})
    page.wait_for_function(f"() => ({galleries})().every((n) => n === 0)", timeout=RECON_TIMEOUT_MS)
    assert all(v is None for v in in_page_images(page).values())


def test_if_the_pads_script_fails_the_page_says_so_and_upload_works(app_url, tmp_path):
    with chromium() as page:
        page.add_init_script("HTMLCanvasElement.prototype.getContext = function () { return null; };")
        page.goto(app_url)
        page.wait_for_selector("#examples img")
        notice = page.locator("#sketchpad .pad-notice")
        assert notice.is_visible() and "did not start" in notice.inner_text()
        page.locator("#upload input[type=file]").set_input_files(str(write_digit_png(tmp_path / "digit.png")))
        status = wait_status(page, contains="upload", timeout_s=RECON_TIMEOUT_MS / 1000)
        assert "Reconstructed your upload" in status, status
        assert img_src(page, "ae-recon") and img_src(page, "vae-recon")


# ---------------------------------------------------------------- the visitor's view: a desktop's and a phone's

SIZES = {"desktop": ((1280, 800), False), "phone": ((390, 844), True)}
IN_VIEW_JS = """(ids) => Object.fromEntries(ids.map((id) => {
    const e = document.querySelector(id === 'sketchpad' ? '#sketchpad canvas' : '#' + id + ' img, #' + id + ' canvas');
    const r = e.getBoundingClientRect();
    return [id, {width: r.width, inside: r.top >= 0 && r.left >= 0 && r.bottom <= window.innerHeight
                                         && r.right <= window.innerWidth}]; }))"""


@pytest.mark.parametrize("size", SIZES)
def test_during_a_stroke_the_pad_and_the_reconstructions_are_in_view(app_url, size):
    """With the pad in view (scrolled to, as a visitor does), during a stroke the whole pad, the model input and both
    reconstructions (each >= 84 px wide) lie inside the viewport; the hint under the pad speaks of keys on a desktop and
    of a finger on a touch screen."""
    viewport, phone = SIZES[size]
    with chromium(viewport=viewport, phone=phone) as page:
        open_app(page, app_url)
        wait_for_engine(page, "page")
        page.evaluate("() => document.querySelector('#sketchpad canvas').scrollIntoView({block: 'center'})")
        seen = {}
        look = lambda: seen.update(page.evaluate(IN_VIEW_JS, ["sketchpad", *OUTPUT_IDS]))
        touch_stroke(page, "7", before_up=look) if phone else stroke(page, "7", duration_s=0.6, before_up=look)
        assert all(v["inside"] for v in seen.values()), seen
        assert all(seen[id_]["width"] >= 84 for id_ in OUTPUT_IDS), seen
        keys, touch = (page.locator(f"#sketchpad .pad-{k}").is_visible() for k in ("keys", "touch"))
        assert (keys, touch) == ((False, True) if phone else (True, False))


def test_on_a_phone_every_tab_is_in_the_bar(app_url):
    with chromium(viewport=SIZES["phone"][0], phone=True) as page:
        open_app(page, app_url)
        tabs = page.evaluate("() => [...document.querySelectorAll('.tab-container:not(.visually-hidden) button')]"
                             ".map((b) => [b.innerText.trim(), b.getBoundingClientRect().right <= innerWidth])")
        assert [name for name, _ in tabs] == ["Draw", "Interpolate", "Sample", "Embeddings", "β"], tabs
        assert all(inside for _, inside in tabs), tabs
        assert not page.locator(".overflow-menu").is_visible()


def test_while_the_page_reconstructs_the_status_line_says_drawing(page):
    """After Clear the status line says the pad is empty; during the next stroke, reconstructed in the page, it says
    what the server's path says while drawing, and after it that the drawing is reconstructed."""
    stroke(page, "7")
    page_drawn(page)
    clear_pad(page)
    wait_status(page, contains="empty", timeout_s=RECON_TIMEOUT_MS / 1000)
    during = []
    stroke(page, "1", duration_s=0.5, before_up=lambda: during.append(page.locator("#draw-status").inner_text()))
    assert during == [LIVE_STATUS], during
    assert DONE_STATUS in wait_status(page, contains=DONE_STATUS, timeout_s=RECON_TIMEOUT_MS / 1000)
    clear_pad(page)
    assert "empty" in wait_status(page, contains="empty", timeout_s=RECON_TIMEOUT_MS / 1000)


@pytest.mark.parametrize("address", ["", "?inference=server"])
def test_only_a_page_that_runs_the_models_fetches_the_runtime_and_graphs(app_url, address):
    with chromium() as page:
        fetched = []
        page.on("request", lambda request: fetched.append(request.url))
        open_app(page, app_url + address)
        wait_for_engine(page, "server" if address else "page")
        stroke(page, "7")
        wait_status(page, contains=DONE, timeout_s=RECON_TIMEOUT_MS / 1000)
        heavy = [url for url in fetched if "onnxruntime-web" in url or url.endswith(".onnx")]
        if address:
            assert heavy == [], heavy
        else:  # the runtime's two files and at least one data set's four graphs
            assert len(heavy) >= 6, heavy


# ---------------------------------------------------------------- the latent maps

def test_an_example_gets_its_neighbours_and_a_slider_walks_its_code(page):
    page.locator("#examples button.thumbnail-item").nth(7).click()  # a "7" (examples run 0-9, 0-9, ...)
    page.wait_for_function("() => document.querySelectorAll('#vae-neighbours img').length === 8",
                           timeout=RECON_TIMEOUT_MS)
    page.wait_for_function("() => document.getElementById('neighbours-summary').innerText.includes(\"VAE's 8\")",
                           timeout=RECON_TIMEOUT_MS)
    summary = page.locator("#neighbours-summary").inner_text()
    assert "sevens" in summary, summary
    before = wait_new_image(page, "walk-vae", None)
    move_slider(page, "walk-1", 2.5)
    wait_new_image(page, "walk-vae", before)


# Every thumbnail of the small galleries `ids`: cut (outside its gallery's box), under a button, or with a caption
# that is cut or covers its image; the problems as text (none: an empty list).
GALLERY_PROBLEMS_JS = """(ids) => { const problems = [], inside = (a, b) => a.left >= b.left - 1 &&
    a.right <= b.right + 1 && a.top >= b.top - 1 && a.bottom <= b.bottom + 1;
  for (const id of ids) {
    const gallery = document.getElementById(id), box = gallery.getBoundingClientRect();
    const items = [...gallery.querySelectorAll('button.thumbnail-item')];
    if (!items.length) problems.push(id + ': no thumbnails');
    const others = [...gallery.querySelectorAll('button:not(.thumbnail-item)')].filter(b => b.offsetParent);
    if (others.length) problems.push(id + ': ' + others.length + ' buttons over the thumbnails');
    items.forEach((item, i) => {
      const r = item.getBoundingClientRect(), img = item.querySelector('img').getBoundingClientRect();
      if (!inside(r, box)) problems.push(id + ' #' + i + ' cut by the gallery');
      const caption = item.querySelector('.caption-label');
      if (!caption) return;
      const c = caption.getBoundingClientRect();
      if (caption.scrollWidth > caption.clientWidth + 1) problems.push(id + ' #' + i + ' caption cut: ' + caption.innerText);
      if (c.top < img.bottom - 1) problems.push(id + ' #' + i + ' caption over its image');
    });
  }
  return problems; }"""


@pytest.mark.parametrize("viewport", [(1280, 900), (390, 844)], ids=["desktop", "phone"])
def test_the_small_galleries_show_every_thumbnail_and_caption_whole(app_url, viewport):
    """At a desktop's and a phone's size: the neighbour panel is one line of help before a drawing; after an
    example, the examples and both neighbour galleries show every thumbnail whole, none under a button, each class
    name (Fashion-MNIST's long ones) whole under its image."""
    with chromium(viewport=viewport) as page:
        page.set_default_timeout(30_000)
        open_app(page, app_url)
        page.wait_for_function("() => document.documentElement.dataset.firstOutputs === 'shown'", timeout=30_000)
        assert not page.locator("#ae-neighbours").is_visible() and not page.locator("#vae-neighbours").is_visible()
        assert page.locator("#neighbours-summary").inner_text().strip() == NEIGHBOURS_HINT
        page.locator("#dataset").get_by_label("Fashion-MNIST").check()
        page.wait_for_function("() => [...document.querySelectorAll('#examples .caption-label')]"
                               ".some(c => c.innerText === 'Ankle boot')", timeout=RECON_TIMEOUT_MS)
        page.locator("#examples button.thumbnail-item").nth(0).click()
        try:
            page.wait_for_function("() => ['ae', 'vae'].every(k => document.querySelectorAll("
                                   "'#' + k + '-neighbours .caption-label').length === 8)", timeout=RECON_TIMEOUT_MS)
        except sync_api.TimeoutError:
            pytest.fail("no neighbours after a click on an example: " + page.evaluate(
                "() => ['ae', 'vae'].map(k => document.querySelectorAll('#' + k + '-neighbours .caption-label')"
                ".length).join(', ') + '; ' + document.getElementById('neighbours-summary').innerText") +
                f"; status {wait_status(page, timeout_s=0.5)!r}")
        assert page.evaluate(GALLERY_PROBLEMS_JS, ["examples", "ae-neighbours", "vae-neighbours"]) == []


BROKEN_WORDS_JS = """(selector) => {
  const broken = [];
  for (const cell of document.querySelectorAll(selector)) {
    const walker = document.createTreeWalker(cell, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      for (const match of node.textContent.matchAll(/\\S+/g)) {
        const range = document.createRange();
        range.setStart(node, match.index); range.setEnd(node, match.index + match[0].length);
        const lines = new Set([...range.getClientRects()].map(r => Math.round(r.top)));
        if (lines.size > 1) broken.push(match[0]);
      }
    }
  }
  return broken;
}"""


def test_on_a_phone_no_word_or_number_in_a_table_is_split_across_lines(app_url):
    """The Sample tab's figures at 390x844: each word and number of the table whole on one line (a table wider than
    the column scrolls sideways instead)."""
    with chromium(viewport=(390, 844)) as page:
        page.set_default_timeout(30_000)
        open_app(page, app_url)
        page.wait_for_function("() => document.documentElement.dataset.firstOutputs === 'shown'", timeout=30_000)
        open_tab(page, "Sample")
        page.wait_for_function("() => [...document.querySelectorAll('table')].some(t => t.innerText.includes('mixture')"
                               " && t.getClientRects().length)", timeout=RECON_TIMEOUT_MS)
        cells = page.evaluate("() => [...document.querySelectorAll('td, th')].filter(c => c.getClientRects().length)"
                              ".length")
        assert cells > 0
        assert page.evaluate(BROKEN_WORDS_JS, "td, th") == []


# Every Python <-> JavaScript twin not checked on the way through a drawing above: the paths (lerp, slerp), the map
# inverses (PCA, UMAP) and the walk, the log-variance clamp, and the page's results as the server reads them.
TWINS_JS = """async ([modules, a, b, ts, points, latent, sigmas, logvar, input, result]) => {
  const at = (name) => import(new URL(modules + '/' + name, window.gradio_config.root).href);
  const [{lerp, slerp}, {posteriorStd}, {pagePart}] = await Promise.all(['scrub.js', 'models.js', 'draw.js'].map(at));
  const {config, services} = document.querySelector('#sketchpad canvas').aeVae;
  const {maps} = await services.maps.load('mnist');
  const f32 = (values) => Float32Array.from(values);
  const paths = {};
  for (const [name, along] of [['lerp', lerp], ['slerp', slerp]]) {
    paths[name] = ts.map((t) => Array.from(along(f32(a), f32(b), t)));
    paths[name + '_parallel'] = ts.map((t) => Array.from(along(f32(a), f32(a.map((v) => 2 * v)), t)));
  }
  const inverses = {}, walks = {};
  for (const kind of ['ae', 'vae']) {
    inverses[kind] = points.map(([projection, x, y]) => Array.from(maps[kind].latentAt(projection, x, y)));
    walks[kind] = Array.from(maps[kind].walk(f32(latent[kind]), sigmas));
  }
  const pixels = f32(input), arrays = {ae: f32(result.ae), vae: f32(result.vae), samples: result.samples.map(f32),
                                       aeCode: f32(result.aeCode), vaeMean: f32(result.vaeMean)};
  return {paths, inverses, walks, std: Array.from(posteriorStd(f32(logvar), config.logvar_range)),
          part: pagePart('mnist', true, pixels, arrays)};
}"""


def test_each_page_twin_computes_what_python_does(page, explorer):
    from ae_vae.app.contract import PAGE_MODULES
    from ae_vae.app.pad import decode_payload
    from ae_vae.app.page import file_url
    from ae_vae.latent.paths import lerp, slerp
    from ae_vae.models.config import LOGVAR_RANGE
    from ae_vae.runtime import Posterior

    page.wait_for_function("() => document.querySelector('#sketchpad canvas').aeVae.services.maps.loaded.has('mnist')",
                           timeout=30_000)
    rng = np.random.default_rng(3)
    pair = explorer.models("mnist")
    a, b = rng.normal(size=32).astype(np.float32), rng.normal(size=32).astype(np.float32)
    ts = [0.0, 0.25, 0.5, 0.9, 1.0]
    navigators = {kind: explorer.navigator("mnist", kind) for kind in ("ae", "vae")}
    umap, pca = pair.vae_maps.umap, pair.vae_maps.pca
    points = [("pca", float(x), float(y)) for x, y in pca[:3] + rng.normal(0, 0.5, (3, 2))] + \
             [("umap", float(x), float(y)) for x, y in umap[:3] + rng.normal(0, 0.5, (3, 2))]
    latent = {kind: getattr(pair, f"{kind}_maps").latents[5].tolist() for kind in ("ae", "vae")}
    sigmas = [1.5, -2.0, 0.5]
    logvar = [-45.0, -30.0, -2.5, 0.0, 3.0, 20.0, 31.0]
    pixels = rng.random(784).astype(np.float32)
    result = {"ae": rng.random(784).tolist(), "vae": rng.random(784).tolist(),
              "samples": [rng.random(784).tolist() for _ in range(4)], "aeCode": rng.normal(size=32).tolist(),
              "vaeMean": rng.normal(size=32).tolist()}
    got = page.evaluate(TWINS_JS, [file_url(PAGE_MODULES), a.tolist(), b.tolist(), ts, points, latent, sigmas,
                                   logvar, pixels.tolist(), result])

    for name, along in (("lerp", lerp), ("slerp", slerp)):
        np.testing.assert_allclose(got["paths"][name], along(a, b, np.array(ts)), atol=1e-5)
        np.testing.assert_allclose(got["paths"][name + "_parallel"], along(a, 2 * a, np.array(ts)), atol=1e-5)
    for kind, navigator in navigators.items():
        for (projection, x, y), js in zip(points, got["inverses"][kind], strict=True):
            np.testing.assert_allclose(js, navigator.latent_at(projection, x, y)[0], atol=1e-4, err_msg=projection)
        np.testing.assert_allclose(got["walks"][kind], navigator.walk(np.array(latent[kind]), sigmas), atol=1e-5)
    np.testing.assert_allclose(got["std"], Posterior.clamped(np.zeros(7), np.array(logvar)).std.astype(np.float32),
                               rtol=1e-6)
    assert got["std"][0] == got["std"][1] and got["std"][-1] == got["std"][-2] == np.float32(np.exp(0.5 * LOGVAR_RANGE[1]))
    sent = decode_payload("final:1x1:AA==" + got["part"]).page
    assert (sent.dataset, sent.fill_outlines) == ("mnist", True)
    assert np.array_equal(sent.model_input.ravel(), np.floor(np.clip(pixels, 0, 1) * 255 + 0.5).astype(np.uint8))
    np.testing.assert_array_equal(sent.codes["ae"], np.float32(result["aeCode"]))
    np.testing.assert_array_equal(sent.codes["vae"], np.float32(result["vaeMean"]))
    expected = [np.mean((np.float32(image) - pixels) ** 2) for image in (result["ae"], result["vae"], *result["samples"])]
    np.testing.assert_allclose(sent.errors, expected, rtol=1e-5)


KNOB = "document.querySelector('#knob-view .knob-view').aeVaeKnob"
BETA_SLIDER, BETA_RECON, BETA_SAMPLES = f"#{KNOB_ELEMENTS['slider']}", KNOB_ELEMENTS["recon"], KNOB_ELEMENTS["samples"]
RING_RGB = (0xd6, 0x27, 0x28)  # the curve's ring at β (betaview.js)


def curve_ring(page) -> tuple[float, float]:
    """The centre of the rate–distortion plot's ring at β, in canvas pixels (the mean of its colour's pixels)."""
    return tuple(page.evaluate("""(rgb) => { const c = document.querySelector('#knob-view .knob-curve canvas');
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        let x = 0, y = 0, n = 0;
        for (let i = 0; i < d.length; i += 4) {
          if (Math.abs(d[i] - rgb[0]) + Math.abs(d[i + 1] - rgb[1]) + Math.abs(d[i + 2] - rgb[2]) < 30) {
            const p = i / 4; x += p % c.width; y += Math.floor(p / c.width); n += 1; } }
        if (!n) throw new Error('no ring on the curve');
        return [x / n, y / n]; }""", list(RING_RGB)))


def canvas_bytes(page, elem_id: str) -> list[int]:
    """A canvas's pixels as grey levels (its red channel)."""
    return page.evaluate("""(id) => { const c = document.getElementById(id);
        return Array.from(c.getContext('2d').getImageData(0, 0, c.width, c.height).data.filter((_, i) => i % 4 === 0)); }""",
                         elem_id)


def test_the_kl_knob_follows_the_slider_in_the_page_with_the_server_stopped(app, page, explorer):
    """The β tab takes the Draw tab's drawing; with the server stopped, dragging the slider still changes the
    reconstruction's pixels (computed in the page from the knob's graphs), and the page's reconstruction, rate and
    distortion at a β are what the server computes for the same drawing; the N(0, I) draws are /beta_sample's grid
    at that β (16 draws, seed 0), and the curve's ring has moved up the rate and down the distortion."""
    import os
    import signal

    stroke(page, "7")
    page_drawn(page)
    open_tab(page, "β")
    page.wait_for_function(f"() => {KNOB} && {KNOB}.inPage && {KNOB}.drawing && {KNOB}.painted >= 1",
                           timeout=60_000)
    assert page.locator(BETA_SLIDER).get_attribute("type") == "range"
    first, first_draws, first_ring = canvas_bytes(page, BETA_RECON), canvas_bytes(page, BETA_SAMPLES), curve_ring(page)
    drawing = np.frombuffer(base64.b64decode(page.evaluate(f"() => {KNOB}.state.drawing")), np.uint8).reshape(28, 28)
    box = page.locator(BETA_SLIDER).bounding_box()
    y = box["y"] + box["height"] / 2
    os.kill(app.process.pid, signal.SIGSTOP)
    try:
        painted = page.evaluate(f"() => {KNOB}.painted")
        page.mouse.move(box["x"] + 0.5 * box["width"], y)
        page.mouse.down()
        for i in range(12):
            page.mouse.move(box["x"] + (0.5 - 0.04 * (i + 1)) * box["width"], y)
            page.wait_for_timeout(60)
        page.mouse.up()
        page.wait_for_function(f"(n) => {KNOB}.painted > n + 2", arg=painted, timeout=10_000)
        beta = page.evaluate(f"() => {KNOB}.beta")
        page.wait_for_function(f"() => {KNOB}.point && {KNOB}.point.beta === {KNOB}.beta", timeout=10_000)
        shown, draws, ring = canvas_bytes(page, BETA_RECON), canvas_bytes(page, BETA_SAMPLES), curve_ring(page)
        point = page.evaluate(f"() => {KNOB}.point")
    finally:
        os.kill(app.process.pid, signal.SIGCONT)
    assert shown != first, "the reconstruction changed as β moved"
    assert draws != first_draws, "the draws changed as β moved"
    grid = explorer.knob("mnist").sample(beta, 16, 0)  # what /beta_sample("mnist", β, 16, 0) sends
    assert np.abs(np.asarray(draws).reshape(grid.shape) - grid.astype(int)).max() <= 2
    assert ring[0] < first_ring[0] - 2 and ring[1] < first_ring[1] - 2, (first_ring, ring)  # left and up: β fell
    server = explorer.knob("mnist").reconstruct(drawing.astype(np.float32)[None, None] / 255.0, beta)
    assert np.abs(np.asarray(shown).reshape(28, 28) - server.image.astype(int)).max() <= 2
    assert abs(point["rate"] - server.rate) <= 0.01 * max(1.0, server.rate)
    assert abs(point["distortion"] - server.distortion) <= 0.01 * server.distortion


def test_while_another_data_sets_knob_loads_the_slider_waits_for_it(page, explorer):
    """Switching the data set on the β tab: until that data set's knob has loaded, the slider is disabled (so no β
    is read against a range its labels do not show); then it has the new range, at β = 1."""
    stroke(page, "7")
    page_drawn(page)
    open_tab(page, "β")
    page.wait_for_function(f"() => {KNOB} && {KNOB}.painted >= 1 && {KNOB}.shown === 'mnist'", timeout=60_000)
    painted = page.evaluate(f"""() => {{ const knob = {KNOB}; window.__knobSeen = {{loading: 0, enabled: 0}};
        window.__knobLook = setInterval(() => {{ if (knob.state.dataset !== knob.shown) {{
            window.__knobSeen.loading += 1; if (!knob.slider.disabled) window.__knobSeen.enabled += 1; }} }}, 1);
        return knob.painted; }}""")
    page.locator("#dataset").get_by_label("Fashion-MNIST").check()
    page.wait_for_function(f"(n) => {KNOB}.shown === 'fashion_mnist' && {KNOB}.painted > n", arg=painted,
                           timeout=60_000)
    seen = page.evaluate("() => { clearInterval(window.__knobLook); return window.__knobSeen; }")
    assert seen["loading"] > 0, "the load was seen"
    assert seen["enabled"] == 0, f"the slider could move while the knob loaded: {seen}"
    low, high = explorer.knob("fashion_mnist").beta_range
    assert page.evaluate(f"() => [{KNOB}.slider.disabled, {KNOB}.beta]") == [False, 1]
    assert page.locator("#knob-view .knob-low").inner_text().startswith(f"{low:g} ·")
    assert page.locator("#knob-view .knob-high").inner_text().startswith(f"{high:g} ·")


KNOB_MAP = "#knob-view .knob-map"


def inset_image(page) -> np.ndarray:
    """The β map's inset as 28 x 28 grey levels (its red channel)."""
    return np.array(page.evaluate(f"""() => {{ const c = document.querySelector('{KNOB_MAP} .map-inset canvas');
        return Array.from(c.getContext('2d').getImageData(0, 0, c.width, c.height).data.filter((_, i) => i % 4 === 0)); }}"""),
        int).reshape(28, 28)


def knob_map_point(page, which: str) -> dict:
    return page.evaluate(f"() => {{ const s = {KNOB}.{which}; return {{x: s.x, y: s.y, beta: s.beta}}; }}")


def test_the_kl_knobs_map_decodes_the_point_under_the_pointer_and_a_pinned_point_follows_beta(page, explorer):
    """Over the β tab's map the page decodes the point under the pointer at β into the map's inset; a click pins it,
    and when β moves the pinned point is decoded at the new β: each image is the server's decode of that point of
    the map at that β (within 2 grey levels)."""
    open_tab(page, "β")
    page.wait_for_function(f"() => {KNOB} && {KNOB}.inPage && {KNOB}.data && !{KNOB}.body.hidden", timeout=60_000)
    page.locator(f"{KNOB_MAP} .map-area").scroll_into_view_if_needed()
    box = page.locator(f"{KNOB_MAP} .map-area").bounding_box()
    at = (box["x"] + 0.35 * box["width"], box["y"] + 0.6 * box["height"])
    shown = page.evaluate(f"() => {KNOB}.spots")
    page.mouse.move(*at)
    page.wait_for_function(f"(n) => {KNOB}.spots > n && {KNOB}.hovered && {KNOB}.hovered.image", arg=shown)
    hovered = knob_map_point(page, "hovered")
    assert "under the pointer" in page.locator(f"{KNOB_MAP} .map-inset span").inner_text()
    server = explorer.beta_map_point("mnist", hovered["beta"], hovered["x"], hovered["y"])
    assert np.abs(inset_image(page) - server.astype(int)).max() <= 2

    page.mouse.click(*at)
    page.mouse.move(box["x"] + box["width"] + 40, at[1])  # off the map: the inset shows the pinned point
    page.locator(BETA_SLIDER).focus()
    for _ in range(60):
        page.keyboard.press("ArrowLeft")
    page.wait_for_function(f"() => {KNOB}.pinned && !{KNOB}.hovered && {KNOB}.pinned.beta === {KNOB}.beta "
                           f"&& {KNOB}.beta < {hovered['beta']}", timeout=10_000)
    pinned = knob_map_point(page, "pinned")
    assert "pinned" in page.locator(f"{KNOB_MAP} .map-inset span").inner_text()
    server = explorer.beta_map_point("mnist", pinned["beta"], pinned["x"], pinned["y"])
    assert np.abs(inset_image(page) - server.astype(int)).max() <= 2


def test_on_the_server_path_the_kl_knob_decodes_on_release(server_page, explorer):
    """Where the page does not run the models, the β tab's drawing and draws come from the server when the slider is
    let go (the keyboard moves it here), and are what the server computes (the draws: /beta_sample's grid); a tap on the map shows the server's
    decode of that point at β; the runtime and the knob's graphs are never fetched."""
    stroke(server_page, "7")
    wait_status(server_page, DONE)
    open_tab(server_page, "β")
    server_page.wait_for_function(f"() => {KNOB} && {KNOB}.point && !{KNOB}.inPage", timeout=30_000)
    before = server_page.evaluate(f"() => {KNOB}.painted")
    server_page.locator(BETA_SLIDER).focus()
    for _ in range(40):
        server_page.keyboard.press("ArrowLeft")
    server_page.wait_for_function(f"(n) => {KNOB}.painted > n && {KNOB}.point.beta === {KNOB}.beta", arg=before,
                                  timeout=10_000)
    beta = server_page.evaluate(f"() => {KNOB}.beta")
    assert beta < 1
    drawing = np.frombuffer(base64.b64decode(server_page.evaluate(f"() => {KNOB}.state.drawing")), np.uint8)
    server = explorer.knob("mnist").reconstruct(drawing.reshape(1, 1, 28, 28).astype(np.float32) / 255.0, beta)
    assert canvas_bytes(server_page, BETA_RECON) == server.image.reshape(-1).tolist()
    assert canvas_bytes(server_page, BETA_SAMPLES) == explorer.knob("mnist").sample(beta, 16, 0).reshape(-1).tolist()
    server_page.locator(f"{KNOB_MAP} .map-area").scroll_into_view_if_needed()
    box = server_page.locator(f"{KNOB_MAP} .map-area").bounding_box()
    server_page.mouse.click(box["x"] + 0.7 * box["width"], box["y"] + 0.3 * box["height"])  # the server decodes it
    server_page.wait_for_function(f"() => {KNOB}.pinned && {KNOB}.pinned.image", timeout=10_000)
    pinned = knob_map_point(server_page, "pinned")
    assert pinned["beta"] == beta
    assert np.array_equal(inset_image(server_page), explorer.beta_map_point("mnist", beta, pinned["x"], pinned["y"]))
    fetched = server_page.evaluate("() => performance.getEntriesByType('resource').map((e) => e.name)")
    assert not [name for name in fetched if name.endswith(".onnx") or ".wasm" in name], fetched


@pytest.mark.parametrize("address", ["", "?inference=server"])
def test_a_page_opened_as_the_server_starts_logs_no_error(tmp_path, address):
    """Its own server, opened the moment it answers, the β tab and the maps at once: the page waits for the data
    files the server is still writing (`page.PageData`) instead of requesting them, so the console stays free of
    errors and every request succeeds, and both tabs load (on either path)."""
    problems: list[str] = []
    with (app_server(WEIGHTS_DIR, log_path=tmp_path / "app.log", timeout=SERVER_TIMEOUT_S, poll_s=0.02) as fresh,
          chromium() as page):
        page.on("console", lambda m: m.type == "error" and problems.append(f"console: {m.text}"))
        page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
        page.on("response", lambda r: r.status >= 400 and problems.append(f"HTTP {r.status}: {r.url}"))
        open_app(page, fresh.url + address)
        open_tab(page, "β")
        page.wait_for_function(f"() => {KNOB} && {KNOB}.data !== null", timeout=60_000)
        open_maps(page)
    assert not problems, problems


RETRIED_JS = """async (modules) => {
  const at = (name) => import(new URL(modules + '/' + name, window.gradio_config.root).href);
  const [{retried, NeverComing}, {PageMaps}] = await Promise.all(['services.js', 'maps.js'].map(at));
  let passing = 0, never = 0;
  const value = await retried(async () => { passing += 1; if (passing < 2) throw new Error('the network'); return 7; });
  const said = await retried(async () => { never += 1; throw new NeverComing('no such file'); })
    .then(() => 'loaded', (err) => err.message);
  let asked = 0;  // maps whose server has no map data: asked once, however often they are used
  const maps = new PageMaps({maps: {mnist: 'none.json'}, data_asks: 3}, window.gradio_config.root,
                            async () => { asked += 1; return 'missing'; });
  for (let i = 0; i < 3; i++) await maps.load('mnist').catch(() => null);
  return {value, passing, never, said, asked};
}"""


def test_a_data_file_load_is_tried_again_after_a_passing_failure_and_not_after_a_final_answer(page):
    """The page's one retry of its data files (`retried` in services.js): a network failure is tried again; the
    server's "missing" (`NeverComing`) ends it at once, and a part that heard it does not ask again."""
    modules = page.evaluate("() => document.querySelector('#sketchpad canvas').aeVae.config.modules")
    assert page.evaluate(RETRIED_JS, modules) == {"value": 7, "passing": 2, "never": 1, "said": "no such file",
                                                  "asked": 1}
