"""The app's onnxruntime path against the library's torch models, endpoint by endpoint, on the images stored in the
bundled folders (no data set needed): every float array the models give (codes, decoded images, before any PNG)
within 1e-4, log-densities within 1e-3, neighbour lists and vote lines equal, and percentiles equal but for the
stored test codes whose log-densities lie within that 1e-3 (a percentile counts the test codes at most as likely:
a code as likely as a test code to 1e-4 may fall on either side of it)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from ae_vae import VAE, AutoEncoder
from ae_vae.app.explorer import DatasetModels, Explorer
from ae_vae.app.sources import load_explorer
from ae_vae.runtime import Posterior

WEIGHTS = Path(__file__).resolve().parents[1] / "weights"
IMAGE_TOLERANCE = 1e-4
LOG_DENSITY_TOLERANCE = 1e-3


class TorchAsGraph:
    """A library torch model answering as the app's `GraphModel` does (numpy in and out): the reference."""

    def __init__(self, model: AutoEncoder | VAE):
        self.model, self.config = model, model.config
        self.kind, self.latent_dim = model.config.model_type, model.config.latent_dim

    def encode(self, images: np.ndarray) -> np.ndarray | Posterior:
        codes = self.model.encode(images)
        return Posterior(codes.mean.numpy(), codes.logvar.numpy()) if self.kind == "vae" else codes.numpy()

    def embed(self, images: np.ndarray) -> np.ndarray:
        return self.model.embed(images).numpy()

    def decode(self, codes: np.ndarray) -> np.ndarray:
        return self.model.decode(codes).numpy()


class Recording:
    """A model whose every answer (each float array) is kept, in order."""

    def __init__(self, model: Any):
        self.model, self.arrays = model, []
        self.config, self.kind, self.latent_dim = model.config, model.kind, model.latent_dim

    def _keep(self, value: Any) -> Any:
        self.arrays += [value.mean, value.logvar] if isinstance(value, Posterior) else [value]
        return value

    def encode(self, images: np.ndarray) -> Any:
        return self._keep(self.model.encode(images))

    def embed(self, images: np.ndarray) -> np.ndarray:
        return self._keep(self.model.embed(images))

    def decode(self, codes: np.ndarray) -> np.ndarray:
        return self._keep(self.model.decode(codes))


def recorded(pair: DatasetModels, ae: Any, vae: Any) -> DatasetModels:
    return replace(pair, ae=Recording(ae), vae=Recording(vae))


@pytest.fixture(scope="module")
def explorers() -> tuple[Explorer, Explorer]:
    """(the app's explorer, its twin running the torch models), over the same maps and priors, both recording."""
    served = load_explorer(None, WEIGHTS)
    onnx, torch = {}, {}
    for dataset in served.datasets:
        pair = served.models(dataset)
        onnx[dataset] = recorded(pair, pair.ae, pair.vae)
        torch[dataset] = recorded(pair, TorchAsGraph(AutoEncoder.from_pretrained(pair.folders["ae"])),
                                  TorchAsGraph(VAE.from_pretrained(pair.folders["vae"])))
    return Explorer(onnx), Explorer(torch)


def drawings(explorer: Explorer, dataset: str) -> list[np.ndarray]:
    """Three stored test images of different classes, as the Draw tab holds a framed drawing (uint8 28x28)."""
    pair = explorer.models(dataset)
    return [(pair.example(label, 1) * 255 + 0.5).astype(np.uint8) for label in (1, 4, 7)]


def percentile_tolerance(explorer: Explorer, dataset: str, kind: str, percentile: float) -> float:
    """How far two codes' percentiles may be apart when their log-densities are within the tolerance: 100 / N per
    stored test log-density within the tolerance of the one at `percentile` (plus the 0.01 of rounding)."""
    stored = explorer.models(dataset).prior(kind).test_log_prob
    at = stored[min(len(stored) - 1, max(0, round(percentile / 100 * len(stored)) - 1))]
    near = np.count_nonzero(np.abs(stored - at) <= 2 * LOG_DENSITY_TOLERANCE)
    return 100.0 * near / len(stored) + 0.0100001


