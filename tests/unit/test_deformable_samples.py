"""Cloth and soft bodies through the whole sample path (issue 27): drawn from the
config, simulated, rendered, written, validated; every ground-truth layer on them held
to an independent reference: the simulator's own vertices carried by barycentrics in
NumPy (flow, tracks), the oracle's float64 cast of each frame's mesh (everything), a
soft body's volume by the divergence theorem over its stored surface.
"""

from __future__ import annotations

import io
import json

import numpy as np
import pytest

from factory.errors import ConfigError
from factory.sample.decode import decode_sample
from factory.sample.deform_members import decode_deform
from factory.sample.encode import encode_sample
from factory.sample.generate import generate_samples
from factory.scene.config import parse_config
from factory.trust.oracle import Stored, camera_rays, cast, check_sample
from factory.trust.oracle.cast import barycentric
from factory.trust.validate import validate_dataset
from factory.trust.validate.deform import check_deform
from tests.helpers.datasets import write_dataset
from tests.helpers.oracle import stored_of
from tests.helpers.validate import found, load_manifest, read_tar, rewrite_shard

CONFIG = {
    "name": "cloth",
    "seed": 5,
    "render": {"width": 80, "height": 60, "frames": 6, "fps": 12, "substeps": 8},
    "output": {"tracks": 64, "track_object_share": 0.9, "backward_flow": True, "amodal": True},
    "scenarios": {
        "drape": {
            "objects": {"count": 2, "shape": "sphere", "size": 0.2, "spawn_radius": 0.25, "drop_height": 0, "speed": 0},
            "cloth": {"resolution": 10, "width": 0.9, "length": 0.9, "lift": 0.05},
            "camera": {"distance": 2.2, "elevation_deg": 30},
        },
        "screen": {
            "objects": {"count": 2, "size": 0.15, "spawn_radius": 0.3},
            "cloth": {"placement": "screen", "pinned": "top", "resolution": 8, "top": 1.2, "spread": 0.0},
            "wind": {"speed": 4.0, "gust": 1.0},
            "camera": {"distance": 2.6, "elevation_deg": 15, "target_height": 0.4},
        },
        "squash": {
            "objects": {
                "count": 1,
                "shape": "box",
                "size": 0.1,
                "density": 3000,
                "spawn_radius": 0,
                "drop_height": 0.4,
            },
            "soft": {"shape": "box", "size": 0.2, "aspect": 0.5, "lift": 0, "spread": 0, "resolution": 5, "young": 5e4},
            "camera": {"distance": 1.6, "elevation_deg": 25, "target_height": 0.15},
        },
    },
}


@pytest.fixture(scope="module")
def samples():
    config = parse_config(CONFIG)
    out = generate_samples(config, [0, 1, 2], samples=3)
    assert sorted(s.scenario for s in out) == ["drape", "screen", "squash"]
    return config, sorted(out, key=lambda s: s.scenario)


def _deformable_id(sample) -> int:
    (entry,) = sample.meta["deformables"]
    return int(entry["id"])


def test_the_config_draws_deformables_and_the_sample_records_them(samples):
    config, out = samples
    for s in out:
        (entry,) = s.meta["deformables"]
        assert (
            s.meta["classes"][entry["class_id"]]
            == entry["category"]
            == {"cloth": "cloth"}.get(entry["kind"], "soft_body")
        )
        # It is drawn: its id is in the instance masks, its class in the semantic ones.
        assert (s.frames.instance == entry["id"]).any()
        assert (s.frames.semantic == entry["class_id"]).any()
        assert entry["visible_pixels"] == [int((f == entry["id"]).sum()) for f in s.frames.instance]
        if entry["kind"] == "cloth":
            rows, cols = entry["grid"]
            assert entry["vertices"] == [0, rows * cols] and entry["faces"] == [0, 2 * (rows - 1) * (cols - 1)]
            mass = entry["size"][0] * entry["size"][1] * entry["density"]
            assert entry["mass"] == pytest.approx(mass, rel=1e-5)  # area x areal density
        else:  # a box of half extents size: volume 8 x y z at rest
            rest = 8 * np.prod(entry["size"])
            assert entry["volume"][0] == pytest.approx(rest, rel=1e-6)
            assert entry["mass"] == pytest.approx(rest * entry["density"], rel=1e-5)
    drape, screen, squash = out
    assert drape.meta["wind"] is None and screen.meta["wind"]["mean"][2] == 0.0
    assert max(squash.meta["deformables"][0]["contacts"]) > 0  # the box lands on the cushion
    assert max(drape.meta["deformables"][0]["contacts"]) > 0  # it lands on the spheres
    assert screen.meta["deformables"][0]["pinned"]  # a screen hangs from its top edge


