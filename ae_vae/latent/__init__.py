"""The latent-space room, numpy only: the priors a decoder samples from (`priors`), paths between codes (`paths`),
the stored 2-D maps and neighbour points (`maps`), and questions asked of a map (`navigation`). Fitting a trained
model's prior to its codes is training's (`ae_vae.training.priors.fit_prior`)."""

from .maps import LatentMaps, build_maps, load_maps, save_maps
from .navigation import Navigator
from .paths import interpolate, lerp, path_codes, slerp
from .priors import (
    GaussianMixturePrior,
    StandardNormalPrior,
    fit_gaussian,
    gaussian_prior,
)

__all__ = ["GaussianMixturePrior", "LatentMaps", "Navigator", "StandardNormalPrior", "build_maps",
           "fit_gaussian", "gaussian_prior", "interpolate", "lerp", "load_maps", "path_codes",
           "save_maps", "slerp"]
