"""The building blocks both models are made of: the convolutional encoder and decoder, the posterior, the output.

Imports only torch (and the configs' shared constants), so the blocks read on their own; `AutoEncoder` and `VAE`
put them together.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import torch
import torch.nn.functional as F
from torch import nn

from .config import LOG_2PI, LOGVAR_RANGE


@dataclass
class ModelOutput:
    """What `forward` returns: the loss to minimise, the reconstruction, and loss terms to log.

    `terms` holds per-batch means in nats (or MSE per pixel) as Python floats-to-be tensors,
    detached, so the training loop can log them without knowing the model type.
    """

    loss: torch.Tensor
    reconstruction: torch.Tensor
    terms: dict[str, torch.Tensor] = field(default_factory=dict)


class DiagonalGaussian:
    """Diagonal Gaussian posterior q(z|x) with the diffusers-style API."""

    def __init__(self, mean: torch.Tensor, logvar: torch.Tensor):
        self.mean = mean
        self.logvar = logvar.clamp(*LOGVAR_RANGE)
        self.std = torch.exp(0.5 * self.logvar)

    def sample(self, generator: torch.Generator | None = None) -> torch.Tensor:
        noise = torch.randn(self.mean.shape, generator=generator, device=self.mean.device, dtype=self.mean.dtype)
        return self.mean + self.std * noise

    def mode(self) -> torch.Tensor:
        return self.mean

    def kl(self) -> torch.Tensor:
        """KL(q || N(0, I)) per item, summed over latent dimensions (nats)."""
        return 0.5 * (self.mean.pow(2) + self.logvar.exp() - 1.0 - self.logvar).sum(dim=1)

    def log_prob(self, z: torch.Tensor) -> torch.Tensor:
        """log q(z|x) summed over latent dimensions; `z` may carry extra leading sample dims."""
        return -0.5 * (((z - self.mean) / self.std).pow(2) + self.logvar + LOG_2PI).sum(dim=-1)


class ResidualBlock(nn.Module):
    """Two 3x3 convolutions with a skip connection: depth without vanishing gradients."""

    def __init__(self, channels: int):
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv2(F.silu(self.conv1(F.silu(x))))


class BetaEmbedding(nn.Module):
    """A small MLP of log β, scaled so the trained range maps to [-1, 1]: the vector every `FiLM` layer reads."""

    def __init__(self, beta_range: tuple[float, float], width: int):
        super().__init__()
        low, high = (math.log(b) for b in beta_range)
        self.centre, self.half_width = (low + high) / 2, (high - low) / 2
        self.mlp = nn.Sequential(nn.Linear(1, width), nn.SiLU(), nn.Linear(width, width), nn.SiLU())

    def forward(self, beta: torch.Tensor) -> torch.Tensor:
        scaled = (torch.log(beta.float().reshape(-1, 1)) - self.centre) / self.half_width
        return self.mlp(scaled)


class FiLM(nn.Module):
    """Feature-wise linear modulation: a per-channel scale and shift of a feature map, read from the β embedding.

    Zero-initialised, so a conditioned network starts as the plain one and learns how β should change it.
    """

    def __init__(self, width: int, channels: int):
        super().__init__()
        self.scale_shift = nn.Linear(width, 2 * channels)
        nn.init.zeros_(self.scale_shift.weight)
        nn.init.zeros_(self.scale_shift.bias)

    def forward(self, features: torch.Tensor, embedding: torch.Tensor) -> torch.Tensor:
        scale, shift = self.scale_shift(embedding).to(features.dtype)[..., None, None].chunk(2, dim=1)
        return features * (1 + scale) + shift


def _film_layers(layers: nn.Sequential, width: int) -> nn.ModuleDict:
    """One `FiLM` after each convolution and residual block of `layers` but the last (the output), keyed by the
    layer's index, so the conditioned network keeps the plain one's layers and parameter names."""
    films = {}
    for index, layer in enumerate(layers):
        if isinstance(layer, ResidualBlock):
            films[str(index)] = FiLM(width, layer.conv1.in_channels)
        elif isinstance(layer, (nn.Conv2d, nn.ConvTranspose2d)) and layer.out_channels > 1:
            films[str(index)] = FiLM(width, layer.out_channels)
    return nn.ModuleDict(films)


def _run_conditioned(layers: nn.Sequential, films: nn.ModuleDict | None, x: torch.Tensor,
                     embedding: torch.Tensor | None) -> torch.Tensor:
    for index, layer in enumerate(layers):
        x = layer(x)
        if films is not None and str(index) in films:
            x = films[str(index)](x, embedding)
    return x


class Encoder(nn.Module):
    """28x28 -> 14x14 -> 7x7 convolutions, then a linear map to `out_features`.

    With `condition_width` > 0 each convolution and residual block is followed by a `FiLM` of the β embedding
    (the β-conditioned VAE); otherwise the plain network.
    """

    def __init__(self, channels: tuple[int, int], hidden_blocks: int, out_features: int, condition_width: int = 0):
        super().__init__()
        c1, c2 = channels
        layers: list[nn.Module] = [nn.Conv2d(1, c1, 4, stride=2, padding=1)]
        layers += [ResidualBlock(c1) for _ in range(hidden_blocks)]
        layers += [nn.SiLU(), nn.Conv2d(c1, c2, 4, stride=2, padding=1)]
        layers += [ResidualBlock(c2) for _ in range(hidden_blocks)]
        layers += [nn.SiLU(), nn.Flatten()]
        self.features = nn.Sequential(*layers)
        self.head = nn.Linear(c2 * 7 * 7, out_features)
        self.films = _film_layers(self.features, condition_width) if condition_width else None

    def forward(self, x: torch.Tensor, embedding: torch.Tensor | None = None) -> torch.Tensor:
        features = _run_conditioned(self.features, self.films, x, embedding)
        return self.head(features).float()  # fp32 posterior parameters even under bf16 autocast


class Decoder(nn.Module):
    """Mirror of `Encoder`: latent -> 7x7 -> 14x14 -> 28x28 logits (with `condition_width` > 0, FiLM as there, the
    first one on the projected 7x7 map)."""

    def __init__(self, channels: tuple[int, int], hidden_blocks: int, latent_dim: int, condition_width: int = 0):
        super().__init__()
        c1, c2 = channels
        self.c2 = c2
        self.project = nn.Linear(latent_dim, c2 * 7 * 7)
        layers: list[nn.Module] = [ResidualBlock(c2) for _ in range(hidden_blocks)]
        layers += [nn.SiLU(), nn.ConvTranspose2d(c2, c1, 4, stride=2, padding=1)]
        layers += [ResidualBlock(c1) for _ in range(hidden_blocks)]
        layers += [nn.SiLU(), nn.ConvTranspose2d(c1, 1, 4, stride=2, padding=1)]
        self.body = nn.Sequential(*layers)
        self.films = _film_layers(self.body, condition_width) if condition_width else None
        self.project_film = FiLM(condition_width, c2) if condition_width else None

    def forward(self, z: torch.Tensor, embedding: torch.Tensor | None = None) -> torch.Tensor:
        features = self.project(z).view(-1, self.c2, 7, 7)
        if self.project_film is not None:
            features = self.project_film(features, embedding)
        return _run_conditioned(self.body, self.films, features, embedding).float()  # fp32 logits for the loss


T = TypeVar("T")


def codec_call(method: Callable[..., T]) -> Callable[..., T]:
    """For a model's `encode`, `embed` and `decode`: the input may be a tensor or anything `torch.as_tensor` takes (a
    numpy array, a prior's samples), and outside training (`model.eval()`, as `from_pretrained` leaves it) the result
    carries no autograd graph, so `.numpy()` and `plt.imshow` take it as it is. In training mode gradients flow."""

    @functools.wraps(method)
    def call(self: nn.Module, x: Any, *args: Any, **kwargs: Any) -> T:
        if not torch.is_tensor(x):
            parameter = next(self.parameters())
            x = torch.as_tensor(x, dtype=torch.float32, device=parameter.device)
        with torch.set_grad_enabled(self.training and torch.is_grad_enabled()):
            return method(self, x, *args, **kwargs)

    return call


class LatentCodec(nn.Module):
    """What the AE and the VAE share: a decoder from codes to images and the size of the code."""

    config: object
    decoder: Decoder

    @property
    def latent_dim(self) -> int:
        return self.config.latent_dim

    def decode_logits(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder(z)

    @codec_call
    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Images in [0, 1], (N, 1, 28, 28)."""
        return torch.sigmoid(self.decoder(z))
