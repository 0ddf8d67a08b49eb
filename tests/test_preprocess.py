"""Preprocessing: strokes of every kind, photos and scans land centred and scaled like MNIST; each data set's
framing gives its own test images back; bad inputs get messages."""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from ae_vae.errors import InputError
from ae_vae.preprocess import load_image, to_model_input


def stroke_canvas(size=280, box=(100, 60, 140, 200), width=18, ink=0, paper=255, mode="L") -> Image.Image:
    """A '1'-like stroke plus a bar, drawn with PIL: dark ink on light paper by default."""
    image = Image.new(mode, (size, size), paper)
    draw = ImageDraw.Draw(image)
    x0, y0, x1, y1 = box
    draw.line([(x0, y0), (x1, y1)], fill=ink, width=width)
    draw.line([(x0, y1), (x1 + 20, y1)], fill=ink, width=width)
    return image


def assert_mnist_like(x: np.ndarray) -> None:
    assert x.shape == (28, 28) and x.dtype == np.float32
    assert 0.0 <= x.min() and x.max() == pytest.approx(1.0, abs=1e-6)
    ys, xs = np.nonzero(x > 0.05)
    extent = max(ys.max() - ys.min() + 1, xs.max() - xs.min() + 1)
    assert 19 <= extent <= 22, f"longest side {extent}, MNIST uses 20"
    total = x.sum()
    cy = (np.arange(28)[:, None] * x).sum() / total
    cx = (np.arange(28)[None, :] * x).sum() / total
    assert abs(cy - 13.5) <= 1.0 and abs(cx - 13.5) <= 1.0, f"centre of mass at ({cy:.1f}, {cx:.1f})"
    assert x[0].max() == 0 and x[-1].max() == 0 and x[:, 0].max() == 0 and x[:, -1].max() == 0


@pytest.mark.parametrize("box", [(20, 20, 60, 120), (200, 150, 240, 260), (120, 100, 150, 180)],
                         ids=["top-left", "bottom-right", "centre"])
def test_offset_strokes_are_centred(box):
    assert_mnist_like(to_model_input(stroke_canvas(box=box)))


def test_tiny_drawing_is_scaled_up():
    assert_mnist_like(to_model_input(stroke_canvas(box=(130, 130, 134, 142), width=2)))


def test_huge_image_is_scaled_down():
    image = stroke_canvas(size=6000, box=(1500, 1000, 3000, 5000), width=400)
    assert_mnist_like(to_model_input(image))


def test_thin_stroke_survives():
    assert_mnist_like(to_model_input(stroke_canvas(width=1)))


def test_polarity_is_detected():
    dark_on_light = to_model_input(stroke_canvas(ink=0, paper=255))
    light_on_dark = to_model_input(stroke_canvas(ink=255, paper=0))
    np.testing.assert_allclose(dark_on_light, light_on_dark, atol=1e-5)


def test_alpha_only_drawing_uses_the_alpha_channel():
    """What the sketchpad sends: black strokes on a fully transparent canvas."""
    mask = np.asarray(stroke_canvas(ink=255, paper=0))
    rgba = np.zeros((280, 280, 4), np.uint8)
    rgba[..., 3] = mask
    x = to_model_input(rgba)
    assert_mnist_like(x)
    np.testing.assert_allclose(x, to_model_input(stroke_canvas()), atol=1e-5)


def test_sketchpad_value_dict():
    rgba = np.zeros((280, 280, 4), np.uint8)
    rgba[..., 3] = np.asarray(stroke_canvas(ink=255, paper=0))
    value = {"background": None, "layers": [rgba], "composite": rgba}
    assert_mnist_like(to_model_input(value))


@pytest.mark.parametrize("mode", ["RGB", "CMYK", "LA", "P", "I;16", "I", "F", "1", "RGBA"])
def test_every_pillow_mode_gives_the_same_input(mode):
    reference = to_model_input(stroke_canvas())
    image = stroke_canvas()
    if mode == "I;16":
        image = Image.fromarray(np.asarray(image).astype(np.uint16) * 257)
        assert image.mode == "I;16"
    else:
        image = image.convert(mode)
    np.testing.assert_allclose(to_model_input(image), reference, atol=0.02)


def test_uint16_and_float_arrays():
    reference = to_model_input(stroke_canvas())
    grey = np.asarray(stroke_canvas())
    np.testing.assert_allclose(to_model_input(grey.astype(np.uint16) * 257), reference, atol=0.02)
    np.testing.assert_allclose(to_model_input(grey.astype(np.float32) / 255), reference, atol=0.02)


