"""Test-split metrics for both models (what `metrics.json` and the model cards report)."""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F

from .data import ImageSet
from .models import VAE, Model


@torch.no_grad()
def latent_means(model: Model, images: torch.Tensor, batch_size: int = 1000,
                 device: torch.device | str = "cpu") -> torch.Tensor:
    """Deterministic latents (AE code or VAE posterior mean), (N, D) on the CPU."""
    model.eval()
    return torch.cat([model.embed(images[i:i + batch_size].to(device)).cpu()
                      for i in range(0, len(images), batch_size)])


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
    means = latent_means(model, images, device=device)
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
    train_latents = latent_means(model, train_set.images, device=device)
    test_latents = latent_means(model, test_set.images, device=device)
    metrics["knn5_accuracy"] = knn_accuracy(train_latents, train_set.labels, test_latents, test_set.labels)
    return {k: (round(v, 6) if isinstance(v, float) and math.isfinite(v) else v) for k, v in metrics.items()}
