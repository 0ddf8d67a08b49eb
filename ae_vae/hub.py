"""Push trained weights folders to the Hugging Face Hub and pull them back, safely.

Hub layout used by the app: ONE model repo holds the four shipped models, each in a
sub-folder named as in `MODEL_NAMES`::

    <repo>/mnist-ae/{model.safetensors, config.json, metrics.json, embeddings.safetensors, README.md, *.png}
    <repo>/mnist-vae/...
    <repo>/fashion_mnist-ae/...
    <repo>/fashion_mnist-vae/...

A single-model repo (what `train.py --push-to-hub` or `push DIR REPO` writes) has the same files
at its root and is loaded with `VAE.from_pretrained("user/repo")` / `AutoEncoder.from_pretrained`.

Safety rules: only safetensors / JSON / Markdown / images are uploaded or downloaded, and a repo
that carries any file that could hold a pickle is refused outright (we never load pickles, but a
repo carrying them is not one we published). Every failure is a `HubError` (or `WeightsError`
for a broken weights file) with a one-line message; the CLI prints that line and exits 2.

Command line::

    python -m ae_vae.hub push DIR REPO_ID [--path-in-repo P] [--private] [--revision R]
    python -m ae_vae.hub push-all WEIGHTS_DIR REPO_ID [--private] [--revision R]
    python -m ae_vae.hub pull REPO_ID [--revision R] [--cache-dir D]
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import sys
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from huggingface_hub import (
    HfApi,
    ResolvedRevision,
    constants,
    get_token,
    hf_hub_download,
    snapshot_download,
)
from huggingface_hub.errors import (
    EntryNotFoundError,
    HfHubHTTPError,
    LocalEntryNotFoundError,
    OfflineModeIsEnabled,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)
from huggingface_hub.file_download import REGEX_COMMIT_HASH, repo_folder_name

from .models import WeightsError, load_model

logger = logging.getLogger(__name__)

MODEL_NAMES: tuple[str, ...] = ("mnist-ae", "mnist-vae", "fashion_mnist-ae", "fashion_mnist-vae")
# What a weights folder may publish: weights, config/metrics/embeddings, the card and figures.
ALLOWED_PATTERNS: tuple[str, ...] = ("*.safetensors", "*.json", "*.md", "*.png", "*.jpg", "*.gif")
# Never uploaded: checkpoints (optimizer state, big, not for users) and hidden/temp files.
IGNORE_PATTERNS: tuple[str, ...] = ("checkpoints/**", "checkpoints/*", ".*", "*/.*")
# Suffixes of files that can carry a pickle (torch.save, joblib, numpy object arrays, Keras/HDF5
# with Lambda layers, archives torch.save writes). A repo holding any of them is refused.
PICKLE_SUFFIXES: tuple[str, ...] = (
    ".bin", ".pt", ".pth", ".pt2", ".pkl", ".pickle", ".p", ".dill", ".ckpt", ".joblib", ".sav",
    ".npy", ".npz", ".h5", ".hdf5", ".keras", ".mar", ".pdparams", ".tar", ".zip",
)
REQUIRED_FILES: tuple[str, ...] = ("config.json", "model.safetensors")
NO_TOKEN_MESSAGE = "no Hugging Face token: set HF_TOKEN or run `hf auth login`"

_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
T = TypeVar("T")


class HubError(RuntimeError):
    """A Hub operation that cannot be done; the message is one line meant for the user."""


class UnsafeRepoError(HubError, WeightsError):
    """A repo (or folder) carrying pickle-capable files: refused, whatever else it holds.

    Both a `HubError` and a `WeightsError`, so `from_pretrained` callers catching either see it.
    `path` is the offending file.
    """

    def __init__(self, message: str, path: str = "") -> None:
        super().__init__(message)
        self.path = path


# ---------------------------------------------------------------------------------------------- checks


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


def check_repo_id(repo_id: str) -> str:
    """`namespace/name` with Hub-legal characters; a bare name would land in whoever owns the token."""
    from huggingface_hub.utils import HFValidationError, validate_repo_id

    if not isinstance(repo_id, str) or repo_id.count("/") != 1:
        raise HubError(f"Hub repo id must look like 'user/name', got {repo_id!r}")
    try:
        validate_repo_id(repo_id)
    except HFValidationError as exc:
        raise HubError(f"invalid Hub repo id {repo_id!r}: {_first_line(exc)}") from exc
    return repo_id


def resolve_token(token: str | None = None) -> str:
    """The explicit token, else HF_TOKEN / `hf auth login`; pushing without one is pointless."""
    if token:
        return token
    try:
        found = get_token()
    except Exception as exc:  # e.g. a failing OIDC exchange when HF_OIDC_RESOURCE is set
        raise HubError(f"cannot read the Hugging Face token: {_first_line(exc)}") from exc
    if not found:
        raise HubError(NO_TOKEN_MESSAGE)
    return found


def check_push_target(repo_id: str, token: str | None = None) -> None:
    """Cheap, offline pre-flight for `train.py --push-to-hub`: fail before hours of training, not after."""
    check_repo_id(repo_id)
    resolve_token(token)


def _check_names(names: Sequence[str]) -> tuple[str, ...]:
    names = tuple(names)
    if not names:
        raise HubError("no model names given")
    for name in names:
        if not isinstance(name, str) or not _SAFE_NAME.match(name):
            raise HubError(f"model folder name must be letters, digits, '_', '-', '.', got {name!r}")
    return names


def _check_path_in_repo(path_in_repo: str | None) -> str | None:
    if path_in_repo is None:
        return None
    parts = [p for p in path_in_repo.strip("/").split("/") if p]
    if not parts or any(p in (".", "..") or not _SAFE_NAME.match(p) for p in parts):
        raise HubError(f"--path-in-repo must be a relative folder like 'mnist-vae', got {path_in_repo!r}")
    return "/".join(parts)


def _check_model_folder(folder: str | os.PathLike) -> Path:
    """The folder exists, holds no pickle-capable file, and loads (shapes checked against config.json)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise HubError(f"{folder}: not a folder")
    refuse_pickles((p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()),
                   f"to push {folder}")
    try:
        load_model(folder)
    except WeightsError as exc:
        raise HubError(f"not pushing {folder}: {exc}") from exc
    return folder


