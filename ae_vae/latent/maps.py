"""2-D maps of a latent space (PCA and UMAP), and the stored points the neighbour search looks at; no pickles.

`embeddings.safetensors` (the maps file) holds the codes of N test images (the first N of the test split), their
labels and images (uint8; optional, so older folders still load), their PCA and UMAP coordinates, the PCA basis
(mean + 2 components), a few example images per class, and the mean and covariance of the training codes (the
one fitted Gaussian, `latent.priors.gaussian_moments`). `neighbours.safetensors` (optional) holds the codes,
labels and images of the first M training images, which the neighbour search looks at beside the test points:
the maps show only the test points, and a folder without the file searches those alone. Where those points would
make a file over `NEIGHBOUR_SHARD_BYTES` (the Hub takes files over 10 MiB only through LFS/Xet; the shipped folders'
20 000 points are 18-21 MB), they are stored as consecutive row shards instead, `neighbours-00001-of-00003.safetensors`
and so on, each a complete file of the same three tensors; the images stay memory maps of their shards (`ImageRows`).

A *new* code is placed on
- the PCA map exactly: (z - mean) @ components.T;
- the UMAP map from the map positions of its k nearest stored codes (k = 10): their inverse-distance-weighted
  mean, over those that lie near the weighted medoid of the k positions (within the median of their pairwise
  distances). UMAP's own `transform` needs the fitted object (a pickle) and a numba warm-up of several seconds;
  this is deterministic and lands the point inside the cluster most of its neighbours' weight is in, which is
  what the map is for (a mean over all k lands *between* two clusters when the neighbours sit in both; measured
  in docs/experiments.md, "Placing a drawing on the UMAP map").
"""

from __future__ import annotations

import itertools
import math
import os
import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import EmbeddingsError
from ..fileio import atomic_save_safetensors, read_safetensors
from .priors import as_array, gaussian_moments

UMAP_PLACEMENT_NEIGHBOURS = 10
EXAMPLES_PER_CLASS = 3


MAPS_FILE = "embeddings.safetensors"
NEIGHBOURS_FILE = "neighbours.safetensors"
NEIGHBOUR_SHARD_BYTES = 9 * 2**20  # neighbour points beyond this many bytes are stored as row shards
_NEIGHBOUR_SHARD = re.compile(r"neighbours-(\d{5})-of-(\d{5})\.safetensors")


def neighbour_shard_name(index: int, count: int) -> str:
    """The file name of shard `index` (1-based) of `count`."""
    return f"neighbours-{index:05d}-of-{count:05d}.safetensors"


class ImageRows:
    """(M, 28, 28) uint8 images kept as consecutive row blocks (the memory maps of a folder's neighbour shards), read
    like one array without joining them: a search reads k rows, and joining would copy every image into memory."""

    def __init__(self, blocks: list[np.ndarray]):
        self.blocks = blocks
        self.starts = np.cumsum([0, *(len(block) for block in blocks)])
        self.shape = (int(self.starts[-1]), *blocks[0].shape[1:])
        self.dtype = blocks[0].dtype
        self.ndim = len(self.shape)

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, key):
        rest = ()
        if isinstance(key, tuple):
            key, rest = key[0], key[1:]
        if isinstance(key, (int, np.integer)):
            row = int(key) + (len(self) if key < 0 else 0)
            if not 0 <= row < len(self):
                raise IndexError(f"row {int(key)} of {len(self)}")
            block = int(np.searchsorted(self.starts, row, side="right")) - 1
            picked = self.blocks[block][row - self.starts[block]]
        else:
            rows = np.arange(len(self))[key]
            picked = np.stack([self[int(r)] for r in rows]) if len(rows) else np.zeros((0, *self.shape[1:]), self.dtype)
            rest = (slice(None), *rest) if rest else ()
        return picked[rest] if rest else picked

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        joined = np.concatenate(self.blocks)
        return joined if dtype is None else joined.astype(dtype)


