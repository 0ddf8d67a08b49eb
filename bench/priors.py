"""Sample quality of the latent priors of the shipped models, judged by the shipped judge classifiers.

    python bench/priors.py                        # the table in docs/priors.md (uses each folder's prior.safetensors)
    python bench/priors.py --sweep components     # held-out log-likelihood, BIC and FD per components x covariance
    python bench/priors.py --sweep classes        # class-conditional accuracy per class filter, components, temperature
    python bench/priors.py --sweep unconditional --components 50 --temperatures 1 0.9   # class-free mixture: fitted vs union
    python bench/priors.py --sweep diagnose --class-components 3   # where naive class-conditional samples fail
    python bench/priors.py --scoring-judges /tmp/judges   # scored by other judges (python -m ae_vae.judge --seed 1)

Per model: the Fréchet distance (judge features, 10 000 samples vs the 10 000 test images) and the class
coverage for N(0, I), one Gaussian fitted to the training codes, and the mixture prior; and, for
class-conditional samples (1 000 per class), the share the judge classifies as the requested class,
overall and for the worst class. Prints markdown tables and writes JSON to `bench/out/priors*.json`.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from argparse import Namespace
from pathlib import Path

import numpy as np
import torch
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from ae_vae import load_model
from ae_vae.data import CLASS_NAMES, DATASET_TITLES, ImageSet, load_dataset
from ae_vae.errors import PriorError
from ae_vae.latent.priors import DEFAULT_CLASS_FILTER, PRIOR_FILE, UNCONDITIONAL_KINDS, GaussianMixturePrior
from ae_vae.models.inference import decode_in_batches, embed_in_batches
from ae_vae.models.judge import Judge, load_judge
from ae_vae.training.evaluation import class_conditional_quality, sample_quality, unconditional_quality
from ae_vae.training.priors import fit_prior, judged_correct
from bench.common import argument_parser, machine
from tests.support.harness import ROOT

logger = logging.getLogger("priors")
MODEL_NAMES = ("mnist-ae", "mnist-vae", "fashion_mnist-ae", "fashion_mnist-vae")


class Journal:
    """Rows appended to a JSONL file as they are measured, so a sweep killed on a shared machine resumes where it
    stopped (rerun the same command; `--fresh` starts over)."""

    def __init__(self, path: Path, fresh: bool):
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        if fresh:
            path.unlink(missing_ok=True)
        self.rows = [json.loads(line) for line in path.read_text().splitlines() if line] if path.exists() else []

    def find(self, **key) -> dict | None:
        return next((r for r in self.rows if all(r.get(k) == v for k, v in key.items())), None)

    def add(self, row: dict) -> dict:
        self.rows.append(row)
        with self.path.open("a") as handle:
            handle.write(json.dumps(row) + "\n")
        return row


def load_or_fit_prior(folder: Path, model, train: ImageSet, test: ImageSet, judge: Judge) -> GaussianMixturePrior:
    """The folder's prior.safetensors if it belongs to these weights, else a fresh fit with the defaults."""
    try:
        return GaussianMixturePrior.from_pretrained(folder, latent_dim=model.latent_dim, weights=model)
    except PriorError as exc:
        logger.warning("%s; fitting the default prior in memory", exc)
        return fit_prior(model, train.images, train.labels, test.images, judge=judge, class_filter=DEFAULT_CLASS_FILTER)


# ---------------------------------------------------------------- the three modes

def report(args: Namespace, name: str, model, judge: Judge, train: ImageSet, test: ImageSet,
           test_features: np.ndarray) -> dict:
    """N(0, I), one fitted Gaussian, the mixture; and the class-conditional shares, for one shipped model."""
    if done := args.journal.find(model=name):
        return done
    prior = load_or_fit_prior(args.weights_dir / name, model, train, test, judge)
    row = {"model": name, "prior": repr(prior), "prior_info": prior.info}
    return args.journal.add(row | sample_quality(model, prior, judge, train.images, test.images,
                                                 samples=args.samples, seed=args.seed))


