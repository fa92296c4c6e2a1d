"""The oracle's ray caster: camera rays through image points of a frame, and what they
meet in an :class:`~factory.trust.oracle.scene.OracleScene`, in float64.

The floor is the plane z = 0 up to :data:`FAR` (camera z, m), the walls the room's
four planes x = +-width/2, y = +-depth/2 between z = 0 and its height (facing in);
analytic objects by :mod:`.analytic`, meshes by trimesh's ray caster over the unit
mesh, the ray moved into the mesh's unit frame (pose, then per-axis scale). Directions
have camera z = 1, so a hit's ray parameter is its depth.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from factory.trust.oracle.analytic import ANALYTIC, T_MIN
from factory.trust.oracle.scene import Body, OracleScene, barycentric

FAR = 60.0  # m of camera z: the floor ends here (docs/format.md)
SKY, FLOOR, WALL = -1, -2, -3  # surface codes; an object's is its body index (>= 0)


@dataclass
class Hits:
    """What M rays meet: ``t`` (M,) depth (inf: sky), ``surface`` (M,) a body index or
    SKY / FLOOR / WALL, world ``point`` (M, 3), ``local`` (M, 3) the point in the
    object's frame (objects), ``n`` (M, 3) the shading normal and ``ng`` (M, 3) the
    geometric one (world, unit, as the surface gives them: outward), ``met`` (M, B)
    whether the ray meets body b at all (the amodal silhouettes); ``body_t`` (M, B) the
    nearest ray parameter on body b (inf: not met) and ``body_ng`` (M, B, 3) its world
    geometric normal there (amodal depth: body b's own nearest surface, hidden or not)."""

    t: np.ndarray
    surface: np.ndarray
    point: np.ndarray
    local: np.ndarray
    n: np.ndarray
    ng: np.ndarray
    met: np.ndarray
    body_t: np.ndarray | None = None
    body_ng: np.ndarray | None = None


def camera_rays(scene: OracleScene, frame: int, u: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The camera centre (3,) and world directions (M, 3) with camera z = 1 through image
    points (u, v) (M,) each (pixel (i, j)'s centre is (j + 0.5, i + 0.5))."""
    M = scene.world_to_camera[frame]
    R, tr = M[:3, :3], M[:3, 3]
    d_cam = np.stack([u, v, np.ones_like(u)], 1) @ np.linalg.inv(scene.K).T
    d_cam /= d_cam[:, 2:3]
    return -R.T @ tr, d_cam @ R


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-300)


def _static(scene: OracleScene, o: np.ndarray, d: np.ndarray):
    """Floor and walls: t (M,), code (M,), normal (M, 3)."""
    m = len(d)
    t, code, n = np.full(m, np.inf), np.full(m, SKY), np.tile([0.0, 0.0, 1.0], (m, 1))
    with np.errstate(divide="ignore", invalid="ignore"):
        tf = np.where(d[:, 2] < -1e-9, -o[2] / d[:, 2], np.inf)
    floor = (tf > T_MIN) & (tf < FAR)
    t[floor], code[floor] = tf[floor], FLOOR
    if scene.room is not None:
        for axis in (0, 1):
            for sign in (-1.0, 1.0):
                ok = sign * d[:, axis] > 1e-9
                with np.errstate(divide="ignore", invalid="ignore"):
                    tw = np.where(ok, (sign * scene.room[axis] - o[axis]) / d[:, axis], np.inf)
                z = o[2] + tw * d[:, 2]
                hit = ok & (tw > T_MIN) & (z >= 0) & (z <= scene.room[2]) & (tw < t)
                t[hit], code[hit] = tw[hit], WALL
                n[hit] = 0.0
                n[hit, axis] = -sign
    return t, code, n


def _near(scene: OracleScene, frame: int, o: np.ndarray, d: np.ndarray) -> np.ndarray:
    """(M, B) whether ray m passes within body b's bounding sphere, ahead of the camera:
    the rays each body can hit (one pass for all bodies)."""
    centres = np.array([b.positions[frame] for b in scene.bodies]).reshape(-1, 3) - o
    radii = np.array([b.radius for b in scene.bodies])
    dd = np.einsum("ij,ij->i", d, d)[:, None]
    dc = d @ centres.T
    # |d x c|^2 = |d|^2 |c|^2 - (d.c)^2 <= r^2 |d|^2, and d.c > -r |d|.
    return (dd * (centres * centres).sum(1) - dc * dc <= radii**2 * dd) & (dc > -radii * np.sqrt(dd))


def _body(body: Body, frame: int, o: np.ndarray, d: np.ndarray, rows: np.ndarray):
    """Body ``body`` at ``frame`` against rays o (3,) / d (M, 3), of which only ``rows``
    may meet it: t (M,) (inf: miss), the object-frame point (M, 3), shading and
    geometric normals (M, 3) world."""
    R, p = body.rotations[frame], body.positions[frame]
    m = len(d)
    t = np.full(m, np.inf)
    local, n, ng = np.zeros((m, 3)), np.zeros((m, 3)), np.zeros((m, 3))
    o_l = R.T @ (o - p)
    d_l = d[rows] @ R
    if body.analytic:
        tk, nk = ANALYTIC[body.shape](np.tile(o_l, (len(rows), 1)), d_l, body.dims)
        t[rows], local[rows] = tk, o_l + np.nan_to_num(tk, posinf=0.0)[:, None] * d_l
        n[rows] = ng[rows] = nk @ R.T
        return t, local, n, ng
    mesh, s = body.mesh_at(frame), body.scale
    o_u, d_u = np.tile(o_l / s, (len(rows), 1)), d_l / s
    with np.errstate(divide="ignore", invalid="ignore"):  # a degenerate triangle (some pack meshes) is never hit
        tri, ray, loc = mesh.intersector.intersects_id(o_u, d_u, multiple_hits=False, return_locations=True)
    if not len(ray):
        return t, local, n, ng
    tk = np.einsum("ij,ij->i", loc - o_u[ray], d_u[ray]) / np.einsum("ij,ij->i", d_u[ray], d_u[ray])
    keep = tk > T_MIN
    tri, ray, loc, tk = tri[keep], ray[keep], loc[keep], tk[keep]
    corners = mesh.vertices[mesh.faces[tri]]  # (K, 3, 3)
    w = barycentric(corners, loc)
    smooth = np.einsum("ki,kij->kj", w, mesh.normals[mesh.faces[tri]])
    face = np.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0])
    hit = rows[ray]
    t[hit], local[hit] = tk, loc * s
    # Normals take the inverse transpose of the axis scaling.
    n[hit], ng[hit] = _unit(smooth / s) @ R.T, _unit(face / s) @ R.T
    return t, local, n, ng


