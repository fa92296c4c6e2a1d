"""The Warp kernels of the particle liquid (:mod:`factory.physics.liquid`), one source
for the CPU and CUDA.

Position-based fluids (Macklin & Mueller 2013) in number-density form: with ``W`` the
poly6 kernel and ``h`` its support, a particle's number density is ``n_i = sum_j
W(|x_i - x_j|)`` (1/m^3, itself included) and its density constraint ``C_i = n_i / n0 -
1`` with ``n0`` the number density of an interior particle of the initial cubic lattice
(so the lattice is the rest state; a particle's mass density is ``density * n_i /
n0``). The constraint is one-sided (``C_i = max(C_i, 0)``): it only pushes apart, so a
free surface's missing neighbours do not pull particles together, and nothing pulls
particles into clumps (the tensile instability PBF's artificial pressure ``s_corr``
is there to fight), so there is no ``s_corr`` (see :mod:`factory.physics.liquid`).

Determinism: kernels call no libm function (sqrt and arithmetic only: the poly6, spiky
and cohesion kernels are polynomials), write only their own particle's entries (no
atomics), and sum neighbours in the order of their neighbour lists, which hold them in
the order ``wp.hash_grid_query`` gives: cell by cell, and within a cell in the order
of the grid's sort, a function of the positions (tested: the same bytes in two
processes and after another run).

Physics sits below the renderer, so it cannot take ``factory.render.warp_setup``'s
options; the module options below are the same in substance (no floating-point
contraction, no fused multiply-add, no backward pass).
"""

from __future__ import annotations

import os
from pathlib import Path

import warp as wp

# the same cache as factory.render.warp_setup's (compiled kernels shared per machine)
wp.config.kernel_cache_dir = os.environ.get("FACTORY_KERNEL_CACHE") or str(
    Path.home() / ".cache" / "factory" / "kernels"
)
wp.config.log_level = wp.LOG_WARNING
KERNEL_OPTIONS = {"enable_backward": False, "fuse_fp": False, "cpu_compiler_flags": "-ffp-contract=off"}
wp.set_module_options(KERNEL_OPTIONS)

PI = wp.constant(3.14159265358979)
BOX = wp.constant(0)
SPHERE = wp.constant(1)
CAPSULE = wp.constant(2)
CYLINDER = wp.constant(3)


@wp.func
def poly6(r2: float, h: float) -> float:
    """Poly6 kernel W (1/m^3) at squared distance r2 (m^2), support h (m)."""
    if r2 >= h * h:
        return 0.0
    d = h * h - r2
    h3 = h * h * h
    return 315.0 / (64.0 * PI * h3 * h3 * h3) * d * d * d


@wp.func
def spiky_grad(r: wp.vec3, h: float) -> wp.vec3:
    """Gradient (1/m^4) of the spiky kernel at offset r (m), support h."""
    d = wp.length(r)
    if d >= h or d < 1.0e-9:
        return wp.vec3(0.0, 0.0, 0.0)
    h3 = h * h * h
    return r * (-45.0 / (PI * h3 * h3) * (h - d) * (h - d) / d)


@wp.func
def cohesion(d: float, h: float) -> float:
    """Akinci et al. 2013's cohesion spline C(d) (1/m^3), support h."""
    if d >= h or d <= 0.0:
        return 0.0
    h3 = h * h * h
    c = 32.0 / (PI * h3 * h3 * h3)
    t = (h - d) * (h - d) * (h - d) * d * d * d
    if 2.0 * d > h:
        return c * t
    return c * (2.0 * t - h3 * h3 / 64.0)


