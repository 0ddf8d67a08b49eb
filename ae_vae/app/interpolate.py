"""The Interpolate tab's handlers: decoded paths between two images' codes, a GIF, and how typical each frame is."""

from __future__ import annotations

import html
import json
from typing import Any

import gradio as gr
import numpy as np

from ..errors import InputError
from ..figures import figure_png
from .figures import gif_bytes, profile_figure
from .gradio_io import user_errors
from .handlers import TabHandlers
from .views import InterpolationView


class InterpolateHandlers(TabHandlers):
    """Two images in, the AE's and the VAE's decoded paths out."""

    @user_errors
    def interpolate(self, image_a: Any, image_b: Any, dataset: str, steps: int, path: str) -> InterpolationView:
        ae_strip, vae_strip, frames = self.explorer.interpolate(image_a, image_b, dataset, steps, path)
        return InterpolationView(ae_path=self.files.png(ae_strip), vae_path=self.files.png(vae_strip),
                                 gif=self.files.write(gif_bytes(frames), ".gif"))

    @user_errors
    def interpolation_profile(self, image_a: Any, image_b: Any, dataset: str, steps: int, path: str
                              ) -> InterpolationView:
        """A plot of how typical each frame's code is under each model's fitted prior, and the numbers (JSON).
        Models without a fitted prior (own folders made without one) give no plot and say why, without an error."""
        pair = self.explorer.models(dataset)
        if pair.ae_prior is None or pair.vae_prior is None:
            why = "; ".join(pair.prior_notes.values()) or "no fitted prior"
            return InterpolationView(profile_plot=None, profile_numbers={"unavailable": why})
        profile = self.explorer.interpolation_profile(image_a, image_b, dataset, steps, path)
        fig = profile_figure(profile, "percentile among test codes",
                             "how typical each frame's code is (density under the model's fitted prior)")
        return InterpolationView(profile_plot=self.files.write(figure_png(fig), ".png"), profile_numbers=profile)

    @user_errors
    def interpolate_at(self, image_a: Any, image_b: Any, dataset: str, path: str = "linear", t: float = 0.5
                       ) -> InterpolationView:
        """The API's /interpolate_at: the AE's and the VAE's decoded frame at fraction t (0: A, 1: B) of the path."""
        ae, vae = self.explorer.interpolate_at(image_a, image_b, dataset, path, t)
        return InterpolationView(frame_ae=self.files.png(ae), frame_vae=self.files.png(vae))

    def scrub_codes(self, image_a: Any, image_b: Any, dataset: str) -> str:
        """The two codes of each model, for the page to decode the scrubber's frames itself (an empty element when
        the images cannot be encoded: the scrubber then asks the server)."""
        try:
            codes = self.explorer.interpolation_codes(image_a, image_b, dataset)
        except InputError:
            return ""
        payload = html.escape(json.dumps({"dataset": self.explorer.models(dataset).dataset, **codes}), quote=True)
        return f'<div class="interp-codes" data-codes="{payload}"></div>'

    def default_pair(self, dataset: str) -> InterpolationView:
        a, b = self.explorer.default_pair(dataset)
        return InterpolationView(image_a=self.files.png(a), image_b=self.files.png(b))

    def switch_dataset(self, dataset: str) -> InterpolationView:
        """The chosen data set's examples and its default pair."""
        return self.default_pair(dataset) | InterpolationView(examples=self.examples_for(dataset))

    @user_errors
    def current_drawing(self, model_input: np.ndarray | None):
        """The Draw tab's current model input as image A or B ("Use my drawing")."""
        if model_input is None:
            raise InputError("Draw or upload something on the Draw tab first.")
        return self.files.png(model_input)

    def pick_for_interpolation(self, dataset: str, slot: str, evt: gr.SelectData) -> InterpolationView:
        """Clicking examples fills A, then B, then A again."""
        image = self.files.png(self.explorer.models(dataset).example_images[evt.index])
        if slot == "A":
            return InterpolationView(image_a=image, next_slot="B")
        return InterpolationView(image_b=image, next_slot="A")
