"""The drawing pad's server side: its payload (the Python twin of the page's encoder, the decoder and what it
refuses), what the handlers get from it, and how close the pad's reduced drawing comes to a full-size PNG of
the same ink. (The page's encoder is checked against `encode_payload` on a real canvas in test_browser.py.)"""

from __future__ import annotations

import base64
import inspect
import io

import gradio as gr
import numpy as np
import pytest
import torch
from gradio_client.utils import is_file_obj_with_meta
from PIL import Image
from support.harness import DEFAULT_WEIGHTS_DIR, SHAPES, missing_weights, render_strokes, shape_on_canvas

from ae_vae.app.draw import (
    AT_ZERO,
    DONE_STATUS,
    LIVE_STATUS,
    DrawHandlers,
    empty_pad_message,
    nothing_described,
    nothing_reconstructed,
)
from ae_vae.app.explorer import error_table
from ae_vae.app.gradio_io import OutputFiles, inline_png
from ae_vae.app.pad import (
    MARGIN,
    MAX_CODE,
    MAX_PAYLOAD_CHARS,
    MAX_SIDE,
    PAD_SIZE,
    PAGE_ERRORS,
    PAYLOAD_TOLERANCE,
    PHASES,
    PadEvents,
    PageResults,
    decode_payload,
    drawing_pad,
    encode_page_results,
    encode_payload,
    framing_difference,
    sketch_value,
)
from ae_vae.app.views import DESCRIBED, KEEP, PAGE_ADDED, RECONSTRUCTED, SHOWN, DrawingView
from ae_vae.errors import InputError
from ae_vae.preprocess import to_model_input
from bench.live_load import page_results

# to_model_input frames each data set its own way once it takes `dataset` (MNIST's framing before).
DATASETS = ["mnist", "fashion_mnist"] if "dataset" in inspect.signature(to_model_input).parameters else ["mnist"]


def model_input(source, dataset: str) -> np.ndarray:
    return to_model_input(source, dataset=dataset) if len(DATASETS) > 1 else to_model_input(source)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


# ---------------------------------------------------------------- the payload

@pytest.mark.parametrize("height, width, factor", [(1, 1, 1), (30, 40, 1), (112, 20, 1), (113, 20, 2),
                                                  (224, 224, 2), (225, 60, 3), (280, 280, 3)])
