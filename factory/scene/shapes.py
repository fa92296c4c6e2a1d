"""The shape registry: every fact about every shape kind, in one place.

A kind is *analytic* (an exact shape, intersected in closed form by the renderer and a
MuJoCo primitive or a union of them in the physics) or a *mesh* (a triangle asset of
:data:`factory.scene.assets.MESH_KINDS`, whose facts come from its vertices). For each
kind :data:`KINDS` gives:

* ``form`` (analytic | mesh), ``convex`` (the renderer lets a convex kind skip itself
  in its own shadow rays) and ``code``, the renderer's shape code (every mesh kind
  shares :data:`MESH_CODE`: its BVH is a per-object handle);
* ``parts``: the convex primitives an analytic kind is made of, as multiples of the
  object's ``dims`` (the ``ell``'s two boxes); the physics collides with them and the
  renderer's intersection is built from the same numbers;
* its bounding radius, support depth, top height and volume as functions of ``dims``
  (and the rotation), its semantic class (a name in :data:`CLASSES`), and how the
  sampler turns a drawn ``size`` and ``aspect`` into ``dims``.

An object's ``dims`` (:class:`factory.scene.types.SceneObject`), in the object frame,
metres:

* sphere: (r, r, r)
* box: (hx, hy, hz), half-extents
* cylinder: (r, r, hz), axis along object z
* capsule: (r, r, hz), axis along object z, total half-length hz (segment hz - r)
* ell: (hx, hy, hz), an L profile in x-z extruded along y: the block
  [-hx, hx] x [-hy, hy] x [-hz, 0] united with [-hx, 0] x [-hy, hy] x [0, hz]
  (non-convex)
* a mesh kind (torus, rock, ...): (sx, sy, sz), the axis scales of its unit asset
  (whose largest half-extent is 1)

Adding an analytic kind touches two files: this one (a :class:`ShapeKind`, its class
appended to :data:`CLASSES`, its dims above) and :mod:`factory.render.geometry` (its
``@wp.func`` intersection, its named code and its branch in ``analytic``). The physics
needs nothing new while its parts are primitives MuJoCo has (``_PRIMITIVE`` in
:mod:`factory.physics.model` maps each to a MuJoCo geom); ``tests/unit/test_shapes.py``
asks for an independent signed distance function of it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from factory.scene.assets import MESH_KINDS, MeshAsset, mesh_asset

# Semantic classes: the value written into the semantic segmentation.
# Appended, never reordered: a class's id is part of every dataset written.
CLASSES = (
    "background",
    "floor",
    "wall",
    "sphere",
    "box",
    "cylinder",
    "capsule",
    "ell",
    "furniture",
    "torus",
    "rock",
    "cone",
    "tube",
    "icosahedron",
)
CLASS_ID = {name: i for i, name in enumerate(CLASSES)}

MESH_CODE = 5  # the renderer's shape code of every mesh kind


def box_corners(dims) -> np.ndarray:
    """The 8 corners (8, 3) of the box [-dims, dims], in a fixed order (x fastest)."""
    hx, hy, hz = dims
    return np.array(
        [[sx * hx, sy * hy, sz * hz] for sz in (-1, 1) for sy in (-1, 1) for sx in (-1, 1)], dtype=np.float64
    )


@dataclass(frozen=True)
class Part:
    """One convex primitive of an analytic kind. Its centre (object frame) is
    ``centre * dims`` and its own half-extents ``half * dims`` (metres), in the
    primitive's ``dims`` convention (a sphere (r, r, r), a box (hx, hy, hz), a cylinder
    or capsule (r, r, hz) along its z)."""

    primitive: str  # sphere | box | cylinder | capsule
    centre: tuple[float, float, float] = (0.0, 0.0, 0.0)
    half: tuple[float, float, float] = (1.0, 1.0, 1.0)

    def placed(self, dims) -> tuple[list[float], list[float]]:
        """The part's centre and half-extents (metres) for an object of ``dims``."""
        return ([c * d for c, d in zip(self.centre, dims)], [h * d for h, d in zip(self.half, dims)])


def _axis_z(R: np.ndarray) -> float:
    """|world z of the object's z axis| under rotation R (3, 3)."""
    return abs(float(R[2, 2]))


def _box_depth(d, R) -> float:
    """Depth below the centre of the box [-d, d] rotated by R."""
    return float(-(box_corners(d) @ R.T)[:, 2].min())


def _cylinder_depth(d, R) -> float:
    a = _axis_z(R)
    return d[2] * a + d[0] * math.sqrt(max(0.0, 1.0 - a**2))


def _upright(size: float, aspect: float) -> tuple[float, float, float]:
    """dims of a kind that is ``size`` wide and ``aspect`` times as tall."""
    return (size, size, size * aspect)


