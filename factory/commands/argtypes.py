"""Argument types shared by the subcommands: numbers with a lower bound, with messages
that say what was given and what is allowed."""

from __future__ import annotations

import argparse


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
    """``--storage-option KEY=VALUE``, repeatable (read with :func:`factory.storage.parse_options`);
    ``applies_to`` says which URLs it is for when a command has several."""
    where = f" for {applies_to}" if applies_to else ""
    p.add_argument("--storage-option", action="append", default=[], metavar="KEY=VALUE",
                   help=f"fsspec storage option{where}, repeatable: endpoint_url=http://host:9000, "
                        "region=eu-west-1, profile=NAME, anon=true, ... (S3 settings also come from the AWS_* "
                        "variables)")
