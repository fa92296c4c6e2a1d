"""Exact ray intersections with factory's shapes, as Warp functions.

Every function takes a ray ``o + t d`` in the object's own frame (``d`` need not be
unit length: ``t`` is in units of ``d``, which the renderer scales to camera z = 1 so
that ``t`` is metric depth) and returns ``t`` (``MISS`` where the ray misses) and the
outward unit normal at the hit, in the object frame. Shapes are centred on the origin
with the half-extents ``dims`` documented in :class:`factory.scene.types.SceneObject`.

Only ``+ - * /``, ``sqrt``, ``floor`` and comparisons are used (no libm calls, no
fused multiply-adds: the module options in :mod:`factory.render.warp_setup` turn
contraction off), so a CPU build gives the same bits on any CPU model.

Shape codes and an ``ell``'s parts come from the shape registry
(:mod:`factory.scene.shapes`); a new analytic kind adds its function here and its
branch in :func:`analytic`.
"""

from __future__ import annotations

from factory.render.warp_setup import wp
from factory.scene.shapes import KINDS, MESH_CODE

MISS = wp.constant(1.0e30)
TINY = wp.constant(1.0e-12)

# Shape codes of the per-object tables (ShapeKind.code); every mesh kind shares MESH
# (its BVH is a per-object handle).
SPHERE = wp.constant(KINDS["sphere"].code)
BOX = wp.constant(KINDS["box"].code)
CYLINDER = wp.constant(KINDS["cylinder"].code)
CAPSULE = wp.constant(KINDS["capsule"].code)
ELL = wp.constant(KINDS["ell"].code)
MESH = wp.constant(MESH_CODE)

# The ell's two boxes (ShapeKind.parts): centre and half-extents as multiples of dims.
_ELL_LOW, _ELL_HIGH = KINDS["ell"].parts
ELL_LOW_CENTRE = wp.constant(wp.vec3(*_ELL_LOW.centre))
ELL_LOW_HALF = wp.constant(wp.vec3(*_ELL_LOW.half))
ELL_HIGH_CENTRE = wp.constant(wp.vec3(*_ELL_HIGH.centre))
ELL_HIGH_HALF = wp.constant(wp.vec3(*_ELL_HIGH.half))


@wp.func
def cell(x: float):
    """The cell of x on the integer lattice (its floor, as an int) and x's offset in it,
    in [0, 1): the corner and the weight of a linear interpolation."""
    f = wp.floor(x)
    return int(f), x - f


@wp.func
def unit(v: wp.vec3):
    """``v`` scaled to unit length (0 stays 0). Curved normals are renormalised because
    the hit point carries float32 error."""
    n = wp.sqrt(wp.dot(v, v))
    return v / wp.max(n, TINY)


@wp.func
def nearest2(a: float, b: float, t_min: float):
    """The smaller of a, b above t_min (MISS if neither)."""
    t = MISS
    if a > t_min:
        t = a
    if b > t_min and b < t:
        t = b
    return t


@wp.func
def sphere_t(o: wp.vec3, d: wp.vec3, r: float, t_min: float):
    """Nearest hit of a sphere of radius r centred on the origin (MISS if none)."""
    a = wp.dot(d, d)
    b = wp.dot(o, d)
    # b*b - a*c cancels in float32 for a small sphere far away; a * (r^2 - |f|^2), with
    # f the centre's offset from the ray line, is the same number without cancelling.
    f = o - (b / a) * d
    disc = a * (r * r - wp.dot(f, f))
    if disc < 0.0:
        return MISS
    s = wp.sqrt(disc)
    return nearest2((-b - s) / a, (-b + s) / a, t_min)


@wp.func
def sphere(o: wp.vec3, d: wp.vec3, dims: wp.vec3, t_min: float):
    t = sphere_t(o, d, dims[0], t_min)
    n = wp.vec3(0.0, 0.0, 1.0)
    if t < MISS:
        n = unit(o + t * d)
    return t, n