def assert_same(value: Any, reference: Any, where: str, percentiles: Any = None) -> None:
    """Equal structures; floats within the image tolerance (log-densities within theirs, percentiles within
    `percentiles(kind, value)`); the rest equal."""
    if isinstance(value, dict):
        assert value.keys() == reference.keys(), where
        for key in value:
            tolerance_where = f"{where}.{key}"
            if key == "log_density":
                assert abs(value[key] - reference[key]) <= LOG_DENSITY_TOLERANCE, tolerance_where
            elif key == "percentile" or (where.endswith("profile") and key in ("ae", "vae")):
                kind = where.rsplit(".", 1)[-1] if key == "percentile" else key
                for got, want in zip(np.atleast_1d(value[key]), np.atleast_1d(reference[key]), strict=True):
                    assert abs(got - want) <= percentiles(kind, want), (tolerance_where, got, want)
            else:
                assert_same(value[key], reference[key], tolerance_where, percentiles)
    elif isinstance(value, (list, tuple)):
        assert len(value) == len(reference), where
        for i, (a, b) in enumerate(zip(value, reference)):
            assert_same(a, b, f"{where}[{i}]", percentiles)
    elif isinstance(value, np.ndarray) and value.dtype.kind == "f":
        assert value.shape == reference.shape and np.abs(value - reference).max() <= IMAGE_TOLERANCE, where
    elif isinstance(value, np.ndarray) and value.dtype == np.uint8:  # images after rounding: a float within 1e-4
        diff = np.abs(value.astype(int) - reference.astype(int))    # may round to the next level
        assert value.shape == reference.shape and diff.max() <= 1, where
    elif isinstance(value, np.ndarray):
        assert np.array_equal(value, reference), where
    elif isinstance(value, float):
        assert abs(value - reference) <= IMAGE_TOLERANCE, (where, value, reference)
    else:
        assert value == reference, where


def endpoint_calls(explorer: Explorer, dataset: str, images: list[np.ndarray]) -> dict[str, Any]:
    """What each API endpoint computes (as `Explorer` methods), except PNG encoding."""
    a, b, c = images
    neighbours = explorer.neighbours(a, dataset, k=8)
    analysis = explorer.analyse(b, dataset, k=5)
    return {
        "/reconstruct": [(r.ae_mse, r.vae_mse, r.vae_sample_mse) for r in (explorer.reconstruct(i, dataset)
                                                                          for i in images)],
        "/typicality": [explorer.typicality(i, dataset) for i in images],
        "/neighbors": {kind: (found.indices, found.labels, vote) for kind, (found, vote) in neighbours.items()},
        "analyse": (analysis.typicality, {kind: (found.indices, vote)
                                          for kind, (found, vote) in analysis.neighbours.items()}),
        "/traverse": explorer.walk(c, dataset, [1.0, -0.5, 0.25]),
        "/encode": explorer.encode(a, dataset),
        "/locate": explorer.locate(c, dataset),
        "/decode": explorer.decode(dataset, "vae", np.linspace(-1, 1, explorer.models(dataset).vae.latent_dim)),
        "/interpolate": [explorer.interpolate(a, c, dataset, 5, path)[:2] for path in ("linear", "spherical")],
        "/interpolate_at": explorer.interpolate_at(a, c, dataset, "spherical", 0.3),
        "/interpolation_profile": {"profile": explorer.interpolation_profile(a, c, dataset, 6, "linear")},
        "/sample": [explorer.sample(dataset, 9, seed, 0.8, prior, label)
                    for seed, prior, label in ((0, "standard", -1), (3, "mixture", 2), (4, "mixture", -1))],
        "/decode_point": [explorer.decode_point(dataset, model, projection, 0.5, -0.5).summary()
                          for model in ("ae", "vae") for projection in ("pca", "umap")],
        "/embedding": explorer.manifold(dataset, 5),
    }


@pytest.mark.parametrize("dataset", ["mnist", "fashion_mnist"])
def test_every_endpoint_computes_what_the_torch_models_compute(explorers, dataset):
    onnx, torch = explorers
    images = drawings(onnx, dataset)
    served, reference = endpoint_calls(onnx, dataset, images), endpoint_calls(torch, dataset, images)
    for endpoint in served:
        assert_same(served[endpoint], reference[endpoint], endpoint,
                    lambda kind, percentile: percentile_tolerance(onnx, dataset, kind, percentile))
    for kind in ("ae", "vae"):
        arrays = getattr(onnx.models(dataset), kind).arrays
        twins = getattr(torch.models(dataset), kind).arrays
        assert len(arrays) == len(twins) > 20
        for i, (array, twin) in enumerate(zip(arrays, twins)):
            assert array.shape == twin.shape and np.abs(array - twin).max() <= IMAGE_TOLERANCE, (kind, i)
        arrays.clear(), twins.clear()
