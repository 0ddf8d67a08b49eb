"""ae-vae-explorer: AE and VAE models for MNIST / Fashion-MNIST, their weights format, training and evaluation.

Rooms, lowest first (imports point one way): `fileio` (safe I/O, errors) → `weights` (the format) →
`models` (architecture, posterior, loss) → data / training / evaluation / embeddings / latent / plotting
→ `hub` (push, pull, CLI) → the app's `explorer`, `handlers`, `gradio_io` and `weight_sources`.
"""

from .data import CLASS_NAMES, DATASETS, DataNotFoundError, ImageSet, load_dataset, load_split
from .embeddings import LatentMaps, load_maps
from .evaluation import evaluate_model
from .fileio import HubError, UnsafeRepoError, WeightsError
from .latent import interpolate, sample_prior
from .models import (
    VAE,
    AutoEncoder,
    AutoEncoderConfig,
    DiagonalGaussian,
    ModelOutput,
    VAEConfig,
    image_gradient_error,
    mmd_to_standard_normal,
)
from .training import Schedule, TrainState, evaluate_terms, train_epoch
from .weights import load_model, save_model_folder

__all__ = [
    "CLASS_NAMES",
    "DATASETS",
    "VAE",
    "AutoEncoder",
    "AutoEncoderConfig",
    "DataNotFoundError",
    "DiagonalGaussian",
    "HubError",
    "ImageSet",
    "LatentMaps",
    "ModelOutput",
    "Schedule",
    "TrainState",
    "UnsafeRepoError",
    "VAEConfig",
    "WeightsError",
    "evaluate_model",
    "evaluate_terms",
    "image_gradient_error",
    "interpolate",
    "load_dataset",
    "load_maps",
    "load_model",
    "load_split",
    "mmd_to_standard_normal",
    "sample_prior",
    "save_model_folder",
    "train_epoch",
]
