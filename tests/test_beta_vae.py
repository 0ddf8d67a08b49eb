"""The β-conditioned VAE: conditioning invariants, the loss at a given β, the folder round trip, the curve, the CLI."""

from __future__ import annotations

import itertools
import json

import pytest
import torch

from ae_vae import VAE, BetaVAE, BetaVAEConfig, VAEConfig, WeightsError, load_model
from ae_vae.models.format import save_model_folder
from ae_vae.training.beta_curve import curve_betas, measure_beta_curve, rate_distortion

TINY = {"latent_dim": 3, "channels": (4, 8), "hidden_blocks": 1}


def tiny(seed: int = 0, **changes) -> BetaVAE:
    torch.manual_seed(seed)
    return BetaVAE(BetaVAEConfig(**TINY, condition_width=8, **changes)).eval()


def images(n: int = 6, seed: int = 0) -> torch.Tensor:
    return torch.rand(n, 1, 28, 28, generator=torch.Generator().manual_seed(seed)).round()


def randomise_films(model: BetaVAE, seed: int = 1) -> BetaVAE:
    """FiLM layers start as the identity; give them weights so β changes what the model computes."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if "scale_shift" in name:
                parameter.copy_(0.3 * torch.randn(parameter.shape, generator=generator))
    return model


def test_a_fresh_model_is_the_plain_vae():
    """Zero-initialised FiLM: before training, the conditioned networks compute what the VAE's do at every β."""
    model = tiny()
    plain = VAE(VAEConfig(**TINY))
    plain.load_state_dict({k: v for k, v in model.state_dict().items()
                           if not any(part in k for part in ("films", "project_film", "_beta."))})
    x = images()
    for beta in (0.03, 1.0, 8.0):
        torch.testing.assert_close(model.encode(x, beta).mean, plain.encode(x).mean)
        torch.testing.assert_close(model.decode(model.embed(x, beta), beta), plain.decode(plain.embed(x)))


def test_beta_changes_the_codes_and_images_and_a_batch_takes_one_beta_each():
    model = randomise_films(tiny())
    x = images(3)
    low, high = model.embed(x, 0.05), model.embed(x, 5.0)
    assert not torch.allclose(low, high)
    mixed = model.embed(x, torch.tensor([0.05, 5.0, 0.05]))
    torch.testing.assert_close(mixed[[0, 2]], low[[0, 2]])
    torch.testing.assert_close(mixed[1], high[1])
    assert not torch.allclose(model.decode(low, 0.05), model.decode(low, 5.0))


def test_the_loss_weighs_the_kl_by_each_images_beta():
    model = randomise_films(tiny())
    x = images(4)
    terms = {}
    for beta in (0.1, 2.0):
        output = model(x, at_beta=beta, generator=torch.Generator().manual_seed(0))
        terms[beta] = output
        expected = output.terms["recon"] + beta * output.terms["kl"]
        torch.testing.assert_close(output.loss, expected, rtol=1e-5, atol=1e-4)
        torch.testing.assert_close(output.terms["neg_elbo"], output.terms["recon"] + output.terms["kl"])
    # in training each image draws its own β from the range
    model.train()
    betas = model.sample_betas(10_000, torch.Generator().manual_seed(0))
    low, high = model.beta_range
    assert float(betas.min()) >= low and float(betas.max()) <= high
    assert abs(float(torch.log(betas).mean()) - (torch.log(torch.tensor(low)) + torch.log(torch.tensor(high))) / 2) \
        < 0.05  # log-uniform: the mean of log β is the middle of the log range


def test_gradients_reach_the_film_layers():
    model = tiny().train()
    model(images(4), generator=torch.Generator().manual_seed(0)).loss.backward()
    film_grads = [p.grad for n, p in model.named_parameters() if "scale_shift.weight" in n]
    assert film_grads and all(g is not None and float(g.abs().sum()) > 0 for g in film_grads)