def test_the_payload_is_the_inks_box_reduced_by_the_smallest_whole_factor(height, width, factor):
    rng = np.random.default_rng(height * 1000 + width)
    alpha = np.zeros((PAD_SIZE, PAD_SIZE), np.uint8)
    top, left = (PAD_SIZE - height) // 2, (PAD_SIZE - width) // 3
    alpha[top:top + height, left:left + width] = rng.integers(0, 256, (height, width))
    alpha[top, left] = alpha[top + height - 1, left + width - 1] = 255  # the box's corners are ink
    frame = decode_payload(encode_payload(alpha, "live"))
    assert frame.phase == "live"
    assert frame.ink.shape == (-(-height // factor), -(-width // factor)) and max(frame.ink.shape) <= MAX_SIDE
    crop = np.zeros((frame.ink.shape[0] * factor, frame.ink.shape[1] * factor))
    crop[:height, :width] = alpha[top:top + height, left:left + width]
    means = crop.reshape(frame.ink.shape[0], factor, frame.ink.shape[1], factor).mean(axis=(1, 3))
    assert np.abs(frame.ink - means).max() <= 0.5  # the area average, rounded
    if factor == 1:
        assert np.array_equal(frame.ink, alpha[top:top + height, left:left + width])


def test_an_empty_pad_sends_nothing():
    assert encode_payload(np.zeros((PAD_SIZE, PAD_SIZE), np.uint8)) == ""
    assert decode_payload("") is None and decode_payload(None) is None
    assert sketch_value("") is None


def test_the_biggest_payload_fits_the_cap():
    assert len(encode_payload(np.full((PAD_SIZE, PAD_SIZE), 255, np.uint8))) <= MAX_PAYLOAD_CHARS


@pytest.mark.parametrize("value, message", [
    (42, "sent int, not a drawing"),
    (["live:1x1:AA=="], "sent list, not a drawing"),
    ("A" * (MAX_PAYLOAD_CHARS + 1), f"at most {MAX_PAYLOAD_CHARS}"),
    ("png:2x2:AAAAAA==", "not a drawing"),
    ("live:2x2", "not a drawing"),
    ("live:2x2:AAAA\nAAAA", "not a drawing"),
    ("data:image/png;base64,iVBORw0KGgo=", "not a drawing"),
    ("live:0x3:", "1 to 112 px per side"),
    ("final:113x1:" + b64(bytes(113)), "113×1 drawing"),
    ("live:99999x1:", "not a drawing"),
    ("live:2x2:AAA", "not valid base64"),
    ("live:2x2:" + b64(bytes(3)), "3 pixels for a 2×2 drawing"),
    ("live:2x2:" + b64(bytes(5)), "5 pixels for a 2×2 drawing"),
])
def test_malformed_or_oversized_payloads_are_refused_with_a_message(value, message):
    with pytest.raises(InputError, match=message):
        decode_payload(value)


# ---------------------------------------------------------------- the page's results

def some_results(dim: int = 16, dataset: str = "mnist") -> PageResults:
    rng = np.random.default_rng(dim)
    return PageResults(dataset, True, rng.integers(0, 256, (28, 28)).astype(np.uint8),
                       {"ae": rng.normal(size=dim).astype(np.float32), "vae": rng.normal(size=dim).astype(np.float32)},
                       tuple(float(np.float32(v)) for v in rng.uniform(0, 0.2, PAGE_ERRORS)))


@pytest.mark.parametrize("dim", [1, 16, 64, MAX_CODE])
def test_the_pages_results_come_back_as_the_page_sent_them(dim):
    ink = encode_payload(render_strokes([shape_on_canvas("7")]), "final")
    sent = some_results(dim, "fashion_mnist")
    frame = decode_payload(ink + encode_page_results(sent))
    assert np.array_equal(frame.ink, decode_payload(ink).ink) and frame.page.dataset == "fashion_mnist"
    assert frame.page.fill_outlines and np.array_equal(frame.page.model_input, sent.model_input)
    assert all(np.array_equal(frame.page.codes[k], sent.codes[k]) for k in ("ae", "vae"))
    assert frame.page.errors == sent.errors
    assert np.array_equal(sketch_value(ink + encode_page_results(sent))["page"].model_input, sent.model_input)


def test_the_biggest_payload_with_the_pages_results_fits_the_cap():
    ink = encode_payload(np.full((PAD_SIZE, PAD_SIZE), 255, np.uint8))
    assert len(ink + encode_page_results(some_results(MAX_CODE, "fashion_mnist"))) <= MAX_PAYLOAD_CHARS


def page_part(**changes) -> str:
    """A valid page part with some of its fields (base64 text) replaced."""
    fields = dict(zip(["dataset", "fill", "input", "ae", "vae", "errors"],
                      encode_page_results(some_results()).split(":", 1)[1].split(":")))
    fields.update(changes)
    return "|page:" + ":".join(fields.values())


@pytest.mark.parametrize("part, message", [
    (page_part(input=b64(bytes(783))), "model input of 783 pixels"),
    (page_part(ae=b64(bytes(6))), "AE code of 6 bytes"),
    (page_part(vae=""), "VAE code of 0 bytes"),
    (page_part(vae="AAA"), "VAE code is not valid base64"),
    (page_part(errors=b64(np.full(PAGE_ERRORS, np.nan, "<f4").tobytes())), "numbers from 0 to 1"),
    (page_part(errors=b64(np.full(PAGE_ERRORS, 2.0, "<f4").tobytes())), "numbers from 0 to 1"),
    (page_part(errors=b64(np.zeros(PAGE_ERRORS - 1, "<f4").tobytes())), "numbers from 0 to 1"),
    (page_part(dataset="MNIST"), "not a drawing"),
    (page_part(fill="2"), "not a drawing"),
])
def test_malformed_page_results_are_refused_with_a_message(part, message):
    with pytest.raises(InputError, match=message):
        decode_payload("final:2x2:" + b64(bytes(4)) + part)


def test_page_results_come_only_with_a_final_frame():
    with pytest.raises(InputError, match="with the final one"):
        decode_payload("live:2x2:" + b64(bytes(4)) + page_part())


# ---------------------------------------------------------------- what the handlers get

def test_a_payload_becomes_the_sketchpads_value_with_a_margin():
    alpha = np.zeros((PAD_SIZE, PAD_SIZE), np.uint8)
    alpha[100:150, 120:130] = 200
    sketch = sketch_value(encode_payload(alpha, "final"))
    assert sketch["phase"] == "final" and sketch["layers"] == []
    rgba = sketch["composite"]
    assert rgba.shape == (50 + 2 * MARGIN, 10 + 2 * MARGIN, 4)
    assert rgba[..., :3].max() == 0 and rgba[..., 3].max() == 200  # black ink, alpha = ink
    assert rgba[:MARGIN].max() == 0 and rgba[:, -MARGIN:].max() == 0


def test_an_api_sketch_value_keeps_working(tmp_path):
    """API clients send the Sketchpad's value, its files uploaded by gradio_client.handle_file."""
    path = tmp_path / "layer.png"
    Image.fromarray(np.zeros((8, 8, 4), np.uint8)).save(path)
    uploaded = {"path": str(path), "meta": {"_type": "gradio.FileData"}, "orig_name": "layer.png"}
    sketch = sketch_value({"background": None, "layers": [uploaded], "composite": uploaded})
    assert sketch == {"background": None, "layers": [str(path)], "composite": str(path)}


@pytest.mark.parametrize("value, message", [
    ({"composite": "/etc/passwd"}, "handle_file"),  # a bare path could name any file on the server
    ({"composite": {"path": "/etc/passwd"}}, "handle_file"),  # not one of Gradio's checked uploads
    ({"composite": None, "layers": "x.png"}, "list of files"),
])
def test_an_api_sketch_value_names_only_uploaded_files(value, message):
    with pytest.raises(InputError, match=message):
        sketch_value(value)


def test_the_component_hands_events_the_sketch_and_describes_the_sketchpads_api():
    async def data_ready(request):
        return "ready"

    pad = drawing_pad("", "", data_ready, render=False)
    alpha = np.zeros((PAD_SIZE, PAD_SIZE), np.uint8)
    alpha[10:20, 10:30] = 255
    assert pad.preprocess(encode_payload(alpha))["composite"].shape == (10 + 2 * MARGIN, 20 + 2 * MARGIN, 4)
    assert pad.preprocess("") is None
    with pytest.raises(gr.Error, match="not a drawing"):
        pad.preprocess("hello")
    sketchpad = gr.Sketchpad(type="numpy", image_mode="RGBA", format="png", render=False)
    assert pad.api_info() == sketchpad.api_info()


# ---------------------------------------------------------------- the pad's drawing vs a full-size PNG

def drawings() -> list[tuple[str, np.ndarray]]:
    """Every test shape at three sizes (22%..84% of the pad) and two places, as the pad's canvas draws them."""
    return [(f"{shape} x{scale} at {offset}", render_strokes([shape_on_canvas(shape, scale, offset=offset)]))
            for shape in SHAPES for scale in (0.35, 0.8, 1.4) for offset in ((0, 0), (-37.3, 21.6))]


@pytest.mark.parametrize("dataset", DATASETS)
def test_the_pads_drawing_and_a_full_size_png_of_the_same_ink_give_the_same_model_input(dataset, tmp_path):
    """Within PAYLOAD_TOLERANCE per drawing, up to the framing's own one-pixel rounding (`framing_difference`),
    and much closer on average; the raw difference too, on average. The PNG is what the Sketchpad sent: the
    whole canvas, alpha = ink."""
    framed, raw = {}, {}
    for i, (name, alpha) in enumerate(drawings()):
        rgba = np.zeros((PAD_SIZE, PAD_SIZE, 4), np.uint8)
        rgba[..., 3] = alpha
        png = tmp_path / f"{i}.png"
        Image.fromarray(rgba).save(png)
        full = model_input(str(png), dataset)
        pad = model_input(sketch_value(encode_payload(alpha))["composite"], dataset)
        framed[name], raw[name] = framing_difference(pad, full), float(np.abs(pad - full).mean())
    worst = max(framed, key=framed.get)
    assert framed[worst] <= PAYLOAD_TOLERANCE, (worst, framed[worst])
    assert np.mean(list(framed.values())) <= 0.01 and np.mean(list(raw.values())) <= 0.03, (framed, raw)


def test_framing_difference_forgives_a_one_pixel_shift_only():
    rng = np.random.default_rng(0)
    image = rng.random((28, 28)).astype(np.float32)
    assert framing_difference(np.roll(image, (1, -1), axis=(0, 1)), image) == 0.0
    assert framing_difference(np.roll(image, 2, axis=0), image) > 0.2


def test_a_shipped_judge_classifies_both_the_same():
    """The digit judge (weights/judge-mnist, when shipped) gives the same class to both renderings."""
    judge_module = pytest.importorskip("ae_vae.models.judge")
    folder = DEFAULT_WEIGHTS_DIR / "judge-mnist"
    if not (folder / "model.safetensors").is_file():
        pytest.skip(f"no judge in {folder}")
    judge, _ = judge_module.load_judge(folder)
    full, pad = [], []
    for _, alpha in drawings():
        rgba = np.zeros((PAD_SIZE, PAD_SIZE, 4), np.uint8)
        rgba[..., 3] = alpha
        full.append(model_input(rgba, "mnist"))
        pad.append(model_input(sketch_value(encode_payload(alpha))["composite"], "mnist"))
    same = judge.predict(torch.from_numpy(np.stack(full))[:, None]) == judge.predict(torch.from_numpy(np.stack(pad))[:, None])
    assert same.float().mean() >= 0.95, same


# ---------------------------------------------------------------- the pad's frames

@pytest.fixture(scope="module")
def events(tmp_path_factory) -> PadEvents:
    missing = missing_weights(DEFAULT_WEIGHTS_DIR)
    if missing:
        pytest.skip(f"no bundled weights for {missing}")
    from ae_vae.app.sources import load_explorer

    files = OutputFiles(tmp_path_factory.mktemp("outputs"))
    return PadEvents(DrawHandlers(load_explorer(None, DEFAULT_WEIGHTS_DIR), files))


def seven(phase: str) -> dict:
    return sketch_value(encode_payload(render_strokes([shape_on_canvas("7")]), phase))


def shown(value: dict) -> np.ndarray:
    """An inline image's pixels."""
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(value["url"].split(",", 1)[1]))))


