"""The models' configs: one dataclass per model, saved as `config.json` beside the weights.

The two share the network's shape (`ModelConfig`); each adds what only it has. `model_type` names the class
that `load_model` builds from a folder.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass
class ModelConfig:
    """The shape of the shared convolutional network, and the data set it was trained on."""

    latent_dim: int = 32
    channels: tuple[int, int] = (32, 64)
    hidden_blocks: int = 1
    dataset: str = "mnist"
    model_type: str = ""

    def __post_init__(self) -> None:
        self.channels = tuple(int(c) for c in self.channels)  # JSON gives lists
        expected = type(self).__dataclass_fields__["model_type"].default
        if self.model_type != expected:
            raise ValueError(f"{type(self).__name__} needs model_type {expected!r}, got {self.model_type!r}")
        if not (isinstance(self.latent_dim, int) and self.latent_dim >= 1):
            raise ValueError(f"latent_dim must be a positive integer, got {self.latent_dim!r}")
        if len(self.channels) != 2 or min(self.channels) < 1:
            raise ValueError(f"channels must be two positive integers, got {self.channels!r}")
        if self.hidden_blocks < 0:
            raise ValueError(f"hidden_blocks must be >= 0, got {self.hidden_blocks!r}")


@dataclass
class AutoEncoderConfig(ModelConfig):
    """Everything needed to rebuild an `AutoEncoder`."""

    reconstruction_loss: Literal["bce", "mse"] = "bce"
    model_type: str = "ae"

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.reconstruction_loss not in ("bce", "mse"):
            raise ValueError(f"reconstruction_loss must be 'bce' or 'mse', got {self.reconstruction_loss!r}")


@dataclass
class VAEConfig(ModelConfig):
    """Everything needed to rebuild a `VAE`."""

    model_type: str = "vae"
