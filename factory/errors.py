"""Exceptions raised by factory.

The tree::

    FactoryError                      base of everything factory raises on purpose
    ├── ConfigError (ValueError)      a config file, argument or device is invalid; names
    │                                 each field (``render.device`` for a device this
    │                                 machine cannot render on)
    ├── ParamError (ValueError)       one parameter value or distribution is not allowed;
    │                                 the config layer turns it into a ConfigError naming
    │                                 the field
    ├── RenderError                   rendering one sample failed; names index, scenario, seed
    │   └── FailureBudgetError        more samples failed than --max-failures allows
    ├── StorageError (OSError)        a dataset URL cannot be read or written
    │   └── DatasetConflictError      the URL holds a different dataset (refused without
    │                                 --overwrite)
    ├── ShardFormatError (ValueError) a shard is not a well-formed tar; names the shard
    │                                 and the byte offset
    ├── AssetError (ValueError)       an asset pack, its source or one of its files is
    │                                 refused (licence, mesh, texture, hash, archive
    │                                 entry); names the file
    ├── Stopped                       work given up between two of its steps: its request's
    │                                 time limit ran out or its client went away
    ├── ApiError                      an HTTP client's mistake or a limit reached: a 4xx
    │                                 status and the problems, each naming the field (the
    │                                 service raises it; factory.client raises it again
    │                                 from the answer)
    └── ServiceError                  the endpoint stayed unavailable (429, 5xx, dropped
                                      connections) through factory.client's retries

Foreign errors are translated at one border each: pydantic's in
:func:`factory.scene.validation.validation_problems`, fsspec's and the OS's in
:mod:`factory.dataset.storage`, FastAPI's in :mod:`factory.service.app`.

Each message says what is wrong, with the bad value, and what is allowed.

Every one of them survives pickling (Ray ships exceptions between processes), whatever
its constructor's signature: :meth:`FactoryError.__reduce__` rebuilds the instance from
its ``args`` and attributes without calling ``__init__``.
"""

from __future__ import annotations

import json


class FactoryError(Exception):
    """Base class for errors that factory raises on purpose."""

    def __reduce__(self):
        return (_rebuild, (type(self), self.args, self.__dict__))


def _rebuild(cls, args, state):
    err = cls.__new__(cls)
    err.args = args
    err.__dict__.update(state)
    return err


class ConfigError(FactoryError, ValueError):
    """An invalid config. ``problems`` holds one ``path: message (got value)`` line each;
    ``fields``, when the error came from validation, the same as
    ``{"field", "message", "value"}`` dicts (``value`` absent for missing/unknown keys)."""

    def __init__(self, source: str, problems: list[str], fields: list[dict] | None = None):
        self.source = source
        self.problems = list(problems)
        self.fields = [dict(f) for f in fields] if fields else [{"field": "<config>", "message": p} for p in problems]
        super().__init__(f"invalid config {source}:\n  " + "\n  ".join(self.problems))

    @classmethod
    def of(cls, source: str, fields: list[dict]) -> ConfigError:
        """The error for structured problems (see :func:`factory.scene.validation.validation_problems`)."""
        return cls(source, [problem_line(f) for f in fields], fields)


def problem_line(problem: dict) -> str:
    """One ``{"field", "message"[, "value"]}`` problem as a ``path: message (got value)`` line."""
    got = f" (got {problem['value']!r})" if "value" in problem else ""
    return f"{problem['field']}: {problem['message']}{got}"


class RenderError(FactoryError):
    """Generating one sample failed. Carries what is needed to reproduce it."""

    def __init__(self, index: int, scenario: str, seed: int, cause: BaseException):
        self.index, self.scenario, self.seed = index, scenario, seed
        super().__init__(f"sample {index} (scenario {scenario!r}, seed {seed}) failed: {type(cause).__name__}: {cause}")


class FailureBudgetError(RenderError):
    """More samples failed than the ``--max-failures`` budget allows. ``index``,
    ``scenario`` and ``seed`` are those of the first failure; ``failures`` lists the
    first few as ``{index, scenario, seed, error}``."""

    def __init__(self, failures: list[dict], count: int, budget: int):
        self.failures = [dict(f) for f in failures]
        self.count, self.budget = count, budget
        first = self.failures[0] if self.failures else {"index": -1, "scenario": "?", "seed": -1, "error": "?"}
        self.index, self.scenario, self.seed = first["index"], first["scenario"], first["seed"]
        shown = "; ".join(
            f"sample {f['index']} (scenario {f['scenario']!r}, seed {f['seed']}): {f['error']}" for f in self.failures
        )
        FactoryError.__init__(self, f"{count} samples failed, more than --max-failures {budget} allows; first: {shown}")


class StorageError(FactoryError, OSError):
    """A dataset location that cannot be used; the message names the URL."""


class DatasetConflictError(StorageError):
    """The dataset URL already holds a different dataset (another config, sample count,
    shard size or prefix), or files that are not a factory dataset; pass ``--overwrite``
    to replace it."""


class ParamError(FactoryError, ValueError):
    """A parameter value that is not allowed; the message says what is allowed."""


class ShardFormatError(FactoryError, ValueError):
    """A shard is not a well-formed tar. ``offset`` is the byte where reading failed."""

    def __init__(self, shard: str, offset: int, message: str):
        self.shard, self.offset, self.message = shard, offset, message
        super().__init__(f"{shard}: at byte {offset}: {message}")


class AssetError(FactoryError, ValueError):
    """An asset pack or its source refused: ``file`` names the file (a mesh, texture,
    archive entry, ``pack.json``), the message says what is wrong and what is allowed."""

    def __init__(self, file: str, message: str):
        self.file, self.message = file, message
        super().__init__(f"{file}: {message}")


class Stopped(FactoryError):
    """Work given up between two of its steps (render launches, physics steps, samples),
    because whoever asked for it no longer wants it. Never a sample's own failure."""


class ApiError(FactoryError):
    """A client mistake (or a limit reached): an HTTP ``status`` and ``problems``, each
    ``{"field", "message"[, "value"]}``."""

    def __init__(self, status: int, problems: list[dict], summary: str | None = None):
        self.status = status
        self.problems = [_jsonable(p) for p in problems]
        lines = [problem_line(p) for p in self.problems]
        self.summary = summary or ("; ".join(lines[:3]) + (f"; and {len(lines) - 3} more" if len(lines) > 3 else ""))
        super().__init__(self.summary)

    def body(self) -> dict:
        """The JSON body of the answer."""
        return {"error": self.summary, "status": self.status, "problems": self.problems}


def _jsonable(problem: dict, limit: int = 200) -> dict:
    """A copy of ``problem`` whose ``value`` is JSON and short (long values are cut, so
    an answer never echoes a large body back)."""
    if "value" not in problem:
        return dict(problem)
    value = problem["value"]
    try:
        text = json.dumps(value, allow_nan=False)
    except (TypeError, ValueError):
        value = text = repr(value)
    if len(text) > limit:
        value = text[:limit] + "..."
    return {**problem, "value": value}


class ServiceError(FactoryError):
    """The endpoint could not be reached or kept failing (429, 5xx, connections cut)
    through all of :class:`factory.client.Client`'s retries; says how often and the last
    failure."""
