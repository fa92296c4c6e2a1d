"""The independent oracle (factory.trust.oracle) over real samples: it agrees with every
shipped config's unmodified samples, and it catches, each on its own, the renderer bugs
a reviewer would plant (a depth shift on one object, relabelled ids, normals and flow
off by two codes, a pose moved 1 cm, a mesh swapped for another of the same size).

Each corruption is made on the encoded members (codes changed, PNG re-encoded, the
sample decoded again), as a renderer bug would write it; the oracle sees only the
documented format: decoded arrays, metadata and geometry.glb.
"""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
import trimesh
import yaml

from factory.sample.decode import decode_sample, png_array
from factory.sample.deform_members import decode_deform
from factory.sample.encode import encode_sample
from factory.sample.generate import generate_samples
from factory.sample.png import png
from factory.scene.config import parse_config
from factory.trust.oracle import GEOMETRY_MEMBER, Stored, check_sample, read_geometry
from tests.helpers import TESTS

CONFIGS = TESTS.parent / "configs"
SHIPPED = sorted(p.stem for p in CONFIGS.glob("*.yaml"))
SMALL = {"width": 64, "height": 48, "frames": 3, "fps": 12, "substeps": 4, "motion_blur_samples": 1}


def _config(name: str, **render):
    data = yaml.safe_load((CONFIGS / f"{name}.yaml").read_text())
    data["render"] = {**data["render"], **SMALL, **render}
    data.setdefault("output", {})["mp4"] = False
    return parse_config(data, name)


def _members(name: str, indices: list[int], samples: int = 64) -> list[dict]:
    return [encode_sample(s, mp4=False) for s in generate_samples(_config(name), indices, samples=samples)]


def _oracle(members: dict, fraction: float = 1.0):
    frames, meta = decode_sample({k: v for k, v in members.items() if k != GEOMETRY_MEMBER})
    stored = Stored(frames.depth, frames.instance, frames.normals, frames.flow, frames.flow_valid, meta)
    stored.deform = decode_deform(members)  # a deformables config's vertices per frame
    return check_sample(members["__key__"], stored, members.get(GEOMETRY_MEMBER), fraction)


def _failing(report) -> set[str]:
    return {name for name, s in report.stats.items() if s.failures}


@pytest.mark.parametrize("name", SHIPPED)
def test_unmodified_samples_of_every_shipped_config_pass(name):
    for members in _members(name, [0, 1]):
        report = _oracle(members, fraction=0.3)
        assert not report.failures, [f.describe() for f in report.failures]
        assert not report.skipped
        for layer, s in report.stats.items():
            # p99 within the tolerance (its histogram bin's edge); the max may pass the
            # base tolerance by the float allowance (depth: 1e-5 of depth).
            assert s.p99 <= 1.05 * s.tolerance and s.max <= 1.5 * s.tolerance, (layer, s.p99, s.max, s.tolerance)
            assert s.edges <= 0.01 * s.sampled + 2, (layer, s.edges, s.sampled)
        assert report.stats["depth"].compared > 0 and report.stats["flow"].compared > 0


@pytest.fixture(scope="module")
def sample():
    """A shapes sample with analytic and mesh objects in view, its members."""
    for members in _members("shapes", list(range(8))):
        meta = json.loads(members["json"])
        inst = png_array(members["instance.png"])
        shown = {int(i) for i in np.unique(inst)} - {0}
        kinds = {o["shape"] for o in meta["objects"] if o["id"] in shown}
        if kinds & {"torus", "rock", "cone", "tube", "icosahedron"} and kinds & {"sphere", "box", "cylinder"}:
            assert not _failing(_oracle(members))
            return members
    raise AssertionError("no shapes sample with both kinds of object in view")


def _recode(members: dict, name: str, edit) -> dict:
    """``members`` with PNG member ``name``'s codes changed by ``edit(codes (T, H, W...))``
    in place and the PNG written again (the libdeflate writer, sub filter)."""
    meta = json.loads(members["json"])
    T = meta["frames"]
    codes = png_array(members[name]).copy()
    edit(codes.reshape(T, -1, *codes.shape[1:]))
    return {**members, name: png(codes, "sub")}


def _interior(inst: np.ndarray, t: int, obj: int) -> np.ndarray:
    """Pixels (K, 2) of object ``obj`` in frame t whose 5x5 neighbourhood is all ``obj``."""
    m = inst[t] == obj
    core = m.copy()
    for di in range(-2, 3):
        for dj in range(-2, 3):
            core &= np.roll(np.roll(m, di, 0), dj, 1)
    return np.argwhere(core)


def _largest(members: dict, t: int = 0, mesh: bool | None = None) -> int:
    meta = json.loads(members["json"])
    inst = png_array(members["instance.png"]).reshape(meta["frames"], meta["height"], meta["width"])
    ids = [o["id"] for o in meta["objects"] if mesh is None or ("mesh" in o) == mesh]
    return max(ids, key=lambda i: (inst[t] == i).sum())


def test_depth_two_millimetres_further_on_one_object(sample):
    obj = _largest(sample)
    inst = png_array(sample["instance.png"]).reshape(3, 48, 64)

    def deeper(codes):
        codes[0][inst[0] == obj] += 2  # millimetre codes

    report = _oracle(_recode(sample, "depth.png", deeper))
    assert _failing(report) == {"depth"}
    assert all(f.frame == 0 and inst[0, f.row, f.col] == obj for f in report.failures)


