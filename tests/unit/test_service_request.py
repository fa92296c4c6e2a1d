"""The service's pure part: request checks, budgets and the bytes of answers (no Ray)."""

from __future__ import annotations

import base64
import io
import json
import tarfile

import pytest
from pydantic import ValidationError

from factory.dataset.shards import build_shard
from factory.errors import ApiError
from factory.sample.generate import generate_members
from factory.scene.config import load_config, parse_config
from factory.service.catalogue import Catalogue
from factory.service.payload import JsonStream, TarStream, Work, make_batch
from factory.service.request import Limits, SampleRequest, merge, request_error, resolve
from tests.helpers import CONFIGS

LIMITS = Limits(max_count=8, max_pixel_frames=32 * 32 * 2 * 8)


@pytest.fixture(scope="module")
def catalogue():
    return Catalogue(CONFIGS)


def _resolve(catalogue, body: dict, limits: Limits = LIMITS, render: dict | None = None):
    return resolve(SampleRequest.model_validate(body), catalogue, limits, render)


def _error(catalogue, body: dict, limits: Limits = LIMITS, render: dict | None = None) -> ApiError:
    with pytest.raises(ApiError) as info:
        _resolve(catalogue, body, limits, render)
    return info.value


def test_catalogue_lists_every_yaml_by_stem(catalogue):
    assert catalogue.names() == sorted(p.stem for p in CONFIGS.glob("*.yaml"))
    (described,) = [d for d in catalogue.describe() if d["name"] == "tiny"]
    tiny = load_config(CONFIGS / "tiny.yaml")
    assert described["config"] == tiny.resolved()
    assert described["config_hash"] == tiny.config_hash()
    assert described["scenarios"] == {"few": 2.0, "one": 1.0}


def test_shipped_catalogue_loads():
    shipped = Catalogue()
    assert {"quickstart", "edge_cases", "rooms"} <= set(shipped.names())


def test_a_request_is_the_config_a_batch_job_would_load(catalogue):
    job = _resolve(catalogue, {"scenario": "tiny", "start": 3, "count": 2})
    tiny = load_config(CONFIGS / "tiny.yaml")
    assert job.config == tiny and job.config_hash == tiny.config_hash()
    assert list(job.indices) == [3, 4] and job.only is None and job.mp4 is False and job.format == "tar"


def test_seed_and_overrides_replace_exactly_what_they_name(catalogue):
    job = _resolve(catalogue, {"scenario": "tiny", "seed": 99, "overrides": {"render": {"frames": 1}}})
    tiny = load_config(CONFIGS / "tiny.yaml").resolved()
    want = merge(tiny, {"seed": 99, "render": {"frames": 1}})
    assert job.config.resolved() == want
    assert job.config.render.width == 32  # a sibling of an overridden key is kept


def test_inline_config_is_validated_like_a_file(catalogue):
    data = {
        "name": "inline",
        "scenarios": {"a": {"objects": {"count": 1}}},
        "render": {"width": 16, "height": 16, "frames": 1},
    }
    job = _resolve(catalogue, {"config": data})
    assert job.source == "inline" and job.config.name == "inline"


def test_modalities_pick_members(catalogue):
    job = _resolve(catalogue, {"scenario": "tiny", "modalities": ["depth", "rgb", "depth", "mp4"]})
    assert job.only == ("depth.png", "rgb.png") and job.mp4 is True


def test_an_optional_layer_is_a_modality_where_the_config_renders_it(catalogue):
    body = {"scenario": "tiny", "modalities": ["amodal", "rgb"], "overrides": {"output": {"amodal": True}}}
    assert _resolve(catalogue, body).only == ("amodal.png", "rgb.png")
    with pytest.raises(ApiError) as e:
        _resolve(catalogue, {"scenario": "tiny", "modalities": ["scene_flow", "rgb"]})
    (problem,) = e.value.problems
    assert e.value.status == 422 and problem["field"] == "modalities" and problem["value"] == ["scene_flow"]
    assert "output.<layer>: true" in problem["message"]


@pytest.mark.parametrize(
    "body, status, field, words",
    [
        ({"scenario": "nope"}, 422, "scenario", "allowed: tiny"),
        ({"scenario": "tiny", "config": {}}, 422, "config", "not both"),
        ({"scenario": "tiny", "count": 9}, 422, "count", "<= 8"),
        (
            {"scenario": "tiny", "overrides": {"render": {"width": 4}}},
            422,
            "overrides.render.width",
            "greater than or equal to 8",
        ),
        ({"scenario": "tiny", "overrides": {"rendr": {}}}, 422, "overrides.rendr", "allowed keys: name, seed"),
        (
            {"scenario": "tiny", "overrides": {"render": {"frames": 1000, "width": 4096, "height": 4096}}},
            422,
            "overrides.render",
            "decompression-bomb",
        ),
        ({"config": {"name": "x"}}, 422, "config.scenarios", "required"),
        ({"config": {"scenarios": {"a": {"weight": -1}}}}, 422, "config.scenarios.a.weight", "greater than 0"),
        ({"scenario": "tiny", "overrides": {"render": {"width": 64}}, "count": 8}, 413, "count", "pixel-frames"),
    ],
)
def test_bad_requests_name_field_value_and_what_is_allowed(catalogue, body, status, field, words):
    err = _error(catalogue, body)
    assert err.status == status
    (problem,) = [p for p in err.body()["problems"] if p["field"] == field]
    assert words in problem["message"]
    assert json.dumps(err.body())  # always JSON


