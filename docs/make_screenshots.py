"""Screenshots of every tab of the running app, for the README: a docs generator, not a benchmark.

Writes docs/screenshots/{draw,interpolate,sample,embeddings}.png.

    python docs/make_screenshots.py                            # bundled weights/ (the real ones)
    AE_VAE_WEIGHTS_DIR=/tmp/devw python docs/make_screenshots.py --out /tmp/shots

Starts `app.py` on a free port, drives the system Chromium (/usr/bin/chromium, headless) with Playwright:
Draw (a "7" drawn with the mouse and its reconstructions), Interpolate (after clicking Interpolate), Sample
(after clicking Sample) and Embeddings (after opening the tab, which computes the maps, and Update maps).

Starting the app and driving Chromium and the pad use `bench/common.py`, the same helpers the browser
benchmark and the browser test use, so the three cannot drift apart; they live there rather than in the
`ae_vae` package because the package is what the Space ships, and Playwright and subprocesses are not.
"""

from __future__ import annotations

import sys
import time
from argparse import Namespace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.common import (
    ROOT,
    SHAPES,
    app_server,
    argument_parser,
    chromium,
    exit_unless_ready,
    open_app,
    select_brush,
    stroke,
    wait_status,
)

PENDING_JS = """() => [...document.querySelectorAll('[data-testid=status-tracker]')]
                      .filter(e => !e.classList.contains('hide') && e.offsetParent !== null).length"""


def block(page, label: str):
    """The component block whose label contains `label` (the tabs' outputs have no elem_id)."""
    return page.locator("label[data-testid=block-label]", has_text=label).first.locator(
        "xpath=ancestor::div[contains(concat(' ', normalize-space(@class), ' '), ' block ')][1]")


def wait_images(page, labels: list[str], timeout_s: float) -> None:
    """Wait until each labelled image block shows a loaded <img>."""
    for label in labels:
        img = block(page, label).locator("img").first
        img.wait_for(state="visible", timeout=timeout_s * 1000)
        page.wait_for_function("(img) => img.complete && img.naturalWidth > 0", arg=img.element_handle(),
                               timeout=timeout_s * 1000)


def run_and_wait(page, button_name: str, labels: list[str], timeout_s: float = 60.0) -> float:
    """Click `button_name`, wait for its event to finish (progress trackers gone) and `labels`' images; seconds."""
    start = time.monotonic()
    page.get_by_role("button", name=button_name, exact=True).click()
    deadline = start + timeout_s
    seen = False  # the tracker may come and go before the first poll when the event is fast
    while time.monotonic() < deadline:
        pending = page.evaluate(PENDING_JS)
        seen = seen or pending > 0
        if pending == 0 and (seen or time.monotonic() - start > 1.5):
            break
        time.sleep(0.1)
    wait_images(page, labels, max(1.0, deadline - time.monotonic()))
    return time.monotonic() - start


def open_tab(page, name: str) -> None:
    page.get_by_role("tab", name=name).click()
    time.sleep(0.5)


def shoot(page, path: Path, full_page: bool = True) -> None:
    page.mouse.move(5, 5)  # no hover highlights or brush cursor in the picture
    time.sleep(0.3)
    page.screenshot(path=str(path), full_page=full_page)
    print(f"wrote {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")


def parse_args(argv: list[str] | None = None) -> Namespace:
    parser = argument_parser(__doc__, weights_dir=True)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots", help="output folder")
    parser.add_argument("--port", type=int, default=0, help="port for the app (0: a free one)")
    parser.add_argument("--width", type=int, default=1280, help="viewport width")
    parser.add_argument("--height", type=int, default=900, help="viewport height")
    parser.add_argument("--shape", default="7", choices=list(SHAPES), help="digit to draw")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    exit_unless_ready(args.weights_dir)
    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    with app_server(args.weights_dir, port=args.port or None) as app, \
            chromium(viewport=(args.width, args.height)) as page:
        open_app(page, app.url)

        # Draw: a digit drawn with the mouse, then its model input and reconstructions
        select_brush(page)
        stroke(page, args.shape)
        page.wait_for_function("""() => ['model-input', 'ae-recon', 'vae-recon'].every(id => {
            const img = document.querySelector('#' + id + ' img');
            return img && img.complete && img.naturalWidth > 0; })""", timeout=30_000)
        status = wait_status(page)
        if "⚠" in status:
            print(f"warning: the draw status says {status!r}", file=sys.stderr)
        wait_images(page, ["VAE posterior samples"], 10)
        shoot(page, out / "draw.png")

        open_tab(page, "Interpolate")
        took = run_and_wait(page, "Interpolate", ["AE: decoded straight path", "VAE: decoded path"])
        print(f"  interpolate: {took:.1f} s")
        shoot(page, out / "interpolate.png")

        open_tab(page, "Sample")
        took = run_and_wait(page, "Sample", ["AE decoded from N(0, I)", "VAE decoded from N(0, I)",
                                             "AE decoded from a Gaussian fitted"])
        print(f"  sample: {took:.1f} s")
        shoot(page, out / "sample.png")

        open_tab(page, "Embeddings")  # selecting the tab computes the maps (marking the drawing) ...
        took = run_and_wait(page, "Update maps", ["PCA (top) and UMAP (bottom)", "AE decoded over its PCA plane",
                                                  "VAE decoded over its PCA plane"], timeout_s=180)
        print(f"  embeddings: {took:.1f} s")  # ... and "Update maps" recomputes them
        shoot(page, out / "embeddings.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
