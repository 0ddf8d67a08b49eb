"""The models room: building blocks (`blocks`), the two model classes (`autoencoder`, `vae`) and their configs
(`config`), training losses (`losses`), the weights format (`format`), batched inference (`inference`) and the
judge classifier that scores generated images (`judge`)."""

from .autoencoder import AutoEncoder
from .blocks import DiagonalGaussian, ModelOutput
from .config import AutoEncoderConfig, ModelConfig, VAEConfig
from .format import load_model, read_config, save_model_folder
from .inference import decode_in_batches, embed_in_batches
from .losses import image_gradient_error, mmd_to_standard_normal
from .vae import VAE

Model = AutoEncoder | VAE

__all__ = ["VAE", "AutoEncoder", "AutoEncoderConfig", "DiagonalGaussian", "Model", "ModelConfig", "ModelOutput",
           "VAEConfig", "decode_in_batches", "embed_in_batches", "image_gradient_error", "load_model",
           "mmd_to_standard_normal", "read_config", "save_model_folder"]
