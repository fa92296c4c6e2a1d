"""Re-read a dataset and check everything: manifest, shards, tars, samples, ground truth.

:func:`validate_dataset` reads every shard of a dataset (a folder or object-store
prefix) and returns a :class:`ValidationResult`: the failures, each
``{"check", "shard", "key", "message"}`` with a short stable check name, and counts.
The work is split so that it can be spread over processes or a Ray cluster:

* the **driver** reads the manifest and the folder listing, and runs the checks that
  need the whole dataset (manifest, extra shards, keys unique across shards, scenario
  and source totals);
* :func:`check_shard` checks one shard's bytes against its manifest record and every
  sample in it. Everything it needs comes in plain picklable arguments (a
  :class:`Context`), so any worker can run it; :mod:`factory.onray.validate` runs it on
  Ray Data. Nothing here imports Ray.

Three kinds of dataset are recognised: ``factory`` (a ``manifest.json`` with a
``config``), ``mix`` (``"kind": "mix"``: samples tagged with ``source.json``, see
:mod:`factory.trust.mix`) and ``plain`` (no manifest: a real WebDataset, or a factory dataset
whose manifest is missing or unreadable; only tar integrity and key uniqueness apply).

The checks (:data:`CHECKS` holds the same list for programs):

==================  =================================================================
dataset
``manifest.*``      ``missing``: no manifest.json (the dataset is incomplete or not a
                    factory dataset); ``parse``: not a JSON object;
                    ``consistency``: :func:`factory.dataset.manifest.check` and totals;
                    ``config``: the config does not parse or does not hash to
                    ``config_hash``
``shard.*``         ``missing``: listed, not on storage; ``unreadable``; ``extra``: a
                    ``.tar`` in the folder the manifest does not list; ``bytes``,
                    ``sha256``, ``samples``, ``first_key``, ``last_key``: differ from the
                    shard's record
``tar.format``      the tar is truncated or has a corrupt header (byte offset given)
``keys.*``          ``order``: not ascending in a shard; ``unique``: seen before, in this
                    shard or another; ``indices``: shard ``i`` must hold exactly the keys
                    of ``[i*S, (i+1)*S)`` minus the failures the manifest lists
``scenario.*``      ``allocation``: meta ``scenario`` is not what
                    :func:`factory.scene.allocation.allocate` gives the index; ``totals``: the
                    per-scenario counts differ from the manifest's ``achieved``;
                    ``requested``: the manifest's ``requested`` differ from the allocation
``source.*``        mix only. ``json``: ``source.json`` missing, unreadable or naming an
                    unknown source; ``totals``: samples per source differ from the
                    manifest's ``samples_used``
sample
``members.set``     the members are not json + the six PNGs (+ mp4 when the config says)
``decode.*``        ``json``: the metadata does not parse; ``image``: a PNG (or a real
                    sample's jpg/jpeg/png/webp) does not decode; ``shape``:
                    :func:`factory.sample.decode.decode_sample` refuses the shapes or dtypes
``meta.*``          ``key``, ``index``: not the tar key (mix: ``source.json``'s key) and
                    its integer; ``config_hash``, ``seed``, ``dataset``: not the
                    manifest's; ``shape``: frames/height/width not the config's;
                    ``objects``: malformed ``objects`` (the object checks are skipped)
``depth.*``         ``finite``: NaN, inf or negative; ``object``: 0 (sky) where an object
                    is hit (the same as: an instance id where depth is 0)
``normals.unit``    not unit length (+-0.01) where there is a surface
``instance.ids``    a nonzero id that is not in ``meta["objects"][*]["id"]``
``semantic.class``  not the object's ``class_id`` on its pixels; not background on sky,
                    not floor/wall elsewhere
``bbox.*``          ``inside``: a box not within the image or empty; ``segmentation``:
                    ``bbox_visible`` is not the box of the object's pixels in
                    ``instance.png`` (x1/y1 exclusive, null when none); ``pixels``:
                    ``visible_pixels`` is not their count; ``amodal``: the amodal box
                    does not hold the visible one, or ``visible_fraction`` is not
                    visible / amodal
``flow.*``          ``encoding``: one half of flow.png 0 and the other not;
                    ``last_frame``: valid in the last frame; ``sky``: valid where depth
                    is 0; ``target``: ``(u + du, v + dv)`` outside the image (by more
                    than the 1/128 px quantisation); ``landing``: the target pixel in
                    frame t+1 is sky
``real.image``      mix, real samples: an image member does not decode
``sample.check``    a check itself raised (the sample is malformed in a way not foreseen)
==================  =================================================================

The ground-truth invariants, and why they hold, are in :mod:`factory.trust.invariants`. Not
checked: flow's occlusion test (it needs the carried point's depth, which the sample
does not store), RGB and normals against geometry, the ``.factory/`` records.
"""

from __future__ import annotations

import io
import json
import os
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any


