"""Draw-to-reconstruction latency in a real browser (headless Chromium driven by Playwright).

Starts `app.py` on a free port, draws N separate strokes on the sketchpad and, for each, measures the time
from the stroke's mouse-up to the moment the AE reconstruction's <img src> changes (both clocks are the
page's `performance.now()`, recorded by a `pointerup` listener and a MutationObserver). The target is
p95 <= 1000 ms.

    python bench/browser_latency.py                          # bundled weights/, 10 strokes
    AE_VAE_WEIGHTS_DIR=/tmp/devw python bench/browser_latency.py --strokes 20

Needs Chromium at /usr/bin/chromium (`apt-get install -y chromium`; env CHROMIUM_PATH overrides) and the
`playwright` Python package; never `playwright install`. The helpers here are reused by
`bench/screenshots.py`.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_WEIGHTS_DIR = Path(os.environ.get("AE_VAE_WEIGHTS_DIR") or ROOT / "weights")
CHROMIUM_PATH = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
MODEL_FOLDERS = ("mnist-ae", "mnist-vae", "fashion_mnist-ae", "fashion_mnist-vae")
TARGET_MS = 1000.0

# Digit-like single strokes in units of the pad's half-width (x right, y down, origin at the centre).
SHAPES: dict[str, list[tuple[float, float]]] = {
    "7": [(-0.55, -0.6), (0.55, -0.6), (-0.1, 0.75)],
    "1": [(0.05, -0.7), (-0.05, 0.75)],
    "L": [(-0.4, -0.7), (-0.4, 0.6), (0.45, 0.6)],
    "Z": [(-0.5, -0.55), (0.5, -0.55), (-0.5, 0.6), (0.5, 0.6)],
    "V": [(-0.5, -0.6), (0.0, 0.7), (0.5, -0.6)],
    "4": [(-0.1, -0.7), (-0.5, 0.2), (0.5, 0.2)],
    "U": [(-0.45, -0.65), (-0.4, 0.5), (0.0, 0.7), (0.4, 0.5), (0.45, -0.65)],
    "N": [(-0.45, 0.7), (-0.45, -0.65), (0.45, 0.65), (0.45, -0.7)],
}

# Watches one element's <img src> (as window.__aeVaeWatch); resolves with performance.now() at the change
# and after decoding.
WATCH_JS = """
([elemId, before, timeoutMs]) => { window.__aeVaeWatch = new Promise((resolve) => {
  const root = document.getElementById(elemId);
  const current = () => { const img = root && root.querySelector('img'); return img ? img.src : null; };
  let up = null, done = false, timer = null;
  const giveUp = () => { if (!done) { done = true; observer.disconnect();
                                     resolve({up, changed: null, decoded: null, src: current()}); } };
  // the timeout counts from mouse-up: in software-rendered headless Chromium a stroke itself takes seconds
  window.addEventListener('pointerup', () => { up = performance.now(); timer = setTimeout(giveUp, timeoutMs); },
                          {capture: true, once: true});
  const safety = setTimeout(giveUp, timeoutMs + 120000);
  const finish = async (changedAt) => {
    if (done) return; done = true; observer.disconnect(); clearTimeout(timer); clearTimeout(safety);
    let decodedAt = null;
    try { await root.querySelector('img').decode(); decodedAt = performance.now(); } catch (e) { /* no image */ }
    resolve({up, changed: changedAt, decoded: decodedAt, src: current()});
  };
  const observer = new MutationObserver(() => { if (current() !== before) finish(performance.now()); });
  observer.observe(root || document.body, {subtree: true, childList: true, attributes: true,
                                           attributeFilter: ['src']});
}); }
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def missing_weights(weights_dir: Path) -> list[str]:
    """The model folders the app needs that have no model.safetensors in `weights_dir`."""
    return [name for name in MODEL_FOLDERS if not (Path(weights_dir) / name / "model.safetensors").is_file()]


def not_ready(weights_dir: Path) -> str | None:
    """Why a browser run cannot start (missing weights or Chromium), or None."""
    missing = missing_weights(weights_dir)
    if missing:
        return f"no model.safetensors for {', '.join(missing)} in {weights_dir}"
    if not Path(CHROMIUM_PATH).exists():
        return f"{CHROMIUM_PATH} not found: apt-get install -y chromium"
    return None


