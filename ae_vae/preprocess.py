"""Turn whatever a user draws, uploads or photographs into exactly what the models were trained on.

Two steps: find the ink, then frame it the way the chosen data set was framed.

Finding the ink (`ink_map`):
- a transparent canvas (the sketchpad, a PNG cut-out): the alpha channel is the ink;
- a clean opaque image (flat background, e.g. black on white, white on black, an enlarged test
  image): the difference from the border's background level, its sign deciding the polarity;
- a photo or scan (noisy, unevenly lit, textured paper): the paper is estimated at a large scale and
  divided out (flat-field), ink is separated from paper by Otsu's threshold on the normalised image,
  and connected components drop specks (relative to the largest stroke, so the same drawing gives the
  same ink at any pixel size) and page edges along the border.

Framing (`to_model_input(..., dataset=...)`), each data set's published recipe:
- MNIST: crop to the ink's bounding box, scale the longest side to 20 px (aspect ratio kept,
  anti-aliased), put the centre of mass where MNIST has it, at pixel (14, 14) of a 28x28 frame;
- Fashion-MNIST: trim to the item, scale the longest side to 28 px, centre the box
  (an odd margin puts the extra pixel at the top / left, as in the data set).
White ink on black, floats in [0, 1]. Every unusable input raises `InputError` with a message meant
for the user.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, UnidentifiedImageError
from scipy import ndimage

from .data import normalize_dataset_name
from .errors import InputError

FRAME = 28
BOX = 20
MIN_SIDE = 8  # smaller images cannot hold a recognisable drawing
MAX_WORKING_SIDE = 560  # larger inputs are box-reduced first: 20 px is the target; 6000x6000 floats need GBs
MAX_PIXELS = 50_000_000  # refuse decompression bombs with a message instead of Pillow's warning
INK_THRESHOLD = 0.08  # fraction of the ink range below which a pixel is background noise (MNIST crop)
TRIM_THRESHOLD = 0.05  # Fashion-MNIST trimmed exactly; this skips JPEG ringing and a smooth enlargement's halo
MNIST_CENTRE = 14.0  # where MNIST's centres of mass are, in 0-based pixel indices (test set: 13.99, 14.01), not 13.5
KEPT_METADATA = ("transparency",)  # needed to decode palette images; everything else (EXIF, GPS, XMP, ICC) goes

# Photos and scans (see `_photo_ink`).
FLAT_TOLERANCE = 0.5 / 255  # a border pixel this close to the background level is exactly background
FLAT_SHARE = 0.5  # a clean image has at least this share of such border pixels at the border's median ...
MODE_SHARE = 0.3  # ... or at its most frequent level (an item covering most of the border)
BACKGROUND_GRID = 64  # the paper is estimated on a grid this many cells along the longest side
BACKGROUND_WINDOW = 11  # ... by a grey opening over this many cells: wider than any stroke, narrower than shadows
MIN_INK_SNR = 7.0  # typical ink must stand this many noise deviations above the paper (blank paper: ~4.5)
SPECK_SHARE = 0.05  # components with less ink than this share of the largest one are specks
EDGE_MARGIN = 0.15  # a component hugging one side within this share of the image ...
EDGE_LENGTH = 0.3  # ... along at least this share of that side is the edge of the page (or the table beyond)
_ORIENTATION = {2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180, 4: Image.Transpose.FLIP_TOP_BOTTOM,
                5: Image.Transpose.TRANSPOSE, 6: Image.Transpose.ROTATE_270, 7: Image.Transpose.TRANSVERSE,
                8: Image.Transpose.ROTATE_90}  # EXIF orientation -> the transposition that makes the image upright


@dataclass(frozen=True)
class UnreadableUpload:
    """An upload that could not be opened, passed on in its place: reading it raises `InputError(message)` in the
    handler, so the problem is said where the handler's outputs and status are (and they are emptied), not as
    a pop-up over the previous input's results."""

    message: str


@dataclass(frozen=True)
class Framing:
    """How a data set placed its images in the 28x28 frame."""

    box: int  # longest side of the scaled ink, px
    crop_threshold: float  # share of the peak ink that counts for the bounding box
    by_mass: bool  # centre of mass at the centre (MNIST) or the bounding box centred (Fashion-MNIST)
    solid_fill: float  # mean ink of a frame-filling crop above which the input is a solid picture, not a drawing
    full_ink: bool  # the scaled ink's peak is stretched to 1 (MNIST's strokes) or kept (Fashion's shades)


