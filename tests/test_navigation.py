"""Navigating the latent maps: the maps' inverses, pixels <-> data, neighbours, directions, stored images."""

from __future__ import annotations

import base64
import colorsys
import io
import json
from pathlib import Path

import gradio as gr
import numpy as np
import pytest
import torch
from PIL import Image
from safetensors import safe_open

from ae_vae.app.draw import NEIGHBOURS_HINT, DrawHandlers
from ae_vae.app.embeddings import EmbeddingsHandlers
from ae_vae.app.explorer import Explorer, load_dataset_models
from ae_vae.app.figures import MARKER_FILL, PANELS, maps_figure
from ae_vae.app.gradio_io import OutputFiles
from ae_vae.app.views import DrawingView, MapsView
from ae_vae.errors import EmbeddingsError, InputError
from ae_vae.figures import LABEL_COLOURS, _spread_boxes
from ae_vae.latent import maps as maps_module
from ae_vae.latent.maps import ImageRows, LatentMaps, fit_pca, load_maps, neighbour_shard_name, save_maps
from ae_vae.latent.navigation import MAX_SIGMA, Navigator, image_properties
from ae_vae.models.autoencoder import AutoEncoder
from ae_vae.models.config import AutoEncoderConfig
from ae_vae.models.format import save_model_folder
from ae_vae.models.loading import load_model
from ae_vae.training.artifacts import store_points

ROOT = Path(__file__).resolve().parents[1]
WEIGHTS = ROOT / "weights"


def synthetic_maps(latent_dim: int = 5, per_class: int = 30, seed: int = 0, images: bool = True) -> LatentMaps:
    """Ten well separated Gaussian clusters of codes; the "UMAP" map is a 2-D layout of the same clusters."""
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(10), per_class)
    centres = rng.normal(0, 10, (10, latent_dim))
    latents = (centres[labels] + rng.normal(0, 1, (len(labels), latent_dim))).astype(np.float32)
    layout = np.stack([np.cos(np.arange(10) * 0.63), np.sin(np.arange(10) * 0.63)], 1) * 20
    umap = (layout[labels] + rng.normal(0, 1, (len(labels), 2))).astype(np.float32)
    mean, components, ratio = fit_pca(latents)
    pixels = rng.integers(0, 256, (len(labels), 28, 28), dtype=np.uint8) if images else None
    return LatentMaps(latents=latents, labels=labels, pca=((latents - mean) @ components.T).astype(np.float32),
                      umap=umap, pca_mean=mean, pca_components=components, pca_explained_variance_ratio=ratio,
                      train_latent_mean=latents.mean(0), train_latent_cov=np.cov(latents, rowvar=False),
                      example_images=np.zeros((10, 28, 28), np.uint8), example_labels=np.arange(10),
                      images=pixels)


# ---------------------------------------------------------------- pure logic

@pytest.mark.parametrize("latent_dim", [2, 5])
def test_pca_inverse_is_exact(latent_dim):
    """project -> invert -> project is the identity on the plane, and invert -> project gives the position back."""
    maps = synthetic_maps(latent_dim)
    nav = Navigator(maps, "mnist")
    for x, y in np.random.default_rng(1).normal(0, 15, (20, 2)):
        z = nav.pca_inverse(x, y)
        assert np.allclose(maps.place_pca(z)[0], [x, y], atol=1e-4)
    on_plane = nav.pca_inverse(*maps.place_pca(maps.latents[7])[0])
    assert np.allclose(nav.pca_inverse(*maps.place_pca(on_plane)[0]), on_plane, atol=1e-4)


def test_umap_inverse_on_a_point_far_away_and_between():
    maps = synthetic_maps()
    nav = Navigator(maps, "mnist")
    z, distance = nav.umap_inverse(*maps.umap[42])
    assert np.allclose(z, maps.latents[42], atol=1e-5) and distance == 0.0
    # far from every point: the mean of the k nearest (edge) points' codes, and it stops changing
    far_a, d_a = nav.umap_inverse(1e4, 1e4)
    far_b, d_b = nav.umap_inverse(2e4, 2e4)
    assert np.allclose(far_a, far_b, atol=1e-3) and d_b > d_a > 1e3
    _, ratio = nav.latent_at("umap", 1e4, 1e4)
    assert ratio > 100  # in typical spacings of the map's points


def test_umap_inverse_lands_in_the_cluster_of_the_class():
    maps = synthetic_maps()
    nav = Navigator(maps, "mnist")
    rng = np.random.default_rng(2)
    for i in rng.integers(0, len(maps.labels), 30):
        x, y = maps.umap[i] + rng.normal(0, 0.3, 2)
        z, _ = nav.latent_at("umap", x, y)
        assert nav.neighbours(z, 5).vote() == maps.labels[i]


def test_neighbours_vote_and_closeness():
    maps = synthetic_maps()
    nav = Navigator(maps, "mnist")
    near = nav.neighbours(maps.latents[95], 8)
    assert near.indices[0] == 95 and near.distances[0] == 0.0 and np.all(np.diff(near.distances) >= 0)
    assert np.array_equal(near.images[0], maps.images[95]) and set(near.labels) == {3}
    assert nav.vote_line(near, "vae") == "the VAE's 8 nearest neighbours: 8 threes"
    mixed = type(near)(near.indices[:3], near.distances[:3], np.array([7, 1, 7]), None)
    assert nav.vote_line(mixed, "ae") == "the AE's 3 nearest neighbours: 2 sevens, 1 one" and mixed.vote() == 7
    assert Navigator(maps, "fashion_mnist").vote_line(mixed, "ae").endswith("2 sneakers, 1 trouser")
    assert nav.closeness(maps.latents[3]).verdict == "among the data"
    assert nav.closeness(maps.latents[3] + 1000).verdict == "off the data"


