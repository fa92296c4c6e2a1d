"""factory.client.rerun_export and ``factory rerun``: one real sample written as a rerun
recording, then read back with rerun's own reader (``rerun.chunk.RrdReader``, chunk by
chunk, as Arrow record batches) and checked against the sample's metadata and geometry:
the world points are projected back through K and world_to_camera, independently of
the exporter's unprojection."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from factory.cli import main
from factory.client.rerun_export import quaternion_xyzw, subsample, write_rerun
from factory.errors import ConfigError, StorageError
from factory.sample.decode import decode_present
from factory.sample.generate import generate_members
from factory.scene.config import parse_config

rr = pytest.importorskip("rerun")

TINY = Path(__file__).resolve().parents[1] / "configs" / "tiny.yaml"
MAX_POINTS = 700  # below the 48 x 40 = 1920 pixels, so the subsample is exercised
CONFIG = {
    "name": "rerun_test",
    "seed": 11,
    "output": {"mp4": False},
    "render": {"width": 48, "height": 40, "frames": 3, "fps": 12, "substeps": 2, "motion_blur_samples": 1},
    "scenarios": {
        "s": {
            "objects": {"count": 3, "speed": 1.0, "size": 0.3, "tumble": 1.0, "angular_speed": 2.0},
            "room": {},
            "furniture": {"count": 1},  # a static object: a box, no track
            "camera": {"trajectory": "orbit", "orbit_speed_deg_s": 60.0, "distance": 3.0},
        }
    },
}


def _read(path: Path) -> dict:
    """The recording at ``path`` as RrdReader gives it back: ``{entity path: {"static":
    {component: value}, "frames": {frame: {component: value, "time_ns": int}}}}``, each
    value a row's Python value (a list of instances)."""
    out: dict = {}
    for chunk in rr.chunk.RrdReader(path).stream():
        batch = chunk.to_record_batch()
        entity = out.setdefault(chunk.entity_path, {"static": {}, "frames": {}})
        components = [n for n in batch.schema.names if ":" in n]  # "Archetype:field"
        if chunk.is_static:
            entity["static"].update({n: batch.column(n)[batch.num_rows - 1].as_py() for n in components})
            continue
        frames = batch.column("frame").to_pylist()
        times = np.asarray(batch.column("time").to_numpy(), "timedelta64[ns]").astype(np.int64)
        for i, frame in enumerate(frames):
            row = entity["frames"].setdefault(frame, {})
            row["time_ns"] = int(times[i])
            row.update({n: v for n in components if (v := batch.column(n)[i].as_py()) is not None})
    return out


def _mat3(flat) -> np.ndarray:
    """rerun's Mat3x3 (9 floats, column-major) as a row-major (3, 3) matrix."""
    return np.asarray(flat, np.float64).reshape(3, 3).T


