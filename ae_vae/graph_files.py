"""A weights folder's ONNX graphs as files: their names, what they must declare, and the weights they came from.

`encoder.onnx` maps images (N, 1, 28, 28) in [0, 1] to the code: the AE's `code` (N, D), the VAE's posterior
`mean` and `logvar` (N, D each). `decoder.onnx` maps codes `z` (N, D) to `image` (N, 1, 28, 28) in [0, 1] (the
sigmoid is inside). Both have a dynamic batch. The page and the server run the same two files.

`python -m ae_vae export-onnx FOLDER` (`ae_vae.models.graphs`) writes them from the folder's `model.safetensors`
and records that file's SHA-256 in each graph's metadata (`WEIGHTS_SHA256_KEY`): graphs left behind by an earlier
training run in the same folder would otherwise serve other weights than the folder's card, prior and maps describe.

ONNX is a protobuf file, not a pickle: reading one runs no code. `check_graphs` reads only the declared inputs,
outputs and metadata, from the wire format directly, so neither the check nor the app needs the `onnx` package.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import WeightsError

if TYPE_CHECKING:  # a config is read for its latent_dim and model_type only: this room stays below the models'
    from .models.config import ModelConfig

ENCODER_FILE, DECODER_FILE = "encoder.onnx", "decoder.onnx"
GRAPH_FILES = (ENCODER_FILE, DECODER_FILE)
WEIGHTS_FILE = "model.safetensors"
WEIGHTS_SHA256_KEY = "ae_vae.weights_sha256"  # ONNX metadata: SHA-256 of the model.safetensors a graph came from
logger = logging.getLogger(__name__)


CONDITION = "beta"  # a β-conditioned VAE's graphs' second input: the KL weight, one per item (N,)


def encoder_outputs(model_type: str) -> tuple[str, ...]:
    return ("mean", "logvar") if model_type in ("vae", "beta-vae") else ("code",)


def export_command(folder: str | os.PathLike) -> str:
    return f"python -m ae_vae export-onnx {folder}"


def file_sha256(path: str | os.PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# ---------------------------------------------------------------------------------------------- the wire format


class NotOnnx(ValueError):
    pass


def _varint(data: bytes, i: int) -> tuple[int, int]:
    value, shift = 0, 0
    while True:
        if i >= len(data) or shift > 63:
            raise NotOnnx("truncated number")
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
                raise NotOnnx("truncated field")
            value, i = data[i:i + size], i + size
        elif wire in (1, 5):
            value, i = b"", i + (8 if wire == 1 else 4)
        else:
            raise NotOnnx(f"wire type {wire}")
        yield key >> 3, value


def _submessages(data: bytes, field: int) -> list[bytes]:
    return [value for number, value in _fields(data) if number == field and isinstance(value, bytes)]


def _text(data: bytes, field: int) -> str:
    return b"".join(_submessages(data, field)).decode("utf-8", "replace")


def _value_info(data: bytes) -> tuple[str, tuple[int | str, ...]]:
    """(name, shape) of an ONNX ValueInfoProto: name = 1, type = 2 -> tensor_type = 1 -> shape = 2 -> dim = 1,
    each dim a dim_value (1) or a dim_param (2)."""
    dims = [dim for typ in _submessages(data, 2) for tensor in _submessages(typ, 1)
            for shape in _submessages(tensor, 2) for dim in _submessages(shape, 1)]
    shape = []
    for dim in dims:
        fields = dict(_fields(dim))
        shape.append(fields[1] if isinstance(fields.get(1), int) else
                     (fields[2].decode("utf-8", "replace") if fields.get(2) else "?"))
    return _text(data, 1), tuple(shape)


@dataclass(frozen=True)
class GraphSignature:
    """What an ONNX file declares: inputs and outputs (name -> shape: an int per fixed dimension, the name of a
    dynamic one) and its metadata (`ModelProto.metadata_props`)."""

    inputs: dict[str, tuple]
    outputs: dict[str, tuple]
    metadata: dict[str, str]


def graph_signature(data: bytes) -> GraphSignature:
    """Read from the protobuf wire format directly: ModelProto.graph = 7, metadata_props = 14 (key = 1, value = 2);
    GraphProto.initializer = 5 (whose TensorProto.name = 8 are weights, not inputs), input = 11, output = 12."""
    graphs = _submessages(data, 7)
    if not graphs:
        raise NotOnnx("no graph")
    graph = graphs[-1]
    initialised = {_text(tensor, 8) for tensor in _submessages(graph, 5)}
    inputs = dict(_value_info(value) for value in _submessages(graph, 11))
    outputs = dict(_value_info(value) for value in _submessages(graph, 12))
    metadata = {_text(entry, 1): _text(entry, 2) for entry in _submessages(data, 14)}
    return GraphSignature({n: s for n, s in inputs.items() if n not in initialised}, outputs, metadata)


# ---------------------------------------------------------------------------------------------- the check


@dataclass(frozen=True)
class CheckedGraphs:
    """A folder's two graphs, read once and checked: their bytes (for the runtime), the SHA-256 of the weights they
    came from (None for graphs exported before it was recorded) and `version`, a short tag that changes whenever
    the graphs do (the weights' hash, else the graphs' own), for URLs a browser may cache."""

    encoder: bytes
    decoder: bytes
    weights_sha256: str | None
    version: str


def _check(path: Path, signature: GraphSignature, inputs: dict[str, tuple], outputs: dict[str, tuple]) -> None:
    for kind, found, wanted in (("inputs", signature.inputs, inputs), ("outputs", signature.outputs, outputs)):
        same = set(found) == set(wanted) and all(
            len(found[n]) == len(shape) and all(isinstance(f, str) if w is None else f == w
                                                for f, w in zip(found[n], shape, strict=True))
            for n, shape in wanted.items())
        if not same:
            expected = ", ".join(f"{n} {tuple('N' if d is None else d for d in s)}" for n, s in wanted.items())
            got = ", ".join(f"{n} {s}" for n, s in found.items())
            raise WeightsError(f"{path}: its {kind} are {got or 'none'}; config.json's model needs {expected} "
                               "(N: any batch size)")


def check_graphs(folder: str | os.PathLike, config: ModelConfig, weights_sha256: str | None = None) -> CheckedGraphs:
    """Read and check a folder's two graphs: both present, their inputs and outputs fit `config` (a dynamic batch,
    the code's size; a β-conditioned VAE's β beside the image and the code), and exported from the folder's `model.safetensors` (whose SHA-256 the caller may have read
    already). Every problem is a `WeightsError` of one line naming the command that fixes it; graphs that record no
    weights are accepted with a warning."""
    folder = Path(folder)
    present = [(folder / name).is_file() for name in GRAPH_FILES]
    if not all(present):
        missing = " and ".join(name for name, here in zip(GRAPH_FILES, present) if not here)
        raise WeightsError(f"{folder}: no {missing} (the app runs the models from their ONNX graphs; "
                           f"{export_command(folder)} writes them)")
    d, image = config.latent_dim, (None, 1, 28, 28)
    condition = {CONDITION: (None,)} if config.model_type == "beta-vae" else {}
    wanted = {ENCODER_FILE: ({"image": image, **condition},
                             {n: (None, d) for n in encoder_outputs(config.model_type)}),
              DECODER_FILE: ({"z": (None, d), **condition}, {"image": image})}
    data, recorded = {}, set()
    for name in GRAPH_FILES:
        path = folder / name
        try:
            data[name] = path.read_bytes()
            signature = graph_signature(data[name])
        except (NotOnnx, OSError) as exc:
            raise WeightsError(f"{path}: not a readable ONNX file ({exc})") from None
        _check(path, signature, *wanted[name])
        recorded.add(signature.metadata.get(WEIGHTS_SHA256_KEY))
    weights = weights_sha256
    if weights is None and (folder / WEIGHTS_FILE).is_file():
        weights = file_sha256(folder / WEIGHTS_FILE)
    if recorded == {None}:
        logger.warning("%s: its ONNX graphs do not record which weights they came from; re-export them "
                       "(%s) and push the folder again", folder, export_command(folder))
        digest = hashlib.sha256(data[ENCODER_FILE] + data[DECODER_FILE]).hexdigest()
        return CheckedGraphs(data[ENCODER_FILE], data[DECODER_FILE], None, digest[:16])
    if recorded != {weights}:
        raise WeightsError(f"{folder}: its ONNX graphs were exported from other weights than its {WEIGHTS_FILE} "
                           f"(re-export them: {export_command(folder)})")
    return CheckedGraphs(data[ENCODER_FILE], data[DECODER_FILE], weights, weights[:16])
