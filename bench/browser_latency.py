"""Draw-to-reconstruction latency in a real browser (headless Chromium driven by Playwright).

Starts `app.py` on a free port, draws N separate strokes on the sketchpad and, for each, measures the time
from the stroke's mouse-up to the moment the AE reconstruction's <img src> changes (both clocks are the
page's `performance.now()`, recorded by a `pointerup` listener and a MutationObserver). The target is
p95 <= 1000 ms.

    python bench/browser_latency.py                          # bundled weights/, 10 strokes
    AE_VAE_WEIGHTS_DIR=/tmp/devw python bench/browser_latency.py --strokes 20

Needs Chromium at /usr/bin/chromium (`apt-get install -y chromium`; env CHROMIUM_PATH overrides) and the
`playwright` Python package; never `playwright install`. Chromium, the app and the pad are driven by the
helpers in `bench/common.py`.
"""

from __future__ import annotations

import sys
import time
from argparse import Namespace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.common import (
    SHAPES,
    app_server,
    argument_parser,
    chromium,
    clear_pad,
    exit_unless_ready,
    img_src,
    machine,
    open_app,
    percentile,
    select_brush,
    status_text,
    stroke,
)

TARGET_MS = 1000.0

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


def parse_args(argv: list[str] | None = None) -> Namespace:
    parser = argument_parser(__doc__, weights_dir=True)
    parser.add_argument("--strokes", type=int, default=10, help="measured strokes (after one warm-up stroke)")
    parser.add_argument("--port", type=int, default=0, help="port for the app (0: a free one)")
    parser.add_argument("--clear-every", type=int, default=1,
                        help="clear the pad before every K-th stroke (0: never, strokes accumulate)")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds to wait for each reconstruction")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    exit_unless_ready(args.weights_dir)
    shapes = list(SHAPES)
    results = []
    with app_server(args.weights_dir, port=args.port or None) as app, chromium() as page:
        open_app(page, app.url)
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
    print(f"\nmachine: {machine()}; weights {args.weights_dir}")
    if not times:
        print("no stroke produced a reconstruction")
        return 1
    p50, p95, worst = percentile(times, 50), percentile(times, 95), max(times)
    print(f"mouse-up -> #ae-recon src changed, {len(times)}/{len(results)} strokes: "
          f"p50 {p50:.0f} ms, p95 {p95:.0f} ms, max {worst:.0f} ms (target <= {TARGET_MS:.0f} ms)")
    if decoded:
        print(f"mouse-up -> image decoded: p50 {percentile(decoded, 50):.0f} ms, "
              f"p95 {percentile(decoded, 95):.0f} ms, max {max(decoded):.0f} ms")
    for key, what in (("export_ms", "first request (browser-side PNG export)"),
                      ("join_ms", "queue/join (PNGs uploaded, event sent)")):
        values = [r[key] for r in results if r[key] is not None]
        if values:
            print(f"mouse-up -> {what}: p50 {percentile(values, 50):.0f} ms")
    ok = len(times) == len(results) and p95 <= TARGET_MS
    print("PASS" if ok else "MISS")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
