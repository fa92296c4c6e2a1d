"""Argument types shared by the subcommands: numbers with a lower bound, with messages
that say what was given and what is allowed; the renderer options (``--device``,
``--batch-views``) of the commands that render, with the checks they need before Ray
starts; and :func:`job_main`, the entry point of the Ray jobs in ``jobs/``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable


def int_at_least(low: int):
    """An argparse type: an integer >= ``low``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"must be >= {low}, got {value}")
        return value

    return parse


def float_at_least(low: float, strict: bool = False):
    """An argparse type: a number >= ``low`` (> ``low`` when ``strict``), not NaN."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        if value < low or (strict and value == low) or value != value:
            raise argparse.ArgumentTypeError(f"must be {'>' if strict else '>='} {low}, got {text}")
        return value

    return parse


def add_storage_option(p: argparse.ArgumentParser, applies_to: str = "") -> None:
    """``--storage-option KEY=VALUE``, repeatable (read with :func:`factory.dataset.options.parse_options`);
    ``applies_to`` says which URLs it is for when a command has several."""
    where = f" for {applies_to}" if applies_to else ""
    p.add_argument("--storage-option", action="append", default=[], metavar="KEY=VALUE",
                   help=f"fsspec storage option{where}, repeatable: endpoint_url=http://host:9000, "
                        "region=eu-west-1, profile=NAME, anon=true, ... (S3 settings also come from the AWS_* "
                        "variables)")


# The renderer's devices and the largest launch, as factory.render.device and
# factory.scene.config define them (spelt here so that ``--help`` imports neither; a test
# checks that they agree).
DEVICES = ("cpu", "cuda")
MAX_BATCH_VIEWS = 4096


def int_between(low: int, high: int):
    """An argparse type: an integer in ``[low, high]``."""
    at_least = int_at_least(low)

    def parse(text: str) -> int:
        value = at_least(text)
        if value > high:
            raise argparse.ArgumentTypeError(f"must be <= {high}, got {value}")
        return value

    return parse


def add_render_options(p: argparse.ArgumentParser, what: str = "the config") -> None:
    """``--device`` and ``--batch-views``, overriding ``render.device`` and
    ``render.batch_views`` of ``what`` (read back with :func:`render_overrides`)."""
    p.add_argument("--device", choices=DEVICES, default=None,
                   help=f"where the renderer runs, replacing render.device of {what}: cpu or cuda "
                        "(Warp kernels); default: the config's")
    p.add_argument("--batch-views", type=int_between(0, MAX_BATCH_VIEWS), default=None, metavar="N",
                   help=f"views (frames) per render launch, replacing render.batch_views of {what} "
                        f"(0: sized from the device's memory, at most {MAX_BATCH_VIEWS}); default: the config's")


def render_overrides(args: argparse.Namespace) -> dict:
    """The ``render`` settings that ``--device`` / ``--batch-views`` set (only those given)."""
    out = {}
    if getattr(args, "device", None) is not None:
        out["device"] = args.device
    if getattr(args, "batch_views", None) is not None:
        out["batch_views"] = args.batch_views
    return out


def source_of(path, overrides: dict) -> str:
    """How errors name a config: its file, and the flags that changed it."""
    flags = " ".join(f"--{k.replace('_', '-')} {v}" for k, v in overrides.items())
    return f"{path} with {flags}" if flags else str(path)


def load_config_with(path, overrides: dict):
    """The config file at ``path`` with ``overrides`` merged into its ``render`` block,
    validated as a whole (a :class:`~factory.scene.config.Config`).

    Raises:
        ConfigError: the file, or the file with the overrides, is not a valid config.
    """
    from factory.scene.config import load_config, parse_config

    config = load_config(path)
    if not overrides:
        return config
    data = config.resolved()
    data["render"] = {**data["render"], **overrides}
    return parse_config(data, source_of(path, overrides))


def check_device(device: str, source: str, *, here: bool = True) -> None:
    """Refuse, before Ray starts or anything renders, a ``device`` this machine cannot
    render on (``cuda`` where Warp sees no CUDA device), with the renderer's own message
    (which names ``render.device``).

    ``here`` False skips the check: rendering happens on a cluster's nodes (RAY_ADDRESS
    set), which may have GPUs that this machine (a head node, a laptop) lacks.

    Raises:
        ConfigError: naming ``source`` and the reason.
    """
    if not here:
        return
    from factory.render.device import get_device

    get_device(device, source)


def sample_config(args: argparse.Namespace, indices: list[int], command: str):
    """The config of a command that renders samples ``indices`` here (``render``,
    ``rerun``): the file with ``--device`` / ``--batch-views``, its device checked, and,
    with ``--samples``, the allocation's minimums and every index inside the dataset,
    all before the heavy imports, so mistakes are reported at once.

    Raises:
        ConfigError: naming the file or ``<command> arguments`` and what is allowed.
    """
    from factory.errors import ConfigError

    overrides = render_overrides(args)
    config = load_config_with(args.config, overrides)
    check_device(config.render.device, source_of(args.config, overrides))
    if args.samples is not None:
        from factory.scene.allocation import allocate

        allocate(config, args.samples)  # the minimums must fit
        beyond = [i for i in indices if i >= args.samples]
        if beyond:
            raise ConfigError(f"{command} arguments", [
                f"--index {beyond[0]}: outside a dataset of --samples {args.samples} "
                f"(allowed: 0 to {args.samples - 1})"])
    return config


def renders_here() -> bool:
    """Whether a Ray command renders on this machine: it starts an embedded local Ray
    (RAY_ADDRESS unset) rather than joining a cluster (see :mod:`factory.onray.session`)."""
    import os

    return not os.environ.get("RAY_ADDRESS")


def job_main(prog: str, doc: str, add_arguments: Callable[[argparse.ArgumentParser], argparse.ArgumentParser],
             run: Callable[[argparse.Namespace], int], argv: list[str] | None = None) -> int:
    """A command as a Ray job entrypoint (``python -m jobs.NAME``): its arguments (from
    ``add_arguments``, with the description of the command's ``doc``), its ``run``, and
    exit status 2 with one ``PROG: error: ...`` line on stderr for a FactoryError."""
    from factory.commands import description
    from factory.errors import FactoryError

    parser = argparse.ArgumentParser(prog=prog, description=description(doc))
    args = add_arguments(parser).parse_args(argv)
    try:
        return run(args)
    except FactoryError as e:
        print(f"{prog}: error: {e}", file=sys.stderr)
        return 2