def test_pydantic_errors_become_field_problems():
    with pytest.raises(ValidationError) as info:
        SampleRequest.model_validate({"count": "2", "bogus": 1, "format": "xml"})
    err = request_error(info.value.errors())
    fields = {p["field"]: p for p in err.problems}
    assert err.status == 422 and set(fields) == {"count", "bogus", "format"}
    assert "allowed keys: scenario, config" in fields["bogus"]["message"]
    assert fields["format"]["value"] == "xml" and "'tar' or 'json'" in fields["format"]["message"]


def test_long_values_are_cut_in_error_bodies():
    err = ApiError(422, [{"field": "x", "message": "bad", "value": "y" * 10_000}])
    assert len(json.dumps(err.body())) < 1000


def test_tar_stream_is_the_shard_writers_bytes():
    config = load_config(CONFIGS / "tiny.yaml")
    samples = [generate_members(config, i) for i in range(3)]
    stream = TarStream()
    body = b"".join(stream.sample(m) for m in samples) + stream.end()
    assert body == build_shard([(m["__key__"], m) for m in samples])


def test_json_stream_round_trips_members():
    config = load_config(CONFIGS / "tiny.yaml")
    samples = [generate_members(config, i) for i in (5, 6)]
    stream = JsonStream()
    doc = json.loads(b"".join(stream.sample(m) for m in samples) + stream.end())
    assert doc["count"] == 2
    for got, want in zip(doc["samples"], samples, strict=True):
        assert got["key"] == want["__key__"] and got["meta"] == json.loads(want["json"])
        assert {k: base64.b64decode(v) for k, v in got["members"].items()} == {
            k: v for k, v in want.items() if k not in ("__key__", "json")
        }
    empty = JsonStream()
    assert json.loads(empty.end()) == {"samples": [], "count": 0}


def test_member_subsets_are_the_same_bytes():
    config = load_config(CONFIGS / "tiny.yaml")
    full = generate_members(config, 2)
    part = generate_members(config, 2, mp4=False, only=("depth.png",))
    assert set(part) == {"__key__", "json", "depth.png"}
    assert all(part[k] == full[k] for k in part)


def test_a_batch_makes_duplicates_once_and_keeps_failures_apart():
    config = load_config(CONFIGS / "tiny.yaml")
    h = config.config_hash()
    bad = Work(config, h, -1, None, False)  # generate_sample refuses a negative index
    works = [Work(config, h, 1, None, False), bad, Work(config, h, 1, None, False)]
    out = make_batch(works)
    assert out[0] is out[2] and out[0] == generate_members(config, 1)
    assert isinstance(out[1], ValueError)


def test_tar_answer_reads_with_tarfile():
    config = load_config(CONFIGS / "tiny.yaml")
    stream = TarStream()
    body = stream.sample(generate_members(config, 0)) + stream.end()
    with tarfile.open(fileobj=io.BytesIO(body)) as tar:
        assert tar.getnames()[0] == "0000000000.json"


def test_values_that_json_cannot_hold_are_shown_as_text():
    err = ApiError(422, [{"field": "x", "message": "bad", "value": float("inf")}])
    assert json.loads(json.dumps(err.body(), allow_nan=False))["problems"][0]["value"] == "inf"


def test_unknown_keys_keep_their_spelling():
    with pytest.raises(ValidationError) as info:
        SampleRequest.model_validate({"A": None, "RoomSpec": 1})
    fields = {p["field"] for p in request_error(info.value.errors()).problems}
    assert fields == {"A", "RoomSpec"}


def test_samples_names_the_dataset_whose_scenarios_a_request_reproduces(catalogue):
    from factory.sample.generate import scenario_of

    minimum = {"scenarios": {"one": {"weight": 0.05, "min_count": 3}}}
    job = _resolve(catalogue, {"scenario": "tiny", "overrides": minimum, "start": 0, "count": 8, "samples": 8})
    assert job.samples == 8
    works = [Work(job.config, job.config_hash, i, None, False, job.samples) for i in job.indices]
    scenarios = [json.loads(m["json"])["scenario"] for m in make_batch(works)]
    assert scenarios == [scenario_of(job.config, i, 8) for i in range(8)] and scenarios.count("one") == 3
    # without a dataset size the open-ended stream has fewer of the rare scenario
    stream = [scenario_of(job.config, i) for i in range(8)]
    assert stream.count("one") < 3
    err = _error(catalogue, {"scenario": "tiny", "start": 6, "count": 3, "samples": 8})
    assert err.status == 422 and err.problems[0]["field"] == "samples" and "outside a dataset of 8" in err.summary
    err = _error(catalogue, {"scenario": "tiny", "overrides": minimum, "count": 1, "samples": 2})
    assert err.problems[0]["field"] == "samples" and "min_count" in err.problems[0]["message"]


