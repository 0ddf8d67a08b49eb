"""The deterministic autoencoder."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .blocks import Decoder, Encoder, LatentCodec, ModelOutput, codec_call
from .config import AutoEncoderConfig
from .format import SafeHubMixin, as_config
from .losses import add_edge_matching, add_input_noise, add_prior_matching


class AutoEncoder(LatentCodec, SafeHubMixin, library_name="ae-vae-explorer", tags=["autoencoder"],
                  repo_url="https://huggingface.co/spaces/ae-vae-explorer/ae-vae-explorer"):
    """Deterministic autoencoder: `encode(x)` gives a latent tensor, `decode(z)` images in [0, 1]."""

    config_class = AutoEncoderConfig

    def __init__(self, config: AutoEncoderConfig | dict | None = None):
        super().__init__()
        self.config = as_config(config, AutoEncoderConfig)
        c = self.config
        self.encoder = Encoder(c.channels, c.hidden_blocks, c.latent_dim)
        self.decoder = Decoder(c.channels, c.hidden_blocks, c.latent_dim)

    @codec_call
    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x)

    @codec_call
    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """The deterministic latent used for maps, k-NN and interpolation."""
        return self.encode(x)

    def forward(self, x: torch.Tensor, beta: float = 1.0, generator: torch.Generator | None = None,
                input_noise: float = 0.0, prior_matching: float = 0.0, edge_matching: float = 0.0) -> ModelOutput:
        """Loss terms for `x`; `input_noise` > 0 encodes a noisy copy and reconstructs the clean `x` (denoising);
        `prior_matching` > 0 adds that multiple of `mmd_to_standard_normal` of the codes (a Wasserstein AE);
        `edge_matching` > 0 adds that multiple of `image_gradient_error`, in the reconstruction loss's units."""
        z = self.encode(add_input_noise(x, input_noise, generator))
        logits = self.decode_logits(z)
        recon = torch.sigmoid(logits)
        bce = F.binary_cross_entropy_with_logits(logits, x, reduction="none").flatten(1).sum(1).mean()
        mse = F.mse_loss(recon, x)
        loss = bce if self.config.reconstruction_loss == "bce" else mse
        terms = {"bce": bce.detach(), "mse": mse.detach()}
        loss = add_prior_matching(loss, terms, z, prior_matching, generator)
        loss = add_edge_matching(loss, terms, recon, x, edge_matching,
                                 per_image_sum=self.config.reconstruction_loss == "bce")
        return ModelOutput(loss=loss, reconstruction=recon, terms=terms)
