"""Screenshots of every tab of the running app, for the README: a docs generator, not a benchmark.

Writes docs/screenshots/{draw,interpolate,sample,embeddings,beta}.png at a desktop's size (1280x900) and
docs/screenshots/{draw,interpolate,sample,embeddings,beta}-phone.png at a phone's (390x844, a touch screen).

    python docs/make_screenshots.py                            # bundled weights/ (the real ones)
    AE_VAE_WEIGHTS_DIR=/tmp/devw python docs/make_screenshots.py --out /tmp/shots

Starts `app.py` on a free port (`--threads 1` unless told otherwise), drives the system Chromium
(/usr/bin/chromium, headless) with Playwright, one tab after the other:

- Draw: a "7" drawn on the pad (with the mouse; on the phone with a finger), once the status line says it is
  reconstructed and the model
  input, both reconstructions and the posterior samples are shown;
- Interpolate: after clicking Interpolate (the two decoded paths and the typicality profile);
- Sample: the prior "mixture fitted to the training codes" and a class (`--sample-class`, default 7), so the
  grids show class-conditional samples;
- Embeddings: the live maps (opening the tab stars the drawing on them) and both decoded PCA planes, then a
  click (a tap) at the drawing's star on each model's UMAP map: each point pinned, its decode in the map's inset
  and its sentence under the map;
- β: the KL knob with the drawing, turned to β = 0.2 (the page's reconstruction, draws, curve and map there).

Each picture is the tab's part of the page, from the tab bar down: Draw to the typicality line (not the examples,
the walk and the codes below), Interpolate to the typicality profile, Sample, Embeddings and β whole. The intro above
the tabs and the rest would only make the README's thumbnails smaller. Every wait fails with a message naming what
did not arrive; error toasts or error badges on the page fail the run too. The lines printed are seconds from the
action (stroke, click, choice) until its images are shown, as a rough check, not a benchmark.

Starting the app and driving Chromium and the pad use `tests/support/harness.py`, the same helpers the browser
benchmarks and the browser tests use, so they cannot drift apart; they live there rather than in the `ae_vae`
package because the package is what the Space ships, and Playwright and subprocesses are not.
"""

from __future__ import annotations

import sys
import time
from argparse import Namespace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from ae_vae.app.draw import DONE_STATUS
from bench.common import argument_parser
from tests.support.harness import (
    ROOT,
    SHAPES,
    app_server,
    chromium,
    exit_unless_ready,
    img_src,
    open_app,
    open_tab,
    stroke,
    touch_stroke,
    wait_status,
)

# Gradio's progress trackers still showing (an event of the page is pending)
PENDING_JS = """() => [...document.querySelectorAll('[data-testid=status-tracker]')]
                      .filter(e => !e.classList.contains('hide') && e.offsetParent !== null).length"""
# every `#id img` of `ids` shows a loaded image whose src is not `before[id]`
LOADED_JS = """([ids, before]) => ids.every(id => { const img = document.querySelector('#' + id + ' img');
    return img && img.src && img.src !== (before[id] || null) && img.complete && img.naturalWidth > 0; })"""
# Gradio's error toasts (a handler raised) and error badges on components
ERRORS_JS = """() => [...[...document.querySelectorAll('.toast-body')].filter(e => /\\berror\\b/.test(e.className)),
                      ...[...document.querySelectorAll('[data-testid=status-tracker]')]
                         .filter(e => e.offsetParent !== null && /\\berror\\b/i.test(e.innerText))]
    .map(e => e.innerText.trim().replace(/\\s+/g, ' '))"""
# the <img> of every captioned output image (`gradio_io.output_image`) whose caption contains `text`, all loaded
CAPTIONED_JS = """(text) => { const imgs = [...document.querySelectorAll('.captioned')]
    .filter(c => (c.querySelector('.image-caption') || {innerText: ''}).innerText.includes(text))
    .map(c => c.querySelector('img'));
    return imgs.length > 0 && imgs.every(i => i && i.complete && i.naturalWidth > 0); }"""
