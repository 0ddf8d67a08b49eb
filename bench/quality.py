"""Quality of the shipped models against classic baselines, on the official test splits, by the shipped judges.

    python bench/quality.py --data-dir data
    python bench/quality.py --data-dir data --samples 1000 --skip-baselines   # shipped models only, quick

Every score comes from the shipped judge classifier of the data set (`weights/judge-<dataset>`, `ae_vae.judge`),
loaded, never retrained, so the numbers compare across runs and with `metrics.json` and `bench/priors.py`.

1. Per shipped model folder (`<weights-dir>/<dataset>-{ae,vae}`): every test metric
   (`ae_vae.evaluation.evaluate_model`) and the judge's accuracy on the model's reconstructions of the test set
   (beside its accuracy on the real test images).
2. Its sample quality per prior (`ae_vae.sample_quality.sample_quality`, `--samples` per prior): the Fréchet
   distance (FD, judge features) of decoded samples to the test set and the rarest class's share, for N(0, I), one
   Gaussian fitted to the training codes and the folder's mixture prior (`prior.safetensors`); and the share of
   class-conditional samples (`--samples` / 10 per class) the judge calls the class asked for, overall and for the
   worst class. A folder without a usable prior (a `PriorError`: missing, or fitted to other weights) is warned
   about and measured with N(0, I) only.
3. On MNIST, trains in the same run the classic 784-400-20 MLP VAE (10 epochs) and, unless
   `--skip-conv-baseline`, the plain two-conv VAE (z=16, 15 epochs) that our VAE must beat; both are measured
   the same way, with N(0, I) samples only. `--skip-baselines` skips both.

Prints two markdown tables (reconstruction, generation per prior) and writes `quality.json` and the decoded-sample
grids `prior_samples_<dataset>.png` to `--out-dir`.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from argparse import Namespace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from threadpoolctl import threadpool_limits
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from ae_vae import VAE, VAEConfig, load_model
from ae_vae.data import CLASS_NAMES, DATASET_TITLES, ImageSet, load_dataset
from ae_vae.errors import PriorError
from ae_vae.figures import grid_figure, save_figure
from ae_vae.latent.priors import GaussianMixturePrior, StandardNormalPrior
from ae_vae.models.inference import decode_in_batches, embed_in_batches
from ae_vae.models.judge import Judge, load_judge
from ae_vae.training.evaluation import evaluate_model, frechet_distance, sample_quality, unconditional_quality
from ae_vae.training.judge import accuracy
from ae_vae.training.loop import Schedule, TrainState, train_epoch
from bench.common import argument_parser, machine
from tests.support.harness import ROOT

logger = logging.getLogger("quality")
PRIORS = (("standard", "N(0, I)"), ("gaussian", "one Gaussian"), ("mixture", "mixture"))
GRID_SAMPLES = 16


# ---------------------------------------------------------------- baselines (same VAE API, other networks)

class MLPVAE(VAE):
    """The classic 784-400-20 VAE (Kingma & Welling; the PyTorch example)."""

    def __init__(self, latent_dim: int = 20, hidden: int = 400):
        nn.Module.__init__(self)
        self.config = VAEConfig(latent_dim=latent_dim)
        self.encoder = nn.Sequential(nn.Flatten(), nn.Linear(784, hidden), nn.ReLU(), nn.Linear(hidden, 2 * latent_dim))
        self.decoder = nn.Sequential(nn.Linear(latent_dim, hidden), nn.ReLU(), nn.Linear(hidden, 784),
                                     nn.Unflatten(1, (1, 28, 28)))


class PlainConvVAE(VAE):
    """Two stride-2 convolutions 32 -> 64 and a linear layer, mirrored: the older project's design."""

    def __init__(self, latent_dim: int = 16):
        nn.Module.__init__(self)
        self.config = VAEConfig(latent_dim=latent_dim)
        self.encoder = nn.Sequential(nn.Conv2d(1, 32, 4, 2, 1), nn.ReLU(), nn.Conv2d(32, 64, 4, 2, 1), nn.ReLU(),
                                     nn.Flatten(), nn.Linear(64 * 7 * 7, 2 * latent_dim))
        self.decoder = nn.Sequential(nn.Linear(latent_dim, 64 * 7 * 7), nn.ReLU(), nn.Unflatten(1, (64, 7, 7)),
                                     nn.ConvTranspose2d(64, 32, 4, 2, 1), nn.ReLU(), nn.ConvTranspose2d(32, 1, 4, 2, 1))


