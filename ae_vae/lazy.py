"""Names of a package imported when first used (PEP 562), so the app imports no training-only package.

`ae_vae` and `ae_vae.models` re-export classes that need torch (`VAE`, the training loop) beside ones that do not
(the priors, the maps): `from ae_vae import GaussianMixturePrior` must work where only the app's requirements are
installed, and `from ae_vae import VAE` must say what to install where torch is missing.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from .errors import TRAINING_REQUIREMENTS, missing_training_module


def lazy_exports(package: str, exports: dict[str, str], namespace: dict[str, Any]
                 ) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """`__getattr__` and `__dir__` for `package`, whose public `exports` map each name to the module (relative to
    the package) that defines it; a name, once imported, is kept in the package's `namespace`."""

    def __getattr__(name: str) -> Any:
        if name not in exports:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        try:
            value = getattr(importlib.import_module(exports[name], package), name)
        except ModuleNotFoundError as exc:
            missing = missing_training_module(exc)
            if missing is None:
                raise
            raise ModuleNotFoundError(f"{package}.{name} needs {missing}, which only training installs: "
                                      f"{TRAINING_REQUIREMENTS}", name=exc.name) from exc
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted(set(namespace) | set(exports))

    return __getattr__, __dir__
