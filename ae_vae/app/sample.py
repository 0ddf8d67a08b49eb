"""The Sample tab's handlers: decoded samples from N(0, I), the fitted mixture (any class or one) and, for the AE,
one fitted Gaussian."""

from __future__ import annotations

import gradio as gr

from ..data import CLASS_NAMES
from .gradio_io import user_errors
from .handlers import TabHandlers
from .views import SampleView


class SampleHandlers(TabHandlers):
    """Three grids of decoded samples and the class menu."""

    @user_errors
    def sample(self, dataset: str, count: int, seed: int, temperature: float, prior: str = "standard",
               label: int = -1) -> SampleView:
        """Three grids: AE and VAE from `prior` ("standard" N(0, I) or "mixture"), AE from one fitted Gaussian."""
        ae, vae, ae_fitted = (self.files.png(grid) for grid in self.explorer.sample(dataset, count, seed, temperature,
                                                                                     prior, label))
        return SampleView(ae=ae, vae=vae, ae_fitted=ae_fitted)

    def class_choices(self, dataset: str):
        """The class menu for a data set: "any", then its class names (values: -1, 0-9)."""
        names = CLASS_NAMES[self.explorer.models(dataset).dataset]
        return gr.update(choices=[("any class", -1), *[(name, i) for i, name in enumerate(names)]], value=-1)
