"""The counts and the interleave of a mix, from the ratio (pure; see the package docstring).

:func:`parse_ratio` reads R exactly, :func:`split_counts` gives ``(n_real, n_syn)`` for N
samples, :func:`default_samples` the largest N the sources allow, :func:`layout` which
output positions are real.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import numpy as np

from factory.errors import ConfigError

ARGS = "mix arguments"  # ConfigError source: the message reads "invalid config mix arguments"


def arg_error(message: str) -> ConfigError:
    """A :class:`ConfigError` about one argument of the mix."""
    return ConfigError(ARGS, [message])


def parse_ratio(value: Any) -> Fraction:
    """The fraction of real samples as an exact rational, 0 < R < 1.

    Accepts a string (``"0.25"``, ``"1/4"``), a float (read through its shortest
    decimal form, so ``0.29`` is 29/100), an int or a :class:`~fractions.Fraction`.

    Raises:
        ConfigError: not a number, not finite, or not strictly between 0 and 1.
    """
    try:
        if isinstance(value, bool):
            raise ValueError
        if isinstance(value, float):
            value = repr(value)  # shortest decimal that round-trips: 0.29, not 0.2899999...
        ratio = Fraction(value.strip() if isinstance(value, str) else value)
    except (ValueError, TypeError, ZeroDivisionError, OverflowError):
        raise arg_error(
            f"--ratio {value!r} is not a number; give the fraction of real samples, 0 < R < 1 (e.g. 0.25 or 1/4)"
        ) from None
    if not 0 < ratio < 1:
        raise arg_error(
            f"--ratio {value} is out of range; it is the fraction of real samples and must be strictly between 0 and 1"
        )
    return ratio


def split_counts(ratio: Fraction | float | str, samples: int) -> tuple[int, int]:
    """``(n_real, n_syn)`` for ``samples`` output samples: ``n_real = round(R * N)``
    exactly, halves to even (see the package docstring), ``n_syn = N - n_real``."""
    n_real = round(parse_ratio(ratio) * samples)
    return n_real, samples - n_real


def default_samples(ratio: Fraction | float | str, real_available: int, synthetic_available: int) -> int:
    """The largest N whose split fits the sources (0 if none does). Both counts grow by
    0 or 1 with N, so the feasible N are exactly ``0..answer``."""
    r = parse_ratio(ratio)
    n = min(
        real_available + synthetic_available,
        int((real_available + Fraction(1, 2)) / r),
        int((synthetic_available + Fraction(1, 2)) / (1 - r)),
    )
    while n > 0:
        n_real, n_syn = split_counts(r, n)
        if n_real <= real_available and n_syn <= synthetic_available:
            return n
        n -= 1
    return 0


def layout(seed: int, samples: int, n_real: int) -> np.ndarray:
    """Which output positions are real: bool array of shape ``(samples,)`` holding
    exactly ``n_real`` True values, spread by jittered strata (package docstring).
    Requires ``1 <= n_real < samples``."""
    if not 0 < n_real < samples:
        raise ValueError(f"need 0 < n_real < samples, got n_real={n_real}, samples={samples}")
    minority_is_real = n_real <= samples - n_real
    m = n_real if minority_is_real else samples - n_real
    starts = (np.arange(m + 1, dtype=np.int64) * samples) // m  # strata, each >= 2 long
    rng = np.random.default_rng([seed, samples, n_real])
    positions = starts[:-1] + rng.integers(0, np.diff(starts))
    mask = np.zeros(samples, dtype=bool)
    mask[positions] = True
    return mask if minority_is_real else ~mask
