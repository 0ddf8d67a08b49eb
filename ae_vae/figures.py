"""Drawing images and maps: uint8 grids of decoded images, class-coloured scatter maps, PNG bytes and files.

Uses `matplotlib.figure.Figure` directly (no pyplot global state), so figures can be built
from several threads of the app at once and need no display.
"""

from __future__ import annotations

import io
import os
from collections.abc import Sequence
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from .data import CLASS_NAMES
from .fileio import atomic_write_bytes

# Colour-blind-safe classes: seaborn's "colorblind" palette (after Okabe & Ito) with its yellow, which the
# drawing's yellow star needs for itself, replaced by near-black, and its sky blue (beside the first class's
# blue) by a purple. Ten hues cannot all stay apart for every kind of colour blindness, so the maps also
# write each class's name at the class's median position.
LABEL_COLOURS = ["#0173b2", "#de8f05", "#029e73", "#d55e00", "#cc78bc",
                 "#ca9161", "#fbafe4", "#949494", "#1a1a1a", "#8a5cc7"]


def to_uint8(images: Any) -> np.ndarray:
    """(N, 1, 28, 28) or (28, 28) floats in [0, 1] (an array, or a torch tensor in training) -> uint8 array of the
    same layout without channel."""
    array = images.detach().float().cpu().numpy() if hasattr(images, "detach") else np.asarray(images)
    if array.ndim == 4:
        array = array[:, 0]
    return (np.clip(array, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


GRID_PAD, GRID_GREY = 2, 64  # `image_grid`'s grey border between and around the tiles (the page tiles as it does)


def image_grid(images: Any, ncol: int, pad: int = GRID_PAD, upscale: int = 1) -> np.ndarray:
    """Tile (N, 1, 28, 28) images into one uint8 greyscale array with `pad` grey pixels between tiles."""
    tiles = to_uint8(images)
    n = len(tiles)
    ncol = max(1, min(ncol, n))
    nrow = -(-n // ncol)
    h, w = tiles.shape[1:]
    grid = np.full((nrow * (h + pad) + pad, ncol * (w + pad) + pad), GRID_GREY, dtype=np.uint8)
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


def grid_figure(rows: Sequence[tuple[str, Any]], ncol: int, title: str | None = None) -> Figure:
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
    if names_on_map:
        _class_names_on_map(ax, coords, labels, names)
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


def _class_names_on_map(ax, coords: np.ndarray, labels: np.ndarray, names: Sequence[str], fontsize: float = 7.0
                        ) -> None:
    """Each class's name at the median of its points; names that would overlap (classes whose medians lie close,
    as on a PCA plane) are pushed apart, each with a thin line back to its median."""
    present = [label for label in range(len(names)) if (labels == label).any()]
    if not present:
        return
    ax.autoscale_view()  # the limits the points gave, before data coordinates are turned into axes fractions
    to_axes = ax.transData + ax.transAxes.inverted()
    medians = to_axes.transform(np.array([np.median(coords[labels == label], axis=0) for label in present]))
    points_per_axes = np.array([ax.bbox.width, ax.bbox.height]) * 72.0 / ax.figure.dpi
    sizes = np.array([(0.6 * fontsize * len(names[label]) + 4.0, 1.5 * fontsize + 3.0) for label in present])
    sizes = sizes / points_per_axes  # (width, height) of each name's box, in axes fractions
    placed = _spread_boxes(medians, sizes)
    for label, median, (x, y) in zip(present, medians, placed, strict=True):
        if np.hypot(*(np.array([x, y]) - median)) > 0.02:
            ax.plot([median[0], x], [median[1], y], transform=ax.transAxes, color=LABEL_COLOURS[label],
                    linewidth=0.8, alpha=0.9)
        ax.text(x, y, names[label], transform=ax.transAxes, fontsize=fontsize, ha="center", va="center",
                color="black", bbox={"boxstyle": "round,pad=0.15", "facecolor": "white",
                                     "edgecolor": LABEL_COLOURS[label], "alpha": 0.85, "linewidth": 1.2})


MAP_MARGIN = 0.04  # of each side's span, around the points of a map drawn in the page (`map_extent`)


def map_extent(coords: np.ndarray) -> list[float]:
    """[x0, x1, y0, y1] of a map drawn in the page: the points' range plus `MAP_MARGIN` of it on every side."""
    low, high = coords.min(axis=0), coords.max(axis=0)
    pad = MAP_MARGIN * np.maximum(high - low, 1e-6)
    return [float(low[0] - pad[0]), float(high[0] + pad[0]), float(low[1] - pad[1]), float(high[1] + pad[1])]


def class_name_places(coords: np.ndarray, labels: np.ndarray, names: Sequence[str], extent: Sequence[float],
                      side_px: float = 400.0, fontsize_px: float = 11.0) -> list[dict]:
    """Where a square map of `side_px` drawn over `extent` writes each class's name: at the median of its points,
    names that would overlap pushed apart as on the maps figure (`_spread_boxes`). Per class present: its label, its
    median (data coordinates) and its name's centre (fractions of the map, y up)."""
    x0, x1, y0, y1 = extent
    present = [label for label in range(len(names)) if (labels == label).any()]
    medians = np.array([np.median(coords[labels == label], axis=0) for label in present]).reshape(-1, 2)
    fractions = (medians - [x0, y0]) / [x1 - x0, y1 - y0]
    sizes = np.array([(0.6 * fontsize_px * len(names[label]) + 8.0, 1.5 * fontsize_px + 4.0) for label in present])
    placed = _spread_boxes(fractions, sizes.reshape(-1, 2) / side_px) if present else fractions
    return [{"label": int(label), "median": [float(v) for v in median], "place": [float(v) for v in place]}
            for label, median, place in zip(present, medians, placed, strict=True)]


def _spread_boxes(centres: np.ndarray, sizes: np.ndarray, iterations: int = 300) -> np.ndarray:
    """Centres (in [0, 1]²) moved, as little as it takes, so that boxes of `sizes` around them do not overlap and
    stay inside the unit square: each overlapping pair is pushed apart along the axis it overlaps least."""
    placed = centres.astype(float).copy()
    half = sizes / 2.0
    for _ in range(iterations):
        moved = False
        for i in range(len(placed)):
            for j in range(i + 1, len(placed)):
                gap = placed[j] - placed[i]
                overlap = half[i] + half[j] - np.abs(gap)
                if (overlap <= 0).any():
                    continue
                axis = int(np.argmin(overlap / (half[i] + half[j])))
                direction = np.sign(gap[axis]) or (1.0 if i % 2 else -1.0)
                push = (overlap[axis] / 2.0 + 1e-3) * direction
                placed[i, axis] -= push
                placed[j, axis] += push
                moved = True
        placed = np.clip(placed, half, 1.0 - half)
        if not moved:
            break
    return placed
