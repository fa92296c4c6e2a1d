"""The renderer's three Warp kernels, a thread per pixel (CUDA) or per image row
(CPU) of every job of a launch.

``primary``: for primary task q (a view, see :mod:`factory.render.tables`) and pixel
(i, j), what the camera ray through the pixel centre meets, into row ``hit[q]`` of
an array of :class:`~factory.render.tables.Hit`; for a frame's ground-truth view (``box[q] >= 0``) also the amodal
boxes.

``render_views``: for job r (a view to draw) and pixel (i, j), from its hit (row
``hit[r]``), its shading (``shade[r]``: none, linear RGB into the job's row for
``resolve``, or, for a frame drawn from one view, its sRGB bytes straight into the
frame, exposed and tone-mapped) and, for a ground-truth view (``gt[r] >= 0``), depth,
ids, camera-frame normals, albedo (the base colour before lighting, sRGB bytes by the
table) and material family, visible boxes and, when the frame has a next one
(``next[r] >= 0``: the hits row of the next frame's view ``next_view[r]``), forward
flow. The renderer (:class:`factory.render.renderer._Launch`) plans the rows: a next
frame's hits come from its own job, or from the launch before.

Flow: the hit point rides with its surface (its object's pose at t+1; a deforming
surface's next vertices of its face, by its barycentrics: ``carried``; floor and walls
stay) and is projected into the next camera. It is valid when it lands in frame, in
front of the camera, and is not hidden there: the surface the next frame sees at the
landing pixel's centre (that job's primary hit there, the very ray a second trace
would cast), taken as its tangent plane, passes within 1% of depth + 1 cm of the
carried point along the exact landing ray. Validity never looks at ids (the tests
check flow against ids independently). The rule, as a third party applies it (the
oracle of ``factory validate`` does), is written once in docs/format.md.

``optional_layers``: for a ground-truth job r and pixel (i, j), the optional layers
asked for (bits of ``bits``, :mod:`factory.render.layers`; defined in docs/format.md
"Optional layers"), launched only when one is: scene flow (the hit point carried as
flow carries it, in the next camera's frame minus in this one's), the hit point in
its object's frame normalised by its box (object coordinates) and backward flow. A
job already holds its next frame's hits, so it writes that frame's backward flow
(slot g + 1): the next frame's hit carried back to this frame's poses by ``flow_at``
with the frames swapped, the same validity rule against this frame's hits. The amodal
masks and depths are written by ``primary`` (:func:`factory.render.trace.trace`).

``resolve``: a motion-blurred frame's RGB, the mean of its sub-frames' linear RGB,
exposed, tone-mapped (:mod:`factory.render.tone`) and turned into sRGB bytes by a table.

Ground truth and sRGB land in frame slot ``gt[r]`` / ``slot[u]`` of arrays that hold
every frame of the call, so launches write their frames in place. A CPU thread draws
a whole row (``span`` = W): the per-thread work (the thread index's divisions, the
structs' fields) is paid once a row, not once a pixel; a CUDA thread one pixel (span
= 1). Loop bodies are written in the kernels, not called: a Warp function that LLVM
does not inline takes the structs by value.
"""

from __future__ import annotations

from factory.render.environment import env_radiance
from factory.render.geometry import face_blend
from factory.render.shade import look, shade
from factory.render.surface import mesh_albedo
from factory.render.tables import (
    BACKWARD_FLOW,
    FIRST_OBJECT,
    NO_RGB,
    OBJECT_COORDS,
    RGB_SRGB,
    SCENE_FLOW,
    SKY,
    Hit,
    Quality,
    Scenes,
    Views,
)
from factory.render.tone import display
from factory.render.trace import trace, widen_box
from factory.render.warp_setup import KERNEL_OPTIONS, wp

wp.set_module_options(KERNEL_OPTIONS)


@wp.func
def camera_ray(views: Views, v: int, u: float, w: float):
    """World direction (camera z = 1) through image point (u, w) of view v."""
    f = views.intr[v]
    d_cam = wp.vec3((u - f[2]) / f[0], (w - f[3]) / f[1], 1.0)
    return wp.transpose(views.rot[v]) @ d_cam


