"""A sample's deformable things: what the renderer draws of them, their hidden ground
truth as ``.npy`` members and their metadata entries (docs/format.md, "Deformables").

Every vertex of every deformable of a sample is one row of one table, the scene's
cloths then its soft bodies in order, each a contiguous block (its metadata's ``vertices: [first, count]``);
the triangles index that table (``faces: [first, count]``). Members, per sample of a
config that draws deformables (every sample then has them, empty without any, as
Ray's reader makes one table of a dataset's members):

* ``deform_vertices.npy`` (T, V, 3) float32: world positions, metres, at the frames;
* ``deform_velocities.npy`` (T, V, 3) float32: world velocities, m/s;
* ``deform_faces.npy`` (F, 3) int32: the triangles (counter-clockwise from the front
  at rest, though both sides are drawn).

(:mod:`factory.sample.deform_members` writes and reads them.)
"""

from __future__ import annotations

import numpy as np

from factory.physics.dynamics import Motion
from factory.render.deform import DeformingSurface
from factory.render.renderer import ObjectAnnotation
from factory.scene.config import Config
from factory.scene.deformable_specs import CLOTH_CLASS, SOFT_CLASS, deformable_classes
from factory.scene.deformables import Cloth, tet_volumes
from factory.scene.liquid_draw import LIQUID_CLASS
from factory.scene.types import Scene


def has_deformables(config: Config) -> bool:
    """Whether the config's samples carry the deformables' (cloth, soft bodies) members."""
    return bool({CLOTH_CLASS, SOFT_CLASS} & set(deformable_classes(config)))


def has_liquids(config: Config) -> bool:
    """Whether the config's samples carry the liquids' members."""
    return LIQUID_CLASS in deformable_classes(config)


def _items(scene: Scene, motion: Motion | None = None) -> list[tuple]:
    """Per deformable, in the table's order: (the Cloth or SoftBody, and with a
    ``motion`` its (S, V, 3) positions, (S, V, 3) velocities and (S,) contacts)."""
    things = list(scene.cloths) + list(scene.soft_bodies)
    if motion is None:
        return [(d,) for d in things]
    pos = list(motion.cloth_positions) + list(motion.soft_positions)
    vel = list(motion.cloth_velocities) + list(motion.soft_velocities)
    con = list(motion.cloth_contacts) + list(motion.soft_contacts)
    return list(zip(things, pos, vel, con))


def _local_rest(d) -> np.ndarray:
    """(V, 3) float64: a deformable's vertices at rest in its own frame (its pattern's
    coordinates, so a texture rides with it)."""
    if isinstance(d, Cloth):
        return (d.rest_vertices() - np.asarray(d.position)) @ np.asarray(d.rotation, np.float64)
    return d.local_vertices()


def _category(d) -> str:
    return CLOTH_CLASS if isinstance(d, Cloth) else SOFT_CLASS


def surfaces(scene: Scene) -> tuple[DeformingSurface, ...]:
    """The renderer's deforming surfaces of ``scene`` (its cloths, then its soft
    bodies' boundary triangles, then its liquids' surfaces, remeshed every frame),
    whose vertices ``Motion.deformed_at`` gives."""
    fixed = tuple(
        DeformingSurface(d.faces(), d.id, _category(d), d.material, rest=_local_rest(d)) for (d,) in _items(scene)
    )
    return fixed + tuple(DeformingSurface(None, q.id, LIQUID_CLASS, q.material) for q in scene.liquids)


def deform_arrays(scene: Scene, motion: Motion) -> dict[str, np.ndarray]:
    """The members' arrays (module docstring), by member name."""
    T, steps = scene.frames, np.arange(scene.frames) * scene.substeps
    items = _items(scene, motion)
    faces, first = [], 0
    for d, *_ in items:
        faces.append(d.faces() + first)
        first += d.vertex_count

    def table(k: int) -> np.ndarray:
        rows = [item[k][steps] for item in items]
        return np.concatenate(rows, 1).astype(np.float32) if rows else np.zeros((T, 0, 3), np.float32)

    return {
        "deform_vertices.npy": table(1),
        "deform_velocities.npy": table(2),
        "deform_faces.npy": np.concatenate(faces).astype(np.int32) if faces else np.zeros((0, 3), np.int32),
    }


