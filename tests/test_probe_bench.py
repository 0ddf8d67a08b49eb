"""bench/probe.py and bench/issue_judge.py: the issue-16 figures for any model folder or checkpoint (tiny models,
tiny data)."""

from __future__ import annotations

import math

import pytest
import torch

from ae_vae import VAE, AutoEncoder, AutoEncoderConfig, VAEConfig
from ae_vae.data import load_split
from ae_vae.evaluation import reconstruction_errors
from bench import issue_judge
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


def test_issue_judge_scores_each_folder_with_both_judges(tiny_data_dir, tmp_path, capsys):
    for kind, model in (("ae", AutoEncoder(AutoEncoderConfig(**TINY))), ("vae", VAE(VAEConfig(**TINY))),
                        ("digits", AutoEncoder(AutoEncoderConfig(**{**TINY, "dataset": "mnist"})))):
        model.save_pretrained(tmp_path / kind)
    assert issue_judge.main(["--datasets", "fashion_mnist", "--folders", str(tmp_path / "ae"), str(tmp_path / "vae"),
                             str(tmp_path / "digits"), "--data-dir", str(tiny_data_dir), "--samples", "100",
                             "--threads", "1"]) == 0
    captured = capsys.readouterr()
    lines = captured.out.strip().splitlines()
    assert len(lines) == 5 and lines[0].count("|") == len(issue_judge.COLUMNS) + 1
    real, ae, vae = (line.strip("| ").split(" | ") for line in lines[2:])
    assert real[0] == "real fashion_mnist test images" and all(0 <= float(v) <= 1 for v in real[1:3])
    assert ae[0] == str(tmp_path / "ae") and ae[3:] == ["–", "–"]
    assert vae[0] == str(tmp_path / "vae") and all(float(v) >= 0 for v in vae[1:])
    assert f"skipped {tmp_path / 'digits'}" in captured.err


def test_issue_judge_names_a_bad_folder_before_training_anything(tiny_data_dir, tmp_path, capsys):
    assert issue_judge.main(["--folders", str(tmp_path / "missing"), "--data-dir", str(tiny_data_dir)]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.startswith("error: ") and "missing" in captured.err


def test_probe_names_a_bad_folder_before_scoring_anything(tiny_data_dir, tmp_path, capsys):
    AutoEncoder(AutoEncoderConfig(**TINY)).save_pretrained(tmp_path / "ae")
    assert main([str(tmp_path / "ae"), str(tmp_path / "missing"), "--data-dir", str(tiny_data_dir)]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.startswith("error: ") and "missing" in captured.err
