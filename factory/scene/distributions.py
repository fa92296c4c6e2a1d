"""Scene parameters that are either a constant or a distribution.

Every numeric or categorical scene parameter in a scenario YAML may be written as a
plain constant or as a mapping with a ``dist`` key::

    intensity: 2.5                                           # constant
    intensity: {dist: uniform, low: 1.0, high: 3.0}          # U[low, high)
    intensity: {dist: normal, mean: 2, std: 0.5, min: 0}     # clipped normal
    size:      {dist: loguniform, low: 0.05, high: 0.5}      # log-uniform, low > 0
    count:     {dist: randint, low: 3, high: 8}              # integer, both ends included
    shape:     {dist: choice, values: [sphere, box], weights: [3, 1]}

Each parsed parameter is a :class:`Param` with ``sample(rng)``. The allowed range of a
field (``ge``/``le``) is checked against the *support* of the distribution when the
config is loaded, so a bad range fails before any rendering starts. A normal without
``min``/``max`` is clipped to the field's allowed range.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from factory.errors import ParamError

DIST_KINDS = ("uniform", "normal", "loguniform", "randint", "choice")


@dataclass(frozen=True)
class Param:
    """A parsed parameter: ``kind`` is ``"constant"`` or one of :data:`DIST_KINDS`."""

    kind: str
    args: tuple = ()

    def sample(self, rng: np.random.Generator) -> Any:
        """Draw one value. Constants draw nothing, so adding a constant never shifts
        the random stream of the parameters after it."""
        k, a = self.kind, self.args
        if k == "constant":
            return a[0]
        if k == "uniform":
            return float(rng.uniform(a[0], a[1]))
        if k == "normal":
            mean, std, lo, hi = a
            return float(np.clip(rng.normal(mean, std), lo, hi))
        if k == "loguniform":
            return float(math.exp(rng.uniform(math.log(a[0]), math.log(a[1]))))
        if k == "randint":
            return int(rng.integers(a[0], a[1] + 1))
        values, weights = a[0], a[1]
        return values[int(rng.choice(len(values), p=weights))]

    def values(self) -> tuple:
        """Every value a constant or a ``choice`` can take, in order.

        Raises:
            ValueError: for a numeric distribution (its values are a range: see
                :meth:`upper`).
        """
        if self.kind == "constant":
            return (self.args[0],)
        if self.kind == "choice":
            return tuple(self.args[0])
        raise ValueError(f"a {self.kind} distribution takes a range of values, not a list")

    def upper(self) -> Any:
        """The largest value the parameter can take (a constant's own value)."""
        k, a = self.kind, self.args
        if k == "constant":
            return a[0]
        if k == "choice":
            return max(a[0])
        if k == "normal":
            return a[3]
        return a[1]  # uniform, loguniform, randint: high

    def to_yaml(self) -> Any:
        """The canonical YAML/JSON form (used for the resolved config and its hash)."""
        k, a = self.kind, self.args
        if k == "constant":
            return a[0]
        if k == "normal":
            return {"dist": k, "mean": a[0], "std": a[1], "min": a[2], "max": a[3]}
        if k == "choice":
            return {"dist": k, "values": list(a[0]), "weights": list(a[-1])}  # as given (see _weights)
        return {"dist": k, "low": a[0], "high": a[1]}


def _describe_range(ge: float | None, le: float | None, gt: float | None) -> str:
    parts = []
    if gt is not None:
        parts.append(f"> {gt}")
    if ge is not None:
        parts.append(f">= {ge}")
    if le is not None:
        parts.append(f"<= {le}")
    return " and ".join(parts) if parts else "any number"


def _number(value: Any, what: str, integer: bool) -> float:
    ok_types = (int,) if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, ok_types):
        kind = "an integer" if integer else "a number"
        raise ParamError(f"{what} must be {kind}, got {value!r}")
    if not math.isfinite(value):
        raise ParamError(f"{what} must be finite, got {value!r}")
    return value


def _keys(value: dict, required: Sequence[str], optional: Sequence[str] = ()) -> None:
    extra = sorted(set(value) - set(required) - set(optional) - {"dist"})
    missing = [k for k in required if k not in value]
    kind = value["dist"]
    allowed = ", ".join(["dist", *required, *optional])
    if extra:
        raise ParamError(f"unknown key {extra[0]!r} in a {kind} distribution; allowed keys: {allowed}")
    if missing:
        raise ParamError(f"a {kind} distribution needs {missing[0]!r}; allowed keys: {allowed}")


