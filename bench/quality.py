"""Quality of the shipped models against classic baselines, on the official test splits.

    python bench/quality.py --data-dir ../shared/data

1. Recomputes every test metric of the four shipped models (`ae_vae.evaluation.evaluate_model`).
2. Trains, in the same run, the classic 784-400-20 MLP VAE (10 epochs) and, unless
   `--skip-conv-baseline`, the plain two-conv VAE (z=16, 15 epochs) that our VAE must beat.
3. Trains a small CNN classifier per data set on the train split and reports
   (a) its accuracy on each model's reconstructions of the test set, and
   (b) a classifier-feature Fréchet distance (FD) between 10 000 prior samples and the test set,
       plus how the samples spread over the ten classes.
Prints a markdown table (the README shows it) and writes JSON + sample grids to `bench/out/`.
"""

from __future__ import annotations

import json
import logging
import os
import platform
import sys
import time
from argparse import Namespace
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from scipy import linalg
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from ae_vae import VAE, VAEConfig, load_model
from ae_vae.data import DATASET_TITLES, ImageSet, load_dataset
from ae_vae.evaluation import evaluate_model
from ae_vae.latent import sample_prior
from ae_vae.plotting import grid_figure, save_figure
from ae_vae.training import Schedule, TrainState, train_epoch
from bench.common import ROOT, argument_parser

logger = logging.getLogger("quality")


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


# ---------------------------------------------------------------- the judge: a small CNN classifier

class Classifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(32, 64, 3), nn.ReLU(),
                                      nn.MaxPool2d(2), nn.Flatten(), nn.Linear(64 * 5 * 5, 128), nn.ReLU())
        self.head = nn.Linear(128, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


def train_classifier(train: ImageSet, epochs: int, seed: int) -> Classifier:
    torch.manual_seed(seed)
    model = Classifier()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    generator = torch.Generator().manual_seed(seed)
    for _ in range(epochs):
        order = torch.randperm(len(train), generator=generator)
        for start in range(0, len(train), 128):
            idx = order[start:start + 128]
            loss = F.cross_entropy(model(train.images[idx]), train.labels[idx])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    return model.eval()


@torch.no_grad()
def classify(classifier: Classifier, images: torch.Tensor) -> tuple[torch.Tensor, np.ndarray]:
    """Predicted labels and 128-d penultimate features."""
    labels, features = [], []
    for start in range(0, len(images), 1000):
        f = classifier.features(images[start:start + 1000])
        features.append(f.numpy().astype(np.float64))
        labels.append(classifier.head(f).argmax(1))
    return torch.cat(labels), np.concatenate(features)


def frechet_distance(a: np.ndarray, b: np.ndarray) -> float:
    mu_a, mu_b = a.mean(0), b.mean(0)
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    covmean, _ = linalg.sqrtm(cov_a @ cov_b, disp=False)
    covmean = covmean.real
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(cov_a + cov_b - 2 * covmean))


@torch.no_grad()
def reconstructions(model, images: torch.Tensor) -> torch.Tensor:
    return torch.cat([model.decode(model.embed(images[i:i + 1000])) for i in range(0, len(images), 1000)])


@torch.no_grad()
def prior_samples(model, count: int, seed: int) -> torch.Tensor:
    return torch.cat([sample_prior(model, 1000, seed=seed + i) for i in range(0, count, 1000)])[:count]


def sample_report(classifier: Classifier, samples: torch.Tensor, test_features: np.ndarray) -> dict[str, float]:
    labels, features = classify(classifier, samples)
    share = torch.bincount(labels, minlength=10).float() / len(labels)
    return {"prior_fd": frechet_distance(features, test_features),
            "prior_min_class_share": float(share.min()),
            "prior_class_entropy_bits": float(-(share[share > 0] * share[share > 0].log2()).sum())}


# ---------------------------------------------------------------- main

def parse_args(argv: list[str] | None = None) -> Namespace:
    parser = argument_parser(__doc__, weights_dir=True, data_dir=True)
    parser.add_argument("--out-dir", default=str(ROOT / "bench" / "out"), help="JSON and figures")
    parser.add_argument("--samples", type=int, default=10_000, help="prior samples per model for the FD")
    parser.add_argument("--classifier-epochs", type=int, default=3, help="epochs of the judge classifier")
    parser.add_argument("--skip-conv-baseline", action="store_true", help="do not train the plain conv VAE")
    parser.add_argument("--seed", type=int, default=0, help="random seed")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="torch threads")
    return parser.parse_args(argv)


