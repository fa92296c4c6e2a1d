"""``factory report``: the numbers it shows, checked against the shards read by hand
(local datasets, the local engine; the Ray engine and S3: tests/integration/test_report.py).

Every expected value is computed here from the tar files with ``tarfile``, ``json``,
Pillow and numpy, not through factory's reader, decoder or the report's own code.
"""

from __future__ import annotations

import base64
import importlib.metadata
import io
import json
import platform
import re
import shutil
import subprocess
import sys
import tarfile
import textwrap
import tomllib
from collections import Counter
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from factory.cli import main
from factory.trust.report.distribution import Distribution
from tests.helpers.report import SAMPLES, report

ROOT = Path(__file__).resolve().parents[2]


LUMA = (0.299, 0.587, 0.114)


def read_samples(folder: Path, shards: list[str] | None = None) -> list[tuple[str, str, dict[str, bytes]]]:
    """``(shard, key, {member: bytes})`` in order: the shards listed, else every .tar by name."""
    out = []
    for name in shards or sorted(p.name for p in folder.glob("*.tar")):
        with tarfile.open(folder / name) as tar:
            for info in tar.getmembers():
                key, member = info.name.split(".", 1)
                if not out or out[-1][:2] != (name, key):
                    out.append((name, key, {}))
                out[-1][2][member] = tar.extractfile(info).read()
    return out


def expected_figures(samples) -> dict:
    """The report's figures, computed independently from raw members."""
    metas = [json.loads(m["json"]) for _, _, m in samples]
    objects = [o for meta in metas for o in meta["objects"]]
    codes = np.concatenate([np.asarray(Image.open(io.BytesIO(m["depth.png"]))).ravel() for _, _, m in samples])
    assert codes.dtype == np.uint16
    depth = codes[codes > 0].astype(np.float64) / 1000.0
    luma = []
    for _, _, m in samples:
        rgb = np.asarray(Image.open(io.BytesIO(m["rgb.png"])).convert("RGB")).astype(np.float64)
        luma.append(float((rgb[..., 0] * LUMA[0] + rgb[..., 1] * LUMA[1] + rgb[..., 2] * LUMA[2]).mean()))
    speeds = [float(np.sqrt(sum(c * c for c in v))) for o in objects if not o["static"] for v in o["velocity"]]
    return {
        "scenarios": Counter(meta["scenario"] for meta in metas),
        "classes": Counter(o["category"] for o in objects),
        "objects_per_scene": Counter(len(meta["objects"]) for meta in metas),
        "depth": depth,
        "brightness": luma,
        "speeds": speeds,
        "sizes": [2 * max(o["dims"]) for o in objects],
        "visible": [v for o in objects for v in o["visible_fraction"]],
    }


class Tables(HTMLParser):
    """``tables[table id][row key][column] = cell text`` of the report's data tables,
    plus every ``src``/``href`` attribute value."""

    def __init__(self, text: str):
        super().__init__()
        self.tables: dict[str, dict[str, dict[str, str]]] = {}
        self.links: list[tuple[str, str]] = []
        self._table = self._row = self._col = None
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.links += [(k, v) for k, v in attrs if k in ("src", "href")]
        if tag == "table" and "id" in a:
            self._table = self.tables.setdefault(a["id"], {})
        elif tag == "tr" and self._table is not None and "data-key" in a:
            self._row = self._table.setdefault(a["data-key"], {})
        elif tag == "td" and self._row is not None and "data-col" in a:
            self._col = a["data-col"]
            self._row[self._col] = ""

    def handle_endtag(self, tag):
        if tag == "td":
            self._col = None
        elif tag == "table":
            self._table = self._row = None

    def handle_data(self, data):
        if self._col is not None:
            self._row[self._col] += data


def cell(tables, table: str, row: str, col: str) -> float:
    return float(tables[table][row][col])


@pytest.fixture(scope="module")
def reported(dataset, tmp_path_factory):
    folder, manifest = dataset
    out = tmp_path_factory.mktemp("report-out")
    stats = report(folder, out)
    html = (out / "report.html").read_text()
    shards = [r["name"] for r in manifest["shards"]]
    return {
        "out": out,
        "stats": stats,
        "html": html,
        "tables": Tables(html).tables,
        "expected": expected_figures(read_samples(folder, shards)),
        "manifest": manifest,
    }


