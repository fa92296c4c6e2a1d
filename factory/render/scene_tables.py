"""The per-scene tables of a launch (:class:`SceneTables`): what every view of one scene
shares, as rows of :class:`~factory.render.tables.Scenes` (surfaces, lights, the
environment, the exposure), built on the host from a :class:`~factory.scene.types.Scene`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from factory.render.envmap import EnvMap
from factory.render.exposure import exposure_gain
from factory.render.scene_env import map_rotation, scene_env
from factory.render.tables import LIGHT_CODE, TEXTURE_CODE, TONE_CODE
from factory.scene.materials import family_id
from factory.scene.types import Material, Scene, matte_paint


class SurfaceRow(NamedTuple):
    """How one surface shades: a row of the per-surface arrays of
    :class:`~factory.render.tables.Scenes`. Its place is its surface code (sky, floor,
    wall, then object k at ``FIRST_OBJECT + k``)."""

    color: tuple  # (3,) float, linear RGB base colour in [0, 1]
    color2: tuple  # (3,) float, the pattern's second colour
    texture: int  # pattern code (tables.PLAIN ... TILES)
    texture_scale: float  # pattern units (cells, tiles, bricks) per metre
    pattern_seed: int  # shifts the pattern's noise
    roughness: float  # perceptual roughness in [0, 1]
    roughness2: float  # the pattern's second roughness
    metallic: float  # 0 dielectric .. 1 metal
    specular: float  # a dielectric's F0 / 0.08
    family: int  # material family id (factory.scene.materials.family_id; 0: none)
    instance: int  # the object's instance id; 0 for sky, floor and walls
    semantic: int  # class id: the row of its category in the scene's class table (Scene.classes)


class LightRow(NamedTuple):
    """One light as the kernels read it: a row of the per-light arrays of
    :class:`~factory.render.tables.Scenes`."""

    kind: int  # light code (tables.DIRECTIONAL, POINT, AREA)
    vec: tuple  # (3,) float: unit direction towards a directional light, or a point light's position, metres
    intensity: tuple  # (3,) float: intensity times its colour (1: the radiance of a white card facing it)
    ref: float  # metres: the length of ``vec`` (a point light's distance from the origin)
    spread: float  # area half-width: metres (point, area), the tangent of the half-angle (directional)


@dataclass
class SceneTables:
    """What every view of one scene shares (N objects, L lights, 3 + N surfaces)."""

    shape: np.ndarray  # (N,) int32 shape code (factory.scene.shapes.ShapeKind.code)
    meshes: list  # (N,) a mesh object's MeshAsset (SceneObject.mesh_data), else None
    dims: np.ndarray  # (N, 3) half-extents or axis scales, metres
    radius: np.ndarray  # (N,) bounding radius, metres
    convex: np.ndarray  # (N,) int32 1: a convex kind (cannot shadow itself)
    surfaces: list[SurfaceRow]  # (3 + N,) by surface code
    lights: list[LightRow]  # (L,)
    ambient: float
    env: EnvMap  # the backdrop's maps (factory.render.scene_env)
    env_rot: np.ndarray  # (3, 3) world -> map frame
    env_strength: float
    gain: tuple  # (3,) exposure times white balance (factory.render.exposure)
    tone: int  # tables.TONE_CODE
    room: np.ndarray  # (4,) has_room, half width, half depth, height

    @property
    def mesh_kind(self) -> list:
        """(N,) a mesh object's asset key (``MeshAsset.kind``), else None."""
        return [a.kind if a is not None else None for a in self.meshes]


def _surface(m: Material, instance: int, class_id: int) -> SurfaceRow:
    """The row of a surface of material ``m``."""
    return SurfaceRow(
        tuple(m.color),
        tuple(m.color2),
        TEXTURE_CODE[m.texture],
        float(m.texture_scale),
        int(m.pattern_seed),
        float(m.roughness),
        float(m.roughness if m.roughness2 is None else m.roughness2),
        float(m.metallic),
        float(m.specular),
        family_id(m.family) if m.family else 0,
        instance,
        class_id,
    )


# The background's row: never shaded (its pixels show the environment); the walls' of a
# scene without a room: never hit.
_SKY = Material((0.0, 0.0, 0.0), (0.0, 0.0, 0.0), "plain", 1.0, 1.0, 0.0, family="")
_WALL = matte_paint((0.8, 0.8, 0.8))


def scene_tables(scene: Scene) -> SceneTables:
    """The per-scene tables of ``scene``."""
    objs = scene.objects
    class_id = {name: i for i, name in enumerate(scene.classes)}  # the dataset's class table
    surfaces = [
        _surface(_SKY, 0, class_id["background"]),
        _surface(scene.floor, 0, class_id["floor"]),
        _surface(_WALL if scene.room is None else scene.room.wall_material, 0, class_id["wall"]),
    ]
    surfaces += [_surface(o.material, o.id, class_id[o.category]) for o in objs]
    vectors = np.array([li.vector for li in scene.lights], np.float64).reshape(-1, 3)
    # A directional light's emitter is taken as seen from 4 m (the point lights'
    # default distance): its spread is the tangent of the half-angle.
    lights = [
        LightRow(
            LIGHT_CODE[li.kind],
            tuple(v),
            tuple(li.intensity * c for c in li.color),
            float(ref),
            li.size / 4.0 if li.kind == "directional" else li.size,
        )
        for li, v, ref in zip(scene.lights, vectors.tolist(), np.linalg.norm(vectors, axis=1))
    ]
    room = scene.room
    env = scene_env(scene)
    return SceneTables(
        shape=np.array([o.kind.code for o in objs], np.int32),
        meshes=[o.mesh_data for o in objs],
        dims=np.array([o.dims for o in objs], np.float64).reshape(-1, 3),
        radius=np.array([o.bounding_radius for o in objs], np.float64),
        convex=np.array([o.kind.convex for o in objs], np.int32),
        surfaces=surfaces,
        lights=lights,
        ambient=float(scene.ambient),
        env=env,
        env_rot=map_rotation(scene.backdrop),
        env_strength=float(scene.backdrop.strength),
        gain=exposure_gain(scene, env),
        tone=TONE_CODE[scene.camera.tone],
        room=np.array([0, 0, 0, 0] if room is None else [1, room.width / 2, room.depth / 2, room.height], np.float64),
    )
