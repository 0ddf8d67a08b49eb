"""Handlers answer with named values; one adapter per event puts them into components.

A handler returns a dataclass, one per tab (`DrawingView`, `InterpolationView`, `SampleView`, `MapsView`): each field
a thing the tab shows, `KEEP` for one the answer leaves as it is. The layout builds one `Outputs` per tab, naming the component (or components) of each field;
an event wires `outputs.event(handler, fields)`: the components of those fields, in that order, and the handler
wrapped to answer with their values. Adding a field the tab shows is the result type, the handler that fills it and
the layout's `Outputs`: no event counts its outputs.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from typing import Any

import gradio as gr


class _Keep:
    """A field left as it is: its component keeps what it shows (Gradio's `gr.skip()` in the answer)."""

    def __repr__(self) -> str:
        return "KEEP"


KEEP: Any = _Keep()


class View:
    """What every tab's view does: `a | b` is `a` with `b`'s fields that are not `KEEP` (as `dict | dict`)."""

    def __or__(self, other: View) -> View:
        if type(other) is not type(self):
            return NotImplemented
        return type(self)(**{**vars(self), **{k: v for k, v in vars(other).items() if v is not KEEP}})


@dataclass
class DrawingView(View):
    """What the Draw tab shows of the current drawing, by name (`KEEP`: unchanged by this answer)."""

    model_input: Any = KEEP  # the 28x28 model input, as an image
    ae: Any = KEEP  # the AE's reconstruction
    vae: Any = KEEP  # the VAE's reconstruction (posterior mean)
    vae_samples: Any = KEEP  # decoded posterior samples, a grid
    errors: Any = KEEP  # the reconstruction errors' table
    drawing: Any = KEEP  # the model input (uint8 array) the other tabs use, None for none
    source: Any = KEEP  # where it came from: "pad", "upload" or None
    status: Any = KEEP  # the line beside the pad
    upload: Any = KEEP  # the upload component (an example clicked is shown there)
    typicality: Any = KEEP  # the line on how typical the drawing's codes are
    ae_neighbours: Any = KEEP  # nearest stored images in the AE's latent space (a gallery)
    vae_neighbours: Any = KEEP
    vote: Any = KEEP  # the neighbours' vote, one line per model
    walk_sigmas: Any = KEEP  # the walk's slider values, one per slider
    walk_ae: Any = KEEP  # the AE's code walked (at 0: its reconstruction)
    walk_vae: Any = KEEP


@dataclass
class InterpolationView(View):
    """What the Interpolate tab shows."""

    ae_path: Any = KEEP  # the AE's decoded path, a strip of frames
    vae_path: Any = KEEP
    gif: Any = KEEP  # both paths animated, AE above VAE
    profile_plot: Any = KEEP  # how typical each frame's code is, a plot
    profile_numbers: Any = KEEP  # and its numbers (JSON)
    image_a: Any = KEEP
    image_b: Any = KEEP
    next_slot: Any = KEEP  # which of A and B the next example clicked fills
    examples: Any = KEEP  # the data set's examples (a gallery)
    frame_ae: Any = KEEP  # the AE's frame at the scrubber's t
    frame_vae: Any = KEEP


@dataclass
class SampleView(View):
    """What the Sample tab shows: three grids of decoded samples."""

    ae: Any = KEEP  # the AE from the chosen prior
    vae: Any = KEEP  # the VAE from the chosen prior
    ae_fitted: Any = KEEP  # the AE from one Gaussian fitted to its training codes


@dataclass
class MapsView(View):
    """What the Embeddings tab shows."""

    maps: Any = KEEP  # the four maps, one image (the API's)
    view: Any = KEEP  # the live maps' state: the data set and the star's places (mapview.view_value)
    variance: Any = KEEP  # the explained variance, a line
    ae_plane: Any = KEEP  # the AE decoded over its PCA plane
    vae_plane: Any = KEEP
    star: Any = KEEP  # the image put on the maps as a star
    starred: Any = KEEP  # the drawing that star shows (state)
    point: Any = KEEP  # exact map coordinates decoded
    point_text: Any = KEEP


@dataclass
class BetaView(View):
    """What the β tab (the KL knob) shows, and its API's answers."""

    view: Any = KEEP  # the knob view's state: data set, drawing, or why it is not available (beta.knob_value)
    model_input: Any = KEEP  # the drawing's model input (the API's)
    recon: Any = KEEP  # the drawing reconstructed at β (the API's)
    rate: Any = KEEP  # its rate and distortion, nats
    distortion: Any = KEEP
    samples: Any = KEEP  # N(0, I) draws decoded at β, a grid
    curve: Any = KEEP  # the measured rate–distortion curve (JSON)


# The Draw tab's answers, by what they cover.
RECONSTRUCTED = ("model_input", "ae", "vae", "vae_samples", "errors", "drawing")  # also /reconstruct's outputs
DESCRIBED = ("typicality", "ae_neighbours", "vae_neighbours", "vote", "walk_sigmas", "walk_ae", "walk_vae")
DRAWN = (*RECONSTRUCTED, "source", "status")  # a drawing reconstructed (the rest follows in a second answer)
SHOWN = (*DRAWN, *DESCRIBED)  # everything a new drawing changes
NEIGHBOURS = ("ae_neighbours", "vae_neighbours", "vote")  # also /neighbors's outputs
WALKED = ("walk_ae", "walk_vae")  # also /traverse's outputs
# What a page that runs the models is told after a final frame it drew: what needs the server's data
PAGE_ADDED = ("errors", "drawing", "source", "status", "typicality", *NEIGHBOURS, "walk_sigmas")

INTERPOLATED = ("ae_path", "vae_path", "gif")  # /interpolate's outputs
PROFILED = ("profile_plot", "profile_numbers")  # /interpolation_profile's
PAIR = ("image_a", "image_b")
FRAME_AT = ("frame_ae", "frame_vae")  # /interpolate_at's
SAMPLED = ("ae", "vae", "ae_fitted")  # /sample's
MAPPED = ("maps", "variance", "ae_plane", "vae_plane")  # /embedding's
VIEWED = ("view", "variance", "ae_plane", "vae_plane")  # the tab's live maps, and what goes with them
STARRED = ("star", "starred")
POINT = ("point", "point_text")  # /decode_point's
BETA_RECONSTRUCTED = ("model_input", "recon", "rate", "distortion")  # /beta_reconstruct's
BETA_SAMPLED = ("samples",)  # /beta_sample's
BETA_CURVE = ("curve",)  # /beta_curve's


class Outputs:
    """The components of a result type's fields (a field may have several: the walk's sliders)."""

    def __init__(self, result_type: type, components: dict[str, Any]):
        self.result_type = result_type
        self.components: dict[str, Any] = {}
        self.add(**components)

    def add(self, **components: Any) -> None:
        """More fields' components (a panel adds its own as it lays them out)."""
        unknown = set(components) - {f.name for f in fields(self.result_type)}
        if unknown:
            raise ValueError(f"{self.result_type.__name__} has no fields {sorted(unknown)}")
        self.components.update(components)

    def _parts(self, field: str) -> list[Any]:
        component = self.components[field]
        return list(component) if isinstance(component, (list, tuple)) else [component]

    def of(self, names: Sequence[str]) -> list[Any]:
        """The components of `names`, in order."""
        return [part for name in names for part in self._parts(name)]

    def values(self, result: Any, names: Sequence[str]) -> tuple:
        """`result`'s values for the components of `names`, in order (a field of several components: one value each,
        or `KEEP` for all)."""
        if not isinstance(result, self.result_type):
            raise TypeError(f"expected a {self.result_type.__name__}, got {type(result).__name__}")
        answer: list[Any] = []
        for name in names:
            value, count = getattr(result, name), len(self._parts(name))
            if count == 1:
                answer.append(value)
            else:
                answer.extend([KEEP] * count if value is KEEP else list(value))
        return tuple(gr.skip() if value is KEEP else value for value in answer)

    def event(self, handler: Callable[..., Any], names: Sequence[str]) -> tuple[Callable[..., tuple], list[Any]]:
        """`(fn, outputs)` for an event: `handler` answering with the values of `names`' components, and those
        components. (`functools.wraps` keeps the handler's signature: Gradio reads its parameters.)"""
        names = tuple(names)

        single = len(self.of(names)) == 1  # Gradio takes one output's value alone, not in a tuple

        @functools.wraps(handler)
        def answer(*args: Any, **kwargs: Any) -> tuple | Any:
            values = self.values(handler(*args, **kwargs), names)
            return values[0] if single else values

        return answer, self.of(names)
