"""A client for the endpoint (``factory serve``): samples by index, streamed and decoded.

    from factory.client import Client

    client = Client("http://127.0.0.1:8000")           # token: argument or FACTORY_SERVE_TOKEN
    for s in client.samples(start=0, count=32, scenario="quickstart", modalities=["rgb", "depth"]):
        s.index, s.meta["scenario"], s.arrays["depth"].shape   # (T, H, W) float32, metres

What it does for the caller:

* **Ranges, split.** ``start .. start+count-1`` is asked for in requests of at most
  ``per_request`` samples (the service refuses more than its ``max_count``).
* **Streaming.** The tar answer is read as it arrives; a sample is handed over as soon
  as its last member is in (the next sample's first member, or the archive's end,
  says so), decoded (:func:`factory.sample.decode.decode_present`) or as raw members.
* **Retries that never duplicate or skip.** A 429, a 5xx, a refused or dropped
  connection, or a stream cut mid-sample is retried with exponential backoff (the
  server's ``Retry-After`` when it sends one), from the first index not yet handed
  over: a half-received sample is dropped and asked for again, and every sample's key
  is checked against the index expected next. ``retries`` failures in a row without a
  sample arriving give up with :class:`~factory.errors.ServiceError`.
* **Errors with the server's words.** Any other 4xx raises
  :class:`~factory.errors.ApiError` with the server's status and problem list (each
  ``{"field", "message", "value"}``), e.g. 401 without the right token, 422 for an
  unknown scenario or a bad override.

Samples are the same bytes as the batch job's for the same config, seed, index and
dataset size (``samples``; None: the endpoint's open-ended stream).
"""

from __future__ import annotations

import os
import random
import tarfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import requests
import urllib3

from factory.errors import ApiError, ServiceError
from factory.sample.types import sample_key

TOKEN_ENV = (
    "FACTORY_SERVE_TOKEN"  # the bearer token's variable: the client sends it, the endpoint (service.app) wants it
)
RETRY_STATUS = (429, 500, 502, 503, 504)
# What a dropped or cut connection raises: while connecting (requests), and while the
# tar is read straight from the socket (urllib3, tarfile).
_CUT = (
    requests.ConnectionError,
    requests.Timeout,
    requests.exceptions.ChunkedEncodingError,
    urllib3.exceptions.HTTPError,
    tarfile.ReadError,
    EOFError,
    OSError,
)


@dataclass
class Sample:
    """One sample: its ``index``, tar ``key``, raw ``members`` ({"json": bytes,
    "rgb.png": bytes, ...}), and, when decoded, ``meta`` (the metadata dict) and
    ``arrays`` (:func:`~factory.sample.decode.decode_present`'s arrays, e.g. ``rgb``
    (T, H, W, 3) uint8, ``depth`` (T, H, W) float32 metres)."""

    index: int
    key: str
    members: dict[str, bytes]
    meta: dict | None = None
    arrays: dict[str, Any] = field(default_factory=dict)


