"""A sample's deformable things: what the renderer draws of them, their hidden ground
truth as ``.npy`` members and their metadata entries (docs/format.md, "Deformables").

Every vertex of every deformable of a sample is one row of one table, the scene's
cloths in order, each a contiguous block (its metadata's ``vertices: [first, count]``);
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
from factory.scene.deformable_specs import CLOTH_CLASS, deformable_classes
from factory.scene.types import Scene


def has_deformables(config: Config) -> bool:
    """Whether the config's samples carry the deformables' members."""
    return bool(deformable_classes(config))


def surfaces(scene: Scene) -> tuple[DeformingSurface, ...]:
    """The renderer's deforming surfaces of ``scene`` (its cloths, in order), whose
    vertices ``Motion.deformed_at`` gives."""
    return tuple(DeformingSurface(c.faces(), c.id, CLOTH_CLASS, c.material, rest=_local_rest(c)) for c in scene.cloths)


def _local_rest(cloth) -> np.ndarray:
    """(V, 3) float64: a sheet's vertices at rest in its own frame (its pattern's
    coordinates, so a texture rides with the cloth)."""
    return (cloth.rest_vertices() - np.asarray(cloth.position)) @ np.asarray(cloth.rotation, np.float64)


def deform_arrays(scene: Scene, motion: Motion) -> dict[str, np.ndarray]:
    """The members' arrays (module docstring), by member name."""
    T, steps = scene.frames, np.arange(scene.frames) * scene.substeps
    pos = [p[steps] for p in motion.cloth_positions]
    vel = [v[steps] for v in motion.cloth_velocities]
    faces, first = [], 0
    for c in scene.cloths:
        faces.append(c.faces() + first)
        first += c.vertex_count
    return {
        "deform_vertices.npy": np.concatenate(pos, 1).astype(np.float32) if pos else np.zeros((T, 0, 3), np.float32),
        "deform_velocities.npy": np.concatenate(vel, 1).astype(np.float32) if vel else np.zeros((T, 0, 3), np.float32),
        "deform_faces.npy": np.concatenate(faces).astype(np.int32) if faces else np.zeros((0, 3), np.int32),
    }


def edge_strain(rest: np.ndarray, positions: np.ndarray, faces: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per frame the largest and the mean stretch |e| / |e_rest| - 1 over a mesh's
    unique edges: ``rest`` (V, 3), ``positions`` (T, V, 3), ``faces`` (F, 3); each (T,)."""
    e = np.sort(np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]]), axis=1)
    e = np.unique(e, axis=0)
    rest_len = np.linalg.norm(rest[e[:, 1]] - rest[e[:, 0]], axis=1)
    now = np.linalg.norm(positions[:, e[:, 1]] - positions[:, e[:, 0]], axis=2)
    strain = now / rest_len - 1.0
    return strain.max(1), strain.mean(1)


def deformable_entries(scene: Scene, motion: Motion, annotations: list, r, material_entry) -> list[dict]:
    """The metadata's ``deformables``: per cloth what it is, its parameters and its
    per-frame contacts, stretch and image annotations (``annotations``: per frame the
    renderer's ObjectAnnotation of every object then every deforming surface; ``r``
    the metadata's rounding; ``material_entry`` its material record)."""
    N, steps, out, first, face = len(scene.objects), np.arange(scene.frames) * scene.substeps, [], 0, 0
    for k, c in enumerate(scene.cloths):
        pos = motion.cloth_positions[k][steps]
        stretch_max, stretch_mean = edge_strain(c.rest_vertices(), pos, c.faces())
        entry = {
            "id": c.id,
            "kind": "cloth",
            "category": CLOTH_CLASS,
            "class_id": scene.classes.index(CLOTH_CLASS),
            "vertices": [first, c.vertex_count],
            "faces": [face, len(c.faces())],
            "grid": [c.rows, c.cols],
            "size": r(c.size),
            "pinned": list(c.pinned),
            "mass": r(float(c.vertex_masses().sum())),
            "young": r(c.young),
            "poisson": r(c.poisson),
            "thickness": r(c.thickness),
            "bend": c.bend,
            "damping": r(c.damping),
            "density": r(c.density),
            "friction": r(c.friction),
            "radius": r(c.radius),
            "material": material_entry(c.material),
            "contacts": [int(n) for n in motion.cloth_contacts[k][steps]],
            "stretch_max": r(stretch_max),
            "stretch_mean": r(stretch_mean),
        }
        for j, key in enumerate(ObjectAnnotation._fields):
            entry[key] = [annotations[t][N + k][j] for t in range(scene.frames)]
        out.append(entry)
        first, face = first + c.vertex_count, face + len(c.faces())
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
