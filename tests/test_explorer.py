"""The app's handlers, called directly on the shipped weights (no UI)."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ae_vae.app.explorer import POSTERIOR_SAMPLES, Explorer, load_dataset_models, posterior_noise
from ae_vae.app.figures import MARKER_FILL, gif_bytes
from ae_vae.errors import InputError
from ae_vae.figures import image_grid

ROOT = Path(__file__).resolve().parents[1]
WEIGHTS = ROOT / "weights"


@pytest.fixture(scope="module")
def explorer() -> Explorer:
    models = {d: load_dataset_models(d, WEIGHTS / f"{d}-ae", WEIGHTS / f"{d}-vae") for d in ("mnist", "fashion_mnist")}
    return Explorer(models, source_notice="bundled")


@pytest.mark.parametrize("dataset", ["mnist", "fashion_mnist"])
def test_reconstruct_a_test_example(explorer, dataset):
    pair = explorer.models(dataset)
    image = pair.example_images[3]
    result = explorer.reconstruct(image, dataset)
    for array in (result.model_input, result.ae, result.vae):
        assert array.shape == (28, 28) and array.dtype == np.uint8
    assert result.vae_samples.shape[0] == 28 + 4 and result.vae_samples.dtype == np.uint8
    # real test images are reconstructed well by both models
    assert result.ae_mse < 0.03 and result.vae_mse < 0.04
    assert len(result.vae_sample_mse) == 4
    assert "AE" in result.summary() and "VAE" in result.summary()


def test_reconstruct_is_deterministic(explorer):
    image = explorer.models("mnist").example_images[0]
    a, b = explorer.reconstruct(image, "mnist", seed=1), explorer.reconstruct(image, "mnist", seed=1)
    assert np.array_equal(a.vae_samples, b.vae_samples) and np.array_equal(a.ae, b.ae)


@pytest.mark.parametrize("dataset", ["mnist", "fashion_mnist"])
def test_the_posterior_samples_are_the_mean_moved_by_the_noise_the_page_is_given(explorer, dataset):
    """The page draws the posterior samples itself from `posterior_noise` (page_config hands it over): mean + std *
    noise[i], decoded, is the server's grid."""
    pair = explorer.models(dataset)
    image = pair.example_images[5]
    result = explorer.reconstruct(image, dataset)
    posterior = pair.vae.encode(explorer.model_input(image, dataset)[None, None])
    noise = posterior_noise(pair.vae.latent_dim)
    assert noise.shape == (POSTERIOR_SAMPLES, pair.vae.latent_dim) and noise.dtype == np.float32
    assert np.array_equal(noise, posterior_noise(noise.shape[1])) and not np.array_equal(noise, posterior_noise(32, 1))
    decoded = pair.vae.decode(posterior.mean + posterior.std * noise)
    assert np.array_equal(image_grid(decoded, ncol=POSTERIOR_SAMPLES), result.vae_samples)
    mean_only = pair.vae.decode(np.repeat(posterior.mean, 4, axis=0))
    assert not np.array_equal(image_grid(decoded, ncol=4), image_grid(mean_only, 4))


def test_describe_codes_answers_as_analyse_does_for_the_same_codes(explorer):
    image = explorer.models("mnist").example_images[2]
    analysis = explorer.analyse(image, "mnist", 5)
    codes = explorer.encode(image, "mnist")
    typicality, neighbours = explorer.describe_codes("mnist", {"ae": codes["ae"]["code"], "vae": codes["vae"]["mean"]}, 5)
    assert typicality == analysis.typicality
    assert all(np.array_equal(neighbours[m][0].indices, analysis.neighbours[m][0].indices) for m in ("ae", "vae"))
    with pytest.raises(InputError, match="VAE's code has values that are not finite"):
        explorer.describe_codes("mnist", {"ae": codes["ae"]["code"], "vae": [float("nan")] * len(codes["vae"]["mean"])})
    with pytest.raises(InputError, match="AE's code must be a list"):
        explorer.describe_codes("mnist", {"vae": codes["vae"]["mean"]})


def test_dataset_names_are_checked(explorer):
    image = explorer.models("mnist").example_images[0]
    assert explorer.reconstruct(image, "MNIST").ae.shape == (28, 28)
    with pytest.raises(InputError, match="unknown dataset"):
        explorer.reconstruct(image, "cifar10")


