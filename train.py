"""Train an AE, a VAE or a β-conditioned VAE on MNIST / Fashion-MNIST, evaluate it, and write a Hub-ready folder.

    python train.py --model vae --dataset mnist --data-dir data --output-dir weights/mnist-vae

The output folder gets `model.safetensors`, `config.json`, `metrics.json`,
`embeddings.safetensors`, figures and a `README.md` model card. Checkpoints go to
`<output-dir>/checkpoints` every epoch (atomically); `--resume` continues from the newest.
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import shlex
import shutil
import sys
import time
from pathlib import Path

import torch

from ae_vae.checks import COUNT, NONE_OR_MORE, NOT_NEGATIVE, POSITIVE, SEED
from ae_vae.data import ImageSet, default_data_dir, load_dataset, normalize_dataset_name
from ae_vae.errors import (
    AeVaeError,
    DataNotFoundError,
    DivergedError,
    HubError,
    InputError,
    JudgeError,
    WeightsError,
)
from ae_vae.fileio import atomic_write_json, atomic_write_text
from ae_vae.hub import check_push_target, push_folder
from ae_vae.latent.maps import DEFAULT_NEIGHBOUR_POINTS
from ae_vae.latent.priors import (
    DEFAULT_CLASS_COMPONENTS,
    DEFAULT_COMPONENTS,
    DEFAULT_UNCONDITIONAL,
    UNCONDITIONAL_KINDS,
)
from ae_vae.models.autoencoder import AutoEncoder
from ae_vae.models.beta_vae import BetaVAE
from ae_vae.models.config import DEFAULT_BETA_RANGE, AutoEncoderConfig, BetaVAEConfig, VAEConfig, check_beta_range
from ae_vae.models.judge import Judge, load_judge
from ae_vae.models.loading import load_model
from ae_vae.models.vae import VAE
from ae_vae.training.artifacts import finalize_run, machine_description
from ae_vae.training.beta_curve import finalize_beta_run
from ae_vae.training.cards import render_model_card
from ae_vae.training.figures import EpochVisualizer
from ae_vae.training.loop import (
    Schedule,
    TrainState,
    build_optimizer,
    changed_settings,
    checkpoint_arguments,
    evaluate_terms,
    latest_checkpoint,
    load_checkpoint,
    run_arguments,
    save_checkpoint,
    train_epoch,
)

logger = logging.getLogger("train")
ROOT = Path(__file__).resolve().parent
DEFAULT_OUTPUT_DIR = "runs/<dataset>-<model>"  # shown by --help, filled in by parse_args
UNFINISHED = ".unfinished"  # the sub-folder a run's files are written in before they replace the output folder's
# --quick: one epoch over a third of the training split and a lighter evaluation and artifacts, so a first run
# finishes in minutes on a CPU (measured by bench/quick_training.py).
QUICK = {"epochs": 1, "train_images": 20_000, "iwae_samples": 20, "iwae_images": 200, "embedding_points": 1000,
         "neighbour_points": 2000, "prior_samples": 1000}


def _lower(value: str) -> str:
    return value.strip().lower()


def _dataset(value: str) -> str:
    """A data set's name as `normalize_dataset_name` accepts it; argparse says why another is refused (it would
    only say "invalid value")."""
    try:
        return normalize_dataset_name(value)
    except InputError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Train an autoencoder (AE), a variational autoencoder (VAE) or a β-conditioned VAE (one network "
                    "for every KL weight β in a range) on MNIST or Fashion-MNIST.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--model", type=_lower, choices=["ae", "vae", "beta-vae"], default="vae",
                        help="model type (accepted in any case)")
    parser.add_argument("--beta-range", type=float, nargs=2, default=list(DEFAULT_BETA_RANGE), metavar=("LOW", "HIGH"),
                        help="beta-vae: the KL weights it learns, drawn log-uniformly per training image")
    parser.add_argument("--init-from", default=None, metavar="VAE_FOLDER",
                        help="vae or beta-vae: start from a VAE folder's weights (the same shape and data set); a "
                             "beta-vae's conditioning starts at zero, so training begins from that VAE at every β")
    parser.add_argument("--dataset", type=_dataset, default="mnist",
                        help="mnist or fashion_mnist (also: MNIST, FashionMNIST, fashion-mnist)")
    parser.add_argument("--latent-dim", "--latent_dim", dest="latent_dim", type=COUNT, default=32,
                        help="size of the latent code")
    parser.add_argument("--channels", type=COUNT, nargs=2, default=[32, 64], metavar=("C14", "C7"),
                        help="conv channels at 14x14 and 7x7")
    parser.add_argument("--hidden-blocks", "--hidden_blocks", dest="hidden_blocks", type=NONE_OR_MORE, default=1,
                        help="residual blocks per resolution in encoder and decoder")
    parser.add_argument("--ae-loss", "--ae_loss", dest="ae_loss", type=_lower, choices=["bce", "mse"], default="bce",
                        help="AE reconstruction loss")
    parser.add_argument("--epochs", type=COUNT, default=30, help="total number of epochs")
    parser.add_argument("--batch-size", "--batch_size", dest="batch_size", type=COUNT, default=128,
                        help="mini-batch size")
    parser.add_argument("--lr", type=POSITIVE, default=2e-3, help="peak learning rate (Adam, cosine decay)")
    parser.add_argument("--weight-decay", "--weight_decay", dest="weight_decay", type=NOT_NEGATIVE, default=0.0,
                        help="decoupled weight decay of the weight matrices and kernels (AdamW; 0: plain Adam)")
    parser.add_argument("--encoder-noise", "--encoder_noise", dest="encoder_noise", type=NOT_NEGATIVE, default=0.0,
                        help="std of Gaussian pixel noise added to the encoder's input during training; the loss "
                             "still scores the clean image (denoising: regularizes the encoder; 0: none)")
    parser.add_argument("--augment-shift", "--augment_shift", dest="augment_shift", type=NONE_OR_MORE, default=0,
                        help="move each training image by a random whole-pixel offset of up to this many pixels on "
                             "each axis, a fresh one every epoch (augmentation against overfitting; 0: none)")
    parser.add_argument("--prior-matching", "--prior_matching", dest="prior_matching", type=NOT_NEGATIVE, default=0.0,
                        help="weight (nats) of an MMD penalty between each batch's codes and N(0, I) draws, so the codes "
                             "of all images together fill the N(0, I) prior and its samples decode to real-looking "
                             "images (InfoVAE / Wasserstein AE; 0: none; may be switched on with --resume)")
    parser.add_argument("--edge-matching", "--edge_matching", dest="edge_matching", type=NOT_NEGATIVE, default=0.0,
                        help="weight of the squared error of the reconstructions' neighbour-pixel differences, in the "
                             "reconstruction loss's units: weighs thin lines (zips, buttons, collars) up against broad "
                             "areas (0: none; may be switched on with --resume)")
    parser.add_argument("--grad-clip", "--grad_clip", dest="grad_clip", type=NOT_NEGATIVE, default=0.0,
                        help="rescale each step's gradient to at most this global L2 norm, against a rare exploding "
                             "step at a high learning rate (0: none; may change with --resume)")
    parser.add_argument("--validation-images", "--validation_images", dest="validation_images", type=NONE_OR_MORE, default=0,
                        help="hold out this many random training images and log their loss terms every epoch, to "
                             "tune regularization without looking at the test split (0: train on all)")
    parser.add_argument("--kl-warmup-epochs", "--kl_warmup_epochs", dest="kl_warmup_epochs", type=NOT_NEGATIVE, default=5.0,
                        help="VAE, beta-vae: epochs over which the KL weight rises linearly from 0 to its full value")
    parser.add_argument("--kl-weight", type=POSITIVE, default=1.0, metavar="BETA",
                        help="VAE: the KL term's weight β after the warm-up (1: the ELBO; another value trains a "
                             "β-VAE at that β, e.g. to compare with a beta-vae at the same β)")
    parser.add_argument("--seed", type=SEED, default=0, help="random seed")
    parser.add_argument("--data-dir", "--data_dir", dest="data_dir", default=default_data_dir(),
                        help="torchvision data root (holds MNIST/raw, FashionMNIST/raw; downloaded there if absent): "
                             "$AE_VAE_DATA_DIR, else ./data")
    parser.add_argument("--output-dir", "--output_dir", dest="output_dir", default=DEFAULT_OUTPUT_DIR,
                        help="where weights, metrics, embeddings and the model card go")
    parser.add_argument("--device", type=_lower, choices=["auto", "cpu", "cuda", "mps"], default="auto",
                        help="compute device")
    parser.add_argument("--precision", type=_lower, choices=["fp32", "bf16"], default="fp32",
                        help="bf16: mixed-precision forward pass (~2x faster on CPUs with AVX512-BF16); weights, "
                             "optimizer state and evaluation stay fp32")
    parser.add_argument("--threads", type=COUNT, default=os.cpu_count() or 1, help="torch CPU threads")
    parser.add_argument("--resume", action="store_true",
                        help="continue from the newest checkpoint in <output-dir>/checkpoints; a larger --epochs "
                             "stretches the cosine schedule over the new total, so the learning rate first goes back "
                             "up to that schedule's value at the checkpoint's epoch")
    parser.add_argument("--visualize-every", "--visualize_every", dest="visualize_every", type=NONE_OR_MORE, default=0,
                        help="every N epochs write reconstructions, PCA, UMAP, interpolation and prior samples "
                             "to <visu-dir>/<dataset>_<model>/ (0: off)")
    parser.add_argument("--visu-dir", "--visu_dir", dest="visu_dir", default="visu",
                        help="folder for --visualize-every")
    parser.add_argument("--iwae-samples", type=COUNT, default=100, help="VAE: importance samples for the NLL estimate")
    parser.add_argument("--iwae-images", type=COUNT, default=1000, help="VAE: test images for the NLL estimate")
    parser.add_argument("--embedding-points", type=COUNT, default=5000,
                        help="test images whose latents, PCA and UMAP coordinates are stored for the app")
    parser.add_argument("--neighbour-points", type=NONE_OR_MORE, default=DEFAULT_NEIGHBOUR_POINTS,
                        help="training images whose codes and pixels are stored too, searched for a drawing's nearest "
                             "neighbours beside the test points (0: none)")
    parser.add_argument("--judge-dir", default=str(ROOT / "weights" / "judge-<dataset>"),
                        help="the shipped judge classifier: filters the codes of the per-class priors and measures "
                             "sample quality (skipped when the default folder does not exist; 'none' skips it)")
    parser.add_argument("--prior-unconditional", choices=UNCONDITIONAL_KINDS, default=DEFAULT_UNCONDITIONAL,
                        help="the class-free prior: the per-class mixtures together (weighted by class share), or "
                             "one mixture fitted to all training codes")
    parser.add_argument("--prior-components", type=COUNT, default=DEFAULT_COMPONENTS,
                        help="components of the mixture fitted to all training codes (--prior-unconditional fitted)")
    parser.add_argument("--prior-class-components", type=COUNT, default=DEFAULT_CLASS_COMPONENTS,
                        help="components of each class's mixture")
    parser.add_argument("--prior-samples", type=COUNT, default=10_000,
                        help="samples per prior for the sample-quality figures in metrics.json")
    parser.add_argument("--push-to-hub", "--push_to_hub", dest="push_to_hub", default=None, metavar="REPO_ID",
                        help="after training, push the output folder to this Hub model repo (user/name); the token "
                             "comes from HF_TOKEN or `hf auth login`, HF_ENDPOINT selects another Hub")
    parser.add_argument("--private", action="store_true",
                        help="with --push-to-hub: create the repo as private (if it does not exist yet)")
    parser.add_argument("--hub-revision", "--revision", dest="hub_revision", default="main",
                        help="with --push-to-hub: branch to push to, created if missing")
    parser.add_argument("--train-images", type=NONE_OR_MORE, default=0,
                        help="train on the first N training images only (0: all of them)")
    parser.add_argument("--quick", action="store_true",
                        help="a first run in a few minutes: " + ", ".join(f"--{k.replace('_', '-')} {v}"
                                                                         for k, v in QUICK.items())
                             + " (each unless given), to try the pipeline end to end, not to ship")
    args = parser.parse_args(argv)
    if args.quick:
        raw = sys.argv[1:] if argv is None else argv
        given = {action.dest for action in parser._actions for option in action.option_strings
                 if any(item == option or item.startswith(option + "=") for item in raw)}
        for name, value in QUICK.items():
            if name not in given:
                setattr(args, name, value)
    if args.output_dir == DEFAULT_OUTPUT_DIR:
        args.output_dir = str(Path("runs") / f"{args.dataset}-{args.model}")
    judge_given = args.judge_dir != parser.get_default("judge_dir")
    args.judge_dir = args.judge_dir.replace("<dataset>", args.dataset)
    if args.judge_dir.lower() == "none":
        args.judge_dir = None
    elif judge_given and not Path(args.judge_dir).is_dir():
        parser.error(f"--judge-dir {args.judge_dir}: no such folder ('none' trains without a judge)")
    try:
        check_beta_range(args.beta_range, "--beta-range")
    except ValueError as exc:
        parser.error(str(exc))
    if args.kl_weight != 1.0 and args.model != "vae":
        parser.error("--kl-weight: only a vae trains at another KL weight (a beta-vae draws its β from --beta-range)")
    if args.model != "beta-vae" and args.beta_range != list(DEFAULT_BETA_RANGE):
        parser.error("--beta-range: only a beta-vae learns a range of KL weights (a vae trains at one: --kl-weight)")
    if args.init_from and args.model == "ae":
        parser.error("--init-from: only a vae or a beta-vae starts from another model's weights (a VAE's)")
    if (args.private or args.hub_revision != "main") and not args.push_to_hub:
        parser.error("--private and --hub-revision need --push-to-hub")
    args.command = "python train.py " + " ".join(shlex.quote(a) for a in (sys.argv[1:] if argv is None else argv))
    return args


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise SystemExit("error: --device cuda requested but CUDA is not available")
    if name == "mps" and not torch.backends.mps.is_available():
        raise SystemExit("error: --device mps requested but MPS is not available")
    return torch.device(name)


def build_model(args: argparse.Namespace) -> AutoEncoder | VAE | BetaVAE:
    shape = {"latent_dim": args.latent_dim, "channels": tuple(args.channels), "hidden_blocks": args.hidden_blocks,
             "dataset": args.dataset}
    if args.model == "ae":
        return AutoEncoder(AutoEncoderConfig(reconstruction_loss=args.ae_loss, **shape))
    if args.model == "beta-vae":
        return BetaVAE(BetaVAEConfig(beta_range=tuple(args.beta_range), **shape))
    return VAE(VAEConfig(**shape))


def start_from_vae(model: VAE | BetaVAE, folder: str, dataset: str) -> None:
    """Start as the VAE in `folder`: a β-conditioned VAE through `BetaVAE.start_from`, a VAE (one trained at another
    `--kl-weight`, compared with the β-conditioned one on the same recipe) by taking its weights whole. The folder's
    data set and shape must be the run's."""
    vae = load_model(folder)
    if vae.config.dataset != dataset:
        raise ValueError(f"its model was trained on {vae.config.dataset}, this run is on {dataset}")
    if isinstance(model, BetaVAE):
        model.start_from(vae)
        return
    shape = ("model_type", "latent_dim", "channels", "hidden_blocks")
    mine, theirs = ([list(v) if isinstance(v, tuple) else v for v in (getattr(c, k, None) for k in shape)]
                    for c in (model.config, vae.config))
    if mine != theirs:
        raise ValueError("needs a VAE of the same shape (" + ", ".join(f"{k} {v}" for k, v in zip(shape, mine, strict=True))
                         + "); got " + ", ".join(f"{k} {v}" for k, v in zip(shape, theirs, strict=True)))
    model.load_state_dict(vae.state_dict())


