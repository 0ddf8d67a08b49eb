"""The Embeddings tab's handlers: the live maps' state with the drawing starred, a tap on a map decoded with its
distance to the data, the maps image of the API, exact map coordinates decoded, and each model's decoded PCA
plane."""

from __future__ import annotations

import base64
from typing import Any

import numpy as np

from ..errors import InputError
from ..latent.navigation import MODELS, PROJECTIONS
from .gradio_io import user_errors
from .handlers import TabHandlers
from .mapview import view_value
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

    @user_errors
    def maps_view(self, dataset: str = "mnist", image: Any = None) -> MapsView:
        """What the tab shows around its live maps: their state (the data set, the star where `image` lands), the
        variance line and the decoded PCA planes."""
        dataset = self.explorer.models(dataset).dataset
        star = None if image is None else self.explorer.locate(image, dataset)
        ae_grid, vae_grid = self.explorer.manifold(dataset)
        return MapsView(view=view_value(dataset, star), variance=self.explorer.variance_line(dataset),
                        ae_plane=self.files.png(ae_grid), vae_plane=self.files.png(vae_grid))

    def map_point(self, request: Any) -> dict[str, Any]:
        """A tap on a live map (its server function): {"dataset", "model", "projection", "x", "y"} -> that point
        decoded (28x28 bytes, base64) and its sentence, or {"error": why}."""
        try:
            if not isinstance(request, dict):
                raise InputError("A map point is {dataset, model, projection, x, y}.")
            dataset = self.explorer.models(request.get("dataset")).dataset
            model, projection = request.get("model"), request.get("projection")
            if model not in MODELS or projection not in PROJECTIONS:
                raise InputError(f"A map is one of {', '.join(MODELS)} by one of {', '.join(PROJECTIONS)}.")
            point = self.explorer.decode_point(dataset, model, projection, request.get("x"), request.get("y"))
        except InputError as exc:
            return {"error": str(exc)}
        return {"dataset": dataset, "model": model, "projection": projection, "x": point.x, "y": point.y,
                "image": base64.b64encode(np.ascontiguousarray(point.image, np.uint8).tobytes()).decode("ascii"),
                "summary": point.summary()}