@dataclass
class LatentMaps:
    latents: np.ndarray  # (N, D) float32
    labels: np.ndarray  # (N,) int64
    pca: np.ndarray  # (N, 2)
    umap: np.ndarray  # (N, 2)
    pca_mean: np.ndarray  # (D,)
    pca_components: np.ndarray  # (2, D)
    pca_explained_variance_ratio: np.ndarray  # (2,)
    train_latent_mean: np.ndarray  # (D,) the one Gaussian fitted to the training codes (`gaussian_moments`):
    train_latent_cov: np.ndarray  # (D, D)   what "sampling an AE" can mean at best without a mixture
    example_images: np.ndarray  # (K, 28, 28) uint8: a few test images per class, so the app needs no data set
    example_labels: np.ndarray  # (K,) int64
    images: np.ndarray | None = None  # (N, 28, 28) uint8: the stored test images (None in older files)
    # From `neighbours.safetensors` (all three None without it): the first M training images, searched for
    # neighbours beside the test points.
    neighbour_latents: np.ndarray | None = None  # (M, D) float32
    neighbour_labels: np.ndarray | None = None  # (M,) int64
    neighbour_images: np.ndarray | ImageRows | None = None  # (M, 28, 28) uint8

    @property
    def has_neighbours(self) -> bool:
        return self.neighbour_latents is not None

    def place_pca(self, latents: np.ndarray) -> np.ndarray:
        return (np.atleast_2d(latents) - self.pca_mean) @ self.pca_components.T

    def place_umap(self, latents: np.ndarray, k: int = UMAP_PLACEMENT_NEIGHBOURS) -> np.ndarray:
        """(N, 2) map positions: per latent, the inverse-distance-weighted mean of the map positions of its k nearest
        stored latents that lie near their weighted medoid (see the module's docstring)."""
        query = np.atleast_2d(latents).astype(np.float32)
        dist = np.sqrt(np.maximum(((query[:, None, :] - self.latents[None]) ** 2).sum(-1), 0.0))
        k = min(k, len(self.latents))
        nearest = np.argsort(dist, axis=1)[:, :k]
        weights = 1.0 / (np.take_along_axis(dist, nearest, axis=1) + 1e-6)
        positions = self.umap[nearest].astype(np.float64)  # (N, k, 2)
        apart = np.linalg.norm(positions[:, :, None] - positions[:, None], axis=-1)  # (N, k, k)
        medoid = positions[np.arange(len(query)), np.argmin((apart * weights[:, None, :]).sum(-1), axis=1)]
        pairs = np.triu_indices(k, 1)
        radius = np.median(apart[:, pairs[0], pairs[1]], axis=1) if k > 1 else np.zeros(len(query))
        near = np.linalg.norm(positions - medoid[:, None], axis=-1) <= radius[:, None] + 1e-12
        weights = weights * near
        return (weights[..., None] * positions).sum(1) / weights.sum(1, keepdims=True)

    def pca_plane(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Latents at PCA coordinates (a, b): mean + a * c1 + b * c2 (for the decoded manifold grid)."""
        return self.pca_mean + np.outer(a, self.pca_components[0]) + np.outer(b, self.pca_components[1])

    def to_tensors(self, names: tuple[str, ...]) -> dict[str, np.ndarray]:
        return {name: np.ascontiguousarray(getattr(self, name)) for name in names if getattr(self, name) is not None}


NEIGHBOUR_TENSORS = ("neighbour_latents", "neighbour_labels", "neighbour_images")
MAP_TENSORS = tuple(name for name in LatentMaps.__dataclass_fields__ if name not in NEIGHBOUR_TENSORS)
OPTIONAL_TENSORS = ("images", *NEIGHBOUR_TENSORS)
DEFAULT_NEIGHBOUR_POINTS = 20_000


def fit_pca(latents: np.ndarray, components: int = 2) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean, top `components` directions and their explained-variance ratios (SVD, sign fixed for stability:
    each direction's entries sum to a positive number, so the first two agree with the stored PCA map)."""
    mean = latents.mean(0)
    _, singular, vt = np.linalg.svd(latents - mean, full_matrices=False)
    top = vt[:components] * np.sign(vt[:components].sum(1, keepdims=True) + 1e-12)
    variance = singular ** 2
    return mean, top, variance[:components] / variance.sum()


def fit_umap(latents: np.ndarray, seed: int = 0) -> np.ndarray:
    import umap  # heavy import (numba); only needed when artifacts are built

    reducer = umap.UMAP(n_components=2, n_neighbors=15, min_dist=0.1, random_state=seed)
    with warnings.catch_warnings():
        # The seed is what makes a run's maps reproducible; UMAP warns that it also makes the fit single-threaded.
        warnings.filterwarnings("ignore", message="n_jobs value .* overridden", category=UserWarning)
        return reducer.fit_transform(latents).astype(np.float32)


def build_maps(latents: np.ndarray, labels: Any, images: Any, train_latents: np.ndarray,
               train_images: Any = None, train_labels: Any = None, neighbour_points: int = DEFAULT_NEIGHBOUR_POINTS,
               seed: int = 0) -> LatentMaps:
    """Maps of the test points' codes `latents` (with their `labels` and `images`, (N, 1, 28, 28) in [0, 1]) plus a
    Gaussian fitted to the training codes `train_latents`, and (with `train_labels`) the first `neighbour_points`
    training points as extra neighbours (0: none). Images and labels may be arrays or torch tensors."""
    latents = np.asarray(latents, np.float32)
    train_latents = np.asarray(train_latents, np.float64)
    labels = as_array(labels).astype(np.int64)
    neighbours = {}
    if train_labels is not None and neighbour_points > 0:
        neighbours = neighbour_tensors(train_latents[:neighbour_points], train_images[:neighbour_points],
                                       train_labels[:neighbour_points])
    mean, components, ratio = fit_pca(latents)
    train_mean, train_cov = gaussian_moments(train_latents)
    return LatentMaps(latents=latents, labels=labels,
                      pca=((latents - mean) @ components.T).astype(np.float32), umap=fit_umap(latents, seed),
                      pca_mean=mean.astype(np.float32), pca_components=components.astype(np.float32),
                      pca_explained_variance_ratio=ratio.astype(np.float32),
                      train_latent_mean=train_mean.astype(np.float32), train_latent_cov=train_cov.astype(np.float32),
                      images=as_uint8(images), **_class_examples(images, labels), **neighbours)


def neighbour_tensors(latents: np.ndarray, images: Any, labels: Any) -> dict[str, np.ndarray]:
    """The `neighbour_*` fields of `LatentMaps` for these training points."""
    return {"neighbour_latents": np.asarray(latents, np.float32), "neighbour_labels": as_array(labels).astype(np.int64),
            "neighbour_images": as_uint8(images)}


def as_uint8(images: Any) -> np.ndarray:
    """(N, 1, 28, 28) floats in [0, 1] -> (N, 28, 28) uint8 (exact for images read from the IDX files)."""
    return np.clip(as_array(images)[:, 0].astype(np.float32) * 255 + 0.5, 0, 255).astype(np.uint8)


def _class_examples(images: Any, labels: np.ndarray, per_class: int = EXAMPLES_PER_CLASS) -> dict[str, np.ndarray]:
    """The first `per_class` images of every class, interleaved (0, 1, ..., 9, 0, 1, ...)."""
    picks = [np.flatnonzero(labels == c)[:per_class].tolist() for c in range(10)]
    order = np.array([p[i] for i in range(per_class) for p in picks if i < len(p)], dtype=np.int64)
    return {"example_images": as_uint8(as_array(images)[order]), "example_labels": labels[order].astype(np.int64)}


def save_maps(maps: LatentMaps, folder: str | os.PathLike) -> None:
    """Write `folder/embeddings.safetensors` and, when `maps` holds training points, `folder/neighbours.safetensors`
    or its row shards (see the module's docstring; each file atomically; neighbour files of an earlier write that this
    one did not write are removed, all of them when `maps` holds no training points). `folder` may also be the maps
    file's path."""
    folder = _folder_of(folder)
    atomic_save_safetensors(folder / MAPS_FILE, maps.to_tensors(MAP_TENSORS), metadata={
        "umap_placement": f"inverse-distance weighted mean of the {UMAP_PLACEMENT_NEIGHBOURS} nearest stored latents",
        "points": str(len(maps.labels))})
    save_neighbours(maps, folder)


def save_neighbours(maps: LatentMaps, folder: Path) -> None:
    """The neighbour-point half of `save_maps`."""
    written = set()
    if maps.has_neighbours:
        neighbours = maps.to_tensors(NEIGHBOUR_TENSORS)
        points = len(maps.neighbour_labels)
        count = max(1, math.ceil(sum(v.nbytes for v in neighbours.values()) / NEIGHBOUR_SHARD_BYTES))
        bounds = np.linspace(0, points, count + 1).astype(int)
        for index, (start, stop) in enumerate(itertools.pairwise(bounds), 1):
            name, metadata = NEIGHBOURS_FILE, {"points": str(points)}
            if count > 1:
                name, metadata["rows"] = neighbour_shard_name(index, count), f"{start}:{stop}"
            rows = slice(start, stop) if count > 1 else slice(None)  # (one file: the tensors as they are)
            atomic_save_safetensors(folder / name, {k: np.ascontiguousarray(v[rows]) for k, v in neighbours.items()},
                                    metadata=metadata)
            written.add(name)
    for path in [folder / NEIGHBOURS_FILE, *folder.glob("neighbours-*-of-*.safetensors")]:
        if path.name not in written:
            path.unlink(missing_ok=True)


def load_maps(folder: str | os.PathLike, latent_dim: int | None = None) -> LatentMaps:
    """The maps of a weights folder, with its neighbour points when it has them (`neighbour_files`); every problem
    is an `EmbeddingsError` naming the file. `folder` may also be the maps file's path."""
    folder = _folder_of(folder)
    path = folder / MAPS_FILE
    tensors, _ = read_safetensors(path, framework="np", error=EmbeddingsError,
                                  names=[n for n in MAP_TENSORS if n not in OPTIONAL_TENSORS],
                                  optional=[n for n in MAP_TENSORS if n in OPTIONAL_TENSORS], mapped=("images",))
    maps = LatentMaps(**tensors)
    n, d = maps.latents.shape if maps.latents.ndim == 2 else (0, -1)
    if d < 1 or (latent_dim is not None and d != latent_dim):
        raise EmbeddingsError(f"{path}: latents have shape {maps.latents.shape}, config.json says {latent_dim}-d codes")
    if maps.pca.shape != (n, 2) or maps.umap.shape != (n, 2) or maps.labels.shape != (n,) \
            or maps.pca_components.shape != (2, d) or maps.pca_mean.shape != (d,) \
            or maps.train_latent_mean.shape != (d,) or maps.train_latent_cov.shape != (d, d):
        raise EmbeddingsError(f"{path}: inconsistent tensor shapes")
    if maps.images is not None and (maps.images.shape != (n, 28, 28) or maps.images.dtype != np.uint8):
        raise EmbeddingsError(f"{path}: images must be ({n}, 28, 28) uint8, got {maps.images.shape} "
                              f"{maps.images.dtype}")
    files = neighbour_files(folder)
    if files:
        _attach_neighbours(maps, files)
    return maps


def neighbour_files(folder: Path) -> list[Path]:
    """The files holding a folder's neighbour points, in row order: `neighbours.safetensors`, or every one of its
    shards; none when it has neither. A shard missing, or both forms at once, is an `EmbeddingsError`."""
    shards = sorted(path for path in folder.glob("neighbours-*-of-*.safetensors") if _NEIGHBOUR_SHARD.fullmatch(path.name))
    single = folder / NEIGHBOURS_FILE
    if not shards:
        return [single] if single.is_file() else []
    if single.is_file():
        raise EmbeddingsError(f"{folder}: both {NEIGHBOURS_FILE} and {shards[0].name}; a folder stores its "
                              "neighbour points one way (save_maps removes the other)")
    count = int(_NEIGHBOUR_SHARD.fullmatch(shards[0].name).group(2))
    expected = [folder / neighbour_shard_name(i, count) for i in range(1, count + 1)]
    if shards != expected:
        raise EmbeddingsError(f"{folder}: its neighbour shards are not one whole set of {count} (found "
                              f"{', '.join(p.name for p in shards)})")
    return expected


def _folder_of(place: str | os.PathLike) -> Path:
    place = Path(place)
    return place.parent if place.suffix == ".safetensors" else place


def _attach_neighbours(maps: LatentMaps, paths: list[Path]) -> None:
    parts = []
    for path in paths:
        tensors, metadata = read_safetensors(path, framework="np", error=EmbeddingsError, names=NEIGHBOUR_TENSORS,
                                             mapped=("neighbour_images",))  # a search shows k of them: read when shown
        latents, labels, images = (tensors[name] for name in NEIGHBOUR_TENSORS)
        m = len(labels)
        if latents.shape != (m, maps.latents.shape[1]) or labels.shape != (m,) or images.shape != (m, 28, 28) \
                or images.dtype != np.uint8:
            raise EmbeddingsError(f"{path}: inconsistent neighbour_* tensor shapes (codes of {maps.latents.shape[1]} "
                                  "numbers, one label and one 28x28 uint8 image per point)")
        parts.append((latents, labels, images, metadata))
    total = sum(len(labels) for _, labels, _, _ in parts)
    if len(parts) > 1 and any(metadata.get("points") != str(total) for *_, metadata in parts):
        raise EmbeddingsError(f"{paths[0].parent}: the neighbour shards hold {total} points between them, not the "
                              "number each says the whole has (shards of different writes?)")
    if len(parts) == 1:
        maps.neighbour_latents, maps.neighbour_labels, maps.neighbour_images = parts[0][:3]
        return
    maps.neighbour_latents = np.concatenate([latents for latents, *_ in parts])  # searched every time: in memory
    maps.neighbour_labels = np.concatenate([labels for _, labels, *_ in parts])
    maps.neighbour_images = ImageRows([images for _, _, images, _ in parts])
