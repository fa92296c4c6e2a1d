"""The numbers of the report, gathered in one pass over a dataset's samples.

:func:`collect` reads samples in dataset order (``Dataset.samples()``, shard by shard,
stopping after ``max_samples``) and, for each, decodes only what it needs:

==================  ========================================================  =========
figure              from                                                      unit
==================  ========================================================  =========
scenario counts     json ``scenario``                                         samples
class counts        json ``objects[*].category`` (one per object, not frame)  objects
objects per scene   ``len(json objects)`` (furniture included)                objects
object size         ``2 * max(dims)``: the largest full extent of the         m
                    object's box (``dims`` are half-extents)
visible fraction    json ``objects[*].visible_fraction``, every object and    0..1
                    frame (0 = out of view or fully hidden)
depth               ``depth.png`` codes / 1000 at every pixel of every frame  m
                    with code > 0 (0 = sky, no surface)
brightness          per sample: mean luma ``0.299 R + 0.587 G + 0.114 B`` of  0..255
                    ``rgb.png`` over all frames (8-bit sRGB codes, not
                    linear light); samples without ``rgb.png``: their picture
motion speed        ``|velocity|`` of every non-static object in every frame  m/s
near-duplicates,    the first frame of each sample (see                       -
colour and edges    :mod:`factory.trust.report.diversity_section`)
==================  ========================================================  =========

Samples that are not factory's (a real WebDataset, the real half of a mix) add only
what they have: their picture to brightness, diversity and previews. A member that
cannot be decoded is counted in ``errors`` with its shard and key; it does not stop
the report.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from factory.sample.decode import png_array
from factory.timing import timed
from factory.trust.report.distribution import Distribution
from factory.trust.report.diversity_section import DiversityCollector

LUMA = np.array([0.299, 0.587, 0.114])  # Rec. 601 luma weights on R, G, B
MAX_ERRORS_KEPT = 20


@dataclass
class Collected:
    """Everything one pass gathered (see the module docstring for each figure)."""

    samples: int = 0
    shards: list[str] = field(default_factory=list)  # shards read from, in order
    with_meta: int = 0  # samples with a factory json member (frames, height, width)
    scenarios: Counter = field(default_factory=Counter)  # scenario -> samples
    sources: Counter = field(default_factory=Counter)  # mix source role -> samples
    classes: Counter = field(default_factory=Counter)  # category -> objects
    objects_per_scene: Counter = field(default_factory=Counter)  # n objects -> samples
    clip_shapes: Counter = field(default_factory=Counter)  # (frames, height, width) -> samples
    object_size: Distribution = field(default_factory=lambda: Distribution(0.001, "m"))
    visible_fraction: Distribution = field(default_factory=lambda: Distribution(0.001, ""))
    depth: Distribution = field(default_factory=lambda: Distribution(0.001, "m"))  # grid = depth codes
    brightness: Distribution = field(default_factory=lambda: Distribution(0.001, "luma (0..255)"))
    speed: Distribution = field(default_factory=lambda: Distribution(0.001, "m/s"))
    depth_samples: int = 0  # samples whose depth.png was counted
    diversity: DiversityCollector = field(default_factory=DiversityCollector)
    previews: list[tuple[str, np.ndarray]] = field(default_factory=list)  # (key, (H, W, 3) uint8)
    contact_sheet: tuple[str, np.ndarray] | None = None  # the first factory sample's sheet
    errors: int = 0
    error_examples: list[str] = field(default_factory=list)

    def error(self, shard: str, key: str, member: str, err: BaseException) -> None:
        self.errors += 1
        if len(self.error_examples) < MAX_ERRORS_KEPT:
            self.error_examples.append(f"{shard} {key} {member}: {type(err).__name__}: {err}")

    def merge(self, other: Collected, previews: int) -> None:
        """Append ``other``, gathered from the samples that follow this collection's
        (the next shard): counts add, the first ``previews`` pictures and the first
        contact sheet are kept."""
        self.samples += other.samples
        self.shards += other.shards
        self.with_meta += other.with_meta
        self.depth_samples += other.depth_samples
        for name in ("scenarios", "sources", "classes", "objects_per_scene", "clip_shapes"):
            getattr(self, name).update(getattr(other, name))
        for name in ("object_size", "visible_fraction", "depth", "brightness", "speed"):
            getattr(self, name).merge(getattr(other, name))
        self.diversity.merge(other.diversity)
        self.previews += other.previews[: max(0, previews - len(self.previews))]
        self.contact_sheet = self.contact_sheet or other.contact_sheet
        self.errors += other.errors
        self.error_examples += other.error_examples[: MAX_ERRORS_KEPT - len(self.error_examples)]


def collect(
    dataset,
    *,
    max_samples: int | None = None,
    previews: int = 16,
    log: Callable[[str], None] | None = None,
    timings: dict | None = None,
) -> Collected:
    """Read the first ``max_samples`` samples (all when None) of ``dataset`` (a
    :class:`factory.dataset.reader.Dataset`) once and gather the report's figures, the first
    ``previews`` pictures and the first factory sample's contact sheet. ``timings``,
    when given, collects the seconds spent per step (see :func:`factory.timing.timed`).

    Shard by shard, as :func:`factory.trust.report.gather.collect_through` does on any
    engine, so both give the same figures to the bit.

    Raises:
        factory.errors.ShardFormatError: a shard is not a well-formed tar.
        factory.errors.StorageError: a shard cannot be read.
    """
    out = Collected()
    for name in dataset.shards:
        left = None if max_samples is None else max_samples - out.samples
        if left is not None and left <= 0:
            break
        if log is not None:
            log(f"reading {name}")
        with timed(timings, "reading and parsing shards"):
            data = dataset.read_shard(name)
        out.merge(
            collect_shard(
                name,
                data,
                limit=left,
                previews=previews - len(out.previews),
                contact_sheet=out.contact_sheet is None,
                timings=timings,
            ),
            previews,
        )
    return out


def collect_shard(
    shard: str,
    data: bytes,
    *,
    limit: int | None = None,
    previews: int = 16,
    contact_sheet: bool = True,
    timings: dict | None = None,
) -> Collected:
    """The figures of one shard's samples (its first ``limit``; all when None), the
    first ``previews`` pictures, and (when ``contact_sheet``) the contact sheet of its
    first factory sample: a piece for :meth:`Collected.merge`.

    Raises:
        factory.errors.ShardFormatError: the shard is not a well-formed tar.
    """
    from factory.dataset.reader import iter_tar

    out = Collected()
    samples = iter_tar(data, shard)
    while limit is None or out.samples < limit:
        with timed(timings, "reading and parsing shards"):
            item = next(samples, None)
        if item is None:
            break
        key, members = item
        if not out.shards:
            out.shards.append(shard)
        _add_sample(out, shard, key, members, previews, contact_sheet, timings)
        out.samples += 1
    return out


def _json(data: bytes) -> Any:
    return json.loads(data)


def _add_sample(
    out: Collected,
    shard: str,
    key: str,
    members: Mapping[str, bytes],
    previews: int,
    contact_sheet: bool,
    timings: dict | None = None,
) -> None:
    meta = None
    with timed(timings, "json: scenarios, objects, speeds"):
        if "json" in members:
            try:
                meta = _json(members["json"])
            except ValueError as e:
                out.error(shard, key, "json", e)
        shape = _clip_shape(meta)
        if shape is not None:
            out.with_meta += 1
            out.clip_shapes[shape] += 1
            _add_meta(out, meta)
    if "source.json" in members:
        try:
            src = _json(members["source.json"])
            out.sources[str(src.get("source")) if isinstance(src, dict) else "?"] += 1
        except ValueError as e:
            out.error(shard, key, "source.json", e)

    if "depth.png" in members:
        with timed(timings, "depth.png: decode and count"):
            try:
                codes = png_array(members["depth.png"])
                if codes.dtype == np.uint16:  # factory's depth; an 8-bit one means something else
                    out.depth.add_grid(codes[codes > 0])
                    out.depth_samples += 1
            except Exception as e:  # PIL raises many types for a bad PNG
                out.error(shard, key, "depth.png", e)

    strip, rgb_failed = None, False
    if "rgb.png" in members:
        with timed(timings, "rgb.png: decode"):
            try:
                strip = png_array(members["rgb.png"])
                if strip.dtype != np.uint8 or strip.ndim != 3 or strip.shape[2] != 3:
                    strip = None  # not factory's 8-bit RGB: factory.trust.diversity.picture converts it
            except Exception as e:
                out.error(shard, key, "rgb.png", e)
                rgb_failed = True
    # The first frame: cut from the strip already decoded when the json says where,
    # the same picture factory.trust.diversity.picture would decode again.
    with timed(timings, "diversity: perceptual hash and features"):
        try:
            if rgb_failed:  # already counted; picture() would only fail on it again
                raise ValueError("rgb.png")
            if strip is not None and shape is not None and strip.shape[0] == shape[0] * shape[1]:
                picture = strip[: shape[1]]
            else:
                picture = out.diversity.picture(members)
            out.diversity.add(f"{shard}/{key}", picture)
        except ValueError as e:  # factory.trust.diversity.picture: a picture member that does not decode
            if not rgb_failed:
                out.error(shard, key, "picture", e)
            out.diversity.bad_picture()
            picture = None
    with timed(timings, "brightness"):
        if strip is not None or picture is not None:
            out.brightness.add([mean_luma(strip if strip is not None else picture)])
    if picture is not None and len(out.previews) < previews:
        out.previews.append((key, np.array(picture)))
    if contact_sheet and out.contact_sheet is None and shape is not None:
        with timed(timings, "contact sheet (first sample)"):
            out.contact_sheet = _contact_sheet(key, members)


def mean_luma(rgb: np.ndarray) -> float:
    """Mean Rec. 601 luma of an (H, W, 3) uint8 RGB image, 0..255 (luma is linear in
    R, G, B, so it is the weighted channel means; cv2.mean sums 150x faster than numpy's
    strided mean over the channel axis)."""
    import cv2

    return float(np.array(cv2.mean(np.ascontiguousarray(rgb))[:3]) @ LUMA)


def _clip_shape(meta: Any) -> tuple[int, int, int] | None:
    """``(frames, height, width)`` of a factory json member, None for any other json."""
    if not isinstance(meta, dict):
        return None
    try:
        T, H, W = (meta[k] for k in ("frames", "height", "width"))
    except KeyError:
        return None
    if all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in (T, H, W)):
        return T, H, W
    return None


def _add_meta(out: Collected, meta: dict) -> None:
    scenario = meta.get("scenario")
    out.scenarios[scenario if isinstance(scenario, str) else "(none)"] += 1
    objects = [o for o in meta.get("objects") or [] if isinstance(o, dict)]
    out.objects_per_scene[len(objects)] += 1
    for obj in objects:
        out.classes[str(obj.get("category", "(none)"))] += 1
        dims = obj.get("dims")
        if isinstance(dims, list) and dims and all(_number(d) for d in dims):
            out.object_size.add([2.0 * max(dims)])
        vis = obj.get("visible_fraction")
        if isinstance(vis, list):
            out.visible_fraction.add([v for v in vis if _number(v)])
        vel = obj.get("velocity")
        if not obj.get("static", False) and isinstance(vel, list):
            vs = [v for v in vel if isinstance(v, list) and len(v) == 3 and all(_number(c) for c in v)]
            if vs:
                out.speed.add(np.linalg.norm(np.asarray(vs, dtype=np.float64), axis=1))


def _number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _contact_sheet(key: str, members: Mapping[str, bytes]) -> tuple[str, np.ndarray] | None:
    """factory.sample.preview's contact sheet of the middle frame, when the sample decodes."""
    from factory.sample.decode import decode_sample
    from factory.sample.preview import contact_sheet

    try:
        frames, meta = decode_sample(dict(members))
        return key, contact_sheet(frames, meta, frames.depth.shape[0] // 2)
    except Exception:  # not a complete factory sample: the report just has no sheet
        return None


# -- the scenario table ------------------------------------------------------------------


def scenario_table(manifest: Mapping[str, Any] | None, counted: Mapping[str, int], samples_read: int) -> dict:
    """Requested vs achieved samples per scenario.

    Returns ``{"source", "note", "total", "rows": [{"scenario", "weight", "minimum",
    "requested", "achieved_manifest", "counted"}]}``. ``requested`` comes from the
    manifest's ``scenarios`` block when it has one (``source`` ``"manifest"``), else
    from the config's weights as ``samples * w / sum(w)`` (``source`` ``"weights"``, an
    expectation, not a promise), else it is None (``source`` ``"none"``).
    ``achieved_manifest`` is the block's ``achieved`` (whole dataset); ``counted`` the
    samples with that ``scenario`` among the ``samples_read`` read.
    """
    manifest = manifest or {}
    total = manifest.get("samples")
    block = manifest.get("scenarios")
    config = manifest.get("config") if isinstance(manifest.get("config"), dict) else {}
    weights = _config_weights(config.get("scenarios"))
    rows: dict[str, dict] = {}

    def row(name: str) -> dict:
        return rows.setdefault(
            name,
            {
                "scenario": name,
                "weight": None,
                "minimum": None,
                "requested": None,
                "achieved_manifest": None,
                "counted": 0,
            },
        )

    if isinstance(block, dict) and isinstance(block.get("requested"), dict):
        source = "manifest"
        method = block.get("method")
        note = (
            f"Requested counts from the manifest (allocation method {method!r})"
            if method
            else "Requested counts from the manifest"
        )
        for name, n in block["requested"].items():
            row(name)["requested"] = n
        for name, n in (block.get("achieved") or {}).items():
            row(name)["achieved_manifest"] = n
        for name, w in (block.get("weights") or {}).items():
            row(name)["weight"] = w
        for name, m in (block.get("minimums") or {}).items():
            row(name)["minimum"] = m
    elif weights and isinstance(total, int):
        source = "weights"
        note = (
            f"The manifest has no scenario allocation block: requested is the expected count "
            f"{total} x weight / sum of weights, not an exact target"
        )
        wsum = sum(weights.values())
        for name, w in weights.items():
            r = row(name)
            r["weight"] = w
            r["requested"] = total * w / wsum if wsum > 0 else None
    else:
        source = "none"
        note = "No manifest config with scenario weights: nothing was requested, counts only"
    for name, w in weights.items():
        if name in rows and rows[name]["weight"] is None:
            rows[name]["weight"] = w
    for name, n in counted.items():
        row(name)["counted"] = n
    if isinstance(total, int) and samples_read < total:
        note += f"; counted in the first {samples_read} of {total} samples only"
    return {"source": source, "note": note, "total": total, "samples_read": samples_read, "rows": list(rows.values())}


def _config_weights(scenarios: Any) -> dict[str, float]:
    """``{name: weight}`` of a resolved config's scenarios (a mapping of name -> spec,
    or a list of specs with ``name``); weight 1 when a spec has none."""
    if isinstance(scenarios, dict):
        items = scenarios.items()
    elif isinstance(scenarios, list):
        items = ((s.get("name"), s) for s in scenarios if isinstance(s, dict))
    else:
        return {}
    out = {}
    for name, spec in items:
        if isinstance(name, str) and isinstance(spec, dict):
            w = spec.get("weight", 1.0)
            out[name] = float(w) if _number(w) else 1.0
    return out
