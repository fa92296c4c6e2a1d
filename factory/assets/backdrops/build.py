"""Building a backdrop pack from importer output: read, downscale, clamp, measure, hash,
write atomically.

Per backdrop (:func:`build_backdrop`): the licence must be one factory knows; the
image is read (:func:`~factory.assets.backdrops.importers.read_radiance`) and refused
unless it is ``(H, 2H, 3)`` with finite values; it is downscaled to ``width`` pixels by
an integer factor, averaging in linear light weighted by solid angle, so the mean
radiance is kept (:func:`~factory.assets.backdrops.image.downscale`); then negative
values are clamped to 0 and the build log says how many the source had, the lowest and
the power the clamp added (lossy OpenEXR compression such as DWAB rings around a bright
sun: ``@pmndrs/assets``' maps hold values down to about -3,900 next to it; see
:func:`prepare`); the result is stored as float16 (values over 65504 clipped) and the
pack's statistics (mean radiance, the sun) are measured on the stored pixels. A
brightest pixel far from white is logged (:func:`_warn_colour`).

Atomic as asset packs (:mod:`factory.assets.build`): a local pack is written into a
hidden folder beside the target and renamed onto it at the end, so a refusal leaves
nothing at the target; elsewhere the files go up first and ``pack.json`` last.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence

import numpy as np

from factory.assets.backdrops.image import check_image, downscale, encode_image, mean_radiance, sun, to_float16
from factory.assets.backdrops.importers import BackdropSource, read_radiance
from factory.assets.backdrops.pack import (
    FORMAT,
    KIND,
    MAX_SIDE,
    BackdropPack,
    BackdropRecord,
    SunModel,
    load_backdrops,
    parse_backdrop_pack,
)
from factory.assets.build import NOTICE_SUFFIXES
from factory.assets.licences import licence
from factory.assets.pack import PACK_FILE, repeated
from factory.assets.staging import notice_bytes, staged_pack
from factory.errors import AssetError

DEFAULT_WIDTH = 256  # 256x128: 1.4 degrees a pixel, ~150 kB a map; enough for diffuse light and a blurred backdrop


def prepare(image: np.ndarray, width: int, file: str, log: Callable[[str], None] | None = None) -> np.ndarray:
    """``image`` (H, 2H, 3) as the float16 map a pack stores: downscaled to ``width``
    pixels wide (kept when already narrower or equal), then negatives clamped to 0.

    Downscaling first: the negatives are ringing of lossy compression around bright
    spots, next to overshoots of the same size, and averaging cancels most of it;
    clamping first would keep the overshoots alone and add their power (14% of
    ``@pmndrs/assets``' sky at 256 px wide, 5% of its warehouse, against 2% and 1.3%
    this way). The log counts the source's negatives and gives the power the clamp added.

    Raises:
        AssetError: naming ``file``: not (H, 2H, 3), non-finite values, or a width that
            ``width`` does not divide.
    """
    image = np.asarray(image, dtype=np.float64)
    if image.ndim != 3 or image.shape[2] != 3 or image.shape[1] != 2 * image.shape[0]:
        raise AssetError(file, f"an equirectangular map is (H, 2H, 3) RGB, got {tuple(image.shape)}")
    bad = int(np.count_nonzero(~np.isfinite(image)))
    if bad:
        raise AssetError(file, f"{bad} values are not finite (NaN or inf)")
    w = image.shape[1]
    if w > width and w % width:
        raise AssetError(file, f"{w} px wide: --width {width} must divide it (a whole downscaling factor)")
    small = downscale(image, w // width) if w > width else image
    neg = int(np.count_nonzero(image < 0))
    if neg and log:
        before = np.asarray(mean_radiance(small))
        added = np.asarray(mean_radiance(np.maximum(small, 0.0))) - before
        share = ", ".join(f"{100 * x / y:.2f}%" if y > 0 else "n/a" for x, y in zip(added, before))
        log(
            f"{file}: {neg} negative values (lowest {float(image.min()):.4g}; lossy EXR compression), "
            f"clamped to 0 after downscaling: power added (R, G, B) {share}"
        )
    stored = to_float16(np.maximum(small, 0.0))
    check_image(stored, file)
    return stored


def _warn_colour(stored: np.ndarray, where: str, log: Callable[[str], None] | None) -> None:
    """Log when the brightest pixel of ``stored`` is one channel alone (the other two
    under 1% of it): a red sunset keeps some green, a lamp all three; two of
    ``@pmndrs/assets``' maps, park and sunrise, have lost red and green around the sun."""
    pixels = stored.reshape(-1, 3).astype(np.float64)
    peak = pixels[int(np.argmax(pixels.max(axis=1)))]
    if log and np.sort(peak)[1] < 0.01 * peak.max():
        rgb = ", ".join(f"{x:.4g}" for x in peak)
        log(f"{where}: the brightest pixel's colour is far from white ({rgb}): has the source lost a channel?")


