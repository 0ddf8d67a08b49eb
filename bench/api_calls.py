"""Every API endpoint of the app, called once through gradio_client: the one list the import test, CI's smoke run of
the Space's install, the memory benchmark and the soak share.

    python bench/api_calls.py http://127.0.0.1:7860/    # calls each endpoint once, prints its time; exit 1 on a miss

Imports only what `requirements.txt` installs (gradio brings gradio_client), so it runs in the Space's own venv.
"""

from __future__ import annotations

import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.support.harness import write_digit_png


def endpoint_calls(image: Any) -> dict[str, Callable[[Any], Any]]:
    """api_name -> a call of it with sensible inputs (`image`: a `handle_file` of a drawing), one per endpoint of
    the app (`check_every_endpoint_listed` keeps the list whole)."""
    return {
        "/reconstruct": lambda c: c.predict(None, image, "mnist", api_name="/reconstruct"),
        "/typicality": lambda c: c.predict(None, image, "mnist", api_name="/typicality"),
        "/neighbors": lambda c: c.predict(None, image, "mnist", 8, api_name="/neighbors"),
        "/traverse": lambda c: c.predict(None, image, "mnist", 1.0, -0.5, 0.0, api_name="/traverse"),
        "/encode": lambda c: c.predict(None, image, "fashion_mnist", api_name="/encode"),
        "/locate": lambda c: c.predict(None, image, "mnist", api_name="/locate"),
        "/decode": lambda c: c.predict("mnist", "vae", [0.0] * 32, api_name="/decode"),
        "/interpolate": lambda c: c.predict(image, image, "mnist", 5, "spherical", api_name="/interpolate"),
        "/interpolate_at": lambda c: c.predict(image, image, "mnist", "linear", 0.3, api_name="/interpolate_at"),
        "/interpolation_profile": lambda c: c.predict(image, image, "fashion_mnist", 6, "linear",
                                                      api_name="/interpolation_profile"),
        "/sample": lambda c: c.predict("mnist", 16, 3, 1.0, "mixture", 7, api_name="/sample"),
        "/decode_point": lambda c: c.predict("fashion_mnist", "ae", "pca", 0.5, -0.5, api_name="/decode_point"),
        "/embedding": lambda c: c.predict("mnist", image, api_name="/embedding"),
        "/beta_reconstruct": lambda c: c.predict(None, image, "mnist", 0.2, api_name="/beta_reconstruct"),
        "/beta_sample": lambda c: c.predict("fashion_mnist", 3.0, 9, 1, api_name="/beta_sample"),
        "/beta_curve": lambda c: c.predict("mnist", api_name="/beta_curve"),
    }


def check_every_endpoint_listed(client: Any, calls: dict[str, Any]) -> None:
    """Raise unless `calls` names exactly the app's API endpoints (a new endpoint must be called too)."""
    served = set(client.view_api(return_format="dict", print_info=False)["named_endpoints"])
    if served != set(calls):
        raise AssertionError(f"endpoints served but not called: {sorted(served - set(calls))}; "
                             f"called but not served: {sorted(set(calls) - served)}")


def call_every_endpoint(url: str, image_path: str | Path | None = None) -> dict[str, float]:
    """Call each endpoint of the app at `url` once; returns api_name -> seconds. Raises on any failure."""
    from gradio_client import Client, handle_file

    if image_path is None:
        image_path = write_digit_png(Path(tempfile.mkdtemp()) / "digit.png")
    client = Client(url, verbose=False)
    calls = endpoint_calls(handle_file(str(image_path)))
    check_every_endpoint_listed(client, calls)
    seconds = {}
    for name, call in calls.items():
        start = time.perf_counter()
        call(client)
        seconds[name] = time.perf_counter() - start
    return seconds


def main() -> int:
    if len(sys.argv) != 2 or sys.argv[1] in ("-h", "--help"):
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        return 2
    try:
        seconds = call_every_endpoint(sys.argv[1])
    except Exception as exc:  # noqa: BLE001 - the smoke run's answer is one line
        print(f"FAILED: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    for name, value in seconds.items():
        print(f"{name:24s} {1000 * value:8.1f} ms")
    print(f"all {len(seconds)} endpoints answered")
    return 0


if __name__ == "__main__":
    sys.exit(main())
