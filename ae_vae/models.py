"""AutoEncoder and VAE for 28x28 greyscale images.

Both models share one convolutional encoder/decoder design and compute their own loss, so a
single training loop (`ae_vae.training`) serves both. Weights travel as `model.safetensors`
plus `config.json` through huggingface_hub's `PyTorchModelHubMixin`; loading refuses pickles
and checks every tensor shape against the config.
"""

from __future__ import annotations

import json
import logging
import math
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import torch
import torch.nn.functional as F
from huggingface_hub import PyTorchModelHubMixin
from torch import nn

logger = logging.getLogger(__name__)

IMAGE_SHAPE = (1, 28, 28)
NUM_PIXELS = 28 * 28
LOG_2PI = math.log(2 * math.pi)


class WeightsError(RuntimeError):
    """A weights folder that cannot be loaded (missing, corrupted or mismatched file)."""


@dataclass
class AutoEncoderConfig:
    """Everything needed to rebuild an `AutoEncoder` (saved as `config.json`)."""

    latent_dim: int = 32
    channels: tuple[int, int] = (32, 64)
    hidden_blocks: int = 1
    refine_channels: int = 0
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
    refine_channels: int = 0
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

    def __init__(self, channels: tuple[int, int], hidden_blocks: int, latent_dim: int, refine_channels: int = 0):
        super().__init__()
        c1, c2 = channels
        self.c2 = c2
        self.project = nn.Linear(latent_dim, c2 * 7 * 7)
        layers: list[nn.Module] = [ResidualBlock(c2) for _ in range(hidden_blocks)]
        layers += [nn.SiLU(), nn.ConvTranspose2d(c2, c1, 4, stride=2, padding=1)]
        layers += [ResidualBlock(c1) for _ in range(hidden_blocks)]
        if refine_channels > 0:  # optional non-linear 28x28 stage (costs ~60% more compute on CPU)
            layers += [nn.SiLU(), nn.ConvTranspose2d(c1, refine_channels, 4, stride=2, padding=1), nn.SiLU(),
                       nn.Conv2d(refine_channels, 1, 3, padding=1)]
        else:
            layers += [nn.SiLU(), nn.ConvTranspose2d(c1, 1, 4, stride=2, padding=1)]
        self.body = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.body(self.project(z).view(-1, self.c2, 7, 7)).float()  # fp32 logits for the loss


class _SafeHubMixin(PyTorchModelHubMixin):
    """Loads only `model.safetensors`, strictly, with shapes checked against `config.json`.

    The stock mixin falls back to `pytorch_model.bin` (a pickle) and loads non-strictly; we
    never want either.
    """

    @classmethod
    def _from_pretrained(cls, *, model_id: str, revision, cache_dir, force_download, local_files_only, token,
                         map_location: str = "cpu", strict: bool = True, **model_kwargs):
        model = cls(**model_kwargs)
        if os.path.isdir(model_id):
            model_file = Path(model_id) / "model.safetensors"
        else:
            from .hub import download_model_file  # local import: hub imports models

            model_file = download_model_file(model_id, "model.safetensors", revision=revision, cache_dir=cache_dir,
                                             force_download=force_download, local_files_only=local_files_only,
                                             token=token)
        load_weights_into(model, model_file, map_location=map_location)
        return model


def load_weights_into(model: nn.Module, model_file: str | os.PathLike, map_location: str = "cpu") -> nn.Module:
    """Load a safetensors file into `model`, naming the file in every error."""
    from safetensors import safe_open

    model_file = Path(model_file)
    if not model_file.is_file():
        raise WeightsError(f"{model_file}: file not found")
    expected = model.state_dict()
    try:
        with safe_open(str(model_file), framework="pt", device=str(map_location)) as handle:
            keys = set(handle.keys())
            missing, unexpected = sorted(set(expected) - keys), sorted(keys - set(expected))
            if missing or unexpected:
                raise WeightsError(f"{model_file}: tensors do not match config.json "
                                   f"(missing {missing[:3]}, unexpected {unexpected[:3]})")
            tensors = {}
            for key in expected:
                tensor = handle.get_tensor(key)
                if tuple(tensor.shape) != tuple(expected[key].shape):
                    raise WeightsError(f"{model_file}: tensor {key!r} has shape {tuple(tensor.shape)}, "
                                       f"config.json implies {tuple(expected[key].shape)}")
                tensors[key] = tensor
    except WeightsError:
        raise
    except Exception as exc:  # safetensors raises its own error types for truncated/garbled headers
        raise WeightsError(f"{model_file}: not a readable safetensors file ({exc})") from exc
    model.load_state_dict(tensors, strict=True)
    model.eval()
    return model


def _as_config(config, cls):
    """Accept a config instance, a `config.json` dict (what the Hub mixin passes), or None for defaults."""
    if config is None:
        return cls()
    if isinstance(config, dict):
        config = config_from_dict(config)
    if not isinstance(config, cls):
        raise WeightsError(f"config.json describes a {config.model_type!r} model, not a {cls.__name__}")
    return config


