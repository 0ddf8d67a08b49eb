"""Model invariants: shapes, round trips, loss terms on hand-checkable cases, determinism, safe loading."""

from __future__ import annotations

import json
import math

import pytest
import torch
import torch.nn.functional as F

from ae_vae import (
    VAE,
    AutoEncoder,
    AutoEncoderConfig,
    DiagonalGaussian,
    VAEConfig,
    WeightsError,
    image_gradient_error,
    load_model,
    mmd_to_standard_normal,
)
from ae_vae.models.format import save_model_folder
from ae_vae.training.evaluation import knn_accuracy

TINY = {"latent_dim": 3, "channels": (4, 8), "hidden_blocks": 1}


def tiny_model(kind: str):
    return AutoEncoder(AutoEncoderConfig(**TINY)) if kind == "ae" else VAE(VAEConfig(**TINY))


def images(n: int = 5, seed: int = 0) -> torch.Tensor:
    return torch.rand(n, 1, 28, 28, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("kind", ["ae", "vae"])
@pytest.mark.parametrize("batch", [1, 7])
def test_shapes_and_ranges(kind, batch):
    model = tiny_model(kind).eval()
    x = images(batch)
    z = model.embed(x)
    assert z.shape == (batch, 3)
    out = model.decode(z)
    assert out.shape == (batch, 1, 28, 28)
    assert float(out.detach().min()) >= 0.0 and float(out.detach().max()) <= 1.0
    result = model(x)
    assert result.loss.ndim == 0 and torch.isfinite(result.loss)
    assert result.reconstruction.shape == x.shape


def test_vae_encode_returns_posterior():
    with torch.no_grad():
        posterior = tiny_model("vae").encode(images(4))
    assert isinstance(posterior, DiagonalGaussian)
    assert posterior.mean.shape == posterior.logvar.shape == (4, 3)
    # the mode is the centre of the samples and the posterior's std their spread
    draws = torch.stack([posterior.sample(torch.Generator().manual_seed(i)) for i in range(2000)])
    torch.testing.assert_close(draws.mean(0), posterior.mode(), atol=0.1 * float(posterior.std.max()), rtol=0)
    torch.testing.assert_close(draws.std(0), posterior.std, rtol=0.1, atol=0)
    g1, g2 = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    assert torch.equal(posterior.sample(g1), posterior.sample(g2))
    assert posterior.kl().shape == (4,)


@pytest.mark.parametrize("kind", ["ae", "vae"])
def test_save_and_from_pretrained_round_trip(kind, tmp_path):
    model = tiny_model(kind).eval()
    model.save_pretrained(tmp_path)
    names = {p.name for p in tmp_path.iterdir()}
    assert {"config.json", "model.safetensors"} <= names
    assert not [n for n in names if n.endswith((".bin", ".pt", ".pth", ".pkl"))]
    cls = type(model)
    loaded = cls.from_pretrained(tmp_path)
    assert loaded.config == model.config
    x = images(3)
    assert torch.equal(loaded.decode(loaded.embed(x)), model.decode(model.embed(x)))
    # the generic loader picks the class from config.json
    generic = load_model(tmp_path)
    assert type(generic) is cls
    assert torch.equal(generic.embed(x), model.embed(x))


def test_atomic_save_model_folder_matches_save_pretrained(tmp_path):
    model = tiny_model("vae").eval()
    save_model_folder(model, tmp_path)
    assert json.loads((tmp_path / "config.json").read_text())["model_type"] == "vae"
    assert torch.equal(VAE.from_pretrained(tmp_path).embed(images(2)), model.embed(images(2)))
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")], "temp files left behind"


def test_analytic_kl_matches_monte_carlo():
    torch.manual_seed(0)
    mean, logvar = torch.randn(2, 4), torch.randn(2, 4) * 0.5
    posterior = DiagonalGaussian(mean, logvar)
    g = torch.Generator().manual_seed(0)
    z = torch.stack([posterior.sample(g) for _ in range(200_000)])  # (S, 2, 4)
    log_p = -0.5 * (z.pow(2) + math.log(2 * math.pi)).sum(-1)
    mc = (posterior.log_prob(z) - log_p).mean(0)
    torch.testing.assert_close(mc, posterior.kl(), atol=0.02, rtol=0.01)


def _constant_vae(decoder_bias: float, encoder_mean: float) -> VAE:
    """A VAE whose posterior is N(encoder_mean, I) and whose decoder ignores z: every term is analytic."""
    model = VAE(VAEConfig(**TINY))
    with torch.no_grad():
        for p in model.parameters():
            p.zero_()
        head = model.encoder.head
        head.bias[:3] = encoder_mean  # mean; logvar stays 0
        model.decoder.body[-1].bias.fill_(decoder_bias)
    return model.eval()


def test_neg_elbo_and_iwae_on_hand_checkable_case():
    x = images(4)
    bias, m = 0.3, 0.3
    model = _constant_vae(bias, m)
    bce = F.binary_cross_entropy_with_logits(torch.full_like(x, bias), x, reduction="none").flatten(1).sum(1)
    kl = 0.5 * 3 * m ** 2  # KL(N(m, 1) || N(0, 1)) per dim is m^2 / 2
    out = model(x, beta=1.0, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(out.terms["neg_elbo"], (bce + kl).mean())
    torch.testing.assert_close(out.terms["kl"], torch.tensor(kl))
    # p(x|z) does not depend on z, so -log p(x) = BCE exactly; IWAE sits between it and the ELBO
    nll = model.iwae_nll(x, num_samples=2000, generator=torch.Generator().manual_seed(0))
    assert torch.all(nll <= bce + kl + 1e-4)
    torch.testing.assert_close(nll, bce, atol=0.06, rtol=0)  # MC std ~0.012 at k=2000
    # with posterior == prior every importance weight equals p(x): IWAE is exact for any k
    exact = _constant_vae(bias, 0.0).iwae_nll(x, num_samples=5, generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(exact, bce)


@pytest.mark.parametrize("kind", ["ae", "vae"])
def test_deterministic_under_seed(kind):
    def run():
        torch.manual_seed(123)
        model = tiny_model(kind)
        opt = torch.optim.Adam(model.parameters(), 1e-3)
        g = torch.Generator().manual_seed(5)
        for _ in range(3):
            out = model(images(8), generator=g)
            opt.zero_grad()
            out.loss.backward()
            opt.step()
        return model.embed(images(2, seed=9))
    assert torch.equal(run(), run())


@pytest.mark.parametrize("kind", ["ae", "vae"])
def test_bf16_autocast_keeps_loss_and_posterior_in_fp32(kind):
    """Mixed precision (train.py --precision bf16) must not round the loss, the posterior or the gradients."""
    model = tiny_model(kind)
    x = images(6)
    reference = model(x, generator=torch.Generator().manual_seed(1))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        mixed = model(x, generator=torch.Generator().manual_seed(1))
        if kind == "vae":
            posterior = model.encode(x)
            assert posterior.mean.dtype == posterior.logvar.dtype == torch.float32
    assert mixed.loss.dtype == torch.float32 and mixed.reconstruction.dtype == torch.float32
    assert abs(float(mixed.loss.detach()) - float(reference.loss.detach())) < 0.02 * float(reference.loss.detach())
    mixed.loss.backward()
    assert all(p.grad is not None and p.grad.dtype == torch.float32 and torch.isfinite(p.grad).all()
               for p in model.parameters())


def test_mmd_to_standard_normal_tells_matched_codes_from_clustered_ones():
    g = torch.Generator().manual_seed(0)
    matched = [float(mmd_to_standard_normal(torch.randn(256, 8, generator=g), g)) for _ in range(5)]
    clusters = torch.randn(256, 8, generator=g) * 0.3 + torch.randint(0, 2, (256, 1), generator=g) * 2.0 - 1.0
    clustered = float(mmd_to_standard_normal(clusters, g))
    assert max(abs(v) for v in matched) < 0.2 * clustered  # unbiased: noise around 0 for matched sets
    assert float(mmd_to_standard_normal(torch.zeros(1, 8))) == 0.0  # one code: no pairs to compare
    z = clusters.clone().requires_grad_(True)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        value = mmd_to_standard_normal(z, torch.Generator().manual_seed(1))
    value.backward()
    assert value.dtype == torch.float32 and torch.isfinite(z.grad).all() and z.grad.abs().sum() > 0


@pytest.mark.parametrize("kind", ["ae", "vae"])
def test_prior_matching_adds_the_weighted_mmd_of_the_codes(kind):
    """--prior-matching changes the loss by exactly weight x MMD and leaves the logged −ELBO/MSE terms alone."""
    model = tiny_model(kind)
    x = images(16)
    plain = model(x, generator=torch.Generator().manual_seed(3))
    matched = model(x, generator=torch.Generator().manual_seed(3), prior_matching=50.0)
    assert "mmd" not in plain.terms and float(matched.terms["mmd"]) != 0.0
    torch.testing.assert_close(matched.loss, plain.loss + 50.0 * matched.terms["mmd"])
    for key, value in plain.terms.items():
        torch.testing.assert_close(matched.terms[key], value)
    model.zero_grad()
    (matched.loss - plain.loss).backward()  # the penalty alone trains the encoder, not the decoder
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in model.encoder.parameters())
    assert all(p.grad is None or p.grad.abs().sum() == 0 for p in model.decoder.parameters())


@pytest.mark.parametrize("kind,loss", [("ae", "mse"), ("ae", "bce"), ("vae", "bce")])
def test_edge_matching_adds_the_weighted_image_gradient_error(kind, loss):
    """--edge-matching changes the loss by exactly weight x edge term, in the reconstruction term's units, and
    leaves the logged terms alone."""
    model = tiny_model(kind) if kind == "vae" else AutoEncoder(AutoEncoderConfig(**TINY, reconstruction_loss=loss))
    x = images(8)
    plain = model(x, generator=torch.Generator().manual_seed(3))
    matched = model(x, generator=torch.Generator().manual_seed(3), edge_matching=0.5)
    expected = image_gradient_error(matched.reconstruction, x, per_image_sum=loss == "bce")
    assert "edge" not in plain.terms and float(matched.terms["edge"]) > 0
    torch.testing.assert_close(matched.terms["edge"], expected)
    torch.testing.assert_close(matched.loss, plain.loss + 0.5 * expected)
    for key, value in plain.terms.items():
        torch.testing.assert_close(matched.terms[key], value)


def test_image_gradient_error_weighs_thin_lines_up_against_broad_areas():
    """Erasing a one-pixel line costs about as much edge error as pixel error; erasing a broad block of seven
    times the area costs far less edge error than pixel error: the term's reason to exist."""
    line, block = torch.zeros(1, 1, 28, 28), torch.zeros(1, 1, 28, 28)
    line[..., :, 14] = 1.0
    block[..., 7:21, 7:21] = 1.0
    blank = torch.zeros(1, 1, 28, 28)
    assert float(image_gradient_error(line, line, per_image_sum=False)) == 0.0

    def edge_per_pixel_error(target):
        return float(image_gradient_error(blank, target, per_image_sum=False) / F.mse_loss(blank, target))

    assert edge_per_pixel_error(line) > 5 * edge_per_pixel_error(block)
    torch.testing.assert_close(image_gradient_error(blank, line, per_image_sum=True), torch.tensor(56.0))


def test_ae_loss_selectable():
    x = images(3)
    bce_model = AutoEncoder(AutoEncoderConfig(**TINY, reconstruction_loss="bce"))
    mse_model = AutoEncoder(AutoEncoderConfig(**TINY, reconstruction_loss="mse"))
    mse_model.load_state_dict(bce_model.state_dict())
    assert torch.allclose(bce_model(x).loss, bce_model(x).terms["bce"])
    assert torch.allclose(mse_model(x).loss, mse_model(x).terms["mse"])
    with pytest.raises(ValueError, match="reconstruction_loss"):
        AutoEncoderConfig(reconstruction_loss="l1")


def test_truncated_weights_error_names_the_file(tmp_path):
    tiny_model("vae").save_pretrained(tmp_path)
    weights = tmp_path / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:500])
    with pytest.raises(WeightsError, match="model.safetensors"):
        load_model(tmp_path)
    with pytest.raises(WeightsError, match="model.safetensors"):
        VAE.from_pretrained(tmp_path)


