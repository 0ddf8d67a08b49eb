"""Everything written beside the weights once training is done: metrics, maps, figures, card."""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import sys
from pathlib import Path
from typing import Any

import torch

from .cards import render_model_card
from .data import DATASET_TITLES, DataNotFoundError, ImageSet, load_dataset
from .embeddings import DEFAULT_NEIGHBOUR_POINTS, compute_maps, save_maps
from .evaluation import evaluate_model
from .fileio import WeightsError, atomic_write_json, atomic_write_text
from .judge import load_judge
from .models import Model
from .plotting import loss_curve_figure, model_card_figure, save_figure
from .priors import DEFAULT_CLASS_FILTER, fit_prior
from .sample_quality import sample_quality
from .weights import load_model, save_model_folder

logger = logging.getLogger(__name__)


def machine_description() -> str:
    return f"{os.cpu_count()}-core {platform.machine()} CPU, torch {torch.__version__}"


def finalize_run(model: Model, train_set: ImageSet, test_set: ImageSet, output_dir: str | os.PathLike,
                 history: list[dict[str, float]], commands: list[dict[str, Any]], train_args: dict[str, Any],
                 seed: int = 0,
                 iwae_samples: int = 100, iwae_images: int = 1000, embedding_points: int = 5000,
                 neighbour_points: int = DEFAULT_NEIGHBOUR_POINTS, device: torch.device | str = "cpu", judge_dir: str | os.PathLike | None = None,
                 prior_options: dict[str, Any] | None = None, prior_samples: int = 10_000) -> dict[str, Any]:
    """Write the Hub-ready folder: weights, config, metrics, embeddings, fitted prior, figures, training log, card.

    With a judge (`judge_dir` holding the shipped classifier) the per-class mixtures are fitted to the training
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
    judge = load_judge(judge_dir)[0] if judge_dir is not None and Path(judge_dir).is_dir() else None
    options = {"class_filter": DEFAULT_CLASS_FILTER if judge is not None else "all", **(prior_options or {})}
    logger.info("fitting the prior to the training codes (%s)", options)
    try:
        prior = fit_prior(model_cpu, train_set.images, train_set.labels, test_set.images, judge=judge, seed=seed,
                          **options)
    except ValueError as exc:  # e.g. a class whose reconstructions the judge never recognises (a weak model)
        logger.warning("prior with class filter %r: %s; fitting every class to all its codes", options["class_filter"],
                       exc)
        options["class_filter"] = "all"
        prior = fit_prior(model_cpu, train_set.images, train_set.labels, test_set.images, seed=seed, **options)
    prior.save_pretrained(output_dir)
    if judge is not None:
        logger.info("measuring sample quality with the judge in %s", judge_dir)
        metrics["sample_quality"] = sample_quality(model_cpu, prior, judge, train_set.images, test_set.images,
                                                   samples=prior_samples, seed=seed)
    atomic_write_json(output_dir / "metrics.json", metrics)
    logger.info("metrics: %s", metrics)

    points = test_set.subset(min(embedding_points, len(test_set)))
    logger.info("embedding %d test images (PCA + UMAP)", len(points))
    logger.info("storing the codes of %d training images for the neighbour search", min(neighbour_points, len(train_set)))
    save_maps(compute_maps(model_cpu, points.images, points.labels, train_set.images, train_set.labels,
                           neighbour_points=neighbour_points, seed=seed), output_dir / "embeddings.safetensors")

    save_figure(model_card_figure(model_cpu, test_set, dataset, seed=seed), output_dir / "samples.png")
    if history:
        kind = "VAE" if model.config.model_type == "vae" else "AE"
        save_figure(loss_curve_figure(history, f"{DATASET_TITLES[dataset]} {kind}"), output_dir / "loss_curves.png")
    atomic_write_json(output_dir / "training.json", {"commands": commands, "args": train_args, "history": history,
                                                     "machine": machine_description()})
    atomic_write_text(output_dir / "README.md", render_model_card(output_dir))
    return metrics


def refit_prior(folder: str | os.PathLike, data_dir: str | os.PathLike, judge_dir: str | os.PathLike | None = None,
                seed: int = 0, prior_samples: int = 10_000) -> dict[str, Any]:
    """Refit an existing weights folder's `prior.safetensors` (after a retrain, or for a folder made before priors
    existed), re-measure its sample quality into `metrics.json` and re-render its card; returns the metrics."""
    folder = Path(folder)
    model = load_model(folder)
    dataset = model.config.dataset
    train_set, test_set = load_dataset(dataset, data_dir, download=False)
    judge_dir = Path(judge_dir) if judge_dir is not None else folder.parent / f"judge-{dataset}"
    judge = load_judge(judge_dir)[0] if judge_dir.is_dir() else None
    prior = fit_prior(model, train_set.images, train_set.labels, test_set.images, judge=judge, seed=seed,
                      class_filter=DEFAULT_CLASS_FILTER if judge is not None else "all")
    prior.save_pretrained(folder)
    metrics = json.loads((folder / "metrics.json").read_text(encoding="utf-8"))
    if judge is not None:
        metrics["sample_quality"] = sample_quality(model, prior, judge, train_set.images, test_set.images,
                                                   samples=prior_samples, seed=seed)
    atomic_write_json(folder / "metrics.json", metrics)
    atomic_write_text(folder / "README.md", render_model_card(folder))
    return metrics


DEFAULT_JUDGE_DIR = "<folder>/../judge-<dataset>"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ae_vae.artifacts",
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter,
                                     description="Refit a weights folder's prior.safetensors and re-measure its "
                                                 "sample quality (metrics.json, model card).")
    parser.add_argument("folders", nargs="+", metavar="FOLDER", help="weights folders, e.g. weights/mnist-vae")
    parser.add_argument("--data-dir", default=os.environ.get("AE_VAE_DATA_DIR", "../shared/data"),
                        help="torchvision data root")
    parser.add_argument("--judge-dir", default=DEFAULT_JUDGE_DIR, help="judge folder")
    parser.add_argument("--samples", type=int, default=10_000, help="samples per prior")
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    torch.set_num_threads(max(1, args.threads))
    for folder in args.folders:
        try:
            judge_dir = None if args.judge_dir == DEFAULT_JUDGE_DIR else args.judge_dir
            metrics = refit_prior(folder, args.data_dir, judge_dir, prior_samples=args.samples)
        except (WeightsError, DataNotFoundError, OSError, ValueError) as exc:
            print(f"error: {folder}: {exc}", file=sys.stderr)
            return 2
        print(f"{folder}: {json.dumps(metrics.get('sample_quality', {}), sort_keys=True)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
