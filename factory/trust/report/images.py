"""Every picture of the report as PNG bytes, by file name, in the report's order.

Plots with nothing to show (a real dataset has no depth or objects) are left out; the
HTML says so where the plot would be.
"""

from __future__ import annotations

from typing import Any

from factory.trust.report.stats import Collected

# (file, stats key, title, x label) of the distribution plots
HISTOGRAMS = (
    ("object_size.png", "object_size_m", "Object size: largest full extent 2 x max(dims)", "metres"),
    ("visible_fraction.png", "visible_fraction", "Visible fraction per object and frame", "visible / amodal pixels"),
    ("depth.png", "depth_m", "Depth at pixels with a surface, all frames", "metres (camera z)"),
    ("brightness.png", "brightness", "Brightness: mean luma per sample", "luma 0.299R + 0.587G + 0.114B (0..255)"),
    ("speed.png", "speed_m_s", "Speed of moving objects per frame", "|velocity| (m/s)"),
)


def images(stats: dict[str, Any], collected: Collected) -> dict[str, bytes]:
    """``{file name: PNG bytes}``; matplotlib is imported here, on first use."""
    from factory.sample.preview import png_bytes
    from factory.trust.report import plots
    from factory.trust.report.grid import preview_grid

    out: dict[str, bytes] = {}
    rows = stats["scenarios"]["rows"]
    if rows:
        series = {}
        if any(r["requested"] is not None for r in rows):
            series["requested"] = [r["requested"] for r in rows]
        if any(r["achieved_manifest"] is not None for r in rows):
            series["achieved (manifest)"] = [r["achieved_manifest"] for r in rows]
        series["counted (samples read)"] = [r["counted"] for r in rows]
        out["scenarios.png"] = plots.bars(
            "Samples per scenario", [r["scenario"] for r in rows], series, ylabel="samples"
        )
    if stats["classes"]:
        out["classes.png"] = plots.bars(
            "Objects per class", list(stats["classes"]), {"objects": list(stats["classes"].values())}, ylabel="objects"
        )
    per_scene = stats["objects_per_scene"]["counts"]
    if per_scene:
        out["objects_per_scene.png"] = plots.bars(
            "Objects per scene",
            list(per_scene),
            {"scenes": list(per_scene.values())},
            ylabel="scenes",
            xlabel="objects in the scene",
        )
    for name, key, title, xlabel in HISTOGRAMS:
        if stats[key]["count"]:
            out[name] = plots.histogram(title, stats[key], xlabel=xlabel)
    ref = stats["diversity"].get("reference")
    if ref and isinstance(ref.get("per_feature"), dict) and ref["per_feature"]:
        out["drift.png"] = plots.horizontal_bars(
            "Drift against the reference, per feature",
            ref["per_feature"],
            xlabel="Wasserstein-1 distance of standardised values",
        )
    if collected.previews:
        out["previews.png"] = png_bytes(preview_grid(collected.previews))
    if collected.contact_sheet is not None:
        out["contact.png"] = png_bytes(collected.contact_sheet[1])
    return out
