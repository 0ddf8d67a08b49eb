"""Everything written beside the weights once training is done (metrics, prior, maps, figures, card), and the
same steps for an existing folder: refitting its prior, storing its points for the neighbour search."""

from __future__ import annotations

import json
import logging
import os
import platform
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..data import DATASET_TITLES, ImageSet, load_dataset, load_split
from ..errors import EmbeddingsError, PriorError
from ..figures import save_figure
from ..fileio import atomic_write_json, atomic_write_text
from ..latent.maps import (
    DEFAULT_NEIGHBOUR_POINTS,
    LatentMaps,
    as_uint8,
    build_maps,
    load_maps,
    neighbour_tensors,
    save_maps,
)
from ..latent.priors import DEFAULT_CLASS_FILTER, gaussian_moments
from ..models import Model
from ..models.format import save_model_folder
from ..models.graphs import export_graphs
from ..models.inference import embed_in_batches
from ..models.judge import Judge, load_judge
from ..models.loading import load_model
from .cards import render_model_card
from .evaluation import evaluate_model, sample_quality
from .figures import loss_curve_figure, model_card_figure
from .priors import fit_prior

logger = logging.getLogger(__name__)


def machine_description() -> str:
    return f"{os.cpu_count()}-core {platform.machine()} CPU, torch {torch.__version__}"


def compute_maps(model: Model, images: torch.Tensor, labels: torch.Tensor, train_images: torch.Tensor,
                 train_labels: torch.Tensor | None = None, neighbour_points: int = DEFAULT_NEIGHBOUR_POINTS,
                 seed: int = 0, device: torch.device | str = "cpu") -> LatentMaps:
    """A model's maps (`ae_vae.latent.maps.build_maps`) of the test points `images`, from its codes."""
    latents = embed_in_batches(model, images, device=device).numpy()
    train_latents = embed_in_batches(model, train_images, device=device).numpy()
    return build_maps(latents, labels, images, train_latents, train_images, train_labels, neighbour_points, seed)


def finalize_run(model: Model, train_set: ImageSet, test_set: ImageSet, output_dir: str | os.PathLike,
                 history: list[dict[str, float]], commands: list[dict[str, Any]], train_args: dict[str, Any],
                 seed: int = 0,
                 iwae_samples: int = 100, iwae_images: int = 1000, embedding_points: int = 5000,
                 neighbour_points: int = DEFAULT_NEIGHBOUR_POINTS, device: torch.device | str = "cpu",
                 judge: Judge | None = None,
                 prior_options: dict[str, Any] | None = None, prior_samples: int = 10_000) -> dict[str, Any]:
    """Write the Hub-ready folder: weights, config, metrics, embeddings, fitted prior, ONNX graphs, figures, training
    log, card.

    With a judge (the shipped classifier) the per-class mixtures are fitted to the training
    codes whose reconstructions the judge recognises, and `metrics.json` gets the sample quality of each prior;
    without one, every training code is used and the sample quality is not measured.
    """
    output_dir = Path(output_dir)
    model.eval()
    dataset = model.config.dataset
    save_model_folder(model, output_dir)
    logger.info("evaluating on the %s test split", DATASET_TITLES[dataset])
    metrics = evaluate_model(model, train_set, test_set, iwae_samples=iwae_samples, iwae_images=iwae_images,
                             seed=seed, device=device)
    if history:
        seconds = [h["seconds"] for h in history]
        metrics["train_epochs"] = len(history)
        metrics["train_seconds_per_epoch"] = round(sum(seconds) / len(seconds), 2)
        metrics["train_minutes_total"] = round(sum(seconds) / 60, 2)
    model_cpu = model.to("cpu")
    options = {"class_filter": DEFAULT_CLASS_FILTER if judge is not None else "all", **(prior_options or {})}
    logger.info("fitting the prior to the training codes (%s)", options)
    try:
        prior = fit_prior(model_cpu, train_set.images, train_set.labels, test_set.images, judge=judge, seed=seed,
                          **options)
    except PriorError as exc:  # e.g. a class whose reconstructions the judge never recognises (a weak model)
        if options["class_filter"] == "all":  # every code was used: nothing to fall back to
            raise
        logger.warning("prior with class filter %r: %s; fitting every class to all its codes", options["class_filter"],
                       exc)
        options["class_filter"] = "all"
        prior = fit_prior(model_cpu, train_set.images, train_set.labels, test_set.images, seed=seed, **options)
    prior.save_pretrained(output_dir)
    if judge is not None:
        logger.info("measuring sample quality with the judge")
        metrics["sample_quality"] = sample_quality(model_cpu, prior, judge, train_set.images, test_set.images,
                                                   samples=prior_samples, seed=seed)
    atomic_write_json(output_dir / "metrics.json", metrics)
    logger.info("metrics: %s", metrics)

    points = test_set.subset(min(embedding_points, len(test_set)))
    logger.info("embedding %d test images (PCA + UMAP)", len(points))
    logger.info("storing the codes of %d training images for the neighbour search", min(neighbour_points, len(train_set)))
    save_maps(compute_maps(model_cpu, points.images, points.labels, train_set.images, train_set.labels,
                           neighbour_points=neighbour_points, seed=seed), output_dir)

    logger.info("exporting the encoder and decoder as ONNX graphs for the page")
    export_graphs(output_dir)  # from the weights file written above, whose hash the graphs record
    save_figure(model_card_figure(model_cpu, test_set, dataset, seed=seed), output_dir / "samples.png")
    if history:
        kind = "VAE" if model.config.model_type == "vae" else "AE"
        save_figure(loss_curve_figure(history, f"{DATASET_TITLES[dataset]} {kind}"), output_dir / "loss_curves.png")
    atomic_write_json(output_dir / "training.json", {"commands": commands, "args": train_args, "history": history,
                                                     "machine": machine_description()})
    atomic_write_text(output_dir / "README.md", render_model_card(output_dir))
    return metrics