@wp.func
def carried(
    views: Views, cv: int, nv: int, sign: float, code: int, p: wp.vec3, local: wp.vec3, face: int, bary: wp.vec2
):
    """Hit point p (world; ``local`` in its surface's frame, ``face`` and ``bary`` its
    mesh triangle and barycentrics) of view cv where its surface has it in view nv, a
    frame after (``sign`` 1) or before (-1): an object's through its pose there, a
    deforming surface's as the same barycentrics of the same face's vertices there
    (exact for a piecewise-linear surface), a remeshed one's (a liquid's) moved by its
    face's vertex steps in cv, the floor's and the walls' where it is."""
    moved = p
    if code >= FIRST_OBJECT:
        pose = views.pose_start[nv] + code - FIRST_OBJECT
        dn = views.deform[pose]
        dc = views.deform[views.pose_start[cv] + code - FIRST_OBJECT]
        if dc >= 0 and views.deform_advect[dc] != 0:
            step = face_blend(views.deform_mesh[dc], views.deform_step, views.deform_first[dc], face, bary)
            moved = p + sign * step
        elif dn >= 0:
            moved = face_blend(views.deform_mesh[dn], views.deform_points, views.deform_first[dn], face, bary)
        else:
            moved = views.orient[pose] @ local + views.pos[pose]
    return moved


@wp.func
def flow_at(
    views: Views,
    hits: wp.array3d(dtype=Hit),
    cv: int,
    sign: float,
    nr: int,
    nv: int,
    code: int,
    p: wp.vec3,
    local: wp.vec3,
    i: int,
    j: int,
    width: int,
    height: int,
    face: int,
    bary: wp.vec2,
):
    """Forward flow (du, dv) of a pixel whose hit is p (world) / local (``face``,
    ``bary``: a mesh's triangle and barycentrics), and validity; ``cv`` is the hit's
    view, ``nr`` the hits row of the next frame's view (``sign`` 1; the previous
    frame's, -1: backward flow), ``nv`` that view."""
    moved = carried(views, cv, nv, sign, code, p, local, face, bary)
    c = views.rot[nv] @ moved + views.trans[nv]
    zero = wp.vec2(0.0, 0.0)
    if c[2] <= 1.0e-6:
        return zero, False
    f = views.intr[nv]
    u = f[0] * c[0] / c[2] + f[2]
    w = f[1] * c[1] / c[2] + f[3]
    if u < 0.0 or u >= float(width) or w < 0.0 or w >= float(height):
        return zero, False
    # What the next frame sees at the landing pixel's centre, taken as its tangent
    # plane, must pass near the carried point along the exact landing ray.
    qi = wp.min(int(wp.floor(w)), height - 1)
    qj = wp.min(int(wp.floor(u)), width - 1)
    q = hits[nr, qi, qj]
    if q.code == SKY:
        return zero, False
    dq = camera_ray(views, nv, float(qj) + 0.5, float(qi) + 0.5)
    tq = q.t
    ngq = q.ng
    ray = camera_ray(views, nv, u, w)
    denom = wp.dot(ngq, ray)
    if wp.abs(denom) <= 1.0e-6:
        return zero, False
    plane_z = wp.dot(ngq, tq * dq) / denom
    if wp.abs(plane_z - c[2]) > 0.01 * c[2] + 0.01:
        return zero, False
    return wp.vec2(u - (float(j) + 0.5), w - (float(i) + 0.5)), True


@wp.func
def srgb(lut: wp.array(dtype=wp.uint8), x: float):
    """The sRGB byte of linear x (clipped to [0, 1]) by the table."""
    top = float(lut.shape[0] - 1)
    return lut[int(wp.floor(wp.clamp(x, 0.0, 1.0) * top + 0.5))]


@wp.func
def put_srgb(lut: wp.array(dtype=wp.uint8), out: wp.array4d(dtype=wp.uint8), g: int, i: int, j: int, c: wp.vec3):
    """Frame g's pixel (i, j) of ``out`` set to the sRGB bytes of linear ``c``."""
    for ch in range(3):
        out[g, i, j, ch] = srgb(lut, c[ch])


@wp.kernel
def primary(
    views: Views,
    scenes: Scenes,
    prim_view: wp.array(dtype=wp.int32),
    prim_box: wp.array(dtype=wp.int32),
    prim_hit: wp.array(dtype=wp.int32),
    hits: wp.array3d(dtype=Hit),
    boxes: wp.array4d(dtype=wp.int32),
    span: int,
    layers: int,
    amodal: wp.array4d(dtype=wp.uint8),
    amodal_depth: wp.array4d(dtype=wp.float32),
):
    q, i, b = wp.tid()
    width = hits.shape[2]
    v = prim_view[q]
    g = prim_box[q]
    h = prim_hit[q]
    o = views.origin[v]
    for j in range(b * span, wp.min(b * span + span, width)):
        d = camera_ray(views, v, float(j) + 0.5, float(i) + 0.5)
        t, code, n, ng, local, face, bary = trace(views, scenes, v, o, d, boxes, g, i, j, layers, amodal, amodal_depth)
        hit = Hit()
        hit.t = t
        hit.code = code
        hit.n = n
        hit.ng = ng
        hit.local = local
        hit.face = face
        hit.bary = bary
        hits[h, i, j] = hit