# ---------------------------------------------------------------------------------------------- errors


def _first_line(exc: BaseException | str) -> str:
    text = str(exc).strip()
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__


def _endpoint(endpoint: str | None) -> str:
    return (endpoint or constants.ENDPOINT).rstrip("/")


def describe_hub_error(exc: BaseException, repo_id: str, endpoint: str | None = None,
                       revision: str | None = None) -> str:
    """One line saying what went wrong, from any exception the client raises."""
    import httpx2  # huggingface_hub's HTTP client; its transport errors mean "no answer"

    where = _endpoint(endpoint)
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
        detail = _first_line(exc.server_message or exc)
        return f"the Hub at {where} answered {status} for {repo_id}: {detail}"
    if isinstance(exc, LocalEntryNotFoundError):
        return f"no cached copy of Hub repo {repo_id}"
    if isinstance(exc, EntryNotFoundError):
        return f"file not found in Hub repo {repo_id}: {_first_line(exc)}"
    if isinstance(exc, httpx2.TimeoutException):
        return f"the Hub at {where} did not answer in time"
    if isinstance(exc, httpx2.TransportError):
        return f"cannot reach the Hub at {where} ({type(exc).__name__}: {_first_line(exc)})"
    return f"{type(exc).__name__}: {_first_line(exc)}"


def _is_unreachable(exc: BaseException) -> bool:
    import httpx2

    return isinstance(exc, (httpx2.TransportError, OfflineModeIsEnabled))


def _timed_out(exc: BaseException | None) -> bool:
    """True if `exc` (or what it wraps) is the client giving up on a silent server."""
    import httpx2

    while exc is not None:
        if isinstance(exc, httpx2.TimeoutException):
            return True
        exc = exc.__cause__
    return False


# ---------------------------------------------------------------------------------------------- push


def _write_card(folder: Path, card_repo_id: str | None) -> None:
    """Re-render README.md for where the folder is going; only when metrics exist to fill it."""
    if not (folder / "metrics.json").is_file():
        logger.info("%s has no metrics.json: keeping its README.md as is", folder)
        return
    from .cards import render_model_card
    from .fileio import atomic_write_text

    try:
        text = render_model_card(folder, card_repo_id)
    except (KeyError, ValueError, TypeError, OSError) as exc:  # e.g. metrics.json not a JSON object
        raise HubError(f"cannot render the model card for {folder}: {type(exc).__name__}: {exc}") from exc
    atomic_write_text(folder / "README.md", text)