def kept(view: DrawingView) -> set[str]:
    """The fields an answer leaves as they are."""
    return {name for name, value in vars(view).items() if value is KEEP}


def test_live_frames_update_the_reconstructions_and_the_final_frame_everything(events):
    live = events.frame(seven("live"), "mnist", None)
    assert kept(live) == set(vars(live)) - {"model_input", "ae", "vae", "source", "status"}  # nothing else moves
    assert (live.source, live.status) == ("pad", LIVE_STATUS)
    final = events.frame(seven("final"), "mnist", "pad", False, 4)
    assert kept(final) == {"upload"}  # a final frame answers everything a drawing changes (`views.SHOWN`)
    assert set(SHOWN) == set(vars(final)) - {"upload"}
    assert (final.model_input, final.ae, final.vae) == (live.model_input, live.ae, live.vae)  # same ink, same images
    assert "AE" in final.errors and final.drawing.shape == (28, 28) and (final.source, final.status) == ("pad", DONE_STATUS)
    images = [shown(value) for value in (final.model_input, final.ae, final.vae, final.vae_samples)]
    assert [image.shape for image in images[:3]] == [(28, 28)] * 3 and images[3].shape[0] == 32
    assert np.array_equal(images[0], final.drawing)  # the model input shown is the one other tabs get


