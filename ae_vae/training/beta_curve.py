"""The β-conditioned VAE measured along its β range: the rate–distortion curve and what each β does to the samples.

The rate is the analytic KL(q(z|x) || N(0, I)) and the distortion the reconstruction term −log p(x|z) at the
posterior mean z = E_q[z] (one deterministic estimator, the one the page can compute for a drawing too), both in
nats per image on the test split ("Fixing a Broken ELBO", Alemi et al., 2018). At each β the curve also records the
reconstructions' MSE and the judge's accuracy on them, the active units, and the Fréchet distance (in the judge's
features) of decoded N(0, I) draws to the test set, so a small β shows the autoencoder's failure as a generator and
a large one the collapse onto the prior.
"""

from __future__ import annotations

import logging
import math
import os
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from ..data import DATASET_TITLES, ImageSet
from ..errors import DivergedError
from ..figures import save_figure
from ..fileio import atomic_write_json
from ..models.beta_vae import BetaVAE
from ..models.config import log_spaced
from ..models.format import save_model_folder
from ..models.graphs import export_graphs
from ..models.judge import Judge
from ..models.vae import VAE
from .evaluation import unconditional_quality
from .figures import loss_curve_figure

logger = logging.getLogger(__name__)
CURVE_POINTS = 13  # log-spaced β values from the trained range's low end to its high end
ACTIVE_UNIT_THRESHOLD = 0.01  # Cov_x(E_q[z_d]) above this: an active unit (Burda et al.)


def curve_betas(beta_range: tuple[float, float], points: int = CURVE_POINTS) -> list[float]:
    """`points` log-spaced values whose ends are the range's ends."""
    return [float(f"{beta:.6g}") for beta in log_spaced(*beta_range, points)]  # (6 significant digits)


@torch.no_grad()
def rate_distortion(model: BetaVAE | VAE, images: torch.Tensor, beta: float, batch_size: int = 1000,
                    device: torch.device | str = "cpu") -> dict[str, Any]:
    """Rate and distortion (nats per image, the module's estimator), MSE per pixel and the codes' per-dimension
    variance across `images`, at one β: the β-conditioned model's at that β, a plain VAE's own (trained at a
    fixed β: `beta` is then only the objective's weight, which the caller applies)."""
    model.eval()
    at = (beta,) if isinstance(model, BetaVAE) else ()
    rate = distortion = squared = 0.0
    means = []
    for start in range(0, len(images), batch_size):
        x = images[start:start + batch_size].to(device)
        posterior = model.encode(x, *at)
        logits = model.decode_logits(posterior.mean, *at)
        rate += float(posterior.kl().sum())
        distortion += float(F.binary_cross_entropy_with_logits(logits, x, reduction="sum"))
        squared += float(F.mse_loss(torch.sigmoid(logits), x, reduction="sum"))
        means.append(posterior.mean.cpu())
    n = len(images)
    variance = torch.cat(means).var(dim=0)
    return {"rate": rate / n, "distortion": distortion / n, "mse_per_pixel": squared / images.numel(),
            "active_units": int((variance > ACTIVE_UNIT_THRESHOLD).sum())}


@torch.no_grad()
def measure_beta_curve(model: BetaVAE, test_set: ImageSet, judge: Judge | None = None, samples: int = 10_000,
                       points: int = CURVE_POINTS, seed: int = 0,
                       device: torch.device | str = "cpu") -> list[dict[str, Any]]:
    """One record per β of `curve_betas(model.beta_range, points)`; with a judge, also the judge's accuracy on the
    reconstructions and the quality of `samples` N(0, I) draws decoded at that β (the same draws at every β)."""
    model.eval()
    test_features = judge.features(test_set.images) if judge is not None else None
    draws = torch.randn(samples, model.latent_dim, generator=torch.Generator().manual_seed(seed))
    curve = []
    for beta in curve_betas(model.beta_range, points):
        record: dict[str, Any] = {"beta": beta, **rate_distortion(model, test_set.images, beta, device=device)}
        if not all(math.isfinite(record[k]) for k in ("rate", "distortion", "mse_per_pixel")):
            raise DivergedError(f"at β = {beta:g} the rate or the distortion is not a number")
        if judge is not None:
            reconstructions = torch.cat([model.decode(model.embed(test_set.images[i:i + 1000].to(device), beta), beta)
                                         .cpu() for i in range(0, len(test_set), 1000)])
            record["judge_accuracy"] = float((judge.predict(reconstructions) == test_set.labels).double().mean())
            decoded = torch.cat([model.decode(draws[i:i + 1000].to(device), beta).cpu()
                                 for i in range(0, samples, 1000)])
            try:
                record["standard_normal_samples"] = unconditional_quality(judge, decoded, test_features)
            except DivergedError as exc:
                raise DivergedError(f"at β = {beta:g} {exc}") from None
        curve.append({k: (round(v, 6) if isinstance(v, float) and k != "beta" else v) for k, v in record.items()})
        logger.info("β = %.4g: %s", beta, curve[-1])
    return curve


def finalize_beta_run(model: BetaVAE, test_set: ImageSet, output_dir: str | os.PathLike,
                      history: list[dict[str, float]], seed: int = 0, judge: Judge | None = None,
                      samples: int = 10_000, device: torch.device | str = "cpu") -> dict[str, Any]:
    """Write the β-conditioned VAE's folder: weights, config, its ONNX graphs (β an input of both), and
    `metrics.json` with the test split's −ELBO at β = 1 and the curve along the range; the loss curves when there
    is a history."""
    output_dir = Path(output_dir)
    model.eval()
    save_model_folder(model, output_dir)
    export_graphs(output_dir)  # from the weights file written above, whose hash the graphs record
    metrics: dict[str, Any] = {"test_images": len(test_set), "beta_range": list(model.beta_range),
                               "distortion_estimator": "posterior mean",
                               "at_beta_1": _at_beta_1(model, test_set.images, seed, device)}
    metrics["curve"] = measure_beta_curve(model, test_set, judge=judge, samples=samples, seed=seed, device=device)
    metrics["samples"] = samples if judge is not None else 0
    if history:
        seconds = [h["seconds"] for h in history]
        metrics["train_epochs"] = len(history)
        metrics["train_minutes_total"] = round(sum(seconds) / 60, 2)
        title = f"{DATASET_TITLES[model.config.dataset]} β-conditioned VAE"
        save_figure(loss_curve_figure(history, title), output_dir / "loss_curves.png")
    atomic_write_json(output_dir / "metrics.json", metrics)
    return metrics


@torch.no_grad()
def _at_beta_1(model: BetaVAE, images: torch.Tensor, seed: int, device: torch.device | str) -> dict[str, float]:
    """−ELBO and its terms at β = 1 by the shipped VAE's estimator (one seeded posterior sample, analytic KL)."""
    model.eval()
    generator = torch.Generator(device=device).manual_seed(seed)
    recon = kl = 0.0
    for start in range(0, len(images), 1000):
        x = images[start:start + 1000].to(device)
        posterior = model.encode(x, 1.0)
        logits = model.decode_logits(posterior.sample(generator), 1.0)
        recon += float(F.binary_cross_entropy_with_logits(logits, x, reduction="sum"))
        kl += float(posterior.kl().sum())
    n = len(images)
    return {"neg_elbo": round((recon + kl) / n, 6), "recon_nll": round(recon / n, 6), "kl": round(kl / n, 6)}


__all__ = ["CURVE_POINTS", "curve_betas", "finalize_beta_run", "measure_beta_curve", "rate_distortion"]
