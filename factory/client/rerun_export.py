"""One sample as a rerun recording (``.rrd``), to look at in the rerun viewer.

:func:`write_rerun` decodes a sample's members (:func:`factory.sample.decode.decode_present`,
so a sample with some image members only works too) and logs them into a recording whose
application id is ``factory`` and whose recording id is the sample's key. Everything that
changes over the clip is logged on two timelines: ``frame`` (sequence, 0 to T-1) and
``time`` (duration, ``frame / fps`` seconds). The entities:

* ``world``: ``ViewCoordinates.RIGHT_HAND_Z_UP`` (the world is z-up, floor at z = 0) and an
  ``AnnotationContext`` naming the semantic classes (``meta["classes"]``), both static;
* ``world/camera``: ``Transform3D`` camera-to-world per frame (the inverse of
  ``world_to_camera``) and, static, a ``Pinhole`` with ``K``, the resolution and
  ``camera_xyz`` RDF (OpenCV: x right, y down, z forward);
* ``world/camera/rgb``: ``Image``, the (H, W, 3) uint8 frame;
* ``world/camera/depth``: ``DepthImage`` in metres (``meter=1.0``; 0 is sky, no surface);
* ``world/camera/semantic``: ``SegmentationImage`` of the class ids;
* ``world/camera/boxes``: ``Boxes2D`` of the objects' ``bbox_visible`` (pixel edges,
  x1/y1 exclusive), labelled ``"<category> <id>"``, with their class ids;
* ``world/points``: ``Points3D``, the depth unprojected to world points (pixels with
  depth > 0), coloured by RGB, at most ``max_points`` a frame (an even, deterministic
  subsample of the pixels in row-major order);
* ``world/objects``: ``Boxes3D`` of every object: centre = ``position``, half-sizes =
  ``dims``, rotation = ``rotation`` as an xyzw quaternion, labels and class ids;
* ``world/tracks/<id>``: ``LineStrips3D``, a dynamic (not ``static``) object's centre from
  frame 0 to the current frame.

rerun-sdk is an optional extra (``pip install 'factory[rerun]'``), imported only inside
:func:`write_rerun`; the wall-clock ``log_time`` timeline is turned off, so the recording
holds only the sample's own times.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from factory.errors import ConfigError, StorageError
from factory.sample.decode import decode_present


def write_rerun(members: dict, path, *, max_points: int = 20000) -> Path:
    """Write the sample ``members`` (as :func:`factory.sample.generate.generate_members`
    returns them: ``{"__key__", "json", "rgb.png", ...}``, bytes or decoded values) to the
    rerun recording ``path`` (``.rrd``), see the module docstring for what is logged where.

    The file appears atomically: it is written under a temporary name in the same
    folder, then renamed. ``max_points`` (>= 1) bounds the world points of each frame.
    Returns ``path`` as a :class:`~pathlib.Path`.

    Raises:
        ConfigError: rerun-sdk is not installed.
        ValueError: ``max_points`` < 1, or a member that :mod:`factory.sample.decode` refuses.
        StorageError: the file cannot be written (its folder must exist).
    """
    rr = require_rerun()
    if isinstance(max_points, bool) or not isinstance(max_points, (int, np.integer)) or max_points < 1:
        raise ValueError(f"max_points must be an integer >= 1, got {max_points!r}")
    arrays = decode_present(members)
    meta = arrays["meta"]
    key = str(members.get("__key__") or meta.get("key") or "sample")
    path = Path(path)
    if not path.parent.is_dir():
        raise StorageError(f"{str(path)!r}: cannot write the recording: no folder {str(path.parent)!r}")
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    rec = rr.RecordingStream(application_id="factory", recording_id=key)
    rec.set_log_time_enabled(False)
    try:
        try:
            rec.save(tmp)
        except RuntimeError as e:  # rerun's "Failed to create file: <reason>, path: <tmp>"
            raise StorageError(f"{str(path)!r}: cannot write the recording: {e}") from None
        try:
            _record(rr, rec, arrays, key, max_points)
        finally:
            rec.flush()
            rec.disconnect()  # closes the file and writes its footer
        os.replace(tmp, path)
    except StorageError:
        raise
    except OSError as e:
        raise StorageError(f"{str(path)!r}: cannot write the recording: {e.strerror or e}") from None
    finally:
        tmp.unlink(missing_ok=True)
    return path


def _record(rr, rec, arrays: dict[str, Any], key: str, max_points: int) -> None:
    """Log the decoded sample ``arrays`` into ``rec``: the static entities, then frame by frame."""
    meta = arrays["meta"]
    rec.send_recording_name(f"{meta.get('dataset', 'factory')} {key}")
    _log_static(rr, rec, meta)
    for t in range(int(meta["frames"])):
        rec.set_time("frame", sequence=t)
        rec.set_time("time", duration=t / float(meta["fps"]))
        _log_frame(rr, rec, arrays, t, max_points)


def require_rerun():
    """The ``rerun`` module (rerun-sdk, the optional extra ``factory[rerun]``).

    Raises:
        ConfigError: it is not installed; the message says how to install it.
    """
    try:
        import rerun
    except ImportError:
        raise ConfigError(
            "factory[rerun]", ["rerun-sdk: not installed; the rerun export needs it: pip install 'factory[rerun]'"]
        ) from None
    return rerun


def _log_static(rr, rec, meta: dict) -> None:
    """The timeless entities: world axes, class names, the camera's intrinsics."""
    rec.log("world", rr.ViewCoordinates.RIGHT_HAND_Z_UP, static=True)
    classes = [rr.AnnotationInfo(id=i, label=name) for i, name in enumerate(meta.get("classes", []))]
    rec.log("world", rr.AnnotationContext(classes), static=True)
    rec.log(
        "world/camera",
        rr.Pinhole(
            image_from_camera=np.asarray(meta["camera"]["K"], np.float32),
            resolution=[int(meta["width"]), int(meta["height"])],
            camera_xyz=rr.ViewCoordinates.RDF,
        ),
        static=True,
    )


