"""Procedural solid textures as one Warp function, :func:`pattern`: the weight in
[0, 1] that blends a surface's colour 1 into its colour 2 (and roughness into
roughness2) at a point ``p`` given in pattern units (the surface's local metres times
its ``texture_scale``). No UVs: every pattern is defined in 3D, so any face shows it.

One unit of ``p`` is one checker square, one stripe, one noise cell, one lowest-octave
noise feature, one marble vein spacing, one wood ring, one Worley cell, one brick
course, one tile. (CHECKER and STRIPES keep the renderer's historical formulas, whose
cell is one unit, so their period along an axis is two units.)

Per kind, the formula, the weight's distribution over uniformly random 3D points
(mean, standard deviation, measured over 2^20 points for seeds 0..3) and the dominant
spatial frequency along a line (cycles per unit of ``p``):

========  ===========================================================  ==============  ===========================
kind      formula                                                      mean, std       dominant frequency
========  ===========================================================  ==============  ===========================
PLAIN     0                                                            0, 0            none
CHECKER   parity of floor(x) + floor(y) + floor(z)                     0.50, 0.50      0.5 along each axis
STRIPES   parity of floor(x)                                           0.50, 0.50      0.5 along x; none along y, z
NOISE     a hash of the unit cell (and the seed): cell noise           0.50, 0.29      white between cells (1 unit)
FBM       4 octaves of value noise, lacunarity 2, gain 0.5, each       0.50, 0.24      broadband below ~0.5; none
          octave rotated; contrast x2 around 0.5, clipped                              beyond a 2-unit lag
MARBLE    s(x + 1.5 (fbm(0.61 p) - 0.5))^2, s a smoothed triangle      0.37, 0.36      1.0 along x
          wave (1 at integers, 0 at half-integers): veins at integers
WOOD      rings of r = |(x, y)| + 0.6 (noise(slow) - 0.5): a ramp of   0.31, 0.34      1.0 along r (any radial
          fract(r) from 0.55 to 0.9 (latewood), 15% fine grain                         line from the z axis)
WORLEY    F1: distance to the nearest feature point (one jittered      0.52, 0.17      cells of ~1 unit
          point per unit cell, 27 cells searched), clipped at 1
BRICKS    1 in the mortar, brick cells of 3 x 1.5 x 1 (x, y, z) with   0.33, 0.39      1.0 along z (courses);
          running bonds; bricks 0..0.2 from their cell's hash                          1/3 along x; 2/3 along y
TILES     1 in the grout of unit cubic tiles, tiles 0..0.15 from       0.28, 0.37      1.0 along each axis
          their cell's hash
========  ===========================================================  ==============  ===========================

Geometry of the periodic ones: course joints lie at z = k + 1/2 and tile joints at
half-integers of every axis, brick joints a quarter brick from x = 0 and y = 0, so the
planes the renderer feeds (a floor at z = 0, a wall at y = 0) cut through bricks and
tiles, never along a joint. Mortar is 0.12 units wide (10 mm of a 75 mm course) and
grout 0.06 of a tile, each with a 0.02-unit ramp at its edge.

Seeds: ``seed`` (a material's ``pattern_seed``, in [0, 2^20)) is mixed into every
hash, so it changes NOISE, FBM, MARBLE, WOOD, WORLEY and the per-brick and per-tile
shades, and leaves CHECKER, STRIPES and the bricks' and tiles' joints where they are.
Seed 0 gives NOISE its historical bits.

Cost, ns per point on one CPU core (a kernel over 2^20 random points, loads and
stores included; ``python tests/unit/test_patterns.py``): plain 1.5, checker 2,
stripes 2, noise 3, fbm 50, marble 55, wood 28, worley 55, bricks 10, tiles 6.

Determinism: integer hashes (``lowbias32``, wrapping uint32 arithmetic) and float
+, -, *, /, floor and sqrt only, no libm call, so the same (kind, p, seed) gives the
same bits on every CPU model and in every process.
"""

from __future__ import annotations

from factory.render.tables import BRICKS, CHECKER, FBM, MARBLE, NOISE, STRIPES, TILES, WOOD, WORLEY
from factory.render.warp_setup import wp