class AutoEncoder(nn.Module, _SafeHubMixin, library_name="ae-vae-explorer", tags=["autoencoder"],
                  repo_url="https://huggingface.co/spaces/ae-vae-explorer/ae-vae-explorer"):
    """Deterministic autoencoder: `encode(x)` gives a latent tensor, `decode(z)` images in [0, 1]."""

    def __init__(self, config: AutoEncoderConfig | dict | None = None):
        super().__init__()
        self.config = _as_config(config, AutoEncoderConfig)
        c = self.config
        self.encoder = Encoder(c.channels, c.hidden_blocks, c.latent_dim)
        self.decoder = Decoder(c.channels, c.hidden_blocks, c.latent_dim, c.refine_channels)

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
                input_noise: float = 0.0) -> ModelOutput:
        """Loss terms for `x`; `input_noise` > 0 encodes a noisy copy and reconstructs the clean `x` (denoising)."""
        logits = self.decode_logits(self.encode(add_input_noise(x, input_noise, generator)))
        recon = torch.sigmoid(logits)
        bce = F.binary_cross_entropy_with_logits(logits, x, reduction="none").flatten(1).sum(1).mean()
        mse = F.mse_loss(recon, x)
        loss = bce if self.config.reconstruction_loss == "bce" else mse
        return ModelOutput(loss=loss, reconstruction=recon, terms={"bce": bce.detach(), "mse": mse.detach()})


class VAE(nn.Module, _SafeHubMixin, library_name="ae-vae-explorer", tags=["vae", "variational-autoencoder"],
          repo_url="https://huggingface.co/spaces/ae-vae-explorer/ae-vae-explorer"):
    """Variational autoencoder with a Bernoulli likelihood and a N(0, I) prior.

    `forward` returns the β-weighted negative ELBO in nats per image; with β = 1 it is the
    true negative ELBO (BCE summed over the 784 pixels + KL).
    """

    def __init__(self, config: VAEConfig | dict | None = None):
        super().__init__()
        self.config = _as_config(config, VAEConfig)
        c = self.config
        self.encoder = Encoder(c.channels, c.hidden_blocks, 2 * c.latent_dim)
        self.decoder = Decoder(c.channels, c.hidden_blocks, c.latent_dim, c.refine_channels)

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
                input_noise: float = 0.0) -> ModelOutput:
        """β-weighted −ELBO of `x`; `input_noise` > 0 gives the encoder a noisy copy of `x` while the likelihood
        still scores the clean `x` (a denoising VAE: it smooths the encoder, which otherwise overfits)."""
        posterior = self.encode(add_input_noise(x, input_noise, generator))
        logits = self.decode_logits(posterior.sample(generator))
        recon_nll = F.binary_cross_entropy_with_logits(logits, x, reduction="none").flatten(1).sum(1)
        kl = posterior.kl()
        loss = (recon_nll + beta * kl).mean()
        recon = torch.sigmoid(logits)
        terms = {"neg_elbo": (recon_nll + kl).mean().detach(), "recon": recon_nll.mean().detach(),
                 "kl": kl.mean().detach(), "mse": F.mse_loss(recon, x).detach()}
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
CONFIG_CLASSES = {"ae": AutoEncoderConfig, "vae": VAEConfig}
MODEL_CLASSES = {"ae": AutoEncoder, "vae": VAE}


def config_from_dict(data: dict[str, Any]) -> AutoEncoderConfig | VAEConfig:
    """Build the right config class from a `config.json` dict, with a clear error if it is not one."""
    model_type = data.get("model_type")
    if model_type not in CONFIG_CLASSES:
        raise WeightsError(f"config.json: model_type must be one of {sorted(CONFIG_CLASSES)}, got {model_type!r}")
    cls = CONFIG_CLASSES[model_type]
    try:
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})
    except (TypeError, ValueError) as exc:
        raise WeightsError(f"config.json: {exc}") from exc


def load_model(folder: str | os.PathLike, map_location: str = "cpu") -> Model:
    """Load an AE or a VAE from a local folder, deciding the class from `config.json`."""
    folder = Path(folder)
    config_file = folder / "config.json"
    if not config_file.is_file():
        raise WeightsError(f"{config_file}: file not found")
    try:
        data = json.loads(config_file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise WeightsError(f"{config_file}: not valid JSON ({exc})") from exc
    if not isinstance(data, dict):
        raise WeightsError(f"{config_file}: expected a JSON object")
    try:
        config = config_from_dict(data)
    except WeightsError as exc:
        raise WeightsError(f"{config_file}: {str(exc).removeprefix('config.json: ')}") from exc
    model = MODEL_CLASSES[config.model_type](config)
    return load_weights_into(model, folder / "model.safetensors", map_location=map_location)


def config_to_dict(config: AutoEncoderConfig | VAEConfig) -> dict[str, Any]:
    data = asdict(config)
    data["channels"] = list(data["channels"])
    return data
