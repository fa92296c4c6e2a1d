"""The endpoint's settings: ``build_app``'s arguments, which are the ``args`` of the
application in a Serve config file (``k8s/base/serve.yaml``). Pure: no Ray, no web
framework, so commands and tests check a config file without starting anything."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from factory.errors import ConfigError
from factory.render.device import get_device
from factory.scene.config import DEVICES, MAX_BATCH_VIEWS
from factory.scene.validation import validation_problems
from factory.service.catalogue import Catalogue
from factory.service.request import Limits

DEPLOYMENT = "SampleService"  # the deployment's name in a Serve config file
GPU_MAX_BATCH_SIZE = 16  # max_batch_size when device is cuda and the setting is not given


class Settings(BaseModel):
    """``build_app``'s arguments (the ``args`` of an application in a Serve config file).
    The replica shape here is a default: a Serve config file's ``deployments`` section
    overrides it."""

    model_config = ConfigDict(extra="forbid")

    configs_dir: str | None = Field(None, description="folder of shipped scenario YAMLs (default: configs/)")
    max_count: int = Field(Limits.max_count, ge=1, le=100_000, description="samples per request")
    max_pixel_frames: int = Field(Limits.max_pixel_frames, ge=1, description="width x height x frames x count")
    max_body_bytes: int = Field(Limits.max_body_bytes, ge=1024, description="bytes of a request body")
    max_cost_s: float = Field(
        Limits.max_cost_s, gt=0, description="estimated seconds of work a request may cost (factory.service.cost)"
    )
    light_cost_s: float = Field(
        0.5,
        gt=0,
        description="a request whose samples each cost more estimated seconds "
        "is heavy: its samples are made one at a time on the "
        "replica's heavy lane, never ahead of light ones",
    )
    time_limit_s: float = Field(120.0, gt=0, description="seconds one request may take")
    device: Literal[DEVICES] | None = Field(
        None, description="render.device of every config served, shipped or in a request (None: each config's own)"
    )
    batch_views: int | None = Field(
        None,
        ge=0,
        le=MAX_BATCH_VIEWS,
        description="render.batch_views of every config served: views per render launch, "
        "0 sized from memory (None: each config's own)",
    )
    max_batch_size: int | None = Field(
        None,
        ge=1,
        le=256,
        description=f"single-sample requests made in one call (default: 1, {GPU_MAX_BATCH_SIZE} when device is cuda)",
    )
    batch_wait_timeout_s: float = Field(0.005, ge=0, description="how long a batch waits to fill")
    min_replicas: int = Field(1, ge=0)
    max_replicas: int = Field(4, ge=1)
    target_ongoing_requests: float = Field(2.0, gt=0)
    max_ongoing_requests: int = Field(64, ge=1)
    num_cpus: float = Field(1.0, ge=0, description="CPUs per replica")
    num_gpus: float | None = Field(None, ge=0, description="GPUs per replica (default: 1 when device is cuda, else 0)")

    @property
    def limits(self) -> Limits:
        return Limits(self.max_count, self.max_pixel_frames, self.max_body_bytes, self.max_cost_s)

    @property
    def render(self) -> dict:
        """What replaces the ``render`` settings of every config served (those set)."""
        return {k: getattr(self, k) for k in ("device", "batch_views") if getattr(self, k) is not None}

    @property
    def batch_size(self) -> int:
        """``max_batch_size``, or its default for the device."""
        if self.max_batch_size is not None:
            return self.max_batch_size
        return GPU_MAX_BATCH_SIZE if self.device == "cuda" else 1

    @property
    def gpus(self) -> float:
        """``num_gpus``, or its default for the device."""
        if self.num_gpus is not None:
            return self.num_gpus
        return 1.0 if self.device == "cuda" else 0.0

    def check_device(self) -> None:
        """Raise ConfigError (naming ``render.device``) if ``device`` cannot render here."""
        if self.device is None:
            return
        get_device(self.device, "serve application args")


def app_settings(args: dict | None) -> Settings:
    """``build_app``'s arguments checked as ``build_app`` checks them, without Ray: the
    settings, and the configs they serve (every one loads, with ``device`` and
    ``batch_views`` merged in). The device is not checked here: replicas may run where
    this does not (:meth:`Settings.check_device` is for when they run here).

    Raises:
        ConfigError: an unknown argument or a bad value, naming it; a config that does
            not load.
    """
    try:
        settings = Settings.model_validate(args or {})
    except ValidationError as e:
        raise ConfigError.of("serve application args", validation_problems(e.errors(), Settings)) from None
    Catalogue(settings.configs_dir, settings.render)
    return settings
