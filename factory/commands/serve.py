"""``factory serve [--config FILE] [--host H] [--port P]``: the HTTP endpoint, in the foreground.

Deploys the Serve config file (default: k8s/base/serve.yaml, the same file that ``serve
run``, ``serve deploy`` and the KubeRay RayService use) on an embedded local Ray, or on
the cluster at RAY_ADDRESS, exactly as ``serve run FILE`` does; --host/--port and the
replica options override the file. Waits until the application is running, prints its
address, and serves until interrupted (Ctrl-C or SIGTERM). Set FACTORY_SERVE_TOKEN to
require a bearer token on the /v1 routes. --device and --batch-views set the
application's device and batch_views, which replace render.device and
render.batch_views of every config served; --device cuda also gives each replica a GPU
(unless --gpus-per-replica or the file's num_gpus says how many) and is refused at once
on a machine without CUDA when Ray runs here (RAY_ADDRESS unset).
"""

from __future__ import annotations

import argparse
import signal
import threading
import time
from pathlib import Path

from factory.errors import ConfigError, FactoryError

DEFAULT_CONFIG = Path(__file__).resolve().parents[2] / "k8s" / "base" / "serve.yaml"
READY_TIMEOUT_S = 600.0

HELP = "serve samples over HTTP (Ray Serve)"


def add_arguments(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    from factory.commands.argtypes import add_render_options, float_at_least, int_at_least

    p.add_argument("--config", type=Path, default=DEFAULT_CONFIG, metavar="FILE",
                   help="Serve config file (default: k8s/base/serve.yaml)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1; 0.0.0.0 for all)")
    p.add_argument("--port", type=int_at_least(1), default=None, help="port (default: the file's, 8000)")
    p.add_argument("--min-replicas", type=int_at_least(0), default=None, metavar="N",
                   help="autoscaling lower bound (default: the file's)")
    p.add_argument("--max-replicas", type=int_at_least(1), default=None, metavar="N",
                   help="autoscaling upper bound (default: the file's)")
    p.add_argument("--gpus-per-replica", type=float_at_least(0.0), default=None, metavar="G",
                   help="GPUs each replica reserves (default: the file's, 0; 1 with --device cuda if the file "
                        "says 0)")
    add_render_options(p, "every config served")
    return p


def load_serve_config(path: Path, host: str | None = None, port: int | None = None,
                      min_replicas: int | None = None, max_replicas: int | None = None,
                      gpus_per_replica: float | None = None, render: dict | None = None):
    """The Serve config file as Serve's own ``ServeDeploySchema``, with overrides applied.

    ``render``: ``{"device": ..., "batch_views": ...}`` (those given) for the args of
    every factory application (``...:build_app``). With ``device`` cuda and no
    ``gpus_per_replica``, a replica that the file gives no GPU gets 1.

    Raises:
        ConfigError: the file is unreadable, not YAML, or not a valid Serve config.
    """
    from pydantic import ValidationError
    from ray.serve.schema import ServeDeploySchema

    from factory.scene.config import read_yaml, validation_problems
    from factory.service.app import DEPLOYMENT

    data = read_yaml(path, "the Serve config")
    if not isinstance(data, dict):
        raise ConfigError(str(path), ["<top level>: must be a mapping (a Serve config file)"])
    http = data.setdefault("http_options", {})
    if host is not None:
        http["host"] = host
    if port is not None:
        http["port"] = port
    render = render or {}
    for app in data.get("applications") or []:
        if (render and isinstance(app, dict) and str(app.get("import_path", "")).endswith(":build_app")
                and isinstance(app.get("args") or {}, dict)):
            app["args"] = {**(app.get("args") or {}), **render}
        for dep in app.get("deployments") or []:
            if dep.get("name") != DEPLOYMENT:
                continue
            scaling = dep.setdefault("autoscaling_config", {})
            if min_replicas is not None:
                scaling["min_replicas"] = min_replicas
            if max_replicas is not None:
                scaling["max_replicas"] = max_replicas
            if scaling.get("min_replicas", 1) > scaling.get("max_replicas", scaling.get("min_replicas", 1)):
                raise ConfigError(str(path), [
                    f"autoscaling_config: min_replicas {scaling['min_replicas']} > max_replicas "
                    f"{scaling['max_replicas']}"])
            if gpus_per_replica is not None:
                dep.setdefault("ray_actor_options", {})["num_gpus"] = gpus_per_replica
            elif render.get("device") == "cuda" and isinstance(dep.get("ray_actor_options"), dict):
                # (without ray_actor_options here, build_app's own default holds: 1 GPU for cuda)
                if not dep["ray_actor_options"].get("num_gpus"):
                    dep["ray_actor_options"]["num_gpus"] = 1
    try:
        return ServeDeploySchema.model_validate(data)
    except ValidationError as e:
        raise ConfigError.of(str(path), validation_problems(e.errors())) from None


def run(args: argparse.Namespace) -> int:
    from factory.commands.argtypes import render_overrides, renders_here

    config = load_serve_config(args.config, args.host, args.port, args.min_replicas, args.max_replicas,
                               args.gpus_per_replica, render_overrides(args))
    from factory.service.app import build_app
    from factory.service.settings import Settings

    for app in config.applications:  # check each application's args before starting Ray
        if app.import_path.endswith(":build_app"):
            build_app(app.args)
            if renders_here():  # replicas on this machine: can they use the device?
                Settings.model_validate(app.args).check_device()

    import ray
    from ray import serve
    from ray.serve._private import api as serve_api  # what `serve run FILE` calls; Ray is pinned

    from factory.onray.session import ensure_ray

    started = ensure_ray(lambda s: print(s, flush=True))
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    try:
        client = serve_api.serve_start(http_options=config.http_options.model_dump(),
                                       proxy_location=config.proxy_location)
        client.deploy_apps(config, _blocking=False)
        _wait_running([a.name for a in config.applications], stop)
        http = config.http_options
        base = f"http://{'127.0.0.1' if http.host in ('0.0.0.0', '::') else http.host}:{http.port}"
        for app in config.applications:
            print(f"serving {app.name!r} at {base}{app.route_prefix.rstrip('/')}/  "
                  f"(docs: {base}{app.route_prefix.rstrip('/')}/docs)", flush=True)
        print("press Ctrl-C to stop", flush=True)
        stop.wait()
    finally:
        print("shutting down", flush=True)
        serve.shutdown()
        if started:
            ray.shutdown()
    return 0


def _wait_running(names: list[str], stop: threading.Event) -> None:
    """Block until every application runs; raise if one fails to deploy."""
    from ray import serve

    deadline = time.monotonic() + READY_TIMEOUT_S
    while not stop.is_set():
        apps = serve.status().applications
        states = {n: apps[n].status if n in apps else "NOT_STARTED" for n in names}
        failed = {n: apps[n].message for n, s in states.items() if s in ("DEPLOY_FAILED", "UNHEALTHY")}
        if failed:
            raise FactoryError("Serve application failed to deploy: " + "; ".join(
                f"{n}: {m}" for n, m in failed.items()))
        if all(s == "RUNNING" for s in states.values()):
            return
        if time.monotonic() > deadline:
            raise FactoryError(f"Serve applications not running after {READY_TIMEOUT_S:.0f} s: {states}")
        time.sleep(0.5)
