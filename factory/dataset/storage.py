"""Where datasets live: any fsspec URL, atomic puts, and a pre-flight check.

A dataset location is a URL: ``s3://bucket/prefix`` (s3fs), ``file:///abs/dir`` or a
plain path, ``memory://name`` (a process-local filesystem for tests), or any other
fsspec protocol whose package is installed. :func:`resolve` turns a URL and storage
options into a :class:`Location`; every later operation goes through it.

Storage options (``--storage-option``, the AWS environment) are read by
:mod:`factory.dataset.options`.
Options are resolved once, on the machine that starts a job, and travel with the
:class:`Location` to the workers, so every worker writes with the same settings.
Credentials are never shown: ``repr(location)`` and :meth:`Location.describe` hide
every option value whose key looks secret.

Atomic puts (:meth:`Location.put_atomic`): a file never appears under its final name
half-written. On local disks the bytes go to a temporary file in the same folder that
is then renamed over the final name; elsewhere (S3, memory, ...) a single ``pipe_file``
call puts the object, which object stores make visible all at once (a single PUT, or a
multipart upload that appears only when completed).
"""

from __future__ import annotations

import json
import os
import re
import uuid
from collections.abc import Iterable, Mapping
from typing import Any

import fsspec
from fsspec.registry import known_implementations

from factory.dataset.options import redact, s3_options
from factory.errors import StorageError

_LOCAL = ("file", "local")
_PROBE_DIR = ".factory"


def _strip_userinfo(url: str) -> str:
    return re.sub(r"^([a-zA-Z][\w+.-]*://)[^/@]*@", r"\1", url)


def _missing_package_error(url: str, protocol: str, err: BaseException) -> StorageError:
    impl = known_implementations.get(protocol, {})
    package = impl.get("class", protocol).split(".")[0]
    hint = impl.get("err") or str(err)
    return StorageError(
        f"storage URL {url!r}: protocol {protocol!r} needs the Python package {package!r}, "
        f"which is not installed ({hint}); install it with `pip install {package}`"
    )


def resolve(url: str, options: Mapping[str, Any] | None = None, env: Mapping[str, str] | None = None) -> Location:
    """Check ``url`` and build its :class:`Location` with storage options resolved.

    Raises:
        StorageError: an empty or malformed URL, an unknown protocol, or a protocol
            whose package is not installed (the message names the package).
    """
    env = os.environ if env is None else env
    if not isinstance(url, str) or not url.strip():
        raise StorageError("dataset URL is empty; give a folder, file://, s3://bucket/prefix or memory:// URL")
    url = url.strip()
    shown = _strip_userinfo(url)
    if "::" in url:
        raise StorageError(f"storage URL {shown!r}: chained fsspec URLs ('::') are not supported")
    protocol, _ = fsspec.core.split_protocol(url)
    protocol = (protocol or "file").lower()
    if protocol == "s3a":
        protocol = "s3"
    try:
        cls = fsspec.get_filesystem_class(protocol)
    except ImportError as e:
        raise _missing_package_error(shown, protocol, e) from None
    except ValueError:
        others = (p for p in ("gs", "az", "abfs", "hdfs") if p in known_implementations)
        known = ", ".join(sorted({"file", "memory", "s3", *others}))
        raise StorageError(
            f"storage URL {shown!r}: unknown protocol {protocol!r}; use a plain path or one of {known}, "
            "or install the fsspec package that provides it"
        ) from None
    opts: dict[str, Any] = dict(options or {})
    if protocol == "s3":
        opts = s3_options(opts, env)
    path = cls._strip_protocol(url)
    if isinstance(path, list):  # pragma: no cover - only for globs, which we do not pass
        path = path[0]
    path = path.rstrip("/")
    if protocol in _LOCAL:
        protocol = "file"
        path = os.path.abspath(os.path.expanduser(path or "."))
    elif protocol == "s3":
        if shown != url:
            raise StorageError(
                f"storage URL {shown!r}: credentials in an s3:// URL are not supported; use the AWS_* "
                "variables, a profile or --storage-option key=... secret=..."
            )
        bucket = path.split("/", 1)[0]
        if not bucket:
            raise StorageError(f"storage URL {shown!r} names no bucket; expected s3://bucket/prefix")
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{1,254}", bucket):
            raise StorageError(
                f"storage URL {shown!r}: {bucket!r} is not a valid bucket name "
                "(letters, digits, '.', '-' and '_', 3 or more characters)"
            )
    elif protocol == "memory":
        path = "/" + path.lstrip("/")
    return Location(protocol, path, opts, shown)


