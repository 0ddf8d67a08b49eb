"""Drawing images and maps: uint8 grids of decoded images, class-coloured scatter maps, PNG bytes and files.

Uses `matplotlib.figure.Figure` directly (no pyplot global state), so figures can be built
from several threads of the app at once and need no display.
"""

from __future__ import annotations

import io
import os
from collections.abc import Sequence

import numpy as np
import torch
from matplotlib.figure import Figure

from .data import CLASS_NAMES
from .fileio import atomic_write_bytes

# Colour-blind-safe classes: seaborn's "colorblind" palette (after Okabe & Ito) with its yellow, which the
# drawing's yellow star needs for itself, replaced by near-black. Ten hues cannot all stay apart for every
# kind of colour blindness, so the maps also write each class's name at the class's median position.
LABEL_COLOURS = ["#0173b2", "#de8f05", "#029e73", "#d55e00", "#cc78bc",
                 "#ca9161", "#fbafe4", "#949494", "#1a1a1a", "#56b4e9"]


def to_uint8(images: torch.Tensor | np.ndarray) -> np.ndarray:
    """(N, 1, 28, 28) or (28, 28) floats in [0, 1] -> uint8 array of the same layout without channel."""
    array = images.detach().cpu().numpy() if torch.is_tensor(images) else np.asarray(images)
    if array.ndim == 4:
        array = array[:, 0]
    return (np.clip(array, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def image_grid(images: torch.Tensor | np.ndarray, ncol: int, pad: int = 2, upscale: int = 1) -> np.ndarray:
    """Tile (N, 1, 28, 28) images into one uint8 greyscale array with `pad` grey pixels between tiles."""
    tiles = to_uint8(images)
    n = len(tiles)
    ncol = max(1, min(ncol, n))
    nrow = -(-n // ncol)
    h, w = tiles.shape[1:]
    grid = np.full((nrow * (h + pad) + pad, ncol * (w + pad) + pad), 64, dtype=np.uint8)
    for i, tile in enumerate(tiles):
        r, c = divmod(i, ncol)
        grid[pad + r * (h + pad): pad + r * (h + pad) + h, pad + c * (w + pad): pad + c * (w + pad) + w] = tile
    if upscale > 1:
        grid = grid.repeat(upscale, 0).repeat(upscale, 1)
    return grid


def figure_png(fig: Figure, dpi: int = 100) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
    return buffer.getvalue()


def save_figure(fig: Figure, path: str | os.PathLike, dpi: int = 100) -> None:
    atomic_write_bytes(path, figure_png(fig, dpi))


def grid_figure(rows: Sequence[tuple[str, torch.Tensor | np.ndarray]], ncol: int, title: str | None = None) -> Figure:
    """One titled image grid per row (e.g. originals / AE / VAE)."""
    fig = Figure(figsize=(max(4.0, ncol * 0.55), 0.7 + 0.62 * sum(-(-len(x) // ncol) for _, x in rows)))
    axes = fig.subplots(len(rows), 1, squeeze=False)[:, 0]
    for ax, (name, images) in zip(axes, rows):
        ax.imshow(image_grid(images, ncol), cmap="gray", vmin=0, vmax=255, interpolation="nearest")
        ax.set_ylabel(name, rotation=0, ha="right", va="center")
        ax.set_xticks([])
        ax.set_yticks([])
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def scatter_figure(coords: np.ndarray, labels: np.ndarray, dataset: str, title: str, ax=None,
                   legend: bool = True, names_on_map: bool = False) -> Figure | None:
    """Latent map coloured by class (on `ax`, or on a new figure that is returned).

    The legend sits outside the plot area, to the right, so it hides no point; `names_on_map` also writes each
    class's name at the median of its points, which reads without telling colours apart.
    """
    fig = None
    if ax is None:
        fig = Figure(figsize=(5.2, 4.6))
        ax = fig.subplots()
    names = CLASS_NAMES[dataset]
    for label in range(len(names)):
        keep = labels == label
        ax.scatter(coords[keep, 0], coords[keep, 1], s=4, c=LABEL_COLOURS[label], label=names[label],
                   alpha=0.6, linewidths=0, rasterized=True)
        if names_on_map and keep.any():
            x, y = np.median(coords[keep], axis=0)
            ax.text(x, y, names[label], fontsize=7, ha="center", va="center", color="black",
                    bbox={"boxstyle": "round,pad=0.15", "facecolor": "white", "edgecolor": LABEL_COLOURS[label],
                          "alpha": 0.8, "linewidth": 1.2})
    ax.set_title(title, fontsize=10)
    ax.set_xticks([])
    ax.set_yticks([])
    if legend:
        handles = ax.legend(markerscale=3.5, fontsize=8, loc="center left", bbox_to_anchor=(1.01, 0.5),
                            frameon=False, handletextpad=0.1, borderaxespad=0.2, labelspacing=0.35)
        for handle in handles.legend_handles:
            handle.set_alpha(1.0)
    if fig is not None:
        fig.tight_layout()
    return fig
