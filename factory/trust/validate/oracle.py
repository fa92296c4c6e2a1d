"""The oracle in ``factory validate`` (``--oracle FRACTION``): one sample through
:func:`factory.trust.oracle.check_sample`, its failures as ``oracle.*`` checks naming
frame, pixel and layer, its error statistics into the shard's result; and, over the
whole dataset, the silhouette rule's share (``oracle.edges``) and the report's lines."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from factory.render.frames import Frames
from factory.sample.decode import decode_present
from factory.sample.deform_members import decode_deform
from factory.sample.layers import LAYER_MEMBERS
from factory.sample.liquid_members import decode_liquids
from factory.sample.track_members import decode_tracks
from factory.trust.oracle import GEOMETRY_MEMBER, LayerStats, Stored, check_sample, edges_exceed, new_stats

# Each layer's check name (literal, so the one list of checks can be held to the code).
ORACLE_CHECKS = {
    "depth": "oracle.depth",
    "instance": "oracle.instance",
    "normals": "oracle.normals",
    "flow": "oracle.flow",
    "boxes": "oracle.boxes",
    "corners": "oracle.corners",
    "backward_flow": "oracle.backward_flow",
    "scene_flow": "oracle.scene_flow",
    "object_coords": "oracle.object_coords",
    "amodal": "oracle.amodal",
    "amodal_depth": "oracle.amodal",
    "tracks": "oracle.tracks",
    "track_state": "oracle.tracks",
}
# The Frames fields of the optional layers the oracle checks (docs/format.md "Optional layers").
OPTIONAL_FIELDS = (
    "backward_flow",
    "backward_valid",
    "scene_flow",
    "scene_flow_valid",
    "object_coords",
    "amodal",
    "amodal_depth",
)
SKIPPED = "skipped_objects"  # the shard result's count of objects the oracle could not rebuild


def check_with_oracle(
    add: Callable[[str, str], None], key: str, frames: Frames, meta: dict, members: dict, fraction: float, into: dict
) -> None:
    """Run the oracle on one decoded sample; failures through ``add(check, message)``,
    statistics merged into ``into`` (a shard result's ``oracle``: layer -> stats dict,
    and :data:`SKIPPED`)."""
    stored = Stored(frames.depth, frames.instance, frames.normals, frames.flow, frames.flow_valid, meta)
    stored = oracle_stored(stored, frames, members, add)
    try:
        report = check_sample(key, stored, members.get(GEOMETRY_MEMBER), fraction)
    except (ValueError, KeyError, TypeError, IndexError) as e:
        add("oracle.geometry", f"the oracle cannot rebuild the scene from the metadata and {GEOMETRY_MEMBER} ({e!r})")
        return
    for f in report.failures:
        add(ORACLE_CHECKS[f.layer], f"{f.layer}: {f.describe()}")
    for name, stats in report.stats.items():
        listed = sum(x.layer == name for x in report.failures)
        if stats.failures > listed:  # the report lists a few per layer: count the rest too
            for _ in range(stats.failures - listed):
                add(ORACLE_CHECKS[name], f"{name}: (not listed)")
        merge_stats(into, name, stats)
    into[SKIPPED] = into.get(SKIPPED, 0) + len(report.skipped)


def oracle_stored(
    stored: Stored, frames: Frames, members: dict, add: Callable[[str, str], None] | None = None
) -> Stored:
    """``stored`` with the optional layers and the sample's point tracks (None where it
    lacks them): those ``frames`` has, else decoded from ``members`` (validate decodes
    the base members only; one that does not decode is reported through ``add`` as
    ``decode.image``; tracks that do not decode are tracks.decode's to report)."""
    layers = {name: getattr(frames, name) for name in OPTIONAL_FIELDS}
    present = {n: members[n] for n in LAYER_MEMBERS if n in members}
    if present and "json" in members and any(v is None for v in layers.values()):
        try:
            decoded = decode_present({"json": members["json"], **present})
        except ValueError as e:
            if add is not None:
                add("decode.image", f"{', '.join(present)}: do not decode ({e})")
            decoded = {}
        layers |= {k: decoded[k] for k in OPTIONAL_FIELDS if layers[k] is None and k in decoded}
    try:
        tracks = decode_tracks(members)
    except ValueError:
        tracks = None
    try:
        deform = decode_deform(members)
    except ValueError:  # deform.decode reports it; its deformables are skipped
        deform = None
    try:
        liquid = decode_liquids(members)
    except ValueError:  # liquid.decode reports it; its liquids are skipped
        liquid = None
    return dataclasses.replace(stored, **layers, tracks=tracks, deform=deform, liquid=liquid)


def merge_stats(into: dict, name: str, stats: LayerStats) -> None:
    """Add ``stats`` to the layer's entry of ``into`` (plain dicts: results travel as JSON)."""
    have = into.get(name)
    total = LayerStats(**have) if have else LayerStats(stats.tolerance)
    total.merge(stats)
    into[name] = total.to_dict()


def dataset_oracle(shard_stats: list[dict]) -> tuple[dict, list[str]]:
    """The dataset's oracle figures (layer -> sampled, compared, max, p99, tolerance,
    failures, edges; and the skipped objects) and the ``oracle.edges`` messages (a
    layer whose silhouette-rule pixels exceed chance at a 0.1% share)."""
    totals: dict = {}
    skipped = 0
    for entry in shard_stats:
        for name, value in entry.items():
            if name == SKIPPED:
                skipped += value
            else:
                merge_stats(totals, name, LayerStats(**value))
    figures, problems = {}, []
    for name in new_stats():
        if name not in totals:
            continue
        s = LayerStats(**totals[name])
        figures[name] = {
            "sampled": s.sampled,
            "compared": s.compared,
            "max": s.max,
            "p99": s.p99,
            "tolerance": s.tolerance,
            "failures": s.failures,
            "edges": s.edges,
        }
        if edges_exceed(s.edges, s.sampled):
            problems.append(
                f"{name}: {s.edges} of {s.sampled} sampled pixels agree with the oracle only within 0.01 px of "
                "their centre (more than a 0.1% share allows)"
            )
    if figures:
        figures[SKIPPED] = skipped
    return figures, problems


def oracle_lines(figures: dict) -> list[str]:
    """The report's lines: per layer its max and p99 error against its tolerance."""
    if not figures:
        return []
    out = ["oracle (independent ray caster; errors max / p99 vs tolerance):"]
    for name, f in figures.items():
        if name == SKIPPED:
            continue
        unit = " (errors in units of each corner's tolerance)" if name == "corners" else ""
        unit = " (point-frames; errors in units of each entry's tolerance)" if name == "tracks" else unit
        unit = " (point-frames)" if name == "track_state" else unit
        out.append(
            f"  {name}: {f['sampled']} sampled, {f['compared']} compared, max {f['max']:.4g} / p99 {f['p99']:.4g} "
            f"(tolerance {f['tolerance']:.4g}){unit}, {f['failures']} failures, {f['edges']} at silhouettes"
        )
    if figures.get(SKIPPED):
        out.append(f"  {figures[SKIPPED]} mesh objects skipped (no geometry.glb: a dataset made before issue 26)")
    return out