# Fashion-MNIST items may fill the frame (a bag: mean ink up to 0.75 in the training set); a digit never does.
FRAMINGS = {"mnist": Framing(BOX, INK_THRESHOLD, by_mass=True, solid_fill=0.6, full_ink=True),
            "fashion_mnist": Framing(FRAME, TRIM_THRESHOLD, by_mass=False, solid_fill=0.9,
                                     full_ink=False)}


def load_image(source: Any) -> Image.Image:
    """Accept a PIL image, a numpy array, a file path, or a Gradio sketchpad value.

    The image returned carries no metadata: EXIF (with a phone's GPS location), XMP, ICC profiles and
    comments of an upload are dropped on receipt, after the EXIF orientation has been applied to the
    pixels. Only what decoding needs (a palette's transparent colour) is kept.
    """
    if source is None:
        raise InputError("Nothing to read: draw a digit on the pad or upload an image.")
    if isinstance(source, UnreadableUpload):
        raise InputError(source.message)
    if isinstance(source, dict):
        return _sketch_to_image(source)
    if isinstance(source, Image.Image):
        return upright_without_metadata(source)
    if isinstance(source, np.ndarray):
        return _array_to_image(source)
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if not path.is_file():
            raise InputError(f"File not found: {path.name}")
        try:
            with warnings.catch_warnings():  # Pillow warns of an image that big; it is refused below, in one message
                warnings.simplefilter("ignore", Image.DecompressionBombWarning)
                opened = Image.open(path)
            with opened:
                if opened.width * opened.height > MAX_PIXELS:
                    raise InputError(f"Image is {opened.width}×{opened.height} px; the limit is "
                                     f"{MAX_PIXELS // 1_000_000} megapixels.")
                if opened.format in ("JPEG", "MPO") and max(opened.size) > 2 * MAX_WORKING_SIDE:
                    # Decode a phone photo at 1/2..1/8 scale in the JPEG decoder itself: ~10x faster,
                    # and still at least MAX_WORKING_SIDE px, all that ink finding uses.
                    shrink = max(opened.size) / MAX_WORKING_SIDE
                    opened.draft(opened.mode, (int(opened.width / shrink) + 1, int(opened.height / shrink) + 1))
                opened.load()
                return upright_without_metadata(opened)
        except InputError:
            raise  # (an InputError is a ValueError: said as it is, not as a decoding failure)
        except Image.DecompressionBombError:
            raise InputError(f"{path.name} is too large: the limit is {MAX_PIXELS // 1_000_000} megapixels.") from None
        except UnidentifiedImageError:
            raise InputError(f"{path.name} is not an image file that can be read (use PNG, JPEG, WebP, BMP "
                             "or GIF).") from None
        except (OSError, SyntaxError, ValueError):
            raise InputError(f"{path.name} could not be decoded as an image: the file is damaged or cut short.") from None
    raise InputError(f"Unsupported input of type {type(source).__name__}; send an image.")


def upright_without_metadata(image: Image.Image) -> Image.Image:
    """A copy turned upright by its EXIF orientation, without EXIF / XMP / ICC / comments.

    An image that carries no metadata is returned as is (no copy).
    """
    extra = [key for key in image.info if key not in KEPT_METADATA]
    exif = image.getexif()
    if not extra and not exif:
        return image
    method = _ORIENTATION.get(exif.get(0x0112, 1))  # 0x0112: Orientation (also read from XMP by Pillow)
    upright = image.transpose(method) if method is not None else image.copy()  # a new image: no cached EXIF
    upright.info = {key: value for key, value in image.info.items() if key in KEPT_METADATA}
    return upright


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
    """Ink intensity >= 0 (larger = more ink): alpha, the difference from a flat background, or photo ink."""
    if image.width < MIN_SIDE or image.height < MIN_SIDE:
        raise InputError(f"Image is {image.width}×{image.height} px; it needs at least {MIN_SIDE}×{MIN_SIDE} px "
                         "to hold a drawing.")
    image = _normalise_mode(upright_without_metadata(image))
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
    background = _flat_background(np.concatenate([luminance[0], luminance[-1], luminance[:, 0], luminance[:, -1]]))
    if background is None:
        return _photo_ink(luminance)  # no flat background: a photo or a scan of paper
    ink = background - luminance if background > 0.5 else luminance - background
    return np.clip(ink, 0.0, None)


def _flat_background(border: np.ndarray) -> float | None:
    """The background level when the border is mostly exactly one level (a clean image), else None."""
    background = float(np.median(border))
    if np.mean(np.abs(border - background) <= FLAT_TOLERANCE) >= FLAT_SHARE:
        return background
    levels, counts = np.unique(np.round(border * 255), return_counts=True)
    return float(levels[np.argmax(counts)]) / 255 if counts.max() >= MODE_SHARE * len(border) else None


