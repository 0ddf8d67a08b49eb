"""Add the neighbour search's images to an existing `embeddings.safetensors`, changing no map.

Folders written before issue 14 hold the latents, labels and maps of their test points but not the
images, so the app cannot show a drawing's nearest images for them ("neighbours unavailable for this
folder"); folders written before the search took in training images lack those. This finds the test
points' images again in the test split, encodes the first M training images (`neighbour_*`) and stores both:

    python -m ae_vae.add_images weights/mnist-ae weights/mnist-vae --data-dir ../shared/data

Folders written by `train.py` since then already hold them (`compute_maps` stores them).
"""

from __future__ import annotations

import argparse
import os
import stat
import sys
from pathlib import Path

import numpy as np
import torch
from safetensors import safe_open

from .data import DataNotFoundError, load_split
from .embeddings import (
    DEFAULT_NEIGHBOUR_POINTS,
    NEIGHBOUR_TENSORS,
    EmbeddingsError,
    as_uint8,
    load_maps,
    neighbour_tensors,
)
from .evaluation import latent_means
from .fileio import WeightsError, atomic_save_safetensors
from .weights import load_model

# The images found must re-encode to the stored latents (same weights; another torch build or thread count may
# change the last bits): the largest difference may be this share of the latents' overall scale.
LATENT_TOLERANCE = 1e-3


def add_images(folder: str | os.PathLike, data_dir: str | os.PathLike,
               neighbour_points: int = DEFAULT_NEIGHBOUR_POINTS) -> tuple[int, int]:
    """Store the images of the stored test points, and the codes, labels and images of the first
    `neighbour_points` training images (0: none; replacing any stored before), in `folder/embeddings.safetensors`.

    The stored points are the first N images of the data set's test split (as `finalize_run` chose them);
    their labels must match and, re-encoded by `folder`'s model, their latents must match the stored ones,
    so the images are known to be those points. Every other tensor and the metadata are written back
    unchanged, apart from the metadata's count of neighbour points (the file is replaced atomically).
    Returns (N, the number of training points stored).
    """
    folder = Path(folder)
    path = folder / "embeddings.safetensors"
    model = load_model(folder)
    maps = load_maps(path, model.latent_dim)
    with safe_open(str(path), "np") as handle:
        metadata = handle.metadata() or {}
        originals = {name: handle.get_tensor(name) for name in handle.keys()}  # noqa: SIM118 - safe_open is not iterable
    test = load_split(model.config.dataset, data_dir, train=False, download=False)
    n = len(maps.labels)
    if n > len(test) or not np.array_equal(test.labels[:n].numpy(), maps.labels):
        raise EmbeddingsError(f"{path}: its {n} labels are not the first {n} of the "
                              f"{model.config.dataset} test split; these are not its points")
    images = test.images[:n]
    latents = latent_means(model, images).numpy()
    scale = float(np.abs(maps.latents).max()) + 1e-12
    worst = float(np.abs(latents - maps.latents).max())
    if worst > LATENT_TOLERANCE * scale:
        raise EmbeddingsError(f"{path}: the first {n} test images re-encode up to {worst:.3g} away from the "
                              f"stored latents (scale {scale:.3g}); these are not its points (or not its weights)")
    tensors = {name: torch.from_numpy(np.ascontiguousarray(value)) for name, value in originals.items()}
    tensors["images"] = torch.from_numpy(as_uint8(images))
    for name in NEIGHBOUR_TENSORS:
        tensors.pop(name, None)
    m = 0
    if neighbour_points > 0:
        train = load_split(model.config.dataset, data_dir, train=True, download=False).subset(neighbour_points)
        extra = neighbour_tensors(latent_means(model, train.images).numpy(), train.images, train.labels)
        tensors.update({name: torch.from_numpy(np.ascontiguousarray(value)) for name, value in extra.items()})
        m = len(train)
    metadata = {**metadata, "neighbour_points": str(m)}
    mode = stat.S_IMODE(path.stat().st_mode)
    atomic_save_safetensors(path, tensors, metadata=metadata)
    os.chmod(path, mode)  # the temporary file's private mode would otherwise replace the folder's
    return n, m


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m ae_vae.add_images", formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        description="Add the uint8 images of the stored test points to FOLDER/embeddings.safetensors "
                    "(folders written before they were stored), checking that they re-encode to the stored "
                    "latents, and the codes and images of the first training images the neighbour search also "
                    "looks at; the maps and every other tensor stay as they are.")
    parser.add_argument("folders", nargs="+", type=Path, metavar="FOLDER",
                        help="weights folder(s), e.g. weights/mnist-ae")
    parser.add_argument("--data-dir", type=Path, default=Path(os.environ.get("AE_VAE_DATA_DIR", "../shared/data")),
                        help="torchvision data root holding the test split (env AE_VAE_DATA_DIR)")
    parser.add_argument("--neighbour-points", type=int, default=DEFAULT_NEIGHBOUR_POINTS,
                        help="training images stored for the neighbour search (0: none)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.neighbour_points < 0:
        print("error: --neighbour-points must not be negative", file=sys.stderr)
        return 2
    status = 0
    for folder in args.folders:
        try:
            n, m = add_images(folder, args.data_dir, args.neighbour_points)
            print(f"{folder}: stored the images of {n} test points and {m} training points")
        except (EmbeddingsError, WeightsError, DataNotFoundError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            status = 2
    return status


if __name__ == "__main__":
    sys.exit(main())