def _log_frame(rr, rec, arrays: dict[str, Any], t: int, max_points: int) -> None:
    """Everything of frame ``t`` (the timelines already set): camera pose, images,
    2D and 3D boxes, world points, tracks."""
    meta = arrays["meta"]
    c2w = camera_to_world(meta["camera"]["world_to_camera"][t])
    rec.log("world/camera", rr.Transform3D(translation=c2w[:3, 3], mat3x3=c2w[:3, :3]))
    if "rgb" in arrays:
        rec.log("world/camera/rgb", rr.Image(arrays["rgb"][t]))
    if "depth" in arrays:
        rec.log("world/camera/depth", rr.DepthImage(arrays["depth"][t], meter=1.0))
        rgb = arrays["rgb"][t] if "rgb" in arrays else None
        points, colors = world_points(arrays["depth"][t], rgb, np.asarray(meta["camera"]["K"]), c2w, max_points)
        rec.log("world/points", rr.Points3D(points, colors=colors))
    if "semantic" in arrays:
        rec.log("world/camera/semantic", rr.SegmentationImage(arrays["semantic"][t]))
    objects = meta["objects"]
    seen = [o for o in objects if o["bbox_visible"][t] is not None]
    rec.log(
        "world/camera/boxes",
        rr.Boxes2D(
            array=np.asarray([o["bbox_visible"][t] for o in seen], np.float32).reshape(-1, 4),
            array_format=rr.Box2DFormat.XYXY,
            labels=[_label(o) for o in seen],
            class_ids=[_class_id(o, meta) for o in seen],
        ),
    )
    rec.log(
        "world/objects",
        rr.Boxes3D(
            centers=np.asarray([o["position"][t] for o in objects], np.float32).reshape(-1, 3),
            half_sizes=np.asarray([o["dims"] for o in objects], np.float32).reshape(-1, 3),
            quaternions=np.asarray([quaternion_xyzw(o["rotation"][t]) for o in objects], np.float32).reshape(-1, 4),
            labels=[_label(o) for o in objects],
            class_ids=[_class_id(o, meta) for o in objects],
        ),
    )
    for o in objects:
        if not o["static"]:
            rec.log(
                f"world/tracks/{o['id']}",
                rr.LineStrips3D(
                    [np.asarray(o["position"][: t + 1], np.float32)], labels=[_label(o)], class_ids=[_class_id(o, meta)]
                ),
            )