# lowbias32 (Chris Wellons' hash prospector): a full-avalanche 32-bit finaliser.
MIX1 = wp.constant(wp.uint32(0x7FEB352D))
MIX2 = wp.constant(wp.uint32(0x846CA68B))
# Odd multipliers folding the lattice cell and the seed into one word before mixing.
PRIME_X = wp.constant(wp.uint32(0x8DA6B343))
PRIME_Y = wp.constant(wp.uint32(0xD8163841))
PRIME_Z = wp.constant(wp.uint32(0xCB1AB31F))
PRIME_S = wp.constant(wp.uint32(0x165667B1))
SHIFT = wp.constant(wp.uint32(16))

FBM_OCTAVES = wp.constant(4)
FBM_NORM = wp.constant(1.0 / 1.875)  # 1 / (1 + 1/2 + 1/4 + 1/8): the octaves' sum back to [0, 1]
FBM_CONTRAST = wp.constant(2.0)  # four averaged octaves are grey (std 0.12): stretched about 0.5
MARBLE_TURBULENCE = wp.constant(1.5)  # units of x per unit of centred fbm
# The turbulence's lattice is scaled off the vein period: aligned, the noise's spread
# (largest at lattice points) would follow the veins' phase and bias their share.
MARBLE_WARP = wp.constant(0.61)
WOOD_WOBBLE = wp.constant(0.6)  # units of r per unit of centred slow noise
WOOD_GRAIN = wp.constant(0.15)  # share of the weight from the fine grain
BRICK_LENGTH = wp.constant(3.0)  # along x, in courses (225 mm of a 75 mm course)
BRICK_WIDTH = wp.constant(1.5)  # along y, in courses
MORTAR = wp.constant(0.12)  # joint width, in courses
BRICK_SHADE = wp.constant(0.2)  # a brick's weight: up to this, from its cell's hash
GROUT = wp.constant(0.06)  # joint width, in tiles
TILE_SHADE = wp.constant(0.15)
EDGE = wp.constant(0.02)  # the ramp from joint to brick or tile, in units


@wp.func
def mix32(h: wp.uint32):
    """lowbias32: a bijective 32-bit hash with full avalanche."""
    h = h ^ (h >> SHIFT)
    h = h * MIX1
    h = h ^ (h >> wp.uint32(15))
    h = h * MIX2
    return h ^ (h >> SHIFT)


@wp.func
def unit(h: wp.uint32):
    """The top 24 bits of h as a float in [0, 1), exactly."""
    return float(h >> wp.uint32(8)) * (1.0 / 16777216.0)


@wp.func
def cell_hash(ix: int, iy: int, iz: int, seed: int):
    """A 32-bit hash of lattice cell (ix, iy, iz) and ``seed``."""
    h = wp.uint32(ix) * PRIME_X + wp.uint32(iy) * PRIME_Y + wp.uint32(iz) * PRIME_Z
    return mix32(h + wp.uint32(seed) * PRIME_S)


@wp.func
def fade(t: float):
    """The quintic 6t^5 - 15t^4 + 10t^3: 0 -> 0, 1 -> 1, flat first and second derivatives at both ends."""
    return t * t * t * (t * (t * 6.0 - 15.0) + 10.0)


@wp.func
def lerp(a: float, b: float, t: float):
    return a + (b - a) * t


@wp.func
def value_noise(p: wp.vec3, seed: int):
    """Value noise in [0, 1]: uniform hashed values at the integer lattice,
    interpolated with the quintic fade. Mean 0.5, std 0.20; values at points two or
    more units apart along an axis are independent."""
    fx = wp.floor(p[0])
    fy = wp.floor(p[1])
    fz = wp.floor(p[2])
    u = fade(p[0] - fx)
    v = fade(p[1] - fy)
    w = fade(p[2] - fz)
    hx = wp.uint32(wp.int32(fx)) * PRIME_X
    hy = wp.uint32(wp.int32(fy)) * PRIME_Y
    hz = wp.uint32(wp.int32(fz)) * PRIME_Z + wp.uint32(seed) * PRIME_S
    hy1 = hy + PRIME_Y
    hz1 = hz + PRIME_Z
    x00 = lerp(unit(mix32(hx + hy + hz)), unit(mix32(hx + PRIME_X + hy + hz)), u)
    x10 = lerp(unit(mix32(hx + hy1 + hz)), unit(mix32(hx + PRIME_X + hy1 + hz)), u)
    x01 = lerp(unit(mix32(hx + hy + hz1)), unit(mix32(hx + PRIME_X + hy + hz1)), u)
    x11 = lerp(unit(mix32(hx + hy1 + hz1)), unit(mix32(hx + PRIME_X + hy1 + hz1)), u)
    return lerp(lerp(x00, x10, v), lerp(x01, x11, v), w)


