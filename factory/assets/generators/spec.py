"""Parameter specs: what a generator's params may be and how they are drawn.

A family declares one :class:`Param` per parameter, in the order they are drawn. A
param has a default draw range ``(low, high)`` (household scale: extents 5-40 cm) and
the limits ``(lo, hi)`` that any value, drawn or handed in, must lie within; an
integer param is drawn with ``rng.integers(low, high + 1)``, a float one with
``rng.uniform(low, high)``. A config may replace a draw range by a narrower one or a
constant (``spec_overrides``), within the limits.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from factory.errors import ParamError


class Param(NamedTuple):
    """One parameter: default draw range [``low``, ``high``], allowed limits [``lo``,
    ``hi``], ``integer`` whether it is an int, ``doc`` what it means (with its unit)."""

    low: float
    high: float
    lo: float
    hi: float
    integer: bool = False
    doc: str = ""


def _allowed(p: Param) -> str:
    kind = "an int" if p.integer else "a number"
    return f"{kind} in [{p.lo:g}, {p.hi:g}]"


def check_value(generator: str, name: str, p: Param, value) -> int | float:
    """``value`` as the plain int or float param ``name`` of ``generator`` holds.

    Raises:
        ParamError: a wrong type (a bool, a string, a float for an int param), a
            non-finite number, or a value outside the limits; the message names the
            generator, the param, the value and what is allowed.
    """
    ok_type = (
        isinstance(value, (int, np.integer)) if p.integer else isinstance(value, (int, float, np.integer, np.floating))
    )
    if isinstance(value, (bool, np.bool_)) or not ok_type:
        raise ParamError(f"generator {generator!r} param {name!r}: got {value!r}; allowed: {_allowed(p)}")
    v = int(value) if p.integer else float(value)
    if not math.isfinite(v) or not p.lo <= v <= p.hi:
        raise ParamError(f"generator {generator!r} param {name!r}: got {value!r}; allowed: {_allowed(p)}")
    return v


def check_params(generator: str, spec: dict[str, Param], params: dict) -> dict:
    """``params`` checked against ``spec`` and normalised to plain ints and floats, in
    the spec's order.

    Raises:
        ParamError: a missing or unknown param name, or a bad value (:func:`check_value`).
    """
    if not isinstance(params, dict):
        raise ParamError(f"generator {generator!r}: params must be a dict, got {type(params).__name__}")
    missing = [k for k in spec if k not in params]
    unknown = sorted(str(k) for k in params if k not in spec)
    if missing or unknown:
        raise ParamError(
            f"generator {generator!r}: missing params {missing}, unknown params {unknown}; "
            f"the params are {', '.join(spec)}"
        )
    return {k: check_value(generator, k, p, params[k]) for k, p in spec.items()}


def _override_range(generator: str, name: str, p: Param, override) -> tuple:
    """The draw range (low, high) an override gives: a constant c is (c, c)."""
    if isinstance(override, (list, tuple)):
        if len(override) != 2:
            raise ParamError(
                f"generator {generator!r} param {name!r}: a range override must be (low, high), got {override!r}"
            )
        low, high = (check_value(generator, name, p, x) for x in override)
        if low > high:
            raise ParamError(f"generator {generator!r} param {name!r}: range {override!r} has low > high")
        return low, high
    c = check_value(generator, name, p, override)
    return c, c


def draw_params(generator: str, spec: dict[str, Param], overrides: dict | None, rng: np.random.Generator) -> dict:
    """Params drawn from ``rng``, one draw per param in the spec's order (a param fixed
    to a constant by ``overrides`` takes no draw).

    ``overrides``: param name -> a constant or a (low, high) range within its limits.

    Raises:
        ParamError: an override for an unknown param, or one outside the limits.
    """
    overrides = dict(overrides or {})
    unknown = sorted(str(k) for k in overrides if k not in spec)
    if unknown:
        raise ParamError(
            f"generator {generator!r}: unknown params {unknown} in overrides; the params are {', '.join(spec)}"
        )
    out: dict = {}
    for name, p in spec.items():
        low, high = _override_range(generator, name, p, overrides[name]) if name in overrides else (p.low, p.high)
        if low == high:
            out[name] = int(low) if p.integer else float(low)
        elif p.integer:
            out[name] = int(rng.integers(int(low), int(high) + 1))
        else:
            out[name] = float(rng.uniform(low, high))
    return out
