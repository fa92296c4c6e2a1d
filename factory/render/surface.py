"""Image textures in the kernels: the base colour of a mesh whose faces carry materials
(:class:`~factory.render.tables.MeshData`), as Warp functions.

A face's material colour (linear RGB) times its texture, if any, sampled with wrap =
repeat (as OBJ/MTL assets assume) and filtered trilinearly: texels are decoded from
sRGB by a table and interpolated in linear light, bilinearly within a mip level, and
linearly between the two levels around the level of detail ``log2(rho)``, where
``rho`` is how many level-0 texels one pixel's footprint spans at the hit:

    rho = (t / fx) / max(|cos|, MIN_COS) * texels_per_metre

``t / fx`` is the width (metres) a pixel covers on a plane facing the camera at depth
t, ``cos`` the cosine between the ray and the face (a slanted face stretches the
footprint) and texels per metre the face's texel area over its world area (the
object's axis scales applied), ``sqrt(uv area * W * H / world area)``. At
magnification (rho <= 1) it is plain bilinear at level 0. ``log2`` is the exponent
found by halving (exact) plus a quadratic in the mantissa (within 0.01 of the true
log2): no libm call, so the same bits on every CPU model.

A textured material on a mesh without UVs maps triplanar: the hit point in the unit
frame (the asset's bounding box is [-1, 1]^3) is projected onto the three axis planes,
the texture spanning the box once on each, and the three samples are blended by the
object-frame normal's components to the fourth power, normalised.
"""

from __future__ import annotations

from factory.render.geometry import TINY, cell
from factory.render.tables import FIRST_OBJECT, Hit, MeshData, Scenes, Views
from factory.render.warp_setup import wp

MIN_COS = wp.constant(0.05)  # a grazing face's footprint grows at most 20x
MAX_RHO = wp.constant(16777216.0)  # 2^24 texels a pixel: far beyond any pyramid's top


@wp.func
def log2_lod(rho: float):
    """The level of detail log2(rho) for rho >= 1 (0 below): the exponent by halving,
    exactly, plus log2 of the mantissa m in [1, 2) as (m - 1)(1.3465 - 0.3465 (m - 1))."""
    if rho <= 1.0:
        return 0.0
    x = wp.min(rho, MAX_RHO)
    e = float(0.0)
    while x >= 2.0:
        x = x * 0.5
        e = e + 1.0
    m = x - 1.0
    return e + m * (1.3465 - 0.3465 * m)


@wp.func
def texel(md: MeshData, lut: wp.array(dtype=wp.float32), first: int, w: int, h: int, x: int, y: int):
    """Linear RGB of texel (x, y) (wrapped into the w x h level) of the level whose
    first texel is ``first``."""
    xi = (x % w + w) % w
    yi = (y % h + h) % h
    k = (first + yi * w + xi) * 4
    return wp.vec3(lut[int(md.texels[k])], lut[int(md.texels[k + 1])], lut[int(md.texels[k + 2])])


@wp.func
def bilinear(md: MeshData, lut: wp.array(dtype=wp.float32), row: int, uv: wp.vec2):
    """Level ``row`` of ``md.level`` at texture coordinates uv (v up; wrap = repeat),
    bilinear between the four texel centres around it, linear RGB."""
    lv = md.level[row]
    w = lv[0]
    h = lv[1]
    u = uv[0] - wp.floor(uv[0])
    v = uv[1] - wp.floor(uv[1])
    x = u * float(w) - 0.5
    y = (1.0 - v) * float(h) - 0.5  # image rows run down from the top: v = 1
    ix, fx = cell(x)
    iy, fy = cell(y)
    top = texel(md, lut, lv[2], w, h, ix, iy) * (1.0 - fx) + texel(md, lut, lv[2], w, h, ix + 1, iy) * fx
    low = texel(md, lut, lv[2], w, h, ix, iy + 1) * (1.0 - fx) + texel(md, lut, lv[2], w, h, ix + 1, iy + 1) * fx
    return top * (1.0 - fy) + low * fy


@wp.func
def trilinear(md: MeshData, lut: wp.array(dtype=wp.float32), tex: int, uv: wp.vec2, lod: float):
    """Texture ``tex`` at uv, level of detail ``lod`` (clamped to its pyramid):
    bilinear in the two levels around it, blended linearly."""
    top = float(md.tex_count[tex] - 1)
    level = wp.clamp(lod, 0.0, top)
    l0 = wp.floor(level)
    f = level - l0
    row = md.tex_first[tex] + int(l0)
    c = bilinear(md, lut, row, uv)
    if f > 0.0:
        c = c * (1.0 - f) + bilinear(md, lut, row + 1, uv) * f
    return c


