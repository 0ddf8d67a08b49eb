"""What every benchmark shares: its command line, its tables, one definition of a percentile, the machine line.

The app, Chromium and the pad's drawings are the tests' harness (`tests/support/harness.py`): benchmarks import it
from there (`tests.support.harness`), after putting the repo root on sys.path, as they import this module.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import time
from collections.abc import Sequence
from pathlib import Path

from tests.support.harness import DEFAULT_DATA_DIR, DEFAULT_WEIGHTS_DIR

# ---------------------------------------------------------------- command lines and tables

def argument_parser(doc: str, *, weights_dir: bool = False, data_dir: bool = False) -> argparse.ArgumentParser:
    """A parser described by the first paragraph of `doc`, with the shared `--weights-dir` / `--data-dir`."""
    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    if weights_dir:
        parser.add_argument("--weights-dir", type=Path, default=DEFAULT_WEIGHTS_DIR,
                            help="folder of the four model folders (env AE_VAE_WEIGHTS_DIR)")
    if data_dir:
        parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR,
                            help="torchvision data root (env AE_VAE_DATA_DIR)")
    return parser


def print_table_head(columns: Sequence[str]) -> None:
    """A markdown table's header, for a table printed row by row as its figures come in."""
    print("| " + " | ".join(columns) + " |")
    print("|" + "---|" * len(columns))


def print_table_row(row: dict, columns: Sequence[str]) -> None:
    """One markdown row of `row`'s values in `columns` order, "–" where a figure does not apply; flushed."""
    print("| " + " | ".join(str(row.get(column, "–")) for column in columns) + " |", flush=True)


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0 <= q <= 100) by linear interpolation between the two nearest ranks.

    The sorted values sit at positions 0 .. n-1; the percentile is read at position (n - 1) * q / 100, between
    its two neighbours (numpy's default "linear" method, Hyndman & Fan type 7). So p50 is the usual median and
    p100 the maximum. NaN when there are no values, so a table row can still be printed.
    """
    if not 0 <= q <= 100:
        raise ValueError(f"a percentile is between 0 and 100, not {q}")
    ordered = sorted(values)
    if not ordered:
        return math.nan
    position = (len(ordered) - 1) * q / 100
    lo = math.floor(position)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (position - lo)


def timed_ms(fn, repeats: int) -> list[float]:
    """Milliseconds of `repeats` calls of `fn`, after one warm-up call."""
    fn()
    out = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        out.append(1000 * (time.perf_counter() - start))
    return out


def machine() -> str:
    """The machine a table was measured on, with its load (other work skews every timing)."""
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    return f"{os.cpu_count()} cores {platform.machine()} {platform.system()}, load average {load}"


