"""Rays against a whole scene: the floor, the room's walls and every posed object.

Objects are culled by their bounding spheres, then hit exactly in their own frame
(:mod:`factory.render.geometry`); a mesh's ray is also divided by the object's axis
scales, so one BVH per asset serves every size and pose. Ray parameters stay those of
the world ray: with camera-z-scaled directions, ``t`` is metric depth.
"""

from __future__ import annotations

from factory.render.geometry import MESH, MISS, analytic, face_blend, mesh_hit, mesh_hit_at, unit
from factory.render.tables import AMODAL, AMODAL_DEPTH, FIRST_OBJECT, FLOOR, SKY, WALL, Scenes, Views
from factory.render.warp_setup import wp

T_MIN = wp.constant(1.0e-4)  # ignore hits closer than this (units of d)
# The floor ends this far along the optical axis (metres); beyond is sky. Keeps depth
# inside the encoded range (65.5 m) and away from float32 trouble at the horizon.
FAR = wp.constant(60.0)


@wp.func
def sphere_cull(o: wp.vec3, d: wp.vec3, c: wp.vec3, r: float, t_max: float):
    """Whether the ray can meet the sphere (c, r) between 0 and t_max (conservative)."""
    oc = o - c
    a = wp.dot(d, d)
    b = wp.dot(oc, d)
    rr = r * 1.001 + 1.0e-4
    disc = b * b - a * (wp.dot(oc, oc) - rr * rr)
    if disc < 0.0:
        return False
    s = wp.sqrt(disc)
    return (-b + s) > 0.0 and (-b - s) < t_max * a


@wp.func
def object_hit(views: Views, scenes: Scenes, v: int, k: int, o: wp.vec3, d: wp.vec3, t_max: float):
    """Nearest hit (before t_max) of object k of view v's scene: t (MISS if none), the
    shading and geometric normals (world, unit), the hit point in the object's frame
    (metres), and a mesh's face and barycentrics (-1 and zeros for an analytic shape).
    A deforming surface (``views.deform``, :mod:`factory.render.deform`) is hit in this
    view's own BVH of its vertices about its pose's centre."""
    idx = scenes.obj_start[views.scene[v]] + k
    pose = views.pose_start[v] + k
    R = views.orient[pose]
    Rt = wp.transpose(R)
    o_l = Rt @ (o - views.pos[pose])
    d_l = Rt @ d
    dims = scenes.dims[idx]
    up = wp.vec3(0.0, 0.0, 1.0)
    none = wp.vec2(0.0, 0.0)
    if scenes.shape[idx] == MESH:
        o_u = wp.cw_div(o_l, dims)
        d_u = wp.cw_div(d_l, dims)
        t, ns, ng, face, bary = MISS, up, up, int(-1), none
        dv = views.deform[pose]
        if dv >= 0:  # a deforming surface: this view's own BVH and normals
            t, ns, ng, face, bary = mesh_hit_at(
                views.deform_mesh[dv], views.deform_normals, views.deform_first[dv], o_u, d_u, t_max
            )
        else:
            normals = scenes.mesh_data[scenes.mesh_slot[idx]].normals
            t, ns, ng, face, bary = mesh_hit(scenes.mesh[idx], normals, o_u, d_u, t_max)
        if t >= MISS:
            return MISS, up, up, o_l, int(-1), none
        # Normals take the inverse transpose of the axis scaling.
        n_w = R @ unit(wp.cw_div(ns, dims))
        local = wp.cw_mul(o_u + t * d_u, dims)
        if dv >= 0:  # a deforming surface's own frame is its rest shape: its pattern rides with it
            local = face_blend(views.deform_mesh[dv], views.deform_rest, views.deform_first[dv], face, bary)
        return t, n_w, R @ unit(wp.cw_div(ng, dims)), local, face, bary
    t, n = analytic(scenes.shape[idx], o_l, d_l, dims, T_MIN)
    if t >= t_max:
        return MISS, up, up, o_l, int(-1), none
    n_w = R @ n
    return t, n_w, n_w, o_l + t * d_l, int(-1), none


@wp.func
def object_blocks(views: Views, scenes: Scenes, v: int, k: int, o: wp.vec3, d: wp.vec3, t_max: float):
    """Whether object k of view v's scene meets the ray before t_max: the test of
    :func:`object_hit` (the same ray in the same frame), but a mesh stops at its first
    triangle before t_max instead of searching for the nearest one (Warp's any-hit
    query: same triangles, same bounds, so the same answer)."""
    idx = scenes.obj_start[views.scene[v]] + k
    pose = views.pose_start[v] + k
    Rt = wp.transpose(views.orient[pose])
    o_l = Rt @ (o - views.pos[pose])
    d_l = Rt @ d
    dims = scenes.dims[idx]
    if scenes.shape[idx] == MESH:
        mesh = scenes.mesh[idx]
        dv = views.deform[pose]
        if dv >= 0:  # a deforming surface: this view's own BVH
            mesh = views.deform_mesh[dv]
        return wp.mesh_query_ray_anyhit(mesh, wp.cw_div(o_l, dims), wp.cw_div(d_l, dims), t_max)
    t, n = analytic(scenes.shape[idx], o_l, d_l, dims, T_MIN)
    return t < t_max