# every `#id` of `ids` shows the page's own image, or a loaded image whose src is not `before[id]`
DRAWN_JS = LOADED_JS.replace("ids.every(id => {", "ids.every(id => { if (document.getElementById(id).dataset.inPage) "
                                                  "return true;")
DRAW_IDS = ["model-input", "ae-recon", "vae-recon"]
INTERPOLATE_IDS = ["interp-ae", "interp-vae", "interp-profile"]
SAMPLE_IDS = ["sample-ae", "sample-vae", "sample-ae-fitted"]
MIXTURE = "mixture fitted to the training codes"


def srcs(page, ids: list[str]) -> dict[str, str | None]:
    return {id_: img_src(page, id_) for id_ in ids}


def check_no_errors(page, where: str) -> None:
    errors = page.evaluate(ERRORS_JS)
    if errors:
        raise RuntimeError(f"{where}: the page shows errors: {errors}")


def wait_idle(page, start: float, timeout_s: float) -> None:
    """Wait until no progress tracker shows (one may come and go before the first poll when the event is fast)."""
    deadline = start + timeout_s
    seen = False
    while time.monotonic() < deadline:
        pending = page.evaluate(PENDING_JS)
        seen = seen or pending > 0
        if pending == 0 and (seen or time.monotonic() - start > 1.5):
            return
        time.sleep(0.1)
    raise TimeoutError(f"events still pending after {timeout_s:.0f} s")


def wait_loaded(page, ids: list[str], before: dict[str, str | None] | None = None, timeout_s: float = 60.0,
                what: str = "") -> None:
    """Wait until every `#id img` shows a loaded image other than `before`'s; say which did not."""
    try:
        page.wait_for_function(LOADED_JS, arg=[ids, before or {}], timeout=timeout_s * 1000, polling=100)
    except Exception as exc:  # Playwright's TimeoutError
        raise TimeoutError(f"{what}: no new loaded image within {timeout_s:.0f} s in all of {ids}; "
                           f"before {before}, now {srcs(page, ids)}") from exc


def wait_captioned(page, caption: str, timeout_s: float, what: str) -> None:
    """Wait until the output image captioned `caption` (a part of it) shows a loaded image (scrolled to: a browser
    loads an image far below the viewport only when it comes near)."""
    page.get_by_text(caption, exact=True).last.scroll_into_view_if_needed()
    try:
        page.wait_for_function(CAPTIONED_JS, arg=caption, timeout=timeout_s * 1000, polling=100)
    except Exception as exc:  # Playwright's TimeoutError
        raise TimeoutError(f"{what}: no image under {caption!r} within {timeout_s:.0f} s") from exc


def choose_dropdown(page, elem_id: str, option: str) -> None:
    """Pick `option` (its shown name) in the gr.Dropdown `elem_id`."""
    page.locator(f"#{elem_id} input").click()
    page.get_by_role("option", name=option, exact=True).first.click()


def tab_clip(page, last_selector: str | None, margin: int = 16) -> dict[str, float]:
    """The page region from the tab bar to the bottom of `last_selector` (None: of the open tab), full width."""
    box = page.evaluate("""(sel) => { const top = document.querySelector('[role=tablist]').getBoundingClientRect();
        const panels = [...document.querySelectorAll('[role=tabpanel]')].filter(e => e.offsetParent !== null);
        const last = (sel ? document.querySelector(sel) : panels[panels.length - 1]).getBoundingClientRect();
        return {top: top.top + window.scrollY, bottom: last.bottom + window.scrollY,
                width: document.documentElement.clientWidth}; }""", last_selector)
    top = max(0.0, box["top"] - margin)
    return {"x": 0, "y": top, "width": box["width"], "height": box["bottom"] + margin - top}


def shoot(page, path: Path, last_selector: str | None = None) -> None:
    """A picture of the open tab down to `last_selector` (None: all of it), without hover highlights or the pen's cursor."""
    page.mouse.move(2, 2)
    page.evaluate("() => window.scrollTo(0, 0)")
    time.sleep(0.4)
    check_no_errors(page, path.stem)
    page.screenshot(path=str(path), full_page=True, clip=tab_clip(page, last_selector))
    print(f"wrote {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")


