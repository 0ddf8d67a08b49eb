"""The harness the browser and app tests drive (and the benchmarks reuse): one copy of each.

- Defaults: the weights folder is env `AE_VAE_WEIGHTS_DIR`, else `weights/`; the data root is the library's
  (`$AE_VAE_DATA_DIR`, else `./data`).
- `app_server`: `python app.py` in a subprocess until the block exits, its log shown when it fails.
- Chromium (`chromium`, `open_app`) and the Draw tab's pad (`select_brush`, `stroke`, `touch_stroke`, `clear_pad`,
  `img_src`, `status_text`, `wait_status`): Playwright driving the system Chromium, never a downloaded browser.
- Synthetic drawings (`render_strokes`, `shape_on_canvas`): the pad's ink without a browser.

Tests import it as `support.harness`; benchmarks as `tests.support.harness` after putting the repo root on sys.path.
It stays outside the `ae_vae` package on purpose: the package is what the Space ships, and none of this
(subprocesses, Playwright) belongs there.
"""

from __future__ import annotations

import contextlib
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from ae_vae.data import default_data_dir

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_DATA_DIR = Path(default_data_dir())
DEFAULT_WEIGHTS_DIR = Path(os.environ.get("AE_VAE_WEIGHTS_DIR") or ROOT / "weights")
CHROMIUM_PATH = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def write_digit_png(path: Path) -> Path:
    """A "1" with a flag drawn on a transparent 280x280 pad (alpha ink), as the sketchpad sends it."""
    canvas = np.zeros((280, 280, 4), np.uint8)
    canvas[40:240, 125:150, 3] = 255
    canvas[40:65, 90:150, 3] = 255
    Image.fromarray(canvas).save(path)
    return path


# ---------------------------------------------------------------- the app as a subprocess

