"""The KL knob without the UI: the shipped β-conditioned VAEs along β on stored test images, the β tab's handlers and
server function, the map along β, and the app without a knob."""

from __future__ import annotations

import base64
import itertools
import json
import math
import tempfile
from pathlib import Path

import numpy as np
import pytest

from ae_vae.app.beta import BetaHandlers, knob_value
from ae_vae.app.explorer import Explorer
from ae_vae.app.gradio_io import OutputFiles
from ae_vae.app.knob import KNOB_SAMPLES, MAP_GRID, distortion_of, rate_of
from ae_vae.app.page import knob_data
from ae_vae.app.sources import load_explorer
from ae_vae.data import DATASETS
from ae_vae.models.config import log_spaced

WEIGHTS = Path(__file__).resolve().parents[1] / "weights"


@pytest.fixture(scope="module")
def explorer() -> Explorer:
    return load_explorer(None, WEIGHTS)


@pytest.fixture(scope="module")
def handlers(explorer) -> BetaHandlers:
    return BetaHandlers(explorer, OutputFiles(tempfile.mkdtemp()))


def stored(explorer: Explorer, dataset: str, n: int = 300) -> np.ndarray:
    return explorer.models(dataset).vae_maps.images[-n:].astype(np.float32)[:, None] / 255.0


@pytest.mark.parametrize("dataset", DATASETS)
def test_the_shipped_knob_trades_rate_for_distortion_along_beta(explorer, dataset):
    """On stored test images, along nine log-spaced β over the trained range: the rate falls and the distortion
    rises (each step the right way or by under half a nat), and the rate at the ends differs by at least 20 nats."""
    knob = explorer.knob(dataset)
    x = stored(explorer, dataset)
    rates, distortions = [], []
    for beta in log_spaced(*knob.beta_range, 9):
        posterior = knob.model.encode(x, beta)
        rates.append(rate_of(posterior).mean())
        distortions.append(distortion_of(x, knob.model.decode(posterior.mean, beta)).mean())
    assert all(b < a + 0.5 for a, b in itertools.pairwise(rates)), rates
    assert all(b > a - 0.5 for a, b in itertools.pairwise(distortions)), distortions
    assert rates[0] - rates[-1] >= 20, rates


@pytest.mark.parametrize("dataset", DATASETS)
def test_the_curve_the_app_serves_is_the_measured_one(handlers, dataset):
    curve = handlers.beta_curve(dataset).curve
    low, high = curve["beta_range"]
    points = curve["curve"]
    assert len(points) >= 9 and math.isclose(points[0]["beta"], low) and math.isclose(points[-1]["beta"], high)
    assert curve["distortion_estimator"] == "posterior mean" and curve["test_images"] == 10_000
    assert all(key in points[0] for key in ("rate", "distortion", "active_units", "mse_per_pixel", "judge_accuracy",
                                            "standard_normal_samples"))
    reference = curve["reference"]
    assert reference["ae"]["distortion"] < reference["vae"]["distortion"] and reference["vae"]["rate"] > 0


def test_a_drawing_at_beta_is_the_server_functions_and_the_apis(handlers, explorer):
    """/beta_reconstruct, the view's server function and the knob agree on one drawing at one β."""
    image = explorer.models("mnist").example(7)
    drawing = np.round(image * 255).astype(np.uint8)
    api = handlers.beta_reconstruct(None, drawing, "mnist", 0.5)
    answer = handlers.knob_point({"dataset": "mnist", "beta": 0.5,
                                  "drawing": json.loads(knob_value("mnist", drawing))["drawing"]})
    assert answer["drawing"]["rate"] == pytest.approx(api.rate, abs=1e-3)
    assert answer["drawing"]["distortion"] == pytest.approx(api.distortion, abs=1e-3)
    shown = np.frombuffer(base64.b64decode(answer["drawing"]["image"]), np.uint8).reshape(28, 28)
    from PIL import Image
    assert np.array_equal(shown, np.asarray(Image.open(api.recon)))
    assert len(base64.b64decode(answer["samples"])) == KNOB_SAMPLES * 28 * 28
    low, high = explorer.knob("mnist").beta_range
    small, large = (handlers.beta_reconstruct(None, drawing, "mnist", beta) for beta in (low, high))
    assert small.rate > large.rate and small.distortion < large.distortion


def test_the_same_seed_gives_the_same_draws_and_the_tabs_are_the_first_sixteen(handlers, explorer):
    from PIL import Image
    grid = lambda **kw: np.asarray(Image.open(handlers.beta_sample(**kw).samples))
    a, b = grid(dataset="mnist", beta=2.0, count=16, seed=0), grid(dataset="mnist", beta=2.0, count=16, seed=0)
    assert np.array_equal(a, b) and not np.array_equal(a, grid(dataset="mnist", beta=2.0, count=16, seed=1))
    knob = explorer.knob("mnist")
    assert np.array_equal(knob.draws(16, 0), knob.draws(25, 0)[:16])
    data = knob_data(explorer, "mnist")
    assert np.array_equal(np.frombuffer(base64.b64decode(data["draws"]), "<f4").reshape(16, -1), knob.draws(16, 0))


@pytest.mark.parametrize("call, message", [
    (lambda h: h.beta_sample("mnist", 100.0), "beta must be a number from 0.03 to 8"),
    (lambda h: h.beta_sample("mnist", float("nan")), "beta must be a number"),
    (lambda h: h.beta_sample("mnist", 1.0, 0), "count must be a whole number from 1 to 64"),
    (lambda h: h.beta_sample("mnist", 1.0, 4, -1), "seed must be"),
    (lambda h: h.beta_reconstruct(None, None, "mnist", 1.0), "Pass an image"),
    (lambda h: h.beta_curve("cifar10"), "unknown dataset 'cifar10'"),
])
def test_bad_inputs_are_messages(handlers, call, message):
    import gradio as gr
    with pytest.raises(gr.Error, match=message):
        call(handlers)