@wp.kernel
def render_views(
    views: Views,
    scenes: Scenes,
    quality: Quality,
    job_view: wp.array(dtype=wp.int32),
    job_next: wp.array(dtype=wp.int32),
    job_gt: wp.array(dtype=wp.int32),
    job_shade: wp.array(dtype=wp.int32),
    job_hit: wp.array(dtype=wp.int32),
    job_next_view: wp.array(dtype=wp.int32),
    hits: wp.array3d(dtype=Hit),
    rgb: wp.array3d(dtype=wp.vec3),
    depth: wp.array3d(dtype=wp.float32),
    instance: wp.array3d(dtype=wp.uint16),
    semantic: wp.array3d(dtype=wp.uint8),
    normals: wp.array3d(dtype=wp.vec3),
    flow: wp.array3d(dtype=wp.vec2),
    flow_valid: wp.array3d(dtype=wp.uint8),
    albedo: wp.array4d(dtype=wp.uint8),
    material: wp.array3d(dtype=wp.uint8),
    boxes: wp.array4d(dtype=wp.int32),
    lut: wp.array(dtype=wp.uint8),
    out: wp.array4d(dtype=wp.uint8),
    span: int,
):
    r, i, b = wp.tid()
    height = rgb.shape[1]
    width = rgb.shape[2]
    v = job_view[r]
    g = job_gt[r]
    h = job_hit[r]
    nh = job_next[r]
    nv = job_next_view[r]
    mode = job_shade[r]
    s = views.scene[v]
    o = views.origin[v]
    for j in range(b * span, wp.min(b * span + span, width)):
        d = camera_ray(views, v, float(j) + 0.5, float(i) + 0.5)
        hit = hits[h, i, j]
        code = hit.code
        n = hit.n
        ng = hit.ng
        if wp.dot(ng, d) > 0.0:  # geometric normals decide facing
            ng = -ng
        if wp.dot(n, d) >= 0.0:  # a smooth normal turned away at a silhouette
            n = ng
        p = o + hit.t * d
        surf = scenes.surf_start[s] + code
        base, rough = wp.vec3(0.0, 0.0, 0.0), float(1.0)
        if code != SKY and (mode != NO_RGB or g >= 0):  # a mesh whose faces carry materials: its own
            if code >= FIRST_OBJECT and scenes.materials[scenes.obj_start[s] + code - FIRST_OBJECT] != 0:
                base, rough = mesh_albedo(views, scenes, v, code, d, n, ng, hit), float(scenes.roughness[surf])
            else:
                base, rough = look(scenes, surf, code, hit.local)
        if mode != NO_RGB:
            c = wp.vec3(0.0, 0.0, 0.0)
            if code == SKY:  # the backdrop as seen: its sharpest level
                c = env_radiance(scenes.env, s, wp.normalize(d), 0.0)
            else:
                c = shade(views, scenes, quality, v, code, p, d, n, ng, base, rough, i * width + j, i, j)
            if mode == RGB_SRGB:  # resolve's mean of one view is the view itself: the same bytes
                put_srgb(lut, out, g, i, j, display(c, scenes.gain[s], scenes.tone[s]))
            else:
                rgb[r, i, j] = c
        if g < 0:
            continue
        instance[g, i, j] = wp.uint16(scenes.instance[surf])
        semantic[g, i, j] = wp.uint8(scenes.semantic[surf])
        material[g, i, j] = wp.uint8(scenes.family[surf])
        put_srgb(lut, albedo, g, i, j, base)
        depth[g, i, j] = wp.where(code == SKY, 0.0, hit.t)
        normals[g, i, j] = wp.where(code == SKY, wp.vec3(0.0, 0.0, 0.0), views.rot[v] @ n)
        if code >= FIRST_OBJECT:
            widen_box(boxes, g, code - FIRST_OBJECT, 1, i, j)
        fl, ok = wp.vec2(0.0, 0.0), False
        if nh >= 0 and code != SKY:  # flow_at gives (0, 0) where it is not valid
            fl, ok = flow_at(views, hits, v, 1.0, nh, nv, code, p, hit.local, i, j, width, height, hit.face, hit.bary)
        flow[g, i, j] = fl
        flow_valid[g, i, j] = wp.uint8(wp.where(ok, 1, 0))


