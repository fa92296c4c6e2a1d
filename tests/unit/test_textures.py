"""Textured meshes against independent references: trimesh's ray caster over the posed
mesh gives ids, depth and the hit's UV (or, for triplanar mapping, its point and
normal); NumPy's bilinear lookup of the same texture there gives the colour.

The colour checked is the ``albedo`` layer: the base colour before lighting, the
material colour (white here) times the texture, which the reference encodes to sRGB
with the standard formula; 8-bit levels are compared.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import trimesh
from trimesh.ray.ray_triangle import RayMeshIntersector
from trimesh.triangles import points_to_barycentric

from factory.render import render_clip
from factory.render.device import get_device
from factory.render.meshes import MeshCache, mesh_cache
from factory.render.textures import mip_levels, pack_textures
from factory.scene.assets import make_asset
from factory.scene.types import Camera, Material, Scene, SceneObject, camera_pose

W, H, F = 120, 90, 150.0  # image size and focal length (pixels)
PLAIN = Material((0.6, 0.6, 0.6), (0.2, 0.2, 0.2), "checker", 4.0, 0.5, 0.0)


def _srgb_decode(b: np.ndarray) -> np.ndarray:
    c = b / 255.0
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)


def _srgb_encode(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return np.round(255 * np.where(x <= 0.0031308, 12.92 * x, 1.055 * x ** (1 / 2.4) - 0.055))


def _bilinear(image: np.ndarray, uv: np.ndarray) -> np.ndarray:
    """Linear RGB (M, 3) of ``image`` (h, w, 4) sRGB bytes at uv (M, 2), v up, wrap =
    repeat, interpolated between texel centres in linear light."""
    return _bilinear_linear(_srgb_decode(image[..., :3].astype(np.float64)), uv)


def _bilinear_linear(lin: np.ndarray, uv: np.ndarray) -> np.ndarray:
    """:func:`_bilinear` of an image already in linear light, (h, w, 3) float."""
    h, w = lin.shape[:2]
    x = (uv[:, 0] % 1.0) * w - 0.5
    y = (1.0 - uv[:, 1] % 1.0) * h - 0.5
    x0, y0 = np.floor(x), np.floor(y)
    fx, fy = (x - x0)[:, None], (y - y0)[:, None]
    x0, y0 = x0.astype(int), y0.astype(int)

    def at(xx, yy):
        return lin[yy % h, xx % w]

    top = at(x0, y0) * (1 - fx) + at(x0 + 1, y0) * fx
    low = at(x0, y0 + 1) * (1 - fx) + at(x0 + 1, y0 + 1) * fx
    return top * (1 - fy) + low * fy


def _box(kind: str, texture: np.ndarray | None, uv: bool = True, uv_span: tuple = (-0.5, 1.5)):
    """A closed unit box (24 vertices: each face its own four) with one white material,
    textured by ``texture``; each face's UVs span ``uv_span`` on both axes (past [0, 1]:
    wrap = repeat), or none (triplanar)."""
    verts, faces, uvs = [], [], []
    for n in np.eye(3).tolist() + (-np.eye(3)).tolist():
        n = np.array(n)
        a = np.roll(np.abs(n), 1)
        b = np.cross(n, a)
        corners = [n + sa * a + sb * b for sa, sb in ((-1, -1), (1, -1), (1, 1), (-1, 1))]
        base = len(verts)
        verts += corners
        lo, hi = uv_span
        uvs += [
            ((sa + 1) / 2 * (hi - lo) + lo, (sb + 1) / 2 * (hi - lo) + lo)
            for sa, sb in ((-1, -1), (1, -1), (1, 1), (-1, 1))
        ]
        faces += [(base, base + 1, base + 2), (base, base + 2, base + 3)]
    surface = _materials(len(faces), texture)
    if uv:
        surface["uv"] = np.array(uvs, np.float32)
    return make_asset(kind, np.array(verts), np.array(faces), (np.array(verts),), **surface)


def _materials(faces: int, texture: np.ndarray | None) -> dict:
    return {
        "face_material": np.zeros(faces, np.int16),
        "material_colour": np.array([[1.0, 1.0, 1.0, 1.0]], np.float32),
        "material_texture": np.array([0 if texture is not None else -1], np.int16),
        "textures": (texture,) if texture is not None else (),
    }


def _scene(objects, distance: float, elevation: float = 0.35, azimuth: float = 0.6) -> Scene:
    K = np.array([[F, 0, W / 2], [0, F, H / 2], [0, 0, 1]], np.float64)
    cam = Camera(W, H, K, "static", (0.0, 0.0, 1.2), distance, elevation, azimuth, 0.0, 0.0, 0.0, 0.0)
    return Scene(tuple(objects), cam, (), 1.0, (0.5, 0.6, 0.7), PLAIN, 0.5, 0.5, None, 1, 12.0, 1, {})


def _object(asset, dims, rotation, position=(0.0, 0.0, 1.2), oid: int = 1) -> SceneObject:
    return SceneObject(
        oid,
        "pack:test",
        "box",
        tuple(dims),
        np.asarray(rotation),
        position,
        0.0,
        (0, 0, 0),
        0.0,
        1.0,
        0.5,
        0.5,
        Material((0.9, 0.1, 0.1), (0.1, 0.9, 0.1), "checker", 3.0, 0.5, 0.0),
        mesh=asset,
    )


class _Still:
    def __init__(self, objects):
        self.pos = np.array([o.position for o in objects], np.float64)
        self.rot = np.array([o.rotation for o in objects], np.float64)

    def state_at(self, time):
        return self.pos, self.rot


def _render(scene: Scene):
    return render_clip(scene, _Still(scene.objects), device=get_device("cpu"))


def _rotation(seed: int) -> np.ndarray:
    q, _ = np.linalg.qr(np.random.default_rng(seed).normal(size=(3, 3)))
    return q * np.sign(np.linalg.det(q))


def _trimesh_hits(scene: Scene, obj: SceneObject):
    """Every pixel's camera ray against the posed mesh: pixels (M, 2) with a hit,
    its depth, the face, barycentrics (M, 3) and the pixels' footprint factor t / fx."""
    a = obj.mesh
    M = camera_pose(scene.camera, 0.0)
    ii, jj = np.meshgrid(np.arange(H), np.arange(W), indexing="ij")
    pixels = np.stack([ii.ravel(), jj.ravel()], 1)
    d_cam = (
        np.stack([pixels[:, 1] + 0.5, pixels[:, 0] + 0.5, np.ones(len(pixels))], 1) @ np.linalg.inv(scene.camera.K).T
    )
    origin, dirs = -M[:3, :3].T @ M[:3, 3], d_cam @ M[:3, :3]
    v = (a.vertices.astype(np.float64) * obj.dims) @ obj.rotation.T + obj.position
    mesh = trimesh.Trimesh(v, a.faces, process=False)
    locs, ray, tri = RayMeshIntersector(mesh).intersects_location(
        np.repeat(origin[None], len(dirs), 0), dirs, multiple_hits=False
    )
    depth = np.einsum("ij,ij->i", locs - origin, dirs[ray]) / np.einsum("ij,ij->i", dirs[ray], dirs[ray])
    bary = points_to_barycentric(mesh.triangles[tri], locs)
    return pixels[ray], depth, tri, bary, locs, dirs[ray], mesh


