"""Every shipped weights folder is complete, safe, loads, and reproduces its metrics.json."""

from __future__ import annotations

import functools
import json
from pathlib import Path

import pytest
import torch
from conftest import REAL_DATA_DIR, real_data_available

from ae_vae import VAE, AutoEncoder, load_maps, load_model
from ae_vae.data import load_split
from ae_vae.hub import BETA_NAMES, MODEL_NAMES
from ae_vae.training.evaluation import elbo_terms, reconstruction_errors

pytestmark = pytest.mark.slow

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
    assert "--data-dir" not in card.split("## Training command")[1].split("```")[1], "card shows a machine path"


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_folder_loads_with_from_pretrained(name):
    dataset, kind = name.rsplit("-", 1)
    cls = VAE if kind == "vae" else AutoEncoder
    model = cls.from_pretrained(WEIGHTS / name)
    assert model.config.dataset == dataset and model.config.model_type == kind
    # README, "Results": 32 numbers per MNIST code; 64 per Fashion-MNIST code, where the larger code measurably paid
    # (docs/experiments.md, "A 64-dimensional code for the Fashion pair"); the pair test below keeps AE = VAE
    assert model.config.latent_dim == {"mnist": 32, "fashion_mnist": 64}[dataset]
    maps = load_maps(WEIGHTS / name / "embeddings.safetensors", model.latent_dim)
    assert len(maps.labels) >= 5000 and set(maps.labels.tolist()) == set(range(10))
    # the neighbour search: the test points' images and 20 000 training points (codes of these very weights)
    assert maps.images is not None and maps.neighbour_labels is not None and len(maps.neighbour_labels) == 20_000
    with torch.no_grad():
        codes = model.embed(torch.from_numpy(maps.neighbour_images[:64, None].astype("float32") / 255)).numpy()
    assert abs(codes - maps.neighbour_latents[:64]).max() < 1e-3 * (abs(maps.neighbour_latents).max() + 1)


@pytest.mark.parametrize("dataset", sorted({name.rsplit("-", 1)[0] for name in MODEL_NAMES}))
def test_each_pair_shares_one_network(dataset):
    """The app's story for a data set, "same network, different objective": its AE and VAE differ in the objective
    (and the VAE's doubled encoder output), not in the layers."""
    shapes = [{k: v for k, v in json.loads((WEIGHTS / f"{dataset}-{kind}" / "config.json").read_text()).items()
               if k in ("channels", "hidden_blocks", "latent_dim")} for kind in ("ae", "vae")]
    assert shapes[0] == shapes[1] and set(shapes[0]) == {"channels", "hidden_blocks", "latent_dim"}


@functools.cache
def official_test_split(dataset: str):
    return load_split(dataset, REAL_DATA_DIR, train=False, download=False)


def shipped_with_test_split(name: str):
    """The shipped model, its metrics.json and its data set's official test split; skips without the data."""
    dataset = name.rsplit("-", 1)[0]
    if not real_data_available(dataset):
        pytest.skip(f"{dataset} not found under {REAL_DATA_DIR} (set AE_VAE_DATA_DIR)")
    metrics = json.loads((WEIGHTS / name / "metrics.json").read_text())
    return load_model(WEIGHTS / name), metrics, official_test_split(dataset)


# Upper bounds on the official test split (README, "Results"); each is checked on numbers recomputed from the
# weights and the data, and metrics.json must agree with them.
TARGETS = {"mnist-vae": {"neg_elbo": 90.0, "mse_per_pixel": 0.0060}, "mnist-ae": {"mse_per_pixel": 0.00176},  # 100 epochs, MSE loss, 1-pixel shifts: 0.001748
           "fashion_mnist-ae": {"mse_per_pixel": 0.0035},  # z = 64, 60 shifted + 20 unshifted epochs: 0.003418
           "fashion_mnist-vae": {"neg_elbo": 234.3, "mse_per_pixel": 0.0095}}  # z = 64, 170 epochs: 234.07, 0.009457


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_reproduces_the_mse_on_the_whole_test_split(name):
    model, metrics, test = shipped_with_test_split(name)
    with torch.no_grad():
        mse = reconstruction_errors(model, test.images)["mse_per_pixel"]
    assert mse == pytest.approx(metrics["mse_per_pixel"], abs=1e-6)  # stored rounded to 6 places
    limit = TARGETS.get(name, {}).get("mse_per_pixel")
    assert limit is None or mse <= limit, f"{name}: MSE {mse:.5f} > {limit}"


