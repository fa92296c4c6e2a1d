"""The procedural generators (factory.assets.generators): closed, outward, bounded
meshes of the drawn size, volumes against independent figures, byte-identical builds
across processes and orders, params that rebuild them, clear errors, and the cache."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import trimesh

from factory.assets.generators import (
    GENERATOR_NAMES,
    GENERATORS,
    MAX_FACES,
    MeshCache,
    build,
    cache_stats,
    cached_build,
    draw,
)
from factory.assets.generators.extrusion import outline
from factory.assets.generators.hull import points as hull_points
from factory.assets.generators.letters import HOLES as LETTER_HOLES
from factory.assets.generators.letters import pixels as letter_pixels
from factory.assets.generators.revolution import profile
from factory.errors import ParamError

SEEDS = (0, 1, 2)
UV_FAMILIES = {"superquadric", "bottle", "vase", "cup", "bowl"}


def expected_extents(name: str, p: dict) -> np.ndarray:
    """The bounding box a generator's params name, written out here per family."""
    if name == "mug":
        return np.array([p["diameter"] * (1 + p["handle_reach"]), p["diameter"], p["height"]])
    if "diameter" in p:
        return np.array([p["diameter"], p["diameter"], p["height"]])
    if name == "chair":
        return np.array([p["width"], p["depth"], p["seat_height"] + p["back"]])
    if "width" in p:
        return np.array([p["width"], p["depth"], p["height"]])
    return np.array([p["size_x"], p["size_y"], p["size_z"]])


def digest(mesh) -> str:
    h = hashlib.sha256()
    for a in (mesh.vertices, mesh.faces, mesh.uv, *mesh.parts):
        if a is not None:
            h.update(str(a.dtype).encode() + str(a.shape).encode() + a.tobytes())
    h.update(repr(mesh.tops).encode())
    return h.hexdigest()


def all_digests(order) -> dict:
    out = {}
    for name in order:
        for seed in SEEDS:
            p = draw(name, None, np.random.default_rng(seed))
            out[f"{name}/{seed}"] = digest(build(name, p))
    return out


def check_quality(mesh, name: str) -> None:
    tm = trimesh.Trimesh(mesh.vertices, mesh.faces)  # merges the seam's and poles' repeats
    assert tm.is_watertight == mesh.watertight is True, name
    assert tm.is_winding_consistent, name
    assert tm.volume > 0, name
    raw = trimesh.Trimesh(mesh.vertices, mesh.faces, process=False)
    assert raw.area_faces.min() > 1e-9 * raw.area, f"{name}: a degenerate face"
    assert len(mesh.faces) <= MAX_FACES
    assert mesh.vertices.dtype == np.float64 and mesh.vertices.shape[1] == 3
    assert mesh.faces.dtype == np.int32 and mesh.faces.shape[1] == 3


@pytest.mark.parametrize("name", GENERATOR_NAMES)
def test_drawn_meshes_are_closed_outward_bounded_and_sized(name):
    for seed in SEEDS:
        p = draw(name, None, np.random.default_rng(seed))
        mesh = build(name, p)
        check_quality(mesh, name)
        lo, hi = mesh.vertices.min(0), mesh.vertices.max(0)
        np.testing.assert_allclose(hi - lo, expected_extents(name, p), rtol=1e-9)
        np.testing.assert_allclose((lo + hi) / 2, 0.0, atol=1e-12)
        # Within the spec's draw ranges: household scale.
        for k, spec in GENERATORS[name].spec.items():
            assert spec.low <= p[k] <= spec.high, (name, k)
        if name in UV_FAMILIES:
            assert mesh.uv.shape == (len(mesh.vertices), 2) and mesh.uv.min() >= 0 and mesh.uv.max() <= 1
        else:
            assert mesh.uv is None


@pytest.mark.parametrize("name", GENERATOR_NAMES)
def test_face_count_at_the_largest_resolution_is_bounded(name):
    spec = GENERATORS[name].spec
    fine = {k: s.hi for k, s in spec.items() if k in ("resolution", "points", "teeth", "subdivisions", "octaves")}
    mesh = build(name, draw(name, fine, np.random.default_rng(5)))
    check_quality(mesh, name)