@pytest.mark.parametrize("request_, message", [
    ("mnist", "A β point is"), ({"dataset": "mnist", "beta": 9}, "beta must be"),
    ({"dataset": "mnist", "beta": 1, "drawing": "not base64!"}, "28 x 28 bytes"),
    ({"dataset": "mnist", "beta": 1, "drawing": base64.b64encode(b"x" * 10).decode()}, "28 x 28 bytes"),
    ({"dataset": "mnist", "beta": 1, "at": [0, 0]}, "A point of the map is {x, y}"),
    ({"dataset": "mnist", "beta": 1, "at": {"x": 1e6, "y": 0}}, "x must be a number from"),
    ({"dataset": "mnist", "beta": 1, "at": {"x": 0}}, "y must be"),
])
def test_the_server_function_answers_bad_requests_with_a_message(handlers, request_, message):
    assert message in handlers.knob_point(request_)["error"]


def test_the_map_along_beta_moves_points_rather_than_flipping_them(explorer):
    grid = explorer.beta_map("mnist")
    assert grid.positions.shape == (MAP_GRID, len(grid.labels), 2)
    for before, after in itertools.pairwise(grid.positions):
        assert ((before * after).sum(axis=0) > 0).all()  # each axis agrees with its neighbour's
    _, x1, _, y1 = grid.extent
    assert (np.abs(grid.positions[..., 0]) <= x1).all() and (np.abs(grid.positions[..., 1]) <= y1).all()
    knob = explorer.knob("mnist")
    images = explorer.models("mnist").vae_maps.images[:3].astype(np.float32)[:, None] / 255.0
    beta = grid.betas[4]
    for i, code in enumerate(knob.model.embed(images, beta)):
        assert np.allclose(grid.place(code, beta), grid.positions[4, i], atol=1e-3)
    # codes move towards the prior's centre: the map's spread shrinks from the low end to the high end
    assert np.abs(grid.positions[-1]).mean() < np.abs(grid.positions[0]).mean()


@pytest.mark.parametrize("beta", [0.05, 1.0, 6.0])
def test_a_point_of_the_map_at_beta_is_decoded_from_the_plane_it_was_placed_on(handlers, explorer, beta):
    """The map's point (x, y) at β is the code on the plane `place` projects onto there (placing it gives (x, y)
    back), decoded at β; the view's server function answers the same image."""
    grid, knob = explorer.beta_map("mnist"), explorer.knob("mnist")
    x, y = 0.3 * grid.extent[1], -0.2 * grid.extent[3]
    code = grid.code_at(x, y, beta)
    assert np.allclose(grid.place(code, beta), [x, y], atol=1e-4)
    image = explorer.beta_map_point("mnist", beta, x, y)
    assert np.array_equal(image, np.round(knob.model.decode(code[None], beta)[0, 0] * 255).astype(np.uint8))
    answer = handlers.knob_point({"dataset": "mnist", "beta": beta, "at": {"x": x, "y": y}})
    assert answer["map_point"]["x"] == x and answer["map_point"]["y"] == y
    assert np.array_equal(np.frombuffer(base64.b64decode(answer["map_point"]["image"]), np.uint8).reshape(28, 28), image)
    assert handlers.knob_point({"dataset": "mnist", "beta": beta})["map_point"] is None


def test_without_a_knob_the_tab_and_the_api_say_it_is_not_available(explorer):
    bare = Explorer({d: explorer.models(d) for d in explorer.datasets}, "test")
    handlers = BetaHandlers(bare, OutputFiles(tempfile.mkdtemp()))
    note = json.loads(handlers.knob_view("mnist", None).view)["note"]
    assert "The KL knob is not available for MNIST" in note
    assert "not available" in handlers.knob_point({"dataset": "mnist", "beta": 1})["error"]
    import gradio as gr
    with pytest.raises(gr.Error, match="not available"):
        handlers.beta_curve("mnist")


def test_the_knob_bench_names_a_folder_without_its_curve_instead_of_a_traceback(tmp_path, capsys):
    from bench.beta_knob import main

    (tmp_path / "config.json").write_text("{}")  # a run stopped before its end: no metrics.json yet
    with pytest.raises(SystemExit) as stopped:
        main([str(tmp_path)])
    assert stopped.value.code == 2
    said = capsys.readouterr().err
    assert "has no metrics.json" in said and "--resume" in said and "Traceback" not in said


@pytest.mark.parametrize("arguments, said", [
    (["mnist-vae"], "holds a model of type 'vae'; measure a train.py --model beta-vae folder"),
    (["mnist-beta-vae", "--separate", "0.1={}/mnist-ae"], "holds a model of type 'ae'; --separate takes"),
    (["mnist-beta-vae", "--separate", "0.1={}/nowhere"], "nowhere holds no readable config.json"),
])
def test_the_knob_bench_names_a_folder_of_another_kind_instead_of_a_traceback(arguments, said, capsys):
    from bench.beta_knob import main

    folder, *rest = arguments
    with pytest.raises(SystemExit) as stopped:
        main([str(WEIGHTS / folder), *(a.format(WEIGHTS) for a in rest)])
    assert stopped.value.code == 2
    err = capsys.readouterr().err
    assert said in err and "Traceback" not in err