def main(args: argparse.Namespace) -> int:
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    device = resolve_device(args.device)
    output_dir = Path(args.output_dir)
    checkpoint_root = output_dir / "checkpoints"

    if args.push_to_hub:
        try:  # fail now, not after hours of training
            check_push_target(args.push_to_hub)
        except HubError as exc:
            logger.error("--push-to-hub: %s", exc)
            return 2

    judge = None
    if args.judge_dir is not None and Path(args.judge_dir).is_dir():
        try:  # read now: its measurements come after training
            judge = load_judge(args.judge_dir)[0]
        except JudgeError as exc:
            logger.error("--judge-dir: %s", exc)
            return 2

    try:
        train_set, test_set = load_dataset(args.dataset, args.data_dir)
    except DataNotFoundError as exc:
        logger.error("%s", exc)
        return 2
    if args.train_images:
        train_set = train_set.subset(min(args.train_images, len(train_set)))
    validation_set = None
    if args.validation_images:
        if args.validation_images >= len(train_set):
            logger.error("--validation-images %d: the training set has only %d images", args.validation_images,
                         len(train_set))
            return 2
        train_set, validation_set = train_set.split_off(args.validation_images, seed=args.seed)
    logger.info("%s: %d train / %s%d test images, device %s, %d threads", args.dataset, len(train_set),
                f"{len(validation_set)} validation / " if validation_set is not None else "", len(test_set), device,
                torch.get_num_threads())

    model = build_model(args)
    if args.init_from and not args.resume:  # (a resumed run's checkpoint holds what it started from)
        try:
            start_from_vae(model, args.init_from, args.dataset)
        except (WeightsError, ValueError) as exc:
            logger.error("--init-from %s: %s", args.init_from, exc)
            return 2
        logger.info("started from the VAE in %s", args.init_from)
    model = model.to(device)
    optimizer = build_optimizer(model, args.lr, args.weight_decay)
    generator = torch.Generator().manual_seed(args.seed)
    state = TrainState()
    if args.resume:
        checkpoint = latest_checkpoint(checkpoint_root)
        if checkpoint is None:
            logger.error("--resume: no checkpoint in %s; run without --resume to start", checkpoint_root)
            return 2
        try:
            different = changed_settings(checkpoint_arguments(checkpoint), run_arguments(vars(args)))
            if different:
                logger.error("--resume: checkpoint was trained with different settings %s; use the same flags or "
                             "a new --output-dir", different)
                return 2
            state = load_checkpoint(checkpoint, model, optimizer, generator)
        except (WeightsError, OSError, KeyError, ValueError) as exc:
            logger.error("--resume: cannot read checkpoint %s: %s", checkpoint, exc)
            return 2
        logger.info("resumed from %s (epoch %d, step %d)", checkpoint, state.epoch, state.step)

    if state.epoch < args.epochs or not state.commands:  # a pure re-finalize adds nothing
        state.commands.append({"command": args.command, "from_epoch": state.epoch})
    steps_per_epoch = -(-len(train_set) // args.batch_size)
    kl_warmup = int(args.kl_warmup_epochs * steps_per_epoch) if args.model != "ae" else 0
    schedule = Schedule(lr=args.lr, total_steps=args.epochs * steps_per_epoch,
                        warmup_steps=min(200, steps_per_epoch), kl_warmup_steps=kl_warmup, kl_weight=args.kl_weight)
    visualizer = None
    if args.visualize_every > 0:
        visualizer = EpochVisualizer(Path(args.visu_dir) / f"{args.dataset}_{args.model}", model, test_set,
                                     args.dataset, seed=args.seed)

    try:
        while state.epoch < args.epochs:
            started = time.perf_counter()
            train_terms = train_epoch(model, optimizer, train_set.images, args.batch_size, schedule, state,
                                      generator, device, description=f"epoch {state.epoch + 1}/{args.epochs}",
                                      autocast_dtype=torch.bfloat16 if args.precision == "bf16" else None,
                                      input_noise=args.encoder_noise, augment_shift=args.augment_shift,
                                      prior_matching=args.prior_matching, grad_clip=args.grad_clip,
                                      edge_matching=args.edge_matching)
            train_seconds = time.perf_counter() - started
            evaluated = {"test": evaluate_terms(model, test_set.images, seed=args.seed, device=device)}
            if validation_set is not None:
                evaluated["val"] = evaluate_terms(model, validation_set.images, seed=args.seed, device=device)
            unusable = {f"{split} {k}": v for split, terms in evaluated.items() for k, v in terms.items()
                        if not math.isfinite(v)}
            if unusable:  # the epoch's last steps broke the weights: not checkpointed
                raise DivergedError(f"evaluating after its last step gave {_fmt(unusable)}")
            state.epoch += 1
            state.seconds += train_seconds
            record = {"epoch": state.epoch, "seconds": round(train_seconds, 2),
                      **{f"{split}_{k}": v for split, terms in {"train": train_terms, **evaluated}.items()
                         for k, v in terms.items()}}
            state.history.append(record)
            logger.info("epoch %d/%d  %.1fs  train %s  %s", state.epoch, args.epochs, train_seconds,
                        _fmt(train_terms), "  ".join(f"{split} {_fmt(terms)}" for split, terms in evaluated.items()))
            save_checkpoint(checkpoint_root, model, optimizer, state, generator, run_arguments(vars(args)))
            if visualizer is not None and state.epoch % args.visualize_every == 0:
                visualizer.write(state.epoch, state.history)
    except KeyboardInterrupt:
        logger.warning("interrupted; the last complete epoch is checkpointed in %s (use --resume)", checkpoint_root)
        return 130
    except DivergedError as exc:
        logger.error("%s", diverged_message(exc, state.epoch + 1, args, output_dir, checkpoint_root))
        return 2

    try:
        finish_folder(model, args, train_set, test_set, output_dir, state, device, judge)
    except AeVaeError as exc:  # a model trained to numbers its prior, curve or judge cannot use
        logger.error("%s was not finished: %s. No file of the folder was replaced; the trained weights are "
                     "checkpointed in %s (epoch %d)", output_dir, exc, checkpoint_root, state.epoch)
        return 2
    logger.info("wrote %s", output_dir)
    if args.push_to_hub:
        try:
            url = push_folder(output_dir, args.push_to_hub, private=args.private, revision=args.hub_revision)
        except HubError as exc:
            later = " ".join(shlex.quote(a) for a in ["python", "-m", "ae_vae", "push", str(output_dir),
                                                      args.push_to_hub] + (["--private"] if args.private else [])
                             + (["--revision", args.hub_revision] if args.hub_revision != "main" else []))
            logger.error("%s; the trained folder stays in %s, push it later with: %s", exc, output_dir, later)
            return 3
        logger.info("pushed to %s", url)
    return 0


def finish_folder(model: AutoEncoder | VAE | BetaVAE, args: argparse.Namespace, train_set: ImageSet,
                  test_set: ImageSet, output_dir: Path, state: TrainState, device: torch.device,
                  judge: Judge | None) -> None:
    """The trained model's folder: weights, graphs and measurements (and, but for a β-conditioned VAE, the prior and
    the maps), its card and training record.

    Written aside (`<output-dir>/.unfinished/<its name>/`, so the card names the folder) and moved into the output
    folder file by file only once every file is written: a run that cannot finish (or a crash meanwhile) leaves the
    model the folder held before, e.g. the run a --resume goes on from, as it was.
    """
    aside = output_dir / UNFINISHED
    shutil.rmtree(aside, ignore_errors=True)  # a crashed run's
    folder = aside / (output_dir.resolve().name or "model")
    folder.mkdir(parents=True)
    try:
        _write_folder(model, args, train_set, test_set, folder, state, device, judge)
        for path in sorted(folder.iterdir()):
            os.replace(path, output_dir / path.name)
    finally:
        shutil.rmtree(aside, ignore_errors=True)


def _write_folder(model: AutoEncoder | VAE | BetaVAE, args: argparse.Namespace, train_set: ImageSet,
                  test_set: ImageSet, output_dir: Path, state: TrainState, device: torch.device,
                  judge: Judge | None) -> None:
    if isinstance(model, BetaVAE):
        finalize_beta_run(model, test_set, output_dir, state.history, seed=args.seed, judge=judge,
                          samples=args.prior_samples, device=device)
        atomic_write_json(output_dir / "training.json", {"commands": state.commands, "args": run_arguments(vars(args)),
                                                         "history": state.history, "machine": machine_description()})
        atomic_write_text(output_dir / "README.md", render_model_card(output_dir))
    else:
        finalize_run(model=model, train_set=train_set, test_set=test_set, output_dir=output_dir,
                     history=state.history, commands=state.commands, train_args=run_arguments(vars(args)),
                     seed=args.seed, iwae_samples=args.iwae_samples, iwae_images=args.iwae_images,
                     embedding_points=args.embedding_points, neighbour_points=args.neighbour_points, device=device,
                     judge=judge,
                     prior_options={"unconditional": args.prior_unconditional, "n_components": args.prior_components,
                                    "class_components": args.prior_class_components},
                     prior_samples=args.prior_samples)


def diverged_message(exc: DivergedError, epoch: int, args: argparse.Namespace, output_dir: Path,
                     checkpoint_root: Path) -> str:
    """One line: where training diverged, that no model was written, and what to try."""
    if epoch > 1:  # the epochs before it are checkpointed (by this run, or the one it resumed)
        again = (f"epoch {epoch - 1}'s checkpoint is kept in {checkpoint_root}: --resume with --grad-clip 1 may get "
                 f"past this step, or start again with a lower --lr (now {args.lr:g})")
    else:
        again = f"no epoch finished: start again with a lower --lr (now {args.lr:g}) or --grad-clip 1"
    return f"training diverged in epoch {epoch}: {exc}. No model was written to {output_dir}; {again}"


def _fmt(terms: dict[str, float]) -> str:
    return " ".join(f"{k}={v:.4g}" for k, v in terms.items())


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    sys.exit(main(parse_args()))
