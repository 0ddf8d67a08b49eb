"""Figures for training runs, model cards and the app.

Uses `matplotlib.figure.Figure` directly (no pyplot global state), so figures can be built
from several threads of the app at once and need no display.
"""

from __future__ import annotations

import io
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from PIL import Image, ImageDraw

from .data import CLASS_NAMES, DATASET_TITLES, INTERPOLATION_PAIRS, ImageSet, pick_class_examples
from .embeddings import fit_pca, fit_umap
from .evaluation import latent_means
from .fileio import atomic_write_bytes
from .latent import interpolate, sample_prior
from .models import Model

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


MARKER_FILL = (255, 221, 0)
# the marks: a yellow star outlined in black; crosshairs white under black, visible on any class colour
MARK_COLOURS = {"fill": MARKER_FILL, "black": (0, 0, 0), "white": (255, 255, 255)}  # exact in the palette copy
PALETTE_COLOURS = 256 - len(MARK_COLOURS)  # for the figure itself


@dataclass
class RenderedFigure:
    """A figure rasterised once, with each panel's data <-> pixel maps, so marks cost ~1 ms instead of a re-render.

    Drawing 4 scatter plots of 5 000 points and encoding them takes ~1 s on 2 cores; the app only
    needs to add a star for the user's drawing or a crosshair where a map was clicked, which this does on a
    copy of the pixels. Pixel coordinates are the image's own: x to the right, y down, (0, 0) the top-left
    pixel's corner — what `gr.Image.select` reports as `evt.index` (for an image shown without `object-fit`
    stretching). `marked_png` draws on a palette copy (the figure quantised to 253 colours once, plus the
    marks' exact colours): encoding 1 byte per pixel instead of 3 makes the PNG ~4x faster and ~2.5x smaller.
    """

    pixels: np.ndarray  # (H, W, 3) uint8
    affines: list[np.ndarray]  # per panel (2, 3): [px, py] = affine @ [x, y, 1], image coordinates
    boxes: list[tuple[float, float, float, float]]  # per panel (left, top, right, bottom) in pixels
    limits: list[tuple[float, float, float, float]]  # per panel (x_min, x_max, y_min, y_max): the data shown
    palette: Image.Image | None = None  # "P" mode copy of `pixels` (see `palette_copy`)

    @classmethod
    def render(cls, fig: Figure, dpi: int = 80) -> RenderedFigure:
        fig.set_dpi(dpi)
        canvas = FigureCanvasAgg(fig)
        canvas.draw()
        pixels = np.asarray(canvas.buffer_rgba())[:, :, :3].copy()
        height = pixels.shape[0]
        affines, boxes, limits = [], [], []
        for ax in fig.axes:
            origin, unit_x, unit_y = ax.transData.transform([(0.0, 0.0), (1.0, 0.0), (0.0, 1.0)])
            dx, dy = unit_x - origin, unit_y - origin  # display coordinates: y grows upwards
            affines.append(np.array([[dx[0], dy[0], origin[0]], [-dx[1], -dy[1], height - origin[1]]]))
            x0, y0, x1, y1 = ax.bbox.extents
            boxes.append((x0, height - y1, x1, height - y0))
            limits.append((*sorted(ax.get_xlim()), *sorted(ax.get_ylim())))
        return cls(pixels, affines, boxes, limits, palette_copy(pixels))

    def to_pixel(self, panel: int, x: float, y: float) -> tuple[float, float]:
        """Data coordinates of `panel` -> image pixel coordinates."""
        px, py = self.affines[panel] @ np.array([x, y, 1.0])
        return float(px), float(py)

    def to_data(self, panel: int, px: float, py: float) -> tuple[float, float]:
        """Image pixel coordinates -> `panel`'s data coordinates (the inverse of `to_pixel`)."""
        affine = self.affines[panel]
        x, y = np.linalg.solve(affine[:, :2], np.array([px, py]) - affine[:, 2])
        return float(x), float(y)

    def panel_at(self, px: float, py: float) -> int | None:
        """The panel whose plot area (axes frame) holds the pixel, or None (titles, margins, outside)."""
        for panel, (left, top, right, bottom) in enumerate(self.boxes):
            if left <= px <= right and top <= py <= bottom:
                return panel
        return None

    def with_markers(self, points: Sequence[np.ndarray | None], radius: float = 11.0,
                     crosshairs: Sequence[tuple[float, float] | None] = ()) -> np.ndarray:
        """A copy of the pixels with a star at each panel's points (clamped to the panel's frame) and a crosshair
        at each panel's `crosshairs` point (data coordinates; lines across the panel, a ring at the point)."""
        image = Image.fromarray(self.pixels)
        self._mark(ImageDraw.Draw(image), MARK_COLOURS, points, radius, crosshairs)
        return np.asarray(image)

    def marked_png(self, points: Sequence[np.ndarray | None], radius: float = 11.0,
                   crosshairs: Sequence[tuple[float, float] | None] = ()) -> bytes:
        """The same marks on the palette copy, as PNG bytes (zlib level 1: the app sends one per click)."""
        image = (self.palette or palette_copy(self.pixels)).copy()
        indices = {name: PALETTE_COLOURS + i for i, name in enumerate(MARK_COLOURS)}
        self._mark(ImageDraw.Draw(image), indices, points, radius, crosshairs)
        buffer = io.BytesIO()
        image.save(buffer, format="png", compress_level=1)
        return buffer.getvalue()

    def _mark(self, draw: ImageDraw.ImageDraw, colours: dict, points: Sequence[np.ndarray | None], radius: float,
              crosshairs: Sequence[tuple[float, float] | None]) -> None:
        for panel, point in enumerate(crosshairs):
            if point is not None:
                self._crosshair(draw, colours, panel, *point)
        for affine, box, panel_points in zip(self.affines, self.boxes, points):
            if panel_points is None:
                continue
            for x, y in np.atleast_2d(panel_points):
                px, py = affine @ np.array([x, y, 1.0])
                px = float(np.clip(px, box[0] + radius, box[2] - radius))
                py = float(np.clip(py, box[1] + radius, box[3] - radius))
                draw.polygon(_star(px, py, radius), fill=colours["fill"], outline=colours["black"], width=2)

    def _crosshair(self, draw: ImageDraw.ImageDraw, colours: dict, panel: int, x: float, y: float,
                   ring: float = 7.0) -> None:
        left, top, right, bottom = self.boxes[panel]
        px, py = self.to_pixel(panel, x, y)
        px, py = float(np.clip(px, left, right)), float(np.clip(py, top, bottom))
        for colour, width in ((colours["white"], 3), (colours["black"], 1)):
            draw.line([(left, py), (px - ring, py)], fill=colour, width=width)
            draw.line([(px + ring, py), (right, py)], fill=colour, width=width)
            draw.line([(px, top), (px, py - ring)], fill=colour, width=width)
            draw.line([(px, py + ring), (px, bottom)], fill=colour, width=width)
            draw.ellipse([px - ring, py - ring, px + ring, py + ring], outline=colour, width=width)