@wp.func
def uv_texels_per_metre(md: MeshData, mesh: wp.uint64, face: int, dims: wp.vec3, texels: float):
    """Level-0 texels per metre on ``face`` of an object with axis scales dims: the
    square root of its texel area (uv area times ``texels``, the level's W * H) over
    its world area (both as twice the area: the factor cancels)."""
    i0 = wp.mesh_get_index(mesh, face * 3 + 0)
    i1 = wp.mesh_get_index(mesh, face * 3 + 1)
    i2 = wp.mesh_get_index(mesh, face * 3 + 2)
    p0 = wp.cw_mul(wp.mesh_get_point(mesh, i0), dims)
    p1 = wp.cw_mul(wp.mesh_get_point(mesh, i1), dims)
    p2 = wp.cw_mul(wp.mesh_get_point(mesh, i2), dims)
    world = wp.length(wp.cross(p1 - p0, p2 - p0))
    e1 = md.uv[i1] - md.uv[i0]
    e2 = md.uv[i2] - md.uv[i0]
    area = wp.abs(e1[0] * e2[1] - e1[1] * e2[0])
    return wp.sqrt(area * texels / wp.max(world, TINY))


@wp.func
def mesh_albedo(views: Views, scenes: Scenes, v: int, code: int, d: wp.vec3, n: wp.vec3, ng: wp.vec3, hit: Hit):
    """Linear RGB base colour at ``hit`` (on object ``code - FIRST_OBJECT`` of view v,
    whose asset has materials) seen along d: its face's material colour times its
    texture, filtered for the pixel's footprint (see the module docstring)."""
    s = views.scene[v]
    k = code - FIRST_OBJECT
    idx = scenes.obj_start[s] + k
    md = scenes.mesh_data[scenes.mesh_slot[idx]]
    m = md.face_material[hit.face]
    colour = md.mat_colour[m]
    tex = md.mat_texture[m]
    if tex < 0:
        return colour
    dims = scenes.dims[idx]
    cos = wp.abs(wp.dot(ng, d)) / wp.length(d)
    foot = hit.t / views.intr[v][0] / wp.max(cos, MIN_COS)  # metres a pixel spans on the face
    lv = md.level[md.tex_first[tex]]
    texels = float(lv[0]) * float(lv[1])
    lut = scenes.srgb
    if md.has_uv != 0:
        mesh = scenes.mesh[idx]
        f = hit.face
        b = hit.bary
        uv0 = md.uv[wp.mesh_get_index(mesh, f * 3 + 0)]
        uv1 = md.uv[wp.mesh_get_index(mesh, f * 3 + 1)]
        uv2 = md.uv[wp.mesh_get_index(mesh, f * 3 + 2)]
        uv = b[0] * uv0 + b[1] * uv1 + (1.0 - b[0] - b[1]) * uv2
        rho = foot * uv_texels_per_metre(md, mesh, f, dims, texels)
        return wp.cw_mul(colour, trilinear(md, lut, tex, uv, log2_lod(rho)))
    # Triplanar: the unit-frame point on the three axis planes, blended by the normal.
    pose = views.pose_start[v] + k
    no = wp.transpose(views.orient[pose]) @ n
    pu = wp.cw_div(hit.local, dims)
    total = wp.vec3(0.0, 0.0, 0.0)
    wsum = float(0.0)
    for axis in range(3):
        a = int(0)  # the plane's two axes, in x, y, z order: (y, z), (x, z), (x, y)
        b2 = int(2)
        if axis == 0:
            a = 1
        if axis == 2:
            b2 = 1
        c = no[axis] * no[axis]
        wgt = c * c
        if wgt > 0.0:
            uv = wp.vec2((pu[a] + 1.0) * 0.5, (pu[b2] + 1.0) * 0.5)
            rho = foot * wp.sqrt(texels / (4.0 * dims[a] * dims[b2]))
            total = total + wgt * trilinear(md, lut, tex, uv, log2_lod(rho))
            wsum = wsum + wgt
    return wp.cw_mul(colour, total / wp.max(wsum, TINY))
