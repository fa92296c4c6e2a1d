"""MuJoCo's motion against what physics says independently: ballistic flight, resting
contact, restitution, tumbling, momentum and the weight a floor carries."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from factory.physics.dynamics import simulate
from factory.physics.model import build, restitution_range
from factory.sample.scenes import sample_scene
from factory.scene.config import parse_config
from factory.scene.shapes import box_corners
from factory.scene.types import quat_to_matrix

G = 9.81


def _scene(objects: dict, frames: int = 24, fps: float = 24, substeps: int = 8, floor: dict | None = None):
    config = parse_config(
        {
            "seed": 4,
            "render": {"width": 32, "height": 32, "frames": frames, "fps": fps, "substeps": substeps},
            "scenarios": {"s": {"objects": objects, "floor": floor or {}, "camera": {"distance": 8.0}}},
        }
    )
    return sample_scene(config, "s", 0)


def test_free_flight_is_ballistic_to_a_micrometre():
    scene = _scene(
        {
            "count": 1,
            "shape": "box",
            "size": 0.2,
            "spawn_radius": 0.0,
            "drop_height": 3.0,
            "speed": 1.5,
            "vertical_speed": 2.0,
            "angular_speed": 3.0,
        }
    )
    m = simulate(scene)
    o = scene.objects[0]
    p0, v0 = np.array(o.position), np.array(o.velocity)
    lowest = m.positions[:, 0, 2] - o.bounding_radius
    flight = m.times[lowest > 0.01]  # every state before anything can touch the floor
    assert len(flight) > 50
    expect = p0 + v0 * flight[:, None] + np.outer(flight**2, [0.0, 0.0, -G / 2])
    assert np.abs(m.positions[: len(flight), 0] - expect).max() < 1e-6


def test_a_resting_box_touches_the_floor_within_a_millimetre():
    scene = _scene(
        {
            "count": 1,
            "shape": "box",
            "size": 0.25,
            "aspect": 0.6,
            "spawn_radius": 0.0,
            "drop_height": 0.3,
            "speed": 0.0,
            "tumble": 1.0,
        },
        frames=48,
    )
    m = simulate(scene)
    o = scene.objects[0]
    R = quat_to_matrix(m.quats[-1, 0])
    corners = box_corners(o.dims) @ R.T + m.positions[-1, 0]
    assert abs(corners[:, 2].min()) < 1e-3
    assert np.linalg.norm(m.velocities[-1, 0]) < 1e-2


def _bounce(m) -> tuple[float, float]:
    """Impact and rebound speeds (m/s) of a 10 cm ball's first bounce, from the flight
    either side of it fitted as parabolas (not from the simulator's velocities)."""
    z, t = m.positions[:, 0, 2] - 0.1, m.times  # the ball's lowest point
    air = z > 0.01  # clear of the floor (the contact is soft: it yields a few millimetres)
    land = int(np.argmin(air))  # first state near the floor
    up = land + int(np.argmax(air[land:]))  # first state clear of it again
    down_fit = np.polyfit(t[:land][air[:land]], z[:land][air[:land]], 2)
    flight = slice(up, up + int(np.argmin(air[up:])))  # until it comes down again
    assert flight.stop - flight.start >= 5
    up_fit = np.polyfit(t[flight], z[flight], 2)
    # Flights under gravity (to 1%: the rebound starts on Euler's steps, see dynamics).
    assert up_fit[0] == pytest.approx(-G / 2, rel=1e-2) and down_fit[0] == pytest.approx(-G / 2, rel=1e-6)

    def speed_at_floor(fit, which):  # |dz/dt| where the parabola crosses z = 0
        roots = np.sort(np.roots(fit).real)
        return abs(np.polyval(np.polyder(fit), roots[which]))

    return speed_at_floor(down_fit, 1), speed_at_floor(up_fit, 0)


def _ball(e: float, fps: float, substeps: int):
    return _scene(
        {
            "count": 1,
            "shape": "sphere",
            "size": 0.1,
            "spawn_radius": 0.0,
            "drop_height": 0.8,
            "speed": 0.0,
            "restitution": e,
        },
        floor={"restitution": e},
        fps=fps,
        substeps=substeps,
        frames=int(1.2 * fps),
    )


@pytest.mark.parametrize("e,fps,substeps", [(0.2, 60, 8), (0.3, 60, 4), (0.5, 24, 24), (0.65, 30, 20)])
def test_a_dropped_ball_rebounds_with_its_restitution(e, fps, substeps):
    # Other sizes, heights and steps than the calibration's (5 cm, 0.3-0.9 m, 1-2 ms).
    scene = _ball(e, fps, substeps)
    built = build(scene)
    low, high = restitution_range(built.model.opt.timestep)
    assert low < e < high
    v_in, v_out = _bounce(simulate(scene, built=built))
    assert v_out / v_in == pytest.approx(e, abs=0.05)  # the calibration's stated tolerance


def test_a_bounce_records_the_impulse_that_turned_the_ball_round():
    m = simulate(_ball(0.5, 60, 8))
    v_in, v_out = _bounce(m)
    (event,) = [ev for ev in m.events if ev.kind == "floor" and ev.time < 0.5]
    mass = float(m.masses[0])
    assert event.speed == pytest.approx(v_in, rel=0.02)
    assert event.normal == pytest.approx([0.0, 0.0, 1.0], abs=1e-9)
    # The floor's push less the weight over the contact turns the momentum round.
    assert event.impulse - mass * G * event.duration == pytest.approx(mass * (v_in + v_out), rel=0.02)
    assert 0.0 < event.duration < 0.05


def test_a_box_spun_about_a_horizontal_axis_tumbles():
    scene = _scene(
        {"count": 1, "shape": "box", "size": 0.2, "spawn_radius": 0.0, "drop_height": 2.0, "speed": 0.0, "spin": 0.0},
        frames=12,
    )
    o = scene.objects[0]
    scene = replace(scene, objects=(replace(o, angular_velocity=(6.0, 0.0, 0.0)),))
    m = simulate(scene)
    up = quat_to_matrix(m.quats[:, 0])[:, :, 2]  # the box's z axis in the world
    assert np.degrees(np.arccos(np.clip(up[0] @ up[-1], -1, 1))) > 30
    assert np.allclose(m.angular[1, 0], [6.0, 0.0, 0.0], atol=1e-6)  # world frame, as given


def test_a_frictionless_collision_in_flight_keeps_the_momentum():
    scene = _scene(
        {
            "count": 2,
            "shape": "sphere",
            "size": 0.15,
            "spawn_radius": 0.0,
            "drop_height": 5.0,
            "friction": 0.0,
            "restitution": 0.5,
        },
        frames=12,
    )
    a, b = scene.objects
    z = 6.0
    a = replace(a, position=(-0.6, 0.02, z), velocity=(3.0, 0.0, 0.0), spin=0.0)
    b = replace(b, position=(0.6, -0.02, z), velocity=(-2.0, 0.5, 0.0), spin=0.0)
    m = simulate(replace(scene, objects=(a, b)))
    mass = m.masses
    p = np.einsum("k,skj->sj", mass, m.velocities)[:, :2]  # horizontal: gravity cannot change it
    assert any(e.kind == "object" for e in m.events)  # they did collide
    assert np.abs(p - p[0]).max() <= 1e-3 * np.abs(p[0]).max()


def test_the_floor_carries_a_resting_objects_weight():
    import mujoco

    scene = _scene(
        {"count": 1, "shape": "cylinder", "size": 0.2, "spawn_radius": 0.0, "drop_height": 0.0, "speed": 0.0}, frames=24
    )
    built = build(scene)
    built.model.opt.integrator = mujoco.mjtIntegrator.mjINT_EULER  # what simulate uses in contact
    data = mujoco.MjData(built.model)
    for _ in range(int(1.5 / built.model.opt.timestep)):
        mujoco.mj_step(built.model, data)
    # The resting contact chatters at the step's scale (its points come and go), so the
    # floor's force is averaged over a quarter second of steps.
    force, total, steps = np.zeros(6), 0.0, int(0.25 / built.model.opt.timestep)
    for _ in range(steps):
        mujoco.mj_step(built.model, data)
        for c in range(data.ncon):
            mujoco.mj_contactForce(built.model, data, c, force)
            total += force[0] / steps
    weight = built.model.body_mass[built.body_of[0]] * G
    assert built.model.body_mass[built.body_of[0]] == pytest.approx(scene.objects[0].mass, rel=1e-6)
    assert total == pytest.approx(weight, rel=0.02)


def _energy(m) -> np.ndarray:
    """Total mechanical energy (J) of the moving objects at each state, (S,): kinetic
    (the centre of mass's, plus rotation about it in the principal frame) and potential
    (the centre of mass's height), from the recorded states and the mass properties."""
    dyn = np.isfinite(m.masses)
    R = quat_to_matrix(m.quats[:, dyn].reshape(-1, 4)).reshape(len(m.times), -1, 3, 3)
    offset = np.einsum("snij,nj->sni", R, m.centre_of_mass[dyn])  # centre of mass from the object centre
    v = m.velocities[:, dyn] + np.cross(m.angular[:, dyn], offset)
    w = np.einsum("snij,njk,sni->snk", R, m.inertia_frame[dyn], m.angular[:, dyn])  # principal frame
    z = m.positions[:, dyn, 2] + offset[..., 2]
    mass = m.masses[dyn][None]
    return (0.5 * mass * (v**2).sum(-1) + 0.5 * (m.inertia[dyn][None] * w**2).sum(-1) + mass * G * z).sum(-1)


@pytest.mark.parametrize(
    "path,scenario",
    [
        ("edge_cases", "falling_stack"),
        ("edge_cases", "pile_up"),
        ("edge_cases", "nested"),
        ("rooms", "shelf_spill"),
        ("shapes", "pile"),
        ("household", "spill"),
    ],
)
def test_no_shipped_stack_or_pile_gains_energy(path, scenario):
    # Contacts and friction only take energy out: a gain is a solver or collision fault
    # (an object shot out of a stack), whatever MuJoCo's own bookkeeping says.
    from factory.sample.generate import scenario_of
    from factory.scene.config import load_config
    from tests.helpers import TESTS

    config = load_config(TESTS.parent / "configs" / f"{path}.yaml")
    n = 400
    for i in [i for i in range(n) if scenario_of(config, i, n) == scenario][:6]:
        m = simulate(sample_scene(config, scenario, i))
        E = _energy(m)
        assert E.max() - E[0] <= 0.01 * E[0], (scenario, i)
        assert len(m.events) > 0


def test_model_ids_are_the_specs_own_and_owners_are_recorded_not_parsed():
    """Body and geom ids come from the MjSpec elements (not compile order), each geom's
    owner is recorded as it is made (not read back from its name): MuJoCo's own geom ->
    body table agrees, for an ell's two boxes, a torus's convex pieces and furniture."""
    import mujoco

    config = parse_config(
        {
            "seed": 5,
            "render": {"width": 32, "height": 32, "frames": 2},
            "scenarios": {
                "s": {
                    "room": {"width": 5.0, "depth": 4.0, "height": 2.5},
                    "furniture": {"count": 3},
                    "camera": {"distance": 3.0},
                    "objects": {
                        "count": 6,
                        "size": 0.15,
                        "shape": {"dist": "choice", "values": ["ell", "torus", "box"]},
                    },
                }
            },
        }
    )
    scene = next(
        s
        for s in (sample_scene(config, "s", i) for i in range(20))
        if {"ell", "torus"} <= {o.shape for o in s.objects} and any(o.static for o in s.objects)
    )
    built = build(scene)
    m = built.model
    for k, o in enumerate(scene.objects):
        geoms = np.flatnonzero(built.geom_owner == o.id)
        assert len(geoms) >= (2 if o.shape in ("ell", "torus") else 1), o.shape
        assert (built.body_of[k] == -1) == o.static
        body = 0 if o.static else built.body_of[k]  # static objects are geoms of the world body
        assert set(m.geom_bodyid[geoms].tolist()) == {body}
        if not o.static:
            assert m.body(body).name == f"object{o.id}"
    background = np.flatnonzero(built.geom_owner == 0)
    assert len(background) == 5 and set(m.geom_bodyid[background].tolist()) == {0}  # the floor and four walls
    assert m.geom_type[built.floor_geom] == mujoco.mjtGeom.mjGEOM_PLANE


def test_a_rod_drops_through_the_hole_of_a_torus():
    # A torus collides as its convex pieces, not its hull (which would be a solid disc).
    scene = _scene({"count": 2, "shape": "torus", "size": 0.4, "spawn_radius": 0.0, "speed": 0.0}, frames=24)
    torus, rod = scene.objects
    torus = replace(torus, position=(0.0, 0.0, torus.support_depth()), base_rotation=np.eye(3), yaw=0.0, spin=0.0)
    rod = replace(
        rod,
        shape="capsule",
        category="capsule",
        dims=(0.03, 0.03, 0.3),
        position=(0.0, 0.0, 0.9),
        base_rotation=np.eye(3),
        yaw=0.0,
        spin=0.0,
        mass=1.0,
        velocity=(0.0, 0.0, 0.0),
    )
    m = simulate(replace(scene, objects=(torus, rod)))
    top_of_torus = 2 * torus.support_depth()
    lowest = m.positions[:, 1, 2] - 0.3 * quat_to_matrix(m.quats[:, 1])[:, 2, 2]  # the rod's lower tip
    assert lowest.min() < 0.02 < top_of_torus - 0.1  # it reached the floor inside the ring
    assert any(e.kind == "floor" and e.a == rod.id for e in m.events)


def test_a_simulation_that_blows_up_is_drawn_again():
    """MuJoCo resets its state when an acceleration goes bad (and would go on with a
    made-up motion): simulate raises, and the sampler draws the scene again, counting
    the draw in retries; a scenario that always blows up fails, naming itself."""
    from factory.physics.dynamics import UnstableSimulation
    from factory.sample.scenes import MAX_RETRIES, scene_and_motion

    def config(speed) -> object:
        objects = {"count": 1, "shape": "sphere", "speed": speed, "drop_height": 0.0}
        return parse_config(
            {"render": {"width": 32, "height": 32, "frames": 4}, "scenarios": {"a": {"objects": objects}}}
        )

    always = config(1e9)  # metres per second: MuJoCo's acceleration check trips
    with pytest.raises(UnstableSimulation):
        simulate(sample_scene(always, "a", 0))
    with pytest.raises(ValueError, match=f"scenario 'a': no stable scene in {MAX_RETRIES + 1} draws"):
        scene_and_motion(always, "a", 0)
    sometimes = config({"dist": "choice", "values": [1e9, 0.5]})
    redrawn = []
    for index in range(12):
        scene, motion = scene_and_motion(sometimes, "a", index)
        assert np.isfinite(motion.positions).all() and np.abs(motion.velocities).max() < 10.0
        redrawn += [scene.retries] if scene.retries else []
    assert redrawn  # some first draws threw at 1e9 m/s and were drawn again
