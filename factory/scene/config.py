"""Typed, validated scenario configuration.

A config file is YAML (read with ``yaml.safe_load``) with one dataset-level block and
named, weighted scenarios::

    name: quickstart
    seed: 7
    render: {width: 128, height: 128, frames: 8, fps: 12}
    scenarios:
      nominal: {weight: 0.7, objects: {count: {dist: randint, low: 3, high: 6}}}
      night:   {weight: 0.3, lighting: {intensity: 0.2}}

It is validated once, before any work, by :func:`load_config` / :func:`parse_config`.
Unknown keys are errors. Every failure is a :class:`~factory.errors.ConfigError` whose
lines name the field path (``scenarios.night.lighting.intensity``), the bad value and
what is allowed. Units: metres, kilograms, seconds, degrees where the name says ``_deg``.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import Field, ValidationError, model_validator
from pydantic_core import PydanticCustomError

from factory.errors import ConfigError
from factory.scene.appearance import FLOOR_DEFAULT, WALL_DEFAULT, Appearance, Family, families
from factory.scene.asset_fields import ASSET_SHAPE, ASSET_SHAPES_SHOWN, SPLITS, Finite, Override
from factory.scene.deformable_specs import ClothSpec, SoftSpec, WindSpec
from factory.scene.distributions import parse_choice
from factory.scene.fields import Fraction, NonNegative, Real, Strict, category, const, number
from factory.scene.liquid_draw import LiquidSpec
from factory.scene.look_specs import BackdropSpec, CameraSpec, LightingSpec, RigSettings
from factory.scene.materials import FURNITURE_FAMILIES, TEXTURES  # noqa: F401  (TEXTURES: the config's names)
from factory.scene.shapes import ANALYTIC, KINDS
from factory.scene.validation import validation_problems

PLACEMENTS = ("scatter", "stack", "on_furniture", "roll")  # factory.scene.placement
# Where the renderer's kernels run (factory.render.device), and the most views (frames,
# blur sub-frames) one render launch holds, however render.batch_views or the device's
# memory would size it. The one place for both: RenderSettings, the Serve settings, the
# renderer and the commands' --device / --batch-views read them from here.
DEVICES = ("cpu", "cuda")
MAX_BATCH_VIEWS = 4096
# The PNG writers of factory.sample.encode (libdeflate: factory.sample.png; opencv: libpng +
# zlib 1, every dataset's bytes before issue 23); DEFAULT_PNG: output.png's and encode's default.
PNG_WRITERS = ("libdeflate", "opencv")
DEFAULT_PNG = "libdeflate"


class RenderSettings(RigSettings):
    width: int = Field(128, ge=8, le=4096, description="image width, pixels")
    height: int = Field(128, ge=8, le=4096, description="image height, pixels")
    frames: int = Field(8, ge=1, le=1000, description="frames per clip (T)")
    fps: float = Field(12.0, gt=0, le=1000, description="frames per second of the clip")
    substeps: int = Field(8, ge=1, le=256, description="physics steps per frame")
    motion_blur_samples: int = Field(
        5, ge=1, le=64, description="sub-frame renders averaged when a scenario's shutter > 0"
    )
    device: Literal[DEVICES] = Field("cpu", description="where the renderer's Warp kernels run: cpu or cuda")
    shadow_rays: int = Field(
        1, ge=1, le=64, description="shadow rays per light and pixel; > 1 gives soft shadows from lights of size > 0"
    )
    ao_rays: int = Field(0, ge=0, le=64, description="ambient-occlusion rays per pixel; 0 turns it off")
    ao_distance: float = Field(0.5, gt=0, le=100.0, description="metres within which an occluder darkens ambient")
    batch_views: int = Field(
        0,
        ge=0,
        le=MAX_BATCH_VIEWS,
        description="views (frames, blur sub-frames) per render launch; 0: sized from memory",
    )

    def rays_per_pixel(self, lights: int) -> int:
        """Rays one pixel of one view casts in a scene of ``lights`` lights: the camera's
        and the flow's, ``shadow_rays`` per light and ``ao_rays``. It sizes a render
        launch (factory.render.device) and prices a request (factory.service.cost)."""
        return 2 + lights * self.shadow_rays + self.ao_rays

    @model_validator(mode="after")
    def _fits_one_member(self):
        pixels = self.frames * self.height * 2 * self.width
        if pixels > MAX_MEMBER_PIXELS:
            raise PydanticCustomError(
                "too_large",
                "frames x height x 2 x width = {pixels} pixels in flow.png, over {limit} (Pillow's "
                "decompression-bomb limit, which WebDataset readers enforce); use fewer frames or a smaller image",
                {"pixels": pixels, "limit": MAX_MEMBER_PIXELS},
            )
        return self


class OutputSettings(Strict):
    mp4: bool = Field(True, description="add an MP4 of the RGB clip to every sample")
    png: Literal[PNG_WRITERS] = Field(
        DEFAULT_PNG,
        description="PNG writer: libdeflate (fast, smaller) or opencv (the bytes of before); the same decoded arrays",
    )
    tracks: int = Field(
        0, ge=0, le=16384, description="point tracks per clip (docs/format.md, Point tracks); 0: no tracks members"
    )
    track_object_share: float = Field(
        0.5, ge=0.0, le=1.0, description="share of the track queries drawn on moving objects (the rest: background)"
    )
    # The optional layers of issue 26 (docs/format.md, "Optional layers"): off by default, their cost is opt-in.
    backward_flow: bool = Field(False, description="add backward_flow.png: each pixel's flow to the previous frame")
    scene_flow: bool = Field(False, description="add scene_flow.png: each pixel's 3D motion to the next frame (m)")
    object_coords: bool = Field(False, description="add object_coords.png: each object pixel's normalised box coords")
    amodal: bool = Field(False, description="add amodal.png: every object's whole silhouette, occluded parts included")
    amodal_depth: bool = Field(
        False, description="add amodal_depth.png: depth of each object's silhouette (needs amodal)"
    )

    @model_validator(mode="after")
    def _amodal_depth_needs_amodal(self):
        if self.amodal_depth and not self.amodal:
            raise PydanticCustomError(
                "needs_amodal",
                "output.amodal_depth is true but output.amodal is false; amodal_depth is the depth of the amodal "
                "masks: set amodal: true too, or amodal_depth: false",
            )
        return self


class ObjectSpec(Appearance):
    """Dynamic objects: how many, their shapes and sizes, how they start and move, and
    their look (:class:`~factory.scene.appearance.Appearance`: a material family per
    object, some of its parameters pinned)."""

    count: number(ge=0, le=256, integer=True) = const(5)
    shape: category(tuple(KINDS), ASSET_SHAPE, ASSET_SHAPES_SHOWN) = parse_choice(
        {"dist": "choice", "values": list(ANALYTIC)}, ANALYTIC
    )
    size: number(gt=0.0, le=20.0) = const(0.25)  # metres: radius / half-extent
    aspect: number(gt=0.0, le=10.0) = const(1.0)  # height over width for non-spheres
    # gen:/pack: objects keep the size their generator or pack gives, times this; with
    # fit_size their largest half-extent is the drawn size instead (MOVi's normalised objects)
    scale: number(gt=0.0, le=20.0) = const(1.0)
    fit_size: bool = False
    generators: dict[str, dict[str, Override]] = Field(
        default_factory=dict,
        description="per generator, params drawn from a narrower range [low, high] or held constant",
    )
    pack_size: tuple[Finite, Finite] = Field(
        (0.0, 100.0), description="pack:<name> draws only assets whose largest extent (m) is in [min, max]"
    )
    pack_categories: tuple[str, ...] = Field((), description="pack:<name> draws only these categories; none: any")
    spawn_radius: NonNegative = const(1.5)  # metres, xy placement disc around the origin
    drop_height: NonNegative = const(0.5)  # metres between lowest point and floor at t=0
    speed: NonNegative = const(0.5)  # m/s, horizontal, random direction
    vertical_speed: Real = const(0.0)  # m/s, +z is up
    spin: Real = const(0.0)  # rad/s about the world z axis
    angular_speed: NonNegative = const(0.0)  # rad/s about a uniformly random axis, on top of spin
    density: number(gt=0.0, le=50000.0) = const(500.0)  # kg/m^3
    restitution: Fraction = const(0.5)
    friction: number(ge=0.0, le=2.0) = const(0.4)
    tumble: Fraction = const(0.0)  # share of objects that start in a uniformly random 3D orientation
    placement: category(PLACEMENTS) = const("scatter")  # how objects start: see factory.scene.placement
    stack_offset: number(ge=0.0, le=2.0) = const(0.3)  # stack: sideways shift, up to this x object size


class FurnitureSpec(Appearance):
    """Static furniture placed against the room's walls: boxes (``shape: box``, sized by
    width, depth and height), generated pieces (``gen:table``, ``gen:shelf``, ...) or
    pack assets, of their own size (``generators`` and ``pack_*`` as in ObjectSpec)."""

    count: number(ge=0, le=32, integer=True) = const(3)
    shape: category(("box",), ASSET_SHAPE, ASSET_SHAPES_SHOWN) = const("box")
    generators: dict[str, dict[str, Override]] = Field(default_factory=dict)
    pack_size: tuple[Finite, Finite] = (0.0, 100.0)  # as in ObjectSpec
    pack_categories: tuple[str, ...] = ()
    width: number(gt=0.0, le=20.0) = const(0.8)  # metres, full extents
    depth: number(gt=0.0, le=20.0) = const(0.5)
    height: number(gt=0.0, le=20.0) = const(0.8)
    material: Family = families(FURNITURE_FAMILIES)


class RoomSpec(Strict):
    """An axis-aligned room centred on the origin: floor at z=0, four walls."""

    width: number(gt=0.5, le=100.0) = const(6.0)  # metres along x
    depth: number(gt=0.5, le=100.0) = const(5.0)  # metres along y
    height: number(gt=0.5, le=50.0) = const(2.8)
    wall_material: Family = WALL_DEFAULT
    wall_hue: Fraction | None = None  # None: the family's draw
    wall_saturation: Fraction | None = None
    wall_value: Fraction | None = None

    def walls(self) -> Appearance:
        """The walls' look as an :class:`~factory.scene.appearance.Appearance`."""
        return Appearance(
            material=self.wall_material, hue=self.wall_hue, saturation=self.wall_saturation, value=self.wall_value
        )