@pytest.mark.parametrize("bad", [None, np.zeros((64, 64), np.uint8), np.zeros((1, 1), np.uint8),
                                 {"background": None, "layers": [], "composite": None}])
def test_reconstruct_bad_input(explorer, bad):
    with pytest.raises(InputError):
        explorer.reconstruct(bad, "mnist")


@pytest.mark.parametrize("path", ["linear", "spherical"])
def test_interpolate_endpoints_and_shapes(explorer, path):
    a, b = explorer.default_pair("mnist")
    ae_strip, vae_strip, frames = explorer.interpolate(a, b, "mnist", steps=7, path=path)
    assert ae_strip.shape == vae_strip.shape == (32, 7 * 30 + 2)
    assert len(frames) == 7 and frames[0].shape == (58, 28)
    # the first and last frames are the reconstructions of A and B
    rec_a = explorer.reconstruct(a, "mnist")
    np.testing.assert_allclose(frames[0][30:].astype(int), rec_a.vae.astype(int), atol=2)
    np.testing.assert_allclose(frames[0][:28].astype(int), rec_a.ae.astype(int), atol=2)


def test_interpolate_validates(explorer):
    a, b = explorer.default_pair("fashion_mnist")
    with pytest.raises(InputError, match="steps"):
        explorer.interpolate(a, b, "fashion_mnist", steps=1)
    with pytest.raises(InputError, match="path"):
        explorer.interpolate(a, b, "fashion_mnist", steps=5, path="zigzag")
    with pytest.raises(InputError, match="Image B"):
        explorer.interpolate(a, np.zeros((28, 28), np.uint8), "fashion_mnist", steps=5)


def test_gif_is_animated():
    frames = [np.full((58, 28), v, np.uint8) for v in (0, 128, 255)]
    with Image.open(io.BytesIO(gif_bytes(frames, scale=2))) as gif:
        assert gif.format == "GIF" and gif.n_frames == 4  # A -> B -> back, without repeating the ends
        shown = []
        for index in range(gif.n_frames):
            gif.seek(index)
            shown.append(int(np.asarray(gif.convert("L"))[0, 0]))
        assert gif.size == (56, 116) and shown == [0, 128, 255, 128]


def test_sample_grids(explorer):
    ae, vae, fitted = explorer.sample("mnist", count=16, seed=3, temperature=1.0)
    assert ae.shape == vae.shape == fitted.shape == (4 * 30 + 2, 4 * 30 + 2)
    again = explorer.sample("mnist", count=16, seed=3, temperature=1.0)
    assert all(np.array_equal(x, y) for x, y in zip((ae, vae, fitted), again))
    other = explorer.sample("mnist", count=16, seed=4, temperature=1.0)
    assert not np.array_equal(vae, other[1])
    for bad in ({"count": 0}, {"count": 65}, {"seed": -1}, {"temperature": -1.0}, {"temperature": float("nan")},
                {"count": "many"}):
        with pytest.raises(InputError):
            explorer.sample("mnist", **{"count": 4, "seed": 0, "temperature": 1.0, **bad})


def star_pixels(image: np.ndarray) -> int:
    """Pixels of the marker's yellow (class colours never use it)."""
    return int(np.all(image == np.array(MARKER_FILL, np.uint8), axis=-1).sum())


@pytest.mark.parametrize("dataset", ["mnist", "fashion_mnist"])
def test_embedding_maps_mark_the_drawing(explorer, dataset):
    image = explorer.models(dataset).example_images[5]
    marked, text = explorer.embedding(dataset, image)
    assert marked.dtype == np.uint8 and marked.ndim == 3 and marked.shape[2] == 3
    assert "%" in text and "AE" in text and "VAE" in text
    plain, _ = explorer.embedding(dataset, None)
    assert plain.shape == marked.shape
    assert star_pixels(plain) == 0
    h, w = marked.shape[0] // 2, marked.shape[1] // 2
    quadrants = [marked[:h, :w], marked[:h, w:], marked[h:, :w], marked[h:, w:]]
    assert all(star_pixels(q) > 30 for q in quadrants), [star_pixels(q) for q in quadrants]  # a star per map
    # only the stars differ: the maps themselves are rendered once and reused
    assert (plain != marked).any(axis=-1).sum() < 4 * 600


