"""GaussianMixturePrior: sampling, densities, the file format and the fingerprint, on tiny mixtures."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from safetensors.numpy import save_file
from scipy.special import logsumexp
from scipy.stats import multivariate_normal

from ae_vae import AutoEncoder, AutoEncoderConfig, save_model_folder
from ae_vae.cli import main
from ae_vae.errors import PriorError, WeightsError
from ae_vae.latent.priors import PRIOR_FILE, GaussianMixturePrior, Mixture, weights_fingerprint
from ae_vae.training.priors import fit_prior

DIM, CLASSES, SPREAD = 4, 3, 50.0


def class_means() -> np.ndarray:
    """Classes far apart along the first axis, so the nearest mean names a sample's class."""
    means = np.zeros((CLASSES, DIM))
    means[:, 0] = SPREAD * np.arange(CLASSES)
    return means


def distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.linalg.norm(np.asarray(a, np.float64)[:, None] - np.asarray(b, np.float64)[None], axis=-1)


def tiny_codes(count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, CLASSES, count)
    return class_means()[labels] + rng.normal(size=(count, DIM)), labels


@pytest.fixture(scope="module")
def prior() -> GaussianMixturePrior:
    codes, labels = tiny_codes(600, seed=0)
    test_codes, _ = tiny_codes(200, seed=1)
    return GaussianMixturePrior.fit(codes, labels, test_codes=test_codes, n_components=3, class_components=2,
                                    fingerprint="f" * 64)


def random_mixture(k: int, d: int, seed: int, diagonal: bool = False) -> Mixture:
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((k, d, d))
    cov = a @ a.transpose(0, 2, 1) + 0.5 * np.eye(d)
    if diagonal:
        cov = np.diagonal(cov, axis1=-2, axis2=-1)[:, :, None] * np.eye(d)
    weights = rng.random(k) + 0.1
    return Mixture(weights / weights.sum(), 3 * rng.standard_normal((k, d)), cov)


def tiny_ae(seed: int = 0) -> AutoEncoder:
    torch.manual_seed(seed)
    return AutoEncoder(AutoEncoderConfig(latent_dim=3, channels=(4, 8), dataset="mnist"))


# ---------------------------------------------------------------- sampling

@pytest.mark.parametrize("label", [None, -1, 0, 2])
@pytest.mark.parametrize("n", [0, 1, 17])
def test_sample_shape_and_dtype(prior, n, label):
    z = prior.sample(n, label=label, generator=np.random.default_rng(0))
    assert isinstance(z, np.ndarray) and z.shape == (n, DIM) and z.dtype == np.float32


def test_sample_is_deterministic_under_a_generator_or_a_seed(prior):
    draw = lambda seed: prior.sample(50, label=1, generator=np.random.default_rng(seed))
    assert np.array_equal(draw(3), draw(3)) and np.array_equal(draw(3), prior.sample(50, label=1, generator=3))
    assert not np.array_equal(draw(3), draw(4))
    with pytest.raises(TypeError, match=r"numpy Generator \(np.random.default_rng\(seed\)\)"):
        prior.sample(2, generator=torch.Generator().manual_seed(0))


@pytest.mark.parametrize("label", range(CLASSES))
def test_label_is_honoured(prior, label):
    z = prior.sample(200, label=label, generator=0)
    assert (distances(z, class_means()).argmin(1) == label).all()


def test_unconditional_samples_cover_every_class(prior):
    z = prior.sample(600, generator=0)
    counts = np.bincount(distances(z, class_means()).argmin(1), minlength=CLASSES)
    assert (counts > 120).all(), counts


@pytest.mark.parametrize("label", [None, 0, 2])
def test_temperature_zero_gives_component_means(prior, label):
    z = prior.sample(40, label=label, temperature=0.0, generator=0)
    means = prior.mixture(label).means.astype(np.float32)
    assert distances(z, means).min(1).max() == 0


@pytest.mark.parametrize("label", [None, 1])
def test_temperature_scales_each_components_spread(prior, label):
    """Same generator, same components and noise: z(T) = mean + T (z(1) - mean), so z(1/2) = (z(0) + z(1)) / 2."""
    draw = lambda t: prior.sample(300, label=label, temperature=t, generator=5)
    np.testing.assert_allclose(draw(0.5), (draw(0.0) + draw(1.0)) / 2, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(draw(2.0) - draw(0.0), 2 * (draw(1.0) - draw(0.0)), rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"n": -1}, "non-negative integer"), ({"n": 2.5}, "non-negative integer"), ({"n": True}, "non-negative integer"),
    ({"n": 3, "temperature": -0.1}, "temperature"), ({"n": 3, "temperature": math.nan}, "temperature"),
    ({"n": 3, "temperature": 2.01}, "temperature must be a number from 0 to 2"),
    ({"n": 3, "label": CLASSES}, f"0-{CLASSES - 1}"), ({"n": 3, "label": "7"}, "integer class index"),
])
def test_bad_sample_arguments_are_clear(prior, kwargs, message):
    with pytest.raises((ValueError, TypeError), match=message):
        prior.sample(**kwargs)