from factory.dataset import manifest as mf
from factory.sample.decode import png_array
from factory.sample.encode import IMAGE_MEMBERS
from factory.errors import ConfigError, ShardFormatError, StorageError
from factory.trust.invariants import check_clip, is_int, plural
from factory.dataset.reader import iter_tar
from factory.sample.types import sample_key
from factory.dataset.shards import sha256_hex, shard_pattern
from factory.dataset.storage import Location, resolve

RESULT_FORMAT = "factory-validation/1"
ENGINES = ("local", "ray")
DEFAULT_MAX_LISTED = 1000  # failures kept in the result; every failure is counted
REAL_IMAGE_MEMBERS = ("jpg", "jpeg", "png", "webp")
SOURCE_MEMBER = "source.json"


CHECKS = {
    "manifest.missing": "no manifest.json",
    "manifest.parse": "manifest.json is not a JSON object",
    "manifest.consistency": "the manifest contradicts itself",
    "manifest.config": "the config does not parse or does not match config_hash",
    "shard.missing": "a listed shard is not on storage",
    "shard.unreadable": "a shard cannot be read",
    "shard.extra": "a .tar the manifest does not list",
    "shard.bytes": "size differs from the record",
    "shard.sha256": "sha256 differs from the record",
    "shard.samples": "sample count differs from the record",
    "shard.first_key": "first key differs from the record",
    "shard.last_key": "last key differs from the record",
    "tar.format": "truncated tar or corrupt header",
    "keys.order": "keys not ascending within a shard",
    "keys.unique": "a key seen before",
    "keys.indices": "a shard does not hold exactly its indices",
    "scenario.allocation": "scenario is not the allocation's",
    "scenario.totals": "per-scenario totals differ from the manifest",
    "scenario.requested": "the manifest's requested counts differ from the allocation",
    "source.json": "source.json missing or wrong (mix)",
    "source.totals": "samples per source differ from the manifest (mix)",
    "members.set": "unexpected or missing members",
    "decode.json": "metadata does not parse",
    "decode.image": "an image member does not decode",
    "decode.shape": "decoded shapes or dtypes are wrong",
    "meta.key": "meta key is not the tar key",
    "meta.index": "meta index is not int(key)",
    "meta.config_hash": "meta config_hash is not the manifest's",
    "meta.seed": "meta seed is not the manifest's",
    "meta.dataset": "meta dataset is not the manifest's name",
    "meta.shape": "frames/height/width are not the config's",
    "meta.objects": "objects metadata malformed",
    "depth.finite": "depth NaN, inf or negative",
    "depth.object": "depth 0 (sky) where an object is hit",
    "normals.unit": "normal not of unit length on a surface",
    "instance.ids": "instance id not in the metadata",
    "semantic.class": "semantic class disagrees with the object / background",
    "bbox.inside": "box outside the image or empty",
    "bbox.segmentation": "bbox_visible is not the box of the mask",
    "bbox.pixels": "visible_pixels is not the mask's pixel count",
    "bbox.amodal": "amodal box / pixels / fraction disagree with the visible ones",
    "flow.encoding": "one half of flow.png invalid, the other not",
    "flow.last_frame": "flow valid in the last frame",
    "flow.sky": "flow valid where depth is 0",
    "flow.target": "flow target outside the image",
    "flow.landing": "flow lands on sky in frame t+1",
    "real.image": "a real sample's image does not decode",
    "sample.check": "a check raised an unexpected error",
}


def failure(check: str, shard: str | None, key: str | None, message: str) -> dict[str, Any]:
    """One failure record (what ``ValidationResult.failures`` lists)."""
    return {"check": check, "shard": shard, "key": key, "message": message}


@dataclass(frozen=True)
class Context:
    """What a worker needs to check shards of one dataset: plain values, picklable.

    ``kind`` is ``"factory"``, ``"mix"`` or ``"plain"``. For factory datasets
    ``config`` is the manifest's resolved config and ``frames``/``height``/``width``/
    ``mp4`` come from it; ``samples`` and ``shard_size`` fix which keys each shard
    holds. ``sources`` (mix) maps ``(role, dataset name)`` of each source to its
    ``(licence, config_hash)``. ``scenarios``: check each sample's scenario against the allocation.
    """

    kind: str
    samples: int | None = None
    shard_size: int | None = None
    failed: frozenset = frozenset()  # indices the manifest lists as failed
    name: str | None = None
    seed: int | None = None
    config_hash: str | None = None
    config: dict | None = None
    frames: int | None = None
    height: int | None = None
    width: int | None = None
    mp4: bool | None = None
    sources: dict | None = None
    scenarios: bool = False
    max_listed: int = DEFAULT_MAX_LISTED