def test_uv_texture_ids_depth_and_colour_agree_with_trimesh_and_numpy():
    rng = np.random.default_rng(7)
    tex = rng.integers(0, 256, size=(8, 8, 4), dtype=np.uint8)
    asset = _box("pack:test-uv", tex)
    obj = _object(asset, (0.5, 0.4, 0.3), _rotation(3))
    scene = _scene([obj], distance=3.0)
    f = _render(scene).frames
    px, depth, tri, bary, locs, dirs, mesh = _trimesh_hits(scene, obj)
    assert len(px) > 1500
    got_id = f.instance[0][px[:, 0], px[:, 1]]
    assert (got_id == 1).mean() >= 0.99
    ok = got_id == 1
    rel = np.abs(f.depth[0][px[ok, 0], px[ok, 1]] - depth[ok]) / depth[ok]
    assert rel.max() < 1e-4

    # The UV at trimesh's hit; only pixels well inside a face, magnified (under one
    # level-0 texel a pixel, by the renderer's own footprint rule), are compared.
    uv = np.einsum("ij,ijk->ik", bary, asset.uv[asset.faces[tri]])
    n = mesh.face_normals[tri]
    cos = np.abs(np.einsum("ij,ij->i", n, dirs)) / np.linalg.norm(dirs, axis=1)
    tri_uv = asset.uv[asset.faces[tri]].astype(np.float64)
    e1, e2 = tri_uv[:, 1] - tri_uv[:, 0], tri_uv[:, 2] - tri_uv[:, 0]
    uv_area = np.abs(e1[:, 0] * e2[:, 1] - e1[:, 1] * e2[:, 0])
    world = np.linalg.norm(
        np.cross(
            mesh.triangles[tri][:, 1] - mesh.triangles[tri][:, 0], mesh.triangles[tri][:, 2] - mesh.triangles[tri][:, 0]
        ),
        axis=1,
    )
    rho = depth / F / np.maximum(cos, 0.05) * np.sqrt(uv_area * 64 / world)
    keep = ok & (bary.min(1) > 0.02) & (rho < 0.9)
    assert keep.sum() > 500
    want = _srgb_encode(_bilinear(tex, uv[keep]))
    got = f.albedo[0][px[keep, 0], px[keep, 1]].astype(np.float64)
    err = np.abs(got - want)
    assert np.quantile(err, 0.99) <= 2 and err.max() <= 4, (np.quantile(err, 0.99), err.max())
    # The config's flat colour is not what shows: the texture varies over the object.
    assert got.std(0).min() > 20


