"""Liquids through the whole sample path (issue 27): drawn from the config, simulated
against the rigid motion, rendered as a surface made anew each frame, written,
validated. The references: the members' own particles and surfaces read with NumPy
(mass, a dropped ball keeping the water out of itself, flow along the surface's
velocity field) and the oracle's float64 cast of each frame's surface.
"""

from __future__ import annotations

import io
import json

import numpy as np
import pytest

from factory.sample.encode import encode_sample
from factory.sample.generate import generate_samples
from factory.sample.liquid_members import decode_liquids
from factory.scene.config import parse_config
from factory.trust.oracle import check_sample
from factory.trust.validate import validate_dataset
from tests.helpers.datasets import write_dataset
from tests.helpers.oracle import stored_of
from tests.helpers.validate import found, load_manifest, read_tar, rewrite_shard

CONFIG = {
    "name": "water",
    "seed": 2,
    "render": {"width": 80, "height": 60, "frames": 6, "fps": 12, "substeps": 8},
    "output": {"tracks": 48, "track_object_share": 0.9, "backward_flow": True},
    "scenarios": {
        "dam": {
            "objects": {"count": 0},
            "liquid": {"setup": "dam_break", "size": 0.16, "tank": 0.5, "tank_width": 0.16, "tank_height": 0.2},
            "camera": {"distance": 1.2, "elevation_deg": 60, "target_height": 0.05},
        },
        "splash": {
            "objects": {"count": 1, "shape": "sphere", "size": 0.06, "density": 2000, "spawn_radius": 0.0,
                        "drop_height": 0.3, "speed": 0.0},
            "liquid": {"setup": "splash", "size": 0.08, "tank": 0.36, "tank_width": 0.3, "tank_height": 0.16},
            "camera": {"distance": 1.2, "elevation_deg": 55, "target_height": 0.05},
        },
    },
}  # fmt: skip


@pytest.fixture(scope="module")
def samples():
    config = parse_config(CONFIG)
    out = sorted(generate_samples(config, [0, 1], samples=2), key=lambda s: s.scenario)
    assert [s.scenario for s in out] == ["dam", "splash"]
    return config, out


def _decoded(sample) -> dict:
    return decode_liquids(encode_sample(sample, mp4=False))


def test_mass_is_every_particle_in_every_frame(samples):
    _, out = samples
    for s in out:
        (entry,) = s.meta["liquids"]
        d = _decoded(s)
        P = entry["particles"][1]
        assert d["particles"].shape == (s.meta["frames"], P, 3) and P > 100
        assert entry["mass"] == [pytest.approx(P * entry["particle_mass"], rel=1e-12)] * s.meta["frames"]
        assert np.isfinite(d["particles"]).all() and (d["particles"][..., 2] > 0).all()  # above the floor
        volume = np.array(entry["volume"])
        assert np.abs(volume / (P * entry["spacing"] ** 3) - 1).max() < 0.01  # PBF keeps it incompressible
        assert s.meta["classes"][entry["class_id"]] == "liquid"
        assert (s.frames.instance == entry["id"]).any()


def test_a_dropped_ball_keeps_the_water_out_of_itself(samples):
    """The one-way coupling: at every frame no particle centre is deeper than a
    particle's radius inside the ball, whose pose the metadata gives."""
    _, out = samples
    s = out[1]
    ball = next(o for o in s.meta["objects"] if o["shape"] == "sphere")
    d = _decoded(s)
    spacing = s.meta["liquids"][0]["spacing"]
    r = ball["dims"][0]
    gaps = [np.linalg.norm(d["particles"][t] - np.array(ball["position"][t]), axis=1).min() - r for t in range(6)]
    assert min(gaps) > spacing / 2 - 1e-3  # every centre half a spacing outside (the collider's push), float32
    assert ball["position"][-1][2] < ball["position"][0][2] - 0.1  # it did fall into the tank


