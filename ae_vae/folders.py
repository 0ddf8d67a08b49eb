"""A weights folder read whole, once: the model (its ONNX graphs, run by onnxruntime), its maps and neighbour points,
its fitted prior, its metrics.

The app needs every part, so a folder is only usable once all of them load: the Hub pull, the bundled weights and
a user's own folders are validated by this one loader, and what it loaded is what the app serves (nothing is read
twice). Every problem is a `WeightsError` (or a subclass) naming the file. Nothing here imports torch: the graphs
and the prior are both checked against the folder's `model.safetensors`, read once.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import logging
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from safetensors.numpy import load as load_arrays

from .errors import PriorError, WeightsError
from .fileio import first_line
from .graph_files import WEIGHTS_FILE, check_graphs
from .latent.maps import LatentMaps, load_maps
from .latent.priors import PRIOR_FILE, GaussianMixturePrior
from .models.config import read_config
from .runtime import GraphModel

logger = logging.getLogger(__name__)


@dataclass
class ModelFolder:
    """What one weights folder holds, loaded: `prior` is None when there is none (`prior_note` says why)."""

    path: Path
    model: GraphModel
    maps: LatentMaps
    prior: GaussianMixturePrior | None = None
    prior_note: str = ""
    metrics: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        """`<dataset>-<kind>`, the app's name for the model (`mnist-ae`, ...), from its config."""
        return f"{self.model.config.dataset}-{self.model.config.model_type}"


def load_model_folder(folder: str | os.PathLike, strict_prior: bool = True) -> ModelFolder:
    """Load and check every part of a weights folder the app uses (the model as onnxruntime sessions).

    The graphs must have been exported from the folder's weights (`ae_vae.graph_files.check_graphs`): a folder with
    none is refused (`python -m ae_vae export-onnx FOLDER` writes them).

    A prior that does not belong to its weights (another training run) would sample codes the decoder was never
    trained around: with `strict_prior` it makes the folder unusable (`PriorError`), without it the folder loads
    with no prior and the reason in `prior_note` (the app then offers N(0, I) only for that model).
    """
    folder = Path(folder)
    config = read_config(folder)
    weights_sha256, weights = read_weights(folder)
    model = GraphModel(config, check_graphs(folder, config, weights_sha256))
    maps = load_maps(folder, model.latent_dim)
    prior, note = None, f"{folder / PRIOR_FILE}: not found"
    if (folder / PRIOR_FILE).is_file():
        try:
            prior, note = GaussianMixturePrior.from_pretrained(folder, latent_dim=model.latent_dim, weights=weights), ""
        except PriorError as exc:
            if strict_prior:
                raise
            logger.warning("%s", exc)
            note = str(exc)
    return ModelFolder(folder, model, maps, prior, note, read_metrics(folder))


@dataclass
class BetaFolder:
    """A β-conditioned VAE's folder, loaded: the model (its graphs take β beside the image and the code) and the
    rate–distortion curve measured along its trained range (`metrics.json`). No maps, prior or neighbour points."""

    path: Path
    model: GraphModel
    curve: list[dict[str, Any]]
    metrics: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return f"{self.model.config.dataset}-{self.model.config.model_type}"

    @property
    def beta_range(self) -> tuple[float, float]:
        return tuple(self.model.config.beta_range)


def load_beta_folder(folder: str | os.PathLike) -> BetaFolder:
    """Load and check a β-conditioned VAE's folder: its config, its graphs (exported from its weights, β an input)
    and its curve (at least two points, β rising from the range's low end to its high end, finite rate and
    distortion). Every problem is a `WeightsError` naming the file."""
    folder = Path(folder)
    config = read_config(folder)
    if config.model_type != "beta-vae":
        raise WeightsError(f"{folder}: its config.json describes a {config.model_type} model, not a β-conditioned "
                           "VAE")
    weights_sha256, _ = read_weights(folder)
    model = GraphModel(config, check_graphs(folder, config, weights_sha256))
    metrics = read_metrics(folder)
    curve = metrics.get("curve")
    low, high = config.beta_range
    try:
        betas = [float(point["beta"]) for point in curve]
        numbers = [float(point[key]) for point in curve for key in ("rate", "distortion")]
        usable = (len(betas) >= 2 and all(a < b for a, b in itertools.pairwise(betas))
                  and math.isclose(betas[0], low, rel_tol=1e-4) and math.isclose(betas[-1], high, rel_tol=1e-4)
                  and all(math.isfinite(v) for v in numbers))
    except (TypeError, KeyError, ValueError):
        usable = False
    if not usable:
        raise WeightsError(f"{folder / 'metrics.json'}: no usable rate–distortion curve from β = {low:g} to {high:g} "
                           "(train.py writes it at the end of a beta-vae run)")
    return BetaFolder(folder, model, curve, metrics)


def read_weights(folder: Path) -> tuple[str, dict[str, Any]]:
    """(SHA-256 of the file, its tensors as arrays) of a folder's `model.safetensors`, read once: what its graphs
    and its prior are checked against."""
    path = folder / WEIGHTS_FILE
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise WeightsError(f"{path}: {'file not found' if not path.exists() else first_line(exc)}") from None
    try:
        tensors = load_arrays(data)
    except Exception as exc:  # safetensors raises its own error types for truncated or garbled files
        raise WeightsError(f"{path}: not a readable safetensors file ({first_line(exc)})") from exc
    return hashlib.sha256(data).hexdigest(), tensors


def read_metrics(folder: Path) -> dict[str, Any]:
    """A folder's metrics.json, or {} when it is missing or unreadable (the app then shows no figures)."""
    try:
        data = json.loads((folder / "metrics.json").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return {}
    return data if isinstance(data, dict) else {}
