"""Load test: 16 concurrent gradio_client clients for 60 s on /reconstruct and /sample.

    python bench/load_test.py                         # the app's defaults
    python bench/load_test.py --configs 1x2 2x1 4x1   # queue concurrency x torch threads, one run each

Each configuration starts `python app.py` as its own process; clients alternate /reconstruct
(an uploaded drawing) and /sample (25 samples, the app's default). Reports requests served, errors (must be 0),
throughput and p50/p95 latency per endpoint.
"""

from __future__ import annotations

import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.common import app_server, argument_parser, exit_unless_ready, machine, percentile, write_digit_png


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
    summary = {endpoint: {"served": len(samples), "p50": percentile(samples, 50), "p95": percentile(samples, 95)}
               for endpoint, samples in results.items()}
    summary["errors"] = {"count": len(errors), "first": errors[:3]}
    return summary


def concurrency_x_threads(text: str) -> tuple[int, int] | None:
    """"2x1" -> (2, 1): the app's --concurrency and --threads; None when `text` is not of that form."""
    try:
        concurrency, threads = (int(v) for v in text.lower().split("x"))
    except ValueError:
        return None
    return (concurrency, threads) if concurrency >= 1 and threads >= 1 else None


def main() -> int:
    parser = argument_parser(__doc__, weights_dir=True)
    parser.add_argument("--clients", type=int, default=16, help="concurrent gradio_client clients")
    parser.add_argument("--seconds", type=float, default=60.0, help="duration of each run")
    parser.add_argument("--configs", nargs="+", default=["2x1"],
                        help="CONCURRENCYxTHREADS per run (the app's --concurrency and --threads)")
    args = parser.parse_args()
    configs = [concurrency_x_threads(text) for text in args.configs]
    if None in configs:
        parser.error(f"--configs takes CONCURRENCYxTHREADS with both at least 1, e.g. 2x1, not {args.configs}")
    exit_unless_ready(args.weights_dir, browser=False)
    image_path = str(write_digit_png(Path(tempfile.mkdtemp(prefix="load-")) / "digit.png"))

    print(f"machine: {machine()}; {args.clients} clients for {args.seconds:.0f} s per configuration\n")
    print("| queue concurrency × torch threads | /reconstruct served | /sample served | req/s | errors "
          "| /reconstruct p50 / p95 ms | /sample p50 / p95 ms |\n|---|---|---|---|---|---|---|")
    worst_errors = 0
    for concurrency, threads in configs:
        with app_server(args.weights_dir, args=["--concurrency", str(concurrency), "--threads", str(threads)]) as app:
            summary = run_load(app.url, args.clients, args.seconds, image_path)
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
