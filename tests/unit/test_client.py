"""factory.client's retry rules, each shown on the real client with a fake transport
mounted on its ``requests.Session`` (no server): a 503 with ``Retry-After`` waits that
long and asks again, a stream cut mid-sample resumes at the first sample not handed
over (none skipped, none twice), a gap in the keys is detected, a 4xx is not retried
and surfaces the server's problems. The same rules against a real ``factory serve``
(through a TCP proxy that cuts and refuses), and the bytes the client hands over, are
in tests/integration/test_client.py.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable

import pytest
import requests
import urllib3
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict

from factory.client import Client
from factory.dataset.shards import assemble, sample_segment
from factory.errors import ApiError, ServiceError
from factory.sample.types import sample_key

URL = "http://factory.test"


def members(index: int) -> dict[str, bytes]:
    """Sample ``index``'s members as the fake endpoint sends them (two, so that a cut can
    fall between the members of one sample)."""
    return {"json": json.dumps({"index": index}).encode(), "rgb.png": bytes([index % 256]) * (700 + 37 * index)}


def tar_of(indices) -> bytes:
    """The endpoint's answer for these indices: their segments and the end of the archive."""
    return assemble(sample_segment(sample_key(i), members(i)) for i in indices)


class CutStream(io.BytesIO):
    """An answer's body that stops after ``at`` bytes: with a reset connection
    (``reset``, urllib3's ProtocolError, as a dropped socket raises) or a plain early
    end of the bytes (the server closed the stream)."""

    def __init__(self, data: bytes, at: int, reset: bool):
        super().__init__(data[:at])
        self.reset = reset

    def read(self, size: int | None = -1) -> bytes:
        out = super().read(size)
        if not out and self.reset and size != 0:
            raise urllib3.exceptions.ProtocolError("Connection broken: connection reset by peer")
        return out


class FakeEndpoint(BaseAdapter):
    """A transport for the client's session: request ``n`` is answered by
    ``answers[n](body)`` -> ``(status, headers, body bytes or a readable stream)``; the
    last answer repeats. ``requests`` records ``(method, path, JSON body, headers)``."""

    def __init__(self, *answers: Callable[[dict | None], tuple]):
        super().__init__()
        self.answers = answers
        self.requests: list[tuple[str, str, dict | None, dict]] = []

    def send(self, request, stream=False, timeout=None, verify=True, cert=None, proxies=None):
        body = json.loads(request.body) if request.body else None
        self.requests.append((request.method, request.path_url, body, dict(request.headers)))
        status, headers, payload = self.answers[min(len(self.requests), len(self.answers)) - 1](body)
        response = requests.Response()
        response.status_code, response.headers = status, CaseInsensitiveDict(headers)
        response.raw = payload if hasattr(payload, "read") else io.BytesIO(payload)
        response.url, response.request, response.encoding = request.url, request, "utf-8"
        return response

    def close(self):
        pass


def ok(body: dict) -> tuple:
    """The samples a ``POST /v1/samples`` body asks for, whole."""
    return 200, {"Content-Type": "application/x-tar"}, tar_of(range(body["start"], body["start"] + body["count"]))


def client_on(endpoint: FakeEndpoint, **kw) -> tuple[Client, list[float]]:
    """A real Client whose session goes through ``endpoint``; the waits it would sleep
    are recorded in the returned list instead."""
    session = requests.Session()
    session.mount("http://", endpoint)
    waits: list[float] = []
    return Client(URL, token="t0ken", session=session, sleep=waits.append, **kw), waits


def starts(endpoint: FakeEndpoint) -> list[tuple[int, int]]:
    return [(body["start"], body["count"]) for _, _, body, _ in endpoint.requests]


@pytest.mark.parametrize(
    ("retry_after", "waited"),
    [("7", 7.0), ("0", 0.0), ("120", 20.0)],
    ids=["waits what the server says", "at once", "at most max_wait"],
)
def test_a_503_with_retry_after_waits_that_long_and_asks_again(retry_after, waited):
    endpoint = FakeEndpoint(lambda body: (503, {"Retry-After": retry_after}, b""), ok)
    client, waits = client_on(endpoint, max_wait=20.0)
    got = list(client.samples(0, 3, scenario="quickstart", decode=False))
    assert [s.index for s in got] == [0, 1, 2] and [s.members for s in got] == [members(i) for i in range(3)]
    assert waits == [waited]
    assert starts(endpoint) == [(0, 3), (0, 3)]  # the same request again
    assert client.stats == {"requests": 2, "retries": 1, "samples": 3}
    method, path, body, headers = endpoint.requests[0]
    assert (method, path) == ("POST", "/v1/samples") and body == {"scenario": "quickstart", "start": 0, "count": 3}
    assert headers["Authorization"] == "Bearer t0ken" and headers["Accept"] == "application/x-tar"


