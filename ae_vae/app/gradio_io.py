"""UI infrastructure for the Gradio app: output files, readable uploads, one way to show a user error.

Nothing here knows the models; `ae_vae.handlers` and `app.py` build on it.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import io
import logging
import os
import threading
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import gradio as gr
import numpy as np
from PIL import Image

from ..errors import InputError
from ..fileio import TEMP_SUFFIX, atomic_write_bytes
from ..preprocess import MAX_PIXELS, UnreadableUpload

logger = logging.getLogger("app")
F = TypeVar("F", bound=Callable[..., Any])


def patch_component(component: Any, *, preprocess: Callable[[Any, Callable], Any] | None = None,
                    api_info: Callable[[], dict[str, Any]] | None = None, example: Any = ...) -> Any:
    """The one place the app changes what a Gradio component does, on that instance: how it turns what the page or a
    client sent into the handler's argument (`preprocess(payload, original)`, given the component's own), the schema
    the API describes it with (`api_info`), its example value (`example`). Gradio reads these attributes from the
    instance (`Blocks.preprocess_data`, `Blocks.get_api_info`): `tests/test_app.py` fails if it stops doing so.
    (Instance attributes rather than subclasses: Gradio writes a `.pyi` copy of any module that subclasses a
    component.)"""
    if preprocess is not None:
        original = component.preprocess
        component.preprocess = functools.wraps(original)(lambda payload: preprocess(payload, original))
    if api_info is not None:
        component.api_info = api_info
    if example is not ...:
        component.example_payload = component.example_value = lambda: example
    return component


def user_errors(handler: F) -> F:
    """Show an `InputError` as a message in the UI (and as `AppError` to API clients), and as one line in the
    server's log, without a traceback.

    `functools.wraps` keeps the handler's signature and annotations: Gradio names API parameters after
    them and finds `gr.SelectData` arguments through them.
    """

    @functools.wraps(handler)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return handler(*args, **kwargs)
        except InputError as exc:
            logger.info("refused %s: %s", handler.__name__, exc)
            raise gr.Error(str(exc), print_exception=False) from None

    return wrapper  # type: ignore[return-value]


def quiet_input_errors(blocks: gr.Blocks) -> None:
    """A value an input component itself refuses (a data set not among the radio's choices, a slider value out
    of its range) is a user error too: one line in the log instead of Gradio's traceback, the same message."""
    for block in blocks.blocks.values():
        if not callable(getattr(block, "preprocess", None)):
            continue

        def preprocess(payload: Any, original: Callable, _block: Any = block) -> Any:
            try:
                return original(payload)
            except gr.Error as exc:
                if not exc.print_exception:
                    raise
                logger.info("refused a value for %s: %s", getattr(_block, "label", None) or _block, exc.message)
                raise gr.Error(exc.message, duration=exc.duration, visible=exc.visible, title=exc.title,
                               print_exception=False) from None

        patch_component(block, preprocess=preprocess)


class OutputFiles:
    """Output files (PNG images, GIFs), content-addressed, each written once and atomically.

    Handing Gradio numpy arrays makes it re-encode them into a content-named cache file that it rewrites
    in place on every request; under load (16 clients, identical drawings) a client reading that file
    while another request rewrote it got a torn download. Files it is given are copied into its cache
    atomically instead. Files older than `max_age_s` are pruned (checked at most once a minute).
    """

    def __init__(self, folder: str | Path, max_age_s: float = 3600.0):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.max_age_s = max_age_s
        self._last_prune = time.time()
        self._pruning = threading.Lock()  # one request prunes at a time

    def write(self, data: bytes, suffix: str) -> str:
        """The path of a file holding `data` (written now unless an identical one exists; an existing one is
        marked as used now, so the pruning keeps it)."""
        path = self.folder / f"{hashlib.sha1(data).hexdigest()[:20]}{suffix}"
        try:
            os.utime(path)
        except FileNotFoundError:
            atomic_write_bytes(path, data, durable=False)  # outputs are made again on request
        now = time.time()
        if now - self._last_prune > 60 and self._pruning.acquire(blocking=False):
            try:
                self._last_prune = now
                self._prune(now, keep=path)
            finally:
                self._pruning.release()
        return str(path)

    def _prune(self, now: float, keep: Path) -> None:
        """Remove files unused for `max_age_s`. Other requests write and remove files meanwhile: their temporary
        files are never touched, and a file that is gone by the time it is looked at is simply skipped."""
        for old in self.folder.iterdir():
            if old == keep or old.name.endswith(TEMP_SUFFIX):
                continue
            try:
                if now - old.stat().st_mtime > self.max_age_s:
                    old.unlink(missing_ok=True)
            except FileNotFoundError:
                continue

    def png(self, image: np.ndarray) -> str:
        return self.write(png_bytes(image), ".png")


