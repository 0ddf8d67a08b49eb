"""The training loop's pieces: optimizer with weight decay, the denoising encoder, shift augmentation, the
held-out split, resume compatibility."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from ae_vae import VAE, AutoEncoder, AutoEncoderConfig, ImageSet, VAEConfig
from ae_vae.data import random_shift
from ae_vae.training.loop import Schedule, TrainState, build_optimizer, changed_settings, run_arguments, train_epoch
from train import parse_args


def tiny_vae() -> VAE:
    torch.manual_seed(0)
    return VAE(VAEConfig(latent_dim=3, channels=(4, 8), hidden_blocks=1))


def tiny_ae() -> AutoEncoder:
    torch.manual_seed(0)
    return AutoEncoder(AutoEncoderConfig(latent_dim=3, channels=(4, 8)))


def test_no_weight_decay_is_plain_adam():
    optimizer = build_optimizer(tiny_vae(), lr=1e-3)
    assert type(optimizer) is torch.optim.Adam and len(optimizer.param_groups) == 1


def test_weight_decay_shrinks_weights_but_not_biases():
    model = tiny_vae()
    optimizer = build_optimizer(model, lr=0.1, weight_decay=0.5)
    assert isinstance(optimizer, torch.optim.AdamW)
    before = {name: p.detach().clone() for name, p in model.named_parameters()}
    for p in model.parameters():
        p.grad = torch.zeros_like(p)  # no gradient signal: only the decay moves parameters
    optimizer.step()
    for name, p in model.named_parameters():
        if p.dim() >= 2:
            torch.testing.assert_close(p.detach(), before[name] * (1 - 0.1 * 0.5))
        else:
            torch.testing.assert_close(p.detach(), before[name])


def test_vae_input_noise_reaches_the_encoder_only():
    """The encoder sees x + σ·ε; the likelihood still scores the clean x (a denoising VAE)."""
    model, x, sigma = tiny_vae(), torch.rand(5, 1, 28, 28), 0.3
    output = model(x, generator=torch.Generator().manual_seed(7), input_noise=sigma)
    generator = torch.Generator().manual_seed(7)  # same draws in the same order: pixel noise, then z
    noisy = x + sigma * torch.randn(x.shape, generator=generator)
    posterior = model.encode(noisy)
    logits = model.decode_logits(posterior.sample(generator))
    recon = F.binary_cross_entropy_with_logits(logits, x, reduction="none").flatten(1).sum(1)
    torch.testing.assert_close(output.terms["neg_elbo"], (recon + posterior.kl()).mean())
    torch.testing.assert_close(output.terms["recon"], recon.mean())
    clean = model(x, generator=torch.Generator().manual_seed(7))
    assert not torch.allclose(output.terms["kl"], clean.terms["kl"])  # the noise changed the posterior


@pytest.mark.parametrize("make", [tiny_vae, tiny_ae])
def test_zero_input_noise_changes_nothing(make):
    model, x = make(), torch.rand(4, 1, 28, 28)
    plain = model(x, generator=torch.Generator().manual_seed(1))
    zero = model(x, generator=torch.Generator().manual_seed(1), input_noise=0.0)
    assert all(torch.equal(plain.terms[k], zero.terms[k]) for k in plain.terms)


def test_autoencoder_input_noise_reconstructs_the_clean_image():
    model, x = tiny_ae(), torch.rand(4, 1, 28, 28)
    output = model(x, generator=torch.Generator().manual_seed(2), input_noise=0.5)
    noisy = x + 0.5 * torch.randn(x.shape, generator=torch.Generator().manual_seed(2))
    expected = F.mse_loss(model.decode(model.encode(noisy)), x)
    torch.testing.assert_close(output.terms["mse"], expected)


def dot_images(count: int, size: int = 28) -> torch.Tensor:
    """Images with one bright pixel each, away from the border, so a shift can be read off its position."""
    images = torch.zeros(count, 1, size, size)
    images[torch.arange(count), 0, 10 + torch.arange(count) % 5, 12 + torch.arange(count) % 3] = 1.0
    return images


@pytest.mark.parametrize("max_shift", [1, 2])
def test_random_shift_moves_each_image_within_bounds(max_shift):
    images = dot_images(200)
    shifted = random_shift(images, max_shift, torch.Generator().manual_seed(0))
    assert shifted.shape == images.shape and torch.equal(shifted.sum((1, 2, 3)), images.sum((1, 2, 3)))
    before, after = images.flatten(1).argmax(1), shifted.flatten(1).argmax(1)
    dy, dx = after // 28 - before // 28, after % 28 - before % 28
    assert dy.abs().max() <= max_shift and dx.abs().max() <= max_shift
    offsets = set(zip(dy.tolist(), dx.tolist()))
    assert len(offsets) == (2 * max_shift + 1) ** 2  # every offset occurs among 200 images, (0, 0) included


def test_random_shift_is_seeded_and_fills_with_background():
    images = torch.ones(64, 1, 28, 28)
    first = random_shift(images, 2, torch.Generator().manual_seed(5))
    assert torch.equal(first, random_shift(images, 2, torch.Generator().manual_seed(5)))
    assert not torch.equal(first, random_shift(images, 2, torch.Generator().manual_seed(6)))
    assert set(first.unique().tolist()) == {0.0, 1.0}  # moved-in border pixels are 0, nothing else changes
    generator = torch.Generator().manual_seed(1)
    state = generator.get_state()
    assert random_shift(images, 0, generator) is images and torch.equal(generator.get_state(), state)


@pytest.mark.parametrize("max_shift", [0, 2])
def test_train_epoch_feeds_the_model_shifted_images(max_shift):
    """The model, which scores its own loss, gets the shifted batch: what it sees is what it reconstructs."""
    seen = []

    class Recorder(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.scale = torch.nn.Parameter(torch.ones(()))

        def forward(self, x, beta=1.0, generator=None, input_noise=0.0, prior_matching=0.0, edge_matching=0.0):
            from ae_vae.models.blocks import ModelOutput
            seen.append(x.detach().clone())
            loss = (x * self.scale).mean()
            return ModelOutput(loss=loss, reconstruction=x, terms={"loss": loss.detach()})

    model, images = Recorder(), dot_images(64)
    train_epoch(model, torch.optim.SGD(model.parameters(), lr=0.0), images, 16, Schedule(lr=1e-9, total_steps=4),
                TrainState(), torch.Generator().manual_seed(0), torch.device("cpu"), augment_shift=max_shift)
    positions = torch.cat(seen).flatten(1).argmax(1)
    originals = set(images.flatten(1).argmax(1).tolist())
    moved = sum(p not in originals for p in positions.tolist())
    assert len(positions) == 64 and (moved == 0 if max_shift == 0 else moved > 16)


@pytest.mark.parametrize("grad_clip", [0.0, 0.5])
def test_train_epoch_clips_the_gradient_norm(grad_clip):
    """With `grad_clip`, one SGD step moves the weights by at most lr * grad_clip, however steep the loss."""

    class Steep(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.weight = torch.nn.Parameter(torch.zeros(4))

        def forward(self, x, beta=1.0, generator=None, input_noise=0.0, prior_matching=0.0, edge_matching=0.0):
            from ae_vae.models.blocks import ModelOutput
            loss = 1000.0 * self.weight.sum() + 0.0 * x.mean()
            return ModelOutput(loss=loss, reconstruction=x, terms={"loss": loss.detach()})

    model, schedule = Steep(), Schedule(lr=0.1, total_steps=100, warmup_steps=0)
    train_epoch(model, torch.optim.SGD(model.parameters(), lr=0.0), dot_images(16), 16, schedule, TrainState(),
                torch.Generator().manual_seed(0), torch.device("cpu"), grad_clip=grad_clip)
    step = model.weight.detach().norm().item()
    lr = schedule.lr_at(0)
    assert step == pytest.approx(lr * (grad_clip if grad_clip else 2000.0), rel=1e-4)


def test_split_off_is_disjoint_seeded_and_complete():
    images = torch.arange(50, dtype=torch.float32).view(50, 1, 1, 1).expand(50, 1, 28, 28).contiguous()
    data = ImageSet(images, torch.arange(50) % 10)
    rest, held = data.split_off(12, seed=3)
    assert len(rest) == 38 and len(held) == 12

    def ids(part: ImageSet) -> set[int]:
        return set(part.images[:, 0, 0, 0].long().tolist())

    assert ids(rest).isdisjoint(ids(held)) and ids(rest) | ids(held) == set(range(50))
    assert torch.equal(held.labels, held.images[:, 0, 0, 0].long() % 10)  # labels stay with their images
    again, other_seed = data.split_off(12, seed=3)[1], data.split_off(12, seed=4)[1]
    assert torch.equal(again.images, held.images) and not torch.equal(other_seed.images, held.images)
    with pytest.raises(ValueError, match="cannot hold out 50 of 50"):
        data.split_off(50)


def test_resume_accepts_checkpoints_from_before_a_flag_existed():
    current = run_arguments(vars(parse_args(["--model", "vae", "--epochs", "9"])))
    older = {k: v for k, v in current.items()
             if k not in ("weight_decay", "encoder_noise", "augment_shift", "validation_images", "precision")}
    older["channels"] = list(older["channels"])  # as read back from JSON
    assert changed_settings(older, current) == {}
    regularized = run_arguments(vars(parse_args(["--model", "vae", "--weight-decay", "1e-4"])))
    assert changed_settings(older, regularized) == {"weight_decay": 0.0}
    denoising = run_arguments(vars(parse_args(["--model", "vae", "--encoder-noise", "0.1"])))
    assert changed_settings(older, denoising) == {"encoder_noise": 0.0}
    fresh_seed = run_arguments(vars(parse_args(["--model", "vae", "--seed", "7"])))
    assert changed_settings(older, fresh_seed) == {"seed": 0}
    held_out = run_arguments(vars(parse_args(["--model", "vae", "--validation-images", "5000", "--epochs", "20"])))
    assert changed_settings(older, held_out) == {"validation_images": 0}  # --epochs may change, the split not
    # a later phase may switch prior matching on, or shift augmentation off (each invocation's command is kept)
    matching = run_arguments(vars(parse_args(["--model", "vae", "--epochs", "9", "--prior-matching", "100"])))
    assert changed_settings(older, matching) == {}
    shifted = run_arguments(vars(parse_args(["--model", "ae", "--augment-shift", "1"])))
    assert changed_settings({**older, "model": "ae"}, shifted) == {}


@pytest.mark.parametrize("flags", [["--weight-decay", "-1"], ["--validation-images", "-5"], ["--encoder-noise", "-0.1"],
                                   ["--augment-shift", "-1"], ["--prior-matching", "-5"],
                                   ["--grad-clip", "nan"], ["--kl-warmup-epochs", "-1"]])
def test_negative_regularization_flags_are_rejected(flags, capsys):
    with pytest.raises(SystemExit) as exit_info:
        parse_args(flags)
    said = capsys.readouterr().err
    assert exit_info.value.code == 2 and f"argument {flags[0]}" in said and "must be a" in said and "Traceback" not in said


@pytest.mark.parametrize("kl_weight", [1.0, 0.3, 4.0])
def test_the_kl_weight_warms_up_linearly_to_its_value(kl_weight):
    schedule = Schedule(lr=1e-3, total_steps=100, kl_warmup_steps=10, kl_weight=kl_weight)
    assert [schedule.beta_at(step) for step in (0, 4, 9, 50)] == pytest.approx(
        [0.1 * kl_weight, 0.5 * kl_weight, kl_weight, kl_weight])
    assert Schedule(lr=1e-3, total_steps=100, kl_weight=kl_weight).beta_at(0) == kl_weight
