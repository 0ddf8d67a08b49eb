"""The training loop's pieces: optimizer with weight decay, the held-out split, resume compatibility."""

from __future__ import annotations

import pytest
import torch

from ae_vae import VAE, ImageSet, VAEConfig
from ae_vae.training import build_optimizer
from train import changed_settings, parse_args, run_arguments


def tiny_vae() -> VAE:
    torch.manual_seed(0)
    return VAE(VAEConfig(latent_dim=3, channels=(4, 8), hidden_blocks=1))


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
    current = run_arguments(parse_args(["--model", "vae", "--epochs", "9"]))
    older = {k: v for k, v in current.items() if k not in ("weight_decay", "validation_images", "precision")}
    older["channels"] = list(older["channels"])  # as read back from JSON
    assert changed_settings(older, current) == {}
    regularized = run_arguments(parse_args(["--model", "vae", "--weight-decay", "1e-4"]))
    assert changed_settings(older, regularized) == {"weight_decay": 0.0}
    held_out = run_arguments(parse_args(["--model", "vae", "--validation-images", "5000", "--epochs", "20"]))
    assert changed_settings(older, held_out) == {"validation_images": 0}  # --epochs may change, the split not


@pytest.mark.parametrize("flags", [["--weight-decay", "-1"], ["--validation-images", "-5"]])
def test_negative_regularization_flags_are_rejected(flags, capsys):
    with pytest.raises(SystemExit) as exit_info:
        parse_args(flags)
    assert exit_info.value.code == 2 and "must not be negative" in capsys.readouterr().err
