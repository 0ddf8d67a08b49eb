"""The building blocks both models are made of: the convolutional encoder and decoder, the posterior, the output.

Imports only torch (and the configs' shared constants), so the blocks read on their own; `AutoEncoder` and `VAE`
put them together.
"""

from __future__ import annotations

import functools
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


class Encoder(nn.Module):
    """28x28 -> 14x14 -> 7x7 convolutions, then a linear map to `out_features`."""

    def __init__(self, channels: tuple[int, int], hidden_blocks: int, out_features: int):
        super().__init__()
        c1, c2 = channels
        layers: list[nn.Module] = [nn.Conv2d(1, c1, 4, stride=2, padding=1)]
        layers += [ResidualBlock(c1) for _ in range(hidden_blocks)]
        layers += [nn.SiLU(), nn.Conv2d(c1, c2, 4, stride=2, padding=1)]
        layers += [ResidualBlock(c2) for _ in range(hidden_blocks)]
        layers += [nn.SiLU(), nn.Flatten()]
        self.features = nn.Sequential(*layers)
        self.head = nn.Linear(c2 * 7 * 7, out_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x)).float()  # fp32 posterior parameters even under bf16 autocast


class Decoder(nn.Module):
    """Mirror of `Encoder`: latent -> 7x7 -> 14x14 -> 28x28 logits."""

    def __init__(self, channels: tuple[int, int], hidden_blocks: int, latent_dim: int):
        super().__init__()
        c1, c2 = channels
        self.c2 = c2
        self.project = nn.Linear(latent_dim, c2 * 7 * 7)
        layers: list[nn.Module] = [ResidualBlock(c2) for _ in range(hidden_blocks)]
        layers += [nn.SiLU(), nn.ConvTranspose2d(c2, c1, 4, stride=2, padding=1)]
        layers += [ResidualBlock(c1) for _ in range(hidden_blocks)]
        layers += [nn.SiLU(), nn.ConvTranspose2d(c1, 1, 4, stride=2, padding=1)]
        self.body = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.body(self.project(z).view(-1, self.c2, 7, 7)).float()  # fp32 logits for the loss



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
