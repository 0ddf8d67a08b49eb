"""The KL knob's model against its targets, and against β-VAEs trained separately.

    python bench/beta_knob.py runs/mnist-beta-vae --data-dir ../data
    python bench/beta_knob.py runs/mnist-beta-vae --separate 0.1=runs/vae-b0.1 1=runs/vae-b1 3=runs/vae-b3

The β-conditioned model's folder (`train.py --model beta-vae`) is measured on the test split with the estimator its
`metrics.json` names (rate: the analytic KL; distortion: the reconstruction term at the posterior mean), against the
targets, each line PASS or MISS:
- along its curve the rate falls and the distortion rises (every step the right way or by < 0.5 nats), and the rate
  at the curve's ends differs by >= 20 nats;
- at the smallest β: reconstruction MSE <= 0.6x the shipped VAE's, and the judge's accuracy on the reconstructions
  >= its accuracy on the shipped VAE's;
- at β = 1: -ELBO within 3 nats of the shipped VAE's (metrics.json's), and N(0, I) samples' Fréchet distance (the
  judge's features, 10 000 draws) within 20 % of the shipped VAE's; at the smallest β at least 5x the shipped VAE's.
Also the codes' scale at the smallest β, β = 1 and the largest: E[μ² + σ²] per dimension over the test split (the
KL term pulls it towards 1 with a weight of β, so over a knob's range N(0, I) draws land where the codes are) and
the mean posterior σ.
With `--separate β=FOLDER ...` (plain VAEs trained at a fixed β with the same recipe: `train.py --model vae
--kl-weight β`): each one and the conditioned model at that β on the plain one's own objective, β·rate +
distortion, and the gap; and each plain one's rate, distortion, MSE, N(0, I) samples' FD and codes' scale.
With `--samplers`: where the N(0, I) draws' FD comes from, at the smallest β, β = 1 and the largest: the FD of codes
drawn from N(0, I), from one Gaussian fitted to the codes (full covariance), from the codes' marginals (each
dimension shuffled on its own) and of the codes themselves (z ~ q(z|x) of as many training images as draws) — how
far the prior's draws fall from the codes, against how far any draw that knows only their moments falls.
"""

from __future__ import annotations

import itertools
import json
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from ae_vae.data import load_split
from ae_vae.errors import WeightsError
from ae_vae.models.config import read_config
from ae_vae.models.judge import load_judge
from ae_vae.models.loading import load_model
from ae_vae.training.beta_curve import rate_distortion
from ae_vae.training.evaluation import unconditional_quality
from bench.common import argument_parser
from tests.support.harness import ROOT

STEP_SLACK = 0.5  # nats a step along the curve may go the wrong way
RATE_SPAN = 20.0  # nats between the rates at the curve's ends
MSE_RATIO, ELBO_SLACK, FD_SLACK, FD_COLLAPSE = 0.6, 3.0, 0.2, 5.0


def separate_pairs(values: list[str]) -> list[tuple[float, Path]]:
    pairs = []
    for value in values:
        beta, _, folder = value.partition("=")
        try:
            pairs.append((float(beta), Path(folder)))
        except ValueError:
            raise SystemExit(f"--separate takes BETA=FOLDER, got {value!r}") from None
    return pairs


def kind_mismatch(kind: str, folder: Path) -> str | None:
    """Where `folder` does not hold a model of `kind`: what it holds instead, in words; else None."""
    try:
        found = read_config(folder).model_type
    except WeightsError as exc:
        return f"{folder} holds no readable config.json ({exc})"
    return None if found == kind else f"{folder} holds a model of type {found!r}"


@torch.no_grad()
def reconstruct(model, images: torch.Tensor, *at: float) -> torch.Tensor:
    return torch.cat([model.decode(model.embed(images[i:i + 1000], *at), *at) for i in range(0, len(images), 1000)])


@torch.no_grad()
def code_scale(model, images: torch.Tensor, *at: float) -> tuple[float, float]:
    """E[μ² + σ²] per code dimension over `images` (averaged over the dimensions), and the mean posterior σ."""
    second = sigma = 0.0
    for i in range(0, len(images), 1000):
        posterior = model.encode(images[i:i + 1000], *at)
        variance = posterior.logvar.exp()
        second += float((posterior.mean.pow(2) + variance).mean(dim=1).sum())
        sigma += float(variance.sqrt().mean(dim=1).sum())
    return second / len(images), sigma / len(images)


@torch.no_grad()
def decoded_fd(model, judge, features: torch.Tensor, draws: torch.Tensor, *at: float) -> float:
    """The judge's Fréchet distance of `draws` (N(0, I)'s, or any codes) decoded (at β, for the conditioned model) to
    the test set."""
    decoded = torch.cat([model.decode(draws[i:i + 1000], *at) for i in range(0, len(draws), 1000)])
    return unconditional_quality(judge, decoded, features)["frechet_distance"]


