"""Building a pack from importer output: normalise, decimate, downscale, hash, write
atomically.

:func:`build_pack` takes :class:`~factory.assets.source.SourceAsset` records and writes
the pack (format: :mod:`factory.assets.pack`). Per asset: the mesh is read
(:func:`~factory.assets.source.read_source`), refused if a vertex is not finite,
brought to z up, its degenerate faces (repeated index or zero area) and unused
vertices dropped, its bounding box centred on the origin and sized in metres, then
decimated to the face limit when over it (:func:`decimate`); textures over the pixel
limit are downscaled (Lanczos, saved as PNG); others keep their bytes.

Atomic: a local pack is written into a hidden folder beside the target and renamed
onto it at the end, so a failure (any asset refused) leaves nothing at the target and
the folder is removed. Elsewhere (``s3://``, ``memory://``) the files go up first and
``pack.json`` last: a pack without ``pack.json`` does not load.

Then the convex pieces that collide (:func:`~factory.assets.parts.make_pieces`: CoACD
by default when it is installed, else the hull; ``parts`` chooses) go into the same
``mesh.npz``, so its sha256 covers them, and ``pack.json`` records how they were made.
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Callable, Sequence

import numpy as np

from factory.assets.licences import licence
from factory.assets.meshfile import MeshData, check_mesh, encode_mesh
from factory.assets.pack import FORMAT, PACK_FILE, AssetRecord, Limits, Pack, PackFile, PartsModel, load_pack, repeated
from factory.assets.parts import COACD_PARAMS, METHODS, coacd_available, default_method, make_pieces
from factory.assets.source import SourceAsset, TextureSource, read_source
from factory.assets.staging import notice_bytes, staged_pack
from factory.errors import AssetError

DEFAULT_LIMITS = Limits()
NOTICE_SUFFIXES = (".txt", ".html", ".htm", ".md")
_AREA_EPS = 1e-12  # twice a face's area, relative to the squared bbox diagonal, below which it is degenerate


def normalise(mesh: MeshData, asset: SourceAsset) -> MeshData:
    """``mesh`` in factory's frame: ``asset.linear`` applied, degenerate faces and
    unused vertices dropped, bounding box centred, sized (see
    :class:`~factory.assets.source.SourceAsset`); float32 vertices in metres.

    Raises:
        AssetError: naming the mesh file: non-finite vertices, or no face left.
    """
    file = str(asset.mesh)
    v = np.asarray(mesh.vertices, dtype=np.float64)
    bad = int(np.count_nonzero(~np.isfinite(v).all(axis=1)))
    if bad:
        raise AssetError(file, f"{bad} vertices are not finite (NaN or inf)")
    v = v @ np.asarray(asset.linear, dtype=np.float64).reshape(3, 3).T
    f = np.asarray(mesh.faces, dtype=np.int64)
    diag2 = float(np.sum(np.ptp(v, axis=0) ** 2)) or 1.0
    tri = v[f]
    area2 = np.linalg.norm(np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]), axis=1)
    repeated = (f[:, 0] == f[:, 1]) | (f[:, 1] == f[:, 2]) | (f[:, 0] == f[:, 2])
    keep = ~repeated & (area2 > _AREA_EPS * diag2)
    if not keep.any():
        raise AssetError(file, "empty mesh: every face is degenerate")
    f, face_material = f[keep], mesh.face_material[keep]
    used, f = np.unique(f, return_inverse=True)
    f = f.reshape(-1, 3)
    v = v[used]
    lo, hi = v.min(axis=0), v.max(axis=0)
    v = (v - (lo + hi) / 2) * _scale(hi - lo, asset)
    uv = None if mesh.uv is None else np.asarray(mesh.uv, dtype=np.float32)[used]
    return MeshData(
        v.astype(np.float32), f.astype(np.int32), uv, face_material, mesh.material_colour, mesh.material_texture
    )


def _scale(extent: np.ndarray, asset: SourceAsset) -> np.ndarray:
    """Per-axis factor (3,) from file units to metres."""
    if asset.extents_m is not None:
        target = np.asarray(asset.extents_m, dtype=np.float64)
        flat = extent <= 0
        factor = np.where(flat, 1.0, target / np.where(flat, 1.0, extent))
        # A flat axis (a picture, a rug) cannot be stretched: give it the others' mean factor.
        return np.where(flat, factor[~flat].mean() if (~flat).any() else 1.0, factor)
    if asset.longest_m is not None:
        return np.full(3, asset.longest_m / max(float(extent.max()), 1e-12))
    return np.full(3, float(asset.scale))


def decimate(mesh: MeshData, max_faces: int) -> MeshData:
    """``mesh`` with at most about ``max_faces`` faces (quadric decimation through
    fast-simplification, the ``assets`` extra); unchanged when already within it.

    Each material's faces are decimated apart (their share of the budget), so faces
    keep their material; a kept vertex takes the UV of one of the vertices collapsed
    into it (exact where it was kept, approximate where edges merged).

    Raises:
        AssetError: fast-simplification is not installed (with the install hint), or
            the mesh stays over the limit.
    """
    if len(mesh.faces) <= max_faces:
        return mesh
    try:
        import fast_simplification
    except ImportError:
        raise AssetError(
            "<decimation>", "meshes over --max-faces need fast-simplification: pip install 'factory[assets]'"
        ) from None
    budget, out = max_faces, mesh
    # The simplifier stops near, not at, a target, and spares small loose parts (leaves,
    # blades) at its default aggressiveness: aim lower and push harder until within.
    for agg in (7.0, 8.0, 9.0, 10.0):
        out = _decimate_once(fast_simplification, mesh, budget, agg)
        if len(out.faces) <= max_faces:
            return out
        budget = max(1, int(budget * max_faces / len(out.faces) * 0.97))
    # Many tiny loose parts (a plant's leaves) have a floor quadric decimation keeps:
    # merge vertices on ever coarser grids, which folds such parts away.
    cells = float(np.linalg.norm(np.ptp(out.vertices, axis=0))) / np.geomspace(4096, 16, 13)
    for cell in cells:
        clustered = _cluster(out, cell)
        if len(clustered.faces) <= max_faces:
            return clustered
    raise AssetError("<decimation>", f"{len(out.faces)} faces left after decimating to {max_faces}")


def _cluster(mesh: MeshData, cell: float) -> MeshData:
    """``mesh`` with the vertices of each ``cell``-metre grid cube merged into the first
    of them (which keeps its UV); faces that collapse dropped."""
    keys = np.floor(mesh.vertices / cell).astype(np.int64)
    _, first, inverse = np.unique(keys, axis=0, return_index=True, return_inverse=True)
    faces = inverse.reshape(-1)[mesh.faces]
    keep = (faces[:, 0] != faces[:, 1]) & (faces[:, 1] != faces[:, 2]) & (faces[:, 0] != faces[:, 2])
    used, faces = np.unique(faces[keep], return_inverse=True)
    source = first[used]
    return MeshData(
        mesh.vertices[source],
        faces.reshape(-1, 3).astype(np.int32),
        None if mesh.uv is None else mesh.uv[source],
        mesh.face_material[keep],
        mesh.material_colour,
        mesh.material_texture,
    )


def _decimate_once(fast_simplification, mesh: MeshData, max_faces: int, agg: float) -> MeshData:
    vs, fs, uvs, mats, offset = [], [], [], [], 0
    for m in np.unique(mesh.face_material):
        faces = mesh.faces[mesh.face_material == m]
        used, local = np.unique(faces, return_inverse=True)
        before, local = mesh.vertices[used].astype(np.float64), local.reshape(-1, 3)
        target = max(1, int(max_faces * len(faces) / len(mesh.faces)))
        points, new_faces, collapses = fast_simplification.simplify(
            before, local, target_count=target, agg=agg, return_collapses=True
        )
        # The same collapses replayed give each old vertex's new index, which carries the UVs over.
        _, _, mapping = fast_simplification.replay_simplification(before, local, collapses)
        if mesh.uv is not None:
            uv = np.zeros((len(points), 2), dtype=np.float32)
            kept = mapping >= 0  # -1: the vertex went with a part that collapsed away
            # Reversed: the first old vertex of each new one wins.
            uv[mapping[kept][::-1]] = mesh.uv[used][kept][::-1]
            uvs.append(uv)
        vs.append(points)
        fs.append(new_faces + offset)
        mats.append(np.full(len(new_faces), m, dtype=np.int16))
        offset += len(points)
    return MeshData(
        np.concatenate(vs).astype(np.float32),
        np.concatenate(fs).astype(np.int32),
        np.concatenate(uvs) if mesh.uv is not None else None,
        np.concatenate(mats),
        mesh.material_colour,
        mesh.material_texture,
    )


def texture_bytes(texture: TextureSource, max_px: int) -> tuple[bytes, str]:
    """``(bytes, suffix)`` of a texture within ``max_px`` pixels a side: the original
    bytes when it is a PNG or JPEG within the limit, else downscaled (Lanczos, aspect
    kept) or re-encoded as PNG.

    Raises:
        AssetError: naming the texture file when Pillow cannot decode it.
    """
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(texture.data)) as img:
            fmt = img.format
            if fmt in ("PNG", "JPEG") and max(img.size) <= max_px:
                img.load()
                return texture.data, ".png" if fmt == "PNG" else ".jpg"
            img = img.convert("RGBA" if "A" in img.getbands() else "RGB")
            if max(img.size) > max_px:
                k = max_px / max(img.size)
                img = img.resize(
                    (max(1, round(img.width * k)), max(1, round(img.height * k))), Image.Resampling.LANCZOS
                )
            out = io.BytesIO()
            img.save(out, format="PNG", optimize=False)
            return out.getvalue(), ".png"
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as e:
        raise AssetError(texture.file, f"texture is not a readable image ({type(e).__name__}: {e})") from None


def build_asset(
    asset: SourceAsset, limits: Limits, log: Callable[[str], None] | None = None, parts: str = "hull"
) -> tuple[AssetRecord, dict[str, bytes]]:
    """One asset's record and files (path relative to the pack -> bytes), its convex
    pieces made by ``parts`` (``hull`` or ``coacd``); what was left out (a missing
    texture) or fell back (CoACD gave no piece: the hull) goes to ``log``.

    Raises:
        AssetError: naming the file that is refused (licence, mesh, texture).
    """
    lic = licence(asset.licence, f"{asset.mesh} (asset {asset.id})")
    if not lic.known:
        raise AssetError(
            f"{asset.mesh} (asset {asset.id})", f"licence {asset.licence} is unknown; packs hold known ones"
        )
    mesh, textures, notes = read_source(asset)
    for note in notes if log else ():
        log(note)
    mesh = decimate(normalise(mesh, asset), limits.max_faces)
    check_mesh(mesh, str(asset.mesh), limits.max_faces, len(textures))
    part_vertices, part_offsets, used = make_pieces(mesh.vertices, mesh.faces, parts)
    if used != parts and log:
        log(f"{asset.id}: CoACD gave no convex piece; it collides as its hull")
    mesh = mesh._replace(part_vertices=part_vertices, part_offsets=part_offsets)
    check_mesh(mesh, str(asset.mesh), limits.max_faces, len(textures))
    files = {f"{asset.id}/mesh.npz": encode_mesh(mesh)}
    for i, tex in enumerate(textures):
        data, suffix = texture_bytes(tex, limits.max_texture_px)
        files[f"{asset.id}/tex{i}{suffix}"] = data
    notices = {}
    for i, path in enumerate(asset.notices):
        suffix = path.suffix.lower() if path.suffix.lower() in NOTICE_SUFFIXES else ".txt"
        notices[f"{asset.id}/notice{i}{suffix}"] = notice_bytes(path)
    extents = mesh.vertices.max(axis=0).astype(np.float64) - mesh.vertices.min(axis=0)
    record = AssetRecord(
        id=asset.id,
        mesh=f"{asset.id}/mesh.npz",
        textures=tuple(list(files)[1:]),
        notices=tuple(notices),
        category=asset.category,
        size_m=tuple(round(float(x), 6) for x in extents),
        licence=asset.licence,
        creator=asset.creator,
        title=asset.title,
        source=asset.source,
        sha256={path: hashlib.sha256(data).hexdigest() for path, data in {**files, **notices}.items()},
    )
    return record, {**files, **notices}


def build_pack(
    assets: Sequence[SourceAsset],
    out: str,
    name: str,
    version: str = "1",
    limits: Limits = DEFAULT_LIMITS,
    log: Callable[[str], None] | None = None,
    skip_refused: bool = False,
    parts: str | None = None,
) -> Pack:
    """Write the pack of ``assets`` (in order) to ``out`` (a folder or fsspec URL)
    atomically, then load and verify it. With ``skip_refused``, an asset the build
    refuses is left out and named through ``log`` (its file and why) instead of
    refusing the pack: for a large source with a broken model or two. ``parts``: how
    the convex pieces are made, ``hull`` or ``coacd`` (None: CoACD when installed).

    Raises:
        AssetError: ``out`` already holds something, no assets, repeated ids, or an
            asset refused (naming its file; with ``skip_refused``, only when every
            asset is); nothing is left at ``out``.
            Also (naming ``<parts>``): ``parts`` is not hull, coacd or None, or is
            coacd and CoACD is not installed (with the install hint).
    """
    parts = parts or default_method()
    if parts not in METHODS:
        raise AssetError("<parts>", f"{parts!r} is not a way to make convex pieces; allowed: {', '.join(METHODS)}")
    if parts == "coacd" and not coacd_available():
        raise AssetError("<parts>", "coacd pieces need CoACD: pip install 'factory[assets]' (or --parts hull)")
    ids = [a.id for a in assets]
    if not ids:
        raise AssetError(out, "no assets to build a pack from")
    dupes = repeated(ids)
    if dupes:
        raise AssetError(out, f"asset ids repeat: {dupes}")
    with staged_pack(out) as work:
        records = []
        for asset in assets:
            try:
                record, files = build_asset(asset, limits, log, parts)
            except AssetError as e:
                if not skip_refused:
                    raise
                if log:
                    log(f"{asset.id}: left out, refused: {e}")
                continue
            for path, data in files.items():
                (work / path).parent.mkdir(parents=True, exist_ok=True)
                (work / path).write_bytes(data)
            records.append(record)
            if log:
                log(f"{asset.id}: {record.licence}, {len(files)} files")
        if not records:
            raise AssetError(out, "every asset was refused; nothing to build a pack from")
        made = PartsModel(method=parts, params=COACD_PARAMS if parts == "coacd" else {})
        meta = PackFile(
            format=FORMAT, name=name, version=version, limits=limits._asdict(), parts=made, assets=tuple(records)
        )
        (work / PACK_FILE).write_text(json.dumps(meta.model_dump(mode="json"), indent=1) + "\n", encoding="utf-8")
    return load_pack(out)
