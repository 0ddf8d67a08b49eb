"""In-memory tensor vs a torchvision DataLoader over PIL images: one training epoch of input pipeline.

    python bench/data_loading.py [--data-dir data]

Measures only the input pipeline (no model): seconds to yield every mini-batch of the MNIST
training set once, for the in-memory path that `train.py` uses and for the usual
`DataLoader(MNIST(transform=ToTensor()))` with 0 and 2 workers.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from ae_vae.data import iterate_minibatches, load_split
from bench.common import argument_parser, machine


def time_it(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> int:
    parser = argument_parser(__doc__, data_dir=True)
    parser.add_argument("--batch-size", type=int, default=128, help="mini-batch size")
    args = parser.parse_args()
    from torchvision import datasets, transforms

    load_seconds = time_it(lambda: load_split("mnist", args.data_dir, train=True, download=False))
    images = load_split("mnist", args.data_dir, train=True, download=False).images
    generator = torch.Generator().manual_seed(0)
    in_memory = time_it(lambda: [b.sum() for b in iterate_minibatches(images, args.batch_size, generator)])
    print(f"machine: {machine()}; torch {torch.__version__}")
    print(f"| pipeline | seconds per epoch |\n|---|---|\n| in-memory tensor (load once: {load_seconds:.2f} s) "
          f"| {in_memory:.2f} |")
    dataset = datasets.MNIST(args.data_dir, train=True, download=False, transform=transforms.ToTensor())
    for workers in (0, 2):
        loader = torch.utils.data.DataLoader(dataset, batch_size=args.batch_size, shuffle=True, num_workers=workers)
        seconds = time_it(lambda loader=loader: [x.sum() for x, _ in loader])
        print(f"| DataLoader(MNIST, ToTensor), num_workers={workers} | {seconds:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