@dataclass
class ShardResult:
    """What :func:`check_shard` found in one shard. ``failures`` holds at most
    ``Context.max_listed``; ``counts`` counts every failure by check. ``bytes`` and
    ``sha256`` are None when the shard could not be read; ``keys`` are in tar order;
    ``scenarios`` and ``sources`` count samples by meta scenario and by source (each
    key the shard should hold once); ``complete``: the whole tar was read."""

    shard: str
    bytes: int | None = None
    sha256: str | None = None
    keys: list[str] = field(default_factory=list)
    failures: list[dict] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    scenarios: dict[str, int] = field(default_factory=dict)
    sources: dict[str, int] = field(default_factory=dict)
    complete: bool = False
    max_listed: int = DEFAULT_MAX_LISTED

    def fail(self, check: str, key: str | None, message: str) -> None:
        self.counts[check] = self.counts.get(check, 0) + 1
        if len(self.failures) < self.max_listed:
            self.failures.append(failure(check, self.shard, key, message))

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ShardResult:
        return cls(**d)


# -- one shard ---------------------------------------------------------------------


def check_shard(name: str, data: bytes | None, record: Mapping[str, Any] | None, context: Context) -> ShardResult:
    """Check shard ``name`` (its bytes, or None when it is missing) against its manifest
    ``record`` (None for a plain dataset) and every sample in it.

    Never raises for bad data: everything found is a failure in the result.
    """
    res = ShardResult(name, max_listed=context.max_listed)
    if data is None:
        res.fail("shard.missing", None, "listed in the manifest but not on storage")
        return res
    res.bytes, res.sha256 = len(data), sha256_hex(data)
    if record is not None:
        if record.get("bytes") != res.bytes:
            res.fail("shard.bytes", None, f"{res.bytes} bytes, the manifest says {record.get('bytes')}")
        if record.get("sha256") != res.sha256:
            res.fail("shard.sha256", None, f"sha256 {res.sha256}, the manifest says {record.get('sha256')}")
    seen: set[str] = set()
    expected_scenarios = _expected_scenarios(record, context)
    indices = _shard_indices(record, context)
    wanted = None if indices is None else {sample_key(i) for i in indices if i not in context.failed}
    try:
        for key, members in iter_tar(data, name):
            if key in seen:
                res.fail("keys.unique", key, "appears twice in this shard")
            elif res.keys and context.kind != "plain" and key < res.keys[-1]:
                res.fail("keys.order", key, f"comes after {res.keys[-1]}; keys must be ascending")
            # Totals count each sample the shard should hold once, so that a stray or
            # duplicated sample is reported as such and not again as a wrong total.
            count = key not in seen and (wanted is None or key in wanted)
            seen.add(key)
            res.keys.append(key)
            if context.kind == "plain":
                continue
            try:
                _check_sample(res, key, members, context, expected_scenarios, count)
            except Exception as e:  # noqa: BLE001 - a validator reports, it does not crash
                res.fail("sample.check", key, f"checking the sample raised {type(e).__name__}: {e}")
        res.complete = True
    except ShardFormatError as e:
        res.fail("tar.format", None, f"at byte {e.offset}: {str(e).removeprefix(f'{name}: at byte {e.offset}: ')}"
                 f" ({plural(len(res.keys), 'sample')} read before it)")
    if record is not None and res.complete:
        _check_record(res, record, context, indices)
    return res


def _check_record(res: ShardResult, record: Mapping[str, Any], ctx: Context, indices: range | None) -> None:
    keys = res.keys
    if record.get("samples") != len(keys):
        res.fail("shard.samples", None, f"holds {len(keys)} samples, the manifest says {record.get('samples')}")
    for field_, got in (("first_key", keys[0] if keys else None), ("last_key", keys[-1] if keys else None)):
        if record.get(field_) != got and not (got is None and record.get("samples") == 0):
            res.fail(f"shard.{field_}", got, f"{field_} is {got!r}, the manifest says {record.get(field_)!r}")
    if indices is None:
        return
    want = [sample_key(i) for i in indices if i not in ctx.failed]
    want_set, got_set = set(want), set(keys)
    for k in keys:
        if k not in want_set:
            why = "listed as a failed sample in the manifest" if k.isdigit() and int(k) in ctx.failed else \
                f"not one of this shard's indices {indices.start}..{indices.stop - 1}"
            res.fail("keys.indices", k, f"present, but {why}")
    for k in want:
        if k not in got_set:
            res.fail("keys.indices", k, "missing: this shard must hold it (not listed as failed)")


def _shard_indices(record: Mapping[str, Any] | None, ctx: Context) -> range | None:
    if record is None or ctx.samples is None or not ctx.shard_size:
        return None
    s = record.get("shard")
    if not isinstance(s, int) or isinstance(s, bool) or s < 0:
        return None
    return range(s * ctx.shard_size, min((s + 1) * ctx.shard_size, ctx.samples))


def _expected_scenarios(record, ctx: Context) -> dict[int, str] | None:
    """index -> scenario for the shard's indices, when the scenario check applies."""
    indices = _shard_indices(record, ctx)
    if not ctx.scenarios or indices is None or not len(indices):
        return None
    from factory.scene.allocation import allocation_of
    from factory.scene.config import parse_config

    alloc = allocation_of(parse_config(ctx.config, "manifest config"), ctx.samples)
    return dict(zip(indices, alloc.scenarios(indices.start, indices.stop)))


