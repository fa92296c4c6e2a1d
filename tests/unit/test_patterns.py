"""The procedural solid textures of :mod:`factory.render.patterns`, against
independent references: analytic shares of mortar and grout, NumPy integrals of the
documented profiles, a NumPy Monte Carlo of Worley F1, a NumPy copy of the renderer's
historical checker, stripes and cell noise, and FFT peaks of lines of samples.

Run as a script (``PYTHONPATH=$PWD python tests/unit/test_patterns.py``) it prints
each pattern's cost in ns per point over 2^20 points on one CPU core.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from factory.render.patterns import fbm, pattern
from factory.render.warp_setup import CPU_FLAGS, KERNEL_OPTIONS, wp
from factory.scene.config import TEXTURES

wp.set_module_options(KERNEL_OPTIONS)

ROOT = Path(__file__).resolve().parents[2]
CODE = {name: i for i, name in enumerate(TEXTURES)}
NOISY = ("noise", "fbm", "marble", "wood", "worley")  # a new seed changes every weight
N = 2**18


@wp.kernel
def _weights_kernel(kind: int, seed: int, pts: wp.array(dtype=wp.vec3), out: wp.array(dtype=float)):
    i = wp.tid()
    out[i] = pattern(kind, pts[i], seed)


@wp.kernel
def _fbm_kernel(seed: int, pts: wp.array(dtype=wp.vec3), out: wp.array(dtype=float)):
    i = wp.tid()
    out[i] = fbm(pts[i], seed)


def _points(points: np.ndarray) -> wp.array:
    return wp.array(np.ascontiguousarray(points, dtype=np.float32), dtype=wp.vec3, device="cpu")


def weights(name: str, points: np.ndarray, seed: int = 0) -> np.ndarray:
    """pattern(name) at points (M, 3), float32 (M,)."""
    wp.init()
    pts = _points(points)
    out = wp.zeros(len(points), dtype=float, device="cpu")
    wp.launch(_weights_kernel, len(points), inputs=[CODE[name], seed, pts, out], device="cpu")
    return out.numpy()


def uniform_points(n: int = N, seed: int = 0, half: float = 40.0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(-half, half, (n, 3))


@pytest.fixture(scope="module")
def cloud() -> np.ndarray:
    return uniform_points()


def _stats(name: str, cloud: np.ndarray, seed: int = 0) -> tuple[float, float]:
    w = weights(name, cloud, seed).astype(np.float64)
    return w.mean(), w.std()


@pytest.mark.parametrize("name", TEXTURES)
def test_weights_are_finite_and_within_the_unit_interval(name):
    # Far from the origin too, and on the lattice's planes.
    rng = np.random.default_rng(1)
    pts = np.concatenate([rng.uniform(-3000, 3000, (20000, 3)), np.round(rng.uniform(-20, 20, (20000, 3)) * 2) / 2])
    for seed in (0, 2**20 - 1):
        w = weights(name, pts, seed)
        assert np.isfinite(w).all() and w.min() >= 0.0 and w.max() <= 1.0


def test_plain_is_zero_everywhere(cloud):
    assert not weights("plain", cloud, 7).any()


def test_checker_stripes_and_noise_are_the_renderers_historical_formulas(cloud):
    """A NumPy copy of the old shade.pattern (int64 arithmetic, wrapping), at seed 0."""
    c = np.floor(cloud.astype(np.float32)).astype(np.int64)
    with np.errstate(over="ignore"):
        h = (c[:, 0] * 73856093) ^ (c[:, 1] * 19349663) ^ (c[:, 2] * 83492791)
        h = (h ^ (h >> 13)) * 1274126177
    noise = ((h >> 16) & 1023).astype(np.float32) / np.float32(1023.0)
    assert np.array_equal(weights("checker", cloud), (c.sum(1) % 2).astype(np.float32))
    assert np.array_equal(weights("stripes", cloud), (c[:, 0] % 2).astype(np.float32))
    assert np.array_equal(weights("noise", cloud), noise)


def test_cell_noise_is_uniform_and_independent_between_cells(cloud):
    w = weights("noise", cloud, 3).astype(np.float64)
    levels = np.arange(1024) / 1023.0
    assert abs(w.mean() - 0.5) < 0.005
    assert abs(w.std() - levels.std()) < 0.005
    assert abs(np.corrcoef(w, weights("noise", cloud + [1.0, 0, 0], 3))[0, 1]) < 0.02


def test_value_fbm_has_the_variance_of_its_octaves(cloud):
    """Var of value noise = (1/12) (E[(1-u)^2 + u^2])^3 (u the quintic fade of a uniform
    t, one factor per axis, the corners independent); four independent octaves of
    amplitudes 1, 1/2, 1/4, 1/8 normalised by their sum scale it by sum(a^2)/sum(a)^2."""
    t = (np.arange(100000) + 0.5) / 100000
    u = t**3 * (t * (t * 6 - 15) + 10)
    var = np.mean((1 - u) ** 2 + u**2) ** 3 / 12
    amps = 0.5 ** np.arange(4)
    expected = np.sqrt(var * (amps**2).sum() / amps.sum() ** 2)
    wp.init()
    out = wp.zeros(len(cloud), dtype=float, device="cpu")
    wp.launch(_fbm_kernel, len(cloud), inputs=[5, _points(cloud), out], device="cpu")
    f = out.numpy().astype(np.float64)
    assert abs(f.mean() - 0.5) < 0.005
    assert abs(f.std() - expected) < 0.004
    assert f.min() >= 0.0 and f.max() <= 1.0


def test_fbm_weight_spread_and_feature_size(cloud):
    mean, std = _stats("fbm", cloud, 4)
    assert abs(mean - 0.5) < 0.01 and 0.21 < std < 0.27  # documented: 0.50, 0.24
    w = weights("fbm", cloud, 4)
    near = np.corrcoef(w, weights("fbm", cloud + [0.02, 0, 0], 4))[0, 1]
    far = np.corrcoef(w, weights("fbm", cloud + [2.0, 0, 0], 4))[0, 1]
    assert near > 0.95 and abs(far) < 0.02


def test_marble_share_is_the_integral_of_its_profile(cloud):
    """Turbulence only shifts the phase, uniformly over many veins: the mean and
    spread are those of bump(U)^2, bump = smoothstep(|2U - 1|), U uniform."""
    u = (np.arange(1000000) + 0.5) / 1e6
    tri = np.abs(2 * u - 1)
    s2 = (tri * tri * (3 - 2 * tri)) ** 2
    mean, std = _stats("marble", cloud, 6)
    assert abs(mean - s2.mean()) < 0.01 and abs(std - s2.std()) < 0.01


def test_wood_share_is_the_integral_of_its_ring_profile(cloud):
    """0.85 ring(fract r) + 0.15 grain, fract r uniform, grain of mean 0.5."""
    f = (np.arange(1000000) + 0.5) / 1e6
    s = np.clip((f - 0.55) / 0.35, 0, 1)
    ring = s * s * (3 - 2 * s)
    mean, std = _stats("wood", cloud, 2)
    assert abs(mean - (0.85 * ring.mean() + 0.15 * 0.5)) < 0.01
    assert abs(std - 0.85 * ring.std()) < 0.03  # the grain adds a little spread


def test_worley_matches_a_monte_carlo_of_jittered_cells(cloud):
    """F1 over a 5^3 neighbourhood of uniformly jittered points, clipped at 1."""
    rng = np.random.default_rng(9)
    q = rng.uniform(0, 1, (100000, 1, 3))
    cells = np.stack(np.meshgrid(*[np.arange(-2, 3)] * 3, indexing="ij"), -1).reshape(1, -1, 3)
    f1 = np.linalg.norm(cells + rng.uniform(0, 1, (100000, 125, 3)) - q, axis=2).min(1)
    ref = np.minimum(f1, 1.0)
    mean, std = _stats("worley", cloud, 1)
    assert abs(mean - ref.mean()) < 0.01 and abs(std - ref.std()) < 0.01
    w = weights("worley", cloud, 1)
    assert abs(np.corrcoef(w, weights("worley", cloud + [3.0, 0, 0], 1))[0, 1]) < 0.02


def test_bricks_mortar_share_is_the_joint_volume(cloud):
    """Joints 0.12 wide every 1 (z), 1.5 (y), 3 (x), independently placed for uniform
    points; bricks proper (past the 0.02 ramps) weigh less than 0.2, and so do the
    ramps' brick sides."""
    w = weights("bricks", cloud, 5)
    mortar = 1 - (1 - 0.12) * (1 - 0.12 / 1.5) * (1 - 0.12 / 3)
    brick = (1 - 0.16) * (1 - 0.16 / 1.5) * (1 - 0.16 / 3)
    se = 3 * np.sqrt(0.25 / len(w))
    assert abs((w == 1.0).mean() - mortar) < se
    assert brick - se < (w < 0.2).mean() < 1 - mortar - 0.005
    assert abs(w[w < 0.2].mean() - 0.1) < 0.005  # a brick's shade: uniform in [0, 0.2)