def _photo_ink(luminance: np.ndarray) -> np.ndarray:
    """Ink in [0, 1] of a photographed or scanned drawing, zero on the paper.

    1. Polarity: dark ink on light paper, the common case, unless, seen from the paper's level at the
       border, the image's extremes reach more than twice as far to the bright side (chalk on a board):
       a shadow or the table beyond the page's edge must not flip it.
    2. The paper (with its illumination gradient and shadows) is what remains at a large scale once
       thin ink is removed: a grey opening on a coarse grid, wider than any stroke. Dividing it out
       (flat-field) makes the ink's contrast the same in light and in shadow.
    3. Otsu's threshold on the normalised ink separates ink from paper (never below the paper's noise);
       ink regions are grown to half that threshold (hysteresis) to keep the strokes' soft edges.
    4. Connected components with less ink than a share of the largest are specks; a component hugging
       a side of the image is the page's edge. Both are dropped. What is left must stand out from the
       paper's noise (MIN_INK_SNR), or the photo is of blank paper.
    """
    sample = (slice(None, None, 2), slice(None, None, 2))  # statistics on a quarter of the pixels: 4x faster
    border = float(np.median(np.concatenate([luminance[0], luminance[-1], luminance[:, 0], luminance[:, -1]])))
    darkest, brightest = np.percentile(luminance[sample], [0.2, 99.8])
    dark = 2.0 * (border - darkest) >= brightest - border
    coarse, to_full = _coarse_grid(luminance)
    window = max(3, min(BACKGROUND_WINDOW, *coarse.shape))
    darkness, coarse = (1.0 - luminance, 1.0 - coarse) if dark else (luminance, coarse)
    paper = ndimage.grey_opening(coarse, size=(window, window), mode="nearest")  # ink removed
    paper = to_full(ndimage.uniform_filter(paper, size=max(1, window // 2), mode="nearest"))
    ink = np.clip((darkness - paper) / np.maximum(1.0 - paper, 0.05), 0.0, None)
    level = float(np.median(ink[sample]))
    noise = 1.4826 * float(np.median(np.abs(ink[sample] - level)))
    strong_at = max(_otsu(ink[sample]), level + 4.0 * noise)
    strong = ink > strong_at
    weak_at = max(strong_at / 2.0, level + 2.0 * noise)
    labels, count = ndimage.label(ink > weak_at, structure=np.ones((3, 3)))
    mask = _ink_components(labels, count, strong)[labels] & (labels > 0)
    stroke = float(np.median(ink[mask & strong])) if mask.any() else 0.0
    if stroke - level < MIN_INK_SNR * noise:  # blank paper: only its own texture and noise passed the threshold
        return np.zeros_like(ink)
    return np.where(mask, np.clip((ink - weak_at) / max(stroke - weak_at, 1e-6), 0.0, 1.0), 0.0)


def _coarse_grid(image: np.ndarray):
    """The image averaged on a grid of about BACKGROUND_GRID cells along its longest side, and the way back:
    a function bringing such a grid to the image's size (bilinear)."""
    h, w = image.shape
    step = max(1, -(-max(h, w) // BACKGROUND_GRID))
    ch, cw = -(-h // step), -(-w // step)
    padded = np.pad(image, ((0, ch * step - h), (0, cw * step - w)), mode="edge")

    def to_full(grid: np.ndarray) -> np.ndarray:
        full = Image.fromarray(grid.astype(np.float32), mode="F").resize((cw * step, ch * step), Image.BILINEAR)
        return np.asarray(full, dtype=np.float64)[:h, :w]

    return padded.reshape(ch, step, cw, step).mean(axis=(1, 3)), to_full


def _otsu(values: np.ndarray, bins: int = 256) -> float:
    """Otsu's threshold: the split of the histogram that maximises the between-class variance."""
    hist, edges = np.histogram(values, bins=bins, range=(0.0, max(float(values.max()), 1e-6)))
    centres = (edges[:-1] + edges[1:]) / 2
    weight = np.cumsum(hist).astype(np.float64)
    total = weight[-1]
    mean = np.cumsum(hist * centres)
    between = (mean[-1] * weight - mean * total) ** 2 / np.maximum(weight * (total - weight), 1e-12)
    return float(centres[int(np.argmax(between[:-1]))])


def _ink_components(labels: np.ndarray, count: int, strong: np.ndarray) -> np.ndarray:
    """Which labels (index 0: the paper) are ink: they hold strong pixels, are not specks and not page edges."""
    keep = np.zeros(count + 1, dtype=bool)
    if count == 0:
        return keep
    index = np.arange(1, count + 1)
    amount = ndimage.sum_labels(strong, labels, index)
    h, w = labels.shape
    for label, found in enumerate(ndimage.find_objects(labels), start=1):
        if found is None or amount[label - 1] < SPECK_SHARE * amount.max():
            continue
        rows, cols = found
        hugs = ((rows.start == 0 or rows.stop == h) and rows.stop - rows.start <= EDGE_MARGIN * h
                and cols.stop - cols.start >= EDGE_LENGTH * w) or \
               ((cols.start == 0 or cols.stop == w) and cols.stop - cols.start <= EDGE_MARGIN * w
                and rows.stop - rows.start >= EDGE_LENGTH * h)
        keep[label] = not hugs
    return keep


def fill_closed_outlines(ink: np.ndarray) -> np.ndarray:
    """Fill closed outlines: a garment drawn as its contour becomes the filled silhouette Fashion-MNIST shows.

    Gaps up to ~3% of the drawing's size are closed first, so a contour that almost meets itself counts.
    """
    mask = ink > 0.25 * float(ink.max())
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    if not len(rows):
        return ink
    gap = max(1, round(0.015 * max(rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1)))
    grown = ndimage.binary_dilation(np.pad(mask, gap), iterations=gap)
    solid = ndimage.binary_erosion(ndimage.binary_fill_holes(grown), iterations=gap, border_value=1)
    return np.where(solid[gap:-gap, gap:-gap] & ~mask, float(ink.max()), ink)


def framing(dataset: str) -> Framing:
    try:
        return FRAMINGS[normalize_dataset_name(str(dataset))]
    except ValueError as exc:
        raise InputError(str(exc)) from None


def to_model_input(source: Any, dataset: str = "mnist", *, fill_outlines: bool = False) -> np.ndarray:
    """A (28, 28) float32 image in [0, 1], framed as `dataset`'s images are.

    MNIST: cropped, longest side scaled to 20 px, centred by centre of mass. Fashion-MNIST: trimmed,
    longest side scaled to 28 px, the box centred. `fill_outlines` fills closed contours first (for
    garments drawn as outlines: Fashion-MNIST items are filled silhouettes; a digit's loops must stay open).
    """
    frame = framing(dataset)
    ink = ink_map(load_image(source))
    peak = float(ink.max())
    if peak < 0.1:
        raise InputError("No ink found: the image is blank (or a single flat colour). Draw or upload a digit.")
    ink = ink / peak
    if fill_outlines:
        ink = fill_closed_outlines(ink)
    rows = np.flatnonzero((ink > frame.crop_threshold).any(axis=1))
    cols = np.flatnonzero((ink > frame.crop_threshold).any(axis=0))
    crop = ink[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
    if crop.shape[0] >= 0.98 * ink.shape[0] and crop.shape[1] >= 0.98 * ink.shape[1] and ink.mean() > frame.solid_fill:
        raise InputError("The whole image is ink: it looks like a solid or inverted picture, not a drawing.")
    h, w = crop.shape
    scale = frame.box / max(h, w)
    new_h, new_w = max(1, round(h * scale)), max(1, round(w * scale))
    resized = np.asarray(Image.fromarray(crop.astype(np.float32), mode="F").resize((new_w, new_h), Image.LANCZOS))
    resized = np.clip(resized, 0.0, None)
    if frame.full_ink:
        resized /= max(float(resized.max()), 1e-6)
    return _centre_by_mass(resized) if frame.by_mass else _centre_box(resized)


def _centre_by_mass(patch: np.ndarray) -> np.ndarray:
    frame = np.zeros((FRAME, FRAME), dtype=np.float32)
    h, w = patch.shape
    total = float(patch.sum())
    ys, xs = np.mgrid[0:h, 0:w]
    cy, cx = (float((ys * patch).sum()) / total, float((xs * patch).sum()) / total) if total > 0 else (h / 2, w / 2)
    top = int(np.clip(round(MNIST_CENTRE - cy), 0, FRAME - h))
    left = int(np.clip(round(MNIST_CENTRE - cx), 0, FRAME - w))
    frame[top:top + h, left:left + w] = patch
    return np.clip(frame, 0.0, 1.0)


def _centre_box(patch: np.ndarray) -> np.ndarray:
    """The box in the middle of the frame; an odd margin leaves the extra pixel above / left, as Fashion-MNIST."""
    frame = np.zeros((FRAME, FRAME), dtype=np.float32)
    h, w = patch.shape
    top, left = (FRAME - h + 1) // 2, (FRAME - w + 1) // 2
    frame[top:top + h, left:left + w] = patch
    return np.clip(frame, 0.0, 1.0)
