"""bench/probe.py: the goal figures for any model folder or checkpoint (tiny models,
tiny data)."""

from __future__ import annotations

import math

import pytest
import torch

from ae_vae import VAE, AutoEncoder, AutoEncoderConfig, VAEConfig
from ae_vae.data import load_split
from ae_vae.training.evaluation import reconstruction_errors
from bench.probe import COLUMNS, main, probe

TINY = {"latent_dim": 3, "channels": (4, 8), "hidden_blocks": 1, "dataset": "fashion_mnist"}


@pytest.mark.parametrize("kind", ["ae", "vae"])
def test_probe_reports_the_goal_figures(kind, tiny_data_dir, tmp_path):
    torch.manual_seed(0)
    model = AutoEncoder(AutoEncoderConfig(**TINY)) if kind == "ae" else VAE(VAEConfig(**TINY))
    model.save_pretrained(tmp_path / kind)
    row = probe(tmp_path / kind, tiny_data_dir, samples=100)
    test = load_split("fashion_mnist", tiny_data_dir, train=False, download=False)
    assert row["MSE"] == round(reconstruction_errors(model.eval(), test.images)["mse_per_pixel"], 6)
    assert 0.0 <= row["judge on recon"] <= 1.0 and 0.0 <= row["judge on train recon"] <= 1.0
    vae_columns = ("−ELBO", "KL", "FD N(0, I) vs test", "FD N(0, I) vs train")
    if kind == "vae":
        assert all(math.isfinite(row[c]) and row[c] >= 0 for c in vae_columns)
        assert row["−ELBO"] > row["KL"]
    else:
        assert not any(c in row for c in vae_columns)


def test_probe_prints_one_table_row_per_folder(tiny_data_dir, tmp_path, capsys):
    for kind, model in (("ae", AutoEncoder(AutoEncoderConfig(**TINY))), ("vae", VAE(VAEConfig(**TINY)))):
        model.save_pretrained(tmp_path / kind)
    assert main([str(tmp_path / "ae"), str(tmp_path / "vae"), "--data-dir", str(tiny_data_dir),
                 "--samples", "100"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 4 and lines[0].count("|") == len(COLUMNS) + 1
    assert lines[2].startswith(f"| {tmp_path / 'ae'} |") and lines[2].endswith("– | – | – | – |")
    assert lines[3].startswith(f"| {tmp_path / 'vae'} |") and "–" not in lines[3]


def test_probe_names_a_bad_folder_before_scoring_anything(tiny_data_dir, tmp_path, capsys):
    AutoEncoder(AutoEncoderConfig(**TINY)).save_pretrained(tmp_path / "ae")
    assert main([str(tmp_path / "ae"), str(tmp_path / "missing"), "--data-dir", str(tiny_data_dir)]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.startswith("error: ") and "missing" in captured.err
