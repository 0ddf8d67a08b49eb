"""Turn whatever a user draws or uploads into exactly what the models were trained on.

MNIST's recipe: the ink is cropped to its bounding box, scaled so the longest side is 20 px
(aspect ratio kept, anti-aliased), and placed in a 28x28 frame with its centre of mass at the
centre. White ink on black, floats in [0, 1].

Every unusable input raises `InputError` with a message meant for the user.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

FRAME = 28
BOX = 20
MIN_SIDE = 8  # smaller images cannot hold a recognisable drawing
MAX_WORKING_SIDE = 560  # larger inputs are box-reduced first: 20 px is the target; 6000x6000 floats need GBs
MAX_PIXELS = 50_000_000  # refuse decompression bombs with a message instead of Pillow's warning
INK_THRESHOLD = 0.08  # fraction of the ink range below which a pixel is background noise


class InputError(ValueError):
    """A user input that cannot be turned into a model input; the message is shown to the user."""


def load_image(source: Any) -> Image.Image:
    """Accept a PIL image, a numpy array, a file path, or a Gradio sketchpad value."""
    if source is None:
        raise InputError("Nothing to read: draw a digit on the pad or upload an image.")
    if isinstance(source, dict):
        return _sketch_to_image(source)
    if isinstance(source, Image.Image):
        return source
    if isinstance(source, np.ndarray):
        return _array_to_image(source)
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if not path.is_file():
            raise InputError(f"File not found: {path.name}")
        try:
            with Image.open(path) as opened:
                if opened.width * opened.height > MAX_PIXELS:
                    raise InputError(f"Image is {opened.width}×{opened.height} px; the limit is "
                                     f"{MAX_PIXELS // 1_000_000} megapixels.")
                opened.load()
                return opened.copy()
        except UnidentifiedImageError:
            raise InputError(f"{path.name} is not an image file that can be read (use PNG, JPEG, WebP, BMP "
                             "or GIF).") from None
        except (OSError, Image.DecompressionBombError, SyntaxError, ValueError) as exc:
            raise InputError(f"{path.name} could not be decoded as an image ({exc.__class__.__name__}).") from None
    raise InputError(f"Unsupported input of type {type(source).__name__}; send an image.")


def _sketch_to_image(value: dict) -> Image.Image:
    """Gradio 6 sketchpad value {background, layers, composite}; an untouched or cleared pad has no composite."""
    composite = value.get("composite")
    if composite is None:
        layers = [layer for layer in (value.get("layers") or []) if layer is not None]
        if not layers:
            raise InputError("The drawing pad is empty: draw a digit first.")
        composite = layers[-1]
    return load_image(composite)


def _array_to_image(array: np.ndarray) -> Image.Image:
    if array.size == 0:
        raise InputError("The image is empty (0 pixels).")
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] not in (2, 3, 4)):
        raise InputError(f"Unsupported image array of shape {array.shape}.")
    if array.dtype == np.bool_:
        array = array.astype(np.uint8) * 255
    elif np.issubdtype(array.dtype, np.floating):
        finite = np.nan_to_num(array.astype(np.float64))
        scale = 255.0 if finite.max(initial=0) <= 1.0 else 1.0
        array = np.clip(finite * scale, 0, 255).astype(np.uint8)
    elif array.dtype != np.uint8:
        maximum = float(np.iinfo(array.dtype).max) if np.issubdtype(array.dtype, np.integer) else 255.0
        array = np.clip(array.astype(np.float64) * (255.0 / maximum), 0, 255).astype(np.uint8)
    if array.ndim == 3 and array.shape[2] == 2:  # grey + alpha
        return Image.fromarray(np.ascontiguousarray(array), mode="LA")
    return Image.fromarray(np.ascontiguousarray(array))


def _normalise_mode(image: Image.Image) -> Image.Image:
    """Bring any Pillow mode to one of L, LA, RGB, RGBA or F (16/32-bit greyscale)."""
    mode = image.mode
    if mode in ("L", "LA", "RGB", "RGBA", "F"):
        return image
    if mode.startswith("I"):  # I, I;16, I;16B, ...: keep the depth, as floats
        return image.convert("F") if mode == "I" else image.convert("I").convert("F")
    if mode in ("P", "PA", "La", "RGBa"):
        return image.convert("RGBA")
    if mode == "1":
        return image.convert("L")
    return image.convert("RGB")  # CMYK, YCbCr, LAB, HSV


def ink_map(image: Image.Image) -> np.ndarray:
    """Ink intensity >= 0 (larger = more ink) from alpha, or from luminance with automatic inversion."""
    if image.width < MIN_SIDE or image.height < MIN_SIDE:
        raise InputError(f"Image is {image.width}×{image.height} px; it needs at least {MIN_SIDE}×{MIN_SIDE} px "
                         "to hold a drawing.")
    image = _normalise_mode(ImageOps.exif_transpose(image))
    factor = -(-max(image.size) // MAX_WORKING_SIDE)
    if factor > 1:  # box-average huge inputs first: cheap, and 20 px is all we keep
        image = image.reduce(factor)
    if image.mode == "F":
        grey = np.asarray(image, dtype=np.float64)
        lo, hi = float(grey.min()), float(grey.max())
        luminance, alpha = ((grey - lo) / (hi - lo) if hi > lo else np.zeros_like(grey)), None
    else:
        alpha = np.asarray(image.getchannel("A"), dtype=np.float64) / 255.0 if image.mode in ("LA", "RGBA") else None
        luminance = np.asarray(image.convert("L"), dtype=np.float64) / 255.0
    if alpha is not None and alpha.max() - alpha.min() > 0.1:
        # Transparent background: the alpha channel is the ink (a sketchpad stroke, a PNG cut-out).
        return alpha
    # Opaque: the border is the background of any reasonable drawing; it decides the polarity.
    border = np.concatenate([luminance[0], luminance[-1], luminance[:, 0], luminance[:, -1]])
    background = float(np.median(border))
    ink = background - luminance if background > 0.5 else luminance - background
    return np.clip(ink, 0.0, None)


def to_model_input(source: Any) -> np.ndarray:
    """A (28, 28) float32 image in [0, 1]: cropped, scaled to 20 px, centred by centre of mass."""
    ink = ink_map(load_image(source))
    peak = float(ink.max())
    if peak < 0.1:
        raise InputError("No ink found: the image is blank (or a single flat colour). Draw or upload a digit.")
    ink = ink / peak
    rows = np.flatnonzero((ink > INK_THRESHOLD).any(axis=1))
    cols = np.flatnonzero((ink > INK_THRESHOLD).any(axis=0))
    crop = ink[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
    if crop.shape[0] >= 0.98 * ink.shape[0] and crop.shape[1] >= 0.98 * ink.shape[1] and ink.mean() > 0.6:
        raise InputError("The whole image is ink: it looks like a solid or inverted picture, not a drawing.")
    h, w = crop.shape
    scale = BOX / max(h, w)
    new_h, new_w = max(1, round(h * scale)), max(1, round(w * scale))
    resized = np.asarray(Image.fromarray(crop.astype(np.float32), mode="F").resize((new_w, new_h), Image.LANCZOS))
    resized = np.clip(resized, 0.0, None)
    resized /= max(float(resized.max()), 1e-6)
    return _centre_by_mass(resized)


def _centre_by_mass(patch: np.ndarray) -> np.ndarray:
    frame = np.zeros((FRAME, FRAME), dtype=np.float32)
    h, w = patch.shape
    total = float(patch.sum())
    ys, xs = np.mgrid[0:h, 0:w]
    cy, cx = (float((ys * patch).sum()) / total, float((xs * patch).sum()) / total) if total > 0 else (h / 2, w / 2)
    top = int(np.clip(round(FRAME / 2 - 0.5 - cy), 0, FRAME - h))
    left = int(np.clip(round(FRAME / 2 - 0.5 - cx), 0, FRAME - w))
    frame[top:top + h, left:left + w] = patch
    return np.clip(frame, 0.0, 1.0)