# -- one sample --------------------------------------------------------------------


class _Findings:
    """A sample's failures, one per check: the first case in words, then how many more."""

    def __init__(self):
        self.first: dict[str, str] = {}
        self.more: Counter = Counter()

    def add(self, check: str, message: str) -> None:
        if check in self.first:
            self.more[check] += 1
        else:
            self.first[check] = message

    def flush(self, res: ShardResult, key: str) -> None:
        for check, message in self.first.items():
            n = self.more[check]
            res.fail(check, key, message + (f" (and {n} more)" if n else ""))


def _check_sample(res: ShardResult, key: str, members: dict[str, bytes], ctx: Context,
                  expected_scenarios: dict[int, str] | None, count: bool) -> None:
    found = _Findings()
    try:
        if ctx.kind == "mix":
            source = _source(found, members, ctx)
            if source is not None and count:
                res.sources[source["source"]] = res.sources.get(source["source"], 0) + 1
            if source is not None:
                if source["source"] == "real":
                    _check_real(found, members)
                else:
                    _check_synthetic(found, res, members, ctx, origin=str(source.get("key")),
                                     expected_scenario=None, mix=True, count=False)
        else:
            expected = None
            if expected_scenarios is not None and key.isdigit():
                expected = expected_scenarios.get(int(key))
            _check_synthetic(found, res, members, ctx, origin=key, expected_scenario=expected, mix=False,
                             count=count)
    finally:
        found.flush(res, key)


def _source(found: _Findings, members: dict[str, bytes], ctx: Context) -> dict | None:
    raw = members.get(SOURCE_MEMBER)
    if raw is None:
        found.add("source.json", f"no {SOURCE_MEMBER} member; every sample of a mix names its source")
        return None
    try:
        src = json.loads(raw)
    except ValueError as e:
        found.add("source.json", f"{SOURCE_MEMBER} is not valid JSON ({e})")
        return None
    if not isinstance(src, dict):
        found.add("source.json", f"{SOURCE_MEMBER} holds {type(src).__name__}, expected an object")
        return None
    absent = [k for k in ("source", "dataset", "key", "shard", "licence") if k not in src]
    if absent:
        found.add("source.json", f"{SOURCE_MEMBER} lacks {', '.join(absent)}")
    if src.get("source") not in ("synthetic", "real"):
        found.add("source.json", f"source is {src.get('source')!r}; allowed: 'synthetic', 'real'")
        return None
    known = ctx.sources or {}
    entry = known.get((src["source"], src.get("dataset")))
    if known and entry is None:
        names = ", ".join(sorted(n for role, n in known if role == src["source"]))
        found.add("source.json", f"dataset {src.get('dataset')!r} is not a {src['source']} source of the manifest "
                                 f"({names or 'none listed'})")
    elif entry is not None and "licence" in src and src["licence"] != entry[0]:
        found.add("source.json", f"licence {src['licence']!r}, the manifest's source has {entry[0]!r}")
    return src


def _check_real(found: _Findings, members: dict[str, bytes]) -> None:
    import PIL.Image

    for name in REAL_IMAGE_MEMBERS:
        if name in members:
            try:
                with PIL.Image.open(io.BytesIO(members[name])) as im:
                    im.load()
            except Exception as e:  # noqa: BLE001 - Pillow raises many types for bad data
                found.add("real.image", f"{name}: does not decode ({type(e).__name__}: {e})")


def _check_synthetic(found: _Findings, res: ShardResult, members: dict[str, bytes], ctx: Context, *,
                     origin: str, expected_scenario: str | None, mix: bool, count: bool) -> None:
    from factory.sample.decode import decode_sample

    # Members: json and the six PNGs always; mp4 as the config says (a mix keeps the
    # synthetic source's choice, which its manifest does not record).
    names = set(members) - ({SOURCE_MEMBER} if mix else set())
    required = {"json", *IMAGE_MEMBERS} | ({"mp4"} if ctx.mp4 else set())
    allowed = required | ({"mp4"} if ctx.mp4 is None or mix else set())
    if required - names or names - allowed:
        parts = []
        if required - names:
            parts.append(f"missing {', '.join(sorted(required - names))}")
        if names - allowed:
            parts.append(f"unexpected {', '.join(sorted(names - allowed))}")
        found.add("members.set", "; ".join(parts) + f" (expected {', '.join(sorted(required))})")
    if "json" not in members:
        return
    try:
        meta = json.loads(members["json"])
    except ValueError as e:
        found.add("decode.json", f"json member is not valid JSON ({e})")
        return
    if not isinstance(meta, dict):
        found.add("decode.json", f"json member holds {type(meta).__name__}, expected an object")
        return
    _check_meta(found, meta, ctx, origin, expected_scenario, mix)
    if isinstance(meta.get("scenario"), str) and count:
        res.scenarios[meta["scenario"]] = res.scenarios.get(meta["scenario"], 0) + 1

    arrays: dict[str, Any] = {"json": meta}
    for name in IMAGE_MEMBERS:
        if name not in members:
            return
        try:
            arrays[name] = png_array(members[name])
        except Exception as e:  # noqa: BLE001 - Pillow raises many types for bad data
            found.add("decode.image", f"{name}: does not decode ({type(e).__name__}: {e})")
    if len(arrays) <= len(IMAGE_MEMBERS):
        return
    try:
        frames, _ = decode_sample(arrays)
    except (ValueError, TypeError) as e:
        found.add("decode.shape", str(e))
        return
    check_clip(frames, arrays["flow.png"], meta, found.add)


