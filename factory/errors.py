"""Exceptions raised by factory.

The tree::

    FactoryError                  base of everything factory raises on purpose
    ├── ConfigError (ValueError)  a config file or argument is invalid; names each field
    ├── RenderError               rendering one sample failed; names index, scenario, seed
    └── StorageError (OSError)    a dataset URL cannot be read or written

Each message says what is wrong, with the bad value, and what is allowed.
"""

from __future__ import annotations


class FactoryError(Exception):
    """Base class for errors that factory raises on purpose."""


class ConfigError(FactoryError, ValueError):
    """An invalid config. ``problems`` holds one ``path: message (got value)`` line each."""

    def __init__(self, source: str, problems: list[str]):
        self.source = source
        self.problems = list(problems)
        super().__init__(f"invalid config {source}:\n  " + "\n  ".join(self.problems))


class RenderError(FactoryError):
    """Generating one sample failed. Carries what is needed to reproduce it."""

    def __init__(self, index: int, scenario: str, seed: int, cause: BaseException):
        self.index, self.scenario, self.seed = index, scenario, seed
        super().__init__(
            f"sample {index} (scenario {scenario!r}, seed {seed}) failed: {type(cause).__name__}: {cause}"
        )


class StorageError(FactoryError, OSError):
    """A dataset location that cannot be used; the message names the URL."""
