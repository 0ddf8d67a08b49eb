"""A weights folder's encoder and decoder as ONNX graphs, for running the models in a browser.

`encoder.onnx` maps images (N, 1, 28, 28) in [0, 1] to the code: the AE's `code` (N, D), the VAE's posterior
`mean` and `logvar` (N, D each). `decoder.onnx` maps codes `z` (N, D) to `image` (N, 1, 28, 28) in [0, 1] (the
sigmoid is inside). Both have a dynamic batch. ONNX is a protobuf file, not a pickle: loading one runs no code,
and `check_graphs` reads only its declared inputs and outputs to check they fit the folder's `config.json`.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path

import torch
from torch import nn

from ..errors import WeightsError
from ..fileio import atomic_write_bytes
from .config import ModelConfig

ENCODER_FILE, DECODER_FILE = "encoder.onnx", "decoder.onnx"
GRAPH_FILES = (ENCODER_FILE, DECODER_FILE)
OPSET = 18
logger = logging.getLogger(__name__)


def encoder_outputs(model_type: str) -> tuple[str, ...]:
    return ("mean", "logvar") if model_type == "vae" else ("code",)


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


def _export(module: nn.Module, example: torch.Tensor, input_name: str, output_names: tuple[str, ...]) -> bytes:
    """One graph as bytes, from torch's own exporter, with the weights inside (no sidecar file)."""
    batch = torch.export.Dim("batch", min=1, max=4096)
    with tempfile.TemporaryDirectory() as tmp, warnings.catch_warnings(), \
            contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        path = Path(tmp) / "graph.onnx"
        torch.onnx.export(module, (example,), str(path), input_names=[input_name], output_names=list(output_names),
                          dynamic_shapes={input_name: {0: batch}}, external_data=False, opset_version=OPSET,
                          dynamo=True, verbose=False)
        return path.read_bytes()


@torch.no_grad()
def export_graphs(model: nn.Module, folder: str | os.PathLike) -> list[Path]:
    """Write `encoder.onnx` and `decoder.onnx` of `model` (an `AutoEncoder` or a `VAE`) into `folder`, atomically."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    model = model.float().eval()
    outputs = encoder_outputs(model.config.model_type)
    encoder = _export(_Encoder(model), torch.rand(2, 1, 28, 28), "image", outputs)
    decoder = _export(_Decoder(model), torch.randn(2, model.config.latent_dim), "z", ("image",))
    written = []
    for name, data in ((ENCODER_FILE, encoder), (DECODER_FILE, decoder)):
        atomic_write_bytes(folder / name, data)
        written.append(folder / name)
    return written


class _NotOnnx(ValueError):
    pass


def _varint(data: bytes, i: int) -> tuple[int, int]:
    value, shift = 0, 0
    while True:
        if i >= len(data) or shift > 63:
            raise _NotOnnx("truncated number")
        byte = data[i]
        value |= (byte & 0x7F) << shift
        i, shift = i + 1, shift + 7
        if byte < 0x80:
            return value, i


def _fields(data: bytes) -> Iterator[tuple[int, int | bytes]]:
    """(field number, value) of each field of one protobuf message: an int for a varint, the bytes of a
    length-delimited field (fixed-width fields are passed over)."""
    i = 0
    while i < len(data):
        key, i = _varint(data, i)
        wire = key & 7
        if wire == 0:
            value, i = _varint(data, i)
        elif wire == 2:
            size, i = _varint(data, i)
            if i + size > len(data):
                raise _NotOnnx("truncated field")
            value, i = data[i:i + size], i + size
        elif wire in (1, 5):
            value, i = b"", i + (8 if wire == 1 else 4)
        else:
            raise _NotOnnx(f"wire type {wire}")
        yield key >> 3, value


def _submessages(data: bytes, field: int) -> list[bytes]:
    return [value for number, value in _fields(data) if number == field and isinstance(value, bytes)]


def _value_info(data: bytes) -> tuple[str, tuple[int | str, ...]]:
    """(name, shape) of an ONNX ValueInfoProto: name = 1, type = 2 -> tensor_type = 1 -> shape = 2 -> dim = 1,
    each dim a dim_value (1) or a dim_param (2)."""
    name = b"".join(_submessages(data, 1)).decode("utf-8", "replace")
    dims = [dim for typ in _submessages(data, 2) for tensor in _submessages(typ, 1)
            for shape in _submessages(tensor, 2) for dim in _submessages(shape, 1)]
    shape = []
    for dim in dims:
        fields = dict(_fields(dim))
        shape.append(fields[1] if isinstance(fields.get(1), int) else
                     (fields[2].decode("utf-8", "replace") if fields.get(2) else "?"))
    return name, tuple(shape)


def graph_signature(path: Path) -> tuple[dict[str, tuple], dict[str, tuple]]:
    """The (inputs, outputs) of an ONNX file, each name -> shape (an int per fixed dimension, the name of a dynamic
    one), read from the protobuf wire format directly: ModelProto.graph = 7; GraphProto.initializer = 5 (whose
    TensorProto.name = 8 are weights, not inputs), input = 11, output = 12. The app checks every shipped graph at
    start-up, and this reads only what the check needs without importing `onnx`."""
    graphs = _submessages(path.read_bytes(), 7)
    if not graphs:
        raise _NotOnnx("no graph")
    graph = graphs[-1]
    initialised = {b"".join(_submessages(tensor, 8)).decode("utf-8", "replace")
                   for tensor in _submessages(graph, 5)}
    inputs = dict(_value_info(value) for value in _submessages(graph, 11))
    outputs = dict(_value_info(value) for value in _submessages(graph, 12))
    return {n: s for n, s in inputs.items() if n not in initialised}, outputs


def _check(path: Path, inputs: dict[str, tuple], outputs: dict[str, tuple]) -> None:
    try:
        found_in, found_out = graph_signature(path)
    except (_NotOnnx, OSError) as exc:
        raise WeightsError(f"{path}: not a readable ONNX file ({exc})") from None
    for kind, found, wanted in (("inputs", found_in, inputs), ("outputs", found_out, outputs)):
        same = set(found) == set(wanted) and all(
            len(found[n]) == len(shape) and all(isinstance(f, str) if w is None else f == w
                                                for f, w in zip(found[n], shape, strict=True))
            for n, shape in wanted.items())
        if not same:
            expected = ", ".join(f"{n} {tuple('N' if d is None else d for d in s)}" for n, s in wanted.items())
            got = ", ".join(f"{n} {s}" for n, s in found.items())
            raise WeightsError(f"{path}: its {kind} are {got or 'none'}; config.json's model needs {expected} "
                               "(N: any batch size)")


def check_graphs(folder: str | os.PathLike, config: ModelConfig) -> bool:
    """True when `folder` holds both graphs and they fit `config` (a dynamic batch, the code's size); False when it
    holds neither (the app then runs this model on the server). One graph alone or a misfit is a `WeightsError`."""
    folder = Path(folder)
    present = [(folder / name).is_file() for name in GRAPH_FILES]
    if not any(present):
        return False
    if not all(present):
        missing = GRAPH_FILES[present.index(False)]
        raise WeightsError(f"{folder / missing}: missing beside {GRAPH_FILES[present.index(True)]} "
                           f"(python -m ae_vae export-onnx {folder} writes both)")
    d, image = config.latent_dim, (None, 1, 28, 28)
    _check(folder / ENCODER_FILE, {"image": image}, {n: (None, d) for n in encoder_outputs(config.model_type)})
    _check(folder / DECODER_FILE, {"z": (None, d)}, {"image": image})
    return True
