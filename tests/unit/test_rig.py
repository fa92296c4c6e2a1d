"""Multi-camera rigs (docs/format.md, "Cameras") against references built from the
metadata and plain geometry alone.

Stereo: a pixel of camera 0 with depth z is the world point camera 0's ray x depth,
which camera 1 (shifted ``baseline`` along camera 0's x axis) sees at u - f b / z on
the same row, at the same depth. Ring: every camera's centre stands at the drawn
azimuth (camera 0's plus its even share of the spread), the drawn distance and
elevation, looking at the target. Tracks: the same world points in every camera, each
camera's image positions the NumPy projection through its own metadata.
"""

from __future__ import annotations

import io
import math

import numpy as np
import pytest

from factory.sample.decode import camera_members, camera_meta, decode_cameras, decode_sample
from factory.sample.encode import encode_sample
from factory.sample.generate import generate_sample
from factory.sample.track_members import decode_tracks
from factory.scene.config import parse_config

W, H, T = 96, 64, 3


def _config(rig: str, cameras: int, **camera) -> object:
    return parse_config(
        {
            "name": f"rig_{rig}",
            "seed": 5,
            "licence": "CC-BY-4.0",
            "render": {"width": W, "height": H, "frames": T, "fps": 12, "substeps": 2, "cameras": cameras},
            "output": {"mp4": False, "tracks": 200},
            "scenarios": {
                "s": {
                    "objects": {"count": 4, "size": {"dist": "uniform", "low": 0.25, "high": 0.4}, "spawn_radius": 0.8},
                    "camera": {"rig": rig, "distance": 3.0, "elevation_deg": 25.0, **camera},
                }
            },
        }
    )


@pytest.fixture(scope="module")
def stereo():
    return encode_sample(generate_sample(_config("stereo", 2, baseline=0.2), 0, samples=4), mp4=False)


@pytest.fixture(scope="module")
def ring():
    cfg = _config("ring", 4, ring_spread_deg=120.0, trajectory="static", jitter_m=0.0, jitter_deg=0.0)
    return encode_sample(generate_sample(cfg, 1, samples=4), mp4=False)


def _centre(w2c: np.ndarray) -> np.ndarray:
    return -w2c[:3, :3].T @ w2c[:3, 3]


def test_stereo_disparity_is_baseline_times_focal_over_depth(stereo):
    meta = decode_sample(stereo)[1]
    f0, f1 = decode_cameras(stereo)
    b = meta["params"]["camera.baseline"]
    assert b == pytest.approx(0.2)
    K = np.array(meta["camera"]["K"])
    fx = K[0, 0]
    checked = agreed = 0
    for t in range(T):
        w0 = np.array(meta["cameras"][0]["world_to_camera"][t])
        w1 = np.array(meta["cameras"][1]["world_to_camera"][t])
        # Camera 1 is camera 0 moved b metres along camera 0's own x axis, same orientation.
        np.testing.assert_allclose(w1[:3, :3], w0[:3, :3], atol=1e-9)
        np.testing.assert_allclose(_centre(w1) - _centre(w0), b * w0[0, :3], atol=1e-8)
        i, j = np.nonzero(f0.depth[t] > 0)
        z = f0.depth[t, i, j].astype(np.float64)
        u0, v0 = j + 0.5, i + 0.5
        # Camera 0's ray x depth: the world point, then through camera 1's metadata.
        ray = np.stack([(u0 - K[0, 2]) / fx, (v0 - K[1, 2]) / K[1, 1], np.ones_like(u0)], 1)
        X = _centre(w0) + (z[:, None] * ray) @ w0[:3, :3]
        c1 = X @ w1[:3, :3].T + w1[:3, 3]
        u1, v1 = fx * c1[:, 0] / c1[:, 2] + K[0, 2], K[1, 1] * c1[:, 1] / c1[:, 2] + K[1, 2]
        np.testing.assert_allclose(u1, u0 - fx * b / z, atol=1e-6)
        np.testing.assert_allclose(v1, v0, atol=1e-6)
        np.testing.assert_allclose(c1[:, 2], z, rtol=1e-9)
        # Against camera 1's own render: where the point lands within 0.15 px of a pixel
        # centre, inside the image and away from edges (the same id in camera 0's 3x3), camera 1
        # sees the same surface at the same depth unless something nearer hides it there.
        near = np.abs(u1 - np.floor(u1) - 0.5) < 0.15
        jj = np.floor(u1).astype(int)
        ok = near & (jj >= 1) & (jj < W - 1) & (i >= 1) & (i < H - 1) & (j >= 1) & (j < W - 1)
        pad = np.pad(f0.instance[t].astype(np.int64), 1, mode="edge")
        same = np.ones(len(i), bool)
        for di in (0, 1, 2):
            for dj in (0, 1, 2):
                same &= pad[i + di, j + dj] == f0.instance[t, i, j]
        ok &= same
        z1 = f1.depth[t, i[ok], jj[ok]]
        hit = (np.abs(z1 - z[ok]) < 0.005 + 0.01 * z[ok]) & (
            f1.instance[t, i[ok], jj[ok]] == f0.instance[t, i[ok], j[ok]]
        )
        hidden = z1 < z[ok] - 0.005  # something nearer camera 1 covers the point
        checked += int(ok.sum())
        agreed += int((hit | hidden).sum())
    print(f"disparity: {agreed}/{checked} agree")
    assert checked > 500
    assert agreed / checked > 0.99, (agreed, checked)


