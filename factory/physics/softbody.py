"""Volumetric soft bodies in the MuJoCo model (issue 27: the squishy ball, the cushion).

* The model: each :class:`factory.scene.deformables.SoftBody` is a MuJoCo flex of
  dimension 3 built by hand on the ``MjSpec`` (what ``<flexcomp dim="3">`` makes, but
  in the scene record's own vertex order): a body per vertex with three world-axis
  slide joints and its lumped mass (its tetrahedra's volume x density / 4), the
  body's tetrahedra as the flex's elements. Elasticity is MuJoCo's volumetric
  ``elastic3d`` 1, stable neo-Hookean (``young``, ``poisson``; ``damping`` Rayleigh):
  measured against St Venant-Kirchhoff (0) on a 16 cm ball dropped 0.5 m (Young 5e4,
  Poisson 0.45, 6 x 6 x 6 vertices), it loses 0.7% of its volume at impact instead of
  2.2% (0.14% vs 1.6% at Poisson 0.49), at 15% more time, and matches a loaded box's
  linear-elastic compression as well (benchmarks/README.md, "Issue 27: soft bodies").
  The flex's boundary collides with the floor, walls, furniture and rigid objects
  within ``radius``, with the body's friction; self-collision is off.
* Integration: as cloth's (:mod:`factory.physics.cloth`): MuJoCo's discrete integrator
  and CG solver every step (:func:`factory.physics.cloth.use_discrete`), at the rigid
  path's step; the vertex bodies, the record and the contact count are cloth's, shared.
  MuJoCo may log "Flex stiffness is too ill-conditioned for the effective-metric block
  preconditioner" at the first step and at impacts (Young >= 5e4 at 6+ vertices a side):
  its M+K solve then stops short of its tolerance for that step; the measured motion
  (tests/unit/test_softbody.py) holds regardless, and no bad acceleration is raised.
* Wind (:class:`factory.physics.cloth.ClothStepper`) acts on cloth only, as on rigid
  objects: none on soft bodies.
"""

from __future__ import annotations

import numpy as np

from factory.physics.cloth import ClothModel, add_vertex_bodies, use_discrete
from factory.scene.types import Scene

ELASTIC3D = 1  # MuJoCo's flex elastic3d: 0 St Venant-Kirchhoff, 1 stable neo-Hookean (see the module docstring)


def add_soft_bodies(spec, scene: Scene) -> list[tuple]:
    """Add ``scene.soft_bodies`` to ``spec`` (see the module docstring); returns per soft
    body (its SoftBody, its MjsFlex, its vertex MjsBodies, all moving) as
    :func:`factory.physics.cloth.compiled` takes them."""
    import mujoco

    if not scene.soft_bodies:
        return []
    use_discrete(spec)
    made = []
    for s in scene.soft_bodies:
        V = s.vertex_count
        moving = [True] * V
        bodies = add_vertex_bodies(spec, f"soft{s.id}", s.rest_vertices(), s.vertex_masses(), moving)
        flex = spec.add_flex()
        flex.name, flex.dim = f"soft{s.id}", 3
        flex.vertbody = [b.name for b in bodies]
        flex.vert = [0.0] * (3 * V)  # each vertex at its body's origin
        flex.elem = s.tetrahedra().ravel().tolist()
        flex.young, flex.poisson, flex.damping = s.young, s.poisson, s.damping
        flex.elastic3d = ELASTIC3D
        flex.radius = s.radius
        flex.friction = [s.friction, 0.005, 0.0001]
        flex.selfcollide = mujoco.mjtFlexSelf.mjFLEXSELF_NONE
        made.append((s, flex, bodies, moving))
    return made


def initial_velocities(softs: list[ClothModel], qvel: np.ndarray) -> None:
    """Give every vertex of each soft body its ``velocity`` (m/s, world) in ``qvel``."""
    for sm in softs:
        qvel[sm.dofs] = np.asarray(sm.cloth.velocity, np.float64)
