"""The handlers of the latent-space navigation (issue 14): a click on a map, neighbours, the walk, codes.

Over the app's `AppHandlers` (its `Explorer` and its output files); `app.py` wires them to the Draw and
Embeddings tabs. The page works on the Draw tab's current model input (a 28x28 uint8 array, used as is); the
public endpoints (/neighbors, /locate, /traverse, /encode) take `(sketch, image, dataset, ...)` like
/reconstruct, each drawing parameter defaulting to None so a client may pass either alone, by name.
"""

from __future__ import annotations

from typing import Any

import gradio as gr
import numpy as np

from ..data import CLASS_NAMES
from ..errors import InputError
from ..latent.navigation import MODELS
from .gradio_io import user_errors
from .handlers import AppHandlers

DEFAULT_NEIGHBOURS = 8
WALK_SLIDERS = 3  # /traverse's pc1, pc2, pc3


def _something(drawing: Any) -> Any:
    if drawing is None:
        raise InputError("Nothing to encode yet: draw, upload or pick an example on the Draw tab first.")
    return drawing


def _sent(sketch: Any, image: Any) -> Any:
    """What an API client sent: the image when given (as in /reconstruct), else the sketch."""
    if image is not None:
        return image
    if sketch is None or sketch == "":
        raise InputError("Pass an image (handle_file('digit.png')) or a sketch value; both were empty.")
    return sketch


