"""Checking one sample: its members, its metadata, its source (mix), its assets'
licences (:mod:`.assets`), and the ground truth's invariants through
:func:`factory.trust.invariants.check_clip`."""

from __future__ import annotations

import io
import json
from collections import Counter
from typing import Any

import numpy as np

from factory.dataset.licensing import Tally
from factory.sample.decode import camera_members, camera_meta, decode_sample, png_array
from factory.sample.deform_members import DEFORM_MEMBERS, declares_deformables
from factory.sample.encode import IMAGE_MEMBERS, SHARED_MEMBERS, camera_prefix
from factory.sample.layers import LAYER_MEMBERS
from factory.sample.liquid_members import LIQUID_MEMBERS, declares_liquids
from factory.sample.track_members import TRACK_MEMBERS
from factory.trust.invariants import check_clip
from factory.trust.oracle import GEOMETRY_MEMBER
from factory.trust.validate.assets import check_assets
from factory.trust.validate.context import Context
from factory.trust.validate.deform import check_deform
from factory.trust.validate.liquid import check_liquids
from factory.trust.validate.oracle import check_with_oracle
from factory.trust.validate.result import ShardResult
from factory.trust.validate.tracks import check_tracks

REAL_IMAGE_MEMBERS = ("jpg", "jpeg", "png", "webp")
SOURCE_MEMBER = "source.json"
INTRINSIC_MEMBERS = ("albedo.png", "material.png")  # since issue 25: both, or neither in an older dataset


def image_members(members: dict[str, bytes]) -> tuple[str, ...]:
    """The image members a sample must have: all of them, less the intrinsic ones when
    it has neither (a dataset made before issue 25)."""
    if any(n in members for n in INTRINSIC_MEMBERS):
        return IMAGE_MEMBERS
    return tuple(n for n in IMAGE_MEMBERS if n not in INTRINSIC_MEMBERS)


def layer_members(ctx: Context) -> set[str]:
    """The optional layers' members (:mod:`factory.sample.layers`) the dataset's config
    asks for in its ``output`` block (none when the context has no config)."""
    output = (ctx.config or {}).get("output") or {}
    return {m for m in LAYER_MEMBERS if output.get(m.removesuffix(".png"))}


class Findings:
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


def check_sample(
    res: ShardResult,
    key: str,
    members: dict[str, bytes],
    ctx: Context,
    expected_scenarios: dict[int, str] | None,
    count: bool,
    tally: Tally | None = None,
) -> None:
    """Check the sample ``key`` (its ``members``) into ``res``: one failure per check,
    and (when ``count``) its scenario and source in ``res``'s totals and its assets'
    licences in ``tally``."""
    tally = tally if count else None
    found = Findings()
    try:
        if ctx.kind == "mix":
            source = _source(found, members, ctx)
            if source is not None and count:
                res.sources[source["source"]] = res.sources.get(source["source"], 0) + 1
            if source is not None:
                if source["source"] == "real":
                    _check_real(found, members)
                else:
                    _check_synthetic(
                        found,
                        res,
                        members,
                        ctx,
                        origin=str(source.get("key")),
                        expected_scenario=None,
                        mix=True,
                        count=False,
                        tally=tally,
                    )
        else:
            expected = None
            if expected_scenarios is not None and key.isdigit():
                expected = expected_scenarios.get(int(key))
            _check_synthetic(
                found, res, members, ctx, origin=key, expected_scenario=expected, mix=False, count=count, tally=tally
            )
    finally:
        found.flush(res, key)


def _source(found: Findings, members: dict[str, bytes], ctx: Context) -> dict | None:
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
        found.add(
            "source.json",
            f"dataset {src.get('dataset')!r} is not a {src['source']} source of the manifest "
            f"({names or 'none listed'})",
        )
    elif entry is not None and "licence" in src and src["licence"] != entry[0]:
        found.add("source.json", f"licence {src['licence']!r}, the manifest's source has {entry[0]!r}")
    return src


def _check_real(found: Findings, members: dict[str, bytes]) -> None:
    import PIL.Image

    for name in REAL_IMAGE_MEMBERS:
        if name in members:
            try:
                with PIL.Image.open(io.BytesIO(members[name])) as im:
                    im.load()
            except Exception as e:  # noqa: BLE001 - Pillow raises many types for bad data
                found.add("real.image", f"{name}: does not decode ({type(e).__name__}: {e})")


