"""The config blocks of how a scene looks: its lights, its backdrop (the environment
seen behind it and lighting it) and its camera (pose, trajectory, exposure, tone).

Units: metres, seconds, degrees where a name says ``_deg``, kelvin where it says
``_k``. A light's ``intensity`` I makes a white matte surface facing it as bright as a
white background of radiance I; the backdrop's ``strength`` scales its radiance.
"""

from __future__ import annotations

from pydantic import Field

from factory.scene.distributions import Param
from factory.scene.fields import Fraction, NonNegative, Real, Strict, category, const, number

TRAJECTORIES = ("static", "orbit", "dolly", "handheld")
# directional: parallel rays (a sun); point: a bulb; area: a square emitter of half-width
# ``size`` (at least AREA_MIN_SIZE) facing what it lights, for soft shadows.
LIGHT_KINDS = ("directional", "point", "area")
AREA_MIN_SIZE = 0.05
# flat: a uniform colour (the sky_value's pale blue); sky: a clear sky (Preetham) with its
# sun; overcast: the CIE overcast sky, no sun; hdri: an image of a backdrop pack.
BACKDROPS = ("flat", "sky", "overcast", "hdri")
EXPOSURES = ("auto", "fixed")  # auto: metered from the light falling on the look-at point
TONES = ("filmic", "linear")
RIGS = (
    "stereo",
    "ring",
)  # how render.cameras > 1 cameras stand (docs/format.md, "Cameras")  # filmic: ACES (Narkowicz 2015) highlight roll-off; linear: clip


class LightingSpec(Strict):
    """Lights besides the backdrop's sun (``count`` 0: the backdrop alone)."""

    count: number(ge=0, le=8, integer=True) = const(0)
    kind: category(LIGHT_KINDS) = const("directional")
    intensity: number(ge=0.0, le=100.0) = const(1.0)  # 1: a white matte surface facing it is white
    temperature_k: number(ge=1000.0, le=40000.0) = const(6500.0)  # colour temperature; 6500: white
    elevation_deg: number(ge=1.0, le=90.0) = const(50.0)
    azimuth_deg: Real = Param("uniform", (0.0, 360.0))
    distance: number(gt=0.0, le=1000.0) = const(4.0)  # metres, point and area lights
    size: number(ge=0.0, le=10.0) = const(0.0)  # half-width (m) of the emitter; 0: point-like
    ambient: Fraction = const(0.0)  # a uniform white fill on top of the backdrop's light
    sky_value: Fraction = const(0.85)  # brightness of a flat backdrop


class BackdropSpec(Strict):
    """What is seen behind the scene and lights it: the floor (an infinite plane) hides
    the lower half, so its horizon is the floor's own vanishing line."""

    kind: category(BACKDROPS) = const("sky")
    pack: str = Field("curated", description="hdri: a backdrop pack of assets.backdrops ('curated' ships in factory)")
    ids: tuple[str, ...] = Field((), description="hdri: draw only these backdrops; none: any of the split")
    categories: tuple[str, ...] = Field((), description="hdri: draw only these categories; none: any")
    rotation_deg: Real = Param("uniform", (0.0, 360.0))  # about +z: where the sun and the map's features stand
    strength: number(ge=0.0, le=1000.0) = const(1.0)  # scales the backdrop's radiance and its sun
    sun_elevation_deg: number(ge=-5.0, le=90.0) = Param("uniform", (15.0, 70.0))  # sky
    turbidity: number(ge=1.7, le=10.0) = Param("uniform", (2.0, 5.0))  # sky: 2 clear .. 10 hazy


class CameraSpec(Strict):
    fov_deg: number(ge=5.0, le=150.0) = const(55.0)  # horizontal field of view
    distance: number(gt=0.1, le=1000.0) = const(5.0)  # metres from the look-at target
    elevation_deg: number(ge=-80.0, le=89.0) = const(30.0)
    azimuth_deg: Real = Param("uniform", (0.0, 360.0))
    target_height: Real = const(0.2)  # metres, z of the look-at point
    trajectory: category(TRAJECTORIES) = const("static")
    orbit_speed_deg_s: Real = const(20.0)
    dolly_speed: Real = const(0.5)  # m/s towards the target
    jitter_m: NonNegative = const(0.01)  # handheld translation amplitude
    jitter_deg: NonNegative = const(0.5)  # handheld rotation amplitude
    noise_std: number(ge=0.0, le=64.0) = const(0.0)  # sensor noise, 8-bit levels
    shutter: Fraction = const(0.0)  # exposure as a fraction of 1/fps; > 0 blurs RGB
    exposure: category(EXPOSURES) = const("auto")
    # auto: stops over the metered exposure; fixed: radiance 2^-ev maps to 1 before the tone curve
    ev: number(ge=-20.0, le=20.0) = const(0.0)
    tone: category(TONES) = const("filmic")
    white_balance_k: number(ge=1000.0, le=40000.0) = const(6500.0)  # a light of this temperature renders white
    # A rig of render.cameras > 1 cameras (drawn only then): stereo, a row along camera 0's
    # x axis at ``baseline`` metres' spacing, all looking the same way; ring, the cameras
    # spread over ``ring_spread_deg`` of azimuth about the target, each looking at it.
    rig: category(RIGS) = const("stereo")
    baseline: number(gt=0.0, le=10.0) = const(0.1)
    ring_spread_deg: number(gt=0.0, le=360.0) = const(90.0)


class RigSettings(Strict):
    """The dataset-wide camera count of ``render`` (RenderSettings' base: config.py is
    full): the same K in every sample, as Ray's ``read_webdataset`` needs the same
    members in every row; how the K cameras stand is each scenario's ``camera.rig``."""

    cameras: int = Field(1, ge=1, le=16, description="cameras per clip (a rig: camera.rig; docs/format.md, Cameras)")
