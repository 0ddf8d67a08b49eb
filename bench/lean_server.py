"""What serving costs: the Space's install, the app's memory after every endpoint, and memory over a long soak.

    python bench/lean_server.py --install                 # fresh venv of requirements.txt (pip without its cache)
    python bench/lean_server.py --memory                  # resident memory: started, then every endpoint once
    python bench/lean_server.py --soak-seconds 600        # 16 clients mixing the endpoints and pages' final frames

Install: a new virtual environment in a temporary folder, `pip install --no-cache-dir -r REQUIREMENTS`: seconds and
size on disk (targets: ≤ 90 s, ≤ 0.8 GB). Memory: `python app.py` as a subprocess; its VmRSS once it serves, then
after `bench/api_calls.py` has called every endpoint once (target ≤ 400 MB). Soak: 12 gradio_client clients, each
calling the endpoints in turn (`bench/api_calls.endpoint_calls`), and 4 simulated pages that run the models and send
each stroke's final frame with their results (`bench/live_load.py`), for `--soak-seconds`; VmRSS every 10 s while
they run, and its growth from the first minute to the end of the load (target ≤ 10 %); errors must be 0.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.api_calls import call_every_endpoint, endpoint_calls
from bench.common import argument_parser, machine
from tests.support.harness import ROOT, app_server, write_digit_png

SOAK_API_CLIENTS, SOAK_PAGES = 12, 4


def resident_mb(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text().splitlines()
    return int(next(line for line in status if line.startswith("VmRSS")).split()[1]) / 1024


def install(requirements: Path) -> tuple[float, float]:
    """(seconds, MB on disk) of a fresh venv with `requirements` installed, pip's cache off."""
    folder = Path(tempfile.mkdtemp(prefix="space-venv-"))
    try:
        subprocess.run([sys.executable, "-m", "venv", str(folder)], check=True)
        start = time.perf_counter()
        subprocess.run([str(folder / "bin" / "pip"), "install", "-q", "--no-cache-dir", "-r", str(requirements)],
                       check=True, stdout=subprocess.DEVNULL)
        seconds = time.perf_counter() - start
        size = subprocess.run(["du", "-sm", str(folder)], check=True, capture_output=True, text=True).stdout
        return seconds, float(size.split()[0])
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def memory(weights_dir: Path) -> tuple[float, float]:
    """(MB once serving, MB after every endpoint was called once) of `python app.py`."""
    with app_server(weights_dir) as app:
        time.sleep(5)  # the maps are rendered in the background at start-up
        started = resident_mb(app.process.pid)
        call_every_endpoint(app.url)
        return started, resident_mb(app.process.pid)


def soak(weights_dir: Path, seconds: float) -> dict:
    """Resident memory of the app every 10 s while clients keep it busy for `seconds`."""
    from gradio_client import Client, handle_file

    from ae_vae.app.sources import load_explorer
    from bench.live_load import run_live_load

    image = write_digit_png(Path(tempfile.mkdtemp()) / "digit.png")
    explorer = load_explorer(None, weights_dir)  # computes what the simulated pages' models compute
    errors: list[str] = []
    calls_made = [0]
    with app_server(weights_dir) as app:
        stop_at = time.monotonic() + seconds
        samples: list[tuple[float, float]] = []

        def api_client(index: int) -> None:
            client = Client(app.url, verbose=False)
            calls = list(endpoint_calls(handle_file(str(image))).items())
            n = index
            while time.monotonic() < stop_at:
                name, call = calls[n % len(calls)]
                n += 1
                try:
                    call(client)
                    calls_made[0] += 1
                except Exception as exc:  # noqa: BLE001 - every failure counts
                    errors.append(f"{name}: {type(exc).__name__}: {exc}")

        pages: dict = {}
        workers = [threading.Thread(target=api_client, args=(i,), daemon=True) for i in range(SOAK_API_CLIENTS)]
        workers.append(threading.Thread(target=lambda: pages.update(run_live_load(
            app.url, SOAK_PAGES, seconds, live_frames=False, explorer=explorer)), daemon=True))
        start = time.monotonic()
        for worker in workers:
            worker.start()
        while any(worker.is_alive() for worker in workers):  # samples while the clients run
            samples.append((time.monotonic() - start, resident_mb(app.process.pid)))
            time.sleep(10)
        idle = resident_mb(app.process.pid)
    after_first_minute = next(mb for t, mb in samples if t >= 60) if seconds > 60 else samples[0][1]
    return {"samples": samples, "first_minute": after_first_minute, "end": samples[-1][1],
            "peak": max(mb for _, mb in samples), "idle": idle,
            "growth": samples[-1][1] / after_first_minute - 1, "api_calls": calls_made[0],
            "page_finals": pages.get("finals", 0), "errors": len(errors) + pages.get("errors", 0),
            "first_errors": errors[:3] + pages.get("first_errors", [])[:3]}


def main() -> int:
    parser = argument_parser(__doc__, weights_dir=True)
    parser.add_argument("--install", action="store_true", help="measure a fresh venv of --requirements")
    parser.add_argument("--requirements", type=Path, default=ROOT / "requirements.txt")
    parser.add_argument("--memory", action="store_true", help="resident memory after every endpoint once")
    parser.add_argument("--soak-seconds", type=float, default=0, help="run the soak this long (0: no soak)")
    args = parser.parse_args()
    print(f"machine: {machine()}")
    if args.install:
        seconds, size = install(args.requirements)
        print(f"fresh venv of {args.requirements.name}, pip without its cache: {seconds:.0f} s, {size / 1024:.2f} GB "
              "on disk (targets ≤ 90 s, ≤ 0.8 GB)")
    if args.memory:
        started, after = memory(args.weights_dir)
        print(f"python app.py resident memory: {started:.0f} MB serving, {after:.0f} MB after every endpoint once "
              "(target ≤ 400 MB)")
    if args.soak_seconds:
        result = soak(args.weights_dir, args.soak_seconds)
        print("resident MB every 10 s: " + " ".join(f"{mb:.0f}" for _, mb in result["samples"]))
        print(f"soak {args.soak_seconds:.0f} s, {SOAK_API_CLIENTS} API clients ({result['api_calls']} calls) + "
              f"{SOAK_PAGES} pages ({result['page_finals']} final frames): {result['first_minute']:.0f} MB after the "
              f"first minute, {result['end']:.0f} MB at the end of the load: {100 * result['growth']:+.1f} % (target "
              f"≤ +10 %); peak {result['peak']:.0f} MB; {result['idle']:.0f} MB once the clients stopped; errors "
              f"{result['errors']} {result['first_errors']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
