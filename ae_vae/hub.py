"""Push trained weights folders to the Hugging Face Hub and pull them back, safely.

Hub layout used by the app: ONE model repo holds the four shipped models, each in a
sub-folder named as in `MODEL_NAMES`, and optionally a β-conditioned VAE per data set, named as in `BETA_NAMES`::

    <repo>/mnist-ae/{model.safetensors, config.json, metrics.json, embeddings.safetensors, neighbours*.safetensors,
                     prior.safetensors, encoder.onnx, decoder.onnx, README.md, *.png}
    <repo>/mnist-vae/...
    <repo>/fashion_mnist-ae/...
    <repo>/fashion_mnist-vae/...
    <repo>/mnist-beta-vae/{model.safetensors, config.json, metrics.json (with its rate–distortion "curve"),
                           training.json, encoder.onnx, decoder.onnx (β an input of both), README.md}   (optional)
    <repo>/fashion_mnist-beta-vae/...                                                                 (optional)

The four are required: a repo without one of them is refused. A β folder is an extra the app shows when it is there,
so a repo without one is fine, and one that is incomplete or does not load is left out with a warning rather than
keeping the four from being served.

A single-model repo (what `train.py --push-to-hub` or `push DIR REPO` writes) has the same files
at its root and is loaded with `VAE.from_pretrained("user/repo")` / `AutoEncoder.from_pretrained`.

Safety rules: only safetensors / JSON / ONNX (protobuf) / Markdown / images are uploaded or downloaded, and a repo
that carries any file that could hold a pickle is refused outright (we never load pickles, but a
repo carrying them is not one we published). Every failure is a `HubError` (or `WeightsError`
for a broken weights file) with a one-line message; the CLI prints that line and exits 2.

Command line (`ae_vae.cli`)::

    python -m ae_vae push DIR REPO_ID [--path-in-repo P] [--private] [--revision R]
    python -m ae_vae push-all WEIGHTS_DIR REPO_ID [--private] [--revision R]
    python -m ae_vae pull REPO_ID [--revision R] [--cache-dir D]
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Sequence
from pathlib import Path

from huggingface_hub import HfApi, ResolvedRevision, constants, get_token, snapshot_download
from huggingface_hub.file_download import REGEX_COMMIT_HASH, repo_folder_name
from huggingface_hub.utils import HFValidationError, validate_repo_id

from .errors import HubError, WeightsError
from .fileio import atomic_write_text, describe_hub_error, first_line, refuse_pickles
from .folders import BetaFolder, ModelFolder, load_beta_folder, load_model_folder
from .training.cards import render_model_card

logger = logging.getLogger(__name__)

MODEL_NAMES: tuple[str, ...] = ("mnist-ae", "mnist-vae", "fashion_mnist-ae", "fashion_mnist-vae")
# The β-conditioned VAEs' folders (`<dataset>-beta-vae`): optional, served when present.
BETA_NAMES: tuple[str, ...] = ("mnist-beta-vae", "fashion_mnist-beta-vae")
# What a weights folder may publish: weights, config/metrics/embeddings, the page's ONNX graphs, the card, figures.
ALLOWED_PATTERNS: tuple[str, ...] = ("*.safetensors", "*.json", "*.onnx", "*.md", "*.png", "*.jpg", "*.gif")
# Never uploaded: checkpoints (optimizer state, big, not for users) and hidden/temp files.
IGNORE_PATTERNS: tuple[str, ...] = ("checkpoints/**", "checkpoints/*", ".*", "*/.*")
# What the app cannot serve a model without (the prior and the neighbour points are optional).
REQUIRED_FILES: tuple[str, ...] = ("config.json", "model.safetensors", "encoder.onnx", "decoder.onnx",
                                   "embeddings.safetensors")
# What a β folder cannot be served without (it has no maps, neighbour points or prior; its curve is in metrics.json).
BETA_REQUIRED_FILES: tuple[str, ...] = ("config.json", "model.safetensors", "encoder.onnx", "decoder.onnx",
                                        "metrics.json")
NO_TOKEN_MESSAGE = "no Hugging Face token: set HF_TOKEN or run `hf auth login`"

_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


# ---------------------------------------------------------------------------------------------- checks


def check_repo_id(repo_id: str) -> str:
    """`namespace/name` with Hub-legal characters; a bare name would land in whoever owns the token."""
    if not isinstance(repo_id, str) or repo_id.count("/") != 1:
        raise HubError(f"Hub repo id must look like 'user/name', got {repo_id!r}")
    try:
        validate_repo_id(repo_id)
    except HFValidationError as exc:
        raise HubError(f"invalid Hub repo id {repo_id!r}: {first_line(exc)}") from exc
    return repo_id


def resolve_token(token: str | None = None) -> str:
    """The explicit token, else HF_TOKEN / `hf auth login`; pushing without one is pointless."""
    if token:
        return token
    try:
        found = get_token()
    except Exception as exc:  # e.g. a failing OIDC exchange when HF_OIDC_RESOURCE is set
        raise HubError(f"cannot read the Hugging Face token: {first_line(exc)}") from exc
    if not found:
        raise HubError(NO_TOKEN_MESSAGE)
    return found


def check_push_target(repo_id: str, token: str | None = None) -> None:
    """Cheap, offline pre-flight for `train.py --push-to-hub`: fail before hours of training, not after."""
    check_repo_id(repo_id)
    resolve_token(token)


def check_names(names: Sequence[str]) -> tuple[str, ...]:
    names = tuple(names)
    if not names:
        raise HubError("no model names given")
    for name in names:
        if not isinstance(name, str) or not _SAFE_NAME.match(name):
            raise HubError(f"model folder name must be letters, digits, '_', '-', '.', got {name!r}")
    return names


def optional_names(optional: Sequence[str], names: Sequence[str]) -> tuple[str, ...]:
    """`optional` checked like `check_names` but possibly empty, less any name that is required anyway."""
    optional = tuple(optional)
    return tuple(name for name in (check_names(optional) if optional else ()) if name not in names)


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
    from .models.loading import load_model  # torch: pushing is done where the models were trained

    try:
        load_model(folder)
    except WeightsError as exc:
        raise HubError(f"not pushing {folder}: {exc}") from exc
    return folder


# ---------------------------------------------------------------------------------------------- push


def _write_card(folder: Path, card_repo_id: str | None) -> None:
    """Re-render README.md for where the folder is going; only when metrics exist to fill it."""
    if not (folder / "metrics.json").is_file():
        logger.info("%s has no metrics.json: keeping its README.md as is", folder)
        return
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
             optional: Sequence[str] = BETA_NAMES, private: bool = False, revision: str | None = None,
             token: str | None = None, endpoint: str | None = None) -> str:
    """Upload `weights_dir/<name>/` for every name, and for each `optional` name whose folder is there, into one
    repo, in ONE commit; returns its URL.

    One commit (not one per model) so that a pull never sees new and old models mixed. An optional folder that is
    there is checked like the required ones (no pickle-capable file, its weights load), and one that fails stops
    the push: pushing is deliberate, unlike a pull, which leaves a broken optional folder out.
    """
    weights_dir = Path(weights_dir)
    if not weights_dir.is_dir():
        raise HubError(f"{weights_dir}: not a folder")
    required = check_names(names)
    check_repo_id(repo_id)
    token = resolve_token(token)
    for name in required:
        if not (weights_dir / name).is_dir():
            raise HubError(f"{weights_dir / name}: not a folder (push-all needs {', '.join(required)})")
    names = required + tuple(name for name in optional_names(optional, required) if (weights_dir / name).is_dir())
    for name in names:
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


def _snapshot_patterns(names: tuple[str, ...]) -> tuple[list[str], list[str]]:
    allow = [f"{name}/{pattern}" for name in names for pattern in ALLOWED_PATTERNS]
    ignore = [f"{name}/*/*" for name in names]  # only files directly inside each model folder
    return allow, ignore


def load_beta_folders(root: str | os.PathLike, names: Sequence[str] = BETA_NAMES, *,
                      where: str | None = None) -> dict[str, BetaFolder]:
    """Each `root/<name>/` that is there, loaded with `load_beta_folder`; one that lacks a `BETA_REQUIRED_FILES`
    file, does not load, or holds another model than its name says is left out with a warning saying why.

    The β folders are extras beside the four required models: a broken one must never keep those from being
    served (the Hub pull, its cached copy and the bundled weights all load them through here). `where` names
    the source in the warning (default: `root`).
    """
    root = Path(root)
    found: dict[str, BetaFolder] = {}
    for name in names:
        folder = root / name
        if not folder.is_dir():
            continue
        missing = [file for file in BETA_REQUIRED_FILES if not (folder / file).is_file()]
        try:
            if missing:
                raise WeightsError(f"{folder}: no {', '.join(missing)}")
            loaded = load_beta_folder(folder)
            if loaded.name != name:
                raise WeightsError(f"{folder / 'config.json'}: describes {loaded.name}, not {name}")
        except Exception as exc:  # noqa: BLE001 - whatever is wrong with an extra, the four are still served
            reason = str(exc) if isinstance(exc, WeightsError) else f"{type(exc).__name__}: {first_line(exc)}"
            logger.warning("leaving out the β-conditioned VAE %s of %s: %s", name, where or root, reason)
            continue
        found[name] = loaded
    return found


def _validate_snapshot(snapshot: Path, names: tuple[str, ...], optional: tuple[str, ...],
                       repo_id: str) -> dict[str, ModelFolder | BetaFolder]:
    """Each model folder has the required files and loads whole (`load_model_folder`: weights, maps, neighbour
    points, a prior that belongs to the weights); a `WeightsError` names a bad file. Then the optional β folders
    the snapshot holds (`load_beta_folders`: a bad one is left out, with a warning)."""
    folders: dict[str, ModelFolder | BetaFolder] = {}
    for name in names:
        folder = snapshot / name
        for required in REQUIRED_FILES:
            if not (folder / required).is_file():
                raise HubError(f"Hub repo {repo_id} has no {name}/{required}")
        folders[name] = load_model_folder(folder)
    folders.update(load_beta_folders(snapshot, optional, where=f"Hub repo {repo_id}"))
    return folders


def _cached_snapshot(repo_id: str, names: tuple[str, ...], revision: str | None,
                     cache_dir: str | os.PathLike | None) -> Path:
    """The cached snapshot's folder, offline; the client raises unless it holds every file of `names` that the
    commit's cached listing has."""
    allow, ignore = _snapshot_patterns(names)
    return Path(snapshot_download(repo_id, revision=revision, cache_dir=cache_dir, local_files_only=True,
                                  allow_patterns=allow, ignore_patterns=ignore))


