"""Storage options: the ``key=value`` flags, the AWS environment, and hiding secrets.

Storage options come from two places, later winning:

1. the standard AWS environment variables (for ``s3://`` only):
   ``AWS_ENDPOINT_URL_S3`` / ``AWS_ENDPOINT_URL`` (S3-compatible stores such as MinIO
   or Ceph), ``AWS_REGION`` / ``AWS_DEFAULT_REGION``, ``AWS_PROFILE``,
   ``AWS_ACCESS_KEY_ID`` / ``AWS_SECRET_ACCESS_KEY`` / ``AWS_SESSION_TOKEN``;
2. ``key=value`` strings (``--storage-option`` on the command line), see
   :func:`parse_options`. ``endpoint_url``, ``region``, ``profile`` and ``anon`` are the
   usual S3 ones; any other key is passed to the fsspec filesystem as is, and dotted
   keys nest (``config_kwargs.retries.max_attempts=3``).

:func:`factory.dataset.storage.resolve` applies them; :func:`redact` hides every value
whose key looks secret wherever options are shown.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

from factory.errors import StorageError

_SECRET = re.compile(r"key|secret|token|password|passwd|credential|session", re.IGNORECASE)


def parse_options(items: Iterable[str]) -> dict[str, Any]:
    """Parse ``key=value`` strings into fsspec storage options.

    Values ``true``/``false``/``none`` become booleans/None, integers and floats become
    numbers, ``{...}``/``[...]`` are read as JSON, anything else stays a string. Dotted
    keys nest: ``client_kwargs.region_name=eu-west-1``.

    Raises:
        StorageError: an item without ``=`` or with an empty key.
    """
    out: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise StorageError(
                f"bad storage option {item!r}: expected key=value, for example endpoint_url=http://host:9000"
            )
        value = _parse_value(raw)
        node = out
        parts = key.split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise StorageError(f"bad storage option {item!r}: {part!r} is both a value and a group")
        node[parts[-1]] = value
    return out


def _parse_value(raw: str) -> Any:
    low = raw.strip().lower()
    if low in ("true", "yes", "on"):
        return True
    if low in ("false", "no", "off"):
        return False
    if low in ("none", "null"):
        return None
    for cast in (int, float):
        try:
            return cast(raw)
        except ValueError:
            pass
    if raw[:1] in "{[":
        try:
            return json.loads(raw)
        except ValueError:
            pass
    return raw


def _merge(base: dict, extra: Mapping) -> dict:
    out = dict(base)
    for k, v in extra.items():
        if isinstance(v, Mapping) and isinstance(out.get(k), Mapping):
            out[k] = _merge(dict(out[k]), v)
        else:
            out[k] = v
    return out


def _s3_env_options(env: Mapping[str, str]) -> dict[str, Any]:
    opts: dict[str, Any] = {}
    endpoint = env.get("AWS_ENDPOINT_URL_S3") or env.get("AWS_ENDPOINT_URL")
    if endpoint:
        opts["endpoint_url"] = endpoint
    region = env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION")
    if region:
        opts["client_kwargs"] = {"region_name": region}
    if env.get("AWS_PROFILE"):
        opts["profile"] = env["AWS_PROFILE"]
    if env.get("AWS_ACCESS_KEY_ID") and env.get("AWS_SECRET_ACCESS_KEY"):
        opts["key"] = env["AWS_ACCESS_KEY_ID"]
        opts["secret"] = env["AWS_SECRET_ACCESS_KEY"]
        if env.get("AWS_SESSION_TOKEN"):
            opts["token"] = env["AWS_SESSION_TOKEN"]
    return opts


def s3_options(options: Mapping[str, Any], env: Mapping[str, str]) -> dict[str, Any]:
    """The options of an ``s3://`` location: the environment's, then ``options`` (with
    their short names) over them; anonymous access drops every credential."""
    opts = _merge(_s3_env_options(env), _s3_aliases(dict(options)))
    if opts.get("anon"):  # anonymous access: no credentials from the environment
        for k in ("key", "secret", "token", "profile"):
            opts.pop(k, None)
    return opts


def _s3_aliases(opts: dict[str, Any]) -> dict[str, Any]:
    """Short names for the usual S3 options: endpoint, region, anonymous."""
    opts = dict(opts)
    if "endpoint" in opts:
        opts["endpoint_url"] = opts.pop("endpoint")
    if "region" in opts:
        opts["client_kwargs"] = _merge(opts.get("client_kwargs") or {}, {"region_name": opts.pop("region")})
    if "anonymous" in opts:
        opts["anon"] = opts.pop("anonymous")
    return opts


def redact(options: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of ``options`` with every secret-looking value replaced by ``'***'``."""
    out = {}
    for k, v in options.items():
        if isinstance(v, Mapping):
            out[k] = redact(v)
        elif _SECRET.search(str(k)) and v is not None:
            out[k] = "***"
        else:
            out[k] = v
    return out
