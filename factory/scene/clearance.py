"""Whether a sampled scene can make a useful clip: the camera never inside, or within a
margin of, any geometry (:func:`camera_clearance`), and some moving object in view at
some frame (:func:`objects_in_view`).

A camera inside a furniture box sees only the box's inside: every pixel one id, every
object invisible (``configs/rooms.yaml``'s ``dim_storage`` did that to about one sample
in ten). :func:`camera_clearance` names the first frame at which the eye is within
:data:`CAMERA_MARGIN` of a static object's box or of a dynamic object's bounding
sphere as it starts, outside the room's walls, or below the floor; the sampler then
draws the scene again (see :func:`factory.sample.scenes.sample_scene`).
"""

from __future__ import annotations

import numpy as np

from factory.scene.camera_rig import scene_cameras, with_camera
from factory.scene.types import Scene, camera_centre, camera_pose

CAMERA_MARGIN = 0.1  # metres between the eye and any object
WALL_MARGIN = 0.05  # metres between the eye and a wall
FLOOR_MARGIN = 0.02  # metres above the floor (the sampler keeps the eye 5 cm up)


def eye_positions(scene: Scene) -> np.ndarray:
    """The camera centre (world, metres) at each frame, (T, 3)."""
    return np.array([camera_centre(scene.camera, t / scene.fps) for t in range(scene.frames)])


def camera_clearance(scene: Scene) -> str | None:
    """None if every camera of the rig keeps its margins at every frame, else what the
    first one to fail hits first (named ``camera c`` for a rig camera c >= 1)."""
    for c in range(len(scene_cameras(scene))):
        problem = _clearance(with_camera(scene, c))
        if problem is not None:
            return problem if c == 0 else f"camera {c}, {problem}"
    return None


def _clearance(scene: Scene) -> str | None:
    """:func:`camera_clearance` of ``scene.camera`` alone."""
    for t, eye in enumerate(eye_positions(scene)):
        if eye[2] < FLOOR_MARGIN:
            return f"frame {t}: the camera is {eye[2]:.3f} m above the floor"
        room = scene.room
        if room is not None and (
            abs(eye[0]) > room.width / 2 - WALL_MARGIN or abs(eye[1]) > room.depth / 2 - WALL_MARGIN
        ):
            return f"frame {t}: the camera is outside the room's walls"
        for o in scene.objects:
            rel = eye - np.asarray(o.position, np.float64)
            if o.static:  # a box standing still: test the eye in its own frame
                local = o.rotation.T @ rel
                if np.all(np.abs(local) < np.asarray(o.half_extents) + CAMERA_MARGIN):
                    return f"frame {t}: the camera is inside object {o.id} ({o.category})"
            elif t == 0 and np.linalg.norm(rel) < o.bounding_radius + CAMERA_MARGIN:
                return f"frame {t}: the camera is inside object {o.id} ({o.category})"
    return None


def _frustum(scene: Scene) -> np.ndarray:
    """(4, 3) unit inward normals of the view frustum's side planes in the camera frame
    (x right, y down, z forward; they pass through the eye): a camera point c lies in
    the image where every n . c >= 0."""
    cam = scene.camera
    fx, fy, cx, cy = cam.K[0, 0], cam.K[1, 1], cam.K[0, 2], cam.K[1, 2]
    planes = np.array(
        [[fx, 0.0, cx], [-fx, 0.0, cam.width - cx], [0.0, fy, cy], [0.0, -fy, cam.height - cy]], np.float64
    )
    return planes / np.linalg.norm(planes, axis=1, keepdims=True)


def objects_in_view(scene: Scene, positions: np.ndarray) -> str | None:
    """None if some moving object's bounding sphere meets the view frustum of some
    camera of the rig at some frame (a clip is empty only if no camera can show one),
    else a sentence saying none does; see :func:`_in_view`."""
    problems = [_in_view(with_camera(scene, c), positions) for c in range(len(scene_cameras(scene)))]
    return None if None in problems else problems[0]


def _in_view(scene: Scene, positions: np.ndarray) -> str | None:
    """None if some moving object's bounding sphere meets ``scene.camera``'s view frustum at some
    frame, else a sentence saying none does. ``positions``: (T, N, 3) float64, the
    objects' centres (world, metres) at each frame's time. A scene without moving
    objects passes. The test is conservative (a sphere near a frustum corner may pass
    without a pixel of it in view; ``factory validate`` then flags the clip from its
    pixel counts), so only clips that cannot show an object are drawn again."""
    moving = [k for k, o in enumerate(scene.objects) if not o.static]
    if not moving:
        return None
    radius = np.array([scene.objects[k].bounding_radius for k in moving])
    planes = _frustum(scene)
    for t in range(scene.frames):
        M = camera_pose(scene.camera, t / scene.fps)
        c = positions[t, moving] @ M[:3, :3].T + M[:3, 3]  # (n, 3) camera frame
        inside = (c[:, 2] > -radius) & np.all(c @ planes.T >= -radius[:, None], axis=1)
        if inside.any():
            return None
    return f"no moving object is in view in any of the {scene.frames} frames"
