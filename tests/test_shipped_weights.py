"""Every shipped weights folder is complete, safe, loads, and reproduces its metrics.json."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from ae_vae import VAE, AutoEncoder, load_maps, load_model
from ae_vae.data import load_split
from ae_vae.evaluation import reconstruction_errors
from ae_vae.hub import MODEL_NAMES
from conftest import REAL_DATA_DIR, real_data_available

WEIGHTS = Path(__file__).resolve().parents[1] / "weights"


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_folder_is_complete_and_pickle_free(name):
    folder = WEIGHTS / name
    for file in ("model.safetensors", "config.json", "metrics.json", "embeddings.safetensors", "README.md",
                 "samples.png", "training.json"):
        assert (folder / file).is_file(), f"{folder / file} missing"
    assert not [p for p in folder.rglob("*") if p.suffix in (".pt", ".pth", ".pkl", ".bin", ".ckpt")]
    card = (folder / "README.md").read_text()
    assert card.startswith("---\n") and "model-index:" in card and "python train.py" in card


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_folder_loads_with_from_pretrained(name):
    dataset, kind = name.rsplit("-", 1)
    cls = VAE if kind == "vae" else AutoEncoder
    model = cls.from_pretrained(WEIGHTS / name)
    assert model.config.dataset == dataset and model.config.model_type == kind
    assert model.config.latent_dim <= 32 or kind == "vae"
    maps = load_maps(WEIGHTS / name / "embeddings.safetensors", model.latent_dim)
    assert len(maps.labels) >= 5000 and set(maps.labels.tolist()) == set(range(10))


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_reproduces_metrics_on_a_test_slice(name):
    dataset = name.rsplit("-", 1)[0]
    if not real_data_available(dataset):
        pytest.skip(f"{dataset} not found under {REAL_DATA_DIR} (set AE_VAE_DATA_DIR)")
    metrics = json.loads((WEIGHTS / name / "metrics.json").read_text())
    test = load_split(dataset, REAL_DATA_DIR, train=False, download=False)
    model = load_model(WEIGHTS / name)
    with torch.no_grad():
        mse = reconstruction_errors(model, test.images[:1000])["mse_per_pixel"]
    assert mse == pytest.approx(metrics["mse_per_pixel_first_1000"], abs=1e-6)  # stored rounded to 6 places


# Upper bounds on the official test split: the quality bar the shipped models were trained to. For the MNIST
# VAE's -ELBO the bound is the plain two-conv VAE's 94.3 nats (the classic MLP VAE's is 105.5): the stricter
# goal of <= 90 nats is not reached yet (91.2; see README, "Results").
TARGETS = {"mnist-vae": {"neg_elbo": 94.3, "mse_per_pixel": 0.0060}, "mnist-ae": {"mse_per_pixel": 0.0028},
           "fashion_mnist-ae": {"mse_per_pixel": 0.0058}}


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_shipped_metrics_meet_the_targets(name):
    metrics = json.loads((WEIGHTS / name / "metrics.json").read_text())
    for key, limit in TARGETS[name].items():
        assert metrics[key] <= limit, f"{name}: {key} = {metrics[key]} > {limit}"
