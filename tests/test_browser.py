"""The Draw tab in a real browser: headless Chromium draws a digit with the mouse, the reconstructions appear.

Starts `app.py` as a subprocess on a free port (bundled weights; env AE_VAE_WEIGHTS_DIR overrides the folder)
and drives the system Chromium (/usr/bin/chromium; env CHROMIUM_PATH) with Playwright's Python API.
Skips, with the reason, when the weights, Chromium or the playwright package are missing.
Never run `playwright install`: the system browser is used.
"""

from __future__ import annotations

import pytest

# One way to find the weights and Chromium, start the app and drive the pad, shared with the benchmarks
# (conftest puts the repo root on sys.path).
from bench.common import DEFAULT_WEIGHTS_DIR as WEIGHTS_DIR
from bench.common import app_server, chromium, img_src, not_ready, open_app, select_brush, stroke, wait_status

SERVER_TIMEOUT_S = 60
RECON_TIMEOUT_MS = 10_000
OUTPUT_IDS = ("model-input", "ae-recon", "vae-recon")

_problem = not_ready(WEIGHTS_DIR)
if _problem:
    pytest.skip(_problem, allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")


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


def wait_for_new_images(page, before: dict[str, str | None]) -> dict[str, str | None]:
    """Wait (<= 10 s) until every output's <img> has a src different from `before` and has loaded."""
    try:
        page.wait_for_function("""([ids, before]) => ids.every(id => {
            const img = document.querySelector('#' + id + ' img');
            return img && img.src && img.src !== before[id] && img.complete && img.naturalWidth > 0; })""",
                               arg=[list(OUTPUT_IDS), before], timeout=RECON_TIMEOUT_MS, polling=100)
    except sync_api.TimeoutError:
        state = page.evaluate("""(ids) => ids.map(id => { const img = document.querySelector('#' + id + ' img');
            return img ? `${id}: ${img.src.slice(-80)} complete=${img.complete} w=${img.naturalWidth}`
                       : `${id}: -`; })""", list(OUTPUT_IDS))
        pytest.fail(f"no new images within {RECON_TIMEOUT_MS} ms; before {before}; now {state}; "
                    f"status {wait_status(page, timeout_s=0.5)!r}")
    return srcs(page)


def draw_seven(page) -> None:
    """A "7": one stroke, a horizontal bar then a diagonal, over the middle of the pad.

    Gradio 6.31's Sketchpad starts with no tool selected and ignores strokes until the Brush is chosen,
    as a user must."""
    select_brush(page)
    stroke(page, "7")


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

    draw_seven(page)
    drawn = wait_for_new_images(page, before)
    page.screenshot(path=str(tmp_path / "draw.png"), full_page=True)

    status = wait_status(page)
    assert "⚠" not in status and "reconstructed your drawing" in status.lower(), status
    stats = model_input_stats(page)
    assert (stats["width"], stats["height"]) == (28, 28), stats
    assert stats["max"] > 128 and stats["mean"] < 100, f"the model input does not look like a drawn digit: {stats}"

    page.locator("#examples button.thumbnail-item").nth(3).click()
    picked = wait_for_new_images(page, drawn)
    assert all(picked[id_] != drawn[id_] for id_ in OUTPUT_IDS), (drawn, picked)
    status = wait_status(page)
    assert "⚠" not in status and "test example #3" in status, status
    page.screenshot(path=str(tmp_path / "example.png"), full_page=True)