def edge_strain(rest: np.ndarray, positions: np.ndarray, elements: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per frame the largest and the mean stretch |e| / |e_rest| - 1 over the unique
    edges of ``elements`` (E, 3) triangles or (E, 4) tetrahedra: ``rest`` (V, 3),
    ``positions`` (T, V, 3); each (T,)."""
    n = elements.shape[1]
    pairs = [elements[:, [a, b]] for a in range(n) for b in range(a + 1, n)]
    e = np.unique(np.sort(np.concatenate(pairs), axis=1), axis=0)
    rest_len = np.linalg.norm(rest[e[:, 1]] - rest[e[:, 0]], axis=1)
    now = np.linalg.norm(positions[:, e[:, 1]] - positions[:, e[:, 0]], axis=2)
    strain = now / rest_len - 1.0
    return strain.max(1), strain.mean(1)


def _parameters(d, r) -> dict:
    """What a deformable is: its kind, shape and the physical parameters drawn for it."""
    common = {
        "young": r(d.young),
        "poisson": r(d.poisson),
        "damping": r(d.damping),
        "density": r(d.density),
        "friction": r(d.friction),
        "radius": r(d.radius),
    }
    if isinstance(d, Cloth):
        size = {"grid": [d.rows, d.cols], "size": r(d.size), "thickness": r(d.thickness), "bend": d.bend}
        return {"kind": "cloth", **size, "pinned": list(d.pinned), **common}
    return {"kind": "soft_body", "shape": d.shape, "size": r(d.size), "lattice": list(d.counts), **common}


def deformable_entries(scene: Scene, motion: Motion, annotations: list, r, material_entry) -> list[dict]:
    """The metadata's ``deformables``: per deformable what it is, its parameters and its
    per-frame contacts, stretch (a soft body: its volume too) and image annotations
    (``annotations``: per frame the renderer's ObjectAnnotation of every object then
    every deforming surface; ``r`` the metadata's rounding; ``material_entry`` its
    material record)."""
    N, steps, out, first, face = len(scene.objects), np.arange(scene.frames) * scene.substeps, [], 0, 0
    for k, (d, positions, _, contacts) in enumerate(_items(scene, motion)):
        pos = positions[steps]
        solid = not isinstance(d, Cloth)
        faces, tets = d.faces(), d.tetrahedra() if solid else None  # each built once: a soft body's from its lattice
        stretch_max, stretch_mean = edge_strain(d.rest_vertices(), pos, tets if solid else faces)
        entry = {
            "id": d.id,
            **_parameters(d, r),
            "category": _category(d),
            "class_id": scene.classes.index(_category(d)),
            "vertices": [first, d.vertex_count],
            "faces": [face, len(faces)],
            "mass": r(float(d.vertex_masses().sum())),
            "material": material_entry(d.material),
            "contacts": [int(n) for n in contacts[steps]],
            "stretch_max": r(stretch_max),
            "stretch_mean": r(stretch_mean),
        }
        if solid:  # m^3 per frame, the sum of its tetrahedra's volumes
            entry["volume"] = r(np.array([tet_volumes(p, tets).sum() for p in pos]), 9)
        for j, key in enumerate(ObjectAnnotation._fields):
            entry[key] = [annotations[t][N + k][j] for t in range(scene.frames)]
        out.append(entry)
        first, face = first + d.vertex_count, face + len(faces)
    return out


def wind_entry(scene: Scene, r) -> dict | None:
    """The metadata's ``wind`` (None: still air)."""
    w = scene.wind
    if w is None:
        return None
    return {
        "mean": r(w.mean),
        "gust": r(w.gust),
        "period": r(w.period),
        "phase": r(w.phase),
        "air_density": r(w.air_density),
        "drag": r(w.drag),
    }


def liquid_entries(scene: Scene, motion: Motion, annotations: list, ranges: list, r, material_entry) -> list[dict]:
    """The metadata's ``liquids``: per liquid what it is, its parameters, its tables'
    ``ranges`` (:func:`factory.sample.liquid_members.liquid_arrays`), per frame its
    mass, volume and densest particle's density, and its image annotations (after the
    objects' and the deformables' in ``annotations``)."""
    T, out = scene.frames, []
    first = len(scene.objects) + len(scene.cloths) + len(scene.soft_bodies)
    for k, (q, rec, where) in enumerate(zip(scene.liquids, motion.liquids, ranges)):
        entry = {
            "id": q.id,
            "kind": "liquid",
            "category": LIQUID_CLASS,
            "class_id": scene.classes.index(LIQUID_CLASS),
            **where,
            "particle_mass": r(rec.particle_mass, 12),
            "spacing": r(q.spacing),
            "density": r(q.density),
            "viscosity": r(q.viscosity),
            "surface_tension": r(q.surface_tension),
            "substeps": q.substeps,
            "iterations": q.iterations,
            "material": material_entry(q.material),
            "mass": r(rec.mass[:T], 9),
            "volume": r(rec.volume[:T], 9),
            "density_max": r(rec.density_max[:T], 3),
        }
        for j, key in enumerate(ObjectAnnotation._fields):
            entry[key] = [annotations[t][first + k][j] for t in range(T)]
        out.append(entry)
    return out
