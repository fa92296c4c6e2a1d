"""Subcommands of the ``factory`` CLI, one module each.

A command module ``factory.commands.NAME`` is the subcommand ``factory NAME``; its
docstring's first paragraph is its summary, the rest its ``--help`` description. It
exposes:

* ``HELP``: the one line ``factory --help`` lists it with;
* ``add_arguments(p) -> argparse.ArgumentParser``: add its arguments to ``p``, return it;
* ``run(args) -> int``: do the work, return the exit status.

:func:`factory.cli.build_parser` makes the sub-parser of each, and
:func:`factory.commands.argtypes.job_main` the parser of a Ray job entrypoint, from the
same pieces. Register a new one by adding its module name to ``factory.cli.COMMANDS``.
Import heavy dependencies inside ``run`` so that ``factory --help`` stays instant.
"""


def description(doc: str) -> str:
    """A command's ``--help`` description: its module docstring after the summary."""
    return doc.split("\n\n", 1)[1]
