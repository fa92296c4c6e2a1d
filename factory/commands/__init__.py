"""Subcommands of the ``factory`` CLI, one module each.

A command module ``factory.commands.NAME`` is the subcommand ``factory NAME``; its
docstring's first paragraph is its summary, the rest its ``--help`` description. It
exposes:

* ``HELP``: the one line ``factory --help`` lists it with;
* ``add_arguments(p) -> argparse.ArgumentParser``: add its arguments to ``p``, return it;
* ``run(args) -> int``: do the work, return the exit status.

:func:`factory.cli.build_parser` makes the sub-parser of each, and
:func:`factory.commands.jobmain.job_main` the parser of a Ray job entrypoint, from the
same pieces. Register a new one by adding its module name to ``factory.cli.COMMANDS``.
Import heavy dependencies inside ``run`` so that ``factory --help`` stays instant.

Shared pieces: :mod:`~factory.commands.argtypes` (argument types and the options several
commands take), :mod:`~factory.commands.preflight` (every check a command makes before
Ray starts or anything renders, one function per kind of command) and
:mod:`~factory.commands.jobmain`. A :class:`~factory.errors.FactoryError` ends a command
with the one line of :func:`error_line` and exit status 2.
"""

from __future__ import annotations

from factory.errors import FactoryError


def description(doc: str) -> str:
    """A command's ``--help`` description: its module docstring after the summary."""
    return doc.split("\n\n", 1)[1]


def error_line(prog: str, err: FactoryError) -> str:
    """The one stderr line for ``err``: ``PROG: error: MESSAGE``, a message of several
    lines (a ConfigError's head line and its problems, one a line) joined as
    ``HEAD PROBLEM; PROBLEM``."""
    head, *rest = str(err).splitlines() or [""]
    return f"{prog}: error: " + " ".join([head.rstrip(), "; ".join(r.strip() for r in rest if r.strip())]).rstrip()