def test_tiles_grout_share_is_the_joint_volume(cloud):
    w = weights("tiles", cloud, 5)
    se = 3 * np.sqrt(0.25 / len(w))
    assert abs((w == 1.0).mean() - (1 - (1 - 0.06) ** 3)) < se
    assert (1 - 0.06 - 0.04) ** 3 - se < (w < 0.15).mean() < (1 - 0.06) ** 3 - 0.005
    assert abs(w[w < 0.15].mean() - 0.075) < 0.005


def _spectrum(name: str, start, direction, seed: int, lines: int = 8, jitter: float = 0.3):
    """Frequencies (cycles per unit) and the mean power spectrum of ``lines`` lines of
    384 units (a multiple of every documented period), 32 samples a unit, parallel
    to ``direction`` from ``start`` moved up to ``jitter`` across it."""
    t = np.arange(384 * 32) / 32.0
    d = np.asarray(direction, float)
    rng = np.random.default_rng(0)
    power = 0.0
    for _ in range(lines):
        across = rng.uniform(-jitter, jitter, 3)
        across -= d * (across @ d)
        w = weights(name, np.asarray(start) + across + t[:, None] * d, seed).astype(np.float64)
        power = power + np.abs(np.fft.rfft(w - w.mean())) ** 2
    return np.fft.rfftfreq(len(t), 1 / 32.0), power / lines


