"""Procedural mesh generators (issue 24): deterministic meshes from plain params.

One module per family (:mod:`.superquadric`, :mod:`.revolution`, :mod:`.extrusion`,
:mod:`.letters`, :mod:`.hull`, :mod:`.rock`, :mod:`.mug`, :mod:`.furniture`), the shared
record and geometry in :mod:`.mesh`, collision pieces' building blocks in :mod:`.pieces`,
params specs in :mod:`.spec`, the table in :mod:`.registry` and the per-process
byte-bounded cache in :mod:`.cache`. Every mesh carries its collision pieces
(``mesh.parts``) and furniture the rectangles objects can rest on (``mesh.tops``). Use::

    params = draw("cup", {"height": 0.1}, rng)   # from the sample's stream
    mesh = cached_build("cup", params)           # from the params alone
"""

from factory.assets.generators.cache import CacheStats, MeshCache, cache_stats, cached_build, process_cache
from factory.assets.generators.mesh import MAX_FACES, MAX_PARTS, GeneratedMesh
from factory.assets.generators.registry import GENERATOR_NAMES, GENERATORS, build, draw
from factory.assets.generators.spec import Param

__all__ = [
    "GENERATORS",
    "GENERATOR_NAMES",
    "MAX_FACES",
    "MAX_PARTS",
    "CacheStats",
    "GeneratedMesh",
    "MeshCache",
    "Param",
    "build",
    "cache_stats",
    "cached_build",
    "draw",
    "process_cache",
]
