"""Preprocessing: synthetic strokes of every kind land centred and scaled like MNIST; bad inputs get messages."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageDraw

from ae_vae.preprocess import InputError, to_model_input


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