@pytest.mark.parametrize("name", [n for n in MODEL_NAMES if n.endswith("-vae")])
def test_reproduces_the_neg_elbo_on_the_whole_test_split(name):
    """The headline number is recomputed from the weights and the data, not only read from metrics.json."""
    model, metrics, test = shipped_with_test_split(name)
    terms = elbo_terms(model, test.images, seed=0)
    assert terms["neg_elbo"] == pytest.approx(metrics["neg_elbo"], abs=0.01)
    limit = TARGETS.get(name, {}).get("neg_elbo")
    assert limit is None or terms["neg_elbo"] <= limit, f"{name}: -ELBO {terms['neg_elbo']:.2f} > {limit}"


def test_the_readmes_python_example_decodes_sevens(monkeypatch):
    """The README's "In Python" block, run as written from the repo root: the judge calls its samples sevens, and
    what a reader does next with them (`.numpy()`, `plt.imshow`) works: no autograd graph outside training."""
    import matplotlib

    matplotlib.use("Agg")
    from ae_vae.models.judge import load_judge

    readme = (WEIGHTS.parent / "README.md").read_text()
    code = readme.split("### In Python", 1)[1].split("```python\n", 1)[1].split("```", 1)[0]
    assert len(code.strip().splitlines()) <= 7
    assert "sevens.numpy()" in code and "plt.imshow(sevens[0, 0]" in code
    monkeypatch.chdir(WEIGHTS.parent)
    namespace: dict = {}
    torch.manual_seed(0)
    exec(code, namespace)  # noqa: S102 - the README's own example
    sevens = namespace["sevens"]
    assert isinstance(sevens, torch.Tensor) and sevens.grad_fn is None
    assert sevens.shape == (16, 1, 28, 28) and 0 <= float(sevens.min()) and float(sevens.max()) <= 1
    judge, _ = load_judge(WEIGHTS / "judge-mnist")
    assert (judge.predict(sevens) == 7).float().mean() >= 0.9


@pytest.mark.parametrize("name", BETA_NAMES)
def test_the_shipped_knobs_are_complete_and_reproduce_their_curve_and_elbo(name):
    """Each β-conditioned VAE ships whole (weights, graphs with β, curve over a range covering at least [0.03, 5],
    card), and its curve's ends and −ELBO at β = 1 are recomputed from the weights and the test split."""
    from ae_vae import BetaVAE, load_beta_folder
    from ae_vae.training.beta_curve import _at_beta_1, rate_distortion

    folder = WEIGHTS / name
    assert not [p for p in folder.rglob("*") if p.suffix in (".pt", ".pth", ".pkl", ".bin", ".ckpt")]
    assert not (folder / "prior.safetensors").exists() and not (folder / "embeddings.safetensors").exists()
    served = load_beta_folder(folder)
    low, high = served.beta_range
    assert low <= 0.03 and high >= 5 and len(served.curve) >= 9
    card = (folder / "README.md").read_text()
    assert card.startswith("---\n") and "model-index:" in card and "python train.py" in card
    model = BetaVAE.from_pretrained(folder).eval()
    if not real_data_available(model.config.dataset):
        pytest.skip(f"{model.config.dataset} not found under {REAL_DATA_DIR} (set AE_VAE_DATA_DIR)")
    test = official_test_split(model.config.dataset)
    metrics = json.loads((folder / "metrics.json").read_text())
    for point in (served.curve[0], served.curve[-1]):
        measured = rate_distortion(model, test.images, point["beta"])
        assert measured["rate"] == pytest.approx(point["rate"], abs=0.01)
        assert measured["distortion"] == pytest.approx(point["distortion"], abs=0.01)
    assert _at_beta_1(model, test.images, 0, "cpu")["neg_elbo"] == pytest.approx(metrics["at_beta_1"]["neg_elbo"],
                                                                                  abs=0.01)