def main(args: Namespace) -> int:
    torch.set_num_threads(args.threads)
    out_dir = Path(args.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rows: list[dict] = []
    for dataset in ("mnist", "fashion_mnist"):
        train, test = load_dataset(dataset, args.data_dir, download=False)
        logger.info("%s: training the judge classifier", dataset)
        classifier = train_classifier(train, args.classifier_epochs, args.seed)
        test_pred, test_features = classify(classifier, test.images)
        classifier_acc = float((test_pred == test.labels).float().mean())
        _, train_features = classify(classifier, train.images[:10_000])
        reference_fd = frechet_distance(train_features, test_features)
        logger.info("%s: classifier test accuracy %.4f; FD(train, test) %.2f", dataset, classifier_acc, reference_fd)

        candidates = [(f"ours AE ({dataset}-ae)", load_model(Path(args.weights_dir) / f"{dataset}-ae"), None),
                      (f"ours VAE ({dataset}-vae)", load_model(Path(args.weights_dir) / f"{dataset}-vae"), None)]
        if dataset == "mnist":
            mlp, mlp_seconds = train_baseline(MLPVAE(), train, 10, args.seed)
            candidates.append(("classic MLP VAE 784-400-20, 10 ep", mlp, mlp_seconds))
            if not args.skip_conv_baseline:
                conv, conv_seconds = train_baseline(PlainConvVAE(), train, 15, args.seed)
                candidates.append(("plain two-conv VAE z=16, 15 ep", conv, conv_seconds))
        grids = []
        for name, model, seconds in candidates:
            start = time.perf_counter()
            metrics = evaluate_model(model, train, test, seed=args.seed)
            rec_pred, _ = classify(classifier, reconstructions(model, test.images))
            samples = prior_samples(model, args.samples, args.seed)
            row = {"dataset": dataset, "model": name, **metrics,
                   "classifier_acc_on_reconstructions": float((rec_pred == test.labels).float().mean()),
                   "classifier_acc_on_test": classifier_acc, "reference_fd_train_vs_test": reference_fd,
                   **sample_report(classifier, samples, test_features)}
            if seconds is not None:
                row["train_seconds_per_epoch"] = round(seconds, 1)
            rows.append(row)
            grids.append((name.split(" (")[0][:18], samples[:16]))
            logger.info("%s: %s done in %.1fs", dataset, name, time.perf_counter() - start)
        save_figure(grid_figure(grids, ncol=16, title=f"{DATASET_TITLES[dataset]}: decoded N(0, I) samples"),
                    out_dir / f"prior_samples_{dataset}.png")
    (out_dir / "quality.json").write_text(json.dumps({"machine": f"{os.cpu_count()}-core {platform.machine()}, "
                                                                 f"torch {torch.__version__}", "rows": rows}, indent=2))
    print(markdown_table(rows))
    return 0


def markdown_table(rows: list[dict]) -> str:
    def fmt(row: dict, key: str, spec: str) -> str:
        return format(row[key], spec) if key in row else "–"

    lines = [("| data | model | −ELBO | IWAE NLL (k=100) | MSE/pixel | active units | 5-NN acc "
             "| classifier acc on recon | prior-sample FD ↓ | min class share of samples |"),
             "|---|---|---|---|---|---|---|---|---|---|"]
    for row in rows:
        lines.append(f"| {DATASET_TITLES[row['dataset']]} | {row['model']} | {fmt(row, 'neg_elbo', '.2f')} "
                     f"| {fmt(row, 'iwae_nll', '.2f')} | {fmt(row, 'mse_per_pixel', '.4f')} "
                     f"| {fmt(row, 'active_units', 'd')} | {fmt(row, 'knn5_accuracy', '.3f')} "
                     f"| {fmt(row, 'classifier_acc_on_reconstructions', '.3f')} | {fmt(row, 'prior_fd', '.1f')} "
                     f"| {fmt(row, 'prior_min_class_share', '.3f')} |")
    refs = {r["dataset"]: r for r in rows}
    for dataset, row in refs.items():
        lines.append(f"\n{DATASET_TITLES[dataset]}: judge classifier test accuracy "
                     f"{row['classifier_acc_on_test']:.4f}; FD between 10 000 train and the test images (the floor) "
                     f"{row['reference_fd_train_vs_test']:.2f}.")
    return "\n".join(lines)


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    sys.exit(main(parse_args()))
