"""Safe file and Hub I/O, the package's lowest room: it imports only `ae_vae.errors`.

- Atomic writes: a temp file in the same folder, fsync, rename, so a crash never leaves half a file.
- The one safetensors reader: every file the package reads goes through `read_safetensors`, which names the
  file in its error.
- Pickle refusal: names of files that could carry a pickle, and the check that refuses them.
- The safe single-file Hub download that `from_pretrained("user/repo")` needs, and the translation of Hub
  client exceptions into one line a user can act on.

Keeping these here lets the weights format, the models and the Hub push/pull all build on them
without importing each other.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import httpx2  # huggingface_hub's HTTP client: its transport errors mean "the Hub did not answer"
import numpy as np
from huggingface_hub import HfApi, constants, hf_hub_download
from huggingface_hub.errors import (
    EntryNotFoundError,
    HfHubHTTPError,
    LocalEntryNotFoundError,
    OfflineModeIsEnabled,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)
from safetensors import safe_open

from .errors import HubError, UnsafeRepoError, WeightsError

logger = logging.getLogger(__name__)

# Suffixes of files that can carry a pickle (torch.save, joblib, numpy object arrays, Keras/HDF5
# with Lambda layers, archives torch.save writes). A repo or folder holding any of them is refused.
PICKLE_SUFFIXES: tuple[str, ...] = (
    ".bin", ".pt", ".pth", ".pt2", ".pkl", ".pickle", ".p", ".dill", ".ckpt", ".joblib", ".sav",
    ".npy", ".npz", ".h5", ".hdf5", ".keras", ".mar", ".pdparams", ".tar", ".zip",
)


# ---------------------------------------------------------------------------------------------- atomic writes


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


TEMP_SUFFIX = ".tmp"  # the name every atomic write's temporary file ends with


def _temp_file(path: Path) -> tuple[int, str]:
    """A temp file beside `path` with the mode a plain `open(path, "w")` would give (mkstemp's is 0600,
    and it would survive the rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=TEMP_SUFFIX)
    os.chmod(tmp, 0o666 & ~_umask())
    return fd, tmp


def atomic_write_bytes(path: str | os.PathLike, data: bytes, durable: bool = True) -> None:
    """Write to a temp file in the same folder, fsync, then rename over `path`. A reader never sees a partial
    file; `durable=False` skips the fsync, for files regenerated on demand that need not survive a power cut."""
    path = Path(path)
    fd, tmp = _temp_file(path)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            if durable:
                os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | os.PathLike, data: Any) -> None:
    atomic_write_text(path, json.dumps(data, indent=2, sort_keys=True) + "\n")


def atomic_save_safetensors(path: str | os.PathLike, tensors: dict[str, Any],
                            metadata: dict[str, str] | None = None) -> None:
    """A safetensors file of numpy arrays or of torch tensors (a model's state dict), published atomically (the
    library writes the file in place). Arrays need no torch: the app's files (priors, maps) are numpy."""
    path = Path(path)
    fd, tmp = _temp_file(path)
    os.close(fd)
    try:
        if all(isinstance(v, np.ndarray) for v in tensors.values()):
            from safetensors.numpy import save_file as save_arrays

            save_arrays({k: np.ascontiguousarray(v) for k, v in tensors.items()}, tmp, metadata=metadata)
        else:
            from safetensors.torch import save_file as save_tensors

            save_tensors({k: v.detach().contiguous().cpu() for k, v in tensors.items()}, tmp, metadata=metadata)
        os.chmod(tmp, 0o666 & ~_umask())  # save_file creates its file anew, as 0600
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# ---------------------------------------------------------------------------------------------- reading