def free_port() -> int:
    """A TCP port nobody listens on right now (the OS picks it)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def missing_weights(weights_dir: Path) -> list[str]:
    """The model folders the app needs that have no model.safetensors in `weights_dir`."""
    from ae_vae.hub import MODEL_NAMES

    return [name for name in MODEL_NAMES if not (Path(weights_dir) / name / "model.safetensors").is_file()]


def not_ready(weights_dir: Path, browser: bool = True) -> str | None:
    """Why the app (and, with `browser`, Chromium) cannot be started: missing weights or Chromium; or None."""
    missing = missing_weights(weights_dir)
    if missing:
        return f"no model.safetensors for {', '.join(missing)} in {weights_dir}"
    if browser and not Path(CHROMIUM_PATH).exists():
        return f"{CHROMIUM_PATH} not found: apt-get install -y chromium (or set CHROMIUM_PATH)"
    return None


def exit_unless_ready(weights_dir: Path, browser: bool = True) -> None:
    """For scripts: print why the app (or Chromium) cannot start and exit with status 2 (tests skip instead)."""
    problem = not_ready(weights_dir, browser)
    if problem:
        print(problem, file=sys.stderr)
        raise SystemExit(2)


@dataclass(frozen=True)
class RunningApp:
    url: str
    port: int
    process: subprocess.Popen
    log_path: Path


def _log_tail(path: Path, chars: int = 3000) -> str:
    return path.read_text(errors="replace")[-chars:]


@contextlib.contextmanager
def app_server(weights_dir: Path, port: int | None = None, args: Sequence[str] = (),
               env: dict[str, str] | None = None, timeout: float = 120.0, log_path: Path | None = None,
               poll_s: float = 0.05) -> Iterator[RunningApp]:
    """`python app.py` serving `weights_dir` on `port` (default: a free one) until the block exits.

    Always the local weights (AE_VAE_HUB_REPO is removed: no network, deterministic), analytics off; `env`
    is laid over that, `args` appended to the command line (e.g. `--threads 2`). Yields once the page answers
    200. The app's output goes to `log_path` (default: a temporary file, deleted unless something failed);
    when the app dies, does not answer within `timeout` s, or the block raises, the log's tail is shown.
    The process is terminated (killed after 10 s) on exit.
    """
    port = port or free_port()
    full_env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False", "PYTHONUNBUFFERED": "1"}
    full_env.pop("AE_VAE_HUB_REPO", None)
    full_env.update(env or {})
    keep_log = log_path is not None
    log_path = Path(log_path or tempfile.mkstemp(prefix="ae-vae-app-", suffix=".log")[1])
    command = [sys.executable, str(ROOT / "app.py"), "--weights-dir", str(weights_dir),
               "--host", "127.0.0.1", "--port", str(port), *args]
    with open(log_path, "wb") as log:
        process = subprocess.Popen(command, cwd=ROOT, env=full_env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + timeout
        while not _answers(url):
            if process.poll() is not None:
                raise RuntimeError(f"app.py exited with {process.returncode} before serving; "
                                   f"log {log_path}:\n{_log_tail(log_path)}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"app.py did not answer on {url} within {timeout:.0f} s; "
                                   f"log {log_path}:\n{_log_tail(log_path)}")
            time.sleep(poll_s)
        yield RunningApp(url, port, process, log_path)
    except BaseException:
        keep_log = True
        print(f"app log: {log_path}", file=sys.stderr)
        raise
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        if not keep_log:
            log_path.unlink(missing_ok=True)


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
        return False


# ---------------------------------------------------------------- Chromium and the Draw tab's pad

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


def render_strokes(strokes: Sequence[Sequence[tuple[float, float]]], size: int = 280, width: float = 18.0
                   ) -> np.ndarray:
    """The alpha channel (uint8) of round-capped, round-joined polylines of `width` px drawn on a `size` px
    canvas, anti-aliased over one pixel as a browser's canvas draws them (points in canvas pixels)."""
    yy, xx = np.mgrid[0:size, 0:size] + 0.5
    distance = np.full((size, size), np.inf)
    for points in strokes:
        xy = np.asarray(points, dtype=float).reshape(-1, 2)
        for (x0, y0), (x1, y1) in zip(xy, xy[1:] if len(xy) > 1 else xy):
            dx, dy = x1 - x0, y1 - y0
            length2 = dx * dx + dy * dy
            t = np.clip(((xx - x0) * dx + (yy - y0) * dy) / length2, 0, 1) if length2 > 0 else 0.0
            distance = np.minimum(distance, np.hypot(xx - x0 - t * dx, yy - y0 - t * dy))
    return (np.clip(width / 2 - distance + 0.5, 0, 1) * 255 + 0.5).astype(np.uint8)


def shape_on_canvas(shape: str, scale: float = 1.0, size: int = 280, offset: tuple[float, float] = (0.0, 0.0)
                    ) -> list[tuple[float, float]]:
    """A shape of SHAPES in canvas pixels, as `stroke` draws it on the pad (scale 1: 60% of the pad's side)."""
    half = 0.3 * size * scale
    return [(size / 2 + offset[0] + x * half, size / 2 + offset[1] + y * half) for x, y in SHAPES[shape]]


@contextlib.contextmanager
def chromium(viewport: tuple[int, int] = (1280, 900), phone: bool = False):
    """A headless Chromium page (the system binary; Playwright's own browsers are never downloaded); `phone`: a
    touch screen and a mobile browser's viewport rules, as on a phone."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM_PATH, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport={"width": viewport[0], "height": viewport[1]}, is_mobile=phone,
                                          has_touch=phone)
            yield context.new_page()
        finally:
            browser.close()


def open_app(page, url: str, timeout_ms: float = 30_000) -> None:
    """Load the app and wait until the pad's script has started and the examples are there."""
    page.goto(url, timeout=timeout_ms)
    page.wait_for_selector("#sketchpad canvas", timeout=timeout_ms)
    page.wait_for_selector("#examples img", timeout=timeout_ms)
    select_brush(page, timeout_ms)


def pad_canvas(page):
    """The pad's <canvas> (the one inside the element with id "sketchpad")."""
    return page.locator("#sketchpad canvas").first


