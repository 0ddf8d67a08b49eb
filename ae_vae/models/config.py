"""The models' configs: one dataclass per model, saved as `config.json` beside the weights.

The two share the network's shape (`ModelConfig`); each adds what only it has. `model_type` names the class
that `load_model` builds from a folder. This module imports no torch: the app reads a folder's config to serve its
ONNX graphs, and the constants the graphs and the torch models share (`LOGVAR_RANGE`, `LOG_2PI`) live here.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

from ..errors import WeightsError

LOG_2PI = math.log(2 * math.pi)
# The VAE's posterior log-variance is clamped to this range before use (exp(20) is already far beyond any code's
# spread; exp(-30) keeps the std positive), by the torch models and by whatever runs their encoder graphs.
LOGVAR_RANGE = (-30.0, 20.0)
# The β range a β-conditioned VAE is trained over: from nearly an autoencoder (the KL term weighs 3 % of the
# reconstruction's) to a VAE whose codes collapse onto the prior.
DEFAULT_BETA_RANGE = (0.03, 8.0)
# The network and its graphs read β as a float32: a range end outside float32's normal numbers would reach them as
# 0 or infinity, and its log (what the FiLM layers read) would not be a number.
FLOAT32_TINY, FLOAT32_MAX = 1.1754943508222875e-38, 3.4028234663852886e38


def check_beta_range(values: Any, name: str = "beta_range") -> tuple[float, float]:
    """`values` as (low, high): two numbers 0 < low < high that float32 holds; else a one-line `ValueError`."""
    try:
        low, high = (float(v) for v in values)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be two numbers LOW HIGH, got {values!r}") from None
    if not (FLOAT32_TINY <= low < high <= FLOAT32_MAX):
        raise ValueError(f"{name} must be two numbers 0 < LOW < HIGH that float32 holds ({FLOAT32_TINY:.2g} to "
                         f"{FLOAT32_MAX:.2g}), got {low:g} {high:g}")
    return low, high


def log_spaced(low: float, high: float, points: int) -> list[float]:
    """`points` values from `low` to `high`, evenly spaced in log: the β values a β-conditioned VAE is measured at
    (its curve) and the app's map along β is computed at."""
    step = (math.log(high) - math.log(low)) / (points - 1)
    return [float(math.exp(math.log(low) + step * i)) for i in range(points)]


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


@dataclass
class BetaVAEConfig(ModelConfig):
    """Everything needed to rebuild a `BetaVAE`: the VAE's network, the β range it was trained over (log-uniformly)
    and the width of the β embedding its FiLM layers read."""

    beta_range: tuple[float, float] = DEFAULT_BETA_RANGE
    condition_width: int = 64
    model_type: str = "beta-vae"

    def __post_init__(self) -> None:
        super().__post_init__()
        self.beta_range = check_beta_range(self.beta_range)
        if not (isinstance(self.condition_width, int) and self.condition_width >= 1):
            raise ValueError(f"condition_width must be a positive integer, got {self.condition_width!r}")


# model_type (as written in config.json) -> its config class
CONFIG_CLASSES: dict[str, type[ModelConfig]] = {"ae": AutoEncoderConfig, "vae": VAEConfig, "beta-vae": BetaVAEConfig}


def config_from_dict(data: dict[str, Any]) -> ModelConfig:
    """Build the right config dataclass from a `config.json` dict, with a clear error if it is not one.

    Keys the dataclass does not know are ignored, so a folder written by an older version (which had
    `refine_channels: 0`) still loads; a non-zero `refine_channels` names an architecture this version
    cannot build and is refused.
    """
    model_type = data.get("model_type")
    if model_type not in CONFIG_CLASSES:
        raise WeightsError(f"config.json: model_type must be one of {sorted(CONFIG_CLASSES)}, got {model_type!r}")
    if data.get("refine_channels"):
        raise WeightsError("config.json: refine_channels > 0 (an extra decoder stage) is no longer supported")
    cls = CONFIG_CLASSES[model_type]
    try:
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})
    except (TypeError, ValueError) as exc:
        raise WeightsError(f"config.json: {exc}") from exc


def config_to_dict(config: ModelConfig) -> dict[str, Any]:
    """The `config.json` dict of a config dataclass (tuples as lists, as JSON has them)."""
    return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(config).items()}


def read_config(folder: str | os.PathLike) -> ModelConfig:
    """The config dataclass of a weights folder, errors naming `config.json`'s path."""
    config_file = Path(folder) / "config.json"
    if not config_file.is_file():
        raise WeightsError(f"{config_file}: file not found")
    try:
        data = json.loads(config_file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise WeightsError(f"{config_file}: not valid JSON ({exc})") from exc
    if not isinstance(data, dict):
        raise WeightsError(f"{config_file}: expected a JSON object")
    try:
        return config_from_dict(data)
    except WeightsError as exc:
        raise WeightsError(f"{config_file}: {str(exc).removeprefix('config.json: ')}") from exc
