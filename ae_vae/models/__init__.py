"""The models room: building blocks (`blocks`), the model classes (`autoencoder`, `vae`, `beta_vae`) and their configs
(`config`), training losses (`losses`), the weights format (`format`) and a folder's model of either class
(`loading`), batched inference (`inference`), the ONNX export (`graphs`) and the judge classifier that scores generated images (`judge`).

Everything here but `config` needs torch, which only training installs (`requirements-train.txt`): the names are
imported when first used (`ae_vae.lazy`), so `ae_vae.models.config`, which the app reads, imports without it.
"""

from __future__ import annotations

from typing import Any

from ..lazy import lazy_exports

_EXPORTS = {
    "AutoEncoder": ".autoencoder", "VAE": ".vae", "BetaVAE": ".beta_vae", "BetaVAEConfig": ".config", "DiagonalGaussian": ".blocks", "ModelOutput": ".blocks",
    "AutoEncoderConfig": ".config", "ModelConfig": ".config", "VAEConfig": ".config", "read_config": ".config",
    "load_model": ".loading", "save_model_folder": ".format", "decode_in_batches": ".inference",
    "embed_in_batches": ".inference", "image_gradient_error": ".losses", "mmd_to_standard_normal": ".losses",
}
__all__ = ["VAE", "AutoEncoder", "AutoEncoderConfig", "BetaVAE", "BetaVAEConfig", "DiagonalGaussian", "Model", "ModelConfig", "ModelOutput",
           "VAEConfig", "decode_in_batches", "embed_in_batches", "image_gradient_error", "load_model",
           "mmd_to_standard_normal", "read_config", "save_model_folder"]
_exported, __dir__ = lazy_exports(__name__, _EXPORTS, globals())


def __getattr__(name: str) -> Any:
    if name == "Model":  # what the training room accepts: either model class
        model = _exported("AutoEncoder") | _exported("VAE") | _exported("BetaVAE")
        globals()["Model"] = model
        return model
    return _exported(name)
