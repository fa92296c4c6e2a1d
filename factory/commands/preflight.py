"""What a command checks before Ray starts or anything renders: one function per kind of
command, called first in its ``run`` (and so in its Ray job in ``jobs/``, which runs the
same ``run``). Each raises a :class:`~factory.errors.FactoryError` naming the field or
flag, the value and what is allowed; the command then ends with that one line and exit
status 2 (:func:`factory.commands.error_line`) before Ray is imported and before
anything is written.

* :func:`plan_config` (``plan``), :func:`sample_config` (``render``, ``rerun``),
  :func:`generate` (``generate``, ``jobs.generate``), :func:`serve` (``serve``),
  :func:`validate` (``validate``, ``jobs.validate``), :func:`report` (``report``,
  ``jobs.report``); each function's docstring says what it checks.
* The device is checked where the rendering happens here (:func:`renders_here`); on a
  cluster (``RAY_ADDRESS`` set) the render actors' nodes may have the GPUs that this
  machine (a head node, a laptop) lacks.
* Assets and licences: a config's ``gen:`` / ``pack:`` shapes, its generator overrides,
  its packs (loaded, every file verified) and its ``assets.allowed_licences`` are
  checked by making its catalogue (:func:`factory.assets.catalog.catalog_for`), in
  :func:`plan_config`, so every command that plans or renders refuses them first.

The renderer's device module, the service's settings and the trust tools' readers are
imported inside the functions that use them: each pulls in its layer (Warp, for the
renderer), which ``factory plan`` and a refusal of a bad config should not wait for.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import NamedTuple

from factory.commands.argtypes import render_overrides
from factory.commands.engines import map_shards_for
from factory.dataset.options import parse_options
from factory.dataset.reader import open_dataset
from factory.dataset.resume import check_target
from factory.dataset.storage import Location, resolve
from factory.errors import ConfigError, StorageError
from factory.scene.allocation import allocate
from factory.scene.config import Config, load_config, parse_config, read_yaml


def renders_here() -> bool:
    """Whether a Ray command renders on this machine: it starts an embedded local Ray
    (RAY_ADDRESS unset) rather than joining a cluster (see :mod:`factory.onray.session`)."""
    return not os.environ.get("RAY_ADDRESS")


def source_of(path, overrides: dict) -> str:
    """How errors name a config: its file, and the flags that changed it."""
    flags = " ".join(f"--{k.replace('_', '-')} {v}" for k, v in overrides.items())
    return f"{path} with {flags}" if flags else str(path)


def load_config_with(path, overrides: dict) -> Config:
    """The config file at ``path`` with ``overrides`` merged into its ``render`` block,
    validated as a whole.

    Raises:
        ConfigError: the file, or the file with the overrides, is not a valid config.
    """
    config = load_config(path)
    if not overrides:
        return config
    data = config.resolved()
    data["render"] = {**data["render"], **overrides}
    return parse_config(data, source_of(path, overrides))


def check_device(device: str, source: str, *, here: bool = True) -> None:
    """Refuse a ``device`` this machine cannot render on (``cuda`` where Warp sees no
    CUDA device), with the renderer's own message (which names ``render.device``).
    ``here`` False skips the check: the rendering happens on a cluster's nodes.

    Raises:
        ConfigError: naming ``source`` and the reason.
    """
    if not here:
        return
    from factory.render.device import get_device  # the renderer's package: Warp (module docstring)

    get_device(device, source)


def plan_config(path, samples: int, overrides: dict | None = None) -> Config:
    """What ``factory plan`` checks: the config file at ``path`` (with ``overrides``
    merged into its ``render`` block) and that the scenarios' minimums fit ``samples``.

    Raises:
        ConfigError: naming the file and the field, or the minimums and what they add up to.
    """
    config = load_config_with(path, overrides or {})
    allocate(config, samples)
    from factory.assets.catalog import catalog_for  # loads the config's packs: only when planning

    catalog_for(config, source_of(path, overrides or {}))
    return config


def sample_config(args: argparse.Namespace, indices: list[int], command: str) -> Config:
    """The config of a command that renders samples ``indices`` here (``render``,
    ``rerun``): the file with ``--device`` / ``--batch-views``, its device, and, with
    ``--samples``, :func:`plan_config`'s checks and every index inside the dataset.

    Raises:
        ConfigError: naming the file or ``<command> arguments`` and what is allowed.
    """
    overrides = render_overrides(args)
    if args.samples is None:
        config = load_config_with(args.config, overrides)
        from factory.assets.catalog import catalog_for

        catalog_for(config, source_of(args.config, overrides))
    else:
        config = plan_config(args.config, args.samples, overrides)
    check_device(config.render.device, source_of(args.config, overrides))
    beyond = [i for i in indices if args.samples is not None and i >= args.samples]
    if beyond:
        raise ConfigError(
            f"{command} arguments",
            [f"--index {beyond[0]}: outside a dataset of --samples {args.samples} (allowed: 0 to {args.samples - 1})"],
        )
    return config


class GenerateRun(NamedTuple):
    """What ``factory generate`` runs once :func:`generate` has passed."""

    config: Config
    location: Location
    mode: str  # auto, resume or overwrite (factory.dataset.resume.MODES)


def generate(args: argparse.Namespace) -> GenerateRun:
    """What ``factory generate`` and ``jobs.generate`` check: :func:`plan_config`'s
    checks with ``--device`` / ``--batch-views`` for ``--samples``; the device, when Ray
    runs here; ``--min-workers`` <= ``--max-workers``; and ``--out``: a valid URL,
    reachable, writable (a probe object, deleted at once), and holding this dataset
    (``--resume``), none, or anything with ``--overwrite`` (:func:`factory.dataset.resume.check_target`).

    Raises:
        ConfigError: the config, the allocation or the arguments; StorageError,
            DatasetConflictError: ``--out``.
    """
    overrides = render_overrides(args)
    config = plan_config(args.config, args.samples, overrides)
    check_device(config.render.device, source_of(args.config, overrides), here=renders_here())
    if args.max_workers is not None and args.max_workers < args.min_workers:
        raise ConfigError(
            "generate arguments", [f"--max-workers {args.max_workers}: must be >= --min-workers {args.min_workers}"]
        )
    mode = "overwrite" if args.overwrite else "resume" if args.resume else "auto"
    location = resolve(args.out, parse_options(args.storage_option))
    check_target(
        location,
        config,
        samples=args.samples,
        shard_size=args.shard_size,
        prefix=args.prefix,
        mode=mode,
        max_failures=args.max_failures,
    )
    return GenerateRun(config, location, mode)


def _factory_apps(data: dict) -> list[dict]:
    """The applications of a Serve config (as read) that run factory's ``build_app``."""
    return [
        app
        for app in data.get("applications") or []
        if isinstance(app, dict) and str(app.get("import_path", "")).endswith(":build_app")
    ]


