"""The Sample tab's priors and the drawing's typicality, through the explorer (no UI)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from ae_vae.app.explorer import Explorer, load_dataset_models
from ae_vae.errors import InputError
from ae_vae.figures import image_grid
from ae_vae.latent.priors import GaussianMixturePrior, StandardNormalPrior, weights_fingerprint

WEIGHTS = Path(__file__).resolve().parents[1] / "weights"


def quick_prior(folder: Path, maps) -> GaussianMixturePrior:
    """A small mixture fitted to the stored test codes: enough to exercise the app's paths in a second."""
    return GaussianMixturePrior.fit(maps.latents, maps.labels, test_codes=maps.latents, n_components=4,
                                    class_components=1, covariance_type="diag", fingerprint=weights_fingerprint(folder))


@pytest.fixture(scope="module")
def explorers() -> tuple[Explorer, Explorer]:
    """(with fitted priors, without any prior)."""
    bare = load_dataset_models("mnist", WEIGHTS / "mnist-ae", WEIGHTS / "mnist-vae")
    bare = dataclasses.replace(bare, ae_prior=None, vae_prior=None, prior_notes={})
    fitted = dataclasses.replace(bare, ae_prior=quick_prior(WEIGHTS / "mnist-ae", bare.ae_maps),
                                 vae_prior=quick_prior(WEIGHTS / "mnist-vae", bare.vae_maps))
    return Explorer({"mnist": fitted}), Explorer({"mnist": bare})


def test_the_standard_prior_path_is_unchanged(explorers):
    fitted, _ = explorers
    pair = fitted.models("mnist")
    ae, vae, _ = fitted.sample("mnist", 9, 5, 0.8)
    assert np.array_equal(ae, image_grid(pair.ae.decode(StandardNormalPrior(pair.ae.latent_dim).sample(9, None, 0.8, np.random.default_rng(5))), 3))
    assert np.array_equal(vae, image_grid(pair.vae.decode(StandardNormalPrior(pair.vae.latent_dim).sample(9, None, 0.8, np.random.default_rng(5))), 3))
    assert all(np.array_equal(a, b) for a, b in zip((ae, vae), fitted.sample("mnist", 9, 5, 0.8, "standard", -1)))


def test_mixture_samples_are_seeded_and_differ_from_standard(explorers):
    fitted, _ = explorers
    first = fitted.sample("mnist", 16, 2, 1.0, "mixture", -1)
    assert all(np.array_equal(a, b) for a, b in zip(first, fitted.sample("mnist", 16, 2, 1.0, "mixture", -1)))
    assert not np.array_equal(first[1], fitted.sample("mnist", 16, 2, 1.0, "standard", -1)[1])
    by_class = fitted.sample("mnist", 16, 2, 1.0, "mixture", 7)
    assert by_class[0].shape == first[0].shape and not np.array_equal(by_class[0], first[0])
    np.testing.assert_array_equal(by_class[2], first[2])  # the third grid does not depend on the prior


@pytest.mark.parametrize("prior, label, message", [
    ("standard", 3, "needs the fitted prior"), ("mixture", 10, "label"), ("mixture", -2, "label"),
    ("gaussian", -1, "prior must be one of")])
def test_bad_prior_choices_give_messages(explorers, prior, label, message):
    with pytest.raises(InputError, match=message):
        explorers[0].sample("mnist", 4, 0, 1.0, prior, label)


def test_a_folder_without_prior_offers_n01_only(explorers):
    _, bare = explorers
    assert bare.sample("mnist", 4, 0, 1.0)[0].shape == (62, 62)
    with pytest.raises(InputError, match="no fitted prior"):
        bare.sample("mnist", 4, 0, 1.0, "mixture", -1)
    with pytest.raises(InputError, match="no fitted prior"):
        bare.typicality(bare.models("mnist").example_images[0], "mnist")


def test_a_test_digit_is_more_typical_than_a_scribble(explorers):
    fitted, _ = explorers
    digit = fitted.typicality(fitted.models("mnist").example_images[0], "mnist")
    scribble = np.zeros((280, 280), np.uint8)
    rng = np.random.default_rng(0)
    for _ in range(40):  # random short strokes all over the canvas
        y, x = rng.integers(20, 260, size=2)
        scribble[y:y + 12, x:x + 60] = 255
    odd = fitted.typicality(scribble, "mnist")
    for kind in ("ae", "vae"):
        assert 0.0 <= odd[kind]["percentile"] < digit[kind]["percentile"] <= 100.0, (digit, odd)
        assert odd[kind]["log_density"] < digit[kind]["log_density"]


def test_a_prior_of_other_weights_is_refused(tmp_path):
    pair = load_dataset_models("mnist", WEIGHTS / "mnist-ae", WEIGHTS / "mnist-vae")
    folder = tmp_path / "mnist-ae"
    folder.mkdir()
    for name in ("config.json", "model.safetensors", "embeddings.safetensors", "encoder.onnx", "decoder.onnx"):
        (folder / name).write_bytes((WEIGHTS / "mnist-ae" / name).read_bytes())
    quick_prior(WEIGHTS / "mnist-vae", pair.ae_maps).save_pretrained(folder)  # AE codes, but the VAE's fingerprint
    loaded = load_dataset_models("mnist", folder, WEIGHTS / "mnist-vae")
    assert loaded.ae_prior is None and "fitted to other weights" in loaded.prior_notes["ae"]
    with pytest.raises(InputError, match="fitted to other weights"):
        Explorer({"mnist": loaded}).sample("mnist", 4, 0, 1.0, "mixture", -1)


def test_sample_lesson_reads_the_measured_figures(explorers):
    fitted, _ = explorers
    pair = fitted.models("mnist")
    measured = {"standard": {"frechet_distance": 48.0}, "gaussian": {"frechet_distance": 40.0},
                "mixture": {"frechet_distance": 6.5}, "class_conditional": {"accuracy": 0.975}}
    explorer = Explorer({"mnist": dataclasses.replace(pair, ae_metrics={"sample_quality": measured},
                                                      vae_metrics={})})
    text = explorer.sample_lesson("mnist")
    assert "| AE | 48.0 | 40.0 | **6.5** | 97.5 % |" in text and "| VAE |" not in text
    assert "No sample quality is recorded for the VAE" in text
    bare = Explorer({"mnist": dataclasses.replace(pair, ae_metrics={}, vae_metrics={})}).sample_lesson("mnist")
    assert "decoder plus a density" in bare and "for the AE and VAE" in bare and "samples are digits" not in bare


def test_interpolation_profile_scores_every_frame(explorers):
    fitted, bare = explorers
    a, b = fitted.default_pair("mnist")
    profile = fitted.interpolation_profile(a, b, "mnist", steps=6, path="spherical")
    assert profile["t"] == [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]
    for kind in ("ae", "vae"):
        assert len(profile[kind]) == 6 and all(0.0 <= p <= 100.0 for p in profile[kind])
        # the end frames are the two test images' own codes: ordinary, not in the far tail
        assert min(profile[kind][0], profile[kind][-1]) > 1.0, profile
    with pytest.raises(InputError, match="no fitted prior"):
        bare.interpolation_profile(a, b, "mnist")
