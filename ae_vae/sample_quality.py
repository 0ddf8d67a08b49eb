"""How good each prior makes a model as a generator, judged by the shipped classifier.

One report per model: for N(0, I), one Gaussian fitted to the training codes and the fitted mixture, the
Fréchet distance of decoded samples to the test set in the judge's features and the rarest class's share;
for class-conditional samples, the share the judge recognises as the class asked for (overall and worst).
`train.py` writes it into `metrics.json` (`sample_quality`), the model card and the app's Sample tab read it,
and `bench/priors.py` prints it, so all of them show the same numbers.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from .judge import Judge, frechet_distance
from .priors import GaussianMixturePrior, model_codes


@torch.no_grad()
def decode_in_batches(model: torch.nn.Module, z: torch.Tensor, batch_size: int = 1000) -> torch.Tensor:
    model.eval()
    return torch.cat([model.decode(z[i:i + batch_size]) for i in range(0, len(z), batch_size)])


def standard_normal_draws(latent_dim: int, samples: int, seed: int = 0) -> torch.Tensor:
    """The N(0, I) codes every sample-quality figure decodes: one seed rule, so `metrics.json`, `bench/quality.py`
    and `bench/probe.py` score the very same draws."""
    return torch.randn(samples, latent_dim, generator=torch.Generator().manual_seed(seed))


def unconditional_quality(judge: Judge, images: torch.Tensor, test_features: np.ndarray) -> dict[str, float]:
    """Fréchet distance to the test set's judge features, and the share of the class the samples show least."""
    share = torch.bincount(judge.predict(images), minlength=10).double() / len(images)
    return {"frechet_distance": round(frechet_distance(judge.features(images), test_features), 3),
            "min_class_share": round(float(share.min()), 4)}


def class_conditional_quality(model: torch.nn.Module, judge: Judge, prior: GaussianMixturePrior, per_class: int,
                              seed: int = 0, temperature: float = 1.0) -> dict[str, Any]:
    """Share of each class's samples that the judge calls that class: the mean, and the worst class."""
    shares = []
    for label in range(prior.num_classes):
        z = prior.sample(per_class, label=label, temperature=temperature,
                         generator=torch.Generator().manual_seed(seed + label))
        shares.append(float((judge.predict(decode_in_batches(model, z)) == label).double().mean()))
    worst = int(np.argmin(shares))
    return {"accuracy": round(float(np.mean(shares)), 4), "worst_class": worst,
            "worst_accuracy": round(shares[worst], 4), "per_class": [round(s, 4) for s in shares]}


def sample_quality(model: torch.nn.Module, prior: GaussianMixturePrior, judge: Judge, train_images: torch.Tensor,
                   test_images: torch.Tensor, samples: int = 10_000, seed: int = 0) -> dict[str, Any]:
    """The whole report (see the module docstring); `samples` per prior, `samples // 10` per class."""
    test_features = judge.features(test_images)
    gaussian = GaussianMixturePrior.fit(model_codes(model, train_images), n_components=1, seed=seed)
    draws = {"standard": standard_normal_draws(prior.latent_dim, samples, seed),
             "gaussian": gaussian.sample(samples, generator=torch.Generator().manual_seed(seed)),
             "mixture": prior.sample(samples, generator=torch.Generator().manual_seed(seed))}
    report: dict[str, Any] = {name: unconditional_quality(judge, decode_in_batches(model, z), test_features)
                              for name, z in draws.items()}
    report["class_conditional"] = class_conditional_quality(model, judge, prior, max(1, samples // 10), seed)
    report["samples"] = samples
    return report