@wp.func
def surface_distance(p: wp.vec3, kind: int, size: wp.vec3, pos: wp.vec3, rot: wp.mat33) -> wp.vec4:
    """(outward unit normal, signed distance m: negative inside) of p to one collider's
    surface; inside, the normal of the nearest face (box, cylinder)."""
    q = wp.transpose(rot) * (p - pos)
    if kind == BOX or kind == CYLINDER:
        dx = wp.abs(q[0]) - size[0]
        dy = wp.abs(q[1]) - size[1]
        dz = wp.abs(q[2]) - size[2]
        ex = wp.sign(q[0])
        ey = wp.sign(q[1])
        ez = wp.sign(q[2])
        if kind == CYLINDER:  # radial distance in x (along the radial direction), axial in z
            rr = wp.sqrt(q[0] * q[0] + q[1] * q[1])
            dx = rr - size[0]
            dy = -1.0e30
            dz = wp.abs(q[2]) - size[1]
            ex = 1.0
            ey = 0.0
            if rr > 1.0e-9:
                ex = q[0] / rr
                ey = q[1] / rr
        o = wp.vec3(wp.max(dx, 0.0), wp.max(dy, 0.0), wp.max(dz, 0.0))
        out = wp.length(o)
        radial = wp.vec3(ex, 0.0, 0.0)
        if kind == CYLINDER:
            radial = wp.vec3(ex, ey, 0.0)
        n = wp.vec3(0.0, 0.0, ez)  # inside: out through the nearest face
        m = dz
        if out > 0.0:
            n = (radial * o[0] + wp.vec3(0.0, ey * o[1], ez * o[2])) / out
            m = out
        elif dx >= dy and dx >= dz:
            n = radial
            m = dx
        elif dy >= dz:
            n = wp.vec3(0.0, ey, 0.0)
            m = dy
        n = rot * n
        return wp.vec4(n[0], n[1], n[2], m)
    c = wp.vec3(0.0, 0.0, 0.0)  # sphere: the centre; capsule: the nearest point of its segment
    if kind == CAPSULE:
        c = wp.vec3(0.0, 0.0, wp.clamp(q[2], -size[1], size[1]))
    r = q - c
    d = wp.length(r)
    n = wp.vec3(1.0, 0.0, 0.0)
    if d > 1.0e-9:
        n = rot * (r / d)
    return wp.vec4(n[0], n[1], n[2], d - size[0])


@wp.func
def push_out(p: wp.vec3, kind: int, size: wp.vec3, pos: wp.vec3, rot: wp.mat33, radius: float) -> wp.vec3:
    """p moved along the surface normal to ``radius`` outside one collider, if nearer (m)."""
    sd = surface_distance(p, kind, size, pos, rot)
    if sd[3] >= radius:
        return p
    return p + wp.vec3(sd[0], sd[1], sd[2]) * (radius - sd[3])


@wp.func
def collide(
    p: wp.vec3,
    kinds: wp.array(dtype=int),
    sizes: wp.array(dtype=wp.vec3),
    poss: wp.array(dtype=wp.vec3),
    rots: wp.array(dtype=wp.mat33),
    lo: wp.vec3,
    hi: wp.vec3,
    radius: float,
) -> wp.vec3:
    """p pushed out of every collider in turn, then clamped into the floor and bounds."""
    for k in range(kinds.shape[0]):
        p = push_out(p, kinds[k], sizes[k], poss[k], rots[k], radius)
    return wp.vec3(
        wp.clamp(p[0], lo[0] + radius, hi[0] - radius),
        wp.clamp(p[1], lo[1] + radius, hi[1] - radius),
        wp.clamp(p[2], lo[2] + radius, hi[2] - radius),
    )


@wp.func
def wall_term(s: float, normal: wp.vec3, table: wp.array(dtype=float), h: float) -> wp.vec4:
    """(gradient 1/m^4 of, number density 1/m^3 of) the wall's missing neighbours at
    distance s (m) along ``normal`` from a wall: the table is a half-space of ghost
    lattice particles (module :mod:`factory.physics.liquid`'s ``wall_table``)."""
    if s >= h:
        return wp.vec4(0.0, 0.0, 0.0, 0.0)
    last = table.shape[0] - 1
    u = wp.max(s, 0.0) / h * float(last)
    i = wp.min(int(u), last - 1)
    f = u - float(i)
    value = table[i] * (1.0 - f) + table[i + 1] * f
    g = normal * ((table[i + 1] - table[i]) * float(last) / h)
    return wp.vec4(g[0], g[1], g[2], value)


