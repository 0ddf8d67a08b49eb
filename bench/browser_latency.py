"""Drawing -> reconstruction on screen in a real browser, on the server path (headless Chromium, Playwright).

The page is opened with `?inference=server`, so every frame is computed by the server, as in a browser that cannot
run the models itself; `bench/page_inference.py` measures the page computing them.

Starts `app.py` on a free port and draws N strokes on the pad, each a mouse stroke of `--duration` seconds
(moves paced by the clock, as a person draws), clearing the pad before each. The page records, with its own
clock (`performance.now()`), the pointer events and every change of the AE reconstruction's <img src> (and
when that image finished decoding). Per stroke:

- updates during the stroke: AE images shown between pointer-down and pointer-up (target >= 4 in 1 s);
- pointer-up -> final reconstruction on screen: until the image the stroke ends with is shown (0 when it already
  was at pointer-up) — targets p50 <= 250 ms, p95 <= 400 ms; and until that image is decoded.

    python bench/browser_latency.py                          # bundled weights/, 10 strokes of 1 s
    AE_VAE_WEIGHTS_DIR=/tmp/devw python bench/browser_latency.py --strokes 20

Needs Chromium at /usr/bin/chromium (`apt-get install -y chromium`; env CHROMIUM_PATH overrides) and the
`playwright` Python package; never `playwright install`. Chromium, the app and the pad are driven by the
helpers in `tests/support/harness.py`.
"""

from __future__ import annotations

import sys
import time
from argparse import Namespace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.common import argument_parser, machine, percentile
from tests.support.harness import (
    SHAPES,
    app_server,
    chromium,
    clear_pad,
    exit_unless_ready,
    open_app,
    status_text,
    stroke,
    wait_status,
)

TARGETS = {"updates": 4, "final_p50_ms": 250.0, "final_p95_ms": 400.0}
DONE = "Reconstructed your drawing"

# Records (as window.__aeVaeTrace) pointer-down/up and each new src of one element's <img>, and its decoding.
TRACE_JS = """(elemId) => {
  const trace = window.__aeVaeTrace = [];
  const root = document.getElementById(elemId);
  let last = root.querySelector('img') ? root.querySelector('img').src : null;
  new MutationObserver(() => {
    const img = root.querySelector('img'), src = img ? img.src : null;
    if (src === last) return;
    last = src;
    trace.push({kind: 'src', t: performance.now(), src});
    if (img) img.decode().then(() => trace.push({kind: 'decoded', t: performance.now(), src}), () => {});
  }).observe(root, {subtree: true, childList: true, attributes: true, attributeFilter: ['src']});
  for (const type of ['pointerdown', 'pointerup']) {
    window.addEventListener(type, () => trace.push({kind: type, t: performance.now()}), true);
  }
}"""


def settle(page, quiet_s: float = 0.6, timeout_s: float = 15.0) -> bool:
    """Wait until the stroke's final frame is answered (the status says so) and the image stopped changing."""
    deadline = time.monotonic() + timeout_s
    wait_status(page, contains=DONE, timeout_s=timeout_s)
    while time.monotonic() < deadline:
        trace = page.evaluate("() => window.__aeVaeTrace")
        last = max((e["t"] for e in trace), default=0.0)
        if page.evaluate("() => performance.now()") - last >= quiet_s * 1000 and DONE in status_text(page):
            return True
        time.sleep(0.1)
    return False


