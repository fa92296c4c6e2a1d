"""Checking one shard: its bytes and sha256 against its manifest record, its tar, its
keys, and every sample in it (:mod:`.sample`).

Everything :func:`check_shard` needs comes in plain picklable arguments (a
:class:`~factory.trust.validate.context.Context`), so any worker can run it. The work
list a ``map_shards`` engine (:mod:`factory.trust.engine`) goes through holds one
:func:`work_item` per shard, and :func:`check_item` is the work for one item: it reads
the shard where it runs (straight from storage, through the picklable
:class:`~factory.dataset.storage.Location`) and sends back only the findings, as JSON.
A ``memory://`` dataset lives in the caller's process, so its bytes travel in the items.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from factory.dataset.licensing import Tally
from factory.dataset.reader import iter_tar
from factory.dataset.shards import sha256_hex
from factory.dataset.storage import Location
from factory.errors import ShardFormatError, StorageError
from factory.sample.types import sample_key
from factory.trust.invariants import plural
from factory.trust.validate.context import Context
from factory.trust.validate.result import ShardResult
from factory.trust.validate.sample import check_sample


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
    indices = shard_indices(record, context)
    expected_scenarios = _expected_scenarios(indices, context)
    tally = Tally()
    try:
        _check_tar(res, name, data, context, indices, expected_scenarios, tally)
        res.complete = True
    except ShardFormatError as e:
        res.fail(
            "tar.format",
            None,
            f"at byte {e.offset}: {str(e).removeprefix(f'{name}: at byte {e.offset}: ')}"
            f" ({plural(len(res.keys), 'sample')} read before it)",
        )
    if record is not None and res.complete:
        _check_record(res, record, context, indices)
    res.assets = tally.record()
    return res


def _check_tar(
    res: ShardResult,
    name: str,
    data: bytes,
    context: Context,
    indices: range | None,
    expected_scenarios: dict[int, str] | None,
    tally: Tally,
) -> None:
    """Every key of the tar in order, and (unless plain) every sample, its assets counted
    in ``tally``; raises ShardFormatError where the tar breaks."""
    seen: set[str] = set()
    wanted = None if indices is None else {sample_key(i) for i in indices if i not in context.failed}
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
            check_sample(res, key, members, context, expected_scenarios, count, tally)
        except Exception as e:  # noqa: BLE001 - a validator reports, it does not crash
            res.fail("sample.check", key, f"checking the sample raised {type(e).__name__}: {e}")


def _check_record(res: ShardResult, record: Mapping[str, Any], ctx: Context, indices: range | None) -> None:
    keys = res.keys
    if record.get("samples") != len(keys):
        res.fail("shard.samples", None, f"holds {len(keys)} samples, the manifest says {record.get('samples')}")
    for check, field_, got in (
        ("shard.first_key", "first_key", keys[0] if keys else None),
        ("shard.last_key", "last_key", keys[-1] if keys else None),
    ):
        if record.get(field_) != got and not (got is None and record.get("samples") == 0):
            res.fail(check, got, f"{field_} is {got!r}, the manifest says {record.get(field_)!r}")
    if indices is None:
        return
    want = [sample_key(i) for i in indices if i not in ctx.failed]
    want_set, got_set = set(want), set(keys)
    for k in keys:
        if k not in want_set:
            why = (
                "listed as a failed sample in the manifest"
                if k.isdigit() and int(k) in ctx.failed
                else f"not one of this shard's indices {indices.start}..{indices.stop - 1}"
            )
            res.fail("keys.indices", k, f"present, but {why}")
    for k in want:
        if k not in got_set:
            res.fail("keys.indices", k, "missing: this shard must hold it (not listed as failed)")


def shard_indices(record: Mapping[str, Any] | None, ctx: Context) -> range | None:
    """The sample indices the shard of ``record`` holds, when the manifest fixes them."""
    if record is None or ctx.samples is None or not ctx.shard_size:
        return None
    s = record.get("shard")
    if not isinstance(s, int) or isinstance(s, bool) or s < 0:
        return None
    return range(s * ctx.shard_size, min((s + 1) * ctx.shard_size, ctx.samples))


def _expected_scenarios(indices: range | None, ctx: Context) -> dict[int, str] | None:
    """index -> scenario for the shard's indices, when the scenario check applies."""
    if not ctx.scenarios or indices is None or not len(indices):
        return None
    from factory.scene.allocation import allocation_of
    from factory.scene.config import parse_config

    alloc = allocation_of(parse_config(ctx.config, "manifest config"), ctx.samples)
    return dict(zip(indices, alloc.scenarios(indices.start, indices.stop)))


def _unreadable(name: str, message: str, context: Context) -> ShardResult:
    res = ShardResult(name, max_listed=context.max_listed)
    res.fail("shard.unreadable", None, message)
    return res


def read_and_check(location: Location, name: str, record: Mapping[str, Any] | None, context: Context) -> ShardResult:
    """Read shard ``name`` and :func:`check_shard` it; a read error is a
    ``shard.unreadable`` failure."""
    try:
        data = location.read_or_none(name)
    except StorageError as e:
        return _unreadable(name, str(e), context)
    return check_shard(name, data, record, context)


def work_item(location: Location, name: str, record: Mapping[str, Any] | None) -> dict[str, Any]:
    """The work-list item of shard ``name``: plain values (the record as JSON); for a
    ``memory://`` dataset also its bytes (None: missing) or why they cannot be read."""
    item: dict[str, Any] = {"name": name, "record": json.dumps(record)}
    if location.process_local:
        try:
            item.update(data=location.read_or_none(name), unreadable=None)
        except StorageError as e:
            item.update(data=None, unreadable=str(e))
    return item


def check_item(item: Mapping[str, Any], location: Location, context: Context) -> str:
    """The work for one :func:`work_item`, wherever it runs: the shard's
    :class:`ShardResult` as JSON."""
    record = json.loads(item["record"])
    if not location.process_local:
        res = read_and_check(location, item["name"], record, context)
    elif item["unreadable"] is not None:
        res = _unreadable(item["name"], item["unreadable"], context)
    else:  # data None: a missing shard, which check_shard reports
        res = check_shard(item["name"], item["data"], record, context)
    return json.dumps(res.to_dict())