def palette_copy(pixels: np.ndarray) -> Image.Image:
    """`pixels` quantised to PALETTE_COLOURS colours (fast octree), the mark colours appended to the palette; pixels
    of exactly a mark colour (the white background, black text and frames) keep it exactly."""
    quantised = Image.fromarray(pixels).quantize(PALETTE_COLOURS, method=Image.Quantize.FASTOCTREE)
    palette = ((quantised.getpalette() or []) + [0] * 768)[:3 * PALETTE_COLOURS]
    indices = np.asarray(quantised).copy()
    for i, colour in enumerate(MARK_COLOURS.values()):
        indices[(pixels == colour).all(-1)] = PALETTE_COLOURS + i
    image = Image.fromarray(indices, mode="P")
    image.putpalette(palette + [c for colour in MARK_COLOURS.values() for c in colour])
    return image


def _star(cx: float, cy: float, radius: float) -> list[tuple[float, float]]:
    angles = -np.pi / 2 + np.arange(10) * np.pi / 5
    radii = np.where(np.arange(10) % 2 == 0, radius, radius * 0.45)
    return list(zip(cx + radii * np.cos(angles), cy + radii * np.sin(angles)))


def loss_curve_figure(history: list[dict[str, float]], title: str) -> Figure:
    """Train, validation (if held out) and test loss per epoch (−ELBO for the VAE, BCE for the AE)."""
    fig = Figure(figsize=(6.0, 3.6))
    ax = fig.subplots()
    epochs = [h["epoch"] for h in history]
    key = "neg_elbo" if "test_neg_elbo" in history[0] else "bce"
    for split in ("train", "val", "test"):
        if f"{split}_{key}" not in history[0]:  # "val" only with --validation-images
            continue
        ax.plot(epochs, [h[f"{split}_{key}"] for h in history], marker="o", ms=3, label=f"{split} {key}")
    ax.set_xlabel("epoch")
    ax.set_ylabel("nats / image")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    return fig