def test_members_hold_the_simulators_vertices(samples):
    _, out = samples
    for s in out:
        d = decode_deform(encode_sample(s, mp4=False))
        T = s.meta["frames"]
        assert d["vertices"].shape[0] == T and d["faces"].dtype == np.int32
        entry = s.meta["deformables"][0]
        pins = entry.get("pinned", [])
        if pins:  # pinned vertices hold still, exactly
            assert np.array_equal(d["vertices"][:, pins], np.broadcast_to(d["vertices"][:1, pins], (T, len(pins), 3)))
        # Stretch from the stored vertices, recomputed here: edges of the grid against the rest spacing.
        v, f = d["vertices"].astype(np.float64), d["faces"]
        e = np.unique(np.sort(np.concatenate([f[:, [0, 1]], f[:, [1, 2]], f[:, [2, 0]]]), 1), axis=0)
        rest = np.linalg.norm(v[0, e[:, 1]] - v[0, e[:, 0]], axis=1) if pins else None
        if rest is not None:  # a hung sheet starts at rest: its first frame's edges are the rest lengths
            strain = np.linalg.norm(v[:, e[:, 1]] - v[:, e[:, 0]], axis=2) / rest - 1
            assert np.allclose(strain.max(1), entry["stretch_max"], atol=1e-5)


def _flow_reference(sample, motion_vertices, t: int, cloth: int):
    """Forward flow of every cloth pixel of frame t from the simulator's vertices: the
    oracle's float64 cast finds the face and barycentrics, the vertices of frame t+1
    (``motion_vertices``) carry the point, the camera of t+1 projects it."""
    meta, f = sample.meta, sample.frames
    stored = Stored(f.depth, f.instance, f.normals, f.flow, f.flow_valid, meta)
    from factory.trust.oracle import oracle_scene

    scene = oracle_scene(meta, sample.geometry, deform=decode_deform(encode_sample(sample, mp4=False)))
    rows, cols = np.nonzero(stored.instance[t] == cloth)
    o, d = camera_rays(scene, t, cols + 0.5, rows + 0.5)
    hits = cast(scene, t, o, d)
    b = [k for k, body in enumerate(scene.bodies) if body.id == cloth][0]
    on = hits.surface == b
    faces = scene.bodies[b].frames[t].faces
    verts_t, verts_n = motion_vertices[t], motion_vertices[t + 1]
    tri = np.empty(on.sum(), np.int64)
    for m, p in enumerate(hits.point[on]):  # the face whose plane holds the hit, inside it
        corners = verts_t[faces]
        w = barycentric(corners, np.broadcast_to(p, (len(faces), 3)))
        gap = np.abs(
            np.einsum(
                "fc,fc->f", np.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0]), p - corners[:, 0]
            )
        )
        inside = (w >= -1e-6).all(1)
        tri[m] = int(np.flatnonzero(inside)[np.argmin(gap[inside])])
    w = barycentric(verts_t[faces[tri]], hits.point[on])
    moved = np.einsum("mk,mkc->mc", w, verts_n[faces[tri]])
    w2c = scene.world_to_camera[t + 1]
    c = moved @ w2c[:3, :3].T + w2c[:3, 3]
    uv = (c @ scene.K.T)[:, :2] / c[:, 2:3]
    return rows[on], cols[on], uv - np.stack([cols[on] + 0.5, rows[on] + 0.5], 1)


