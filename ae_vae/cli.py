"""The library's commands, under one entry: `python -m ae_vae <command>` (`--help` on each says everything).

    push DIR REPO_ID              one weights folder to a Hub model repo
    push-all WEIGHTS_DIR REPO_ID  the app's four models (and its β-conditioned VAEs) into one repo, one commit
    pull REPO_ID                  download and check the app's four models (and its β-conditioned VAEs)
    refit-prior FOLDER...         fit a folder's prior.safetensors again and re-measure its sample quality
    check-prior FOLDER...         check that a folder's prior belongs to its weights
    store-points FOLDER...        store the neighbour search's points in a folder written before they were stored
    train-judge                   train the judge classifier that scores generated images
    export-onnx FOLDER...         write a folder's encoder.onnx and decoder.onnx, the graphs the page runs

Every problem is one line on stderr and exit status 2; `-v` logs progress. `pull` and `check-prior` need only the
app's requirements; the others build or read models with torch and say so where it is missing
(`requirements-train.txt`).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Callable
from pathlib import Path

from huggingface_hub import constants

from .checks import COUNT, NONE_OR_MORE, SEED, number_in_range, option
from .data import DATASETS, default_data_dir, load_dataset, normalize_dataset_name
from .errors import TRAINING_REQUIREMENTS, AeVaeError, missing_training_module
from .fileio import describe_hub_error
from .hub import BETA_NAMES, MODEL_NAMES, pull_models, push_all, push_folder
from .latent.maps import DEFAULT_NEIGHBOUR_POINTS
from .latent.priors import (
    CLASS_FILTERS,
    COVARIANCE_TYPES,
    DEFAULT_CLASS_COMPONENTS,
    DEFAULT_CLASS_FILTER,
    DEFAULT_COMPONENTS,
    DEFAULT_COVARIANCE,
    DEFAULT_MIN_CONFIDENCE,
    DEFAULT_UNCONDITIONAL,
    PRIOR_FILE,
    UNCONDITIONAL_KINDS,
    GaussianMixturePrior,
)

logger = logging.getLogger("ae_vae")
DATA_DIR_HELP = "torchvision data root holding MNIST/raw and FashionMNIST/raw (default: $AE_VAE_DATA_DIR or ./data)"


def _push(args: argparse.Namespace) -> None:
    url = push_folder(args.folder, args.repo_id, path_in_repo=args.path_in_repo, private=args.private,
                      revision=args.revision)
    print(f"pushed {args.folder} -> {url}")


def _push_all(args: argparse.Namespace) -> None:
    url = push_all(args.weights_dir, args.repo_id, private=args.private, revision=args.revision)
    betas = [name for name in BETA_NAMES if (Path(args.weights_dir) / name).is_dir()]
    print(f"pushed {', '.join(MODEL_NAMES + tuple(betas))} -> {url}")


def _pull(args: argparse.Namespace) -> None:
    for name, folder in pull_models(args.repo_id, revision=args.revision, cache_dir=args.cache_dir).items():
        print(f"{name}: {folder.path}")


def _plain_models(folders: list[str], what: str) -> None:
    """Refuse a β-conditioned VAE's folder for a command about a fixed code space: its codes change with β, so it has
    no fitted prior, maps or neighbour points."""
    from .models.config import read_config

    for folder in folders:
        if read_config(folder).model_type == "beta-vae":
            raise AeVaeError(f"{folder}: holds a β-conditioned VAE, whose codes change with β: it has no {what} "
                             "(this command is for AE and VAE folders)")


def _refit_prior(args: argparse.Namespace) -> None:
    from threadpoolctl import threadpool_limits  # scikit-learn's; only the fit needs it

    from .training.artifacts import refit_prior

    options = {"class_filter": args.class_filter, "min_confidence": args.min_confidence,
               "unconditional": args.unconditional, "n_components": args.components,
               "class_components": args.class_components, "covariance_type": args.covariance}
    use_judge = args.judge_dir is None or args.judge_dir.lower() != "none"
    if use_judge and args.judge_dir is not None and not Path(args.judge_dir).is_dir():
        raise AeVaeError(f"--judge-dir {args.judge_dir}: no such folder ('none' refits without a judge)")
    _plain_models(args.folders, "fitted prior")
    for folder in args.folders:
        with threadpool_limits(args.threads):
            metrics = refit_prior(folder, args.data_dir, args.judge_dir if use_judge else None, use_judge=use_judge,
                                  seed=args.seed, prior_samples=args.samples, **options)
        print(f"{folder}: wrote {Path(folder) / PRIOR_FILE}; sample quality "
              f"{json.dumps(metrics.get('sample_quality', 'not measured (no judge)'), sort_keys=True)}")


def _check_prior(args: argparse.Namespace) -> None:
    _plain_models(args.folders, "fitted prior")
    for folder in args.folders:
        GaussianMixturePrior.from_pretrained(folder, weights=folder)
        print(f"{Path(folder) / PRIOR_FILE}: belongs to {Path(folder) / 'model.safetensors'}")


def _export_onnx(args: argparse.Namespace) -> None:
    from .models.graphs import export_graphs

    for folder in args.folders:
        written = export_graphs(folder)
        print(f"{folder}: wrote " + ", ".join(f"{p.name} ({p.stat().st_size / 1e6:.1f} MB)" for p in written))


def _store_points(args: argparse.Namespace) -> None:
    from .training.artifacts import store_points

    _plain_models(args.folders, "stored map or neighbour points")
    for folder in args.folders:
        n, m = store_points(folder, args.data_dir, args.neighbour_points)
        print(f"{folder}: stored the images of {n} test points and {m} training points")


def _train_judge(args: argparse.Namespace) -> None:
    from .training.judge import train_judge_folder

    dataset = normalize_dataset_name(args.dataset)
    train, test = load_dataset(dataset, args.data_dir, download=False)
    card = train_judge_folder(dataset, train, test, args.output, epochs=args.epochs, seed=args.seed,
                              max_shift=args.max_shift)
    print(f"{dataset} judge: test accuracy {card.test_accuracy:.4f}; wrote {args.output}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m ae_vae", formatter_class=argparse.RawDescriptionHelpFormatter,
                                     description=__doc__.split("\n\n")[1])
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress (INFO) on stderr")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, run: Callable[[argparse.Namespace], None], help_text: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text, description=help_text,
                                  formatter_class=argparse.ArgumentDefaultsHelpFormatter)
        sub.set_defaults(run=run)
        return sub

    hub_note = " The token comes from HF_TOKEN or `hf auth login`; HF_ENDPOINT selects another Hub."
    push = command("push", _push, "Push one weights folder (what train.py writes) to a model repo." + hub_note)
    push.add_argument("folder", metavar="DIR", help="weights folder with config.json and model.safetensors")
    push.add_argument("repo_id", metavar="REPO_ID", help="target model repo, user/name")
    push.add_argument("--path-in-repo", default=None, help="sub-folder in the repo; None: the repo root")
    push_every = command("push-all", _push_all, "Push WEIGHTS_DIR/<name>/ for " + ", ".join(MODEL_NAMES)
                         + " (and " + ", ".join(BETA_NAMES) + " where there) into one repo, one sub-folder each, "
                         "in one commit." + hub_note)
    push_every.add_argument("weights_dir", metavar="WEIGHTS_DIR", help="folder holding the four model folders")
    push_every.add_argument("repo_id", metavar="REPO_ID", help="target model repo, user/name")
    for sub in (push, push_every):
        sub.add_argument("--private", action="store_true", help="create the repo as private (if it does not exist)")
        sub.add_argument("--revision", default=constants.DEFAULT_REVISION, help="branch to push to, created if missing")
    pull = command("pull", _pull, "Download the four model folders of REPO_ID (and its β-conditioned VAEs' folders, "
                                  "where it has them) into the HF cache and check that each loads whole." + hub_note)
    pull.add_argument("repo_id", metavar="REPO_ID", help="model repo holding one sub-folder per model")
    pull.add_argument("--revision", default=constants.DEFAULT_REVISION, help="branch, tag or commit")
    pull.add_argument("--cache-dir", default=constants.HF_HUB_CACHE, help="HF cache folder (HF_HUB_CACHE)")

    refit = command("refit-prior", _refit_prior, "Fit each folder's prior.safetensors to its training codes again, "
                                                 "re-measure its sample quality into metrics.json (with a judge) and "
                                                 "re-render its card.")
    refit.add_argument("folders", nargs="+", metavar="FOLDER", help="weights folders, e.g. weights/mnist-vae")
    refit.add_argument("--judge-dir", default=None,
                       help="judge folder for the class filter and the sample quality (default: "
                            "<folder>/../judge-<dataset>; 'none': no judge)")
    refit.add_argument("--class-filter", choices=CLASS_FILTERS, default=DEFAULT_CLASS_FILTER,
                       help="which training codes the per-class mixtures are fitted to (without a judge: all)")
    refit.add_argument("--min-confidence", type=option(number_in_range, 0, 1), default=DEFAULT_MIN_CONFIDENCE,
                       help="judge probability of the label a kept reconstruction needs")
    refit.add_argument("--unconditional", choices=UNCONDITIONAL_KINDS, default=DEFAULT_UNCONDITIONAL,
                       help="the class-free mixture: the class mixtures together, or one fitted to all codes")
    refit.add_argument("--components", type=COUNT, default=DEFAULT_COMPONENTS,
                       help="components of the class-free mixture when --unconditional fitted")
    refit.add_argument("--class-components", type=COUNT, default=DEFAULT_CLASS_COMPONENTS, help="components per class")
    refit.add_argument("--covariance", choices=COVARIANCE_TYPES, default=DEFAULT_COVARIANCE, help="covariance type")
    refit.add_argument("--samples", type=COUNT, default=10_000, help="decoded samples per prior for the sample quality")
    refit.add_argument("--seed", type=SEED, default=0, help="EM initialisation and sampling seed")
    check = command("check-prior", _check_prior, "Check that each folder's prior.safetensors belongs to its weights.")
    check.add_argument("folders", nargs="+", metavar="FOLDER", help="weights folders")
    points = command("store-points", _store_points,
                     "Store the images of the maps' test points, the training points the neighbour search looks at "
                     "(neighbours.safetensors) and the one Gaussian fitted to the training codes, in folders written "
                     "before they were stored; no map changes.")
    points.add_argument("folders", nargs="+", metavar="FOLDER", help="weights folders, e.g. weights/mnist-ae")
    points.add_argument("--neighbour-points", type=NONE_OR_MORE, default=DEFAULT_NEIGHBOUR_POINTS,
                        help="training images stored for the neighbour search (0: none)")
    judge = command("train-judge", _train_judge, "Train the judge classifier of a data set and write its folder.")
    judge.add_argument("--dataset", required=True, help=f"one of {', '.join(DATASETS)}")
    judge.add_argument("--output", required=True, help="folder to write (e.g. weights/judge-mnist)")
    judge.add_argument("--epochs", type=COUNT, default=3, help="training epochs")
    judge.add_argument("--max-shift", type=NONE_OR_MORE, default=0, help="random translations of up to this many pixels")
    judge.add_argument("--seed", type=SEED, default=0, help="random seed")
    graphs = command("export-onnx", _export_onnx,
                     "Write each folder's encoder and decoder as ONNX graphs (encoder.onnx, decoder.onnx), which the "
                     "page and the app run; each records the SHA-256 of the folder's model.safetensors and is checked "
                     "against config.json.")
    graphs.add_argument("folders", nargs="+", metavar="FOLDER", help="weights folders, e.g. weights/mnist-vae")
    for sub in (refit, points, judge):
        sub.add_argument("--data-dir", default=default_data_dir(), help=DATA_DIR_HELP)
        sub.add_argument("--threads", type=COUNT, default=1, help="torch (and BLAS) threads: the CPU may be shared")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        if hasattr(args, "threads"):
            import torch

            torch.set_num_threads(args.threads)
        args.run(args)
    except AeVaeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # a command's contract: one line on stderr, no traceback (details with -v)
        missing = missing_training_module(exc)
        if missing is not None:
            print(f"error: `python -m ae_vae {args.command}` needs {missing}, which the app's requirements do not "
                  f"install: {TRAINING_REQUIREMENTS}", file=sys.stderr)
            return 2
        logger.info("unexpected error", exc_info=True)
        print(f"error: {describe_hub_error(exc, getattr(args, 'repo_id', '?'))}", file=sys.stderr)
        return 2
    return 0
