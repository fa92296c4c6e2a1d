"""A CSG mug: a hollowed cylinder united with a ring handle (manifold3d).

body = cylinder(R, h) - cylinder(R - wall, from the floor up, open at the top);
handle = a torus in the x-z plane centred on the body's wall at mid-height, squashed
along z to ``handle_span`` of the height, minus the cylinder of radius R - wall / 2
(so it ends inside the wall and nothing of it pokes into the cup);
mug = body + handle. manifold3d's booleans give a closed, outward-wound mesh; its
vertices and faces are put in a canonical order (manifold3d may work in parallel).
The handle sticks out along +x: the extents are (diameter * (1 + handle_reach),
diameter, height). Faces: ~26 * resolution (1,240 at 48, 1,982 at 64). No uv.

Collision pieces (19): the floor (an n-gon prism), the wall in SECTORS sectors of the
body's columns (each inner face a chord ~3% of the radius into the cavity) and the
handle in HANDLE_SEGMENTS hulls of consecutive cross-sections of its tube along the
half ring outside the body, their points pulled out to the cut cylinder where they
would reach into the cavity.

CSG rather than a revolved profile because the handle is not a surface of revolution
about the body's axis and must meet the body's wall without a seam or overlap.
"""

from __future__ import annotations

import numpy as np

from factory.assets.generators.mesh import RawMesh, canonical_order
from factory.assets.generators.pieces import column_angles, prism, sectors
from factory.assets.generators.spec import Param

SECTORS = 12  # wall pieces
HANDLE_SEGMENTS = 6  # handle pieces along its half ring

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


def _handle_parts(p: dict) -> list[np.ndarray]:
    """The handle's pieces: tube cross-sections (as many points as the mesh's) at
    HANDLE_SEGMENTS + 1 angles of its ring from -90 to 90 degrees, consecutive pairs."""
    d, h, n = p["diameter"], p["height"], p["resolution"]
    tube = p["handle_thickness"] * d / 2
    ring = p["handle_reach"] * d - tube
    squash = p["handle_span"] * h / 2 / (ring + tube)
    beta = 2 * np.pi * np.arange(max(8, n // 3)) / max(8, n // 3)
    cut = d / 2 * (1 - p["wall"] / 2)  # the cylinder the handle was cut by
    sections = []
    for phi in np.linspace(-np.pi / 2, np.pi / 2, HANDLE_SEGMENTS + 1):
        arm = ring + tube * np.cos(beta)
        x, y, z = d / 2 + arm * np.cos(phi), tube * np.sin(beta), h / 2 + squash * arm * np.sin(phi)
        x = np.maximum(x, np.sqrt(np.maximum(cut**2 - y**2, 0.0)))  # not into the cavity
        sections.append(np.stack([x, y, z], -1))
    return [np.concatenate(pair) for pair in zip(sections[:-1], sections[1:], strict=True)]


def parts(p: dict) -> list[np.ndarray]:
    """The mug's collision pieces (see the module docstring), raw frame (z from 0)."""
    d, h, n = p["diameter"], p["height"], p["resolution"]
    R, floor = d / 2, p["floor"] * h
    a = column_angles(n)
    out = [prism(R * np.stack([np.cos(a), np.sin(a)], -1), 0.0, floor)]
    for ang in sectors(n, min(SECTORS, n)):
        ring = np.stack([np.cos(ang), np.sin(ang)], -1)
        out.append(np.concatenate([prism(R * ring, floor, h), prism(R * (1 - p["wall"]) * ring, floor, h)]))
    return out + _handle_parts(p)


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
    return RawMesh(v, f, None, (d * (1 + p["handle_reach"]), d, h), tuple(parts(p)))
