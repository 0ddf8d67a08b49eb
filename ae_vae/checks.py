"""The one check of each kind of value a caller sends: whole numbers and numbers in a range, codes, temperatures.

Each returns the value in the type the code uses or raises an `InputError` that names the value, its range and
what was sent, so the app, the API and the library's samplers share one contract (and one message) per value. The
ranges themselves live beside what they bound: the sliders read the same constants.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .errors import InputError

TEMPERATURE_RANGE = (0.0, 2.0)  # the spread of sampled codes, as a multiple of the prior's own: slider and API alike


def _number(value: Any, name: str, expected: str) -> float:
    if isinstance(value, (bool, np.bool_)) or isinstance(value, (str, bytes)) and not value.strip():
        raise InputError(f"{name} must be {expected}, got {value!r}")
    try:
        return float(value)
    except (TypeError, ValueError):
        raise InputError(f"{name} must be {expected}, got {value!r}") from None


def whole_number(value: Any, low: int, high: int, name: str) -> int:
    """`value` as an int from `low` to `high` (a float that is whole, e.g. a slider's 3.0, counts)."""
    expected = f"a whole number from {low} to {high}"
    number = _number(value, name, expected)
    if not math.isfinite(number) or number != int(number) or not low <= number <= high:
        raise InputError(f"{name} must be {expected}, got {value!r}")
    return int(number)


def number_in_range(value: Any, low: float, high: float, name: str) -> float:
    """`value` as a finite float from `low` to `high`."""
    expected = f"a number from {low:g} to {high:g}"
    number = _number(value, name, expected)
    if not math.isfinite(number) or not low <= number <= high:
        raise InputError(f"{name} must be {expected}, got {value!r}")
    return number


def check_temperature(temperature: Any) -> float:
    """`temperature` as a float within `TEMPERATURE_RANGE`."""
    return number_in_range(temperature, *TEMPERATURE_RANGE, "temperature")


def code_vector(code: Any, length: int, limit: float, name: str, limit_reason: str = "") -> np.ndarray:
    """A list of `length` finite numbers within ±limit as float32 (`limit_reason` says where the limit comes from)."""
    if isinstance(code, (dict, str)) or not hasattr(code, "__len__"):
        raise InputError(f"{name} must be a list of {length} numbers, got {type(code).__name__}")
    try:
        vector = np.asarray(code, dtype=np.float64).ravel()
    except (TypeError, ValueError):
        raise InputError(f"{name} must be a list of {length} numbers") from None
    if len(vector) != length:
        raise InputError(f"{name} must have {length} numbers (the latent size), got {len(vector)}")
    if not np.isfinite(vector).all():
        raise InputError(f"{name} has values that are not finite (NaN or infinity)")
    if np.abs(vector).max() > limit:
        raise InputError(f"{name} has a value of {np.abs(vector).max():.3g}; each must be within ±{limit:.3g}"
                         + (f" ({limit_reason})" if limit_reason else ""))
    return vector.astype(np.float32)
