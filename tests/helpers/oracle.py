"""The independent oracle (:mod:`factory.trust.oracle`) over a grid of a sample's pixels:
what the mesh tests compare the renderer with (the oracle replaced the trimesh ray
caster these tests had of their own)."""

from __future__ import annotations

import numpy as np

from factory.trust.oracle import Pixels, Stored, oracle_scene


def grid_pixels(H: int, W: int, step: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """Every ``step``-th pixel as (rows, cols)."""
    ii, jj = np.meshgrid(np.arange(0, H, step), np.arange(0, W, step), indexing="ij")
    return ii.ravel(), jj.ravel()


def oracle_pixels(sample, t: int, meshes=None) -> Pixels:
    """The oracle's view of a grid of pixels of frame t of ``sample`` (a
    :class:`factory.sample.types.Sample`; its meshes from its geometry.glb, or
    ``meshes`` by id)."""
    f = sample.frames
    stored = Stored(f.depth, f.instance, f.normals, f.flow, f.flow_valid, sample.meta)
    return Pixels(oracle_scene(sample.meta, sample.geometry, meshes), stored, t, *grid_pixels(*f.depth.shape[1:]))


def stored_of(sample, members: dict) -> Stored:
    """The oracle's :class:`Stored` of a generated ``sample`` (its frames, metadata,
    optional layers, tracks, deformables and liquids) and its encoded ``members``."""
    from factory.trust.validate.oracle import oracle_stored

    f = sample.frames
    return oracle_stored(Stored(f.depth, f.instance, f.normals, f.flow, f.flow_valid, sample.meta), f, members)
