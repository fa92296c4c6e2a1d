"""The report as one self-contained HTML page: inline CSS, every picture a
``data:image/png;base64`` URI, no scripts and no external links, so it opens offline
and can be mailed or attached as a single file.

Tables carry their figures in machine-readable form too: ``<table id="...">``, one
``<tr data-key="...">`` per row and ``<td data-col="...">`` per cell, so tools (and
the tests) can read a cell without parsing the layout. Numbers are printed with six
significant digits; every exact value is in stats.json.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

from factory.trust.report import licences
from factory.trust.report.images import HISTOGRAMS

CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2em auto; max-width: 1100px;
       color: #222; padding: 0 1em; }
h1 { font-size: 1.6em; } h2 { border-bottom: 1px solid #ccc; padding-bottom: .2em; margin-top: 2em; }
table { border-collapse: collapse; margin: .6em 0; font-size: .92em; }
th, td { border: 1px solid #ddd; padding: .25em .6em; text-align: left; vertical-align: top; }
td[data-col]:not([data-col="name"]) { font-variant-numeric: tabular-nums; }
th { background: #f4f4f4; }
figure { margin: .8em 0; } figcaption { color: #666; font-size: .85em; }
img { max-width: 100%; image-rendering: pixelated; }
.note { color: #555; font-size: .92em; } .warn { color: #a33; }
pre { background: #f7f7f7; padding: .8em; overflow-x: auto; font-size: .85em; }
"""


