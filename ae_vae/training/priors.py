"""Fitting a trained model's prior (`ae_vae.latent.priors.GaussianMixturePrior`) to its training codes: the codes,
which of them a per-class mixture may use (as the judge sees their reconstructions), the fit, the test set's
log-densities and the weights' fingerprint. Training-side (torch); the prior it returns is numpy."""

from __future__ import annotations

import torch
from torch import nn

from ..errors import PriorError
from ..latent.priors import (
    CLASS_FILTERS,
    DEFAULT_CLASS_COMPONENTS,
    DEFAULT_COMPONENTS,
    DEFAULT_COVARIANCE,
    DEFAULT_MIN_CONFIDENCE,
    DEFAULT_UNCONDITIONAL,
    GaussianMixturePrior,
    weights_fingerprint,
)
from ..models.inference import embed_in_batches


@torch.no_grad()
def judged_correct(model: nn.Module, judge, images: torch.Tensor, labels: torch.Tensor, class_filter: str,
                   min_confidence: float = 0.0, batch_size: int = 1000) -> torch.Tensor:
    """Which training codes a per-class mixture may use: (N,) bool.

    "all": every code. "images": the judge calls the image its label. "reconstructions": the judge calls
    decode(embed(image)) its label with probability >= `min_confidence` -- what a sample drawn near that
    code decodes to, which is what class-conditional sampling is judged on.
    """
    if class_filter not in CLASS_FILTERS:
        raise ValueError(f"class_filter must be one of {CLASS_FILTERS}, got {class_filter!r}")
    if class_filter == "all":
        return torch.ones(len(labels), dtype=torch.bool)
    if judge is None:
        raise ValueError(f"class_filter {class_filter!r} needs a judge")
    model.eval()
    keep = []
    for start in range(0, len(images), batch_size):
        x = images[start:start + batch_size]
        if class_filter == "reconstructions":
            x = model.decode(model.embed(x))
        probs = judge.predict_proba(x)
        y = labels[start:start + batch_size]
        keep.append((probs.argmax(1) == y) & (probs.gather(1, y[:, None])[:, 0] >= min_confidence))
    return torch.cat(keep)


def fit_prior(model: nn.Module, train_images: torch.Tensor, train_labels: torch.Tensor,
              test_images: torch.Tensor | None = None, *, judge=None, class_filter: str = "all",
              min_confidence: float = DEFAULT_MIN_CONFIDENCE, n_components: int = DEFAULT_COMPONENTS,
              class_components: int = DEFAULT_CLASS_COMPONENTS, covariance_type: str = DEFAULT_COVARIANCE,
              seed: int = 0, unconditional: str = DEFAULT_UNCONDITIONAL) -> GaussianMixturePrior:
    """Everything `train.py` and `refit` do: codes of the training split, the mixtures, test percentiles, fingerprint."""
    codes = embed_in_batches(model, train_images)
    mask = judged_correct(model, judge, train_images, train_labels, class_filter, min_confidence)
    config = getattr(model, "config", None)
    info = {"model_type": getattr(config, "model_type", type(model).__name__),
            "dataset": getattr(config, "dataset", None), "class_filter": class_filter,
            "min_confidence": min_confidence}
    test_codes = None if test_images is None else embed_in_batches(model, test_images)
    try:
        return GaussianMixturePrior.fit(codes, train_labels, test_codes=test_codes, class_mask=mask,
                                        n_components=n_components, class_components=class_components,
                                        covariance_type=covariance_type, seed=seed, unconditional=unconditional,
                                        fingerprint=weights_fingerprint(model), info=info)
    except ValueError as exc:  # scikit-learn's: codes a mixture cannot describe (collapsed, or out of scale)
        scale = float(codes.abs().max())
        raise PriorError(f"the prior cannot be fitted to the training codes (largest |z| {scale:.3g}): "
                         f"{str(exc).split('. ')[0]}") from None
