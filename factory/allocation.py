"""Which scenario each sample belongs to: scenario weights met exactly, not on average.

A dataset of N samples gets an exact number of samples per scenario, fixed before
anything renders, and a fixed order in which they are spread over the indices:

* **Counts** follow the Sainte-Laguë (Webster) divisor method: scenario ``s`` with
  weight ``w_s`` gets about ``N * w_s / sum(w)``, rounded so the counts add up to N.
  A divisor method is *house-monotone*: growing N never takes a sample away from a
  scenario (largest remainder can, the Alabama paradox), so the counts of every
  prefix of the dataset are themselves the method's counts for that prefix.
* **Minimums.** A scenario's ``min_count`` is met by raising its count and taking the
  difference from the others by the same method (the classic divisor method with
  minimum requirements). More minimums than N is a :class:`ConfigError`.
* **Order.** Sample ``(s, k)``, the k-th sample of scenario s, sits at the position
  ``(2k + 1) / rate_s`` and the samples are sorted by position (ties: the scenario
  listed first). With ``rate_s = w_s`` this is the Sainte-Laguë seat order itself: the
  open-ended stream, whose first n samples hold exactly the method's counts for n, for
  every n. A finite dataset is that stream's first N samples unless a minimum binds;
  then ``rate_s = count_s`` spreads each scenario's samples evenly over the dataset
  instead. Either way every shard sees the mix, and rare scenarios are not bunched.

Everything is exact integer arithmetic (weights are read as the decimals they were
written as, ``0.1`` is 1/10), so the allocation is the same on every machine, and the
scenario of one index is found in O(S^2 log N) without listing the others: the Ray
workers, the HTTP endpoint and the validator each ask for just the indices they have.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction

from factory.errors import ConfigError

METHOD = "sainte-lague"


class _Order:
    """The merged order of S arithmetic sequences: element ``(s, k)`` for ``0 <= k <
    caps[s]`` at position ``(2k + 1) / rates[s]``, ties to the smaller ``s``.

    ``rates`` are non-negative integers (a scenario with rate 0 has no elements);
    ``caps`` None means unbounded sequences (the open-ended stream).
    """

    def __init__(self, rates: list[int], caps: list[int] | None = None):
        self.rates, self.caps = rates, caps
        self.total = sum(caps) if caps is not None else None

    def _before(self, s: int, k: int, t: int) -> int:
        """How many elements of sequence ``t`` come before element ``(s, k)``."""
        if t == s:
            return k
        rs, rt = self.rates[s], self.rates[t]
        if rt == 0:
            return 0
        # (2j + 1) / rt < (2k + 1) / rs  <=>  j < a / d, with a, d integers:
        a, d = (2 * k + 1) * rt - rs, 2 * rs
        if t < s:  # ties go to t: count j <= a / d
            n = a // d + 1 if a >= 0 else 0
        else:
            n = -(-a // d) if a > 0 else 0
        return n if self.caps is None else min(n, self.caps[t])

    def rank(self, s: int, k: int) -> int:
        """The 0-based place of element ``(s, k)`` in the merged order."""
        return sum(self._before(s, k, t) for t in range(len(self.rates)))

    def element(self, i: int) -> tuple[int, int]:
        """The element at place ``i``: bisect each sequence for the k of rank ``i``."""
        if self.total is not None and not 0 <= i < self.total:
            raise IndexError(i)
        for s, r in enumerate(self.rates):
            if r == 0:
                continue
            lo, hi = 0, i if self.caps is None else min(i, self.caps[s] - 1)
            while lo <= hi:  # rank(s, k) >= k and strictly increasing in k
                mid = (lo + hi) // 2
                got = self.rank(s, mid)
                if got == i:
                    return s, mid
                lo, hi = (mid + 1, hi) if got < i else (lo, mid - 1)
        raise AssertionError(f"no element at place {i}")  # ranks are a permutation of 0..total-1

    def counts(self, n: int) -> list[int]:
        """How many elements of each sequence the first ``n`` places hold."""
        if n == 0:
            return [0] * len(self.rates)
        s, k = self.element(n - 1)
        return [k + 1 if t == s else self._before(s, k, t) for t in range(len(self.rates))]

    def walk(self, start: int, stop: int) -> Iterator[int]:
        """The sequence ids of places ``[start, stop)``, in order (one bisection, then
        a merge step per place)."""
        nxt = self.counts(start)
        caps = self.caps
        for _ in range(start, stop):
            best = None
            for s, r in enumerate(self.rates):
                if r == 0 or (caps is not None and nxt[s] >= caps[s]):
                    continue
                # (2k+1)/r < (2k'+1)/r'  by cross-multiplication; ties keep the first s
                if best is None or (2 * nxt[s] + 1) * self.rates[best] < (2 * nxt[best] + 1) * r:
                    best = s
            nxt[best] += 1
            yield best


def _integer_rates(weights: list[Fraction]) -> list[int]:
    """Positive fractions scaled by their common denominator: the same order, exactly."""
    lcm = math.lcm(*(w.denominator for w in weights))
    return [int(w * lcm) for w in weights]


@dataclass(frozen=True)
class Allocation:
    """The scenario of every sample of a dataset of ``samples`` samples (None: the
    open-ended stream, as served over HTTP without a dataset size).

    ``counts`` maps scenario name to its number of samples (None for the stream);
    ``spread`` is True when a minimum binds and the order spreads the counts rather
    than following the stream (see the module docstring).
    """

    names: tuple[str, ...]
    weights: tuple[float, ...]
    minimums: tuple[int, ...]
    samples: int | None
    counts: dict[str, int] | None
    spread: bool
    _order: _Order

    def scenario_of(self, index: int) -> str:
        """The scenario of sample ``index``."""
        if index < 0 or (self.samples is not None and index >= self.samples):
            raise IndexError(f"index {index} is outside a dataset of {self.samples} samples")
        return self.names[self._order.element(index)[0]]

    def scenarios(self, start: int, stop: int) -> list[str]:
        """The scenarios of samples ``[start, stop)``, faster than one by one."""
        if start < 0 or stop < start or (self.samples is not None and stop > self.samples):
            raise IndexError(f"range [{start}, {stop}) is outside a dataset of {self.samples} samples")
        return [self.names[s] for s in self._order.walk(start, stop)]

    def quotas(self) -> dict[str, float]:
        """The exact (fractional) share of each scenario in ``samples`` samples."""
        total = sum(self.weights)
        return {n: (self.samples or 0) * w / total for n, w in zip(self.names, self.weights)}

    def record(self) -> dict:
        """The manifest's ``scenarios`` block (without ``achieved``, which the manifest
        adds from what was written)."""
        return {
            "method": METHOD,
            "order": "spread" if self.spread else "stream",
            "weights": dict(zip(self.names, self.weights)),
            "minimums": dict(zip(self.names, self.minimums)),
            "requested": dict(self.counts or {}),
        }


def allocate(config, samples: int | None = None) -> Allocation:
    """The allocation of ``config``'s scenarios over ``samples`` samples (None: the
    open-ended stream; minimums do not apply to it).

    Raises:
        ConfigError: the scenarios' ``min_count`` add up to more than ``samples``.
    """
    names = tuple(config.scenarios)
    weights = tuple(float(config.scenarios[n].weight) for n in names)
    minimums = tuple(int(config.scenarios[n].min_count) for n in names)
    stream = _Order(_integer_rates([Fraction(repr(w)) for w in weights]))
    if samples is None:
        return Allocation(names, weights, minimums, None, None, False, stream)
    if sum(minimums) > samples:
        asked = ", ".join(f"scenarios.{n}.min_count = {m}" for n, m in zip(names, minimums) if m)
        raise ConfigError(f"{config.name} for {samples} samples", [
            f"scenarios.*.min_count: the minimums add up to {sum(minimums)}, more than the {samples} samples "
            f"asked for ({asked}); lower them or ask for more samples"])

    def with_minimums(m: int) -> list[int]:
        return [max(lo, c) for lo, c in zip(minimums, stream.counts(m))]

    # The divisor method with minimums: the fewest stream places m whose counts, raised
    # to the minimums, fill exactly `samples` (the sum grows by 0 or 1 per place).
    lo, hi = 0, samples
    while lo < hi:
        mid = (lo + hi) // 2
        lo, hi = (mid + 1, hi) if sum(with_minimums(mid)) < samples else (lo, mid)
    counts = with_minimums(lo)
    spread = counts != stream.counts(samples)
    order = _Order(counts, counts) if spread else _Order(stream.rates, counts)
    return Allocation(names, weights, minimums, samples, dict(zip(names, counts)), spread, order)
