"""Encode one :class:`~factory.sample.types.Sample` as one WebDataset sample.

:func:`encode_sample` returns ``{"__key__": key, "<member>": bytes, ...}``, the dict
that ``webdataset.TarWriter.write`` takes; :func:`factory.sample.decode.decode_sample` inverts
it. The members, their shapes, dtypes, units, encodings and error bounds are specified
once, in ``docs/format.md``; this module holds the constants that implement it
(:data:`DEPTH_SCALE`, :data:`FLOW_SCALE`, :data:`FLOW_ZERO`, :data:`FLOW_INVALID`,
:data:`NORMAL_SCALE`, :data:`IMAGE_MEMBERS`). In short: each modality of the whole clip
is ONE member, its T frames stacked vertically into a "filmstrip" (frame t is rows
``[t*H, (t+1)*H)``), and every member is an ordinary PNG / JSON / MP4 that
``webdataset`` and ``ray.data.read_webdataset`` decode with their default handlers.

A clip whose widest member (flow, ``T*H x 2*W`` pixels) exceeds
:data:`MAX_MEMBER_PIXELS` (Pillow's decompression-bomb limit) is rejected here rather
than written undecodable.

Bytes are deterministic: the PNGs are written by the config's ``output.png`` writer
(:data:`~factory.scene.config.PNG_WRITERS`) at fixed settings: ``"libdeflate"``, the
default (:mod:`factory.sample.png`: one row filter per member, :data:`FAST_FILTERS`,
libdeflate level 2), or ``"opencv"``, OpenCV's bundled libpng/zlib (:data:`PNG_LEVEL`,
Z_RLE for :data:`ID_MEMBERS`; the bytes of every dataset before issue 23). Both decode
to the same arrays. The JSON is canonical, and the MP4 muxer writes creation and
modification times of 0, so the same sample gives the same bytes with the same wheels
(``deflate`` and ``opencv-python-headless`` are in the manifest's provenance).
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable, Collection

import cv2
import numpy as np

from factory.render.frames import Frames
from factory.sample.deform_members import DEFORM_MEMBERS, encode_deform
from factory.sample.layers import LAYER_FILTERS, LAYER_MEMBERS, check_layers, layer_images
from factory.sample.liquid_members import LIQUID_MEMBERS, encode_liquids
from factory.sample.png import png as fast_png
from factory.sample.track_members import encode_tracks
from factory.sample.types import Sample
from factory.scene.config import DEFAULT_PNG, MAX_MEMBER_PIXELS, PNG_WRITERS

# zlib settings of the "opencv" writer's PNGs, chosen so that encoding kept up with the
# compiled renderer. Measured on the benchmark clip (256x256, 24 frames, 10 objects; OpenCV 5 /
# libpng, 1 core), ms per frame and kB per clip, level 1 against the level 6 of before:
# rgb 1.7 (586 kB) vs 3.3 (449), depth 0.9 (271) vs 1.9 (222), normals 1.4 (269) vs
# 2.0 (214), flow 2.6 (939) vs 4.2 at level 3 (763). Ids compress best with zlib's
# run-length strategy (Z_RLE), at the speed of level 1: instance 0.8 ms (33 kB, vs
# 38 kB at level 6), semantic 0.4 (30 kB). All six: about 7.8 ms a frame instead of
# 13.4, for about 20% more bytes (storage is cheaper than the CPU that renders).
PNG_LEVEL = 1
ID_MEMBERS = frozenset({"instance.png", "semantic.png", "material.png"})  # written with Z_RLE

DEPTH_SCALE = 1000.0  # depth codes per metre (millimetres)
DEPTH_MAX_CODE = 65535
FLOW_SCALE = 64.0  # flow codes per pixel
FLOW_ZERO = 32768  # code of zero flow
FLOW_INVALID = 0  # code where flow_valid is False
NORMAL_SCALE = 127.5
DEFAULT_FPS = 12.0
MP4_FOURCC = "mp4v"  # the only MP4 encoder in opencv-python-headless wheels (no H.264)

# The row filter of each member in factory.sample.png's writer, the best of none / sub
# / up for size at libdeflate level 2 on both benchmark workloads (benchmarks/encode.py).
FAST_FILTERS = {
    "rgb.png": "sub",
    "depth.png": "up",
    "instance.png": "up",
    "semantic.png": "sub",
    "normals.png": "up",
    "flow.png": "sub",
    "albedo.png": "sub",
    "material.png": "up",
}
FAST_FILTERS.update(LAYER_FILTERS)  # the optional layers' members (factory.sample.layers)

# The image members, in the order encode_sample builds them; ``json`` is always written.
IMAGE_MEMBERS = (
    "rgb.png",
    "depth.png",
    "instance.png",
    "semantic.png",
    "normals.png",
    "flow.png",
    "albedo.png",
    "material.png",
)


def encode_sample(
    sample: Sample, *, mp4: bool = True, only: Collection[str] | None = None, png: str = DEFAULT_PNG
) -> dict[str, bytes]:
    """The WebDataset sample dict of ``sample``: ``{"__key__": key, member: bytes}``.

    ``only``, when given, names the image members to encode (a subset of
    :data:`IMAGE_MEMBERS` and of the optional layers' ``LAYER_MEMBERS``, which are
    written when the frames have them: :mod:`factory.sample.layers`); ``json`` is
    always there, ``geometry.glb`` (the sample's ``geometry``, docs/format.md) and the
    point tracks only when ``only`` is None (a whole sample, as a shard holds it), and
    ``mp4`` follows ``mp4``. Each member's bytes are the same whichever others are
    asked for. ``png`` picks the PNG writer
    (:data:`~factory.scene.config.PNG_WRITERS`; callers pass the config's
    ``output.png``, whose default is this one): ``"libdeflate"``
    (:mod:`factory.sample.png`), or ``"opencv"``, the bytes of the datasets made before
    issue 23, in about three times libdeflate's CPU and 1.2x its bytes; both decode to
    the same arrays.

    Raises:
        ValueError: the key contains a dot, an array has the wrong shape or dtype, a
            float array holds NaN/inf, depth is negative, meta's frames/height/width
            contradict the arrays, or the clip is too large for one PNG member.
    """
    if not sample.key or "." in sample.key or "/" in sample.key:
        raise ValueError(f"sample key {sample.key!r}: must be non-empty with no '.' or '/' (WebDataset splits on them)")
    f = sample.frames
    T, H, W = _check_frames(f)
    # The readers need T (or H) to cut the filmstrips into frames: make sure the JSON
    # says it (generate_sample already writes these keys; hand-made samples may not).
    meta = dict(sample.meta)
    for name, value in (("frames", T), ("height", H), ("width", W)):
        if meta.setdefault(name, value) != value:
            raise ValueError(f"meta[{name!r}] = {meta[name]!r} but the frames have {name} = {value}")

    unknown = sorted(set(only or ()) - set(IMAGE_MEMBERS) - set(LAYER_MEMBERS))
    if unknown:
        raise ValueError(f"only: unknown members {unknown}; allowed: {', '.join(IMAGE_MEMBERS + LAYER_MEMBERS)}")
    if png not in PNG_WRITERS:
        raise ValueError(f"png: unknown PNG writer {png!r}; allowed: {', '.join(PNG_WRITERS)}")
    write = _write_fast if png == "libdeflate" else _write_opencv
    members = {
        "__key__": sample.key,
        "json": json.dumps(meta, sort_keys=True, separators=(",", ":"), allow_nan=False).encode(),
    }
    for name, image in _images(f).items():
        if only is None or name in only:
            members[name] = write(name, image())
    if sample.tracks is not None and only is None:  # the point tracks' .npy members (track_members)
        members.update(encode_tracks(sample.tracks))
    for c, view in enumerate(sample.views, 1):  # a rig's camera c: the same members, named cam<c>.<member>
        if _check_frames(view.frames) != (T, H, W):
            raise ValueError(f"camera {c}: frames of shape {_check_frames(view.frames)}, camera 0's are {(T, H, W)}")
        for name, image in _images(view.frames).items():
            if only is None or name in only:
                members[f"{camera_prefix(c)}{name}"] = write(name, image())
        if view.tracks is not None and only is None:
            members.update({f"{camera_prefix(c)}{k}": v for k, v in encode_tracks(view.tracks).items()})
    if sample.geometry is not None and only is None:  # the meshes a third party rebuilds objects from
        members["geometry.glb"] = sample.geometry
    if sample.deform is not None and only is None:  # the deformables' vertex states (factory.sample.deformables)
        members.update(encode_deform(sample.deform))
    if sample.liquid is not None and only is None:  # the liquids' particles and surfaces (liquid_members)
        members.update(encode_liquids(sample.liquid))
    if mp4:
        members["mp4"] = encode_mp4(f.rgb, float(meta.get("fps", DEFAULT_FPS)))
    return members


# The members a rig's sample holds once, for all its cameras (docs/format.md, "Cameras"); every other is per camera.
SHARED_MEMBERS = ("json", "mp4", "geometry.glb", *DEFORM_MEMBERS, *LIQUID_MEMBERS)


def camera_prefix(c: int) -> str:
    """The member-name prefix of a rig's camera ``c``: "" for camera 0, ``cam<c>.`` after."""
    return f"cam{c}." if c else ""


def _images(f: Frames) -> dict[str, Callable[[], np.ndarray]]:
    """Each image member's filmstrip, by name, made when called: (T*H, W) or
    (T*H, W, 3) codes in PNG's channel order (RGB; normals x, y, z), any writer's input."""
    T, H, W = f.depth.shape
    return {
        "rgb.png": lambda: f.rgb.reshape(T * H, W, 3),
        "depth.png": lambda: encode_depth(f.depth).reshape(T * H, W),
        "instance.png": lambda: f.instance.reshape(T * H, W),
        "semantic.png": lambda: f.semantic.reshape(T * H, W),
        "normals.png": lambda: encode_normals(f.normals).reshape(T * H, W, 3),
        "flow.png": lambda: encode_flow(f.flow, f.flow_valid).reshape(T * H, 2 * W),
        **(
            {"albedo.png": lambda: f.albedo.reshape(T * H, W, 3), "material.png": lambda: f.material.reshape(T * H, W)}
            if f.albedo is not None
            else {}
        ),
        **layer_images(f, encode_flow, encode_depth),
    }


def _write_opencv(name: str, image: np.ndarray) -> bytes:
    """Member ``name``'s PNG by OpenCV (:func:`_png`): Z_RLE for the id members; OpenCV
    takes BGR, so a colour image's channels are swapped (cvtColor: the same array as a
    reversed-stride copy, in a thirtieth of its time)."""
    return _png(_bgr(image) if image.ndim == 3 else image, rle=name in ID_MEMBERS)


def _write_fast(name: str, image: np.ndarray) -> bytes:
    """Member ``name``'s PNG by :func:`factory.sample.png.png` with its row filter
    (channels in PNG's order, as given)."""
    return fast_png(image, FAST_FILTERS[name])


def encode_depth(depth: np.ndarray) -> np.ndarray:
    """Depth (..., float metres, 0 = none) -> uint16 millimetre codes, 0 = none."""
    # In place on one float64 buffer (the same values as the expression written out,
    # in about half its time): the code is min(rint(metres * 1000), 65535), at least 1 on
    # a surface, so a (physically impossible) surface nearer than 0.5 mm does not round
    # to 0 and turn into sky.
    code = depth.astype(np.float64)
    code *= DEPTH_SCALE
    np.rint(code, out=code)
    np.clip(code, 1, DEPTH_MAX_CODE, out=code)
    with np.errstate(invalid="ignore"):  # NaN (refused by encode_sample) is zeroed next
        out = code.astype(np.uint16)
    out[~(depth > 0)] = 0  # no surface
    return out


def encode_normals(normals: np.ndarray) -> np.ndarray:
    """Unit normals (..., 3) float in [-1, 1] -> uint8 codes ``round((n + 1) * 127.5)``
    (in float32: a quarter of float64's time, and the code's error stays <= 1/255)."""
    code = np.asarray(normals, np.float32) + np.float32(1.0)  # a new buffer, then in place
    code *= np.float32(NORMAL_SCALE)
    np.rint(code, out=code)
    np.clip(code, 0, 255, out=code)
    return code.astype(np.uint8)


def encode_flow(flow: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Flow (T, H, W, 2) pixels + validity (T, H, W) -> uint16 (T, H, 2W), du | dv."""
    # float32 carries flow (|codes| < 2^15) to 1/256 of a code: exact enough to round.
    # In place on one buffer, each component cast straight into its half of the output.
    code = np.asarray(flow, np.float32) * np.float32(FLOW_SCALE)
    np.rint(code, out=code)
    code += np.float32(FLOW_ZERO)
    np.clip(code, 1, 65535, out=code)
    W = code.shape[-2]
    out = np.empty((*code.shape[:-2], 2 * W), np.uint16)
    invalid = ~np.asarray(valid, bool)
    for c in (0, 1):
        half = out[..., c * W : (c + 1) * W]
        np.copyto(half, code[..., c], casting="unsafe")  # integers in [1, 65535]: exact
        half[invalid] = FLOW_INVALID
    return out


def encode_mp4(rgb: np.ndarray, fps: float) -> bytes:
    """The clip (T, H, W, 3) uint8 RGB as MP4 bytes (``mp4v``), written via a temp file
    because OpenCV's VideoWriter only writes to paths."""
    T, H, W, _ = rgb.shape
    with tempfile.TemporaryDirectory(prefix="factory-mp4-") as tmp:
        path = os.path.join(tmp, "clip.mp4")
        writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*MP4_FOURCC), fps, (W, H))
        if not writer.isOpened():
            raise RuntimeError(f"OpenCV cannot open an {MP4_FOURCC!r} MP4 writer for {W}x{H} at {fps} fps")
        try:
            for frame in rgb:
                writer.write(np.ascontiguousarray(frame[..., ::-1]))  # VideoWriter takes BGR
        finally:
            writer.release()
        with open(path, "rb") as fh:
            data = fh.read()
    if not data:
        raise RuntimeError(f"OpenCV wrote an empty MP4 for a {T}x{H}x{W} clip")
    return data


