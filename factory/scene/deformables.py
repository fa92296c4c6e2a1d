"""Deformable things in a scene, as pure data: cloth sheets, the wind over them, and
volumetric soft bodies (:class:`SoftBody`: a ball or a box of tetrahedra, see its docstring).

A :class:`Cloth` is a rectangular grid of ``rows x cols`` vertices, ``size`` metres
wide (along its local x, the columns) and tall (local y, the rows), lying in its local
z = 0 plane and centred on its origin; its world rest pose is ``rotation @ x_local +
position``. Vertex ``r * cols + c`` (row-major) sits at local
``(-w/2 + c * w / (cols - 1), -h/2 + r * h / (rows - 1), 0)``; each grid cell
(r, c) is two triangles, ``(a, a+1, a+cols+1)`` and ``(a, a+cols+1, a+cols)`` with
``a = r * cols + c``, counter-clockwise seen from local +z (their normal is +z at rest).

The physics (:mod:`factory.physics.cloth`) simulates it as a MuJoCo flex shell (stretch
from ``young``, ``poisson`` and ``thickness``; bending from the same through the shell
model when ``bend``); the wind (:class:`Wind`) pushes on its faces by their area and
orientation. Nothing here draws random numbers: whoever builds a cloth or a wind (a
test, later the scene sampler) draws its parameters from its own stream.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from factory.scene.types import Material


def grid_faces(rows: int, cols: int) -> np.ndarray:
    """The triangles (F, 3) int32 of a ``rows x cols`` vertex grid, F = 2 (rows-1)(cols-1),
    in the order and winding of the module docstring."""
    r, c = np.meshgrid(np.arange(rows - 1), np.arange(cols - 1), indexing="ij")
    a = (r * cols + c).ravel()
    tri = np.stack([a, a + 1, a + cols + 1, a, a + cols + 1, a + cols], axis=1).reshape(-1, 3)
    return tri.astype(np.int32)


def edge_vertices(rows: int, cols: int, which: str) -> tuple[int, ...]:
    """Vertex indices to pin: ``none``; ``top`` (the last row, local +y: a flag's or a
    curtain's hem); ``corners`` (the two top corners)."""
    if which == "none":
        return ()
    top = (rows - 1) * cols
    if which == "top":
        return tuple(range(top, top + cols))
    if which == "corners":
        return (top, top + cols - 1)
    raise ValueError(f"pinned: {which!r} is not one of none, top, corners")


@dataclass(frozen=True)
class Cloth:
    """A cloth sheet (see the module docstring for its grid, vertex order and faces)."""

    id: int  # instance id (shares the objects' id space; 0 is the floor and walls)
    rows: int  # vertices along local y (>= 2)
    cols: int  # vertices along local x (>= 2)
    size: tuple[float, float]  # metres: (width along local x, height along local y)
    position: tuple[float, float, float]  # metres, world: the sheet's centre at rest
    rotation: np.ndarray = field(default_factory=lambda: np.eye(3))  # (3, 3) local-to-world
    pinned: tuple[int, ...] = ()  # vertex indices held at their rest position
    material: Material | None = None  # its look (the renderer's, later)
    young: float = 1e5  # Pa: Young's modulus of the stretch (membrane stiffness young * thickness, N/m)
    poisson: float = 0.3  # Poisson ratio, in [0, 0.5)
    thickness: float = 1e-3  # metres: the shell's thickness (stiffness, not collision)
    bend: bool = True  # True: the shell resists bending too (MuJoCo elastic2d "both"), else stretch only
    damping: float = 1e-3  # s: MuJoCo's flex damping (stiffness-proportional, Rayleigh)
    density: float = 0.2  # kg/m^2: areal density (a cotton sheet is 0.1-0.3)
    friction: float = 0.5  # sliding friction against everything it touches
    radius: float = 0.005  # metres: collision half-thickness around its surface

    def __post_init__(self):
        if self.rows < 2 or self.cols < 2:
            raise ValueError(f"cloth {self.id}: rows x cols = {self.rows} x {self.cols}; each must be >= 2")
        if not 0 <= self.poisson < 0.5:
            raise ValueError(f"cloth {self.id}: poisson = {self.poisson}; allowed [0, 0.5)")
        for name in ("young", "thickness", "density", "radius"):
            if not getattr(self, name) > 0:
                raise ValueError(f"cloth {self.id}: {name} = {getattr(self, name)}; must be > 0")
        bad = [p for p in self.pinned if not 0 <= p < self.rows * self.cols]
        if bad:
            raise ValueError(f"cloth {self.id}: pinned vertices {bad} outside [0, {self.rows * self.cols})")

    @property
    def vertex_count(self) -> int:
        return self.rows * self.cols

    def faces(self) -> np.ndarray:
        """(F, 3) int32 triangles (:func:`grid_faces`)."""
        return grid_faces(self.rows, self.cols)

    def rest_vertices(self) -> np.ndarray:
        """(V, 3) float64 world positions of the vertices at rest, metres."""
        w, h = self.size
        x = np.linspace(-w / 2, w / 2, self.cols)
        y = np.linspace(-h / 2, h / 2, self.rows)
        X, Y = np.meshgrid(x, y)  # (rows, cols): row r at y[r]
        local = np.stack([X.ravel(), Y.ravel(), np.zeros(X.size)], axis=1)
        return local @ np.asarray(self.rotation, np.float64).T + np.asarray(self.position, np.float64)

    def vertex_masses(self) -> np.ndarray:
        """(V,) kg: each triangle's mass (area x density) shared equally by its corners."""
        v, f = self.rest_vertices(), self.faces()
        area = 0.5 * np.linalg.norm(np.cross(v[f[:, 1]] - v[f[:, 0]], v[f[:, 2]] - v[f[:, 0]]), axis=1)
        m = np.zeros(len(v))
        np.add.at(m, f.ravel(), np.repeat(area * self.density / 3.0, 3))
        return m


@dataclass(frozen=True)
class Wind:
    """A uniform air velocity over the clip: ``mean`` plus a gust along the mean's
    direction, ``speed(t) = |mean| + gust * sin(2 pi t / period + phase)`` (so the air
    never blows backwards while gust <= |mean|). It pushes each cloth face by
    quadratic normal drag, ``0.5 rho drag A (u . n) |u . n| n`` with u the air's
    velocity relative to the face (:mod:`factory.physics.cloth`)."""

    mean: tuple[float, float, float]  # m/s, world
    gust: float = 0.0  # m/s: gust amplitude
    period: float = 1.0  # s: gust period
    phase: float = 0.0  # rad: drawn by whoever makes the wind, from its own stream
    air_density: float = 1.2  # kg/m^3
    drag: float = 1.0  # normal drag coefficient of a face

    def velocity(self, time: float) -> np.ndarray:
        """(3,) m/s: the air's velocity at ``time`` seconds."""
        mean = np.asarray(self.mean, np.float64)
        speed = float(np.linalg.norm(mean))
        if speed == 0.0 or self.gust == 0.0:
            return mean
        return mean * ((speed + self.gust * math.sin(2 * math.pi * time / self.period + self.phase)) / speed)


# The six tetrahedra of a lattice cube (Freudenthal / Kuhn): each is the path from
# corner (0,0,0) to (1,1,1) along the axes in one order, so neighbouring cubes share
# their faces' diagonals and the mesh is conforming. Corners are bits (x, y, z) -> x + 2y + 4z;
# each row is ordered so its volume is positive (tests/unit/test_softbody.py).
_CUBE_TETS = np.array(
    [[0, 1, 3, 7], [0, 3, 2, 7], [0, 2, 6, 7], [0, 6, 4, 7], [0, 4, 5, 7], [0, 5, 1, 7]], dtype=np.int64
)
# Outward faces of a positive tetrahedron (a, b, c, d): each counter-clockwise seen from
# outside, i.e. its normal points away from the fourth corner.
_TET_FACES = np.array([[0, 2, 1], [0, 1, 3], [0, 3, 2], [1, 2, 3]], dtype=np.int64)


def lattice_counts(size: tuple[float, float, float], resolution: int, ball: bool) -> tuple[int, int, int]:
    """Vertices along local x, y, z of a soft body's lattice: ``resolution`` along its
    longest side, the others in proportion (at least 2); a ball's are all ``resolution``."""
    if ball:
        return (resolution,) * 3
    longest = max(size)
    return tuple(max(2, round(resolution * s / longest)) for s in size)  # type: ignore[return-value]


def lattice_tetrahedra(counts: tuple[int, int, int]) -> np.ndarray:
    """(E, 4) int32 tetrahedra of a lattice of ``counts`` = (nx, ny, nz) vertices, vertex
    ``(i, j, k)`` at index ``(k * ny + j) * nx + i``: six per cube (``_CUBE_TETS``), cube
    by cube with x fastest; positive volume on a right-handed lattice."""
    nx, ny, nz = counts
    i, j, k = np.meshgrid(np.arange(nx - 1), np.arange(ny - 1), np.arange(nz - 1), indexing="ij")
    base = ((k * ny + j) * nx + i).transpose(2, 1, 0).ravel()  # cubes, x fastest
    bits = np.arange(8)
    offset = (bits >> 2) * nx * ny + ((bits >> 1) & 1) * nx + (bits & 1)  # (8,) corner offsets
    return (base[:, None, None] + offset[_CUBE_TETS][None]).reshape(-1, 4).astype(np.int32)


def boundary_faces(tets: np.ndarray) -> np.ndarray:
    """(F, 3) int32: the faces of ``tets`` (E, 4) that belong to one tetrahedron only,
    outward (``_TET_FACES``), in the order of their tetrahedra."""
    faces = tets[:, _TET_FACES].reshape(-1, 3)
    key = np.sort(faces, axis=1)
    _, inverse, counts = np.unique(key, axis=0, return_inverse=True, return_counts=True)
    return faces[counts[inverse.ravel()] == 1].astype(np.int32)


def cube_to_ball(p: np.ndarray) -> np.ndarray:
    """(N, 3) points of the cube [-1, 1]^3 mapped into the unit ball: the cube's surface
    onto the sphere, its centre kept, smooth and one-to-one (the standard map
    ``x sqrt(1 - y^2/2 - z^2/2 + y^2 z^2 / 3)`` and its permutations)."""
    x2, y2, z2 = (p * p).T
    scale = np.stack(
        [1 - y2 / 2 - z2 / 2 + y2 * z2 / 3, 1 - z2 / 2 - x2 / 2 + z2 * x2 / 3, 1 - x2 / 2 - y2 / 2 + x2 * y2 / 3],
        axis=1,
    )
    return p * np.sqrt(scale)


def tet_volumes(vertices: np.ndarray, tets: np.ndarray) -> np.ndarray:
    """(..., E) m^3: signed volumes ``det(b - a, c - a, d - a) / 6`` of ``tets`` (E, 4)
    (rows a, b, c, d) over ``vertices`` (..., V, 3) metres."""
    a, b, c, d = (vertices[..., tets[:, n], :] for n in range(4))
    return np.einsum("...i,...i->...", np.cross(b - a, c - a), d - a) / 6.0


SOFT_SHAPES = ("ball", "box")


@dataclass(frozen=True)
class SoftBody:
    """A volumetric soft body: a ball or a box (a cushion) filled with tetrahedra.

    Its vertices are a lattice of ``lattice_counts`` vertices spanning the box
    ``[-size, size]`` in its local frame (index ``(k * ny + j) * nx + i`` for lattice
    point (i, j, k), x fastest); a ball's lattice spans ``[-r, r]^3`` and is mapped onto
    the ball of radius ``r = size[0]`` (:func:`cube_to_ball`), so its surface is round.
    Six tetrahedra per lattice cube (:func:`lattice_tetrahedra`); the surface is the
    tetrahedra's unshared faces (:func:`boundary_faces`), outward, indexing the same
    vertex array (the interior vertices are in no face). World rest pose:
    ``rotation @ x_local + position``. The physics (:mod:`factory.physics.softbody`)
    simulates it as a MuJoCo flex of dimension 3 (linear tetrahedral elasticity from
    ``young`` and ``poisson``). Nothing here draws random numbers.
    """

    id: int  # instance id (shares the objects' id space; 0 is the floor and walls)
    shape: str  # "ball" | "box"
    size: tuple[float, float, float]  # metres: half extents in the local frame (a ball: size[0] is its radius)
    position: tuple[float, float, float]  # metres, world: its centre at rest
    rotation: np.ndarray = field(default_factory=lambda: np.eye(3))  # (3, 3) local-to-world
    resolution: int = 5  # vertices along its longest side (a ball: along each lattice axis), 3 .. 12
    velocity: tuple[float, float, float] = (0.0, 0.0, 0.0)  # m/s, world: every vertex's at t = 0
    young: float = 5e4  # Pa: Young's modulus (a soft foam 1e4 .. 1e5, a rubber ball 1e6)
    poisson: float = 0.45  # Poisson ratio, in [0, 0.5): near 0.5 nearly incompressible
    damping: float = 2e-3  # s, > 0: MuJoCo's flex damping (stiffness-proportional, Rayleigh)
    density: float = 200.0  # kg/m^3 (foam 20 .. 200, rubber 1100)
    friction: float = 0.6  # sliding friction against everything it touches
    material: Material | None = None  # its look (the renderer's, later)
    radius: float = 0.002  # metres: collision half-thickness around its surface

    def __post_init__(self):
        if self.shape not in SOFT_SHAPES:
            raise ValueError(f"soft body {self.id}: shape = {self.shape!r}; allowed {', '.join(SOFT_SHAPES)}")
        if len(self.size) != 3 or not all(s > 0 for s in self.size):
            raise ValueError(f"soft body {self.id}: size = {self.size}; three half extents, each > 0 metres")
        if not 3 <= self.resolution <= 12:
            raise ValueError(f"soft body {self.id}: resolution = {self.resolution}; allowed 3 .. 12")
        if not 0 <= self.poisson < 0.5:
            raise ValueError(f"soft body {self.id}: poisson = {self.poisson}; allowed [0, 0.5)")
        # damping > 0: MuJoCo 4.0.1 warns that an undamped flex "has no passive forces"
        for name in ("young", "density", "radius", "damping"):
            if not getattr(self, name) > 0:
                raise ValueError(f"soft body {self.id}: {name} = {getattr(self, name)}; must be > 0")
        if not self.friction >= 0:
            raise ValueError(f"soft body {self.id}: friction = {self.friction}; must be >= 0")

    @property
    def counts(self) -> tuple[int, int, int]:
        """Lattice vertices along local x, y, z (:func:`lattice_counts`)."""
        return lattice_counts(self.size, self.resolution, self.shape == "ball")

    @property
    def vertex_count(self) -> int:
        nx, ny, nz = self.counts
        return nx * ny * nz

    def local_vertices(self) -> np.ndarray:
        """(V, 3) float64 rest positions in the local frame, metres."""
        nx, ny, nz = self.counts
        axes = [np.linspace(-1.0, 1.0, n) for n in (nx, ny, nz)]
        Z, Y, X = np.meshgrid(axes[2], axes[1], axes[0], indexing="ij")  # x fastest
        unit = np.stack([X.ravel(), Y.ravel(), Z.ravel()], axis=1)
        if self.shape == "ball":
            return cube_to_ball(unit) * self.size[0]
        return unit * np.asarray(self.size, np.float64)

    def rest_vertices(self) -> np.ndarray:
        """(V, 3) float64 world positions of the vertices at rest, metres."""
        return self.local_vertices() @ np.asarray(self.rotation, np.float64).T + np.asarray(self.position, np.float64)

    def tetrahedra(self) -> np.ndarray:
        """(E, 4) int32 tetrahedra (positive volume at rest), six per lattice cube."""
        return lattice_tetrahedra(self.counts)

    def faces(self) -> np.ndarray:
        """(F, 3) int32 boundary triangles, counter-clockwise seen from outside."""
        return boundary_faces(self.tetrahedra())

    def vertex_masses(self) -> np.ndarray:
        """(V,) kg: each tetrahedron's mass (volume x density) shared equally by its corners."""
        tets = self.tetrahedra()
        m = np.zeros(self.vertex_count)
        np.add.at(m, tets.ravel(), np.repeat(tet_volumes(self.local_vertices(), tets) * self.density / 4.0, 4))
        return m
