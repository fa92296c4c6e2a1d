"""What validation finds: one failure (:func:`failure`), one shard's findings
(:class:`ShardResult`, which travels back from a worker as JSON) and the dataset's
outcome (:class:`ValidationResult`, its JSON document and its text lines)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from factory.dataset import manifest as mf
from factory.trust.invariants import plural
from factory.trust.validate.oracle import oracle_lines

RESULT_FORMAT = "factory-validation/1"
DEFAULT_MAX_LISTED = 1000  # failures kept in the result; every failure is counted


def failure(check: str, shard: str | None, key: str | None, message: str) -> dict[str, Any]:
    """One failure record (what ``ValidationResult.failures`` lists); ``check`` is one of
    :data:`factory.trust.validate.checks.CHECKS`."""
    return {"check": check, "shard": shard, "key": key, "message": message}


@dataclass
class ShardResult:
    """What :func:`~factory.trust.validate.shard.check_shard` found in one shard.
    ``failures`` holds at most ``Context.max_listed``; ``counts`` counts every failure by
    check. ``bytes`` and ``sha256`` are None when the shard could not be read; ``keys``
    are in tar order; ``scenarios`` and ``sources`` count samples by meta scenario and by
    source (each key the shard should hold once), ``assets`` their asset licences (a
    :meth:`factory.dataset.licensing.Tally.record`); ``complete``: the whole tar was read."""

    shard: str
    bytes: int | None = None
    sha256: str | None = None
    keys: list[str] = field(default_factory=list)
    failures: list[dict] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    scenarios: dict[str, int] = field(default_factory=dict)
    sources: dict[str, int] = field(default_factory=dict)
    assets: dict = field(default_factory=dict)
    complete: bool = False
    max_listed: int = DEFAULT_MAX_LISTED
    oracle: dict = field(default_factory=dict)  # the oracle's statistics per layer (.oracle)

    def fail(self, check: str, key: str | None, message: str) -> None:
        self.counts[check] = self.counts.get(check, 0) + 1
        if len(self.failures) < self.max_listed:
            self.failures.append(failure(check, self.shard, key, message))

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ShardResult:
        return cls(**d)


@dataclass
class ValidationResult:
    """The outcome of :func:`~factory.trust.validate.run.validate_dataset`.

    ``failures`` lists at most ``max_listed`` failures (``{"check", "shard", "key",
    "message"}``: ``shard`` is the shard's file name, or ``manifest.json`` for the
    dataset-level checks; ``key`` None where no sample is concerned) in a fixed order:
    dataset level first, then shard by shard in dataset order, then dataset totals.
    ``counts`` counts every failure by check name. ``skipped`` says which checks
    could not run and why; ``notes`` what a reader should know that is no failure (a
    config recorded by an older factory, say). ``engine`` is the ``name`` of the
    ``map_shards`` function the shards went through.
    """

    url: str
    kind: str
    engine: str
    shards_listed: int
    shards_checked: int
    samples: int
    bytes: int
    failures: list[dict]
    counts: dict[str, int]
    skipped: list[str]
    scenarios: dict[str, int]
    sources: dict[str, int]
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)
    assets: dict[str, int] = field(default_factory=dict)  # objects per asset licence (SPDX id)
    oracle: dict = field(default_factory=dict)  # the oracle's figures per layer (.oracle.dataset_oracle)

    @property
    def ok(self) -> bool:
        return not self.counts

    @property
    def failures_total(self) -> int:
        return sum(self.counts.values())

    @property
    def summary(self) -> dict[str, Any]:
        """Counts: shards, samples, bytes, failures (total, listed, by check)."""
        out = {
            "shards_listed": self.shards_listed,
            "shards_checked": self.shards_checked,
            "samples": self.samples,
            "bytes": self.bytes,
            "failures": self.failures_total,
            "failures_listed": len(self.failures),
            "failures_by_check": dict(sorted(self.counts.items())),
        }
        if self.scenarios:
            out["samples_by_scenario"] = dict(sorted(self.scenarios.items()))
        if self.sources:
            out["samples_by_source"] = dict(sorted(self.sources.items()))
        if self.assets:
            out["objects_by_asset_licence"] = dict(sorted(self.assets.items()))
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": RESULT_FORMAT,
            "url": self.url,
            "kind": self.kind,
            "ok": self.ok,
            "engine": self.engine,
            "created": mf.created_now(),
            "seconds": round(self.seconds, 3),
            "summary": self.summary,
            "skipped": list(self.skipped),
            "notes": list(self.notes),
            "oracle": dict(self.oracle),
            "failures": [dict(f) for f in self.failures],
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False) + "\n"

    def lines(self) -> list[str]:
        """A human-readable summary, then each listed failure as ``shard KEY check: message``."""
        shards = (
            f"{self.shards_checked} of {self.shards_listed} listed shards"
            if self.kind != "plain"
            else f"{plural(self.shards_checked, 'shard')} (no manifest)"
        )
        out = [
            f"{self.kind} dataset {self.url}: {shards} checked, {plural(self.samples, 'sample')}, "
            f"{self.bytes:,} bytes in {self.seconds:.1f} s ({self.engine} engine)"
        ]
        if self.scenarios:
            out.append("samples by scenario: " + ", ".join(f"{k} {v}" for k, v in sorted(self.scenarios.items())))
        if self.sources:
            out.append("samples by source: " + ", ".join(f"{k} {v}" for k, v in sorted(self.sources.items())))
        if self.assets:
            out.append("objects by asset licence: " + ", ".join(f"{k} {v}" for k, v in sorted(self.assets.items())))
        out += [f"skipped: {s}" for s in self.skipped]
        out += [f"note: {n}" for n in self.notes]
        out += oracle_lines(self.oracle)
        if self.ok:
            out.append("OK: no failures")
            return out
        by_check = ", ".join(f"{k} {v}" for k, v in sorted(self.counts.items()))
        out.append(f"FAILED: {plural(self.failures_total, 'failure')} ({by_check})")
        out += [f"{f['shard'] or '-'} {f['key'] or '-'} {f['check']}: {f['message']}" for f in self.failures]
        if len(self.failures) < self.failures_total:
            out.append(f"... {self.failures_total - len(self.failures)} more not listed (see the counts above)")
        return out