def _remember_revision(repo_id: str, revision: str | None, commit: str, cache_dir: str | os.PathLike | None) -> None:
    """Point the cache's `refs/<revision>` at a commit we validated, so offline pulls find it.

    We download by commit sha (the one whose file list we checked), which the client does not
    record under refs/; we write it only after validation so a refused or broken commit never
    shadows an older good copy in the cache. Layout: `<cache>/models--ns--name/refs/<revision>`.
    """
    revision = revision or constants.DEFAULT_REVISION
    if REGEX_COMMIT_HASH.fullmatch(revision):
        return
    root = Path(cache_dir or constants.HF_HUB_CACHE).expanduser().resolve()
    ref = root / repo_folder_name(repo_id=repo_id, repo_type="model") / "refs" / revision
    try:
        atomic_write_text(ref, commit)  # no newline: the client reads the file verbatim
    except OSError as exc:
        logger.warning("could not record %s -> %s in the Hub cache: %s", revision, commit, exc)


def pull_models(repo_id: str, names: Sequence[str] = MODEL_NAMES, *, optional: Sequence[str] = BETA_NAMES,
                revision: str | None = None, cache_dir: str | os.PathLike | None = None,
                endpoint: str | None = None, token: str | bool | None = None, local_files_only: bool = False,
                timeout: float | None = None) -> dict[str, ModelFolder | BetaFolder]:
    """Download `<name>/` folders of a multi-model repo into the HF cache; return name -> the loaded folder.

    Repo layout: one model repo with one sub-folder per name in `MODEL_NAMES` (`mnist-ae/`,
    `mnist-vae/`, `fashion_mnist-ae/`, `fashion_mnist-vae/`), each holding `config.json`,
    `model.safetensors` and the other files train.py writes (see the module docstring), and
    possibly the `optional` ones (`BETA_NAMES`: the β-conditioned VAEs).

    Refuses (`UnsafeRepoError`) a repo carrying any pickle-capable file; downloads only
    `ALLOWED_PATTERNS` directly inside the requested folders, pinned to the commit whose listing
    was checked; loads each folder whole, once (`WeightsError` naming a truncated/mismatched file).
    An optional folder comes the same way when the repo has one, as a `BetaFolder`; one that is
    incomplete or does not load is left out with a warning, never failing the pull.
    `local_files_only=True` uses the last copy that passed these checks. `timeout` bounds each
    metadata request (default: HF_HUB_ETAG_TIMEOUT, 10 s).
    """
    check_repo_id(repo_id)
    names = check_names(names)
    optional = optional_names(optional, names)
    timeout = float(timeout if timeout is not None else constants.HF_HUB_ETAG_TIMEOUT)
    if local_files_only:
        try:
            snapshot = _cached_snapshot(repo_id, names, revision, cache_dir)
        except Exception as exc:
            raise HubError(f"no usable cached copy of Hub repo {repo_id}: "
                           f"{describe_hub_error(exc, repo_id, endpoint)}") from exc
        cached = []
        for name in optional:  # one at a time: a β folder not cached whole must not make the four unusable
            try:
                _cached_snapshot(repo_id, (name,), revision, cache_dir)
            except Exception as exc:  # noqa: BLE001 - e.g. left out of the download as incomplete
                logger.info("not using %s of the cached copy of Hub repo %s: %s", name, repo_id, first_line(exc))
            else:
                cached.append(name)
        optional = tuple(cached)
        refuse_pickles((p.relative_to(snapshot).as_posix() for name in names + optional
                        for p in (snapshot / name).rglob("*")), f"cached copy of Hub repo {repo_id}")
        return _validate_snapshot(snapshot, names, optional, repo_id)

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
    present = []
    for name in (name for name in optional if any(file.startswith(f"{name}/") for file in files)):
        lacking = [file for file in BETA_REQUIRED_FILES if f"{name}/{file}" not in files]
        if lacking:  # not downloaded: it could not be served anyway
            logger.warning("leaving out the β-conditioned VAE %s of Hub repo %s: it has no %s", name, repo_id,
                           ", ".join(lacking))
        else:
            present.append(name)
    optional = tuple(present)
    allow, ignore = _snapshot_patterns(names + optional)
    pinned = ResolvedRevision(info.sha, initial=revision, repo_id=repo_id, repo_type="model")
    try:
        snapshot = Path(snapshot_download(repo_id, revision=pinned, cache_dir=cache_dir, endpoint=endpoint,
                                          token=token, allow_patterns=allow, ignore_patterns=ignore,
                                          etag_timeout=timeout, max_workers=4))
    except Exception as exc:
        raise HubError(f"cannot download Hub repo {repo_id}: {describe_hub_error(exc, repo_id, endpoint)}") from exc
    folders = _validate_snapshot(snapshot, names, optional, repo_id)
    _remember_revision(repo_id, revision, info.sha, cache_dir)
    logger.info("pulled %s from Hub repo %s (commit %s)", ", ".join(folders), repo_id, info.sha[:7])
    return folders
