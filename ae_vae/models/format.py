"""The weights format: `model.safetensors` + `config.json`, read strictly, written atomically.

A weights folder is what `train.py` writes and the Hub carries. Loading refuses pickles, checks every
tensor name and shape against `config.json`, and names the file in every error (`WeightsError`).

This module knows no concrete model: each model class declares its `config_class` and inherits
`SafeHubMixin`; the models import this module, never the other way round. `loading.load_model(folder)`,
above both, picks the class that `config.json` names.
"""

from __future__ import annotations

import os
from pathlib import Path

from huggingface_hub import PyTorchModelHubMixin
from torch import nn

from ..errors import WeightsError
from ..fileio import atomic_save_safetensors, atomic_write_json, download_model_file, read_safetensors
from .config import config_from_dict, config_to_dict


class SafeHubMixin(PyTorchModelHubMixin):
    """Loads only `model.safetensors`, strictly, with shapes checked against `config.json`.

    The stock mixin falls back to `pytorch_model.bin` (a pickle) and loads non-strictly; we never want
    either. Subclasses set `config_class` (a dataclass whose `model_type` default names the model).
    """

    config_class: type

    @classmethod
    def _from_pretrained(cls, *, model_id: str, revision, cache_dir, force_download, local_files_only, token,
                         map_location: str = "cpu", strict: bool = True, **model_kwargs):
        model = cls(**model_kwargs)
        if os.path.isdir(model_id):
            model_file = Path(model_id) / "model.safetensors"
        else:
            model_file = download_model_file(model_id, "model.safetensors", revision=revision, cache_dir=cache_dir,
                                             force_download=force_download, local_files_only=local_files_only,
                                             token=token)
        load_weights_into(model, model_file, map_location=map_location)
        return model


def load_weights_into(model: nn.Module, model_file: str | os.PathLike, map_location: str = "cpu") -> nn.Module:
    """Load a safetensors file into `model`, naming the file in every error."""
    model_file = Path(model_file)
    expected = model.state_dict()
    tensors, _ = read_safetensors(model_file)
    missing, unexpected = sorted(set(expected) - set(tensors)), sorted(set(tensors) - set(expected))
    if missing or unexpected:
        raise WeightsError(f"{model_file}: tensors do not match config.json "
                           f"(missing {missing[:3]}, unexpected {unexpected[:3]})")
    for key, tensor in tensors.items():
        if tuple(tensor.shape) != tuple(expected[key].shape):
            raise WeightsError(f"{model_file}: tensor {key!r} has shape {tuple(tensor.shape)}, "
                               f"config.json implies {tuple(expected[key].shape)}")
    tensors = {key: tensor.to(map_location) for key, tensor in tensors.items()}
    model.load_state_dict(tensors, strict=True)
    model.eval()
    return model


def as_config(config, cls: type):
    """Accept a config instance, a `config.json` dict (what the Hub mixin passes), or None for defaults."""
    if config is None:
        return cls()
    if isinstance(config, dict):
        config = config_from_dict(config)
    if not isinstance(config, cls):
        raise WeightsError(f"config.json describes a {config.model_type!r} model, not one for {cls.__name__}")
    return config


def save_model_folder(model: nn.Module, folder: str | os.PathLike) -> None:
    """`model.safetensors` + `config.json`, each written atomically (what `load_model` and `from_pretrained` read)."""
    folder = Path(folder)
    atomic_save_safetensors(folder / "model.safetensors", model.state_dict(), metadata={"format": "pt"})
    atomic_write_json(folder / "config.json", config_to_dict(model.config))