@pytest.mark.parametrize("bad, message", [
    ((float("nan"), 0.0), "outside"), ((1e12, 0.0), "outside"), ((0.0, -1e300), "outside"), (("x", 0.0), "number")])
def test_positions_are_checked(bad, message):
    nav = Navigator(synthetic_maps(), "mnist")
    with pytest.raises(InputError, match=message):
        nav.check_position("umap", *bad)
    with pytest.raises(InputError, match="projection must be one of pca, umap"):
        nav.check_position("tsne", 0.0, 0.0)


@pytest.mark.parametrize("latent_dim", [2, 5])
def test_walk_moves_sigma_standard_deviations_along_each_direction(latent_dim):
    maps = synthetic_maps(latent_dim)
    nav = Navigator(maps, "mnist")
    assert len(nav.directions) == min(3, latent_dim)
    start = maps.latents[0]
    moved = nav.walk(start, [1.5, -2.0, 0.5])
    for direction, sigma in zip(nav.directions, [1.5, -2.0, 0.5]):
        assert abs(np.linalg.norm(direction.vector) - 1) < 1e-5
        assert (moved - start) @ direction.vector == pytest.approx(sigma * direction.std, rel=1e-3)
    projected = (maps.latents - maps.latents.mean(0)) @ nav.directions[0].vector
    assert nav.directions[0].std == pytest.approx(projected.std(), rel=1e-4)


def test_directions_are_labelled_by_what_they_measurably_do():
    """A direction whose position is the ink of the image gets "+ means more ink", one along which the classes
    separate gets its two end classes; without images or class structure, only its number and explained variance."""
    rng = np.random.default_rng(3)
    maps = synthetic_maps(4)
    nav = Navigator(maps, "mnist")
    first = nav.directions[0]
    position = (maps.latents - maps.latents.mean(0)) @ first.vector
    ink = np.clip((position - position.min()) / np.ptp(position) * 255, 0, 255)
    images = np.zeros_like(maps.images)
    images[:, 4:24, 4:24] = (ink[:, None, None] * rng.uniform(0.95, 1, (len(ink), 20, 20))).astype(np.uint8)
    labelled = Navigator(LatentMaps(**{**maps.__dict__, "images": images}), "mnist").directions[0].label
    assert labelled.startswith("direction 1 (") and "+ means more ink (a strong trend)" in labelled
    assert "(−) to" in labelled and "% of the spread" in labelled  # the clusters are the classes
    assert "η²" not in labelled and "r =" not in labelled  # plain words
    no_images = synthetic_maps(4, images=False)
    assert "+ means" not in Navigator(no_images, "mnist").directions[0].label
    shuffled = LatentMaps(**{**no_images.__dict__, "labels": rng.permutation(no_images.labels)})
    plain = Navigator(shuffled, "mnist").directions[0].label
    assert plain.startswith("direction 1 (") and plain.endswith("% of variance)")


def test_image_properties_measure_slant_and_size():
    upright, leaning = np.zeros((28, 28), np.uint8), np.zeros((28, 28), np.uint8)
    upright[4:24, 13:15] = 255
    for row in range(4, 24):  # top to the right: leans right
        leaning[row, 20 - (row - 4) // 2: 22 - (row - 4) // 2] = 255
    props = image_properties(np.stack([upright, leaning]))
    assert abs(props["slant"][0]) < 1e-6 and props["slant"][1] > 0.3
    assert props["height"][0] > props["width"][0]


# ---------------------------------------------------------------- the stored images

def tiny_folder(root: Path, data_dir: Path, points: int = 40, with_images: bool = False) -> Path:
    """A tiny AE and the maps of the first `points` test images of the tiny MNIST, saved as a weights folder."""
    from ae_vae.data import load_split

    torch.manual_seed(0)
    model = AutoEncoder(AutoEncoderConfig(latent_dim=3, channels=(2, 4), hidden_blocks=0, dataset="mnist"))
    test = load_split("mnist", data_dir, train=False, download=False)
    with torch.no_grad():
        latents = model.embed(test.images[:points]).numpy()
    maps = synthetic_maps(3, per_class=4, images=False)
    maps = LatentMaps(**{**maps.__dict__, "latents": latents, "labels": test.labels[:points].numpy()})
    if with_images:
        maps.images = (test.images[:points, 0].numpy() * 255).round().astype(np.uint8)
    folder = root / "mnist-ae"
    save_model_folder(model, folder)
    save_maps(maps, folder / "embeddings.safetensors")
    return folder


@pytest.mark.parametrize("neighbour_points", [0, 100, 1000])
def test_store_points_stores_them_and_changes_no_map(tmp_path, tiny_data_dir, neighbour_points):
    from ae_vae.data import load_split

    folder = tiny_folder(tmp_path, tiny_data_dir)
    path = folder / "embeddings.safetensors"
    assert load_maps(path).images is None  # a folder made before: still loads
    with safe_open(str(path), "np") as before:
        old = {k: before.get_tensor(k) for k in before.keys()}  # noqa: SIM118 - safe_open is not iterable
        old_meta = before.metadata()
    stored = min(neighbour_points, 256)  # the tiny training split has 256 images
    assert store_points(folder, tiny_data_dir, neighbour_points) == (40, stored)
    refitted = {"train_latent_mean", "train_latent_cov"}  # the one Gaussian, as fit_gaussian fits it
    with safe_open(str(path), "np") as after:
        assert after.metadata() == old_meta and set(after.keys()) == set(old) | {"images"}
        assert all(np.array_equal(after.get_tensor(k), v) for k, v in old.items() if k not in refitted)
    expected = (load_split("mnist", tiny_data_dir, train=False).images[:40, 0].numpy() * 255).round()
    maps = load_maps(path)
    assert np.array_equal(maps.images, expected.astype(np.uint8))
    assert (folder / "neighbours.safetensors").is_file() == bool(stored) and maps.has_neighbours == bool(stored)
    train = load_split("mnist", tiny_data_dir, train=True)
    with torch.no_grad():
        all_codes = load_model(folder).embed(train.images).numpy()
    assert np.allclose(maps.train_latent_mean, all_codes.mean(0), atol=1e-5)
    assert np.allclose(maps.train_latent_cov, np.cov(all_codes, rowvar=False, bias=True), atol=1e-4)
    if stored:
        with safe_open(str(folder / "neighbours.safetensors"), "np") as points:
            assert points.metadata() == {"points": str(stored)}
        assert np.array_equal(maps.neighbour_labels, train.labels[:stored].numpy())
        assert np.array_equal(maps.neighbour_images, (train.images[:stored, 0].numpy() * 255).round().astype(np.uint8))
        assert np.allclose(maps.neighbour_latents, all_codes[:stored], atol=1e-5)
    else:
        assert maps.neighbour_latents is None


def test_store_points_refuses_points_that_are_not_the_test_split(tmp_path, tiny_data_dir):
    folder = tiny_folder(tmp_path, tiny_data_dir)
    maps = load_maps(folder / "embeddings.safetensors")
    maps.latents = maps.latents + 1.0  # other weights' codes
    save_maps(maps, folder / "embeddings.safetensors")
    with pytest.raises(EmbeddingsError, match="re-encode"):
        store_points(folder, tiny_data_dir)
    maps.labels = np.roll(maps.labels, 1)
    save_maps(maps, folder / "embeddings.safetensors")
    with pytest.raises(EmbeddingsError, match="labels are not the first 40"):
        store_points(folder, tiny_data_dir)


def with_training_points(maps: LatentMaps, count: int = 50, seed: int = 3) -> LatentMaps:
    """`maps` plus `count` extra "training" points: copies of stored codes, slightly moved, with their labels."""
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, len(maps.labels), count)
    return LatentMaps(**{**maps.__dict__,
                         "neighbour_latents": (maps.latents[picks] + rng.normal(0, 0.05, (count, maps.latents.shape[1]))
                                               ).astype(np.float32),
                         "neighbour_labels": maps.labels[picks],
                         "neighbour_images": rng.integers(0, 256, (count, 28, 28), dtype=np.uint8)})


