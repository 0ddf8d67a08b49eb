"""ae-vae-explorer: AE and VAE models for MNIST / Fashion-MNIST, their priors, maps, training and Hub I/O.

The library's rooms (none imports gradio or `ae_vae.app`; `tests/test_layers.py` keeps it so): `models` (building
blocks, the AE and VAE, the weights format, the judge), `latent` (priors, paths, maps, navigation), `training`
(loop, evaluation, artifacts, cards), `hub`, `folders` (a weights folder loaded whole), `data`, `preprocess`,
`figures`, `fileio`, `errors`, `cli`. The app's machinery is `ae_vae.app`.

    from ae_vae import VAE, GaussianMixturePrior
    vae = VAE.from_pretrained("weights/mnist-vae")
    prior = GaussianMixturePrior.from_pretrained("weights/mnist-vae", weights=vae)
    seven = vae.decode(prior.sample(1, label=7))  # (1, 1, 28, 28) in [0, 1]
"""

from .data import CLASS_NAMES, DATASETS, ImageSet, load_dataset, load_split
from .errors import AeVaeError, DataNotFoundError, HubError, InputError, PriorError, UnsafeRepoError, WeightsError
from .folders import ModelFolder, load_model_folder
from .latent import (
    GaussianMixturePrior,
    LatentMaps,
    StandardNormalPrior,
    fit_gaussian,
    interpolate,
    load_maps,
)
from .models import (
    VAE,
    AutoEncoder,
    AutoEncoderConfig,
    DiagonalGaussian,
    ModelOutput,
    VAEConfig,
    image_gradient_error,
    load_model,
    mmd_to_standard_normal,
    save_model_folder,
)
from .preprocess import to_model_input
from .training import Schedule, TrainState, evaluate_model, evaluate_terms, train_epoch

__all__ = [
    "CLASS_NAMES", "DATASETS", "VAE", "AeVaeError", "AutoEncoder", "AutoEncoderConfig", "DataNotFoundError",
    "DiagonalGaussian", "GaussianMixturePrior", "HubError", "ImageSet", "InputError", "LatentMaps", "ModelFolder",
    "ModelOutput", "PriorError", "Schedule", "StandardNormalPrior", "TrainState", "UnsafeRepoError", "VAEConfig",
    "WeightsError", "evaluate_model", "evaluate_terms", "fit_gaussian", "image_gradient_error", "interpolate",
    "load_dataset", "load_maps", "load_model", "load_model_folder", "load_split", "mmd_to_standard_normal",
    "save_model_folder", "to_model_input", "train_epoch",
]
