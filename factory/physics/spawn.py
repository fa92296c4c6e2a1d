"""Whether a scene's objects start clear of each other and of the static geometry, as
MuJoCo's own collision detection sees them (the shapes that will collide, not bounding
spheres): a clip whose objects start inside each other explodes apart on its first
step. The sampler draws such a scene again (:func:`factory.sample.scenes.sample_scene`).
"""

from __future__ import annotations

from factory.scene.types import Scene

SPAWN_TOLERANCE = 1e-3  # metres of overlap at t = 0 that are let pass (stacks start 1 mm apart)


def spawn_overlap(scene: Scene, built=None) -> str | None:
    """None if no two shapes overlap by more than ``SPAWN_TOLERANCE`` at t = 0, else
    which two overlap first, and by how much. ``built``: the scene's model
    (:func:`factory.physics.model.build`), made here when not given."""
    import mujoco

    from factory.physics.model import build

    built = build(scene) if built is None else built
    data = mujoco.MjData(built.model)
    mujoco.mj_forward(built.model, data)
    if data.ncon == 0:
        return None
    contacts = data.contact
    deepest = int(contacts.dist.argmin())
    depth = -float(contacts.dist[deepest])
    if depth <= SPAWN_TOLERANCE:
        return None
    if min(contacts.geom1[deepest], contacts.geom2[deepest]) < 0:  # a flex's contact: it has no geom
        softs = {sm.flex: sm.cloth.id for sm in built.soft}
        flex = [int(f) for f in contacts.flex[deepest] if f in softs]
        if flex:
            return f"soft body {softs[flex[0]]} starts {1e3 * depth:.1f} mm inside something"
        return f"a cloth starts {1e3 * depth:.1f} mm inside something"
    a, b = sorted(int(built.geom_owner[g]) for g in (contacts.geom1[deepest], contacts.geom2[deepest]))
    what = "the floor or a wall" if a == 0 else f"object {a}"
    return f"object {b} starts {1e3 * depth:.1f} mm inside {what}"
