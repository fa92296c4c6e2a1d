"""The entry point of the Ray jobs in ``jobs/``: a command's own arguments and ``run``,
under its job name (``python -m jobs.generate``), with the CLI's errors and exit
statuses."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from factory.commands import description, error_line
from factory.errors import FactoryError


def job_main(
    prog: str,
    doc: str,
    add_arguments: Callable[[argparse.ArgumentParser], argparse.ArgumentParser],
    run: Callable[[argparse.Namespace], int],
    argv: list[str] | None = None,
) -> int:
    """A command as a Ray job entrypoint (``python -m jobs.NAME``): its arguments (from
    ``add_arguments``, with the description of the command's ``doc``), its ``run``, and
    exit status 2 with one ``PROG: error: ...`` line on stderr for a FactoryError (the
    command's preflight, :mod:`factory.commands.preflight`, raises those before Ray starts)."""
    parser = argparse.ArgumentParser(prog=prog, description=description(doc))
    args = add_arguments(parser).parse_args(argv)
    try:
        return run(args)
    except FactoryError as e:
        print(error_line(prog, e), file=sys.stderr)
        return 2
