"""Every error the package raises, under one base class.

Each message is one line meant for the person who can act on it (a user of the app, a caller of the API, someone
running a command); the command line prints it and exits 2, the app shows it. Catch `AeVaeError` for all of them.
"""

from __future__ import annotations


class AeVaeError(Exception):
    """Base of every error of ae-vae-explorer; the message is one line for the user."""


class WeightsError(AeVaeError):
    """A weights folder or file that cannot be loaded (missing, corrupted or mismatched); names the file."""


class PriorError(WeightsError):
    """A prior file that cannot be used (missing, corrupted, mismatched, or fitted to other weights)."""


class EmbeddingsError(WeightsError):
    """A maps or neighbours file that is missing, unreadable or inconsistent with its weights."""


class JudgeError(WeightsError):
    """A judge folder that cannot be loaded (missing, corrupted or mismatched file); names the file."""


class HubError(AeVaeError):
    """A Hub operation that cannot be done."""


class UnsafeRepoError(HubError, WeightsError):
    """A repo (or folder) carrying pickle-capable files: refused, whatever else it holds.

    Both a `HubError` and a `WeightsError`, so `from_pretrained` callers catching either see it.
    `path` is the offending file.
    """

    def __init__(self, message: str, path: str = "") -> None:
        super().__init__(message)
        self.path = path


class DataNotFoundError(AeVaeError):
    """The data set is neither on disk nor downloadable."""


class DivergedError(AeVaeError):
    """A model whose loss, evaluation or measurements stopped being numbers: its weights are unusable from there on,
    so training stops at that step (before the epoch is checkpointed), and a measurement before it is written."""


class InputError(AeVaeError, ValueError):
    """A request value (a drawing, a data set name, a count, a map position, a code) that cannot be used.

    Also a `ValueError`, as the values it refuses are."""


# What only training, evaluation, export and building artifacts import (`requirements-train.txt`); the app's
# requirements (`requirements.txt`) leave them out.
TRAINING_MODULES = ("torch", "torchvision", "onnx", "onnxscript", "umap", "sklearn", "tqdm", "threadpoolctl")
TRAINING_REQUIREMENTS = "pip install -r requirements-train.txt"


def missing_training_module(exc: BaseException) -> str | None:
    """The training-only package whose absence raised `exc` (a `ModuleNotFoundError`), else None."""
    name = getattr(exc, "name", None) or ""
    root = name.split(".")[0]
    return root if isinstance(exc, ModuleNotFoundError) and root in TRAINING_MODULES else None
