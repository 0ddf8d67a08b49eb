"""The app's event handlers: `Explorer` results turned into what Gradio components show.

`Explorer` computes (numpy in, numpy out); these handlers write PNG/GIF files, pick between the pad
and the upload, and turn user errors into messages. Every public method is wired in `app.py`; the
ones with an `api_name` there are the public API, so their parameter names and order are a contract.
"""

from __future__ import annotations

from typing import Any

import gradio as gr
import numpy as np

from ..data import CLASS_NAMES, DATASET_TITLES
from ..errors import InputError
from ..figures import figure_png
from .explorer import Explorer
from .figures import gif_bytes, profile_figure
from .gradio_io import OutputFiles, user_errors

EMPTY_PAD_MESSAGE = "The pad is empty: draw a digit (mouse or finger)."  # drawing_pad: cleared pad
DRAW_OUTPUTS = 6  # model input, AE, VAE, VAE samples, error table, current model input (state)


class AppHandlers:
    """Handlers over one `Explorer`, writing their images through one `OutputFiles`."""

    def __init__(self, explorer: Explorer, files: OutputFiles):
        self.explorer = explorer
        self.files = files

    # ------------------------------------------------------------------ draw

    @user_errors
    def reconstruct(self, sketch: Any = None, image: Any = None, dataset: str = "mnist", source: str | None = None,
                    fill_outlines: bool = False):
        """Model input, AE and VAE reconstructions, VAE posterior samples, error table (+ the model input).

        `sketch` and `image` default to None so that an API client may pass either alone: for an input whose
        component starts empty, Gradio marks the API parameter optional only when the function's own default
        for it is None (`Blocks.get_api_info`). `fill_outlines` fills closed outlines first (garments drawn as
        outlines: Fashion-MNIST items are filled silhouettes)."""
        chosen = image if (image is not None and source != "pad") or sketch is None else sketch
        result = self.explorer.reconstruct(chosen, dataset, fill_outlines=bool(fill_outlines))
        png = self.files.png
        return (png(result.model_input), png(result.ae), png(result.vae), png(result.vae_samples), result.summary(),
                result.model_input)

    def _soft_reconstruct(self, sketch: Any, image: Any, dataset: str, source: str | None, done: str,
                          fill_outlines: bool = False):
        """For automatic updates: problems go to the status line instead of an error pop-up, and the outputs
        are emptied so that nothing on screen belongs to an earlier input."""
        try:
            return (*self.reconstruct(sketch, image, dataset, source, fill_outlines), source, done)
        except gr.Error as exc:
            return (*[None] * (DRAW_OUTPUTS - 2), "", None, source, f"⚠️ {exc.message}")

    def reconstruct_button(self, sketch: Any, image: Any, dataset: str, source: str | None,
                           fill_outlines: bool = False):
        """The page's Reconstruct button: as `/reconstruct`, but a problem (an empty pad) is said on the status
        line beside the pad and empties the outputs, instead of an error pop-up over stale images."""
        done = "Reconstructed your upload." if source == "upload" and image is not None else "Reconstructed."
        return self._soft_reconstruct(sketch, image, dataset, source, done, fill_outlines)

    def reconstruct_from_upload(self, image: Any, dataset: str, fill_outlines: bool = False):
        return self._soft_reconstruct(None, image, dataset, "upload", "Reconstructed your upload.", fill_outlines)

    def refresh_draw(self, sketch: Any, image: Any, dataset: str, source: str | None, fill_outlines: bool = False):
        """Dataset switch or fill toggle: redo the current drawing with the chosen models and framing."""
        if source is None:
            return tuple([gr.skip()] * (DRAW_OUTPUTS + 2))
        return self._soft_reconstruct(sketch, image, dataset, source,
                                      f"Reconstructed with the {DATASET_TITLES[dataset]} models.", fill_outlines)

    def examples_for(self, dataset: str) -> list[tuple[str, str]]:
        """The bundled test-set examples of a data set with their class names (gallery items)."""
        pair = self.explorer.models(dataset)
        names = CLASS_NAMES[pair.dataset]
        return [(self.files.png(img), names[int(label)]) for img, label in zip(pair.example_images,
                                                                               pair.example_labels)]

    def pick_example(self, dataset: str, evt: gr.SelectData):
        image = self.explorer.models(dataset).example_images[evt.index]
        outputs = self.reconstruct(None, image, dataset, "upload")
        return (self.files.png(image), *outputs, "upload", f"Reconstructed test example #{evt.index}.")

    def mark_value(self, model_input: np.ndarray | None):
        """The drawing for the Embeddings tab, shown 4x larger. (Also a different file from the model-input
        image: Gradio rewrites equal images in place, and a browser still fetching one would get a torn PNG.)"""
        return None if model_input is None else self.files.png(np.kron(model_input, np.ones((4, 4), np.uint8)))

    @user_errors
    def current_drawing(self, model_input: np.ndarray | None):
        if model_input is None:
            raise InputError("Draw or upload something on the Draw tab first.")
        return self.files.png(model_input)

    # ------------------------------------------------------------------ interpolate

    @user_errors
    def interpolate(self, image_a: Any, image_b: Any, dataset: str, steps: int, path: str):
        ae_strip, vae_strip, frames = self.explorer.interpolate(image_a, image_b, dataset, steps, path)
        return self.files.png(ae_strip), self.files.png(vae_strip), self.files.write(gif_bytes(frames), ".gif")

    @user_errors
    def interpolation_profile(self, image_a: Any, image_b: Any, dataset: str, steps: int, path: str):
        """A plot of how typical each frame's code is under each model's fitted prior, and the numbers (JSON).
        Models without a fitted prior (own folders made without one) give no plot and say why, without an error."""
        pair = self.explorer.models(dataset)
        if pair.ae_prior is None or pair.vae_prior is None:
            return None, {"unavailable": "; ".join(pair.prior_notes.values()) or "no fitted prior"}
        profile = self.explorer.interpolation_profile(image_a, image_b, dataset, steps, path)
        fig = profile_figure(profile, "percentile among test codes",
                             "how typical each frame's code is (density under the model's fitted prior)")
        return self.files.write(figure_png(fig), ".png"), profile

    def default_pair(self, dataset: str) -> tuple[str, str]:
        a, b = self.explorer.default_pair(dataset)
        return self.files.png(a), self.files.png(b)

    def pick_for_interpolation(self, dataset: str, slot: str, evt: gr.SelectData):
        """Clicking examples fills A, then B, then A again."""
        image = self.files.png(self.explorer.models(dataset).example_images[evt.index])
        return (image, gr.skip(), "B") if slot == "A" else (gr.skip(), image, "A")

    # ------------------------------------------------------------------ sample and maps

    @user_errors
    def sample(self, dataset: str, count: int, seed: int, temperature: float, prior: str = "standard",
               label: int = -1):
        """Three grids: AE and VAE from `prior` ("standard" N(0, I) or "mixture"), AE from one fitted Gaussian."""
        grids = self.explorer.sample(dataset, count, seed, temperature, prior, label)
        return tuple(self.files.png(grid) for grid in grids)

    def class_choices(self, dataset: str):
        """The Sample tab's class menu for a data set: "any", then its class names (values: -1, 0-9)."""
        names = CLASS_NAMES[self.explorer.models(dataset).dataset]
        return gr.update(choices=[("any class", -1), *[(name, i) for i, name in enumerate(names)]], value=-1)

    def sample_lesson(self, dataset: str) -> str:
        """The Sample tab's lesson with the shipped models' measured sample quality (from their metrics)."""
        return self.explorer.sample_lesson(dataset)

    # ------------------------------------------------------------------ typicality

    @user_errors
    def typicality(self, sketch: Any = None, image: Any = None, dataset: str = "mnist") -> dict[str, Any]:
        """Per model, the log-density of the drawing's code under the fitted prior and its percentile among
        the test set's codes (the upload wins over the pad, as in `reconstruct`)."""
        return self.explorer.typicality(image if image is not None else sketch, dataset)

    def typicality_line(self, model_input: np.ndarray | None, dataset: str) -> str:
        """One line under the reconstructions: how typical the current drawing is for each model."""
        if model_input is None:
            return ""
        try:
            result = self.explorer.typicality(model_input, dataset)
        except InputError as exc:
            return f"Typicality unavailable: {exc}"
        noun = "test digits" if result["dataset"] == "mnist" else "test images"
        parts = []
        for kind in ("ae", "vae"):
            p = result[kind]["percentile"]
            parts.append(f"{kind.upper()}: " + (f"less typical than {100 - p:.0f} % of {noun}" if p < 50 else
                                               f"more typical than {p:.0f} % of {noun}"))
        return "**How typical is your drawing's code** (density under each model's fitted prior): " + \
            "; ".join(parts) + "."

    @user_errors
    def embedding(self, dataset: str = "mnist", image: Any = None):
        fig, text = self.explorer.embedding(dataset, image)
        ae_grid, vae_grid = self.explorer.manifold(dataset)
        return self.files.png(fig), text, self.files.png(ae_grid), self.files.png(vae_grid)

    def switch_dataset(self, dataset: str):
        """New examples for both galleries and the default interpolation pair of the chosen data set."""
        examples = self.examples_for(dataset)
        return (examples, examples, *self.default_pair(dataset))