def test_a_final_frame_answers_what_the_handlers_give_for_its_drawing(events, tmp_path):
    """Typicality, both galleries and their vote, the walk back at 0: as the Draw tab's handlers (and the API) give
    them for the same model input, in the same answer, images inside it and no file written."""
    final = events.frame(seven("final"), "mnist", "pad", False, 4)
    drawing = final.drawing
    handlers = DrawHandlers(events.explorer, OutputFiles(tmp_path / "outputs"))
    assert final.typicality == handlers.typicality_line(drawing, "mnist") and "AE: " in final.typicality
    files = handlers.neighbours_of_input(drawing, "mnist", 4)
    assert final.vote == files.vote and final.walk_sigmas == AT_ZERO
    for inline, on_disk in ((final.ae_neighbours, files.ae_neighbours), (final.vae_neighbours, files.vae_neighbours)):
        assert [item["caption"] for item in inline] == [caption for _, caption in on_disk] and len(inline) == 4
        assert all(np.array_equal(shown(i["image"]), np.asarray(Image.open(f))) for i, (f, _) in zip(inline, on_disk))
    reset = handlers.reset_walk(drawing, "mnist")
    walked = [np.asarray(Image.open(f)).astype(int) for f in (reset.walk_ae, reset.walk_vae)]
    assert all(np.abs(shown(a).astype(int) - b).max() <= 1 for a, b in zip((final.walk_ae, final.walk_vae), walked))
    assert np.array_equal(shown(final.walk_ae), shown(final.ae))  # at 0 the walk shows the reconstructions
    assert not any(events.handlers.files.folder.iterdir())  # the pad's answers write no file: nothing to fetch


def test_inline_images_are_not_files_gradio_would_move():
    value = inline_png(np.zeros((28, 28), np.uint8))
    assert value["url"].startswith("data:image/png;base64,") and not is_file_obj_with_meta(value)


