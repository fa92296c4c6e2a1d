"""A CSG mug: a hollowed cylinder united with a ring handle (manifold3d).

body = cylinder(R, h) - cylinder(R - wall, from the floor up, open at the top);
handle = a torus in the x-z plane centred on the body's wall at mid-height, squashed
along z to ``handle_span`` of the height, minus the cylinder of radius R - wall / 2
(so it ends inside the wall and nothing of it pokes into the cup);
mug = body + handle. manifold3d's booleans give a closed, outward-wound mesh; its
vertices and faces are put in a canonical order (manifold3d may work in parallel).
The handle sticks out along +x: the extents are (diameter * (1 + handle_reach),
diameter, height). Faces: ~26 * resolution (1,240 at 48, 1,982 at 64). No uv.

CSG rather than a revolved profile because the handle is not a surface of revolution
about the body's axis and must meet the body's wall without a seam or overlap.
"""

from __future__ import annotations

import numpy as np

from factory.assets.generators.mesh import RawMesh, canonical_order
from factory.assets.generators.spec import Param

SPEC = {
    "diameter": Param(0.07, 0.11, 0.02, 1.0, doc="body diameter, m (y extent)"),
    "height": Param(0.08, 0.13, 0.02, 1.0, doc="height, m (z extent)"),
    "wall": Param(0.06, 0.12, 0.03, 0.2, doc="wall thickness, share of the body's radius"),
    "floor": Param(0.05, 0.10, 0.03, 0.2, doc="floor thickness, share of the height"),
    "handle_reach": Param(0.25, 0.40, 0.2, 0.5, doc="how far the handle sticks out, share of the diameter"),
    "handle_span": Param(0.45, 0.70, 0.3, 0.8, doc="handle's vertical extent, share of the height"),
    "handle_thickness": Param(0.07, 0.11, 0.04, 0.14, doc="handle's tube diameter, share of the diameter"),
    "resolution": Param(48, 48, 16, 64, integer=True, doc="segments around the body and the handle's ring"),
}


def _handle(p: dict, manifold3d):
    d, h, n = p["diameter"], p["height"], p["resolution"]
    tube = p["handle_thickness"] * d / 2
    ring = p["handle_reach"] * d - tube  # the torus's major radius: reach = ring + tube
    section = manifold3d.CrossSection.circle(tube, max(8, n // 3)).translate((ring, 0.0))
    torus = manifold3d.Manifold.revolve(section, n).rotate((90.0, 0.0, 0.0))  # ring about y, in x-z
    squash = p["handle_span"] * h / 2 / (ring + tube)
    torus = torus.scale((1.0, 1.0, squash)).translate((d / 2, 0.0, h / 2))
    inside = manifold3d.Manifold.cylinder(h, d / 2 * (1 - p["wall"] / 2), circular_segments=n)
    return torus - inside


def build(p: dict) -> RawMesh:
    """The mug with params ``p`` (see :data:`SPEC`)."""
    import manifold3d

    d, h, n = p["diameter"], p["height"], p["resolution"]
    R, floor = d / 2, p["floor"] * h
    outer = manifold3d.Manifold.cylinder(h, R, circular_segments=n)
    cavity = manifold3d.Manifold.cylinder(h, R * (1 - p["wall"]), circular_segments=n).translate((0.0, 0.0, floor))
    mug = (outer - cavity) + _handle(p, manifold3d)
    mesh = mug.to_mesh64()
    v, f = canonical_order(np.asarray(mesh.vert_properties, np.float64)[:, :3], np.asarray(mesh.tri_verts))
    return RawMesh(v, f, None, (d * (1 + p["handle_reach"]), d, h))
