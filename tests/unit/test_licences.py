"""The licence table and the allowlist (factory/assets/licences.py)."""

from __future__ import annotations

import pytest

from factory.assets.licences import DEFAULT_ALLOWLIST, LICENCES, check_allowed, licence
from factory.errors import AssetError

REQUIRED = (
    "CC0-1.0",
    "CC-BY-3.0",
    "CC-BY-3.0-US",
    "CC-BY-4.0",
    "Zlib",
    "MIT",
    "BSD-3-Clause",
    "Apache-2.0",
    "CC-BY-SA-3.0",
    "CC-BY-SA-4.0",
    "CC-BY-NC-4.0",
    "GPL-3.0-only",
)


def test_the_table_knows_the_licences_packs_carry():
    assert set(REQUIRED) <= set(LICENCES)
    assert all(spdx == record.spdx for spdx, record in LICENCES.items())


def test_the_default_allowlist_is_permissive_only():
    assert DEFAULT_ALLOWLIST == {
        "CC0-1.0",
        "CC-BY-3.0",
        "CC-BY-3.0-US",
        "CC-BY-4.0",
        "Zlib",
        "MIT",
        "BSD-3-Clause",
        "Apache-2.0",
    }
    for spdx in DEFAULT_ALLOWLIST:
        lic = LICENCES[spdx]
        assert lic.permissive and not (lic.share_alike or lic.non_commercial or lic.copyleft)
    assert LICENCES["CC-BY-SA-4.0"].share_alike and LICENCES["CC-BY-NC-4.0"].non_commercial
    assert LICENCES["GPL-3.0-only"].copyleft
    assert LICENCES["CC-BY-4.0"].attribution and not LICENCES["CC0-1.0"].attribution


@pytest.mark.parametrize(
    ("spdx", "why"),
    [
        ("CC-BY-NC-4.0", "non-commercial"),
        ("CC-BY-SA-3.0", "share-alike"),
        ("GPL-3.0-only", "copyleft"),
        ("LicenseRef-by-permission", "unknown"),
    ],
)
def test_the_allowlist_refuses_naming_asset_and_licence(spdx, why):
    with pytest.raises(AssetError) as e:
        check_allowed("packs/demo/mug-1", spdx)
    assert e.value.file == "packs/demo/mug-1"
    assert spdx in str(e.value) and why in str(e.value) and "CC0-1.0" in str(e.value)


def test_an_allowlist_of_ones_own_admits_what_it_lists():
    assert check_allowed("a", "CC-BY-SA-4.0", {"CC-BY-SA-4.0"}).share_alike
    assert check_allowed("a", "CC0-1.0").spdx == "CC0-1.0"
    with pytest.raises(AssetError, match="allowed: none"):
        check_allowed("a", "CC0-1.0", ())


@pytest.mark.parametrize("spdx", ["", "  ", "cc0", "CC-BY", "Public domain", "LicenseRef-"])
def test_what_is_not_a_licence_id_is_refused(spdx):
    with pytest.raises(AssetError) as e:
        licence(spdx, "lib.sh3f (model 3)")
    assert str(e.value).startswith("lib.sh3f (model 3): ")
    assert "CC-BY-4.0" in str(e.value)  # says what is known


def test_licence_ref_is_known_to_exist_but_not_what_it_permits():
    lic = licence("LicenseRef-scopia-eula")
    assert not lic.known and not lic.permissive