@torch.no_grad()
def sampler_fds(model, judge, features: torch.Tensor, images: torch.Tensor, beta: float,
                generator: torch.Generator) -> tuple[dict[str, float], tuple[float, float]]:
    """At β: the FD of draws from N(0, I), from a Gaussian fitted to the codes of `images` (z ~ q(z|x)), from those
    codes' marginals, and of the codes themselves, as many of each as `images`; and the smallest and largest of the
    codes' variances per dimension (N(0, I)'s are all 1)."""
    codes = torch.cat([model.encode(images[i:i + 1000], beta).sample(generator) for i in range(0, len(images), 1000)])
    count, size = codes.shape
    factor = torch.linalg.cholesky(torch.cov(codes.T) + 1e-6 * torch.eye(size))
    draws = {"N(0, I)": torch.randn(count, size, generator=generator),
             "fitted Gaussian": codes.mean(0) + torch.randn(count, size, generator=generator) @ factor.T,
             "marginals": torch.stack([codes[torch.randperm(count, generator=generator), d] for d in range(size)], 1),
             "codes": codes}
    variances = codes.var(0)
    return ({name: decoded_fd(model, judge, features, z, beta) for name, z in draws.items()},
            (float(variances.min()), float(variances.max())))


def line(ok: bool, text: str) -> bool:
    print(f"{'PASS' if ok else 'MISS'}  {text}")
    return ok