def test_scenario_counts_requested_and_achieved(reported):
    stats, tables, exp, manifest = reported["stats"], reported["tables"], reported["expected"], reported["manifest"]
    assert sum(exp["scenarios"].values()) == SAMPLES
    rows = {r["scenario"]: r for r in stats["scenarios"]["rows"]}
    assert {k: r["counted"] for k, r in rows.items()} == dict(exp["scenarios"])
    if isinstance(manifest.get("scenarios"), dict):  # the allocation block: exact targets
        requested = manifest["scenarios"]["requested"]
        assert stats["scenarios"]["source"] == "manifest"
    else:  # the fallback: weight shares of the samples (tiny.yaml: few 2, one 1)
        requested = {"few": SAMPLES * 2 / 3, "one": SAMPLES * 1 / 3}
        assert stats["scenarios"]["source"] == "weights"
        assert "weight" in stats["scenarios"]["note"]
    assert {k: r["requested"] for k, r in rows.items()} == pytest.approx(requested)
    for name, n in exp["scenarios"].items():
        assert cell(tables, "scenarios", name, "counted") == n
        assert cell(tables, "scenarios", name, "requested") == pytest.approx(requested[name], rel=1e-5)
    assert {"few", "one"} <= set(rows)


def test_object_figures(reported):
    stats, tables, exp = reported["stats"], reported["tables"], reported["expected"]
    assert stats["classes"] == dict(exp["classes"])
    for name, n in exp["classes"].items():
        assert cell(tables, "classes", name, "objects") == n
    assert stats["objects_per_scene"]["counts"] == {str(k): v for k, v in sorted(exp["objects_per_scene"].items())}
    for n, scenes in exp["objects_per_scene"].items():
        assert cell(tables, "objects_per_scene", str(n), "scenes") == scenes
    for key, values in (("object_size_m", exp["sizes"]), ("visible_fraction", exp["visible"])):
        assert stats[key]["count"] == len(values)
        assert stats[key]["mean"] == pytest.approx(np.mean(values), rel=1e-12)
        assert stats[key]["max"] == pytest.approx(max(values), rel=1e-12)
        assert cell(tables, "distributions", key, "mean") == pytest.approx(np.mean(values), rel=1e-5)


def test_depth_mean_and_percentiles_are_exact(reported):
    stats, tables, depth = reported["stats"], reported["tables"], reported["expected"]["depth"]
    d = stats["depth_m"]
    assert d["count"] == depth.size and d["samples"] == SAMPLES
    assert d["mean"] == pytest.approx(depth.mean(), rel=1e-12)
    assert d["min"] == pytest.approx(depth.min()) and d["max"] == pytest.approx(depth.max())
    for q in (1, 5, 25, 50, 75, 95, 99):  # depth codes are whole mm: percentiles are exact
        assert d[f"p{q}"] == pytest.approx(np.percentile(depth, q), abs=1e-9), q
    assert cell(tables, "distributions", "depth_m", "mean") == pytest.approx(depth.mean(), rel=1e-5)
    assert cell(tables, "distributions", "depth_m", "p50") == pytest.approx(np.median(depth), rel=1e-5)
    assert sum(d["histogram"]["counts"]) == depth.size


def test_brightness_and_speed(reported):
    stats, tables, exp = reported["stats"], reported["tables"], reported["expected"]
    assert stats["brightness"]["count"] == SAMPLES
    assert stats["brightness"]["mean"] == pytest.approx(np.mean(exp["brightness"]), rel=1e-12)
    assert stats["brightness"]["min"] == pytest.approx(min(exp["brightness"]), rel=1e-12)
    assert cell(tables, "distributions", "brightness", "mean") == pytest.approx(np.mean(exp["brightness"]), rel=1e-5)
    assert exp["speeds"], "the tiny dataset has moving objects"
    assert stats["speed_m_s"]["count"] == len(exp["speeds"])
    assert stats["speed_m_s"]["mean"] == pytest.approx(np.mean(exp["speeds"]), rel=1e-12)
    assert cell(tables, "distributions", "speed_m_s", "mean") == pytest.approx(np.mean(exp["speeds"]), rel=1e-5)
    # Percentiles of values on a 0.001 grid: within half a step of numpy's.
    assert stats["speed_m_s"]["p50"] == pytest.approx(np.median(exp["speeds"]), abs=0.0005 + 1e-12)