def timed_stroke(page, shape: str, duration_s: float, elem_id: str = "ae-recon") -> dict:
    """Draw `shape` for `duration_s` and read the trace: updates during the stroke, pointer-up -> final (ms)."""
    page.evaluate(TRACE_JS, elem_id)
    stroke(page, shape, duration_s=duration_s)
    settled = settle(page)
    trace = page.evaluate("() => window.__aeVaeTrace")
    down = next((e["t"] for e in trace if e["kind"] == "pointerdown"), None)
    up = next((e["t"] for e in trace if e["kind"] == "pointerup"), None)
    shown = [e for e in trace if e["kind"] == "src" and e["src"]]
    if down is None or up is None or not shown or not settled:
        return {"shape": shape, "updates": None, "final_ms": None, "decoded_ms": None, "stroke_ms": None}
    final = shown[-1]["src"]
    first_shown = next(e["t"] for e in shown if e["src"] == final)
    decoded = next((e["t"] for e in trace if e["kind"] == "decoded" and e["src"] == final), None)
    return {"shape": shape, "stroke_ms": up - down,
            "updates": len({e["src"] for e in shown if down < e["t"] <= up}),
            "final_ms": max(0.0, first_shown - up),
            "decoded_ms": None if decoded is None else max(0.0, decoded - up)}


def parse_args(argv: list[str] | None = None) -> Namespace:
    parser = argument_parser(__doc__, weights_dir=True)
    parser.add_argument("--strokes", type=int, default=10, help="measured strokes (after one warm-up stroke)")
    parser.add_argument("--duration", type=float, default=1.0, help="seconds per stroke")
    parser.add_argument("--port", type=int, default=0, help="port for the app (0: a free one)")
    parser.add_argument("--args", default="", help="extra app.py arguments, e.g. '--concurrency 1'")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    exit_unless_ready(args.weights_dir)
    shapes = list(SHAPES)
    results = []
    with app_server(args.weights_dir, port=args.port or None, args=args.args.split()) as app, chromium() as page:
        open_app(page, app.url + "?inference=server")
        warm = timed_stroke(page, "7", args.duration)  # first frames: lazy imports, onnxruntime warm-up
        print(f"warm-up stroke: {warm['updates']} updates, final after {warm['final_ms']} ms")
        for i in range(args.strokes):
            clear_pad(page)
            shape = shapes[i % len(shapes)]
            result = timed_stroke(page, shape, args.duration)
            results.append(result)
            if result["final_ms"] is None:
                print(f"stroke {i + 1:>3} ({shape}): no final reconstruction (status: {status_text(page)!r})")
                continue
            print(f"stroke {i + 1:>3} ({shape}): {result['stroke_ms']:.0f} ms stroke, {result['updates']} updates "
                  f"during it; final shown {result['final_ms']:.0f} ms after pointer-up"
                  + (f", decoded {result['decoded_ms']:.0f} ms" if result["decoded_ms"] is not None else ""))
    done = [r for r in results if r["final_ms"] is not None]
    print(f"\nmachine: {machine()}; weights {args.weights_dir}; strokes of {args.duration:.1f} s")
    if not done:
        print("no stroke produced a final reconstruction")
        return 1
    updates = [r["updates"] for r in done]
    finals = [r["final_ms"] for r in done]
    decoded = [r["decoded_ms"] for r in done if r["decoded_ms"] is not None]
    p50, p95 = percentile(finals, 50), percentile(finals, 95)
    print(f"updates on screen during a stroke, {len(done)}/{len(results)} strokes: min {min(updates)}, "
          f"median {percentile(updates, 50):.0f} (target >= {TARGETS['updates']})")
    print(f"pointer-up -> final reconstruction shown: p50 {p50:.0f} ms, p95 {p95:.0f} ms, max {max(finals):.0f} ms "
          f"(targets p50 <= {TARGETS['final_p50_ms']:.0f}, p95 <= {TARGETS['final_p95_ms']:.0f})")
    if decoded:
        print(f"pointer-up -> final reconstruction decoded: p50 {percentile(decoded, 50):.0f} ms, "
              f"p95 {percentile(decoded, 95):.0f} ms")
    ok = (len(done) == len(results) and min(updates) >= TARGETS["updates"] and p50 <= TARGETS["final_p50_ms"]
          and p95 <= TARGETS["final_p95_ms"])
    print("PASS" if ok else "MISS")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
