"""The Embeddings tab's handlers: the PCA and UMAP maps with the drawing starred, a click decoding under the
pointer, exact map coordinates decoded, and each model's decoded PCA plane."""

from __future__ import annotations

from typing import Any

import gradio as gr
import numpy as np

from ..errors import InputError
from ..latent.navigation import MODELS
from .gradio_io import user_errors
from .handlers import TabHandlers
from .views import MapsView


class EmbeddingsHandlers(TabHandlers):
    """The maps and what a click or a coordinate on them decodes to."""

    @user_errors
    def embedding(self, dataset: str = "mnist", image: Any = None) -> MapsView:
        fig, text = self.explorer.embedding(dataset, image)
        ae_grid, vae_grid = self.explorer.manifold(dataset)
        return MapsView(maps=self.files.png(fig), variance=text, ae_plane=self.files.png(ae_grid),
                        vae_plane=self.files.png(vae_grid))

    def mark_value(self, model_input: np.ndarray | None):
        """The drawing for the star, shown 4x larger. (Also a different file from the model-input image: Gradio
        rewrites equal images in place, and a browser still fetching one would get a torn PNG.)"""
        return None if model_input is None else self.files.png(np.kron(model_input, np.ones((4, 4), np.uint8)))

    def star_on_visit(self, model_input: np.ndarray | None, starred: np.ndarray | None) -> MapsView:
        """The tab opened: if the Draw tab's drawing changed since it was last put on the star, it becomes the star
        (replacing an image uploaded here; no drawing, no star); otherwise the star stays as it is."""
        if (model_input is None and starred is None) or (
                model_input is not None and starred is not None and np.array_equal(model_input, starred)):
            return MapsView()
        return MapsView(star=self.mark_value(model_input), starred=model_input)

    @user_errors
    def decode_point(self, dataset: str, model: str, projection: str, x: float, y: float) -> MapsView:
        """The point (x, y) of a map (data coordinates) decoded by that map's model, and how far it is from the data."""
        point = self.explorer.decode_point(dataset, model, projection, x, y)
        return MapsView(point=self.files.png(point.image), point_text=point.summary())

    def click_map(self, dataset: str, mark: Any, clicks: dict | None, evt: gr.SelectData) -> MapsView:
        """A click on the maps: decode there with that map's model; keep the latest AE and VAE decodes side by side
        and a crosshair for each on the maps (redrawn on a copy of the pre-rendered maps). Problems go to the
        status line, not a pop-up."""
        clicks = dict(clicks or {})
        if clicks.get("dataset") != dataset:
            clicks = {"dataset": dataset}
        try:
            model, projection, x, y = self.explorer.map_position(dataset, evt.index)
            point = self.explorer.decode_point(dataset, model, projection, x, y)
            clicks[model] = [projection, x, y]
            crosshairs = {(m, clicks[m][0]): tuple(clicks[m][1:]) for m in MODELS if m in clicks}
            maps = self.explorer.marked_maps_png(dataset, mark, crosshairs)
        except InputError as exc:
            return MapsView(clicks=clicks, click_status=f"⚠️ {exc}")
        decoded = {f"{model}_click": self.files.png(point.image), f"{model}_click_text": point.summary()}
        return MapsView(maps=self.files.write(maps, ".png"), clicks=clicks, click_status="", **decoded)
