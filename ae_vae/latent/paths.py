"""Paths through a latent space: linear and spherical interpolation between two codes, decoded."""

from __future__ import annotations

from typing import Any, Literal

import numpy as np

from .priors import as_array

InterpolationPath = Literal["linear", "spherical"]


def slerp(a: np.ndarray, b: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Spherical interpolation between latent vectors `a` and `b` (D,) at fractions `t` (T,): (T, D) float64.

    Keeps the norm typical of Gaussian samples, so mid-points stay where the prior has mass;
    falls back to linear when the vectors are (anti-)parallel.
    """
    a, b, t = (np.asarray(v, np.float64) for v in (a, b, t))
    a_n, b_n = a / max(float(np.linalg.norm(a)), 1e-8), b / max(float(np.linalg.norm(b)), 1e-8)
    omega = float(np.arccos(np.clip((a_n * b_n).sum(), -1 + 1e-7, 1 - 1e-7)))
    if abs(omega) < 1e-4 or abs(np.pi - omega) < 1e-4:
        return lerp(a, b, t)
    t = t[:, None]
    return (np.sin((1 - t) * omega) * a + np.sin(t * omega) * b) / np.sin(omega)


def lerp(a: np.ndarray, b: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Linear interpolation between `a` and `b` (D,) at fractions `t` (T,): (T, D) float64."""
    a, b, t = (np.asarray(v, np.float64) for v in (a, b, t))
    t = t[:, None]
    return (1 - t) * a + t * b


def path_codes(a: np.ndarray, b: np.ndarray, t: np.ndarray, path: InterpolationPath = "linear") -> np.ndarray:
    """The codes at fractions `t` of the `path` from `a` to `b`, float32 (T, D), as a decoder takes them."""
    return (slerp if path == "spherical" else lerp)(a, b, t).astype(np.float32)


def interpolate(model: Any, image_a: Any, image_b: Any, steps: int, path: InterpolationPath = "linear") -> Any:
    """Decode `steps` points from embed(a) to embed(b), endpoints included: (steps, 1, 28, 28) in [0, 1].

    `model` is anything with `embed` and `decode`: a torch model (images as tensors or arrays; its decode's tensor
    comes back) or the app's `GraphModel` (arrays)."""
    codes = as_array(model.embed(np.stack([as_array(image_a), as_array(image_b)]).astype(np.float32)))
    return model.decode(path_codes(codes[0], codes[1], np.linspace(0.0, 1.0, steps), path))