@pytest.mark.parametrize("model", ["ae", "vae"])
def test_the_neighbour_search_finds_what_comparing_every_stored_code_finds(explorer, model):
    """The shortlisted search (|c|² - 2 c·q, then exact distances) gives the exact k nearest of all stored codes, in
    order, with their exact distances: near stored codes, between them and far off the data."""
    nav = explorer.navigator("mnist", model)
    maps = nav.maps
    codes = np.concatenate([maps.latents, maps.neighbour_latents]) if maps.has_neighbours else maps.latents
    rng = np.random.default_rng(0)
    spread = codes.std(0)
    queries = [codes[i] + rng.normal(0, 0.3, codes.shape[1]) * spread for i in rng.integers(0, len(codes), 20)]
    queries += [codes[5], codes.mean(0), codes.mean(0) + 20 * spread]
    for query in queries:
        query = np.asarray(query, np.float32)
        squared = np.einsum("ij,ij->i", codes - query, codes - query)
        expected = np.lexsort((np.arange(len(codes)), squared))[:16]
        near = nav.neighbours(query, 16)
        assert near.indices.tolist() == expected.tolist()
        assert np.array_equal(near.distances, np.sqrt(squared[expected]))


def test_neighbours_search_the_training_points_too(tmp_path):
    maps = with_training_points(synthetic_maps())
    save_maps(maps, tmp_path / "embeddings.safetensors")
    loaded = load_maps(tmp_path / "embeddings.safetensors")
    assert np.array_equal(loaded.neighbour_images, maps.neighbour_images)
    nav = Navigator(loaded, "mnist")
    n = len(maps.labels)
    # a training point's own code: itself first (its index in the search set is after the n test points)
    near = nav.neighbours(maps.neighbour_latents[7], 3)
    assert near.indices[0] == n + 7 and near.distances[0] == 0.0
    assert np.array_equal(near.images[0], maps.neighbour_images[7]) and near.labels[0] == maps.neighbour_labels[7]
    # a code stored twice, as a test point and as a training point: the test point comes first
    twin = LatentMaps(**{**loaded.__dict__, "neighbour_latents": loaded.latents[:50].copy()})
    assert Navigator(twin, "mnist").neighbours(loaded.latents[12], 2).indices.tolist() == [12, n + 12]
    # the maps themselves (what a click or a star is placed among) stay the test points
    assert len(nav.coordinates("umap")) == n


def test_a_maps_file_that_still_holds_neighbour_points_loads_and_reads_them_from_their_own_file(tmp_path):
    """Maps files written when the neighbour points lived inside them: the extra tensors are ignored; the points
    come from neighbours.safetensors or, without it, the test points are searched alone."""
    from safetensors.numpy import save_file

    maps = with_training_points(synthetic_maps())
    save_maps(LatentMaps(**{**maps.__dict__, "neighbour_latents": None, "neighbour_labels": None,
                            "neighbour_images": None}), tmp_path)
    with safe_open(str(tmp_path / "embeddings.safetensors"), "np") as f:
        tensors = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118 - safe_open is not iterable
    tensors.update(neighbour_latents=maps.neighbour_latents, neighbour_labels=maps.neighbour_labels,
                   neighbour_images=maps.neighbour_images)
    save_file(tensors, str(tmp_path / "embeddings.safetensors"))
    assert not load_maps(tmp_path).has_neighbours
    (tmp_path / "copy").mkdir()
    save_maps(maps, tmp_path / "copy")
    (tmp_path / "neighbours.safetensors").write_bytes((tmp_path / "copy" / "neighbours.safetensors").read_bytes())
    loaded = load_maps(tmp_path)
    assert np.array_equal(loaded.neighbour_images, maps.neighbour_images) and np.array_equal(loaded.latents,
                                                                                           maps.latents)


