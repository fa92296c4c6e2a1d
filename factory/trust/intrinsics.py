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
and ``material`` None) skip every check here. Pure NumPy, a few passes per clip: per
pixel its surface's row of small tables (family id, plain colour), not a pass per
surface. Cost: 5.5 ms for a clip of 10 x 144 x 192 with 8 objects (``configs/rooms.yaml``
sample 0), against 4.9 ms for the other invariants of :func:`check_clip` (one core).
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
    _check_surfaces(add, f, meta, floor_class, wall_class)


def _check_surfaces(add: Add, f, meta: dict, floor_class: int, wall_class: int) -> None:
    """``material.object``, ``material.surface`` and ``albedo.color``: one pass over the
    clip with per-surface tables (family id, plain colour), then a message for each
    surface that has a bad pixel."""
    surfaces = _surfaces(meta)
    n = len(surfaces)
    family = np.array([-1 if (w := _family(e)) is None else w for e, _, _ in surfaces] + [-1], np.int16)
    colours = [_plain_colour(e, meshed) for e, meshed, _ in surfaces]
    plain = np.array([c is not None for c in colours] + [False])
    rgb = np.array([srgb_byte(c) if c is not None else (0, 0, 0) for c in colours] + [(0, 0, 0)], np.int16)
    # Each pixel's surface row: objects by instance id, then the floor and the walls; n: none.
    lut = np.full(65536, n, np.intp)
    for k, (e, _, _) in enumerate(surfaces):
        if k < n - 2:
            lut[e["id"]] = k
    row = lut[f.instance]
    ground = (f.instance == 0) & (f.depth > 0)
    row[ground & (f.semantic == floor_class)] = n - 2
    row[ground & (f.semantic == wall_class)] = n - 1 if surfaces[n - 1][0] is not None else n
    want = family[row]
    bad_family = (want >= 0) & (f.material != want)
    checked = plain[row]  # compare only there: most pixels of a textured scene are not plain
    bad_colour = np.zeros_like(checked)
    bad_colour[checked] = np.abs(f.albedo[checked].astype(np.int16) - rgb[row[checked]]).max(-1) > ALBEDO_TOL
    for k in np.unique(row[bad_family | bad_colour]).tolist():
        entry, _, what = surfaces[k]
        bad = bad_family & (row == k)
        if bad.any():
            check = "material.object" if what.startswith("object") else "material.surface"
            add(check, f"{what}: material id {int(f.material[_at(bad)])}, its family_id is {family[k]}: {first(bad)}")
        bad = bad_colour & (row == k)
        if bad.any():
            add(
                "albedo.color",
                f"{what} (texture plain): albedo {f.albedo[_at(bad)].tolist()}, the sRGB bytes of its color are "
                f"{rgb[k].tolist()} (+-{ALBEDO_TOL}): {first(bad)}",
            )


def _at(mask: np.ndarray) -> tuple:
    """The index of a mask's first set pixel."""
    return np.unravel_index(int(np.argmax(mask)), mask.shape)


def _surfaces(meta: dict) -> list[tuple]:
    """``(metadata entry, meshed, name)`` of each object, then the floor and the walls
    (entry None without a room); ``meshed``: an object from a pack, whose mesh may carry
    its own materials (the metadata does not say), so its albedo is not its ``color``.
    Malformed objects are left out (``meta.objects`` names them)."""
    objects = meta.get("objects")
    out = []
    for o in objects if isinstance(objects, list) else []:
        if isinstance(o, dict) and isinstance(o.get("id"), int) and 0 < o["id"] < 65536:
            asset = o.get("asset")
            out.append((o, isinstance(asset, dict) and asset.get("source") == "pack", f"object {o['id']}"))
    walls = meta.get("walls")
    return [*out, (meta.get("floor"), False, "floor"), (walls if isinstance(walls, dict) else None, False, "walls")]
