"""The β-conditioned VAE: one network for every KL weight β in a range, from nearly an autoencoder to a VAE whose
codes collapse onto the prior.

Loss-conditional training ("You Only Train Once", Dosovitskiy & Djolonga, 2020): each training image gets its own β,
drawn log-uniformly from the range, and both networks read log β through FiLM layers (`blocks.FiLM`), so after
training `encode(x, beta)` and `decode(z, beta)` answer for any β in the range from one set of weights.
"""

from __future__ import annotations

import math

import torch

from .blocks import BetaEmbedding, Decoder, DiagonalGaussian, Encoder, LatentCodec, ModelOutput, codec_call
from .config import BetaVAEConfig
from .format import SafeHubMixin, as_config
from .losses import add_input_noise, vae_output


def _plain(value):
    return list(value) if isinstance(value, (list, tuple)) else value


class BetaVAE(LatentCodec, SafeHubMixin, library_name="ae-vae-explorer", tags=["vae", "beta-vae"],
              repo_url="https://huggingface.co/spaces/ae-vae-explorer/ae-vae-explorer"):
    """A VAE (Bernoulli likelihood, N(0, I) prior) whose encoder and decoder are conditioned on β.

    `forward` returns the β-weighted negative ELBO in nats per image, each image at its own β; at β = 1 its
    `neg_elbo` term is the true negative ELBO.
    """

    config_class = BetaVAEConfig

    def __init__(self, config: BetaVAEConfig | dict | None = None):
        super().__init__()
        self.config = as_config(config, BetaVAEConfig)
        c = self.config
        self.encoder_beta = BetaEmbedding(c.beta_range, c.condition_width)
        self.decoder_beta = BetaEmbedding(c.beta_range, c.condition_width)
        self.encoder = Encoder(c.channels, c.hidden_blocks, 2 * c.latent_dim, condition_width=c.condition_width)
        self.decoder = Decoder(c.channels, c.hidden_blocks, c.latent_dim, condition_width=c.condition_width)

    @property
    def beta_range(self) -> tuple[float, float]:
        return self.config.beta_range

    @torch.no_grad()
    def start_from(self, vae: torch.nn.Module) -> None:
        """Take a plain VAE's weights (the same latent size, channels and blocks): every layer of that VAE keeps its
        name here, and the FiLM layers start at zero, so this network then computes that VAE at every β and training
        learns how β should change it. A `ValueError` names what does not fit."""
        shape = ("latent_dim", "channels", "hidden_blocks")
        mine = [_plain(getattr(self.config, k)) for k in shape]
        theirs = [_plain(getattr(vae.config, k, None)) for k in shape]
        kind = getattr(vae.config, "model_type", type(vae).__name__)
        if kind != "vae" or mine != theirs:
            said = lambda values: ", ".join(f"{k} {v}" for k, v in zip(shape, values, strict=True))
            raise ValueError(f"needs a VAE of the same shape ({said(mine)}); got {kind} ({said(theirs)})")
        missing, unexpected = self.load_state_dict(vae.state_dict(), strict=False)
        conditioning = [k for k in missing
                        if k.startswith(("encoder_beta.", "decoder_beta.")) or "film" in k.split(".")[1]]
        if unexpected or len(conditioning) != len(missing):
            raise ValueError(f"the VAE's layers do not match: {sorted(set(missing) - set(conditioning))[:3]} "
                             f"missing, {sorted(unexpected)[:3]} left over")

    def _betas(self, beta: float | torch.Tensor, count: int, device: torch.device) -> torch.Tensor:
        """β per item: a number for all, or one per item."""
        beta = torch.as_tensor(beta, dtype=torch.float32, device=device).reshape(-1)
        return beta.expand(count) if beta.numel() == 1 else beta

    @codec_call
    def encode(self, x: torch.Tensor, beta: float | torch.Tensor = 1.0) -> DiagonalGaussian:
        betas = self._betas(beta, len(x), x.device)
        mean, logvar = self.encoder(x, self.encoder_beta(betas)).chunk(2, dim=1)
        return DiagonalGaussian(mean, logvar)

    @codec_call
    def embed(self, x: torch.Tensor, beta: float | torch.Tensor = 1.0) -> torch.Tensor:
        return self.encode(x, beta).mean

    def decode_logits(self, z: torch.Tensor, beta: float | torch.Tensor = 1.0) -> torch.Tensor:
        return self.decoder(z, self.decoder_beta(self._betas(beta, len(z), z.device)))

    @codec_call
    def decode(self, z: torch.Tensor, beta: float | torch.Tensor = 1.0) -> torch.Tensor:
        """Images in [0, 1], (N, 1, 28, 28), decoded at β."""
        return torch.sigmoid(self.decode_logits(z, beta))

    def sample_betas(self, count: int, generator: torch.Generator | None = None,
                     device: torch.device | str = "cpu") -> torch.Tensor:
        """`count` values of β drawn log-uniformly from the trained range."""
        low, high = (math.log(b) for b in self.beta_range)
        uniform = torch.rand(count, generator=generator, device="cpu" if generator is not None else device)
        return torch.exp(low + (high - low) * uniform).to(device)

    def forward(self, x: torch.Tensor, beta: float = 1.0, generator: torch.Generator | None = None,
                input_noise: float = 0.0, prior_matching: float = 0.0, edge_matching: float = 0.0,
                at_beta: float | torch.Tensor | None = None) -> ModelOutput:
        """The loss at `at_beta` (a number or one per image); by default, in training each image at a β drawn from
        the range, in evaluation β = 1. `beta` multiplies every image's KL weight, as the training schedule's KL
        warm-up does for the VAE; `input_noise`, `prior_matching` and `edge_matching` as for `VAE.forward`."""
        if at_beta is None:
            at_beta = self.sample_betas(len(x), generator, x.device) if self.training else 1.0
        betas = self._betas(at_beta, len(x), x.device)
        posterior = self.encode(add_input_noise(x, input_noise, generator), betas)
        z = posterior.sample(generator)
        return vae_output(x, posterior, z, self.decode_logits(z, betas), beta * betas, generator, prior_matching,
                          edge_matching)