def test_one_id_relabelled_on_three_pixels(sample):
    obj = _largest(sample)
    inst = png_array(sample["instance.png"]).reshape(3, 48, 64)
    other = next(o["id"] for o in json.loads(sample["json"])["objects"] if o["id"] != obj)
    pixels = _interior(inst, 1, obj)[:3]
    assert len(pixels) == 3

    def relabel(codes):
        codes[1][pixels[:, 0], pixels[:, 1]] = other

    report = _oracle(_recode(sample, "instance.png", relabel))
    assert "instance" in _failing(report)
    assert report.stats["instance"].failures == 3
    listed = {(f.frame, f.row, f.col) for f in report.failures if f.layer == "instance"}
    assert listed <= {(1, int(r), int(c)) for r, c in pixels}


def test_a_normal_off_by_two_codes(sample):
    obj = _largest(sample, mesh=True)
    inst = png_array(sample["instance.png"]).reshape(3, 48, 64)
    r, c = _interior(inst, 2, obj)[0]

    def tilt(codes):
        x = int(codes[2][r, c, 0])
        codes[2][r, c, 0] = x + 2 if x < 128 else x - 2

    report = _oracle(_recode(sample, "normals.png", tilt))
    assert _failing(report) == {"normals"}
    assert [(f.frame, f.row, f.col) for f in report.failures] == [(2, r, c)]


def test_flow_off_by_two_codes(sample):
    flow = png_array(sample["flow.png"]).reshape(3, 48, 128)
    r, c = np.argwhere(flow[0, :, :64] != 0)[len(np.argwhere(flow[0, :, :64] != 0)) // 2]

    def shift(codes):
        codes[0][r, 64 + c] += 2  # dv, in 1/64 px

    report = _oracle(_recode(sample, "flow.png", shift))
    assert _failing(report) == {"flow"}
    assert [(f.frame, f.row, f.col) for f in report.failures] == [(0, r, c)]


def test_a_pose_moved_one_centimetre(sample):
    meta = json.loads(sample["json"])
    obj = _largest(sample)
    (o,) = [o for o in meta["objects"] if o["id"] == obj]
    o["position"][1][0] += 0.01
    report = _oracle({**sample, "json": json.dumps(meta).encode()})
    assert {"depth", "corners"} <= _failing(report)
    assert 1 in {f.frame for f in report.failures} <= {0, 1}  # frame 0: its flow lands by the moved pose


def test_a_mesh_swapped_for_another_of_the_same_size(sample):
    meta = json.loads(sample["json"])
    obj = _largest(sample, mesh=True)
    (o,) = [o for o in meta["objects"] if o["id"] == obj]
    meshes = read_geometry(sample[GEOMETRY_MEMBER])
    mine = meshes[o["mesh"]["id"]]
    # Another built-in shape, scaled to this mesh's own box: the same size, other geometry.
    other = trimesh.creation.icosphere(2) if o["shape"] != "rock" else trimesh.creation.box()
    v = other.vertices / np.abs(other.vertices).max(0) * np.abs(mine.vertices).max(0)
    glb = trimesh.Scene()
    for mid, m in meshes.items():
        verts, faces, normals = (
            (v, other.faces, other.vertex_normals) if mid == mine.id else (m.vertices, m.faces, m.normals)
        )
        glb.add_geometry(
            trimesh.Trimesh(verts, faces, vertex_normals=normals, process=False), node_name=mid, geom_name=mid
        )
    swapped = {**sample, GEOMETRY_MEMBER: glb.export(file_type="glb")}
    report = _oracle(swapped)
    assert {"depth", "instance"} & _failing(report)
    assert all(f.layer != "corners" for f in report.failures)  # the box is the same


def test_a_sample_made_before_the_geometry_member_checks_what_it_can(sample):
    meta = json.loads(sample["json"])
    for o in meta["objects"]:
        o.pop("mesh", None)
        o.pop("half_extents", None)
    old = {k: v for k, v in sample.items() if k != GEOMETRY_MEMBER}
    old["json"] = json.dumps(meta).encode()
    report = _oracle(old)
    meshes = [o["id"] for o in meta["objects"] if o["shape"] not in ("sphere", "box", "cylinder", "capsule", "ell")]
    assert len(report.skipped) == len(meshes) > 0
    assert not report.failures, [f.describe() for f in report.failures]
    assert report.stats["depth"].compared > 0


def test_the_geometry_member_holds_each_mesh_exactly_and_its_bytes_repeat():
    config = _config("shapes")
    a, b = generate_samples(config, [3], samples=8)[0], generate_samples(config, [3], samples=8)[0]
    assert a.geometry is not None and a.geometry == b.geometry
    meshes = read_geometry(a.geometry)
    from factory.scene.assets import mesh_asset

    for o in a.meta["objects"]:
        if "mesh" not in o:
            assert o["half_extents"] == o["dims"]
            continue
        asset, m = mesh_asset(o["shape"]), meshes[o["mesh"]["id"]]
        assert o["mesh"]["scale"] == o["dims"]
        # The same triangles in the same order, corner by corner, with the same vertex
        # normals (trimesh's reader makes them unit in float64: within float32's step).
        assert np.array_equal(m.vertices[m.faces], asset.vertices[asset.faces].astype(np.float64))
        assert np.abs(m.normals[m.faces] - asset.normals[asset.faces]).max() < 1e-6
        half = np.abs(asset.vertices.astype(np.float64) * np.array(o["dims"])).max(0)
        assert np.allclose(o["half_extents"], half, atol=1e-6)
    # Both readers' default decoders leave it as bytes (webdataset's here; Ray's keeps unknown extensions).
    import webdataset

    decoded = webdataset.autodecode.Decoder([])({"__key__": "k", "geometry.glb": a.geometry})
    assert decoded["geometry.glb"] == a.geometry
    assert trimesh.load(io.BytesIO(a.geometry), file_type="glb", process=False).geometry
