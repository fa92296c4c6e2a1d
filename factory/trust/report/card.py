"""The dataset card (Markdown): what a reviewer needs before trusting a dataset.

:func:`dataset_card` writes it from the report's stats document (see
:func:`factory.trust.report.build.stats_document`) and the manifest: provenance (generator,
version, git commit, config and its hash, seed), the licence of every component,
every asset licence with its counts and the attribution of every asset that asks for it
(from the manifest's ``assets`` section, counted over all shards), counts, bytes,
creation time, the scenario table, intended use and the known limits of procedurally
generated data. Fields a dataset does not record say so rather than
being left out.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from factory.trust.report import licences

INTENDED_USE = """\
* Training and evaluating models where exact, dense ground truth matters and real
  labels are expensive or impossible: metric depth, optical flow, instance and semantic
  segmentation, surface normals, 2D/3D boxes, object tracking and camera pose.
* Pre-training before fine-tuning on real data, and controlled experiments: each
  scenario's parameters are known for every sample (`params` in the json member), so a
  model can be probed on exactly the conditions that vary.
* Testing data pipelines and training code end to end with data of a known shape.
* Not a substitute for evaluation on real data, and not a measurement of how often
  anything happens in the world: every frequency in it was chosen by a config author."""

KNOWN_LIMITS = """\
* **Simple geometry.** Objects are analytic primitives, a few triangle meshes,
  procedural meshes (bottles, cups, gears, letters, rocks, furniture, ...) and, where a
  config draws them, the assets of licensed packs (at most a few dozen to a few
  hundred models, decimated), on a flat floor, optionally inside a box room. No
  deformable or articulated objects, no people.
* **Few real materials.** Pack assets carry their own colours and image textures
  (downscaled); everything else is a flat colour or a procedural pattern (checker,
  stripes, cell noise). All of it shades with a Blinn-Phong highlight: no measured
  materials, no transparency, reflections or refraction.
* **Simple lighting.** A few directional or point lights with hard shadows plus a
  constant ambient term; no global illumination, soft shadows, sky model or
  interreflections.
* **Synthetic camera.** An ideal pinhole (no lens distortion, vignetting or
  chromatic aberration), optional i.i.d. Gaussian noise on 8-bit values and optional
  shutter blur; no rolling shutter, auto exposure, white balance, demosaicing or
  compression artefacts (the optional MP4 member is for viewing only).
* **Simplified physics.** Rigid bodies with simple contacts, friction and restitution;
  motion is plausible, not validated against real dynamics.