@wp.kernel
def optional_layers(
    views: Views,
    job_view: wp.array(dtype=wp.int32),
    job_next: wp.array(dtype=wp.int32),
    job_gt: wp.array(dtype=wp.int32),
    job_hit: wp.array(dtype=wp.int32),
    job_next_view: wp.array(dtype=wp.int32),
    hits: wp.array3d(dtype=Hit),
    bits: int,
    bflow: wp.array3d(dtype=wp.vec2),
    bvalid: wp.array3d(dtype=wp.uint8),
    sflow: wp.array3d(dtype=wp.vec3),
    svalid: wp.array3d(dtype=wp.uint8),
    ocoord: wp.array3d(dtype=wp.vec3),
    nocs: wp.array(dtype=wp.float32),
    span: int,
):
    r, i, b = wp.tid()
    g = job_gt[r]
    if g < 0:  # a blur sub-frame: no ground truth
        return
    height = hits.shape[1]
    width = hits.shape[2]
    v = job_view[r]
    h = job_hit[r]
    nh = job_next[r]
    nv = job_next_view[r]
    o = views.origin[v]
    for j in range(b * span, wp.min(b * span + span, width)):
        hit = hits[h, i, j]
        code = hit.code
        if (bits & OBJECT_COORDS) != 0:  # NaN off objects; nocs: 1 / (2 |e|) per pose
            c = wp.vec3(wp.nan, wp.nan, wp.nan)
            if code >= FIRST_OBJECT:
                c = hit.local * nocs[views.pose_start[v] + code - FIRST_OBJECT] + wp.vec3(0.5, 0.5, 0.5)
            ocoord[g, i, j] = c
        if (bits & SCENE_FLOW) != 0:
            sf, sok = wp.vec3(0.0, 0.0, 0.0), False
            if nh >= 0 and code != SKY:  # the point as flow_at carries it, in both cameras
                p = o + hit.t * camera_ray(views, v, float(j) + 0.5, float(i) + 0.5)
                moved = carried(views, v, nv, 1.0, code, p, hit.local, hit.face, hit.bary)
                sf = (views.rot[nv] @ moved + views.trans[nv]) - (views.rot[v] @ p + views.trans[v])
                sok = True
            sflow[g, i, j] = sf
            svalid[g, i, j] = wp.uint8(wp.where(sok, 1, 0))
        if (bits & BACKWARD_FLOW) != 0 and nh >= 0:
            # The next frame's backward flow, into its slot g + 1 (a clip's frame 0 keeps
            # its zeros): its hit carried back to this frame's poses and tested against
            # this frame's hits, flow_at's rule with the frames swapped.
            hn = hits[nh, i, j]
            bf, bok = wp.vec2(0.0, 0.0), False
            if hn.code != SKY:
                pn = views.origin[nv] + hn.t * camera_ray(views, nv, float(j) + 0.5, float(i) + 0.5)
                bf, bok = flow_at(
                    views, hits, nv, -1.0, h, v, hn.code, pn, hn.local, i, j, width, height, hn.face, hn.bary
                )
            bflow[g + 1, i, j] = bf
            bvalid[g + 1, i, j] = wp.uint8(wp.where(bok, 1, 0))


@wp.kernel
def resolve(
    rgb: wp.array3d(dtype=wp.vec3),
    first: wp.array(dtype=wp.int32),
    count: wp.array(dtype=wp.int32),
    slot: wp.array(dtype=wp.int32),
    gain: wp.array(dtype=wp.vec3),
    tone: wp.array(dtype=wp.int32),
    lut: wp.array(dtype=wp.uint8),
    out: wp.array4d(dtype=wp.uint8),
    span: int,
):
    u, i, b = wp.tid()
    width = rgb.shape[2]
    g = slot[u]
    for j in range(b * span, wp.min(b * span + span, width)):
        total = wp.vec3(0.0, 0.0, 0.0)
        for r in range(first[u], first[u] + count[u]):
            total = total + rgb[r, i, j]
        put_srgb(lut, out, g, i, j, display(total / float(count[u]), gain[u], tone[u]))
