"""Everything written beside the weights once training is done: metrics, maps, figures, card."""

from __future__ import annotations

import logging
import os
import platform
from pathlib import Path
from typing import Any

import torch

from .cards import render_model_card
from .data import DATASET_TITLES, ImageSet
from .embeddings import compute_maps, save_maps
from .evaluation import evaluate_model
from .fileio import atomic_write_json, atomic_write_text
from .models import Model
from .plotting import loss_curve_figure, model_card_figure, save_figure
from .weights import save_model_folder

logger = logging.getLogger(__name__)


def machine_description() -> str:
    return f"{os.cpu_count()}-core {platform.machine()} CPU, torch {torch.__version__}"


def finalize_run(model: Model, train_set: ImageSet, test_set: ImageSet, output_dir: str | os.PathLike,
                 history: list[dict[str, float]], commands: list[dict[str, Any]], train_args: dict[str, Any],
                 seed: int = 0,
                 iwae_samples: int = 100, iwae_images: int = 1000, embedding_points: int = 5000,
                 device: torch.device | str = "cpu") -> dict[str, Any]:
    """Write the Hub-ready folder: weights, config, metrics, embeddings, figures, training log, card."""
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
    atomic_write_json(output_dir / "metrics.json", metrics)
    logger.info("metrics: %s", metrics)

    points = test_set.subset(min(embedding_points, len(test_set)))
    logger.info("embedding %d test images (PCA + UMAP)", len(points))
    model_cpu = model.to("cpu")
    save_maps(compute_maps(model_cpu, points.images, points.labels, train_set.images, seed=seed),
              output_dir / "embeddings.safetensors")

    save_figure(model_card_figure(model_cpu, test_set, dataset, seed=seed), output_dir / "samples.png")
    if history:
        kind = "VAE" if model.config.model_type == "vae" else "AE"
        save_figure(loss_curve_figure(history, f"{DATASET_TITLES[dataset]} {kind}"), output_dir / "loss_curves.png")
    atomic_write_json(output_dir / "training.json", {"commands": commands, "args": train_args, "history": history,
                                                     "machine": machine_description()})
    atomic_write_text(output_dir / "README.md", render_model_card(output_dir))
    return metrics
