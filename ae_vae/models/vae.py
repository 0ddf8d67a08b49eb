"""The variational autoencoder: Bernoulli likelihood, N(0, I) prior, diagonal-Gaussian posterior."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from .blocks import LOG_2PI, Decoder, DiagonalGaussian, Encoder, LatentCodec, ModelOutput, codec_call
from .config import VAEConfig
from .format import SafeHubMixin, as_config
from .losses import add_input_noise, vae_output


class VAE(LatentCodec, SafeHubMixin, library_name="ae-vae-explorer", tags=["vae", "variational-autoencoder"],
          repo_url="https://huggingface.co/spaces/ae-vae-explorer/ae-vae-explorer"):
    """Variational autoencoder with a Bernoulli likelihood and a N(0, I) prior.

    `forward` returns the β-weighted negative ELBO in nats per image; with β = 1 it is the
    true negative ELBO (BCE summed over the 784 pixels + KL).
    """

    config_class = VAEConfig

    def __init__(self, config: VAEConfig | dict | None = None):
        super().__init__()
        self.config = as_config(config, VAEConfig)
        c = self.config
        self.encoder = Encoder(c.channels, c.hidden_blocks, 2 * c.latent_dim)
        self.decoder = Decoder(c.channels, c.hidden_blocks, c.latent_dim)

    @codec_call
    def encode(self, x: torch.Tensor) -> DiagonalGaussian:
        mean, logvar = self.encoder(x).chunk(2, dim=1)
        return DiagonalGaussian(mean, logvar)

    @codec_call
    def embed(self, x: torch.Tensor) -> torch.Tensor:
        return self.encode(x).mean

    def forward(self, x: torch.Tensor, beta: float = 1.0, generator: torch.Generator | None = None,
                input_noise: float = 0.0, prior_matching: float = 0.0, edge_matching: float = 0.0) -> ModelOutput:
        """β-weighted −ELBO of `x`; `input_noise` > 0 gives the encoder a noisy copy of `x` while the likelihood
        still scores the clean `x` (a denoising VAE: it smooths the encoder, which otherwise overfits).
        `prior_matching` > 0 adds that multiple (nats) of `mmd_to_standard_normal` of the sampled codes, which
        pulls the codes of all images together towards N(0, I) (InfoVAE); `edge_matching` > 0 adds that multiple
        of `image_gradient_error` summed over pixels; `neg_elbo` stays the true −ELBO."""
        posterior = self.encode(add_input_noise(x, input_noise, generator))
        z = posterior.sample(generator)
        return vae_output(x, posterior, z, self.decode_logits(z), beta, generator, prior_matching, edge_matching)

    @torch.no_grad()
    def iwae_nll(self, x: torch.Tensor, num_samples: int = 100, generator: torch.Generator | None = None,
                 chunk: int = 50) -> torch.Tensor:
        """Importance-weighted estimate of -log p(x) per image (nats), an upper bound for k samples.

        log p(x) >= log (1/k) sum_k p(x|z_k) p(z_k) / q(z_k|x),  z_k ~ q(z|x).
        """
        posterior = self.encode(x)
        log_weights = []
        remaining = num_samples
        while remaining > 0:
            k = min(chunk, remaining)
            remaining -= k
            noise = torch.randn((k, *posterior.mean.shape), generator=generator, device=x.device)
            z = posterior.mean + posterior.std * noise  # (k, N, D)
            logits = self.decode_logits(z.flatten(0, 1)).view(k, *x.shape)
            log_px_z = -F.binary_cross_entropy_with_logits(logits, x.expand(k, *x.shape),
                                                          reduction="none").flatten(2).sum(-1)
            log_pz = -0.5 * (z.pow(2) + LOG_2PI).sum(-1)
            log_weights.append(log_px_z + log_pz - posterior.log_prob(z))
        log_w = torch.cat(log_weights, dim=0)
        return -(torch.logsumexp(log_w, dim=0) - math.log(num_samples))
