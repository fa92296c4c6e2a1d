"""Licence records and the allowlist: what each SPDX id permits, and which may be drawn.

:data:`LICENCES` is the one table of the licences factory knows, by SPDX id, with the
properties that decide where an asset may go (see :class:`Licence`). An id of the form
``LicenseRef-...`` (SPDX's own prefix for a licence without an SPDX id) is known to
exist but not what it permits: it is *unknown*, never permissive. Any other id is not a
licence at all and is refused.

:data:`DEFAULT_ALLOWLIST` is every permissive licence of the table: no share-alike, no
non-commercial, no copyleft, no unknown. A config's ``allowed_licences`` (to come)
replaces it; :func:`check_allowed` is the one check, naming the asset and the licence.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

from factory.errors import AssetError

UNKNOWN_PREFIX = "LicenseRef-"


class Licence(NamedTuple):
    """What one licence permits. ``permissive``: use in any dataset, commercial too,
    with at most an attribution; ``attribution``: the creator must be credited (the
    dataset card lists creator, title, source); ``share_alike``: derived work must carry
    the same licence; ``non_commercial``: no commercial use; ``copyleft``: derived work
    must be released under it; ``known``: False for ``LicenseRef-*`` ids."""

    spdx: str
    name: str
    permissive: bool
    attribution: bool
    share_alike: bool = False
    non_commercial: bool = False
    copyleft: bool = False
    known: bool = True


def _table(*rows: Licence) -> dict[str, Licence]:
    return {row.spdx: row for row in rows}


LICENCES: dict[str, Licence] = _table(
    Licence("CC0-1.0", "Creative Commons Zero v1.0 Universal", permissive=True, attribution=False),
    Licence("CC-BY-3.0", "Creative Commons Attribution 3.0 Unported", permissive=True, attribution=True),
    Licence("CC-BY-3.0-US", "Creative Commons Attribution 3.0 United States", permissive=True, attribution=True),
    Licence("CC-BY-4.0", "Creative Commons Attribution 4.0 International", permissive=True, attribution=True),
    Licence("Zlib", "zlib License", permissive=True, attribution=False),
    Licence("MIT", "MIT License", permissive=True, attribution=True),
    Licence("BSD-3-Clause", 'BSD 3-Clause "New" or "Revised" License', permissive=True, attribution=True),
    Licence("Apache-2.0", "Apache License 2.0", permissive=True, attribution=True),
    Licence(
        "CC-BY-SA-3.0",
        "Creative Commons Attribution Share Alike 3.0 Unported",
        permissive=False,
        attribution=True,
        share_alike=True,
    ),
    Licence(
        "CC-BY-SA-4.0",
        "Creative Commons Attribution Share Alike 4.0 International",
        permissive=False,
        attribution=True,
        share_alike=True,
    ),
    Licence(
        "CC-BY-NC-4.0",
        "Creative Commons Attribution Non Commercial 4.0 International",
        permissive=False,
        attribution=True,
        non_commercial=True,
    ),
    Licence(
        "GPL-3.0-only",
        "GNU General Public License v3.0 only",
        permissive=False,
        attribution=True,
        share_alike=True,
        copyleft=True,
    ),
)

DEFAULT_ALLOWLIST: frozenset[str] = frozenset(spdx for spdx, lic in LICENCES.items() if lic.permissive)


def licence(spdx: str, asset: str = "<asset>") -> Licence:
    """The record of SPDX id ``spdx`` (exact spelling, as SPDX writes it); a
    ``LicenseRef-*`` id gives an unknown, non-permissive record.

    Raises:
        AssetError: ``spdx`` is empty or neither in :data:`LICENCES` nor a
            ``LicenseRef-*`` id; the message names ``asset`` and lists the known ids.
    """
    if not isinstance(spdx, str) or not spdx.strip():
        raise AssetError(asset, f"no licence given; give an SPDX id, one of {', '.join(sorted(LICENCES))}")
    if spdx in LICENCES:
        return LICENCES[spdx]
    if spdx.startswith(UNKNOWN_PREFIX) and len(spdx) > len(UNKNOWN_PREFIX):
        return Licence(spdx, "unknown licence", permissive=False, attribution=True, known=False)
    raise AssetError(
        asset,
        f"licence {spdx!r} is not an SPDX id factory knows; known: {', '.join(sorted(LICENCES))} "
        f"(or {UNKNOWN_PREFIX}... for a licence without one)",
    )


def check_allowed(asset: str, spdx: str, allowlist: Iterable[str] = DEFAULT_ALLOWLIST) -> Licence:
    """The record of ``spdx`` if ``allowlist`` holds it.

    Raises:
        AssetError: the licence is unknown to factory or not in ``allowlist``; the
            message names ``asset``, the licence, why it is refused (share-alike,
            non-commercial, ...) and the allowed ids.
    """
    record = licence(spdx, asset)
    allowed = frozenset(allowlist)
    if spdx in allowed:
        return record
    why = [
        word
        for word, flag in (
            ("unknown", not record.known),
            ("share-alike", record.share_alike),
            ("non-commercial", record.non_commercial),
            ("copyleft", record.copyleft),
        )
        if flag
    ]
    because = f" ({', '.join(why)})" if why else ""
    raise AssetError(
        asset,
        f"licence {spdx}{because} is not in the allowed licences; allowed: {', '.join(sorted(allowed)) or 'none'}",
    )
