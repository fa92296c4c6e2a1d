"""A scene's exposure and white balance as per-channel gains on its linear radiance
(what :func:`factory.render.tone.display` multiplies by before the tone curve).

``fixed``: the exposure is ``2^ev``: radiance ``2^-ev`` shows as 1 before the curve.
``auto``: an incident-light meter at the camera's look-at point, as a photographer's:
the light falling there (irradiance over pi, so a white matte card shows it as its
radiance) on a card facing up and on one facing the camera at t = 0, averaged; the
backdrop's irradiance, the uniform fill and every light unshadowed; its Rec. 709
luminance E is exposed to 1 (times ``2^ev``), so an 18% grey card there shows as 0.18
and a white one as 1, which the filmic curve keeps off clipping. White balance: the
gains of :func:`factory.scene.colour.white_balance` at ``white_balance_k``.
"""

from __future__ import annotations

import numpy as np

from factory.render.envmap import EnvMap, sh_irradiance
from factory.render.scene_env import map_rotation
from factory.scene.colour import LUMA, white_balance
from factory.scene.types import Scene, camera_centre


def metered(scene: Scene, env: EnvMap) -> float:
    """The metered light E (luminance of the irradiance over pi, relative units) at the
    camera's target (see the module docstring)."""
    cam = scene.camera
    target = np.asarray(cam.target, np.float64)
    towards = camera_centre(cam, 0.0) - target
    normals = np.array([[0.0, 0.0, 1.0], towards / max(np.linalg.norm(towards), 1e-9)])
    into_map = map_rotation(scene.backdrop)
    light = sh_irradiance(env.sh, normals @ into_map.T) * scene.backdrop.strength + scene.ambient
    for li in scene.lights:
        rgb = li.intensity * np.asarray(li.color, np.float64)
        if li.kind == "directional":
            to = np.asarray(li.vector, np.float64)
            falloff = 1.0
        else:
            to = np.asarray(li.vector, np.float64) - target
            dist = max(float(np.linalg.norm(to)), 1e-3)
            falloff = (float(np.linalg.norm(li.vector)) / dist) ** 2
            to = to / dist
        light = light + np.maximum(normals @ to, 0.0)[:, None] * rgb * falloff
    return float(light.mean(0) @ LUMA)


def exposure_gain(scene: Scene, env: EnvMap) -> tuple[float, float, float]:
    """Per-channel gains (3,): exposure times white balance (see the module docstring)."""
    cam = scene.camera
    k = 2.0**cam.ev
    if cam.exposure == "auto":
        k = k / max(metered(scene, env), 1e-6)
    return tuple(float(k * g) for g in white_balance(cam.white_balance_k))
