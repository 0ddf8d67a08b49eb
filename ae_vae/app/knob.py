"""The KL knob: one data set's β-conditioned VAE as the β tab uses it, numpy over its ONNX graphs.

At any β of the trained range: a drawing's reconstruction with its rate and distortion, decoded N(0, I) draws, and
the latent map. Rate and distortion are the curve's estimator (`ae_vae.training.beta_curve`): the analytic
KL(q(z|x) || N(0, I)) and the reconstruction term −log p(x|z) at the posterior mean, in nats per image; here from the
decoder graph's probabilities (clipped to [`PROBABILITY_FLOOR`, 1 − `PROBABILITY_FLOOR`], where float32 loses what
the logits knew).

The map at β is the PCA of the codes of `MAP_POINTS` stored test images at each of `MAP_GRID` log-spaced β values,
each plane's axes turned (sign-flipped) to agree with its neighbour's so points move as β turns rather than flip; the
page interpolates between neighbouring β values. The shipped AE and VAE are measured by the same estimator on the
stored test images, as reference points for the rate–distortion curve.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..checks import number_in_range, whole_number
from ..errors import InputError
from ..figures import image_grid, to_uint8
from ..folders import BetaFolder
from ..latent.maps import LatentMaps
from ..latent.priors import StandardNormalPrior
from ..models.config import log_spaced
from ..runtime import GraphModel, Posterior

# The map along β, computed as the app starts (in the background): MAP_GRID x MAP_POINTS encodings.
MAP_GRID = 17  # β values the map is computed at (log-spaced over the range; the page interpolates between them)
MAP_POINTS = 600  # stored test images on the map at β
REFERENCE_IMAGES = 2000  # stored test images the shipped AE and VAE are measured on
KNOB_SAMPLES = 16  # the tab's fixed N(0, I) draws (a 4 x 4 grid), seed KNOB_SEED: what /beta_sample(…, 16, 0) gives
KNOB_SEED = 0
MAX_BETA_SAMPLES = 64
PROBABILITY_FLOOR = 1e-7
BATCH = 500


def rate_of(posterior: Posterior) -> np.ndarray:
    """KL(q(z|x) || N(0, I)) per item, in nats (the log-variance as clamped by the graphs' reader)."""
    mean, logvar = posterior.mean.astype(np.float64), posterior.logvar.astype(np.float64)
    return 0.5 * (mean ** 2 + np.exp(logvar) - 1.0 - logvar).sum(axis=1)


def distortion_of(images: np.ndarray, probabilities: np.ndarray) -> np.ndarray:
    """−log p(x|z) per item under the Bernoulli likelihood, in nats."""
    x = images.reshape(len(images), -1).astype(np.float64)
    p = np.clip(probabilities.reshape(len(images), -1).astype(np.float64), PROBABILITY_FLOOR, 1 - PROBABILITY_FLOOR)
    return -(x * np.log(p) + (1 - x) * np.log1p(-p)).sum(axis=1)


def _check(stop: threading.Event | None) -> None:
    """The app is closing: a background computation ends here rather than in the middle of a graph's run (a process
    leaving while an onnxruntime session runs is aborted)."""
    if stop is not None and stop.is_set():
        raise InterruptedError("the app is closing")


@dataclass
class BetaReconstruction:
    """A drawing at β: its model input and reconstruction (uint8 28 x 28), rate and distortion in nats, and its code
    (the posterior mean, which places it on the map at β)."""

    model_input: np.ndarray
    image: np.ndarray
    rate: float
    distortion: float
    code: np.ndarray


@dataclass
class BetaMapGrid:
    """The latent map along β: `positions[g, i]` is stored test image i's place at `betas[g]` (PCA of that β's
    codes, axes agreeing with the previous β's); `means[g]` and `components[g]` place a new code at that β."""

    betas: list[float]
    labels: np.ndarray  # (N,) uint8
    positions: np.ndarray  # (G, N, 2) float32
    means: np.ndarray  # (G, D) float32
    components: np.ndarray  # (G, 2, D) float32
    extent: list[float] = field(default_factory=list)  # [x0, x1, y0, y1] over every β: the map's fixed frame

    def nearest(self, beta: float) -> int:
        """The grid's β nearest to `beta` in log β: the plane a code is placed on, and a map point read from, at β."""
        return int(np.argmin([abs(math.log(b) - math.log(beta)) for b in self.betas]))

    def place(self, code: np.ndarray, beta: float) -> list[float]:
        """Where a code at `beta` lands: projected on the plane of the grid's nearest β."""
        g = self.nearest(beta)
        return [float(v) for v in (np.asarray(code, np.float32) - self.means[g]) @ self.components[g].T]

    def code_at(self, x: Any, y: Any, beta: float) -> np.ndarray:
        """The code at map point (x, y) at `beta` (inside the map's frame): the point on the plane of the grid's
        nearest β, the inverse of `place` there."""
        x0, x1, y0, y1 = self.extent
        point = np.array([number_in_range(x, x0, x1, "x"), number_in_range(y, y0, y1, "y")], np.float32)
        g = self.nearest(beta)
        return self.means[g] + point @ self.components[g]


class BetaKnob:
    """One data set's β-conditioned VAE with what the tab shows beside it (`reference`: the shipped AE's and VAE's
    distortion and rate on the stored test images, by the same estimator)."""

    def __init__(self, folder: BetaFolder):
        self.folder = folder
        self.model: GraphModel = folder.model
        self.dataset = folder.model.config.dataset
        self.beta_range: tuple[float, float] = tuple(float(b) for b in folder.beta_range)
        self._grid: BetaMapGrid | None = None
        self._reference: dict[str, Any] | None = None

    @property
    def latent_dim(self) -> int:
        return self.model.latent_dim

    def check_beta(self, beta: Any) -> float:
        """β as a float within the trained range (where the knob was trained: outside it the network guesses)."""
        low, high = self.beta_range
        try:
            return number_in_range(beta, low, high, "beta")
        except InputError:
            raise InputError(f"beta must be a number from {low:g} to {high:g} (the range the model was trained "
                             f"on), got {beta!r}") from None

    def reconstruct(self, x: np.ndarray, beta: Any) -> BetaReconstruction:
        """A framed model input `x` (1, 1, 28, 28) in [0, 1] reconstructed at β from its posterior mean."""
        beta = self.check_beta(beta)
        posterior = self.model.encode(x, beta)
        decoded = self.model.decode(posterior.mean, beta)
        return BetaReconstruction(to_uint8(x[0, 0]), to_uint8(decoded[0, 0]), float(rate_of(posterior)[0]),
                                  float(distortion_of(x, decoded)[0]), posterior.mean[0])

    def draws(self, count: Any = KNOB_SAMPLES, seed: Any = KNOB_SEED) -> np.ndarray:
        """`count` N(0, I) codes from `seed` (as the Sample tab draws N(0, I))."""
        count = whole_number(count, 1, MAX_BETA_SAMPLES, "count")
        seed = whole_number(seed, 0, 2 ** 31 - 1, "seed")
        return StandardNormalPrior(self.latent_dim).sample(count, None, 1.0, np.random.default_rng(seed))

    def sample(self, beta: Any, count: Any = KNOB_SAMPLES, seed: Any = KNOB_SEED) -> np.ndarray:
        """N(0, I) draws decoded at β, as one uint8 grid (square-ish)."""
        beta = self.check_beta(beta)
        codes = self.draws(count, seed)
        return image_grid(self.model.decode(codes, beta), int(np.ceil(np.sqrt(len(codes)))))

    def curve(self) -> dict[str, Any]:
        """The measured curve (`metrics.json`: test split) with the range, the estimator and the reference points."""
        metrics = self.folder.metrics
        return {"dataset": self.dataset, "beta_range": list(self.beta_range),
                "distortion_estimator": metrics.get("distortion_estimator", "posterior mean"),
                "test_images": metrics.get("test_images"), "curve": self.folder.curve,
                "at_beta_1": metrics.get("at_beta_1")}

    def planes(self, images: np.ndarray, betas: list[float], first: np.ndarray | None = None,
               stop: threading.Event | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The PCA plane of the images' codes at each β, each plane's axes sign-aligned with the previous one's (the
        first's with `first`, places of the same images, if given), so points move as β turns rather than flip:
        places (B, N, 2), means (B, D) and components (B, 2, D), float64."""
        positions, means, components = [], [], []
        previous = first
        for beta in betas:
            _check(stop)
            codes = np.concatenate([self.model.embed(images[i:i + BATCH], beta)
                                    for i in range(0, len(images), BATCH)]).astype(np.float64)
            mean = codes.mean(axis=0)
            _, _, vt = np.linalg.svd(codes - mean, full_matrices=False)
            basis = vt[:2]
            placed = (codes - mean) @ basis.T
            if previous is not None:
                signs = np.where((placed * previous).sum(axis=0) < 0, -1.0, 1.0)
                basis, placed = basis * signs[:, None], placed * signs
            positions.append(placed)
            means.append(mean)
            components.append(basis)
            previous = placed
        return np.stack(positions), np.stack(means), np.stack(components)

    def map_grid(self, maps: LatentMaps, stop: threading.Event | None = None) -> BetaMapGrid:
        """The map along β over the first `MAP_POINTS` of `maps`' stored test images (computed once; `stop` set
        ends the computation with an `InterruptedError`)."""
        if self._grid is None:
            images = maps.images[:MAP_POINTS].astype(np.float32)[:, None] / 255.0
            betas = log_spaced(*self.beta_range, MAP_GRID)
            positions, means, components = self.planes(images, betas, stop=stop)
            reach = np.abs(positions).max(axis=(0, 1)) * 1.05
            self._grid = BetaMapGrid(betas, maps.labels[:MAP_POINTS].astype(np.uint8), positions.astype(np.float32),
                                     means.astype(np.float32), components.astype(np.float32),
                                     [-float(reach[0]), float(reach[0]), -float(reach[1]), float(reach[1])])
        return self._grid

    def reference(self, ae: GraphModel, vae: GraphModel, maps: LatentMaps, stop: threading.Event | None = None
                  ) -> dict[str, Any]:
        """The shipped VAE's (rate, distortion) and the AE's distortion on the first `REFERENCE_IMAGES` of `maps`'
        stored test images, by the curve's estimator (the AE's code has no rate: its distortion is a line on the curve's plot). Computed once."""
        if self._reference is None:
            images = maps.images[:REFERENCE_IMAGES].astype(np.float32)[:, None] / 255.0
            rate = vae_distortion = ae_distortion = 0.0
            for i in range(0, len(images), BATCH):
                _check(stop)
                x = images[i:i + BATCH]
                posterior = vae.encode(x)
                rate += float(rate_of(posterior).sum())
                vae_distortion += float(distortion_of(x, vae.decode(posterior.mean)).sum())
                ae_distortion += float(distortion_of(x, ae.decode(ae.encode(x))).sum())
            n = len(images)
            self._reference = {"images": n, "vae": {"rate": rate / n, "distortion": vae_distortion / n},
                               "ae": {"distortion": ae_distortion / n}}
        return self._reference
