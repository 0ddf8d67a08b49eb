"""The judge: one small fixed CNN classifier per data set, trained once and shipped in `weights/judge-<dataset>/`.

Sample quality (Fréchet distance on its penultimate features, class coverage, "is this sample the class we asked
for?") only compares across runs if the judge never changes, so it is trained once (`python -m ae_vae train-judge`)
and read from its folder: `model.safetensors` + `config.json` (the `JudgeCard`) + a model card.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..errors import JudgeError
from ..fileio import atomic_save_safetensors, atomic_write_json, read_safetensors

JUDGE_FILE = "model.safetensors"
CONFIG_FILE = "config.json"
FEATURE_DIM = 128


@dataclass
class JudgeCard:
    """What `config.json` of a judge folder records: what it judges, how it was trained, how well it does."""

    dataset: str
    test_accuracy: float
    epochs: int
    seed: int
    max_shift: int = 0
    batch_size: int = 128
    lr: float = 1e-3
    model_type: str = "judge"
    architecture: str = "conv3x3(32)-pool-conv3x3(64)-pool-fc(128)-fc(10)"
    schedule: str = "adam, cosine decay to 0"


class Judge(nn.Module):
    """Two 3x3 convolutions and max-pooling, a 128-d feature layer, a 10-way head. Input (N, 1, 28, 28) in [0, 1]."""

    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(32, 64, 3), nn.ReLU(),
                                  nn.MaxPool2d(2), nn.Flatten(), nn.Linear(64 * 5 * 5, FEATURE_DIM), nn.ReLU())
        self.head = nn.Linear(FEATURE_DIM, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))

    @torch.no_grad()
    def features(self, images: torch.Tensor, batch_size: int = 1000) -> np.ndarray:
        """Penultimate-layer features (N, 128) float64, the space the Fréchet distance is measured in."""
        self.eval()
        return np.concatenate([self.body(images[i:i + batch_size]).double().numpy()
                               for i in range(0, len(images), batch_size)])

    @torch.no_grad()
    def predict_proba(self, images: torch.Tensor, batch_size: int = 1000) -> torch.Tensor:
        """Class probabilities (N, 10)."""
        self.eval()
        return torch.cat([self(images[i:i + batch_size]).softmax(1) for i in range(0, len(images), batch_size)])

    def predict(self, images: torch.Tensor, batch_size: int = 1000) -> torch.Tensor:
        """Predicted class indices (N,) int64."""
        return self.predict_proba(images, batch_size).argmax(1)


def save_judge(judge: Judge, folder: str | os.PathLike, card: JudgeCard) -> None:
    """`model.safetensors` + `config.json` (the card, with the test accuracy), each written atomically."""
    folder = Path(folder)
    atomic_save_safetensors(folder / JUDGE_FILE, judge.state_dict(), metadata={"format": "pt"})
    atomic_write_json(folder / CONFIG_FILE, asdict(card))


def load_judge(folder: str | os.PathLike) -> tuple[Judge, JudgeCard]:
    """Read a judge folder; every problem is a `JudgeError` naming the file."""
    folder = Path(folder)
    card = _read_card(folder / CONFIG_FILE)
    judge = Judge()
    model_file = folder / JUDGE_FILE
    expected = judge.state_dict()
    tensors, _ = read_safetensors(model_file, error=JudgeError)
    if set(tensors) != set(expected):
        raise JudgeError(f"{model_file}: tensors {sorted(tensors)[:4]} are not a judge's ({sorted(expected)[:4]}...)")
    for key, tensor in tensors.items():
        if tuple(tensor.shape) != tuple(expected[key].shape):
            raise JudgeError(f"{model_file}: tensor {key!r} has shape {tuple(tensor.shape)}, "
                             f"a judge's is {tuple(expected[key].shape)}")
    judge.load_state_dict(tensors)
    return judge.eval(), card


def _read_card(path: Path) -> JudgeCard:
    if not path.is_file():
        raise JudgeError(f"{path}: file not found")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(data, dict) or data.get("model_type") != "judge":
            raise ValueError("not a judge's config (model_type must be 'judge')")
        return JudgeCard(**{k: v for k, v in data.items() if k in JudgeCard.__dataclass_fields__})
    except (OSError, UnicodeDecodeError, ValueError, TypeError) as exc:
        raise JudgeError(f"{path}: {exc}") from exc