class FloorSpec(Appearance):
    """The floor (the plane z = 0): its look, drawn per sample, and its contact."""

    material: Family = FLOOR_DEFAULT
    restitution: Fraction = const(0.6)
    friction: number(ge=0.0, le=2.0) = const(0.5)


class Scenario(Strict):
    weight: float = Field(1.0, gt=0, le=1e6, description="relative share of the dataset")
    min_count: int = Field(
        0,
        ge=0,
        le=10**9,
        description="at least this many samples of this scenario in a dataset (see factory.scene.allocation)",
    )
    allow_empty: bool = Field(
        False,
        description="keep clips in which no moving object is in view in any frame (else such a draw is drawn again)",
    )
    objects: ObjectSpec = ObjectSpec()
    room: RoomSpec | None = None
    furniture: FurnitureSpec | None = None
    floor: FloorSpec = FloorSpec()
    lighting: LightingSpec = LightingSpec()
    backdrop: BackdropSpec = BackdropSpec()
    camera: CameraSpec = CameraSpec()
    cloth: ClothSpec | None = None  # sheets (factory.scene.deformable_specs)
    wind: WindSpec | None = None
    soft: SoftSpec | None = None
    liquid: LiquidSpec | None = None  # factory.scene.liquid_draw

    def max_lights(self) -> int:
        """The most lights a scene of this scenario holds: ``lighting.count``'s, and
        the backdrop's sun (a sky or an HDRI)."""
        sun = bool({"sky", "hdri"} & set(self.backdrop.kind.values()))
        return int(self.lighting.count.upper()) + int(sun)

    @model_validator(mode="after")
    def _furniture_to_stand_on(self):
        p = self.objects.placement
        if "on_furniture" in p.values() and (self.room is None or self.furniture is None):
            raise PydanticCustomError(
                "placement",
                "objects.placement {value} puts objects on furniture, but this scenario has no "
                "{missing} block; add room: and furniture:, or place them another way ({allowed})",
                {
                    "value": repr(p.to_yaml()),
                    "missing": "room" if self.room is None else "furniture",
                    "allowed": ", ".join(v for v in PLACEMENTS if v != "on_furniture"),
                },
            )
        return self


