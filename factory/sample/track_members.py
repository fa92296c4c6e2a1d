"""A clip's point tracks as WebDataset members, and back.

One ``.npy`` member per array (plain dtypes, no pickle), so ``webdataset``'s and
``ray.data.read_webdataset``'s default decoders both hand over NumPy arrays (Ray's
Arrow blocks refuse structured arrays, so the layouts are not packed into one record).
The TAP-Vid layout (``query_points``, ``target_points``, ``occluded``), the TAPVid-3D
layout (``tracks_xyz``, ``visibility``, ``queries_xyt``, ``intrinsics``) and factory's
own (``track_state``, ``track_world``, ``track_surface``): shapes, dtypes, units and
error bounds in docs/format.md ("Point tracks").
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np

from factory.render.tracks import OUT_OF_VIEW, VISIBLE, Tracks

# Each member's dtype and number of axes, in the order the encoder writes them.
TRACK_DTYPES = {
    "query_points.npy": ("float32", 2),
    "target_points.npy": ("float32", 3),
    "occluded.npy": ("bool", 2),
    "tracks_xyz.npy": ("float32", 3),
    "visibility.npy": ("bool", 2),
    "queries_xyt.npy": ("float32", 2),
    "intrinsics.npy": ("float32", 1),
    "track_state.npy": ("uint8", 2),
    "track_world.npy": ("float32", 3),
    "track_surface.npy": ("int32", 1),
}
TRACK_MEMBERS = tuple(TRACK_DTYPES)


def track_arrays(tracks: Tracks) -> dict[str, np.ndarray]:
    """Every member's array (name without ``.npy``) of ``tracks``: T frames, N points."""
    f32 = np.float32
    t = tracks.query_frame.astype(f32)
    x, y = tracks.query_uv[:, 0].astype(f32), tracks.query_uv[:, 1].astype(f32)
    visible = tracks.state == VISIBLE
    return {
        "query_points": np.stack([t, y, x], 1),  # (N, 3) [t, y, x]
        "target_points": np.ascontiguousarray(tracks.uv.transpose(1, 0, 2), f32),  # (N, T, 2) [x, y]
        "occluded": np.ascontiguousarray(~visible.T),  # (N, T): occluded or out of view
        "tracks_xyz": np.ascontiguousarray(tracks.xyz, f32),  # (T, N, 3) camera frame, metres
        "visibility": visible,  # (T, N)
        "queries_xyt": np.stack([x, y, t], 1),  # (N, 3) [x, y, t]
        "intrinsics": tracks.intrinsics.astype(f32),  # (4,) fx, fy, cx, cy
        "track_state": tracks.state.astype(np.uint8),  # (T, N) 0 visible, 1 occluded, 2 out of view
        "track_world": np.ascontiguousarray(tracks.world, f32),  # (T, N, 3) world, metres
        "track_surface": tracks.surface.astype(np.int32),  # (N,) instance id, 0 floor or walls
    }


def encode_tracks(tracks: Tracks) -> dict[str, bytes]:
    """The members ``{name: .npy bytes}`` of :data:`TRACK_MEMBERS` for ``tracks``."""
    out = {}
    for name, a in track_arrays(tracks).items():
        buf = io.BytesIO()
        np.save(buf, a, allow_pickle=False)
        out[name + ".npy"] = buf.getvalue()
    return out


def _array(members: dict[str, Any], name: str, shape: tuple) -> np.ndarray:
    """Member ``name`` as an array of its dtype (decoding its bytes if a reader has
    not), checked against the shape the encoder writes (-1: any length). A reader that
    widened the values (Hugging Face's lists, its NumPy format's int64) gets them back
    in the member's dtype when they survive the cast unchanged."""
    if name not in members:
        raise ValueError(f"sample {members.get('__key__', '?')!r}: tracks members without {name!r}")
    value = members[name]
    if isinstance(value, (bytes, bytearray, memoryview)):
        value = np.load(io.BytesIO(bytes(value)), allow_pickle=False)
    value = np.asarray(value)
    dtype = np.dtype(TRACK_DTYPES[name][0])
    kinds = {"b": "b", "f": "f", "u": "iu", "i": "iu"}[dtype.kind]
    ok = value.dtype.kind in kinds and len(value.shape) == len(shape)
    if not ok or any(s != -1 and s != v for s, v in zip(shape, value.shape)):
        raise ValueError(f"{name}: {value.shape} {value.dtype}, expected {shape} {dtype} (-1: any)")
    cast = value.astype(dtype)
    if not np.array_equal(cast, value):
        raise ValueError(f"{name}: {value.dtype} values that {dtype} cannot hold")
    return cast


def decode_tracks(members: dict[str, Any]) -> Tracks | None:
    """The :class:`Tracks` of a sample's members (bytes or reader-decoded arrays); None
    when it has none (made without ``output.tracks``).

    Raises:
        ValueError: some tracks members but not all, or one of a shape or dtype the
            encoder never writes.
    """
    if not any(name in members for name in TRACK_MEMBERS):
        return None
    state = _array(members, "track_state.npy", (-1, -1))
    T, N = state.shape
    qp = _array(members, "query_points.npy", (N, 3))
    xyz = _array(members, "tracks_xyz.npy", (T, N, 3))
    for name, shape in (("occluded.npy", (N, T)), ("visibility.npy", (T, N)), ("queries_xyt.npy", (N, 3))):
        _array(members, name, shape)  # present and well formed: the other layouts hold the same facts
    if (state > OUT_OF_VIEW).any():
        raise ValueError(f"track_state.npy: values {sorted(set(np.unique(state)) - {0, 1, 2})} (allowed: 0, 1, 2)")
    return Tracks(
        query_frame=qp[:, 0].astype(np.int32),
        query_uv=np.ascontiguousarray(qp[:, [2, 1]]),
        surface=_array(members, "track_surface.npy", (N,)),
        uv=np.ascontiguousarray(_array(members, "target_points.npy", (N, T, 2)).transpose(1, 0, 2)),
        depth=np.ascontiguousarray(xyz[..., 2]),
        xyz=xyz,
        world=_array(members, "track_world.npy", (T, N, 3)),
        state=state,
        intrinsics=_array(members, "intrinsics.npy", (4,)),
    )
