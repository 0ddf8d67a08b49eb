"""Training cost of each shipped configuration on this machine, measured alone.

    python bench/training_speed.py

The shipped models were trained two at a time (one thread each) next to other work, so the
seconds in their `metrics.json` are wall-clock under contention. This script times
`--steps` optimizer steps of each shipped architecture with the real training loop's pieces
(in-memory batches of 128, Adam, the model's own loss) and extrapolates to seconds per epoch
(469 steps) and minutes for the epochs each model was trained for, in fp32 and with
`train.py --precision bf16` (autocast of the forward pass; weights and Adam stay fp32).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from ae_vae import load_model
from ae_vae.hub import MODEL_NAMES
from bench.common import argument_parser, machine


def main() -> int:
    parser = argument_parser(__doc__, weights_dir=True)
    parser.add_argument("--steps", type=int, default=60, help="timed steps per configuration")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2], help="torch thread counts to time")
    parser.add_argument("--precision", nargs="+", choices=["fp32", "bf16"], default=["fp32", "bf16"],
                        help="precisions to time")
    args = parser.parse_args()
    print(f"machine: {machine()}; torch {torch.__version__}\n")
    print("| model | epochs | threads | precision | s / epoch | minutes total |\n|---|---|---|---|---|---|")
    for name in MODEL_NAMES:
        folder = Path(args.weights_dir) / name
        epochs = json.loads((folder / "metrics.json").read_text()).get("train_epochs", 0)
        for threads in args.threads:
            for precision in args.precision:
                per_epoch = seconds_per_epoch(folder, threads, precision, args.steps)
                minutes = per_epoch * epochs / 60
                print(f"| {name} | {epochs} | {threads} | {precision} | {per_epoch:.1f} | {minutes:.1f} |", flush=True)
    return 0


def seconds_per_epoch(folder: Path, threads: int, precision: str, steps: int) -> float:
    """Seconds per 469-step epoch of the model in `folder` (its architecture; the start weights do not matter)."""
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = load_model(folder).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    batch = torch.rand(128, 1, 28, 28)
    for step in range(steps + 5):
        if step == 5:
            start = time.perf_counter()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16"):
            loss = model(batch).loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return (time.perf_counter() - start) / steps * 469


if __name__ == "__main__":
    sys.exit(main())
