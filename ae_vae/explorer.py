"""The app's logic as pure functions over loaded models: numpy / PIL in, numpy / figures out.

`app.py` only lays these out in Gradio; tests call them directly. Models are loaded once and
used read-only under `torch.no_grad()`, so one `Explorer` serves concurrent requests.
"""

from __future__ import annotations

import io
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from matplotlib.figure import Figure
from PIL import Image

from .data import DATASET_TITLES, INTERPOLATION_PAIRS, normalize_dataset_name
from .embeddings import LatentMaps, load_maps
from .fileio import WeightsError
from .latent import interpolate, sample_fitted_gaussian, sample_prior
from .models import VAE, AutoEncoder
from .plotting import RenderedFigure, image_grid, scatter_figure, to_uint8
from .preprocess import InputError, to_model_input
from .weights import load_model

MAX_SAMPLES = 64
DEFAULT_SAMPLES = 25  # a 5x5 grid per model: three grids decode in < 20 ms on one core
MAX_STEPS = 24
POSTERIOR_SAMPLES = 4


@dataclass
class DatasetModels:
    """The AE and VAE of one data set with their latent maps."""

    dataset: str
    ae: AutoEncoder
    vae: VAE
    ae_maps: LatentMaps
    vae_maps: LatentMaps

    @property
    def example_images(self) -> np.ndarray:
        return self.vae_maps.example_images

    @property
    def example_labels(self) -> np.ndarray:
        return self.vae_maps.example_labels

    def example(self, label: int) -> np.ndarray:
        """The first bundled test image of class `label`, (28, 28) float32 in [0, 1]."""
        index = int(np.flatnonzero(self.example_labels == label)[0])
        return self.example_images[index].astype(np.float32) / 255.0


def load_dataset_models(dataset: str, ae_folder: str | os.PathLike, vae_folder: str | os.PathLike) -> DatasetModels:
    ae, vae = load_model(ae_folder), load_model(vae_folder)
    if not isinstance(ae, AutoEncoder) or not isinstance(vae, VAE):
        raise WeightsError(f"{ae_folder} must hold an AE and {vae_folder} a VAE")
    return DatasetModels(dataset, ae, vae, load_maps(Path(ae_folder) / "embeddings.safetensors", ae.latent_dim),
                         load_maps(Path(vae_folder) / "embeddings.safetensors", vae.latent_dim))


@dataclass
class Reconstruction:
    model_input: np.ndarray  # (28, 28) uint8
    ae: np.ndarray  # (28, 28) uint8
    vae: np.ndarray  # (28, 28) uint8, decoded posterior mean
    vae_samples: np.ndarray  # uint8 grid of decoded posterior samples
    ae_mse: float
    vae_mse: float
    vae_sample_mse: list[float]

    def summary(self) -> str:
        samples = ", ".join(f"{e:.4f}" for e in self.vae_sample_mse)
        return ("| | reconstruction MSE per pixel |\n|---|---|\n"
                f"| AE | {self.ae_mse:.4f} |\n| VAE (posterior mean) | {self.vae_mse:.4f} |\n"
                f"| VAE posterior samples | {samples} |")