def test_folder_round_trip_and_config(tmp_path):
    model = randomise_films(tiny(beta_range=(0.05, 4.0)))
    save_model_folder(model, tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["model_type"] == "beta-vae" and config["beta_range"] == [0.05, 4.0]
    loaded = load_model(tmp_path)
    assert isinstance(loaded, BetaVAE) and loaded.beta_range == (0.05, 4.0)
    x = images(2)
    torch.testing.assert_close(loaded.embed(x, 0.3), model.embed(x, 0.3))
    assert isinstance(BetaVAE.from_pretrained(tmp_path), BetaVAE)
    with pytest.raises(WeightsError, match="beta-vae"):
        VAE.from_pretrained(tmp_path)


@pytest.mark.parametrize("beta_range", [(0.0, 1.0), (2.0, 1.0), (1.0, float("inf")), (1.0,), (1e-300, 1.0),
                                        (1.0, 1e39), (float("nan"), 1.0), ("a", "b"), 5])
def test_a_bad_beta_range_is_refused(beta_range):
    """Only ranges the network can read: β goes in as a float32, whose log the FiLM layers take."""
    with pytest.raises(ValueError, match="beta_range"):
        BetaVAEConfig(beta_range=beta_range)


@pytest.mark.parametrize("beta_range", [(0.03, 8.0), (1e-9, 1e-6), (2e-38, 3e38)])
def test_curve_betas_are_log_spaced_between_the_ends(beta_range):
    """Nine log-spaced values, the range's own ends at both ends: at every scale float32 holds (a tiny β is not
    rounded to 0, where log β is not a number)."""
    betas = curve_betas(beta_range, 9)
    assert (betas[0], betas[-1]) == beta_range and len(betas) == 9 and min(betas) > 0
    ratios = [b / a for a, b in itertools.pairwise(betas)]
    assert max(ratios) / min(ratios) - 1 < 1e-4
    assert torch.isfinite(torch.log(torch.tensor(betas, dtype=torch.float32))).all()


def test_rate_distortion_uses_the_posterior_mean():
    """Rate = analytic KL at β, distortion = BCE of the reconstruction at the posterior mean (no sampling)."""
    model = randomise_films(tiny())
    x = images(5)
    record = rate_distortion(model, x, 0.5)
    with torch.no_grad():
        posterior = model.encode(x, 0.5)
        logits = model.decode_logits(posterior.mean, 0.5)
    bce = torch.nn.functional.binary_cross_entropy_with_logits(logits, x, reduction="sum") / len(x)
    assert record["distortion"] == pytest.approx(float(bce), rel=1e-5)
    assert record["rate"] == pytest.approx(float(posterior.kl().mean()), rel=1e-5)
    assert rate_distortion(model, x, 0.5) == record  # deterministic
    plain = VAE(VAEConfig(**TINY)).eval()  # a VAE trained at a fixed β: its own rate and distortion
    with torch.no_grad():
        own = plain.encode(x)
        own_bce = torch.nn.functional.binary_cross_entropy_with_logits(plain.decode_logits(own.mean), x,
                                                                      reduction="sum") / len(x)
    assert rate_distortion(plain, x, 3.0)["distortion"] == pytest.approx(float(own_bce), rel=1e-5)


def test_curve_without_a_judge_has_rate_and_distortion_per_beta():
    from ae_vae.data import ImageSet

    model = randomise_films(tiny())
    test_set = ImageSet(images(8), torch.arange(8) % 10)
    curve = measure_beta_curve(model, test_set, judge=None, points=5)
    assert [r["beta"] for r in curve] == curve_betas(model.beta_range, 5)
    assert all({"rate", "distortion", "mse_per_pixel", "active_units"} <= set(r) for r in curve)


def test_starting_from_a_vae_computes_that_vae_at_every_beta():
    """`start_from`: the VAE's layers keep their names, the conditioning starts at zero, so the β-conditioned VAE
    then encodes and decodes as that VAE does at any β; a VAE of another shape, or an AE, is refused by name."""
    torch.manual_seed(3)
    vae = VAE(VAEConfig(**TINY)).eval()
    model = tiny(seed=4)
    model.start_from(vae)
    x = images()
    with torch.no_grad():
        for beta in (0.05, 1.0, 6.0):
            assert torch.equal(model.encode(x, beta).mean, vae.encode(x).mean)
            z = vae.encode(x).mean
            assert torch.allclose(model.decode(z, beta), vae.decode(z), atol=1e-6)
    with pytest.raises(ValueError, match="needs a VAE of the same shape .*latent_dim 3.*got vae .*latent_dim 5"):
        tiny().start_from(VAE(VAEConfig(**{**TINY, "latent_dim": 5})))
    from ae_vae import AutoEncoder, AutoEncoderConfig

    with pytest.raises(ValueError, match="got ae"):
        tiny().start_from(AutoEncoder(AutoEncoderConfig(**TINY)))


def test_a_beta_folder_loads_with_its_graphs_and_curve_and_bad_ones_are_one_line(tmp_path):
    """`load_beta_folder`: the server's model of the folder (β an input of its graphs) and its curve; a folder of
    another kind, one without a curve, or a curve that does not span the trained range is a `WeightsError`."""
    from ae_vae import BetaFolder, load_beta_folder
    from ae_vae.models.graphs import export_graphs

    model = tiny(beta_range=(0.1, 4.0))
    save_model_folder(model, tmp_path / "beta")
    export_graphs(tmp_path / "beta")
    curve = [{"beta": b, "rate": 30.0 - 5 * i, "distortion": 80.0 + 3 * i} for i, b in enumerate((0.1, 0.6, 4.0))]
    (tmp_path / "beta" / "metrics.json").write_text(json.dumps({"curve": curve}))
    loaded = load_beta_folder(tmp_path / "beta")
    assert isinstance(loaded, BetaFolder)
    assert loaded.name == "mnist-beta-vae" and loaded.beta_range == (0.1, 4.0) and loaded.curve == curve
    assert loaded.model.decode(loaded.model.embed(images(2).numpy(), 0.5), 0.5).shape == (2, 1, 28, 28)
    for bad in ([], [{"beta": 0.1, "rate": 1.0, "distortion": 1.0}], curve[:2], [{"beta": 0.1}] + curve[1:]):
        (tmp_path / "beta" / "metrics.json").write_text(json.dumps({"curve": bad}))
        with pytest.raises(WeightsError, match="no usable rate–distortion curve from β = 0.1 to 4"):
            load_beta_folder(tmp_path / "beta")
    save_model_folder(VAE(VAEConfig(**TINY)), tmp_path / "vae")
    with pytest.raises(WeightsError, match="describes a vae model, not a β-conditioned VAE"):
        load_beta_folder(tmp_path / "vae")


def test_the_knob_bench_compares_the_prior_draws_with_draws_that_know_the_codes():
    from pathlib import Path

    from ae_vae.models.judge import load_judge
    from bench.beta_knob import sampler_fds

    model = randomise_films(tiny())
    judge, _ = load_judge(Path(__file__).resolve().parents[1] / "weights" / "judge-mnist")
    features = judge.features(images(150, seed=1))
    fds = [sampler_fds(model, judge, features, images(150, seed=2), 0.5, torch.Generator().manual_seed(3))
           for _ in range(2)]
    (first, (least, most)), again = fds
    assert list(first) == ["N(0, I)", "fitted Gaussian", "marginals", "codes"]
    assert again == fds[0]  # one seed, one answer
    assert all(0 <= fd < float("inf") for fd in first.values())
    assert first["codes"] != first["N(0, I)"]
    assert 0 < least <= most
