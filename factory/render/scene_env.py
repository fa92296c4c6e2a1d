"""A scene's environment as the renderer lights with it: the
:class:`~factory.render.envmap.EnvMap` of its backdrop (:class:`~factory.scene.types.Backdrop`)
and the rotation from the world into the map's frame.

* flat: a uniform map of the scene's ``sky_color``;
* sky / overcast: the map of :mod:`factory.scene.sky` at the backdrop's parameters
  (its sun is a light of the scene), cached by the backdrop's key;
* hdri: level 0 (what the camera and mirrors see) from the image as it is; the other
  levels and the irradiance from the image less its sun region, which the scene
  holds as a directional light instead (so it casts shadows and is not counted twice).
"""

from __future__ import annotations

import numpy as np

from factory.render.envmap import EnvMap, cached_env, env_from_image, uniform_env
from factory.scene.sky import overcast_image, sky_image
from factory.scene.types import Backdrop, Scene, rot_z

SKY_HEIGHT = (
    32  # rows of a procedural sky's map (64 x 32: a smooth sky needs no more, and a new one takes 1.5 ms, not 4.5)
)


def map_rotation(backdrop: Backdrop) -> np.ndarray:
    """(3, 3) float64 rotation taking world directions into the map's frame:
    ``Rz(-rotation)``."""
    return rot_z(-backdrop.rotation)


def scene_env(scene: Scene) -> EnvMap:
    """The environment map of ``scene``'s backdrop (see the module docstring)."""
    b = scene.backdrop
    if b.kind == "flat":
        return uniform_env(scene.sky_color)
    if b.kind == "sky":
        el = float(np.degrees(b.sun_elevation))
        return cached_env(("sky", b.key), lambda: env_from_image(sky_image(el, b.turbidity, SKY_HEIGHT)))
    if b.kind == "overcast":
        return cached_env(("overcast", SKY_HEIGHT), lambda: env_from_image(overcast_image(SKY_HEIGHT)))
    return cached_env(("hdri", b.key), lambda: _hdri(b))


def _hdri(b: Backdrop) -> EnvMap:
    seen = env_from_image(b.image)
    lit = env_from_image(b.lighting if b.lighting is not None else b.image)
    return EnvMap(levels=(seen.levels[0], *lit.levels[1:]), sh=lit.sh, mean=lit.mean)