@dataclass(frozen=True)
class ShapeKind:
    """The facts of one shape kind (see the module docstring). The ``*_of`` functions
    take ``dims`` (3,) metres and, for the depth, the object-to-world rotation (3, 3);
    a mesh kind has none and takes its facts from its asset's vertices."""

    name: str
    form: str  # analytic | mesh
    code: int  # the renderer's shape code (factory.render.geometry)
    convex: bool  # the renderer lets it skip itself in its shadow rays
    semantic: str  # class name in CLASSES
    parts: tuple[Part, ...] = ()  # analytic: what it is made of
    lies: bool = False  # the sampler lays it on its side half the time
    rolls: bool = False  # placement "roll" lays it on its side to roll across its axis
    dims_of: Callable = _upright  # (size, aspect) -> dims
    radius_of: Callable | None = None  # dims -> m
    depth_of: Callable | None = None  # (dims, R) -> m
    volume_of: Callable | None = None  # dims -> m^3

    @property
    def is_mesh(self) -> bool:
        return self.form == "mesh"

    def asset(self, mesh: MeshAsset | None = None) -> MeshAsset:
        """A mesh kind's asset: ``mesh`` when given (a generated or pack object's own),
        else the built-in asset of its name."""
        return mesh if mesh is not None else mesh_asset(self.name)

    def vertices(self, dims, R: np.ndarray | None = None, mesh: MeshAsset | None = None) -> np.ndarray:
        """A mesh kind's vertices (V, 3) float64 at ``dims``, rotated by R if given."""
        v = self.asset(mesh).scaled(dims)
        return v if R is None else v @ R.T

    # Every fact below takes ``mesh``, a generated or pack object's own asset (its
    # SceneObject.mesh); a built-in kind's comes from its name.
    def half_extents(self, dims, mesh: MeshAsset | None = None) -> tuple[float, float, float]:
        """Half-extents (m) of the shape's bounding box in the object frame."""
        if self.is_mesh:
            return _mesh_extents(self.asset(mesh), _key(dims))[0]
        return tuple(dims)

    def bounding_radius(self, dims, mesh: MeshAsset | None = None) -> float:
        """Radius (m) of a sphere about the centre that contains the shape."""
        if self.is_mesh:
            return _mesh_extents(self.asset(mesh), _key(dims))[1]
        return self.radius_of(dims)

    def support_depth(self, dims, R: np.ndarray, mesh: MeshAsset | None = None) -> float:
        """Distance (m) from the centre down to the lowest point of the shape rotated by
        R (3, 3); an ``ell``'s is its bounding box's (its hull lacks two of the box's
        corners, so this may be a little more)."""
        if self.is_mesh:
            return -_mesh_heights(self.asset(mesh), _key(dims), _RotationKey(R))[0]
        return self.depth_of(dims, R)

    def top_height(self, dims, R: np.ndarray, mesh: MeshAsset | None = None) -> float:
        """Distance (m) from the centre up to the highest point of the shape rotated by
        R: the support depth upside down."""
        if self.is_mesh:
            return _mesh_heights(self.asset(mesh), _key(dims), _RotationKey(R))[1]
        return self.depth_of(dims, -R)

    def volume(self, dims, mesh: MeshAsset | None = None) -> float:
        """Volume in m^3 (used for the mass)."""
        if self.is_mesh:
            return self.asset(mesh).volume * dims[0] * dims[1] * dims[2]
        return self.volume_of(dims)


def _key(dims) -> tuple[float, ...]:
    """``dims`` as a hashable key holding the same float64 values."""
    return tuple(float(d) for d in dims)


class _RotationKey:
    """A rotation (3, 3) as a cache key: equal when its values are (bit for bit); the
    array it was made from is what a cache miss computes with."""

    __slots__ = ("R", "_bytes")

    def __init__(self, R: np.ndarray):
        self.R = R
        self._bytes = np.asarray(R, np.float64).tobytes()

    def __hash__(self) -> int:
        return hash(self._bytes)

    def __eq__(self, other) -> bool:
        return isinstance(other, _RotationKey) and self._bytes == other._bytes


# The facts a mesh object takes from its asset's vertices, memoised per (kind, dims) and
# (kind, dims, rotation): a scene asks for an object's bounding radius a dozen times
# (placement, spawn checks, camera clearance, the renderer's culling), each of which
# was a pass over all its vertices. The same expressions compute them, so the values
# are the ones of before, bit for bit. Bounded: dims are drawn anew for every object.
@lru_cache(maxsize=4096)
def _mesh_extents(asset: MeshAsset, dims: tuple[float, ...]) -> tuple[tuple[float, float, float], float]:
    """(half extents (3,), bounding radius) in metres of mesh ``asset`` at ``dims``."""
    v = asset.scaled(dims)
    return tuple(float(x) for x in np.abs(v).max(0)), float(np.linalg.norm(v, axis=1).max())