def judge_folder_for(folder: str | os.PathLike, dataset: str) -> Path:
    """Where a weights folder's judge is looked for unless told: `judge-<dataset>` beside the folder."""
    return Path(folder).parent / f"judge-{dataset}"


def refit_prior(folder: str | os.PathLike, data_dir: str | os.PathLike, judge_dir: str | os.PathLike | None = None,
                *, use_judge: bool = True, seed: int = 0, prior_samples: int = 10_000, **prior_options: Any
                ) -> dict[str, Any]:
    """Refit an existing weights folder's `prior.safetensors` (after a retrain, or for a folder made before priors
    existed), re-measure its sample quality into `metrics.json` and re-render its card; returns the metrics.

    Without a judge (`use_judge` False, or no folder at `judge_dir`, default `judge_folder_for`) every training code
    is used for the per-class mixtures and the sample quality is not measured. `prior_options` go to `fit_prior`.
    """
    folder = Path(folder)
    model = load_model(folder)
    dataset = model.config.dataset
    train_set, test_set = load_dataset(dataset, data_dir, download=False)
    judge_dir = Path(judge_dir) if judge_dir is not None else judge_folder_for(folder, dataset)
    judge = load_judge(judge_dir)[0] if use_judge and judge_dir.is_dir() else None
    options = {"class_filter": DEFAULT_CLASS_FILTER, **prior_options}
    if judge is None:
        options["class_filter"] = "all"
    prior = fit_prior(model, train_set.images, train_set.labels, test_set.images, judge=judge, seed=seed, **options)
    prior.save_pretrained(folder)
    metrics_file = folder / "metrics.json"
    metrics = json.loads(metrics_file.read_text(encoding="utf-8")) if metrics_file.is_file() else {}
    if judge is not None:
        metrics["sample_quality"] = sample_quality(model, prior, judge, train_set.images, test_set.images,
                                                   samples=prior_samples, seed=seed)
    atomic_write_json(metrics_file, metrics)
    if "mse_per_pixel" in metrics:  # a card needs the test metrics train.py measured
        atomic_write_text(folder / "README.md", render_model_card(folder))
    return metrics


# The test images found must re-encode to the stored codes (same weights; another torch build or thread count may
# change the last bits): the largest difference may be this share of the codes' overall scale.
LATENT_TOLERANCE = 1e-3


def store_points(folder: str | os.PathLike, data_dir: str | os.PathLike,
                 neighbour_points: int = DEFAULT_NEIGHBOUR_POINTS) -> tuple[int, int]:
    """Store what the app's neighbour search and samplers read in an existing folder, changing no map: the images
    of the maps' test points, the codes, labels and images of the first `neighbour_points` training images
    (`neighbours.safetensors`; 0: none) and the one Gaussian fitted to all training codes.

    For folders written before these were stored. The maps' points are the first N images of the test split (as
    `finalize_run` chose them): their labels must match and, re-encoded by the folder's model, their codes must
    match the stored ones, so the images are known to be those points. Returns (N, training points stored).
    """
    folder = Path(folder)
    model = load_model(folder)
    maps = load_maps(folder, model.latent_dim)
    where = folder / "embeddings.safetensors"
    test = load_split(model.config.dataset, data_dir, train=False, download=False)
    n = len(maps.labels)
    if n > len(test) or not np.array_equal(test.labels[:n].numpy(), maps.labels):
        raise EmbeddingsError(f"{where}: its {n} labels are not the first {n} of the "
                              f"{model.config.dataset} test split; these are not its points")
    images = test.images[:n]
    scale = float(np.abs(maps.latents).max()) + 1e-12
    worst = float(np.abs(embed_in_batches(model, images).numpy() - maps.latents).max())
    if worst > LATENT_TOLERANCE * scale:
        raise EmbeddingsError(f"{where}: the first {n} test images re-encode up to {worst:.3g} away from the "
                              f"stored latents (scale {scale:.3g}); these are not its points (or not its weights)")
    train = load_split(model.config.dataset, data_dir, train=True, download=False)
    codes = embed_in_batches(model, train.images).numpy()
    mean, covariance = gaussian_moments(codes)
    maps.images = as_uint8(images)
    maps.train_latent_mean, maps.train_latent_cov = mean.astype(np.float32), covariance.astype(np.float32)
    maps.neighbour_latents = maps.neighbour_labels = maps.neighbour_images = None
    m = min(neighbour_points, len(train))
    if m > 0:
        for name, value in neighbour_tensors(codes[:m], train.images[:m], train.labels[:m]).items():
            setattr(maps, name, value)
    save_maps(maps, folder)
    return n, m