@contextlib.contextmanager
def app_server(weights_dir: Path, port: int | None = None, timeout: float = 60.0,
               log_path: Path | None = None) -> Iterator[str]:
    """Run `app.py` (bundled weights from `weights_dir`, no Hub) until the block exits; yields its URL."""
    port = port or free_port()
    env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False", "PYTHONUNBUFFERED": "1"}
    env.pop("AE_VAE_HUB_REPO", None)  # always the local weights: no network, deterministic
    own_log = log_path is None  # a temporary log, deleted unless something went wrong
    log_path = Path(log_path or tempfile.mkstemp(prefix="ae-vae-app-", suffix=".log")[1])
    with open(log_path, "wb") as log:
        proc = subprocess.Popen([sys.executable, str(ROOT / "app.py"), "--weights-dir", str(weights_dir),
                                 "--host", "127.0.0.1", "--port", str(port)],
                                cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"app.py exited with {proc.returncode} before serving; log {log_path}:\n"
                                   + log_path.read_text(errors="replace")[-3000:])
            try:
                with urllib.request.urlopen(url, timeout=2) as response:
                    if response.status == 200:
                        break
            except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"app.py did not answer on {url} within {timeout:.0f} s; log {log_path}:\n"
                                   + log_path.read_text(errors="replace")[-3000:])
            time.sleep(0.5)
        yield url
    except BaseException:
        own_log = False
        print(f"app log: {log_path}", file=sys.stderr)
        raise
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        if own_log:
            log_path.unlink(missing_ok=True)


@contextlib.contextmanager
def chromium(viewport: tuple[int, int] = (1280, 900)):
    """A headless Chromium page (the system binary; Playwright's own browsers are never downloaded)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM_PATH, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": viewport[0], "height": viewport[1]})
            yield page
        finally:
            browser.close()


def open_app(page, url: str, timeout_ms: float = 30_000) -> None:
    page.goto(url, timeout=timeout_ms)
    page.wait_for_selector("#sketchpad canvas", timeout=timeout_ms)
    page.wait_for_selector("#examples img", timeout=timeout_ms)


def pad_canvas(page):
    """The sketchpad's visible, interactive <canvas> (Gradio 6 stacks a second one with pointer-events: none)."""
    index = page.evaluate("""() => [...document.querySelectorAll('#sketchpad canvas')].findIndex(c => {
        const s = getComputedStyle(c), r = c.getBoundingClientRect();
        return s.pointerEvents !== 'none' && s.visibility !== 'hidden' && s.display !== 'none'
               && r.width > 50 && r.height > 50; })""")
    if index < 0:
        raise RuntimeError("no visible interactive <canvas> inside #sketchpad")
    return page.locator("#sketchpad canvas").nth(index)


def select_brush(page) -> bool:
    """Click the pad's Brush tool. Gradio 6.31 starts every Sketchpad (and re-starts it after "Clear canvas")
    with no tool selected ("select the draw tool to start"): strokes are ignored until the brush is chosen.
    Returns whether that overlay was showing."""
    overlay = page.locator("#sketchpad .empty", has_text="select the draw tool").count() > 0
    page.locator("#sketchpad button[aria-label='Brush']").click()
    return overlay


def clear_pad(page, timeout_s: float = 5.0) -> None:
    """Click "Clear canvas", wait for the app's answer to the cleared pad, and re-select the brush."""
    page.locator("#sketchpad button[aria-label='Clear canvas']").click()
    wait_status(page, contains="pad is empty", timeout_s=timeout_s)
    select_brush(page)


def stroke(page, shape: str | list[tuple[float, float]] = "7", scale: float = 1.0, steps: int = 4) -> None:
    """One continuous mouse stroke (down ... up) of `shape` over the middle of the pad. The brush joins the
    points of each move, so a few steps per segment suffice; each move costs ~0.2 s of software WebGL here."""
    points = SHAPES[shape] if isinstance(shape, str) else shape
    box = pad_canvas(page).bounding_box()
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    half = 0.3 * min(box["width"], box["height"]) * scale  # well inside the fixed 280x280 drawing area
    xy = [(cx + x * half, cy + y * half) for x, y in points]
    page.mouse.move(*xy[0])
    page.mouse.down()
    for x, y in xy[1:]:
        page.mouse.move(x, y, steps=steps)
    page.mouse.up()


def img_src(page, elem_id: str) -> str | None:
    return page.evaluate("(id) => { const i = document.querySelector('#' + id + ' img'); return i ? i.src : null; }",
                         elem_id)


def status_text(page) -> str:
    return page.evaluate("() => document.querySelector('#draw-status').innerText.trim()")


def wait_status(page, contains: str = "", timeout_s: float = 10.0) -> str:
    """The draw status line once no event is pending for it (Gradio prefixes it with a timer like "0.4s" while
    one is) and it holds a message containing `contains`; the last text seen when `timeout_s` passes first."""
    deadline = time.monotonic() + timeout_s
    while True:
        text = status_text(page)
        pending = re.match(r"[\d.]+\s*s(\s|$)", text) is not None
        if text and not pending and contains in text:
            return text
        if time.monotonic() > deadline:
            return text
        time.sleep(0.1)