def test_mismatched_config_error_names_the_file(tmp_path):
    tiny_model("vae").save_pretrained(tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())
    config["latent_dim"] = 5
    (tmp_path / "config.json").write_text(json.dumps(config))
    with pytest.raises(WeightsError, match=r"model.safetensors.*shape"):
        load_model(tmp_path)
    (tmp_path / "config.json").write_text("{not json")
    with pytest.raises(WeightsError, match="config.json"):
        load_model(tmp_path)


def test_pickle_weights_are_never_loaded(tmp_path):
    model = tiny_model("ae")
    model.save_pretrained(tmp_path)
    (tmp_path / "model.safetensors").unlink()
    torch.save(model.state_dict(), tmp_path / "pytorch_model.bin")  # what the stock mixin would fall back to
    with pytest.raises(WeightsError, match="model.safetensors"):
        AutoEncoder.from_pretrained(tmp_path)


def test_knn_accuracy_on_separable_clusters():
    centres = torch.eye(3) * 10
    labels = torch.arange(3).repeat_interleave(20)
    points = centres[labels] + torch.randn(60, 3, generator=torch.Generator().manual_seed(0))
    assert knn_accuracy(points, labels, points + 0.01, labels) == 1.0
    shuffled = labels[torch.randperm(60, generator=torch.Generator().manual_seed(1))]
    assert knn_accuracy(points, shuffled, points, labels) < 0.8
