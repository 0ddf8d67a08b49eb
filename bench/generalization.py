"""Where a VAE's test -ELBO is lost to overfitting: the same bounds on training and test images.

    python bench/generalization.py [--model weights/mnist-vae] [--images 2000]

For `--images` random training images and as many random test images it prints the -ELBO
(one seeded posterior sample, analytic KL), the IWAE bound (k = `--samples`) and their
difference (the inference gap: how far q(z|x) is from the true posterior). Then

- the IWAE difference test - train is how much worse the *decoder* (the likelihood model)
  explains unseen images: the generative model's own overfitting;
- the inference-gap difference test - train is how much worse the *encoder* does on unseen
  images than on the ones it was trained on: overfitting of the amortized inference.

Their sum is the -ELBO difference. This says which part of the model to regularize.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from ae_vae import VAE, load_model
from ae_vae.data import load_split
from ae_vae.training.evaluation import elbo_terms, iwae_nll
from bench.common import argument_parser
from tests.support.harness import DEFAULT_WEIGHTS_DIR


def bounds(model: VAE, images: torch.Tensor, samples: int) -> dict[str, float]:
    neg_elbo = elbo_terms(model, images, seed=0)["neg_elbo"]
    iwae = float(iwae_nll(model, images, num_samples=samples, seed=0))
    return {"neg_elbo": neg_elbo, "iwae": iwae, "inference_gap": neg_elbo - iwae}


def main() -> int:
    parser = argument_parser(__doc__, data_dir=True)
    parser.add_argument("--model", type=Path, default=DEFAULT_WEIGHTS_DIR / "mnist-vae", help="a VAE weights folder")
    parser.add_argument("--images", type=int, default=2000, help="random images per split")
    parser.add_argument("--samples", type=int, default=100, help="importance samples (IWAE k)")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="torch threads")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    model = load_model(args.model)
    if not isinstance(model, VAE):
        parser.error(f"{args.model} is not a VAE")
    generator = torch.Generator().manual_seed(0)
    rows = {}
    for split, train in (("train", True), ("test", False)):
        images = load_split(model.config.dataset, args.data_dir, train=train, download=False).images
        pick = torch.randperm(len(images), generator=generator)[:args.images]
        rows[split] = bounds(model, images[pick], args.samples)
    print(f"{args.model}: {args.images} random images per split, IWAE k = {args.samples}\n")
    print("| split | −ELBO | IWAE NLL | inference gap (−ELBO − IWAE) |\n|---|---|---|---|")
    for split, row in rows.items():
        print(f"| {split} | {row['neg_elbo']:.2f} | {row['iwae']:.2f} | {row['inference_gap']:.2f} |")
    diff = {k: rows["test"][k] - rows["train"][k] for k in rows["test"]}
    print(f"| test − train | {diff['neg_elbo']:+.2f} | {diff['iwae']:+.2f} (decoder) | "
          f"{diff['inference_gap']:+.2f} (encoder) |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