def timed_stroke(page, shape: str, elem_id: str = "ae-recon", timeout_ms: float = 10_000) -> dict:
    """Draw `shape` and time mouse-up -> `elem_id`'s img src change (ms; None when it never changed).

    Also splits it with the page's resource timings: `export_ms`, mouse-up -> the first request the
    pad sends (the browser exporting background, layer and composite PNGs), and `join_ms`, mouse-up -> the
    event's queue/join request (after the three PNGs are uploaded); the rest is the server and the reply.
    """
    before = img_src(page, elem_id)
    page.evaluate("() => performance.clearResourceTimings()")
    page.evaluate(WATCH_JS, [elem_id, before, timeout_ms])  # leaves a pending Promise on window
    stroke(page, shape)
    result = page.evaluate("() => window.__aeVaeWatch")  # awaits it
    up, changed, decoded = result["up"], result["changed"], result["decoded"]
    timings = {"shape": shape, "src_ms": None, "decoded_ms": None, "export_ms": None, "join_ms": None}
    if up is None:
        return timings
    requests = page.evaluate("""(up) => performance.getEntriesByType('resource')
        .filter(e => e.startTime >= up && e.initiatorType === 'fetch').map(e => [e.name, e.startTime])""", up)
    first = next((start for name, start in requests if "/gradio_api/" in name), None)
    join = next((start for name, start in requests if "/queue/join" in name), None)
    timings.update(src_ms=None if changed is None else changed - up,
                   decoded_ms=None if decoded is None else decoded - up,
                   export_ms=None if first is None else first - up,
                   join_ms=None if join is None else join - up)
    return timings


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    k = (len(ordered) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--strokes", type=int, default=10, help="measured strokes (after one warm-up stroke)")
    parser.add_argument("--port", type=int, default=0, help="port for the app (0: a free one)")
    parser.add_argument("--weights-dir", type=Path, default=DEFAULT_WEIGHTS_DIR,
                        help="bundled-weights folder (env AE_VAE_WEIGHTS_DIR)")
    parser.add_argument("--clear-every", type=int, default=1,
                        help="clear the pad before every K-th stroke (0: never, strokes accumulate)")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds to wait for each reconstruction")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    problem = not_ready(args.weights_dir)
    if problem:
        print(problem, file=sys.stderr)
        return 2
    shapes = list(SHAPES)
    results = []
    with app_server(args.weights_dir, port=args.port or None) as url, chromium() as page:
        open_app(page, url)
        select_brush(page)
        warm = timed_stroke(page, "7", timeout_ms=30_000)  # first call: lazy imports, torch warm-up
        print(f"warm-up stroke: {warm['src_ms']:.0f} ms" if warm["src_ms"] is not None else "warm-up: no update")
        for i in range(args.strokes):
            if args.clear_every and i % args.clear_every == 0:
                clear_pad(page)  # waits for the clear's own event, so it cannot overlap the stroke
                time.sleep(0.3)
            shape = shapes[i % len(shapes)]
            result = timed_stroke(page, shape, timeout_ms=args.timeout * 1000)
            results.append(result)
            shown = (f"timeout (status: {status_text(page)!r})" if result["src_ms"] is None
                     else f"{result['src_ms']:.0f} ms")
            print(f"stroke {i + 1:>3} ({shape}): src changed after {shown}"
                  + "".join(f", {label} {result[key]:.0f} ms" for key, label in
                            (("decoded_ms", "decoded"), ("export_ms", "first request"), ("join_ms", "queue/join"))
                            if result[key] is not None))
            time.sleep(0.3)
    times = [r["src_ms"] for r in results if r["src_ms"] is not None]
    decoded = [r["decoded_ms"] for r in results if r["decoded_ms"] is not None]
    print(f"\nmachine: {platform.machine()} {platform.system()}, cpu_count={os.cpu_count()}, "
          f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}; weights {args.weights_dir}")
    if not times:
        print("no stroke produced a reconstruction")
        return 1
    p50, p95, worst = statistics.median(times), percentile(times, 0.95), max(times)
    print(f"mouse-up -> #ae-recon src changed, {len(times)}/{len(results)} strokes: "
          f"p50 {p50:.0f} ms, p95 {p95:.0f} ms, max {worst:.0f} ms (target <= {TARGET_MS:.0f} ms)")
    if decoded:
        print(f"mouse-up -> image decoded: p50 {statistics.median(decoded):.0f} ms, "
              f"p95 {percentile(decoded, 0.95):.0f} ms, max {max(decoded):.0f} ms")
    for key, what in (("export_ms", "first request (browser-side PNG export)"),
                      ("join_ms", "queue/join (PNGs uploaded, event sent)")):
        values = [r[key] for r in results if r[key] is not None]
        if values:
            print(f"mouse-up -> {what}: p50 {statistics.median(values):.0f} ms")
    ok = len(times) == len(results) and p95 <= TARGET_MS
    print("PASS" if ok else "MISS")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
