"""Every bad input of the app's list, sent through `gradio_client` to `python app.py` (JSON: no NaN or infinity
can be sent; the handlers' own checks for those are tested without the UI): each gets a clear message,
and the server's log holds no traceback from the project's own code (Gradio's own validation may log its own)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from support.harness import app_server

pytestmark = pytest.mark.slow

gradio_client = pytest.importorskip("gradio_client")
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError

ROOT = Path(__file__).resolve().parents[1]
OWN_CODE = re.compile(r'File "[^"]*(/ae_vae/|/app\.py|/train\.py)')


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, str]:
    folder = tmp_path_factory.mktemp("bad-inputs")
    (folder / "notes.txt").write_text("hello")
    Image.new("RGB", (300, 300), "white").save(folder / "white.png")
    Image.new("L", (1, 1), 0).save(folder / "tiny.png")
    (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 40)
    digit = np.full((200, 160), 255, np.uint8)
    digit[30:170, 70:90] = 0
    Image.fromarray(digit).save(folder / "digit.png")
    Image.new("L", (12000, 12000), 255).save(folder / "huge.png")  # 144 megapixels: Pillow warns, then opens it
    return {name: str(folder / f"{name}{'.txt' if name == 'notes' else '.png'}")
            for name in ("notes", "white", "tiny", "broken", "digit", "huge")}


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    log = tmp_path_factory.mktemp("bad-inputs-log") / "app.log"
    with app_server(ROOT / "weights", log_path=log, timeout=300) as app:
        yield Client(app.url, verbose=False), log


def bad_calls(f: dict[str, str]) -> list[tuple[dict, str]]:
    """(keyword arguments of `Client.predict`, a word the message must hold)."""
    image = {name: handle_file(path) for name, path in f.items()}
    return [
        ({"image": image["notes"], "dataset": "mnist", "api_name": "/reconstruct"}, "not an image"),
        ({"image": image["broken"], "dataset": "mnist", "api_name": "/reconstruct"}, "image"),
        ({"image": image["white"], "dataset": "mnist", "api_name": "/reconstruct"}, "No ink"),
        ({"image": image["tiny"], "dataset": "mnist", "api_name": "/reconstruct"}, "1×1"),
        ({"image": image["huge"], "dataset": "mnist", "api_name": "/reconstruct"}, "limit is 50 megapixels"),
        ({"dataset": "mnist", "api_name": "/reconstruct"}, "draw a digit"),
        ({"sketch": "abc", "dataset": "mnist", "api_name": "/reconstruct"}, "not a drawing"),
        ({"image": image["digit"], "dataset": "cifar10", "api_name": "/reconstruct"}, "choices"),
        ({"dataset": "mnist", "count": 0, "api_name": "/sample"}, "minimum"),
        ({"dataset": "mnist", "seed": -1, "api_name": "/sample"}, "minimum"),
        ({"dataset": "mnist", "temperature": 9.0, "api_name": "/sample"}, "maximum"),
        ({"dataset": "mnist", "prior": "uniform", "api_name": "/sample"}, "choices"),
        ({"dataset": "mnist", "prior": "mixture", "label": 12, "api_name": "/sample"}, "choices"),
        ({"dataset": "mnist", "prior": "standard", "label": 3, "api_name": "/sample"}, "needs the fitted prior"),
        ({"image_a": image["notes"], "image_b": image["digit"], "dataset": "mnist", "api_name": "/interpolate"}, "image"),
        ({"image_a": image["white"], "image_b": image["digit"], "dataset": "mnist", "api_name": "/interpolation_profile"},
         "No ink"),
        ({"image_a": image["digit"], "image_b": image["digit"], "dataset": "mnist", "steps": 500, "api_name": "/interpolate"},
         "maximum"),
        ({"dataset": "mnist", "image": image["notes"], "api_name": "/embedding"}, "not an image"),
        ({"dataset": "mnist", "api_name": "/typicality"}, "draw a digit"),
        ({"image": image["white"], "dataset": "fashion_mnist", "api_name": "/typicality"}, "No ink"),
        ({"dataset": "mnist", "k": 0, "image": image["digit"], "api_name": "/neighbors"}, "minimum"),
        ({"dataset": "mnist", "api_name": "/locate"}, "Pass an image"),
        ({"dataset": "mnist", "model": "vae", "code": ["x"] * 32, "api_name": "/decode"}, "number"),
        ({"dataset": "mnist", "model": "vae", "code": [1e300] * 32, "api_name": "/decode"}, "within"),
        ({"dataset": "mnist", "model": "ae", "projection": "umap", "x": 1e308, "y": 0, "api_name": "/decode_point"}, "outside"),
        ({"image": image["digit"], "dataset": "mnist", "beta": 50.0, "api_name": "/beta_reconstruct"}, "from 0.03 to 8"),
        ({"image": image["white"], "dataset": "mnist", "beta": 1.0, "api_name": "/beta_reconstruct"}, "No ink"),
        ({"image": image["notes"], "dataset": "fashion_mnist", "beta": 1.0, "api_name": "/beta_reconstruct"},
         "not an image"),
        ({"sketch": "abc", "dataset": "mnist", "beta": 1.0, "api_name": "/beta_reconstruct"}, "not a drawing"),
        ({"dataset": "mnist", "beta": 1.0, "api_name": "/beta_reconstruct"}, "Pass an image"),
        ({"dataset": "fashion_mnist", "beta": 0.005, "api_name": "/beta_sample"}, "from 0.01 to 8"),
        ({"dataset": "mnist", "beta": "x", "api_name": "/beta_sample"}, "beta must be a number"),
        ({"dataset": "mnist", "beta": 1.0, "count": 65, "api_name": "/beta_sample"}, "from 1 to 64"),
        ({"dataset": "mnist", "beta": 1.0, "seed": -1, "api_name": "/beta_sample"}, "seed must be"),
        ({"dataset": "cifar10", "api_name": "/beta_curve"}, "choices"),
    ]


def test_every_bad_input_gets_a_message_and_no_traceback_from_our_code(served, files):
    client, log = served
    unanswered = []
    for kwargs, word in bad_calls(files):
        try:
            client.predict(**kwargs)
        except AppError as exc:
            if not re.search(word, str(exc)):
                unanswered.append(f"{kwargs['api_name']} {word!r}: {exc}")
        else:
            unanswered.append(f"{kwargs['api_name']}: no error for {kwargs}")
    assert not unanswered, "\n".join(unanswered)
    client.predict(image=handle_file(files["digit"]), dataset="mnist", api_name="/reconstruct")  # still serving
    tracebacks = [block for block in log.read_text(errors="replace").split("Traceback (most recent call last)")[1:]
                  if OWN_CODE.search(block)]
    assert not tracebacks, "a traceback from our code in the server log:\n" + tracebacks[0][:3000]
    assert "DecompressionBombWarning" not in log.read_text(errors="replace")  # refused in words, not warned of