@dataclass
class Client:
    """The endpoint at ``url`` (see the module docstring).

    ``token``: the bearer token (None: ``$FACTORY_SERVE_TOKEN``, if set). ``timeout``:
    seconds to connect and between bytes of an answer. ``retries``: failures in a row
    before giving up; ``backoff``: the first wait (s), doubled each time, at most
    ``max_wait``. ``per_request``: samples per request. ``session``: the
    ``requests.Session`` every request goes through (a test mounts a fake transport on
    it); ``sleep``: how a wait between tries is spent, given seconds (a test records them).
    """

    url: str = "http://127.0.0.1:8000"
    token: str | None = None
    timeout: float = 300.0
    retries: int = 6
    backoff: float = 0.5
    max_wait: float = 20.0
    per_request: int = 16
    session: requests.Session = field(default_factory=requests.Session, repr=False)
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False)
    stats: dict[str, int] = field(default_factory=lambda: {"requests": 0, "retries": 0, "samples": 0})

    def __post_init__(self):
        self.url = self.url.rstrip("/")
        if self.token is None:
            self.token = os.environ.get(TOKEN_ENV) or None
        if self.per_request < 1:
            raise ValueError(f"per_request: {self.per_request} is not allowed; at least 1")

    # -- the routes ---------------------------------------------------------------------

    def health(self) -> dict:
        """``GET /healthz``: liveness and the replica's counters."""
        return self._get("/healthz")

    def scenarios(self) -> dict:
        """``GET /v1/scenarios``: the shipped configs the service offers."""
        return self._get("/v1/scenarios")["scenarios"]

    def samples(
        self,
        start: int = 0,
        count: int = 1,
        *,
        scenario: str | None = None,
        config: dict | None = None,
        overrides: dict | None = None,
        seed: int | None = None,
        samples: int | None = None,
        modalities: list[str] | None = None,
        decode: bool = True,
    ) -> Iterator[Sample]:
        """Samples ``start .. start+count-1`` in order, each once (see the module docstring).

        ``scenario`` names a shipped config, or ``config`` is a whole one (a dict as its
        YAML parses); ``overrides`` merge into it; ``seed`` replaces its seed; ``samples``
        is the dataset size that fixes each index's scenario; ``modalities`` the image
        members besides the JSON (None: all). ``decode`` False leaves ``meta`` and
        ``arrays`` empty (the raw members only).

        Raises:
            ApiError: the service refused the request (4xx but 429), with its problems.
            ServiceError: ``retries`` failures in a row (429, 5xx, connection).
        """
        if start < 0 or count < 0:
            raise ValueError(f"start {start}, count {count}: both must be >= 0")
        body = {
            k: v
            for k, v in {
                "scenario": scenario,
                "config": config,
                "overrides": overrides,
                "seed": seed,
                "samples": samples,
                "modalities": modalities,
            }.items()
            if v is not None
        }
        end = start + count
        for first in range(start, end, self.per_request):
            yield from self._range(body, first, min(first + self.per_request, end), decode)

    # -- internals ----------------------------------------------------------------------

    def _headers(self) -> dict:
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    def _get(self, route: str) -> dict:
        failures = 0
        while True:
            try:
                r = self.session.get(self.url + route, headers=self._headers(), timeout=self.timeout)
            except _CUT as e:
                failures = self._wait(failures, None, e)
                continue
            if r.status_code in RETRY_STATUS:
                failures = self._wait(failures, r, None)
                continue
            _raise_for(r)
            return r.json()

    def _range(self, body: dict, first: int, end: int, decode: bool) -> Iterator[Sample]:
        """Samples ``first .. end-1``, retried from the first one not yet handed over."""
        nxt, failures = first, 0
        while nxt < end:
            try:
                r = self.session.post(
                    self.url + "/v1/samples",
                    json={**body, "start": nxt, "count": end - nxt},
                    headers={**self._headers(), "Accept": "application/x-tar"},
                    timeout=self.timeout,
                    stream=True,
                )
                self.stats["requests"] += 1
            except _CUT as e:
                failures = self._wait(failures, None, e)
                continue
            with r:
                if r.status_code in RETRY_STATUS:
                    failures = self._wait(failures, r, None)
                    continue
                _raise_for(r)
                try:
                    for sample in _read_tar(r, nxt, end):
                        nxt, failures = nxt + 1, 0
                        self.stats["samples"] += 1
                        yield _decoded(sample) if decode else sample
                except _CUT as e:  # cut mid-stream: what arrived whole is kept
                    failures = self._wait(failures, None, e)
                    continue
            if nxt < end:  # a well-formed answer that stopped short: ask for the rest
                failures = self._wait(failures, None, ServiceError(f"the answer ended at index {nxt}"))

    def _wait(self, failures: int, response: requests.Response | None, error: Exception | None) -> int:
        """Sleep before the next try, or raise ServiceError when the tries are spent."""
        failures += 1
        what = f"HTTP {response.status_code}" if response is not None else f"{type(error).__name__}: {error}"
        if failures > self.retries:
            raise ServiceError(f"{self.url}: {failures} failures in a row, the last {what}")
        self.stats["retries"] += 1
        wait = min(self.max_wait, self.backoff * 2 ** (failures - 1)) * (0.5 + random.random() / 2)
        after = response.headers.get("Retry-After") if response is not None else None
        if after is not None and after.isdigit():
            wait = min(self.max_wait, float(after))
        self.sleep(wait)
        return failures


def _raise_for(r: requests.Response) -> None:
    """ApiError (status and the server's problems) for a 4xx or 5xx answer."""
    if r.status_code < 400:
        return
    try:
        body = r.json()
        problems, summary = list(body.get("problems") or []), body.get("error")
    except ValueError:
        problems, summary = [{"field": "answer", "message": r.text[:200]}], None
    raise ApiError(r.status_code, problems, summary=summary and f"HTTP {r.status_code}: {summary}")


def _read_tar(r: requests.Response, first: int, end: int) -> Iterator[Sample]:
    """The samples of a tar answer as each one's members are all in; keys must run
    ``first, first+1, ...`` (a ServiceError otherwise: nothing is skipped or repeated)."""
    index, key, members = first, None, {}
    with tarfile.open(fileobj=r.raw, mode="r|") as tar:
        for info in tar:
            name_key, _, ext = info.name.partition(".")
            if key is not None and name_key != key:
                yield Sample(index, key, members)
                index, members = index + 1, {}
            if name_key != sample_key(index) or index >= end:
                raise ServiceError(f"expected the sample of index {index}, got member {info.name!r}")
            key = name_key
            members[ext] = tar.extractfile(info).read()
    if key is not None:
        yield Sample(index, key, members)


def _decoded(sample: Sample) -> Sample:
    from factory.sample.decode import decode_present

    arrays = decode_present(sample.members)
    sample.meta = arrays.pop("meta")
    sample.arrays = arrays
    return sample