def test_placing_a_test_point_lands_near_its_stored_position(explorer):
    maps = explorer.models("mnist").vae_maps
    z = maps.latents[:20]
    np.testing.assert_allclose(maps.place_pca(z), maps.pca[:20], atol=1e-4)
    placed = maps.place_umap(z)
    spread = maps.umap.std(axis=0).mean()
    assert np.median(np.linalg.norm(placed - maps.umap[:20], axis=1)) < 0.1 * spread


def test_manifold_grids(explorer):
    ae_grid, vae_grid = explorer.manifold("fashion_mnist", grid_size=5)
    assert ae_grid.shape == vae_grid.shape == (5 * 29 + 1, 5 * 29 + 1)
    with pytest.raises(InputError):
        explorer.manifold("fashion_mnist", grid_size=100)


def test_interpolate_at_its_ends_are_the_strips_ends_and_t_is_checked():
    from ae_vae.app.sources import load_explorer
    from ae_vae.errors import InputError

    explorer = load_explorer(None, Path(__file__).resolve().parents[1] / "weights")
    a, b = explorer.default_pair("mnist")
    ae_strip, vae_strip, _ = explorer.interpolate(a, b, "mnist", 2, "spherical")
    for t, start in ((0.0, 2), (1.0, 32)):
        ae, vae = explorer.interpolate_at(a, b, "mnist", "spherical", t)
        assert np.array_equal(ae, ae_strip[2:30, start:start + 28]) and np.array_equal(vae, vae_strip[2:30, start:start + 28])
    codes = explorer.interpolation_codes(a, b, "mnist")
    assert [len(codes[k]) for k in ("ae", "vae")] == [2, 2] and len(codes["vae"][0]) == 32
    with pytest.raises(InputError, match="t must be a number from 0 to 1"):
        explorer.interpolate_at(a, b, "mnist", "linear", float("nan"))


@pytest.mark.parametrize("percentile, subject, words", [
    (0.0, "digit", "less typical than any test digit"), (100.0, "garment", "more typical than any test garment"),
    (12.5, "digit", "less typical than 88 % of test digits"), (63.0, "garment", "more typical than 63 % of test garments")])
def test_typicality_in_words(percentile, subject, words):
    from ae_vae.app.draw import typical_words

    assert typical_words(percentile, subject) == words


@pytest.mark.parametrize("map_distance", [None, 0.5, 6.0])
@pytest.mark.parametrize("percentile", [10.0, 95.0, 99.5])
def test_a_decoded_point_is_one_sentence_that_does_not_contradict_itself(map_distance, percentile):
    from ae_vae.app.explorer import POINT_MEANING, PointDecode
    from ae_vae.latent.navigation import Closeness

    closeness = Closeness(distance=3.0, percentile=percentile, typical=2.5)
    text = PointDecode("ae", "umap", 1.0, 2.0, np.zeros((28, 28), np.uint8), np.zeros(2), closeness,
                       map_distance).summary()
    assert text.count(". ") == 0 and text.endswith(".")  # one sentence
    verdict = closeness.verdict
    assert f"lies {verdict}" in text and POINT_MEANING[verdict] in text
    assert ("empty part of the map" in text) == (map_distance is not None and map_distance >= 3)
    assert not ("among the data" in text and "off the data" in text)



def test_the_default_interpolation_shows_the_lesson_and_its_sentence_says_what_it_shows():
    """The default MNIST pair has typical ends and a path on which the AE's codes leave the data far more than the
    VAE's; the sentence under the plot quotes the profile's own numbers."""
    import re

    from ae_vae.app.sources import load_explorer

    explorer = load_explorer(None, Path(__file__).resolve().parents[1] / "weights")
    profile = explorer.interpolation_profile(*explorer.default_pair("mnist"), "mnist", 10, "linear")
    ae, vae = profile["ae"], profile["vae"]
    assert min(ae[0], ae[-1], vae[0], vae[-1]) >= 30
    assert min(vae[1:-1]) - min(ae[1:-1]) >= 20
    numbers = [int(n) for n in re.findall(r"(\d+)(?:st|nd|rd|th)\b", explorer.interpolation_lesson("mnist"))]
    assert numbers == [round(min(ae[0], ae[-1], vae[0], vae[-1])), round(min(ae[1:-1])), round(min(vae[1:-1]))]