def _check_members(found: Findings, members: dict[str, bytes], ctx: Context, mix: bool) -> None:
    # json and the eight PNGs always (the six of a dataset made before issue 25); mp4 as
    # the config says (a mix keeps the synthetic source's choice, which its manifest does
    # not record).
    names = set(members) - ({SOURCE_MEMBER} if mix else set())
    required = {"json", *image_members(members), *layer_members(ctx)} | ({"mp4"} if ctx.mp4 else set())
    allowed = required | ({"mp4"} if ctx.mp4 is None or mix else set()) | {GEOMETRY_MEMBER}  # since issue 26
    allowed |= set(LAYER_MEMBERS) if ctx.config is None or mix else set()  # a mix keeps its source's
    # The point tracks', the deformables' and the liquids' members: all of a group when the
    # config asks for it, none when it does not; either when it is not known (a plain
    # dataset, a mix).
    tracks = ((ctx.config or {}).get("output") or {}).get("tracks")
    groups = (
        (tracks, TRACK_MEMBERS),
        (declares_deformables(ctx.config), DEFORM_MEMBERS),
        (declares_liquids(ctx.config), LIQUID_MEMBERS),
    )
    for asked, group in groups:
        required |= set(group) if asked and not mix else set()
        allowed |= set(group) if asked or asked is None or mix else set()
    # A rig (render.cameras K > 1): cameras 1 .. K-1 have camera 0's per-camera members as cam<c>.<member>.
    rig = [camera_prefix(c) for c in range(1, camera_total(ctx, members))]
    required |= {p + n for p in rig for n in required if n not in SHARED_MEMBERS}
    allowed |= {p + n for p in rig for n in allowed if n not in SHARED_MEMBERS}
    if required - names or names - allowed:
        parts = []
        if required - names:
            parts.append(f"missing {', '.join(sorted(required - names))}")
        if names - allowed:
            parts.append(f"unexpected {', '.join(sorted(names - allowed))}")
        found.add("members.set", "; ".join(parts) + f" (expected {', '.join(sorted(required))})")


def _check_synthetic(
    found: Findings,
    res: ShardResult,
    members: dict[str, bytes],
    ctx: Context,
    *,
    origin: str,
    expected_scenario: str | None,
    mix: bool,
    count: bool,
    tally: Tally | None = None,
) -> None:
    from factory.sample.decode import decode_sample

    _check_members(found, members, ctx, mix)
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
    check_assets(found.add, meta, None if mix else ctx.allowed_licences)
    check_tracks(found.add, members, meta)
    check_deform(found.add, members, meta)
    check_liquids(found.add, members, meta)
    if tally is not None:
        tally.add(meta)

    arrays: dict[str, Any] = {"json": meta}
    needed = image_members(members)
    for name in needed:
        if name not in members:
            return
        try:
            arrays[name] = png_array(members[name])
        except Exception as e:  # noqa: BLE001 - Pillow raises many types for bad data
            found.add("decode.image", f"{name}: does not decode ({type(e).__name__}: {e})")
    if len(arrays) <= len(needed):
        return
    try:
        frames, _ = decode_sample(arrays)
    except (ValueError, TypeError) as e:
        found.add("decode.shape", str(e))
        return
    check_clip(frames, arrays["flow.png"], meta, found.add)
    views = [frames, *_check_rig(found, members, meta, ctx, needed)]
    _check_degenerate(found, views, meta, ctx)
    if ctx.oracle > 0:  # every camera at the same pixel fraction, a rig camera's failures named "camera c"
        for c, frames_c in enumerate(views):
            add = found.add if c == 0 else _camera_add(found, c)
            sub, cmeta = camera_members(members, c), camera_meta(meta, c)
            check_with_oracle(add, origin, frames_c, cmeta, sub, ctx.oracle, res.oracle)


def _camera_add(found: Findings, c: int):
    """``found.add`` with each message prefixed ``camera c: `` (a rig camera's failures)."""

    def add(check: str, message: str) -> None:
        found.add(check, f"camera {c}: {message}")

    return add


