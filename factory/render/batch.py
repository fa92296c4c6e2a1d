"""Many views of many scenes packed into the flat tables of one launch
(:mod:`factory.render.tables`).

Host arrays are built with NumPy in float64 and handed to Warp as float32: camera
origins and rotations are computed once per view here, not per pixel.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from factory.render.deform import deform_views
from factory.render.device import Device, warp
from factory.render.dfg import dfg_table
from factory.render.meshes import MeshEntry, mesh_cache
from factory.render.scene_tables import SceneTables
from factory.render.tables import LIGHT_CODE
from factory.render.textures import SRGB_DECODE
from factory.timing import timed

# Slack of the shadow rects (metres): a sphere test's own inflation (r * 1.001 + 1e-4),
# the shading point's 2 mm lift off its surface and float32 error, with room to spare.
_SHADOW_GROW, _SHADOW_PAD = 1.01, 0.01


@dataclass
class ViewSpec:
    """One view: its scene (an index into the launch's scene list), world-to-camera
    4x4 ``w2c``, intrinsics ``K`` (3, 3) and object poses: ``positions`` (N, 3) and
    object-to-world ``rotations`` (N, 3, 3)."""

    scene: int
    w2c: np.ndarray
    K: np.ndarray
    positions: np.ndarray
    rotations: np.ndarray
    deformed: tuple = ()  # per deforming surface (its poses last): (vertices (V, 3) world, faces (F, 3), rest (V, 3) or None)


def _starts(counts: list[int]) -> np.ndarray:
    return (np.cumsum([0] + counts)[:-1]).astype(np.int32)


def launch_meshes(tables: list[SceneTables]) -> list:
    """The distinct mesh assets of a launch's scenes (by ``MeshAsset.kind``), in the
    order of first use: the launch's slots of ``Scenes.mesh_data``."""
    first_use: dict = {}
    for t in tables:
        for a in t.meshes:
            if a is not None:
                first_use.setdefault(a.kind, a)
    return list(first_use.values())


def pack_scenes(tables: list[SceneTables], device: Device, held: list[MeshEntry] | None = None):
    """The :class:`~factory.render.tables.Scenes` struct of a launch's scenes, and the
    mesh cache entries it points into (:mod:`factory.render.meshes`): ``held``, the
    entries of :func:`launch_meshes` already acquired, or acquired here. The caller
    keeps them while a launch uses the struct."""
    wp = warp()
    from factory.render.environment import pack_envs
    from factory.render.tables import MeshData, Scenes

    cache = mesh_cache(device)
    if held is None:
        held = cache.acquire(launch_meshes(tables))

    arr = device.table

    def cat(name, part, dtype, width=0):
        """Column ``name`` over every scene: of SceneTables itself, or of its ``part``
        rows (surfaces, lights); one zero row when it is empty (Warp wants an array)."""
        shape = (-1, width) if width else (-1,)
        parts = [
            np.array([getattr(r, name) for r in getattr(t, part)], np.float64).reshape(shape)
            if part
            else getattr(t, name)
            for t in tables
        ]
        a = np.concatenate(parts) if any(len(p) for p in parts) else np.zeros((1, width) if width else 1)
        return arr(a.astype(np.float32) if dtype in (wp.vec3, wp.float32) else a.astype(np.int32), dtype)

    s = Scenes()
    s.obj_start, s.obj_count = (
        arr(_starts([len(t.shape) for t in tables]), wp.int32),
        arr(np.array([len(t.shape) for t in tables], np.int32), wp.int32),
    )
    s.shape, s.convex = cat("shape", None, wp.int32), cat("convex", None, wp.int32)
    s.dims, s.radius = cat("dims", None, wp.vec3, 3), cat("radius", None, wp.float32)
    slot_of = {e.kind: k for k, e in enumerate(held)}
    slots = [slot_of[a.kind] if a is not None else -1 for t in tables for a in t.meshes] or [-1]
    s.mesh = arr(np.array([held[k].mesh.id if k >= 0 else 0 for k in slots], np.uint64), wp.uint64)
    s.mesh_slot = arr(np.array(slots, np.int32), wp.int32)
    s.materials = arr(np.array([int(k >= 0 and held[k].materials) for k in slots], np.int32), wp.int32)
    data = [e.data for e in held] or [MeshData()]
    s.mesh_data = wp.array(data, dtype=MeshData, device=device.warp_name)
    s.srgb = device.constant("srgb", lambda: (SRGB_DECODE.astype(np.float32), wp.float32))
    s.dfg = device.constant("dfg", lambda: (dfg_table(), wp.vec2))
    s.surf_start = arr(_starts([len(t.surfaces) for t in tables]), wp.int32)
    for name in ("color", "color2"):
        setattr(s, name, cat(name, "surfaces", wp.vec3, 3))
    for name in ("texture", "pattern_seed", "family", "instance", "semantic"):
        setattr(s, name, cat(name, "surfaces", wp.int32))
    for name in ("texture_scale", "roughness", "roughness2", "metallic", "specular"):
        setattr(s, name, cat(name, "surfaces", wp.float32))
    s.light_start = arr(_starts([len(t.lights) for t in tables]), wp.int32)
    s.light_count = arr(np.array([len(t.lights) for t in tables], np.int32), wp.int32)
    s.light_kind, s.light_vec = cat("kind", "lights", wp.int32), cat("vec", "lights", wp.vec3, 3)
    s.light_intensity = cat("intensity", "lights", wp.vec3, 3)
    for name in ("ref", "spread"):
        setattr(s, "light_" + name, cat(name, "lights", wp.float32))
    s.ambient = arr(np.array([t.ambient for t in tables], np.float32), wp.float32)
    s.env = pack_envs([t.env for t in tables], [t.env_rot for t in tables], [t.env_strength for t in tables], device)
    s.gain = arr(np.array([t.gain for t in tables], np.float32), wp.vec3)
    s.tone = arr(np.array([t.tone for t in tables], np.int32), wp.int32)
    s.room = arr(np.array([t.room for t in tables], np.float32), wp.vec4)
    return s, held


def packed_scenes(tables: list[SceneTables], device: Device, key: tuple, packed: dict, timings: dict | None):
    """The Scenes struct of a launch's scene ``tables`` (of the clips ``key``).
    ``packed`` keeps the last one on the device (and its mesh cache entries alive) by
    its key: consecutive launches of one clip upload it once. ``timings`` (when given)
    gets the mesh cache's look-ups and builds as ``mesh assets``, the rest as
    ``render``."""
    if key not in packed:
        packed.clear()  # only the last set is reused: launches go through the clips in order
        sync = device.synchronize if timings is not None else None
        with timed(timings, "mesh assets", sync):
            held = mesh_cache(device).acquire(launch_meshes(tables))
        with timed(timings, "render", sync):
            packed[key] = pack_scenes(tables, device, held)
    return packed[key][0]


def _extent(a, z, radius, f, c0, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Pixel ranges [lo, hi) along one image axis covered by spheres whose centres are
    at (a, z) in that axis's plane of the camera frame (arrays of one shape): the two
    planes through the camera tangent to a sphere bound its image exactly; a pixel of
    margin keeps float error on the safe side."""
    dist = np.hypot(a, z)
    inside = dist <= radius
    centre = np.arctan2(a, z)
    half = np.arcsin(np.clip(radius / np.maximum(dist, 1e-12), 0.0, 1.0))
    lo_ang, hi_ang = centre - half, centre + half
    with np.errstate(invalid="ignore", over="ignore"):
        lo = np.where(
            lo_ang <= -np.pi / 2 + 1e-6, 0, np.maximum(0, np.floor(f * np.tan(np.clip(lo_ang, -1.5, 1.5)) + c0) - 1)
        )
        hi = np.where(
            hi_ang >= np.pi / 2 - 1e-6, size, np.minimum(size, np.ceil(f * np.tan(np.clip(hi_ang, -1.5, 1.5)) + c0) + 1)
        )
    return np.where(inside, 0, lo).astype(np.int32), np.where(inside, size, hi).astype(np.int32)


def _rects(R, tr, K, pos, radius, view_of, width: int, height: int) -> np.ndarray:
    """(P, 4) int32 ``(i0, i1, j0, j1)`` of each posed object (view ``view_of[p]``):
    the rows and columns that can see it; empty for one wholly behind the camera."""
    Rv, tv, Kv = R[view_of], tr[view_of], K[view_of]
    c = np.einsum("pij,pj->pi", Rv, pos) + tv  # object centres, camera frame
    j0, j1 = _extent(c[:, 0], c[:, 2], radius, Kv[:, 0, 0], Kv[:, 0, 2], width)
    i0, i1 = _extent(c[:, 1], c[:, 2], radius, Kv[:, 1, 1], Kv[:, 1, 2], height)
    rects = np.stack([i0, i1, j0, j1], -1)
    rects[c[:, 2] + radius <= 1e-6] = 0
    return rects


def _directional(tables: list[SceneTables]) -> np.ndarray:
    """(S, L, 3) float64: scene s's light l's unit vector towards it where it is
    directional, else zero (L: the most lights of a scene, at least 1)."""
    out = np.zeros((len(tables), max([1] + [len(t.lights) for t in tables]), 3))
    for s, t in enumerate(tables):
        for li, row in enumerate(t.lights):
            if row.kind == LIGHT_CODE["directional"]:
                out[s, li] = np.asarray(row.vec) / np.linalg.norm(row.vec)
    return out


def _shadow_rects(R, tr, K, pos, radius, view_of, lights, width: int, height: int) -> np.ndarray:
    """(P, L, 4) int32 ``(i0, i1, j0, j1)`` per posed object and light slot: the pixels
    whose hard shadow ray towards directional light l (``lights[p, l]``, (P, L, 3) unit
    vectors towards it; zero: not a directional light) can meet the object's bounding
    sphere; every pixel where no bound is known.

    A pixel's shading point lies within 2 mm of its centre ray, no lower than the
    lowest surface of its view (the floor, or an object's sphere). A ray along L from
    there meets the sphere (c, r) only if the point lies in the sphere swept along -L
    down to that height: within the convex hull of the sphere and its copy at
    ``c - T L``. With both in front of the camera, the hull's image lies in the union
    of the two spheres' pixel rects."""
    P, L = lights.shape[:2]
    full = np.array([0, height, 0, width], np.int32)
    out = np.broadcast_to(full, (P, L, 4)).copy()
    if P == 0:
        return out
    low = np.zeros(view_of.max() + 1)  # the floor's height, or an object's sphere's lowest point
    np.minimum.at(low, view_of, pos[:, 2] - radius)
    z_lo = low[view_of] - _SHADOW_PAD
    grown = radius * _SHADOW_GROW + _SHADOW_PAD
    cam = np.einsum("pij,pj->pi", R[view_of], pos) + tr[view_of]
    a = _rects(R, tr, K, pos, grown, view_of, width, height)  # the grown spheres where they are: any light
    for li in range(L):
        d = lights[:, li]
        ok = d[:, 2] > 1e-3
        T = (pos[:, 2] + grown - z_lo) / np.where(ok, d[:, 2], 1.0)
        end = pos - T[:, None] * d
        end_cam = np.einsum("pij,pj->pi", R[view_of], end) + tr[view_of]
        ok &= (cam[:, 2] > grown + 1e-3) & (end_cam[:, 2] > grown + 1e-3)
        b = _rects(R, tr, K, end, grown, view_of, width, height)
        out[ok, li] = np.where([True, False, True, False], np.minimum(a, b), np.maximum(a, b))[ok]
    return out


def pack_views(views: list[ViewSpec], tables: list[SceneTables], width: int, height: int, device: Device):
    """The :class:`~factory.render.tables.Views` struct of a launch's views;
    ``tables[s]``: the tables of scene s (its objects' bounding radii, its lights)."""
    wp = warp()
    from factory.render.tables import Views

    w2c = np.stack([v.w2c for v in views]).astype(np.float64)
    R, tr = w2c[:, :3, :3], w2c[:, :3, 3]
    K = np.stack([v.K for v in views]).astype(np.float64)
    counts = [len(v.positions) for v in views]
    pos = np.concatenate([np.asarray(v.positions, np.float64).reshape(-1, 3) for v in views] + [np.zeros((1, 3))])
    rot = np.concatenate([np.asarray(v.rotations, np.float64).reshape(-1, 3, 3) for v in views] + [np.eye(3)[None]])

    arr = device.table

    out = Views()
    out.origin = arr(-np.einsum("bji,bj->bi", R, tr), wp.vec3)
    out.rot, out.trans = arr(R, wp.mat33), arr(tr, wp.vec3)
    out.intr = arr(np.stack([K[:, 0, 0], K[:, 1, 1], K[:, 0, 2], K[:, 1, 2]], 1), wp.vec4)
    out.scene = arr(np.array([v.scene for v in views]), wp.int32)
    out.pose_start = arr(_starts(counts), wp.int32)
    out.pos, out.orient = arr(pos, wp.vec3), arr(rot, wp.mat33)
    view_of = np.repeat(np.arange(len(views)), counts)
    radii = np.concatenate([tables[v.scene].radius for v in views] + [np.zeros(1)])
    rects = _rects(R, tr, K, pos[:-1], radii[:-1], view_of, width, height)
    first, count, entries = _row_lists(rects[:, None], view_of, _starts(counts), len(views), height)
    out.row_first, out.row_count = arr(first[:, 0], wp.int32), arr(count[:, 0], wp.int32)
    out.row_obj = arr(entries, wp.vec3i)
    lights = _directional(tables)[[v.scene for v in views]][view_of]
    shadow = _shadow_rects(R, tr, K, pos[:-1], radii[:-1], view_of, lights, width, height)
    first, count, entries = _row_lists(shadow, view_of, _starts(counts), len(views), height, by_column=True)
    out.shadow_first, out.shadow_count = arr(first, wp.int32), arr(count, wp.int32)
    out.shadow_obj = arr(entries, wp.vec3i)
    deform = deform_views(views, device)
    (out.deform, out.deform_mesh, out.deform_first, out.deform_points, out.deform_normals, out.deform_rest) = deform
    return out


def _row_lists(shadow: np.ndarray, view_of, pose_start, V: int, H: int, by_column: bool = False):
    """Pixel rects (P, L, 4) ``(i0, i1, j0, j1)`` per posed object and slot (a light's
    shadow rects, or the camera rects as one slot) as per-row object lists: ``first``
    and ``count`` (V, L, H) int32 index ``entries`` (E, 3) int32 ``(k, j0, j1)``:
    object k of the view, whose rect holds that row and columns [j0, j1), in k order
    (the nearest hit's ties go to the lower k), or with ``by_column`` by j0 (a yes or
    no question stops at the first entry that starts right of its pixel)."""
    P, L = shadow.shape[:2]
    p, li = np.meshgrid(np.arange(P), np.arange(L), indexing="ij")
    p, li, r = p.ravel(), li.ravel(), shadow.reshape(-1, 4)
    keep = (r[:, 1] > r[:, 0]) & (r[:, 3] > r[:, 2])
    p, li, r = p[keep], li[keep], r[keep]
    rows = r[:, 1] - r[:, 0]
    each = np.repeat(np.arange(len(p)), rows)  # one entry per (pose, light, row)
    row = r[each, 0] + np.arange(len(each)) - np.repeat(np.cumsum(rows) - rows, rows)
    key = (view_of[p[each]] * L + li[each]) * H + row
    # Stable order keeps each row's objects in k order; 16-bit keys sort by radix (O(E)).
    if by_column:  # by row, then by first column (stable: ties keep k order)
        order = np.lexsort((r[each, 2], key))
    else:
        order = np.argsort(key.astype(np.uint16) if V * L * H <= 1 << 16 else key, kind="stable")
    count = np.bincount(key, minlength=V * L * H).astype(np.int32)
    first = (np.cumsum(count) - count).astype(np.int32)
    e = each[order]
    entries = np.stack([p[e] - pose_start[view_of[p[e]]], r[e, 2], r[e, 3]], -1).astype(np.int32)
    if not len(entries):
        entries = np.zeros((1, 3), np.int32)  # Warp wants an array
    return first.reshape(V, L, H), count.reshape(V, L, H), np.ascontiguousarray(entries)