def test_cloth_flow_is_the_simulators_vertices_at_the_next_frame(samples):
    config, out = samples
    from factory.sample.scenes import scene_and_motion

    for s in out:
        scene, motion = scene_and_motion(config, s.scenario, s.index)
        steps = np.arange(scene.frames) * scene.substeps
        verts = (motion.cloth_positions + motion.soft_positions)[0][steps]  # the simulator's own, float64
        checked = 0
        for t in range(scene.frames - 1):
            rows, cols, want = _flow_reference(s, verts, t, _deformable_id(s))
            valid = s.frames.flow_valid[t, rows, cols]
            got = s.frames.flow[t, rows, cols]
            err = np.abs(got[valid] - want[valid]).max(initial=0.0)
            assert err < 1 / 128 + 2e-3, (s.scenario, t, err)  # the flow code's rounding + float32
            checked += int(valid.sum())
        assert checked > 50, s.scenario


def test_tracks_on_cloth_ride_with_its_triangles(samples):
    config, out = samples
    from factory.sample.scenes import scene_and_motion

    for s in out:
        scene, motion = scene_and_motion(config, s.scenario, s.index)
        verts = (motion.cloth_positions + motion.soft_positions)[0][np.arange(scene.frames) * scene.substeps]
        faces = (scene.cloths + scene.soft_bodies)[0].faces()
        tr = s.tracks
        on = np.flatnonzero(tr.surface == _deformable_id(s))
        assert len(on) >= 5, s.scenario
        for n in on:
            q = int(tr.query_frame[n])
            p = tr.world[q, n].astype(np.float64)
            corners = verts[q][faces]
            w = barycentric(corners, np.broadcast_to(p, (len(faces), 3)))
            near = np.einsum("fk,fkc->fc", np.clip(w, 0, 1) / np.clip(w, 0, 1).sum(1, keepdims=True), corners)
            k = int(np.argmin(np.linalg.norm(near - p, axis=1)))
            want = np.einsum("k,tkc->tc", w[k], verts[:, faces[k]])
            assert np.abs(tr.world[:, n] - want).max() < 2e-4, (s.scenario, n)  # float32 depth of the query


def test_the_oracle_passes_cloth_and_catches_a_moved_sheet(samples):
    _, out = samples
    for s in out:
        members = encode_sample(s, mp4=False)
        report = check_sample(s.key, stored_of(s, members), members["geometry.glb"], 0.2)
        assert report.failures == [] and report.skipped == [], s.scenario
        assert report.stats["depth"].compared > 0 and report.stats["tracks"].compared > 0
        # Its pixels were among those checked (a fifth of every frame's).
        assert (s.frames.instance == _deformable_id(s)).mean() > 0.02, s.scenario
    s = out[0]
    members = encode_sample(s, mp4=False)

    # Its vertices 3 mm higher in the members than in the pictures: depth and flow disagree.
    d = decode_deform(members)
    moved = d["vertices"].copy()
    moved[..., 2] += 0.003
    buf = io.BytesIO()
    np.save(buf, moved)
    bad = {**members, "deform_vertices.npy": buf.getvalue()}
    report = check_sample(s.key, stored_of(s, bad), members["geometry.glb"], 0.2)
    layers = {f.layer for f in report.failures}
    assert "depth" in layers, layers


