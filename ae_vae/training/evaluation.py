"""Every number of `metrics.json`: test-split metrics for both models and, with the judge, their sample quality.

Sample quality, one report per model: for N(0, I), one Gaussian fitted to the training codes and the fitted
mixture, the Fréchet distance of decoded samples to the test set in the judge's features and the rarest class's
share; for class-conditional samples, the share the judge recognises as the class asked for (overall and worst).
`train.py` writes it into `metrics.json` (`sample_quality`), the model card and the app's Sample tab read it, and
`bench/priors.py` prints it, so all of them show the same numbers.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from ..data import ImageSet
from ..errors import DivergedError
from ..latent.priors import GaussianMixturePrior, StandardNormalPrior, fit_gaussian
from ..models import VAE, Model
from ..models.inference import decode_in_batches, embed_in_batches
from ..models.judge import Judge


@torch.no_grad()
def reconstruction_errors(model: Model, images: torch.Tensor, batch_size: int = 1000,
                          device: torch.device | str = "cpu") -> dict[str, float]:
    """MSE per pixel and BCE (nats per image) of the deterministic reconstruction decode(embed(x))."""
    model.eval()
    mse_sum = bce_sum = 0.0
    for start in range(0, len(images), batch_size):
        x = images[start:start + batch_size].to(device)
        logits = model.decode_logits(model.embed(x))
        mse_sum += float(F.mse_loss(torch.sigmoid(logits), x, reduction="sum"))
        bce_sum += float(F.binary_cross_entropy_with_logits(logits, x, reduction="sum"))
    return {"mse_per_pixel": mse_sum / images.numel(), "bce_nats_per_image": bce_sum / len(images)}


@torch.no_grad()
def elbo_terms(model: VAE, images: torch.Tensor, batch_size: int = 1000, seed: int = 0,
               device: torch.device | str = "cpu") -> dict[str, float]:
    """-ELBO = E_q[-log p(x|z)] + KL(q || p), nats per image; one seeded sample per image, analytic KL."""
    model.eval()
    generator = torch.Generator(device=device).manual_seed(seed)
    recon_sum = kl_sum = 0.0
    for start in range(0, len(images), batch_size):
        x = images[start:start + batch_size].to(device)
        posterior = model.encode(x)
        logits = model.decode_logits(posterior.sample(generator))
        recon_sum += float(F.binary_cross_entropy_with_logits(logits, x, reduction="sum"))
        kl_sum += float(posterior.kl().sum())
    n = len(images)
    return {"neg_elbo": (recon_sum + kl_sum) / n, "recon_nll": recon_sum / n, "kl": kl_sum / n}


@torch.no_grad()
def iwae_nll(model: VAE, images: torch.Tensor, num_samples: int = 100, batch_size: int = 100, seed: int = 0,
             device: torch.device | str = "cpu") -> float:
    """Mean importance-weighted NLL bound (nats per image), k = `num_samples`."""
    model.eval()
    generator = torch.Generator(device=device).manual_seed(seed)
    total = 0.0
    for start in range(0, len(images), batch_size):
        x = images[start:start + batch_size].to(device)
        total += float(model.iwae_nll(x, num_samples=num_samples, generator=generator).sum())
    return total / len(images)


@torch.no_grad()
def active_units(model: VAE, images: torch.Tensor, threshold: float = 0.01,
                 device: torch.device | str = "cpu") -> int:
    """Latent dims whose posterior mean varies across data: Cov_x(E_q[z_d]) > threshold (Burda et al.)."""
    means = embed_in_batches(model, images, device=device)
    return int((means.var(dim=0) > threshold).sum())


def knn_accuracy(train_latents: torch.Tensor, train_labels: torch.Tensor, test_latents: torch.Tensor,
                 test_labels: torch.Tensor, k: int = 5, chunk: int = 1000) -> float:
    """k-NN (Euclidean, majority vote) accuracy of test latents against train latents."""
    correct = 0
    train_sq = train_latents.pow(2).sum(1)
    for start in range(0, len(test_latents), chunk):
        query = test_latents[start:start + chunk]
        dist = query.pow(2).sum(1, keepdim=True) - 2 * query @ train_latents.T + train_sq
        neighbours = train_labels[dist.topk(k, largest=False).indices]
        votes = F.one_hot(neighbours, num_classes=int(train_labels.max()) + 1).sum(1)
        correct += int((votes.argmax(1) == test_labels[start:start + chunk]).sum())
    return correct / len(test_latents)


def evaluate_model(model: Model, train_set: ImageSet, test_set: ImageSet, iwae_samples: int = 100,
                   iwae_images: int = 1000, seed: int = 0, device: torch.device | str = "cpu") -> dict[str, Any]:
    """All test-split metrics of one model; keys are stable (the model card and tests read them)."""
    metrics: dict[str, Any] = {"test_images": len(test_set)}
    metrics.update(reconstruction_errors(model, test_set.images, device=device))
    if isinstance(model, VAE):
        metrics.update(elbo_terms(model, test_set.images, seed=seed, device=device))
        n = min(iwae_images, len(test_set))
        metrics["iwae_nll"] = iwae_nll(model, test_set.images[:n], num_samples=iwae_samples, seed=seed,
                                       device=device)
        metrics["iwae_samples"] = iwae_samples
        metrics["iwae_images"] = n
        metrics["active_units"] = active_units(model, test_set.images, device=device)
    train_latents = embed_in_batches(model, train_set.images, device=device)
    test_latents = embed_in_batches(model, test_set.images, device=device)
    metrics["knn5_accuracy"] = knn_accuracy(train_latents, train_set.labels, test_latents, test_set.labels)
    return {k: (round(v, 6) if isinstance(v, float) and math.isfinite(v) else v) for k, v in metrics.items()}


# ---------------------------------------------------------------- sample quality, in the judge's features

def frechet_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Fréchet distance between Gaussians fitted to two feature sets (N, F): FID's formula, our judge's features.

    tr sqrt(C_a C_b) is computed as the sum of square roots of the eigenvalues of the symmetric
    sqrt(C_a) C_b sqrt(C_a) (same eigenvalues), which stays exact when ReLU features that never fire make
    the covariances singular, where `scipy.linalg.sqrtm(C_a @ C_b)` warns and loses accuracy.
    """
    mu_a, mu_b = a.mean(0), b.mean(0)
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    values, vectors = np.linalg.eigh(cov_a)
    sqrt_a = (vectors * np.sqrt(values.clip(min=0))) @ vectors.T
    tr_covmean = np.sqrt(np.linalg.eigvalsh(sqrt_a @ cov_b @ sqrt_a).clip(min=0)).sum()
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(cov_a) + np.trace(cov_b) - 2 * tr_covmean)


