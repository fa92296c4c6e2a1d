"""Independent references for the render-level tests of the look (``tests/unit/test_looks.py``):
sRGB coding, Narkowicz's ACES fit, the camera's rays from a sample's metadata, an
analytic sphere, brute-force irradiance of an equirectangular environment, the CIE
overcast sky in closed form, and a black body's colour by Planck's law.

Written from the published formulas, not from factory's code: the tests compare the
renderer against these (bar :func:`specular_share`, which reads the renderer's split-sum
table for the small specular share of a matte dielectric). Float64 NumPy throughout.
Also the scenes those tests share: small configs, a matte sphere, interior pixels.
"""

from __future__ import annotations

import numpy as np

from factory.render.dfg import dfg_table
from factory.scene.config import parse_config

LUMA = np.array([0.2126, 0.7152, 0.0722])  # Rec. 709 luminance of linear RGB
# Linear sRGB from CIE XYZ (IEC 61966-2-1).
XYZ_TO_SRGB = np.array(
    [[3.2404542, -1.5371385, -0.4985314], [-0.9692660, 1.8760108, 0.0415560], [0.0556434, -0.2040259, 1.0572252]]
)


def srgb_encode(linear) -> np.ndarray:
    """sRGB bytes (float64, rounded, in [0, 255]) of linear values (clipped to [0, 1])."""
    x = np.clip(np.asarray(linear, np.float64), 0.0, 1.0)
    v = np.where(x <= 0.0031308, 12.92 * x, 1.055 * x ** (1 / 2.4) - 0.055)
    return np.round(v * 255.0)


def srgb_decode(byte) -> np.ndarray:
    """Linear values (float64) of sRGB bytes."""
    v = np.asarray(byte, np.float64) / 255.0
    return np.where(v <= 0.04045, v / 12.92, ((v + 0.055) / 1.055) ** 2.4)


def aces(x) -> np.ndarray:
    """Narkowicz's 2015 fit of the ACES curve with his 0.6 pre-scale, clipped to [0, 1]."""
    y = 0.6 * np.maximum(np.asarray(x, np.float64), 0.0)
    return np.clip(y * (2.51 * y + 0.03) / (y * (2.43 * y + 0.59) + 0.14), 0.0, 1.0)


