"""pydantic's validation errors as the problems a :class:`~factory.errors.ConfigError`
lists: each names the field's dotted path, the bad value and what is allowed. Used for
scenario configs (:func:`factory.scene.config.parse_config`) and for the endpoint's
request bodies and Serve settings, which are pydantic models too.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel


def _models_in(tp: Any) -> list[type[BaseModel]]:
    """The pydantic models that a type annotation is, or is a union over."""
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return [tp]
    return [a for a in getattr(tp, "__args__", ()) if isinstance(a, type) and issubclass(a, BaseModel)]


def _walk(model: type[BaseModel] | None, loc: tuple) -> tuple[tuple, type[BaseModel] | None]:
    """Follow an error location through ``model``: the location without pydantic's
    union-member tags (``scenarios.a.room.RoomSpec.width`` -> ``scenarios.a.room.width``),
    and the model in which its last part is a key (None where unknown)."""
    out, current, parent = [], model, None
    for part in loc:
        if getattr(current, "__origin__", None) in (dict, list):  # a key or an index of a container
            out.append(part)
            current, parent = current.__args__[-1], None
            continue
        models = _models_in(current)
        if not (isinstance(current, type) and issubclass(current, BaseModel)) and isinstance(part, str):
            tagged = [m for m in models if m.__name__ == part]
            if tagged:  # a tag, not a key: step into that member of the union
                current = tagged[0]
                continue
        out.append(part)
        parent = models[0] if models else None
        field = parent.model_fields.get(part) if parent is not None else None
        current = field.annotation if field else None
    return tuple(out), parent


def validation_problems(errors: Iterable[dict], model: type[BaseModel] | None = None, skip: int = 0) -> list[dict]:
    """pydantic's errors (``ValidationError.errors()``) as ``{"field": dotted path,
    "message": ..., "value": input}`` dicts (``value`` absent where the field is missing
    or unknown). ``model``, when given, lets an unknown key's message list the keys
    allowed there; ``skip`` drops that many leading parts of each location (FastAPI's
    ``body`` / ``query``)."""
    problems = []
    for e in errors:
        loc, parent = _walk(model, tuple(e["loc"][skip:]))
        path = ".".join(str(p) for p in loc) or "<top level>"
        if e["type"] == "extra_forbidden":
            hint = f"; allowed keys: {', '.join(parent.model_fields)}" if parent is not None else ""
            problems.append({"field": path, "message": f"unknown key {loc[-1]!r}{hint}"})
        elif e["type"] == "missing":
            problems.append({"field": path, "message": "required field is missing"})
        else:
            problems.append({"field": path, "message": e["msg"], "value": e["input"]})
    return problems
