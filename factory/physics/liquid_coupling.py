"""A scene's liquids against its rigid motion: the objects as colliders, the clip's
particle simulation (:func:`factory.physics.liquid.simulate_liquid`) and each frame's
surface (:func:`factory.physics.liquid_surface.liquid_surface`).

Coupling is one way: every object of the scene (the vessel's static boxes, furniture,
moving objects) is a collider posed by the rigid motion at each liquid substep, and
the liquid never pushes back (:func:`factory.physics.liquid.object_colliders`: an
analytic kind's own parts, a mesh kind its bounding box, which the liquid keeps out
of). The room's walls, when there is a room, are the liquid's bounds; the floor
always holds it.
"""

from __future__ import annotations

import numpy as np

from factory.physics.liquid import object_colliders, object_poses, simulate_liquid
from factory.physics.liquid_surface import liquid_surface
from factory.scene.types import Scene

SURFACE_RESOLUTION = 2  # marching-cubes cells per particle spacing


class FrameMeshes(list):
    """One liquid's surface per frame, (vertices (V, 3), faces (F, 3) int32, velocities
    (V, 3)) at ``k / fps`` seconds, world, metres and m/s."""

    def __init__(self, meshes: list, fps: float):
        super().__init__(meshes)
        self.fps = fps


def with_liquids(scene: Scene, motion, stop=None, device: str = "cpu"):
    """``motion`` with its ``liquids`` (a LiquidRecord each) and ``liquid_meshes``
    (per liquid, per frame (vertices (V, 3), faces (F, 3) int32, velocities (V, 3)),
    world, metres and m/s) filled in; unchanged without liquids."""
    if not scene.liquids:
        return motion
    colliders, owners = object_colliders(scene.objects)

    def poses(time: float):
        return object_poses(colliders, owners, *motion.state_at(time))

    bounds = None
    if scene.room is not None:
        r = scene.room
        bounds = ((-r.width / 2, -r.depth / 2, 0.0), (r.width / 2, r.depth / 2, r.height))
    for liquid in scene.liquids:
        record = simulate_liquid(
            liquid, colliders, scene.frames, scene.fps, liquid.substeps, liquid.iterations,
            device=device, stop=stop, bounds=bounds, poses=poses if colliders else None,
        )  # fmt: skip
        meshes = FrameMeshes([_surface(record, t, liquid.spacing, device) for t in range(scene.frames)], scene.fps)
        motion.liquids.append(record)
        motion.liquid_meshes.append(meshes)
    return motion


def _surface(record, t: int, spacing: float, device: str) -> tuple:
    """Frame t's surface; where the field has none (every particle alone: a film one
    particle thick), one triangle of zero area at the particles' mean, which no ray
    meets, so every frame has a mesh."""
    verts, faces, vel = liquid_surface(record.positions[t], record.velocities[t], spacing, SURFACE_RESOLUTION, device)
    if len(faces):
        return verts, faces, vel
    mean = record.positions[t].astype(np.float64).mean(0)
    return np.tile(mean, (3, 1)), np.array([[0, 1, 2]], np.int32), np.zeros((3, 3))


def liquid_mesh_at(meshes: FrameMeshes, time: float) -> tuple:
    """A liquid's surface at ``time`` seconds: its nearest frame's (vertices, faces,
    velocities) with the vertices moved on by their velocities to ``time`` (the frame's
    own at its time)."""
    fps = meshes.fps
    k = int(min(max(np.floor(time * fps + 0.5), 0), len(meshes) - 1))
    verts, faces, vel = meshes[k]
    dt = time - k / fps
    return (verts + dt * vel if dt else verts), faces, vel