def _bgr(rgb: np.ndarray) -> np.ndarray:
    """(N, W, 3) uint8 with the channels reversed (a new contiguous array)."""
    return cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2BGR)


def _png(image: np.ndarray, rle: bool = False) -> bytes:
    params = [cv2.IMWRITE_PNG_COMPRESSION, PNG_LEVEL]
    if rle:
        params += [cv2.IMWRITE_PNG_STRATEGY, cv2.IMWRITE_PNG_STRATEGY_RLE]
    ok, buf = cv2.imencode(".png", np.ascontiguousarray(image), params)
    if not ok:
        raise RuntimeError(f"OpenCV failed to encode a {image.shape} {image.dtype} PNG")
    return buf.tobytes()


_EXPECTED = {  # field: (trailing shape after (T, H, W), dtype)
    "rgb": ((3,), np.uint8),
    "depth": ((), np.float32),
    "instance": ((), np.uint16),
    "semantic": ((), np.uint8),
    "normals": ((3,), np.float32),
    "flow": ((2,), np.float32),
    "flow_valid": ((), np.bool_),
    "albedo": ((3,), np.uint8),  # both, or neither (frames of a dataset before issue 25)
    "material": ((), np.uint8),
}


def _check_frames(f: Frames) -> tuple[int, int, int]:
    """Validate every array against the :class:`Frames` contract; return (T, H, W)."""
    if f.depth.ndim != 3:
        raise ValueError(f"frames.depth: shape {f.depth.shape}, expected (T, H, W)")
    T, H, W = f.depth.shape
    for name, (tail, dtype) in _EXPECTED.items():
        a = getattr(f, name)
        if a is None and name in ("albedo", "material"):
            if f.albedo is None and f.material is None:
                continue  # frames of a dataset made before issue 25
            raise ValueError(f"frames.{name}: None, but not both albedo and material are; give both or neither")
        if a.shape != (T, H, W, *tail) or a.dtype != dtype:
            raise ValueError(f"frames.{name}: {a.shape} {a.dtype}, expected {(T, H, W, *tail)} {np.dtype(dtype)}")
    for name in ("depth", "normals", "flow"):
        if not np.isfinite(getattr(f, name)).all():
            raise ValueError(f"frames.{name}: contains NaN or inf; the encoding has no code for them")
    if (f.depth < 0).any():
        raise ValueError(f"frames.depth: negative values (min {f.depth.min()}); depth is >= 0, 0 = no surface")
    if T * H * 2 * W > MAX_MEMBER_PIXELS:
        raise ValueError(
            f"clip of {T} frames x {H}x{W}: flow.png would have {T * H * 2 * W} pixels, over "
            f"{MAX_MEMBER_PIXELS} (Pillow's decompression-bomb limit, which both readers enforce); "
            "use fewer frames or a smaller image"
        )
    check_layers(f, T, H, W)
    return T, H, W