@pytest.mark.parametrize("bad, message", [
    (None, "draw a digit"),
    ({"background": None, "layers": [], "composite": None}, "empty"),
    (np.zeros((280, 280, 4), np.uint8), "No ink"),  # a cleared pad: fully transparent
    (np.zeros((100, 100), np.uint8), "No ink"),  # solid black
    (np.full((100, 100, 3), 255, np.uint8), "No ink"),  # solid white
    (np.zeros((1, 1), np.uint8), "1×1"),
    (np.zeros((0, 5), np.uint8), "empty"),
    (np.zeros((5, 5, 7), np.uint8), "shape"),
    (12, "Unsupported"),
], ids=["none", "blank-pad", "cleared-pad", "black", "white", "1x1", "zero-size", "7-channels", "number"])
def test_bad_inputs_raise_clear_messages(bad, message):
    with pytest.raises(InputError, match=message):
        to_model_input(bad)


def test_bad_files(tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("not an image")
    with pytest.raises(InputError, match="notes.txt is not an image"):
        to_model_input(str(text))
    broken = tmp_path / "broken.png"
    stroke_canvas().save(broken)
    broken.write_bytes(broken.read_bytes()[:60])
    with pytest.raises(InputError, match="broken.png"):
        to_model_input(str(broken))
    with pytest.raises(InputError, match="not found"):
        to_model_input(str(tmp_path / "missing.png"))


def test_image_files_of_every_mode(tmp_path):
    reference = to_model_input(stroke_canvas())
    for mode, suffix in (("L", "png"), ("RGB", "jpg"), ("CMYK", "jpg"), ("P", "gif"), ("LA", "png"), ("RGB", "webp")):
        path = tmp_path / f"digit-{mode}.{suffix}"
        stroke_canvas().convert(mode).save(path)
        x = to_model_input(str(path))
        assert_mnist_like(x)
        assert np.abs(x - reference).mean() < 0.02, (mode, suffix)  # JPEG / WebP are lossy


# ---------------------------------------------------------------- photos and scans

def photo_like(drawing: Image.Image, seed: int = 0, gradient: float = 0.3, shadow: float = 0.3, noise: float = 5.0,
               jpeg: int | None = 70, paper: float = 0.8, ink: float = 0.2, edge: str | None = None,
               specks: int = 0, chalk: bool = False) -> Image.Image:
    """`drawing` (dark strokes on white, mode L) as a phone would photograph it: textured grey paper,
    an illumination gradient, a soft shadow, sensor noise, JPEG; optionally the page's edge and dust."""
    rng = np.random.default_rng(seed)
    coverage = 1.0 - np.asarray(drawing.convert("L"), np.float64) / 255
    h, w = coverage.shape
    yy, xx = np.mgrid[0:h, 0:w] / max(h, w)
    texture = np.asarray(Image.fromarray(rng.normal(0, 1, (h // 8 + 1, w // 8 + 1))).resize((w, h), Image.BICUBIC))
    surface = paper * (1 + 0.02 * texture) * (1 - gradient * (0.6 * xx + 0.4 * yy))
    surface *= 1 - shadow / (1 + np.exp(-(xx - 0.75 * yy - 0.1) / 0.05))
    for _ in range(specks):
        cy, cx = rng.integers(0, h), rng.integers(0, w)
        coverage[max(0, cy - 2):cy + 2, max(0, cx - 2):cx + 2] = 0.5
    if chalk:  # light strokes on a dark board
        grey = 0.25 * surface / paper + coverage * 0.6
    else:
        grey = surface * (1 - coverage * (1 - ink / paper))
    if edge == "right":
        grey[:, -w // 20:] = 0.15
    elif edge == "bottom":
        grey[-h // 15:] = 0.2
    grey = grey + rng.normal(0, noise / 255, grey.shape)
    image = Image.fromarray(np.clip(grey * 255 + 0.5, 0, 255).astype(np.uint8)).convert("RGB")
    if jpeg is None:
        return image
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=jpeg)
    return Image.open(io.BytesIO(buffer.getvalue()))


@pytest.mark.parametrize("kwargs", [
    {}, {"gradient": 0.45}, {"shadow": 0.45}, {"noise": 10.0}, {"jpeg": 30}, {"paper": 0.45, "ink": 0.1},
    {"edge": "right"}, {"edge": "bottom"}, {"specks": 6}, {"chalk": True}, {"jpeg": None, "shadow": 0.0},
], ids=["default", "strong-gradient", "deep-shadow", "noisy", "jpeg-30", "dim", "page-edge-right",
        "page-edge-bottom", "dust", "chalk-on-board", "png-noise-only"])
@pytest.mark.parametrize("box", [(20, 20, 60, 120), (120, 100, 150, 180)], ids=["corner", "centre"])
def test_photo_like_inputs_land_centred_in_a_20px_box(kwargs, box):
    """Paper texture, light and shadow must not count as ink: the same input as the clean drawing."""
    clean = stroke_canvas(box=box)
    x = to_model_input(photo_like(clean, **kwargs))
    assert_mnist_like(x)
    assert np.abs(x - to_model_input(clean)).mean() < 0.03  # 0.09..0.14 before photos had their own ink finder


@pytest.mark.parametrize("seed", range(3))
def test_small_and_large_photos_of_one_drawing_agree(seed):
    """Ink finding must not depend on the pixel size: specks are judged relative to the ink."""
    large = photo_like(stroke_canvas(size=1400, box=(500, 300, 700, 1000), width=90), seed=seed, specks=8, jpeg=None)
    small = large.resize((140, 140), Image.BOX)
    a, b = to_model_input(large), to_model_input(small)
    assert_mnist_like(a)
    assert_mnist_like(b)
    assert np.abs(a - b).mean() < 0.03


def test_large_photo_jpeg_file_is_decoded_small_and_upright(tmp_path):
    """A 12-megapixel phone photo (JPEG, EXIF orientation 6 = rotated 90°) gives the upright drawing."""
    drawing = stroke_canvas(size=3000, box=(1100, 600, 1500, 2000), width=160)
    upright = photo_like(drawing, jpeg=None)
    exif = Image.Exif()
    exif[0x0112] = 6  # the camera was held rotated: viewers turn the stored pixels 90° clockwise
    path = tmp_path / "phone.jpg"
    upright.transpose(Image.Transpose.ROTATE_90).save(path, quality=85, exif=exif)
    x = to_model_input(str(path))
    assert_mnist_like(x)
    assert np.abs(x - to_model_input(drawing)).mean() < 0.05


def test_uploads_carry_no_metadata(tmp_path):
    """EXIF (GPS location), XMP and comments are dropped on receipt; the orientation is applied first."""
    exif = Image.Exif()
    exif[0x0112] = 8  # rotated 90° counter-clockwise
    exif[0x8825] = {1: "N", 2: (48.0, 51.0, 30.0)}  # GPS IFD: latitude
    path = tmp_path / "located.jpg"
    stroke_canvas(size=200, box=(40, 40, 80, 150)).save(path, exif=exif, comment=b"my street")
    with Image.open(path) as original:
        assert original.getexif() and "exif" in original.info
    image = load_image(str(path))
    assert not image.getexif() and set(image.info) <= {"transparency"}
    assert image.size == (200, 200)
    np.testing.assert_array_equal(np.asarray(image), np.asarray(Image.open(path).transpose(Image.Transpose.ROTATE_90)))
    given = Image.open(path)
    assert not load_image(given).getexif() and given.getexif()  # a caller's image is copied, not changed


# ---------------------------------------------------------------- each data set's own framing

def bundled_examples(dataset: str) -> tuple[np.ndarray, np.ndarray]:
    """The test-set examples shipped with the weights (weights/<dataset>-ae/embeddings.safetensors), in [0, 1]."""
    from safetensors.numpy import load_file

    path = Path(__file__).resolve().parents[1] / "weights" / f"{dataset}-ae" / "embeddings.safetensors"
    if not path.is_file():
        pytest.skip(f"{path} is absent")
    tensors = load_file(str(path))
    return tensors["example_images"].astype(np.float32) / 255, tensors["example_labels"]


def enlarged(image: np.ndarray, resample: int, factor: int = 10) -> Image.Image:
    """A 28x28 test image (white on black) saved as a user would meet it: enlarged, RGB."""
    return Image.fromarray((image * 255 + 0.5).astype(np.uint8)).resize((28 * factor,) * 2, resample).convert("RGB")


@pytest.mark.parametrize("dataset", ["mnist", "fashion_mnist"])
@pytest.mark.parametrize("resample, bound", [(Image.NEAREST, 0.03), (Image.BICUBIC, 0.06)], ids=["nearest", "bicubic"])
def test_enlarged_test_images_come_back_as_themselves(dataset, resample, bound):
    images, _ = bundled_examples(dataset)
    diffs = [np.abs(to_model_input(enlarged(x, resample), dataset=dataset) - x).mean() for x in images]
    assert np.mean(diffs) <= bound, f"mean |model input - original| = {np.mean(diffs):.4f}"
    inverted = enlarged(images[0], resample).point(lambda v: 255 - v)  # dark on light, as a printout
    np.testing.assert_allclose(to_model_input(inverted, dataset=dataset),
                               to_model_input(enlarged(images[0], resample), dataset=dataset), atol=0.02)


def test_fashion_framing_fills_the_frame_and_centres_the_box():
    x = to_model_input(stroke_canvas(box=(20, 20, 60, 120)), dataset="Fashion-MNIST")
    rows, cols = np.flatnonzero(x.max(axis=1) > 0.05), np.flatnonzero(x.max(axis=0) > 0.05)
    assert rows[0] == 0 and rows[-1] == 27, "longest side scaled to 28 px"
    assert abs((cols[0] + cols[-1]) / 2 - 13.5) <= 0.5, "box centred"
    assert x.max() <= 1.0 and x.dtype == np.float32


def test_unknown_dataset_is_a_clear_message():
    with pytest.raises(InputError, match="unknown dataset 'cifar'"):
        to_model_input(stroke_canvas(), dataset="cifar")


def tshirt(outline: bool, gap: int = 0, size: int = 280) -> Image.Image:
    """A T-shirt drawn as a filled silhouette or as its contour (optionally with a gap in the contour)."""
    points = [(90, 40), (120, 40), (140, 60), (160, 40), (190, 40), (250, 90), (220, 130), (200, 110),
              (200, 250), (80, 250), (80, 110), (60, 130), (30, 90)]
    image = Image.new("L", (size, size), 255)
    draw = ImageDraw.Draw(image)
    if outline:
        draw.line(points + [points[0]], fill=0, width=8, joint="curve")
        if gap:
            draw.rectangle((140 - gap // 2, 240, 140 + gap // 2, 260), fill=255)
    else:
        draw.polygon(points, fill=0)
    return image


def test_outlines_are_filled_on_request():
    silhouette = to_model_input(tshirt(outline=False), dataset="fashion_mnist")
    contour = to_model_input(tshirt(outline=True), dataset="fashion_mnist")
    filled = to_model_input(tshirt(outline=True), dataset="fashion_mnist", fill_outlines=True)
    assert contour[14, 14] < 0.1 and filled[14, 14] > 0.9
    assert np.abs(filled - silhouette).mean() < 0.03 < np.abs(contour - silhouette).mean()
    nearly_closed = to_model_input(tshirt(outline=True, gap=4), dataset="fashion_mnist", fill_outlines=True)
    assert np.abs(nearly_closed - filled).mean() < 0.02, "a gap of ~1.5% of the drawing is closed first"
    open_contour = to_model_input(tshirt(outline=True, gap=60), dataset="fashion_mnist", fill_outlines=True)
    assert open_contour[14, 14] < 0.1, "an open contour stays open"
    refilled = to_model_input(tshirt(outline=False), dataset="fashion_mnist", fill_outlines=True)
    assert np.abs(refilled - silhouette).mean() < 0.005, "a silhouette has nothing to fill"


def test_an_image_over_the_pixel_limit_says_so_with_the_limit(tmp_path):
    path = tmp_path / "huge.png"
    Image.new("L", (12000, 12000), 255).save(path)
    with warnings.catch_warnings():  # one message: Pillow's own warning of so big an image is not said as well
        warnings.simplefilter("error")
        with pytest.raises(InputError, match=r"12000×12000 px; the limit is 50 megapixels"):
            to_model_input(str(path))


def test_a_damaged_file_is_said_in_words_not_class_names(tmp_path):
    good = tmp_path / "good.png"
    Image.new("L", (40, 40), 255).save(good)
    cut = tmp_path / "cut.png"
    cut.write_bytes(good.read_bytes()[:60])
    with pytest.raises(InputError) as info:
        to_model_input(str(cut))
    assert "Error" not in str(info.value) and "cut.png" in str(info.value)
