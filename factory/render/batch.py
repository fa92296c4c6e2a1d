"""Many views of many scenes as one set of arrays, so one launch renders them all.

A *view* is one camera exposure: a frame of a clip, or one sub-frame of its motion
blur. Views of different scenes differ in everything (objects, lights, room,
materials), so each per-scene table is padded to the batch's largest and indexed by
view: object slot ``k`` of view ``b`` is ``shape[b, k]`` (-1 where that scene has
fewer objects), light slot ``l`` is ``light_kind[b, l]`` (0 where none), surface code
``s`` (0 sky, 1 floor, 2 wall, 3 + k object k) has colour ``color[b, s]``, and so on.
The renderer then gathers per ray or per pixel with the view index, and no Python
loop runs over views.

Host arrays are float64 NumPy (what the pixel rectangles are computed from); device
arrays are float32 in the backend's namespace.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from factory.render.shapes import SHAPE_CODES
from factory.scene.types import CLASS_ID, Scene

TEXTURES = {"plain": 0, "checker": 1, "stripes": 2, "noise": 3}
LIGHT_KINDS = {"directional": 1, "point": 2}  # 0: no light in this slot
CONVEX = frozenset({"sphere", "box", "cylinder", "capsule"})


@dataclass
class SceneTables:
    """What every view of one scene shares, as NumPy arrays (N objects, L lights)."""

    shape: np.ndarray  # (N,) int32 index into SHAPE_CODES
    dims: np.ndarray  # (N, 3) float64 half-extents, metres
    radius: np.ndarray  # (N,) float64 bounding radius, metres
    convex: np.ndarray  # (N,) bool
    room: np.ndarray  # (4,) float64: has_room, half width, half depth, height (metres)
    light_kind: np.ndarray  # (L,) int32, see LIGHT_KINDS
    light_vector: np.ndarray  # (L, 3) float64: unit direction to the light, or its position
    light_intensity: np.ndarray  # (L,) float64
    # Per surface code (S = 3 + N):
    color: np.ndarray  # (S, 3) linear RGB
    color2: np.ndarray  # (S, 3)
    texture: np.ndarray  # (S,) int32, see TEXTURES
    texture_scale: np.ndarray  # (S,) cycles per metre
    roughness: np.ndarray  # (S,)
    specular: np.ndarray  # (S,)
    semantic: np.ndarray  # (S,) int32 class id
    instance: np.ndarray  # (S,) int32 instance id (0 for sky, floor and walls)
    sky: np.ndarray  # (3,)
    ambient: float


def scene_tables(scene: Scene) -> SceneTables:
    """The per-scene tables of ``scene``."""
    objs = scene.objects
    wall_color = scene.room.wall_color if scene.room else (0.8, 0.8, 0.8)
    rows = [
        (scene.sky_color, scene.sky_color, "plain", 1.0, 1.0, 0.0),
        (scene.floor.color, scene.floor.color2, scene.floor.texture, scene.floor.texture_scale,
         scene.floor.roughness, scene.floor.specular),
        (wall_color, tuple(0.85 * c for c in wall_color), "plain", 1.0, 0.9, 0.05),
    ]
    rows += [(o.material.color, o.material.color2, o.material.texture, o.material.texture_scale,
              o.material.roughness, o.material.specular) for o in objs]
    room = scene.room
    return SceneTables(
        shape=np.array([SHAPE_CODES.index(o.shape) for o in objs], np.int32),
        dims=np.array([o.dims for o in objs], np.float64).reshape(-1, 3),
        radius=np.array([o.bounding_radius for o in objs], np.float64),
        convex=np.array([o.shape in CONVEX for o in objs], bool),
        room=np.array([0, 0, 0, 0] if room is None else [1, room.width / 2, room.depth / 2, room.height],
                      np.float64),
        light_kind=np.array([LIGHT_KINDS[li.kind] for li in scene.lights], np.int32),
        light_vector=np.array([li.vector for li in scene.lights], np.float64).reshape(-1, 3),
        light_intensity=np.array([li.intensity for li in scene.lights], np.float64),
        color=np.array([r[0] for r in rows], np.float64),
        color2=np.array([r[1] for r in rows], np.float64),
        texture=np.array([TEXTURES[r[2]] for r in rows], np.int32),
        texture_scale=np.array([r[3] for r in rows], np.float64),
        roughness=np.array([r[4] for r in rows], np.float64),
        specular=np.array([r[5] for r in rows], np.float64),
        semantic=np.array([CLASS_ID["background"], CLASS_ID["floor"], CLASS_ID["wall"]]
                          + [CLASS_ID[o.category] for o in objs], np.int32),
        instance=np.array([0, 0, 0] + [o.id for o in objs], np.int32),
        sky=np.array(scene.sky_color, np.float64),
        ambient=float(scene.ambient),
    )


def _pad(arrays: list[np.ndarray], size: int, fill) -> np.ndarray:
    """Stack arrays whose first axis is at most ``size``, padding it with ``fill``."""
    first = arrays[0]
    out = np.full((len(arrays), size) + first.shape[1:], fill, dtype=first.dtype)
    for b, a in enumerate(arrays):
        out[b, :a.shape[0]] = a
    return out


class ViewBatch:
    """B views: a camera (world-to-camera ``w2c``, intrinsics ``K``) and object poses
    each, with their scenes' tables padded to K object and L light slots.

    Host (NumPy float64): ``w2c`` (B, 4, 4), ``K`` (B, 3, 3), ``pos`` (B, K, 3),
    ``shape`` (B, K) int (-1: empty slot), ``radius`` (B, K), ``room_host`` (B, 4) and
    ``light_kind_host`` (B, L) (copies of the device arrays, for decisions made once
    per launch rather than per pixel).
    Device (``xp``, float32 unless noted): ``d_pos`` (B, K, 3), ``d_rot`` (B, K, 3, 3)
    object-to-world (what flow gathers per pixel by view and slot); slot-major tables
    ``slot_pos`` (K, B, 3), ``slot_rot`` (K, B, 3, 3), ``slot_dims`` (K, B, 3) half-extents,
    ``slot_radius`` (K, B), ``slot_shape`` (K, B) int64, ``slot_convex`` (K, B) bool;
    ``room`` (B, 4), ``light_kind`` (B, L) int64, ``light_vector`` (B, L, 3),
    ``light_intensity`` (B, L), ``light_ref`` (B, L) distance of a point light from the
    origin (metres), and per surface code (S = 3 + K): ``color``, ``color2`` (B, S, 3),
    ``texture`` (B, S) int64, ``texture_scale``, ``roughness``, ``specular`` (B, S),
    ``semantic``, ``instance`` (B, S) int64; ``sky`` (B, 3), ``ambient`` (B,).
    """

    def __init__(self, tables: list[SceneTables], w2c: list[np.ndarray], K: list[np.ndarray],
                 positions: list[np.ndarray], rotations: list[np.ndarray], width: int, height: int, xp):
        self.xp, self.width, self.height = xp, width, height
        self.B = len(tables)
        self.slots = k = max(1, max(t.shape.shape[0] for t in tables))
        lights = max(1, max(t.light_kind.shape[0] for t in tables))
        self.w2c = np.stack(w2c).astype(np.float64)
        self.K = np.stack(K).astype(np.float64)
        self.pos = _pad([np.asarray(p, np.float64).reshape(-1, 3) for p in positions], k, 0.0)
        rot = _pad([np.asarray(r, np.float64).reshape(-1, 3, 3) for r in rotations], k, 0.0)
        self.shape = _pad([t.shape for t in tables], k, -1)
        self.radius = _pad([t.radius for t in tables], k, 0.0)

        def dev(a, dtype=None):
            return xp.asarray(np.ascontiguousarray(a), dtype=dtype or xp.float32)

        i64 = xp.int64
        self.d_pos, self.d_rot = dev(self.pos), dev(rot)
        self.room_host = np.stack([t.room for t in tables])
        self.room = dev(self.room_host)
        self.light_kind_host = _pad([t.light_kind for t in tables], lights, 0)
        self.light_kind = dev(self.light_kind_host, i64)
        vectors = _pad([t.light_vector for t in tables], lights, 0.0)
        self.light_vector = dev(vectors)
        self.light_intensity = dev(_pad([t.light_intensity for t in tables], lights, 0.0))
        self.light_ref = dev(np.linalg.norm(vectors, axis=-1))
        # Slot-major copies, (K, B, ...): ``slot_pos[k]`` is contiguous, so gathering it
        # per point is a fast take (a strided ``d_pos[:, k]`` gather was a third of
        # the shadow pass with NumPy).
        self.slot_pos = dev(self.pos.transpose(1, 0, 2))
        self.slot_rot = dev(rot.transpose(1, 0, 2, 3))
        self.slot_dims = dev(_pad([t.dims for t in tables], k, 0.0).transpose(1, 0, 2))
        self.slot_radius = dev(self.radius.T)
        self.slot_shape = dev(self.shape.T, i64)
        self.slot_convex = dev(_pad([t.convex for t in tables], k, False).T, xp.bool)
        s = 3 + k
        for name, fill in (("color", 0.0), ("color2", 0.0), ("texture", 0), ("texture_scale", 1.0),
                           ("roughness", 1.0), ("specular", 0.0), ("semantic", 0), ("instance", 0)):
            a = _pad([getattr(t, name) for t in tables], s, fill)
            setattr(self, name, dev(a, i64 if a.dtype.kind == "i" else None))
        self.sky = dev(np.stack([t.sky for t in tables]))
        self.ambient = dev(np.array([t.ambient for t in tables]))