def test_neighbour_points_over_the_shard_size_are_stored_in_shards_and_read_as_one(tmp_path, monkeypatch):
    """Points that would make a file over `NEIGHBOUR_SHARD_BYTES` go to row shards, each under it, with no single file;
    they load as the same points (the images as memory maps of the shards) and search alike. A smaller set written
    later replaces every shard."""
    maps = with_training_points(synthetic_maps(), count=50)
    save_maps(maps, tmp_path / "single")
    monkeypatch.setattr(maps_module, "NEIGHBOUR_SHARD_BYTES", 16_000)  # 50 points of ~830 bytes: 3 shards
    save_maps(maps, tmp_path)
    shards = sorted(p.name for p in tmp_path.glob("neighbours*"))
    assert shards == [neighbour_shard_name(i, 3) for i in (1, 2, 3)]
    assert all((tmp_path / name).stat().st_size <= 16_000 + 1_000 for name in shards)  # (+ each file's header)
    loaded, single = load_maps(tmp_path), load_maps(tmp_path / "single")
    assert isinstance(loaded.neighbour_images, ImageRows) and len(loaded.neighbour_images.blocks) == 3
    assert all(isinstance(block, np.memmap) for block in loaded.neighbour_images.blocks)
    for name in ("neighbour_latents", "neighbour_labels", "neighbour_images"):
        assert np.array_equal(getattr(loaded, name), getattr(maps, name))
    for query in maps.neighbour_latents[::7]:
        a, b = Navigator(loaded, "mnist").neighbours(query, 6), Navigator(single, "mnist").neighbours(query, 6)
        assert np.array_equal(a.indices, b.indices) and np.array_equal(a.images, b.images)
    save_maps(with_training_points(synthetic_maps(), count=5), tmp_path)
    assert sorted(p.name for p in tmp_path.glob("neighbours*")) == ["neighbours.safetensors"]


def test_a_missing_or_foreign_shard_or_two_forms_at_once_are_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(maps_module, "NEIGHBOUR_SHARD_BYTES", 16_000)
    save_maps(with_training_points(synthetic_maps(), count=50), tmp_path)
    (tmp_path / neighbour_shard_name(2, 3)).unlink()
    with pytest.raises(EmbeddingsError, match="not one whole set of 3"):
        load_maps(tmp_path)
    (tmp_path / "other").mkdir()
    save_maps(with_training_points(synthetic_maps(), count=48, seed=5), tmp_path / "other")
    (tmp_path / neighbour_shard_name(2, 3)).write_bytes((tmp_path / "other" / neighbour_shard_name(2, 3)).read_bytes())
    with pytest.raises(EmbeddingsError, match="shards of different writes"):
        load_maps(tmp_path)
    save_maps(with_training_points(synthetic_maps(), count=50), tmp_path)
    (tmp_path / "neighbours.safetensors").write_bytes(b"")
    with pytest.raises(EmbeddingsError, match="both neighbours.safetensors and"):
        load_maps(tmp_path)


def test_image_rows_read_like_one_array():
    rng = np.random.default_rng(0)
    whole = rng.integers(0, 256, (10, 28, 28), dtype=np.uint8)
    rows = ImageRows([whole[:3], whole[3:4], whole[4:]])
    assert rows.shape == whole.shape and rows.dtype == np.uint8 and len(rows) == 10 and np.array_equal(rows, whole)
    for key in (0, 3, 4, 9, -1, np.int64(5), slice(2, 7), slice(None, None, 3), np.array([9, 0, 3]),
                (slice(0, 4), None), (5, slice(0, 2))):
        assert np.array_equal(rows[key], whole[key]), key
    with pytest.raises(IndexError):
        rows[10]


def test_the_stored_images_are_memory_maps_of_the_files(tmp_path):
    """The images a search shows k of are read from the file when shown, not copied at load: equal values, backed
    by the file; a file whose header promises more bytes than it holds is refused with its name."""
    maps = with_training_points(synthetic_maps())
    save_maps(maps, tmp_path)
    loaded = load_maps(tmp_path)
    for name in ("images", "neighbour_images"):
        assert isinstance(getattr(loaded, name), np.memmap) and np.array_equal(getattr(loaded, name),
                                                                                 getattr(maps, name))
    assert not isinstance(loaded.neighbour_latents, np.memmap)  # searched every time: in memory
    data = (tmp_path / "neighbours.safetensors").read_bytes()
    (tmp_path / "neighbours.safetensors").write_bytes(data[:-100])
    with pytest.raises(EmbeddingsError, match="neighbours.safetensors: not a readable safetensors file"):
        load_maps(tmp_path)


def test_partial_or_misshapen_training_points_are_refused(tmp_path):
    maps = with_training_points(synthetic_maps())
    path = tmp_path / "embeddings.safetensors"
    save_maps(LatentMaps(**{**maps.__dict__, "neighbour_images": None}), path)
    with pytest.raises(EmbeddingsError, match="neighbours.safetensors: missing tensor 'neighbour_images'"):
        load_maps(path)
    save_maps(LatentMaps(**{**maps.__dict__, "neighbour_labels": maps.neighbour_labels[:-1]}), path)
    with pytest.raises(EmbeddingsError, match="neighbour_"):
        load_maps(path)


def test_images_of_the_wrong_shape_are_refused(tmp_path):
    maps = synthetic_maps()
    maps.images = maps.images[:, :20]
    save_maps(maps, tmp_path / "embeddings.safetensors")
    with pytest.raises(EmbeddingsError, match=r"images must be \(300, 28, 28\) uint8"):
        load_maps(tmp_path / "embeddings.safetensors")


# ---------------------------------------------------------------- the shipped models

@pytest.fixture(scope="module")
def explorer() -> Explorer:
    models = {d: load_dataset_models(d, WEIGHTS / f"{d}-ae", WEIGHTS / f"{d}-vae") for d in ("mnist", "fashion_mnist")}
    return Explorer(models, source_notice="bundled")