@pytest.mark.parametrize("phase", PHASES)
def test_a_drawing_that_cannot_be_reconstructed_empties_the_outputs_and_says_why(events, phase):
    flat = {"background": None, "layers": [], "composite": np.zeros((12, 12, 4), np.uint8), "phase": phase}
    answer = events.frame(flat, "mnist", "pad")
    assert "No ink" in answer.status
    assert answer == nothing_reconstructed("pad", answer.status)  # nothing on screen belongs to an earlier drawing
    assert all(getattr(answer, name) in (None, "", []) for name in RECONSTRUCTED)


def test_an_emptied_pad_empties_the_outputs_unless_they_show_an_upload(events):
    assert events.frame(None, "mnist", "pad") == nothing_reconstructed(None, empty_pad_message("mnist"))
    assert "draw a garment" in events.frame(None, "fashion_mnist", "pad").status
    assert not kept(nothing_described()) & set(DESCRIBED)  # an emptied drawing leaves nothing described on screen
    kept_upload = events.frame(None, "mnist", "upload")
    assert kept_upload == DrawingView(status=empty_pad_message("mnist"))


def seven_from_the_page(events: PadEvents, dataset: str = "mnist", fill: bool = False) -> dict:
    """The final frame of a 7 as a page running the models sends it (its results computed by the Python models)."""
    ink = encode_payload(render_strokes([shape_on_canvas("7")]), "final")
    results = page_results(events.explorer, ink, dataset, fill)
    return sketch_value(ink + encode_page_results(results))


def test_a_pages_final_frame_gets_what_needs_the_servers_data_and_nothing_it_drew(events, tmp_path):
    """Error table from the page's numbers, its model input kept for the other tabs, and typicality, neighbours and
    the walk's sliders at 0 as the handlers give them for that model input; no image (the page drew them)."""
    sketch = seven_from_the_page(events)
    answer = events.page_frame(sketch, "mnist", "pad", False, 4)
    page = sketch["page"]
    assert set(vars(answer)) - kept(answer) == set(PAGE_ADDED)
    assert answer.errors == error_table(page.errors[0], page.errors[1], list(page.errors[2:]))
    assert np.array_equal(answer.drawing, page.model_input) and (answer.source, answer.status) == ("pad", DONE_STATUS)
    handlers = DrawHandlers(events.explorer, OutputFiles(tmp_path / "outputs"))
    assert answer.typicality == handlers.typicality_line(answer.drawing, "mnist") and answer.walk_sigmas == AT_ZERO
    files = handlers.neighbours_of_input(answer.drawing, "mnist", 4)
    assert answer.vote == files.vote
    for inline, on_disk in ((answer.ae_neighbours, files.ae_neighbours), (answer.vae_neighbours, files.vae_neighbours)):
        assert [item["caption"] for item in inline] == [caption for _, caption in on_disk]
        assert all(np.array_equal(shown(i["image"]), np.asarray(Image.open(f))) for i, (f, _) in zip(inline, on_disk))
    # the same drawing drawn by the server: the same answer where the two overlap
    server = events.frame(seven("final"), "mnist", "pad", False, 4)
    for name in set(PAGE_ADDED) - {"drawing"}:
        assert getattr(server, name) == getattr(answer, name), name
    assert framing_difference(server.drawing / 255, answer.drawing / 255) <= 1e-6


def test_page_results_for_another_data_set_or_framing_change_nothing(events):
    sketch = seven_from_the_page(events)
    assert events.page_frame(sketch, "fashion_mnist", "pad", False) == DrawingView()
    assert events.page_frame(sketch, "mnist", "pad", True) == DrawingView()


def test_page_results_the_server_cannot_use_are_said_on_the_status_line(events):
    sketch = seven_from_the_page(events)
    wrong = dict(sketch, page=PageResults("mnist", False, sketch["page"].model_input,
                                          {"ae": np.zeros(3, np.float32), "vae": sketch["page"].codes["vae"]},
                                          sketch["page"].errors))
    answer = events.page_frame(wrong, "mnist", "pad")
    assert "AE's code must have" in answer.status and (answer.errors, answer.drawing, answer.source) == ("", None, "pad")
    assert answer == nothing_reconstructed("pad", answer.status)
    assert "no results of its own" in events.page_frame(seven("final"), "mnist", "pad").status
    # a pad emptied before Gradio read the value of the page's final frame: the clear's own answer says it
    assert events.page_frame(None, "mnist", "pad") == DrawingView()
