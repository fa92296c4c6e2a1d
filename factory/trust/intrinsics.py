"""The invariants of a clip's intrinsic members, ``albedo.png`` and ``material.png``
(issue 25), as :func:`factory.trust.invariants.check_clip` checks them.

What holds, and why (``factory/render/kernels.py``'s ``primary``; docs/format.md):

* **material.png** is the material family id of the surface hit, 0 exactly where
  nothing is (sky, depth 0): every surface row carries a family (objects, floor and
  walls draw one; :mod:`factory.scene.materials` ids start at 1). Every id indexes
  ``meta["material_families"]``. On an object's pixels (instance id k) it is
  ``objects[k].material.family_id``, also for a pack mesh with its own face materials
  (its family names the model's parameters); on the floor's pixels (semantic floor,
  no instance) ``floor.material.family_id``; on the walls' ``walls.material.family_id``.
* **albedo.png** is the sRGB byte of the linear base colour before lighting, 0 on sky.
  Where a surface's ``texture`` is ``plain`` and no mesh material overrides it (an
  object without a pack asset, the floor, the walls), the base colour is its
  ``material.color``; the renderer encodes it through a 4096-entry table, within 1
  level of the standard sRGB formula's rounded byte (the table's step moves the input
  by at most 1/8190, under 0.4 level at the curve's steepest, 12.92 * 255 per unit).

Samples without these members (datasets made before issue 25, decoded with ``albedo``
and ``material`` None) skip every check here. Pure NumPy, a few passes per clip.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

Add = Callable[[str, str], None]  # add(check name, message)

ALBEDO_TOL = 1  # sRGB levels: the renderer's table against the formula (module docstring)


def srgb_byte(linear) -> np.ndarray:
    """The sRGB byte (uint8, same shape) of linear values in [0, 1] (clipped), by the
    standard formula (IEC 61966-2-1): 12.92 x up to 0.0031308, else 1.055 x^(1/2.4) -
    0.055; times 255, rounded to the nearest level."""
    x = np.clip(np.asarray(linear, dtype=np.float64), 0.0, 1.0)
    s = np.where(x <= 0.0031308, 12.92 * x, 1.055 * x ** (1 / 2.4) - 0.055)
    return np.round(255.0 * s).astype(np.uint8)


def first(mask: np.ndarray) -> str:
    """How many pixels of a (T, H, W) mask are set, and where the first is."""
    t, v, u = np.unravel_index(int(np.argmax(mask)), mask.shape)
    count = int(np.count_nonzero(mask))
    return f"{count} pixel{'' if count == 1 else 's'}, first in frame {t} at (u={u}, v={v})"


def _family(entry) -> int | None:
    """``entry["material"]["family_id"]`` of a metadata surface, None when malformed."""
    m = entry.get("material") if isinstance(entry, dict) else None
    fid = m.get("family_id") if isinstance(m, dict) else None
    return fid if isinstance(fid, int) and not isinstance(fid, bool) else None


def _plain_colour(entry, meshed: bool) -> np.ndarray | None:
    """A surface's base colour (3,) float64 where its albedo is that one colour (texture
    ``plain``, no mesh materials), else None."""
    m = entry.get("material") if isinstance(entry, dict) else None
    if meshed or not isinstance(m, dict) or m.get("texture") != "plain":
        return None
    c = m.get("color")
    if not (isinstance(c, list) and len(c) == 3 and all(isinstance(x, (int, float)) for x in c)):
        return None
    return np.array(c, dtype=np.float64)


def check_intrinsics(add: Add, f, meta: dict, floor_class: int, wall_class: int) -> None:
    """Check ``f.albedo`` (T, H, W, 3) uint8 and ``f.material`` (T, H, W) uint8 of a
    decoded clip (:class:`~factory.render.frames.Frames`) against its depth, instance
    and semantic members and ``meta``; ``floor_class`` and ``wall_class`` are the
    semantic ids of the floor and the walls. Reports ``material.sky``,
    ``material.table``, ``material.object``, ``material.surface``, ``albedo.sky`` and
    ``albedo.color`` through ``add``. Nothing when either member is absent (None)."""
    if f.albedo is None or f.material is None:
        return
    mat, sky = f.material, f.depth == 0
    bad = sky & (mat != 0)
    if bad.any():
        add("material.sky", f"material id nonzero on sky (depth 0): {first(bad)}, id {int(mat[_at(bad)])}")
    bad = ~sky & (mat == 0)
    if bad.any():
        add("material.sky", f"material id 0 (none) on a surface (depth > 0): {first(bad)}")
    table = meta.get("material_families")
    if isinstance(table, list):
        bad = mat >= len(table)
        if bad.any():
            add(
                "material.table",
                f"material id {int(mat[_at(bad)])} not < len(material_families) = {len(table)}: {first(bad)}",
            )
    bad = sky[..., None] & (f.albedo != 0)
    if bad.any():
        add("albedo.sky", f"albedo nonzero on sky (depth 0): {first(bad.any(-1))}")
    for mask, entry, meshed, what in _surfaces(f, meta, floor_class, wall_class):
        want = _family(entry)
        if want is not None:
            bad = mask & (mat != want)
            if bad.any():
                check = "material.object" if what.startswith("object") else "material.surface"
                add(check, f"{what}: material id {int(mat[_at(bad)])}, its family_id is {want}: {first(bad)}")
        colour = _plain_colour(entry, meshed)
        if colour is not None and mask.any():
            want_rgb = srgb_byte(colour).astype(np.int16)
            off = np.abs(f.albedo.astype(np.int16) - want_rgb).max(-1)
            bad = mask & (off > ALBEDO_TOL)
            if bad.any():
                got = f.albedo[_at(bad)].tolist()
                add(
                    "albedo.color",
                    f"{what} (texture plain): albedo {got}, the sRGB bytes of its color are "
                    f"{want_rgb.tolist()} (+-{ALBEDO_TOL}): {first(bad)}",
                )


def _at(mask: np.ndarray) -> tuple:
    """The index of a mask's first set pixel."""
    return np.unravel_index(int(np.argmax(mask)), mask.shape)


def _surfaces(f, meta: dict, floor_class: int, wall_class: int):
    """``(mask (T, H, W) bool, metadata entry, meshed, name)`` of each object, the floor
    and the walls; ``meshed``: an object from a pack, whose mesh may carry its own
    materials (the metadata does not say), so its albedo is not its ``color``."""
    objects = meta.get("objects")
    for o in objects if isinstance(objects, list) else []:
        if isinstance(o, dict) and isinstance(o.get("id"), int):
            asset = o.get("asset")
            meshed = isinstance(asset, dict) and asset.get("source") == "pack"
            yield f.instance == o["id"], o, meshed, f"object {o['id']}"
    ground = f.instance == 0
    yield ground & (f.semantic == floor_class) & (f.depth > 0), meta.get("floor"), False, "floor"
    if isinstance(meta.get("walls"), dict):
        yield ground & (f.semantic == wall_class) & (f.depth > 0), meta["walls"], False, "walls"
