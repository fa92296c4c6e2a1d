"""factory.client and the endpoint dataset against a real ``factory serve`` on
127.0.0.1 (the session's ``cli_server``), with a real TCP proxy in between where the
connection must fail: a stream cut mid-sample, a 503, nothing listening. Each retry
rule on its own, with a fake transport under the real client and no server:
tests/unit/test_client.py.
"""

from __future__ import annotations

import socket
import threading

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from factory.client import Client
from factory.client.torch_data import EndpointDataset, ShardDataset, collate
from factory.errors import ApiError, ServiceError
from factory.sample.decode import decode_sample
from factory.sample.generate import generate_members
from factory.scene.config import load_config, parse_config
from tests.helpers import CONFIGS
from tests.helpers.datasets import write_dataset
from tests.helpers.servers import free_port

pytestmark = pytest.mark.ray

TINY = load_config(CONFIGS / "tiny.yaml").resolved()
N = 8  # the dataset size the indices belong to


class Proxy:
    """A TCP proxy on 127.0.0.1 to ``port``. Its first ``fail`` connections get a 503
    and are closed; the next one is cut after ``cut_after`` bytes of the answer (None:
    never); later ones pass whole. ``connections`` counts them."""

    def __init__(self, port: int, cut_after: int | None = None, fail: int = 0):
        self.port, self.cut_after, self.fail, self.connections = port, cut_after, fail, 0
        self.listener = socket.create_server(("127.0.0.1", free_port()))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            n, self.connections = self.connections, self.connections + 1
            threading.Thread(target=self._serve, args=(conn, n), daemon=True).start()

    def _serve(self, conn: socket.socket, n: int):
        if n < self.fail:
            conn.recv(65536)
            conn.sendall(
                b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 0\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            )
            conn.close()
            return
        up = socket.create_connection(("127.0.0.1", self.port))
        limit = self.cut_after if n == self.fail else None
        threading.Thread(target=self._pump, args=(conn, up, None), daemon=True).start()
        self._pump(up, conn, limit)

    @staticmethod
    def _pump(src: socket.socket, dst: socket.socket, limit: int | None):
        sent = 0
        try:
            while limit is None or sent < limit:
                data = src.recv(min(65536, limit - sent) if limit else 65536)
                if not data:
                    break
                dst.sendall(data)
                sent += len(data)
        except OSError:
            pass
        for s in (src, dst):  # a cut: both sides closed, mid-answer
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()

    def close(self):
        self.listener.close()


def _port(url: str) -> int:
    return int(url.rsplit(":", 1)[1])


def _batch(seed: int, indices) -> dict[int, dict[str, bytes]]:
    config = parse_config({**TINY, "seed": seed})
    return {i: {k: v for k, v in generate_members(config, i, samples=N).items() if k != "__key__"} for i in indices}


def test_the_clients_samples_are_the_batch_jobs_bytes(cli_server):
    client = Client(cli_server.url, token=cli_server.token, per_request=3)  # 3 + 2: two requests
    got = list(client.samples(3, 5, config=TINY, seed=11, samples=N))
    assert [s.index for s in got] == [3, 4, 5, 6, 7] and client.stats["requests"] == 2
    want = _batch(11, range(3, 8))
    for s in got:
        assert s.members == want[s.index]
        frames, meta = decode_sample(want[s.index])
        assert s.meta == meta
        for name in ("rgb", "depth", "instance", "semantic", "normals", "flow", "flow_valid"):
            assert np.array_equal(s.arrays[name], getattr(frames, name))


def test_a_stream_cut_mid_sample_costs_a_retry_not_a_sample(cli_server):
    want = _batch(5, range(6))
    first = 1500 + sum(len(v) + 512 for v in want[0].values())  # past sample 0, into sample 1
    proxy = Proxy(_port(cli_server.url), cut_after=first)
    try:
        client = Client(proxy.url, token=cli_server.token, backoff=0.05)
        got = [(s.index, s.members) for s in client.samples(0, 6, config=TINY, seed=5, samples=N, decode=False)]
    finally:
        proxy.close()
    assert [i for i, _ in got] == list(range(6))  # each index once, in order
    assert all(m == want[i] for i, m in got)
    assert client.stats["retries"] == 1 and client.stats["requests"] == 2 and proxy.connections == 2


