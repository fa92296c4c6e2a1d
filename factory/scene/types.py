"""A scene as pure data: what is in it, not how it is drawn.

Coordinate frames (used everywhere in factory):

* **world**: right-handed, metres, +z up, the floor is the plane z = 0; gravity is -z.
* **object**: origin at the object's centre; the world pose is ``R @ x_obj + position``.
  Shapes are defined in this frame (see :class:`SceneObject`).
* **camera**: OpenCV convention, +x right, +y down, +z forward along the optical axis.
  ``world_to_camera`` is a 4x4 matrix mapping homogeneous world points to camera points.
* **pixels**: (u, v) with u along image columns, v along rows; pixel (i, j) covers
  [j, j+1) x [i, i+1), so its centre is (j + 0.5, i + 0.5).
Nothing here knows about rendering or encoding (Kubric's split: the scene graph knows nothing of the renderer).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import NamedTuple, Protocol

import numpy as np

from factory.scene.assets import MeshAsset
from factory.scene.shapes import CLASSES, ShapeKind, shape_kind


@dataclass(frozen=True)
class Material:
    """Surface appearance, for a microfacet model (GGX, Smith, Schlick: see
    :mod:`factory.render.brdf`). Colours are linear RGB in [0, 1].

    A solid procedural ``texture`` (a pattern of :data:`factory.scene.config.TEXTURES`,
    evaluated at the surface point times ``texture_scale``) blends ``color`` into
    ``color2`` and ``roughness`` into ``roughness2`` by its weight in [0, 1];
    ``pattern_seed`` shifts the pattern's noise, so two surfaces of one family differ."""

    color: tuple[float, float, float]  # base colour: diffuse albedo, or a metal's reflectance
    color2: tuple[float, float, float]  # second colour of the texture pattern
    texture: str  # a pattern name of factory.scene.config.TEXTURES
    texture_scale: float  # pattern units (cells, tiles, bricks) per metre
    roughness: float  # perceptual roughness in [0, 1]; GGX alpha = roughness^2
    specular: float  # a dielectric's reflectance at normal incidence, F0 = 0.08 * specular
    metallic: float = 0.0  # 0: dielectric, 1: metal (colour tints the reflection, no diffuse)
    family: str = "plastic"  # a material family of factory.scene.materials
    roughness2: float | None = None  # the pattern's second roughness (None: roughness)
    pattern_seed: int = 0  # shifts the pattern's noise lattice, in [0, 2^20)


def matte_paint(color: tuple[float, float, float]) -> Material:
    """Matte wall paint of ``color`` (linear RGB): a room's undrawn walls, a roomless scene's wall row."""
    return Material(color, color, "plain", 1.0, 0.9, 0.5, family="wall_paint")


@dataclass(frozen=True)
class AssetRef:
    """Where a generated or pack object came from, enough for a third party to rebuild
    it: ``source`` generator | pack; ``name`` the generator's or the pack's name;
    ``asset_id`` the pack asset's id ("" for a generator); ``params`` the generator's
    params as canonical JSON ("" for a pack); ``sha256`` the pack asset's mesh file
    hash, or the sha256 of a generated mesh's vertex and face bytes; ``licence`` an
    SPDX id; ``creator``, ``title``, ``url`` the attribution (a generator's: factory)."""

    source: str
    name: str
    asset_id: str
    params: str
    sha256: str
    licence: str
    creator: str
    title: str
    url: str


class DrawnAsset(NamedTuple):
    """What an :class:`AssetSource` draws for a ``gen:`` / ``pack:`` object: ``mesh``
    its asset in the unit box (max |coordinate| 1), ``ref`` where it came from,
    ``category`` its semantic class name (a row of the source's ``classes``), ``size``
    metres per unit (its largest half-extent at scale 1)."""

    mesh: MeshAsset
    ref: AssetRef
    category: str
    size: float


class DrawnBackdrop(NamedTuple):
    """What an :class:`AssetSource` draws for an ``hdri`` backdrop: ``image`` the map as
    seen, ``lighting`` the map the scene is lit by (the image less its sun region), both
    equirectangular (H, 2H, 3) float32 radiance (layout: :mod:`factory.assets.backdrops.image`);
    ``ref`` the pack record it came from; ``sun`` the map-frame unit direction of the
    sun region taken out, ``sun_cone`` its half-angle (rad), ``sun_rgb`` (3,) the light
    it makes (the intensity per channel, see :class:`Light`); ``key`` names the map."""

    image: np.ndarray
    lighting: np.ndarray
    ref: AssetRef
    sun: tuple[float, float, float]
    sun_cone: float
    sun_rgb: tuple[float, float, float]
    key: str