def test_validate_passes_a_cloth_dataset_and_names_a_moved_pin(tmp_path):
    config = parse_config({**CONFIG, "scenarios": {"screen": CONFIG["scenarios"]["screen"]}})
    write_dataset(config, tmp_path, 2, 2)
    result = validate_dataset(tmp_path, oracle=0.05)
    assert result.ok, result.lines()
    man = load_manifest(tmp_path)
    name = man["shards"][0]["name"]
    samples = read_tar(tmp_path / name)
    key, members = samples[0]
    v = np.load(io.BytesIO(members["deform_vertices.npy"]))
    pin = json.loads(members["json"])["deformables"][0]["pinned"][0]
    v[-1, pin, 0] += 0.01
    buf = io.BytesIO()
    np.save(buf, v)
    members["deform_vertices.npy"] = buf.getvalue()
    rewrite_shard(tmp_path, name, samples)
    result = validate_dataset(tmp_path, oracle=0)
    assert ("deform.layout", name, key) in found(result)
    # A sample without its deformables' members is named too.
    del members["deform_faces.npy"]
    rewrite_shard(tmp_path, name, samples)
    assert ("members.set", name, key) in found(validate_dataset(tmp_path, oracle=0))


def test_check_deform_refuses_faces_past_their_own_vertices():
    T, V = 2, 8
    arrays = {
        "deform_vertices.npy": np.zeros((T, V, 3), np.float32),
        "deform_velocities.npy": np.zeros((T, V, 3), np.float32),
        "deform_faces.npy": np.array([[0, 1, 5], [4, 5, 6]], np.int32),  # the first sheet's reaches the second's
    }
    sheets = [{"id": 3, "vertices": [0, 4], "faces": [0, 1]}, {"id": 4, "vertices": [4, 4], "faces": [1, 1]}]
    seen = []
    check_deform(lambda check, msg: seen.append((check, msg)), arrays, {"frames": T, "deformables": sheets})
    assert seen == [("deform.layout", "deformable 3: its faces reach vertices outside its own [0, 4)")]
    arrays["deform_faces.npy"][0, 2] = 2
    seen.clear()
    check_deform(lambda check, msg: seen.append((check, msg)), arrays, {"frames": T, "deformables": sheets})
    assert seen == []


def test_bad_cloth_config_names_the_field():
    bad = {**CONFIG, "scenarios": {"x": {"cloth": {"placement": "float"}}}}
    with pytest.raises(ConfigError) as e:
        parse_config(bad)
    assert "scenarios.x.cloth.placement" in str(e.value) and "screen" in str(e.value)
    bad = {**CONFIG, "scenarios": {"x": {"wind": {"speed": -1}}}}
    with pytest.raises(ConfigError) as e:
        parse_config(bad)
    assert "scenarios.x.wind.speed" in str(e.value)


def test_decode_sample_stacks_every_instance_in_the_amodal_masks(samples):
    _, out = samples
    s = out[1]
    frames, _ = decode_sample(encode_sample(s, mp4=False))
    K = len(s.meta["objects"]) + len(s.meta["deformables"])
    assert frames.amodal.shape[1] == K
    counts = frames.amodal[:, K - 1].reshape(s.meta["frames"], -1).sum(1)  # the sheet's: the last mask
    assert counts.tolist() == s.meta["deformables"][0]["amodal_pixels"]


def test_a_soft_bodys_volume_is_its_stored_surfaces(samples):
    """The metadata's per-frame volume (the simulator's tetrahedra) against the volume
    the stored boundary triangles enclose (the divergence theorem: a sum of signed
    tetrahedra from the origin), frame by frame; and it stays within 3% of rest."""
    _, out = samples
    s = out[2]
    (entry,) = s.meta["deformables"]
    d = decode_deform(encode_sample(s, mp4=False))
    f = d["faces"]
    v = d["vertices"].astype(np.float64)
    a, b, c = v[:, f[:, 0]], v[:, f[:, 1]], v[:, f[:, 2]]
    enclosed = np.einsum("tfc,tfc->tf", a, np.cross(b, c)).sum(1) / 6.0
    assert np.allclose(enclosed, entry["volume"], rtol=1e-5)
    assert np.abs(np.array(entry["volume"]) / entry["volume"][0] - 1).max() < 0.03