def test_ring_cameras_look_at_the_target_from_the_drawn_azimuths(ring):
    meta = decode_sample(ring)[1]
    p = meta["params"]
    az0 = math.radians(p["camera.azimuth_deg"])
    el = math.radians(p["camera.elevation_deg"])
    target = np.array([0.0, 0.0, p["camera.target_height"]])
    assert len(meta["cameras"]) == 4 and p["camera.ring_spread_deg"] == 120.0
    for c, entry in enumerate(meta["cameras"]):
        az = az0 + math.radians(120.0) * c / 3
        eye = target + 3.0 * np.array([math.cos(el) * math.cos(az), math.cos(el) * math.sin(az), math.sin(el)])
        for w2c in np.array(entry["world_to_camera"]):
            np.testing.assert_allclose(_centre(w2c), eye, atol=1e-7)
            fwd = (target - eye) / np.linalg.norm(target - eye)
            np.testing.assert_allclose(w2c[2, :3], fwd, atol=1e-8)  # optical axis through the target
            assert abs(w2c[0, 2]) < 1e-9  # image x level: no roll
        assert entry["azimuth_deg"] == pytest.approx(math.degrees(az), abs=1e-5)


def test_every_camera_has_every_layer_and_its_own_annotations(ring):
    meta = decode_sample(ring)[1]
    frames = decode_cameras(ring)
    assert len(frames) == 4
    for c, f in enumerate(frames):
        assert f.depth.shape == (T, H, W) and f.flow.shape == (T, H, W, 2)
        cm = camera_meta(meta, c)
        for o in cm["objects"]:
            visible = [(f.instance[t] == o["id"]).sum() for t in range(T)]
            assert o["visible_pixels"] == visible, (c, o["id"])
    # Different viewpoints see different images.
    assert not np.array_equal(frames[0].depth, frames[1].depth)