def rz(deg: float) -> np.ndarray:
    """(3, 3) rotation by ``deg`` degrees about +z."""
    c, s = np.cos(np.radians(deg)), np.sin(np.radians(deg))
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def camera_rays(meta: dict, t: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The eye (3,), the unit world direction through every pixel centre (H, W, 3) and
    the camera-frame direction with z = 1 (H, W, 3) (depth times it is the point)."""
    K = np.array(meta["camera"]["K"])
    M = np.array(meta["camera"]["world_to_camera"][t])
    h, w = meta["height"], meta["width"]
    jj, ii = np.meshgrid(np.arange(w) + 0.5, np.arange(h) + 0.5)
    d_cam = np.stack([jj, ii, np.ones_like(ii)], -1) @ np.linalg.inv(K).T
    d = d_cam @ M[:3, :3]  # R^T d_cam, row vectors
    eye = -M[:3, :3].T @ M[:3, 3]
    return eye, d / np.linalg.norm(d, axis=-1, keepdims=True), d_cam


def world_points(meta: dict, depth: np.ndarray, t: int = 0) -> np.ndarray:
    """World points (H, W, 3) of a frame's z-depth (H, W) (metres along the optical axis)."""
    M = np.array(meta["camera"]["world_to_camera"][t])
    _, _, d_cam = camera_rays(meta, t)
    return (d_cam * depth[..., None] - M[:3, 3]) @ M[:3, :3]


def sphere_hits(origins: np.ndarray, dirs: np.ndarray, centre, radius: float) -> np.ndarray:
    """Ray parameter (...,) of the first hit of rays ``origins + t dirs`` (unit dirs,
    (..., 3)) with a sphere, ``inf`` where they miss or it lies behind."""
    oc = origins - np.asarray(centre, np.float64)
    b = np.sum(oc * dirs, -1)
    disc = b * b - (np.sum(oc * oc, -1) - radius * radius)
    root = np.sqrt(np.maximum(disc, 0.0))
    t0, t1 = -b - root, -b + root
    t = np.where(t0 > 0, t0, t1)
    return np.where((disc >= 0) & (t > 0), t, np.inf)


def ray_sphere_distance(origins: np.ndarray, dirs: np.ndarray, centre) -> np.ndarray:
    """Closest distance (...,) of the forward half-rays to a point ``centre``."""
    oc = np.asarray(centre, np.float64) - origins
    t = np.maximum(np.sum(oc * dirs, -1), 0.0)
    return np.linalg.norm(oc - t[..., None] * dirs, axis=-1)


def equirect_directions(height: int) -> tuple[np.ndarray, np.ndarray]:
    """Pixel-centre directions (H, 2H, 3) of an equirectangular map (row 0 at the zenith,
    azimuth ``pi (1 - 2 u)``, z up) and each pixel's solid angle (H, 2H), sr."""
    theta = np.pi * (np.arange(height) + 0.5) / height
    phi = np.pi * (1 - 2 * (np.arange(2 * height) + 0.5) / (2 * height))
    th, ph = np.meshgrid(theta, phi, indexing="ij")
    dirs = np.stack([np.sin(th) * np.cos(ph), np.sin(th) * np.sin(ph), np.cos(th)], -1)
    edges = np.cos(np.pi * np.arange(height + 1) / height)
    omega = (edges[:-1] - edges[1:]) * (np.pi / height)
    return dirs, np.broadcast_to(omega[:, None], (height, 2 * height))


def irradiance_over_pi(image: np.ndarray, normals: np.ndarray, rotation_deg: float = 0.0) -> np.ndarray:
    """Irradiance over pi (N, 3) at world ``normals`` (N, 3) of an equirectangular
    radiance ``image`` (H, 2H, 3) whose map direction m is the world direction
    ``Rz(rotation) m``: the cosine-weighted sum over every pixel (brute force)."""
    dirs, omega = equirect_directions(image.shape[0])
    world = dirs.reshape(-1, 3) @ rz(rotation_deg).T
    weight = np.maximum(np.asarray(normals, np.float64) @ world.T, 0.0) * omega.reshape(-1)
    return weight @ image.reshape(-1, 3).astype(np.float64) / np.pi


def cie_overcast(height: int, zenith: float, ground_albedo: float) -> np.ndarray:
    """The CIE overcast sky ``L = Lz (1 + 2 cos theta) / 3`` over a grey ground lit by
    it (radiance ``albedo * E / pi``, E = 7 pi Lz / 9 its horizontal illuminance),
    equirectangular (H, 2H, 3), evaluated in closed form at each pixel centre."""
    dirs, _ = equirect_directions(height)
    z = dirs[..., 2]
    lum = np.where(z > 0, zenith * (1 + 2 * z) / 3, ground_albedo * 7 * zenith / 9)
    return np.repeat(lum[..., None], 3, -1)


def cie_cmf(lam: np.ndarray) -> np.ndarray:
    """CIE 1931 2-degree colour-matching functions (n, 3) at ``lam`` nm: Wyman, Sloan and
    Shirley's piecewise-Gaussian fit (JCGT 2(2), 2013, eq. 2-4)."""

    def g(x, mu, s1, s2):
        return np.exp(-0.5 * ((x - mu) / np.where(x < mu, s1, s2)) ** 2)

    x = 1.056 * g(lam, 599.8, 37.9, 31.0) + 0.362 * g(lam, 442.0, 16.0, 26.7) - 0.065 * g(lam, 501.1, 20.4, 26.2)
    y = 0.821 * g(lam, 568.8, 46.9, 40.5) + 0.286 * g(lam, 530.9, 16.3, 31.1)
    z = 1.217 * g(lam, 437.0, 11.8, 36.0) + 0.681 * g(lam, 459.0, 26.0, 13.8)
    return np.stack([x, y, z], -1)


def blackbody_rgb(kelvin: float, white_k: float = 6500.0) -> np.ndarray:
    """Linear sRGB (3,) of a black body at ``kelvin``: Planck's law on 360..830 nm in
    1 nm steps against the CIE 1931 functions, divided channel-wise by the same at
    ``white_k`` and scaled to Rec. 709 luminance 1."""
    lam = np.arange(360.0, 831.0)

    def rgb(t):
        planck = (lam * 1e-9) ** -5 / np.expm1(1.438776877e-2 / (lam * 1e-9 * t))
        return XYZ_TO_SRGB @ (planck @ cie_cmf(lam))

    c = rgb(kelvin) / rgb(white_k)
    return c / float(c @ LUMA)


SIZE = {"width": 96, "height": 72, "frames": 1, "fps": 12, "substeps": 2}
# A white-ish matte sphere: F0 = 0, roughness 1, linear base colour 0.8.
MATTE = {
    "material": "plastic",
    "hue": 0.0,
    "saturation": 0.0,
    "value": 0.8,
    "roughness": 1.0,
    "specular": 0.0,
    "metallic": 0.0,
    "texture": "plain",
}


def config(scenario: dict, seed: int = 3, **render) -> object:
    """A one-scenario :class:`factory.scene.config.Config` of ``scenario`` at 96 x 72,
    one frame, no mp4; ``render`` overrides the render block (width, height...)."""
    return parse_config(
        {"seed": seed, "render": {**SIZE, **render}, "output": {"mp4": False}, "scenarios": {"s": scenario}}
    )


def sphere_scenario(backdrop: dict, camera: dict, radius: float = 0.5) -> dict:
    """One sphere of ``radius`` resting at the origin, no config lights."""
    return {
        "objects": {
            "count": 1,
            "shape": "sphere",
            "size": radius,
            "spawn_radius": 0.0,
            "drop_height": 0.0,
            "speed": 0.0,
            **MATTE,
        },
        "floor": {"texture": "plain"},
        "lighting": {"count": 0},
        "backdrop": backdrop,
        "camera": {"azimuth_deg": 0.0, **camera},
    }


def interior(mask: np.ndarray) -> np.ndarray:
    """Pixels of ``mask`` (H, W) whose 8 neighbours are in it too (no edge blends)."""
    h, w = mask.shape
    pad = np.pad(mask, 1)
    return np.all([pad[1 + a : 1 + a + h, 1 + b : 1 + b + w] for a in (-1, 0, 1) for b in (-1, 0, 1)], 0)


def specular_share(mu: np.ndarray) -> np.ndarray:
    """What a dielectric of F0 = 0 at roughness 1 reflects specularly (N,) at n.v =
    ``mu``: the split-sum B plus Kulla-Conty's multiple scattering Fms (1 - E), from
    the table of :func:`factory.render.dfg.dfg_table` (its own Monte Carlo integral of
    the GGX lobe); the diffuse lobe carries the base colour times the rest."""
    row = dfg_table()[-1].astype(np.float64)  # roughness 1
    n = row.shape[0] - 1
    cols = (np.arange(n) + 0.5) / n
    a, b = np.interp(mu, cols, row[:n, 0]), np.interp(mu, cols, row[:n, 1])
    e_avg = row[n].sum()
    f_avg = 1.0 / 21.0
    fms = f_avg**2 * e_avg / (1 - f_avg * (1 - e_avg))
    return b + fms * (1 - (a + b))
