"""Which weights the app uses, from where, within a deadline — and the app's loader on top of it.

The Space reads its four models (and the optional β-conditioned VAEs, where the source has them) from a
Hub repo when one is configured, else from the bundled `weights/`; a Hub that does not answer within
`timeout` seconds (the client itself would retry for ~23 s) must not keep the app from starting, so the
pull runs with a hard deadline and falls back to the Hub cache, then to the bundled folder, with a notice
saying which and why. A β folder is an extra: a broken one is left out with a warning, never a fallback.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from ..data import DATASETS
from ..errors import UnsafeRepoError, WeightsError
from ..fileio import describe_hub_error, first_line, timed_out
from ..folders import BetaFolder, ModelFolder, load_beta_folder, load_model_folder
from ..hub import BETA_NAMES, MODEL_NAMES, check_names, load_beta_folders, optional_names, pull_models
from ..models.config import read_config
from .explorer import Explorer, load_dataset_models
from .knob import BetaKnob

logger = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass
class WeightsSource:
    """Which weights the app uses: `origin` is "hub", "hub-cache" or "bundled"; `notice` says why.

    `folders` maps the four `MODEL_NAMES` to their `ModelFolder`s and each β-conditioned VAE the source has
    (`BETA_NAMES`) to its `BetaFolder` (`beta_folders` picks those out)."""

    folders: dict[str, ModelFolder | BetaFolder]  # loaded once, by whoever validated them
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


def _bundled(bundled_dir: Path, names: tuple[str, ...], why: str,
             optional: tuple[str, ...] = BETA_NAMES) -> WeightsSource:
    """The bundled folders: each of `names` must load; each of `optional` there is loaded, or left out with a
    warning (`load_beta_folders`)."""
    folders: dict[str, ModelFolder | BetaFolder] = {}
    for name in names:
        try:
            folders[name] = load_model_folder(bundled_dir / name)
        except WeightsError as exc:
            raise WeightsError(f"{why}, and the bundled weights are unusable: {exc}") from exc
    label = f"{bundled_dir.name}/" if bundled_dir.name else str(bundled_dir)
    folders.update(load_beta_folders(bundled_dir, optional, where=f"the bundled weights in {label}"))
    return WeightsSource(folders, "bundled", f"{why}; using the bundled weights in {label}")


def resolve_model_folders(hub_repo: str | None, bundled_dir: str | os.PathLike, *,
                          names: Sequence[str] = MODEL_NAMES, optional: Sequence[str] = BETA_NAMES,
                          revision: str | None = None, cache_dir: str | os.PathLike | None = None,
                          endpoint: str | None = None, token: str | bool | None = None,
                          timeout: float = 5.0) -> WeightsSource:
    """Pick the weights for the app: the Hub repo, else its cached copy, else the bundled folder.

    The Hub pull runs in a daemon thread with a hard deadline of `timeout` seconds (the client
    can retry for ~23 s when nothing answers; the app must start anyway). Never raises for Hub
    problems; raises `WeightsError` only if the fallback bundled weights are missing or broken.
    The `optional` folders (the β-conditioned VAEs) come from the same source as the four, where
    it has them; a broken one is left out with a warning and decides nothing.
    """
    bundled_dir = Path(bundled_dir)
    names = check_names(names)
    optional = optional_names(optional, names)
    if hub_repo is None:
        label = f"{bundled_dir.name}/" if bundled_dir.name else str(bundled_dir)
        source = _bundled(bundled_dir, names, "no Hub repo configured", optional)
        source.notice = f"Using the bundled weights in {label} (no Hub repo configured)"
        logger.info("%s", source.notice)
        return source
    if not timeout > 0:
        raise ValueError(f"timeout must be positive, got {timeout!r}")

    common: dict[str, Any] = {"names": names, "optional": optional, "revision": revision, "cache_dir": cache_dir,
                              "endpoint": endpoint, "token": token}
    finished, folders, error = _run_with_deadline(lambda: pull_models(hub_repo, timeout=timeout, **common), timeout)
    if finished and error is None and folders is not None:
        commit = next(iter(folders.values())).path.parent.name[:7]
        source = WeightsSource(folders, "hub", f"Using the weights from Hub repo {hub_repo} (commit {commit})")
        logger.info("%s", source.notice)
        return source
    prefix = f"Hub repo {hub_repo} "
    if not finished or timed_out(error):  # the request timeout (= deadline) may fire just before it
        why = f"{prefix}did not answer within {timeout:g} s"
    elif isinstance(error, UnsafeRepoError):
        why = f"{prefix}was refused: it carries pickle file {error.path}"
    else:
        reason = describe_hub_error(error, hub_repo, endpoint, revision)
        why = prefix + reason.removeprefix(prefix) if reason.startswith(prefix) else f"{prefix}failed: {reason}"
    try:
        cached = pull_models(hub_repo, local_files_only=True, **common)
    except Exception as exc:  # noqa: BLE001 - any cache problem means: fall back to bundled
        logger.info("no usable cached copy of %s: %s", hub_repo, first_line(exc))
        source = _bundled(bundled_dir, names, why, optional)
    else:
        commit = next(iter(cached.values())).path.parent.name[:7]
        source = WeightsSource(cached, "hub-cache", f"{why}; using the cached copy from the Hub cache "
                                                    f"(commit {commit})")
    logger.warning("%s", source.notice)
    return source


KIND_NAMES = {"ae": "an AE", "vae": "a VAE", "beta-vae": "a β-conditioned VAE"}  # each kind, as a sentence says it
SERVED_KINDS = ("ae", "vae", "beta-vae")  # the kinds the app serves: per data set an AE, a VAE and a β-conditioned VAE


def find_own_models(weights_dir: str | os.PathLike | None = None, ae: Sequence[str | os.PathLike] = (),
                    vae: Sequence[str | os.PathLike] = (), beta_vae: Sequence[str | os.PathLike] = (),
                    ) -> dict[str, ModelFolder | BetaFolder]:
    """The user's own model folders by app name (`mnist-ae`, ..., `mnist-beta-vae`), each loaded whole: an AE or
    VAE as a `ModelFolder` (a prior that does not belong to its weights is left out, with the reason, rather than
    refused), a β-conditioned VAE as a `BetaFolder`.

    `weights_dir` is a `train.py` output folder or a folder holding any of the four model folders and the
    β-conditioned VAEs' (`<dataset>-beta-vae`); `ae` / `vae` / `beta_vae` are `train.py` output folders of that
    kind. The data set and kind come from each folder's `config.json`, so a folder can be named anything. Raises
    `WeightsError` (one line naming the folder or file) for anything unusable: the user asked for these folders,
    so a broken one is an error, not a warning.
    """
    found: dict[str, ModelFolder | BetaFolder] = {}

    def add(folder: Path, kind: str | None) -> None:
        if not folder.is_dir():
            raise WeightsError(f"{folder}: not a folder")
        config = read_config(folder)
        described = KIND_NAMES.get(config.model_type, repr(config.model_type))
        if config.model_type not in SERVED_KINDS:
            raise WeightsError(f"{folder}: its config.json describes {described}; the app serves AE, VAE and "
                               "β-conditioned VAE folders only")
        if kind is not None and config.model_type != kind:
            raise WeightsError(f"{folder}: --{kind} needs {KIND_NAMES[kind]} folder, but its config.json "
                               f"describes {described}")
        name = f"{config.dataset}-{config.model_type}"
        if name in found and found[name].path != folder:
            raise WeightsError(f"two folders for {name}: {found[name].path} and {folder}")
        if name not in found:
            found[name] = (load_beta_folder(folder) if config.model_type == "beta-vae"
                           else load_model_folder(folder, strict_prior=False))

    if weights_dir is not None:
        weights_dir = Path(weights_dir)
        if not weights_dir.is_dir():
            raise WeightsError(f"{weights_dir}: not a folder")
        if (weights_dir / "config.json").is_file():
            add(weights_dir, None)
        else:
            known = MODEL_NAMES + BETA_NAMES
            folders = [weights_dir / name for name in known if (weights_dir / name).is_dir()]
            if not folders:
                raise WeightsError(f"{weights_dir}: holds no model (neither a config.json nor a sub-folder named "
                                   f"{', '.join(known)})")
            for folder in folders:
                add(folder, None)
    for kind, folders in (("ae", ae), ("vae", vae), ("beta-vae", beta_vae)):
        for folder in folders:
            add(Path(folder), kind)
    return found


def with_own_models(source: WeightsSource, own: dict[str, ModelFolder | BetaFolder]) -> WeightsSource:
    """`source` with the user's folders taking the place of the models they provide; the notice says which
    model came from where."""
    if not own:
        return source
    mine = "; ".join(f"{name} from {folder.path}" for name, folder in sorted(own.items()))
    rest = [name for name in source.folders if name not in own]
    notice = f"Using your models: {mine}"
    if rest:
        notice += f". {', '.join(rest)}: {source.notice[0].lower()}{source.notice[1:]}"
    return WeightsSource({**source.folders, **own}, "own" if not rest else f"own+{source.origin}", notice)


def beta_folders(folders: dict[str, Any]) -> dict[str, BetaFolder]:
    """Data set -> its β-conditioned VAE, for the `BetaFolder`s among `folders` (a `WeightsSource`'s, or
    `find_own_models`'); the data set is the one its config.json names. Data sets without one are absent."""
    return {folder.model.config.dataset: folder for folder in folders.values() if isinstance(folder, BetaFolder)}


def load_explorer(hub_repo: str | None, weights_dir: str | os.PathLike, timeout: float = 5.0,
                  own_models: dict[str, ModelFolder | BetaFolder] | None = None, **hub_options: Any) -> Explorer:
    """Load all models once, from the Hub if configured (cached, with fallback), else from `weights_dir`;
    `own_models` (from `find_own_models`) replace the models they provide.

    `hub_options` (endpoint, cache_dir, token, revision) go to `resolve_model_folders`.
    """
    source = with_own_models(resolve_model_folders(hub_repo, weights_dir, timeout=timeout, **hub_options),
                             own_models or {})
    models = {dataset: load_dataset_models(dataset, source.folders[f"{dataset}-ae"], source.folders[f"{dataset}-vae"])
              for dataset in DATASETS}
    knobs = {dataset: BetaKnob(folder) for dataset, folder in beta_folders(source.folders).items()}
    return Explorer(models, source_notice=source.notice, knobs=knobs)