def test_liquid_flow_follows_the_surfaces_velocity_field(samples):
    """Flow at every liquid pixel: the hit (depth) on its frame's stored surface, the
    surface velocity there (barycentrics of the nearest triangle's vertex
    velocities, brute force in NumPy) over the frame rate, projected by the next
    frame's camera."""
    _, out = samples
    s = out[0]
    (entry,) = s.meta["liquids"]
    d, cam = _decoded(s), s.meta["camera"]
    K, fps = np.array(cam["K"]), s.meta["fps"]
    checked = 0
    for t in range(s.meta["frames"] - 1):
        (v0, nv), (f0, nf) = entry["surface_vertices"][t], entry["surface_faces"][t]
        verts = d["surface_vertices"][v0 : v0 + nv].astype(np.float64)
        vel = d["surface_velocities"][v0 : v0 + nv].astype(np.float64)
        faces = d["surface_faces"][f0 : f0 + nf].astype(np.int64) - v0
        w2c, w2c_n = np.array(cam["world_to_camera"][t]), np.array(cam["world_to_camera"][t + 1])
        rows, cols = np.nonzero((s.frames.instance[t] == entry["id"]) & s.frames.flow_valid[t])
        for i, j in list(zip(rows, cols))[::7]:
            ray = np.linalg.inv(K) @ [j + 0.5, i + 0.5, 1.0]
            p = w2c[:3, :3].T @ (ray * s.frames.depth[t, i, j] - w2c[:3, 3])
            a, b, c = (verts[faces[:, k]] for k in range(3))
            n = np.cross(b - a, c - a)
            gap = np.abs(np.einsum("fc,fc->f", n, p - a)) / np.maximum(np.linalg.norm(n, axis=1), 1e-12)
            w = _bary(a, b, c, p)
            gap[(w < -1e-3).any(1)] = np.inf  # the face it lies in
            f = int(np.argmin(gap))
            moved = p + w[f] @ vel[faces[f]] / fps
            q = K @ (w2c_n[:3, :3] @ moved + w2c_n[:3, 3])
            want = q[:2] / q[2] - [j + 0.5, i + 0.5]
            assert np.abs(s.frames.flow[t, i, j] - want).max() < 0.02, (t, i, j)
            checked += 1
    assert checked > 20


def _bary(a, b, c, p):
    e0, e1, q = b - a, c - a, p - a
    d00, d01, d11 = (e0 * e0).sum(1), (e0 * e1).sum(1), (e1 * e1).sum(1)
    d20, d21 = (q * e0).sum(1), (q * e1).sum(1)
    den = np.where(np.abs(d00 * d11 - d01 * d01) > 1e-30, d00 * d11 - d01 * d01, 1.0)
    w1, w2 = (d11 * d20 - d01 * d21) / den, (d00 * d21 - d01 * d20) / den
    return np.stack([1 - w1 - w2, w1, w2], 1)


def test_the_oracle_passes_liquids_and_catches_a_raised_surface(samples):
    _, out = samples
    for s in out:
        members = encode_sample(s, mp4=False)
        report = check_sample(s.key, stored_of(s, members), members["geometry.glb"], 0.3)
        assert report.failures == [] and report.skipped == [], s.scenario
        liquid = s.meta["liquids"][0]["id"]
        assert (s.frames.instance == liquid).mean() > 0.01, s.scenario
        assert (s.tracks.surface == liquid).sum() >= 3, s.scenario  # tracks ride the water too
        assert report.stats["tracks"].compared > 0
    s = out[0]
    members = encode_sample(s, mp4=False)
    v = decode_liquids(members)["surface_vertices"].copy()
    v[:, 2] += 0.003
    buf = io.BytesIO()
    np.save(buf, v)
    report = check_sample(s.key, stored_of(s, {**members, "liquid_surface_vertices.npy": buf.getvalue()}), None, 0.3)
    assert "depth" in {f.layer for f in report.failures}


def test_validate_names_lost_mass_and_a_missing_member(tmp_path):
    config = parse_config({**CONFIG, "scenarios": {"dam": CONFIG["scenarios"]["dam"]}})
    write_dataset(config, tmp_path, 2, 2)
    assert validate_dataset(tmp_path, oracle=0.05).ok
    name = load_manifest(tmp_path)["shards"][0]["name"]
    samples = read_tar(tmp_path / name)
    key, members = samples[0]
    meta = json.loads(members["json"])
    meta["liquids"][0]["mass"][-1] *= 0.99
    members["json"] = json.dumps(meta, sort_keys=True, separators=(",", ":")).encode()
    del members["liquid_surface_faces.npy"]
    rewrite_shard(tmp_path, name, samples)
    got = found(validate_dataset(tmp_path, oracle=0))
    assert ("members.set", name, key) in got
    members["liquid_surface_faces.npy"] = read_tar(tmp_path / name)[1][1]["liquid_surface_faces.npy"]
    rewrite_shard(tmp_path, name, samples)
    got = found(validate_dataset(tmp_path, oracle=0))
    assert ("liquid.mass", name, key) in got


def test_bad_liquid_config_names_the_field():
    from factory.errors import ConfigError

    for block, field in (({"setup": "flood"}, "setup"), ({"spacing": 0.001}, "spacing"), ({"substeps": 0}, "substeps")):
        with pytest.raises(ConfigError) as e:
            parse_config({**CONFIG, "scenarios": {"x": {"liquid": block}}})
        assert f"scenarios.x.liquid.{field}" in str(e.value)
