"""The one check of each kind of value a caller sends: whole numbers and numbers in a range, codes, temperatures.

Each returns the value in the type the code uses or raises an `InputError` that names the value, its range and
what was sent, so the app, the API and the library's samplers share one contract (and one message) per value. The
ranges themselves live beside what they bound: the sliders read the same constants. The commands' flags use the
same checks as argparse types (`option`, and the shared `COUNT`, `SEED`, … below).
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from typing import Any

import numpy as np

from .errors import InputError

TEMPERATURE_RANGE = (0.0, 2.0)  # the spread of sampled codes, as a multiple of the prior's own: slider and API alike
SEED_MAX = 2 ** 32 - 1  # the largest seed of a command (numpy's and scikit-learn's generators take up to this)


def _number(value: Any, name: str, expected: str) -> float:
    if isinstance(value, (bool, np.bool_)) or isinstance(value, (str, bytes)) and not value.strip():
        raise InputError(f"{name} must be {expected}, got {value!r}")
    try:
        return float(value)
    except (TypeError, ValueError):
        raise InputError(f"{name} must be {expected}, got {value!r}") from None


def whole_number(value: Any, low: int, high: int | None, name: str) -> int:
    """`value` as an int from `low` to `high` (None: no upper bound); a float that is whole, e.g. a slider's 3.0,
    counts."""
    expected = f"a whole number from {low} to {high}" if high is not None else f"a whole number of at least {low}"
    number = _number(value, name, expected)
    if not math.isfinite(number) or number != int(number) or not low <= number <= (high if high is not None else number):
        raise InputError(f"{name} must be {expected}, got {value!r}")
    return int(number)


def number_in_range(value: Any, low: float, high: float | None, name: str) -> float:
    """`value` as a finite float from `low` to `high` (None: no upper bound)."""
    expected = f"a number from {low:g} to {high:g}" if high is not None else f"a number of at least {low:g}"
    number = _number(value, name, expected)
    if not math.isfinite(number) or not low <= number <= (high if high is not None else number):
        raise InputError(f"{name} must be {expected}, got {value!r}")
    return number


def positive_number(value: Any, name: str) -> float:
    """`value` as a finite float above 0."""
    number = _number(value, name, "a number above 0")
    if not (math.isfinite(number) and number > 0):
        raise InputError(f"{name} must be a number above 0, got {value!r}")
    return number


def option(check: Callable[..., Any], *bounds: Any) -> Callable[[str], Any]:
    """An argparse `type` from one of these checks, e.g. `option(whole_number, 1, None)`: the same rule and words
    for a command-line flag as for a request value, as argparse's one-line error (which names the flag)."""
    def parse(text: str) -> Any:
        try:
            return check(text, *bounds, "")
        except InputError as exc:
            raise argparse.ArgumentTypeError(str(exc).lstrip()) from None
    return parse


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


# The argparse types the commands share: a count of at least 1, a seed, a size or weight of at least 0.
COUNT = option(whole_number, 1, None)
SEED = option(whole_number, 0, SEED_MAX)
NONE_OR_MORE = option(whole_number, 0, None)
NOT_NEGATIVE = option(number_in_range, 0, None)
POSITIVE = option(positive_number)
