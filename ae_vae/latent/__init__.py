"""The latent-space room: the priors a decoder samples from (`priors`), paths between codes (`paths`), the stored
2-D maps and neighbour points (`maps`), and questions asked of a map (`navigation`)."""

from .maps import LatentMaps, load_maps, save_maps
from .navigation import Navigator
from .paths import interpolate, lerp, slerp
from .priors import (
    GaussianMixturePrior,
    StandardNormalPrior,
    fit_gaussian,
    fit_prior,
    gaussian_prior,
)

__all__ = ["GaussianMixturePrior", "LatentMaps", "Navigator", "StandardNormalPrior",
           "fit_gaussian", "fit_prior", "gaussian_prior", "interpolate", "lerp", "load_maps",
           "save_maps", "slerp"]
