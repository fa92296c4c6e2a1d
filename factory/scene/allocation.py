"""Which scenario each sample belongs to: scenario weights met exactly, not on average.

A dataset of N samples gets an exact number of samples per scenario, fixed before
anything renders, and a fixed order in which they are spread over the indices:

* **Counts** by largest remainder (Hamilton): scenario ``s`` with weight ``w_s`` has
  the exact quota ``q_s = N * w_s / sum(w)``; each gets ``floor(q_s)``, and the samples
  left over go one each to the largest fractional parts (ties: the larger weight,
  then the scenario listed first). So the counts add up to N and every count is its
  quota rounded down or up, never further off.
* **Minimums.** A scenario whose ``min_count`` is above its count is fixed at its
  minimum, and the others share the samples left by the same rule, by weight
  (repeated until no minimum binds). More minimums than N is a :class:`ConfigError`.
* **Order.** Sample ``(s, k)``, the k-th sample of scenario ``s`` (the s-th of S
  listed), sits at the position ``(k + (2s + 1) / 2S) / count_s`` and the samples are
  sorted by position (ties: the scenario listed first). Each scenario's samples are
  thus spread evenly over the indices, and scenarios with equal counts interleave
  rather than land together: every shard sees the mix, and no rare case is bunched.
* **The open-ended stream** (``samples=None``: what the HTTP endpoint serves when a
  request names no dataset size) has no N to divide: it uses the same positions with
  the weights as rates and no end, so the shares of every prefix follow the weights
  to within about one sample. A dataset's sample ``i`` is the stream's sample ``i``
  only by chance: the dataset size is part of a sample's identity.

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

METHOD = "largest-remainder"


class _Order:
    """The merged order of S arithmetic sequences: element ``(s, k)`` for ``0 <= k <
    caps[s]`` at position ``(k + phi_s) / rates[s]`` with the offset ``phi_s = (2s + 1)
    / 2S``, ties to the smaller ``s``. The offsets keep sequences of equal rate from
    landing on the same positions (they interleave instead of clustering).

    ``rates`` are non-negative integers (a scenario with rate 0 has no elements);
    ``caps`` None means unbounded sequences (the open-ended stream).
    """

    def __init__(self, rates: list[int], caps: list[int] | None = None):
        self.rates, self.caps = rates, caps
        self.total = sum(caps) if caps is not None else None
        self._2s = 2 * len(rates)

    def _numerator(self, s: int, k: int) -> int:
        """2S times ``k + phi_s``: the position of ``(s, k)`` is this over ``2S rates[s]``."""
        return self._2s * k + 2 * s + 1

    def _before(self, s: int, k: int, t: int) -> int:
        """How many elements of sequence ``t`` come before element ``(s, k)``."""
        if t == s:
            return k
        rs, rt = self.rates[s], self.rates[t]
        if rt == 0:
            return 0
        # (2S j + 2t + 1) / rt < (2S k + 2s + 1) / rs  <=>  j < a / d, a and d integers:
        a, d = self._numerator(s, k) * rt - (2 * t + 1) * rs, self._2s * rs
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
                # compare positions by cross-multiplication; ties keep the first s
                if best is None or (
                    self._numerator(s, nxt[s]) * self.rates[best] < self._numerator(best, nxt[best]) * r
                ):
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

    ``counts`` maps scenario name to its number of samples (None for the stream).
    """

    names: tuple[str, ...]
    weights: tuple[float, ...]
    minimums: tuple[int, ...]
    samples: int | None
    counts: dict[str, int] | None
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
            "weights": dict(zip(self.names, self.weights)),
            "minimums": dict(zip(self.names, self.minimums)),
            "requested": dict(self.counts or {}),
        }


def largest_remainder(weights: list[Fraction], seats: int) -> list[int]:
    """``seats`` shared by ``weights`` (exact, positive): each its quota rounded down,
    the rest one each to the largest remainders (ties: larger weight, then first)."""
    total = sum(weights)
    quotas = [seats * w / total for w in weights]
    counts = [math.floor(q) for q in quotas]
    by_remainder = sorted(range(len(weights)), key=lambda s: (-(quotas[s] - counts[s]), -weights[s], s))
    for s in by_remainder[: seats - sum(counts)]:
        counts[s] += 1
    return counts


def allocate(config, samples: int | None = None) -> Allocation:
    """The allocation of ``config``'s scenarios over ``samples`` samples (None: the
    open-ended stream; minimums do not apply to it).

    Raises:
        ConfigError: the scenarios' ``min_count`` add up to more than ``samples``.
    """
    names = tuple(config.scenarios)
    weights = tuple(float(config.scenarios[n].weight) for n in names)
    minimums = tuple(int(config.scenarios[n].min_count) for n in names)
    exact = [Fraction(repr(w)) for w in weights]
    if samples is None:
        return Allocation(names, weights, minimums, None, None, _Order(_integer_rates(exact)))
    if sum(minimums) > samples:
        asked = ", ".join(f"scenarios.{n}.min_count = {m}" for n, m in zip(names, minimums) if m)
        raise ConfigError(
            f"{config.name} for {samples} samples",
            [
                f"scenarios.*.min_count: the minimums add up to {sum(minimums)}, more than the {samples} samples "
                f"asked for ({asked}); lower them or ask for more samples"
            ],
        )
    bound: set[int] = set()  # scenarios held at their minimum
    while True:
        free = [s for s in range(len(names)) if s not in bound]
        left = samples - sum(minimums[s] for s in bound)
        shares = largest_remainder([exact[s] for s in free], left) if free else []
        counts = [minimums[s] for s in range(len(names))]
        for s, c in zip(free, shares):
            counts[s] = c
        newly = {s for s in free if counts[s] < minimums[s]}
        if not newly:
            break
        bound |= newly
    return Allocation(names, weights, minimums, samples, dict(zip(names, counts)), _Order(counts, counts))


_ALLOCATIONS: dict[tuple[str, int | None], Allocation] = {}


def allocation_of(config, samples: int | None) -> Allocation:
    """``allocate(config, samples)``, remembered per process (workers make or check many
    samples of one dataset)."""
    key = (config.config_hash(), samples)
    if key not in _ALLOCATIONS:
        if len(_ALLOCATIONS) > 64:
            _ALLOCATIONS.clear()
        _ALLOCATIONS[key] = allocate(config, samples)
    return _ALLOCATIONS[key]