def test_503s_are_retried_after_the_servers_wait(cli_server):
    proxy = Proxy(_port(cli_server.url), fail=2)
    try:
        client = Client(proxy.url, token=cli_server.token, backoff=0.05)
        got = list(client.samples(0, 2, config=TINY, samples=N, decode=False))
    finally:
        proxy.close()
    assert [s.index for s in got] == [0, 1] and client.stats["retries"] == 2


def test_nothing_listening_gives_up_after_the_retries():
    client = Client(f"http://127.0.0.1:{free_port()}", retries=2, backoff=0.01)
    with pytest.raises(ServiceError, match="3 failures in a row, the last ConnectionError"):
        list(client.samples(0, 1))
    assert client.stats["retries"] == 2


def test_auth_both_ways(cli_server, monkeypatch):
    monkeypatch.delenv("FACTORY_SERVE_TOKEN", raising=False)
    with pytest.raises(ApiError) as e:
        list(Client(cli_server.url).samples(0, 1, config=TINY))
    assert e.value.status == 401 and "Authorization" in str(e.value.problems)
    with pytest.raises(ApiError) as e:
        list(Client(cli_server.url, token=cli_server.token + "x").samples(0, 1, config=TINY))
    assert e.value.status == 401
    monkeypatch.setenv("FACTORY_SERVE_TOKEN", cli_server.token)  # from the environment
    assert [s.index for s in Client(cli_server.url).samples(0, 1, config=TINY)] == [0]


def test_the_servers_problems_reach_the_caller(cli_server):
    client = Client(cli_server.url, token=cli_server.token)
    with pytest.raises(ApiError) as e:
        list(client.samples(0, 1, scenario="no_such_scenario"))
    assert e.value.status == 422 and e.value.problems[0]["field"] == "scenario"
    assert "no_such_scenario" in str(e.value)
    with pytest.raises(ApiError) as e:
        list(client.samples(0, 1, config=TINY, overrides={"render": {"width": -4}}))
    assert e.value.status == 422 and "render.width" in str(e.value)
    assert client.stats["retries"] == 0  # a client's mistake is not retried
    assert "quickstart" in [c["name"] for c in client.scenarios()] and client.health()["status"] == "ok"


def test_endpoint_workers_and_ranks_see_every_index_once_with_the_shards_tensors(cli_server, tmp_path):
    write_dataset(parse_config(TINY), tmp_path / "ds", N, 3)
    from_shards = {s["index"]: s for s in ShardDataset(str(tmp_path / "ds"), rank=0, world_size=1)}
    seen = []
    for rank in (0, 1):
        ds = EndpointDataset(
            cli_server.url,
            count=N,
            token=cli_server.token,
            per_request=2,
            rank=rank,
            world_size=2,
            config=TINY,
            samples=N,
        )
        for batch in DataLoader(ds, batch_size=2, num_workers=2, collate_fn=collate):
            seen += batch["index"].tolist()
            for b, i in enumerate(batch["index"].tolist()):
                want = from_shards[i]
                for name in ("frames", "depth", "instance", "semantic", "normals", "flow", "flow_valid"):
                    assert torch.equal(batch[name][b], want[name])
                n = want["box_ids"].shape[0]  # the batch pads boxes to its most objects
                assert torch.allclose(batch["boxes"][b][:, :n], want["boxes"], equal_nan=True)
                assert torch.equal(batch["box_ids"][b][:n], want["box_ids"]) and (batch["box_ids"][b][n:] == -1).all()
                assert batch["meta"][b] == want["meta"]
    assert sorted(seen) == list(range(N))
