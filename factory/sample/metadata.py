"""A sample's ``json`` member (docs/format.md): the scene, the camera, the lights and,
per object, what it is and its per-frame state, boxes and annotations.

Every per-frame quantity is computed for all frames of an object at once (NumPy),
with the same floating-point operations, in the same order and with the same BLAS
calls per frame as one frame at a time, so the numbers are the same bits; and every
float is rounded by :func:`rounded`, which gives Python's ``round`` bit for bit.
"""

from __future__ import annotations

import json
import math
from collections import Counter

import numpy as np

from factory import __version__
from factory.physics.dynamics import CollisionEvent, Motion
from factory.physics.model import effective_restitution
from factory.render.renderer import ObjectAnnotation, RenderedClip
from factory.sample.deformables import deformable_entries, has_deformables, liquid_entries, wind_entry
from factory.sample.geometry import mesh_entry
from factory.sample.types import sample_key
from factory.scene.camera_rig import scene_cameras, with_camera
from factory.scene.config import Config
from factory.scene.materials import MATERIAL_FAMILIES, family_id
from factory.scene.shapes import box_corners
from factory.scene.types import AssetRef, Material, Scene

REST_SPEED = 5e-3  # m/s: an object moving slower than this, and turning slower than REST_SPIN, is at rest
REST_SPIN = 5e-2  # rad/s
_EXACT = 2.0**52  # |x * 10**nd| below this: every integer and half-integer near it is a double


def rounded(values, nd: int = 6) -> list:
    """``values`` (float64 array, 1-d or more) as nested lists of Python floats, each
    ``round(float(v), nd)`` bit for bit (NumPy's ``round`` is not always the same).

    Python rounds the exact binary value of ``v * 10**nd`` to an integer N (ties to
    even) and returns the double nearest to N / 10**nd. Here p = v * 10**nd is within
    half an ulp of that exact value, so wherever p is further than that from a
    half-integer, N = rint(p); and N / 10**nd, one correctly rounded division of exact
    doubles, is the double nearest to it. The rest (near a half-integer, too large,
    not finite) go through ``round`` itself. ``0 <= nd <= 22`` (10**nd exact).
    """
    if not 0 <= nd <= 22:
        raise ValueError(f"nd must be in [0, 22] (10**nd exact), got {nd}")
    a = np.asarray(values, dtype=np.float64)
    scale = 10.0**nd
    with np.errstate(all="ignore"):  # inf and nan take the slow path below
        p = a * scale
        out = np.rint(p) / scale  # rint keeps the sign: -0.0 where round gives -0.0
        sure = (np.abs(p) < _EXACT) & (np.abs(p - np.floor(p) - 0.5) > np.abs(p) * 2.0**-50)
    if not sure.all():
        flat, src = out.reshape(-1), a.reshape(-1)  # out is a fresh array: a view
        for i in np.flatnonzero(~sure.reshape(-1)).tolist():
            flat[i] = round(float(src[i]), nd)
    return out.tolist()


def _r(x, nd: int = 6):
    """Round floats (in nested lists, tuples, arrays and dict values too) to ``nd``
    decimals so the JSON is compact and platform-stable; NumPy integers become ints.
    The metadata's one rounding rule (float arrays: :func:`rounded`)."""
    if isinstance(x, dict):
        return {k: _r(v, nd) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_r(v, nd) for v in x]
    if isinstance(x, np.ndarray):
        return rounded(x, nd) if x.dtype == np.float64 and x.ndim else _r(x.tolist(), nd)
    if isinstance(x, (float, np.floating)):
        return round(float(x), nd)
    if isinstance(x, np.integer):
        return int(x)
    return x


