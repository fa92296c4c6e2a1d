"""The config blocks of a scenario's deformable things: cloth sheets (``cloth:``), the
wind over them (``wind:``) and volumetric soft bodies (``soft:``);
:mod:`factory.scene.deformable_draw` draws them.

Units: metres, seconds, kilograms, pascals; degrees where a name says ``_deg``. Every
physical parameter is a constant or a distribution, drawn per sheet and recorded in
the metadata (docs/format.md, "Deformables").
"""

from __future__ import annotations

from factory.scene.appearance import Appearance, families
from factory.scene.distributions import Param
from factory.scene.fields import Real, Strict, category, const, number
from factory.scene.liquid_draw import liquid_classes

# drape: a level sheet over the objects nearest its centre, ``lift`` above the highest of
# them, falling onto them; drop: a level sheet ``lift`` above whatever is below it, at a
# random spot; hang: an upright sheet (a flag, a curtain, a towel on a line) whose top
# edge is at ``top``, held by its ``pinned`` vertices; screen: hung like that, facing the
# camera, ``screen_at`` of the way from the look-at point to the camera (it hides what
# is behind it, and the wind opens and closes the view).
CLOTH_PLACEMENTS = ("drape", "drop", "hang", "screen")
PINS = ("none", "top", "corners")  # factory.scene.deformables.edge_vertices
# The semantic class of every sheet (a dataset whose config draws cloth gets it in its
# class table, after the built-in classes: factory.assets.catalog).
CLOTH_CLASS = "cloth"
SOFT_CLASS = "soft_body"


class ClothSpec(Appearance):
    """Cloth sheets of a scenario: ``count`` of them, each a grid of vertices
    ``resolution`` along its longer side, simulated as a MuJoCo flex shell
    (:mod:`factory.physics.cloth`)."""

    material: category(("fabric", "plastic", "rubber", "cardboard")) = families(("fabric",))
    count: number(ge=0, le=4, integer=True) = const(1)
    placement: category(CLOTH_PLACEMENTS) = const("drape")
    width: number(gt=0.05, le=10.0) = const(1.0)  # metres, along the sheet's local x
    length: number(gt=0.05, le=10.0) = const(1.0)  # metres, along local y (upright when hung)
    resolution: number(ge=4, le=64, integer=True) = const(16)  # vertices along the longer side
    lift: number(ge=0.0, le=5.0) = const(0.15)  # drape, drop: metres above what is below it
    top: number(gt=0.1, le=10.0) = const(1.5)  # hang: height of the top edge, metres
    spread: number(ge=0.0, le=10.0) = const(0.3)  # metres: its centre is uniform in a disc this wide
    yaw_deg: Real = Param("uniform", (0.0, 360.0))  # its turn about +z (not a screen's)
    screen_at: number(ge=0.0, le=0.9) = const(0.35)  # screen: share of the way to the camera
    pinned: category(PINS) = const("none")
    young: number(gt=1e2, le=1e9) = const(1e5)  # Pa, the stretch modulus (x thickness: N/m)
    poisson: number(ge=0.0, le=0.49) = const(0.3)
    thickness: number(gt=1e-4, le=0.02) = const(1e-3)  # metres (stiffness only)
    bend: bool = True  # resists bending (MuJoCo's shell) as well as stretch
    damping: number(ge=0.0, le=0.1) = const(2e-3)  # s, stiffness-proportional
    density: number(gt=0.01, le=5.0) = const(0.2)  # kg/m^2, areal
    friction: number(ge=0.0, le=2.0) = const(0.5)


class WindSpec(Strict):
    """A horizontal wind over the whole clip (:class:`factory.scene.deformables.Wind`):
    ``speed`` m/s towards azimuth ``direction_deg`` (from +x towards +y), plus a gust
    of amplitude ``gust`` m/s and period ``period`` s along it, at a drawn phase."""

    speed: number(ge=0.0, le=40.0) = const(3.0)
    direction_deg: Real = Param("uniform", (0.0, 360.0))
    gust: number(ge=0.0, le=40.0) = const(0.0)
    period: number(gt=0.05, le=60.0) = const(2.0)
    drag: number(gt=0.0, le=5.0) = const(1.0)  # a face's normal drag coefficient
    air_density: number(gt=0.0, le=10.0) = const(1.2)  # kg/m^3


class SoftSpec(Appearance):
    """Soft bodies of a scenario (a squishy ball, a cushion): ``count`` of them, each a
    tetrahedral lattice (:class:`factory.scene.deformables.SoftBody`) simulated as a
    MuJoCo flex of dimension 3 (:mod:`factory.physics.softbody`), dropped from ``lift``
    above whatever is below it at a spot uniform in a disc of ``spread``, with
    ``speed`` m/s sideways in a random direction plus ``vertical_speed`` (+z up)."""

    material: category(("rubber", "plastic", "fabric", "glossy_paint")) = families(("rubber", "fabric"))
    count: number(ge=0, le=8, integer=True) = const(1)
    shape: category(("ball", "box")) = const("ball")
    size: number(gt=0.02, le=1.0) = const(0.15)  # metres: a ball's radius, a box's half width
    aspect: number(gt=0.1, le=4.0) = const(1.0)  # a box's height over its width
    resolution: number(ge=3, le=8, integer=True) = const(5)  # vertices along its longest side
    lift: number(ge=0.0, le=5.0) = const(0.3)  # metres above what is below it
    spread: number(ge=0.0, le=10.0) = const(0.5)
    speed: number(ge=0.0, le=10.0) = const(0.0)
    vertical_speed: Real = const(0.0)
    young: number(ge=1e4, le=1e6) = const(5e4)  # Pa; stable and volume-keeping range (benchmarks/README.md)
    poisson: number(ge=0.0, le=0.49) = const(0.45)
    damping: number(ge=1e-3, le=2e-2) = const(2e-3)  # s
    density: number(gt=10.0, le=2000.0) = const(200.0)  # kg/m^3
    friction: number(ge=0.0, le=2.0) = const(0.6)


def deformable_classes(config) -> tuple[str, ...]:
    """The semantic classes the config's deformables add to its class table (sorted in
    with the assets' categories by :class:`factory.assets.catalog.Catalog`)."""
    drawn = {CLOTH_CLASS: False, SOFT_CLASS: False}
    for sc in config.scenarios.values():
        drawn[CLOTH_CLASS] |= sc.cloth is not None and sc.cloth.count.upper() > 0
        drawn[SOFT_CLASS] |= sc.soft is not None and sc.soft.count.upper() > 0
    return tuple(name for name, yes in drawn.items() if yes) + liquid_classes(config)