def select_brush(page, timeout_ms: float = 30_000) -> bool:
    """Wait until the pad can be drawn on (its script has started); True when it is. The pad has no tools to
    pick (Gradio's Sketchpad, the pad before, started with none selected); the name is kept for callers."""
    try:
        page.wait_for_selector("#sketchpad .pad[data-ready]", timeout=timeout_ms)
        return True
    except Exception:  # noqa: BLE001 - Playwright's TimeoutError: the pad's script did not start
        return False


def clear_pad(page, timeout_s: float = 5.0) -> None:
    """Click the pad's Clear button and wait for the app's answer to the empty pad ("... draw a digit ...").
    (An already empty pad sends nothing, so the wait then ends at `timeout_s`.)"""
    page.locator("#sketchpad .pad-clear").click()
    wait_status(page, contains="draw a digit", timeout_s=timeout_s)


def pad_points(page, shape: str | Sequence[tuple[float, float]] = "7", scale: float = 1.0
               ) -> list[tuple[float, float]]:
    """`shape` (a name in SHAPES, or points in its units) in page coordinates over the middle of the pad."""
    points = SHAPES[shape] if isinstance(shape, str) else shape
    box = pad_canvas(page).bounding_box()
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    half = 0.3 * min(box["width"], box["height"]) * scale
    return [(cx + x * half, cy + y * half) for x, y in points]


def along(points: Sequence[tuple[float, float]], fraction: float) -> tuple[float, float]:
    """The point `fraction` (0..1) of the way along the polyline `points`, by length."""
    xy = np.asarray(points, dtype=float)
    lengths = np.hypot(*np.diff(xy, axis=0).T)
    target = float(np.clip(fraction, 0, 1)) * lengths.sum()
    for (x0, y0), (x1, y1), length in zip(xy[:-1], xy[1:], lengths):
        if target <= length and length > 0:
            t = target / length
            return float(x0 + t * (x1 - x0)), float(y0 + t * (y1 - y0))
        target -= length
    return float(xy[-1, 0]), float(xy[-1, 1])


def stroke(page, shape: str | Sequence[tuple[float, float]] = "7", scale: float = 1.0, steps: int = 4,
           duration_s: float | None = None, before_up=None, move_interval_s: float = 0.015) -> None:
    """One continuous mouse stroke (down ... up) of `shape` over the middle of the pad.

    Without `duration_s`: as fast as the browser takes the moves (`steps` moves per segment). With it: the
    pen moves along the shape for `duration_s` seconds of wall time, as a person draws (a move every
    `move_interval_s`, paced by the clock, so a slow browser gets fewer moves, not a slower stroke). `before_up`
    (if given) is called just before the button is released."""
    xy = pad_points(page, shape, scale)
    page.mouse.move(*xy[0])
    page.mouse.down()
    if duration_s is None:
        for x, y in xy[1:]:
            page.mouse.move(x, y, steps=steps)
    else:
        start = time.monotonic()
        while (elapsed := time.monotonic() - start) < duration_s:
            page.mouse.move(*along(xy, elapsed / duration_s))
            time.sleep(move_interval_s)
        page.mouse.move(*xy[-1])
    if before_up is not None:
        before_up()
    page.mouse.up()


def touch_stroke(page, shape: str | Sequence[tuple[float, float]] = "7", scale: float = 1.0, moves: int = 12,
                 before_up=None) -> None:
    """One finger stroke of `shape` through the Chrome DevTools Protocol (`Input.dispatchTouchEvent`):
    Playwright's touchscreen only taps. The page gets touch pointer events, as on a phone. `before_up` (if given)
    is called just before the finger lifts."""
    xy = pad_points(page, shape, scale)
    path = [along(xy, i / (moves - 1)) for i in range(moves)]
    cdp = page.context.new_cdp_session(page)
    try:
        cdp.send("Emulation.setTouchEmulationEnabled", {"enabled": True, "maxTouchPoints": 1})
        for kind, (x, y) in [("touchStart", path[0])] + [("touchMove", p) for p in path[1:]]:
            cdp.send("Input.dispatchTouchEvent", {"type": kind, "touchPoints": [{"x": x, "y": y, "id": 1}]})
        if before_up is not None:
            before_up()
        cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
    finally:
        cdp.detach()


