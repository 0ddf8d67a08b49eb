"""Load test: 16 concurrent clients for 60 s, on the API (/reconstruct and /sample) or drawing live on the pad.

    python bench/load_test.py                         # the app's defaults, API mode
    python bench/load_test.py --configs 1x2 2x1 4x1   # queue concurrency x onnxruntime threads, one run each
    python bench/load_test.py --mode live             # 16 pages drawing live (bench/live_load.py)

Each configuration starts `python app.py` as its own process (on loopback). API mode: gradio_client clients
alternate /reconstruct (an uploaded drawing) and /sample (25 samples, the app's default); reports requests served,
errors (must be 0), throughput and p50/p95 latency per endpoint. Live mode: simulated pages send the pad's frames
every 100 ms with at most one in flight, as the page does (`bench/live_load.py`); reports frames served per second,
the slowest client's answers per second (target >= 1), pointer-up -> final frame's answer p50/p95 (target p95 <= 2 s)
and errors (must be 0). The load generators share the machine's cores with the app.
"""

from __future__ import annotations

import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.common import argument_parser, machine, percentile
from bench.live_load import run_live_load
from tests.support.harness import app_server, exit_unless_ready, write_digit_png

LIVE_TARGETS = {"min_answers_per_client_s": 1.0, "final_p95": 2.0}


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


def api_runs(args, configs: list[tuple[int, int]]) -> int:
    image_path = str(write_digit_png(Path(tempfile.mkdtemp(prefix="load-")) / "digit.png"))
    print("| queue concurrency × onnxruntime threads | /reconstruct served | /sample served | req/s | errors "
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


def live_runs(args, configs: list[tuple[int, int]]) -> int:
    print("| queue concurrency × onnxruntime threads | frames served/s (all clients) | slowest client answers/s "
          "| pointer-up → final answer p50 / p95 s | frame round trip p50 / p95 ms | errors |\n"
          "|---|---|---|---|---|---|")
    ok = True
    for concurrency, threads in configs:
        with app_server(args.weights_dir, args=["--concurrency", str(concurrency), "--threads", str(threads)]) as app:
            s = run_live_load(app.url, args.clients, args.seconds, fetch_images=not args.no_fetch)
        print(f"| {concurrency} × {threads} | {s['frames_per_s']:.1f} | {s['min_answers_per_client_s']:.2f} "
              f"| {s['final_p50']:.2f} / {s['final_p95']:.2f} ({s['finals']} strokes) "
              f"| {1000 * s['frame_p50']:.0f} / {1000 * s['frame_p95']:.0f} | {s['errors']} |", flush=True)
        for line in s["first_errors"]:
            print(f"  error: {line}")
        ok &= (s["errors"] == 0 and s["min_answers_per_client_s"] >= LIVE_TARGETS["min_answers_per_client_s"]
               and s["final_p95"] <= LIVE_TARGETS["final_p95"])
    print(f"targets: 0 errors, slowest client >= {LIVE_TARGETS['min_answers_per_client_s']:.0f} answer/s, "
          f"final answer p95 <= {LIVE_TARGETS['final_p95']:.0f} s: {'PASS' if ok else 'MISS'}")
    return 0 if ok else 1


def main() -> int:
    parser = argument_parser(__doc__, weights_dir=True)
    parser.add_argument("--mode", choices=["api", "live"], default="api",
                        help="api: gradio_client on /reconstruct and /sample; live: pages drawing on the pad")
    parser.add_argument("--clients", type=int, default=16, help="concurrent clients")
    parser.add_argument("--seconds", type=float, default=60.0, help="duration of each run")
    parser.add_argument("--configs", nargs="+", default=["2x1"],
                        help="CONCURRENCYxTHREADS per run (the app's --concurrency and --threads)")
    parser.add_argument("--no-fetch", action="store_true", help="live mode: do not download the output images")
    args = parser.parse_args()
    configs = [concurrency_x_threads(text) for text in args.configs]
    if None in configs:
        parser.error(f"--configs takes CONCURRENCYxTHREADS with both at least 1, e.g. 2x1, not {args.configs}")
    exit_unless_ready(args.weights_dir, browser=False)
    print(f"machine: {machine()}; {args.clients} clients for {args.seconds:.0f} s per configuration, {args.mode} mode\n")
    return (live_runs if args.mode == "live" else api_runs)(args, configs)


if __name__ == "__main__":
    sys.exit(main())