def test_without_retry_after_the_waits_back_off_and_then_the_client_gives_up():
    endpoint = FakeEndpoint(lambda body: (503, {}, b""))
    client, waits = client_on(endpoint, retries=3, backoff=0.5, max_wait=1.5)
    with pytest.raises(ServiceError, match="4 failures in a row, the last HTTP 503"):
        list(client.samples(0, 1, decode=False))
    assert len(endpoint.requests) == 4 and len(waits) == 3
    # backoff doubled each time, capped at max_wait, times a jitter in [0.5, 1]
    for wait, full in zip(waits, (0.5, 1.0, 1.5), strict=True):
        assert 0.5 * full <= wait <= full


@pytest.mark.parametrize("reset", [True, False], ids=["connection reset", "stream ended early"])
def test_a_stream_cut_mid_sample_resumes_at_that_sample(reset):
    whole = tar_of(range(6))
    # Into the first member of sample 2 (past its 512-byte header): samples 0 and 1 are
    # whole, sample 2 is half in.
    at = sum(len(sample_segment(sample_key(i), members(i))) for i in range(2)) + 512 + 5
    endpoint = FakeEndpoint(lambda body: (200, {}, CutStream(whole, at, reset)), ok)
    client, waits = client_on(endpoint, backoff=0.25)
    got = [(s.index, s.key, s.members) for s in client.samples(0, 6, decode=False)]
    assert [i for i, _, _ in got] == list(range(6))  # each index once, in order
    assert all(key == sample_key(i) and m == members(i) for i, key, m in got)
    assert starts(endpoint) == [(0, 6), (2, 4)]  # asked again from the half-received sample
    assert len(waits) == 1 and client.stats["retries"] == 1


def test_an_answer_that_stops_short_is_asked_for_the_rest():
    endpoint = FakeEndpoint(lambda body: (200, {}, tar_of(range(body["start"], body["start"] + 2))), ok)
    client, _ = client_on(endpoint)
    assert [s.index for s in client.samples(10, 5, decode=False)] == [10, 11, 12, 13, 14]
    assert starts(endpoint) == [(10, 5), (12, 3)]


@pytest.mark.parametrize(
    ("indices", "handed", "message"),
    [
        ([0, 1, 3], [0, 1], "expected the sample of index 2, got member '0000000003.json'"),
        ([0, 2], [0], "expected the sample of index 1, got member '0000000002.json'"),
        ([1, 2], [], "expected the sample of index 0, got member '0000000001.json'"),
        ([0, 1, 2, 3], [0, 1, 2], "expected the sample of index 3, got member '0000000003.json'"),
    ],
    ids=["a gap", "a skip", "not the first asked for", "past the end"],
)
def test_a_key_out_of_sequence_is_detected_not_retried(indices, handed, message):
    """The client asks for 0, 1, 2; the answer holds ``indices``. What came before the
    fault is handed over, in order; then a ServiceError, and no second request."""
    endpoint = FakeEndpoint(lambda body: (200, {}, tar_of(indices)))
    client, waits = client_on(endpoint)
    got = []
    with pytest.raises(ServiceError, match=message):
        for s in client.samples(0, 3, decode=False):
            got.append(s.index)
    assert got == handed
    assert len(endpoint.requests) == 1 and waits == []


@pytest.mark.parametrize("status", [400, 401, 413, 422])
def test_a_4xx_is_not_retried_and_carries_the_servers_problems(status):
    problems = [{"field": "scenario", "message": "unknown scenario; one of: quickstart", "value": "nope"}]
    endpoint = FakeEndpoint(
        lambda body: (
            status,
            {"Content-Type": "application/json"},
            json.dumps({"error": "bad request", "problems": problems}).encode(),
        )
    )
    client, waits = client_on(endpoint)
    with pytest.raises(ApiError) as e:
        list(client.samples(0, 1, scenario="nope"))
    assert e.value.status == status and e.value.problems == problems
    assert f"HTTP {status}: bad request" in str(e.value)
    assert len(endpoint.requests) == 1 and waits == [] and client.stats["retries"] == 0


def test_a_4xx_without_a_json_body_still_names_the_status():
    endpoint = FakeEndpoint(lambda body: (404, {"Content-Type": "text/plain"}, b"no such route"))
    client, _ = client_on(endpoint)
    with pytest.raises(ApiError) as e:
        client.health()
    assert e.value.status == 404 and e.value.problems == [{"field": "answer", "message": "no such route"}]
    assert len(endpoint.requests) == 1 and endpoint.requests[0][:2] == ("GET", "/healthz")


def test_the_get_routes_retry_too():
    endpoint = FakeEndpoint(
        lambda body: (429, {"Retry-After": "3"}, b""), lambda body: (200, {}, json.dumps({"status": "ok"}).encode())
    )
    client, waits = client_on(endpoint)
    assert client.health() == {"status": "ok"} and waits == [3.0] and len(endpoint.requests) == 2