# Pillow decodes up to MAX_IMAGE_PIXELS silently, warns above it and raises above twice
# it; the widest member of a sample (flow.png, T*H x 2*W) stays below the warning so
# reading a dataset is quiet. Checked when a config loads, and again when encoding.
MAX_MEMBER_PIXELS = 89_478_485
# Point tracks write about 39 bytes per point and frame (docs/format.md, "Point
# tracks"): 2^22 point-frames (16384 points over 256 frames) keeps a sample's tracks
# members under about 160 MB.
MAX_TRACK_ENTRIES = 1 << 22

_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")


class AssetsSpec(Strict):
    """Where ``pack:<name>`` objects come from and which assets may be drawn."""

    packs: dict[str, str] = Field(
        default_factory=lambda: {"starter": "starter"},
        description="pack name -> folder or fsspec URL of a built pack ('starter': the pack shipped in factory)",
    )
    split: Literal[SPLITS] = Field(
        "train", description="train: packs without their held-out assets; test: only those; all: every asset"
    )
    backdrops: dict[str, str] = Field(
        default_factory=lambda: {"curated": "curated"},
        description="backdrop pack name -> folder or fsspec URL ('curated': the HDRIs shipped in factory)",
    )
    allowed_licences: tuple[str, ...] | None = Field(
        None, description="SPDX ids an asset may carry; none: factory's permissive default (no NC, SA, GPL or unknown)"
    )