def _rotation(q) -> np.ndarray:
    """The rotation matrix of a unit quaternion (x, y, z, w), the textbook formula."""
    x, y, z, w = np.asarray(q, np.float64) / np.linalg.norm(q)
    return np.array(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
            [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
            [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
        ]
    )


@pytest.fixture(scope="module")
def sample():
    members = generate_members(parse_config(CONFIG), 0)
    return members, decode_present(members)


@pytest.fixture(scope="module")
def recording(sample, tmp_path_factory):
    members, _ = sample
    path = write_rerun(members, tmp_path_factory.mktemp("rrd") / "sample.rrd", max_points=MAX_POINTS)
    return path, _read(path)


def test_the_recording_holds_every_entity(sample, recording):
    (members, arrays), (path, rec) = sample, recording
    meta = arrays["meta"]
    moving = [o["id"] for o in meta["objects"] if not o["static"]]
    assert moving and any(o["static"] for o in meta["objects"])  # the config has both kinds
    expected = {
        "/world",
        "/world/camera",
        "/world/camera/rgb",
        "/world/camera/depth",
        "/world/camera/semantic",
        "/world/camera/boxes",
        "/world/points",
        "/world/objects",
    } | {f"/world/tracks/{i}" for i in moving}
    assert expected <= set(rec)
    assert not any(p.startswith("/world/tracks/") for p in set(rec) - expected)  # no track for furniture
    [store] = rr.chunk.RrdReader(path).recordings()
    assert (store.application_id, store.recording_id) == ("factory", members["__key__"])
    assert not list(path.parent.glob(".*tmp*"))  # the temporary file is gone


def test_the_frame_and_time_timelines_have_every_frame(sample, recording):
    meta, rec = sample[1]["meta"], recording[1]
    T = meta["frames"]
    for entity in ("/world/camera", "/world/camera/rgb", "/world/points", "/world/objects", "/world/camera/boxes"):
        assert sorted(rec[entity]["frames"]) == list(range(T)), entity
        times = [rec[entity]["frames"][t]["time_ns"] for t in range(T)]
        assert times == pytest.approx([t / meta["fps"] * 1e9 for t in range(T)], abs=1), entity


def test_the_static_entities(sample, recording):
    meta, rec = sample[1]["meta"], recording[1]
    world = rec["/world"]["static"]
    assert world["ViewCoordinates:xyz"] == rr.ViewCoordinates.RIGHT_HAND_Z_UP.as_arrow_array().to_pylist()
    labels = {c["class_id"]: c["class_description"]["info"]["label"] for c in world["AnnotationContext:context"][0]}
    assert labels == dict(enumerate(meta["classes"]))
    camera = rec["/world/camera"]["static"]
    np.testing.assert_allclose(_mat3(camera["Pinhole:image_from_camera"][0]), meta["camera"]["K"], rtol=1e-6)
    assert camera["Pinhole:resolution"] == [[meta["width"], meta["height"]]]
    assert camera["Pinhole:camera_xyz"] == rr.ViewCoordinates.RDF.as_arrow_array().to_pylist()


def test_the_camera_pose_inverts_world_to_camera(sample, recording):
    meta, rec = sample[1]["meta"], recording[1]
    for t, w2c in enumerate(meta["camera"]["world_to_camera"]):
        row = rec["/world/camera"]["frames"][t]
        c2w = np.eye(4)
        c2w[:3, :3] = _mat3(row["Transform3D:mat3x3"][0])
        c2w[:3, 3] = row["Transform3D:translation"][0]
        np.testing.assert_allclose(c2w @ np.asarray(w2c), np.eye(4), atol=1e-5)


def test_the_images_are_the_decoded_frames(sample, recording):
    arrays, rec = sample[1], recording[1]
    for t in range(arrays["meta"]["frames"]):
        rgb = rec["/world/camera/rgb"]["frames"][t]
        assert np.array_equal(
            np.asarray(rgb["Image:buffer"][0], np.uint8).reshape(arrays["rgb"][t].shape), arrays["rgb"][t]
        )
        depth = rec["/world/camera/depth"]["frames"][t]
        assert depth["DepthImage:meter"] == [1.0]
        stored = np.frombuffer(bytes(depth["DepthImage:buffer"][0]), np.float32).reshape(arrays["depth"][t].shape)
        assert np.array_equal(stored, arrays["depth"][t])
        semantic = rec["/world/camera/semantic"]["frames"][t]["SegmentationImage:buffer"][0]
        assert np.array_equal(
            np.asarray(semantic, np.uint8).reshape(arrays["semantic"][t].shape), arrays["semantic"][t]
        )


def test_the_3d_boxes_are_the_objects_poses(sample, recording):
    meta, rec = sample[1]["meta"], recording[1]
    objects = meta["objects"]
    for t in range(meta["frames"]):
        row = rec["/world/objects"]["frames"][t]
        np.testing.assert_allclose(row["Boxes3D:centers"], [o["position"][t] for o in objects], atol=1e-6)
        np.testing.assert_allclose(row["Boxes3D:half_sizes"], [o["dims"] for o in objects], atol=1e-6)
        for q, o in zip(row["Boxes3D:quaternions"], objects):
            np.testing.assert_allclose(_rotation(q), o["rotation"][t], atol=1e-5)
        assert row["Boxes3D:labels"] == [f"{o['category']} {o['id']}" for o in objects]
        assert row["Boxes3D:class_ids"] == [meta["classes"].index(o["category"]) for o in objects]


def test_the_2d_boxes_are_the_visible_boxes(sample, recording):
    meta, rec = sample[1]["meta"], recording[1]
    for t in range(meta["frames"]):
        row = rec["/world/camera/boxes"]["frames"][t]
        seen = [o for o in meta["objects"] if o["bbox_visible"][t] is not None]
        assert seen
        centres, half = np.asarray(row["Boxes2D:centers"]), np.asarray(row["Boxes2D:half_sizes"])
        np.testing.assert_allclose(np.hstack([centres - half, centres + half]), [o["bbox_visible"][t] for o in seen])
        assert row["Boxes2D:labels"] == [f"{o['category']} {o['id']}" for o in seen]


def test_the_tracks_follow_the_moving_objects(sample, recording):
    meta, rec = sample[1]["meta"], recording[1]
    for o in meta["objects"]:
        if o["static"]:
            continue
        for t in range(meta["frames"]):
            [strip] = rec[f"/world/tracks/{o['id']}"]["frames"][t]["LineStrips3D:strips"]
            np.testing.assert_allclose(strip, o["position"][: t + 1], atol=1e-6)


def test_the_world_points_lie_on_the_depth_surface(sample, recording):
    arrays, rec = sample[1], recording[1]
    meta = arrays["meta"]
    K = np.asarray(meta["camera"]["K"])
    H, W = meta["height"], meta["width"]
    for t in range(meta["frames"]):
        row = rec["/world/points"]["frames"][t]
        points = np.asarray(row["Points3D:positions"], np.float64)
        assert len(points) == min(MAX_POINTS, int((arrays["depth"][t] > 0).sum())) <= MAX_POINTS
        if t:
            continue  # frame 0: each point checked against the geometry
        w2c = np.asarray(meta["camera"]["world_to_camera"][0])
        cam = points @ w2c[:3, :3].T + w2c[:3, 3]
        uv = cam[:, :2] / cam[:, 2:] @ K[:2, :2].T + K[:2, 2]
        pix = np.floor(uv).astype(int)
        assert ((pix >= 0) & (pix < [W, H])).all()
        np.testing.assert_allclose(uv - pix, 0.5, atol=1e-2)  # each is a pixel's centre
        np.testing.assert_allclose(cam[:, 2], arrays["depth"][0][pix[:, 1], pix[:, 0]], atol=1e-3)
        packed = np.asarray(row["Points3D:colors"], np.uint32)  # 0xRRGGBBAA
        colours = np.stack([(packed >> s) & 0xFF for s in (24, 16, 8)], axis=1)
        assert np.array_equal(colours, arrays["rgb"][0][pix[:, 1], pix[:, 0]])
        assert len(set(map(tuple, pix))) == len(pix)  # no pixel twice


def test_quaternions_of_rotation_matrices():
    rng = np.random.default_rng(0)
    mats = [np.eye(3), np.diag([1.0, -1.0, -1.0]), np.diag([-1.0, 1.0, -1.0]), np.diag([-1.0, -1.0, 1.0])]
    for _ in range(50):
        q, _ = np.linalg.qr(rng.normal(size=(3, 3)))
        mats.append(q * np.sign(np.linalg.det(q)))
    for R in mats:
        q = quaternion_xyzw(R)
        assert np.linalg.norm(q) == pytest.approx(1.0) and q[3] >= 0
        np.testing.assert_allclose(_rotation(q), R, atol=1e-12)


def test_subsample_is_even_and_bounded():
    assert list(subsample(5, 10)) == [0, 1, 2, 3, 4]
    idx = subsample(1000, 7)
    assert len(idx) == 7 and idx[0] == 0 and idx[-1] == 999 and (np.diff(idx) > 0).all()


def test_bad_arguments_are_refused(sample, tmp_path):
    members, _ = sample
    with pytest.raises(ValueError, match="max_points"):
        write_rerun(members, tmp_path / "x.rrd", max_points=0)
    with pytest.raises(StorageError, match="no folder"):
        write_rerun(members, tmp_path / "missing" / "x.rrd")


def test_without_rerun_the_error_says_how_to_install_it(sample, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "rerun", None)  # 'import rerun' raises ImportError, as if not installed
    with pytest.raises(ConfigError, match=r"pip install 'factory\[rerun\]'"):
        write_rerun(sample[0], tmp_path / "x.rrd")
    assert not (tmp_path / "x.rrd").exists()


def test_the_command_writes_a_recording(tmp_path, capsys):
    out = tmp_path / "new" / "clip.rrd"
    assert main(["rerun", str(TINY), "--index", "1", "--samples", "4", "--out", str(out), "--max-points", "100"]) == 0
    assert out.stat().st_size > 0
    [store] = rr.chunk.RrdReader(out).recordings()
    assert store.recording_id == "0000000001"
    rec = _read(out)
    assert all(len(row["Points3D:positions"]) <= 100 for row in rec["/world/points"]["frames"].values())
    assert f"rerun {out}" in capsys.readouterr().out


@pytest.mark.parametrize(
    "args, message",
    [
        (["--out", "{tmp}/file/x.rrd"], "cannot create the folder"),
        (["--out", "{tmp}/x.mp4"], "must end in .rrd"),
        (["--out", "{tmp}/x.rrd", "--samples", "1"], "outside a dataset of --samples 1"),
        (["--out", "{tmp}/x.rrd", "--config", "{tmp}/no_such.yaml"], "cannot read config file"),
    ],
)
def test_the_command_refuses_bad_arguments(tmp_path, capsys, args, message):
    (tmp_path / "file").write_text("a file, not a folder")
    args = [a.format(tmp=tmp_path) for a in args]
    config = str(TINY)
    if "--config" in args:
        config = args.pop(args.index("--config") + 1)
        args.remove("--config")
    assert main(["rerun", config, "--index", "2", *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("factory rerun: error:") and message in err, err
    assert not list(tmp_path.glob("*.rrd"))