def _check_meta(found: _Findings, meta: dict, ctx: Context, origin: str, expected_scenario: str | None,
                mix: bool) -> None:
    where = f"{SOURCE_MEMBER}'s key" if mix else "the tar key"
    if meta.get("key") != origin:
        found.add("meta.key", f"meta key {meta.get('key')!r}, {where} is {origin!r}")
    want_index = int(origin) if origin.isdigit() else None
    if meta.get("index") != want_index or isinstance(meta.get("index"), bool):
        found.add("meta.index", f"meta index {meta.get('index')!r}, int({where}) is {want_index!r}")
    if mix:
        hashes = {h for (role, _), (_, h) in (ctx.sources or {}).items() if role == "synthetic" and h}
        if hashes and meta.get("config_hash") not in hashes:
            found.add("meta.config_hash", f"config_hash {meta.get('config_hash')!r} is not the synthetic "
                                          f"source's ({', '.join(sorted(hashes))})")
        return
    for name, want in (("config_hash", ctx.config_hash), ("seed", ctx.seed), ("dataset", ctx.name)):
        if want is not None and meta.get(name) != want:
            found.add(f"meta.{name}", f"meta {name} {meta.get(name)!r}, the manifest's is {want!r}")
    if ctx.frames is not None:
        got = tuple(meta.get(k) for k in ("frames", "height", "width"))
        want = (ctx.frames, ctx.height, ctx.width)
        if got != want:
            found.add("meta.shape", f"frames/height/width {list(got)}, the config renders {list(want)}")
    if expected_scenario is not None and meta.get("scenario") != expected_scenario:
        found.add("scenario.allocation", f"scenario {meta.get('scenario')!r}, the allocation gives "
                                         f"{expected_scenario!r} to index {int(origin)}")


# -- the dataset -------------------------------------------------------------------