@pytest.mark.parametrize("name", GENERATOR_NAMES)
def test_params_at_their_limits_build_valid_meshes(name):
    """Every param at its low or high limit, in random combinations: what build accepts
    it builds well (a flat 2 m cup 1 cm high, a 1 cm superquadric of exponent 20)."""
    spec = GENERATORS[name].spec
    rng = np.random.default_rng(17)
    for _ in range(12):
        p = {k: (s.lo if rng.random() < 0.5 else s.hi) for k, s in spec.items()}
        p = {k: int(v) if spec[k].integer else float(v) for k, v in p.items()}
        mesh = build(name, p)
        check_quality(mesh, name)
        np.testing.assert_allclose(mesh.extents, expected_extents(name, p), rtol=1e-9)


def test_superquadric_2_2_is_an_ellipsoid():
    p = draw("superquadric", {"exponent_xy": 2.0, "exponent_z": 2.0}, np.random.default_rng(3))
    mesh = build("superquadric", p)
    a, b, c = p["size_x"] / 2, p["size_y"] / 2, p["size_z"] / 2
    volume = trimesh.Trimesh(mesh.vertices, mesh.faces).volume
    assert volume == pytest.approx(4 / 3 * np.pi * a * b * c, rel=0.02)
    radii = ((mesh.vertices / [a, b, c]) ** 2).sum(1)  # every vertex on the ellipsoid
    np.testing.assert_allclose(radii, 1.0, atol=1e-9)


@pytest.mark.parametrize("kind", ["bottle", "vase", "cup", "bowl"])
def test_revolution_volume_matches_the_profile_integral(kind):
    for seed in SEEDS:
        p = draw(kind, None, np.random.default_rng(seed))
        prof = profile(kind, p)
        r, z = prof[:, 0], prof[:, 1]
        # Signed pi * closed integral of r^2 dz along the closed profile (axis back to start).
        r_mid2 = (r[:-1] ** 2 + r[:-1] * r[1:] + r[1:] ** 2) / 3
        solid = abs(np.pi * np.sum(r_mid2 * np.diff(z)))
        mesh = build(kind, p)
        volume = trimesh.Trimesh(mesh.vertices, mesh.faces).volume
        assert volume == pytest.approx(solid, rel=0.01), (kind, seed)
        # Exactly, with each circle the inscribed n-gon the mesh has (n = 48: a multiple
        # of 4, so the n-gon's extents are the circle's and the final scaling is 1).
        n = p["resolution"]
        assert volume == pytest.approx(solid * n / (2 * np.pi) * np.sin(2 * np.pi / n), rel=1e-9)


@pytest.mark.parametrize("kind", ["cup", "bowl"])
def test_cups_and_bowls_are_hollow(kind):
    p = draw(kind, None, np.random.default_rng(4))
    mesh = build(kind, p)
    tm = trimesh.Trimesh(mesh.vertices, mesh.faces)
    solid_of_outline = np.pi * (p["diameter"] / 2) ** 2 * p["height"]
    assert tm.volume < 0.5 * solid_of_outline  # a shell, not a solid
    inside = np.array([[0.0, 0.0, 0.0]])  # mid-cavity: the bounding box's centre
    assert not tm.contains(inside)[0]


def test_same_bytes_in_another_process_and_in_another_order():
    here = all_digests(GENERATOR_NAMES)
    assert all_digests(GENERATOR_NAMES[::-1]) == here
    code = (
        f"import json, sys; sys.path.insert(0, {os.path.dirname(os.path.abspath(__file__))!r});"
        "from test_generators import all_digests, GENERATOR_NAMES;"
        "print(json.dumps(all_digests(GENERATOR_NAMES[::-1])))"
    )
    env = dict(os.environ, PYTHONHASHSEED="123")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert json.loads(out.stdout) == here


@pytest.mark.parametrize("name", GENERATOR_NAMES)
def test_recorded_params_rebuild_the_same_bytes_after_json(name):
    p = draw(name, None, np.random.default_rng(7))
    assert all(type(v) in (int, float) for v in p.values())
    mesh = build(name, p)
    assert mesh.generator == name and mesh.params == p
    back = json.loads(json.dumps(mesh.params))
    assert back == p
    assert digest(build(name, back)) == digest(mesh)


def test_draws_follow_the_stream_and_the_overrides():
    a = draw("cup", None, np.random.default_rng(11))
    assert draw("cup", None, np.random.default_rng(11)) == a
    assert draw("cup", None, np.random.default_rng(12)) != a
    p = draw("cup", {"height": 0.1, "diameter": (0.08, 0.09)}, np.random.default_rng(11))
    assert p["height"] == 0.1 and 0.08 <= p["diameter"] <= 0.09
    assert draw("hull", {"points": 10}, np.random.default_rng(0))["points"] == 10


