"""The figures the quality targets are stated in, for any model folder or training checkpoint, in a minute.

    python bench/probe.py weights/fashion_mnist-vae runs/fashion_mnist-vae/checkpoints/epoch_226

`bench/quality.py` measures the four shipped folders with their priors and the baselines; this measures
candidates: a run's output folder or one of its per-epoch checkpoints (any folder with `config.json` and
`model.safetensors`), so a probe or a fine-tune can be compared with the shipped model before anything is
re-shipped. Per folder, on the official test split, with the shipped judge of the folder's data set: the MSE per
pixel of the reconstructions from the posterior mean, the judge's accuracy on them, and for a VAE the −ELBO (one
posterior sample per image, seed 0), its KL term, and the Fréchet distance of 10 000 decoded N(0, I) samples to the
test set — the same samples, seed and formula as `bench/quality.py` — and to 10 000 training images; for every model
the judge's accuracy on the reconstructions of those 10 000 training images. The training-image figures are the ones
to compare settings on without choosing by the test split.
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from ae_vae import VAE, AutoEncoder, DataNotFoundError, WeightsError, load_model
from ae_vae.data import ImageSet, load_dataset
from ae_vae.errors import JudgeError
from ae_vae.latent.priors import StandardNormalPrior
from ae_vae.models.inference import decode_in_batches, embed_in_batches
from ae_vae.models.judge import load_judge
from ae_vae.training.evaluation import elbo_terms, frechet_distance, reconstruction_errors
from ae_vae.training.judge import accuracy
from bench.common import argument_parser, print_table_head, print_table_row
from tests.support.harness import ROOT

COLUMNS = ("folder", "MSE", "judge on recon", "judge on train recon", "−ELBO", "KL", "FD N(0, I) vs test",
           "FD N(0, I) vs train")


def probe(folder: Path, data_dir: Path, samples: int = 10_000, seed: int = 0,
          model: AutoEncoder | VAE | None = None) -> dict[str, float | str]:
    """The figures for `folder`; pass its already loaded `model` to skip reading it again."""
    model = (model if model is not None else load_model(folder)).eval()
    dataset = model.config.dataset
    train, test = load_dataset(dataset, data_dir, download=False)
    judge, _ = load_judge(ROOT / "weights" / f"judge-{dataset}")
    reconstructions = decode_in_batches(model, embed_in_batches(model, test.images))
    row: dict[str, float | str] = {
        "folder": str(folder),
        "MSE": round(reconstruction_errors(model, test.images)["mse_per_pixel"], 6),
        "judge on recon": round(accuracy(judge, ImageSet(reconstructions, test.labels)), 4),
        "judge on train recon": round(accuracy(judge, ImageSet(
            decode_in_batches(model, embed_in_batches(model, train.images[:samples])), train.labels[:samples])), 4)}
    if isinstance(model, VAE):
        terms = elbo_terms(model, test.images, seed=seed)
        features = judge.features(decode_in_batches(model, StandardNormalPrior(model.latent_dim).sample(samples, generator=seed)))
        row.update({"−ELBO": round(terms["neg_elbo"], 2), "KL": round(terms["kl"], 2),
                    "FD N(0, I) vs test": round(frechet_distance(features, judge.features(test.images)), 2),
                    "FD N(0, I) vs train": round(frechet_distance(features, judge.features(train.images[:samples])),
                                                 2)})
    return row


def main(argv: list[str] | None = None) -> int:
    parser = argument_parser(__doc__, data_dir=True)
    parser.add_argument("folders", type=Path, nargs="+", help="model folders or training checkpoints")
    parser.add_argument("--samples", type=int, default=10_000, help="N(0, I) samples (and training images) for the FD")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (the CPU may be shared)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    try:  # every folder read first, so a mistyped path fails before minutes of scoring
        models = {folder: load_model(folder) for folder in args.folders}
        print_table_head(COLUMNS)
        for folder, model in models.items():
            print_table_row(probe(folder, args.data_dir, samples=args.samples, model=model), COLUMNS)
    except (WeightsError, DataNotFoundError, JudgeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
