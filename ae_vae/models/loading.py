"""A weights folder's model, of the class its `config.json` names: the one place that knows every model class."""

from __future__ import annotations

import os
from pathlib import Path

from .autoencoder import AutoEncoder
from .beta_vae import BetaVAE
from .config import read_config
from .format import load_weights_into
from .vae import VAE

MODEL_CLASSES: dict[str, type[AutoEncoder | VAE | BetaVAE]] = {"ae": AutoEncoder, "vae": VAE, "beta-vae": BetaVAE}


def load_model(folder: str | os.PathLike, map_location: str = "cpu") -> AutoEncoder | VAE | BetaVAE:
    """Load an AE, a VAE or a β-conditioned VAE from a local folder, deciding the class from `config.json`."""
    config = read_config(folder)
    model = MODEL_CLASSES[config.model_type](config)
    return load_weights_into(model, Path(folder) / "model.safetensors", map_location=map_location)