def profile_figure(profile: dict[str, list[float]], ylabel: str, title: str) -> Figure:
    """A small line plot of per-frame values for the AE and the VAE (the Interpolate tab's measure)."""
    fig = Figure(figsize=(6.4, 2.4))
    ax = fig.subplots()
    for kind, colour in (("ae", "#d55e00"), ("vae", "#0072b2")):
        ax.plot(profile["t"], profile[kind], marker="o", color=colour, label=kind.upper())
    ax.set_xlabel("position on the path (A = 0, B = 1)")
    ax.set_ylabel(ylabel)
    ax.set_ylim(bottom=0)
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    return fig


def model_card_figure(model: Model, test_set: ImageSet, dataset: str, seed: int = 0, count: int = 16) -> Figure:
    """Test images, their reconstructions, and decoded N(0, I) samples: the figure of the model card."""
    with torch.no_grad():
        originals = test_set.images[:count]
        reconstructions = model.decode(model.embed(originals))
        samples = sample_prior(model, count, seed=seed)
    kind = "VAE" if model.config.model_type == "vae" else "AE"
    return grid_figure([("test", originals), ("recon", reconstructions), ("N(0,I)\nsamples", samples)], ncol=count,
                       title=f"{DATASET_TITLES[dataset]} {kind}: reconstructions and prior samples")


class EpochVisualizer:
    """Per-epoch figures for `train.py --visualize-every`: recon, pca, umap, interp and noise, plus loss curves."""

    def __init__(self, folder: Path, model: Model, test_set: ImageSet, dataset: str, seed: int = 0,
                 map_points: int = 2000):
        self.folder = Path(folder)
        self.model = model
        self.dataset = dataset
        self.seed = seed
        self.test_set = test_set
        self.map_set = test_set.subset(map_points)
        a, b = INTERPOLATION_PAIRS[dataset]
        self.pair = (pick_class_examples(test_set, a)[0], pick_class_examples(test_set, b)[0])
        self.pair_names = (CLASS_NAMES[dataset][a], CLASS_NAMES[dataset][b])

    def write(self, epoch: int, history: list[dict[str, float]]) -> None:
        name = f"epoch_{epoch:03d}.png"
        kind = self.model.config.model_type.upper()
        title = f"{DATASET_TITLES[self.dataset]} {kind}, epoch {epoch}"
        with torch.no_grad():
            x = self.test_set.images[:16]
            recon = self.model.decode(self.model.embed(x))
            save_figure(grid_figure([("input", x), ("recon", recon)], 16, title), self.folder / "recon" / name)
            latents = latent_means(self.model, self.map_set.images).numpy()
            labels = self.map_set.labels.numpy()
            mean, components, ratio = fit_pca(latents)
            pca_title = f"{title}: PCA ({100 * ratio.sum():.0f}% variance)"
            save_figure(scatter_figure((latents - mean) @ components.T, labels, self.dataset, pca_title),
                        self.folder / "pca" / name)
            save_figure(scatter_figure(fit_umap(latents, self.seed), labels, self.dataset, f"{title}: UMAP"),
                        self.folder / "umap" / name)
            path = interpolate(self.model, self.pair[0], self.pair[1], steps=10)
            save_figure(grid_figure([(f"{self.pair_names[0]} → {self.pair_names[1]}", path)], 10, title),
                        self.folder / "interp" / name)
            save_figure(grid_figure([("N(0,I)", sample_prior(self.model, 64, seed=self.seed))], 16, title),
                        self.folder / "noise" / name)
        save_figure(loss_curve_figure(history, title), self.folder / "loss_curves.png")
        self.model.train()
