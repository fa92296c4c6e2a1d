"""Argument types shared by the subcommands: numbers with bounds, with messages that say
what was given and what is allowed; and the options several commands take
(``--storage-option``, and ``--device`` / ``--batch-views`` of the commands that render).
What a command checks once its arguments are parsed is :mod:`factory.commands.preflight`."""

from __future__ import annotations

import argparse

# Their one definition. ``factory --help`` imports scene.config anyway (through the
# commands' defaults), so this costs it nothing: median 0.73 s with, 0.76 s before.
from factory.scene.config import DEVICES, MAX_BATCH_VIEWS


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


def share(text: str) -> float:
    """An argparse type: a share in [0, 1] (``--oracle``'s fraction of pixels)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be a share in [0, 1], got {value}")
    return value


def add_storage_option(p: argparse.ArgumentParser, applies_to: str = "") -> None:
    """``--storage-option KEY=VALUE``, repeatable (read with :func:`factory.dataset.options.parse_options`);
    ``applies_to`` says which URLs it is for when a command has several."""
    where = f" for {applies_to}" if applies_to else ""
    p.add_argument(
        "--storage-option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help=f"fsspec storage option{where}, repeatable: endpoint_url=http://host:9000, "
        "region=eu-west-1, profile=NAME, anon=true, ... (S3 settings also come from the AWS_* "
        "variables)",
    )


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
    p.add_argument(
        "--device",
        choices=DEVICES,
        default=None,
        help=f"where the renderer runs, replacing render.device of {what}: cpu or cuda "
        "(Warp kernels); default: the config's",
    )
    p.add_argument(
        "--batch-views",
        type=int_between(0, MAX_BATCH_VIEWS),
        default=None,
        metavar="N",
        help=f"views (frames) per render launch, replacing render.batch_views of {what} "
        f"(0: sized from the device's memory, at most {MAX_BATCH_VIEWS}); default: the config's",
    )


def render_overrides(args: argparse.Namespace) -> dict:
    """The ``render`` settings that ``--device`` / ``--batch-views`` set (only those given)."""
    out = {}
    if getattr(args, "device", None) is not None:
        out["device"] = args.device
    if getattr(args, "batch_views", None) is not None:
        out["batch_views"] = args.batch_views
    return out
