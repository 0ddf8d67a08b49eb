"""The β tab's latent map: precomputed on a β grid and interpolated (what ships) against computed in the page at
every move (the stored test images encoded at β, then their PCA).

    python bench/beta_map.py                   # bundled weights/, both data sets
    python bench/beta_map.py --datasets mnist --steps 257 --repeats 5

Per data set, over the same `MAP_POINTS` stored test images the tab shows:
- fidelity: at `--steps` log-spaced β over the trained range, the exact map (this process, onnxruntime: the PCA of
  the codes at that β, each plane's axes sign-aligned with the previous step's) against what the page draws there
  (its own interpolation of the grid, `KnobData.placesAt`): the RMS distance between a point's two places, as a share of the exact map's RMS radius
  (median and worst over β);
- how each reads while the slider moves: the RMS distance the points travel per step of `--steps`, as a share of
  the map's RMS radius — its median, and its worst step over the median (a jump: the exact PCA's axes turning
  within the plane where two variances cross);
- cost in the page (headless Chromium, the app's own graphs and runtime, models in the page): one encoder run of the
  stored images at β plus their PCA in JavaScript (median of `--repeats`, after one warm-up), against one grid
  interpolation; and the bytes each needs shipped (the grid's positions and planes against the images themselves).
"""

from __future__ import annotations

import base64
import itertools
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from ae_vae.app.knob import MAP_GRID, MAP_POINTS
from ae_vae.app.sources import load_explorer
from ae_vae.models.config import log_spaced
from bench.common import argument_parser, machine
from tests.support.harness import app_server, chromium, exit_unless_ready, open_app, open_tab

DATASET_LABELS = {"mnist": "MNIST", "fashion_mnist": "Fashion-MNIST"}
KNOB = "document.querySelector('#knob-view .knob-view').aeVaeKnob"
# In the page: the stored images encoded at β by the knob's own encoder session, then the PCA of the codes (the
# covariance, its two leading eigenvectors by power iteration with deflation, the projection); milliseconds of
# each part, median over `repeats` after one warm-up, and of one grid interpolation (`placesAt`).
PAGE_COST_JS = """async ([dataset, images64, beta, repeats]) => {
  const view = KNOB_HANDLE;
  const {ort, encoder, d} = await view.knob.sessions(dataset);
  const data = view.data;
  if (data.dataset !== dataset) throw new Error(`the tab shows ${data.dataset}, not ${dataset}`);
  const raw = Uint8Array.from(atob(images64), (c) => c.charCodeAt(0));
  const n = raw.length / 784, pixels = Float32Array.from(raw, (v) => v / 255);
  const pca = (codes) => {
    const mean = new Float64Array(d), cov = new Float64Array(d * d);
    for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) mean[j] += codes[i * d + j] / n;
    for (let i = 0; i < n; i++) for (let a = 0; a < d; a++) {
      const va = codes[i * d + a] - mean[a];
      for (let b = 0; b < d; b++) cov[a * d + b] += va * (codes[i * d + b] - mean[b]);
    }
    const axes = [];
    for (let k = 0; k < 2; k++) {
      let v = new Float64Array(d).fill(1 / Math.sqrt(d));
      for (let it = 0; it < 100; it++) {
        const w = new Float64Array(d);
        for (let a = 0; a < d; a++) for (let b = 0; b < d; b++) w[a] += cov[a * d + b] * v[b];
        for (const u of axes) { let dot = 0; for (let a = 0; a < d; a++) dot += w[a] * u[a]; for (let a = 0; a < d; a++) w[a] -= dot * u[a]; }
        const norm = Math.hypot(...w); v = w.map((x) => x / norm);
      }
      axes.push(v);
    }
    const out = new Float32Array(2 * n);
    for (let i = 0; i < n; i++) for (let k = 0; k < 2; k++) {
      let s = 0; for (let a = 0; a < d; a++) s += (codes[i * d + a] - mean[a]) * axes[k][a]; out[2 * i + k] = s;
    }
    return out;
  };
  const times = {encode: [], pca: [], grid: []};
  for (let r = 0; r <= repeats; r++) {
    const b = beta * (1 + 0.01 * r);
    let t = performance.now();
    const out = await encoder.run({image: new ort.Tensor('float32', pixels, [n, 1, 28, 28]),
                                   beta: new ort.Tensor('float32', new Float32Array(n).fill(b), [n])});
    const encode = performance.now() - t;
    t = performance.now(); pca(out.mean.data); const project = performance.now() - t;
    t = performance.now(); data.placesAt(b); const grid = performance.now() - t;
    if (r > 0) { times.encode.push(encode); times.pca.push(project); times.grid.push(grid); }
  }
  const median = (xs) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  return {encode: median(times.encode), pca: median(times.pca), grid: median(times.grid), n,
          grid_bytes: data.positions.byteLength + data.means.byteLength + data.components.byteLength};
}""".replace("KNOB_HANDLE", KNOB)