def read_safetensors(path: str | os.PathLike, framework: str = "pt", error: type[Exception] = WeightsError,
                     names: Iterable[str] | None = None, optional: Iterable[str] = (), mapped: Iterable[str] = ()
                     ) -> tuple[dict[str, Any], dict[str, str]]:
    """(tensors, metadata) of a safetensors file; `names` reads only those tensors (all when None), and `optional`
    those of them that are there.

    A missing file, a truncated or garbled one, or a missing tensor raises `error` with one line naming the file.
    `framework` is "pt" (torch tensors: training) or "np" (numpy arrays: what the app reads); with "np", the tensors named in `mapped` are
    read-only memory maps of the file instead of copies (for large arrays of which a request reads a few rows: the
    pages are read when touched and shared with the page cache).
    """
    path = Path(path)
    if not path.is_file():
        raise error(f"{path}: file not found")
    try:
        with safe_open(str(path), framework=framework) as handle:
            metadata = handle.metadata() or {}
            available = set(handle.keys())
            wanted = sorted(available) if names is None else list(names)
            wanted += [name for name in optional if name in available and name not in wanted]
            missing = [name for name in wanted if name not in available]
            if missing:
                raise error(f"{path}: missing tensor {missing[0]!r}")
            mapped = set(mapped) if framework == "np" else set()
            tensors = {name: handle.get_tensor(name) for name in wanted if name not in mapped}
        tensors.update(_memory_maps(path, [name for name in wanted if name in mapped]))
    except error:
        raise
    except Exception as exc:  # safetensors raises its own error types for truncated or garbled files
        raise error(f"{path}: not a readable safetensors file ({first_line(exc)})") from exc
    return tensors, metadata


_NUMPY_DTYPES = {"U8": "u1", "I8": "i1", "I16": "<i2", "I32": "<i4", "I64": "<i8", "F16": "<f2", "F32": "<f4",
                 "F64": "<f8", "BOOL": "?"}


def _memory_maps(path: Path, names: list[str]) -> dict[str, np.ndarray]:
    """Read-only memory maps of `names` in a safetensors file (its layout: an 8-byte little-endian header length,
    the JSON header with each tensor's dtype, shape and byte offsets, then the data)."""
    if not names:
        return {}
    with open(path, "rb") as handle:
        header = json.loads(handle.read(int.from_bytes(handle.read(8), "little")))
        start = handle.tell()
    maps = {}
    for name in names:
        entry = header[name]
        begin, end = entry["data_offsets"]
        dtype = np.dtype(_NUMPY_DTYPES[entry["dtype"]])
        if (end - begin) != dtype.itemsize * int(np.prod(entry["shape"], dtype=np.int64)):
            raise ValueError(f"tensor {name!r}: its byte range does not fit its shape")
        maps[name] = np.memmap(path, dtype=dtype, mode="r", offset=start + begin, shape=tuple(entry["shape"]))
    return maps


# ---------------------------------------------------------------------------------------------- pickles


def is_pickle_file(path: str) -> bool:
    """True for names whose suffix can carry a pickle (case-insensitive)."""
    return path.lower().endswith(PICKLE_SUFFIXES)


def refuse_pickles(files: Iterable[str], where: str) -> None:
    """Raise `UnsafeRepoError` naming the first pickle-capable file in `files`."""
    offending = sorted(f for f in files if is_pickle_file(f))
    if offending:
        more = f" (and {len(offending) - 1} more)" if len(offending) > 1 else ""
        raise UnsafeRepoError(f"refused {where}: it carries pickle file {offending[0]}{more} "
                              "(only safetensors and JSON are allowed)", path=offending[0])


# ---------------------------------------------------------------------------------------------- Hub errors


def first_line(exc: BaseException | str) -> str:
    """The first non-empty line of an error message (client errors carry multi-line server bodies)."""
    text = str(exc).strip()
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__


def hub_endpoint(endpoint: str | None) -> str:
    return (endpoint or constants.ENDPOINT).rstrip("/")


