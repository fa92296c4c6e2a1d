"""The starter pack in the repository (factory/assets/starter/): every file verified by
its hash, CC0 only, attributed, exactly the ids of factory/assets/starter.ids, with
CoACD's convex pieces, a few MB."""

from pathlib import Path

from factory.assets.pack import load_pack, split
from factory.assets.parts import COACD_PARAMS, MAX_PIECES

STARTER = Path(__file__).resolve().parents[2] / "factory" / "assets" / "starter"
IDS = STARTER.with_suffix(".ids")


def _listed() -> set[str]:
    return {line.split("#")[0].strip() for line in IDS.read_text().splitlines()} - {""}


def test_the_starter_pack_loads_verified_and_holds_the_listed_ids():
    pack = load_pack(str(STARTER))  # checks every sha256, licence, mesh and texture
    ids = {a.id for a in pack.assets}
    assert ids == _listed() and len(ids) == 44


def test_every_starter_asset_is_cc0_and_carries_its_attribution():
    pack = load_pack(str(STARTER))
    for a in pack.assets:
        assert a.licence == "CC0-1.0", a.id
        assert a.creator and a.title and "BlendSwap-CC-0.sh3f" in a.source, a.id
        notices = [(STARTER / n).read_text(errors="replace") for n in a.notices]
        assert any("Creative Commons Zero" in t or "CC0" in t for t in notices), a.id
        assert all(0.01 <= s <= 2.5 for s in a.size_m), (a.id, a.size_m)  # metres, household scale


def test_the_starter_split_holds_some_out_and_keeps_the_rest():
    pack = load_pack(str(STARTER))
    train, test = {a.id for a in split(pack, "train")}, {a.id for a in split(pack, "test")}
    assert test and train and not train & test
    assert train | test == {a.id for a in pack.assets}


def test_every_starter_asset_carries_its_coacd_pieces_and_the_pack_stays_small():
    pack = load_pack(str(STARTER))
    assert pack.meta.parts.method == "coacd" and pack.meta.parts.params == COACD_PARAMS
    counts = [len(pack.read_mesh(a).part_offsets) - 1 for a in pack.assets]
    assert all(1 <= k <= MAX_PIECES for k in counts) and max(counts) > 1  # the chairs and tables are cut up
    size = sum(f.stat().st_size for f in STARTER.rglob("*") if f.is_file())
    assert size < 4 * 2**20, f"the starter pack is {size} bytes: keep it a few MB"