def test_every_shipped_folder_stores_its_images(explorer):
    for dataset in explorer.datasets:
        pair = explorer.models(dataset)
        for maps in (pair.ae_maps, pair.vae_maps):
            assert maps.images is not None and maps.images.shape == (len(maps.labels), 28, 28)


@pytest.mark.parametrize("dataset", ["mnist", "fashion_mnist"])
def test_the_class_names_on_each_map_do_not_overlap(explorer, dataset):
    """Where classes' medians lie close (the PCA planes), their names are pushed apart rather than stacked."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    pair = explorer.models(dataset)
    fig = maps_figure(dataset, pair.ae_maps, pair.vae_maps)
    renderer = FigureCanvasAgg(fig).get_renderer()
    fig.draw(renderer)
    for ax in fig.axes:
        boxes = [text.get_window_extent(renderer) for text in ax.texts]
        assert len(boxes) == 10
        overlapping = [(ax.texts[i].get_text(), ax.texts[j].get_text()) for i in range(10) for j in range(i + 1, 10)
                       if boxes[i].overlaps(boxes[j])]
        assert not overlapping, (ax.get_title(), overlapping)


def test_each_map_counts_the_points_it_shows(explorer):
    """A folder of one's own may store fewer points than the other model's: each panel says its own number."""
    pair = explorer.models("mnist")
    few = LatentMaps(**{**pair.vae_maps.__dict__, **{k: getattr(pair.vae_maps, k)[:1000] for k in
                                                      ("labels", "pca", "umap")}})
    titles = [ax.get_title() for ax in maps_figure("mnist", pair.ae_maps, few).axes]
    assert all(title.endswith(f"{n} images") for title, n in zip(titles, (5000, 1000, 5000, 1000), strict=True)), titles


@pytest.mark.parametrize("dataset", ["mnist", "fashion_mnist"])
def test_the_live_maps_data_names_each_class_where_its_points_are(explorer, dataset):
    """`page.map_data`: per map an extent holding every point, each present class's name placed inside the map
    (fractions in [0, 1]), near its median unless pushed apart; the labels and points of every stored code."""
    from ae_vae.app.page import map_data

    data = map_data(explorer, dataset)
    assert len(data["classes"]) == len(data["colours"]) == 10
    for kind, model in data["models"].items():
        maps = explorer.models(dataset).maps[kind]
        labels = np.frombuffer(base64.b64decode(model["labels"]), np.uint8)
        assert np.array_equal(labels, maps.labels) and model["n"] == len(labels)
        for projection in ("pca", "umap"):
            points = np.frombuffer(base64.b64decode(model[projection]), "<f4").reshape(-1, 2)
            assert np.allclose(points, getattr(maps, projection), atol=1e-5)
            x0, x1, y0, y1 = model["extents"][projection]
            assert (points[:, 0] > x0).all() and (points[:, 0] < x1).all()
            assert (points[:, 1] > y0).all() and (points[:, 1] < y1).all()
            names = model["names"][projection]
            assert sorted(n["label"] for n in names) == sorted(set(labels.tolist()))
            assert all(0 <= v <= 1 for n in names for v in n["place"])


@pytest.mark.parametrize("dims", [2, 3, 4, 32])
def test_nearest_other_distances_are_exact_by_tree_and_by_matrix(dims):
    """A map's points go through a k-d tree, codes through chunked matrix products: both give each point's distance
    to its nearest other point, as the plain pairwise computation does (duplicates included: 0)."""
    from ae_vae.latent.navigation import nearest_other_distances

    points = np.random.default_rng(dims).normal(size=(700, dims)).astype(np.float32)
    points[5] = points[9]
    pairwise = np.linalg.norm(points[:, None].astype(np.float64) - points[None], axis=-1)
    np.fill_diagonal(pairwise, np.inf)
    assert np.allclose(nearest_other_distances(points, chunk=128), pairwise.min(1), atol=1e-9)


def test_spread_boxes_moves_only_what_overlaps():
    centres = np.array([[0.5, 0.5], [0.51, 0.5], [0.9, 0.1]])
    sizes = np.array([[0.2, 0.05], [0.2, 0.05], [0.1, 0.05]])
    placed = _spread_boxes(centres, sizes)
    gap = np.abs(placed[0] - placed[1])
    assert (gap >= (sizes[0] + sizes[1]) / 2 - 1e-9).any()  # apart along one axis
    assert np.allclose(placed[2], centres[2]) and ((placed >= sizes / 2) & (placed <= 1 - sizes / 2)).all()


def test_the_first_and_last_class_colours_are_different_hues():
    """Class 0 and class 9 (T-shirt/top and Ankle boot) sit side by side in every legend: not two blues."""
    def hue(colour: str) -> float:
        r, g, b = (int(colour[i:i + 2], 16) / 255 for i in (1, 3, 5))
        return colorsys.rgb_to_hls(r, g, b)[0] * 360.0

    gap = abs(hue(LABEL_COLOURS[0]) - hue(LABEL_COLOURS[9]))
    assert min(gap, 360.0 - gap) >= 30.0


@pytest.mark.parametrize("dataset", ["mnist", "fashion_mnist"])
def test_pixel_and_data_coordinates_round_trip_on_every_panel(explorer, dataset):
    rendered = explorer.rendered_maps(dataset)
    assert len(rendered.boxes) == len(PANELS)
    rng = np.random.default_rng(4)
    for panel, (x_min, x_max, y_min, y_max) in enumerate(rendered.limits):
        for x, y in zip(rng.uniform(x_min, x_max, 25), rng.uniform(y_min, y_max, 25)):
            px, py = rendered.to_pixel(panel, x, y)
            left, top, right, bottom = rendered.boxes[panel]
            assert left <= px <= right and top <= py <= bottom
            assert np.allclose(rendered.to_data(panel, px, py), (x, y), rtol=1e-9, atol=1e-9)


def test_the_api_maps_star_the_drawing_on_a_copy(explorer):
    rendered = explorer.rendered_maps("mnist")
    before = rendered.pixels.copy()
    image = explorer.models("mnist").vae_maps.images[3]
    marked = explorer.marked_maps("mnist", image)
    assert marked.shape == before.shape and np.array_equal(rendered.pixels, before)
    star = (marked.reshape(-1, 3) == MARKER_FILL).all(1).reshape(marked.shape[:2])
    for panel, (model, projection) in enumerate(PANELS):
        px, py = rendered.to_pixel(panel, *explorer.locate(image, "mnist")[model][projection])
        assert star[round(py) - 2:round(py) + 3, round(px) - 2:round(px) + 3].any(), (model, projection)


@pytest.mark.parametrize("model", ["ae", "vae"])
def test_shipped_umap_inverse_lands_in_the_cluster_of_a_stored_points_class(explorer, model):
    """Half-way between a stored point and its nearest same-class neighbour on the UMAP map, the inverse's latent
    is classified as that class by its 5 nearest stored codes (>= 95 % of 200 points)."""
    nav = explorer.navigator("mnist", model)
    maps = nav.maps
    rng = np.random.default_rng(5)
    hits = 0
    for i in rng.choice(len(maps.labels), 200, replace=False):
        same = np.flatnonzero(maps.labels == maps.labels[i])
        same = same[same != i]
        j = same[np.argmin(np.hypot(*(maps.umap[same] - maps.umap[i]).T))]
        z, _ = nav.latent_at("umap", *(maps.umap[i] + maps.umap[j]) / 2)
        hits += nav.neighbours(z, 5).vote() == maps.labels[i]
    assert hits >= 190, hits


@pytest.mark.parametrize("model", ["ae", "vae"])
def test_shipped_pca_inverse_decodes_on_the_plane(explorer, model):
    point = explorer.decode_point("mnist", model, "pca", 0.5, -0.25)
    assert point.image.shape == (28, 28) and point.image.dtype == np.uint8
    assert np.allclose(explorer.navigator("mnist", model).maps.place_pca(point.latent)[0], [0.5, -0.25], atol=1e-4)
    assert "PCA (0.50, -0.25)" in point.summary() and "nearest test code at" in point.summary()


@pytest.mark.parametrize("index", [0, 17, 1234])
def test_neighbours_of_a_stored_mnist_test_image_start_with_itself(explorer, index):
    image = explorer.models("mnist").vae_maps.images[index]
    for model, (near, vote) in explorer.neighbours(image, "mnist", 8).items():
        assert near.indices[0] == index and near.distances[0] < 1e-4, (model, near.indices)
        assert f"{model.upper()}'s 8 nearest neighbours" in vote


@pytest.mark.parametrize("index", [0, 17, 1234])
def test_neighbours_through_the_upload_path_start_with_the_image_too(explorer, index, tmp_path):
    """The image enlarged on a transparent canvas (ink in the alpha channel, as the drawing pad sends it) and
    saved as a PNG goes through the app's preprocessing, which frames it as MNIST did: itself first again."""
    image = explorer.models("mnist").vae_maps.images[index]
    path = tmp_path / "digit.png"
    rgba = np.zeros((112, 112, 4), np.uint8)
    rgba[..., 3] = np.asarray(Image.fromarray(image).resize((112, 112), Image.NEAREST))
    Image.fromarray(rgba).save(path)
    for model, (near, _) in explorer.neighbours(str(path), "mnist", 8).items():
        assert near.indices[0] == index, (model, near.indices)


