"""The Draw tab in a real browser: headless Chromium draws with the mouse and a finger; the reconstructions follow.

Starts `app.py` as a subprocess on a free port (bundled weights; env AE_VAE_WEIGHTS_DIR overrides the folder)
and drives the system Chromium (/usr/bin/chromium; env CHROMIUM_PATH) with Playwright's Python API.
Skips, with the reason, when the weights, Chromium or the playwright package are missing.
Never run `playwright install`: the system browser is used.
"""

from __future__ import annotations

import base64
import io

import numpy as np
import pytest
from PIL import Image

from ae_vae.app.figures import PANELS
from ae_vae.app.pad import encode_payload
from ae_vae.app.sources import load_explorer

# One way to find the weights and Chromium, start the app and drive the pad, shared with the benchmarks
# (conftest puts the repo root on sys.path).
from bench.common import DEFAULT_WEIGHTS_DIR as WEIGHTS_DIR
from bench.common import (
    app_server,
    chromium,
    clear_pad,
    click_image_pixel,
    image_geometry,
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

SERVER_TIMEOUT_S = 60
RECON_TIMEOUT_MS = 15_000
OUTPUT_IDS = ("model-input", "ae-recon", "vae-recon")
DONE = "Reconstructed your drawing"

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
def app_url(tmp_path_factory):
    """`python app.py` on a free port, serving once its HTTP port answers; terminated on teardown."""
    with app_server(WEIGHTS_DIR, log_path=tmp_path_factory.mktemp("browser-app") / "app.log",
                    timeout=SERVER_TIMEOUT_S) as app:
        yield app.url


@pytest.fixture
def page(app_url):
    with chromium() as page:
        page.set_default_timeout(30_000)
        open_app(page, app_url)
        yield page


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


def model_input_stats(page) -> dict[str, float]:
    """Size and brightness of the displayed 28x28 model input (a digit: white strokes on black)."""
    return page.evaluate("""() => {
        const img = document.querySelector('#model-input img');
        const c = document.createElement('canvas'); c.width = img.naturalWidth; c.height = img.naturalHeight;
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
    drawn = wait_for_drawing(page, before)
    page.screenshot(path=str(tmp_path / "draw.png"), full_page=True)
    assert not page.locator("#sketchpad .pad-hint").is_visible()
    stats = model_input_stats(page)
    assert (stats["width"], stats["height"]) == (28, 28), stats
    assert stats["max"] > 128 and stats["mean"] < 100, f"the model input does not look like a drawn digit: {stats}"

    page.locator("#examples button.thumbnail-item").nth(3).click()
    page.wait_for_function("""(before) => ['model-input', 'ae-recon', 'vae-recon'].every(id => {
        const img = document.querySelector('#' + id + ' img'); return img && img.src !== before[id]; })""",
                           arg=drawn, timeout=RECON_TIMEOUT_MS)
    status = wait_status(page, contains="test example #3")
    assert "⚠" not in status and "test example #3" in status, status


def test_reconstructions_follow_the_pen_before_pointer_up(page):
    """A slow 2-second stroke: the AE and VAE images change while the button is still down, and once more after."""
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
    empty = srcs(page)
    stroke(page, "1")
    first = wait_for_drawing(page, empty)
    stroke(page, [(-0.6, 0.0), (0.6, 0.0)])  # a bar across the "1"
    second = wait_for_drawing(page, first)
    assert all(second[id_] != first[id_] for id_ in OUTPUT_IDS)

    page.keyboard.press("Control+z")
    wait_for_srcs(page, first)  # the same images: undo re-sends the earlier drawing exactly
    page.locator("#sketchpad .pad-undo").click()  # and undoing the last stroke empties the pad
    wait_for_srcs(page, {id_: None for id_ in OUTPUT_IDS})
    assert "draw a digit" in wait_status(page, contains="draw a digit")


def test_reconstruct_on_an_empty_pad_says_so_beside_the_pad(page):
    """The status line is in view at 1280x900 without scrolling, and an empty pad's Reconstruct is said there,
    with the outputs emptied: no error pop-up over stale images."""
    empty = srcs(page)
    stroke(page, "7")
    wait_for_drawing(page, empty)
    clear_pad(page)
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
    empty = srcs(page)
    stroke(page, "L")
    wait_for_drawing(page, empty)
    if how == "button":
        clear_pad(page)
    else:
        page.keyboard.press("Delete")
    wait_for_srcs(page, {id_: None for id_ in OUTPUT_IDS})
    status = wait_status(page, contains="draw a digit")
    assert "draw a digit" in status and "⚠" not in status, status
    assert page.locator("#sketchpad .pad-hint").is_visible()
    assert page.evaluate("() => document.querySelector('#sketchpad canvas').aeVaePad.payload('final')") == ""


def test_a_touch_stroke_draws(page):
    """Touch events from the Chrome DevTools Protocol: the page gets touch pointer events, as on a phone."""
    page.evaluate(TRACE_JS, list(OUTPUT_IDS))
    touch_stroke(page, "7")
    wait_for_drawing(page, {id_: None for id_ in OUTPUT_IDS})
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
    assert canvas.evaluate("c => c.aeVaePad.payload('final')") == encode_payload(alpha, "final")


@pytest.mark.parametrize("upload, message", [("blank", "No ink"), ("broken", "not an image that can be read")])
def test_a_failed_upload_empties_the_outputs_and_says_why(page, tmp_path, upload, message):
    """A blank page (read, no ink) and a broken PNG (not even readable: Gradio's own opening fails) alike."""
    empty = srcs(page)
    stroke(page, "7")
    wait_for_drawing(page, empty)
    path = tmp_path / f"{upload}.png"
    if upload == "blank":
        Image.new("RGB", (300, 300), "white").save(path)
    else:
        path.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 40)
    page.locator("#upload input[type=file]").set_input_files(str(path))
    status = wait_status(page, contains=message, timeout_s=RECON_TIMEOUT_MS / 1000)
    assert status.startswith("⚠"), status  # no "Error" badge before it
    assert page.locator(".toast-body").count() == 0
    wait_for_srcs(page, {id_: None for id_ in OUTPUT_IDS})


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


# ---------------------------------------------------------------- the latent maps

def test_a_click_on_a_map_shows_the_point_decoded(page):
    """Embeddings tab: a click on the VAE's UMAP map shows that point decoded, with its distance to the data; a
    click on the AE's PCA map adds the AE's beside it; a click off the plot areas says so."""
    rendered = load_explorer(None, WEIGHTS_DIR).rendered_maps("mnist")  # the same figure the app renders
    open_tab(page, "Embeddings")
    plain = wait_new_image(page, "maps-plot", None, timeout_ms=60_000)
    geometry = image_geometry(page, "maps-plot")
    assert (geometry["natural_width"], geometry["natural_height"]) == rendered.pixels.shape[1::-1]
    assert geometry["object_fit"] == "scale-down", geometry  # what Gradio's evt.index assumes
    maps = plain
    for model, projection in (("vae", "umap"), ("ae", "pca")):
        left, top, right, bottom = rendered.boxes[PANELS.index((model, projection))]
        click_image_pixel(page, "maps-plot", (left + right) / 2, (top + bottom) / 2)
        wait_new_image(page, f"click-{model}", None)
        maps = wait_new_image(page, "maps-plot", maps)  # with the crosshair (a click while it loads is lost)
        page.wait_for_function("(id) => document.getElementById(id).innerText.includes('nearest test code at')",
                               arg=f"click-{model}-text", timeout=RECON_TIMEOUT_MS)
        text = page.locator(f"#click-{model}-text").inner_text()
        assert text.startswith(f"{model.upper()} at {projection.upper()} ("), text
        assert image_geometry(page, f"click-{model}")["natural_width"] == 28
    assert img_src(page, "click-vae") is not None  # the VAE's decode stays beside the AE's
    click_image_pixel(page, "maps-plot", 2, 2)
    page.wait_for_function("() => document.getElementById('click-status').innerText.includes('outside the plot')",
                           timeout=RECON_TIMEOUT_MS)


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
