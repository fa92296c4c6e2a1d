"""The independent oracle: ground truth re-derived from the documented format alone.

It reads only what a third party has (the decoded members, the metadata and the
``geometry.glb`` member; docs/format.md), imports nothing of factory's scene, assets or
renderer, and casts its own float64 rays: closed-form intersections for the analytic
kinds (:mod:`.analytic`), trimesh's ray caster for meshes, the floor and the room's
walls (:mod:`.cast`). :func:`check_sample` checks a seeded random share of each frame's
pixels, layer by layer (:data:`LAYERS`, one function each, :mod:`.layers`; the
optional layers' in :mod:`.optional`), the boxes' corners per object (:mod:`.run`) and
a seeded share of the point tracks (:mod:`.tracks`). The rules and tolerances are in docs/trust.md
("The oracle"); ``factory validate --oracle`` runs it on every sample.

Modules: :mod:`.scene` (the scene from metadata and meshes), :mod:`.analytic`,
:mod:`.cast`, :mod:`.layers`, :mod:`.optional`, :mod:`.tracks`, :mod:`.run`.
"""

from factory.trust.oracle.cast import camera_rays, cast
from factory.trust.oracle.layers import LAYERS, TOLERANCES, Pixels, Stored, Verdict
from factory.trust.oracle.run import (
    DEFAULT_FRACTION,
    LayerStats,
    OracleFailure,
    OracleReport,
    check_sample,
    edges_exceed,
    new_stats,
    sample_pixels,
)
from factory.trust.oracle.scene import GEOMETRY_MEMBER, OracleScene, oracle_scene, read_geometry

__all__ = [
    "DEFAULT_FRACTION",
    "GEOMETRY_MEMBER",
    "LAYERS",
    "TOLERANCES",
    "LayerStats",
    "OracleFailure",
    "OracleReport",
    "OracleScene",
    "Pixels",
    "Stored",
    "Verdict",
    "camera_rays",
    "cast",
    "check_sample",
    "edges_exceed",
    "new_stats",
    "oracle_scene",
    "read_geometry",
    "sample_pixels",
]