def unconditional_quality(judge: Judge, images: torch.Tensor, test_features: np.ndarray) -> dict[str, float]:
    """Fréchet distance to the test set's judge features, and the share of the class the samples show least."""
    if not torch.isfinite(images).all():
        raise DivergedError("the decoded samples are not numbers")
    share = torch.bincount(judge.predict(images), minlength=10).double() / len(images)
    return {"frechet_distance": round(frechet_distance(judge.features(images), test_features), 3),
            "min_class_share": round(float(share.min()), 4)}


def class_conditional_quality(model: torch.nn.Module, judge: Judge, prior: GaussianMixturePrior, per_class: int,
                              seed: int = 0, temperature: float = 1.0) -> dict[str, Any]:
    """Share of each class's samples that the judge calls that class: the mean, and the worst class."""
    shares = []
    for label in range(prior.num_classes):
        z = prior.sample(per_class, label=label, temperature=temperature, generator=seed + label)
        shares.append(float((judge.predict(decode_in_batches(model, z)) == label).double().mean()))
    worst = int(np.argmin(shares))
    return {"accuracy": round(float(np.mean(shares)), 4), "worst_class": worst,
            "worst_accuracy": round(shares[worst], 4), "per_class": [round(s, 4) for s in shares]}


def sample_quality(model: torch.nn.Module, prior: GaussianMixturePrior, judge: Judge, train_images: torch.Tensor,
                   test_images: torch.Tensor, samples: int = 10_000, seed: int = 0) -> dict[str, Any]:
    """The whole report (see the module docstring); `samples` per prior, `samples // 10` per class. Each prior
    draws from its own generator seeded with `seed`, so every bench scores the very same draws."""
    test_features = judge.features(test_images)
    priors = {"standard": StandardNormalPrior(prior.latent_dim),
              "gaussian": fit_gaussian(embed_in_batches(model, train_images)), "mixture": prior}
    report: dict[str, Any] = {}
    for name, sampler in priors.items():
        z = sampler.sample(samples, generator=seed)
        report[name] = unconditional_quality(judge, decode_in_batches(model, z), test_features)
    report["class_conditional"] = class_conditional_quality(model, judge, prior, max(1, samples // 10), seed)
    report["samples"] = samples
    return report
