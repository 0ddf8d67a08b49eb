"""The server as light as the page: the app imports no training package, the package imports lazily, the library's
models still train and take arrays (the README's example: `tests/test_shipped_weights.py`), and the commands that
need torch say so in one line."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch

from ae_vae import VAE, AutoEncoder, GaussianMixturePrior
from ae_vae.latent.priors import weights_fingerprint

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
WEIGHTS = ROOT / "weights"
SHIPPED = ("mnist-ae", "mnist-vae", "fashion_mnist-ae", "fashion_mnist-vae")
TRAINING_ONLY = ("torch", "torchvision", "umap", "sklearn", "onnx")
# A Python that cannot import the training packages, as in a venv of requirements.txt alone.
WITHOUT_TRAINING = textwrap.dedent(f"""
    import importlib.abc, sys
    class NoTraining(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in {TRAINING_ONLY!r}:
                raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
    sys.meta_path.insert(0, NoTraining())
    sys.path.insert(0, {str(ROOT)!r})
""")


def run_python(code: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=timeout,
                          check=False)


def test_the_app_serves_every_endpoint_without_importing_a_training_package():
    """The app in a process of its own, every API endpoint called once: no torch, torchvision, umap, scikit-learn
    or onnx in its sys.modules afterwards."""
    code = textwrap.dedent(f"""
        import json, sys
        sys.path.insert(0, {str(ROOT)!r})
        import app
        from bench.api_calls import call_every_endpoint
        from tests.support.harness import free_port
        args = app.parse_args(["--port", str(free_port())])
        args.hub_repo = None
        demo = app.create_app(args)
        app.launch(demo, args, prevent_thread_lock=True, quiet=True)
        answered = call_every_endpoint(f"http://127.0.0.1:{{args.port}}/")
        loaded = sorted(m for m in sys.modules if m.split(".")[0] in {TRAINING_ONLY!r})
        print("RESULT=" + json.dumps({{"answered": sorted(answered), "loaded": loaded}}))
        demo.close()
    """)
    done = run_python(code)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(re.search(r"RESULT=(.*)", done.stdout).group(1))
    assert len(result["answered"]) >= 13 and result["loaded"] == []


def test_the_package_and_its_torch_free_names_import_without_the_training_packages():
    done = run_python(WITHOUT_TRAINING + textwrap.dedent(f"""
        import ae_vae
        from ae_vae import GaussianMixturePrior, GraphModel, LatentMaps, load_model_folder
        folder = load_model_folder({str(WEIGHTS / "mnist-vae")!r})
        codes = folder.prior.sample(4, label=7, generator=0)
        images = folder.model.decode(codes)
        print(type(codes).__name__, codes.dtype, images.shape)
        try:
            from ae_vae import VAE
        except ModuleNotFoundError as exc:
            print("VAE:", exc)
    """))
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "ndarray float32 (4, 1, 28, 28)"
    assert lines[1] == ("VAE: ae_vae.VAE needs torch, which only training installs: "
                        "pip install -r requirements-train.txt")


@pytest.mark.parametrize("command", [["export-onnx", "weights/mnist-ae"], ["train-judge", "--dataset", "mnist",
                                                                           "--output", "nowhere"]])
def test_a_command_that_needs_torch_says_what_to_install_in_one_line(command):
    done = run_python(WITHOUT_TRAINING + f"import sys; from ae_vae.cli import main; sys.exit(main({command!r}))")
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.strip().splitlines() == [
        (f"error: `python -m ae_vae {command[0]}` needs torch, which the app's requirements do not install: "
         "pip install -r requirements-train.txt")]


@pytest.mark.parametrize("kind", [AutoEncoder, VAE])
def test_models_take_arrays_and_answer_without_a_graph_outside_training(kind):
    model = kind.from_pretrained(WEIGHTS / f"mnist-{kind.config_class.model_type}")
    images = np.random.default_rng(0).random((3, 1, 28, 28), dtype=np.float32)
    codes = model.embed(images)
    assert isinstance(codes, torch.Tensor) and codes.grad_fn is None
    assert torch.equal(codes, model.embed(torch.from_numpy(images)))
    decoded = model.decode(codes.numpy())
    assert decoded.grad_fn is None and decoded.numpy().shape == (3, 1, 28, 28)


@pytest.mark.parametrize("kind", [AutoEncoder, VAE])
def test_in_training_the_encoder_still_gets_gradients(kind):
    model = kind(kind.config_class(latent_dim=4, channels=(4, 8), hidden_blocks=1)).train()
    images = torch.rand(5, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    model(images).loss.backward()
    gradients = [p.grad for p in model.encoder.parameters()]
    assert all(g is not None for g in gradients) and any(float(g.abs().sum()) > 0 for g in gradients)
    assert model.decode(model.embed(images)).grad_fn is not None


@pytest.mark.parametrize("name", SHIPPED)
def test_each_bundled_prior_fingerprint_is_its_weights_read_without_torch(name):
    """The fingerprint (now hashed from numpy arrays) equals the one each bundled prior stores, and the torch
    model's state dict gives the same."""
    stored = GaussianMixturePrior.from_pretrained(WEIGHTS / name).fingerprint
    model = (VAE if name.endswith("vae") else AutoEncoder).from_pretrained(WEIGHTS / name)
    assert stored == weights_fingerprint(WEIGHTS / name) == weights_fingerprint(model)


def test_app_threads_option_says_what_it_sets(capsys):
    import app

    with pytest.raises(SystemExit):
        app.parse_args(["--help"])
    assert re.search(r"--threads THREADS\s+onnxruntime intra-op threads", capsys.readouterr().out)
