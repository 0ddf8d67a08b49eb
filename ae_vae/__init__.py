"""ae-vae-explorer: AE and VAE models, data, training and evaluation for MNIST / Fashion-MNIST."""

from .data import CLASS_NAMES, DATASETS, DataNotFoundError, ImageSet, load_dataset, load_split
from .embeddings import LatentMaps, load_maps
from .evaluation import evaluate_model
from .latent import interpolate, sample_prior
from .models import (
    VAE,
    AutoEncoder,
    AutoEncoderConfig,
    DiagonalGaussian,
    ModelOutput,
    VAEConfig,
    WeightsError,
    load_model,
)
from .training import Schedule, TrainState, evaluate_terms, train_epoch

__all__ = [
    "CLASS_NAMES",
    "DATASETS",
    "VAE",
    "AutoEncoder",
    "AutoEncoderConfig",
    "DataNotFoundError",
    "DiagonalGaussian",
    "ImageSet",
    "LatentMaps",
    "ModelOutput",
    "Schedule",
    "TrainState",
    "VAEConfig",
    "WeightsError",
    "evaluate_model",
    "evaluate_terms",
    "interpolate",
    "load_dataset",
    "load_maps",
    "load_model",
    "load_split",
    "sample_prior",
    "train_epoch",
]