def test_an_unknown_generator_lists_the_names():
    with pytest.raises(ParamError, match="unknown generator 'teapot'.*superquadric.*mug"):
        build("teapot", {})
    with pytest.raises(ParamError, match="unknown generator"):
        draw("teapot", None, np.random.default_rng(0))


def test_bad_params_name_the_param_the_value_and_the_range():
    p = draw("cup", None, np.random.default_rng(0))
    with pytest.raises(ParamError, match=r"'cup' param 'wall': got 0\.9; allowed: a number in \[0\.02, 0\.15\]"):
        build("cup", {**p, "wall": 0.9})
    with pytest.raises(ParamError, match=r"param 'resolution': got 48\.0; allowed: an int in \[8, 56\]"):
        build("cup", {**p, "resolution": 48.0})
    for bad in ("0.1", True, float("nan"), None):
        with pytest.raises(ParamError, match="param 'height'"):
            build("cup", {**p, "height": bad})
    with pytest.raises(ParamError, match=r"missing params \['floor'\]"):
        build("cup", {k: v for k, v in p.items() if k != "floor"})
    with pytest.raises(ParamError, match=r"unknown params \['handle'\]"):
        build("cup", {**p, "handle": 1.0})
    with pytest.raises(ParamError, match=r"param 'height': got 5\.0"):
        draw("cup", {"height": (0.1, 5.0)}, np.random.default_rng(0))
    with pytest.raises(ParamError, match=r"unknown params \['colour'\] in overrides"):
        draw("cup", {"colour": 1}, np.random.default_rng(0))


def test_cache_counts_hits_and_keeps_within_its_byte_bound():
    params = [draw("rock", None, np.random.default_rng(s)) for s in range(4)]
    size = build("rock", params[0]).nbytes  # every rock of 3 subdivisions has the same arrays
    cache = MeshCache(max_bytes=2 * size + size // 2)
    first = cache.get("rock", params[0])
    assert cache.get("rock", json.loads(json.dumps(params[0]))) is first
    assert cache.stats()[:5] == (1, 1, 0, 1, size)
    cache.get("rock", params[1])
    cache.get("rock", params[0])  # params[0] is now the most recent
    cache.get("rock", params[2])  # over the bound: params[1], the least recent, goes
    s = cache.stats()
    assert (s.entries, s.bytes, s.evictions) == (2, 2 * size, 1) and s.bytes <= s.max_bytes
    assert cache.get("rock", params[0]) is first
    cache.get("rock", params[1])
    assert cache.stats().misses == 4
    tiny = MeshCache(max_bytes=size - 1)  # too small for any: built, returned, not kept
    assert digest(tiny.get("rock", params[0])) == digest(first)
    assert tiny.stats().entries == 0 and tiny.stats().bytes == 0


def test_process_cache_and_read_only_arrays():
    p = draw("star", None, np.random.default_rng(0))
    before = cache_stats()
    mesh = cached_build("star", p)
    assert cached_build("star", p) is mesh
    after = cache_stats()
    assert after.hits == before.hits + 1
    with pytest.raises(ValueError):
        mesh.vertices[0, 0] = 1.0


@pytest.mark.parametrize("kind", ["star", "gear"])
def test_extrusion_volume_matches_its_outline(kind):
    """Volume from the outline's shoelace area: a prism between the chamfers and two
    frusta of similar sections (A h (1 + s + s^2) / 3), scaled per axis as the mesh is."""
    for seed in SEEDS:
        p = draw(kind, None, np.random.default_rng(seed))
        ring = outline(kind, p)
        x, y = ring[:, 0], ring[:, 1]
        area = 0.5 * np.sum(x * np.roll(y, -1) - np.roll(x, -1) * y)
        t = p["size_z"] / (max(p["size_x"], p["size_y"]) / 2)
        b = p["bevel"] * t
        s = 1 - min(b, 0.5)
        unit = area * ((t - 2 * b) + 2 * b * (1 + s + s * s) / 3)
        scale = p["size_x"] / np.ptp(x) * p["size_y"] / np.ptp(y) * p["size_z"] / t
        mesh = build(kind, p)
        assert trimesh.Trimesh(mesh.vertices, mesh.faces).volume == pytest.approx(unit * scale, rel=1e-9)


def test_hulls_are_convex_and_made_of_the_drawn_points():
    for seed in SEEDS:
        p = draw("hull", None, np.random.default_rng(seed))
        mesh = build("hull", p)
        tm = trimesh.Trimesh(mesh.vertices, mesh.faces)
        behind = (mesh.vertices[None] - tm.triangles[:, :1]) @ tm.face_normals[:, :, None]
        assert behind.max() < 1e-12  # every vertex behind every face's plane: convex
        pts = hull_points(p)
        lo, hi = pts.min(0), pts.max(0)
        scaled = (pts - (lo + hi) / 2) / (hi - lo) * [p["size_x"], p["size_y"], p["size_z"]]
        gap = np.linalg.norm(mesh.vertices[:, None] - scaled[None], axis=2).min(1)
        assert gap.max() < 1e-12  # every hull vertex is one of the points


@pytest.mark.parametrize("name", GENERATOR_NAMES)
def test_topology_one_body_and_a_hole_only_in_the_mug(name):
    """Euler number V - E + F = 2 - 2 genus: a mug's handle makes one hole (0), a
    letter one per counter (B: 2), a chair's back one, an open shelf one per
    compartment; every other family is a sphere's topology (2), a cup's cavity
    included. One body each."""
    mesh = build(name, draw(name, None, np.random.default_rng(1)))
    tm = trimesh.Trimesh(mesh.vertices, mesh.faces)
    p = mesh.params
    holes = {"mug": 1}.get(name, 0)
    if name == "letter":
        holes = LETTER_HOLES.get(chr(ord("A") + p["letter"]), 0)
    if name == "chair":  # the slit between the seat and a raised back panel, framed by the posts
        holes = int(p["back"] * (1 - p["panel"]) >= 0.005)
    if name == "shelf" and not p["back"]:  # each open compartment is a tunnel through it
        holes = p["boards"] + 1
    assert tm.euler_number == 2 - 2 * holes
    assert bodies(tm.faces) == 1


def bodies(faces: np.ndarray) -> int:
    """The number of connected pieces of a mesh's faces (labels spread along edges)."""
    label = np.arange(faces.max() + 1)
    edges = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]])
    while True:
        low = np.minimum(label[edges[:, 0]], label[edges[:, 1]])
        new = label.copy()
        np.minimum.at(new, edges[:, 0], low)
        np.minimum.at(new, edges[:, 1], low)
        new = new[new]  # jump to the label's label
        if np.array_equal(new, label):
            return len(np.unique(label[faces.ravel()]))
        label = new