@lru_cache(maxsize=4096)
def _mesh_heights(asset: MeshAsset, dims: tuple[float, ...], R: _RotationKey) -> tuple[float, float]:
    """(lowest, highest) world z (m) of mesh ``asset``'s vertices at ``dims``,
    rotated by R, relative to its centre."""
    z = (asset.scaled(dims) @ R.R.T)[:, 2]
    return float(z.min()), float(z.max())


_ANALYTIC = (
    ShapeKind(
        "sphere",
        "analytic",
        0,
        True,
        "sphere",
        (Part("sphere"),),
        dims_of=lambda s, a: (s, s, s),
        radius_of=lambda d: d[0],
        depth_of=lambda d, R: d[0],
        volume_of=lambda d: 4.0 / 3.0 * math.pi * d[0] ** 3,
    ),
    ShapeKind(
        "box",
        "analytic",
        1,
        True,
        "box",
        (Part("box"),),
        radius_of=lambda d: math.sqrt(d[0] ** 2 + d[1] ** 2 + d[2] ** 2),
        depth_of=_box_depth,
        volume_of=lambda d: 8.0 * d[0] * d[1] * d[2],
    ),
    ShapeKind(
        "cylinder",
        "analytic",
        2,
        True,
        "cylinder",
        (Part("cylinder"),),
        lies=True,
        rolls=True,
        radius_of=lambda d: math.hypot(d[0], d[2]),
        depth_of=_cylinder_depth,
        volume_of=lambda d: math.pi * d[0] ** 2 * 2.0 * d[2],
    ),
    ShapeKind(
        "capsule",
        "analytic",
        3,
        True,
        "capsule",
        (Part("capsule"),),
        lies=True,
        rolls=True,
        dims_of=lambda s, a: (s, s, s * (1.0 + a)),  # aspect: the core segment's half-length over r
        radius_of=lambda d: d[2],
        depth_of=lambda d, R: (d[2] - d[0]) * _axis_z(R) + d[0],
        volume_of=lambda d: math.pi * d[0] ** 2 * 2.0 * (d[2] - d[0]) + 4.0 / 3.0 * math.pi * d[0] ** 3,
    ),
    ShapeKind(  # the L profile of the module docstring: its two boxes
        "ell",
        "analytic",
        4,
        False,
        "ell",
        (Part("box", (0.0, 0.0, -0.5), (1.0, 1.0, 0.5)), Part("box", (-0.5, 0.0, 0.5), (0.5, 1.0, 0.5))),
        lies=True,
        dims_of=lambda s, a: (s, 0.6 * s, s * a),
        radius_of=lambda d: math.sqrt(d[0] ** 2 + d[1] ** 2 + d[2] ** 2),
        depth_of=_box_depth,  # its bounding box's
        volume_of=lambda d: 8.0 * d[0] * d[1] * d[2] * 0.75,
    ),  # three of four quarter blocks
)

# Mesh kinds: facts from the asset. Not marked convex even where the solid is (a cone,
# an icosahedron): the renderer has always let a mesh shadow itself.
_MESHES = tuple(ShapeKind(kind, "mesh", MESH_CODE, False, kind) for kind in MESH_KINDS)

KINDS: dict[str, ShapeKind] = {k.name: k for k in _ANALYTIC + _MESHES}
ANALYTIC = tuple(k.name for k in _ANALYTIC)  # the default mix of objects.shape
MESHES = tuple(k.name for k in _MESHES)


# Shapes whose mesh the assets layer makes per object: ``gen:<generator>`` (a procedural
# generator of factory.assets.generators) and ``pack:<pack>`` (an asset of a pack). Each is
# a mesh kind whose facts come from the object's own asset (SceneObject.mesh).
ASSET_PREFIXES = ("gen:", "pack:")


@lru_cache(maxsize=256)
def _asset_kind(name: str) -> ShapeKind:
    return ShapeKind(name, "mesh", MESH_CODE, False, name)


def shape_kind(name: str) -> ShapeKind:
    """The registry entry of shape kind ``name`` (a built-in kind, or a ``gen:`` /
    ``pack:`` shape: a mesh whose asset each object carries).

    Raises:
        ValueError: an unknown kind, naming the known ones.
    """
    try:
        return KINDS[name]
    except KeyError:
        if name.startswith(ASSET_PREFIXES):
            return _asset_kind(name)
        raise ValueError(
            f"shape kind {name!r} is not one of {', '.join(KINDS)}, gen:<generator> or pack:<pack>"
        ) from None
