"""AutoEncoder and VAE for 28x28 greyscale images: architecture, posterior and loss.

Both models share one convolutional encoder/decoder design and compute their own loss, so a
single training loop (`ae_vae.training`) serves both. Serialization (`config.json` +
`model.safetensors`, `from_pretrained`) comes from `ae_vae.weights.SafeHubMixin`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from .weights import SafeHubMixin, as_config

LOG_2PI = math.log(2 * math.pi)


class WeightsError(RuntimeError):
    """A weights folder that cannot be loaded (missing, corrupted or mismatched file)."""


@dataclass
class AutoEncoderConfig:
    """Everything needed to rebuild an `AutoEncoder` (saved as `config.json`)."""

    latent_dim: int = 32
    channels: tuple[int, int] = (32, 64)
    hidden_blocks: int = 1
    reconstruction_loss: Literal["bce", "mse"] = "bce"
    dataset: str = "mnist"
    model_type: str = "ae"

    def __post_init__(self) -> None:
        self.channels = tuple(int(c) for c in self.channels)  # JSON gives lists
        if self.model_type != "ae":
            raise ValueError(f"AutoEncoderConfig needs model_type 'ae', got {self.model_type!r}")
        if self.reconstruction_loss not in ("bce", "mse"):
            raise ValueError(f"reconstruction_loss must be 'bce' or 'mse', got {self.reconstruction_loss!r}")
        _check_shape_fields(self.latent_dim, self.channels, self.hidden_blocks)


@dataclass
class VAEConfig:
    """Everything needed to rebuild a `VAE` (saved as `config.json`)."""

    latent_dim: int = 32
    channels: tuple[int, int] = (32, 64)
    hidden_blocks: int = 1
    dataset: str = "mnist"
    model_type: str = "vae"

    def __post_init__(self) -> None:
        self.channels = tuple(int(c) for c in self.channels)
        if self.model_type != "vae":
            raise ValueError(f"VAEConfig needs model_type 'vae', got {self.model_type!r}")
        _check_shape_fields(self.latent_dim, self.channels, self.hidden_blocks)


def _check_shape_fields(latent_dim: int, channels: tuple[int, ...], hidden_blocks: int) -> None:
    if not (isinstance(latent_dim, int) and latent_dim >= 1):
        raise ValueError(f"latent_dim must be a positive integer, got {latent_dim!r}")
    if len(channels) != 2 or min(channels) < 1:
        raise ValueError(f"channels must be two positive integers, got {channels!r}")
    if hidden_blocks < 0:
        raise ValueError(f"hidden_blocks must be >= 0, got {hidden_blocks!r}")


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
        self.logvar = logvar.clamp(-30.0, 20.0)
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


def add_input_noise(x: torch.Tensor, std: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """`x` plus N(0, std²) pixel noise (`x` itself when std is 0), drawn from `generator` for reproducibility."""
    if std <= 0:
        return x
    return x + std * torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)


# Kernel scales of `mmd_to_standard_normal`, in units of 2 * latent_dim (the expected squared distance between
# two N(0, I) draws): several scales so that both far-off clusters and fine gaps give a gradient.
MMD_SCALES = (0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0)


def mmd_to_standard_normal(z: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Unbiased squared maximum mean discrepancy between the rows of `z` and as many N(0, I) draws.

    The KL term of the ELBO matches each posterior q(z|x) to N(0, I) one image at a time; nothing in it
    asks the *aggregate* of the codes to fill N(0, I), so N(0, I) samples can land between the clusters of
    real codes and decode to blends. This penalty compares the batch's codes with prior draws as two sets
    (InfoVAE, Zhao et al. 2017; WAE, Tolstikhin et al. 2018), with inverse multiquadratic kernels
    k(a, b) = C / (C + |a - b|²) summed over `MMD_SCALES`. Computed in fp32 even under autocast.
    """
    n, dim = z.shape
    if n < 2:
        return z.new_zeros((), dtype=torch.float32)
    with torch.autocast(z.device.type, enabled=False):
        z = z.float()
        prior = torch.randn(z.shape, generator=generator, device=z.device, dtype=torch.float32)

        def kernel(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
            squared = (a.pow(2).sum(1, keepdim=True) + b.pow(2).sum(1) - 2.0 * a @ b.T).clamp_min(0.0)
            return sum(2.0 * dim * s / (2.0 * dim * s + squared) for s in MMD_SCALES)

        off_diagonal = 1.0 - torch.eye(n, device=z.device)
        within = ((kernel(z, z) + kernel(prior, prior)) * off_diagonal).sum() / (n * (n - 1))
        return within - 2.0 * kernel(z, prior).mean()


def add_prior_matching(loss: torch.Tensor, terms: dict[str, torch.Tensor], z: torch.Tensor, weight: float,
                       generator: torch.Generator | None = None) -> torch.Tensor:
    """`loss` plus `weight` × `mmd_to_standard_normal(z)`, logged as `terms["mmd"]` (`loss` itself when weight is 0)."""
    if weight <= 0:
        return loss
    mmd = mmd_to_standard_normal(z, generator)
    terms["mmd"] = mmd.detach()
    return loss + weight * mmd


def image_gradient_error(reconstruction: torch.Tensor, x: torch.Tensor, per_image_sum: bool) -> torch.Tensor:
    """Squared error of the horizontal and vertical neighbour differences of `reconstruction` against `x`.

    A pixel loss spends a model's capacity by area: a one-pixel zip, a button row or a collar line costs almost
    nothing to blur away, and those details are what tell a coat from a pullover or a shirt. Every thin line has
    two strong edges per row it crosses, so matching the images' differences (the gradient difference loss of
    Mathieu et al. 2016) weighs thin structures up against broad areas. Reduced like the reconstruction term it
    is added to: the mean per pixel (`per_image_sum=False`, an MSE loss) or the sum over pixels, averaged over
    images (a likelihood in nats).
    """
    errors = [(reconstruction.diff(dim=d) - x.diff(dim=d)).pow(2).flatten(1) for d in (-1, -2)]
    squared = torch.cat(errors, dim=1)
    return squared.sum(1).mean() if per_image_sum else squared.mean()


def add_edge_matching(loss: torch.Tensor, terms: dict[str, torch.Tensor], reconstruction: torch.Tensor,
                      x: torch.Tensor, weight: float, per_image_sum: bool) -> torch.Tensor:
    """`loss` plus `weight` × `image_gradient_error`, logged as `terms["edge"]` (`loss` itself when weight is 0)."""
    if weight <= 0:
        return loss
    edge = image_gradient_error(reconstruction, x, per_image_sum)
    terms["edge"] = edge.detach()
    return loss + weight * edge


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


class AutoEncoder(nn.Module, SafeHubMixin, library_name="ae-vae-explorer", tags=["autoencoder"],
                  repo_url="https://huggingface.co/spaces/ae-vae-explorer/ae-vae-explorer"):
    """Deterministic autoencoder: `encode(x)` gives a latent tensor, `decode(z)` images in [0, 1]."""

    config_class = AutoEncoderConfig

    def __init__(self, config: AutoEncoderConfig | dict | None = None):
        super().__init__()
        self.config = as_config(config, AutoEncoderConfig)
        c = self.config
        self.encoder = Encoder(c.channels, c.hidden_blocks, c.latent_dim)
        self.decoder = Decoder(c.channels, c.hidden_blocks, c.latent_dim)

    @property
    def latent_dim(self) -> int:
        return self.config.latent_dim

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x)

    def decode_logits(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder(z)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.decoder(z))

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """The deterministic latent used for maps, k-NN and interpolation."""
        return self.encode(x)

    def forward(self, x: torch.Tensor, beta: float = 1.0, generator: torch.Generator | None = None,
                input_noise: float = 0.0, prior_matching: float = 0.0, edge_matching: float = 0.0) -> ModelOutput:
        """Loss terms for `x`; `input_noise` > 0 encodes a noisy copy and reconstructs the clean `x` (denoising);
        `prior_matching` > 0 adds that multiple of `mmd_to_standard_normal` of the codes (a Wasserstein AE);
        `edge_matching` > 0 adds that multiple of `image_gradient_error`, in the reconstruction loss's units."""
        z = self.encode(add_input_noise(x, input_noise, generator))
        logits = self.decode_logits(z)
        recon = torch.sigmoid(logits)
        bce = F.binary_cross_entropy_with_logits(logits, x, reduction="none").flatten(1).sum(1).mean()
        mse = F.mse_loss(recon, x)
        loss = bce if self.config.reconstruction_loss == "bce" else mse
        terms = {"bce": bce.detach(), "mse": mse.detach()}
        loss = add_prior_matching(loss, terms, z, prior_matching, generator)
        loss = add_edge_matching(loss, terms, recon, x, edge_matching,
                                 per_image_sum=self.config.reconstruction_loss == "bce")
        return ModelOutput(loss=loss, reconstruction=recon, terms=terms)