def test_every_letter_is_one_closed_body_with_its_counters():
    for letter in range(26):
        p = draw("letter", {"letter": letter}, np.random.default_rng(letter))
        mesh = build("letter", p)
        check_quality(mesh, "letter")
        tm = trimesh.Trimesh(mesh.vertices, mesh.faces)
        assert bodies(tm.faces) == 1
        assert tm.euler_number == 2 - 2 * LETTER_HOLES.get(chr(ord("A") + letter), 0)
        # The outline covers the font's lit pixels: each pixel's centre is inside. The
        # bounding box is the lit pixels' grown by the rounding, scaled to the size.
        lit = letter_pixels(letter)
        r, c = np.nonzero(lit)
        y = lit.shape[0] - 1 - r  # row 0 is the top
        g = p["rounding"]
        u = (c + 0.5 - c.min() + g) / (c.max() + 1 - c.min() + 2 * g)
        w = (y + 0.5 - y.min() + g) / (y.max() + 1 - y.min() + 2 * g)
        lo = mesh.vertices.min(0)
        centres = np.stack([lo[0] + u * p["size_x"], lo[1] + w * p["size_y"], np.zeros(len(u))], -1)
        assert tm.contains(centres).all()


def test_mug_volume_between_its_shell_and_its_shell_plus_a_whole_handle():
    p = draw("mug", None, np.random.default_rng(2))
    mesh = build("mug", p)
    volume = trimesh.Trimesh(mesh.vertices, mesh.faces).volume
    R, h, n = p["diameter"] / 2, p["height"], p["resolution"]
    ngon = n / (2 * np.pi) * np.sin(2 * np.pi / n)  # an n-gon's area over its circle's
    shell = np.pi * ngon * (R**2 * h - (R * (1 - p["wall"])) ** 2 * (h - p["floor"] * h))
    tube = p["handle_thickness"] * p["diameter"] / 2
    ring = p["handle_reach"] * p["diameter"] - tube
    torus = 2 * np.pi**2 * ring * tube**2 * p["handle_span"] * h / 2 / (ring + tube)
    assert shell < volume < shell + torus
