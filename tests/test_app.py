"""The running app through gradio_client: every endpoint answers, bad input gives a message, serving goes on."""

from __future__ import annotations

import tempfile
import threading
from pathlib import Path

import gradio as gr
import numpy as np
import pytest
from PIL import Image
from support.harness import free_port

import app as app_module
from ae_vae.app.gradio_io import OutputFiles
from ae_vae.app.sample import SampleHandlers
from ae_vae.app.sources import load_explorer

gradio_client = pytest.importorskip("gradio_client")
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    args = app_module.parse_args(["--port", str(free_port()), "--weights-dir", str(app_module.ROOT / "weights")])
    args.hub_repo = None
    demo = app_module.create_app(args)
    app_module.launch(demo, args, prevent_thread_lock=True, quiet=True)
    yield Client(f"http://127.0.0.1:{args.port}/", verbose=False)
    demo.close()


@pytest.fixture(scope="module")
def handlers() -> SampleHandlers:
    """The Sample tab's handlers without the UI."""
    return SampleHandlers(load_explorer(None, app_module.ROOT / "weights"), OutputFiles(tempfile.mkdtemp()))


@pytest.fixture(scope="module")
def digit_png(tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("img") / "digit.png"
    image = np.full((200, 160), 255, np.uint8)
    image[30:170, 70:90] = 0  # a dark "1" on white paper
    Image.fromarray(image).save(path)
    return str(path)


def read(path: str) -> np.ndarray:
    return np.asarray(Image.open(path))


def test_interpolate_at_gives_the_frame_under_the_scrubber(client, digit_png):
    """/interpolate_at: t = 0 and t = 1 are the ends of /interpolate's strips, any t between is one frame; a t outside
    0-1 is a message."""
    a, b = handle_file(digit_png), handle_file(digit_png)
    ae_strip, vae_strip, _ = client.predict(a, b, "mnist", 3, "linear", api_name="/interpolate")
    for t, column in ((0.0, 0), (1.0, 2)):
        ae, vae = client.predict(a, b, "mnist", "linear", t, api_name="/interpolate_at")
        for frame, strip in ((ae, ae_strip), (vae, vae_strip)):
            assert np.array_equal(read(frame), read(strip)[2:30, 30 * column + 2:30 * column + 30]), (t, frame)
    with pytest.raises(AppError, match="greater than maximum value 1"):  # the slider checks it
        client.predict(a, b, "mnist", "spherical", 1.5, api_name="/interpolate_at")


def test_reconstruct_upload(client, digit_png):
    model_input, ae, vae, samples, errors = client.predict(None, handle_file(digit_png), "mnist",
                                                           api_name="/reconstruct")
    for path in (model_input, ae, vae):
        assert Path(path).suffix == ".png" and read(path).shape[:2] == (28, 28)
    assert "AE" in errors and read(samples).shape[0] == 32


def test_reconstruct_sketch_value(client, tmp_path):
    rgba = np.zeros((280, 280, 4), np.uint8)
    rgba[40:240, 130:150, 3] = 255
    path = tmp_path / "layer.png"
    Image.fromarray(rgba).save(path)
    sketch = {"background": None, "layers": [handle_file(str(path))], "composite": handle_file(str(path))}
    model_input, *_ = client.predict(sketch, None, "fashion_mnist", api_name="/reconstruct")
    assert read(model_input).shape[:2] == (28, 28)


def test_interpolate_sample_embedding(client, digit_png):
    ae_strip, vae_strip, gif = client.predict(handle_file(digit_png), handle_file(digit_png), "mnist", 6, "spherical",
                                              api_name="/interpolate")
    assert read(ae_strip).shape[1] == 6 * 30 + 2 and Path(gif).read_bytes()[:3] == b"GIF"
    assert read(vae_strip).shape == read(ae_strip).shape
    ae, vae, fitted = client.predict("mnist", 9, 1, 0.8, api_name="/sample")
    assert read(ae).shape == read(vae).shape == read(fitted).shape
    maps, text, ae_grid, vae_grid = client.predict("fashion_mnist", handle_file(digit_png), api_name="/embedding")
    assert read(maps).shape[1] > 400 and "%" in text
    assert read(ae_grid).shape == read(vae_grid).shape and min(read(ae_grid).shape[:2]) > 12 * 28


@pytest.mark.parametrize("payload, message", [
    ("text", "is not an image"), ("white", "No ink"), ("tiny", "1×1"), ("none", "draw a digit")])
def test_bad_inputs_give_messages_and_the_server_keeps_serving(client, tmp_path, digit_png, payload, message):
    if payload == "text":
        path = tmp_path / "notes.txt"
        path.write_text("hello")
    elif payload == "white":
        path = tmp_path / "white.png"
        Image.new("RGB", (300, 300), "white").save(path)
    elif payload == "tiny":
        path = tmp_path / "tiny.png"
        Image.new("L", (1, 1), 0).save(path)
    image = None if payload == "none" else handle_file(str(path))
    with pytest.raises(AppError, match=message):
        client.predict(None, image, "mnist", api_name="/reconstruct")
    # still serving
    assert read(client.predict(None, handle_file(digit_png), "mnist", api_name="/reconstruct")[0]).shape[:2] == (28, 28)


@pytest.mark.parametrize("count, seed, temperature, message", [
    (0, 0, 1.0, "number of samples"), (65, 0, 1.0, "number of samples"), (4, -1, 1.0, "seed"),
    (4, 0.5, 1.0, "seed"), (4, 0, float("nan"), "temperature"), (4, 0, 9.0, "temperature")])
def test_sample_range_checks_are_the_handlers_own(handlers, count, seed, temperature, message):
    """The handler checks its numbers itself (an API client can send what no slider allows)."""
    with pytest.raises(gr.Error, match=message):
        handlers.sample("mnist", count, seed, temperature)


def test_bad_numbers_through_the_api_give_messages(client):
    with pytest.raises(AppError, match="maximum value 64|number of samples"):
        client.predict("mnist", 500, 0, 1.0, api_name="/sample")


# ---------------------------------------------------------------- latent navigation

def test_reconstruct_takes_an_image_alone_by_name(client, digit_png):
    """`sketch` is optional: Gradio derives an API default of None from the handler's own `sketch=None`."""
    model_input, *_, errors = client.predict(image=handle_file(digit_png), dataset="mnist", api_name="/reconstruct")
    assert read(model_input).shape[:2] == (28, 28) and "AE" in errors


def test_neighbors_galleries_and_vote(client, digit_png):
    ae, vae, summary = client.predict(image=handle_file(digit_png), dataset="mnist", k=5, api_name="/neighbors")
    assert len(ae) == len(vae) == 5
    for item in ae + vae:  # gallery items: {"image": file, "caption": class name}
        assert read(item["image"]).shape[:2] == (28, 28) and item["caption"] in [str(d) for d in range(10)]
    assert "The AE's 5 nearest neighbours: " in summary and "The VAE's 5 nearest neighbours: " in summary
    assert "ones" in summary  # a vertical bar


def test_locate_encode_decode_traverse_decode_point(client, digit_png):
    image = handle_file(digit_png)
    where = client.predict(image=image, dataset="mnist", api_name="/locate")
    assert set(where) == {"ae", "vae"} and all(len(where[m][p]) == 2 for m in where for p in ("pca", "umap"))
    codes = client.predict(image=image, dataset="mnist", api_name="/encode")
    assert len(codes["ae"]["code"]) == len(codes["vae"]["mean"]) == len(codes["vae"]["logvar"]) == 32
    assert read(client.predict(dataset="mnist", model="vae", code=codes["vae"]["mean"], api_name="/decode")).shape \
        == (28, 28)
    ae, vae = client.predict(image=image, dataset="mnist", pc1=2.0, pc3=-1.5, api_name="/traverse")
    assert read(ae).shape == read(vae).shape == (28, 28)
    x, y = where["vae"]["umap"]
    decoded, text = client.predict(dataset="mnist", model="vae", projection="umap", x=x, y=y, api_name="/decode_point")
    assert read(decoded).shape == (28, 28) and text.startswith("VAE at UMAP (") and "nearest test code at" in text


# Values no UI control can send are refused with a message: by the components (choices, slider ranges) or by the
# handlers themselves (their own checks are tested without the UI in test_navigation.py).
@pytest.mark.parametrize("kwargs, message", [
    ({"dataset": "mnist", "model": "vae", "code": [1.0] * 3, "api_name": "/decode"}, "must have 32 numbers"),
    ({"dataset": "mnist", "model": "vae", "code": [1e9] * 32, "api_name": "/decode"}, "within"),
    ({"dataset": "mnist", "model": "vae", "code": "1, 2", "api_name": "/decode"}, "list of 32 numbers"),
    ({"dataset": "mnist", "model": "gan", "code": [0.0] * 32, "api_name": "/decode"}, "not in the list of choices"),
    ({"dataset": "mnist", "model": "ae", "projection": "tsne", "x": 0, "y": 0, "api_name": "/decode_point"}, "list of choices"),
    ({"dataset": "mnist", "model": "ae", "projection": "umap", "x": 1e30, "y": 0, "api_name": "/decode_point"}, "outside"),
    ({"dataset": "mnist", "model": "ae", "projection": "pca", "x": 0, "y": -1e300, "api_name": "/decode_point"}, "outside"),
    ({"dataset": "mnist", "api_name": "/neighbors"}, "Pass an image"),
    ({"dataset": "mnist", "api_name": "/traverse"}, "Pass an image"),
    ({"sketch": "abc", "dataset": "mnist", "api_name": "/encode"}, "not a drawing")])
def test_bad_navigation_values_give_messages(client, kwargs, message):
    with pytest.raises(AppError, match=message):
        client.predict(**kwargs)
    assert read(client.predict(dataset="mnist", model="vae", projection="umap", x=0, y=0,
                               api_name="/decode_point")[0]).shape == (28, 28)  # still serving


@pytest.mark.parametrize("kwargs, message", [
    ({"k": 0}, "less than minimum value 1"), ({"k": 33}, "greater than maximum value 32"),
    ({"pc2": 9.0}, "greater than maximum value 3"), ({"dataset": "cifar10"}, "list of choices")])
def test_bad_navigation_values_with_an_image_give_messages(client, digit_png, kwargs, message):
    api_name = "/traverse" if "pc2" in kwargs else "/neighbors"
    with pytest.raises(AppError, match=message):
        client.predict(image=handle_file(digit_png), **{"dataset": "mnist", **kwargs}, api_name=api_name)


def test_fill_outlines_is_an_optional_reconstruct_input(client, tmp_path):
    """A garment drawn as a closed outline: filled on request (Fashion-MNIST items are silhouettes), not by default."""
    outline = np.full((280, 280), 255, np.uint8)
    outline[40:240, 60:220] = 0
    outline[52:228, 72:208] = 255  # a dark rectangle's outline, 12 px thick, on white paper
    path = tmp_path / "outline.png"
    Image.fromarray(outline).save(path)
    plain = read(client.predict(image=handle_file(str(path)), dataset="fashion_mnist", api_name="/reconstruct")[0])
    filled = read(client.predict(image=handle_file(str(path)), dataset="fashion_mnist", fill_outlines=True,
                                 api_name="/reconstruct")[0])
    assert filled[14, 14] > 200 > plain[14, 14]  # the centre is ink only when filled


def test_the_five_tabs_share_one_tab_bar(handlers):
    """A component created between two tabs (e.g. a hidden API trigger) would split the tab bar in two."""
    config = app_module.build_demo(handlers.explorer).get_config_file()
    types = {c["id"]: c["type"] for c in config["components"]}

    def containers(node, kind):
        found = [node] if types.get(node["id"]) == kind else []
        return found + [n for child in node.get("children", []) for n in containers(child, kind)]

    bars = containers(config["layout"], "tabs")
    assert len(bars) == 1 and len([c for c in bars[0]["children"] if types[c["id"]] == "tabitem"]) == 5


def test_every_declared_font_face_draws_every_character_the_app_writes():
    """One typeface per word: each @font-face the theme declares has a glyph for every character in app.py's text
    (a face without one makes the browser fall back to another family mid-word)."""
    import ast
    import re

    from fontTools.ttLib import TTFont

    text = "".join(node.value for node in ast.walk(ast.parse(Path(app_module.__file__).read_text()))
                   if isinstance(node, ast.Constant) and isinstance(node.value, str))
    wanted = {c for c in text if c.isprintable() and not c.isspace() and ord(c) < 0x2600}  # no emoji
    fonts = Path(gr.__file__).parent / "templates" / "frontend"
    faces = re.findall(r"url\('(static/fonts/[^']+\.woff2)'\)",
                       "".join(font.stylesheet()["css"] or "" for font in app_module.THEME._font
                               if isinstance(font, gr.themes.LocalFont)))
    assert faces, "the theme declares its sans faces"
    for face in faces:
        cmap = TTFont(fonts / face).getBestCmap()
        missing = sorted(c for c in wanted if ord(c) not in cmap)
        assert not missing, f"{face} lacks {''.join(missing)}"


def test_pruning_the_outputs_never_trips_over_files_other_requests_are_writing(tmp_path):
    """Eight threads write images while every write also prunes (max age 0): no request fails, whatever the
    others are writing, renaming or removing at the time; with the usual age, every path returned exists."""
    import threading

    files = OutputFiles(tmp_path / "fast", max_age_s=0.0)
    errors: list[BaseException] = []

    def writer(seed: int) -> None:
        rng = np.random.default_rng(seed)
        for _ in range(150):
            files._last_prune = float("-inf")  # prune on every write
            try:
                files.png(rng.integers(0, 256, (28, 28), dtype=np.uint8))
            except BaseException as exc:  # noqa: BLE001 - any failure is the bug
                errors.append(exc)

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors[:3]
    kept = OutputFiles(tmp_path / "kept")
    paths = [kept.png(np.full((28, 28), i, np.uint8)) for i in range(20)]
    kept._last_prune = float("-inf")
    assert all(Path(p).is_file() for p in paths + [kept.png(np.zeros((28, 28), np.uint8))])


def test_every_endpoints_outputs_are_named(client):
    """view_api() names each output after its component (no `value_40`), so a client reading the docs knows what
    each returned item is."""
    endpoints = client.view_api(return_format="dict", print_info=False)["named_endpoints"]
    unnamed = {name: [r.get("label") for r in info["returns"]] for name, info in endpoints.items()
               if any(not r.get("label") or str(r.get("label")).startswith("value_") for r in info["returns"])}
    assert not unnamed, unnamed


def test_the_api_describes_what_it_takes(client):
    """The interpolation endpoints need both images (no hidden default pair), and /sample's class is an int."""
    endpoints = client.view_api(return_format="dict", print_info=False)["named_endpoints"]
    for name in ("/interpolate", "/interpolation_profile", "/interpolate_at"):
        images = [p for p in endpoints[name]["parameters"] if p["parameter_name"] in ("image_a", "image_b")]
        assert len(images) == 2 and not any(p["parameter_has_default"] for p in images), name
    label = next(p for p in endpoints["/sample"]["parameters"] if p["parameter_name"] == "label")
    assert label["python_type"]["type"] == "int" and label["parameter_default"] == -1
    with pytest.raises(TypeError, match="image_a"):
        client.predict(dataset="mnist", api_name="/interpolate")
    grids = client.predict(dataset="mnist", count=4, seed=0, temperature=1.0, prior="mixture", label=7,
                           api_name="/sample")
    assert all(Path(g).is_file() for g in grids)


@pytest.mark.parametrize("call", [
    {"dataset": "cifar", "count": 3, "seed": 0, "temperature": 1.0, "api_name": "/sample"},  # the radio refuses it
    {"dataset": "mnist", "model": "vae", "code": [1.0], "api_name": "/decode"},  # the handler refuses it
])
def test_a_refused_input_is_one_log_line_not_a_traceback(client, capfd, caplog, call):
    import logging

    with caplog.at_level(logging.INFO, logger="app"), pytest.raises(AppError):
        client.predict(**call)
    assert "Traceback" not in capfd.readouterr().err
    refused = [r.getMessage() for r in caplog.records if r.getMessage().startswith("refused")]
    assert len(refused) == 1 and "\n" not in refused[0], refused


def test_the_queue_does_not_rebuild_its_monitoring_summary_after_every_event(handlers, monkeypatch):
    """Gradio's queue rebuilds a pandas summary of its recent events after each one unless told otherwise; the app
    tells it to every QUEUE_SUMMARY_EVERY events (a setting of the operator's own still wins)."""
    monkeypatch.delenv("GRADIO_ANALYTICS_CACHE_FREQUENCY", raising=False)
    demo = app_module.build_demo(handlers.explorer)
    assert demo._queue.ANAYLTICS_CACHE_FREQUENCY == app_module.QUEUE_SUMMARY_EVERY >= 1000
    monkeypatch.setenv("GRADIO_ANALYTICS_CACHE_FREQUENCY", "7")
    assert app_module.build_demo(handlers.explorer)._queue.ANAYLTICS_CACHE_FREQUENCY == 7
    for thread in threading.enumerate():  # each demo renders its maps in a thread: not left running at exit
        if thread.name == "render-maps":
            thread.join()


API_SNAPSHOT = Path(__file__).with_name("api_snapshot.json")


def test_the_api_is_the_one_its_callers_rely_on(client):
    """`view_api()` against the stored snapshot: an endpoint's name, its inputs (names, order, defaults, types) and
    its outputs are a contract with gradio_client users. A deliberate change (a new endpoint, an input appended
    with a default) rewrites the snapshot with AE_VAE_UPDATE_API_SNAPSHOT=1 and says so in CHANGELOG.md."""
    import json
    import os

    api = client.view_api(return_format="dict", print_info=False)
    text = json.dumps(api, indent=1, sort_keys=True) + "\n"
    if os.environ.get("AE_VAE_UPDATE_API_SNAPSHOT") == "1":
        API_SNAPSHOT.write_text(text)
    stored = json.loads(API_SNAPSHOT.read_text())
    assert sorted(api["named_endpoints"]) == sorted(stored["named_endpoints"]), "endpoints added or removed"
    for name, endpoint in stored["named_endpoints"].items():
        assert api["named_endpoints"][name] == endpoint, f"{name} changed its inputs or outputs"
    assert api == stored


def test_gradio_reads_the_attributes_patch_component_sets():
    """`gradio_io.patch_component` changes a component on its instance; this fails if Gradio stops reading
    `preprocess` and `api_info` from there (`Blocks.preprocess_data`, `Blocks.get_api_info`), which every patched
    component of the app (the pad, the uploads, the class menu, every input's refusals) relies on."""
    import asyncio

    import gradio as gr

    from ae_vae.app.gradio_io import patch_component

    with gr.Blocks() as demo:
        box, out = gr.Textbox(), gr.Textbox()
        patch_component(box, preprocess=lambda payload, original: original(payload).upper(),
                        api_info=lambda: {"type": "integer", "description": "patched"}, example=7)
        box.submit(lambda text: text, box, out, api_name="shout")
    block_fn = next(fn for fn in demo.fns.values() if fn.api_name == "shout")
    assert asyncio.run(demo.preprocess_data(block_fn, ["abc"], None)) == ["ABC"]
    parameter = demo.get_api_info()["named_endpoints"]["/shout"]["parameters"][0]
    assert parameter["type"]["description"] == "patched" and parameter["example_input"] == 7


def test_the_docs_api_examples_run_as_written(client, monkeypatch):
    """Every Python block of README.md's API section and docs/api.md, run from the repository's root against the
    app: the images they send are shipped (docs/examples/, made by docs/make_examples.py) and every call answers."""
    readme = (app_module.ROOT / "README.md").read_text()
    api = (app_module.ROOT / "docs" / "api.md").read_text()
    blocks = [block.split("```", 1)[0] for text in (readme.split("Every feature is an endpoint", 1)[1], api)
              for block in text.split("```python\n")[1:]]
    blocks = [block for block in blocks if "client" in block]
    assert len(blocks) >= 3, "the API examples were not found"
    monkeypatch.chdir(app_module.ROOT)
    monkeypatch.setattr(gradio_client, "Client", lambda *args, **kwargs: client)  # the docs' address: this app
    namespace: dict = {}
    for block in blocks:
        exec(block, namespace)  # noqa: S102 - the docs' own examples
    assert namespace["summary"].startswith("The AE's 8 nearest neighbours: ")
    assert "sevens" in namespace["summary"]  # docs/examples/digit.png reads as a seven
