"""A weights folder read whole, once: the model, its maps and neighbour points, its fitted prior, its metrics.

The app needs every part, so a folder is only usable once all of them load: the Hub pull, the bundled weights and
a user's own folders are validated by this one loader, and what it loaded is what the app serves (nothing is read
twice). Every problem is a `WeightsError` (or a subclass) naming the file.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from torch import nn

from .errors import PriorError
from .latent.maps import LatentMaps, load_maps
from .latent.priors import PRIOR_FILE, GaussianMixturePrior
from .models.format import load_model
from .models.graphs import check_graphs

logger = logging.getLogger(__name__)


@dataclass
class ModelFolder:
    """What one weights folder holds, loaded: `prior` is None when there is none (`prior_note` says why)."""

    path: Path
    model: nn.Module
    maps: LatentMaps
    prior: GaussianMixturePrior | None = None
    prior_note: str = ""
    metrics: dict[str, Any] = field(default_factory=dict)
    has_graphs: bool = False  # encoder.onnx and decoder.onnx, checked against config.json: the page can run it

    @property
    def name(self) -> str:
        """`<dataset>-<kind>`, the app's name for the model (`mnist-ae`, ...), from its config."""
        return f"{self.model.config.dataset}-{self.model.config.model_type}"


def load_model_folder(folder: str | os.PathLike, strict_prior: bool = True) -> ModelFolder:
    """Load and check every part of a weights folder the app uses.

    A prior that does not belong to its weights (another training run) would sample codes the decoder was never
    trained around: with `strict_prior` it makes the folder unusable (`PriorError`), without it the folder loads
    with no prior and the reason in `prior_note` (the app then offers N(0, I) only for that model).
    """
    folder = Path(folder)
    model = load_model(folder)
    maps = load_maps(folder, model.latent_dim)
    prior, note = None, f"{folder / PRIOR_FILE}: not found"
    if (folder / PRIOR_FILE).is_file():
        try:
            prior, note = GaussianMixturePrior.from_pretrained(folder, latent_dim=model.latent_dim, weights=model), ""
        except PriorError as exc:
            if strict_prior:
                raise
            logger.warning("%s", exc)
            note = str(exc)
    return ModelFolder(folder, model, maps, prior, note, read_metrics(folder), check_graphs(folder, model.config))


def read_metrics(folder: Path) -> dict[str, Any]:
    """A folder's metrics.json, or {} when it is missing or unreadable (the app then shows no figures)."""
    try:
        data = json.loads((folder / "metrics.json").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return {}
    return data if isinstance(data, dict) else {}
