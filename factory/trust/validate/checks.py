"""The checks of ``factory validate``: THE one list of their names, each with what it means.

A failure names its check (``{"check": "shard.sha256", ...}``); the name is short and
stable, for programs and for people. Dataset-level checks run on the driver
(:mod:`.plan`, :mod:`.run`), shard checks in :mod:`.shard`, per-sample checks in
:mod:`.sample` and :mod:`factory.trust.invariants`. A unit test holds the code to this
list: every name it reports is here, and every name here is reported somewhere.

The ``oracle.*`` checks re-derive depth, ids, normals, flow and its occlusion test, the
optional layers and the boxes at a seeded share of pixels, and the point tracks at a
seeded share of points, with an independent ray caster
(:mod:`factory.trust.oracle`, ``--oracle FRACTION``). Not checked: RGB against
geometry, the ``.factory/`` records.
"""

from __future__ import annotations

# Dataset level: the manifest, the folder listing, the shards' bytes, keys across shards.
DATASET_CHECKS = {
    "manifest.missing": "no manifest.json: the dataset is incomplete or not a factory dataset (its tars are "
    "still checked for tar integrity and unique keys)",
    "manifest.parse": "manifest.json is not a JSON object",
    "manifest.consistency": "the manifest contradicts itself (factory.dataset.manifest.check, its totals, "
    "its shard list, a mix without sources)",
    "manifest.config": "the config does not parse or does not hash to config_hash",
    "shard.missing": "a shard the manifest lists is not on storage",
    "shard.unreadable": "a shard cannot be read",
    "shard.extra": "a .tar in the folder that the manifest does not list",
    "shard.bytes": "the shard's size differs from its record",
    "shard.sha256": "the shard's sha256 differs from its record",
    "shard.samples": "the shard's sample count differs from its record",
    "shard.first_key": "the shard's first key differs from its record",
    "shard.last_key": "the shard's last key differs from its record",
    "tar.format": "the tar is truncated or has a corrupt header (byte offset given)",
    "keys.order": "keys not ascending within a shard",
    "keys.unique": "a key seen before, in this shard or another",
    "keys.indices": "shard i does not hold exactly the keys of [i*S, (i+1)*S) minus the failures the manifest lists",
    "scenario.allocation": "meta scenario is not what factory.scene.allocation.allocate gives the index",
    "scenario.totals": "the per-scenario counts differ from the manifest's achieved",
    "scenario.requested": "the manifest's requested counts differ from the allocation",
    "source.json": "mix: source.json missing, unreadable or naming an unknown source",
    "source.totals": "mix: samples per source differ from the manifest's samples_used",
    "oracle.edges": "more sampled pixels than a 0.1% share allows by chance agree with the oracle only through a "
    "point 0.01 px from their centre (the silhouette rule, docs/trust.md): a systematic offset",
    "asset.totals": "the objects, backdrops and samples per asset licence, the attributed assets or the backdrops "
    "used, in the shards differ from the manifest's assets section (factory.dataset.licensing)",
}