def test_a_prior_without_classes_refuses_a_label():
    codes, _ = tiny_codes(100, seed=0)
    unconditional = GaussianMixturePrior.fit(codes, n_components=2)
    with pytest.raises(ValueError, match="no per-class mixtures"):
        unconditional.sample(3, label=0)


# ---------------------------------------------------------------- densities

@pytest.mark.parametrize("diagonal", [False, True])
def test_log_prob_matches_the_closed_form(diagonal):
    mixture = random_mixture(k=4, d=3, seed=0, diagonal=diagonal)
    z = np.random.default_rng(1).standard_normal((50, 3)) * 3
    densities = np.stack([multivariate_normal(mean, cov).logpdf(z)
                          for mean, cov in zip(mixture.means, mixture.covariances)], axis=1)
    expected = logsumexp(densities + np.log(mixture.weights), axis=1)
    np.testing.assert_allclose(mixture.log_prob(z, chunk=7), expected, rtol=1e-10, atol=1e-10)


def test_log_prob_of_one_code_and_of_a_batch_agree(prior):
    z = prior.sample(5, generator=0)
    assert prior.log_prob(z[2]).shape == (1,)
    np.testing.assert_allclose(prior.log_prob(z[2]), prior.log_prob(z)[2:3])
    np.testing.assert_allclose(prior.log_prob(torch.from_numpy(z)), prior.log_prob(z))  # a tensor is taken too
    with pytest.raises(ValueError, match=r"shape \(N, 4\)"):
        prior.log_prob(np.zeros((2, DIM + 1)))


def test_percentile_ranks_codes_against_the_test_set(prior):
    typical = class_means()[1]
    outlier = typical + 20
    percent = prior.percentile(np.stack([typical, outlier]))
    assert percent[0] > 50 and percent[1] == 0
    assert prior.percentile(np.full(DIM, 1e6)).item() == 0


# ---------------------------------------------------------------- file format

def test_round_trip_gives_identical_samples(prior, tmp_path):
    path = prior.save_pretrained(tmp_path)
    assert path == tmp_path / PRIOR_FILE
    loaded = GaussianMixturePrior.from_pretrained(tmp_path, latent_dim=DIM)
    for label in (None, 0, 2):
        first, second = (p.sample(30, label=label, generator=9) for p in (prior, loaded))
        np.testing.assert_allclose(first, second, rtol=1e-6, atol=1e-6)
    z = prior.sample(10, generator=1)
    np.testing.assert_allclose(prior.log_prob(z), loaded.log_prob(z), rtol=1e-10)
    assert np.array_equal(prior.percentile(z), loaded.percentile(z))
    assert loaded.fingerprint == prior.fingerprint and loaded.num_classes == CLASSES
    assert loaded.info["class_codes"] == prior.info["class_codes"]


def test_diagonal_covariances_are_stored_as_vectors(tmp_path):
    codes, labels = tiny_codes(300, seed=0)
    diag = GaussianMixturePrior.fit(codes, labels, n_components=2, class_components=1, covariance_type="diag")
    diag.save_pretrained(tmp_path)
    from safetensors import safe_open
    with safe_open(str(tmp_path / PRIOR_FILE), framework="np") as handle:
        assert handle.get_slice("any.covariances").get_shape() == [diag.unconditional.components, DIM]
    loaded = GaussianMixturePrior.from_pretrained(tmp_path)
    z = diag.sample(20, generator=0)
    np.testing.assert_allclose(loaded.log_prob(z), diag.log_prob(z), rtol=1e-10)


def test_the_class_free_mixture_is_the_class_mixtures_weighted_by_class_share():
    codes, labels = tiny_codes(600, seed=0)
    labels = labels.copy()
    labels[:100] = 0  # class 0 over-represented: its components must weigh more
    union = GaussianMixturePrior.fit(codes, labels, n_components=3, class_components=2)
    assert union.info["unconditional"] == "union" and union.unconditional.components == 2 * CLASSES
    shares = np.bincount(labels, minlength=CLASSES) / len(labels)
    per_class = union.unconditional.weights.reshape(CLASSES, 2).sum(1)
    np.testing.assert_allclose(per_class, shares)
    np.testing.assert_array_equal(union.unconditional.means, np.concatenate([m.means for m in union.classes]))
    fitted = GaussianMixturePrior.fit(codes, labels, n_components=3, class_components=2, unconditional="fitted")
    assert fitted.info["unconditional"] == "fitted" and fitted.unconditional.components == 3
    no_labels = GaussianMixturePrior.fit(codes, n_components=3)
    assert no_labels.info["unconditional"] == "fitted" and no_labels.unconditional.components == 3
    with pytest.raises(ValueError, match="unconditional must be one of"):
        GaussianMixturePrior.fit(codes, labels, unconditional="sum")


