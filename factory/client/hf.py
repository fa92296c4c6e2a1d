"""Hugging Face ``datasets`` over factory shards, through its own ``webdataset`` builder:

    import datasets
    from factory.client.hf import features

    ds = datasets.load_dataset("webdataset", data_files={"train": "out/demo/dataset/*.tar"},
                               split="train", features=features())

The builder infers a schema from a shard's first few samples, and the metadata's
``collisions`` list is empty in some samples and not in others, so the inferred type
breaks on the first sample that differs: ``features()`` gives the JSON member the
``Json`` feature (any JSON, kept as the dict it is) and every PNG member ``Image``
(decoded by Pillow, 16-bit kept). A row then decodes with
:func:`factory.sample.decode.decode_sample` like any reader's.
"""

from __future__ import annotations

from factory.sample.deform_members import DEFORM_MEMBERS
from factory.sample.encode import IMAGE_MEMBERS, SHARED_MEMBERS, camera_prefix
from factory.sample.track_members import TRACK_DTYPES


def features(
    modalities: list[str] | None = None,
    mp4: bool = False,
    tracks: bool = False,
    cameras: int = 1,
    geometry: bool = False,
    deform: bool = False,
):
    """``datasets.Features`` of factory samples: ``json`` (Json), each image member of
    ``modalities`` (None: all) as Image, ``mp4`` as raw bytes when asked for, the point
    tracks' members when asked for (``tracks``: a dataset made with ``output.tracks``;
    without it the builder leaves them out), ``geometry.glb`` as raw bytes when asked
    for (``geometry``: the meshes a third party rebuilds the scene from, docs/format.md),
    the deformables' ``deform_*.npy`` members when asked for (``deform``: a config that
    draws cloth or soft bodies), the same per-camera members again as
    ``cam<c>.<member>`` for each camera c of a rig of ``cameras`` (docs/format.md,
    "Cameras"), and the builder's ``__key__`` and ``__url__``."""
    import datasets  # Hugging Face's, not a dependency of factory: pip install datasets

    names = IMAGE_MEMBERS if modalities is None else tuple(f"{m}.png" for m in modalities)
    spec = {"json": datasets.Json(), **{name: datasets.Image() for name in names}}
    if mp4:
        spec["mp4"] = datasets.Value("binary")
    if geometry:
        spec["geometry.glb"] = datasets.Value("binary")
    for name, (dtype, axes) in TRACK_DTYPES.items() if tracks else ():  # the point tracks' .npy members
        feature = datasets.Value(dtype)
        for _ in range(axes):
            feature = datasets.List(feature)
        spec[name] = feature  # nested lists: decode_tracks takes them (or the NumPy format's arrays)
    per_camera = {name: f for name, f in spec.items() if name not in SHARED_MEMBERS}
    for name, (dtype, axes) in DEFORM_MEMBERS.items() if deform else ():  # the deformables' vertices
        feature = datasets.Value(dtype)
        for _ in range(axes):
            feature = datasets.List(feature)
        spec[name] = feature  # nested lists: decode_deform takes them
    for c in range(1, cameras):
        spec.update({camera_prefix(c) + name: f for name, f in per_camera.items()})
    return datasets.Features({**spec, "__key__": datasets.Value("string"), "__url__": datasets.Value("string")})