def _upload(api: HfApi, folder: Path, repo_id: str, *, path_in_repo: str | None, private: bool,
            revision: str | None, allow_patterns: list[str], ignore_patterns: list[str],
            commit_message: str) -> str:
    """create_repo + (create_branch) + one upload_folder commit; returns the commit URL."""
    try:
        api.create_repo(repo_id, private=private, exist_ok=True)
        if revision not in (None, constants.DEFAULT_REVISION):
            api.create_branch(repo_id, branch=revision, exist_ok=True)
        info = api.upload_folder(repo_id=repo_id, folder_path=folder, path_in_repo=path_in_repo,
                                 revision=revision, commit_message=commit_message,
                                 allow_patterns=allow_patterns, ignore_patterns=ignore_patterns)
    except Exception as exc:
        raise HubError(f"push to Hub repo {repo_id} failed: {describe_hub_error(exc, repo_id, api.endpoint)}") \
            from exc
    logger.info("pushed %s to %s", folder, info.commit_url)
    return info.commit_url


def push_folder(folder: str | os.PathLike, repo_id: str, *, path_in_repo: str | None = None,
                private: bool = False, revision: str | None = None, token: str | None = None,
                endpoint: str | None = None) -> str:
    """Upload one weights folder (what train.py writes) to `repo_id`; returns the commit URL.

    The folder must load (`load_model`) and hold no pickle-capable file. Its README.md is
    re-rendered for this repo id (for a sub-folder push, for the `weights/<name>` layout the
    app uses, since `from_pretrained` cannot read sub-folders). Only `ALLOWED_PATTERNS` are
    uploaded; `checkpoints/` and hidden/temp files never are.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise HubError(f"{folder}: not a folder")
    check_repo_id(repo_id)
    path_in_repo = _check_path_in_repo(path_in_repo)
    token = resolve_token(token)
    _check_model_folder(folder)
    _write_card(folder, None if path_in_repo else repo_id)
    api = HfApi(endpoint=endpoint, token=token)
    target = f"{repo_id}/{path_in_repo}" if path_in_repo else repo_id
    return _upload(api, folder, repo_id, path_in_repo=path_in_repo, private=private, revision=revision,
                   allow_patterns=list(ALLOWED_PATTERNS), ignore_patterns=list(IGNORE_PATTERNS),
                   commit_message=f"Upload {folder.name} to {target} (ae-vae-explorer)")


def push_all(weights_dir: str | os.PathLike, repo_id: str, names: Sequence[str] = MODEL_NAMES, *,
             private: bool = False, revision: str | None = None, token: str | None = None,
             endpoint: str | None = None) -> str:
    """Upload `weights_dir/<name>/` for every name into one repo, in ONE commit; returns its URL.

    One commit (not one per model) so that a pull never sees new and old models mixed.
    """
    weights_dir = Path(weights_dir)
    if not weights_dir.is_dir():
        raise HubError(f"{weights_dir}: not a folder")
    names = _check_names(names)
    check_repo_id(repo_id)
    token = resolve_token(token)
    for name in names:
        if not (weights_dir / name).is_dir():
            raise HubError(f"{weights_dir / name}: not a folder (push-all needs {', '.join(names)})")
        _check_model_folder(weights_dir / name)
    for name in names:
        _write_card(weights_dir / name, None)
    api = HfApi(endpoint=endpoint, token=token)
    allow = [f"{name}/{pattern}" for name in names for pattern in ALLOWED_PATTERNS]
    # fnmatch's * crosses '/', so also drop anything nested below a model folder (checkpoints/ & co).
    ignore = [f"{name}/*/*" for name in names] + [f"{name}/.*" for name in names]
    return _upload(api, weights_dir, repo_id, path_in_repo=None, private=private, revision=revision,
                   allow_patterns=allow, ignore_patterns=ignore,
                   commit_message=f"Upload {', '.join(names)} (ae-vae-explorer)")


# ---------------------------------------------------------------------------------------------- pull


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
            if not _is_unreachable(exc):
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


def _snapshot_patterns(names: tuple[str, ...]) -> tuple[list[str], list[str]]:
    allow = [f"{name}/{pattern}" for name in names for pattern in ALLOWED_PATTERNS]
    ignore = [f"{name}/*/*" for name in names]  # only files directly inside each model folder
    return allow, ignore


def _validate_snapshot(snapshot: Path, names: tuple[str, ...], repo_id: str) -> dict[str, Path]:
    """Each model folder has config.json + model.safetensors and loads; WeightsError names a bad file."""
    folders: dict[str, Path] = {}
    for name in names:
        folder = snapshot / name
        for required in REQUIRED_FILES:
            if not (folder / required).is_file():
                raise HubError(f"Hub repo {repo_id} has no {name}/{required}")
        load_model(folder)  # WeightsError naming the file (shape check against config.json)
        folders[name] = folder
    return folders


def _remember_revision(repo_id: str, revision: str | None, commit: str, cache_dir: str | os.PathLike | None) -> None:
    """Point the cache's `refs/<revision>` at a commit we validated, so offline pulls find it.

    We download by commit sha (the one whose file list we checked), which the client does not
    record under refs/; we write it only after validation so a refused or broken commit never
    shadows an older good copy in the cache. Layout: `<cache>/models--ns--name/refs/<revision>`.
    """
    revision = revision or constants.DEFAULT_REVISION
    if REGEX_COMMIT_HASH.fullmatch(revision):
        return
    from .fileio import atomic_write_text

    root = Path(cache_dir or constants.HF_HUB_CACHE).expanduser().resolve()
    ref = root / repo_folder_name(repo_id=repo_id, repo_type="model") / "refs" / revision
    try:
        atomic_write_text(ref, commit)  # no newline: the client reads the file verbatim
    except OSError as exc:
        logger.warning("could not record %s -> %s in the Hub cache: %s", revision, commit, exc)


def pull_models(repo_id: str, names: Sequence[str] = MODEL_NAMES, *, revision: str | None = None,
                cache_dir: str | os.PathLike | None = None, endpoint: str | None = None,
                token: str | bool | None = None, local_files_only: bool = False,
                timeout: float | None = None) -> dict[str, Path]:
    """Download `<name>/` folders of a multi-model repo into the HF cache; return name -> folder.

    Repo layout: one model repo with one sub-folder per name in `MODEL_NAMES` (`mnist-ae/`,
    `mnist-vae/`, `fashion_mnist-ae/`, `fashion_mnist-vae/`), each holding `config.json`,
    `model.safetensors` and the other files train.py writes (see the module docstring).

    Refuses (`UnsafeRepoError`) a repo carrying any pickle-capable file; downloads only
    `ALLOWED_PATTERNS` directly inside the requested folders, pinned to the commit whose listing
    was checked; checks each folder loads (`WeightsError` naming a truncated/mismatched file).
    `local_files_only=True` uses the last copy that passed these checks. `timeout` bounds each
    metadata request (default: HF_HUB_ETAG_TIMEOUT, 10 s).
    """
    check_repo_id(repo_id)
    names = _check_names(names)
    allow, ignore = _snapshot_patterns(names)
    timeout = float(timeout if timeout is not None else constants.HF_HUB_ETAG_TIMEOUT)
    if local_files_only:
        try:
            snapshot = Path(snapshot_download(repo_id, revision=revision, cache_dir=cache_dir, local_files_only=True,
                                              allow_patterns=allow, ignore_patterns=ignore))
        except Exception as exc:
            raise HubError(f"no usable cached copy of Hub repo {repo_id}: "
                           f"{describe_hub_error(exc, repo_id, endpoint)}") from exc
        refuse_pickles((p.relative_to(snapshot).as_posix() for name in names for p in (snapshot / name).rglob("*")),
                       f"cached copy of Hub repo {repo_id}")
        return _validate_snapshot(snapshot, names, repo_id)

    api = HfApi(endpoint=endpoint, token=token)
    try:
        info = api.model_info(repo_id, revision=revision, timeout=timeout)
    except Exception as exc:
        raise HubError(describe_hub_error(exc, repo_id, endpoint, revision)) from exc
    files = [sibling.rfilename for sibling in info.siblings or []]
    refuse_pickles(files, f"Hub repo {repo_id}")
    missing = [f"{name}/{required}" for name in names for required in REQUIRED_FILES
               if f"{name}/{required}" not in files]
    if missing:
        more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
        raise HubError(f"Hub repo {repo_id} has no {missing[0]}{more}; expected one sub-folder per model: "
                       f"{', '.join(names)}")
    pinned = ResolvedRevision(info.sha, initial=revision, repo_id=repo_id, repo_type="model")
    try:
        snapshot = Path(snapshot_download(repo_id, revision=pinned, cache_dir=cache_dir, endpoint=endpoint,
                                          token=token, allow_patterns=allow, ignore_patterns=ignore,
                                          etag_timeout=timeout, max_workers=4))
    except Exception as exc:
        raise HubError(f"cannot download Hub repo {repo_id}: {describe_hub_error(exc, repo_id, endpoint)}") from exc
    folders = _validate_snapshot(snapshot, names, repo_id)
    _remember_revision(repo_id, revision, info.sha, cache_dir)
    logger.info("pulled %s from Hub repo %s (commit %s)", ", ".join(names), repo_id, info.sha[:7])
    return folders


# ---------------------------------------------------------------------------------------------- resolve


@dataclass
class WeightsSource:
    """Which weights the app uses: `origin` is "hub", "hub-cache" or "bundled"; `notice` says why."""

    folders: dict[str, Path]
    origin: str
    notice: str


def _run_with_deadline(fn: Callable[[], T], timeout: float) -> tuple[bool, T | None, BaseException | None]:
    """Run `fn` in a daemon thread and stop waiting after `timeout` s: (finished, result, error).

    A daemon thread, not a ThreadPoolExecutor: executor threads are joined at interpreter exit,
    so a pull stuck in the client's retries (~23 s) would still delay shutdown.
    """
    box: dict[str, Any] = {}
    done = threading.Event()

    def run() -> None:
        try:
            box["result"] = fn()
        except BaseException as exc:  # noqa: BLE001 - handed back to the caller
            box["error"] = exc
        finally:
            done.set()

    threading.Thread(target=run, name="hub-pull", daemon=True).start()
    if not done.wait(timeout):
        return False, None, None
    return True, box.get("result"), box.get("error")


def _bundled(bundled_dir: Path, names: tuple[str, ...], why: str) -> WeightsSource:
    folders = {}
    for name in names:
        try:
            load_model(bundled_dir / name)
        except WeightsError as exc:
            raise WeightsError(f"{why}, and the bundled weights are unusable: {exc}") from exc
        folders[name] = bundled_dir / name
    label = f"{bundled_dir.name}/" if bundled_dir.name else str(bundled_dir)
    return WeightsSource(folders, "bundled", f"{why}; using the bundled weights in {label}")


def resolve_model_folders(hub_repo: str | None, bundled_dir: str | os.PathLike, *,
                          names: Sequence[str] = MODEL_NAMES, revision: str | None = None,
                          cache_dir: str | os.PathLike | None = None, endpoint: str | None = None,
                          token: str | bool | None = None, timeout: float = 5.0) -> WeightsSource:
    """Pick the weights for the app: the Hub repo, else its cached copy, else the bundled folder.

    The Hub pull runs in a daemon thread with a hard deadline of `timeout` seconds (the client
    can retry for ~23 s when nothing answers; the app must start anyway). Never raises for Hub
    problems; raises `WeightsError` only if the fallback bundled weights are missing or broken.
    """
    bundled_dir = Path(bundled_dir)
    names = _check_names(names)
    if hub_repo is None:
        label = f"{bundled_dir.name}/" if bundled_dir.name else str(bundled_dir)
        source = _bundled(bundled_dir, names, "no Hub repo configured")
        source.notice = f"Using the bundled weights in {label} (no Hub repo configured)"
        logger.info("%s", source.notice)
        return source
    if not timeout > 0:
        raise ValueError(f"timeout must be positive, got {timeout!r}")

    common: dict[str, Any] = {"names": names, "revision": revision, "cache_dir": cache_dir, "endpoint": endpoint,
                              "token": token}
    finished, folders, error = _run_with_deadline(lambda: pull_models(hub_repo, timeout=timeout, **common), timeout)
    if finished and error is None and folders is not None:
        commit = next(iter(folders.values())).parent.name[:7]
        source = WeightsSource(folders, "hub", f"Using the weights from Hub repo {hub_repo} (commit {commit})")
        logger.info("%s", source.notice)
        return source
    prefix = f"Hub repo {hub_repo} "
    if not finished or _timed_out(error):  # the request timeout (= deadline) may fire just before it
        why = f"{prefix}did not answer within {timeout:g} s"
    elif isinstance(error, UnsafeRepoError):
        why = f"{prefix}was refused: it carries pickle file {error.path}"
    else:
        reason = describe_hub_error(error, hub_repo, endpoint, revision)
        why = prefix + reason.removeprefix(prefix) if reason.startswith(prefix) else f"{prefix}failed: {reason}"
    try:
        cached = pull_models(hub_repo, local_files_only=True, **common)
    except Exception as exc:  # noqa: BLE001 - any cache problem means: fall back to bundled
        logger.info("no usable cached copy of %s: %s", hub_repo, _first_line(exc))
        source = _bundled(bundled_dir, names, why)
    else:
        commit = next(iter(cached.values())).parent.name[:7]
        source = WeightsSource(cached, "hub-cache", f"{why}; using the cached copy from the Hub cache "
                                                    f"(commit {commit})")
    logger.warning("%s", source.notice)
    return source


# ---------------------------------------------------------------------------------------------- CLI


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m ae_vae.hub", formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        description="Push weights folders to the Hugging Face Hub or pull the app's four models. "
                    "The token comes from HF_TOKEN or `hf auth login`; HF_ENDPOINT selects another Hub.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress (INFO) on stderr")
    sub = parser.add_subparsers(dest="command", required=True, metavar="{push,push-all,pull}")

    push = sub.add_parser("push", help="push one weights folder",
                          formatter_class=argparse.ArgumentDefaultsHelpFormatter,
                          description="Push one weights folder (what train.py writes) to a model repo.")
    push.add_argument("folder", metavar="DIR", help="weights folder with config.json and model.safetensors")
    push.add_argument("repo_id", metavar="REPO_ID", help="target model repo, user/name")
    push.add_argument("--path-in-repo", default=None, help="sub-folder in the repo; None: the repo root")

    push_all_parser = sub.add_parser("push-all", help="push the four app models into one repo",
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter,
                                     description="Push WEIGHTS_DIR/<name>/ for " + ", ".join(MODEL_NAMES)
                                                 + " into one repo, one sub-folder each, in one commit.")
    push_all_parser.add_argument("weights_dir", metavar="WEIGHTS_DIR", help="folder holding the four model folders")
    push_all_parser.add_argument("repo_id", metavar="REPO_ID", help="target model repo, user/name")
    for p in (push, push_all_parser):
        p.add_argument("--private", action="store_true", help="create the repo as private (if it does not exist)")
        p.add_argument("--revision", default=constants.DEFAULT_REVISION, help="branch to push to, created if missing")

    pull = sub.add_parser("pull", help="download and check the four app models",
                          formatter_class=argparse.ArgumentDefaultsHelpFormatter,
                          description="Download the four model folders of REPO_ID into the HF cache and check "
                                      "that each loads.")
    pull.add_argument("repo_id", metavar="REPO_ID", help="model repo holding one sub-folder per model")
    pull.add_argument("--revision", default=constants.DEFAULT_REVISION, help="branch, tag or commit")
    pull.add_argument("--cache-dir", default=constants.HF_HUB_CACHE, help="HF cache folder (HF_HUB_CACHE)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        if args.command == "push":
            url = push_folder(args.folder, args.repo_id, path_in_repo=args.path_in_repo, private=args.private,
                              revision=args.revision)
            print(f"pushed {args.folder} -> {url}")
        elif args.command == "push-all":
            url = push_all(args.weights_dir, args.repo_id, private=args.private, revision=args.revision)
            print(f"pushed {', '.join(MODEL_NAMES)} -> {url}")
        else:
            folders = pull_models(args.repo_id, revision=args.revision, cache_dir=args.cache_dir)
            for name, folder in folders.items():
                print(f"{name}: {folder}")
    except (HubError, WeightsError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # CLI contract: one line on stderr, no traceback (details with -v)
        logger.info("unexpected error", exc_info=True)
        print(f"error: {describe_hub_error(exc, getattr(args, 'repo_id', '?'))}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