* **Class names are shapes and sources.** Semantic classes are the primitive shapes,
  floor, wall and furniture, then the generators and the packs' categories a config
  draws (Sweet Home 3D's are rooms: kitchen, bedroom, ...), not a curated taxonomy of
  real-world objects.
* **Depth range.** Depth is stored in millimetres in 16 bits: it saturates at 65.535 m
  and is 0 (no surface) on the sky.
* **Domain gap.** Models trained only on these images see cleaner, simpler pictures
  than real cameras produce; expect a drop on real data and measure it (for example with
  `factory compare` or this report's `--reference`) before relying on transfer."""


def _v(value: Any, missing: str = "not recorded") -> str:
    if value is None or value == "":
        return missing
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def _cell(value: Any) -> str:
    return _v(value, "-").replace("|", "\\|").replace("\n", " ")


def _table(header: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def dataset_card(stats: Mapping[str, Any], manifest: Mapping[str, Any] | None, config_yaml: str | None) -> str:
    """The card's Markdown text. ``config_yaml`` is the resolved config as YAML (None
    when the dataset records no config)."""
    ds = stats["dataset"]
    manifest = manifest or {}
    name = ds.get("name") or ds["url"]
    out = [f"# Dataset card: {name}", ""]
    if not manifest:
        out += [
            "This dataset has no factory manifest: provenance, configuration and licence are not recorded, "
            "and every figure below comes from the samples alone.",
            "",
        ]
    out += _summary(ds, manifest) + _provenance(stats) + _licences(stats["licences"])
    out += asset_licences(stats["licences"].get("assets")) + _scenarios(stats)
    out += _contents(stats)
    out += ["## Intended use", "", INTENDED_USE, "", "## Known limits of procedural data", "", KNOWN_LIMITS, ""]
    out += _configuration(stats["provenance"], config_yaml)
    return "\n".join(out)


def _summary(ds: Mapping[str, Any], manifest: Mapping[str, Any]) -> list[str]:
    """Where the dataset is, its size and shape, and how much of it was read."""
    return [
        "## Summary",
        "",
        _table(
            ["field", "value"],
            [
                ["location", ds["url"]],
                ["kind", ds["kind"]],
                ["format", manifest.get("format")],
                ["samples requested", ds.get("samples")],
                ["samples written", ds.get("samples_written")],
                ["failed samples (skipped)", ds.get("failures")],
                ["shards", ds.get("shards")],
                ["bytes", f"{ds['bytes']:,}" if isinstance(ds.get("bytes"), int) else None],
                ["created", ds.get("created")],
                [
                    "clip shape (frames x height x width)",
                    ", ".join(
                        f"{c['frames']} x {c['height']} x {c['width']} ({c['samples']} samples)"
                        for c in ds["clip_shapes"]
                    )
                    or None,
                ],
                ["samples read for this card", ds["samples_read"]],
            ],
        ),
        "",
    ]


def _provenance(stats: Mapping[str, Any]) -> list[str]:
    """What made the data: generator, version, commit, config hash, seed."""
    prov = stats["provenance"]
    gen = prov.get("generator") or {}
    dirty = gen.get("git_dirty")
    return [
        "## Provenance",
        "",
        _table(
            ["field", "value"],
            [
                ["generator", gen.get("name")],
                ["generator version", gen.get("version")],
                ["git commit", gen.get("git_commit")],
                ["uncommitted changes when generated", {True: "yes", False: "no"}.get(dirty, "unknown")],
                ["Python", gen.get("python")],
                ["config hash (sha256 of the canonical resolved config)", prov.get("config_hash")],
                [
                    "config hash matches the config block",
                    {True: "yes", False: "NO"}.get(prov.get("config_hash_verified"), "not checked (no config)"),
                ],
                ["seed", prov.get("seed")],
                ["report made by", f"factory {stats['report']['factory_version']}"],
            ],
        ),
        "",
    ]


def _licences(lic: Mapping[str, Any]) -> list[str]:
    """The licence of every component: the data, its sources, the generator, the libraries."""
    return [
        "## Licences",
        "",
        _table(
            ["component", "licence", "version"],
            [
                [
                    "data (this dataset)",
                    f"{lic.get('data')} ({lic['data_note']})" if lic.get("data_note") else lic.get("data"),
                    None,
                ],
                *[
                    [f"{s.get('role', '?')} source: {s.get('name') or s.get('url')}", s.get("licence"), None]
                    for s in lic["sources"]
                ],
                [
                    f"generator code ({lic['generator']['name']})",
                    lic["generator"]["licence"],
                    lic["generator"]["version"],
                ],
                *[
                    [f"library: {lib['name']} ({lib['role']})", lib["licence"], licences.version_label(lib)]
                    for lib in lic["libraries"]
                ],
            ],
        ),
        "",
        'Versions are those the manifest recorded when the data was made; "(installed here)" marks a '
        "version read where this card was made, for libraries that only read the data or that the manifest "
        "does not record.",
        "",
    ]


GENERATED_NOTE = (
    "Generated objects are factory's own: made by its generators (factory/assets/generators/) from the "
    "parameters each object records, licensed CC0-1.0 with factory as creator, and counted under that licence "
    "(column 'generated by factory')."
)


def asset_licences(assets: Mapping[str, Any] | None) -> list[str]:
    """Every asset licence with its counts, and the attribution list: creator, title and
    source of each asset whose licence asks for attribution (every CC-BY asset used)."""
    out = ["## Asset licences", ""]
    if assets is None:
        return out + [
            "Not recorded: the manifest has no assets section (no manifest, or one made before "
            "factory counted asset licences).",
            "",
        ]
    packs = ", ".join(
        f"{k} ({p.get('name')} version {p.get('version')}, {p.get('url')})"
        for k, p in (assets.get("packs") or {}).items()
    )
    out += [
        f"Each generated or pack object carries its own licence (`objects[*].asset` in its sample), and so "
        f"does each HDRI backdrop (`backdrop.asset`). "
        f"{_v(assets.get('samples'))} samples hold such assets, counted over every shard when the dataset was "
        f"written. Allowed licences: {', '.join(assets.get('allowed_licences') or []) or 'not recorded'}; "
        f"pack split: {_v(assets.get('split'))}; packs: {packs or 'none'}.",
        "",
    ]
    if assets.get("uncounted_shards"):
        out += [f"Not counted (shards recorded by an older factory): {', '.join(assets['uncounted_shards'])}.", ""]
    rows = [
        [
            spdx,
            r.get("name"),
            r.get("objects"),
            r.get("generated"),
            r.get("samples"),
            r.get("backdrops", 0),
            "yes" if r.get("attribution") else "no",
        ]
        for spdx, r in (assets.get("licences") or {}).items()
    ]
    if rows:
        header = [
            "licence (SPDX)",
            "name",
            "objects",
            "generated by factory",
            "samples",
            "samples lit by a backdrop",
            "attribution required",
        ]
        out += [_table(header, rows), "", GENERATED_NOTE, ""]
    credits = assets.get("attribution") or []
    out += ["### Attribution", ""]
    if not credits:
        out += ["No asset used asks for attribution.", ""]
    else:
        out += [f"The {len(credits)} assets used whose licence asks for attribution:", ""]
        out += [_table(CREDIT_HEADER, [_credit(e) for e in credits]), ""]
    return out + _backdrops(assets.get("backdrops") or [])


CREDIT_HEADER = ["creator", "title", "source", "licence", "asset"]


def _credit(e: Mapping[str, Any]) -> list:
    """One row of an attribution table: who made the asset, what and where, its licence."""
    if "pack" in e:
        what = f"pack {e['pack']}, asset {e.get('id')}"
    elif "backdrop" in e:
        what = f"backdrop pack {e['backdrop']}, backdrop {e.get('id')}"
    else:
        what = f"generator {e.get('generator')}"
    return [e.get("creator"), e.get("title"), e.get("url"), e.get("licence"), what]


def _backdrops(used: list[Mapping[str, Any]]) -> list[str]:
    """Every HDRI backdrop used, with its creator, whatever its licence: the curated
    ones are CC0 (Greg Zaal and others of Poly Haven) and credited all the same."""
    if not used:
        return []
    return [
        "### Backdrops",
        "",
        f"The {len(used)} HDRI backdrops used (each lights and is seen behind its samples), credited whatever "
        "their licence asks:",
        "",
        _table(CREDIT_HEADER, [_credit(e) for e in used]),
        "",
    ]


def _scenarios(stats: Mapping[str, Any]) -> list[str]:
    """The scenario table, and the samples per mix source."""
    sc = stats["scenarios"]
    out = ["## Scenarios", "", sc["note"] + ".", ""]
    if sc["rows"]:
        out += [
            _table(
                ["scenario", "weight", "minimum", "requested", "achieved (manifest)", "counted in samples read"],
                [
                    [r["scenario"], r["weight"], r["minimum"], r["requested"], r["achieved_manifest"], r["counted"]]
                    for r in sc["rows"]
                ],
            ),
            "",
        ]
    if stats.get("sources"):
        out += ["Samples by source (mix): " + ", ".join(f"{k} {v}" for k, v in stats["sources"].items()) + ".", ""]
    return out


def _contents(stats: Mapping[str, Any]) -> list[str]:
    """The headline figures of the samples read."""
    return [
        "## Contents (from the samples read)",
        "",
        _table(
            ["figure", "value"],
            [
                ["object classes (objects)", ", ".join(f"{k} {v}" for k, v in stats["classes"].items()) or None],
                [
                    "objects per scene (scenes)",
                    ", ".join(f"{k}: {v}" for k, v in stats["objects_per_scene"]["counts"].items()) or None,
                ],
                ["object size: largest full extent 2 x max(dims), mean (m)", stats["object_size_m"]["mean"]],
                ["depth mean / median (m)", _pair(stats["depth_m"], "mean", "p50")],
                ["brightness: mean luma per sample, mean (0..255)", stats["brightness"]["mean"]],
                ["motion speed of moving objects, mean (m/s)", stats["speed_m_s"]["mean"]],
                ["near-duplicate rate (perceptual hash, first frames)", stats["diversity"]["near_duplicate_rate"]],
            ],
        ),
        "",
    ]


def _configuration(prov: Mapping[str, Any], config_yaml: str | None) -> list[str]:
    """The resolved config, or that none was recorded."""
    if config_yaml is None:
        return ["## Configuration", "", "Not recorded.", ""]
    return [
        "## Configuration",
        "",
        f"Resolved config (every default filled in), hash `{_v(prov.get('config_hash'))}`:",
        "",
        "```yaml",
        config_yaml.rstrip("\n"),
        "```",
        "",
    ]


def _pair(summary: Mapping[str, Any], a: str, b: str) -> str | None:
    if summary.get(a) is None:
        return None
    return f"{summary[a]:.6g} / {summary[b]:.6g}"
