"""The models in the visitor's page: what a stroke costs the page and the server (headless Chromium + Playwright).

    python bench/page_inference.py                       # browser part and server CPU part, bundled weights/
    python bench/page_inference.py --strokes 20 --skip-server-cpu

Browser part (`app.py` on a free port, one Chromium page, strokes of `--duration` s at `--moves` moves per second,
as a person draws):
- download: bytes the page fetched until its models gave their first answer (all of it, and the part that is the
  runtime, its WebAssembly and the ONNX graphs), and that first answer's time from the start of navigation;
- per stroke, from the page's clock: in-page reconstructions shown between pointer-down and pointer-up, pointer-up
  -> the final in-page reconstruction shown, requests the page made while the pen was down;
- the same strokes with the server process stopped (SIGSTOP) after the page loaded, resumed after;
- pointer moves over the maps (`--hovers`, one every 25 ms): each move's event -> its decoded image shown.
Server part: the server's CPU seconds (utime + stime of the app's process, /proc) per stroke, with 1 and
`--clients` simulated pages drawing (`bench/live_load.py`): sending every live frame to the pad's queued event (the
server path) and only each stroke's final frame, with the page's results, and its clear as plain requests (what a
page that runs the models sends).

Targets (the in-page inference's): >= 15 updates in a 1-s stroke with the server stopped, pointer-up -> final
<= 50 ms p50, 0 requests while the pen is down, server CPU per stroke <= 10 % of the server path's with `--clients`
pages drawing, first in-page answer <= 3 s after navigation, extra download <= 15 MB, hover -> decoded <= 50 ms p95.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.common import argument_parser, machine, percentile
from bench.live_load import run_live_load
from tests.support.harness import SHAPES, app_server, chromium, clear_pad, exit_unless_ready, open_app, stroke

IDLE_WINDOWS, IDLE_WINDOW_S = 3, 3.0  # the idle process's CPU rate, measured before each run in this many windows
TARGETS = {"updates": 15, "final_p50_ms": 50.0, "requests": 0, "cpu_ratio": 0.10, "first_answer_s": 3.0,
           "extra_mb": 15.0, "hover_p95_ms": 50.0}
PAD_CANVAS = "document.querySelector('#sketchpad canvas')"
PAD = f"{PAD_CANVAS}.aeVae.pad"
# Pointer events and the requests made while the button is down, from the page's clock.
TRACE_JS = """() => {
  const t = window.__pageTrace = {down: null, up: null, requests: 0};
  window.addEventListener('pointerdown', () => { t.down = performance.now(); }, true);
  window.addEventListener('pointerup', () => { t.up = performance.now(); }, true);
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) if (t.down !== null && t.up === null && e.startTime >= t.down) t.requests += 1;
  }).observe({type: 'resource', buffered: false});
  const send = WebSocket.prototype.send;
  WebSocket.prototype.send = function (...args) { if (t.down !== null && t.up === null) t.requests += 1;
                                                  return send.apply(this, args); };
}"""
RESET_JS = "() => { const t = window.__pageTrace; t.down = null; t.up = null; t.requests = 0; }"


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


@contextmanager
def stopped(pid: int):
    os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(pid, signal.SIGCONT)


def download(page) -> dict:
    """Bytes fetched so far (transferSize of every resource), and the part the in-page models brought."""
    return page.evaluate("""() => {
        const all = performance.getEntriesByType('resource'), nav = performance.getEntriesByType('navigation')[0];
        const ours = (e) => /onnxruntime-web|\\.onnx|\\/static\\/page\\//.test(e.name);
        const size = (e) => e.transferSize || e.encodedBodySize || 0;
        return {total: all.reduce((s, e) => s + size(e), nav ? size(nav) : 0),
                models: all.filter(ours).reduce((s, e) => s + size(e), 0)};
    }""")


def page_stroke(page, shape: str, duration_s: float, interval_s: float) -> dict:
    page.evaluate(RESET_JS)
    stroke(page, shape, duration_s=duration_s, move_interval_s=interval_s)
    page.wait_for_function(f"() => {PAD}.inPage().idle()", timeout=10_000)
    trace = page.evaluate("() => window.__pageTrace")
    shown = page.evaluate(f"() => {PAD}.inPage().shownAt")
    down, up = trace["down"], trace["up"]
    after = [t for t in shown if t >= up]
    return {"updates": sum(down < t <= up for t in shown), "final_ms": (after[0] - up) if after else None,
            "requests": trace["requests"]}


def browser_part(args) -> dict:
    with app_server(args.weights_dir) as app, chromium() as page:
        open_app(page, app.url)
        page.wait_for_function(f"() => {PAD}.inPage() && {PAD}.inPage().readyAt !== null", timeout=30_000)
        ready_ms = page.evaluate(f"() => {PAD}.inPage().readyAt")
        page.wait_for_function("() => document.documentElement.dataset.firstOutputs === 'shown'", timeout=30_000)
        fetched = download(page)
        page.evaluate(TRACE_JS)
        results = {"running": [], "stopped": []}
        for label in ("running", "stopped"):
            for i in range(args.strokes):
                clear_pad(page)
                shape = list(SHAPES)[i % len(SHAPES)]
                if label == "stopped":
                    with stopped(app.process.pid):
                        results[label].append(page_stroke(page, shape, args.duration, 1 / args.moves))
                else:
                    results[label].append(page_stroke(page, shape, args.duration, 1 / args.moves))
                    time.sleep(0.5)  # the server's answer to the final frame
        hovers = hover_part(page, args.hovers)
    return {"ready_s": ready_ms / 1000, "fetched": fetched, "hover_ms": hovers, **results}


MAPS_VIEW = "document.querySelector('#maps-view .maps-view').aeVaeMaps"


def hover_part(page, count: int) -> list[float]:
    """Pointer moves over the live maps at a human pace: each move's event -> its decode shown in the map's inset
    (ms)."""
    page.get_by_role("tab", name="Embeddings").click()
    page.wait_for_function(f"() => {MAPS_VIEW} && {MAPS_VIEW}.data", timeout=60_000)
    area = page.locator("#maps-view figure[data-projection=umap] .map-area").first
    area.scroll_into_view_if_needed()
    box = area.bounding_box()
    before = page.evaluate(f"() => {MAPS_VIEW}.hovers.length")
    for i in range(count):  # a slow sweep across the AE's UMAP map, one move every 25 ms
        page.mouse.move(box["x"] + box["width"] * (0.1 + 0.8 * i / count), box["y"] + box["height"] * 0.6)
        time.sleep(0.025)
    time.sleep(0.3)
    return [b - a for a, b in page.evaluate(f"() => {MAPS_VIEW}.hovers")[before:]]


def server_part(args) -> list[tuple[int, str, float, float, int, int]]:
    """Per configuration: (pages, what they send, the server's CPU seconds net of its idle rate, the uncertainty the
    idle rate's spread gives them, strokes, errors).
    Each run starts after a warm-up (the first frames' lazy imports, the maps rendered at start-up) and subtracts what
    the idle process spends in the same time; its clock starts once every page has its session (made once per
    visitor, when the page loads). The pages send what a real page sends: the pad's events, and after each final
    frame and clear any event that listens to the drawing other tabs use (`bench.live_load.page_events` finds them in
    the app's config; the app has none today). A page running the models sends its results with the final frame,
    computed here by the same models in Python."""
    from ae_vae.app.sources import load_explorer

    explorer = load_explorer(None, args.weights_dir)
    rows = []
    for clients in (1, args.clients):
        for live in (True, False):
            with app_server(args.weights_dir) as app:
                run_live_load(app.url, 1, 4.0, live_frames=live, follow_ups=True, explorer=explorer)
                time.sleep(2.0)
                idle_rates = []
                for _ in range(IDLE_WINDOWS):
                    idle_from = cpu_seconds(app.process.pid)
                    time.sleep(IDLE_WINDOW_S)
                    idle_rates.append((cpu_seconds(app.process.pid) - idle_from) / IDLE_WINDOW_S)
                idle_rate = sum(idle_rates) / len(idle_rates)
                before: list[float] = []

                def mark(into: list = before, pid: int = app.process.pid) -> None:
                    into.append(cpu_seconds(pid))
                summary = run_live_load(app.url, clients, args.seconds, live_frames=live, follow_ups=True,
                                        explorer=explorer, started=mark)
                spent = cpu_seconds(app.process.pid) - before[0] - idle_rate * summary["seconds"]
            what = "every live frame + final" if live else "final frame only"
            noise = (max(idle_rates) - min(idle_rates)) / 2 * summary["seconds"]  # what the idle rate's spread makes
            rows.append((clients, what, spent, noise, summary["strokes"], summary["errors"]))
            print(f"  {clients:>2} pages, {what}: {spent:.2f} ± {noise:.2f} CPU s for {summary['strokes']} strokes "
                  f"({summary['errors']} errors; idle {idle_rate:.3f} CPU s/s subtracted, its windows "
                  f"{min(idle_rates):.3f}-{max(idle_rates):.3f})", flush=True)
    return rows


def main() -> int:
    parser = argument_parser(__doc__, weights_dir=True)
    parser.add_argument("--strokes", type=int, default=10, help="strokes per condition (server running, stopped)")
    parser.add_argument("--duration", type=float, default=1.0, help="seconds per stroke")
    parser.add_argument("--moves", type=float, default=40.0, help="pointer moves per second")
    parser.add_argument("--hovers", type=int, default=80, help="pointer moves over the maps")
    parser.add_argument("--clients", type=int, default=16, help="simulated pages for the server CPU part")
    parser.add_argument("--seconds", type=float, default=30.0, help="duration of each server CPU run")
    parser.add_argument("--skip-server-cpu", action="store_true", help="only the browser part")
    args = parser.parse_args()
    exit_unless_ready(args.weights_dir)
    print(f"machine: {machine()}; strokes of {args.duration:.1f} s at {args.moves:.0f} moves/s\n")
    ok = True
    b = browser_part(args)
    extra_mb = b["fetched"]["models"] / 1e6
    print(f"first in-page answer {b['ready_s']:.2f} s after navigation; fetched {b['fetched']['total'] / 1e6:.1f} MB, "
          f"of which runtime + graphs + page modules {extra_mb:.1f} MB")
    ok &= b["ready_s"] <= TARGETS["first_answer_s"] and extra_mb <= TARGETS["extra_mb"]
    print("\n| server | in-page updates during a stroke (min / median) | pointer-up -> final shown p50 / p95 ms "
          "| requests while the pen is down |\n|---|---|---|---|")
    for label, results in (("running", b["running"]), ("stopped (SIGSTOP)", b["stopped"])):
        updates = [r["updates"] for r in results]
        finals = [r["final_ms"] for r in results if r["final_ms"] is not None]
        requests = sum(r["requests"] for r in results)
        print(f"| {label} | {min(updates)} / {percentile(updates, 50):.0f} | "
              f"{percentile(finals, 50):.0f} / {percentile(finals, 95):.0f} ({len(finals)}/{len(results)}) | {requests} |")
        ok &= (min(updates) >= TARGETS["updates"] and len(finals) == len(results)
               and percentile(finals, 50) <= TARGETS["final_p50_ms"] and requests == TARGETS["requests"])
    hover = b["hover_ms"]
    if hover:
        print(f"\nhover on a map -> decoded image shown: {len(hover)} of {args.hovers} moves decoded, p50 "
              f"{percentile(hover, 50):.0f} ms, p95 {percentile(hover, 95):.0f} ms")
        ok &= percentile(hover, 95) <= TARGETS["hover_p95_ms"]
    else:
        print("\nhover on a map: nothing decoded")
        ok = False
    if not args.skip_server_cpu:
        print(f"\nserver CPU per stroke ({args.seconds:.0f} s per run):")
        rows = server_part(args)
        print("\n| pages drawing | what each page sends | server CPU s per stroke |\n|---|---|---|")
        per = {(c, what): (spent / max(strokes, 1), noise / max(strokes, 1)) for c, what, spent, noise, strokes, _ in rows}
        for clients in (1, args.clients):
            for what in ("every live frame + final", "final frame only"):
                print(f"| {clients} | {what} | {per[(clients, what)][0]:.4f} ± {per[(clients, what)][1]:.4f} |")
        for clients in (1, args.clients):
            (page, page_noise), (server, _) = per[(clients, "final frame only")], per[(clients, "every live frame + final")]
            measurable = page > 2 * page_noise
            print(f"{clients} pages: final-only / live = {page / server:.3f}"
                  + ("" if measurable else " (not measurable: within the idle rate's spread)"))
            if clients == args.clients:  # the target is set with many pages drawing at once
                ok &= measurable and page / server <= TARGETS["cpu_ratio"]
        ok &= not any(errors for *_, errors in rows)
    print(f"\ntargets {TARGETS}: {'PASS' if ok else 'MISS'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
