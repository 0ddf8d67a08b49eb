"""A model as the app serves it: onnxruntime sessions of the folder's ONNX graphs, numpy in and out.

The page runs the same two files with onnxruntime-web, so the server and the visitor's browser compute with one set
of graphs, and the app needs neither torch nor the model classes (`ae_vae.models` is for training). A `GraphModel`
answers what the app asks of a model — `encode`, `embed`, `decode` — with the torch models' meaning: `embed` is the
AE's code or the VAE's posterior mean, `decode` gives images in [0, 1]. Sessions run one request's small batch on
intra-op threads that never spin (1 unless `set_session_threads` says otherwise: requests run in parallel, and the
CPU is shared), and are safe to call from several threads at once.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnxruntime as ort

from .graph_files import CONDITION, CheckedGraphs, check_graphs
from .models.config import LOGVAR_RANGE, ModelConfig, read_config

_SESSION_THREADS = [1]  # what `app.py --threads` sets, before any model is loaded


def set_session_threads(threads: int) -> None:
    """The intra-op threads of every session made from now on (the app's `--threads`, like torch's
    `set_num_threads` once was: one setting for the process, not a parameter of every loader)."""
    _SESSION_THREADS[0] = max(1, int(threads))


def session_options(threads: int | None = None) -> ort.SessionOptions:
    """`threads` intra-op threads, no inter-op pool, no spinning: an idle session costs no CPU, and a request's
    batch of one to a few hundred codes is too small for threads to pay."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = _SESSION_THREADS[0] if threads is None else max(1, int(threads))
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.add_session_config_entry("session.inter_op.allow_spinning", "0")
    # no memory arena: a pre-sized pool per session that grows to the largest batch and is never handed back (eight
    # sessions), for allocations that cost microseconds beside a convolution
    options.enable_cpu_mem_arena = False
    options.log_severity_level = 3  # errors only: the graphs' initializer warnings say nothing to a user
    return options


@dataclass(frozen=True)
class Posterior:
    """The VAE's q(z|x): mean and log-variance (clamped to `LOGVAR_RANGE`, as the torch model does), (N, D)."""

    mean: np.ndarray
    logvar: np.ndarray

    @classmethod
    def clamped(cls, mean: np.ndarray, logvar: np.ndarray) -> Posterior:
        """From the encoder graph's outputs: the log-variance clamped (the page's twin is models.js `posteriorStd`)."""
        return cls(mean, np.clip(logvar, *LOGVAR_RANGE))

    @property
    def std(self) -> np.ndarray:
        return np.exp(0.5 * self.logvar)


class GraphModel:
    """An AE, a VAE or a β-conditioned VAE run from its folder's `encoder.onnx` and `decoder.onnx` (checked by
    `check_graphs`); the β-conditioned one takes β (a number, or one per item) with every call, the others none."""

    def __init__(self, config: ModelConfig, graphs: CheckedGraphs, threads: int | None = None):
        self.config = config
        self.version = graphs.version
        options = session_options(threads)
        providers = ["CPUExecutionProvider"]
        self._encoder = ort.InferenceSession(graphs.encoder, options, providers=providers)
        self._decoder = ort.InferenceSession(graphs.decoder, options, providers=providers)

    @classmethod
    def from_folder(cls, folder: str | os.PathLike, threads: int | None = None) -> GraphModel:
        """The model of a weights folder: its `config.json` and its two graphs, each problem a `WeightsError`."""
        config = read_config(folder)
        return cls(config, check_graphs(Path(folder), config), threads)

    def __repr__(self) -> str:
        return f"GraphModel({self.config.dataset}-{self.config.model_type}, latent_dim={self.latent_dim})"

    @property
    def latent_dim(self) -> int:
        return self.config.latent_dim

    @property
    def kind(self) -> str:
        return self.config.model_type

    @property
    def conditioned(self) -> bool:
        return self.kind == "beta-vae"

    def _inputs(self, name: str, values: np.ndarray, beta: float | np.ndarray | None) -> dict[str, np.ndarray]:
        if (beta is not None) != self.conditioned:
            raise ValueError(f"a {self.kind} model takes {'a' if self.conditioned else 'no'} beta")
        inputs = {name: values}
        if beta is not None:
            betas = np.ascontiguousarray(beta, dtype=np.float32).reshape(-1)
            inputs[CONDITION] = np.broadcast_to(betas, (len(values),)).copy() if betas.size == 1 else betas
            if inputs[CONDITION].shape != (len(values),):
                raise ValueError(f"beta must be one number or one per item, got {betas.size} for {len(values)}")
        return inputs

    def encode(self, images: np.ndarray, beta: float | np.ndarray | None = None) -> np.ndarray | Posterior:
        """Images (N, 1, 28, 28) in [0, 1] -> the AE's codes (N, D) or the VAE's `Posterior` (at `beta`)."""
        outputs = self._encoder.run(None, self._inputs("image", _float32(images, 4, "images"), beta))
        if self.kind in ("vae", "beta-vae"):
            mean, logvar = outputs
            return Posterior.clamped(mean, logvar)
        return outputs[0]

    def embed(self, images: np.ndarray, beta: float | np.ndarray | None = None) -> np.ndarray:
        """The deterministic code the maps, the priors and the neighbour search use: AE code, VAE posterior mean."""
        codes = self.encode(images, beta)
        return codes.mean if isinstance(codes, Posterior) else codes

    def decode(self, codes: np.ndarray, beta: float | np.ndarray | None = None) -> np.ndarray:
        """Codes (N, D) -> images (N, 1, 28, 28) float32 in [0, 1] (at `beta`)."""
        return self._decoder.run(None, self._inputs("z", _float32(codes, 2, "codes"), beta))[0]


def _float32(values: np.ndarray, ndim: int, name: str) -> np.ndarray:
    array = np.ascontiguousarray(values, dtype=np.float32)
    if array.ndim != ndim:
        raise ValueError(f"{name} must have {ndim} dimensions, got shape {array.shape}")
    return array