def test_missing_file_is_named(tmp_path):
    with pytest.raises(PriorError, match=f"{tmp_path / PRIOR_FILE}: file not found"):
        GaussianMixturePrior.from_pretrained(tmp_path)


@pytest.mark.parametrize("damage", ["garbage", "truncated", "no_metadata"])
def test_corrupted_file_is_named(prior, tmp_path, damage):
    path = prior.save_pretrained(tmp_path)
    if damage == "garbage":
        path.write_bytes(b"\x00not a safetensors file at all")
    elif damage == "truncated":
        path.write_bytes(path.read_bytes()[:-100])
    else:
        save_file({"any.weights": np.ones(1)}, str(path))
    with pytest.raises(PriorError, match=str(path)):
        GaussianMixturePrior.from_pretrained(tmp_path)


def rewrite(path, edit) -> None:
    """Load a prior file's tensors and header, apply `edit(tensors, header)`, write it back."""
    from safetensors import safe_open
    with safe_open(str(path), framework="np") as handle:
        names = handle.keys()
        tensors = {k: handle.get_tensor(k) for k in names}
        header = json.loads(handle.metadata()["prior"])
    edit(tensors, header)
    save_file(tensors, str(path), metadata={"prior": json.dumps(header)})


def test_a_union_prior_loads_its_class_mixtures_as_views_of_the_union(prior, tmp_path):
    """The class-free mixture of a "union" prior is its class mixtures together: loaded, each factor is held once."""
    prior.save_pretrained(tmp_path)
    loaded = GaussianMixturePrior.from_pretrained(tmp_path)
    assert loaded.info["unconditional"] == "union"
    for label, mixture in enumerate(loaded.classes):
        assert np.shares_memory(mixture.chol, loaded.unconditional.chol)
        z = prior.sample(20, label=label, generator=label)
        np.testing.assert_allclose(mixture.log_prob(z), prior.classes[label].log_prob(z), rtol=1e-10)


@pytest.mark.parametrize(("edit", "message"), [
    (lambda t, h: t.update({"class.1.means": np.ascontiguousarray(t["class.1.means"][:, :2])}),
     "'class.1.means' has shape"),
    (lambda t, h: t.pop("class.2.weights"), "missing"),
    (lambda t, h: h.update(latent_dim=5), "has shape"),
    (lambda t, h: h.update(format_version=99), "format_version"),
    (lambda t, h: t.update({"any.covariances": -t["any.covariances"]}), "not positive definite"),
    (lambda t, h: t.update({"any.weights": 2 * t["any.weights"]}), "sum to 1"),
    (lambda t, h: t.update({"any.means": t["any.means"].astype(np.float32)}), "float64"),
])
def test_mismatched_file_is_named(prior, tmp_path, edit, message):
    path = prior.save_pretrained(tmp_path)
    rewrite(path, edit)
    with pytest.raises(PriorError, match=message) as info:
        GaussianMixturePrior.from_pretrained(tmp_path)
    assert str(path) in str(info.value)


def test_latent_dim_mismatch_is_named(prior, tmp_path):
    prior.save_pretrained(tmp_path)
    with pytest.raises(PriorError, match=f"{tmp_path / PRIOR_FILE}: fitted to 4-d codes, the model's are 8-d"):
        GaussianMixturePrior.from_pretrained(tmp_path, latent_dim=8)


# ---------------------------------------------------------------- fingerprint

def test_fingerprint_is_the_same_for_a_model_its_state_dict_and_its_folder(tmp_path):
    model = tiny_ae()
    save_model_folder(model, tmp_path)
    fingerprint = weights_fingerprint(model)
    assert fingerprint == weights_fingerprint(model.state_dict()) == weights_fingerprint(tmp_path)
    assert fingerprint == weights_fingerprint(tmp_path / "model.safetensors")
    assert fingerprint != weights_fingerprint(tiny_ae(seed=1))


