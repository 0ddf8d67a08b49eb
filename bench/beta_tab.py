"""The β tab in the visitor's page: what opening it costs, and how closely the reconstruction follows the slider.

    python bench/beta_tab.py                  # bundled weights/, both data sets, 3 drags each
    python bench/beta_tab.py --drags 5 --datasets mnist

`app.py` on a free port, one Chromium page (models in the page). Per data set: a drawing on the Draw tab, then
- download: the bytes the page fetched from opening the β tab until its first reconstruction was painted (the knob's
  graphs and its data file; nothing of it is fetched before the tab opens, which is checked too);
- with the server process stopped (SIGSTOP) after that, `--drags` one-second drags of the slider (60 moves each, as
  a hand drags): the times `#beta-recon`'s pixels changed during each drag.

Targets: >= 15 pixel changes of `#beta-recon` per one-second drag with the server stopped; <= 6 MB per data set
fetched, only when the tab is opened.
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from ae_vae.app.contract import KNOB_ELEMENTS
from bench.common import argument_parser, machine
from tests.support.harness import app_server, chromium, exit_unless_ready, open_app, open_tab, stroke

TARGETS = {"changes": 15, "megabytes": 6.0}
KNOB = "document.querySelector('#knob-view .knob-view').aeVaeKnob"
# Counts the changes of #beta-recon's pixels, checked on every animation frame (what the visitor can see change).
WATCH_JS = """(id) => {
  const canvas = document.getElementById(id);
  const w = window.__knobWatch = {changes: 0, last: null, on: true};
  const look = () => {
    if (!w.on) return;
    const pixels = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data.join(',');
    if (w.last !== null && pixels !== w.last) w.changes += 1;
    w.last = pixels;
    requestAnimationFrame(look);
  };
  look();
}"""
DATASET_LABELS = {"mnist": "MNIST", "fashion_mnist": "Fashion-MNIST"}


def fetched_bytes(page) -> dict[str, int]:
    return page.evaluate("() => Object.fromEntries(performance.getEntriesByType('resource')"
                         ".map((e) => [e.name, e.encodedBodySize || e.transferSize || 0]))")


def drag(page, seconds: float = 1.0, moves: int = 60) -> int:
    """One drag of the slider from near one end to near the other over `seconds`: #beta-recon's pixel changes."""
    box = page.locator(f"#{KNOB_ELEMENTS['slider']}").bounding_box()
    y = box["y"] + box["height"] / 2
    page.evaluate(WATCH_JS, KNOB_ELEMENTS["recon"])
    start = 0.1 + 0.8 * (page.evaluate(f"() => Number({KNOB}.slider.value)") > 500)
    page.mouse.move(box["x"] + start * box["width"], y)
    page.mouse.down()
    for i in range(moves):
        fraction = start + (0.8 if start < 0.5 else -0.8) * (i + 1) / moves
        page.mouse.move(box["x"] + fraction * box["width"], y)
        page.wait_for_timeout(seconds * 1000 / moves)
    changes = page.evaluate("() => { window.__knobWatch.on = false; return window.__knobWatch.changes; }")
    page.mouse.up()
    return changes


def main() -> int:
    parser = argument_parser(__doc__, weights_dir=True)
    parser.add_argument("--drags", type=int, default=3, help="one-second drags per data set")
    parser.add_argument("--datasets", nargs="+", choices=list(DATASET_LABELS), default=list(DATASET_LABELS))
    args = parser.parse_args()
    exit_unless_ready(args.weights_dir)
    print(f"# β tab — {machine()}")
    failures = []
    with app_server(args.weights_dir) as app, chromium() as page:
        page.set_default_timeout(60_000)
        open_app(page, app.url)
        page.evaluate("() => performance.setResourceTimingBufferSize(100000)")  # (250 by default: too few here)
        page.wait_for_function("() => document.documentElement.dataset.firstOutputs === 'shown'", timeout=60_000)
        for dataset in args.datasets:
            label = DATASET_LABELS[dataset]
            page.get_by_label(label, exact=True).check()
            page.wait_for_timeout(1500)
            open_tab(page, "Draw")
            stroke(page, "7")
            page.wait_for_timeout(1500)
            before = fetched_bytes(page)
            knob_files = [name for name in before if f"{dataset}-beta-vae" in name or f"knob-{dataset}" in name]
            open_tab(page, "β")
            page.wait_for_function(f"(d) => {KNOB} && {KNOB}.inPage && {KNOB}.state.dataset === d && {KNOB}.point",
                                   arg=dataset, timeout=120_000)
            after = fetched_bytes(page)
            added = sum(size for name, size in after.items() if name not in before)
            megabytes = added / 1e6
            os.kill(app.process.pid, signal.SIGSTOP)
            try:
                changes = [drag(page) for _ in range(args.drags)]
            finally:
                os.kill(app.process.pid, signal.SIGCONT)
            print(f"{label}: opening the tab fetched {megabytes:.2f} MB (the knob's files fetched before it opened: "
                  f"{len(knob_files)}); #beta-recon's pixels changed {changes} times in one-second drags with the "
                  "server stopped")
            if min(changes) < TARGETS["changes"] or megabytes > TARGETS["megabytes"] or knob_files:
                failures.append(label)
    print(f"targets: >= {TARGETS['changes']} changes per drag, <= {TARGETS['megabytes']} MB per data set, nothing "
          f"before the tab opens: {'MISS ' + ', '.join(failures) if failures else 'PASS'}")
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