def build_backdrop(
    source: BackdropSource, width: int, log: Callable[[str], None] | None = None
) -> tuple[BackdropRecord, dict[str, bytes]]:
    """One backdrop's record and files (path relative to the pack -> bytes).

    Raises:
        AssetError: naming the file refused (licence, image, notice).
    """
    where = f"{source.where()} (backdrop {source.id})"
    if not licence(source.licence, where).known:
        raise AssetError(where, f"licence {source.licence} is unknown; packs hold known ones")
    stored = prepare(read_radiance(source.file, source.where()), width, source.where(), log)
    image_path = f"{source.id}/image.npz"
    files = {image_path: encode_image(stored)}
    for i, path in enumerate(source.notices):
        suffix = path.suffix.lower() if path.suffix.lower() in NOTICE_SUFFIXES else ".txt"
        files[f"{source.id}/notice{i}{suffix}"] = notice_bytes(path)
    found = sun(stored)
    _warn_colour(stored, source.where(), log)
    record = BackdropRecord(
        id=source.id,
        image=image_path,
        notices=tuple(list(files)[1:]),
        category=source.category,
        licence=source.licence,
        creator=source.creator,
        title=source.title,
        source=source.source,
        width=int(stored.shape[1]),
        height=int(stored.shape[0]),
        bytes=len(files[image_path]),
        mean_radiance=tuple(round(x, 6) for x in mean_radiance(stored)),
        sun=SunModel(
            direction=tuple(round(x, 9) for x in found.direction),
            share=round(found.share, 6),
            radiance=tuple(round(x, 6) for x in found.radiance),
        ),
        sha256={path: hashlib.sha256(data).hexdigest() for path, data in files.items()},
    )
    return record, files


def build_backdrops(
    sources: Sequence[BackdropSource],
    out: str,
    name: str,
    width: int = DEFAULT_WIDTH,
    version: str = "1",
    log: Callable[[str], None] | None = None,
) -> BackdropPack:
    """Write the backdrop pack of ``sources`` (in order) to ``out`` (a folder or fsspec
    URL) atomically, maps ``width`` pixels wide (an even number up to 8192), then load
    and verify it.

    Raises:
        AssetError: ``out`` already holds something, no sources, repeated ids, a bad
            width, or a backdrop refused (naming its file); nothing is left at ``out``.
    """
    ids = [s.id for s in sources]
    if not ids:
        raise AssetError(out, "no backdrops to build a pack from")
    dupes = repeated(ids)
    if dupes:
        raise AssetError(out, f"backdrop ids repeat: {dupes}")
    if not 2 <= width <= MAX_SIDE or width % 2:
        raise AssetError(out, f"width {width}: an even number of pixels from 2 to {MAX_SIDE}")
    with staged_pack(out) as work:
        records = []
        for source in sources:
            record, files = build_backdrop(source, width, log)
            for path, data in files.items():
                (work / path).parent.mkdir(parents=True, exist_ok=True)
                (work / path).write_bytes(data)
            records.append(record.model_dump(mode="json"))
            if log:
                log(f"{source.id}: {record.licence}, {record.width}x{record.height}, {record.bytes} bytes")
        meta = {"format": FORMAT, "kind": KIND, "name": name, "version": version, "backdrops": records}
        text = json.dumps(meta, indent=1) + "\n"
        parse_backdrop_pack(
            text.encode("utf-8"), f"{out.rstrip('/')}/{PACK_FILE}"
        )  # a bad name fails before the pack is committed
        (work / PACK_FILE).write_text(text, encoding="utf-8")
    return load_backdrops(out)
