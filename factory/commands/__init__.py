"""Subcommands of the ``factory`` CLI, one module each.

A command module exposes two functions:

* ``add_parser(subparsers) -> argparse.ArgumentParser``: add and return its sub-parser;
* ``run(args) -> int``: do the work, return the exit status.

Register a new one by adding its module name to ``factory.cli.COMMANDS``. Import heavy
dependencies inside ``run`` so that ``factory --help`` stays instant.
"""