@dataclass
class ValidationResult:
    """The outcome of :func:`validate_dataset`.

    ``failures`` lists at most ``max_listed`` failures (``{"check", "shard", "key",
    "message"}``: ``shard`` is the shard's file name, or ``manifest.json`` for the
    dataset-level checks; ``key`` None where no sample is concerned) in a fixed order:
    dataset level first, then shard by shard in dataset order, then dataset totals.
    ``counts`` counts every failure by check name. ``skipped`` says which checks
    could not run and why; ``notes`` what a reader should know that is no failure (a
    config recorded by an older factory, say).
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
            "shards_listed": self.shards_listed, "shards_checked": self.shards_checked,
            "samples": self.samples, "bytes": self.bytes,
            "failures": self.failures_total, "failures_listed": len(self.failures),
            "failures_by_check": dict(sorted(self.counts.items())),
        }
        if self.scenarios:
            out["samples_by_scenario"] = dict(sorted(self.scenarios.items()))
        if self.sources:
            out["samples_by_source"] = dict(sorted(self.sources.items()))
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": RESULT_FORMAT, "url": self.url, "kind": self.kind, "ok": self.ok, "engine": self.engine,
            "created": mf.created_now(),
            "seconds": round(self.seconds, 3), "summary": self.summary, "skipped": list(self.skipped),
            "notes": list(self.notes), "failures": [dict(f) for f in self.failures],
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False) + "\n"

    def lines(self) -> list[str]:
        """A human-readable summary, then each listed failure as ``shard KEY check: message``."""
        shards = (f"{self.shards_checked} of {self.shards_listed} listed shards" if self.kind != "plain"
                  else f"{plural(self.shards_checked, 'shard')} (no manifest)")
        out = [f"{self.kind} dataset {self.url}: {shards} checked, {plural(self.samples, 'sample')}, "
               f"{self.bytes:,} bytes in {self.seconds:.1f} s ({self.engine} engine)"]
        if self.scenarios:
            out.append("samples by scenario: " + ", ".join(f"{k} {v}" for k, v in sorted(self.scenarios.items())))
        if self.sources:
            out.append("samples by source: " + ", ".join(f"{k} {v}" for k, v in sorted(self.sources.items())))
        out += [f"skipped: {s}" for s in self.skipped]
        out += [f"note: {n}" for n in self.notes]
        if self.ok:
            out.append("OK: no failures")
            return out
        by_check = ", ".join(f"{k} {v}" for k, v in sorted(self.counts.items()))
        out.append(f"FAILED: {plural(self.failures_total, 'failure')} ({by_check})")
        out += [f"{f['shard'] or '-'} {f['key'] or '-'} {f['check']}: {f['message']}" for f in self.failures]
        if len(self.failures) < self.failures_total:
            out.append(f"... {self.failures_total - len(self.failures)} more not listed (see the counts above)")
        return out


@dataclass
class ValidationPlan:
    """What the driver found before any shard is read: the dataset's kind, manifest,
    the shards to check with their records, the worker context, the dataset-level
    failures and the checks skipped."""

    location: Location
    kind: str
    manifest: dict | None
    tasks: list[tuple[str, dict | None]]  # (shard name, record) in dataset order
    context: Context
    failures: list[dict]
    skipped: list[str]
    notes: list[str] = field(default_factory=list)


def _leaves(doc: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """A config document's leaves by dotted path (``{"render.device": "cpu", ...}``)."""
    out: dict[str, Any] = {}
    for k, v in doc.items():
        if isinstance(v, Mapping) and v:
            out.update(_leaves(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def plan_validation(location: Location, max_listed: int = DEFAULT_MAX_LISTED) -> ValidationPlan:
    """Read the manifest and the listing; the dataset-level failures and the shard list.

    Raises:
        StorageError: the URL cannot be read, or holds neither a manifest nor a .tar.
    """
    if location.path.endswith(".tar"):
        raise StorageError(f"{location.url_of()}: is one shard; give the dataset's folder or prefix "
                           f"(validate checks shards against the dataset's {mf.MANIFEST})")
    if location.is_local and not os.path.isdir(location.path):
        raise StorageError(f"{location.url_of()}: no such folder")
    raw = location.read_or_none(mf.MANIFEST)
    listing = location.list()
    tars = sorted(n for n in listing if n.endswith(".tar"))
    fails: list[dict] = []
    skipped: list[str] = []
    notes: list[str] = []
    manifest = None
    if raw is None:
        if not tars:
            raise StorageError(f"{location.url_of()}: no {mf.MANIFEST} and no .tar shards; "
                               "is this a dataset folder? (check the URL and --storage-option)")
        why = ("an interrupted factory generate (its .factory/intent.json is here; rerun the same command "
               "to finish it)" if location.read_or_none(mf.INTENT) is not None
               else "the dataset is incomplete or not a factory dataset")
        fails.append(failure("manifest.missing", mf.MANIFEST, None,
                             f"no {mf.MANIFEST}: {why}; checked the {plural(len(tars), '.tar file')} for tar "
                             "integrity and unique keys only"))
    else:
        try:
            manifest = mf.loads(raw, mf.MANIFEST)
        except StorageError as e:
            fails.append(failure("manifest.parse", mf.MANIFEST, None, f"{e}; checked the .tar files for tar "
                                                                      "integrity and unique keys only"))
    if manifest is None:
        ctx = Context("plain", max_listed=max_listed)
        return ValidationPlan(location, "plain", None, [(n, None) for n in tars], ctx, fails, skipped)

    def bad(message: str) -> None:
        fails.append(failure("manifest.consistency", mf.MANIFEST, None, message))

    kind = "mix" if manifest.get("kind") == "mix" else "factory"
    for problem in mf.check(manifest):
        bad(problem)
    records = manifest.get("shards") if isinstance(manifest.get("shards"), list) else []
    tasks, names = [], set()
    for n, rec in enumerate(records):
        if not isinstance(rec, dict) or not isinstance(rec.get("name"), str) or not rec["name"]:
            bad(f"shards[{n}] has no name")
        elif rec["name"] in names:
            bad(f"shards[{n}]: {rec['name']} is listed twice")
        else:
            names.add(rec["name"])
            tasks.append((rec["name"], rec))
    recs = [r for _, r in tasks]
    for total, fld in (("bytes", "bytes"), ("samples_written", "samples")):
        got = sum(r.get(fld) for r in recs if is_int(r.get(fld)))
        if manifest.get(total) != got:
            bad(f"{total} is {manifest.get(total)!r}, the shards' {fld} add up to {got}")
    samples, shard_size = manifest.get("samples"), manifest.get("shard_size")
    if not (is_int(samples) and samples >= 0 and is_int(shard_size) and shard_size >= 1):
        bad(f"samples {samples!r} / shard_size {shard_size!r} are not integers >= 0 / >= 1; "
            "shard contents not checked against their indices")
        samples = shard_size = None
    failed = frozenset(f["index"] for f in manifest.get("failures") or [] if isinstance(f, dict)
                       and is_int(f.get("index")))

    # Extra shards: .tar files here the manifest does not list.
    prefix = manifest.get("prefix")
    pattern = shard_pattern(prefix) if isinstance(prefix, str) else None
    for n in tars:
        if n in names:
            continue
        m = pattern.fullmatch(n) if pattern else None
        why = (f"named like shard {int(m.group(1))} of this dataset ({prefix}-NNNNNN.tar) but not in the manifest "
               f"(it lists {len(tasks)} shards)") if m else "a .tar the manifest does not list"
        fails.append(failure("shard.extra", n, None, f"{why}; {listing[n]} bytes"))

    common = dict(samples=samples, shard_size=shard_size, failed=failed, max_listed=max_listed)
    if kind == "mix":
        sources = {}
        for s in manifest.get("sources") or []:
            if isinstance(s, dict) and isinstance(s.get("name"), str):
                sources[(s.get("role"), s["name"])] = (s.get("licence"), s.get("config_hash"))
        if not sources:
            bad("a mix manifest must list its sources (name, role, licence)")
        skipped.append("scenario.*: a mix has no config of its own; synthetic samples are checked without "
                       "their allocation")
        ctx = Context("mix", sources=sources, **common)
        return ValidationPlan(location, kind, manifest, tasks, ctx, fails, skipped, notes)

    ctx_fields: dict[str, Any] = dict(name=manifest.get("name"), seed=manifest.get("seed"),
                                      config_hash=manifest.get("config_hash"))
    config = None
    try:
        from factory.scene.config import EXECUTION_ONLY, hash_resolved, parse_config

        config = parse_config(manifest.get("config"), "manifest config")
    except (ConfigError, TypeError, ValueError) as e:
        fails.append(failure("manifest.config", mf.MANIFEST, None, f"the manifest's config does not parse: {e}"))
    if config is not None:
        # The recorded block is what the hash covers: a dataset made before a config
        # field existed is intact even though this version resolves it with one more
        # default (and so to another hash).
        recorded = hash_resolved(manifest["config"])
        if recorded != manifest.get("config_hash"):
            fails.append(failure("manifest.config", mf.MANIFEST, None,
                                 f"config_hash {manifest.get('config_hash')!r}, the config hashes to "
                                 f"{recorded!r}"))
        elif (current := config.config_hash()) != recorded:
            had = _leaves(manifest["config"])
            added = {k: v for k, v in _leaves(config.resolved()).items()
                     if k not in had and k.removeprefix("render.") not in EXECUTION_ONLY}
            notes.append(f"manifest.config: recorded by factory {(manifest.get('generator') or {}).get('version')} "
                         f"and intact; this version adds defaults to it "
                         f"({', '.join(f'{k}={v!r}' for k, v in sorted(added.items())) or 'none it can name'}) "
                         f"and so hashes it to {current[:12]}...")
        r = config.render
        ctx_fields.update(config=manifest["config"], frames=r.frames, height=r.height, width=r.width,
                          mp4=bool(config.output.mp4))
    scenarios = False
    block = manifest.get("scenarios")
    if block is None:
        skipped.append("scenario.*: the manifest has no scenarios block (made before scenario allocation)")
    elif config is None or samples is None:
        skipped.append("scenario.*: the manifest's config or samples are unusable")
    else:
        from factory.scene.allocation import allocation_of

        scenarios = True
        requested = allocation_of(config, samples).counts
        if not isinstance(block, dict) or block.get("requested") != requested:
            got = block.get("requested") if isinstance(block, dict) else block
            fails.append(failure("scenario.requested", mf.MANIFEST, None,
                                 f"the manifest's requested counts {got}, the allocation gives {requested}"))
    ctx = Context("factory", scenarios=scenarios, **common, **ctx_fields)
    return ValidationPlan(location, kind, manifest, tasks, ctx, fails, skipped, notes)


def read_and_check(location: Location, name: str, record: dict | None, context: Context,
                   data: bytes | None = None) -> ShardResult:
    """Read shard ``name`` (unless ``data`` is given) and :func:`check_shard` it; a read
    error is a ``shard.unreadable`` failure. What each worker runs."""
    if data is None:
        try:
            data = location.read_or_none(name)
        except StorageError as e:
            res = ShardResult(name, max_listed=context.max_listed)
            res.fail("shard.unreadable", None, str(e))
            return res
    return check_shard(name, data, record, context)


Progress = Callable[[int, int, str], None]


def _run_local(plan: ValidationPlan, workers: int | None, progress: Progress | None) -> list[ShardResult]:
    total = len(plan.tasks)
    if not workers or workers <= 1 or total <= 1:
        out = []
        for n, (name, rec) in enumerate(plan.tasks):
            out.append(read_and_check(plan.location, name, rec, plan.context))
            if progress:
                progress(n + 1, total, name)
        return out
    import concurrent.futures as cf
    import multiprocessing as mp

    results: list[ShardResult | None] = [None] * total
    # spawn: the parent may hold threads (s3fs, Ray) that fork would copy mid-flight.
    with cf.ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("spawn")) as pool:
        futures = {}
        for n, (name, rec) in enumerate(plan.tasks):
            data = plan.location.read_or_none(name) if plan.location.process_local else None
            futures[pool.submit(read_and_check, plan.location, name, rec, plan.context, data)] = n
        for done, fut in enumerate(cf.as_completed(futures)):
            n = futures[fut]
            results[n] = fut.result()
            if progress:
                progress(done + 1, total, plan.tasks[n][0])
    return results  # type: ignore[return-value]


def validate_dataset(url_or_location: str | os.PathLike | Location, *, options: Mapping[str, Any] | None = None,
                     engine: str = "local", workers: int | None = None,
                     max_failures_listed: int = DEFAULT_MAX_LISTED, progress: Progress | None = None,
                     log: Callable[[str], None] = lambda s: None) -> ValidationResult:
    """Check the dataset at ``url_or_location`` (see the module docstring for the checks).

    Args:
        options: fsspec storage options (as ``--storage-option`` gives them).
        engine: ``"local"`` (this process, or ``workers`` processes) or ``"ray"`` (Ray
            Data, one task per shard; joins ``RAY_ADDRESS`` or starts a local Ray).
        workers: parallel shard checks (local: processes; ray: task concurrency; None:
            local runs in this process, Ray uses what the cluster has).
        max_failures_listed: failures kept in the result (all are counted).
        progress: called ``(shards done, shards total, shard name)`` as shards finish.

    Raises:
        ConfigError: a bad ``engine``, ``workers`` or ``max_failures_listed``.
        StorageError: the URL cannot be reached, or holds no manifest and no .tar.
    """
    problems = []
    if engine not in ENGINES:
        problems.append(f"engine: {engine!r} is not one of {', '.join(ENGINES)}")
    if workers is not None and (not is_int(workers) or workers < 1):
        problems.append(f"workers: must be an integer >= 1 or None, got {workers!r}")
    if not is_int(max_failures_listed) or max_failures_listed < 0:
        problems.append(f"max_failures_listed: must be an integer >= 0, got {max_failures_listed!r}")
    if problems:
        raise ConfigError("validate arguments", problems)
    t0 = time.perf_counter()
    location = (url_or_location if isinstance(url_or_location, Location)
                else resolve(os.fspath(url_or_location), options))
    plan = plan_validation(location, max_failures_listed)
    if engine == "ray":
        from factory.onray.validate import check_shards_ray

        results = check_shards_ray(plan.location, plan.tasks, plan.context, workers=workers, progress=progress,
                                   log=log)
    else:
        results = _run_local(plan, workers, progress)
    return _assemble(plan, results, engine, max_failures_listed, time.perf_counter() - t0)


def _assemble(plan: ValidationPlan, results: list[ShardResult], engine: str, max_listed: int,
              seconds: float) -> ValidationResult:
    listed: list[dict] = []
    counts: Counter = Counter()

    def add(f: dict) -> None:
        counts[f["check"]] += 1
        if len(listed) < max_listed:
            listed.append(f)

    for f in plan.failures:
        add(f)
    owner: dict[str, str] = {}
    scenarios: Counter = Counter()
    sources: Counter = Counter()
    for res in results:
        counts.update(res.counts)
        listed.extend(res.failures[:max(0, max_listed - len(listed))])
        for key in res.keys:
            first = owner.setdefault(key, res.shard)
            if first != res.shard:
                add(failure("keys.unique", res.shard, key, f"also in {first}; keys must be unique in a dataset"))
        scenarios.update(res.scenarios)
        sources.update(res.sources)
    manifest = plan.manifest or {}
    skipped = list(plan.skipped)
    broken = [r.shard for r in results if not r.complete]
    totals = not broken
    if broken and (plan.context.scenarios or plan.kind == "mix"):
        skipped.append(f"scenario.totals / source.totals: {plural(len(broken), 'shard')} could not be read completely "
                       f"({', '.join(broken[:3])}{', ...' if len(broken) > 3 else ''})")
    if plan.context.scenarios and totals:
        achieved = (manifest.get("scenarios") or {}).get("achieved")
        if not isinstance(achieved, dict) or {k: v for k, v in achieved.items() if v} != dict(scenarios):
            add(failure("scenario.totals", mf.MANIFEST, None,
                        f"samples per scenario in the shards {dict(sorted(scenarios.items()))}, the manifest's "
                        f"achieved {achieved}"))
    if plan.kind == "mix" and totals:
        used = {s.get("role"): s.get("samples_used") for s in manifest.get("sources") or [] if isinstance(s, dict)}
        for role in ("synthetic", "real"):
            if role in used and used[role] != sources.get(role, 0):
                add(failure("source.totals", mf.MANIFEST, None,
                            f"{sources.get(role, 0)} {role} samples in the shards, the manifest's samples_used "
                            f"is {used[role]}"))
    readable = [r for r in results if r.bytes is not None]
    return ValidationResult(
        url=plan.location.url_of(), kind=plan.kind, engine=engine,
        shards_listed=len(plan.tasks) if plan.manifest is not None else 0, shards_checked=len(readable),
        samples=sum(len(r.keys) for r in results), bytes=sum(r.bytes for r in readable),
        failures=listed, counts=dict(counts), skipped=skipped, scenarios=dict(scenarios),
        sources=dict(sources), seconds=seconds, notes=list(plan.notes),
    )
