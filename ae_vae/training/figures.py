"""The figures of a training run: loss curves, the model card's samples, and `--visualize-every`'s per-epoch set."""

from __future__ import annotations

from pathlib import Path

import torch
from matplotlib.figure import Figure

from ..data import CLASS_NAMES, DATASET_TITLES, INTERPOLATION_PAIRS, ImageSet, pick_class_examples
from ..figures import grid_figure, save_figure, scatter_figure
from ..latent.maps import fit_pca, fit_umap
from ..latent.paths import interpolate
from ..latent.priors import StandardNormalPrior
from ..models import Model
from ..models.inference import embed_in_batches


def prior_samples(model: Model, count: int, seed: int) -> torch.Tensor:
    """`count` decoded N(0, I) samples, seeded."""
    z = StandardNormalPrior(model.latent_dim).sample(count, generator=seed)
    return model.decode(z)


def loss_curve_figure(history: list[dict[str, float]], title: str) -> Figure:
    """Train, validation (if held out) and test loss per epoch (−ELBO for the VAE, BCE for the AE)."""
    fig = Figure(figsize=(6.0, 3.6))
    ax = fig.subplots()
    epochs = [h["epoch"] for h in history]
    key = "neg_elbo" if "test_neg_elbo" in history[0] else "bce"
    for split in ("train", "val", "test"):
        if f"{split}_{key}" not in history[0]:  # "val" only with --validation-images
            continue
        ax.plot(epochs, [h[f"{split}_{key}"] for h in history], marker="o", ms=3, label=f"{split} {key}")
    ax.set_xlabel("epoch")
    ax.set_ylabel("nats / image")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    return fig


def model_card_figure(model: Model, test_set: ImageSet, dataset: str, seed: int = 0, count: int = 16) -> Figure:
    """Test images, their reconstructions, and decoded N(0, I) samples: the figure of the model card."""
    with torch.no_grad():
        originals = test_set.images[:count]
        reconstructions = model.decode(model.embed(originals))
        samples = prior_samples(model, count, seed)
    kind = "VAE" if model.config.model_type == "vae" else "AE"
    return grid_figure([("test", originals), ("recon", reconstructions), ("N(0,I)\nsamples", samples)], ncol=count,
                       title=f"{DATASET_TITLES[dataset]} {kind}: reconstructions and prior samples")


class EpochVisualizer:
    """Per-epoch figures for `train.py --visualize-every`: recon, pca, umap, interp and noise, plus loss curves."""

    def __init__(self, folder: Path, model: Model, test_set: ImageSet, dataset: str, seed: int = 0,
                 map_points: int = 2000):
        self.folder = Path(folder)
        self.model = model
        self.dataset = dataset
        self.seed = seed
        self.test_set = test_set
        self.map_set = test_set.subset(map_points)
        a, b = INTERPOLATION_PAIRS[dataset]
        self.pair = (pick_class_examples(test_set, a)[0], pick_class_examples(test_set, b)[0])
        self.pair_names = (CLASS_NAMES[dataset][a], CLASS_NAMES[dataset][b])

    def write(self, epoch: int, history: list[dict[str, float]]) -> None:
        name = f"epoch_{epoch:03d}.png"
        kind = self.model.config.model_type.upper()
        title = f"{DATASET_TITLES[self.dataset]} {kind}, epoch {epoch}"
        with torch.no_grad():
            x = self.test_set.images[:16]
            recon = self.model.decode(self.model.embed(x))
            save_figure(grid_figure([("input", x), ("recon", recon)], 16, title), self.folder / "recon" / name)
            latents = embed_in_batches(self.model, self.map_set.images).numpy()
            labels = self.map_set.labels.numpy()
            mean, components, ratio = fit_pca(latents)
            pca_title = f"{title}: PCA ({100 * ratio.sum():.0f}% variance)"
            save_figure(scatter_figure((latents - mean) @ components.T, labels, self.dataset, pca_title),
                        self.folder / "pca" / name)
            save_figure(scatter_figure(fit_umap(latents, self.seed), labels, self.dataset, f"{title}: UMAP"),
                        self.folder / "umap" / name)
            path = interpolate(self.model, self.pair[0], self.pair[1], steps=10)
            save_figure(grid_figure([(f"{self.pair_names[0]} → {self.pair_names[1]}", path)], 10, title),
                        self.folder / "interp" / name)
            save_figure(grid_figure([("N(0,I)", prior_samples(self.model, 64, self.seed))], 16, title),
                        self.folder / "noise" / name)
        save_figure(loss_curve_figure(history, title), self.folder / "loss_curves.png")
        self.model.train()
