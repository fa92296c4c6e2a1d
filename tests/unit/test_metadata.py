"""The metadata's vectorised pieces give the same bits as the one-at-a-time forms they
replace: :func:`factory.sample.metadata.rounded` as Python's ``round``,
:meth:`Motion.states_at` as :meth:`Motion.state_at` at each time, and the collisions'
one-pass rounding as each event's fields rounded alone."""

from __future__ import annotations

import json
from dataclasses import asdict, fields

import numpy as np
import pytest

from factory.physics.dynamics import CollisionEvent, Motion
from factory.sample.metadata import _collisions, _r, rounded
from factory.scene.types import quat_to_matrix


def _values() -> np.ndarray:
    """Floats of every kind that rounding can trip on: random at many scales, both
    signs; exact ties at 3, 6 and 9 decimals (k / 2**m whose decimal ends in 5); the
    doubles next to them; integers, zeros, subnormals, huge, inf and nan."""
    rng = np.random.default_rng(23)
    parts = [rng.normal(size=4000) * 10.0 ** rng.integers(-12, 12, size=4000)]
    ties = np.array([k / 2.0**m for m in range(1, 31) for k in range(1, 64, 2)])  # 0.0078125 etc.
    parts += [ties, np.nextafter(ties, 0), np.nextafter(ties, 1), np.round(rng.uniform(-5, 5, 2000), 6) + 5e-7]
    parts += [np.arange(-50, 50, dtype=np.float64), np.array([0.0, -0.0, 5e-324, -5e-324, 2.2e-308, 1e-7, -1e-7])]
    parts += [np.array([4.5e9, -4.6e9, 1e15, 2.0**52, 2.0**53 + 2, 1e300, -1e308, np.inf, -np.inf, np.nan])]
    v = np.concatenate(parts)
    return np.concatenate([v, -v])


@pytest.mark.parametrize("nd", [0, 3, 6, 9])
def test_rounded_is_pythons_round_bit_for_bit(nd):
    v = _values()
    got = rounded(v, nd)
    want = [round(x, nd) for x in v.tolist()]
    assert [repr(x) for x in got] == [repr(x) for x in want]  # repr tells -0.0 from 0.0, and nan
    assert all(type(x) is float for x in got)


def test_rounded_keeps_the_nesting_of_its_array():
    a = np.arange(24, dtype=np.float64).reshape(2, 3, 4) / 7
    assert rounded(a, 6) == [[[round(x, 6) for x in row] for row in m] for m in a.tolist()]
    assert rounded(np.zeros((0, 3)), 6) == []
    with pytest.raises(ValueError, match="nd must be in"):
        rounded(a, -1)


def _motion(rng, S: int, N: int, dt: float) -> Motion:
    q = rng.normal(size=(S, N, 4))
    q /= np.linalg.norm(q, axis=-1, keepdims=True)
    none = np.zeros(0)
    return Motion(np.arange(S) * dt, rng.normal(size=(S, N, 3)), q, none, none, [], none, none, none, none)


def _state_at_alone(m: Motion, time: float) -> tuple[np.ndarray, np.ndarray]:
    """The pose at one time as state_at computed it before states_at (the reference)."""
    t = float(np.clip(time, m.times[0], m.times[-1]))
    k = max(min(int(np.searchsorted(m.times, t, side="right")) - 1, len(m.times) - 2), 0)
    w = (t - m.times[k]) / (m.times[k + 1] - m.times[k])
    pos = m.positions[k] * (1 - w) + m.positions[k + 1] * w
    q0, q1 = m.quats[k], m.quats[k + 1]
    q1 = np.where((np.sum(q0 * q1, axis=-1) < 0)[:, None], -q1, q1)
    q = q0 * (1 - w) + q1 * w
    q = q / np.linalg.norm(q, axis=-1, keepdims=True).clip(1e-12)
    return pos, quat_to_matrix(q) if len(q) else np.zeros((0, 3, 3))


@pytest.mark.parametrize("N", [0, 1, 3, 10, 40])
def test_states_at_is_state_at_at_each_time(N):
    rng = np.random.default_rng(N)
    fps, substeps, T = 24, 4, 12
    motion = _motion(rng, T * substeps + 1, N, 1 / (fps * substeps))
    times = np.concatenate([np.arange(T) / fps, rng.uniform(-0.1, T / fps + 0.1, 30)])  # frames, between, outside
    positions, rotations = motion.states_at(times)
    assert positions.shape == (len(times), N, 3) and rotations.shape == (len(times), N, 3, 3)
    for i, t in enumerate(times.tolist()):
        for p, r in (motion.state_at(t), _state_at_alone(motion, t)):
            assert p.tobytes() == positions[i].tobytes() and r.tobytes() == rotations[i].tobytes(), t


def test_collisions_are_each_events_fields_rounded_one_by_one():
    """All events' floats rounded in one pass: the same keys, order, types and values as
    rounding each event's fields alone (so a field added to CollisionEvent shows here)."""
    rng = np.random.default_rng(5)
    events = [
        CollisionEvent(
            frame=int(rng.integers(0, 24)),
            time=float(rng.uniform(0, 1)),
            kind=str(rng.choice(["floor", "wall", "furniture", "object"])),
            a=int(rng.integers(1, 9)),
            b=int(rng.integers(0, 9)),
            speed=float(rng.uniform(0.05, 3)),
            position=rng.normal(size=3).tolist(),
            normal=[0.0078125, -0.0, float(rng.normal())],  # a tie at 6 decimals, a signed zero
            force=float(rng.exponential(50)),
            impulse=float(rng.exponential(0.1)),
            duration=0.002 * int(rng.integers(1, 25)),
        )
        for _ in range(50)
    ]
    got, want = _collisions(events), [_r(asdict(e)) for e in events]
    assert json.dumps(got) == json.dumps(want)
    assert [list(g) for g in got] == [list(w) for w in want] == [[f.name for f in fields(CollisionEvent)]] * 50
    assert _collisions([]) == []