# Sample level: members, decoding, metadata and the ground truth's invariants.
SAMPLE_CHECKS = {
    "members.set": "the members are not json + the eight PNGs (+ mp4 when the config says; a dataset made before "
    "issue 25: the six without albedo.png and material.png; + the optional layers' members its output asks for; + "
    "geometry.glb since issue 26)",
    "decode.json": "the metadata does not parse as a JSON object",
    "decode.image": "a PNG (or a real sample's jpg/jpeg/png/webp) does not decode",
    "decode.shape": "factory.sample.decode.decode_sample refuses the shapes or dtypes",
    "meta.key": "meta key is not the tar key (mix: source.json's key)",
    "meta.index": "meta index is not the integer of that key",
    "meta.config_hash": "meta config_hash is not the manifest's (mix: the synthetic source's)",
    "meta.seed": "meta seed is not the manifest's",
    "meta.dataset": "meta dataset is not the manifest's name",
    "meta.shape": "meta frames/height/width are not the config's",
    "meta.objects": "malformed objects metadata (the object checks are skipped)",
    "asset.licence": "an object's or the HDRI backdrop's asset licence is not in the dataset's allowed licences (the "
    "manifest config's assets.allowed_licences; none there: factory's permissive default); names the object and its "
    "pack asset or generator, or the backdrop",
    "asset.licences": "the sample's asset_licences is not the count of its objects' and backdrop's asset licences "
    "(absent when nothing names an asset)",
    "depth.finite": "depth NaN, inf or negative",
    "depth.object": "depth 0 (sky) where an object is hit (an instance id where depth is 0)",
    "normals.unit": "a normal not of unit length (+-0.01) where there is a surface",
    "instance.ids": "a nonzero instance id that is not in meta objects[*].id",
    "semantic.class": "not the object's class_id on its pixels; not background on sky, not floor/wall elsewhere",
    "bbox.inside": "a box not within the image, or empty",
    "bbox.segmentation": "bbox_visible is not the box of the object's pixels in instance.png (x1/y1 exclusive, "
    "null when none)",
    "bbox.pixels": "visible_pixels is not the count of the object's pixels",
    "bbox.amodal": "the amodal box does not hold the visible one, or visible_fraction is not visible / amodal",
    "material.sky": "material.png nonzero on sky (depth 0), or 0 (none) on a surface",
    "material.table": "a material id not < len(meta material_families)",
    "material.object": "material.png on an object's pixels is not its objects[k].material.family_id",
    "material.surface": "material.png on the floor's (walls') pixels is not floor.material.family_id (walls')",
    "albedo.sky": "albedo.png nonzero on sky (depth 0)",
    "albedo.color": "albedo.png on a plain surface without mesh materials (an object without a pack asset, the "
    "floor, the walls) is not the sRGB bytes of its material color within 1 level",
    "flow.encoding": "one half of flow.png 0 (invalid) and the other not",
    "flow.last_frame": "flow valid in the last frame",
    "flow.sky": "flow valid where depth is 0 (sky)",
    "flow.target": "the flow target (u + du, v + dv) outside the image by more than the 1/128 px quantisation",
    "flow.landing": "the flow target's pixel in frame t+1 is sky",
    "clip.empty": "no moving object (objects[].static false) has a pixel in instance.png in any frame, and the "
    "sample's scenario does not set allow_empty (the generator draws such clips again, factory.sample.scenes)",
    "oracle.geometry": "the oracle cannot rebuild the scene from the metadata and geometry.glb (missing keys, a "
    "member that does not parse)",
    "oracle.depth": "depth at a sampled pixel is not the oracle's (its own float64 ray cast of the documented "
    "geometry) within 0.5 mm + 1e-5 of depth, or one sees sky and the other not",
    "oracle.instance": "the instance id at a sampled pixel is not the object the oracle's ray meets first",
    "oracle.normals": "a normal at a sampled pixel is off the oracle's shading normal by more than 1/255 + 5e-4 "
    "in a component",
    "oracle.flow": "forward flow at a sampled pixel is off the oracle's (its hit carried by the metadata's poses) by "
    "more than 1/128 + 2e-3 px, or its validity is not the documented rule's",
    "oracle.boxes": "an object the oracle's ray meets lies outside its bbox_amodal, or the one it sees outside "
    "bbox_visible",
    "oracle.corners": "corners_2d / corners_depth are not the projected corners of the object's half_extents box",
    "real.image": "mix, real samples: an image member does not decode",
    "sample.check": "a check itself raised (the sample is malformed in a way not foreseen)",
}

# Point tracks (output.tracks; factory.trust.validate.tracks): their members and their agreement.
SAMPLE_CHECKS |= {
    "deform.decode": "the deformables' members do not decode (factory.sample.deform_members.decode_deform refuses "
    "them)",
    "deform.layout": "the deformables' members disagree with the metadata's deformables (frames, vertex and face "
    "ranges), hold NaN or move a pinned vertex",
    "liquid.decode": "the liquids' members do not decode (factory.sample.liquid_members.decode_liquids refuses them)",
    "liquid.layout": "the liquids' members disagree with the metadata's liquids (frames, particle and surface "
    "ranges, a frame's faces outside its own vertices) or hold NaN",
    "liquid.mass": "a liquid's mass is not its particle count times its particle mass in some frame, or its volume "
    "moves more than 5% from the first frame's",
    "tracks.decode": "the tracks members do not decode (factory.sample.decode.decode_tracks refuses them)",
    "tracks.layout": "the TAP-Vid, TAPVid-3D and factory arrays of the tracks disagree with each other or with the "
    "metadata (frames, K, world_to_camera, object ids), or a state with its image position",
}

# The oracle over the optional layers and the point tracks (factory.trust.oracle.optional, .tracks):
# skipped for a sample without the member.
SAMPLE_CHECKS |= {
    "oracle.backward_flow": "backward flow at a sampled pixel is off the oracle's (its hit carried by the "
    "metadata's poses to t-1) by more than 1/128 + 2e-3 px, or its validity is not the documented rule's",
    "oracle.scene_flow": "scene flow at a sampled pixel is off the oracle's hit's camera-frame motion by more than "
    "0.05 mm + 0.02 mm (+ float32's share along the ray), or it is valid where the oracle sees sky (or not)",
    "oracle.object_coords": "object coordinates at a sampled pixel are off the oracle's hit in its object's "
    "half_extents box by more than 0.5/65534 + 1e-5 (+ float32's share), or present where it sees no object",
    "oracle.amodal": "an object's amodal bit at a sampled pixel is not whether the oracle's ray meets it at all, or "
    "its amodal depth is not the oracle's nearest hit on it within depth's tolerance",
    "oracle.tracks": "a sampled point track's world position is not its query position carried by the metadata's "
    "poses, its image position or camera point not the metadata camera's, its query depth or surface not the "
    "oracle's, or its state not the oracle's cast of the segment to the point",
}

CHECKS = {**DATASET_CHECKS, **SAMPLE_CHECKS}
"""Every check's name and what its failure means, dataset level first."""

# Multi-camera rigs (render.cameras > 1; docs/format.md, "Cameras"): every per-sample check above runs for each
# camera c >= 1 on its cam<c>. members and the metadata as it sees it, its failures' messages starting "camera c:".
SAMPLE_CHECKS["meta.cameras"] = "the metadata's cameras list does not have render.cameras entries"
CHECKS["meta.cameras"] = SAMPLE_CHECKS["meta.cameras"]