def draw(page, shape: str, phone: bool) -> float:
    """Draw `shape` on the pad (with a finger on a phone); wait for the final reconstruction; seconds."""
    before = srcs(page, DRAW_IDS)
    start = time.monotonic()
    touch_stroke(page, shape) if phone else stroke(page, shape)
    try:
        page.wait_for_function("(done) => document.querySelector('#draw-status').innerText.includes(done)",
                               arg=DONE_STATUS, timeout=30_000, polling=100)
    except Exception as exc:
        raise TimeoutError(f"draw: the status line says {wait_status(page, timeout_s=0.5)!r}") from exc
    try:  # drawn in the page (its canvases over the components), or sent by the server
        page.wait_for_function(DRAWN_JS, arg=[DRAW_IDS, before], timeout=30_000, polling=100)
    except Exception as exc:
        raise TimeoutError(f"draw: neither the page nor the server showed all of {DRAW_IDS}") from exc
    took = time.monotonic() - start
    wait_idle(page, time.monotonic(), 30)  # what follows a new input: neighbours, walk, typicality
    return took


def interpolate(page) -> float:
    """Click Interpolate; wait for its event and the profile's to end (the page's load already interpolated the
    default pair, and the same pair gives the same files, so the images' srcs need not change)."""
    start = time.monotonic()
    page.locator("#interpolate-button").click()
    wait_idle(page, start, 60)
    wait_loaded(page, INTERPOLATE_IDS, None, 60, "interpolate")
    return time.monotonic() - start


def resample(page, action, what: str) -> float:
    """Do `action` (a choice that re-samples); wait for new AE and VAE grids and the event's end; seconds."""
    before = srcs(page, SAMPLE_IDS)
    start = time.monotonic()
    action()
    wait_loaded(page, SAMPLE_IDS[:2], before, 60, what)
    took = time.monotonic() - start
    wait_idle(page, time.monotonic(), 60)
    return took


def sample(page, class_name: str) -> list[tuple[str, float]]:
    """The mixture prior and `class_name` when the tab offers them (each choice re-samples), else a click on
    Sample; (what, seconds) per step."""
    mixture = page.locator("#sample-prior").get_by_label(MIXTURE, exact=True)
    if not mixture.count():
        print(f"warning: no prior {MIXTURE!r} on the Sample tab: N(0, I) only", file=sys.stderr)
        return [("Sample", resample(page, page.locator("#sample-button").click, "sample"))]
    steps = [("mixture prior", resample(page, mixture.check, "sample (mixture prior)"))]
    if page.locator("#sample-class").count():
        steps.append((f"class {class_name}", resample(page, lambda: choose_dropdown(page, "sample-class", class_name),
                                                      f"sample (class {class_name})")))
    wait_loaded(page, SAMPLE_IDS, None, 5, "sample")
    return steps


MAPS_VIEW = "document.querySelector('#maps-view .maps-view').aeVaeMaps"
# where the drawing's star is on the page, on `model`'s UMAP map (scrolled into view first)
STAR_ON_PAGE_JS = f"""(model) => {{ const view = {MAPS_VIEW};
    const panel = view.panels.find((p) => p.model === model && p.projection === 'umap');
    const r = panel.area.getBoundingClientRect(), star = view.state.star[model].umap;
    const [x, y] = panel.toPixel(star[0], star[1], r.width, r.height);
    return [r.left + x, r.top + y]; }}"""