@pytest.mark.parametrize("index", [0, 99, 2024])
def test_neighbours_of_a_stored_fashion_image_start_with_itself(explorer, index, tmp_path):
    """As an array and through the upload path, which keeps Fashion-MNIST's framing (the item's box centred, its
    longest side 28 px)."""
    image = explorer.models("fashion_mnist").ae_maps.images[index]
    path = tmp_path / "item.png"
    rgba = np.zeros((112, 112, 4), np.uint8)
    rgba[..., 3] = np.asarray(Image.fromarray(image).resize((112, 112), Image.NEAREST))
    Image.fromarray(rgba).save(path)
    for drawing in (image, str(path)):
        for model, (near, _) in explorer.neighbours(drawing, "fashion_mnist", 8).items():
            assert near.indices[0] == index, (model, near.indices)


def test_walk_decodes_and_checks_its_sigmas(explorer):
    image = explorer.models("mnist").vae_maps.images[3]
    ae, vae = explorer.walk(image, "mnist", [0.0, 0.0, 0.0])
    ae_moved, vae_moved = explorer.walk(image, "mnist", [MAX_SIGMA, -MAX_SIGMA, 1.0])
    assert ae.shape == vae.shape == (28, 28)
    assert not np.array_equal(ae, ae_moved) and not np.array_equal(vae, vae_moved)
    for bad in (float("nan"), 3.5, "a"):
        with pytest.raises(InputError, match="direction 2"):
            explorer.walk(image, "mnist", [0.0, bad, 0.0])


def test_encode_decode_and_locate_agree(explorer):
    image = explorer.models("mnist").vae_maps.images[17]
    codes = explorer.encode(image, "mnist")
    assert len(codes["ae"]["code"]) == len(codes["vae"]["mean"]) == len(codes["vae"]["logvar"]) == 32
    assert len(explorer.encode(image, "fashion_mnist")["vae"]["mean"]) == explorer.models("fashion_mnist").vae.latent_dim
    plain_ae, plain_vae = explorer.walk(image, "mnist", [0.0, 0.0, 0.0])  # decode(embed(image))
    for model, code, plain in (("ae", codes["ae"]["code"], plain_ae), ("vae", codes["vae"]["mean"], plain_vae)):
        decoded = explorer.decode("mnist", model, code)  # (the JSON's codes are rounded to 6 decimals)
        assert np.abs(decoded.astype(int) - plain).max() <= 1
    where = explorer.locate(image, "mnist")
    maps = explorer.models("mnist").vae_maps
    assert np.allclose(where["vae"]["pca"], maps.pca[17], atol=1e-4) and set(where) == {"ae", "vae"}
    assert np.allclose(where["ae"]["umap"], explorer.models("mnist").ae_maps.umap[17], atol=1e-4)


