"""Model cards: of a weights folder (from `config.json`, `metrics.json`, `training.json`) and of a judge.

One function renders every model's card, so all four shipped models (and any user's) read the same; the YAML
metadata of every card, the judges' included, carries the measured test metrics as `model-index` results.
"""

from __future__ import annotations

import itertools
import json
import os
import shlex
from pathlib import Path
from typing import TYPE_CHECKING, Any

from huggingface_hub import EvalResult, ModelCardData

from ..data import DATASET_TITLES

if TYPE_CHECKING:
    from ..models.judge import JudgeCard

HUB_DATASETS = {"mnist": "ylecun/mnist", "fashion_mnist": "zalando-datasets/fashion_mnist"}
SPACE_URL = "https://huggingface.co/spaces/ae-vae-explorer/ae-vae-explorer"

# (metrics.json key, model-index metric type, human name, format)
METRIC_ROWS = {
    "vae": [("neg_elbo", "neg_elbo", "-ELBO (nats/image)", ".2f"),
            ("iwae_nll", "nll", "NLL, IWAE bound (nats/image)", ".2f"),
            ("recon_nll", "reconstruction_nll", "reconstruction term (nats/image)", ".2f"),
            ("kl", "kl", "KL term (nats/image)", ".2f"),
            ("mse_per_pixel", "mse", "MSE per pixel (posterior mean)", ".5f"),
            ("active_units", "active_units", "active latent units", "d"),
            ("knn5_accuracy", "accuracy", "5-NN accuracy of latent means", ".4f")],
    "ae": [("mse_per_pixel", "mse", "MSE per pixel", ".5f"),
           ("bce_nats_per_image", "bce", "BCE (nats/image)", ".2f"),
           ("knn5_accuracy", "accuracy", "5-NN accuracy of latents", ".4f")],
}