def cast(scene: OracleScene, frame: int, o: np.ndarray, d: np.ndarray) -> Hits:
    """The nearest surface along each ray o + t d (o (3,), d (M, 3)) at ``frame``: the
    floor and walls, then every body (a body replaces what is there only when nearer)."""
    t, surface, n = _static(scene, o, d)
    point_t = np.where(np.isfinite(t), t, 0.0)
    local = o + point_t[:, None] * d
    ng = n.copy()
    met = np.zeros((len(d), len(scene.bodies)), bool)
    body_t, body_ng = np.full(met.shape, np.inf), np.zeros((*met.shape, 3))
    near = _near(scene, frame, o, d)
    for b, body in enumerate(scene.bodies):
        rows = np.flatnonzero(near[:, b])
        if not len(rows):
            continue
        tb, lb, nb, gb = _body(body, frame, o, d, rows)
        met[:, b] = np.isfinite(tb)
        body_t[:, b], body_ng[:, b] = tb, gb
        nearer = tb < t
        t[nearer], surface[nearer] = tb[nearer], b
        local[nearer], n[nearer], ng[nearer] = lb[nearer], nb[nearer], gb[nearer]
    point = o + np.where(np.isfinite(t), t, 0.0)[:, None] * d
    return Hits(t, surface, point, local, n, ng, met, body_t, body_ng)