@wp.func
def fbm(p: wp.vec3, seed: int):
    """Four octaves of value noise (frequencies 1, 2, 4, 8; amplitudes 1, 1/2, 1/4,
    1/8), normalised to [0, 1]. Each octave's lattice is turned by a fixed rotation
    (and has a seed of its own), so the octaves' grids do not line up along the axes."""
    total = float(0.0)
    amp = float(1.0)
    x = p[0]
    y = p[1]
    z = p[2]
    for k in range(FBM_OCTAVES):
        total = total + amp * value_noise(wp.vec3(x, y, z), seed + k * 7919)
        # An orthonormal matrix (rows (0, .8, .6), (-.8, .36, -.48), (-.6, -.48, .64)) times 2.
        rx = 1.6 * y + 1.2 * z
        ry = -1.6 * x + 0.72 * y - 0.96 * z
        rz = -1.2 * x - 0.96 * y + 1.28 * z
        x = rx
        y = ry
        z = rz
        amp = amp * 0.5
    return total * FBM_NORM


@wp.func
def bump(t: float):
    """A smoothed triangle wave of period 1: 1 at integers, 0 at half-integers, with
    zero slope at both (smoothstep of |2 fract(t) - 1|); within 0.02 of (1 + cos 2 pi t) / 2."""
    f = t - wp.floor(t)
    tri = wp.abs(2.0 * f - 1.0)
    return tri * tri * (3.0 - 2.0 * tri)


@wp.func
def joint(t: float):
    """Distance from t to the nearest integer, in [0, 1/2]."""
    f = t - wp.floor(t)
    return wp.min(f, 1.0 - f)


@wp.func
def in_joint(d: float, width: float):
    """1 within width/2 of a joint (d: the distance to it), falling to 0 over EDGE."""
    return 1.0 - wp.clamp((d - 0.5 * width) / EDGE, 0.0, 1.0)


@wp.func
def marble(p: wp.vec3, seed: int):
    s = bump(p[0] + MARBLE_TURBULENCE * (fbm(MARBLE_WARP * p, seed) - 0.5))
    return s * s


@wp.func
def wood(p: wp.vec3, seed: int):
    # Rings wobble slowly across the trunk and slower still along it (the z axis).
    slow = value_noise(wp.vec3(0.3 * p[0], 0.3 * p[1], 0.1 * p[2]), seed)
    r = wp.sqrt(p[0] * p[0] + p[1] * p[1]) + WOOD_WOBBLE * (slow - 0.5)
    s = wp.clamp((r - wp.floor(r) - 0.55) / 0.35, 0.0, 1.0)
    ring = s * s * (3.0 - 2.0 * s)  # early wood 0, late wood 1, a sharp return at the boundary
    # Grain: fibres along the trunk, fine across it.
    grain = value_noise(wp.vec3(6.0 * p[0], 6.0 * p[1], 0.4 * p[2]), seed + 1)
    return (1.0 - WOOD_GRAIN) * ring + WOOD_GRAIN * grain


@wp.func
def worley(p: wp.vec3, seed: int):
    """F1, the distance to the nearest of one uniformly jittered point per unit cell
    (the 27 cells around p searched), clipped at 1."""
    fx = wp.floor(p[0])
    fy = wp.floor(p[1])
    fz = wp.floor(p[2])
    ix = wp.int32(fx)
    iy = wp.int32(fy)
    iz = wp.int32(fz)
    qx = p[0] - fx
    qy = p[1] - fy
    qz = p[2] - fz
    best = float(3.0)
    for dx in range(-1, 2):
        for dy in range(-1, 2):
            for dz in range(-1, 2):
                h = cell_hash(ix + dx, iy + dy, iz + dz, seed)
                # Three 10-bit jitters from the one hash (its low 30 bits).
                ex = float(dx) + float(h & wp.uint32(1023)) * (1.0 / 1024.0) - qx
                ey = float(dy) + float((h >> wp.uint32(10)) & wp.uint32(1023)) * (1.0 / 1024.0) - qy
                ez = float(dz) + float((h >> wp.uint32(20)) & wp.uint32(1023)) * (1.0 / 1024.0) - qz
                best = wp.min(best, ex * ex + ey * ey + ez * ez)
    return wp.min(wp.sqrt(best), 1.0)