def stored_images(explorer, dataset: str) -> np.ndarray:
    """The stored test images the tab's map shows, (N, 28, 28) float32 in 0..255."""
    return explorer.models(dataset).vae_maps.images[:MAP_POINTS].astype(np.float32)

# The page's own interpolation of the grid (`KnobData.placesAt`) at each β.
PLACES_JS = f"(betas) => betas.map((b) => Array.from({KNOB}.data.placesAt(b)))"


def rms(points: np.ndarray) -> float:
    return float(np.sqrt((points ** 2).sum(axis=-1).mean()))


def motion(planes: np.ndarray, radius: float) -> tuple[float, float]:
    """The median step's RMS travel as a share of `radius`, and the worst step over the median."""
    steps = [rms(b - a) for a, b in itertools.pairwise(planes)]
    median = statistics.median(steps)
    return median / radius, max(steps) / median


def fidelity(betas: list[float], exact: np.ndarray, shown: np.ndarray) -> dict[str, float]:
    """The exact maps against those the page draws (`shown`, its `placesAt`) at `betas`."""
    errors = []
    for e, s in zip(exact, shown, strict=True):
        aligned = e * np.where((e * s).sum(axis=0) < 0, -1.0, 1.0)  # compare places, not the axes' signs
        errors.append(rms(aligned - s) / rms(e))
    radius = statistics.median(rms(e) for e in exact)
    exact_step, exact_jump = motion(exact, radius)
    grid_step, grid_jump = motion(shown, radius)
    return {"error_median": statistics.median(errors), "error_worst": max(errors),
            "worst_beta": betas[int(np.argmax(errors))], "exact_step": exact_step, "exact_jump": exact_jump,
            "grid_step": grid_step, "grid_jump": grid_jump}


def main() -> int:
    parser = argument_parser(__doc__, weights_dir=True)
    parser.add_argument("--datasets", nargs="+", choices=list(DATASET_LABELS), default=list(DATASET_LABELS))
    parser.add_argument("--steps", type=int, default=129, help="log-spaced β values the maps are compared at")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs in the page per data set")
    args = parser.parse_args()
    exit_unless_ready(args.weights_dir)
    print(f"# the β tab's map: a {MAP_GRID}-point β grid interpolated, or computed in the page at every move — "
          f"{machine()}")
    explorer = load_explorer(None, args.weights_dir)
    betas, exact, measured = {}, {}, {}
    for dataset in args.datasets:
        started = time.perf_counter()
        knob = explorer.knob(dataset)
        betas[dataset] = log_spaced(*knob.beta_range, args.steps)
        exact[dataset] = knob.planes(stored_images(explorer, dataset)[:, None] / 255.0, betas[dataset],
                                     first=explorer.beta_map(dataset).positions[0].astype(np.float64))[0]
        print(f"{DATASET_LABELS[dataset]}: the exact maps at {args.steps} β computed in "
              f"{time.perf_counter() - started:.0f} s", flush=True)
    with app_server(args.weights_dir) as app, chromium() as page:
        page.set_default_timeout(120_000)
        open_app(page, app.url)
        page.wait_for_function("() => document.documentElement.dataset.firstOutputs === 'shown'", timeout=60_000)
        for dataset in args.datasets:
            page.get_by_label(DATASET_LABELS[dataset], exact=True).check()
            page.wait_for_timeout(1500)
            open_tab(page, "β")
            page.wait_for_function(f"(d) => {KNOB} && {KNOB}.inPage && {KNOB}.state.dataset === d && {KNOB}.data",
                                   arg=dataset, timeout=120_000)
            images = stored_images(explorer, dataset).astype(np.uint8)
            encoded = base64.b64encode(images.tobytes()).decode()
            cost = page.evaluate(PAGE_COST_JS, [dataset, encoded, 1.0, args.repeats])
            shown = np.array(page.evaluate(PLACES_JS, betas[dataset]), np.float64).reshape(exact[dataset].shape)
            measured[dataset] = fidelity(betas[dataset], exact[dataset], shown) | cost | {"images_bytes": images.size}
            open_tab(page, "Draw")
    print("| data set | grid's error vs exact (median · worst, at β) | travel per step: exact · grid | worst step / "
          "median: exact · grid | page per move: encode + PCA · grid | shipped: images · grid |")
    print("|---|---|---|---|---|---|")
    for dataset, m in measured.items():
        print(f"| {DATASET_LABELS[dataset]} | {100 * m['error_median']:.1f} % · {100 * m['error_worst']:.1f} % "
              f"(β = {m['worst_beta']:.3g}) | {100 * m['exact_step']:.2f} % · {100 * m['grid_step']:.2f} % | "
              f"{m['exact_jump']:.1f}× · {m['grid_jump']:.1f}× | {m['encode']:.0f} + {m['pca']:.1f} ms · "
              f"{'< 0.1' if m['grid'] < 0.1 else format(m['grid'], '.1f')} ms | {m['images_bytes'] / 1e3:.0f} kB · {m['grid_bytes'] / 1e3:.0f} kB |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