class VAE(nn.Module, SafeHubMixin, library_name="ae-vae-explorer", tags=["vae", "variational-autoencoder"],
          repo_url="https://huggingface.co/spaces/ae-vae-explorer/ae-vae-explorer"):
    """Variational autoencoder with a Bernoulli likelihood and a N(0, I) prior.

    `forward` returns the β-weighted negative ELBO in nats per image; with β = 1 it is the
    true negative ELBO (BCE summed over the 784 pixels + KL).
    """

    config_class = VAEConfig

    def __init__(self, config: VAEConfig | dict | None = None):
        super().__init__()
        self.config = as_config(config, VAEConfig)
        c = self.config
        self.encoder = Encoder(c.channels, c.hidden_blocks, 2 * c.latent_dim)
        self.decoder = Decoder(c.channels, c.hidden_blocks, c.latent_dim)

    @property
    def latent_dim(self) -> int:
        return self.config.latent_dim

    def encode(self, x: torch.Tensor) -> DiagonalGaussian:
        mean, logvar = self.encoder(x).chunk(2, dim=1)
        return DiagonalGaussian(mean, logvar)

    def decode_logits(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder(z)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.decoder(z))

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        return self.encode(x).mean

    def forward(self, x: torch.Tensor, beta: float = 1.0, generator: torch.Generator | None = None,
                input_noise: float = 0.0, prior_matching: float = 0.0, edge_matching: float = 0.0) -> ModelOutput:
        """β-weighted −ELBO of `x`; `input_noise` > 0 gives the encoder a noisy copy of `x` while the likelihood
        still scores the clean `x` (a denoising VAE: it smooths the encoder, which otherwise overfits).
        `prior_matching` > 0 adds that multiple (nats) of `mmd_to_standard_normal` of the sampled codes, which
        pulls the codes of all images together towards N(0, I) (InfoVAE); `edge_matching` > 0 adds that multiple
        of `image_gradient_error` summed over pixels; `neg_elbo` stays the true −ELBO."""
        posterior = self.encode(add_input_noise(x, input_noise, generator))
        z = posterior.sample(generator)
        logits = self.decode_logits(z)
        recon_nll = F.binary_cross_entropy_with_logits(logits, x, reduction="none").flatten(1).sum(1)
        kl = posterior.kl()
        loss = (recon_nll + beta * kl).mean()
        recon = torch.sigmoid(logits)
        terms = {"neg_elbo": (recon_nll + kl).mean().detach(), "recon": recon_nll.mean().detach(),
                 "kl": kl.mean().detach(), "mse": F.mse_loss(recon, x).detach()}
        loss = add_prior_matching(loss, terms, z, prior_matching, generator)
        loss = add_edge_matching(loss, terms, recon, x, edge_matching, per_image_sum=True)
        return ModelOutput(loss=loss, reconstruction=recon, terms=terms)

    @torch.no_grad()
    def iwae_nll(self, x: torch.Tensor, num_samples: int = 100, generator: torch.Generator | None = None,
                 chunk: int = 50) -> torch.Tensor:
        """Importance-weighted estimate of -log p(x) per image (nats), an upper bound for k samples.

        log p(x) >= log (1/k) sum_k p(x|z_k) p(z_k) / q(z_k|x),  z_k ~ q(z|x).
        """
        posterior = self.encode(x)
        log_weights = []
        remaining = num_samples
        while remaining > 0:
            k = min(chunk, remaining)
            remaining -= k
            noise = torch.randn((k, *posterior.mean.shape), generator=generator, device=x.device)
            z = posterior.mean + posterior.std * noise  # (k, N, D)
            logits = self.decode_logits(z.flatten(0, 1)).view(k, *x.shape)
            log_px_z = -F.binary_cross_entropy_with_logits(logits, x.expand(k, *x.shape),
                                                          reduction="none").flatten(2).sum(-1)
            log_pz = -0.5 * (z.pow(2) + LOG_2PI).sum(-1)
            log_weights.append(log_px_z + log_pz - posterior.log_prob(z))
        log_w = torch.cat(log_weights, dim=0)
        return -(torch.logsumexp(log_w, dim=0) - math.log(num_samples))


Model = AutoEncoder | VAE