def test_prior_of_other_weights_is_refused(tmp_path):
    model, other = tiny_ae(), tiny_ae(seed=1)
    save_model_folder(model, tmp_path)
    images = torch.rand(60, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    labels = torch.arange(60) % 2
    prior = fit_prior(model, images, labels, images[:20], n_components=2, class_components=1)
    assert prior.latent_dim == 3 and prior.num_classes == 2 and prior.matches(model)
    prior.save_pretrained(tmp_path)
    GaussianMixturePrior.from_pretrained(tmp_path, latent_dim=3, weights=tmp_path)  # its own weights: accepted
    with pytest.raises(PriorError, match="fitted to other weights") as info:
        GaussianMixturePrior.from_pretrained(tmp_path, weights=other)
    assert str(tmp_path / PRIOR_FILE) in str(info.value) and "refit" in str(info.value)
    save_model_folder(other, tmp_path)
    assert main(["check-prior", str(tmp_path)]) == 2
    assert isinstance(info.value, WeightsError)  # callers that fall back on bad weights catch it too


@pytest.mark.parametrize("flags, said", [
    (["--components", "0"], "argument --components: must be a whole number of at least 1, got '0'"),
    (["--class-components", "-3"], "argument --class-components: must be a whole number of at least 1, got '-3'"),
    (["--samples", "0"], "argument --samples: must be a whole number of at least 1, got '0'"),
    (["--min-confidence", "2"], "argument --min-confidence: must be a number from 0 to 1, got '2'"),
    (["--seed", "-1"], "argument --seed: must be a whole number from 0 to 4294967295, got '-1'"),
    (["--threads", "0"], "argument --threads: must be a whole number of at least 1, got '0'"),
])
def test_refit_refuses_a_bad_setting_before_reading_anything(flags, said, capsys):
    """Each of the refit's settings is checked as it is parsed (the rule and words of `ae_vae.checks`), not found
    out by scikit-learn after the codes are computed (or quietly used)."""
    with pytest.raises(SystemExit) as stopped:
        main(["refit-prior", "weights/mnist-vae", *flags])
    assert stopped.value.code == 2 and said in capsys.readouterr().err


def test_refit_names_a_judge_folder_that_is_not_there(tmp_path, capsys):
    assert main(["refit-prior", "weights/mnist-vae", "--judge-dir", str(tmp_path / "nowhere")]) == 2
    assert f"--judge-dir {tmp_path / 'nowhere'}: no such folder ('none' refits without a judge)" in capsys.readouterr().err


def test_codes_no_mixture_can_describe_are_one_clear_error():
    """A model trained out of scale (its codes overflow): the fit says so in one line, not scikit-learn's traceback."""
    model = tiny_ae()
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.fill_(1e12)
    images, labels = torch.rand(200, 1, 28, 28), torch.arange(200) % 10
    with pytest.raises(PriorError, match=r"the prior cannot be fitted to the training codes \(largest \|z\| inf\)"):
        fit_prior(model, images, labels, n_components=3, class_components=1)


def test_refit_command_writes_a_prior_that_belongs_to_the_folder(tmp_path, tiny_data_dir, capsys):
    folder = tmp_path / "mnist-ae"
    save_model_folder(tiny_ae(), folder)
    assert main(["refit-prior", str(folder), "--data-dir", str(tiny_data_dir), "--judge-dir", "none",
                 "--components", "2", "--class-components", "1"]) == 0
    assert "wrote" in capsys.readouterr().out
    prior = GaussianMixturePrior.from_pretrained(folder, latent_dim=3, weights=folder)
    assert prior.num_classes == 10 and prior.info["dataset"] == "mnist" and len(prior.test_log_prob) == 128
    assert main(["check-prior", str(folder)]) == 0
    assert main(["refit-prior", str(tmp_path / "nowhere"), "--data-dir", str(tiny_data_dir)]) == 2
    assert "config.json: file not found" in capsys.readouterr().err



@pytest.mark.parametrize("command", [["refit-prior"], ["check-prior"], ["store-points"]])
def test_a_beta_vaes_folder_is_refused_by_the_fixed_code_commands(tmp_path, tiny_data_dir, capsys, command):
    """A β-conditioned VAE's codes change with β: no prior or stored points are written into its folder."""
    from ae_vae import BetaVAE, BetaVAEConfig

    folder = tmp_path / "mnist-beta-vae"
    save_model_folder(BetaVAE(BetaVAEConfig(latent_dim=2, channels=(4, 8), hidden_blocks=0, dataset="mnist")), folder)
    data = [] if command == ["check-prior"] else ["--data-dir", str(tiny_data_dir)]
    assert main([*command, str(folder), *data]) == 2
    assert "holds a β-conditioned VAE" in capsys.readouterr().err
    assert sorted(p.name for p in folder.iterdir()) == ["config.json", "model.safetensors"]
