"""Point tracks: query points drawn on visible surfaces, followed through every frame
of their clip, with a visibility state decided by casting the ray to the point.

:func:`render_tracks` gives one :class:`Tracks` per rendered clip. Per clip: N query
pixels (:func:`draw_queries`, from the clip's own generator) at random frames; each
query's 3D point comes from the render's float32 depth at the pixel centre and rides
with its surface (an object's point through the object's pose, the floor's and the
walls' fixed in the world, :func:`follow`); per frame its camera-frame position, its
projection and whether it is in view are NumPy in float64 on the host; whether
anything blocks the segment from the camera centre to the point is the Warp kernel
:func:`track_visibility` (one source for the CPU and CUDA), the renderer's own
any-hit test (:func:`factory.render.trace.occluded`) against the scene as it stands
at the frame. Only the camera's own frames count (no motion-blur sub-frame).

The record's shapes, dtypes and units are in :class:`Tracks`; how it is stored (the
TAP-Vid and TAPVid-3D layouts), the query rule and the error bounds: docs/format.md
("Point tracks").
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from factory.render.batch import ViewSpec, pack_scenes
from factory.render.deform import append_surfaces, deform_views, posed, track_points
from factory.render.device import Device
from factory.render.scene_tables import scene_tables
from factory.render.tables import Scenes, Views
from factory.render.trace import occluded
from factory.render.warp_setup import KERNEL_OPTIONS, wp
from factory.scene.types import Scene, camera_pose

wp.set_module_options(KERNEL_OPTIONS)

# Visibility states of Tracks.state.
VISIBLE, OCCLUDED, OUT_OF_VIEW = 0, 1, 2
# The segment to the point stops this fraction of its length short of the point: a
# point re-hits its own surface at 1 +- ~1e-6 of the segment in float32 (its position
# comes from float32 depth and the kernel's rays are float32), so 1e-4 (0.3 mm at 3 m)
# ignores the point's own surface with a margin of 100 and nothing else.
SEGMENT_EPS = wp.constant(1.0e-4)
NEAR = 1.0e-6  # metres: a point at or behind camera z = NEAR is out of view
BEHIND = -1.0e4  # pixels: the image position given to a point at or behind the camera


@dataclass(frozen=True)
class Tracks:
    """N point tracks over the T frames of one clip (docs/format.md, "Point tracks").

    ``query_frame`` (N,) int32: the frame each point was drawn at. ``query_uv`` (N, 2)
    float32: its query pixel's centre (u, v), pixels. ``surface`` (N,) int32: the
    instance id of the surface it lies on (0: floor or walls). ``uv`` (T, N, 2)
    float32: its image position (u, v) in pixels (pixel (i, j) covers [j, j+1) x [i,
    i+1)), the projection wherever it is in front of the camera, ``BEHIND`` at or
    behind it. ``depth`` (T, N) float32: camera z, metres (negative behind).
    ``xyz`` (T, N, 3) float32: camera-frame position (OpenCV axes), metres.
    ``world`` (T, N, 3) float32: world position, metres. ``state`` (T, N) uint8:
    ``VISIBLE`` (0), ``OCCLUDED`` (1: the camera ray meets something else first) or
    ``OUT_OF_VIEW`` (2: outside the image or at or behind the camera).
    ``intrinsics`` (4,) float32: fx, fy, cx, cy in pixels."""

    query_frame: np.ndarray
    query_uv: np.ndarray
    surface: np.ndarray
    uv: np.ndarray
    depth: np.ndarray
    xyz: np.ndarray
    world: np.ndarray
    state: np.ndarray
    intrinsics: np.ndarray


@dataclass(frozen=True)
class TrackRequest:
    """What :func:`render_tracks` needs of one clip: its scene, its motion (anything
    with ``state_at(time) -> (positions (K, 3), rotations (K, 3, 3))``, float64), the
    rendered frames' float32 ``depth`` and ``instance`` (T, H, W), the number of
    points, the share of them drawn on moving objects and the clip's generator; or,
    in ``queries``, chosen query pixels instead of drawn ones: (frames, rows,
    columns), int arrays of one length, each a surface pixel (depth > 0)."""

    scene: Scene
    motion: object
    depth: np.ndarray
    instance: np.ndarray
    points: int
    object_share: float
    rng: np.random.Generator
    queries: tuple | None = None
    # A rig camera's request: the index of an earlier request of the same call (its
    # camera 0) whose points this one follows, the same world points projected and cast
    # through this scene's camera (its depth, instance and draws unused); -1: its own.
    points_of: int = -1
    # Deforming surfaces (factory.render.deform.DeformingSurface, the motion then has
    # deformed_at): a point on one rides with its pixel ray's face and barycentrics.
    surfaces: tuple = ()


def draw_queries(
    depth: np.ndarray, instance: np.ndarray, fixed: np.ndarray, n: int, share: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """N query pixels: frames (N,), rows (N,) and columns (N,), int64.

    Per point, in this order of draws: whether it goes on a moving object (an instance
    id > 0 not among ``fixed``, the ids of the clip's static objects) with probability
    ``share``, else on the background (floor, walls, furniture: any other surface); a
    frame, uniform; a pixel,
    uniform among that frame's pixels of its class. A class without a pixel in the
    frame gives way to the other; a frame showing no surface at all to every surface
    pixel of the clip. None at all (the whole clip is sky): no points."""
    T, H, W = depth.shape
    # Per frame, the flat pixel indices of its two classes (sorted), made when first asked for.
    pools: dict[tuple[bool, int], np.ndarray] = {}

    def pool_of(cls: bool, t: int) -> np.ndarray:
        if (cls, t) not in pools:
            surface = depth[t].ravel() > 0
            ids = instance[t].ravel()
            on_object = (ids > 0) & surface
            for k in fixed:  # furniture: a few ids, cheaper than a table look-up per pixel
                on_object &= ids != k
            pools[True, t], pools[False, t] = np.flatnonzero(on_object), np.flatnonzero(surface & ~on_object)
        return pools[cls, t]

    cls, frame, pick = rng.random(n) < share, rng.integers(0, T, n), rng.random(n)
    t_out, p_out = np.empty(n, np.int64), np.empty(n, np.int64)
    anywhere = None  # frame * H * W + pixel of every surface pixel of the clip, when first needed
    for q in range(n):
        t, pool = int(frame[q]), pool_of(bool(cls[q]), int(frame[q]))
        if not len(pool):
            pool = pool_of(not cls[q], t)
        if not len(pool):
            anywhere = np.flatnonzero(depth.ravel() > 0) if anywhere is None else anywhere
            if not len(anywhere):
                return (np.zeros(0, np.int64),) * 3
            flat = anywhere[int(pick[q] * len(anywhere))]
            t_out[q], p_out[q] = flat // (H * W), flat % (H * W)
            continue
        t_out[q], p_out[q] = t, pool[int(pick[q] * len(pool))]
    return t_out, p_out // W, p_out % W


def _poses(req: TrackRequest) -> tuple:
    """World-to-camera (T, 4, 4), object centres (T, K, 3) and rotations (T, K, 3, 3),
    float64, at the clip's frame times: what the renderer's own views hold (K: the
    objects, then the deforming surfaces' box centres and identities), and per frame
    the surfaces' (vertices (V, 3) world, faces) (``deform.posed``)."""
    sc = req.scene
    clip = _Surfaced(req.motion, req.surfaces)
    views = [posed((None, *req.motion.state_at(t / sc.fps)), clip, t / sc.fps) for t in range(sc.frames)]
    w2c = np.stack([camera_pose(sc.camera, t / sc.fps) for t in range(sc.frames)])
    K = len(sc.objects) + len(req.surfaces)
    pos = np.stack([np.asarray(v[1], np.float64).reshape(K, 3) for v in views])
    rot = np.stack([np.asarray(v[2], np.float64).reshape(K, 3, 3) for v in views])
    return w2c, pos, rot, [v[3] if len(v) > 3 else () for v in views]


@dataclass(frozen=True)
class _Surfaced:
    """What :func:`~factory.render.deform.posed` reads of a clip."""

    motion: object
    surfaces: tuple


def follow(req: TrackRequest, w2c, pos, rot, tq, iq, jq, deformed=()) -> tuple[np.ndarray, np.ndarray]:
    """The queries' world points (T, N, 3) float64 in every frame, and their surfaces'
    instance ids (N,): each query's point is the camera centre plus its float32 depth
    times the camera-z-scaled ray through its pixel centre at its frame; an object's
    point is carried in the object's frame (its pose at the query frame), the floor's
    and walls' stay where they are; a deforming surface's rides with its face and
    barycentrics (``deformed``: per frame, per surface (vertices, faces);
    :func:`~factory.render.deform.track_points`)."""
    K = req.scene.camera.K
    d_cam = np.stack([(jq + 0.5 - K[0, 2]) / K[0, 0], (iq + 0.5 - K[1, 2]) / K[1, 1], np.ones(len(tq))], 1)
    R, tr = w2c[tq, :3, :3], w2c[tq, :3, 3]
    origin = -np.einsum("nji,nj->ni", R, tr)
    depth = req.depth[tq, iq, jq].astype(np.float64)
    X = origin + depth[:, None] * np.einsum("nji,nj->ni", R, d_cam)  # R^T d_cam
    ids = req.instance[tq, iq, jq].astype(np.int32)
    T = w2c.shape[0]
    world = np.broadcast_to(X, (T, len(X), 3)).copy()
    index = {o.id: k for k, o in enumerate(req.scene.objects)}
    q = np.flatnonzero([int(i) in index for i in ids])
    k = np.array([index[int(i)] for i in ids[q]], np.int64)
    local = np.einsum("nji,nj->ni", rot[tq[q], k], X[q] - pos[tq[q], k])  # R^T (X - p) at the query frame
    world[:, q] = np.einsum("tnij,nj->tni", rot[:, k], local) + pos[:, k]
    if req.surfaces:
        verts = [[v for v, *_ in d] for d in deformed]
        surface_of = {int(s.instance): n for n, s in enumerate(req.surfaces)}
        dirs = np.einsum("nji,nj->ni", R, d_cam)
        track_points(req.surfaces, verts, surface_of, ids, tq, origin, dirs, world)
    return world, ids


def project(K: np.ndarray, w2c: np.ndarray, world: np.ndarray, width: int, height: int):
    """Camera-frame points (T, N, 3), image positions (T, N, 2) and in-view flags (T, N)
    of world points (T, N, 3) through intrinsics ``K`` and world-to-camera ``w2c``
    (T, 4, 4), float64. In view: in front of camera z = NEAR and inside [0, width) x
    [0, height); image positions at or behind it are ``BEHIND``."""
    cam = np.einsum("tij,tnj->tni", w2c[:, :3, :3], world) + w2c[:, None, :3, 3]
    z = cam[..., 2]
    front = z > NEAR
    zs = np.where(front, z, 1.0)
    uv = np.stack([K[0, 0] * cam[..., 0] / zs + K[0, 2], K[1, 1] * cam[..., 1] / zs + K[1, 2]], -1)
    uv[~front] = BEHIND
    inside = front & (uv[..., 0] >= 0) & (uv[..., 0] < width) & (uv[..., 1] >= 0) & (uv[..., 1] < height)
    return cam, uv, inside


@wp.kernel
def track_visibility(
    views: Views,
    scenes: Scenes,
    entry_view: wp.array(dtype=wp.int32),
    point: wp.array(dtype=wp.vec3),
    blocked: wp.array(dtype=wp.uint8),
):
    """Entry e: 1 where anything (an object, the floor, a wall) meets the segment from
    view ``entry_view[e]``'s camera centre to ``point[e]`` (world) before 1 -
    SEGMENT_EPS of its length, else 0. The point's own object is tested too: the
    back of an object is hidden by its front."""
    e = wp.tid()
    v = entry_view[e]
    o = views.origin[v]
    if occluded(views, scenes, v, o, point[e] - o, 1.0 - SEGMENT_EPS, -1, True, -1, 0, 0):
        blocked[e] = wp.uint8(1)
    else:
        blocked[e] = wp.uint8(0)


def _views(w2c: np.ndarray, scene_of: np.ndarray, pos: list, rot: list, device: Device) -> Views:
    """The Views struct of the clips' frames (V views: world-to-camera (V, 4, 4), scene
    indices (V,), per view its objects' centres (K, 3) and rotations (K, 3, 3)) with
    what :func:`~factory.render.trace.occluded` reads of it (camera centres, object
    poses); the pixel rows' object lists (``batch.pack_views``) are one empty row
    each: a segment to a point is no pixel's ray, so it tests every object."""
    R, tr = w2c[:, :3, :3], w2c[:, :3, 3]
    counts = [len(p) for p in pos]
    out = Views()
    out.origin, out.rot, out.trans = (
        device.table(-np.einsum("vji,vj->vi", R, tr), wp.vec3),
        device.table(R, wp.mat33),
        device.table(tr, wp.vec3),
    )
    out.intr = device.table(np.zeros((len(w2c), 4)), wp.vec4)  # no pixel ray is cast
    out.scene = device.table(scene_of.astype(np.int32), wp.int32)
    out.pose_start = device.table((np.cumsum([0] + counts)[:-1]).astype(np.int32), wp.int32)
    out.pos = device.table(np.concatenate([np.reshape(p, (-1, 3)) for p in pos] + [np.zeros((1, 3))]), wp.vec3)
    out.orient = device.table(np.concatenate([np.reshape(r, (-1, 3, 3)) for r in rot] + [np.eye(3)[None]]), wp.mat33)
    none = np.zeros((1, 1), np.int32)
    out.row_first, out.row_count = device.table(none, wp.int32), device.table(none, wp.int32)
    out.shadow_first = out.shadow_count = device.table(np.zeros((1, 1, 1), np.int32), wp.int32)
    out.row_obj = out.shadow_obj = device.table(np.zeros((1, 3), np.int32), wp.vec3i)
    return out


@dataclass(frozen=True)
class _Plan:
    """One clip's points before the launch: queries (N,) each, world points (T, N, 3),
    surface ids (N,), camera-frame points (T, N, 3), image positions (T, N, 2) and
    in-view flags (T, N), float64; its frames' poses; the (frame, point) entries in view."""

    tq: np.ndarray
    iq: np.ndarray
    jq: np.ndarray
    world: np.ndarray
    ids: np.ndarray
    cam: np.ndarray
    uv: np.ndarray
    inside: np.ndarray
    poses: tuple
    entries: tuple


def _plan(req: TrackRequest, earlier: list[_Plan]) -> _Plan:
    sc = req.scene
    T, H, W = req.depth.shape
    if req.points_of >= 0:  # a rig camera: camera 0's points, through this camera
        p0 = earlier[req.points_of]
        poses = _poses(req)
        cam, uv, inside = project(sc.camera.K, poses[0], p0.world, W, H)
        return _Plan(p0.tq, p0.iq, p0.jq, p0.world, p0.ids, cam, uv, inside, poses, np.nonzero(inside))
    if req.queries is None:
        fixed = np.array([o.id for o in sc.objects if o.static], np.int64)
        tq, iq, jq = draw_queries(req.depth, req.instance, fixed, req.points, req.object_share, req.rng)
    else:
        tq, iq, jq = (np.asarray(a, np.int64) for a in req.queries)
    w2c, pos, rot, deformed = poses = _poses(req)
    world, ids = follow(req, w2c, pos, rot, tq, iq, jq, deformed)
    cam, uv, inside = project(sc.camera.K, w2c, world, W, H)
    return _Plan(tq, iq, jq, world, ids, cam, uv, inside, poses, np.nonzero(inside))


def _cast(plans: list[_Plan], requests: list[TrackRequest], device: Device) -> np.ndarray:
    """Whether each in-view entry of every plan (in order) is blocked: (E,) uint8, from
    one launch of :func:`track_visibility` over all the clips' frames."""
    view = np.concatenate([p.entries[0] + sum(q.inside.shape[0] for q in plans[:c]) for c, p in enumerate(plans)])
    if not len(view):
        return np.zeros(0, np.uint8)
    w2c = np.concatenate([p.poses[0] for p in plans])
    scene_of = np.concatenate([np.full(p.inside.shape[0], c) for c, p in enumerate(plans)])
    pos = [p.poses[1][t] for p in plans for t in range(p.inside.shape[0])]
    rot = [p.poses[2][t] for p in plans for t in range(p.inside.shape[0])]
    views = _views(w2c, scene_of, pos, rot, device)
    # deform_views reads a view's poses and deformed surfaces (no K: no pixel ray is cast)
    specs = [ViewSpec(0, w2c, None, pos, rot, d) for p in plans for w2c, pos, rot, d in zip(*p.poses)]
    (
        views.deform,
        views.deform_mesh,
        views.deform_first,
        views.deform_points,
        views.deform_normals,
        views.deform_rest,
    ) = deform_views(specs, device)
    tables = [
        append_surfaces(scene_tables(r.scene), r.surfaces, r.scene.classes, p.poses[3]) for r, p in zip(requests, plans)
    ]
    scenes, held = pack_scenes(tables, device)
    points = np.concatenate([p.world[p.entries] for p in plans]).astype(np.float32)
    out = wp.zeros(len(view), dtype=wp.uint8, device=device.warp_name)
    wp.launch(
        track_visibility,
        dim=len(view),
        device=device.warp_name,
        inputs=[views, scenes, device.table(view.astype(np.int32), wp.int32), device.table(points, wp.vec3), out],
    )
    blocked = out.numpy()
    del held  # the mesh cache entries lived as long as the launch needed them
    return blocked


def render_tracks(requests: list[TrackRequest], device: Device) -> list[Tracks]:
    """One :class:`Tracks` per request (see the module docstring), the visibility of
    every clip's in-view entries cast in one launch on ``device``."""
    plans: list[_Plan] = []
    for r in requests:
        plans.append(_plan(r, plans))
    blocked = _cast(plans, requests, device)
    results, at = [], 0
    f = np.float32
    for req, p in zip(requests, plans):
        K = req.scene.camera.K
        state = np.full(p.inside.shape, OUT_OF_VIEW, np.uint8)
        n = len(p.entries[0])
        state[p.entries] = np.where(blocked[at : at + n] == 1, OCCLUDED, VISIBLE)
        at += n
        results.append(
            Tracks(
                query_frame=p.tq.astype(np.int32),
                query_uv=_query_uv(req, p),
                surface=p.ids,
                uv=p.uv.astype(f),
                depth=p.cam[..., 2].astype(f),
                xyz=p.cam.astype(f),
                world=p.world.astype(f),
                state=state,
                intrinsics=np.array([K[0, 0], K[1, 1], K[0, 2], K[1, 2]], f),
            )
        )
    return results


def _query_uv(req: TrackRequest, p: _Plan) -> np.ndarray:
    """The queries' image positions (N, 2) float32: the query pixel's centre, or, for a
    rig camera's request, the point's projection in this camera at the query frame."""
    if req.points_of >= 0:
        return p.uv[p.tq, np.arange(len(p.tq))].astype(np.float32).reshape(-1, 2)
    return np.stack([p.jq + 0.5, p.iq + 0.5], 1).astype(np.float32).reshape(-1, 2)
