"""A scenario's liquid (``liquid:``): its config block and its draw into the pure data
of :mod:`factory.scene.liquids` plus the static boxes it is held in.

A ``setup`` places the liquid and its vessel about the origin, along the world axes
(the camera's azimuth varies the view):

* ``dam_break``: a tank (an open box ``tank`` x ``tank_width`` x ``tank_height``
  inside) with a square column ``size`` wide and high against its -x wall, released;
* ``pour``: a bowl (an open box ``tank`` x ``tank`` x ``tank_height`` / 2) and a
  stream ``size`` / 3 wide and ``size`` tall falling into it at ``pour_speed`` from
  ``tank_height`` above its rim;
* ``splash``: the tank filled ``size`` deep, at rest, for the scenario's objects to be
  dropped into (``objects.drop_height``, ``spawn_radius`` inside the tank);
* ``ramp``: a slope ``tank`` long and ``tank_width`` wide at ``ramp_deg`` whose high
  end holds a block of ``size``, released to run down it into a tray (an open box
  ``tank`` / 2 long, ``tank_height`` / 3 deep) under its low end.

The vessel's walls and floor (and the ramp) are static box objects, like furniture:
MuJoCo's rigid bodies meet them, the renderer draws them (``vessel_material``), and
the liquid meets them and every other object as colliders, one way
(:mod:`factory.physics.liquid_coupling`). Nothing here but the draws from the
sample's ``deformables`` stream.
"""

from __future__ import annotations

import math

import numpy as np
from pydantic import Field

from factory.scene.appearance import Appearance, Family, families
from factory.scene.fields import category, const, number
from factory.scene.liquids import Collider, Liquid, open_box, ramp
from factory.scene.placement import static_box
from factory.scene.types import SceneObject

SETUPS = ("dam_break", "pour", "splash", "ramp")
LIQUID_CLASS = "liquid"
VESSEL_CLASS = "container"
_WALL = 0.04  # metres: the vessel's wall and floor thickness (>= 2 particle spacings at the defaults)


class LiquidSpec(Appearance):
    """One particle liquid per sample (see the module docstring for the setups)."""

    material: category(("water",)) = families(("water",))
    setup: category(SETUPS) = const("dam_break")
    size: number(ge=0.04, le=2.0) = const(0.2)  # metres: the column's edge (see the setups)
    tank: number(ge=0.1, le=5.0) = const(0.6)  # metres: the vessel's inside along x
    tank_width: number(ge=0.05, le=5.0) = const(0.25)  # metres: along y
    tank_height: number(ge=0.05, le=3.0) = const(0.3)  # metres
    ramp_deg: number(ge=5.0, le=60.0) = const(25.0)
    pour_speed: number(ge=0.0, le=5.0) = const(1.0)  # m/s, downwards
    spacing: number(ge=0.01, le=0.1) = const(0.025)  # metres between particles
    density: number(gt=1.0, le=20000.0) = const(1000.0)  # kg/m^3
    viscosity: number(ge=0.0, le=1.0) = const(0.02)  # XSPH coefficient (factory.scene.liquids.Liquid)
    surface_tension: number(ge=0.0, le=5.0) = const(0.0)  # cohesion, m/s^2
    substeps: int = Field(12, ge=1, le=200, description="liquid substeps per frame (PBF)")
    iterations: int = Field(4, ge=1, le=20, description="PBF iterations per substep")
    vessel_material: Family = families(("ceramic",))


def liquid_classes(config) -> tuple[str, ...]:
    """The classes a config's liquids add to its class table: the liquid and its vessel."""
    return (LIQUID_CLASS, VESSEL_CLASS) if any(sc.liquid is not None for sc in config.scenarios.values()) else ()


def draw_liquid(spec: LiquidSpec | None, first: int, rng, draw) -> tuple[tuple[Liquid, ...], list[SceneObject]]:
    """The scenario's liquid (ids from ``first``: its vessel's boxes, then the liquid)
    and its vessel's static boxes; nothing without a ``liquid`` block."""
    if spec is None:
        return (), []
    setup = str(draw(rng, "liquid.setup", spec.setup))
    a = float(draw(rng, "liquid.size", spec.size))
    L, W, H = (float(draw(rng, f"liquid.{k}", getattr(spec, k))) for k in ("tank", "tank_width", "tank_height"))
    velocity = np.zeros(3)
    if setup == "dam_break":
        parts, block = (
            open_box((0.0, 0.0, _WALL), (L, W, H), _WALL),
            ((-L / 2, -W / 2, _WALL), (-L / 2 + a, W / 2, _WALL + a)),
        )
    elif setup == "pour":
        parts = open_box((0.0, 0.0, _WALL), (L, L, H / 2), _WALL)
        s, z0 = a / 3, _WALL + H / 2 + H
        block = ((-s / 2, -s / 2, z0), (s / 2, s / 2, z0 + a))
        velocity = np.array([0.0, 0.0, -float(draw(rng, "liquid.pour_speed", spec.pour_speed))])
    elif setup == "splash":
        parts, block = (
            open_box((0.0, 0.0, _WALL), (L, W, H), _WALL),
            ((-L / 2, -W / 2, _WALL), (L / 2, W / 2, _WALL + a)),
        )
    else:  # ramp: its low end above a tray's inside, its high end holding the block
        angle = math.radians(float(draw(rng, "liquid.ramp_deg", spec.ramp_deg)))
        rim = _WALL + H / 3
        low_x, low_z = L / 2 * math.cos(angle), rim + _WALL
        top = (low_x - L * math.cos(angle), 0.0, low_z + L * math.sin(angle))
        tray = open_box((low_x - _WALL + L / 4, 0.0, _WALL), (L / 2, W + 2 * _WALL, H / 3), _WALL)
        parts = [ramp(top, L, W, angle, _WALL), *tray]
        x0, z0 = top[0] + _WALL, top[2] + a / 2
        block = ((x0, -W / 2 + _WALL, z0), (x0 + a, W / 2 - _WALL, z0 + a))
    vessel = _vessel(parts, first, spec.vessel_material, rng, draw)
    liquid = Liquid(
        id=first + len(vessel),
        block=block,
        spacing=float(draw(rng, "liquid.spacing", spec.spacing)),
        velocity=tuple(float(v) for v in velocity),
        density=float(draw(rng, "liquid.density", spec.density)),
        viscosity=float(draw(rng, "liquid.viscosity", spec.viscosity)),
        surface_tension=float(draw(rng, "liquid.surface_tension", spec.surface_tension)),
        material=spec.draw_material(rng, draw, "liquid."),
        substeps=spec.substeps,
        iterations=spec.iterations,
    )
    return (liquid,), vessel


def _vessel(parts: list[Collider], first: int, family, rng, draw) -> list[SceneObject]:
    """The vessel's boxes as static objects."""
    material = Appearance(material=family).draw_material(rng, draw, "liquid.vessel_")
    return [static_box(first + k, VESSEL_CLASS, c.size, c.position, material, c.rotation) for k, c in enumerate(parts)]
