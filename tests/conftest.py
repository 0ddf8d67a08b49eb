"""Shared fixtures: tiny IDX data sets written through the real torchvision file layout."""

from __future__ import annotations

import os
import struct
import sys
from pathlib import Path

# huggingface_hub reads these at import time, and any test module may be the first to import it, so
# they are set here, before every test module. FakeHub works with Xet enabled too (preupload always
# answers "regular"), but disabling it keeps upload_folder on the plain create_commit path.
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
os.environ.setdefault("HF_HUB_DISABLE_XET", "1")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")

import numpy as np
import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ae_vae.data import default_data_dir

# The real MNIST / Fashion-MNIST; tests that need them skip with a reason when absent.
REAL_DATA_DIR = Path(default_data_dir())

torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))


def write_idx(path: Path, array: np.ndarray) -> None:
    """IDX file as LeCun's originals: magic (0, 0, 0x08 ubyte, ndim), big-endian dims, raw bytes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    path.write_bytes(header + array.astype(np.uint8).tobytes())


def synthetic_digits(count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Blobs whose position depends on the label: learnable, cheap, 28x28 uint8 white on black."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, size=count)
    yy, xx = np.mgrid[0:28, 0:28]
    images = np.zeros((count, 28, 28), dtype=np.float64)
    for i, label in enumerate(labels):
        cy, cx = 8 + (label // 4) * 6, 7 + (label % 4) * 5
        images[i] = np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * (2.0 + rng.random()) ** 2))
    return (images * 255).astype(np.uint8), labels.astype(np.uint8)


def write_tiny_dataset(root: Path, folder: str = "MNIST", train: int = 256, test: int = 128) -> Path:
    for split, count, seed in (("train", train, 0), ("t10k", test, 1)):
        images, labels = synthetic_digits(count, seed)
        write_idx(root / folder / "raw" / f"{split}-images-idx3-ubyte", images)
        write_idx(root / folder / "raw" / f"{split}-labels-idx1-ubyte", labels)
    return root


def write_tiny_beta_folder(folder: Path, dataset: str = "mnist", seed: int = 0,
                           beta_range: tuple[float, float] = (0.1, 4.0)) -> Path:
    """A β-conditioned VAE's folder as train.py writes it (weights, config, its graphs, metrics.json with the curve),
    tiny and untrained: 40 synthetic test images, no judge, no training history."""
    from ae_vae import BetaVAE, BetaVAEConfig
    from ae_vae.data import ImageSet
    from ae_vae.training.beta_curve import finalize_beta_run

    torch.manual_seed(seed)
    model = BetaVAE(BetaVAEConfig(latent_dim=2, channels=(4, 8), hidden_blocks=0, dataset=dataset,
                                  beta_range=beta_range, condition_width=8))
    digits, labels = synthetic_digits(40, seed)
    test_set = ImageSet(torch.from_numpy(digits).float()[:, None] / 255.0, torch.from_numpy(labels).long())
    finalize_beta_run(model, test_set, folder, history=[], seed=seed, judge=None, samples=16)
    return folder


@pytest.fixture
def tiny_data_dir(tmp_path: Path) -> Path:
    """A data root holding a tiny MNIST and Fashion-MNIST in torchvision's raw IDX layout."""
    root = tmp_path / "data"
    write_tiny_dataset(root, "MNIST")
    write_tiny_dataset(root, "FashionMNIST")
    return root


def real_data_available(dataset: str = "mnist") -> bool:
    folder = {"mnist": "MNIST", "fashion_mnist": "FashionMNIST"}[dataset]
    return (REAL_DATA_DIR / folder / "raw" / "t10k-images-idx3-ubyte").is_file()


# ---------------------------------------------------------------- CI: a skip is a failure

# `.ci/run` sets AE_VAE_NO_SKIPS=1: there Chromium, the data sets and every package are installed, so a test that skips
# (its browser missing, its data absent) would let CI pass with that part unchecked; the run fails instead, naming them.
_skipped: list[str] = []


def pytest_collectreport(report):
    if report.skipped:
        _skipped.append(f"{report.nodeid}: {report.longrepr[-1] if isinstance(report.longrepr, tuple) else ''}")


def pytest_runtest_logreport(report):
    if report.skipped and not hasattr(report, "wasxfail"):
        _skipped.append(f"{report.nodeid}: {report.longrepr[-1] if isinstance(report.longrepr, tuple) else ''}")


def pytest_sessionfinish(session, exitstatus):
    if os.environ.get("AE_VAE_NO_SKIPS") == "1" and _skipped and exitstatus == 0:
        session.exitstatus = 1


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if os.environ.get("AE_VAE_NO_SKIPS") == "1" and _skipped:
        terminalreporter.write_line(f"AE_VAE_NO_SKIPS=1: {len(_skipped)} skipped, which fails the run:", red=True)
        for line in _skipped:
            terminalreporter.write_line(f"  {line}", red=True)
