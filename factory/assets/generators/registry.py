"""The generator registry: one table of name -> (params spec, build function).

``draw(name, overrides, rng)`` draws a params dict from the sample's stream;
``build(name, params)`` makes the mesh from the params alone, so the params recorded
in a sample's metadata rebuild the same bytes in any process
(:func:`factory.assets.generators.cache.cached_build` is the same, through the
per-process cache).

============ ===== ==========================================================
name         closed what
============ ===== ==========================================================
superquadric yes   (|x|^p + |y|^p)^(q/p) + |z|^q = 1 (ellipsoid at 2, 2)
bottle       yes   solid revolution: body, shoulder, neck
vase         yes   solid revolution of a swelling profile
cup          yes   hollow revolution: tapered thick wall, rounded rim, floor
bowl         yes   hollow revolution: curved thick wall, rounded rim, floor
star         yes   bevelled extruded star
gear         yes   bevelled extruded gear
letter       yes   extruded capital A-Z from a 5 x 7 pixel font, rounded
hull         yes   convex hull of random points in an ellipsoid
rock         yes   icosphere displaced by smooth noise
mug          yes   CSG: hollow cylinder + ring handle
table        yes   top on four legs, optional aprons (``tops``: the top)
chair        yes   seat, four legs, back posts and panel (``tops``: the seat)
shelf        yes   two sides, boards, optional back (``tops``: every board)
cabinet      yes   body, top, plinth, door seams and handles (``tops``: the top)
============ ===== ==========================================================

Every one is closed (``GeneratedMesh.watertight``, once coincident vertices are
merged: see :mod:`factory.assets.generators.mesh`), wound outwards, and at most
:data:`~factory.assets.generators.mesh.MAX_FACES` faces within its limits. Every one
has collision pieces (``GeneratedMesh.parts``, at most
:data:`~factory.assets.generators.mesh.MAX_PARTS`): one, its own vertices, for the
convex or nearly convex (superquadric, hull, rock); pieces built from its structure
for the others (each family's module says how, and how far they may stray).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import NamedTuple

import numpy as np

from factory.assets.generators import extrusion, furniture, hull, letters, mug, revolution, rock, superquadric
from factory.assets.generators.mesh import GeneratedMesh, RawMesh, finish
from factory.assets.generators.spec import Param, check_params, draw_params
from factory.errors import ParamError


class Generator(NamedTuple):
    """A registry entry: ``spec`` the params in draw order, ``build`` params -> the raw
    mesh, ``watertight`` whether its meshes are closed."""

    spec: dict[str, Param]
    build: Callable[[dict], RawMesh]
    watertight: bool = True


GENERATORS: dict[str, Generator] = {
    "superquadric": Generator(superquadric.SPEC, superquadric.build),
    **{k: Generator(s, functools.partial(revolution.build, k)) for k, s in revolution.SPECS.items()},
    **{k: Generator(s, functools.partial(extrusion.build, k)) for k, s in extrusion.SPECS.items()},
    "letter": Generator(letters.SPEC, letters.build),
    "hull": Generator(hull.SPEC, hull.build),
    "rock": Generator(rock.SPEC, rock.build),
    "mug": Generator(mug.SPEC, mug.build),
    **{k: Generator(s, functools.partial(furniture.build, k)) for k, s in furniture.SPECS.items()},
}
GENERATOR_NAMES = tuple(GENERATORS)


def generator(name: str) -> Generator:
    """The entry of ``name``.

    Raises:
        ParamError: an unknown name; the message lists the names there are.
    """
    try:
        return GENERATORS[name]
    except (KeyError, TypeError):
        raise ParamError(f"unknown generator {name!r}; the generators are {', '.join(GENERATOR_NAMES)}") from None


def draw(name: str, overrides: dict | None, rng: np.random.Generator) -> dict:
    """Params of generator ``name`` drawn from ``rng`` (its spec's ranges, or
    ``overrides``: param -> constant or (low, high)); plain ints and floats.

    Raises:
        ParamError: an unknown generator or param, or an override outside the limits.
    """
    return draw_params(name, generator(name).spec, overrides, rng)


def build(name: str, params: dict) -> GeneratedMesh:
    """The mesh of generator ``name`` with ``params`` (as :func:`draw` gives them, or
    read back from JSON): the same params give byte-identical arrays in any process.

    Raises:
        ParamError: an unknown generator, a missing or unknown param, or a value of the
            wrong type or outside its limits (the message names the param, the value
            and the allowed range).
    """
    g = generator(name)
    p = check_params(name, g.spec, params)
    return finish(g.build(p), name, p, g.watertight)