def test_minified_checker_renders_near_its_mean_not_aliased():
    checker = ((np.indices((256, 256)).sum(0) % 2) * 255).astype(np.uint8)
    tex = np.stack([checker, checker, checker, np.full_like(checker, 255)], -1)
    asset = _box("pack:test-far", tex, uv_span=(0.0, 1.0))
    obj = _object(asset, (0.4, 0.4, 0.4), _rotation(5))
    f = _render(_scene([obj], distance=12.0)).frames
    on = f.instance[0] == 1
    assert on.sum() > 60
    rgb = f.albedo[0][on].astype(np.float64)
    mean = _srgb_encode(np.array(0.5))  # black and white texels averaged in linear light
    assert np.abs(rgb - mean).max() <= 3, (rgb.min(), rgb.max(), mean)


def test_mid_distance_picks_the_level_of_the_pixel_footprint():
    """Between magnified and minified: NumPy's trilinear lookup in a pyramid of 2x2
    means in linear light, at the level log2(texels a pixel spans) that trimesh's hit
    gives (depth / focal length over the cosine to the face, times the face's texels
    per metre), agrees with the render; a random texture's levels differ a lot, so a
    wrong level would show."""
    rng = np.random.default_rng(4)
    tex = rng.integers(0, 256, size=(64, 64, 4), dtype=np.uint8)
    asset = _box("pack:test-mid", tex, uv_span=(0.0, 1.0))
    obj = _object(asset, (0.6, 0.6, 0.6), _rotation(6))
    scene = _scene([obj], distance=8.0)
    f = _render(scene).frames
    px, depth, tri, bary, locs, dirs, mesh = _trimesh_hits(scene, obj)
    pyramid = [_srgb_decode(tex[..., :3].astype(np.float64))]
    while pyramid[-1].shape[0] > 1:
        h, w = pyramid[-1].shape[:2]
        pyramid.append(pyramid[-1].reshape(h // 2, 2, w // 2, 2, 3).mean((1, 3)))
    cos = np.abs(np.einsum("ij,ij->i", mesh.face_normals[tri], dirs)) / np.linalg.norm(dirs, axis=1)
    texels_per_metre = 64 / (2 * 0.6)  # each face's UVs span [0, 1] over its 1.2 m
    lod = np.clip(np.log2(np.maximum(depth / F / np.maximum(cos, 0.05) * texels_per_metre, 1.0)), 0, len(pyramid) - 1)
    keep = (f.instance[0][px[:, 0], px[:, 1]] == 1) & (bary.min(1) > 0.02) & (lod > 1.0) & (lod < 4.0)
    assert keep.sum() > 100
    uv = np.einsum("ij,ijk->ik", bary, asset.uv[asset.faces[tri]])[keep]
    lo = np.floor(lod[keep]).astype(int)
    frac = (lod[keep] - lo)[:, None]
    want = np.zeros((keep.sum(), 3))
    for level in np.unique(lo):
        at = lo == level
        want[at] = (1 - frac[at]) * _bilinear_linear(pyramid[level], uv[at]) + frac[at] * _bilinear_linear(
            pyramid[min(level + 1, len(pyramid) - 1)], uv[at]
        )
    got = f.albedo[0][px[keep, 0], px[keep, 1]].astype(np.float64)
    err = np.abs(got - _srgb_encode(want))
    assert np.quantile(err, 0.99) <= 2 and err.max() <= 3, (np.quantile(err, 0.99), err.max())
    # Level 0 or the level above would be far off: the level is what is tested.
    for off in (-1, 1):
        shifted = np.clip(lo + off, 0, len(pyramid) - 1)
        other = np.stack([_bilinear_linear(pyramid[k], uv[i : i + 1])[0] for i, k in enumerate(shifted)])
        assert np.abs(got - _srgb_encode(other)).mean() > 3 * err.mean()


def test_mip_pyramid_averages_in_linear_light():
    img = np.zeros((4, 6, 4), np.uint8)
    img[:, ::2] = 255
    levels = mip_levels(img)
    assert [lv.shape[:2] for lv in levels] == [(4, 6), (2, 3), (1, 1)]
    assert (levels[1][..., :3] == _srgb_encode(np.array(0.5))).all()
    packed = pack_textures([img, img[:1, :1]])
    assert packed.first.tolist() == [0, 3] and packed.count.tolist() == [3, 1]
    assert packed.level[:, 2].tolist() == [0, 24, 30, 31]
    assert len(packed.texels) == 4 * 32


def test_triplanar_maps_a_mesh_without_uvs_by_its_normal():
    rng = np.random.default_rng(11)
    tex = rng.integers(0, 256, size=(6, 6, 4), dtype=np.uint8)
    sphere = trimesh.creation.icosphere(subdivisions=3)
    v = np.asarray(sphere.vertices)
    asset = make_asset("pack:test-tri", v, np.asarray(sphere.faces), (v,), **_materials(len(sphere.faces), tex))
    obj = _object(asset, (0.6, 0.5, 0.4), _rotation(9))
    scene = _scene([obj], distance=3.0)
    f = _render(scene).frames
    px, depth, tri, bary, locs, dirs, mesh = _trimesh_hits(scene, obj)
    ok = f.instance[0][px[:, 0], px[:, 1]] == 1
    assert ok.mean() >= 0.99
    dims = np.array(obj.dims)
    local = (locs - obj.position) @ obj.rotation  # object frame, metres
    pu = local / dims
    n_unit = np.einsum("ij,ijk->ik", bary, asset.normals[asset.faces[tri]].astype(np.float64))
    n_obj = n_unit / dims  # normals take the inverse transpose of the axis scaling
    n_obj /= np.linalg.norm(n_obj, axis=1, keepdims=True)
    w4 = n_obj**4
    cos = np.abs(np.einsum("ij,ij->i", mesh.face_normals[tri], dirs)) / np.linalg.norm(dirs, axis=1)
    foot = depth / F / np.maximum(cos, 0.05)
    planes = ((1, 2), (0, 2), (0, 1))
    rho = np.stack([foot * np.sqrt(36 / (4 * dims[a] * dims[b])) for a, b in planes], 1)
    keep = ok & (rho.max(1) < 0.9)
    assert keep.sum() > 300
    colour = sum(
        w4[keep, axis, None] * _bilinear(tex, (pu[keep][:, [a, b]] + 1) / 2) for axis, (a, b) in enumerate(planes)
    ) / w4[keep].sum(1, keepdims=True)
    got = f.albedo[0][px[keep, 0], px[keep, 1]].astype(np.float64)
    err = np.abs(got - _srgb_encode(colour))
    # The renderer blends by its smooth normal in float32 (within 1 level here).
    assert np.quantile(err, 0.99) <= 2 and err.max() <= 4, (np.quantile(err, 0.99), err.max())


def test_a_mesh_without_materials_shades_as_the_config_says():
    """A pack mesh with no materials takes the object's flat colour: the same bytes as
    the same mesh with one untextured material of that colour."""
    plain = _box("pack:test-plain", None, uv=False)
    plain = replace(plain, face_material=None, material_colour=None, material_texture=None)
    colour = (0.9, 0.1, 0.1)
    red = _box("pack:test-red", None, uv=False)
    red = replace(red, material_colour=np.array([[*colour, 1.0]], np.float32))
    obj = replace(_object(plain, (0.4, 0.4, 0.4), np.eye(3)), material=Material(colour, colour, "plain", 1.0, 0.5, 0.0))
    a = _render(_scene([obj], distance=3.0)).frames.rgb
    b = _render(_scene([replace(obj, mesh=red)], distance=3.0)).frames.rgb
    assert (a[0][..., 0] > 200).sum() > 500
    assert np.array_equal(a, b)


def test_cache_counts_hits_and_misses_and_evicts_within_its_bound():
    cache = mesh_cache(get_device("cpu"))
    rng = np.random.default_rng(2)
    assets = [_box(f"pack:test-cache-{k}", rng.integers(0, 256, (32, 32, 4), dtype=np.uint8)) for k in range(3)]
    scenes = [_scene([_object(a, (0.4, 0.4, 0.4), _rotation(1))], distance=3.0) for a in assets]
    before = cache.stats()
    first = _render(scenes[0]).frames.rgb
    mid = cache.stats()
    assert mid["misses"] == before["misses"] + 1 and mid["hits"] == before["hits"]
    assert mid["bytes"] > before["bytes"]
    assert np.array_equal(_render(scenes[0]).frames.rgb, first)
    assert cache.stats()["hits"] == mid["hits"] + 1 and cache.stats()["misses"] == mid["misses"]
    limit = cache.limit_bytes
    try:
        cache.limit_bytes = 1  # every entry is over it: each launch keeps only its own
        _render(scenes[1])
        s = cache.stats()
        assert s["entries"] == 1 and s["evictions"] > before["evictions"]
        again = _render(scenes[0]).frames.rgb  # built again, and still right
        assert cache.stats()["misses"] == s["misses"] + 1
        assert np.array_equal(again, first)
        # One launch holding two assets over the bound keeps both.
        both = _scene(
            [
                _object(assets[1], (0.3, 0.3, 0.3), np.eye(3), (-0.5, 0, 1.2), 1),
                _object(assets[2], (0.3, 0.3, 0.3), np.eye(3), (0.5, 0, 1.2), 2),
            ],
            distance=3.0,
        )
        f = _render(both).frames
        assert cache.stats()["entries"] == 2
        assert {1, 2} <= set(np.unique(f.instance[0]).tolist())
    finally:
        cache.limit_bytes = limit


def test_a_fresh_cache_refuses_a_surface_that_does_not_fit_its_mesh():
    asset = _box("pack:test-bad", None)
    bad = replace(asset, face_material=np.full(len(asset.faces), 3, np.int16))
    with pytest.raises(ValueError, match="pack:test-bad.*face_material"):
        MeshCache(get_device("cpu")).acquire([bad])


def textured_scenes() -> dict:
    """The UV, minified and triplanar scenes of the tests above (also rendered by the
    CUDA parity test and, in tests/integration, by kernels built two ways)."""
    rng = np.random.default_rng(7)
    checker = ((np.indices((256, 256)).sum(0) % 2) * 255).astype(np.uint8)
    sphere = trimesh.creation.icosphere(subdivisions=3)
    v = np.asarray(sphere.vertices)
    tri = make_asset(
        "pack:test-tri",
        v,
        np.asarray(sphere.faces),
        (v,),
        **_materials(len(sphere.faces), rng.integers(0, 256, (6, 6, 4), dtype=np.uint8)),
    )
    far = _box("pack:test-far", np.stack([checker] * 3 + [np.full_like(checker, 255)], -1), uv_span=(0.0, 1.0))
    return {
        "uv": _scene(
            [
                _object(
                    _box("pack:test-uv", rng.integers(0, 256, (8, 8, 4), dtype=np.uint8)), (0.5, 0.4, 0.3), _rotation(3)
                )
            ],
            3.0,
        ),
        "far": _scene([_object(far, (0.4, 0.4, 0.4), _rotation(5))], 12.0),
        "triplanar": _scene([_object(tri, (0.6, 0.5, 0.4), _rotation(9))], 3.0),
    }


@pytest.mark.cuda
def test_cuda_textures_agree_with_the_cpu():
    for name, scene in textured_scenes().items():
        a = render_clip(scene, _Still(scene.objects), device=get_device("cpu")).frames
        b = render_clip(scene, _Still(scene.objects), device=get_device("cuda")).frames
        assert (a.instance == b.instance).mean() >= 0.999, name
        rgb_ok = (np.abs(a.rgb.astype(np.int16) - b.rgb.astype(np.int16)) <= 1).all(-1)
        assert rgb_ok.mean() >= 0.995, (name, rgb_ok.mean())