def describe_hub_error(exc: BaseException, repo_id: str, endpoint: str | None = None,
                       revision: str | None = None) -> str:
    """One line saying what went wrong, from any exception the client raises."""
    where = hub_endpoint(endpoint)
    if isinstance(exc, (HubError, WeightsError)):
        return str(exc)
    if isinstance(exc, OfflineModeIsEnabled):
        return f"HF_HUB_OFFLINE is set, so the Hub at {where} was not contacted"
    if isinstance(exc, RevisionNotFoundError):
        return f"revision {revision or constants.DEFAULT_REVISION!r} not found in Hub repo {repo_id}"
    if isinstance(exc, RepositoryNotFoundError):
        return (f"Hub repo {repo_id} not found at {where} (or it is private/gated and the token "
                "cannot read it)")
    if isinstance(exc, HfHubHTTPError):
        status = exc.response.status_code if exc.response is not None else None
        if status == 401:
            return (f"the Hugging Face token was rejected by {where} (401 Unauthorized): set a valid "
                    "HF_TOKEN or run `hf auth login`")
        if status == 403:
            return (f"the Hugging Face token is not allowed to do this on {repo_id} (403 Forbidden): "
                    "use a token with write access")
        detail = first_line(exc.server_message or exc)
        return f"the Hub at {where} answered {status} for {repo_id}: {detail}"
    if isinstance(exc, LocalEntryNotFoundError):
        return f"no cached copy of Hub repo {repo_id}"
    if isinstance(exc, EntryNotFoundError):
        return f"file not found in Hub repo {repo_id}: {first_line(exc)}"
    if isinstance(exc, httpx2.TimeoutException):
        return f"the Hub at {where} did not answer in time"
    if isinstance(exc, httpx2.TransportError):
        return f"cannot reach the Hub at {where} ({type(exc).__name__}: {first_line(exc)})"
    return f"{type(exc).__name__}: {first_line(exc)}"


def is_unreachable(exc: BaseException) -> bool:
    """True when the Hub could not be asked at all (network down, offline mode), as opposed to a refusal."""
    return isinstance(exc, (httpx2.TransportError, OfflineModeIsEnabled))


def timed_out(exc: BaseException | None) -> bool:
    """True if `exc` (or what it wraps) is the client giving up on a silent server."""
    while exc is not None:
        if isinstance(exc, httpx2.TimeoutException):
            return True
        exc = exc.__cause__
    return False


# ---------------------------------------------------------------------------------------------- download


def download_model_file(repo_id: str, filename: str, *, revision: str | None = None,
                        cache_dir: str | os.PathLike | None = None, force_download: bool = False,
                        local_files_only: bool = False, token: str | bool | None = None,
                        endpoint: str | None = None) -> Path:
    """`hf_hub_download` for `Model.from_pretrained("user/repo")`, refusing repos that carry pickles.

    The repo listing is checked first (unless `local_files_only`). If the Hub cannot be reached
    the cached file is used, as `hf_hub_download` itself would.
    """
    kwargs: dict[str, Any] = {"revision": revision, "cache_dir": cache_dir, "token": token, "endpoint": endpoint}
    if not local_files_only:
        try:
            files = HfApi(endpoint=endpoint, token=token).list_repo_files(repo_id, revision=revision)
        except Exception as exc:
            if not is_unreachable(exc):
                raise HubError(f"cannot list Hub repo {repo_id}: {describe_hub_error(exc, repo_id, endpoint)}") \
                    from exc
            logger.warning("%s; trying the cached copy", describe_hub_error(exc, repo_id, endpoint))
            local_files_only = True
        else:
            refuse_pickles(files, f"Hub repo {repo_id}")
    try:
        path = hf_hub_download(repo_id, filename, force_download=force_download and not local_files_only,
                               local_files_only=local_files_only, **kwargs)
    except Exception as exc:
        raise HubError(f"cannot download {filename} from Hub repo {repo_id}: "
                       f"{describe_hub_error(exc, repo_id, endpoint)}") from exc
    return Path(path)