@wp.func
def static_hit(scenes: Scenes, s: int, o: wp.vec3, d: wp.vec3):
    """Nearest hit of the floor (z = 0, up to FAR) and the room's walls: t (MISS if
    none), surface code and normal (world)."""
    t = MISS
    code = SKY
    n = wp.vec3(0.0, 0.0, 1.0)
    if d[2] < -1.0e-9:
        tf = -o[2] / d[2]
        if tf > T_MIN and tf < FAR:
            t = tf
            code = FLOOR
    room = scenes.room[s]
    if room[0] > 0.0:
        for axis in range(2):
            half = room[1 + axis]
            for side in range(2):
                sign = float(2 * side - 1)
                dc = d[axis]
                if sign * dc > 1.0e-9:
                    tw = (sign * half - o[axis]) / dc
                    z = o[2] + tw * d[2]
                    if tw > T_MIN and z >= 0.0 and z <= room[3] and tw < t:
                        t = tw
                        code = WALL
                        if axis == 0:
                            n = wp.vec3(-sign, 0.0, 0.0)
                        else:
                            n = wp.vec3(0.0, -sign, 0.0)
    return t, code, n


@wp.func
def occluded(
    views: Views,
    scenes: Scenes,
    v: int,
    p: wp.vec3,
    d: wp.vec3,
    t_max: float,
    skip: int,
    with_static: bool,
    li: int,
    i: int,
    j: int,
):
    """Whether anything blocks the segment p + t d, 0 < t < t_max: any object but
    ``skip`` (a surface code; a convex object cannot shadow its own lit side) and,
    when ``with_static``, the floor and walls. With ``li >= 0``, the ray is pixel
    (i, j)'s hard shadow ray towards its scene's light ``li`` (directional: d is its
    vector): only the objects of row i's shadow list whose columns hold j are tested
    (the others' sphere tests would miss); the list is by first column, so the walk
    stops at the first that starts right of j (a yes or no does not depend on the order)."""
    s = views.scene[v]
    if with_static:
        ts, code, ns = static_hit(scenes, s, p, d)
        if ts < t_max:
            return True
    first = scenes.obj_start[s]
    # One loop for both cases (a second copy of its body would make the function too
    # big for LLVM to inline, and the structs would be copied per call).
    e0 = int(0)
    n = scenes.obj_count[s]
    if li >= 0:
        e0 = views.shadow_first[v, li, i]
        n = views.shadow_count[v, li, i]
    for e in range(e0, e0 + n):
        k = e
        if li >= 0:
            ent = views.shadow_obj[e]
            if j < ent[1]:  # the row's list is by first column: the rest start right of j too
                break
            k = ent[0]
            if j >= ent[2]:
                continue
        if k + FIRST_OBJECT == skip and scenes.convex[first + k] == 1:
            continue
        pose = views.pose_start[v] + k
        if not sphere_cull(p, d, views.pos[pose], scenes.radius[first + k], t_max):
            continue
        if object_blocks(views, scenes, v, k, p, d, t_max):
            return True
    return False


@wp.func
def widen_box(boxes: wp.array4d(dtype=wp.int32), g: int, k: int, which: int, i: int, j: int):
    """Widen box ``boxes[g, k, which]`` (x0, y0, x1, y1 exclusive, pixel count; which:
    0 amodal, 1 visible) by pixel (i, j)."""
    wp.atomic_min(boxes, g, k, which, 0, j)
    wp.atomic_min(boxes, g, k, which, 1, i)
    wp.atomic_max(boxes, g, k, which, 2, j + 1)
    wp.atomic_max(boxes, g, k, which, 3, i + 1)
    wp.atomic_add(boxes, g, k, which, 4, 1)


@wp.func
def trace(
    views: Views,
    scenes: Scenes,
    v: int,
    o: wp.vec3,
    d: wp.vec3,
    boxes: wp.array4d(dtype=wp.int32),
    g: int,
    i: int,
    j: int,
    layers: int,
    amodal: wp.array4d(dtype=wp.uint8),
    amodal_depth: wp.array4d(dtype=wp.float32),
):
    """The nearest surface along o + t d in view v: t (MISS: sky), surface code,
    shading and geometric normals (world), the hit point in the surface's own frame
    (object frame for objects, world for floor and walls) and a mesh's face and
    barycentrics (-1 and zeros elsewhere). With g >= 0, every object
    the ray meets (occluded or not) widens its amodal box ``boxes[g, k, 0]`` (x0, y0,
    x1, y1 exclusive, pixel count) at pixel (i, j) and, as the bits of ``layers`` ask
    (:mod:`factory.render.layers`), sets ``amodal[g, k, i, j]`` to 1 and
    ``amodal_depth[g, k, i, j]`` to its nearest hit's depth: the same pixels the box
    counts. The ray must be the one through
    the centre of pixel (i, j) of view v: only the objects of row i's list whose columns
    hold j are tested (the others' image excludes the pixel), in k order, so ties go to
    the lower k as before."""
    s = views.scene[v]
    t, code, n = static_hit(scenes, s, o, d)
    ng = n
    local = o + wp.min(t, FAR) * d
    face = int(-1)
    bary = wp.vec2(0.0, 0.0)
    first = scenes.obj_start[s]
    e0 = views.row_first[v, i]
    for e in range(e0, e0 + views.row_count[v, i]):
        ent = views.row_obj[e]
        if j < ent[1] or j >= ent[2]:
            continue
        k = ent[0]
        pose = views.pose_start[v] + k
        if not sphere_cull(o, d, views.pos[pose], scenes.radius[first + k], MISS):
            continue
        tk, nk, gk, lk, fk, bk = object_hit(views, scenes, v, k, o, d, MISS)
        if tk >= MISS:
            continue
        if g >= 0:
            widen_box(boxes, g, k, 0, i, j)
            if (layers & AMODAL) != 0:
                amodal[g, k, i, j] = wp.uint8(1)
            if (layers & AMODAL_DEPTH) != 0:
                amodal_depth[g, k, i, j] = tk
        if tk < t:
            t = tk
            code = FIRST_OBJECT + k
            n = nk
            ng = gk
            local = lk
            face = fk
            bary = bk
    return t, code, n, ng, local, face, bary
