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

    p.add_argument(
        "--config",
        type=Path,
        default=DEFAULT_CONFIG,
        metavar="FILE",
        help="Serve config file (default: k8s/base/serve.yaml)",
    )
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1; 0.0.0.0 for all)")
    p.add_argument("--port", type=int_at_least(1), default=None, help="port (default: the file's, 8000)")
    p.add_argument(
        "--min-replicas",
        type=int_at_least(0),
        default=None,
        metavar="N",
        help="autoscaling lower bound (default: the file's)",
    )
    p.add_argument(
        "--max-replicas",
        type=int_at_least(1),
        default=None,
        metavar="N",
        help="autoscaling upper bound (default: the file's)",
    )
    p.add_argument(
        "--gpus-per-replica",
        type=float_at_least(0.0),
        default=None,
        metavar="G",
        help="GPUs each replica reserves (default: the file's, 0; 1 with --device cuda if the file says 0)",
    )
    add_render_options(p, "every config served")
    return p


def load_serve_config(
    path: Path,
    host: str | None = None,
    port: int | None = None,
    min_replicas: int | None = None,
    max_replicas: int | None = None,
    gpus_per_replica: float | None = None,
    render: dict | None = None,
):
    """The Serve config file as Serve's own ``ServeDeploySchema``, with overrides applied
    (:func:`factory.commands.preflight.serve_file` says which).

    Raises:
        ConfigError: the file is unreadable, not YAML, or not a valid Serve config.
    """
    from factory.commands.preflight import serve_file  # as in run: not for --help

    return serve_schema(path, serve_file(path, host, port, min_replicas, max_replicas, gpus_per_replica, render))


def serve_schema(path: Path, data: dict):
    """``data`` (a Serve config file as read) validated by Serve's ``ServeDeploySchema``,
    which imports Ray (it starts nothing).

    Raises:
        ConfigError: naming ``path`` and each field Serve refuses.
    """
    from pydantic import ValidationError
    from ray.serve.schema import ServeDeploySchema

    from factory.scene.validation import validation_problems

    try:
        return ServeDeploySchema.model_validate(data)
    except ValidationError as e:
        raise ConfigError.of(str(path), validation_problems(e.errors())) from None


def run(args: argparse.Namespace) -> int:
    from factory.commands import preflight

    data = preflight.serve(args)  # factory's own refusals, before Ray is imported
    config = serve_schema(args.config, data)

    import ray
    from ray import serve
    from ray.serve._private import api as serve_api  # what `serve run FILE` calls; Ray is pinned

    from factory.onray.session import ensure_ray

    started = ensure_ray(lambda s: print(s, flush=True))
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    try:
        client = serve_api.serve_start(
            http_options=config.http_options.model_dump(), proxy_location=config.proxy_location
        )
        client.deploy_apps(config, _blocking=False)
        _wait_running([a.name for a in config.applications], stop)
        http = config.http_options
        base = f"http://{'127.0.0.1' if http.host in ('0.0.0.0', '::') else http.host}:{http.port}"
        for app in config.applications:
            print(
                f"serving {app.name!r} at {base}{app.route_prefix.rstrip('/')}/  "
                f"(docs: {base}{app.route_prefix.rstrip('/')}/docs)",
                flush=True,
            )
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
            raise FactoryError(
                "Serve application failed to deploy: " + "; ".join(f"{n}: {m}" for n, m in failed.items())
            )
        if all(s == "RUNNING" for s in states.values()):
            return
        if time.monotonic() > deadline:
            raise FactoryError(f"Serve applications not running after {READY_TIMEOUT_S:.0f} s: {states}")
        time.sleep(0.5)
