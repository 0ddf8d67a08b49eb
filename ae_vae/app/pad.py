"""The Draw tab's drawing pad: a canvas that sends the ink while you draw, and the server side of it.

Why our own pad: Gradio's Sketchpad reports a stroke on pointer-up only and then exports PNG layers in
the browser before a request leaves, so nothing follows the pen (docs/experiments.md, "Live drawing"). This
pad is a `gr.HTML` whose `js_on_load` script draws on a `<canvas>` (pointer events: mouse, pen, touch;
undo and clear, Ctrl+Z / Delete) and sets the component's value to a small, already-reduced copy of the ink,
then fires one of three events with it (`app.py` wires them):
- `input`, queued, when the server draws (`PadEvents.frame`): at most every `FRAME_INTERVAL_MS` while a stroke is
  drawn and once more on pointer-up (`trigger_mode="always_last"`: a page has at most one frame in flight and a slow
  link never queues stale ones);
- `submit`, not queued, when the page runs the models itself (`static/page/`): only the final frame, after
  pointer-up or undo, with the page's results (`PadEvents.page_frame`: what needs the server's data, and only the
  outputs the page does not draw itself). One plain request per stroke: a queued event (a join, then an event
  stream) costs the server more CPU than the work this frame asks of it, and so does every output it skips;
- `clear`, not queued, when such a page is cleared (`PadEvents.frame`, which empties every output).

The payload, "<phase>:<w>x<h>:<base64>[|page:...]": the ink (canvas alpha, 0..255) inside its bounding box on the
`PAD_SIZE` canvas, reduced by the smallest integer factor that brings its longest side to at most
`MAX_SIDE` px (area average, rounded half up), row-major uint8. `phase` is "live" during a stroke and
"final" after it (pointer-up, undo); an empty pad is "". `encode_payload` is the Python twin of the
script's encoder (tests check the two agree on a real canvas).

A page that runs the models appends to a final frame what it computed of it (`PageResults`, "|page:<data set>:
<fill 0|1>:<model input>:<AE code>:<VAE mean>:<errors>", base64 of uint8 / little-endian float32; its Python twin
`encode_page_results`): the server then adds only what needs its data, typicality and neighbours, from the page's
codes, and keeps the page's model input as the drawing the other tabs use, instead of framing, encoding and decoding
the drawing again. The ink still comes first: a switch of data set or framing frames it anew on the server.

Why a crop rather than the whole canvas shrunk: every data set's framing crops the ink and scales it to a
fixed box, so where the ink was on the canvas and how large carry no information; a crop keeps small
drawings at full resolution and big ones at >= 56 px for a 20 px box, so the model input from the payload differs
from the one from a full-size PNG of the same ink no more than drawing the same digit half a canvas pixel elsewhere
does (`PAYLOAD_TOLERANCE`; `bench/pad_fidelity.py` measures it, docs/experiments.md has the numbers). Both go through
the project's one preprocessing path (`ae_vae.preprocess.to_model_input`): the payload becomes the transparent
RGBA image the Sketchpad sent.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import gradio as gr
import numpy as np
from gradio.components.image_editor import EditorData
from gradio_client.utils import is_file_obj_with_meta

from ..errors import InputError
from .contract import STATIC, PageResults, page_module_loader, server_function
from .draw import (
    DEFAULT_NEIGHBOURS,
    DrawHandlers,
    empty_pad_message,
    nothing_reconstructed,
)
from .explorer import POSTERIOR_SAMPLES
from .gradio_io import patch_component
from .views import DrawingView

PAD_SIZE = 280  # canvas pixels per side (its CSS size is at most this, so 1:1 on most screens)
BRUSH_WIDTH = 18  # canvas px: strokes ~10% of a digit drawn across 2/3 of the pad, like MNIST's
MAX_SIDE = 112  # longest side of the payload's ink, px
FRAME_INTERVAL_MS = 100  # at most one live frame per this interval (plus the final one on pointer-up)
# Live frames computed at once, all pages together: a queue group of their own with as many workers as the
# app's --concurrency gives every other group, so people drawing do not hold up the other tabs (and the
# other way round); bench/load_test.py --mode live measures the choice.
LIVE_CONCURRENCY = "default"
MARGIN = 4  # empty pixels put back around the decoded crop: the framing needs a background to find the ink on
PHASES = ("live", "final")
MAX_CODE = 1024  # floats per code the page may send (the shipped models' codes have 16 to 64)
PAGE_ERRORS = 2 + POSTERIOR_SAMPLES  # MSE per pixel: AE, VAE (posterior mean), each posterior sample
FRAME_PIXELS = 28 * 28


def _b64_chars(n_bytes: int) -> int:
    return 4 * -(-n_bytes // 3)


MAX_PAGE_CHARS = (len("|page::0::::") + 32 + _b64_chars(FRAME_PIXELS) + 2 * _b64_chars(4 * MAX_CODE)
                  + _b64_chars(4 * PAGE_ERRORS))
MAX_PAYLOAD_CHARS = len(f"final:{MAX_SIDE}x{MAX_SIDE}:") + _b64_chars(MAX_SIDE * MAX_SIDE) + MAX_PAGE_CHARS
# Per drawing, the `framing_difference` between the 28x28 inputs made from the payload and from a full-size PNG
# of the same ink may not exceed what the drawing's own jitter does (drawing the same ink half a canvas pixel
# elsewhere): docs/experiments.md, "Numbers behind the app's constants".
PAYLOAD_TOLERANCE = 0.08
_B64 = r"([A-Za-z0-9+/]*={0,2})"
_PAYLOAD = re.compile(rf"(live|final):(\d{{1,4}})x(\d{{1,4}}):{_B64}(?:\|page:([a-z_]{{1,32}}):([01]):{_B64}:{_B64}:{_B64}:{_B64})?")


def encode_page_results(results: PageResults) -> str:
    """The "|page:..." part the pad's script appends to a final frame (page/draw.js `pagePart`)."""
    def b64(array: np.ndarray, dtype: str) -> str:
        return base64.b64encode(np.ascontiguousarray(array, dtype=dtype).tobytes()).decode("ascii")

    return (f"|page:{results.dataset}:{int(results.fill_outlines)}:{b64(results.model_input, 'u1')}:"
            f"{b64(results.codes['ae'], '<f4')}:{b64(results.codes['vae'], '<f4')}:{b64(results.errors, '<f4')}")