def fmt(value: Any) -> str:
    """A cell's text: integers as digits, floats with six significant digits, None as -."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def table(
    tid: str,
    header: Sequence[tuple[str, str]],
    rows: Sequence[tuple[str, Mapping[str, Any]]],
    row_heading: str | None = None,
) -> str:
    """``header``: (column key, heading); ``rows``: (row key, {column key: value}).
    With ``row_heading``, each row starts with its key as a heading cell under that title."""
    head = (f"<th>{escape(row_heading)}</th>" if row_heading else "") + "".join(
        f"<th>{escape(h)}</th>" for _, h in header
    )
    body = "".join(
        f'<tr data-key="{escape(str(key))}">'
        + (f"<th>{escape(str(key))}</th>" if row_heading else "")
        + "".join(f'<td data-col="{escape(c)}">{escape(fmt(vals.get(c)))}</td>' for c, _ in header)
        + "</tr>"
        for key, vals in rows
    )
    return f'<table id="{escape(tid)}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def figure(name: str, pictures: Mapping[str, bytes], alt: str) -> str:
    if name not in pictures:
        return f'<p class="note">No {escape(alt.lower())}: the samples read have nothing to show.</p>'
    uri = "data:image/png;base64," + base64.b64encode(pictures[name]).decode("ascii")
    return (
        f'<figure><img alt="{escape(alt)}" src="{uri}"><figcaption>{escape(alt)} ({escape(name)})</figcaption></figure>'
    )


SUMMARY_COLS = (
    ("count", "n"),
    ("mean", "mean"),
    ("std", "std"),
    ("min", "min"),
    ("p5", "p5"),
    ("p25", "p25"),
    ("p50", "median"),
    ("p75", "p75"),
    ("p95", "p95"),
    ("max", "max"),
)


def page(stats: Mapping[str, Any], pictures: Mapping[str, bytes], *, card_text: str, config_yaml: str | None) -> str:
    """The whole HTML document."""
    ds = stats["dataset"]
    heading = f"factory report: {ds.get('name') or ds['url']}"
    parts = [
        f"<h1>{escape(heading)}</h1>",
        *_dataset(stats),
        *_scenarios(stats, pictures),
        *_objects(stats, pictures),
        *_distributions(stats, pictures),
        _diversity(stats["diversity"], pictures),
        "<h2 id='previews-section'>Samples</h2>",
        figure("previews.png", pictures, "First frame of the first samples, with keys"),
        figure("contact.png", pictures, "Every modality of the first sample, middle frame"),
        *_licences(stats["licences"]),
        *_card(card_text, config_yaml),
    ]
    body = "\n".join(parts)
    return (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(heading)}</title><style>{CSS}</style></head>\n<body>\n{body}\n</body></html>\n"
    )


def _dataset(stats: Mapping[str, Any]) -> list[str]:
    """The Dataset section: where the data is, how much was read, its provenance."""
    ds, prov = stats["dataset"], stats["provenance"]
    gen = prov.get("generator") or {}
    parts = [
        "<h2 id='dataset-section'>Dataset</h2>",
        table(
            "dataset",
            (("value", "value"),),
            [
                ("url", {"value": ds["url"]}),
                ("kind", {"value": ds["kind"]}),
                ("samples", {"value": ds.get("samples")}),
                ("samples_written", {"value": ds.get("samples_written")}),
                ("failures", {"value": ds.get("failures")}),
                ("shards", {"value": ds.get("shards")}),
                ("bytes", {"value": ds.get("bytes")}),
                ("created", {"value": ds.get("created")}),
                ("samples_read", {"value": ds["samples_read"]}),
                ("shards_read", {"value": len(ds["shards_read"])}),
                ("generator", {"value": f"{gen.get('name')} {gen.get('version')}" if gen else None}),
                ("git_commit", {"value": gen.get("git_commit")}),
                ("python", {"value": gen.get("python")}),
                ("config_hash", {"value": prov.get("config_hash")}),
                ("config_hash_verified", {"value": prov.get("config_hash_verified")}),
                ("seed", {"value": prov.get("seed")}),
                ("licence", {"value": stats["licences"].get("data")}),
            ],
            row_heading="field",
        ),
    ]
    if ds["samples"] is not None and ds["samples_read"] < ds["samples"]:
        parts.append(
            f'<p class="note">Figures below are from the first {ds["samples_read"]} of '
            f"{ds['samples']} samples (--max-samples).</p>"
        )
    if stats["errors"]["count"]:
        parts.append(
            f'<p class="warn">{stats["errors"]["count"]} members could not be decoded; first ones:</p>'
            f"<pre>{escape(chr(10).join(stats['errors']['examples']))}</pre>"
        )
    return parts


def _scenarios(stats: Mapping[str, Any], pictures: Mapping[str, bytes]) -> list[str]:
    """Scenarios requested vs achieved, and the samples per mix source."""
    sc = stats["scenarios"]
    parts = [
        "<h2 id='scenarios-section'>Scenarios: requested vs achieved</h2>",
        f'<p class="note">{escape(sc["note"])}.</p>',
    ]
    if sc["rows"]:
        parts.append(
            table(
                "scenarios",
                (
                    ("scenario", "scenario"),
                    ("weight", "weight"),
                    ("minimum", "minimum"),
                    ("requested", "requested"),
                    ("achieved_manifest", "achieved (manifest)"),
                    ("counted", "counted in samples read"),
                ),
                [(r["scenario"], r) for r in sc["rows"]],
            )
        )
    parts.append(figure("scenarios.png", pictures, "Samples per scenario"))
    if stats["sources"]:
        parts.append(
            table(
                "sources",
                (("source", "source"), ("samples", "samples")),
                [(k, {"source": k, "samples": v}) for k, v in stats["sources"].items()],
            )
        )
    return parts


def _objects(stats: Mapping[str, Any], pictures: Mapping[str, bytes]) -> list[str]:
    """Objects per class and per scene."""
    ops = stats["objects_per_scene"]
    return [
        "<h2 id='objects-section'>Objects</h2>",
        table(
            "classes",
            (("class", "class"), ("objects", "objects")),
            [(k, {"class": k, "objects": v}) for k, v in stats["classes"].items()],
        ),
        figure("classes.png", pictures, "Objects per class"),
        table(
            "objects_per_scene",
            (("objects", "objects in the scene"), ("scenes", "scenes")),
            [(k, {"objects": k, "scenes": v}) for k, v in ops["counts"].items()],
        ),
        f'<p class="note">Mean objects per scene: {escape(fmt(ops["mean"]))} (furniture included).</p>',
        figure("objects_per_scene.png", pictures, "Objects per scene"),
    ]


def _distributions(stats: Mapping[str, Any], pictures: Mapping[str, bytes]) -> list[str]:
    """The summary table and histogram of each distribution."""
    return [
        "<h2 id='distributions-section'>Distributions</h2>",
        table(
            "distributions",
            (("name", "figure"), ("unit", "unit")) + SUMMARY_COLS,
            [
                (key, {"name": title, **stats[key], "unit": stats[key]["unit"] or "-"})
                for _, key, title, _ in HISTOGRAMS
            ],
        ),
        '<p class="note">Means are exact; percentiles are of values rounded to a grid of 0.001 of '
        "the unit (exact for depth, which is stored in millimetres).</p>",
        *(figure(name, pictures, title) for name, _, title, _ in HISTOGRAMS),
    ]


def _licences(lic: Mapping[str, Any]) -> list[str]:
    """The licence of every component: the data, its sources, the generator, the libraries."""
    rows = [("data", {"component": "data (this dataset)", "licence": lic.get("data")})]
    rows += [
        (
            f"source:{s.get('role')}",
            {"component": f"{s.get('role')} source: {s.get('name') or s.get('url')}", "licence": s.get("licence")},
        )
        for s in lic["sources"]
    ]
    rows.append(
        (
            "generator",
            {
                "component": f"generator code ({lic['generator']['name']})",
                "licence": lic["generator"]["licence"],
                "version": lic["generator"]["version"],
            },
        )
    )
    rows += [
        (
            lib["name"],
            {"component": f"library: {lib['name']}", "licence": lib["licence"], "version": licences.version_label(lib)},
        )
        for lib in lic["libraries"]
    ]
    return [
        "<h2 id='licences-section'>Licences</h2>",
        table("licences", (("component", "component"), ("licence", "licence"), ("version", "version")), rows),
        *_asset_licences(lic.get("assets")),
    ]


def _asset_licences(assets: Mapping[str, Any] | None) -> list[str]:
    """Objects, samples and backdrops per asset licence, the attribution list and the
    backdrops used (as in the card)."""
    if assets is None:
        return []
    cols = (("objects", "objects"), ("generated", "generated by factory"), ("samples", "samples"))
    cols += (("backdrops", "samples lit by a backdrop"),)

    def credits(entries) -> list:
        return [
            (f"{e.get('pack', e.get('backdrop', e.get('generator')))}/{e.get('id', e.get('sha256'))}", e)
            for e in entries
        ]

    credit_cols = (("creator", "creator"), ("title", "title"), ("url", "source"), ("licence", "licence"))
    return [
        "<h3 id='asset-licences'>Asset licences</h3>",
        table(
            "asset-licences",
            (("name", "name"), *cols, ("attribution", "attribution required")),
            list((assets.get("licences") or {}).items()),
            row_heading="licence",
        ),
        table("attribution", credit_cols, credits(assets.get("attribution") or []), row_heading="asset"),
        table("backdrops", credit_cols, credits(assets.get("backdrops") or []), row_heading="backdrop"),
    ]


def _card(card_text: str, config_yaml: str | None) -> list[str]:
    """The dataset card and the resolved config, folded."""
    parts = [
        "<h2 id='card-section'>Dataset card</h2>",
        f"<details><summary>DATASET_CARD.md (Markdown)</summary><pre>{escape(card_text)}</pre></details>",
    ]
    if config_yaml is not None:
        parts.append(f"<details><summary>Resolved config</summary><pre>{escape(config_yaml)}</pre></details>")
    return parts


def _figures(values: Mapping[str, Any], *names: str) -> list[tuple[str, dict]]:
    """Rows of a one-column ``value`` table: each of ``names`` with its value."""
    return [(name, {"value": values[name]}) for name in names]


def _diversity(div: Mapping[str, Any], pictures: Mapping[str, bytes]) -> str:
    parts = [
        "<h2 id='diversity-section'>Diversity</h2>",
        table(
            "near_duplicates",
            (("value", "value"),),
            _figures(
                div,
                "pictures",
                "without_picture",
                "unreadable",
                "max_distance",
                "near_duplicate_rate",
                "near_duplicate_pairs",
                "duplicated",
                "groups",
            ),
            row_heading="figure",
        ),
        '<p class="note">A sample is a near-duplicate when the 64-bit perceptual hash of its first frame is '
        f"within {escape(fmt(div['max_distance']))} bits of another sample's; the rate is the fraction of "
        "samples that have one.</p>",
    ]
    if div["pair_examples"]:
        parts.append(
            table(
                "near_duplicate_pairs",
                (("a", "sample"), ("b", "near-duplicate"), ("distance", "Hamming distance (bits)")),
                [(f"{p['a']}|{p['b']}", p) for p in div["pair_examples"]],
            )
        )
    parts.append(
        table(
            "features",
            (
                ("feature", "feature"),
                ("unit", "unit"),
                ("mean", "mean"),
                ("std", "std"),
                ("p5", "p5"),
                ("p50", "median"),
                ("p95", "p95"),
            ),
            [(k, {"feature": k, **v}) for k, v in div["features"].items()],
        )
    )
    ref = div.get("reference")
    if ref:
        parts.append(f"<h3>Against the reference {escape(ref['url'])}</h3>")
        parts.append(
            '<p class="note">A is this dataset, B the reference. Distances are in pooled standard '
            "deviations of each feature (0 = the same distribution); cross duplicates: the share of "
            "the reference's pictures with a near-duplicate here.</p>"
        )
        parts.append(
            table(
                "reference",
                (("value", "value"),),
                _figures(ref, "pictures", "frechet", "cross_duplicates", "near_duplicate_rate_reference"),
                row_heading="figure",
            )
        )
        parts.append(
            table(
                "drift",
                (
                    ("feature", "feature"),
                    ("w1", "Wasserstein-1 (pooled std)"),
                    ("shift", "mean shift, reference - this (pooled std)"),
                ),
                [
                    (k, {"feature": k, "w1": v, "shift": ref["mean_shift"].get(k)})
                    for k, v in ref["per_feature"].items()
                ],
            )
        )
        parts.append(f"<pre>{escape(chr(10).join(ref['lines']))}</pre>")
        parts.append(figure("drift.png", pictures, "Drift against the reference, per feature"))
    return "\n".join(parts)
