"""How long `train.py --quick` takes, end to end, and whether the app serves what it wrote.

    python bench/quick_training.py [--data-dir DIR] [--model vae] [--dataset mnist]

Runs `python train.py --quick` into a temporary folder (the real data sets; the machine's threads), times the whole
command, then loads the folder as `python app.py --vae FOLDER` does. Target: <= 4 min on a 2-core CPU.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.common import argument_parser, machine
from tests.support.harness import DEFAULT_DATA_DIR, ROOT

TARGET_S = 240.0


def main() -> int:
    parser = argument_parser(__doc__)
    parser.add_argument("--data-dir", default=str(DEFAULT_DATA_DIR), help="torchvision data root")
    parser.add_argument("--model", choices=["ae", "vae"], default="vae")
    parser.add_argument("--dataset", choices=["mnist", "fashion_mnist"], default="mnist")
    args = parser.parse_args()
    from ae_vae.app.sources import find_own_models

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / f"{args.dataset}-{args.model}"
        command = [sys.executable, str(ROOT / "train.py"), "--quick", "--model", args.model, "--dataset", args.dataset,
                   "--data-dir", args.data_dir, "--output-dir", str(out)]
        start = time.perf_counter()
        result = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, check=False)
        seconds = time.perf_counter() - start
        if result.returncode != 0:
            print(result.stderr[-3000:])
            return 1
        folder = find_own_models(**{args.model: [out]})[f"{args.dataset}-{args.model}"]
        metrics = folder.metrics
    print(f"machine: {machine()}")
    print(f"python train.py --quick --model {args.model} --dataset {args.dataset}: {seconds:.0f} s "
          f"(target <= {TARGET_S:.0f} s); the app loads it (graphs checked against weights {folder.model.version}, prior: "
          f"{folder.prior is not None}); test MSE {metrics.get('mse_per_pixel', float('nan')):.4f}")
    return 0 if seconds <= TARGET_S else 1


if __name__ == "__main__":
    sys.exit(main())