def serve_file(
    path: Path,
    host: str | None = None,
    port: int | None = None,
    min_replicas: int | None = None,
    max_replicas: int | None = None,
    gpus_per_replica: float | None = None,
    render: dict | None = None,
) -> dict:
    """The Serve config file at ``path`` as read, with the command line's overrides
    applied (Serve's own schema checks the rest: :func:`factory.commands.serve.load_serve_config`).

    ``render``: ``{"device": ..., "batch_views": ...}`` (those given) for the args of
    every factory application. With ``device`` cuda and no ``gpus_per_replica``, a
    replica that the file gives no GPU gets 1.

    Raises:
        ConfigError: the file is unreadable, not YAML or not a mapping, or its
            ``min_replicas`` exceeds its ``max_replicas``.
    """
    from factory.service.settings import DEPLOYMENT  # the service layer: Warp (module docstring)

    data = read_yaml(path, "the Serve config")
    if not isinstance(data, dict):
        raise ConfigError(str(path), ["<top level>: must be a mapping (a Serve config file)"])
    http = data.setdefault("http_options", {})
    if host is not None:
        http["host"] = host
    if port is not None:
        http["port"] = port
    render = render or {}
    for app in _factory_apps(data) if render else []:
        if isinstance(app.get("args") or {}, dict):
            app["args"] = {**(app.get("args") or {}), **render}
    for app in data.get("applications") or []:
        for dep in app.get("deployments") or []:
            if dep.get("name") != DEPLOYMENT:
                continue
            scaling = dep.setdefault("autoscaling_config", {})
            if min_replicas is not None:
                scaling["min_replicas"] = min_replicas
            if max_replicas is not None:
                scaling["max_replicas"] = max_replicas
            if scaling.get("min_replicas", 1) > scaling.get("max_replicas", scaling.get("min_replicas", 1)):
                raise ConfigError(
                    str(path),
                    [
                        f"autoscaling_config: min_replicas {scaling['min_replicas']} > max_replicas "
                        f"{scaling['max_replicas']}"
                    ],
                )
            if gpus_per_replica is not None:
                dep.setdefault("ray_actor_options", {})["num_gpus"] = gpus_per_replica
            elif render.get("device") == "cuda" and isinstance(dep.get("ray_actor_options"), dict):
                # (without ray_actor_options here, build_app's own default holds: 1 GPU for cuda)
                if not dep["ray_actor_options"].get("num_gpus"):
                    dep["ray_actor_options"]["num_gpus"] = 1
    return data