def _base64(text: str, what: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise InputError(f"The drawing pad's {what} is not valid base64; reload the page.") from None


def _page_results(dataset: str, fill: str, pixels: str, ae: str, vae: str, errors: str) -> PageResults:
    model_input = _base64(pixels, "model input")
    if len(model_input) != FRAME_PIXELS:
        raise InputError(f"The drawing pad sent a model input of {len(model_input)} pixels ({FRAME_PIXELS} expected).")
    codes = {}
    for kind, text in (("ae", ae), ("vae", vae)):
        raw = _base64(text, f"{kind.upper()} code")
        if not 4 <= len(raw) <= 4 * MAX_CODE or len(raw) % 4:
            raise InputError(f"The drawing pad sent a {kind.upper()} code of {len(raw)} bytes; a code is 1 to "
                             f"{MAX_CODE} float32s.")
        codes[kind] = np.frombuffer(raw, "<f4").astype(np.float32)
    raw = _base64(errors, "error table")
    values = np.frombuffer(raw, "<f4") if len(raw) == 4 * PAGE_ERRORS else np.array([])
    if len(values) != PAGE_ERRORS or not (np.isfinite(values).all() and (values >= 0).all() and (values <= 1).all()):
        raise InputError(f"The drawing pad's error table must be {PAGE_ERRORS} numbers from 0 to 1; reload the page.")
    return PageResults(dataset, fill == "1", np.frombuffer(model_input, np.uint8).reshape(28, 28).copy(), codes,
                       tuple(float(v) for v in values))


@dataclass(frozen=True)
class PadFrame:
    """One decoded payload: the phase and the cropped, reduced ink (uint8, white ink on black)."""

    phase: str
    ink: np.ndarray
    page: PageResults | None = None  # what the page computed of this (final) frame, if it runs the models

    def image(self) -> np.ndarray:
        """The ink as the RGBA image the Sketchpad sent: black, alpha = ink, with an empty margin."""
        rgba = np.zeros((self.ink.shape[0] + 2 * MARGIN, self.ink.shape[1] + 2 * MARGIN, 4), np.uint8)
        rgba[MARGIN:-MARGIN, MARGIN:-MARGIN, 3] = self.ink
        return rgba


def framing_difference(a: np.ndarray, b: np.ndarray) -> float:
    """Mean |a - b| per pixel of two 28x28 model inputs, after the better of the shifts by at most one pixel.

    The framing rounds the ink's centre of mass (MNIST) or its box (Fashion-MNIST) to a whole pixel, so any
    change of a drawing, even moving it by a fraction of a canvas pixel, may move the whole input by one pixel;
    that shift says nothing about how well the ink was kept, and for thin strokes it alone reaches 0.15.
    """
    return min(float(np.abs(np.roll(a, (dy, dx), axis=(0, 1)) - b).mean()) for dy in (-1, 0, 1) for dx in (-1, 0, 1))


def encode_payload(alpha: np.ndarray, phase: str = "final") -> str:
    """The payload the pad's script sends for a canvas whose alpha channel is `alpha` (uint8, square)."""
    rows, cols = np.flatnonzero(alpha.any(axis=1)), np.flatnonzero(alpha.any(axis=0))
    if not len(rows):
        return ""
    crop = alpha[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1].astype(np.int64)
    factor = -(-max(crop.shape) // MAX_SIDE)
    h, w = -(-crop.shape[0] // factor), -(-crop.shape[1] // factor)
    padded = np.zeros((h * factor, w * factor), np.int64)
    padded[:crop.shape[0], :crop.shape[1]] = crop
    sums = padded.reshape(h, factor, w, factor).sum(axis=(1, 3))
    reduced = ((2 * sums + factor * factor) // (2 * factor * factor)).astype(np.uint8)  # round half up, as JS
    return f"{phase}:{w}x{h}:{base64.b64encode(reduced.tobytes()).decode('ascii')}"


def decode_payload(value: Any) -> PadFrame | None:
    """The pad's value as a `PadFrame`; None for an empty pad. Anything else raises `InputError`."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise InputError(f"The drawing pad sent {type(value).__name__}, not a drawing; reload the page.")
    if len(value) > MAX_PAYLOAD_CHARS:
        raise InputError(f"The drawing pad sent {len(value)} characters; a drawing is at most "
                         f"{MAX_PAYLOAD_CHARS}. Reload the page.")
    match = _PAYLOAD.fullmatch(value)
    if match is None:
        raise InputError("The drawing pad sent something that is not a drawing (expected "
                         "'live|final:<w>x<h>:<base64>'); reload the page.")
    phase, w, h = match.group(1), int(match.group(2)), int(match.group(3))
    if not (1 <= w <= MAX_SIDE and 1 <= h <= MAX_SIDE):
        raise InputError(f"The drawing pad sent a {w}×{h} drawing; it sends 1 to {MAX_SIDE} px per side.")
    pixels = _base64(match.group(4), "pixels")
    if len(pixels) != w * h:
        raise InputError(f"The drawing pad sent {len(pixels)} pixels for a {w}×{h} drawing ({w * h} expected).")
    page = None
    if match.group(5) is not None:
        if phase != "final":
            raise InputError("The drawing pad sent the page's results with a live frame; they come with the final one.")
        page = _page_results(*match.group(5, 6, 7, 8, 9, 10))
    return PadFrame(phase, np.frombuffer(pixels, np.uint8).reshape(h, w).copy(), page)


def _uploaded_path(value: Any, name: str) -> str | None:
    """The server path of a file an API client uploaded (`handle_file`); None for None.

    Only Gradio's file objects: Gradio checked that their path is an upload. A plain string would be any
    path on the server, so it is refused.
    """
    if value is None:
        return None
    if is_file_obj_with_meta(value):
        return value["path"]
    raise InputError(f"{name} must be a file sent with gradio_client.handle_file(...), not {type(value).__name__}.")


def sketch_value(value: Any) -> dict | None:
    """What the handlers take from the pad, whoever sent it: the Sketchpad's value, {"background", "layers",
    "composite"} (+ "phase" for the pad's frames), or None for an empty pad.

    - the page sends the pad's payload (a string): its ink becomes the composite, an RGBA image;
    - an API client sends what it sent to the Sketchpad, a dict of files (`handle_file`): their server paths.
    """
    if isinstance(value, dict):
        layers = value.get("layers") or []
        if not isinstance(layers, list):
            raise InputError("sketch['layers'] must be a list of files.")
        return {"background": None, "composite": _uploaded_path(value.get("composite"), "sketch['composite']"),
                "layers": [_uploaded_path(layer, "each of sketch['layers']") for layer in layers]}
    frame = decode_payload(value)
    if frame is None:
        return None
    return {"background": None, "layers": [], "composite": frame.image(), "phase": frame.phase, "page": frame.page}


class PadEvents:
    """The pad's events over the Draw tab's handlers: each answers a `DrawingView` from `DrawHandlers.show_drawing`
    (images inline: the events run with `postprocess=False`), or says the pad was emptied."""

    def __init__(self, handlers: DrawHandlers):
        self.handlers = handlers
        self.explorer = handlers.explorer

    def frame(self, sketch: dict | None, dataset: str, source: str | None, fill_outlines: bool = False,
              k: int = DEFAULT_NEIGHBOURS):
        """A frame from the pad. Live frames update the model input and both reconstructions only; the final frame
        (and an undo) answers everything the tab shows of the drawing at once, from one encoding per model, so a
        stroke ends in one request (a page running the models sends only that one). A drawing that cannot be
        reconstructed empties the outputs and says why on the status line, as uploads do."""
        if sketch is None:  # cleared, or every stroke undone
            if source == "upload":  # the outputs show an upload: leave them
                return DrawingView(status=empty_pad_message(dataset))
            return nothing_reconstructed(None, empty_pad_message(dataset))
        return self.handlers.show_drawing(sketch["composite"], dataset, "pad", fill_outlines, k,
                                          live=sketch.get("phase") == "live")

    def page_frame(self, sketch: dict | None, dataset: str, source: str | None, fill_outlines: bool = False,
                   k: int = DEFAULT_NEIGHBOURS):
        """A final frame whose model input, reconstructions, posterior samples and errors the page computed and drew
        itself. Its answer (`views.PAGE_ADDED`): the error table from the page's numbers, its model input as the drawing
        the other tabs use, the source, the status line, then the typicality line, both neighbour galleries, their vote
        and the walk's sliders at 0, from the page's codes. Nothing else: the page drew the images (the walk's too: at 0
        they are the reconstructions). Results for another data set or framing than the page now shows (switched while
        they were on their way) change nothing: the switch's own event frames the ink anew."""
        if sketch is None:  # the pad was emptied before Gradio read its value: the clear's own event says so
            return DrawingView()
        page = sketch.get("page") if isinstance(sketch, dict) else None
        if page is None:
            return DrawingView(status="⚠️ The page sent no results of its own with its drawing; draw it again.")
        try:
            if (page.dataset, page.fill_outlines) != (self.explorer.models(dataset).dataset, bool(fill_outlines)):
                return DrawingView()
        except InputError as exc:
            return nothing_reconstructed("pad", f"⚠️ {exc}")
        return self.handlers.show_drawing(None, dataset, "pad", fill_outlines, k, page=page)


# ---------------------------------------------------------------- the component

# The pad's `js_on_load`: import its module (static/page/pad.js) and fetch the page's config (`page.write_page_config`),
# then start the pad with the component's element, `trigger`, `props` and `server`. Nothing is filled into the
# script: it is the same text for every app; the two URLs are props.
PAD_LOADER = page_module_loader("pad.js", "startPad(element, trigger, props, server, config)", "the drawing pad")


def _sketch_api_info() -> dict[str, Any]:
    """The Sketchpad's API schema (as `Component.api_info` builds it from its data model)."""
    schema = EditorData.model_json_schema()
    schema["additional_description"] = schema.pop("description", None)
    return schema


def drawing_pad(config_url: str, modules_url: str, data_ready: Callable[[Any], Awaitable[str]], **kwargs: Any
                ) -> gr.HTML:
    """The pad as a component (`kwargs` go to `gr.HTML`; the app passes `elem_id="sketchpad"`, the container
    tests and benchmarks find the canvas in). `config_url` is where the page's config is (`page.write_page_config`:
    the pad's numbers, and the graphs that let the page reconstruct the drawing itself while the pen moves; without
    graphs every frame goes to the server), `modules_url` where the page's modules are; `data_ready` (its server
    function, `page.PageData.ready`) says when the map data the pad's module fetches for the maps is written.

    Its value in the page is the payload ("" when empty); every event that takes it gets `sketch_value`,
    what the Sketchpad gave, and the API describes and accepts the Sketchpad's value. So the handlers and
    the public endpoints that take a sketch (`/reconstruct`, and any other) are unchanged for their callers
    (`gradio_io.patch_component`).
    """
    pad = gr.HTML("", html_template=(STATIC / "pad.html").read_text(encoding="utf-8"),
                  css_template=(STATIC / "pad.css").read_text(encoding="utf-8"), js_on_load=PAD_LOADER,
                  apply_default_css=False, server_functions=[server_function(data_ready, "data_ready")],
                  config=config_url, modules=modules_url, size=PAD_SIZE, **kwargs)

    def preprocess(payload: Any, _original: Any) -> dict | None:
        try:
            return sketch_value(payload)
        except InputError as exc:
            raise gr.Error(str(exc), print_exception=False) from None

    return patch_component(pad, preprocess=preprocess, api_info=_sketch_api_info, example=None)