@wp.func
def walls(
    p: wp.vec3,
    kinds: wp.array(dtype=int),
    sizes: wp.array(dtype=wp.vec3),
    poss: wp.array(dtype=wp.vec3),
    rots: wp.array(dtype=wp.mat33),
    lo: wp.vec3,
    hi: wp.vec3,
    table: wp.array(dtype=float),
    h: float,
) -> wp.vec4:
    """Sum of :func:`wall_term` over the colliders and the six bound planes."""
    t = plane_walls(p, lo, hi, table, h)
    for k in range(kinds.shape[0]):
        sd = surface_distance(p, kinds[k], sizes[k], poss[k], rots[k])
        t += wall_term(sd[3], wp.vec3(sd[0], sd[1], sd[2]), table, h)
    return t


@wp.func
def plane_walls(p: wp.vec3, lo: wp.vec3, hi: wp.vec3, table: wp.array(dtype=float), h: float) -> wp.vec4:
    """Sum of :func:`wall_term` over the six bound planes (the floor among them)."""
    t = wp.vec4(0.0, 0.0, 0.0, 0.0)
    for a in range(3):
        e = wp.vec3(0.0, 0.0, 0.0)
        e[a] = 1.0
        t += wall_term(p[a] - lo[a], e, table, h)
        t += wall_term(hi[a] - p[a], -e, table, h)
    return t


@wp.kernel
def predict(
    x: wp.array(dtype=wp.vec3),
    v: wp.array(dtype=wp.vec3),
    gravity: wp.vec3,
    dt: float,
    kinds: wp.array(dtype=int),
    sizes: wp.array(dtype=wp.vec3),
    poss: wp.array(dtype=wp.vec3),
    rots: wp.array(dtype=wp.mat33),
    lo: wp.vec3,
    hi: wp.vec3,
    radius: float,
    xp: wp.array(dtype=wp.vec3),
):
    """Explicit step under gravity, then out of the colliders: xp (P,) metres."""
    i = wp.tid()
    xp[i] = collide(x[i] + (v[i] + gravity * dt) * dt, kinds, sizes, poss, rots, lo, hi, radius)


@wp.kernel
def neighbours(
    grid: wp.uint64, xp: wp.array(dtype=wp.vec3), reach: float, nbr: wp.array2d(dtype=int), count: wp.array(dtype=int)
):
    """Each particle's neighbours within ``reach`` (m), itself included, in the grid's
    query order; at most nbr.shape[1] (the rest are dropped: count says how many kept)."""
    i = wp.tid()
    p = xp[i]
    k = int(0)  # noqa: UP018 (Warp: a variable the loop changes)
    j = int(0)  # noqa: UP018 (Warp: a variable the loop changes)
    query = wp.hash_grid_query(grid, p, reach)
    while wp.hash_grid_query_next(query, j):
        r = p - xp[j]
        if wp.dot(r, r) < reach * reach and k < nbr.shape[1]:
            nbr[i, k] = j
            k += 1
    count[i] = k


@wp.kernel
def lambdas(
    nbr: wp.array2d(dtype=int),
    count: wp.array(dtype=int),
    xp: wp.array(dtype=wp.vec3),
    h: float,
    n0: float,
    eps: float,
    kinds: wp.array(dtype=int),
    sizes: wp.array(dtype=wp.vec3),
    poss: wp.array(dtype=wp.vec3),
    rots: wp.array(dtype=wp.mat33),
    lo: wp.vec3,
    hi: wp.vec3,
    radius: float,
    table: wp.array(dtype=float),
    lam: wp.array(dtype=float),
):
    """PBF's lambda_i = -C_i / (sum_k |grad_k C_i|^2 + eps) (m^2), C_i one-sided."""
    i = wp.tid()
    p = xp[i]
    n = float(0.0)  # noqa: UP018 (Warp: a variable the loop changes)
    gi = wp.vec3(0.0, 0.0, 0.0)
    s = float(0.0)  # noqa: UP018 (Warp: a variable the loop changes)
    for k in range(count[i]):
        j = nbr[i, k]
        r = p - xp[j]
        n += poly6(wp.dot(r, r), h)
        if j != i:
            g = spiky_grad(r, h) / n0
            gi += g
            s += wp.dot(g, g)
    wall = walls(p, kinds, sizes, poss, rots, lo, hi, table, h)
    n += wall[3]
    gi += wp.vec3(wall[0], wall[1], wall[2]) / n0
    c = wp.max(n / n0 - 1.0, 0.0)
    lam[i] = -c / (s + wp.dot(gi, gi) + eps)