def png_bytes(image: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.asarray(image)).save(buffer, format="png")
    return buffer.getvalue()


def inline_png(image: np.ndarray) -> dict:
    """An image value the page shows without fetching a file: Gradio's image data with the PNG as a base64
    data URL in `url` (how Gradio itself sends SVGs). For an event registered with `postprocess=False`, whose
    outputs are only shown (an input component would look for the file).

    A 28x28 PNG is ~0.3 KB: inline, it arrives with the answer. As a file, it is written, copied into Gradio's
    cache and fetched by the browser: one more request per image, and 0.1-0.25 s more from the answer to the
    image on screen under load.
    """
    data = png_bytes(image)
    return {"path": None, "url": "data:image/png;base64," + base64.b64encode(data).decode("ascii"),
            "orig_name": "image.png", "mime_type": "image/png", "size": len(data), "is_stream": False,
            "meta": {"_type": "gradio.FileData"}}


def readable_upload(component: gr.Image) -> gr.Image:
    """Make an upload component turn unreadable files (a broken PNG) into a clear message.

    Gradio opens uploads with Pillow before our handler runs; its exceptions would reach the user as a bare
    error pop-up (the outputs of the previous input left on screen) and the log as a traceback. Instead the
    handler receives an `UnreadableUpload` and says the problem like any other bad input (`patch_component`).
    """

    def preprocess(payload: Any, original: Callable) -> Any:
        try:
            with warnings.catch_warnings():  # Pillow warns of an image that big (then opens it): refused here instead
                warnings.simplefilter("error", Image.DecompressionBombWarning)
                return original(payload)
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            name = getattr(payload, "orig_name", None) or "The image"
            return UnreadableUpload(f"{name} is too large to open: the limit is {MAX_PIXELS // 1_000_000} "
                                    "megapixels.")
        except Exception:  # noqa: BLE001 - Pillow raises many types for bad files
            name = getattr(payload, "orig_name", None) or "The file"
            return UnreadableUpload(f"{name} is not an image that can be read; use a PNG, JPEG, WebP, BMP or GIF "
                                    "image.")

    return patch_component(component, preprocess=preprocess)


def upload_image(label: str, **kwargs: Any) -> gr.Image:
    """An image input handed to the handlers as a file path, any Pillow mode, unreadable files explained; its label
    a caption above it (see `output_image`)."""
    with gr.Column(min_width=120, elem_classes="captioned"):
        gr.Markdown(label, elem_classes="image-caption")
        return readable_upload(gr.Image(type="filepath", image_mode=None, format="png", label=label, show_label=False,
                                        elem_classes="pixelated", **kwargs))


def output_image(label: str, **kwargs: Any) -> gr.Image:
    """A PNG output (lossless: 28x28 images must not be re-encoded as webp), upscaled without blur.

    The label is a caption above the image, not Gradio's label badge: the badge overlays the image and
    hid the top rows of every 28x28 digit (a two-line label hid a quarter of it). Only the download button
    is kept in the image's corner (fullscreen and share covered the top-right of the digit as well).
    """
    kwargs.setdefault("buttons", ["download"])
    with gr.Column(min_width=120, elem_classes="captioned"):
        gr.Markdown(label, elem_classes="image-caption")
        return gr.Image(label=label, show_label=False, format="png", elem_classes="pixelated", interactive=False,
                        **kwargs)


def captioned_gallery(label: str, **kwargs: Any) -> gr.Gallery:
    """A gallery of small images with its label as a caption above it, not as a badge over the first images; each
    image's caption under it (app.py's `.captioned-gallery` style), and no corner button over the last image."""
    kwargs.setdefault("buttons", [])
    kwargs.setdefault("height", "auto")
    kwargs["elem_classes"] = ["captioned-gallery", *_as_list(kwargs.get("elem_classes"))]
    with gr.Column(min_width=120, elem_classes="captioned"):
        gr.Markdown(label, elem_classes="image-caption")
        return gr.Gallery(label=label, show_label=False, format="png", **kwargs)


def _as_list(classes: str | list[str] | None) -> list[str]:
    return [] if classes is None else [classes] if isinstance(classes, str) else list(classes)



def class_menu(choices: list[tuple[str, int]], **kwargs: Any) -> gr.Dropdown:
    """A class menu whose API type is the class index (-1: any class): Gradio's Dropdown describes every choice
    value as a string, so `view_api()` would list `Literal['-1', '0', ...]` though the value sent and received is
    an int (`patch_component`)."""
    menu = gr.Dropdown(choices, **kwargs)

    def api_info() -> dict[str, Any]:
        values = [value for _, value in menu.choices]
        return {"type": "integer", "minimum": min(values), "maximum": max(values),
                "additional_description": "-1 for any class, else a class index"}

    return patch_component(menu, api_info=api_info)