class AssetSource(Protocol):
    """What the sampler draws ``gen:`` and ``pack:`` objects from (the assets layer's
    catalogue, :class:`factory.assets.catalog.Catalog`, handed in by the sample layer:
    the scene layer knows no generator or pack). ``classes`` is the dataset's class
    table: :data:`factory.scene.shapes.CLASSES`, then the new categories."""

    classes: tuple[str, ...]

    def draw(self, shape: str, block, rng: np.random.Generator) -> DrawnAsset:
        """One asset of ``shape`` (``gen:<name>`` with the params overrides of ``block``,
        the scenario's ObjectSpec or FurnitureSpec, or ``pack:<name>`` among the assets
        its ``pack_size`` and ``pack_categories`` select), every draw from ``rng``."""
        ...

    def backdrop(self, block, rng: np.random.Generator) -> DrawnBackdrop:
        """One HDRI of the scenario's BackdropSpec ``block`` (its pack, ids and
        categories, the dataset's split and licences), every draw from ``rng``."""
        ...


@dataclass(frozen=True)
class SceneObject:
    """One rigid object of shape kind ``shape``, whose facts (radius, depths, volume)
    and ``dims`` convention (half-extents in the object frame, metres; a mesh's axis
    scales) are its kind's in :mod:`factory.scene.shapes`.

    ``base_rotation`` (3x3) orients the shape and ``yaw`` turns it about world z: the
    pose at t = 0 is ``Rz(yaw) @ base_rotation`` at ``position``. From there the motion
    is MuJoCo's, full 6-DoF (:mod:`factory.physics`), started with ``velocity`` and
    ``spin`` about world z plus ``angular_velocity``.
    """

    id: int  # instance id, >= 1, stable over the clip
    shape: str
    category: str  # semantic class name, see factory.scene.shapes.CLASSES
    dims: tuple[float, float, float]
    base_rotation: np.ndarray  # (3, 3) float64
    position: tuple[float, float, float]  # metres, world, at t = 0
    yaw: float  # radians at t = 0
    velocity: tuple[float, float, float]  # m/s, world, at t = 0
    spin: float  # rad/s about world z at t = 0
    mass: float  # kg (inf for static objects)
    restitution: float
    friction: float
    material: Material
    static: bool = False
    angular_velocity: tuple[float, float, float] = (0.0, 0.0, 0.0)  # rad/s, world, at t = 0, added to spin
    # A generated or pack object (shape gen:<name> / pack:<name>): where it came from, and
    # its own mesh (not compared: two draws of the same source are equal objects).
    asset: AssetRef | None = None
    mesh: MeshAsset | None = field(default=None, compare=False, repr=False)

    @property
    def rotation(self) -> np.ndarray:
        """Object-to-world rotation (3, 3) at t = 0: ``Rz(yaw) @ base_rotation``."""
        return rot_z(self.yaw) @ self.base_rotation

    @property
    def kind(self) -> ShapeKind:
        """The registry entry of its shape."""
        return shape_kind(self.shape)

    @property
    def is_mesh(self) -> bool:
        return self.kind.is_mesh

    @property
    def mesh_data(self) -> MeshAsset | None:
        """The mesh a mesh object is made of (its own, or its built-in kind's); None for an analytic shape."""
        return self.kind.asset(self.mesh) if self.is_mesh else None

    @property
    def half_extents(self) -> tuple[float, float, float]:
        """Half-extents (m) of the shape's bounding box in the object frame."""
        return self.kind.half_extents(self.dims, self.mesh)

    @property
    def bounding_radius(self) -> float:
        """Radius (m) of a sphere about the centre that contains the shape."""
        return self.kind.bounding_radius(self.dims, self.mesh)

    def support_depth(self) -> float:
        """Distance (m) from the centre down to the lowest point of the shape at t = 0
        (invariant under ``yaw``, so taken at ``base_rotation``)."""
        return self.kind.support_depth(self.dims, self.base_rotation, self.mesh)

    def top_height(self) -> float:
        """Distance (m) from the centre up to the highest point of the shape at t = 0."""
        return self.kind.top_height(self.dims, self.base_rotation, self.mesh)

    def volume(self) -> float:
        """Volume in m^3 (used for the mass)."""
        return self.kind.volume(self.dims, self.mesh)


