"""The asset checks of one sample: every object's asset licence is one the dataset
allows, and the sample's ``asset_licences`` is the count of its objects' licences.

The allowlist is the manifest config's ``assets.allowed_licences`` (None there: factory's
permissive default, :data:`factory.assets.licences.DEFAULT_ALLOWLIST`), resolved on the
driver into :attr:`Context.allowed_licences`. The sample's tally
(:class:`factory.dataset.licensing.Tally`) goes into the shard's result, for the check of
the manifest's ``assets`` totals across shards (:mod:`.run`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from typing import Any

from factory.dataset.licensing import asset_label, licence_of, object_assets
from factory.errors import AssetError


def allowlist(config) -> frozenset[str]:
    """The licences a parsed config's assets may carry (its ``assets.allowed_licences``,
    else factory's permissive default)."""
    from factory.assets.licences import DEFAULT_ALLOWLIST

    chosen = config.assets.allowed_licences
    return DEFAULT_ALLOWLIST if chosen is None else frozenset(chosen)


def refusal(spdx: Any, allowed: frozenset[str]) -> str | None:
    """Why an asset under ``spdx`` may not be in the dataset (None when it may): not in
    the allowlist (and share-alike, non-commercial, ...), or not a licence at all."""
    from factory.assets.licences import check_allowed

    if isinstance(spdx, str) and spdx in allowed:
        return None
    try:
        check_allowed("asset", spdx if isinstance(spdx, str) else "", allowed)
    except AssetError as e:
        return e.message
    return None


def check_assets(add: Callable[[str, str], None], meta: Mapping[str, Any], allowed: frozenset[str] | None) -> None:
    """``asset.licence`` for each object whose asset licence ``allowed`` refuses (not
    checked when ``allowed`` is None) and ``asset.licences`` when the sample's
    ``asset_licences`` is not its objects' count (absent when none names an asset);
    failures go to ``add(check, message)``, naming the object and its asset."""
    found = object_assets(meta)
    if allowed is not None:
        for oid, asset in found:
            why = refusal(asset.get("licence"), allowed)
            if why is not None:
                add("asset.licence", f"object {oid}: {asset_label(asset)} (licence {asset.get('licence')!r}): {why}")
    counts = Counter(licence_of(a) for _, a in found)
    want = [{"licence": spdx, "objects": n} for spdx, n in sorted(counts.items())] if counts else None
    got = meta.get("asset_licences")
    if got != want:
        add(
            "asset.licences",
            f"asset_licences {'absent' if got is None else got}, the objects' assets give "
            f"{'none (so absent)' if want is None else want}",
        )