class NavigationHandlers:
    """Neighbours, map clicks, the code walk and the codes, as the UI shows them."""

    def __init__(self, app: AppHandlers):
        self.explorer = app.explorer
        self.files = app.files

    # ------------------------------------------------------------------ neighbours

    @user_errors
    def neighbors(self, sketch: Any = None, image: Any = None, dataset: str = "mnist", k: int = DEFAULT_NEIGHBOURS
                  ) -> tuple[list, list, str]:
        """The API's /neighbors: the k nearest stored images (the maps' test images and the folder's training
        images) in the AE's latent space and in the VAE's (galleries captioned with the class names, nearest first)
        and a one-line vote per model."""
        return self.neighbours_of(_sent(sketch, image), dataset, k)

    def neighbours_of(self, drawing: Any, dataset: str, k: int = DEFAULT_NEIGHBOURS) -> tuple[list, list, str]:
        found = self.explorer.neighbours(_something(drawing), dataset, k)
        names = CLASS_NAMES[self.explorer.models(dataset).dataset]
        galleries, lines = [], []
        for model, (near, vote) in found.items():
            line = vote[0].upper() + vote[1:] + "."
            if near.images is None:
                galleries.append([])
                line += (" (Neighbours unavailable for this folder: its embeddings.safetensors stores no images; "
                         f"`python -m ae_vae.store_points <{model} folder>` adds them.)")
            else:
                galleries.append([(self.files.png(img), names[int(label)])
                                  for img, label in zip(near.images, near.labels)])
            lines.append(line)
        return galleries[0], galleries[1], "\n\n".join(lines)

    def neighbours_of_input(self, model_input: np.ndarray | None, dataset: str, k: int = DEFAULT_NEIGHBOURS):
        """After every new drawing: its neighbours; problems on the summary line instead of a pop-up."""
        if model_input is None:
            return gr.skip(), gr.skip(), gr.skip()
        try:
            return self.neighbours_of(model_input, dataset, k)
        except InputError as exc:
            return gr.skip(), gr.skip(), f"⚠️ {exc}"

    # ------------------------------------------------------------------ codes and points

    @user_errors
    def locate(self, sketch: Any = None, image: Any = None, dataset: str = "mnist") -> dict:
        """The API's /locate: where the drawing lands on the maps, in their data coordinates (where its star is
        drawn): {"ae": {"pca": [x, y], "umap": [x, y]}, "vae": {...}}."""
        return self.explorer.locate(_sent(sketch, image), dataset)

    @user_errors
    def encode(self, sketch: Any = None, image: Any = None, dataset: str = "mnist") -> dict:
        """The API's /encode: the AE code and the VAE posterior mean and log-variance, lists of floats."""
        return self.explorer.encode(_sent(sketch, image), dataset)

    @user_errors
    def locate_input(self, model_input: np.ndarray | None, dataset: str) -> dict:
        return self.explorer.locate(_something(model_input), dataset)

    @user_errors
    def encode_input(self, model_input: np.ndarray | None, dataset: str) -> dict:
        return self.explorer.encode(_something(model_input), dataset)

    @staticmethod
    def code_of(codes: dict | None, model: str):
        """The chosen model's code out of `encode`'s JSON (the AE code or the VAE posterior mean)."""
        if not isinstance(codes, dict) or model not in codes:
            return gr.skip()
        return codes[model].get("code", codes[model].get("mean"))

    @user_errors
    def decode(self, dataset: str, model: str, code: Any) -> str:
        """A code (the model's latent size of floats) decoded by the AE or the VAE."""
        return self.files.png(self.explorer.decode(dataset, model, code))

    @user_errors
    def decode_point(self, dataset: str, model: str, projection: str, x: float, y: float) -> tuple[str, str]:
        """The point (x, y) of a map (data coordinates) decoded by that map's model, and how far it is from the data."""
        point = self.explorer.decode_point(dataset, model, projection, x, y)
        return self.files.png(point.image), point.summary()

    def click_map(self, dataset: str, mark: Any, clicks: dict | None, evt: gr.SelectData):
        """A click on the maps: decode there with that map's model; keep the latest AE and VAE decodes side by side
        and a crosshair for each on the maps (redrawn on a copy of the pre-rendered maps). Problems go to the
        status line, not a pop-up. Outputs: maps, AE image, AE text, VAE image, VAE text, clicks, status."""
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
            return (gr.skip(),) * 5 + (clicks, f"⚠️ {exc}")
        decoded = [gr.skip()] * 4
        decoded[0 if model == "ae" else 2] = self.files.png(point.image)
        decoded[1 if model == "ae" else 3] = point.summary()
        return (self.files.write(maps, ".png"), *decoded, clicks, "")

    # ------------------------------------------------------------------ the walk

    @user_errors
    def traverse(self, sketch: Any = None, image: Any = None, dataset: str = "mnist", pc1: float = 0.0,
                 pc2: float = 0.0, pc3: float = 0.0) -> tuple[str, str]:
        """The API's /traverse: the drawing's AE code and VAE posterior mean moved pc_i standard deviations (-3 to 3)
        along each model's own i-th principal direction, decoded (AE image, VAE image)."""
        return self.walked(_sent(sketch, image), dataset, pc1, pc2, pc3)

    def walked(self, drawing: Any, dataset: str, pc1: float = 0.0, pc2: float = 0.0, pc3: float = 0.0
               ) -> tuple[str, str]:
        ae, vae = self.explorer.walk(_something(drawing), dataset, [pc1, pc2, pc3])
        return self.files.png(ae), self.files.png(vae)

    @user_errors
    def walk_input(self, model_input: np.ndarray | None, dataset: str, pc1: float, pc2: float, pc3: float):
        """A slider moved: nothing before there is a drawing."""
        if model_input is None:
            return gr.skip(), gr.skip()
        return self.walked(model_input, dataset, pc1, pc2, pc3)

    def reset_walk(self, model_input: np.ndarray | None, dataset: str):
        """A new drawing (or Reset): the sliders back to 0 and the plain reconstructions."""
        if model_input is None:
            return 0.0, 0.0, 0.0, None, None
        try:
            return (0.0, 0.0, 0.0, *self.walked(model_input, dataset))
        except InputError:
            return 0.0, 0.0, 0.0, gr.skip(), gr.skip()

    def direction_text(self, dataset: str) -> str:
        """What each slider's direction does, per model (a Markdown table)."""
        labels = self.explorer.direction_labels(dataset)
        rows = [f"| {(labels['ae'][i:] or ['—'])[0]} | {(labels['vae'][i:] or ['—'])[0]} |" for i in range(WALK_SLIDERS)]
        return "| AE | VAE |\n|---|---|\n" + "\n".join(rows)