@dataclass(frozen=True)
class Light:
    """A light. ``vector`` is the unit direction towards the light (directional) or
    the light's world position in metres (point, area). A light of ``size`` > 0 is a
    square emitter facing what it lights (a directional one seen as from 4 m), which
    casts soft shadows when ``render.shadow_rays`` > 1. ``intensity`` times ``color``
    (linear RGB of luminance 1, from its colour temperature) is the radiance a white
    matte surface facing it reflects."""

    kind: str  # directional | point | area
    vector: tuple[float, float, float]
    intensity: float
    size: float = 0.0  # half-width (m) of its square emitter; 0: a point, hard shadows
    color: tuple[float, float, float] = (1.0, 1.0, 1.0)
    temperature_k: float = 6500.0
    source: str = "config"  # config: lighting; backdrop: the backdrop's sun


@dataclass(frozen=True)
class Backdrop:
    """The environment seen behind the scene and lighting it, in the world frame
    turned by ``rotation`` about +z (a direction d of the world is d' = Rz(-rotation) d
    of the map).

    ``kind`` flat | sky | overcast | hdri (a flat one's radiance is the scene's
    ``sky_color``); ``strength`` scales its radiance (and its sun's); ``sun_elevation`` (rad) and
    ``turbidity`` a sky's; ``asset`` an HDRI's pack record (where it came from);
    ``image`` its equirectangular radiance (H, 2H, 3) float32 in the layout of
    :mod:`factory.assets.backdrops.image` (None for flat; a sky's is made by the
    renderer from its parameters) and ``lighting`` the map it lights with; ``sun`` the map-frame unit direction of the region
    taken out of the map as a light (``sun_cone`` its half-angle, rad), or None;
    ``key`` names the map for caches (the same key, the same pixels)."""

    kind: str
    rotation: float = 0.0
    strength: float = 1.0
    sun_elevation: float = 0.0
    turbidity: float = 0.0
    asset: AssetRef | None = None
    image: np.ndarray | None = field(default=None, compare=False, repr=False)
    lighting: np.ndarray | None = field(default=None, compare=False, repr=False)  # the image less its sun
    sun: tuple[float, float, float] | None = None
    sun_cone: float = 0.0
    key: str = ""


@dataclass(frozen=True)
class Camera:
    """A pinhole camera and its trajectory.

    ``K`` is the 3x3 intrinsic matrix in pixels. :func:`camera_pose` evaluates the
    trajectory at any time, so motion blur can sample inside a frame interval.
    """

    width: int
    height: int
    K: np.ndarray  # (3, 3) float64
    trajectory: str  # static | orbit | dolly | handheld
    target: tuple[float, float, float]  # look-at point, world
    distance: float  # metres from target at t = 0
    elevation: float  # radians
    azimuth: float  # radians
    orbit_speed: float  # rad/s
    dolly_speed: float  # m/s towards the target
    jitter_m: float
    jitter_rad: float
    jitter_phase: np.ndarray = field(default_factory=lambda: np.zeros((6, 3)))  # (6, 3) phases, rad
    noise_std: float = 0.0  # sensor noise, 8-bit levels
    shutter: float = 0.0  # exposure as a fraction of the frame interval
    exposure: str = "fixed"  # auto: metered at the target; fixed: 2^ev
    ev: float = 0.0  # stops over the metered exposure (auto), or log2 of the exposure (fixed)
    tone: str = "linear"  # filmic | linear
    white_balance_k: float = 6500.0  # a light of this colour temperature renders white
    # A stereo rig camera's offset (m) along the posed camera's own x, y, z (docs/format.md, "Cameras")
    rig_shift: tuple[float, float, float] = (0.0, 0.0, 0.0)


@dataclass(frozen=True)
class Room:
    """An axis-aligned room: walls at x = +-width/2, y = +-depth/2, ceiling open."""

    width: float
    depth: float
    height: float
    wall_color: tuple[float, float, float]
    material: Material | None = None  # the walls' (None: matte paint of wall_color)

    @property
    def wall_material(self) -> Material:
        """The walls' material: ``material``, else matte paint of ``wall_color``."""
        return self.material if self.material is not None else matte_paint(self.wall_color)