def parse_number(
    value: Any, *, ge: float | None = None, le: float | None = None, gt: float | None = None, integer: bool = False
) -> Param:
    """Parse a numeric parameter and check its whole support lies in the allowed range.

    Raises:
        ParamError: naming the bad value and the allowed range.
    """
    allowed = _describe_range(ge, le, gt)

    def check(x: float, what: str) -> None:
        if (ge is not None and x < ge) or (le is not None and x > le) or (gt is not None and x <= gt):
            raise ParamError(f"{what} {x!r} is out of range; allowed: {allowed}")

    if not isinstance(value, dict):
        if integer and isinstance(value, float) and value.is_integer():
            value = int(value)
        x = _number(value, "value", integer)
        check(x, "value")
        return Param("constant", (x,))
    kind = value.get("dist")
    numeric_kinds = ("randint",) if integer else ("uniform", "normal", "loguniform")
    if kind == "choice":
        _keys(value, ["values"], ["weights"])
        values = value["values"]
        if not isinstance(values, list) or not values:
            raise ParamError(f"choice values must be a non-empty list of numbers ({allowed}), got {values!r}")
        for v in values:
            check(_number(v, "choice value", integer), "choice value")
        return Param("choice", (tuple(values), *_weights(value, len(values))))
    if kind not in numeric_kinds:
        raise ParamError(
            f"unknown distribution {kind!r}; allowed: a constant ({allowed}) or dist: "
            + ", ".join(numeric_kinds + ("choice",))
        )
    if kind == "normal":
        _keys(value, ["mean", "std"], ["min", "max"])
        mean = _number(value["mean"], "normal mean", False)
        std = _number(value["std"], "normal std", False)
        if std < 0:
            raise ParamError(f"normal std {std!r} is out of range; allowed: >= 0")
        lo = value.get("min", ge if ge is not None else gt)
        hi = value.get("max", le)
        lo = -math.inf if lo is None else _number(lo, "normal min", False)
        hi = math.inf if hi is None else _number(hi, "normal max", False)
        if lo > hi:
            raise ParamError(f"normal min {lo!r} is above max {hi!r}")
        # The clip bounds are the support: they must be allowed values themselves.
        if gt is not None and lo <= gt:
            raise ParamError(f"normal min {lo!r} must be given and be > {gt} for this field")
        for bound, name in ((lo, "normal min"), (hi, "normal max")):
            if math.isfinite(bound):
                check(bound, name)
        return Param("normal", (float(mean), float(std), lo, hi))
    _keys(value, ["low", "high"])
    low = _number(value["low"], f"{kind} low", integer)
    high = _number(value["high"], f"{kind} high", integer)
    if low > high:
        raise ParamError(f"{kind} low {low!r} is above high {high!r}")
    if kind == "loguniform" and low <= 0:
        raise ParamError(f"loguniform low {low!r} is out of range; allowed: > 0")
    check(low, f"{kind} low")
    check(high, f"{kind} high")
    return Param(kind, (low, high))


def parse_choice(value: Any, allowed: Sequence[str], pattern: re.Pattern | None = None, shown: str = "") -> Param:
    """Parse a categorical parameter: one of ``allowed`` (or a string ``pattern`` fully
    matches, described as ``shown`` in errors), or a ``choice`` over them."""
    names = ", ".join(allowed) + (f", {shown}" if shown else "")

    def ok(v) -> bool:
        return v in allowed or (pattern is not None and isinstance(v, str) and pattern.fullmatch(v) is not None)

    if not isinstance(value, dict):
        if not ok(value):
            raise ParamError(f"{value!r} is not allowed; allowed: {names} (or dist: choice)")
        return Param("constant", (value,))
    if value.get("dist") != "choice":
        raise ParamError(f"unknown distribution {value.get('dist')!r}; allowed: one of {names} or dist: choice")
    _keys(value, ["values"], ["weights"])
    values = value["values"]
    if not isinstance(values, list) or not values:
        raise ParamError(f"choice values must be a non-empty list of {names}, got {values!r}")
    for v in values:
        if not ok(v):
            raise ParamError(f"choice value {v!r} is not allowed; allowed: {names}")
    return Param("choice", (tuple(values), *_weights(value, len(values))))


def _weights(value: dict, n: int) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """The normalised ``weights`` of a choice (uniform when absent), and the weights as
    given: the resolved config holds those, so parsing it again normalises the same
    numbers the same way (normalised weights normalised again can move a last bit)."""
    weights = value.get("weights", [1.0] * n)
    if not isinstance(weights, list) or len(weights) != n:
        raise ParamError(f"choice weights must be a list of {n} numbers, got {weights!r}")
    weights = [_number(w, "choice weight", False) for w in weights]
    if any(w < 0 for w in weights) or sum(weights) <= 0:
        raise ParamError(f"choice weights {weights!r} must be >= 0 with a positive sum")
    total = float(sum(weights))
    return tuple(w / total for w in weights), tuple(float(w) for w in weights)