def test_tracks_are_the_same_world_points_projected_through_each_camera(stereo, ring):
    for members in (stereo, ring):
        meta = decode_sample(members)[1]
        t0 = decode_tracks(members)
        for c in range(len(meta["cameras"])):
            tc = decode_tracks(camera_members(members, c))
            np.testing.assert_array_equal(tc.world, t0.world)
            np.testing.assert_array_equal(tc.surface, t0.surface)
            K = np.array(meta["cameras"][c]["K"])
            for t, w2c in enumerate(np.array(meta["cameras"][c]["world_to_camera"])):
                cam = t0.world[t].astype(np.float64) @ w2c[:3, :3].T + w2c[:3, 3]
                front = cam[:, 2] > 1e-6
                uv = cam[front, :2] / cam[front, 2:] * [K[0, 0], K[1, 1]] + K[:2, 2]
                np.testing.assert_allclose(tc.uv[t, front], uv, atol=2e-3, rtol=1e-5)  # float32 world points
                np.testing.assert_allclose(tc.depth[t], cam[:, 2], atol=1e-5)
                inside = front & np.all((tc.uv[t] >= 0) & (tc.uv[t] < [W, H]), axis=1)
                assert np.array_equal(tc.state[t] == 2, ~inside)


def test_webdataset_round_trip_of_a_rig(stereo, tmp_path):
    webdataset = pytest.importorskip("webdataset")
    path = str(tmp_path / "rig-000000.tar")
    with webdataset.TarWriter(path) as sink:
        sink.write(stereo)
    (row,) = list(webdataset.WebDataset(path, shardshuffle=False).decode())
    assert "cam1.depth.png" in row and "cam1.track_world.npy" in row
    for a, b in zip(decode_cameras(row), decode_cameras(stereo)):
        np.testing.assert_array_equal(a.depth, b.depth)
        np.testing.assert_array_equal(a.rgb, b.rgb)


def test_the_pytorch_dataset_stacks_a_rig_on_a_leading_camera_axis(tmp_path):
    torch = pytest.importorskip("torch")
    from factory.client.torch_data import ShardDataset, collate
    from tests.helpers.datasets import write_dataset

    config = _config("stereo", 2, baseline=0.1)
    write_dataset(config, tmp_path / "ds", 2, 2)
    items = list(ShardDataset(str(tmp_path / "ds")))
    assert len(items) == 2
    for item in items:
        frames = decode_cameras(encode_sample(generate_sample(config, item["index"], samples=2), mp4=False))
        assert item["frames"].shape == (2, T, 3, H, W) and item["depth"].shape == (2, T, H, W)
        for c, f in enumerate(frames):
            np.testing.assert_array_equal(item["depth"][c].numpy(), f.depth)
            np.testing.assert_array_equal(item["frames"][c].numpy(), f.rgb.transpose(0, 3, 1, 2))
        assert item["track_world"].shape == (2, T, 200, 3)
        torch.testing.assert_close(item["track_world"][0], item["track_world"][1])
        assert item["boxes"].shape[:2] == (2, T)
    batch = collate(items)
    assert batch["depth"].shape == (2, 2, T, H, W) and batch["box_ids"].shape[:2] == (2, 2)
    # Only some modalities: still every camera's.
    (first, _) = list(ShardDataset(str(tmp_path / "ds"), modalities=["depth"]))
    assert first["depth"].shape == (2, T, H, W) and "frames" not in first


def test_an_endpoint_request_for_some_modalities_gets_them_for_every_camera(stereo):
    cfg = _config("stereo", 2, baseline=0.2)
    members = encode_sample(generate_sample(cfg, 0, samples=4), mp4=False, only=("depth.png",))
    assert {k for k in members if k.endswith(".png")} == {"depth.png", "cam1.depth.png"}
    assert members["cam1.depth.png"] == stereo["cam1.depth.png"]