class Location:
    """A dataset folder on some fsspec filesystem, with the options to reach it.

    Names passed to the methods are relative to the folder, with ``/`` separators.
    Picklable (the filesystem object is rebuilt lazily in each process).
    """

    def __init__(self, protocol: str, path: str, options: Mapping[str, Any], url: str):
        self.protocol = protocol
        self.path = path
        self._options = dict(options)
        self.url = url
        self._fs = None

    def __getstate__(self):
        state = self.__dict__.copy()
        state["_fs"] = None
        return state

    def __repr__(self) -> str:
        return f"Location({self.url!r}, options={redact(self._options)!r})"

    def describe(self) -> str:
        """The URL plus the non-secret options, for messages and logs."""
        shown = redact(self._options)
        return self.url + (f" (options: {json.dumps(shown, sort_keys=True)})" if shown else "")

    @property
    def is_local(self) -> bool:
        """True for a folder on this machine's disk (atomic via rename)."""
        return self.protocol == "file"

    @property
    def process_local(self) -> bool:
        """True when the filesystem lives in one process only (``memory://``): Ray
        workers cannot see it, so the job commits such a dataset from the driver."""
        return self.protocol == "memory"

    @property
    def fs(self) -> fsspec.AbstractFileSystem:
        if self._fs is None:
            self._fs = fsspec.filesystem(self.protocol, **self._options)
        return self._fs

    def full(self, name: str = "") -> str:
        """The filesystem path of ``name`` inside this folder."""
        return f"{self.path}/{name}" if name else self.path

    def url_of(self, name: str = "") -> str:
        """The URL of ``name``, for messages (no credentials)."""
        base = self.url.rstrip("/")
        return f"{base}/{name}" if name else base

    # -- operations ---------------------------------------------------------------

    def put_atomic(self, name: str, data: bytes) -> None:
        """Write ``data`` to ``name`` so that it never appears half-written."""
        target = self.full(name)
        try:
            if self.is_local:
                folder = os.path.dirname(target)
                os.makedirs(folder, exist_ok=True)
                tmp = os.path.join(folder, f".{os.path.basename(target)}.tmp-{uuid.uuid4().hex[:12]}")
                try:
                    with open(tmp, "wb") as f:
                        f.write(data)
                    os.replace(tmp, target)
                except BaseException:
                    try:
                        os.unlink(tmp)
                    except OSError:
                        pass
                    raise
            else:
                self.fs.pipe_file(target, bytes(data))
        except Exception as e:
            raise storage_error(self, f"cannot write {name}", e) from e

    def read(self, name: str) -> bytes:
        try:
            return self.fs.cat_file(self.full(name))
        except Exception as e:
            raise storage_error(self, f"cannot read {name}", e) from e

    def read_or_none(self, name: str) -> bytes | None:
        """The bytes of ``name``, or None when it does not exist."""
        try:
            return self.fs.cat_file(self.full(name))
        except FileNotFoundError:
            return None
        except Exception as e:
            raise storage_error(self, f"cannot read {name}", e) from e

    def list(self, folder: str = "") -> dict[str, int]:
        """Files directly in ``folder`` (relative names) with their sizes in bytes."""
        base = self.full(folder)
        try:
            entries = self.fs.ls(base, detail=True, refresh=True) if self.fs.exists(base) else []
        except FileNotFoundError:
            return {}
        except Exception as e:
            raise storage_error(self, f"cannot list {folder or '.'}", e) from e
        out = {}
        prefix = (base.rstrip("/") + "/").lstrip("/")
        for entry in entries:
            if entry.get("type") != "file":
                continue
            name = entry["name"].lstrip("/")
            rel = name[len(prefix) :] if name.startswith(prefix) else name.rsplit("/", 1)[-1]
            out[f"{folder}/{rel}" if folder else rel] = int(entry.get("size") or 0)
        return out

    def delete(self, names: Iterable[str]) -> None:
        """Remove files; names that do not exist are ignored."""
        for name in names:
            try:
                self.fs.rm_file(self.full(name))
            except FileNotFoundError:
                pass
            except Exception as e:
                raise storage_error(self, f"cannot delete {name}", e) from e

    def ensure_folder(self) -> None:
        """Create the folder where that means something (local disks); object stores
        have no folders and buckets are never created."""
        if self.is_local:
            try:
                os.makedirs(self.path, exist_ok=True)
            except OSError as e:
                raise storage_error(self, "cannot create the folder", e) from e

    def check_writable(self) -> None:
        """Pre-flight: create the folder if local, then put and delete a probe object
        (on a local disk its folder too, when empty: a report's folder keeps no trace).

        Raises:
            StorageError: with the cause in words (missing bucket, no permission or bad
                credentials, unreachable endpoint, ...).
        """
        self.ensure_folder()
        probe = f"{_PROBE_DIR}/probe-{uuid.uuid4().hex}"
        self.put_atomic(probe, b"factory write probe\n")
        self.delete([probe])
        if self.is_local:
            try:
                os.rmdir(self.full(_PROBE_DIR))
            except OSError:  # not empty: a dataset's records are there
                pass


def storage_error(loc: Location, action: str, err: BaseException) -> StorageError:
    """A :class:`StorageError` for ``action`` on ``loc`` that says what went wrong."""
    if isinstance(err, StorageError):
        return err
    where = loc.url_of()
    name = type(err).__name__
    text = str(err) or name
    if name == "NoCredentialsError":
        why = (
            "no credentials found; set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY or AWS_PROFILE, "
            "or pass --storage-option anon=true for a public bucket"
        )
    elif name in ("EndpointConnectionError", "ConnectTimeoutError", "ClientConnectorError") or isinstance(
        err, ConnectionError
    ):
        endpoint = loc._options.get("endpoint_url") or "the default endpoint"
        why = f"cannot connect to {endpoint} ({text}); check AWS_ENDPOINT_URL / --storage-option endpoint_url"
    elif isinstance(err, PermissionError) and loc.is_local:
        why = f"permission denied ({text})"
    elif isinstance(err, PermissionError):
        why = (
            f"permission denied ({text}); check the credentials (AWS_ACCESS_KEY_ID, AWS_PROFILE, "
            "--storage-option) and that they may write there"
        )
    elif isinstance(err, FileNotFoundError) and loc.protocol == "s3":
        bucket = loc.path.split("/", 1)[0]
        why = f"bucket {bucket!r} does not exist or is not reachable ({text}); create it first"
    elif isinstance(err, (NotADirectoryError, FileExistsError, IsADirectoryError)) and loc.is_local:
        why = f"{text}; the path must be a folder"
    else:
        why = f"{name}: {text}"
    return StorageError(f"{where}: {action}: {why}")