@dataclass(frozen=True)
class Scene:
    """Everything needed to simulate and render one clip."""

    objects: tuple[SceneObject, ...]
    camera: Camera
    lights: tuple[Light, ...]
    ambient: float
    sky_color: tuple[float, float, float]
    floor: Material
    floor_restitution: float
    floor_friction: float
    room: Room | None
    frames: int
    fps: float
    substeps: int
    params: dict  # the sampled scenario parameters, for the metadata
    retries: int = 0  # draws thrown away before this one (see factory.sample.scenes)
    retry_reasons: tuple[str, ...] = ()  # why each was thrown away, in order: RETRY_REASONS' keys
    backdrop: Backdrop = Backdrop("flat")  # flat, radiance sky_color (set by draw_scene)
    classes: tuple[str, ...] = CLASSES  # the dataset's class table: a category's id is its index
    rig: tuple[Camera, ...] = ()  # cameras 1 .. K-1 of a multi-camera rig (render.cameras > 1); camera 0 is ``camera``
    # Deformables (factory.scene.deformables: Cloth, Wind (None: still air), SoftBody; factory.scene.liquids: Liquid)
    cloths: tuple = ()
    wind: object = None
    soft_bodies: tuple = ()
    liquids: tuple = ()


def _cross(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a x b`` of two 3-vectors: np.cross's products and differences, in its order (so
    the same bits), without its overhead on arrays this small (a camera pose per view)."""
    a0, a1, a2 = a.tolist()
    b0, b1, b2 = b.tolist()
    return np.array([a1 * b2 - a2 * b1, a2 * b0 - a0 * b2, a0 * b1 - a1 * b0])


def look_at(eye: np.ndarray, target: np.ndarray) -> np.ndarray:
    """World-to-camera 4x4 (OpenCV axes) for a camera at ``eye`` looking at ``target``,
    with image-up along world +z."""
    fwd = target - eye
    fwd = fwd / np.linalg.norm(fwd)
    up = np.array([0.0, 0.0, 1.0])
    right = _cross(fwd, up)
    if np.linalg.norm(right) < 1e-9:  # looking straight down: any right will do
        right = np.array([1.0, 0.0, 0.0])
    right = right / np.linalg.norm(right)
    down = _cross(fwd, right)
    R = np.stack([right, down, fwd])  # rows: camera axes in world coordinates
    M = np.eye(4)
    M[:3, :3] = R
    M[:3, 3] = -R @ eye
    return M


def quat_to_matrix(q: np.ndarray) -> np.ndarray:
    """Rotation matrices (..., 3, 3) of unit quaternions (..., 4), (w, x, y, z)."""
    w, x, y, z = np.moveaxis(q, -1, 0)
    return np.stack(
        [
            np.stack([1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)], -1),
            np.stack([2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)], -1),
            np.stack([2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)], -1),
        ],
        -2,
    )


def rot_z(angle: float) -> np.ndarray:
    """Rotation (3, 3) by ``angle`` radians about +z."""
    c, s = math.cos(angle), math.sin(angle)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def camera_centre(cam: Camera, time: float) -> np.ndarray:
    """The camera's centre (3,) float64, world, metres, at ``time`` seconds."""
    M = camera_pose(cam, time)
    return -M[:3, :3].T @ M[:3, 3]


def camera_pose(cam: Camera, time: float) -> np.ndarray:
    """World-to-camera 4x4 (float64) at ``time`` seconds from the clip's start."""
    az = cam.azimuth
    dist = cam.distance
    if cam.trajectory == "orbit":
        az = az + cam.orbit_speed * time
    elif cam.trajectory == "dolly":
        dist = max(0.2, dist - cam.dolly_speed * time)
    target = np.asarray(cam.target, dtype=np.float64)
    ce = math.cos(cam.elevation)
    eye = target + dist * np.array([ce * math.cos(az), ce * math.sin(az), math.sin(cam.elevation)])
    M = look_at(eye, target)
    if cam.trajectory == "handheld":
        # Smooth shake: a sum of two sinusoids per axis at fixed, incommensurate rates.
        ph = cam.jitter_phase
        freqs = np.array([1.3, 2.9])
        wob = np.stack([np.sin(2 * math.pi * f * time + ph[k]) for k, f in enumerate(freqs)]).sum(0) / 2
        rot = np.stack([np.sin(2 * math.pi * f * time + ph[2 + k]) for k, f in enumerate(freqs)]).sum(0) / 2
        rx, ry, rz = cam.jitter_rad * rot
        cx, sx, cy, sy = math.cos(rx), math.sin(rx), math.cos(ry), math.sin(ry)
        Rx = np.array([[1, 0, 0], [0, cx, -sx], [0, sx, cx]])
        Ry = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
        J = np.eye(4)
        J[:3, :3] = Rx @ Ry @ rot_z(rz)
        J[:3, 3] = cam.jitter_m * wob
        M = J @ M
    if cam.rig_shift != (0.0, 0.0, 0.0):  # a rig camera: moved along the posed camera's own axes
        M = M.copy()
        M[:3, 3] -= np.asarray(cam.rig_shift, np.float64)
    return M
