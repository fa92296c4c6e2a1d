"""Deformable things in a scene, as pure data: cloth sheets and the wind over them.

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