def test_html_is_self_contained_and_every_png_exists(reported):
    out, stats, html = reported["out"], reported["stats"], reported["html"]
    links = Tables(html).links
    assert links, "the report embeds pictures"
    assert all(k == "src" and v.startswith("data:image/png;base64,") for k, v in links)
    assert not re.search(r"https?://", html)
    assert "<script" not in html.lower() and "<link" not in html.lower()
    embedded = {base64.b64decode(v.split(",", 1)[1]) for _, v in links}
    pngs = [f for f in stats["files"] if f.endswith(".png")]
    assert {"scenarios.png", "classes.png", "depth.png", "brightness.png", "speed.png", "previews.png"} <= set(pngs)
    for name in pngs:
        data = (out / name).read_bytes()
        with Image.open(io.BytesIO(data)) as im:
            im.load()
            assert im.format == "PNG" and im.width > 0
        assert data in embedded, name  # the file is the picture the page shows
    assert len(embedded) == len(pngs)
    assert sorted(stats["files"]) == sorted(p.name for p in out.iterdir())


def test_previews_show_the_first_samples_first_frames(dataset, reported):
    with Image.open(reported["out"] / "previews.png") as im:
        grid = np.asarray(im.convert("RGB"))
    first = read_samples(dataset[0], ["tiny-000000.tar"])[0][2]
    rgb = np.asarray(Image.open(io.BytesIO(first["rgb.png"])).convert("RGB"))
    H, W = json.loads(first["json"])["height"], json.loads(first["json"])["width"]
    # The first tile is the first frame enlarged 4x (32 px -> 128 px), under a 16 px label.
    tile = grid[16 : 16 + 128, 0:128]
    assert np.array_equal(tile[:: 128 // H, :: 128 // W], rgb[:H])


def test_card_names_provenance_and_licences(dataset, reported):
    folder, _ = dataset
    manifest = json.loads((folder / "manifest.json").read_text())  # read independently
    card = (reported["out"] / "DATASET_CARD.md").read_text()
    commit = manifest["generator"]["git_commit"]
    if commit:
        assert commit in card
    assert manifest["config_hash"] in card
    assert re.search(rf"\| seed \| {manifest['seed']} \|", card)
    assert "| data (this dataset) | CC-BY-4.0 |" in card
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["license"]
    code_licence = declared["text"] if isinstance(declared, dict) else declared  # an SPDX string since PEP 639
    assert re.search(rf"\| generator code \(factory\) \| {re.escape(code_licence)} \|", card)
    # Versions of the libraries that made the data are the manifest's; a reader's is
    # the one installed here, and says so.
    assert manifest["generator"]["python"] == platform.python_version()
    assert re.search(rf"\| Python \| {re.escape(platform.python_version())} \|", card)
    for lib in (
        "numpy",
        "mujoco-core",
        "warp-lang",
        "trimesh",
        "deflate",
        "opencv-python-headless",
        "pydantic",
        "pyyaml",
    ):
        version = importlib.metadata.version(lib)
        assert manifest["generator"]["libraries"][lib] == version
        assert card_line(card, f"library: {lib} ").endswith(f"| {version} |")
    assert not {"torch", "array-api-compat"} & set(manifest["generator"]["libraries"])  # Warp renders
    pillow = importlib.metadata.version("pillow")
    assert card_line(card, "library: pillow ").endswith(f"| {pillow} (installed here) |")
    assert "BSD" in card_line(card, "library: numpy ")
    assert "config hash matches the config block | yes" in card
    assert "## Known limits of procedural data" in card and "## Intended use" in card
    assert f"| samples requested | {SAMPLES} |" in card and "| shards | 3 |" in card
    assert f"{manifest['bytes']:,}" in card and manifest["created"] in card
    assert "name: tiny" in card  # the resolved config, as YAML


def card_line(card: str, first_cell: str) -> str:
    """The card's table row whose first cell starts with ``first_cell``."""
    return next(ln for ln in card.splitlines() if ln.startswith(f"| {first_cell}")).rstrip()


def test_card_versions_come_from_the_manifest(dataset, tmp_path):
    """A recorded version is shown even where another is installed, or none is (torch,
    from a dataset the PyTorch renderer made); a manifest from before versions were
    recorded gets the installed ones, marked as such."""
    folder, _ = dataset
    recorded = Path(shutil.copytree(folder, tmp_path / "recorded"))
    manifest = json.loads((recorded / "manifest.json").read_text())
    manifest["generator"]["libraries"] = {"numpy": "1.0.0", "warp-lang": "1.18.0", "torch": "2.13.0"}
    (recorded / "manifest.json").write_text(json.dumps(manifest))
    card = report_card(recorded, tmp_path / "r1")
    assert card_line(card, "library: numpy ").endswith("| 1.0.0 |")
    assert importlib.metadata.version("warp-lang") != "1.18.0"
    assert card_line(card, "library: warp-lang ").endswith("| 1.18.0 |")
    assert card_line(card, "library: torch ").endswith("| 2.13.0 |")
    assert not any(ln.startswith("| library: pyyaml ") for ln in card.splitlines())  # not recorded: not used

    del manifest["generator"]["libraries"]
    (recorded / "manifest.json").write_text(json.dumps(manifest))
    card = report_card(recorded, tmp_path / "r2")
    numpy_here = importlib.metadata.version("numpy")
    assert card_line(card, "library: numpy ").endswith(f"| {numpy_here} (installed here) |")


def report_card(folder: Path, out: Path) -> str:
    report(folder, out, "--previews", "1")
    return (out / "DATASET_CARD.md").read_text()


def test_report_is_deterministic(dataset, reported, tmp_path):
    stats = report(dataset[0], tmp_path)
    for name in reported["stats"]["files"]:
        if name not in ("stats.json", "report.html"):
            assert (tmp_path / name).read_bytes() == (reported["out"] / name).read_bytes(), name
    # factory.trust.diversity's gradient_mean moves in its ~10th digit between runs (OpenCV's
    # float32 cv2.magnitude takes a different path with the buffer's alignment): the
    # feature table and stats.json are compared to 1e-6, everything else exactly.
    assert same_numbers(stats, reported["stats"])
    features = re.compile(r'<table id="features">.*?</table>', re.S)
    assert features.sub("", (tmp_path / "report.html").read_text()) == features.sub("", reported["html"])


def same_numbers(a, b) -> bool:
    """``a`` equals ``b``, floats to a relative 1e-6."""
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(same_numbers(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return isinstance(b, list) and len(a) == len(b) and all(same_numbers(x, y) for x, y in zip(a, b))
    if isinstance(a, float):
        return a == pytest.approx(b, rel=1e-6, abs=1e-12)
    return a == b


def test_planted_duplicate_raises_the_near_duplicate_rate(dataset, reported, tmp_path):
    folder, _ = dataset
    plain = tmp_path / "plain"  # a plain WebDataset: the tars, no manifest, plus one more
    plain.mkdir()
    for tar in folder.glob("*.tar"):
        shutil.copy(tar, plain / tar.name)
    first = read_samples(folder, ["tiny-000000.tar"])[0][2]
    with tarfile.open(plain / "zz-extra.tar", "w") as tar:
        for member, data in first.items():
            info = tarfile.TarInfo(f"copy0000000.{member}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    base = reported["stats"]["diversity"]
    stats = report(plain, tmp_path / "out")
    div = stats["diversity"]
    assert stats["dataset"]["kind"] == "webdataset" and stats["dataset"]["samples_read"] == SAMPLES + 1
    assert div["pictures"] == SAMPLES + 1
    assert div["near_duplicate_rate"] > base["near_duplicate_rate"]
    pair = {"a": "tiny-000000.tar/0000000000", "b": "zz-extra.tar/copy0000000", "distance": 0}
    assert pair in div["pair_examples"]
    # Exactly: the base dataset's duplicated samples plus the original and its copy.
    originally = {p["a"] for p in base["pair_examples"]} | {p["b"] for p in base["pair_examples"]}
    expected = len(originally | {pair["a"], pair["b"]}) / (SAMPLES + 1)
    assert div["near_duplicate_rate"] == pytest.approx(expected)
    tables = Tables((tmp_path / "out" / "report.html").read_text()).tables
    assert float(tables["near_duplicates"]["near_duplicate_rate"]["value"]) == pytest.approx(expected, rel=1e-5)
    card = (tmp_path / "out" / "DATASET_CARD.md").read_text()
    assert "has no factory manifest" in card


def write_real(folder: Path, n: int = 6) -> list[int]:
    """A real-style WebDataset: one shard of ``png`` + ``cls`` samples, flat dark grey
    24 x 24 pictures; returns each picture's grey level."""
    folder.mkdir()
    levels = [10 + 3 * i for i in range(n)]
    with tarfile.open(folder / "real-000000.tar", "w") as tar:
        for i, level in enumerate(levels):
            buf = io.BytesIO()
            Image.fromarray(np.full((24, 24, 3), level, np.uint8)).save(buf, format="PNG")
            for member, data in (("png", buf.getvalue()), ("cls", str(i % 2).encode())):
                info = tarfile.TarInfo(f"img{i:04d}.{member}")
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    return levels


def test_real_webdataset_without_ground_truth(tmp_path):
    levels = write_real(tmp_path / "real")
    stats = report(tmp_path / "real", tmp_path / "out")
    assert stats["dataset"]["kind"] == "webdataset" and stats["dataset"]["samples_read"] == len(levels)
    # Flat grey: luma = 0.299 g + 0.587 g + 0.114 g = g.
    assert stats["brightness"]["count"] == len(levels)
    assert stats["brightness"]["mean"] == pytest.approx(np.mean(levels), rel=1e-12)
    assert stats["depth_m"]["count"] == 0 and stats["classes"] == {} and stats["scenarios"]["rows"] == []
    assert stats["diversity"]["pictures"] == len(levels)
    assert "depth.png" not in stats["files"] and "previews.png" in stats["files"]
    html = (tmp_path / "out" / "report.html").read_text()
    assert "No depth at pixels with a surface, all frames" in html
    assert "has no factory manifest" in (tmp_path / "out" / "DATASET_CARD.md").read_text()


def test_reference_comparison(dataset, tmp_path):
    folder, _ = dataset
    real = tmp_path / "real"  # real-style pictures: dark, flat grey
    write_real(real)
    same = report(folder, tmp_path / "same", "--reference", folder)["diversity"]["reference"]
    assert same["frechet"] == pytest.approx(0, abs=1e-9)  # (1e-9, not 0: see test_report_is_deterministic)
    assert all(v == pytest.approx(0, abs=1e-6) for v in same["per_feature"].values())
    assert same["cross_duplicates"] == 1.0
    other = report(folder, tmp_path / "other", "--reference", real)
    ref = other["diversity"]["reference"]
    assert ref["pictures"] == 6 and ref["cross_duplicates"] == 0.0
    assert ref["frechet"] > 1.0
    assert "drift.png" in other["files"]
    tables = Tables((tmp_path / "other" / "report.html").read_text()).tables
    assert float(tables["reference"]["frechet"]["value"]) == pytest.approx(ref["frechet"], rel=1e-5)


def test_max_samples_bounds_the_work(dataset, tmp_path):
    folder, manifest = dataset
    broken = tmp_path / "broken"
    shutil.copytree(folder, broken)
    last = broken / manifest["shards"][-1]["name"]
    last.write_bytes(last.read_bytes()[:1000])  # truncated: reading it fails
    stats = report(broken, tmp_path / "out", "--max-samples", 5)
    assert stats["dataset"]["samples_read"] == 5
    assert stats["dataset"]["shards_read"] == ["tiny-000000.tar", "tiny-000001.tar"]
    exp = expected_figures(read_samples(folder, ["tiny-000000.tar", "tiny-000001.tar"])[:5])
    assert {r["scenario"]: r["counted"] for r in stats["scenarios"]["rows"] if r["counted"]} == dict(exp["scenarios"])
    assert stats["depth_m"]["mean"] == pytest.approx(exp["depth"].mean(), rel=1e-12)
    assert stats["classes"] == dict(exp["classes"])
    assert "first 5 of 12 samples" in (tmp_path / "out" / "report.html").read_text()


def test_a_corrupt_shard_is_a_clear_error(dataset, tmp_path, capsys):
    folder, manifest = dataset
    broken = tmp_path / "broken"
    shutil.copytree(folder, broken)
    name = manifest["shards"][-1]["name"]
    (broken / name).write_bytes((broken / name).read_bytes()[:1000])
    assert main(["report", str(broken), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert name in err and ("truncated" in err or "cut short" in err)
    assert not (tmp_path / "out" / "report.html").exists()


def test_no_dataset_exits_2_with_a_clear_message(tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["report", str(empty), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert str(empty) in err and "no manifest.json and no .tar shards" in err
    assert not (tmp_path / "out").exists()


def test_bad_arguments_exit_2(dataset, tmp_path, capsys):
    for args in (["--max-samples", "0"], ["--previews", "-1"], []):
        with pytest.raises(SystemExit) as e:
            main(["report", str(dataset[0]), *args] + (["--out", str(tmp_path)] if args else []))
        assert e.value.code == 2
    err = capsys.readouterr().err
    assert "--max-samples" in err and "must be >= 1, got 0" in err and "--out" in err


def test_mixed_dataset_card_names_every_source_licence(dataset, tmp_path):
    folder, manifest = dataset
    mixed = tmp_path / "mixed"
    mixed.mkdir()
    for r in manifest["shards"]:
        shutil.copy(folder / r["name"], mixed / r["name"])
    sources = [
        {"role": "synthetic", "url": str(folder), "name": "tiny", "licence": "CC-BY-4.0", "samples_used": 9},
        {"role": "real", "url": "s3://bucket/photos", "name": "photos", "licence": "CC-BY-NC-2.0", "samples_used": 3},
    ]
    doc = {
        k: manifest[k]
        for k in (
            "format",
            "created",
            "generator",
            "samples",
            "samples_written",
            "shard_size",
            "bytes",
            "max_failures",
            "failures",
            "shards",
        )
    }
    doc.update(
        kind="mix",
        name="mix",
        prefix="tiny",
        seed=0,
        ratio=0.25,
        sources=sources,
        licence="synthetic: CC-BY-4.0; real: CC-BY-NC-2.0",
    )
    (mixed / "manifest.json").write_text(json.dumps(doc))
    stats = report(mixed, tmp_path / "out")
    assert stats["dataset"]["kind"] == "mix"
    card = (tmp_path / "out" / "DATASET_CARD.md").read_text()
    assert "| synthetic source: tiny | CC-BY-4.0 |" in card
    assert "| real source: photos | CC-BY-NC-2.0 |" in card
    assert "synthetic: CC-BY-4.0; real: CC-BY-NC-2.0" in card
    assert "Configuration" in card and "Not recorded." in card


def test_matplotlib_is_imported_only_to_plot():
    code = textwrap.dedent("""
        import sys
        import factory.cli, factory.trust.report, factory.trust.report.build, factory.commands.report
        factory.cli.build_parser()
        assert "matplotlib" not in sys.modules, "imported too early"
        from factory.trust.report import plots
        plots.bars("t", ["a"], {"s": [1]}, ylabel="y")
        assert "matplotlib" in sys.modules
        print("ok")
    """)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


def test_distribution_is_exact_on_its_grid_and_bounded():
    rng = np.random.default_rng(5)
    codes = rng.integers(1, 40000, 5000)  # depth codes in mm
    d = Distribution(0.001, "m")
    d.add_grid(codes[:2000])
    d.add_grid(codes[2000:])
    metres = codes / 1000.0
    assert d.count == codes.size and d.mean == pytest.approx(metres.mean(), rel=1e-12)
    for q in (0, 1, 37.5, 50, 99, 100):
        assert d.percentile(q) == pytest.approx(np.percentile(metres, q), abs=1e-12), q
    edges, counts = d.histogram(40)
    assert counts.sum() == codes.size and len(edges) == 41
    values = rng.random(3000) * 3.0  # off the grid: within half a step
    e = Distribution(0.01)
    e.add(values)
    for q in (5, 50, 95):
        assert abs(e.percentile(q) - np.percentile(values, q)) <= 0.005 + 1e-12
    assert e.std() == pytest.approx(values.std(), abs=0.01)
    f = Distribution(0.001)
    f.add([1.0, float("nan"), -2.0, float("inf"), 1e12])
    assert (f.count, f.rejected, f.clamped) == (2, 3, 1)
    assert f.max == 1e12 and f.counts.size <= 1 << 20