def serve(args: argparse.Namespace) -> dict:
    """What ``factory serve`` checks: the Serve config file with the flags
    (:func:`serve_file`), and every factory application's args as ``build_app`` checks
    them (the settings, and every config it serves loads), with its device when Ray runs
    here. Returns the file's data with the overrides, for Serve's schema.

    Raises:
        ConfigError: naming the file or ``serve application args``, the field and what
            is allowed.
    """
    from factory.service.settings import app_settings  # the service layer: Warp (module docstring)

    data = serve_file(
        args.config,
        args.host,
        args.port,
        args.min_replicas,
        args.max_replicas,
        args.gpus_per_replica,
        render_overrides(args),
    )
    for app in _factory_apps(data):
        settings = app_settings(app.get("args"))
        if renders_here():  # replicas on this machine: can they use the device?
            settings.check_device()
    return data


def validate(args: argparse.Namespace) -> Location:
    """What ``factory validate`` and ``jobs.validate`` check: the URL (and
    ``--storage-option``), a dataset there (a manifest or .tar files, read as the
    validator reads them), and that ``--result`` can be written (nothing is). Returns
    the dataset's location.

    Raises:
        StorageError: naming the URL or ``--result`` and what is wrong.
    """
    from factory.trust.validate.plan import read_manifest  # the trust layer: Warp (module docstring)

    location = resolve(args.url, parse_options(args.storage_option))
    read_manifest(location)
    if args.result != "-":
        _check_writable_file(Path(args.result), "--result")
    return location


def _check_writable_file(path: Path, flag: str) -> None:
    """StorageError unless ``path`` can be written: a file (or nothing yet) in a folder
    that exists and may be written to. Writes nothing."""
    folder = path.parent
    if path.is_dir():
        raise StorageError(f"{flag} {str(path)!r}: is a folder; give a file name, e.g. {str(path / 'result.json')!r}")
    if not folder.is_dir():
        raise StorageError(f"{flag} {str(path)!r}: no folder {str(folder)!r}; create it first")
    if not os.access(folder, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise StorageError(f"{flag} {str(path)!r}: permission denied")


def report(args: argparse.Namespace) -> None:
    """What ``factory report`` and ``jobs.report`` check: the arguments as the report
    checks them (``--max-samples`` only with the local engine), every URL (and
    ``--storage-option``), a dataset at URL and at ``--reference`` (a manifest, shards,
    or one .tar), and that ``--out`` can be written (a probe object, deleted at once).

    Raises:
        ConfigError: the arguments; StorageError: naming the URL and what is wrong.
    """
    from factory.trust.report.build import check_arguments  # the trust layer: Warp (module docstring)

    check_arguments(map_shards_for(args.engine), args.max_samples, args.workers)
    options = parse_options(args.storage_option)
    out = resolve(args.out, options)  # a bad --out URL first, as the report itself does
    open_dataset(args.url, options)
    if args.reference is not None:
        open_dataset(args.reference, options)
    out.check_writable()