def test_a_batch_renders_each_configs_samples_together_as_generate_members_makes_them(monkeypatch):
    from factory.sample.generate import generate_samples
    from factory.service import payload

    tiny = load_config(CONFIGS / "tiny.yaml")
    other = parse_config({**tiny.resolved(), "seed": 11, "render": {**tiny.resolved()["render"], "frames": 1}})
    calls = []

    def counting(config, indices, timings=None, *, samples=None, stop=None):
        calls.append((config.seed, list(indices), samples))
        return generate_samples(config, indices, timings, samples=samples, stop=stop)

    works = [
        Work(tiny, tiny.config_hash(), 3, None, False),
        Work(other, other.config_hash(), 0, ("rgb.png",), True),
        Work(tiny, tiny.config_hash(), 1, ("depth.png",), False),
        Work(tiny, tiny.config_hash(), 3, None, False),
        Work(tiny, tiny.config_hash(), 2, None, False, 4),
        Work(other, other.config_hash(), 5, None, False),
        Work(tiny, tiny.config_hash(), 3, ("rgb.png",), False),
    ]
    monkeypatch.setattr(payload, "generate_samples", counting)  # a spy: counts the calls, renders for real
    out = payload.make_batch(works)
    for w, got in zip(works, out):
        assert got == generate_members(w.config, w.index, samples=w.samples, mp4=w.mp4, only=w.only)
    assert out[0] is out[3]  # the same work, made once
    # one render per (config, dataset size), each distinct index once
    assert calls == [(3, [3, 1], None), (11, [0, 5], None), (3, [2], 4)]


def test_a_bad_index_in_a_batch_fails_only_its_own_works():
    tiny = load_config(CONFIGS / "tiny.yaml")
    h = tiny.config_hash()
    out = make_batch(
        [Work(tiny, h, 0, None, False, 2), Work(tiny, h, 5, None, False, 2), Work(tiny, h, 1, None, False, 2)]
    )
    assert out[0] == generate_members(tiny, 0, samples=2) and out[2] == generate_members(tiny, 1, samples=2)
    assert isinstance(out[1], ValueError) and "outside a dataset of 2" in str(out[1])


def test_the_services_render_settings_replace_every_configs(catalogue):
    render = {"device": "cuda", "batch_views": 5}  # resolving only parses: no CUDA needed
    tiny = load_config(CONFIGS / "tiny.yaml")
    want = parse_config(merge(tiny.resolved(), {"render": render}))
    job = _resolve(
        catalogue, {"scenario": "tiny", "overrides": {"render": {"device": "cpu", "frames": 1}}}, LIMITS, render
    )
    assert (job.config.render.device, job.config.render.batch_views, job.config.render.frames) == ("cuda", 5, 1)
    job = resolve(SampleRequest.model_validate({"scenario": "tiny"}), catalogue, LIMITS, render)
    assert job.config == want and job.config_hash == want.config_hash() != tiny.config_hash()
    inline = _resolve(catalogue, {"config": tiny.resolved()}, LIMITS, render)
    assert inline.config == want
    bad = _error(catalogue, {"scenario": "tiny", "overrides": {"render": 5}}, LIMITS)
    assert bad.problems[0]["field"] == "overrides.render"  # not hidden by the service's settings
    assert _error(catalogue, {"scenario": "tiny", "overrides": {"render": 5}}, LIMITS, render).problems == bad.problems
    # the catalogue shows what is served
    (described,) = [d for d in Catalogue(CONFIGS, render).describe() if d["name"] == "tiny"]
    assert described["config"] == want.resolved() and described["config_hash"] == want.config_hash()


def test_a_batch_nobody_wants_stops_and_one_someone_wants_goes_on():
    from factory.errors import Stopped

    tiny = load_config(CONFIGS / "tiny.yaml")
    gone, wanted = Work(tiny, tiny.config_hash(), 0, None, False), Work(tiny, tiny.config_hash(), 1, None, False)
    gone.cancel.set()
    with pytest.raises(Stopped):
        make_batch([gone])
    made = make_batch([gone, wanted])  # someone still waits: the whole batch is made, byte for byte
    assert made == [generate_members(tiny, 0, mp4=False), generate_members(tiny, 1, mp4=False)]