def camera_total(ctx: Context, members: dict) -> int:
    """K, the cameras a sample should have: the config's ``render.cameras`` (1 if
    absent), or, without a config (a plain dataset, a mix), its ``cam<c>.`` members'."""
    if ctx.config is not None:
        return int((ctx.config.get("render") or {}).get("cameras", 1))
    return 1 + sum(1 for c in range(1, 17) if f"{camera_prefix(c)}rgb.png" in members)


def _check_rig(found: Findings, members: dict, meta: dict, ctx: Context, needed: tuple) -> list:
    """Every per-sample check of cameras 1 .. K-1 of a rig (docs/format.md, "Cameras"):
    their tracks and ground-truth invariants against the metadata as each sees it
    (:func:`~factory.sample.decode.camera_meta`), failures named ``camera c``; the
    ``cameras`` list's length. Returns the cameras' decoded frames, camera 1 first."""
    K = camera_total(ctx, members)
    if K == 1 and "cameras" not in meta:
        return []
    if len(meta.get("cameras") or ()) != K:
        found.add("meta.cameras", f"meta cameras has {len(meta.get('cameras') or ())} entries, the config has {K}")
        return []
    out = []
    for c in range(1, K):
        add = _camera_add(found, c)
        sub = camera_members(members, c)
        cmeta = camera_meta(meta, c)
        check_tracks(add, sub, cmeta)
        try:
            arrays = {"json": cmeta, **{name: png_array(sub[name]) for name in needed if name in sub}}
            frames_c, _ = decode_sample(arrays)
        except Exception as e:  # noqa: BLE001 - Pillow raises many types for bad data
            add("decode.image", f"does not decode ({type(e).__name__}: {e})")
            continue
        check_clip(frames_c, arrays["flow.png"], cmeta, add)
        out.append(frames_c)
    return out


def _check_degenerate(found: Findings, views: list, meta: dict, ctx: Context) -> None:
    """``clip.empty``: a clip that shows no moving object in any frame of any camera
    (``views``: each camera's frames), where its scenario (in the manifest's config)
    does not ask for such clips."""
    scenario = ((ctx.config or {}).get("scenarios") or {}).get(meta.get("scenario"))
    if not isinstance(scenario, dict) or scenario.get("allow_empty", False):
        return
    moving = {o.get("id") for o in meta.get("objects") or () if isinstance(o, dict) and not o.get("static")}
    if moving and not any(np.isin(f.instance, list(moving)).any() for f in views):
        found.add(
            "clip.empty",
            f"none of the moving objects {sorted(moving)} has a pixel in any of the {len(views[0].instance)} frames "
            f"(scenario {meta.get('scenario')!r} does not set allow_empty)",
        )


def _check_meta(
    found: Findings, meta: dict, ctx: Context, origin: str, expected_scenario: str | None, mix: bool
) -> None:
    where = f"{SOURCE_MEMBER}'s key" if mix else "the tar key"
    if meta.get("key") != origin:
        found.add("meta.key", f"meta key {meta.get('key')!r}, {where} is {origin!r}")
    want_index = int(origin) if origin.isdigit() else None
    if meta.get("index") != want_index or isinstance(meta.get("index"), bool):
        found.add("meta.index", f"meta index {meta.get('index')!r}, int({where}) is {want_index!r}")
    if mix:
        hashes = {h for (role, _), (_, h) in (ctx.sources or {}).items() if role == "synthetic" and h}
        if hashes and meta.get("config_hash") not in hashes:
            found.add(
                "meta.config_hash",
                f"config_hash {meta.get('config_hash')!r} is not the synthetic source's ({', '.join(sorted(hashes))})",
            )
        return
    for check, name, want in (
        ("meta.config_hash", "config_hash", ctx.config_hash),
        ("meta.seed", "seed", ctx.seed),
        ("meta.dataset", "dataset", ctx.name),
    ):
        if want is not None and meta.get(name) != want:
            found.add(check, f"meta {name} {meta.get(name)!r}, the manifest's is {want!r}")
    if ctx.frames is not None:
        got = tuple(meta.get(k) for k in ("frames", "height", "width"))
        want = (ctx.frames, ctx.height, ctx.width)
        if got != want:
            found.add("meta.shape", f"frames/height/width {list(got)}, the config renders {list(want)}")
    if expected_scenario is not None and meta.get("scenario") != expected_scenario:
        found.add(
            "scenario.allocation",
            f"scenario {meta.get('scenario')!r}, the allocation gives {expected_scenario!r} to index {int(origin)}",
        )