def _project(K: np.ndarray, w2c: np.ndarray, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pixel coordinates (..., M, 2) and camera depth (..., M) of world points (..., M, 3)
    seen by world-to-camera matrices ``w2c`` (..., 4, 4) (one per leading index)."""
    cam = points @ np.swapaxes(w2c[..., :3, :3], -1, -2) + w2c[..., None, :3, 3]
    z = cam[..., 2]
    zs = np.where(np.abs(z) > 1e-9, z, 1e-9)
    return np.stack([K[0, 0] * cam[..., 0] / zs + K[0, 2], K[1, 1] * cam[..., 1] / zs + K[1, 2]], -1), z


def _at_rest(motion: Motion, k: int, steps: np.ndarray, substeps: int) -> list[bool]:
    """Whether object ``k`` is at rest at each state of ``steps`` (F,) int: its mean
    speed and turn rate over the frame either side are under REST_SPEED and REST_SPIN.
    Means over a frame, not the state's velocity: a body resting on a soft contact
    chatters at the step's scale (mm/s back and forth, a micrometre)."""
    a, b = np.maximum(steps - substeps, 0), np.minimum(steps + substeps, len(motion.times) - 1)
    span = motion.times[b] - motion.times[a]
    q0, q1 = motion.quats[a, k], motion.quats[b, k]
    # Row @ column: the same dot product (BLAS ddot) as one frame's q0 @ q1, so the same bits.
    dot = (q0[:, None, :] @ q1[:, :, None])[:, 0, 0]
    turn = 2.0 * np.arccos(np.minimum(1.0, np.abs(dot)))  # rad between the two orientations
    d = motion.positions[b, k] - motion.positions[a, k]
    moved = np.sqrt((d[:, None, :] @ d[:, :, None])[:, 0, 0])  # np.linalg.norm of one: sqrt(d @ d)
    return ((moved < REST_SPEED * span) & (turn < REST_SPIN * span)).tolist()


def _per_frame(scene: Scene, motion: Motion, rendered: RenderedClip, positions, rotations) -> list[dict]:
    """Per object, its per-frame lists (T each), in the key order of docs/format.md;
    ``positions`` (T, N, 3) and ``rotations`` (T, N, 3, 3) are its poses at the frames."""
    T, N = scene.frames, len(scene.objects)
    steps = np.arange(T) * scene.substeps  # the frames' physics states
    w2c = np.stack(rendered.world_to_camera) if T else np.zeros((0, 4, 4))
    # (T, 8, 3) @ (T, 3, 3): per frame the same BLAS product as corners @ R.T alone.
    corners = [box_corners(o.half_extents) @ np.swapaxes(rotations[:, k], -1, -2) for k, o in enumerate(scene.objects)]
    world = np.stack(corners, 1) + positions[:, :, None, :] if N else np.zeros((T, 0, 8, 3))
    uv, z = _project(scene.camera.K, w2c[:, None], world)

    def per_object(a: np.ndarray, nd: int = 6) -> list:  # (T, N, ...) -> N lists of T, rounded
        return rounded(np.swapaxes(a, 0, 1), nd) if N else []

    columns = {
        "position": per_object(positions),
        "rotation": per_object(rotations),
        "velocity": per_object(motion.velocities[steps]),
        "angular_velocity": per_object(motion.angular[steps]),
        "at_rest": [_at_rest(motion, k, steps, scene.substeps) for k in range(N)],
        "corners_2d": per_object(uv, 3),
        "corners_depth": per_object(z),
    }
    out = [{key: column[k] for key, column in columns.items()} for k in range(N)]
    for k, entry in enumerate(out):
        for j, key in enumerate(ObjectAnnotation._fields):
            entry[key] = [rendered.annotations[t][k][j] for t in range(T)]
    return out


def _object_metadata(k: int, scene: Scene, motion: Motion, per_frame: dict) -> dict:
    """The JSON of object ``k``: what it is, then its per-frame lists (``per_frame``)."""
    o = scene.objects[k]
    m = o.material
    return {
        "id": o.id,
        "shape": o.shape,
        "category": o.category,
        "class_id": scene.classes.index(o.category),
        "dims": _r(o.dims),
        "static": o.static,
        "mass": None if o.static else _r(motion.masses[k]),
        "inertia": None if o.static else _r(motion.inertia[k]),
        "inertia_axes": None if o.static else _r(motion.inertia_frame[k]),
        "centre_of_mass": None if o.static else _r(motion.centre_of_mass[k]),
        "restitution": _r(effective_restitution(o.restitution, scene)),
        "friction": _r(o.friction),
        "material": material_entry(m),
        **({} if o.asset is None else {"asset": asset_entry(o.asset)}),
        **_r(mesh_entry(o)),
        **per_frame,
    }


def material_entry(m: Material) -> dict:
    """A surface's ``material``: its family (and that family's id in ``material.png``)
    and the parameters of the microfacet model (docs/format.md)."""
    return {
        "family": m.family,
        "family_id": family_id(m.family),
        "color": _r(m.color),
        "color2": _r(m.color2),
        "texture": m.texture,
        "texture_scale": _r(m.texture_scale),
        "pattern_seed": m.pattern_seed,
        "roughness": _r(m.roughness),
        "roughness2": _r(m.roughness if m.roughness2 is None else m.roughness2),
        "metallic": _r(m.metallic),
        "specular": _r(m.specular),
    }


def _backdrop(scene: Scene) -> dict:
    """The ``backdrop``: its kind, turn and strength, a sky's sun and haze, an HDRI's
    pack record (where it came from and its licence)."""
    b = scene.backdrop
    entry = {"kind": b.kind, "rotation_deg": _r(math.degrees(b.rotation)), "strength": _r(b.strength)}
    if b.kind == "flat":
        entry["color"] = _r(scene.sky_color)
    if b.kind == "sky":
        entry.update(sun_elevation_deg=_r(math.degrees(b.sun_elevation)), turbidity=_r(b.turbidity))
    if b.asset is not None:
        entry["asset"] = asset_entry(b.asset)
    return entry


def asset_entry(ref: AssetRef) -> dict:
    """The ``asset`` of a generated or pack object's metadata: where it came from (a
    generator's params as a dict: ``build(name, params)`` rebuilds it), its licence and
    its attribution."""
    entry = {"source": ref.source, "name": ref.name}
    if ref.source in ("pack", "backdrop"):
        entry["id"] = ref.asset_id
    else:
        entry["params"] = json.loads(ref.params)
    entry.update(sha256=ref.sha256, licence=ref.licence, creator=ref.creator, title=ref.title, url=ref.url)
    return entry


def sample_licences(scene: Scene) -> list[dict]:
    """The licences of a sample's assets (generated and pack objects, an HDRI backdrop):
    one entry per licence, in SPDX order, with the count of objects under it and of
    backdrops (0 or 1)."""
    objects = Counter(o.asset.licence for o in scene.objects if o.asset is not None)
    backdrops = Counter([scene.backdrop.asset.licence] if scene.backdrop.asset is not None else [])
    return [
        {"licence": spdx, "objects": objects[spdx], "backdrops": backdrops[spdx]}
        for spdx in sorted(set(objects) | set(backdrops))
    ]


def has_assets(scene: Scene) -> bool:
    """Whether the sample names any asset (so carries ``asset_licences``)."""
    return scene.backdrop.asset is not None or any(o.asset is not None for o in scene.objects)


def metadata(
    config: Config,
    scenario: str,
    index: int,
    scene: Scene,
    motion: Motion,
    rendered: RenderedClip,
    config_hash: str | None = None,
    liquid_ranges: list | None = None,
) -> dict:
    """The ``json`` member of sample ``index`` (docs/format.md); ``config_hash``:
    ``config.config_hash()`` when the caller has it (it costs a dump of the config);
    ``liquid_ranges``: the liquid members' ranges (a config that draws a liquid)."""
    T = scene.frames
    positions, rotations = motion.states_at(np.arange(T) / scene.fps)  # every object's pose, per frame
    per_frame = _per_frame(scene, motion, rendered, positions, rotations)
    objects = [_object_metadata(k, scene, motion, per_frame[k]) for k in range(len(scene.objects))]
    cam = scene.camera
    params = {k: _r(v) for k, v in scene.params.items()}
    return {
        "key": sample_key(index),
        "index": index,
        "seed": config.seed,
        "scenario": scenario,
        "dataset": config.name,
        "config_hash": config.config_hash() if config_hash is None else config_hash,
        "generator": "factory",
        "generator_version": __version__,
        "licence": config.licence,
        "frames": T,
        "fps": scene.fps,
        "width": cam.width,
        "height": cam.height,
        "params": params,
        "retries": scene.retries,
        "retry_reasons": list(scene.retry_reasons),
        "classes": list(scene.classes),
        **({"asset_licences": sample_licences(scene)} if has_assets(scene) else {}),
        "camera": {
            "K": _r(cam.K),
            "world_to_camera": rounded(np.stack(rendered.world_to_camera), 9) if T else [],
            "trajectory": cam.trajectory,
            "shutter": _r(cam.shutter),
            "noise_std": _r(cam.noise_std),
            "exposure": cam.exposure,
            "ev": _r(cam.ev),
            "tone": cam.tone,
            "white_balance_k": _r(cam.white_balance_k),
            "gain": _r(rendered.gain),
        },
        "lights": [
            {
                "kind": li.kind,
                "vector": _r(li.vector),
                "intensity": _r(li.intensity),
                "color": _r(li.color),
                "temperature_k": _r(li.temperature_k),
                "size": _r(li.size),
                "source": li.source,
            }
            for li in scene.lights
        ],
        "ambient": _r(scene.ambient),
        "backdrop": _backdrop(scene),
        "material_families": ["none", *MATERIAL_FAMILIES],
        "floor": {"material": material_entry(scene.floor)},
        "walls": None if scene.room is None else {"material": material_entry(scene.room.wall_material)},
        "room": None
        if scene.room is None
        else {"width": _r(scene.room.width), "depth": _r(scene.room.depth), "height": _r(scene.room.height)},
        "objects": objects,
        "collisions": _collisions(motion.events),
        **_deformables(config, scene, motion, rendered, liquid_ranges),
    }


def _deformables(config: Config, scene: Scene, motion: Motion, rendered: RenderedClip, liquid_ranges) -> dict:
    """``deformables`` and ``wind`` (a config that draws cloth or soft bodies) and
    ``liquids`` (one that draws a liquid): docs/format.md, "Deformables", "Liquids"."""
    out = {}
    if has_deformables(config):
        out["deformables"] = deformable_entries(scene, motion, rendered.annotations, _r, material_entry)
        out["wind"] = wind_entry(scene, _r)
    if liquid_ranges is not None:
        out["liquids"] = liquid_entries(scene, motion, rendered.annotations, liquid_ranges, _r, material_entry)
    return out


def _collisions(events: list[CollisionEvent]) -> list[dict]:
    """Each event's fields (:class:`CollisionEvent`, in its order), rounded as ``_r``
    rounds them, all of the events' floats in one pass."""
    if not events:
        return []
    floats = rounded(
        np.array([[e.time, e.speed, *e.position, *e.normal, e.force, e.impulse, e.duration] for e in events])
    )
    return [
        {
            "frame": _r(e.frame),
            "time": f[0],
            "kind": e.kind,
            "a": _r(e.a),
            "b": _r(e.b),
            "speed": f[1],
            "position": f[2:5],
            "normal": f[5:8],
            "force": f[8],
            "impulse": f[9],
            "duration": f[10],
        }
        for e, f in zip(events, floats)
    ]


# The per-frame keys of an ``objects[]`` entry that depend on the camera: a rig camera
# c >= 1 has its own under ``cameras[c].objects`` (docs/format.md, "Cameras").
CAMERA_KEYS = ("corners_2d", "corners_depth", *ObjectAnnotation._fields)


def camera_entries(scene: Scene, motion: Motion, rendered: list[RenderedClip]) -> list[dict]:
    """The ``cameras`` list of a rig's sample (K >= 2 entries, camera 0 first): per
    camera its ``rig`` (the scenario's ``camera.rig``), ``shift`` (metres along the
    posed camera's x, y, z: a stereo camera's offset), ``azimuth_deg`` (its azimuth
    about the target at t = 0, degrees), ``K``, ``world_to_camera`` (T 4x4), ``gain``
    (its own exposure), and, for c >= 1, ``objects``: per object its ``id`` and the
    per-frame lists of :data:`CAMERA_KEYS` as this camera sees them."""
    T = scene.frames
    positions, rotations = motion.states_at(np.arange(T) / scene.fps)
    out = []
    for c, (cam, r) in enumerate(zip(scene_cameras(scene), rendered)):
        entry = {
            "rig": scene.params["camera.rig"],
            "shift": _r(cam.rig_shift),
            "azimuth_deg": _r(np.degrees(cam.azimuth)),
            "K": _r(cam.K),
            "world_to_camera": rounded(np.stack(r.world_to_camera), 9) if T else [],
            "gain": _r(r.gain),
        }
        if c > 0:
            per_frame = _per_frame(with_camera(scene, c), motion, r, positions, rotations)
            entry["objects"] = [
                {"id": o.id, **{key: p[key] for key in CAMERA_KEYS}} for o, p in zip(scene.objects, per_frame)
            ]
        out.append(entry)
    return out
