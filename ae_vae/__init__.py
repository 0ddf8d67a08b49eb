"""ae-vae-explorer: AE and VAE models for MNIST / Fashion-MNIST, their priors, maps, training and Hub I/O.

The library's rooms (none imports gradio or `ae_vae.app`; `tests/test_layers.py` keeps it so): `models` (building
blocks, the AE and VAE, the weights format, the judge), `latent` (priors, paths, maps, navigation), `training`
(loop, evaluation, artifacts, cards), `hub`, `folders` (a weights folder loaded whole), `data`, `preprocess`,
`figures`, `fileio`, `errors`, `cli`. The app's machinery is `ae_vae.app`.

    from ae_vae import VAE, GaussianMixturePrior
    vae = VAE.from_pretrained("weights/mnist-vae")
    prior = GaussianMixturePrior.from_pretrained("weights/mnist-vae", weights=vae)
    seven = vae.decode(prior.sample(1, label=7))  # (1, 1, 28, 28) in [0, 1]

The app serves the models' ONNX graphs through onnxruntime (`ae_vae.runtime`) and imports no torch; torch,
umap and scikit-learn are for training and building artifacts (`requirements-train.txt`). So every name below is
imported when first used (`ae_vae.lazy`): `import ae_vae` and the torch-free names work with the app's requirements
alone, and a name that needs torch says what to install where it is missing.
"""

from __future__ import annotations

from .errors import AeVaeError, DataNotFoundError, HubError, InputError, PriorError, UnsafeRepoError, WeightsError
from .lazy import lazy_exports

_EXPORTS = {
    **dict.fromkeys(("CLASS_NAMES", "DATASETS", "ImageSet", "load_dataset", "load_split"), ".data"),
    **dict.fromkeys(("BetaFolder", "ModelFolder", "load_beta_folder", "load_model_folder"), ".folders"),
    **dict.fromkeys(("GaussianMixturePrior", "LatentMaps", "StandardNormalPrior", "fit_gaussian", "interpolate",
                     "load_maps"), ".latent"),
    **dict.fromkeys(("VAE", "AutoEncoder", "AutoEncoderConfig", "BetaVAE", "BetaVAEConfig", "DiagonalGaussian", "ModelOutput", "VAEConfig",
                     "image_gradient_error", "load_model", "mmd_to_standard_normal", "save_model_folder"), ".models"),
    "GraphModel": ".runtime",
    "to_model_input": ".preprocess",
    **dict.fromkeys(("Schedule", "TrainState", "evaluate_model", "evaluate_terms", "train_epoch"), ".training"),
}
__all__ = [
    "CLASS_NAMES", "DATASETS", "VAE", "AeVaeError", "AutoEncoder", "AutoEncoderConfig", "BetaFolder", "BetaVAE",
    "BetaVAEConfig", "DataNotFoundError",
    "DiagonalGaussian", "GaussianMixturePrior", "GraphModel", "HubError", "ImageSet", "InputError", "LatentMaps",
    "ModelFolder", "ModelOutput", "PriorError", "Schedule", "StandardNormalPrior", "TrainState", "UnsafeRepoError",
    "VAEConfig", "WeightsError", "evaluate_model", "evaluate_terms", "fit_gaussian", "image_gradient_error",
    "interpolate", "load_beta_folder", "load_dataset", "load_maps", "load_model", "load_model_folder", "load_split",
    "mmd_to_standard_normal", "save_model_folder", "to_model_input", "train_epoch",
]
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
