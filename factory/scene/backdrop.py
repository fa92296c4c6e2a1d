"""Draw a scene's backdrop (:class:`~factory.scene.types.Backdrop`) and the light its
sun makes, from a scenario's ``backdrop`` block (:class:`factory.scene.look_specs.BackdropSpec`).

The map frame is the world turned by ``rotation`` about +z: a map direction m is the
world direction ``Rz(rotation) m``. A sky's sun stands at map azimuth 0 (+x) at its
drawn elevation (:mod:`factory.scene.sky`); an HDRI's brightest region is cut out of
the map it lights with and becomes a directional light (the assets catalogue,
:meth:`factory.scene.types.AssetSource.backdrop`), so shadows fall where the backdrop
says the light comes from.
"""

from __future__ import annotations

import math

import numpy as np

from factory.scene.colour import LUMA
from factory.scene.look_specs import BackdropSpec
from factory.scene.sky import sun_light
from factory.scene.types import AssetSource, Backdrop, Light, rot_z

# A directional light's emitter is seen as from 4 m (factory.render.batch): a sun of
# angular half-width a is an emitter of half-width 4 tan(a).
_EMITTER_DISTANCE = 4.0


def draw_backdrop(spec: BackdropSpec, rng, draw, assets: AssetSource) -> tuple[Backdrop, tuple[Light, ...]]:
    """The backdrop of a scenario and its sun as lights (none, or one directional
    light of source ``backdrop``); ``draw(rng, name, param)`` samples and records."""
    kind = draw(rng, "backdrop.kind", spec.kind)
    rotation = math.radians(draw(rng, "backdrop.rotation_deg", spec.rotation_deg))
    strength = float(draw(rng, "backdrop.strength", spec.strength))
    turn = rot_z(rotation)
    if kind == "sky":
        elevation = float(draw(rng, "backdrop.sun_elevation_deg", spec.sun_elevation_deg))
        turbidity = float(draw(rng, "backdrop.turbidity", spec.turbidity))
        # Quantised so that the maps of nearby draws are one cached map (half a degree,
        # a tenth of turbidity: below what a 64 x 32 map shows).
        elevation, turbidity = round(elevation * 2.0) / 2.0, round(turbidity, 1)
        el = math.radians(elevation)
        sun = (math.cos(el), 0.0, math.sin(el))
        s = sun_light(elevation, turbidity)
        light = _sun(turn, sun, s.intensity * strength, s.colour, math.radians(s.half_angle_deg))
        backdrop = Backdrop(
            kind, rotation, strength, el, turbidity, sun=sun, key=f"sky:{elevation:.1f}:{turbidity:.1f}"
        )
        return backdrop, (light,) if el > 0 else ()
    if kind == "hdri":
        drawn = assets.backdrop(spec, rng)
        rgb = np.asarray(drawn.sun_rgb, np.float64) * strength
        luma = float(rgb @ LUMA)
        backdrop = Backdrop(
            kind,
            rotation,
            strength,
            asset=drawn.ref,
            image=drawn.image,
            lighting=drawn.lighting,
            sun=drawn.sun,
            sun_cone=drawn.sun_cone,
            key=drawn.key,
        )
        if luma <= 0.0:
            return backdrop, ()
        colour = tuple(float(c) for c in rgb / luma)
        return backdrop, (_sun(turn, drawn.sun, luma, colour, drawn.sun_cone),)
    return Backdrop(kind, rotation, strength, key=kind), ()


def _sun(turn: np.ndarray, sun, intensity: float, colour, half_angle: float) -> Light:
    """The directional light of a sun at map direction ``sun`` (unit)."""
    d = turn @ np.asarray(sun, np.float64)
    size = _EMITTER_DISTANCE * math.tan(half_angle)
    return Light("directional", tuple(float(v) for v in d), float(intensity), size, tuple(colour), 0.0, "backdrop")
