"""The asset checks of one sample: every object's and the HDRI backdrop's asset licence
is one the dataset allows, and the sample's ``asset_licences`` is the count of its
objects' and its backdrop's licences.

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

from factory.dataset.licensing import asset_label, backdrop_asset, licence_of, object_assets
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
    """``asset.licence`` for each object or backdrop whose asset licence ``allowed``
    refuses (not checked when ``allowed`` is None) and ``asset.licences`` when the
    sample's ``asset_licences`` is not the count of its objects' and backdrop's licences
    (absent when none names an asset); failures go to ``add(check, message)``, naming the
    object (or the backdrop) and its asset."""
    found = object_assets(meta)
    backdrop = backdrop_asset(meta)
    named = [(f"object {oid}", a) for oid, a in found] + ([("backdrop", backdrop)] if backdrop is not None else [])
    if allowed is not None:
        for who, asset in named:
            why = refusal(asset.get("licence"), allowed)
            if why is not None:
                add("asset.licence", f"{who}: {asset_label(asset)} (licence {asset.get('licence')!r}): {why}")
    objects = Counter(licence_of(a) for _, a in found)
    backdrops = Counter([licence_of(backdrop)] if backdrop is not None else [])
    want = [
        {"licence": spdx, "objects": objects[spdx], "backdrops": backdrops[spdx]}
        for spdx in sorted(set(objects) | set(backdrops))
    ] or None
    got = meta.get("asset_licences")
    if _older(got) != want:
        add(
            "asset.licences",
            f"asset_licences {'absent' if got is None else got}, the objects' and backdrop's assets give "
            f"{'none (so absent)' if want is None else want}",
        )


def _older(got: Any) -> Any:
    """``asset_licences`` as written now: entries of a sample made before backdrops were
    counted (``{licence, objects}``) gain ``backdrops: 0``."""
    if not isinstance(got, list):
        return got
    return [{**e, "backdrops": 0} if isinstance(e, dict) and set(e) == {"licence", "objects"} else e for e in got]
