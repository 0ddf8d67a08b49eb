"""A weights folder's encoder and decoder exported as ONNX graphs, the files the page and the app run.

What the two graphs compute and how a folder's graphs are checked is `ae_vae.graph_files`; this module writes them,
with torch's exporter, from the folder's own `model.safetensors`, recording that file's SHA-256 in each graph.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import tempfile
import warnings
from pathlib import Path

import torch
from torch import nn

from ..fileio import atomic_write_bytes
from ..graph_files import (
    CONDITION,
    DECODER_FILE,
    ENCODER_FILE,
    WEIGHTS_FILE,
    WEIGHTS_SHA256_KEY,
    check_graphs,
    encoder_outputs,
    file_sha256,
)
from .loading import load_model

OPSET = 18
logger = logging.getLogger(__name__)


class _Encoder(nn.Module):
    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, image: torch.Tensor):
        codes = self.model.encoder(image)
        if self.model.config.model_type == "vae":
            return tuple(codes.float().chunk(2, dim=1))
        return codes.float()


class _Decoder(nn.Module):
    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.model.decoder(z))


class _ConditionedEncoder(_Encoder):
    """A β-conditioned VAE's encoder: β (one per image) is the graph's second input."""

    def forward(self, image: torch.Tensor, beta: torch.Tensor):
        codes = self.model.encoder(image, self.model.encoder_beta(beta))
        return tuple(codes.float().chunk(2, dim=1))


class _ConditionedDecoder(_Decoder):
    def forward(self, z: torch.Tensor, beta: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.model.decoder(z, self.model.decoder_beta(beta)))


# The exporter's graph passes log each step at INFO: ~20 lines per model at the end of a training run's log.
EXPORTER_LOGGERS = ("onnx_ir", "onnxscript", "torch.onnx")


@contextlib.contextmanager
def _quiet_loggers(names: tuple[str, ...]):
    """Only warnings and errors from these loggers (and theirs below) while the block runs; their levels after."""
    loggers = [logging.getLogger(name) for name in names]
    levels = [logger_.level for logger_ in loggers]
    for logger_ in loggers:
        logger_.setLevel(max(logger_.getEffectiveLevel(), logging.WARNING))
    try:
        yield
    finally:
        for logger_, level in zip(loggers, levels, strict=True):
            logger_.setLevel(level)


def _export(module: nn.Module, examples: tuple[torch.Tensor, ...], input_names: tuple[str, ...],
            output_names: tuple[str, ...], weights_sha256: str) -> bytes:
    """One graph as bytes, from torch's own exporter, with the weights inside (no sidecar file) and the SHA-256 of
    the weights file they came from in its metadata; every input's first dimension is the batch."""
    import onnx  # the exporter's own dependency; only exporting needs it
    batch = torch.export.Dim("batch", min=1, max=4096)
    with tempfile.TemporaryDirectory() as tmp, warnings.catch_warnings(), \
            contextlib.redirect_stdout(io.StringIO()), _quiet_loggers(EXPORTER_LOGGERS):
        warnings.simplefilter("ignore")
        path = Path(tmp) / "graph.onnx"
        torch.onnx.export(module, examples, str(path), input_names=list(input_names), output_names=list(output_names),
                          dynamic_shapes={name: {0: batch} for name in input_names}, external_data=False,
                          opset_version=OPSET, dynamo=True, verbose=False)
        graph = onnx.load_from_string(path.read_bytes())
    kept = [(entry.key, entry.value) for entry in graph.metadata_props if entry.key != WEIGHTS_SHA256_KEY]
    del graph.metadata_props[:]
    for key, value in [*kept, (WEIGHTS_SHA256_KEY, weights_sha256)]:
        graph.metadata_props.add(key=key, value=value)
    return graph.SerializeToString()


@torch.no_grad()
def export_graphs(folder: str | os.PathLike) -> list[Path]:
    """Write `encoder.onnx` and `decoder.onnx` of the model in `folder` (its `config.json` and `model.safetensors`)
    into the same folder, atomically, each recording the weights file's SHA-256; then check them as the app will."""
    folder = Path(folder)
    model = load_model(folder).float().eval()  # first: a folder without a model is named in the loader's words
    weights_sha256 = file_sha256(folder / WEIGHTS_FILE)
    outputs = encoder_outputs(model.config.model_type)
    image, z = torch.rand(2, 1, 28, 28), torch.randn(2, model.config.latent_dim)
    if model.config.model_type == "beta-vae":
        beta = torch.tensor([0.5, 2.0])
        encoder = _export(_ConditionedEncoder(model), (image, beta), ("image", CONDITION), outputs, weights_sha256)
        decoder = _export(_ConditionedDecoder(model), (z, beta), ("z", CONDITION), ("image",), weights_sha256)
    else:
        encoder = _export(_Encoder(model), (image,), ("image",), outputs, weights_sha256)
        decoder = _export(_Decoder(model), (z,), ("z",), ("image",), weights_sha256)
    written = []
    for name, data in ((ENCODER_FILE, encoder), (DECODER_FILE, decoder)):
        atomic_write_bytes(folder / name, data)
        written.append(folder / name)
    check_graphs(folder, model.config)
    return written