@wp.kernel
def correct(
    nbr: wp.array2d(dtype=int),
    count: wp.array(dtype=int),
    xp: wp.array(dtype=wp.vec3),
    lam: wp.array(dtype=float),
    h: float,
    n0: float,
    kinds: wp.array(dtype=int),
    sizes: wp.array(dtype=wp.vec3),
    poss: wp.array(dtype=wp.vec3),
    rots: wp.array(dtype=wp.mat33),
    lo: wp.vec3,
    hi: wp.vec3,
    radius: float,
    table: wp.array(dtype=float),
    out: wp.array(dtype=wp.vec3),
):
    """One PBF position correction (a wall acts as ghost particles of the particle's
    own lambda), then out of the colliders: out (P,) metres."""
    i = wp.tid()
    p = xp[i]
    dp = wp.vec3(0.0, 0.0, 0.0)
    for k in range(count[i]):
        j = nbr[i, k]
        if j != i:
            r = p - xp[j]
            dp += spiky_grad(r, h) * (lam[i] + lam[j])
    wall = walls(p, kinds, sizes, poss, rots, lo, hi, table, h)
    dp += wp.vec3(wall[0], wall[1], wall[2]) * lam[i]
    out[i] = collide(p + dp / n0, kinds, sizes, poss, rots, lo, hi, radius)


@wp.kernel
def finish(
    nbr: wp.array2d(dtype=int),
    count: wp.array(dtype=int),
    x: wp.array(dtype=wp.vec3),
    xp: wp.array(dtype=wp.vec3),
    dt: float,
    h: float,
    cell: float,
    xsph: float,
    gamma: float,
    kinds: wp.array(dtype=int),
    sizes: wp.array(dtype=wp.vec3),
    poss: wp.array(dtype=wp.vec3),
    rots: wp.array(dtype=wp.mat33),
    lo: wp.vec3,
    hi: wp.vec3,
    radius: float,
    table: wp.array(dtype=float),
    v_out: wp.array(dtype=wp.vec3),
    n_out: wp.array(dtype=float),
):
    """New velocity (xp - x) / dt plus XSPH viscosity (the floor and bounds as still
    ghosts) and cohesion (m/s), and the number density at xp (1/m^3). ``cell`` is spacing^3 (m^3, a particle's volume)."""
    i = wp.tid()
    p = xp[i]
    vi = (p - x[i]) / dt
    dv = wp.vec3(0.0, 0.0, 0.0)
    f = wp.vec3(0.0, 0.0, 0.0)
    n = float(0.0)  # noqa: UP018 (Warp: a variable the loop changes)
    for k in range(count[i]):
        j = nbr[i, k]
        r = p - xp[j]
        w = poly6(wp.dot(r, r), h)
        n += w
        if j != i:
            dv += ((xp[j] - x[j]) / dt - vi) * w
            d = wp.length(r)
            if d > 1.0e-9:
                f -= r * (cohesion(d, h) / d)
    n_out[i] = n + walls(p, kinds, sizes, poss, rots, lo, hi, table, h)[3]
    # the floor's and bounds' ghost particles stand still: XSPH against them is the
    # walls' viscous drag (a lone particle skating on the floor slows like one in a
    # boundary layer). Colliders' ghosts are left out: they may move.
    dv -= vi * plane_walls(p, lo, hi, table, h)[3]
    v_out[i] = vi + dv * (xsph * cell) + f * (gamma * cell * dt)
