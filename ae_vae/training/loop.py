"""One training loop for both models, with atomic, pickle-free checkpoints.

The model computes its own loss (`model(x, beta=...)` -> `ModelOutput`), so nothing here
knows whether it trains an AE or a VAE. Checkpoints are safetensors (model + Adam state +
RNG state) plus JSON, written to a fresh folder and published by atomically replacing a
small `latest.json` pointer, so a crash at any moment leaves the previous checkpoint intact.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from tqdm.auto import tqdm

from ..data import iterate_minibatches, random_shift
from ..errors import DivergedError
from ..fileio import atomic_save_safetensors, atomic_write_json, read_safetensors
from ..models import Model
from ..models.config import DEFAULT_BETA_RANGE
from ..models.format import load_weights_into, save_model_folder


@dataclass
class Schedule:
    """Learning rate (cosine decay after a short warm-up) and KL weight β (linear warm-up to `kl_weight`: 1 for the
    ELBO, another value for a β-VAE trained at that β).

    Both are pure functions of the step, so resuming needs no scheduler state.
    """

    lr: float
    total_steps: int
    warmup_steps: int = 200
    final_lr_fraction: float = 0.02
    kl_warmup_steps: int = 0
    kl_weight: float = 1.0

    def lr_at(self, step: int) -> float:
        if step < self.warmup_steps:
            return self.lr * (step + 1) / self.warmup_steps
        progress = min(1.0, (step - self.warmup_steps) / max(1, self.total_steps - self.warmup_steps))
        floor = self.final_lr_fraction
        return self.lr * (floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * progress)))

    def beta_at(self, step: int) -> float:
        if self.kl_warmup_steps <= 0:
            return self.kl_weight
        return self.kl_weight * min(1.0, (step + 1) / self.kl_warmup_steps)


@dataclass
class TrainState:
    """Progress that a checkpoint restores: epochs done, optimizer steps, the metric history, and every
    invocation that contributed (a resumed run may change --epochs, which reshapes the schedule)."""

    epoch: int = 0
    step: int = 0
    history: list[dict[str, float]] = field(default_factory=list)
    seconds: float = 0.0
    commands: list[dict[str, Any]] = field(default_factory=list)  # {"command": str, "from_epoch": int}


def build_optimizer(model: torch.nn.Module, lr: float, weight_decay: float = 0.0) -> torch.optim.Optimizer:
    """Adam; with `weight_decay` > 0, AdamW decaying only the weight matrices and kernels (not biases).

    Decoupled weight decay regularizes the networks (the VAE overfits MNIST after ~100 epochs); biases
    carry no capacity worth penalizing, so they are left out, as in nanoGPT.
    """
    if weight_decay <= 0:
        return torch.optim.Adam(model.parameters(), lr=lr)
    params = [p for p in model.parameters() if p.requires_grad]
    groups = [{"params": [p for p in params if p.dim() >= 2], "weight_decay": weight_decay},
              {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=lr)


def train_epoch(model: Model, optimizer: torch.optim.Optimizer, images: torch.Tensor, batch_size: int,
                schedule: Schedule, state: TrainState, generator: torch.Generator,
                device: torch.device, description: str = "train",
                autocast_dtype: torch.dtype | None = None, input_noise: float = 0.0,
                augment_shift: int = 0, prior_matching: float = 0.0, grad_clip: float = 0.0,
                edge_matching: float = 0.0) -> dict[str, float]:
    """One pass over `images`; updates `state.step`; returns the mean of each loss term.

    `autocast_dtype=torch.bfloat16` runs the forward pass in mixed precision (about 2x faster on
    CPUs with AVX512-BF16); weights, Adam state, the loss and evaluation stay fp32. `input_noise` is the std of
    the pixel noise the encoder sees during training (0: none; evaluation always encodes clean images).
    `augment_shift` > 0 moves each training image by up to that many pixels (`random_shift`) before both the
    encoder and the loss see it. `prior_matching` is the model's weight of its codes' MMD to N(0, I) (0: none);
    `edge_matching` its weight of the reconstructions' image-gradient error (0: none).
    `grad_clip` > 0 rescales each step's gradient to at most that global L2 norm: one bad batch at the peak
    learning rate can otherwise throw a VAE's log-variances far enough that the KL never comes back.
    A loss that is not a number stops the pass (`DivergedError`) before the step that would spread it to every
    weight.
    """
    model.train()
    sums: dict[str, float] = defaultdict(float)
    seen = 0
    steps = math.ceil(len(images) / batch_size)
    with tqdm(iterate_minibatches(images, batch_size, generator), total=steps, desc=description,
              leave=False, dynamic_ncols=True, mininterval=1.0) as bar:
        for batch in bar:
            batch = random_shift(batch, augment_shift, generator).to(device, non_blocking=True)
            lr = schedule.lr_at(state.step)
            beta = schedule.beta_at(state.step)
            for group in optimizer.param_groups:
                group["lr"] = lr
            with torch.autocast(device.type, dtype=autocast_dtype or torch.float32, enabled=autocast_dtype is not None):
                output = model(batch, beta=beta, generator=generator if device.type == "cpu" else None,
                               input_noise=input_noise, prior_matching=prior_matching, edge_matching=edge_matching)
            if not torch.isfinite(output.loss.detach()):
                raise DivergedError(f"the loss became {output.loss.item()} at step {state.step + 1} (learning rate "
                                    f"{lr:.3g})")
            optimizer.zero_grad(set_to_none=True)
            output.loss.backward()
            if grad_clip > 0:
                torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
            optimizer.step()
            state.step += 1
            n = len(batch)
            seen += n
            for key, value in output.terms.items():
                sums[key] += float(value) * n
            if state.step % 20 == 0:
                bar.set_postfix({k: f"{v / seen:.4g}" for k, v in sums.items()} | {"beta": f"{beta:.2f}"})
    return {k: v / seen for k, v in sums.items()}


@torch.no_grad()
def evaluate_terms(model: Model, images: torch.Tensor, batch_size: int = 1000, seed: int = 0,
                   device: torch.device | str = "cpu") -> dict[str, float]:
    """Mean loss terms on `images` at β = 1 (for the VAE: one posterior sample per image, seeded)."""
    model.eval()
    device = torch.device(device)
    generator = torch.Generator().manual_seed(seed)
    sums: dict[str, float] = defaultdict(float)
    for start in range(0, len(images), batch_size):
        batch = images[start:start + batch_size].to(device)
        output = model(batch, beta=1.0, generator=generator if device.type == "cpu" else None)
        for key, value in output.terms.items():
            sums[key] += float(value) * len(batch)
    return {k: v / len(images) for k, v in sums.items()}


# ---------------------------------------------------------------- checkpoints

def _optimizer_tensors(optimizer: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    state_dict = optimizer.state_dict()
    tensors: dict[str, torch.Tensor] = {}
    scalars: dict[str, Any] = {}
    for param_id, param_state in state_dict["state"].items():
        for name, value in param_state.items():
            key = f"optimizer.{param_id}.{name}"
            if torch.is_tensor(value):
                tensors[key] = value
            else:
                scalars[key] = value
    return tensors, {"param_groups": state_dict["param_groups"], "scalars": scalars}


def _restore_optimizer(optimizer: torch.optim.Optimizer, tensors: dict[str, torch.Tensor],
                       meta: dict[str, Any]) -> None:
    state: dict[int, dict[str, Any]] = defaultdict(dict)
    for key, value in tensors.items():
        if key.startswith("optimizer."):
            _, param_id, name = key.split(".", 2)
            state[int(param_id)][name] = value
    for key, value in meta["scalars"].items():
        _, param_id, name = key.split(".", 2)
        state[int(param_id)][name] = value
    optimizer.load_state_dict({"state": dict(state), "param_groups": meta["param_groups"]})


def save_checkpoint(checkpoint_root: str | os.PathLike, model: Model, optimizer: torch.optim.Optimizer,
                    state: TrainState, generator: torch.Generator, run_args: dict[str, Any]) -> Path:
    """Write `epoch_XXX/` completely, then point `latest.json` at it; keep only the newest two."""
    root = Path(checkpoint_root)
    name = f"epoch_{state.epoch:03d}"
    root.mkdir(parents=True, exist_ok=True)
    tmp_dir = Path(tempfile.mkdtemp(dir=root, prefix=f".{name}."))
    try:
        save_model_folder(model, tmp_dir)
        opt_tensors, opt_meta = _optimizer_tensors(optimizer)
        opt_tensors["rng.generator"] = generator.get_state()
        opt_tensors["rng.torch"] = torch.get_rng_state()
        atomic_save_safetensors(tmp_dir / "training_state.safetensors", opt_tensors)
        atomic_write_json(tmp_dir / "training_state.json",
                          {"train_state": asdict(state), "optimizer": opt_meta, "args": run_args})
        final_dir = root / name
        if final_dir.exists():
            shutil.rmtree(final_dir)
        os.replace(tmp_dir, final_dir)
    except BaseException:
        shutil.rmtree(tmp_dir, ignore_errors=True)
        raise
    atomic_write_json(root / "latest.json", {"checkpoint": name, "epoch": state.epoch})
    for old in sorted(root.glob("epoch_*"))[:-2]:
        shutil.rmtree(old, ignore_errors=True)
    return final_dir


def latest_checkpoint(checkpoint_root: str | os.PathLike) -> Path | None:
    pointer = Path(checkpoint_root) / "latest.json"
    if not pointer.is_file():
        return None
    folder = Path(checkpoint_root) / json.loads(pointer.read_text())["checkpoint"]
    return folder if folder.is_dir() else None


def checkpoint_arguments(folder: str | os.PathLike) -> dict[str, Any]:
    """The arguments the checkpointed run was started with (checked before anything is loaded)."""
    return json.loads((Path(folder) / "training_state.json").read_text())["args"]


def load_checkpoint(folder: str | os.PathLike, model: Model, optimizer: torch.optim.Optimizer,
                    generator: torch.Generator) -> TrainState:
    """Restore model, optimizer and RNGs; return the train state."""
    folder = Path(folder)
    load_weights_into(model, folder / "model.safetensors")
    tensors, _ = read_safetensors(folder / "training_state.safetensors")
    meta = json.loads((folder / "training_state.json").read_text())
    _restore_optimizer(optimizer, tensors, meta["optimizer"])
    generator.set_state(tensors["rng.generator"])
    torch.set_rng_state(tensors["rng.torch"])
    return TrainState(**meta["train_state"])



# ---------------------------------------------------------------------------------------------- resume rules

RUN_ARGUMENTS = ("model", "dataset", "latent_dim", "channels", "hidden_blocks", "ae_loss", "epochs", "batch_size",
                 "lr", "weight_decay", "encoder_noise", "augment_shift", "kl_warmup_epochs", "validation_images", "seed",
                 "precision", "prior_matching", "grad_clip", "edge_matching", "train_images", "beta_range",
                 "kl_weight")
# Run arguments added after the first shipped runs, with the value their checkpoints implicitly used.
LATER_RUN_ARGUMENTS = {"precision": "fp32", "weight_decay": 0.0, "validation_images": 0, "encoder_noise": 0.0,
                       "augment_shift": 0, "prior_matching": 0.0, "grad_clip": 0.0, "edge_matching": 0.0,
                       "train_images": 0, "beta_range": list(DEFAULT_BETA_RANGE), "kl_weight": 1.0}
# --epochs may grow (the cosine schedule is then stretched over the new total); --precision may change;
# --augment-shift, --prior-matching, --grad-clip and --edge-matching may change for a later phase of training, e.g. a
# last phase on unshifted images (each invocation's command is kept in the train state, and the model card lists
# them all).
MAY_CHANGE_ON_RESUME = ("epochs", "precision", "augment_shift", "prior_matching", "grad_clip", "edge_matching")


def run_arguments(options: dict[str, Any]) -> dict[str, Any]:
    """The options that define a run (saved in each checkpoint and checked on --resume: a resumed run is
    the same run). `options` is `vars(args)` of train.py's parser."""
    return {k: options[k] for k in RUN_ARGUMENTS}


def changed_settings(saved: dict[str, Any], current: dict[str, Any]) -> dict[str, Any]:
    """The settings (with their saved values) a resume may not change; keys older checkpoints lack count as
    their defaults, so runs started before a flag existed still resume."""
    saved = {**LATER_RUN_ARGUMENTS, **saved}
    return {k: saved.get(k) for k, v in current.items()
            if k not in MAY_CHANGE_ON_RESUME and saved.get(k) != (list(v) if isinstance(v, tuple) else v)}
