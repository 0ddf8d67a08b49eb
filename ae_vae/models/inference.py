"""A model run over many images or codes at once, in batches that keep memory flat.

One copy of "encode in batches" for everything that needs a data set's codes (evaluation, the maps, the priors,
the neighbour search) and of "decode in batches" for everything that decodes thousands of samples.
"""

from __future__ import annotations

import torch
from torch import nn

BATCH_SIZE = 1000


@torch.no_grad()
def embed_in_batches(model: nn.Module, images: torch.Tensor, batch_size: int = BATCH_SIZE,
                     device: torch.device | str = "cpu") -> torch.Tensor:
    """The deterministic codes (`model.embed`: AE code, VAE posterior mean) of `images`, (N, D) on the CPU."""
    model.eval()
    return torch.cat([model.embed(images[i:i + batch_size].to(device)).cpu()
                      for i in range(0, len(images), batch_size)])


@torch.no_grad()
def decode_in_batches(model: nn.Module, z: torch.Tensor, batch_size: int = BATCH_SIZE) -> torch.Tensor:
    """`model.decode(z)` for many codes: (N, 1, 28, 28) in [0, 1]."""
    model.eval()
    return torch.cat([model.decode(z[i:i + batch_size]) for i in range(0, len(z), batch_size)])
