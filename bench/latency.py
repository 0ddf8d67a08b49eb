"""Latency of the app: handler compute, cold start, memory, and the gradio_client round trip.

    python bench/latency.py

1. Handler compute (in process, no UI): reconstruct, sample, interpolate, embedding figure
   (rendered to PNG as the app does), manifold grids: p50 / p95 over `--repeats` calls.
2. Cold start: `python app.py` as a subprocess, from process start to the first answered
   `/reconstruct` request, then the resident memory of that process; and the same for a trivial Gradio app
   (`bench/trivial_app.py`: the endpoint's components, no models), alternated over `--cold-runs` runs each.
3. Round trip through `gradio_client`: `/reconstruct` of the real app vs a trivial endpoint that
   takes the same payload (same components: sketchpad + image + radio in, four PNGs + text out)
   and returns precomputed outputs, served by the same kind of Gradio app in this run.
Mouse-up -> visible in a real browser is measured by `bench/browser_latency.py`.
"""

from __future__ import annotations

import io
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import onnxruntime
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import app as app_module
from ae_vae.app.explorer import DEFAULT_SAMPLES, MAX_SAMPLES
from ae_vae.app.sources import load_explorer
from ae_vae.runtime import set_session_threads
from bench.common import argument_parser, machine, percentile, timed_ms
from bench.trivial_app import trivial_app
from tests.support.harness import app_server, exit_unless_ready, free_port, write_digit_png


def p50_p95(samples_ms: list[float]) -> str:
    return f"{percentile(samples_ms, 50):8.1f} | {percentile(samples_ms, 95):8.1f}"


def handler_latency(explorer, image: np.ndarray, repeats: int) -> list[tuple[str, list[float]]]:
    a, b = explorer.default_pair("mnist")

    def embedding():  # the maps with the drawing starred, encoded as the PNG the app sends
        pixels, _ = explorer.embedding("mnist", image)
        Image.fromarray(pixels).save(io.BytesIO(), format="png")

    return [("reconstruct (preprocess 280×280 + AE + VAE + 4 samples)",
             timed_ms(lambda: explorer.reconstruct(image, "mnist"), repeats)),
            (f"sample (3 grids of {DEFAULT_SAMPLES}, the app's default)",
             timed_ms(lambda: explorer.sample("mnist", DEFAULT_SAMPLES, 0, 1.0), repeats)),
            (f"sample, mixture prior (3 grids of {DEFAULT_SAMPLES})",
             timed_ms(lambda: explorer.sample("mnist", DEFAULT_SAMPLES, 0, 1.0, "mixture"), repeats)),
            (f"sample, class 7 from its mixture (3 grids of {DEFAULT_SAMPLES})",
             timed_ms(lambda: explorer.sample("mnist", DEFAULT_SAMPLES, 0, 1.0, "mixture", 7), repeats)),
            (f"sample (3 grids of {MAX_SAMPLES}, the maximum)",
             timed_ms(lambda: explorer.sample("mnist", MAX_SAMPLES, 0, 1.0), repeats)),
            ("interpolate (10 steps, AE + VAE)", timed_ms(lambda: explorer.interpolate(a, b, "mnist", 10), repeats)),
            ("embedding figure (4 maps × 5000 points, drawing starred → PNG)", timed_ms(embedding, repeats)),
            ("manifold grids (2 × 12×12 decodes)", timed_ms(lambda: explorer.manifold("mnist"), repeats))]


def cold_start(weights_dir: Path, image_path: Path, threads: int) -> tuple[float, float]:
    """Seconds from process start to the first answered /reconstruct, and the RSS (MB) afterwards."""
    from gradio_client import Client, handle_file

    start = time.perf_counter()
    with app_server(weights_dir, args=["--threads", str(threads)]) as app:
        Client(app.url, verbose=False).predict(None, handle_file(str(image_path)), "mnist", api_name="/reconstruct")
        seconds = time.perf_counter() - start
        rss_kb = int(next(line for line in Path(f"/proc/{app.process.pid}/status").read_text().splitlines()
                          if line.startswith("VmRSS")).split()[1])
    return seconds, rss_kb / 1024