class Explorer:
    """Loaded models for every data set plus a note on where the weights came from."""

    def __init__(self, models: dict[str, DatasetModels], source_notice: str = ""):
        self._models = models
        self.source_notice = source_notice
        self._rendered: dict[str, RenderedFigure] = {}
        self._render_lock = threading.Lock()

    @property
    def datasets(self) -> list[str]:
        return list(self._models)

    def models(self, dataset: str) -> DatasetModels:
        try:
            key = normalize_dataset_name(str(dataset))
        except ValueError as exc:
            raise InputError(str(exc)) from None
        if key not in self._models:
            raise InputError(f"No models loaded for {dataset!r}; available: {', '.join(self._models)}")
        return self._models[key]

    # ------------------------------------------------------------------ draw

    @torch.no_grad()
    def reconstruct(self, image: Any, dataset: str, seed: int = 0) -> Reconstruction:
        """Preprocess a drawing / upload, then reconstruct it with the AE and the VAE."""
        pair = self.models(dataset)
        x = torch.from_numpy(to_model_input(image))[None, None]
        ae_out = pair.ae.decode(pair.ae.encode(x))
        posterior = pair.vae.encode(x)
        vae_out = pair.vae.decode(posterior.mode())
        generator = torch.Generator().manual_seed(int(seed))
        z = torch.cat([posterior.sample(generator) for _ in range(POSTERIOR_SAMPLES)])
        samples = pair.vae.decode(z)
        return Reconstruction(
            model_input=to_uint8(x[0, 0]), ae=to_uint8(ae_out[0, 0]), vae=to_uint8(vae_out[0, 0]),
            vae_samples=image_grid(samples, ncol=POSTERIOR_SAMPLES),
            ae_mse=float(((ae_out - x) ** 2).mean()), vae_mse=float(((vae_out - x) ** 2).mean()),
            vae_sample_mse=[float(((s - x[0]) ** 2).mean()) for s in samples])

    # ------------------------------------------------------------------ interpolate

    def default_pair(self, dataset: str) -> tuple[np.ndarray, np.ndarray]:
        """A "2" and a "5" from the test set (a T-shirt and a sneaker for Fashion-MNIST), uint8 28x28."""
        pair = self.models(dataset)
        a, b = INTERPOLATION_PAIRS[pair.dataset]
        return to_uint8(pair.example(a)), to_uint8(pair.example(b))

    @torch.no_grad()
    def interpolate(self, image_a: Any, image_b: Any, dataset: str, steps: int = 10,
                    path: Literal["linear", "spherical"] = "linear") -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
        """AE strip, VAE strip (uint8 rows) and GIF frames (AE above VAE) from image A to image B."""
        pair = self.models(dataset)
        steps = _int_in_range(steps, 2, MAX_STEPS, "steps")
        if path not in ("linear", "spherical"):
            raise InputError(f"path must be 'linear' or 'spherical', got {path!r}")
        inputs = []
        for name, image in (("A", image_a), ("B", image_b)):
            try:
                inputs.append(torch.from_numpy(to_model_input(image))[None])
            except InputError as exc:
                raise InputError(f"Image {name}: {exc}") from None
        ae_path = interpolate(pair.ae, inputs[0], inputs[1], steps, path)
        vae_path = interpolate(pair.vae, inputs[0], inputs[1], steps, path)
        frames = [np.vstack([to_uint8(a[0]), np.full((2, 28), 64, np.uint8), to_uint8(v[0])])
                  for a, v in zip(ae_path, vae_path)]
        return image_grid(ae_path, ncol=steps), image_grid(vae_path, ncol=steps), frames

    # ------------------------------------------------------------------ sample

    @torch.no_grad()
    def sample(self, dataset: str, count: int = DEFAULT_SAMPLES, seed: int = 0, temperature: float = 1.0
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Grids of the AE decoded from N(0, T²I), the VAE from N(0, T²I), the AE from its fitted Gaussian."""
        pair = self.models(dataset)
        count = _int_in_range(count, 1, MAX_SAMPLES, "number of samples")
        seed = _int_in_range(seed, 0, 2 ** 31 - 1, "seed")
        temperature = _float_in_range(temperature, 0.0, 3.0, "temperature")
        ncol = int(np.ceil(np.sqrt(count)))
        ae_prior = sample_prior(pair.ae, count, seed, temperature)
        vae_prior = sample_prior(pair.vae, count, seed, temperature)
        ae_fitted = sample_fitted_gaussian(pair.ae, pair.ae_maps.train_latent_mean, pair.ae_maps.train_latent_cov,
                                           count, seed, temperature)
        return image_grid(ae_prior, ncol), image_grid(vae_prior, ncol), image_grid(ae_fitted, ncol)

    # ------------------------------------------------------------------ embeddings

    @torch.no_grad()
    def embedding(self, dataset: str, image: Any = None) -> tuple[np.ndarray, str]:
        """PCA and UMAP maps, AE beside VAE, as an RGB image; the user's drawing (if any) starred on every map."""
        pair = self.models(dataset)
        rendered = self.rendered_maps(pair.dataset)
        markers: list[np.ndarray | None] = [None] * 4
        if image is not None:
            x = torch.from_numpy(to_model_input(image))[None, None]
            z_ae, z_vae = pair.ae.embed(x).numpy(), pair.vae.embed(x).numpy()
            # panel order as laid out by maps_figure: PCA AE, PCA VAE, UMAP AE, UMAP VAE
            markers = [pair.ae_maps.place_pca(z_ae), pair.vae_maps.place_pca(z_vae),
                       pair.ae_maps.place_umap(z_ae), pair.vae_maps.place_umap(z_vae)]
        lines = [f"{kind}: the first two principal components explain "
                 f"{100 * maps.pca_explained_variance_ratio.sum():.1f}% of the variance of its "
                 f"{model.latent_dim}-d latents"
                 for kind, model, maps in (("AE", pair.ae, pair.ae_maps), ("VAE", pair.vae, pair.vae_maps))]
        return rendered.with_markers(markers), "; ".join(lines) + "."

    def rendered_maps(self, dataset: str) -> RenderedFigure:
        """The four class-coloured maps of a data set, rendered once (thread-safe, lazily or by `prepare`)."""
        with self._render_lock:
            if dataset not in self._rendered:
                self._rendered[dataset] = RenderedFigure.render(maps_figure(self._models[dataset]))
            return self._rendered[dataset]

    def prepare(self) -> None:
        """Render every data set's maps now (the app calls this in the background at start-up)."""
        for dataset in self._models:
            self.rendered_maps(dataset)

    @torch.no_grad()
    def manifold(self, dataset: str, grid_size: int = 12) -> tuple[np.ndarray, np.ndarray]:
        """Decoded grids over each model's PCA plane (±2 standard deviations of the test latents)."""
        pair = self.models(dataset)
        grid_size = _int_in_range(grid_size, 2, 20, "grid size")
        grids = []
        for model, maps in ((pair.ae, pair.ae_maps), (pair.vae, pair.vae_maps)):
            spread = 2.0 * maps.pca.std(axis=0)
            a, b = np.meshgrid(np.linspace(-spread[0], spread[0], grid_size),
                               np.linspace(spread[1], -spread[1], grid_size))
            z = torch.from_numpy(maps.pca_plane(a.ravel(), b.ravel()).astype(np.float32))
            grids.append(image_grid(model.decode(z), ncol=grid_size, pad=1))
        return grids[0], grids[1]


def maps_figure(pair: DatasetModels) -> Figure:
    """2 x 2 panels: PCA (top) and UMAP (bottom) of the stored test latents, AE left, VAE right."""
    fig = Figure(figsize=(10, 8.6))
    axes = fig.subplots(2, 2)
    for col, (kind, maps) in enumerate((("AE", pair.ae_maps), ("VAE", pair.vae_maps))):
        ratio = maps.pca_explained_variance_ratio
        scatter_figure(maps.pca, maps.labels, pair.dataset,
                       f"{kind} latents, PCA (PC1 {100 * ratio[0]:.0f}%, PC2 {100 * ratio[1]:.0f}% of variance)",
                       ax=axes[0, col], legend=col == 0)
        scatter_figure(maps.umap, maps.labels, pair.dataset, f"{kind} latents, UMAP", ax=axes[1, col], legend=False)
    fig.suptitle(f"{DATASET_TITLES[pair.dataset]} test set ({len(pair.vae_maps.labels)} images); "
                 "a yellow star marks your drawing")
    fig.tight_layout()
    return fig


def gif_bytes(frames: list[np.ndarray], scale: int = 4, duration_ms: int = 120) -> bytes:
    """An animated GIF that plays A -> B -> A, upscaled with nearest neighbour."""
    images = [Image.fromarray(f).resize((f.shape[1] * scale, f.shape[0] * scale), Image.NEAREST) for f in frames]
    loop = images + images[-2:0:-1]
    buffer = io.BytesIO()
    loop[0].save(buffer, format="GIF", save_all=True, append_images=loop[1:], duration=duration_ms, loop=0)
    return buffer.getvalue()


def _int_in_range(value: Any, low: int, high: int, name: str) -> int:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise InputError(f"{name} must be a number, got {value!r}") from None
    if not np.isfinite(number) or number != int(number) or not low <= number <= high:
        raise InputError(f"{name} must be a whole number from {low} to {high}, got {value!r}")
    return int(number)


def _float_in_range(value: Any, low: float, high: float, name: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise InputError(f"{name} must be a number, got {value!r}") from None
    if not np.isfinite(number) or not low <= number <= high:
        raise InputError(f"{name} must be between {low} and {high}, got {value!r}")
    return number