class Config(Strict):
    name: str = Field("dataset", pattern=_NAME.pattern)
    seed: int = Field(0, ge=0, lt=2**63)
    licence: str = "CC-BY-4.0"
    assets: AssetsSpec = AssetsSpec()
    render: RenderSettings = RenderSettings()
    output: OutputSettings = OutputSettings()
    scenarios: dict[str, Scenario] = Field(min_length=1)

    @model_validator(mode="after")
    def _layers_fit_one_member(self):
        # The optional layers' members are wider than flow.png: 3W (scene flow, object
        # coordinates) and K*W (amodal: K the most objects a scenario draws).
        r, out = self.render, self.output
        widths = [("scene_flow.png", 3)] if out.scene_flow else []
        widths += [("object_coords.png", 3)] if out.object_coords else []
        for name, sc in self.scenarios.items() if out.amodal else ():
            k = int(sc.objects.count.upper()) + (int(sc.furniture.count.upper()) if sc.furniture else 0)
            widths.append((f"amodal.png of scenario {name} ({k} objects: objects.count + furniture.count at most)", k))
        for member, n in widths:
            pixels = r.frames * r.height * max(n, 1) * r.width
            if pixels > MAX_MEMBER_PIXELS:
                raise PydanticCustomError(
                    "too_large",
                    "output: {member} would have frames x height x {n} x width = {pixels} pixels, over {limit} "
                    "(Pillow's decompression-bomb limit, which WebDataset readers enforce); use fewer frames, a "
                    "smaller image or fewer objects, or turn the layer off",
                    {"member": member, "n": n, "pixels": pixels, "limit": MAX_MEMBER_PIXELS},
                )
        return self

    def resolved(self) -> dict:
        """The config with every default filled in, as plain JSON-able data."""
        return self.model_dump(mode="json")

    def config_hash(self) -> str:
        """sha256 of the canonical JSON of :meth:`resolved` (hex, 64 chars)."""
        return hash_resolved(self.resolved())

    @model_validator(mode="after")
    def _tracks_fit_a_sample(self):
        entries = self.output.tracks * self.render.frames
        if entries > MAX_TRACK_ENTRIES:
            raise PydanticCustomError(
                "too_large",
                "output.tracks x render.frames = {entries} point-frames, over {limit} (about 39 bytes each in "
                "a sample's tracks members); use fewer tracks or fewer frames",
                {"entries": entries, "limit": MAX_TRACK_ENTRIES},
            )
        return self


def hash_resolved(resolved: dict) -> str:
    """The config hash of a resolved config's data (:meth:`Config.config_hash`): sha256
    of its canonical JSON (sorted keys, no spaces), hex."""
    render = {k: v for k, v in resolved.get("render", {}).items() if k not in EXECUTION_ONLY}
    text = json.dumps(
        {**resolved, "render": render} if "render" in resolved else resolved, sort_keys=True, separators=(",", ":")
    )
    return hashlib.sha256(text.encode()).hexdigest()


# Render settings that change how fast samples are made, never their bytes: left out of
# the config hash, so a dataset resumes under any batch size. (``render.device`` is
# in: devices agree only within tolerances, see docs/format.md "Tolerances".)
EXECUTION_ONLY = frozenset({"batch_views"})


def parse_config(data: Any, source: str = "<config>") -> Config:
    """Validate already-loaded YAML data into a :class:`Config`.

    Raises:
        ConfigError: listing every bad field as ``path: message (got value)``.
    """
    if not isinstance(data, dict):
        raise ConfigError.of(
            source, [{"field": "<top level>", "message": f"must be a mapping of keys, got {type(data).__name__}"}]
        )
    scenarios = data.get("scenarios")
    bad_names = (
        [n for n in scenarios if not (isinstance(n, str) and _NAME.match(n))] if isinstance(scenarios, dict) else []
    )
    if bad_names:
        message = "bad scenario name; allowed: lower-case letters, digits, '_'"
        raise ConfigError.of(source, [{"field": f"scenarios.{n}", "message": message, "value": n} for n in bad_names])
    try:
        return Config.model_validate(data)
    except ValidationError as e:
        raise ConfigError.of(source, validation_problems(e.errors(), Config)) from None


def read_yaml(path: str | Path, what: str = "config file") -> Any:
    """The data of a YAML file (``yaml.safe_load``).

    Raises:
        ConfigError: naming the file, when it cannot be read (``cannot read <what>``) or
            is not YAML.
    """
    try:
        text = Path(path).read_text()
    except OSError as e:
        raise ConfigError(str(path), [f"<file>: cannot read {what}: {e.strerror}"]) from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise ConfigError(str(path), [f"<file>: not valid YAML: {e}"]) from None


def load_config(path: str | Path) -> Config:
    """Read a scenario YAML file and validate it (see :func:`parse_config`)."""
    return parse_config(read_yaml(path), str(path))
