"""Training losses: the VAEs' β-weighted negative ELBO, and what training may add to it (input noise, prior matching,
edge matching)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .blocks import DiagonalGaussian, ModelOutput


def vae_output(x: torch.Tensor, posterior: DiagonalGaussian, z: torch.Tensor, logits: torch.Tensor,
               kl_weight: float | torch.Tensor, generator: torch.Generator | None = None, prior_matching: float = 0.0,
               edge_matching: float = 0.0) -> ModelOutput:
    """What a VAE's `forward` returns for images `x` encoded as `posterior`, `z` drawn from it and decoded to `logits`:
    the loss (Bernoulli reconstruction term summed over pixels + `kl_weight` × KL, a number or one per image,
    averaged; plus prior and edge matching when asked for) and the terms to log (`neg_elbo` the true −ELBO)."""
    recon_nll = F.binary_cross_entropy_with_logits(logits, x, reduction="none").flatten(1).sum(1)
    kl = posterior.kl()
    loss = (recon_nll + kl_weight * kl).mean()
    recon = torch.sigmoid(logits)
    terms = {"neg_elbo": (recon_nll + kl).mean().detach(), "recon": recon_nll.mean().detach(),
             "kl": kl.mean().detach(), "mse": F.mse_loss(recon, x).detach()}
    loss = add_prior_matching(loss, terms, z, prior_matching, generator)
    loss = add_edge_matching(loss, terms, recon, x, edge_matching, per_image_sum=True)
    return ModelOutput(loss=loss, reconstruction=recon, terms=terms)


def add_input_noise(x: torch.Tensor, std: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """`x` plus N(0, std²) pixel noise (`x` itself when std is 0), drawn from `generator` for reproducibility."""
    if std <= 0:
        return x
    return x + std * torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)


# Kernel scales of `mmd_to_standard_normal`, in units of 2 * latent_dim (the expected squared distance between
# two N(0, I) draws): several scales so that both far-off clusters and fine gaps give a gradient.
MMD_SCALES = (0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0)


def mmd_to_standard_normal(z: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Unbiased squared maximum mean discrepancy between the rows of `z` and as many N(0, I) draws.

    The KL term of the ELBO matches each posterior q(z|x) to N(0, I) one image at a time; nothing in it
    asks the *aggregate* of the codes to fill N(0, I), so N(0, I) samples can land between the clusters of
    real codes and decode to blends. This penalty compares the batch's codes with prior draws as two sets
    (InfoVAE, Zhao et al. 2017; WAE, Tolstikhin et al. 2018), with inverse multiquadratic kernels
    k(a, b) = C / (C + |a - b|²) summed over `MMD_SCALES`. Computed in fp32 even under autocast.
    """
    n, dim = z.shape
    if n < 2:
        return z.new_zeros((), dtype=torch.float32)
    with torch.autocast(z.device.type, enabled=False):
        z = z.float()
        prior = torch.randn(z.shape, generator=generator, device=z.device, dtype=torch.float32)

        def kernel(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
            squared = (a.pow(2).sum(1, keepdim=True) + b.pow(2).sum(1) - 2.0 * a @ b.T).clamp_min(0.0)
            return sum(2.0 * dim * s / (2.0 * dim * s + squared) for s in MMD_SCALES)

        off_diagonal = 1.0 - torch.eye(n, device=z.device)
        within = ((kernel(z, z) + kernel(prior, prior)) * off_diagonal).sum() / (n * (n - 1))
        return within - 2.0 * kernel(z, prior).mean()


def add_prior_matching(loss: torch.Tensor, terms: dict[str, torch.Tensor], z: torch.Tensor, weight: float,
                       generator: torch.Generator | None = None) -> torch.Tensor:
    """`loss` plus `weight` × `mmd_to_standard_normal(z)`, logged as `terms["mmd"]` (`loss` itself when weight is 0)."""
    if weight <= 0:
        return loss
    mmd = mmd_to_standard_normal(z, generator)
    terms["mmd"] = mmd.detach()
    return loss + weight * mmd


def image_gradient_error(reconstruction: torch.Tensor, x: torch.Tensor, per_image_sum: bool) -> torch.Tensor:
    """Squared error of the horizontal and vertical neighbour differences of `reconstruction` against `x`.

    A pixel loss spends a model's capacity by area: a one-pixel zip, a button row or a collar line costs almost
    nothing to blur away, and those details are what tell a coat from a pullover or a shirt. Every thin line has
    two strong edges per row it crosses, so matching the images' differences (the gradient difference loss of
    Mathieu et al. 2016) weighs thin structures up against broad areas. Reduced like the reconstruction term it
    is added to: the mean per pixel (`per_image_sum=False`, an MSE loss) or the sum over pixels, averaged over
    images (a likelihood in nats).
    """
    errors = [(reconstruction.diff(dim=d) - x.diff(dim=d)).pow(2).flatten(1) for d in (-1, -2)]
    squared = torch.cat(errors, dim=1)
    return squared.sum(1).mean() if per_image_sum else squared.mean()


def add_edge_matching(loss: torch.Tensor, terms: dict[str, torch.Tensor], reconstruction: torch.Tensor,
                      x: torch.Tensor, weight: float, per_image_sum: bool) -> torch.Tensor:
    """`loss` plus `weight` × `image_gradient_error`, logged as `terms["edge"]` (`loss` itself when weight is 0)."""
    if weight <= 0:
        return loss
    edge = image_gradient_error(reconstruction, x, per_image_sum)
    terms["edge"] = edge.detach()
    return loss + weight * edge