def trivial_cold_start(image_path: Path) -> float:
    """Seconds from process start to the first answered /reconstruct of `bench/trivial_app.py`."""
    from gradio_client import Client, handle_file

    port = free_port()
    start = time.perf_counter()
    process = subprocess.Popen([sys.executable, str(Path(__file__).with_name("trivial_app.py")), str(port)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while True:
            try:
                client = Client(f"http://127.0.0.1:{port}/", verbose=False)
                break
            except Exception:  # noqa: BLE001 - not serving yet
                if process.poll() is not None or time.perf_counter() - start > 120:
                    raise RuntimeError("the trivial app did not start") from None
                time.sleep(0.05)
        client.predict(None, handle_file(str(image_path)), "mnist", api_name="/reconstruct")
        return time.perf_counter() - start
    finally:
        process.terminate()
        process.wait(timeout=10)


def round_trip(explorer, weights_dir: Path, image_path: Path, repeats: int) -> tuple[list[float], list[float]]:
    from gradio_client import Client, handle_file

    real_args = app_module.parse_args(["--port", str(free_port()), "--weights-dir", str(weights_dir)])
    real_args.hub_repo = None
    real = app_module.create_app(real_args)
    app_module.launch(real, real_args, prevent_thread_lock=True, quiet=True)
    result = explorer.reconstruct(str(image_path), "mnist")
    canned = (result.model_input, result.ae, result.vae, result.vae_samples, result.summary())
    trivial = trivial_app(canned)
    trivial_port = free_port()
    trivial.launch(server_port=trivial_port, prevent_thread_lock=True, quiet=True)
    try:
        clients = {"real": Client(f"http://127.0.0.1:{real_args.port}/", verbose=False),
                   "trivial": Client(f"http://127.0.0.1:{trivial_port}/", verbose=False)}
        times: dict[str, list[float]] = {"real": [], "trivial": []}
        for _ in range(repeats + 2):  # interleaved, so drift hits both alike
            for name, client in clients.items():
                start = time.perf_counter()
                client.predict(None, handle_file(str(image_path)), "mnist", api_name="/reconstruct")
                times[name].append(1000 * (time.perf_counter() - start))
        return times["real"][2:], times["trivial"][2:]
    finally:
        real.close()
        trivial.close()


def main() -> int:
    parser = argument_parser(__doc__, weights_dir=True)
    parser.add_argument("--repeats", type=int, default=40, help="timed calls per measurement")
    parser.add_argument("--threads", type=int, default=1, help="onnxruntime intra-op threads (the app's default)")
    parser.add_argument("--cold-runs", type=int, default=3, help="cold starts of each app, alternated")
    args = parser.parse_args()
    exit_unless_ready(args.weights_dir, browser=False)
    set_session_threads(args.threads)
    tmp = Path(tempfile.mkdtemp(prefix="latency-"))
    image_path = write_digit_png(tmp / "digit.png")
    image = np.asarray(Image.open(image_path))
    explorer = load_explorer(None, args.weights_dir)
    explorer.prepare()  # the app indexes the codes in the background at start-up
    explorer.rendered_maps("mnist")  # (and renders the maps image on the first /embedding: not timed here)

    print(f"machine: {machine()}; onnxruntime {onnxruntime.__version__}, {args.threads} intra-op thread(s)\n")
    print("| handler | p50 ms | p95 ms |\n|---|---|---|")
    for name, samples in handler_latency(explorer, image, args.repeats):
        print(f"| {name} | {p50_p95(samples)} |")
    real_starts, trivial_starts, memory = [], [], []
    for _ in range(args.cold_runs):
        seconds, rss_mb = cold_start(args.weights_dir, image_path, args.threads)
        real_starts.append(seconds)
        memory.append(rss_mb)
        trivial_starts.append(trivial_cold_start(image_path))
    print(f"\ncold start → first /reconstruct answered, {args.cold_runs} runs each, alternated: python app.py "
          f"{min(real_starts):.2f}–{max(real_starts):.2f} s (resident memory after it {min(memory):.0f}–"
          f"{max(memory):.0f} MB); trivial Gradio app {min(trivial_starts):.2f}–{max(trivial_starts):.2f} s; "
          f"ratio of medians {percentile(real_starts, 50) / percentile(trivial_starts, 50):.2f} (target ≤ 1.5)")
    real, trivial = round_trip(explorer, args.weights_dir, image_path, args.repeats)
    ratio = percentile(real, 50) / percentile(trivial, 50)
    print("\n| gradio_client round trip | p50 ms | p95 ms |\n|---|---|---|")
    print(f"| /reconstruct (real app) | {p50_p95(real)} |")
    print(f"| same payload, trivial endpoint | {p50_p95(trivial)} |")
    print(f"\nratio of medians: {ratio:.2f} (target ≤ 1.3)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