def main(argv: list[str] | None = None) -> int:
    parser = argument_parser(__doc__, data_dir=True)
    parser.add_argument("folder", type=Path, help="a train.py --model beta-vae output folder")
    parser.add_argument("--separate", nargs="*", default=[], metavar="BETA=FOLDER",
                        help="plain VAEs trained at a fixed β with the same recipe")
    parser.add_argument("--samples", type=int, default=10_000, help="N(0, I) draws per Fréchet distance")
    parser.add_argument("--samplers", action="store_true",
                        help="also the FD of draws that know the codes (a fitted Gaussian, the marginals, the codes)")
    args = parser.parse_args(argv)
    if not (args.folder / "metrics.json").is_file():
        parser.error(f"{args.folder} has no metrics.json: measure a finished train.py --model beta-vae folder "
                     "(a run stopped before its end finishes with the same command and --resume)")
    if wrong := kind_mismatch("beta-vae", args.folder):
        parser.error(f"{wrong}; measure a train.py --model beta-vae folder (a plain VAE trained at one β goes to "
                     "--separate)")
    separate = separate_pairs(args.separate)
    for wrong in filter(None, (kind_mismatch("vae", folder) for _, folder in separate)):
        parser.error(f"{wrong}; --separate takes plain VAEs (train.py --model vae --kl-weight β)")
    torch.set_num_threads(2)

    model = load_model(args.folder).eval()
    metrics = json.loads((args.folder / "metrics.json").read_text())
    dataset = model.config.dataset
    shipped_folder = ROOT / "weights" / f"{dataset}-vae"
    shipped, shipped_metrics = load_model(shipped_folder).eval(), json.loads((shipped_folder / "metrics.json").read_text())
    test = load_split(dataset, args.data_dir, train=False)
    judge, about = load_judge(ROOT / "weights" / f"judge-{dataset}")
    print(f"{args.folder}: {dataset}, β in {model.beta_range}; distortion estimator: {metrics['distortion_estimator']}; "
          f"judge: {about}\n")

    curve = metrics["curve"]
    print("| β | rate (nats) | distortion (nats) | MSE/pixel | active units | judge accuracy | N(0, I) FD |\n"
          "|---|---|---|---|---|---|---|")
    for r in curve:
        fd = r.get("standard_normal_samples", {}).get("frechet_distance")
        print(f"| {r['beta']:.4g} | {r['rate']:.2f} | {r['distortion']:.2f} | {r['mse_per_pixel']:.5f} | "
              f"{r['active_units']} | {r.get('judge_accuracy', float('nan')):.4f} | {fd} |")
    print()

    results = []
    steps = list(itertools.pairwise(curve))
    wrong = [(a["beta"], b["beta"]) for a, b in steps
             if b["rate"] > a["rate"] + STEP_SLACK or b["distortion"] < a["distortion"] - STEP_SLACK]
    results.append(line(not wrong, f"rate falls and distortion rises along the curve (steps the wrong way by >= "
                                   f"{STEP_SLACK} nats: {wrong or 'none'})"))
    span = curve[0]["rate"] - curve[-1]["rate"]
    results.append(line(span >= RATE_SPAN, f"rate at the ends differs by {span:.1f} nats (>= {RATE_SPAN})"))

    low = curve[0]
    limit = MSE_RATIO * shipped_metrics["mse_per_pixel"]
    results.append(line(low["mse_per_pixel"] <= limit, f"smallest β: MSE {low['mse_per_pixel']:.5f} "
                                                       f"(<= {limit:.5f}, 0.6x the shipped VAE's)"))
    shipped_accuracy = float((judge.predict(reconstruct(shipped, test.images)) == test.labels).double().mean())
    results.append(line(low.get("judge_accuracy", 0.0) >= shipped_accuracy,
                        f"smallest β: judge accuracy on reconstructions {low.get('judge_accuracy', 0.0):.4f} "
                        f"(>= {shipped_accuracy:.4f}, the shipped VAE's)"))

    neg_elbo = metrics["at_beta_1"]["neg_elbo"]
    results.append(line(abs(neg_elbo - shipped_metrics["neg_elbo"]) <= ELBO_SLACK,
                        f"β = 1: -ELBO {neg_elbo:.2f} (shipped VAE {shipped_metrics['neg_elbo']:.2f}, within "
                        f"{ELBO_SLACK})"))
    draws = torch.randn(args.samples, model.latent_dim, generator=torch.Generator().manual_seed(0))
    features = judge.features(test.images)
    fd_one = decoded_fd(model, judge, features, draws, 1.0)
    fd_shipped = shipped_metrics["sample_quality"]["standard"]["frechet_distance"]
    results.append(line(abs(fd_one - fd_shipped) <= FD_SLACK * fd_shipped,
                        f"β = 1: N(0, I) samples' FD {fd_one:.1f} (shipped VAE {fd_shipped:.1f}, within 20 %)"))
    fd_low = low.get("standard_normal_samples", {}).get("frechet_distance", 0.0)
    results.append(line(fd_low >= FD_COLLAPSE * fd_shipped,
                        f"smallest β: N(0, I) samples' FD {fd_low:.1f} (>= {FD_COLLAPSE:.0f}x the shipped VAE's)"))

    print("\ncodes' scale, E[μ² + σ²] per dimension (mean posterior σ): " + ", ".join(
        f"β = {beta:g}: {second:.2f} ({sigma:.3f})" for beta in (curve[0]["beta"], 1.0, curve[-1]["beta"])
        for second, sigma in [code_scale(model, test.images, beta)]))

    if args.samplers:
        train = load_split(dataset, args.data_dir, train=True)
        generator = torch.Generator().manual_seed(0)
        chosen = train.images[torch.randperm(len(train.images), generator=generator)[:args.samples]]
        print(f"\nwhere N(0, I)'s FD comes from ({len(chosen)} draws each; codes: z ~ q(z|x) of training images)\n"
              "| β | N(0, I) | fitted Gaussian | marginals | codes | N(0, I) / codes | codes' variance per dimension |"
              "\n|---|---|---|---|---|---|---|")
        for beta in (curve[0]["beta"], 1.0, curve[-1]["beta"]):
            fds, (least, most) = sampler_fds(model, judge, features, chosen, beta, generator)
            print(f"| {beta:g} | " + " | ".join(f"{fd:.1f}" for fd in fds.values())
                  + f" | {fds['N(0, I)'] / fds['codes']:.1f}x | {least:.2f}–{most:.2f} |")

    if args.separate:
        print("\n| β | separately trained: β·rate + distortion | conditioned at β | gap (nats) | separate: rate / "
              "distortion · MSE · N(0, I) FD · E[μ² + σ²] |\n|---|---|---|---|---|")
        for beta, folder in separate:
            plain = load_model(folder).eval()
            alone = rate_distortion(plain, test.images, beta)
            own = beta * alone["rate"] + alone["distortion"]
            mine = gap = "–"  # outside the conditioned model's range: it was not trained there
            if model.beta_range[0] <= beta <= model.beta_range[1]:
                knob = rate_distortion(model, test.images, beta)
                mine = beta * knob["rate"] + knob["distortion"]
                mine, gap = f"{mine:.2f}", f"{mine - own:+.2f}"
            fd = decoded_fd(plain, judge, features, draws)
            print(f"| {beta:g} | {own:.2f} | {mine} | {gap} | {alone['rate']:.2f} / "
                  f"{alone['distortion']:.2f} · {alone['mse_per_pixel']:.5f} · {fd:.1f} · "
                  f"{code_scale(plain, test.images)[0]:.2f} |")
    print(f"\ntargets: {'PASS' if all(results) else 'MISS'}")
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