def embeddings(page, phone: bool) -> tuple[float, float]:
    """Open the tab (the live maps, with the drawing starred) and wait for the maps and both decoded PCA planes;
    then click (on a phone: tap) the star on each model's UMAP map: the point pinned, its decode in the map's inset
    and its sentence under it. Seconds for the maps and for the two clicks."""
    start = time.monotonic()
    open_tab(page, "Embeddings")
    page.wait_for_function(f"() => {MAPS_VIEW} && {MAPS_VIEW}.data && {MAPS_VIEW}.state.star", timeout=180_000)
    for model in ("AE", "VAE"):  # the decoded PCA planes (no elem_id: found by their captions)
        wait_captioned(page, f"{model} decoded over its PCA plane", 180, "embeddings")
    wait_idle(page, start, 180)
    maps_took = time.monotonic() - start

    start = time.monotonic()
    for model in ("ae", "vae"):
        figure = f"#maps-view figure[data-model={model}][data-projection=umap]"
        page.locator(f"{figure} .map-area").scroll_into_view_if_needed()
        x, y = page.evaluate(STAR_ON_PAGE_JS, model)
        page.touchscreen.tap(x, y) if phone else page.mouse.click(x, y)
        page.wait_for_selector(f"{figure}[data-pinned]", timeout=30_000)
        page.wait_for_function("(f) => document.querySelector(f + ' .map-text').innerText.includes('nearest test')",
                               arg=figure, timeout=30_000)
    return maps_took, time.monotonic() - start


def knob(page) -> float:
    """Open the β tab (the KL knob, with the drawing) and wait for its reconstruction at β = 1; then turn β to 0.2
    and wait for the page's answer there. Seconds."""
    start = time.monotonic()
    open_tab(page, "β")
    view = "document.querySelector('#knob-view .knob-view').aeVaeKnob"
    page.wait_for_function(f"() => {view} && {view}.point", timeout=120_000)
    page.evaluate(f"""() => {{ const v = {view}, s = v.slider;
        s.value = String(v.positionOf(0.2)); s.dispatchEvent(new Event('input')); s.dispatchEvent(new Event('change')); }}""")
    page.wait_for_function(f"() => {view}.point && Math.abs({view}.point.beta - 0.2) < 0.01", timeout=60_000)
    return time.monotonic() - start


def parse_args(argv: list[str] | None = None) -> Namespace:
    parser = argument_parser(__doc__, weights_dir=True)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots", help="output folder")
    parser.add_argument("--port", type=int, default=0, help="port for the app (0: a free one)")
    parser.add_argument("--threads", type=int, default=1, help="the app's onnxruntime threads (app.py --threads)")
    parser.add_argument("--shape", default="7", choices=list(SHAPES), help="digit to draw")
    parser.add_argument("--sample-class", default="7", help="class shown on the Sample tab (its name in the menu)")
    return parser.parse_args(argv)


def shoot_every_tab(url: str, out: Path, args: Namespace, viewport: tuple[int, int], phone: bool) -> None:
    """Every tab at one size; a phone's pictures are named `<tab>-phone.png`."""
    suffix = "-phone" if phone else ""
    with chromium(viewport=viewport, phone=phone) as page:
        open_app(page, url)
        took = draw(page, args.shape, phone)
        print(f"  draw: {took:.1f} s")
        shoot(page, out / f"draw{suffix}.png", "#typicality")

        open_tab(page, "Interpolate")
        print(f"  interpolate: {interpolate(page):.1f} s")
        shoot(page, out / f"interpolate{suffix}.png", "#interp-profile")

        open_tab(page, "Sample")
        print("  sample: " + ", ".join(f"{what} {took:.1f} s" for what, took in sample(page, args.sample_class)))
        shoot(page, out / f"sample{suffix}.png", "#sample-lesson")

        maps_took, clicks_took = embeddings(page, phone)
        print(f"  embeddings: {maps_took:.1f} s, two clicks on the maps {clicks_took:.1f} s")
        shoot(page, out / f"embeddings{suffix}.png")  # down to the decoded PCA planes

        print(f"  β: {knob(page):.1f} s")
        shoot(page, out / f"beta{suffix}.png")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    exit_unless_ready(args.weights_dir)
    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    with app_server(args.weights_dir, port=args.port or None, args=["--threads", str(args.threads)]) as app:
        for viewport, phone in (((1280, 900), False), ((390, 844), True)):
            print(f"{viewport[0]}x{viewport[1]}{' (a phone)' if phone else ''}:")
            shoot_every_tab(app.url, out, args, viewport, phone)
    return 0


if __name__ == "__main__":
    sys.exit(main())
