"""Issue 16's goals in the units they were written in: the per-run judge of the old `bench/quality.py`.

    python bench/issue_judge.py --data-dir ../shared/data --threads 2
    python bench/issue_judge.py --datasets fashion_mnist --folders weights/fashion_mnist-ae runs/X/checkpoints/epoch_80

The issue's "today" figures (Fashion AE 0.851 on reconstructions, VAE 0.796, VAE N(0, I) FD 99.5; the judge 0.881 on
real Fashion test images) came from the classifier `bench/quality.py` then trained on every run: the shipped judge's
architecture, plain Adam at a constant 1e-3 for 3 epochs, seed 0. The shipped judge (`weights/judge-<dataset>`,
6 epochs with a cosine decay) is stronger (0.8955 on real Fashion test images), so its figures are not the issue's.
This re-creates the old judge (`ae_vae.judge.train_judge(..., epochs=3, seed=0, cosine=False)`; with two folders
~3.5 min per data set alone on two threads) and prints, per model folder and for both judges, the accuracy on the
test-set reconstructions and, for a VAE, the Fréchet distance of 10 000 decoded N(0, I) draws to the test images
(`bench/probe.py`'s draws).
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from ae_vae import VAE, DataNotFoundError, WeightsError, load_model
from ae_vae.data import DATASETS, ImageSet, load_dataset
from ae_vae.judge import Judge, JudgeError, accuracy, frechet_distance, load_judge, train_judge
from ae_vae.priors import model_codes
from ae_vae.sample_quality import decode_in_batches, standard_normal_draws
from bench.common import argument_parser, print_table_head, print_table_row

COLUMNS = ("folder", "issue's judge: recon", "shipped judge: recon", "issue's judge: FD N(0, I)",
           "shipped judge: FD N(0, I)")


def scores(model, judges: dict[str, Judge], test: ImageSet, samples: int) -> dict[str, float]:
    reconstructions = ImageSet(decode_in_batches(model, model_codes(model, test.images)), test.labels)
    row = {f"{name}: recon": round(accuracy(judge, reconstructions), 4) for name, judge in judges.items()}
    if isinstance(model, VAE):
        draws = decode_in_batches(model, standard_normal_draws(model.latent_dim, samples, 0))
        row |= {f"{name}: FD N(0, I)": round(frechet_distance(judge.features(draws), judge.features(test.images)), 1)
                for name, judge in judges.items()}
    return row


def main(argv: list[str] | None = None) -> int:
    parser = argument_parser(__doc__, weights_dir=True, data_dir=True)
    parser.add_argument("--datasets", nargs="+", choices=DATASETS, default=list(DATASETS))
    parser.add_argument("--folders", type=Path, nargs="*", default=None,
                        help="model folders or checkpoints to score (default: the shipped AE and VAE of each data set)")
    parser.add_argument("--samples", type=int, default=10_000, help="N(0, I) draws per VAE")
    parser.add_argument("--threads", type=int, default=2, help="torch threads")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    folders = args.folders if args.folders is not None else [args.weights_dir / f"{dataset}-{kind}"
                                                              for dataset in args.datasets for kind in ("ae", "vae")]
    try:  # every folder read before minutes of judge training, so a wrong path fails at once
        models = {folder: load_model(folder).eval() for folder in folders}
        print_table_head(COLUMNS)
        for dataset in args.datasets:
            train, test = load_dataset(dataset, args.data_dir, download=False)
            judges = {"issue's judge": train_judge(train, epochs=3, seed=0, cosine=False),
                      "shipped judge": load_judge(args.weights_dir / f"judge-{dataset}")[0]}
            print_table_row({"folder": f"real {dataset} test images",
                             **{f"{name}: recon": round(accuracy(judge, test), 4) for name, judge in judges.items()}},
                            COLUMNS)
            for folder, model in models.items():
                if model.config.dataset == dataset:
                    print_table_row({"folder": str(folder), **scores(model, judges, test, args.samples)}, COLUMNS)
    except (WeightsError, DataNotFoundError, JudgeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for folder, model in models.items():
        if model.config.dataset not in args.datasets:
            print(f"skipped {folder}: a {model.config.dataset} model, not among --datasets", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