@pytest.mark.parametrize("code, message", [
    ([0.0] * 31, "must have 32 numbers"), ([float("nan")] * 32, "not finite"), ([1e9] * 32, "within"),
    ("0, 1", "list of 32 numbers"), (None, "list of 32 numbers"), ([[0.0] * 32, "x"], "list of 32 numbers")])
def test_bad_codes_give_messages(explorer, code, message):
    with pytest.raises(InputError, match=message):
        explorer.decode("mnist", "ae", code)


def test_a_code_of_the_other_data_sets_length_is_refused(explorer):
    """MNIST codes have 32 numbers, Fashion-MNIST codes 64: a code pasted across data sets gets a message."""
    mnist_code = explorer.encode(explorer.models("mnist").vae_maps.images[0], "mnist")["ae"]["code"]
    with pytest.raises(InputError, match="must have 64 numbers"):
        explorer.decode("fashion_mnist", "ae", mnist_code)


@pytest.mark.parametrize("args, message", [
    (("gan", "pca", 0, 0), "model must be one of ae, vae"), (("vae", "tsne", 0, 0), "projection must be one of"),
    (("vae", "umap", float("nan"), 0), "outside the VAE's UMAP map"), (("ae", "pca", 0, 1e30), "outside the AE's")])
def test_bad_points_give_messages(explorer, args, message):
    with pytest.raises(InputError, match=message):
        explorer.decode_point("mnist", *args)


# ---------------------------------------------------------------- the handlers (no UI)

def test_a_tap_on_a_live_map_is_decoded_with_its_sentence_and_bad_ones_get_reasons(explorer, tmp_path):
    """`map_point`, the live maps' server function: the point decoded by that map's model (the bytes of
    `decode_point`'s image) with its sentence; anything else a reason, never an exception."""
    nav = EmbeddingsHandlers(explorer, OutputFiles(tmp_path))
    answer = nav.map_point({"dataset": "mnist", "model": "vae", "projection": "umap", "x": 5.0, "y": 5.0})
    assert answer["summary"].startswith("VAE at UMAP (5.00, 5.00): ") and "nearest test code at" in answer["summary"]
    image = np.frombuffer(base64.b64decode(answer["image"]), np.uint8).reshape(28, 28)
    assert np.array_equal(image, explorer.decode_point("mnist", "vae", "umap", 5.0, 5.0).image)
    for request, reason in [(None, "A map point is"), ({"dataset": "cifar10"}, "cifar10"),
                            ({"dataset": "mnist", "model": "gan", "projection": "pca"}, "A map is one of"),
                            ({"dataset": "mnist", "model": "ae", "projection": "pca", "x": "far", "y": 0}, ""),
                            ({"dataset": "mnist", "model": "ae", "projection": "pca", "x": 1e30, "y": 0}, "outside")]:
        answer = nav.map_point(request)
        assert set(answer) == {"error"} and reason in answer["error"], (request, answer)


def test_the_maps_view_carries_the_data_set_and_the_stars_places(explorer, tmp_path):
    nav = EmbeddingsHandlers(explorer, OutputFiles(tmp_path))
    image = explorer.models("fashion_mnist").vae_maps.images[5]
    shown = nav.maps_view("fashion_mnist", image)
    state = json.loads(shown.view)
    assert state == {"dataset": "fashion_mnist", "star": explorer.locate(image, "fashion_mnist")}
    assert "principal components explain" in shown.variance and shown.ae_plane and shown.vae_plane
    assert json.loads(nav.maps_view("mnist", None).view) == {"dataset": "mnist", "star": None}


def test_handlers_before_any_drawing(explorer, tmp_path):
    nav = DrawHandlers(explorer, OutputFiles(tmp_path))
    assert nav.reset_walk(None, "mnist") == DrawingView(walk_sigmas=(0.0, 0.0, 0.0), walk_ae=None, walk_vae=None)
    # nothing from an earlier input
    assert nav.neighbours_of_input(None, "mnist") == DrawingView(ae_neighbours=[], vae_neighbours=[],
                                                                 vote=NEIGHBOURS_HINT)
    # a data-set switch that reaches its redo step before a just-clicked example's image leaves that example alone
    assert nav.refresh_draw(None, None, "fashion_mnist", "upload") == DrawingView()
    with pytest.raises(gr.Error, match="Draw tab first"):
        nav.encode_input(None, "mnist")
    with pytest.raises(gr.Error, match="Pass an image"):
        nav.neighbors(None, None, "mnist")
    table = nav.direction_text("mnist")
    assert table.count("\n| ") == 3 and "direction 1 (" in table


