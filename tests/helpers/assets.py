"""A tiny licensed asset pack and a config drawing from it (tests/unit/test_asset_licences.py,
tests/integration/test_asset_licences.py): built here from a folder with a licence CSV,
as ``factory pack build --from folder:DIR`` builds one."""

from __future__ import annotations

from pathlib import Path

ALLOWED = ["CC-BY-4.0", "CC-BY-SA-4.0", "CC0-1.0"]
ASSETS = [  # id, licence, mesh
    ("ball-by", "CC-BY-4.0", "cyl"),
    ("crate-by", "CC-BY-4.0", "box"),
    ("crate-sa", "CC-BY-SA-4.0", "box"),
    ("can-cc0", "CC0-1.0", "cyl"),
]


def make_pack(tmp: Path) -> Path:
    """The pack ``tinypack`` of :data:`ASSETS`, built from a folder with a licences.csv."""
    import trimesh

    from factory.assets.build import build_pack
    from factory.assets.importers import IMPORTERS

    src = tmp / "src"
    src.mkdir(parents=True)
    rows = ["file,id,category,licence,creator,title,source,size_m"]
    for n, (aid, lic, kind) in enumerate(ASSETS):
        mesh = trimesh.creation.box() if kind == "box" else trimesh.creation.cylinder(radius=0.5, height=1, sections=12)
        mesh.export(src / f"{aid}.stl")
        rows.append(f"{aid}.stl,{aid},toy,{lic},Creator {n},Title {n},https://example.org/{aid},0.3")
    (src / "licences.csv").write_text("\n".join(rows) + "\n")
    build_pack(IMPORTERS["folder"](src, tmp / "work"), str(tmp / "pack"), "tinypack")
    return tmp / "pack"


def licensed_config(pack: Path):
    """32x32, 2 frames: scenario ``a`` draws generated bottles and the pack's assets (as
    ``toys``, every licence of :data:`ALLOWED` allowed), ``b`` spheres only."""
    from factory.scene.config import parse_config

    return parse_config(
        {
            "name": "lic",
            "seed": 5,
            "render": {"width": 32, "height": 32, "frames": 2, "fps": 12, "substeps": 2, "motion_blur_samples": 1},
            "output": {"mp4": False},
            "assets": {"packs": {"toys": str(pack)}, "split": "all", "allowed_licences": ALLOWED},
            "scenarios": {
                "a": {"objects": {"count": 3, "shape": {"dist": "choice", "values": ["gen:bottle", "pack:toys"]}}},
                "b": {"objects": {"count": 2, "shape": "sphere"}},
            },
        }
    )