@wp.func
def box(o: wp.vec3, d: wp.vec3, h: wp.vec3, t_min: float):
    """Slab test; the normal is the face that bounds t (entry face, or exit face when
    the ray starts inside)."""
    t_near = -MISS
    t_far = MISS
    axis_in = int(0)
    axis_out = int(0)
    for i in range(3):
        di = d[i]
        if wp.abs(di) < TINY:
            di = TINY
        inv = 1.0 / di
        t1 = (-h[i] - o[i]) * inv
        t2 = (h[i] - o[i]) * inv
        lo = wp.min(t1, t2)
        hi = wp.max(t1, t2)
        if lo > t_near:
            t_near = lo
            axis_in = i
        if hi < t_far:
            t_far = hi
            axis_out = i
    n = wp.vec3(0.0, 0.0, 1.0)
    if t_near > t_far or t_far <= t_min:
        return MISS, n
    t = t_far
    axis = axis_out
    sign = 1.0
    if t_near > t_min:
        t = t_near
        axis = axis_in
        sign = -1.0
    if d[axis] < 0.0:
        sign = -sign
    if axis == 0:
        n = wp.vec3(sign, 0.0, 0.0)
    elif axis == 1:
        n = wp.vec3(0.0, sign, 0.0)
    else:
        n = wp.vec3(0.0, 0.0, sign)
    return t, n


@wp.func
def tube(o: wp.vec3, d: wp.vec3, r: float, half_length: float, t_min: float):
    """Nearest hit of the side of a tube of radius r around the z axis, kept where
    |z| <= half_length."""
    a = d[0] * d[0] + d[1] * d[1]
    if a <= TINY:
        return MISS
    b = o[0] * d[0] + o[1] * d[1]
    fx = o[0] - b / a * d[0]
    fy = o[1] - b / a * d[1]
    disc = a * (r * r - (fx * fx + fy * fy))
    if disc < 0.0:
        return MISS
    s = wp.sqrt(disc)
    t0 = (-b - s) / a
    t1 = (-b + s) / a
    if wp.abs(o[2] + t0 * d[2]) > half_length:
        t0 = MISS
    if wp.abs(o[2] + t1 * d[2]) > half_length:
        t1 = MISS
    return nearest2(t0, t1, t_min)


@wp.func
def cylinder(o: wp.vec3, d: wp.vec3, dims: wp.vec3, t_min: float):
    r = dims[0]
    hz = dims[2]
    t = tube(o, d, r, hz, t_min)
    cap = float(0.0)
    dz = d[2]
    if wp.abs(dz) < TINY:
        dz = TINY
    for c in range(2):
        zc = hz
        if c == 1:
            zc = -hz
        tc = (zc - o[2]) / dz
        x = o[0] + tc * d[0]
        y = o[1] + tc * d[1]
        if x * x + y * y <= r * r and tc > t_min and tc < t:
            t = tc
            cap = zc
    n = wp.vec3(0.0, 0.0, 1.0)
    if t < MISS:
        if cap != 0.0:
            n = wp.vec3(0.0, 0.0, wp.sign(cap))
        else:
            p = o + t * d
            n = unit(wp.vec3(p[0], p[1], 0.0))
    return t, n


@wp.func
def capsule(o: wp.vec3, d: wp.vec3, dims: wp.vec3, t_min: float):
    r = dims[0]
    hh = dims[2] - r  # half-length of the core segment
    t = tube(o, d, r, hh, t_min)
    for c in range(2):
        zc = hh
        if c == 1:
            zc = -hh
        tc = sphere_t(o - wp.vec3(0.0, 0.0, zc), d, r, t_min)
        if tc < t:
            t = tc
    n = wp.vec3(0.0, 0.0, 1.0)
    if t < MISS:
        p = o + t * d
        n = unit(wp.vec3(p[0], p[1], p[2] - wp.clamp(p[2], -hh, hh)))
    return t, n