def test_after_an_upload_one_answer_holds_what_the_handlers_give_with_the_images_inside(explorer, tmp_path):
    """After a new drawing from anything but the pad (an upload, an example, a switch), one event answers the rest of
    the tab: the typicality line, both galleries and the vote, the walk at 0, as the separate handlers (and the API)
    give them, but each image as a data URL in the answer, not a file."""
    nav = DrawHandlers(explorer, OutputFiles(tmp_path / "outputs"))
    drawing = explorer.models("mnist").vae_maps.images[17]
    answer = nav.after_drawing(drawing, "mnist", 4)
    assert not any((tmp_path / "outputs").iterdir())  # no file written: nothing for the page to fetch
    assert answer.typicality == nav.typicality_line(drawing, "mnist")
    files = nav.neighbours_of_input(drawing, "mnist", 4)
    assert answer.vote == files.vote and answer.walk_sigmas == (0.0, 0.0, 0.0)

    def pixels(value):  # an inline image's pixels, or a file's
        if isinstance(value, dict):
            assert value["path"] is None and value["url"].startswith("data:image/png;base64,")
            return np.asarray(Image.open(io.BytesIO(base64.b64decode(value["url"].split(",", 1)[1]))))
        return np.asarray(Image.open(value))

    for inline, on_disk in ((answer.ae_neighbours, files.ae_neighbours), (answer.vae_neighbours, files.vae_neighbours)):
        assert [item["caption"] for item in inline] == [caption for _, caption in on_disk] and len(inline) == 4
        assert all(np.array_equal(pixels(i["image"]), pixels(f)) for i, (f, _) in zip(inline, on_disk))
    reset = nav.reset_walk(drawing, "mnist")
    assert all(np.abs(pixels(a).astype(int) - pixels(b)).max() <= 1
               for a, b in zip((answer.walk_ae, answer.walk_vae), (reset.walk_ae, reset.walk_vae)))
    assert nav.after_drawing(None, "mnist") == DrawingView(typicality="", ae_neighbours=[], vae_neighbours=[],
                                                           vote=NEIGHBOURS_HINT, walk_sigmas=(0.0, 0.0, 0.0),
                                                           walk_ae=None, walk_vae=None)
    vote = nav.after_drawing(drawing, "mnist", 0).vote  # a problem goes on the vote's line
    assert vote.startswith("⚠️") and "k" in vote


def test_the_star_follows_the_drawing_only_when_it_changed(explorer, tmp_path):
    """Opening the Embeddings tab puts the Draw tab's drawing on the star if it changed since it was last put there;
    otherwise the star (perhaps an image uploaded there) stays."""
    handlers = EmbeddingsHandlers(explorer, OutputFiles(tmp_path))
    drawing = explorer.models("mnist").vae_maps.images[3]
    assert handlers.star_on_visit(None, None) == MapsView()
    shown = handlers.star_on_visit(drawing, None)
    assert np.array_equal(np.asarray(Image.open(shown.star)), np.kron(drawing, np.ones((4, 4), np.uint8)))
    assert shown.starred is drawing
    assert handlers.star_on_visit(drawing.copy(), shown.starred) == MapsView()
    assert handlers.star_on_visit(None, shown.starred) == MapsView(star=None, starred=None)  # cleared: no star
    other = explorer.models("mnist").vae_maps.images[4]
    assert handlers.star_on_visit(other, shown.starred).starred is other


def test_neighbours_summary_says_when_a_folder_has_no_images(explorer, tmp_path):
    pair = explorer.models("mnist")
    old = Explorer({"mnist": type(pair)("mnist", pair.ae, pair.vae, LatentMaps(**{**pair.ae_maps.__dict__,
                                                                                   "images": None}), pair.vae_maps)})
    nav = DrawHandlers(old, OutputFiles(tmp_path))
    found = nav.neighbours_of(pair.vae_maps.images[17], "mnist", 4)
    assert found.ae_neighbours == [] and len(found.vae_neighbours) == 4 and found.vae_neighbours[0][1] == "7"
    assert "The AE's 4 nearest neighbours: 4 sevens. (Neighbours unavailable for this folder" in found.vote


def test_a_drawing_between_two_clusters_is_placed_in_the_heavier_one():
    """Its 10 nearest codes: 6 close ones drawn at (0, 0) on the map, 4 farther ones at (10, 0); a third cluster of
    unrelated codes sits at (5, 0). A plain weighted mean would land near (4, 0), next to the third cluster; the
    placement stays with the medoid's side."""
    rng = np.random.default_rng(6)
    latents = np.concatenate([rng.normal(0, 0.1, (6, 4)), rng.normal(0, 0.1, (4, 4)) + [0.5, 0, 0, 0],
                              rng.normal(0, 0.1, (20, 4)) + [9.0, 9, 9, 9]]).astype(np.float32)
    umap = np.concatenate([rng.normal(0, 0.2, (6, 2)), rng.normal(0, 0.2, (4, 2)) + [10, 0],
                           rng.normal(0, 0.2, (20, 2)) + [5, 0]]).astype(np.float32)
    maps = LatentMaps(**{**synthetic_maps(4).__dict__, "latents": latents, "umap": umap, "labels": np.zeros(30, int),
                         "images": None})
    placed = maps.place_umap(np.zeros(4, np.float32))[0]
    assert np.linalg.norm(placed) < 1.0, placed
    assert np.allclose(maps.place_umap(latents[:3]), umap[:3], atol=1e-4)  # a stored point: its own position


def test_in_a_gap_the_umap_inverse_blends_the_clusters_around_it():
    """Half-way between two clusters of the map, the code is the blend of both clusters' codes (where an AE's
    holes are), not the edge of whichever cluster happens to be nearer."""
    rng = np.random.default_rng(7)
    centres = np.array([[0.0] * 4, [8.0] * 4])
    latents = np.concatenate([centres[0] + rng.normal(0, 0.1, (50, 4)), centres[1] + rng.normal(0, 0.1, (50, 4))])
    umap = np.concatenate([rng.normal(0, 0.5, (50, 2)), rng.normal(0, 0.5, (50, 2)) + [10, 0]])
    maps = LatentMaps(**{**synthetic_maps(4).__dict__, "latents": latents.astype(np.float32),
                         "umap": umap.astype(np.float32), "labels": np.repeat([0, 1], 50), "images": None})
    z, distance = Navigator(maps, "mnist").umap_inverse(5.0, 0.0)
    assert np.linalg.norm(z - centres.mean(0)) < 0.15 * np.linalg.norm(centres[1] - centres[0]), z
    assert distance > 3.0