def sweep_components(args: Namespace, name: str, model, judge: Judge, train: ImageSet, test: ImageSet,
                     test_features: np.ndarray) -> list[dict]:
    """Held-out log-likelihood and BIC of a fit to five sixths of the training codes (the other sixth held out:
    10 000 of MNIST's 60 000), and its samples' FD."""
    codes = embed_in_batches(model, train.images).double().numpy()
    rng = np.random.default_rng(args.seed)
    order = rng.permutation(len(codes))
    held = len(codes) // 6
    fit_part, held_out = codes[order[held:]], codes[order[:held]]
    rows = []
    for covariance in args.covariances:
        for k in args.components:
            if done := args.journal.find(model=name, covariance=covariance, components=k):
                rows.append(done)
                continue
            start = time.perf_counter()
            if k == 0:  # no density at all: decode 10 000 of the training codes themselves, the floor any prior meets
                z = fit_part[rng.permutation(len(fit_part))[:args.samples]].astype(np.float32)
                rows.append(args.journal.add({"model": name, "covariance": covariance, "components": 0,
                                              **unconditional_quality(judge, decode_in_batches(model, z), test_features)}))
                continue
            prior = GaussianMixturePrior.fit(fit_part, n_components=k, covariance_type=covariance, seed=args.seed)
            d = prior.latent_dim
            params = k - 1 + k * d + k * (d if covariance == "diag" else d * (d + 1) // 2)
            train_ll = float(prior.log_prob(fit_part).mean())
            z = prior.sample(args.samples, generator=args.seed)
            row = {"model": name, "covariance": covariance, "components": k,
                   "heldout_ll": float(prior.log_prob(held_out).mean()), "train_ll": train_ll,
                   "bic": -2 * train_ll * len(fit_part) + params * np.log(len(fit_part)),
                   **unconditional_quality(judge, decode_in_batches(model, z), test_features),
                   "seconds": round(time.perf_counter() - start, 1)}
            logger.info("%s", row)
            rows.append(args.journal.add(row))
    return rows


def sweep_unconditional(args: Namespace, name: str, model, judge: Judge, train: ImageSet, test: ImageSet,
                        test_features: np.ndarray) -> list[dict]:
    """The class-free mixture: one fitted to all training codes (`--components`, first value) vs the per-class
    mixtures together (weighted by class share), both with the default class filter; FD per temperature."""
    rows = []
    for kind in UNCONDITIONAL_KINDS:
        prior = None
        for temperature in args.temperatures:
            if done := args.journal.find(model=name, unconditional=kind, temperature=temperature):
                rows.append(done)
                continue
            prior = prior or fit_prior(model, train.images, train.labels, judge=judge, class_filter=DEFAULT_CLASS_FILTER,
                                       n_components=args.components[0], unconditional=kind, seed=args.seed)
            z = prior.sample(args.samples, temperature=temperature, generator=args.seed)
            rows.append(args.journal.add({"model": name, "unconditional": kind, "temperature": temperature,
                                          "components": prior.unconditional.components,
                                          **unconditional_quality(judge, decode_in_batches(model, z), test_features)}))
    return rows


def sweep_classes(args: Namespace, name: str, model, judge: Judge, train: ImageSet, test: ImageSet,
                  test_features: np.ndarray) -> list[dict]:
    """Class-conditional share per class filter x components per class (temperature 1 and the given others)."""
    codes = embed_in_batches(model, train.images)
    rows = []
    for class_filter, min_confidence in args.filters:
        mask = None
        for k in args.class_components:
            key = {"model": name, "class_filter": class_filter, "min_confidence": min_confidence, "class_components": k}
            todo = [t for t in args.temperatures if not args.journal.find(**key, temperature=t)]
            rows += [args.journal.find(**key, temperature=t) for t in args.temperatures if t not in todo]
            if not todo:
                continue
            if mask is None:
                mask = judged_correct(model, judge, train.images, train.labels, class_filter, min_confidence)
            prior = GaussianMixturePrior.fit(codes, train.labels, class_mask=mask, n_components=1, class_components=k,
                                             covariance_type=args.covariance, seed=args.seed)
            for temperature in todo:
                result = class_conditional_quality(model, judge, prior, args.samples // 10, args.seed, temperature)
                row = {"model": name, "class_filter": class_filter, "min_confidence": min_confidence,
                       "kept": float(mask.double().mean()), "class_components": k, "temperature": temperature,
                       **result}
                logger.info("%s", {k: v for k, v in row.items() if k != "per_class"})
                rows.append(args.journal.add(row))
    return rows


def diagnose(args: Namespace, name: str, model, judge: Judge, train: ImageSet, test: ImageSet,
             test_features: np.ndarray) -> dict:
    """Where naive class-conditional samples (every training code, `--class-components` first value) go wrong.

    - tails: the share judged as asked per quintile of the noise radius |eps| (z = mean + L eps);
    - straddling: whether the class mixtures themselves (Bayes' rule over the ten densities) put a sample
      in another class, and the share judged as asked when they do and when they do not;
    - ambiguous codes: training codes whose reconstruction the judge reads as another class, or is unsure of.
    """
    if done := args.journal.find(model=name):
        return done
    codes = embed_in_batches(model, train.images)
    k = args.class_components[0]
    prior = GaussianMixturePrior.fit(codes, train.labels, n_components=1, class_components=k,
                                     covariance_type=args.covariance, seed=args.seed)
    per_class = args.samples // 10
    ok, agree, radius = [], [], []
    for label, mixture in enumerate(prior.classes):
        rng = np.random.default_rng(args.seed + label)  # the draws of Mixture.sample, with the noise kept
        component = rng.choice(mixture.components, size=per_class, p=mixture.weights / mixture.weights.sum())
        noise = rng.standard_normal((per_class, mixture.dim))
        z = mixture.means[component] + np.einsum("nde,ne->nd", mixture.chol[component], noise)
        ok.append(judge.predict(decode_in_batches(model, z.astype(np.float32))).numpy() == label)
        agree.append(np.stack([m.log_prob(z) for m in prior.classes], 1).argmax(1) == label)
        radius.append(np.linalg.norm(noise, axis=1))
    ok, agree, radius = np.concatenate(ok), np.concatenate(agree), np.concatenate(radius)
    edges = np.quantile(radius, np.linspace(0, 1, 6))
    bins = np.digitize(radius, edges[1:-1])
    recon = judge.predict_proba(decode_in_batches(model, codes))
    p_label = recon.gather(1, train.labels[:, None])[:, 0]
    row = {"model": name, "class_components": k, "accuracy": float(ok.mean()),
           "by_radius": [{"radius": [round(float(edges[i]), 2), round(float(edges[i + 1]), 2)],
                          "accuracy": float(ok[bins == i].mean())} for i in range(5)],
           "latent_agrees": float(agree.mean()),
           "accuracy_latent_agrees": float(ok[agree].mean()),
           "accuracy_latent_disagrees": float(ok[~agree].mean()) if (~agree).any() else None,
           "train_reconstructions_misread": float((recon.argmax(1) != train.labels).double().mean()),
           "train_reconstructions_below_0.9": float((p_label < 0.9).double().mean())}
    logger.info("%s", row)
    return args.journal.add(row)


# ---------------------------------------------------------------- tables

def report_table(rows: list[dict]) -> str:
    lines = [("| model | FD N(0, I) | FD one Gaussian | FD mixture | min class share (mixture) "
              "| class-conditional: judged as asked | worst class |"), "|---|---|---|---|---|---|---|"]
    for row in rows:
        dataset = row["model"].rsplit("-", 1)[0]
        cond = row["class_conditional"]
        fd = {key: row[key]["frechet_distance"] for key in ("standard", "gaussian", "mixture")}
        lines.append(f"| {row['model']} | {fd['standard']:.1f} | {fd['gaussian']:.1f} | **{fd['mixture']:.1f}** "
                     f"| {row['mixture']['min_class_share']:.3f} | **{100 * cond['accuracy']:.1f} %** "
                     f"| {CLASS_NAMES[dataset][cond['worst_class']]}: {100 * cond['worst_accuracy']:.1f} % |")
    return "\n".join(lines)


def components_table(rows: list[dict]) -> str:
    lines = ["| model | covariance | components | held-out log-lik (nats/code) | BIC | FD |", "|---|---|---|---|---|---|"]
    lines += [f"| {r['model']} | {r['covariance']} | {r['components']} | {r['heldout_ll']:.2f} | {r['bic']:.4g} "
              f"| {r['frechet_distance']:.1f} |" if r["components"] else
              f"| {r['model']} | – | training codes themselves | – | – | {r['frechet_distance']:.1f} |" for r in rows]
    return "\n".join(lines)


def unconditional_table(rows: list[dict]) -> str:
    lines = ["| model | class-free mixture | components | temperature | FD | min class share |", "|---|---|---|---|---|---|"]
    lines += [f"| {r['model']} | {r['unconditional']} | {r['components']} | {r['temperature']:g} "
              f"| {r['frechet_distance']:.1f} | {r['min_class_share']:.3f} |" for r in rows]
    return "\n".join(lines)


def classes_table(rows: list[dict]) -> str:
    lines = ["| model | class filter | kept codes | comp./class | temperature | judged as asked | worst class |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        dataset = r["model"].rsplit("-", 1)[0]
        label = r["class_filter"] + (f" (p ≥ {r['min_confidence']:g})" if r["min_confidence"] else "")
        lines.append(f"| {r['model']} | {label} | {100 * r['kept']:.1f} % | {r['class_components']} "
                     f"| {r['temperature']:g} | {100 * r['accuracy']:.1f} % "
                     f"| {CLASS_NAMES[dataset][r['worst_class']]}: {100 * r['worst_accuracy']:.1f} % |")
    return "\n".join(lines)


# ---------------------------------------------------------------- main

def diagnose_table(rows: list[dict]) -> str:
    lines = [("| model | judged as asked | by noise radius quintile (small → large) | class mixtures put the sample in "
              "another class | judged as asked there | training reconstructions misread / judge < 0.9 |"),
             "|---|---|---|---|---|---|"]
    for r in rows:
        radius = " / ".join(f"{100 * b['accuracy']:.1f}" for b in r["by_radius"])
        there = "–" if r["accuracy_latent_disagrees"] is None else f"{100 * r['accuracy_latent_disagrees']:.0f} %"
        lines.append(f"| {r['model']} | {100 * r['accuracy']:.1f} % | {radius} | {100 * (1 - r['latent_agrees']):.2f} % "
                     f"| {there} | {100 * r['train_reconstructions_misread']:.1f} % / "
                     f"{100 * r['train_reconstructions_below_0.9']:.1f} % |")
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> Namespace:
    parser = argument_parser(__doc__, weights_dir=True, data_dir=True)
    parser.add_argument("--sweep", choices=("components", "classes", "unconditional", "diagnose"),
                        help="a model-selection sweep instead")
    parser.add_argument("--models", nargs="+", default=list(MODEL_NAMES), choices=MODEL_NAMES, help="which models")
    parser.add_argument("--samples", type=int, default=10_000, help="samples per FD (and 1/10 per class)")
    parser.add_argument("--components", type=int, nargs="+", default=[1, 10, 20, 50, 100],
                        help="components to sweep (--sweep components); 0 decodes the training codes themselves")
    parser.add_argument("--covariances", nargs="+", default=["diag", "full"], help="(--sweep components)")
    parser.add_argument("--class-components", type=int, nargs="+", default=[3, 10],
                        help="components per class to sweep (--sweep classes)")
    parser.add_argument("--filters", nargs="+", default=["all", "images", "reconstructions"],
                        help="class filters to sweep, 'reconstructions:0.9' adds a minimum judge confidence")
    parser.add_argument("--temperatures", type=float, nargs="+", default=[1.0], help="(--sweep classes)")
    parser.add_argument("--covariance", default="full", help="covariance type (--sweep classes)")
    parser.add_argument("--train-images", type=int, default=None,
                        help="fit to the first N training images only (a quick look; default: all)")
    parser.add_argument("--seed", type=int, default=0, help="sampling and EM seed")
    parser.add_argument("--scoring-judges", type=Path, default=None,
                        help="folder holding judge-<dataset> folders that score the samples instead of the shipped "
                             "judges (which still choose the class codes): an independent check")
    parser.add_argument("--threads", type=int, default=1, help="torch and BLAS threads (the CPU may be shared)")
    parser.add_argument("--out-dir", type=Path, default=ROOT / "bench" / "out", help="where the JSON goes")
    parser.add_argument("--fresh", action="store_true", help="measure everything again instead of resuming")
    args = parser.parse_args(argv)
    if args.train_images is not None and args.train_images < 60:
        parser.error(f"--train-images must be at least 60 (a sixth is held out, and each class needs codes), "
                     f"got {args.train_images}")
    args.filters = [(f.split(":")[0], float(f.split(":")[1]) if ":" in f else 0.0) for f in args.filters]
    return args


def main(args: Namespace) -> int:
    torch.set_num_threads(args.threads)
    mode = args.sweep or "report"
    run = {"report": report, "components": sweep_components, "classes": sweep_classes,
           "unconditional": sweep_unconditional, "diagnose": diagnose}[mode]
    stem = ("priors" if mode == "report" else f"priors_{mode}") + ("_other_judges" if args.scoring_judges else "")
    args.journal = Journal(args.out_dir / f"{stem}.jsonl", args.fresh)
    rows: list = []
    with threadpool_limits(args.threads):
        for dataset in dict.fromkeys(name.rsplit("-", 1)[0] for name in args.models):
            train, test = load_dataset(dataset, args.data_dir, download=False)
            train = train.subset(args.train_images) if args.train_images else train
            judge, card = load_judge((args.scoring_judges or args.weights_dir) / f"judge-{dataset}")
            test_features = judge.features(test.images)
            logger.info("%s: judge test accuracy %.4f", DATASET_TITLES[dataset], card.test_accuracy)
            for name in (n for n in args.models if n.startswith(dataset + "-")):
                result = run(args, name, load_model(args.weights_dir / name), judge, train, test, test_features)
                rows.extend(result if isinstance(result, list) else [result])
    out = args.out_dir / f"{stem}.json"
    out.write_text(json.dumps({"machine": machine(), "torch": torch.__version__, "rows": rows}, indent=2) + "\n")
    tables = {"report": report_table, "components": components_table, "classes": classes_table,
              "unconditional": unconditional_table, "diagnose": diagnose_table}
    print(tables[mode](rows))
    print(f"\n(judge: weights/judge-<dataset>; {args.samples} samples; JSON in {out}; prior file {PRIOR_FILE})")
    return 0


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    sys.exit(main(parse_args()))