@wp.func
def ell(o: wp.vec3, d: wp.vec3, dims: wp.vec3, t_min: float):
    """An L profile: the block [-hx, hx] x [-hy, hy] x [-hz, 0] united with
    [-hx, 0] x [-hy, hy] x [0, hz] (the registry's two parts)."""
    ta, na = box(o - wp.cw_mul(ELL_LOW_CENTRE, dims), d, wp.cw_mul(ELL_LOW_HALF, dims), t_min)
    tb, nb = box(o - wp.cw_mul(ELL_HIGH_CENTRE, dims), d, wp.cw_mul(ELL_HIGH_HALF, dims), t_min)
    if ta <= tb:
        return ta, na
    return tb, nb


@wp.func
def analytic(shape: int, o: wp.vec3, d: wp.vec3, dims: wp.vec3, t_min: float):
    """Nearest hit of analytic shape ``shape`` (an analytic kind's code)."""
    if shape == SPHERE:
        return sphere(o, d, dims, t_min)
    if shape == BOX:
        return box(o, d, dims, t_min)
    if shape == CYLINDER:
        return cylinder(o, d, dims, t_min)
    if shape == CAPSULE:
        return capsule(o, d, dims, t_min)
    return ell(o, d, dims, t_min)


@wp.func
def face_blend(mesh: wp.uint64, table: wp.array(dtype=wp.vec3), base: int, face: int, bary: wp.vec2):
    """The barycentric blend of a per-vertex table (rows ``base`` + vertex) over the
    corners of ``mesh``'s ``face`` (Warp's barycentrics: u p0 + v p1 + (1 - u - v) p2):
    a deforming surface's point in another view, its rest position, its step."""
    a = table[base + wp.mesh_get_index(mesh, face * 3 + 0)]
    b = table[base + wp.mesh_get_index(mesh, face * 3 + 1)]
    c = table[base + wp.mesh_get_index(mesh, face * 3 + 2)]
    return bary[0] * a + bary[1] * b + (1.0 - bary[0] - bary[1]) * c


@wp.func
def mesh_hit_at(mesh: wp.uint64, normals: wp.array(dtype=wp.vec3), base: int, o: wp.vec3, d: wp.vec3, t_max: float):
    """:func:`mesh_hit` with the vertex normals at ``normals[base:]`` (a deforming
    surface's, in a flat array of every view's: :mod:`factory.render.deform`; an
    asset's own from 0)."""
    q = wp.mesh_query_ray(mesh, o, d, t_max)
    up = wp.vec3(0.0, 0.0, 1.0)
    if not q.result:
        return MISS, up, up, int(-1), wp.vec2(0.0, 0.0)
    i0 = wp.mesh_get_index(mesh, q.face * 3 + 0)
    i1 = wp.mesh_get_index(mesh, q.face * 3 + 1)
    i2 = wp.mesh_get_index(mesh, q.face * 3 + 2)
    smooth = q.u * normals[base + i0] + q.v * normals[base + i1] + (1.0 - q.u - q.v) * normals[base + i2]
    geo = unit(q.normal)
    if wp.dot(geo, d) > 0.0:
        geo = -geo
    return q.t, unit(smooth), geo, q.face, wp.vec2(q.u, q.v)


@wp.func
def mesh_hit(mesh: wp.uint64, normals: wp.array(dtype=wp.vec3), o: wp.vec3, d: wp.vec3, t_max: float):
    """Nearest hit of a mesh asset's triangles (its unit frame) before t_max: t (MISS if
    none), the smooth normal (``normals``, the asset's vertex normals, interpolated at
    the hit) and the geometric (face) normal, both unit, in the unit frame, the face
    (-1 on a miss) and the barycentrics (Warp's: hit = u p0 + v p1 + (1 - u - v) p2).
    The face normal points against the ray, so it says which side the ray came from."""
    return mesh_hit_at(mesh, normals, 0, o, d, t_max)
