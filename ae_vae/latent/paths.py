"""Paths through a latent space: linear and spherical interpolation between two codes, decoded."""

from __future__ import annotations

from typing import Literal

import numpy as np
import torch

from ..models import Model

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
