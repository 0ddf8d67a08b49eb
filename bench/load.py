"""Load test: 16 concurrent gradio_client clients for 60 s on /reconstruct and /sample.

    python bench/load.py                         # the app's defaults
    python bench/load.py --configs 1x2 2x1 4x1   # queue concurrency x torch threads, one run each

Each configuration starts `python app.py` as its own process; clients alternate /reconstruct
(an uploaded drawing) and /sample (25 samples, the app's default). Reports requests served, errors (must be 0),
throughput and p50/p95 latency per endpoint.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_app(port: int, concurrency: int, threads: int, weights_dir: str) -> subprocess.Popen:
    env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False", "AE_VAE_HUB_REPO": ""}
    proc = subprocess.Popen([sys.executable, str(ROOT / "app.py"), "--port", str(port), "--concurrency",
                             str(concurrency), "--threads", str(threads), "--weights-dir", weights_dir],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1)
            return proc
        except OSError:
            if proc.poll() is not None:
                raise RuntimeError("app exited during start-up")
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError("app did not start within 120 s")


def run_load(url: str, clients: int, seconds: float, image_path: str) -> dict[str, dict]:
    from gradio_client import Client, handle_file

    results: dict[str, list[float]] = {"/reconstruct": [], "/sample": []}
    errors: list[str] = []
    lock = threading.Lock()
    stop_at = time.perf_counter() + seconds

    def worker(index: int) -> None:
        client = Client(url, verbose=False)
        n = index
        while time.perf_counter() < stop_at:
            endpoint = "/reconstruct" if n % 2 == 0 else "/sample"
            n += 1
            start = time.perf_counter()
            try:
                if endpoint == "/reconstruct":
                    client.predict(None, handle_file(image_path), "mnist", api_name=endpoint)
                else:
                    client.predict("mnist", 25, n, 1.0, api_name=endpoint)
                with lock:
                    results[endpoint].append(1000 * (time.perf_counter() - start))
            except Exception as exc:  # noqa: BLE001 - every failure counts as an error
                with lock:
                    errors.append(f"{endpoint}: {exc.__class__.__name__}: {exc}")

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    summary = {}
    for endpoint, samples in results.items():
        ordered = sorted(samples) or [float("nan")]
        summary[endpoint] = {"served": len(samples), "p50": statistics.median(ordered),
                             "p95": ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]}
    summary["errors"] = {"count": len(errors), "first": errors[:3]}
    return summary


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--clients", type=int, default=16, help="concurrent gradio_client clients")
    parser.add_argument("--seconds", type=float, default=60.0, help="duration of each run")
    parser.add_argument("--configs", nargs="+", default=["2x1"],
                        help="CONCURRENCYxTHREADS per run (the app's --concurrency and --threads)")
    parser.add_argument("--weights-dir", default=os.environ.get("AE_VAE_WEIGHTS_DIR", str(ROOT / "weights")),
                        help="weights to serve")
    args = parser.parse_args()
    canvas = np.zeros((280, 280, 4), np.uint8)
    canvas[40:240, 125:150, 3] = 255
    image_path = str(Path(tempfile.mkdtemp(prefix="load-")) / "digit.png")
    Image.fromarray(canvas).save(image_path)

    print(f"machine: {os.cpu_count()} cores; {args.clients} clients for {args.seconds:.0f} s per configuration\n")
    print("| queue concurrency × torch threads | /reconstruct served | /sample served | req/s | errors "
          "| /reconstruct p50 / p95 ms | /sample p50 / p95 ms |\n|---|---|---|---|---|---|---|")
    worst_errors = 0
    for config in args.configs:
        concurrency, threads = (int(v) for v in config.lower().split("x"))
        port = free_port()
        proc = start_app(port, concurrency, threads, args.weights_dir)
        try:
            summary = run_load(f"http://127.0.0.1:{port}/", args.clients, args.seconds, image_path)
        finally:
            proc.terminate()
            proc.wait(timeout=30)
        rec, smp, err = summary["/reconstruct"], summary["/sample"], summary["errors"]
        worst_errors = max(worst_errors, err["count"])
        print(f"| {concurrency} × {threads} | {rec['served']} | {smp['served']} "
              f"| {(rec['served'] + smp['served']) / args.seconds:.1f} | {err['count']} "
              f"| {rec['p50']:.0f} / {rec['p95']:.0f} | {smp['p50']:.0f} / {smp['p95']:.0f} |", flush=True)
        for line in err["first"]:
            print(f"  error: {line}")
    return 1 if worst_errors else 0


if __name__ == "__main__":
    sys.exit(main())