def train_baseline(model: VAE, train: ImageSet, epochs: int, seed: int, lr: float = 1e-3) -> tuple[VAE, float]:
    """Constant learning rate, β = 1 throughout: the classic recipe. Returns (model, seconds per epoch)."""
    torch.manual_seed(seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    steps = -(-len(train) // 128)
    schedule = Schedule(lr=lr, total_steps=epochs * steps, warmup_steps=0, final_lr_fraction=1.0)
    state, generator = TrainState(), torch.Generator().manual_seed(seed)
    start = time.perf_counter()
    for epoch in range(epochs):
        train_epoch(model, optimizer, train.images, 128, schedule, state, generator, torch.device("cpu"),
                    description=f"{type(model).__name__} {epoch + 1}/{epochs}")
    return model.eval(), (time.perf_counter() - start) / epochs


# ---------------------------------------------------------------- measuring one model

def standard_normal_quality(model: nn.Module, judge: Judge, test_features: np.ndarray, samples: int,
                            seed: int) -> dict[str, Any]:
    """N(0, I) only, drawn as `sample_quality` draws it (same seed, same codes): for models without a prior."""
    z = StandardNormalPrior(model.latent_dim).sample(samples, generator=seed)
    return {"standard": unconditional_quality(judge, decode_in_batches(model, z), test_features), "samples": samples}


def measure(args: Namespace, name: str, model: nn.Module, folder: Path | None, judge: Judge, train: ImageSet,
            test: ImageSet, test_features: np.ndarray) -> tuple[dict[str, Any], GaussianMixturePrior | None]:
    """Test metrics, the judge on the reconstructions, sample quality per prior; and the prior used (or None)."""
    reconstructions = decode_in_batches(model, embed_in_batches(model, test.images))
    row: dict[str, Any] = {"model": name, "folder": folder.name if folder else None, "latent_dim": model.latent_dim,
                           **evaluate_model(model, train, test, seed=args.seed)}
    row["judge_acc_on_reconstructions"] = round(accuracy(judge, ImageSet(reconstructions, test.labels)), 4)
    prior = None
    if folder is not None:
        try:
            prior = GaussianMixturePrior.from_pretrained(folder, latent_dim=model.latent_dim, weights=model)
        except PriorError as exc:
            logger.warning("%s; measuring N(0, I) only", exc)
            row["prior_error"] = str(exc)
    if prior is None:
        row["sample_quality"] = standard_normal_quality(model, judge, test_features, args.samples, args.seed)
    else:
        row["prior"] = repr(prior)
        row["sample_quality"] = sample_quality(model, prior, judge, train.images, test.images,
                                               samples=args.samples, seed=args.seed)
    return row, prior


def sample_grids(short: str, model: nn.Module, prior: GaussianMixturePrior | None, seed: int) -> list[tuple]:
    """A row of decoded N(0, I) samples, and one of mixture samples when the model has a prior."""
    z = torch.randn(GRID_SAMPLES, model.latent_dim, generator=torch.Generator().manual_seed(seed))
    grids = [(f"{short} N(0, I)", decode_in_batches(model, z))]
    if prior is not None:
        z = prior.sample(GRID_SAMPLES, generator=seed)
        grids.append((f"{short} mixture", decode_in_batches(model, z)))
    return grids


# ---------------------------------------------------------------- main

def parse_args(argv: list[str] | None = None) -> Namespace:
    parser = argument_parser(__doc__, weights_dir=True, data_dir=True)
    parser.add_argument("--out-dir", type=Path, default=ROOT / "bench" / "out", help="JSON and figures")
    parser.add_argument("--samples", type=int, default=10_000, help="samples per prior for the FD (1/10 per class)")
    parser.add_argument("--skip-baselines", action="store_true", help="train neither baseline VAE")
    parser.add_argument("--skip-conv-baseline", action="store_true", help="do not train the plain conv VAE")
    parser.add_argument("--datasets", nargs="+", choices=["mnist", "fashion_mnist"], default=["mnist", "fashion_mnist"],
                        help="measure these data sets only (e.g. after retraining one pair)")
    parser.add_argument("--seed", type=int, default=0, help="random seed")
    parser.add_argument("--threads", type=int, default=1, help="torch and BLAS threads (the CPU may be shared)")
    return parser.parse_args(argv)


def main(args: Namespace) -> int:
    torch.set_num_threads(args.threads)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    rows: list[dict] = []
    judges: dict[str, dict] = {}
    with threadpool_limits(args.threads):
        for dataset in args.datasets:
            train, test = load_dataset(dataset, args.data_dir, download=False)
            judge, card = load_judge(args.weights_dir / f"judge-{dataset}")
            test_features = judge.features(test.images)
            judges[dataset] = {"folder": f"judge-{dataset}", "card_test_accuracy": card.test_accuracy,
                               "test_accuracy": round(accuracy(judge, test), 4),
                               "fd_train_vs_test": round(frechet_distance(judge.features(train.images[:10_000]),
                                                                          test_features), 3)}
            logger.info("%s judge: test accuracy %.4f; FD(10 000 train, test) %.2f", DATASET_TITLES[dataset],
                        judges[dataset]["test_accuracy"], judges[dataset]["fd_train_vs_test"])

            candidates = [(f"ours {kind.upper()} ({dataset}-{kind})", f"ours {kind.upper()}",
                           args.weights_dir / f"{dataset}-{kind}", None) for kind in ("ae", "vae")]
            if dataset == "mnist" and not args.skip_baselines:
                candidates.append(("classic MLP VAE 784-400-20, 10 ep", "MLP VAE", None, (MLPVAE, 10)))
                if not args.skip_conv_baseline:
                    candidates.append(("plain two-conv VAE z=16, 15 ep", "conv VAE", None, (PlainConvVAE, 15)))
            grids = []
            for name, short, folder, baseline in candidates:
                if baseline is None:
                    model, seconds = load_model(folder), None
                else:
                    model, seconds = train_baseline(baseline[0](), train, baseline[1], args.seed)
                start = time.perf_counter()
                row, prior = measure(args, name, model, folder, judge, train, test, test_features)
                row = {"dataset": dataset, **row, "judge_acc_on_test": judges[dataset]["test_accuracy"]}
                if seconds is not None:
                    row["train_seconds_per_epoch"] = round(seconds, 1)
                rows.append(row)
                grids += sample_grids(short, model, prior, args.seed)
                logger.info("%s: %s measured in %.1f s", DATASET_TITLES[dataset], name, time.perf_counter() - start)
            title = f"{DATASET_TITLES[dataset]}: decoded samples per prior"
            figure = grid_figure(grids, ncol=GRID_SAMPLES, title=title)
            save_figure(figure, args.out_dir / f"prior_samples_{dataset}.png")
    out = args.out_dir / "quality.json"
    out.write_text(json.dumps({"machine": machine(), "torch": torch.__version__, "samples": args.samples,
                               "seed": args.seed, "judges": judges, "rows": rows}, indent=2) + "\n")
    print(reconstruction_table(rows, judges))
    print()
    print(generation_table(rows))
    print(f"\n({args.samples} samples per prior, {args.samples // 10} per class; JSON in {out})")
    return 0


# ---------------------------------------------------------------- tables

def _fmt(row: dict, key: str, spec: str) -> str:
    return format(row[key], spec) if row.get(key) is not None else "–"


def reconstruction_table(rows: list[dict], judges: dict[str, dict]) -> str:
    lines = ["| data | model | −ELBO | IWAE NLL (k=100) | MSE/pixel | active units | 5-NN acc | judge acc on recon |",
             "|---|---|---|---|---|---|---|---|"]
    for row in rows:
        units = f"{row['active_units']} / {row['latent_dim']}" if "active_units" in row else "–"
        lines.append(f"| {DATASET_TITLES[row['dataset']]} | {row['model']} | {_fmt(row, 'neg_elbo', '.2f')} "
                     f"| {_fmt(row, 'iwae_nll', '.2f')} | {_fmt(row, 'mse_per_pixel', '.4f')} | {units} "
                     f"| {_fmt(row, 'knn5_accuracy', '.3f')} | {_fmt(row, 'judge_acc_on_reconstructions', '.3f')} |")
    for dataset, judge in judges.items():
        lines.append(f"\n{DATASET_TITLES[dataset]}: judge `weights/{judge['folder']}`, accuracy on the real test "
                     f"images {judge['test_accuracy']:.4f}; FD between 10 000 training images and the test set "
                     f"(the floor) {judge['fd_train_vs_test']:.2f}.")
    return "\n".join(lines)


def generation_table(rows: list[dict]) -> str:
    head = " | ".join(f"{title}: FD ↓ | {title}: min class share" for _, title in PRIORS)
    lines = [f"| data | model | {head} | class-conditional: judged as asked | worst class |",
             "|---|---|" + "---|" * (2 * len(PRIORS) + 2)]
    for row in rows:
        quality = row["sample_quality"]
        cells = [f"{_fmt(quality.get(key, {}), 'frechet_distance', '.1f')} "
                 f"| {_fmt(quality.get(key, {}), 'min_class_share', '.3f')}" for key, _ in PRIORS]
        cond = quality.get("class_conditional")
        conditional = ("– | –" if cond is None else f"{100 * cond['accuracy']:.1f} % "
                       f"| {CLASS_NAMES[row['dataset']][cond['worst_class']]}: {100 * cond['worst_accuracy']:.1f} %")
        lines.append(f"| {DATASET_TITLES[row['dataset']]} | {row['model']} | {' | '.join(cells)} | {conditional} |")
    return "\n".join(lines)


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    sys.exit(main(parse_args()))