def _read_json(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


# Flags that name folders on the trainer's machine: they do not change the model, and a card that prints
# them tells a reader where someone else kept their data rather than how to train.
MACHINE_PATH_FLAGS = ("--data-dir", "--data_dir", "--judge-dir", "--output-dir", "--output_dir")
_MACHINE_PATH_PREFIXES = tuple(f"{flag}=" for flag in MACHINE_PATH_FLAGS)


def portable_command(command: str) -> str:
    """The recorded command without its machine-path flags (both `--flag value` and `--flag=value`)."""
    try:
        words = shlex.split(command)
    except ValueError:  # an unbalanced quote: show it as recorded rather than guess
        return command
    kept, skip_next = [], False
    for word in words:
        if skip_next:
            skip_next = False
        elif word in MACHINE_PATH_FLAGS:
            skip_next = True
        elif not word.startswith(_MACHINE_PATH_PREFIXES):
            kept.append(word)
    return shlex.join(kept)


def _commands_text(commands: list[dict[str, Any]]) -> str:
    if not commands:
        return "Not recorded."
    shown = [portable_command(c["command"]) for c in commands]
    lines = "\n".join(shown)
    paths_note = ("\n\nFolders are left out: add `--data-dir` (where the data sets are) and `--output-dir` for your "
                  "machine (`--judge-dir` defaults to the shipped judge)."
                  if any(s != c["command"] for s, c in zip(shown, commands, strict=True)) else "")
    if len(commands) == 1:
        return f"```bash\n{lines}\n```{paths_note}"
    starts = ", ".join(f"epoch {c['from_epoch'] + 1}" for c in commands)
    return (f"Trained in {len(commands)} invocations (starting at {starts}; `--resume` continues from the last "
            f"checkpoint, and a larger `--epochs` stretches the cosine schedule from there):\n\n```bash\n{lines}\n```"
            f"{paths_note}")


def _cost_per_invocation(history: list[dict[str, Any]], commands: list[dict[str, Any]]) -> str:
    """Seconds per epoch of each invocation: resumed runs may differ in threads, precision or machine load."""
    if len(commands) < 2:
        return ""
    bounds = [c["from_epoch"] for c in commands] + [len(history)]
    parts = []
    for start, end in itertools.pairwise(bounds):
        seconds = [h["seconds"] for h in history[start:end]]
        if seconds:
            parts.append(f"epochs {start + 1}–{end}: {sum(seconds) / len(seconds):.1f} s/epoch")
    return f" ({'; '.join(parts)})" if parts else ""


def card_metadata(config: dict[str, Any], metrics: dict[str, Any], model_name: str) -> ModelCardData:
    kind = config["model_type"]
    dataset = config["dataset"]
    task = "unconditional-image-generation" if kind == "vae" else "image-feature-extraction"
    results = [EvalResult(task_type=task, dataset_type=HUB_DATASETS[dataset], dataset_name=DATASET_TITLES[dataset],
                          dataset_split="test", metric_type=metric_type, metric_value=metrics[key], metric_name=name)
               for key, metric_type, name, _ in METRIC_ROWS[kind] if key in metrics]
    return ModelCardData(model_name=model_name, library_name="pytorch", license="mit",
                         datasets=[HUB_DATASETS[dataset]], pipeline_tag=task,
                         tags=["ae-vae-explorer", "autoencoder" if kind == "ae" else "vae", dataset,
                               "pytorch_model_hub_mixin", "safetensors"],
                         eval_results=results or None)


def _sample_quality_text(quality: dict[str, Any] | None) -> str:
    """The card's table of sample quality per prior (from metrics.json), or nothing when it was not measured."""
    if not quality:
        return ""
    rows = "\n".join(f"| {label} | {quality[key]['frechet_distance']:.1f} | {quality[key]['min_class_share']:.3f} |"
                     for key, label in (("standard", "N(0, I)"), ("gaussian", "one Gaussian fitted to the codes"),
                                        ("mixture", "mixture fitted to the codes (`prior.safetensors`)"))
                     if key in quality)
    conditional = quality.get("class_conditional", {})
    by_class = (f"\nClass-conditional samples (one mixture per class): the judge recognises "
                f"{100 * conditional['accuracy']:.1f} % as the class asked for; worst class {conditional['worst_class']}"
                f" at {100 * conditional['worst_accuracy']:.1f} %.\n" if conditional else "")
    return (f"\n## As a generator ({quality.get('samples', 10000)} decoded samples per prior, judged by the shipped "
            "classifier)\n\n| prior | Fréchet distance to the test set ↓ | rarest class share |\n|---|---|---|\n"
            f"{rows}\n{by_class}")


def render_model_card(folder: str | os.PathLike, repo_id: str | None = None) -> str:
    """The full `README.md` (YAML front matter + body) for a weights folder."""
    folder = Path(folder)
    config = _read_json(folder / "config.json")
    metrics = _read_json(folder / "metrics.json")
    training = _read_json(folder / "training.json")
    if config["model_type"] == "beta-vae":
        return _render_beta_card(folder, config, metrics, training, repo_id)
    kind = config["model_type"]
    dataset = config["dataset"]
    cls = "VAE" if kind == "vae" else "AutoEncoder"
    name = repo_id.split("/")[-1] if repo_id else folder.name
    location = repo_id or f"weights/{folder.name}"
    title = f"{DATASET_TITLES[dataset]} {'VAE' if kind == 'vae' else 'autoencoder'}"
    what = ("a variational autoencoder: Bernoulli likelihood (BCE summed over the 784 pixels), N(0, I) prior, "
            "diagonal-Gaussian posterior; decoding z ~ N(0, I) gives new images"
            if kind == "vae" else
            f"a deterministic autoencoder trained with {config.get('reconstruction_loss', 'bce').upper()}; its "
            "latent space has no prior, so decoding random latents is not expected to give images")
    rows = "\n".join(f"| {label} | {format(metrics[key], fmt)} |" for key, _, label, fmt in METRIC_ROWS[kind]
                     if key in metrics)
    history = training.get("history", [])
    cost = ""
    if history:
        per_epoch = sum(h["seconds"] for h in history) / len(history)
        cost = (f"\nTraining cost: {len(history)} epochs, {per_epoch:.1f} s/epoch, "
                f"{sum(h['seconds'] for h in history) / 60:.1f} min in total on {training.get('machine', 'CPU')}"
                f"{_cost_per_invocation(history, training.get('commands', []))}.\n")
    generation = _sample_quality_text(metrics.get("sample_quality"))
    figures = "\n".join(f"![{alt}]({file})" for file, alt in (("samples.png", "reconstructions and samples"),
                                                              ("loss_curves.png", "loss curves"))
                        if (folder / file).is_file())
    body = f"""
# {title} ({name})

This is {what}. Part of [ae-vae-explorer]({SPACE_URL}), which shows AEs and VAEs side by side.

Architecture: convolutional encoder 28×28 → 14×14 ({config['channels'][0]} ch) → 7×7 ({config['channels'][1]} ch)
with {config['hidden_blocks']} residual block(s) per resolution, a linear map to a {config['latent_dim']}-d latent,
and a mirrored transposed-conv decoder with sigmoid output. Inputs are (N, 1, 28, 28) in [0, 1], white ink on black,
as torchvision's `ToTensor()` gives them.

## Test metrics ({DATASET_TITLES[dataset]} official test split, {metrics.get('test_images', 10000)} images)

| metric | value |
|---|---|
{rows}
{cost}{generation}
{figures}

## Training command

{_commands_text(training.get("commands", []))}

## How to use

```python
from ae_vae import {cls}
model = {cls}.from_pretrained("{location}")  # model.safetensors + config.json, nothing else
z = model.{'encode(x).mode()' if kind == 'vae' else 'encode(x)'}   # x: (N, 1, 28, 28) in [0, 1]
images = model.decode(z)                     # (N, 1, 28, 28) in [0, 1]
```

Files: `model.safetensors` (weights), `config.json` (architecture), `metrics.json` (the numbers above),
`embeddings.safetensors` (used by the Space: latents, PCA and UMAP coordinates and pixels of the first test images
for the maps, codes and pixels of the first training images for the neighbour search; count in its metadata),
`prior.safetensors` (Gaussian mixtures fitted to the training codes: `ae_vae.GaussianMixturePrior`),
`training.json` (command and per-epoch history). No pickles.
"""
    metadata = card_metadata(config, metrics, name)
    return f"---\n{metadata.to_yaml()}\n---\n{body}"


def _cost_text(training: dict[str, Any]) -> str:
    history = training.get("history", [])
    if not history:
        return ""
    per_epoch = sum(h["seconds"] for h in history) / len(history)
    return (f"\nTraining cost: {len(history)} epochs, {per_epoch:.1f} s/epoch, "
            f"{sum(h['seconds'] for h in history) / 60:.1f} min in total on {training.get('machine', 'CPU')}"
            f"{_cost_per_invocation(history, training.get('commands', []))}.\n")


def _render_beta_card(folder: Path, config: dict[str, Any], metrics: dict[str, Any], training: dict[str, Any],
                      repo_id: str | None) -> str:
    """A β-conditioned VAE's card: what β does, the −ELBO at β = 1 and the rate–distortion curve (also as
    `model-index`: the −ELBO at β = 1, the rate and distortion at the range's ends)."""
    dataset = config["dataset"]
    low, high = config["beta_range"]
    name = repo_id.split("/")[-1] if repo_id else folder.name
    location = repo_id or f"weights/{folder.name}"
    curve, at_one = metrics.get("curve", []), metrics.get("at_beta_1", {})
    rows = "\n".join(
        f"| {p['beta']:.4g} | {p['rate']:.2f} | {p['distortion']:.2f} | {p['mse_per_pixel']:.5f} | "
        f"{p['active_units']} | {p.get('judge_accuracy', float('nan')):.4f} | "
        f"{p.get('standard_normal_samples', {}).get('frechet_distance', float('nan')):.1f} |" for p in curve)
    task = "unconditional-image-generation"
    measured = [("neg_elbo", "-ELBO at β = 1 (nats/image)", at_one.get("neg_elbo"))]
    if curve:
        for end, point in (("smallest", curve[0]), ("largest", curve[-1])):
            measured += [(f"rate_at_{end}_beta", f"rate at β = {point['beta']:g} (nats/image)", point["rate"]),
                         (f"distortion_at_{end}_beta", f"distortion at β = {point['beta']:g} (nats/image)",
                          point["distortion"])]
    results = [EvalResult(task_type=task, dataset_type=HUB_DATASETS[dataset], dataset_name=DATASET_TITLES[dataset],
                          dataset_split="test", metric_type=metric_type, metric_value=value, metric_name=label)
               for metric_type, label, value in measured if value is not None]
    metadata = ModelCardData(model_name=name, library_name="pytorch", license="mit", datasets=[HUB_DATASETS[dataset]],
                             pipeline_tag=task, tags=["ae-vae-explorer", "vae", "beta-vae", dataset,
                                                      "pytorch_model_hub_mixin", "safetensors"],
                             eval_results=results or None)
    elbo = (f"−ELBO at β = 1: {at_one['neg_elbo']:.2f} nats/image (reconstruction {at_one['recon_nll']:.2f}, KL "
            f"{at_one['kl']:.2f}; one posterior sample per image, as the VAEs' cards measure it).\n"
            if at_one else "")
    body = f"""
# {DATASET_TITLES[dataset]} β-conditioned VAE ({name})

One variational autoencoder for every KL weight β from {low:g} to {high:g}: the encoder and the decoder read log β
through FiLM layers (a per-channel scale and shift in each block), trained with each image's β drawn log-uniformly
from the range ("You Only Train Once", Dosovitskiy & Djolonga, 2020). At small β it is nearly an autoencoder (sharp
reconstructions, a code far from N(0, I)); at β = 1 a VAE; at large β its codes collapse onto the prior. Part of
[ae-vae-explorer]({SPACE_URL}). The architecture is the VAEs' ({config['latent_dim']}-d latent, channels
{config['channels'][0]}/{config['channels'][1]}, {config['hidden_blocks']} residual block(s) per resolution) plus
the conditioning.

## Test metrics ({DATASET_TITLES[dataset]} official test split, {metrics.get('test_images', 10000)} images)

{elbo}
The rate–distortion curve ({metrics.get('distortion_estimator', 'posterior mean')} estimator: rate = the analytic KL
to N(0, I), distortion = the reconstruction term of the decoded posterior mean, nats per image; the judge's
accuracy on the reconstructions; the Fréchet distance of {metrics.get('samples', 0)} N(0, I) draws decoded at β):

| β | rate | distortion | MSE per pixel | active units | judge accuracy | N(0, I) FD ↓ |
|---|---|---|---|---|---|---|
{rows}
{_cost_text(training)}
## Training command

{_commands_text(training.get("commands", []))}

## How to use

```python
from ae_vae import BetaVAE
model = BetaVAE.from_pretrained("{location}")  # model.safetensors + config.json, nothing else
z = model.encode(x, beta=0.3).mean   # x: (N, 1, 28, 28) in [0, 1]; β a number or one per image
images = model.decode(z, beta=0.3)   # (N, 1, 28, 28) in [0, 1]
```

Files: `model.safetensors` (weights), `config.json` (architecture and β range), `metrics.json` (the numbers above),
`encoder.onnx` and `decoder.onnx` (β their second input), `training.json` (commands and per-epoch history). No
pickles.
"""
    return f"---\n{metadata.to_yaml()}\n---\n{body}"


def render_judge_card(card: JudgeCard) -> str:
    """A judge folder's `README.md`: what it is for, its test accuracy (also as `model-index`), how to retrain it."""
    title = DATASET_TITLES.get(card.dataset, card.dataset)
    result = EvalResult(task_type="image-classification", dataset_type=HUB_DATASETS[card.dataset],
                        dataset_name=title, dataset_split="test", metric_type="accuracy",
                        metric_value=card.test_accuracy, metric_name="test accuracy")
    metadata = ModelCardData(model_name=f"judge-{card.dataset}", library_name="pytorch", license="mit",
                             datasets=[HUB_DATASETS[card.dataset]], pipeline_tag="image-classification",
                             tags=["ae-vae-explorer", "judge", card.dataset, "safetensors"], eval_results=[result])
    body = (f"# Judge classifier for {title}\n\n"
            f"A small fixed CNN ({card.architecture}) that scores generated images: the Fréchet distance on its "
            f"128-d penultimate features, the share of samples per class, and whether a class-conditional sample "
            f"is the class asked for. It never changes, so scores compare across runs.\n\n"
            f"- test accuracy on the official {title} test split: **{card.test_accuracy:.4f}**\n"
            f"- trained {card.epochs} epochs, {card.schedule} from lr {card.lr}, batch {card.batch_size}, "
            f"random shifts up to {card.max_shift} px, seed {card.seed}\n\n"
            f"Train one with the same recipe (`--data-dir`: where the data sets are):\n\n```bash\n"
            f"python -m ae_vae train-judge --dataset {card.dataset} --output weights/judge-{card.dataset} "
            f"--epochs {card.epochs} --max-shift {card.max_shift} --seed {card.seed}\n```\n")
    return f"---\n{metadata.to_yaml()}\n---\n{body}"
