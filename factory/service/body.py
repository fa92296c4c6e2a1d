"""A client's JSON document, read so that no input can end in anything but an ApiError.

What a hostile body tried, and where each is stopped:

* **Deep nesting** (``[[[[...]]]]`` a few thousand levels, in the body or inside
  ``overrides``): CPython's parser recurses per level and so does everything after it
  (the merge into the config, pydantic, hashing). The parser's own ``RecursionError`` is
  answered 400, and a parsed document deeper than :data:`MAX_DEPTH` levels is refused
  before anything walks it recursively (the walk here uses its own stack).
* **Strings that are not Unicode text** (``"\\ud800"``: a lone UTF-16 surrogate, which
  JSON's escapes can spell but UTF-8 cannot hold): the config hash and the answer encode
  every string as UTF-8, so each string and key is checked here and named by its path.
* **Numbers Python reads but nothing downstream can use**: ``NaN``/``Infinity``
  (Python's json accepts them; JSON does not), a float that overflows to infinity
  (``1e999``) and an integer over Python's 4300-digit conversion limit.

Every refusal is a 400 naming the field (``body``, or ``overrides.render.width`` style
paths under it) and what is allowed. The byte limit (413) is checked by the caller
before the bytes are read in full.
"""

from __future__ import annotations

import json
import math
from typing import Any

from factory.errors import ApiError

MAX_DEPTH = 32  # levels of nesting a request may use; a scenario config needs about 6


def parse_json(raw: bytes | str, field: str = "body", max_depth: int = MAX_DEPTH) -> Any:
    """The JSON value of ``raw`` (an empty body is None), checked as the module says.

    Raises:
        ApiError: 400 naming ``field`` (or the path inside it) for a body that is not
            JSON, too deep, holds a string that is not Unicode text or a number that is
            not finite.
    """
    if not raw.strip():
        return None
    try:
        data = json.loads(raw, parse_constant=_no_constant, parse_float=_finite_float)
    except RecursionError:
        raise _too_deep(field, max_depth) from None
    except ValueError as e:  # not JSON, not UTF-8, NaN, 1e999, an integer of over 4300 digits
        raise ApiError(400, [{"field": field, "message": f"not valid JSON ({e}); send a JSON object"}]) from None
    check_tree(data, field, max_depth)
    return data


def check_tree(data: Any, field: str, max_depth: int = MAX_DEPTH) -> None:
    """Walk a parsed JSON value without recursion: ApiError 400 at the first place that
    is nested deeper than ``max_depth`` or holds a string (or key) that is not Unicode
    text. Places inside the request body are named as the body's fields are
    (``overrides.render.width``); inside another ``field``, under its name."""
    stack: list[tuple[Any, str, int]] = [(data, field, 0)]
    while stack:
        value, path, depth = stack.pop()
        if isinstance(value, str):
            _check_text(value, path, "holds")
        elif isinstance(value, (dict, list)):
            if depth >= max_depth:
                raise _too_deep(path, max_depth)
            for key, item in value.items() if isinstance(value, dict) else enumerate(value):
                child = str(key) if path == "body" else f"{path}.{key}"
                if isinstance(key, str):
                    _check_text(key, child, "its key holds")
                stack.append((item, child, depth + 1))


def _check_text(text: str, path: str, what: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as e:
        bad = text[e.start : e.end].encode("unicode_escape").decode("ascii")
        raise ApiError(
            400,
            [
                {
                    "field": _printable(path),
                    "message": (
                        f"{what} {bad} at character {e.start}, which is not Unicode text (a lone UTF-16 surrogate); "
                        "send UTF-8 text"
                    ),
                }
            ],
        ) from None


def _printable(path: str) -> str:
    """A path that can itself be sent back: a bad key is shown with its escapes."""
    return path.encode("utf-8", "backslashreplace").decode("utf-8")


def _too_deep(field: str, max_depth: int) -> ApiError:
    return ApiError(
        400,
        [
            {
                "field": _printable(field),
                "message": (f"nested deeper than {max_depth} levels of objects and arrays; a request needs far fewer"),
            }
        ],
    )


def _no_constant(name: str):
    raise ValueError(f"{name} is not JSON")  # Python's json would accept NaN and Infinity


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text} is not a finite number")
    return value
