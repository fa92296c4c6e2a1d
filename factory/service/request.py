"""What a client may ask for, and the checks between a request and any rendering.

A request names a shipped config (``scenario``) or gives a whole one (``config``),
optionally merges ``overrides`` into it and replaces its ``seed``, and asks for
``count`` consecutive samples from index ``start``. :func:`resolve` turns it into a
:class:`Job` or raises :class:`ApiError`, whose body names every bad field, its value
and what is allowed:

======  ===================================================================
status  when
======  ===================================================================
400     the body is not JSON, or a query parameter holding JSON is not JSON
401     a token is required and the request has none or a wrong one
413     the request is over the service's budget of pixel-frames
        (width x height x frames x count); also a body over the byte limit
422     anything else the client got wrong: unknown scenario or key, a value
        out of range, a config that does not validate, count > max_count
======  ===================================================================

A sample served for (config, seed, index, samples) is the same bytes as sample
``index`` of a batch dataset of the same config, seed and size: the config is
validated exactly as ``factory generate`` validates a file, and the same
``generate_sample`` makes it. Without ``samples`` the scenarios follow the open-ended
stream (:mod:`factory.scene.allocation`). A service that sets a render device (or batch size)
imposes it on every request's config, as ``factory generate --device`` does on a
file's; the device is part of the config and its hash, so such a sample is the one a
batch dataset rendered on that device holds.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from factory.errors import ApiError, ConfigError
from factory.sample.encode import IMAGE_MEMBERS
from factory.sample.layers import LAYER_MEMBERS
from factory.scene.config import Config, parse_config
from factory.scene.validation import validation_problems
from factory.service.cost import CostModel, drivers

DEFAULT_SCENARIO = "quickstart"
MAX_START = 10**10  # keys stay ten digits, as in every batch dataset
# What ``modalities`` may list; each names one tar member (``rgb`` -> ``rgb.png``).
# The optional layers (docs/format.md) only where the config's output block turns them on.
LAYER_MODALITIES = tuple(m.removesuffix(".png") for m in LAYER_MEMBERS)
MODALITIES = tuple(m.removesuffix(".png") for m in IMAGE_MEMBERS) + LAYER_MODALITIES + ("mp4",)
Modality = Literal[
    "rgb",
    "depth",
    "instance",
    "semantic",
    "normals",
    "flow",
    "albedo",
    "material",
    "backward_flow",
    "scene_flow",
    "object_coords",
    "amodal",
    "amodal_depth",
    "mp4",
]
assert set(MODALITIES) == set(Modality.__args__)  # one list, spelt twice for the schema


class SampleRequest(BaseModel):
    """The body of ``POST /v1/samples``."""

    model_config = ConfigDict(extra="forbid", strict=True)

    scenario: str | None = Field(
        None,
        description=f"name of a shipped config (see GET /v1/scenarios); {DEFAULT_SCENARIO!r} "
        "when neither scenario nor config is given",
        examples=["quickstart"],
    )
    config: dict[str, Any] | None = Field(
        None, description="a whole scenario config, as its YAML file would parse, instead of scenario"
    )
    overrides: dict[str, Any] = Field(
        default_factory=dict,
        description="merged into the config key by key: nested mappings merge, anything else replaces",
        examples=[{"render": {"frames": 1}}],
    )
    seed: int | None = Field(None, ge=0, lt=2**63, description="replaces the config's seed")
    start: int = Field(0, ge=0, lt=MAX_START, description="index of the first sample")
    samples: int | None = Field(
        None,
        ge=1,
        le=MAX_START,
        description="size of the dataset the indices belong to (factory generate "
        "--samples), which fixes each index's scenario; default: the open-ended stream, whose scenario "
        "shares follow the weights in every prefix",
    )
    count: int = Field(1, ge=1, description="how many consecutive samples (at most the service's max_count)")
    modalities: list[Modality] | None = Field(
        None, description="members to return besides json; default: every member the batch job writes"
    )
    format: Literal["tar", "json"] = Field(
        "tar", description="tar: a WebDataset tar stream; json: metadata and base64 members"
    )


@dataclass(frozen=True)
class Limits:
    """What one request may ask of a replica."""

    max_count: int = 64
    max_pixel_frames: int = 256 * 256 * 24 * 32  # width x height x frames x count
    max_body_bytes: int = 1 << 20
    # Estimated seconds of the calibration machine's work (factory.service.cost): half the
    # default time limit, so that what is admitted can finish within it.
    max_cost_s: float = 60.0


@dataclass(frozen=True)
class Job:
    """A checked request: the validated config and what to make of it.

    ``only`` is the image members to encode (None: all), ``mp4`` whether to add the MP4,
    ``cost_s`` the estimated seconds of work of one of its samples (:mod:`factory.service.cost`).
    """

    config: Config
    config_hash: str
    source: str  # the shipped config's name, or "inline"
    indices: range
    samples: int | None  # the dataset size that fixes the scenarios (None: the stream)
    only: tuple[str, ...] | None
    mp4: bool
    format: str
    cost_s: float = 0.0

    @property
    def pixel_frames(self) -> int:
        r = self.config.render
        return r.width * r.height * r.frames * len(self.indices)


def request_error(errors: Iterable[dict], skip: int = 0) -> ApiError:
    """The :class:`ApiError` for pydantic errors about a request (FastAPI's validation
    errors pass ``skip=1`` to drop their ``body`` / ``query`` / ``path`` prefix)."""
    problems = validation_problems(errors, SampleRequest, skip)
    for p in problems:
        if p["field"] == "<top level>":
            p["field"] = "body"
    return ApiError(422, problems)


def resolve(req: SampleRequest, catalogue, limits: Limits, render: dict | None = None) -> Job:
    """Check ``req`` against the catalogue and the limits; the :class:`Job` to run.

    ``render``: settings that replace those of the request's config's ``render`` block
    whatever the request says (the service's ``device`` and ``batch_views``; None: none).

    Raises:
        ApiError: 422 for a bad field, 413 for a request over the pixel-frame budget.
    """
    if req.scenario is not None and req.config is not None:
        raise ApiError(
            422, [{"field": "config", "message": "give either scenario or config, not both", "value": "<config>"}]
        )
    if req.config is not None:
        source, base, prefix = "inline", req.config, "config"
    else:
        source = req.scenario or DEFAULT_SCENARIO
        entry = catalogue.get(source)
        if entry is None:
            raise ApiError(
                422,
                [
                    {
                        "field": "scenario",
                        "value": source,
                        "message": f"unknown scenario; allowed: {', '.join(catalogue.names())}",
                    }
                ],
            )
        base, prefix = entry.data, None
    data = merge(base, req.overrides)
    if req.seed is not None and isinstance(data, dict):
        data["seed"] = req.seed
    if render and isinstance(data, dict) and isinstance(data.get("render", {}), dict):
        data = merge(data, {"render": render})  # (a render that is no mapping fails validation as it is)
    try:
        config = parse_config(data, "request")
    except ConfigError as e:
        raise ApiError(422, [_locate(p, req, prefix) for p in e.fields]) from None

    if req.count > limits.max_count:
        raise ApiError(
            422,
            [
                {
                    "field": "count",
                    "value": req.count,
                    "message": f"must be <= {limits.max_count} (this service's max_count)",
                }
            ],
        )
    if req.samples is not None:
        _check_samples(req, config)
    only = mp4 = None
    if req.modalities is not None:
        _check_layers(req.modalities, config)
        only = tuple(m + ".png" for m in dict.fromkeys(req.modalities) if m != "mp4")
        mp4 = "mp4" in req.modalities
    job = Job(
        config,
        config.config_hash(),
        source,
        range(req.start, req.start + req.count),
        req.samples,
        only,
        config.output.mp4 if mp4 is None else mp4,
        req.format,
    )
    return replace(job, cost_s=check_budget(job, limits) / len(job.indices))


def _check_samples(req: SampleRequest, config: Config) -> None:
    """422 when the indices do not fit in ``samples`` or its scenario minimums do not."""
    from factory.scene.allocation import allocation_of

    if req.start + req.count > req.samples:
        raise ApiError(
            422,
            [
                {
                    "field": "samples",
                    "value": req.samples,
                    "message": f"samples {req.start} to {req.start + req.count - 1} are outside a "
                    f"dataset of {req.samples} (indices 0 to {req.samples - 1})",
                }
            ],
        )
    try:
        allocation_of(config, req.samples)
    except ConfigError as e:
        raise ApiError(422, [{"field": "samples", "value": req.samples, "message": e.problems[0]}]) from None


def check_budget(job: Job, limits: Limits, model: CostModel | None = None) -> float:
    """The job's estimated seconds of work; 413 when it asks for more pixel-frames than
    the service allows, or costs more than its budget of estimated seconds (``model``:
    the calibrated cost model, loaded from :data:`factory.service.cost.MODEL_FILE` when
    not given)."""
    _check_pixel_frames(job, limits)
    seconds, scenario, parts = (model or _default_model()).request(job.config, len(job.indices))
    if seconds > limits.max_cost_s:
        fields = drivers(parts, scenario)
        raise ApiError(
            413,
            [
                {
                    "field": fields[0],
                    "value": round(seconds, 3),
                    "message": f"this request would cost about {seconds:.1f} s of rendering and physics (scenario "
                    f"{scenario!r}, {len(job.indices)} samples), over this service's budget of "
                    f"{limits.max_cost_s:g} s; it is driven by {', '.join(fields)}: lower those",
                },
                *({"field": f, "message": "drives the cost over the budget"} for f in fields[1:]),
            ],
        )
    return seconds


@functools.cache
def _default_model() -> CostModel:
    return CostModel.load()


def _check_pixel_frames(job: Job, limits: Limits) -> None:
    if job.pixel_frames > limits.max_pixel_frames:
        r = job.config.render
        raise ApiError(
            413,
            [
                {
                    "field": "count",
                    "value": len(job.indices),
                    "message": f"{r.width} x {r.height} pixels x {r.frames} frames x {len(job.indices)} samples = "
                    f"{job.pixel_frames} pixel-frames, over this service's budget of {limits.max_pixel_frames}; "
                    "ask for fewer samples, frames or pixels",
                }
            ],
        )


def merge(base: Any, overrides: dict) -> Any:
    """A deep copy of ``base`` with ``overrides`` merged in: mappings merge key by key,
    anything else (lists too) replaces."""
    out = copy.deepcopy(base)
    if not overrides:
        return out
    if not isinstance(out, dict):
        return copy.deepcopy(overrides)
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _locate(problem: dict, req: SampleRequest, prefix: str | None) -> dict:
    """Name a config problem after the part of the request that caused it."""
    path = problem["field"]
    top = path.split(".")[0]
    if top in req.overrides:
        return {**problem, "field": f"overrides.{path}"}
    if top == "seed" and req.seed is not None:
        return {**problem, "field": "seed"}
    return {**problem, "field": f"{prefix}.{path}" if prefix else f"overrides.{path}"}


def _check_layers(modalities: list[str], config: Config) -> None:
    """A 422 naming ``modalities`` for an optional layer the config does not render."""
    off = [m for m in dict.fromkeys(modalities) if m in LAYER_MODALITIES and not getattr(config.output, m)]
    if off:
        on = [m for m in LAYER_MODALITIES if getattr(config.output, m)]
        raise ApiError(
            422,
            [
                {
                    "field": "modalities",
                    "value": off,
                    "message": f"the config's output block does not turn {', '.join(off)} on (set output.<layer>: "
                    f"true in overrides); optional layers it renders: {', '.join(on) or 'none'}",
                }
            ],
        )
