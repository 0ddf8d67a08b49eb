"""Operations in latent space shared by the app, the figures and the benchmarks."""

from __future__ import annotations

from typing import Literal

import numpy as np
import torch

from .models import Model

InterpolationPath = Literal["linear", "spherical"]


def slerp(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Spherical interpolation between latent vectors `a` and `b` (D,) at fractions `t` (T,).

    Keeps the norm typical of Gaussian samples, so mid-points stay where the prior has mass;
    falls back to linear when the vectors are (anti-)parallel.
    """
    a_n, b_n = a / a.norm().clamp_min(1e-8), b / b.norm().clamp_min(1e-8)
    omega = torch.arccos((a_n * b_n).sum().clamp(-1 + 1e-7, 1 - 1e-7))
    if float(omega.abs()) < 1e-4 or float((np.pi - omega).abs()) < 1e-4:
        return lerp(a, b, t)
    t = t[:, None]
    return (torch.sin((1 - t) * omega) * a + torch.sin(t * omega) * b) / torch.sin(omega)


def lerp(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    t = t[:, None]
    return (1 - t) * a + t * b


@torch.no_grad()
def interpolate(model: Model, image_a: torch.Tensor, image_b: torch.Tensor, steps: int,
                path: InterpolationPath = "linear") -> torch.Tensor:
    """Decode `steps` points from embed(a) to embed(b), endpoints included: (steps, 1, 28, 28)."""
    model.eval()
    z = model.embed(torch.stack([image_a, image_b]))
    t = torch.linspace(0.0, 1.0, steps)
    path_fn = slerp if path == "spherical" else lerp
    return model.decode(path_fn(z[0], z[1], t))


@torch.no_grad()
def sample_prior(model: Model, count: int, seed: int, temperature: float = 1.0) -> torch.Tensor:
    """Decode z ~ N(0, temperature^2 I), seeded (the VAE's prior; for the AE it shows why it is not one)."""
    model.eval()
    generator = torch.Generator().manual_seed(seed)
    z = temperature * torch.randn(count, model.latent_dim, generator=generator)
    return model.decode(z)


@torch.no_grad()
def sample_fitted_gaussian(model: Model, mean: np.ndarray, cov: np.ndarray, count: int, seed: int,
                           temperature: float = 1.0) -> torch.Tensor:
    """Decode z ~ N(mean, temperature^2 cov): a Gaussian fitted to the model's own training latents."""
    model.eval()
    generator = torch.Generator().manual_seed(seed)
    cov_t = torch.as_tensor(cov, dtype=torch.float64)
    jitter = 1e-6 * float(torch.diagonal(cov_t).mean().clamp_min(1e-12))
    chol = torch.linalg.cholesky(cov_t + jitter * torch.eye(len(cov_t), dtype=torch.float64)).float()
    noise = torch.randn(count, len(mean), generator=generator)
    z = torch.as_tensor(mean, dtype=torch.float32) + temperature * noise @ chol.T
    return model.decode(z)