def test_each_cameras_track_visibility_agrees_with_the_oracles_caster(stereo, ring):
    from tests.helpers.segments import blocked

    counts = np.zeros(3, np.int64)
    agree = total = 0
    for members in (stereo, ring):
        meta = decode_sample(members)[1]
        for c in range(len(meta["cameras"])):
            sub = camera_members(members, c)
            cmeta, tc = camera_meta(meta, c), decode_tracks(sub)
            for t in range(T):
                inside = tc.state[t] != 2
                hit, s = blocked(cmeta, members.get("geometry.glb"), t, tc.world[t, inside].astype(np.float64))
                clear = np.abs(s - (1 - 1e-4)) > 2e-5  # away from the margin (the own surface meets it at 1 +- 1e-6)
                expect = np.where(hit, 1, 0)
                got = tc.state[t, inside]
                agree += int((got == expect)[clear].sum())
                total += int(clear.sum())
                counts += np.bincount(tc.state[t], minlength=3)
    print(f"agree {agree}/{total}, states {counts.tolist()}")
    assert agree >= 0.999 * total, (agree, total)
    assert counts[1] > 20 and counts[0] > 200, counts  # both outcomes tested


def test_hugging_face_features_of_a_rig_keep_every_camera(tmp_path):
    datasets = pytest.importorskip("datasets")
    from factory.client.hf import features
    from tests.helpers.datasets import write_dataset

    config = _config("ring", 2)
    write_dataset(config, tmp_path / "ds", 2, 2)
    ds = datasets.load_dataset(
        "webdataset",
        data_files={"train": sorted(str(p) for p in (tmp_path / "ds").glob("*.tar"))},
        split="train",
        features=features(tracks=True, cameras=2),
        cache_dir=str(tmp_path / "hf-cache"),
    )
    row = ds[0]
    want = decode_cameras(encode_sample(generate_sample(config, int(row["__key__"]), samples=2), mp4=False))
    for got, ref in zip(decode_cameras(row), want):
        np.testing.assert_array_equal(got.depth, ref.depth)
        np.testing.assert_array_equal(got.flow, ref.flow)
    assert decode_tracks(camera_members(row, 1)).world.shape == (T, 200, 3)


def test_one_camera_adds_nothing(stereo):
    cfg = _config("stereo", 1)
    members = encode_sample(generate_sample(cfg, 0, samples=4), mp4=False)
    meta = decode_sample(members)[1]
    assert "cameras" not in meta and not [k for k in members if k.startswith("cam")]
    assert not [k for k in meta["params"] if k in ("camera.rig", "camera.baseline", "camera.ring_spread_deg")]
    assert len(decode_cameras(members)) == 1


def test_the_endpoints_tar_answer_of_a_rig_reaches_the_client_stacked():
    """The endpoint's work (make_batch, the tar stream, some modalities) and the HTTP
    client's tar reader and decoder, without a server: a rig's cameras arrive stacked."""
    torch = pytest.importorskip("torch")
    from types import SimpleNamespace

    from factory.client.http import _decoded, _read_tar
    from factory.client.torch_data import to_tensors, with_cameras, with_tracks
    from factory.service.payload import TarStream, Work, make_batch

    config = _config("stereo", 3, baseline=0.1)
    works = [Work(config, config.config_hash(), i, ("rgb.png", "depth.png"), False, 4) for i in (1, 2)]
    stream = TarStream()
    body = b"".join(stream.sample(m) for m in make_batch(works)) + stream.end()
    got = [_decoded(s) for s in _read_tar(SimpleNamespace(raw=io.BytesIO(body)), 1, 3)]
    assert [s.index for s in got] == [1, 2]
    for s in got:
        assert sorted(k for k in s.members if k.endswith(".png")) == [
            "cam1.depth.png", "cam1.rgb.png", "cam2.depth.png", "cam2.rgb.png", "depth.png", "rgb.png",
        ]  # fmt: skip
        item = with_cameras(with_tracks(to_tensors(s.arrays, s.meta, s.key), s.members), s.members, s.key)
        ref = decode_cameras(encode_sample(generate_sample(config, s.index, samples=4), mp4=False))
        assert item["depth"].shape == (3, T, H, W) and "flow" not in item
        for c in range(3):
            assert torch.equal(item["depth"][c], torch.from_numpy(ref[c].depth))