def _lines(power: np.ndarray) -> np.ndarray:
    """Bins of the spectral lines: 30x above the medians of the 16 bins on either side
    (both sides, so the flank of a broad hump is no line)."""
    return np.array(
        [
            k
            for k in range(17, len(power) - 17)
            if power[k] > 30 * max(np.median(power[k - 16 : k]), np.median(power[k + 1 : k + 17]))
        ]
    )


# (name, start, direction, documented frequency in cycles per unit of p)
PERIODIC = [
    ("checker", (0.0, 0.5, 0.5), (1, 0, 0), 0.5),
    ("checker", (0.5, 0.5, 0.0), (0, 0, 1), 0.5),
    ("stripes", (0.0, 0.5, 0.5), (1, 0, 0), 0.5),
    ("marble", (0.0, 3.0, 4.0), (1, 0, 0), 1.0),
    ("wood", (20.0, 0.4, 1.0), (1, 0, 0), 1.0),
    ("wood", (0.3, -30.0, -2.0), (0, -1, 0), 1.0),
    ("bricks", (0.0, 0.0, 0.0), (0, 0, 1), 1.0),
    ("bricks", (0.0, 0.0, 0.0), (1, 0, 0), 1 / 3),
    ("bricks", (0.0, 0.0, 0.0), (0, 1, 0), 2 / 3),
    ("tiles", (0.0, 0.1, 0.2), (1, 0, 0), 1.0),
    ("tiles", (0.2, 0.0, 0.1), (0, 1, 0), 1.0),
]


@pytest.mark.parametrize(("name", "start", "direction", "freq"), PERIODIC)
def test_periodic_patterns_peak_at_their_documented_frequency_for_any_seed(name, start, direction, freq):
    """The strongest line is the documented frequency (to the bin), and every line with
    5% of its power or more is one of its harmonics."""
    jitter = 0.1 if name == "bricks" else 0.3  # keeps bricks' lines off the joints along them
    for seed in (0, 12345):
        freqs, power = _spectrum(name, start, direction, seed, jitter=jitter)
        assert abs(freqs[1 + np.argmax(power[1:])] - freq) < 1 / 384
        strong = [k for k in _lines(power) if power[k] >= 0.05 * power.max()]
        harmonic = freqs[strong] / freq
        assert np.allclose(harmonic, np.round(harmonic), atol=1.5 / 384 / freq), freqs[strong]


_SCRIPT = """
import sys, numpy as np
sys.path.insert(0, {tests!r})
from test_patterns import TEXTURES, uniform_points, weights
pts = uniform_points(4096, seed=11, half=60.0)
sys.stdout.write("".join(weights(n, pts, 77).tobytes().hex() for n in TEXTURES))
"""


def test_the_same_bits_in_another_process_built_another_way(tmp_path):
    """A fresh process with its own kernel cache, compiled for the host's CPU model
    (-march=native), gives the same bytes as this one."""
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "FACTORY_KERNEL_CACHE": str(tmp_path / "native"),
        "FACTORY_WARP_CPU_FLAGS": "-march=native " + CPU_FLAGS,
    }
    code = _SCRIPT.format(tests=str(Path(__file__).parent))
    run = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    pts = uniform_points(4096, seed=11, half=60.0)
    here = "".join(weights(n, pts, 77).tobytes().hex() for n in TEXTURES)
    assert run.stdout == here


def cost_per_point(n: int = 2**20) -> dict[str, float]:
    """ns per point of each pattern over n random points, one launch on one CPU core
    (the best of three), less nothing: the kernel's loads and stores are included."""
    wp.init()
    pts = _points(uniform_points(n))
    out = wp.zeros(n, dtype=float, device="cpu")
    cost = {}
    for name in TEXTURES:
        best = float("inf")
        for _ in range(3):
            t0 = time.perf_counter()
            wp.launch(_weights_kernel, n, inputs=[CODE[name], 0, pts, out], device="cpu")
            wp.synchronize()
            best = min(best, time.perf_counter() - t0)
        cost[name] = round(best / n * 1e9, 1)
    return cost


if __name__ == "__main__":
    print(json.dumps(cost_per_point()))