def img_src(page, elem_id: str) -> str | None:
    """The src of the <img> inside the element with id `elem_id` (None when it shows no image)."""
    return page.evaluate("(id) => { const i = document.querySelector('#' + id + ' img'); return i ? i.src : null; }",
                         elem_id)


def status_text(page) -> str:
    """The Draw tab's status line as shown right now."""
    return page.evaluate("() => document.querySelector('#draw-status').innerText.trim()")


def wait_status(page, contains: str = "", timeout_s: float = 10.0) -> str:
    """The draw status line once no event is pending for it (Gradio prefixes it with a timer like "0.4s" or
    "processing | 0.4s" while one is) and it holds a message containing `contains`; the last text seen when
    `timeout_s` passes first."""
    deadline = time.monotonic() + timeout_s
    while True:
        text = status_text(page)
        pending = re.match(r"(processing|queue[^|\n]*|pending)?\s*\|?\s*[\d.]+\s*s(\s|$)", text) is not None
        if text and not pending and contains in text:
            return text
        if time.monotonic() > deadline:
            return text
        time.sleep(0.1)


# ---------------------------------------------------------------- the Embeddings tab's maps (clicks on an image)

def open_tab(page, name: str, timeout_ms: float = 30_000) -> None:
    """Click the tab called `name` (e.g. "Embeddings")."""
    page.get_by_role("tab", name=name).click(timeout=timeout_ms)


def image_geometry(page, elem_id: str) -> dict[str, float]:
    """The <img> inside `elem_id`: its box on the page, natural size, computed object-fit, and the scale Gradio
    assumes when it turns a click into `evt.index` (scaled down to fit, never up, centred)."""
    return page.evaluate("""(id) => { const img = document.querySelector('#' + id + ' img');
        const r = img.getBoundingClientRect();
        return {left: r.left, top: r.top, width: r.width, height: r.height, natural_width: img.naturalWidth,
                natural_height: img.naturalHeight, object_fit: getComputedStyle(img).objectFit,
                scale: Math.min(r.width / img.naturalWidth, r.height / img.naturalHeight, 1)}; }""", elem_id)


def image_pixel_on_page(page, elem_id: str, px: float, py: float) -> tuple[float, float]:
    """Where on the page the image pixel (px, py) of the <img> inside `elem_id` is, by Gradio's click mapping."""
    g = image_geometry(page, elem_id)
    s = g["scale"]
    return (g["left"] + (g["width"] - g["natural_width"] * s) / 2 + (px + 0.5) * s,
            g["top"] + (g["height"] - g["natural_height"] * s) / 2 + (py + 0.5) * s)


def click_image_pixel(page, elem_id: str, px: float, py: float) -> None:
    """Click the image pixel (px, py) (the image's own pixels, what `gr.Image.select` reports), scrolling the
    image to the middle of the viewport first (a mouse click outside the viewport reaches nothing)."""
    page.evaluate("(id) => document.querySelector('#' + id + ' img').scrollIntoView({block: 'center'})", elem_id)
    page.mouse.click(*image_pixel_on_page(page, elem_id, px, py))


def wait_new_image(page, elem_id: str, before: str | None, timeout_ms: float = 15_000) -> str:
    """Wait until the <img> inside `elem_id` shows a source other than `before`, fully loaded; its src."""
    page.wait_for_function("""([id, before]) => { const img = document.querySelector('#' + id + ' img');
        return img && img.src && img.src !== before && img.complete && img.naturalWidth > 0; }""",
                           arg=[elem_id, before], timeout=timeout_ms, polling="raf")
    return img_src(page, elem_id)


def move_slider(page, elem_id: str, value: float) -> None:
    """Set the range input inside `elem_id` to `value` as a drag would: the value, then an `input` event."""
    page.evaluate("""([id, value]) => { const input = document.querySelector('#' + id + ' input[type=range]');
        input.value = value; input.dispatchEvent(new Event('input', {bubbles: true})); }""", [elem_id, value])
