"""The ``factory`` command line: a thin shell over the library.

Each subcommand is a module in :mod:`factory.commands` (see its docstring for the
two functions it exposes); adding one is one line in :data:`COMMANDS`. Errors that
factory raises on purpose (:class:`~factory.errors.FactoryError`) print their message
to stderr as one line and exit with status 2, without a traceback; argparse's own usage errors
also exit with 2.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from factory import __version__
from factory.commands import description, error_line
from factory.errors import FactoryError

# Subcommand modules, in the order `factory --help` lists them.
COMMANDS = (
    "factory.commands.render",
    "factory.commands.rerun",
    "factory.commands.plan",
    "factory.commands.generate",
    "factory.commands.serve",
    "factory.commands.validate",
    "factory.commands.report",
    "factory.commands.compare",
    "factory.commands.mix",
    "factory.commands.warmup",
    "factory.commands.pack",
    "factory.commands.backdrops",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="factory", description="Synthetic clips with exact ground truth, on Ray.")
    parser.add_argument("--version", action="version", version=f"factory {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMANDS:
        module = importlib.import_module(name)
        sub = subparsers.add_parser(name.rpartition(".")[2], help=module.HELP, description=description(module.__doc__))
        module.add_arguments(sub).set_defaults(run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except FactoryError as e:
        print(error_line(f"factory {args.command}", e), file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