@wp.func
def bricks(p: wp.vec3, seed: int):
    """Courses of height 1 along z; bricks BRICK_LENGTH along x and BRICK_WIDTH along
    y, each course's y joints shifted half a brick from the last, and each row's x
    joints half a brick from its neighbours in y and z (running bonds on every face)."""
    u = p[2] + 0.5
    row = wp.int32(wp.floor(u))
    vy = p[1] / BRICK_WIDTH + 0.25 + 0.5 * float(row & 1)
    iy = wp.int32(wp.floor(vy))
    vx = p[0] / BRICK_LENGTH + 0.25 + 0.5 * float((row + iy) & 1)
    ix = wp.int32(wp.floor(vx))
    d = wp.min(joint(u), wp.min(joint(vy) * BRICK_WIDTH, joint(vx) * BRICK_LENGTH))
    mortar = in_joint(d, MORTAR)
    brick = BRICK_SHADE * unit(cell_hash(ix, iy, row, seed))
    return mortar + (1.0 - mortar) * brick


@wp.func
def tiles(p: wp.vec3, seed: int):
    """Unit cubic tiles centred on the integer lattice, GROUT-wide joints between."""
    x = p[0] + 0.5
    y = p[1] + 0.5
    z = p[2] + 0.5
    d = wp.min(joint(x), wp.min(joint(y), joint(z)))
    grout = in_joint(d, GROUT)
    ix = wp.int32(wp.floor(x))
    iy = wp.int32(wp.floor(y))
    iz = wp.int32(wp.floor(z))
    tile = TILE_SHADE * unit(cell_hash(ix, iy, iz, seed))
    return grout + (1.0 - grout) * tile


@wp.func
def legacy(kind: int, p: wp.vec3, seed: int):
    """CHECKER, STRIPES and NOISE exactly as the renderer drew them before materials
    (NOISE with the seed folded in; seed 0 gives the old bits)."""
    cx = wp.int64(wp.floor(p[0]))
    cy = wp.int64(wp.floor(p[1]))
    cz = wp.int64(wp.floor(p[2]))
    if kind == CHECKER:
        return float(((cx + cy + cz) % wp.int64(2) + wp.int64(2)) % wp.int64(2))
    if kind == STRIPES:
        return float((cx % wp.int64(2) + wp.int64(2)) % wp.int64(2))
    # cell noise: an integer hash of the lattice cell
    h = (cx * wp.int64(73856093)) ^ (cy * wp.int64(19349663)) ^ (cz * wp.int64(83492791))
    h = h ^ (wp.int64(seed) * wp.int64(2654435761))
    h = (h ^ (h >> wp.int64(13))) * wp.int64(1274126177)
    return float((h >> wp.int64(16)) & wp.int64(1023)) / 1023.0


@wp.func
def pattern(kind: int, p: wp.vec3, seed: int):
    """The weight in [0, 1] of colour 2 at ``p`` (pattern units: local metres times
    texture_scale) for texture code ``kind`` (:mod:`factory.render.tables`; PLAIN and
    unknown codes give 0) and ``seed`` (a material's pattern_seed). See the module
    docstring for each pattern's formula, statistics and frequency."""
    if kind == CHECKER or kind == STRIPES or kind == NOISE:
        return legacy(kind, p, seed)
    if kind == FBM:
        return wp.clamp(0.5 + FBM_CONTRAST * (fbm(p, seed) - 0.5), 0.0, 1.0)
    if kind == MARBLE:
        return marble(p, seed)
    if kind == WOOD:
        return wood(p, seed)
    if kind == WORLEY:
        return worley(p, seed)
    if kind == BRICKS:
        return bricks(p, seed)
    if kind == TILES:
        return tiles(p, seed)
    return 0.0