def _label(obj: dict) -> str:
    return f"{obj['category']} {obj['id']}"


def _class_id(obj: dict, meta: dict) -> int:
    if "class_id" in obj:
        return int(obj["class_id"])
    return list(meta["classes"]).index(obj["category"])


def camera_to_world(world_to_camera) -> np.ndarray:
    """The (4, 4) float64 camera-to-world matrix: the inverse of a rigid (4, 4)
    ``world_to_camera`` (rotation transposed, translation ``-R^T t``)."""
    w2c = np.asarray(world_to_camera, np.float64)
    out = np.eye(4)
    out[:3, :3] = w2c[:3, :3].T
    out[:3, 3] = -w2c[:3, :3].T @ w2c[:3, 3]
    return out


def world_points(
    depth: np.ndarray, rgb: np.ndarray | None, K: np.ndarray, c2w: np.ndarray, max_points: int
) -> tuple[np.ndarray, np.ndarray | None]:
    """The surface points of one frame, in the world.

    ``depth`` (H, W) metres along the optical axis (0: no surface); ``rgb`` (H, W, 3)
    uint8 or None; ``K`` (3, 3) pixels; ``c2w`` (4, 4) camera-to-world. Pixel (u, v)'s
    centre at depth d is the camera point ``d * K^-1 [u + 0.5, v + 0.5, 1]``. Of the N
    pixels with depth > 0 (row-major order) it keeps all, or ``max_points`` evenly
    spaced ones when N is larger. Returns the points (M, 3) float32, metres, and their
    colours (M, 3) uint8 (None without ``rgb``).
    """
    v, u = np.nonzero(depth > 0)
    keep = subsample(len(u), max_points)
    v, u = v[keep], u[keep]
    d = depth[v, u].astype(np.float64)
    rays = np.stack([u + 0.5, v + 0.5, np.ones_like(d)], axis=1) @ np.linalg.inv(K).T
    cam = rays * d[:, None]
    world = cam @ c2w[:3, :3].T + c2w[:3, 3]
    return world.astype(np.float32), (None if rgb is None else rgb[v, u])


def subsample(n: int, limit: int) -> np.ndarray:
    """Indices (at most ``limit``, increasing, no repeats) into ``n`` items: all of them
    when ``n <= limit``, else ``limit`` evenly spaced ones from the first to the last."""
    if n <= limit:
        return np.arange(n)
    return np.floor(np.linspace(0, n - 1, limit)).astype(np.int64)


def quaternion_xyzw(rotation) -> np.ndarray:
    """The unit quaternion (4,) float64, ordered x, y, z, w (rerun's order), of a (3, 3)
    rotation matrix (Shepperd's method: built from the largest of w, x, y, z for
    precision; the sign makes w >= 0)."""
    R = np.asarray(rotation, np.float64)
    tr = np.trace(R)
    i = int(np.argmax([tr, R[0, 0], R[1, 1], R[2, 2]]))
    if i == 0:
        s = 2.0 * np.sqrt(1.0 + tr)
        q = [(R[2, 1] - R[1, 2]) / s, (R[0, 2] - R[2, 0]) / s, (R[1, 0] - R[0, 1]) / s, s / 4]
    elif i == 1:
        s = 2.0 * np.sqrt(max(1.0 + R[0, 0] - R[1, 1] - R[2, 2], 1e-300))
        q = [s / 4, (R[0, 1] + R[1, 0]) / s, (R[0, 2] + R[2, 0]) / s, (R[2, 1] - R[1, 2]) / s]
    elif i == 2:
        s = 2.0 * np.sqrt(max(1.0 + R[1, 1] - R[0, 0] - R[2, 2], 1e-300))
        q = [(R[0, 1] + R[1, 0]) / s, s / 4, (R[1, 2] + R[2, 1]) / s, (R[0, 2] - R[2, 0]) / s]
    else:
        s = 2.0 * np.sqrt(max(1.0 + R[2, 2] - R[0, 0] - R[1, 1], 1e-300))
        q = [(R[0, 2] + R[2, 0]) / s, (R[1, 2] + R[2, 1]) / s, s / 4, (R[1, 0] - R[0, 1]) / s]
    q = np.asarray(q) / np.linalg.norm(q)
    return -q if q[3] < 0 else q
