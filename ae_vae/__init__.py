"""ae-vae-explorer: AE and VAE models, data, training and evaluation for MNIST / Fashion-MNIST."""

from .data import CLASS_NAMES, DATASETS, DataNotFoundError, ImageSet, load_dataset, load_split
from .embeddings import LatentMaps, load_maps
from .evaluation import evaluate_model
from .latent import interpolate, sample_prior
from .models import (VAE, AutoEncoder, AutoEncoderConfig, DiagonalGaussian, ModelOutput, VAEConfig, WeightsError,
                     load_model)
from .training import Schedule, TrainState, evaluate_terms, train_epoch

__all__ = [
    "AutoEncoder", "AutoEncoderConfig", "VAE", "VAEConfig", "DiagonalGaussian", "ModelOutput", "WeightsError",
    "load_model", "CLASS_NAMES", "DATASETS", "DataNotFoundError", "ImageSet", "load_dataset", "load_split",
    "LatentMaps", "load_maps", "evaluate_model", "interpolate", "sample_prior", "Schedule", "TrainState",
    "evaluate_terms", "train_epoch",
]
