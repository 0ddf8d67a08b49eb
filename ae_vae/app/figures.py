"""The app's figures: the latent maps rendered once and marked per request, the typicality profile, the GIF."""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from PIL import Image, ImageDraw

from ..data import DATASET_TITLES
from ..figures import scatter_figure
from ..latent.maps import LatentMaps

# the panels of `maps_figure`, in the order of its axes (and of RenderedFigure's boxes): (model, projection)
PANELS = (("ae", "pca"), ("vae", "pca"), ("ae", "umap"), ("vae", "umap"))


MARKER_FILL = (255, 221, 0)  # the drawing's star: yellow, outlined in black (also the live maps', page.page_config)


@dataclass
class RenderedFigure:
    """A figure rasterised once, with each panel's data <-> pixel maps, so a star costs ~1 ms instead of a re-render.

    Drawing 4 scatter plots of 5 000 points takes ~1 s on 2 cores; the API's /embedding only needs to add a star for
    the user's drawing, which this does on a copy of the pixels. Pixel coordinates are the image's own: x to the
    right, y down, (0, 0) the top-left pixel's corner.
    """

    pixels: np.ndarray  # (H, W, 3) uint8
    affines: list[np.ndarray]  # per panel (2, 3): [px, py] = affine @ [x, y, 1], image coordinates
    boxes: list[tuple[float, float, float, float]]  # per panel (left, top, right, bottom) in pixels
    limits: list[tuple[float, float, float, float]]  # per panel (x_min, x_max, y_min, y_max): the data shown

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
        return cls(pixels, affines, boxes, limits)

    def to_pixel(self, panel: int, x: float, y: float) -> tuple[float, float]:
        """Data coordinates of `panel` -> image pixel coordinates."""
        px, py = self.affines[panel] @ np.array([x, y, 1.0])
        return float(px), float(py)

    def to_data(self, panel: int, px: float, py: float) -> tuple[float, float]:
        """Image pixel coordinates -> `panel`'s data coordinates (the inverse of `to_pixel`)."""
        affine = self.affines[panel]
        x, y = np.linalg.solve(affine[:, :2], np.array([px, py]) - affine[:, 2])
        return float(x), float(y)

    def with_markers(self, points: Sequence[np.ndarray | None], radius: float = 11.0) -> np.ndarray:
        """A copy of the pixels with a star at each panel's points (clamped to the panel's frame)."""
        image = Image.fromarray(self.pixels)
        draw = ImageDraw.Draw(image)
        for affine, box, panel_points in zip(self.affines, self.boxes, points):
            if panel_points is None:
                continue
            for x, y in np.atleast_2d(panel_points):
                px, py = affine @ np.array([x, y, 1.0])
                px = float(np.clip(px, box[0] + radius, box[2] - radius))
                py = float(np.clip(py, box[1] + radius, box[3] - radius))
                draw.polygon(_star(px, py, radius), fill=MARKER_FILL, outline=(0, 0, 0), width=2)
        return np.asarray(image)


def _star(cx: float, cy: float, radius: float) -> list[tuple[float, float]]:
    angles = -np.pi / 2 + np.arange(10) * np.pi / 5
    radii = np.where(np.arange(10) % 2 == 0, radius, radius * 0.45)
    return list(zip(cx + radii * np.cos(angles), cy + radii * np.sin(angles)))


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


def maps_figure(dataset: str, ae_maps: LatentMaps, vae_maps: LatentMaps) -> Figure:
    """2 x 2 panels: PCA (top) and UMAP (bottom) of the stored test latents, AE left, VAE right; every panel
    with its legend, the class names written on it, and how many test images it shows (a folder of one's own may
    store another number than the other model's)."""
    fig = Figure(figsize=(11.5, 8.6))
    axes = fig.subplots(2, 2)
    for col, (kind, maps) in enumerate((("AE", ae_maps), ("VAE", vae_maps))):
        ratio, count = maps.pca_explained_variance_ratio, len(maps.labels)
        scatter_figure(maps.pca, maps.labels, dataset,
                       f"{kind} latents, PCA (PC1 {100 * ratio[0]:.0f}%, PC2 {100 * ratio[1]:.0f}% of variance), "
                       f"{count} images", ax=axes[0, col], names_on_map=True)
        scatter_figure(maps.umap, maps.labels, dataset, f"{kind} latents, UMAP, {count} images", ax=axes[1, col],
                       names_on_map=True)
    fig.suptitle(f"{DATASET_TITLES[dataset]} test set; a yellow star marks your drawing")
    fig.tight_layout()
    return fig


def gif_bytes(frames: list[np.ndarray], scale: int = 4, duration_ms: int = 120) -> bytes:
    """An animated GIF that plays A -> B -> A, upscaled with nearest neighbour."""
    images = [Image.fromarray(f).resize((f.shape[1] * scale, f.shape[0] * scale), Image.NEAREST) for f in frames]
    loop = images + images[-2:0:-1]
    buffer = io.BytesIO()
    loop[0].save(buffer, format="GIF", save_all=True, append_images=loop[1:], duration=duration_ms, loop=0)
    return buffer.getvalue()
