"""What a request will cost a replica, in seconds of the calibration machine's work,
known before anything runs.

A sample's time is a sum of terms, each a product of what drives it (per sample)::

    views x pixels                     a thread per pixel: camera ray, shading, outputs
    views x pixels x rays x objects    rays against the objects (culled, then exact)
    views x pixels x rays x meshes     what a mesh's BVH costs over an analytic shape
    frames x pixels                    encoding the PNGs (and the MP4)
    steps x objects                    physics (MuJoCo: bodies and their contacts each step)
    sample                             fixed work per sample

with views = frames x motion_blur_samples, pixels = width x height, rays = the rays a
pixel casts (:meth:`~factory.scene.config.RenderSettings.rays_per_pixel`),
objects = the most a scenario of the config can hold (dynamic objects and furniture),
meshes = objects when its shape may be a mesh (else 0), plus the furniture when its shape
may be (gen:/pack: shapes are meshes), lights = the most lights it
can hold, steps = frames x substeps. A request costs ``count`` samples of its dearest
scenario. The seconds each term costs are measured, not typed in:
``benchmarks/calibrate_cost.py`` times ``generate_members`` over a grid of configs and
fits them (non-negative least squares), writing :data:`MODEL_FILE`, which records the
machine, the date, the grid and the fit's error. Rerun it when the renderer changes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from factory.scene.config import Config
from factory.scene.shapes import shape_kind

MODEL_FILE = Path(__file__).with_name("cost_model.json")

# term -> the config fields (under render., or under each scenario) that drive it
TERMS = {
    "views x pixels": ("render.width", "render.height", "render.frames", "render.motion_blur_samples"),
    "views x pixels x rays x objects": (
        "render.width",
        "render.height",
        "render.frames",
        "render.motion_blur_samples",
        "lighting.count",
        "backdrop.kind",
        "render.shadow_rays",
        "render.ao_rays",
        "objects.count",
        "furniture.count",
    ),
    "views x pixels x rays x meshes": (
        "render.width",
        "render.height",
        "render.frames",
        "render.motion_blur_samples",
        "lighting.count",
        "backdrop.kind",
        "render.shadow_rays",
        "render.ao_rays",
        "objects.count",
        "objects.shape",
    ),
    "frames x pixels": ("render.width", "render.height", "render.frames"),
    "steps x objects": ("render.frames", "render.substeps", "objects.count", "furniture.count"),
    "sample": (),
}
# A rig's K cameras (render.cameras) are K clips' views and filmstrips.
TERMS = {k: (*v, "render.cameras") if k.startswith("views") or k == "frames x pixels" else v for k, v in TERMS.items()}


def scenario_terms(config: Config, name: str) -> dict[str, float]:
    """Each term's size for one sample of scenario ``name`` (see the module docstring)."""
    r, sc = config.render, config.scenarios[name]
    views = r.frames * max(1, r.motion_blur_samples) * r.cameras  # every camera of a rig renders its own views
    pixels = r.width * r.height
    dynamic = sc.objects.count.upper()
    objects = dynamic + (sc.furniture.count.upper() if sc.furniture and sc.room else 0)
    rays = r.rays_per_pixel(sc.max_lights())
    # gen:/pack: objects and furniture are meshes too (shape_kind knows them; KINDS does not)
    meshes = dynamic if any(shape_kind(s).is_mesh for s in sc.objects.shape.values()) else 0
    if sc.furniture and sc.room and any(shape_kind(s).is_mesh for s in sc.furniture.shape.values()):
        meshes += sc.furniture.count.upper()
    return {
        "views x pixels": views * pixels,
        "views x pixels x rays x objects": views * pixels * rays * objects,
        "views x pixels x rays x meshes": views * pixels * rays * meshes,
        "frames x pixels": r.frames * pixels * r.cameras,
        "steps x objects": r.frames * r.substeps * objects,
        "sample": 1.0,
    }


@dataclass(frozen=True)
class CostModel:
    """Seconds per unit of each term (the calibration's fit)."""

    seconds: dict[str, float]

    @classmethod
    def load(cls, path: Path = MODEL_FILE) -> CostModel:
        doc = json.loads(path.read_text())
        return cls({k: float(doc["seconds_per_unit"][k]) for k in TERMS})

    def per_sample(self, terms: dict[str, float]) -> dict[str, float]:
        """Seconds of each term for one sample of these term sizes."""
        return {k: self.seconds[k] * v for k, v in terms.items()}

    def request(self, config: Config, count: int) -> tuple[float, str, dict[str, float]]:
        """``(seconds, scenario, seconds per term)`` of ``count`` samples of the config's
        dearest scenario."""
        best = None
        for name in config.scenarios:
            parts = self.per_sample(scenario_terms(config, name))
            if best is None or sum(parts.values()) > sum(best[1].values()):
                best = (name, parts)
        name, parts = best
        return count * sum(parts.values()), name, {k: count * v for k, v in parts.items()}


def drivers(parts: dict[str, float], scenario: str, share: float = 0.8) -> list[str]:
    """The config fields behind the terms that make up ``share`` of the cost, dearest
    term first (scenario fields named ``scenarios.<name>.objects.count``), then count."""
    total = sum(parts.values()) or 1.0
    fields: list[str] = []
    acc = 0.0
    for term, seconds in sorted(parts.items(), key=lambda kv: -kv[1]):
        for f in TERMS[term]:
            name = f if f.startswith("render.") else f"scenarios.{scenario}.{f}"
            if name not in fields:
                fields.append(name)
        acc += seconds
        if acc >= share * total:
            break
    return [*fields, "count"]
