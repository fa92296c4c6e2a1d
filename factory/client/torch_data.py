"""PyTorch datasets of factory samples: from shards (local or any fsspec URL) or from
the endpoint, as the same dict of tensors (:data:`TENSORS`, made by :func:`to_tensors`
from the arrays that ``docs/format.md`` specifies). Imports torch (the ``torch`` extra:
``pip install 'factory[torch]'``).

    from torch.utils.data import DataLoader
    from factory.client.torch_data import ShardDataset, EndpointDataset, collate

    loader = DataLoader(ShardDataset("s3://bucket/run1"), batch_size=8, num_workers=4, collate_fn=collate)
    loader = DataLoader(EndpointDataset("http://127.0.0.1:8000", count=10_000, scenario="quickstart"),
                        batch_size=8, num_workers=2, collate_fn=collate)

**Splitting.** Each (rank, DataLoader worker) pair is one of ``world_size x
num_workers`` slots and reads only its own part, so that together they see every
sample exactly once per epoch: whole shards (shard j goes to slot j mod slots) when
there are at least as many shards as slots, else every slot reads every shard and
keeps the samples whose position is its slot mod slots. The endpoint's index range is
cut into blocks of ``per_request`` indices, block j going to slot j mod slots, each
worker asking for its own with its own client. ``rank`` and ``world_size`` come from
the arguments, else from ``torch.distributed`` when it is initialised, else from the
``RANK`` and ``WORLD_SIZE`` environment variables, else 0 and 1.

**Order.** Shards in the dataset's order (``shuffle=True``: a permutation drawn from
``seed`` and the epoch, :meth:`ShardDataset.set_epoch`); within a shard, in order.
Shards are read through webdataset's tar reader and key grouping, from a stream
opened by :mod:`factory.dataset.storage` (so ``s3://`` works with the options of a
batch run).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch
from torch.utils.data import IterableDataset, get_worker_info

from factory.sample.decode import camera_count, camera_members, decode_present, decode_tracks
from factory.sample.track_members import track_arrays

# Each tensor of a sample (T frames, H x W pixels, N objects): the decoded arrays of
# docs/format.md ("Decoded arrays", which says what they mean), channels first.
TENSORS = {
    "frames": "(T, 3, H, W) uint8, rgb",
    "depth": "(T, H, W) float32, metres",
    "instance": "(T, H, W) int32",
    "semantic": "(T, H, W) uint8",
    "normals": "(T, 3, H, W) float32",
    "flow": "(T, 2, H, W) float32, pixels (du, dv)",
    "flow_valid": "(T, H, W) bool",
    "boxes": "(T, N, 4) float32, visible box [x0, y0, x1, y1] pixels per frame; NaN where not visible",
    "box_ids": "(N,) int64, the objects' ids (as in instance)",
    "box_classes": "(N,) int64, their class ids",
    # The optional layers (issue 26), when the sample has their members:
    "backward_flow": "(T, 2, H, W) float32, pixels (du, dv) to the previous frame",
    "backward_valid": "(T, H, W) bool",
    "scene_flow": "(T, 3, H, W) float32, metres, camera frame",
    "scene_flow_valid": "(T, H, W) bool",
    "object_coords": "(T, 3, H, W) float32, normalised box coordinates; NaN off objects",
    "amodal": "(T, N, H, W) bool, each object's whole silhouette",
    "amodal_depth": "(T, N, H, W) float32, metres; 0 outside the silhouette",
}
# A sample's point tracks, when it has them (P points; docs/format.md "Point tracks"):
# the members' arrays under their own names (factory.sample.track_members).
TRACK_TENSORS = {
    "query_points": "(P, 3) float32 [t, y, x] (TAP-Vid)",
    "target_points": "(P, T, 2) float32 [x, y] pixels (TAP-Vid)",
    "occluded": "(P, T) bool, occluded or out of view (TAP-Vid)",
    "tracks_xyz": "(T, P, 3) float32 camera frame, metres (TAPVid-3D)",
    "visibility": "(T, P) bool (TAPVid-3D)",
    "queries_xyt": "(P, 3) float32 [x, y, t] (TAPVid-3D)",
    "intrinsics": "(4,) float32 fx, fy, cx, cy (TAPVid-3D)",
    "track_state": "(T, P) uint8: 0 visible, 1 occluded, 2 out of view",
    "track_world": "(T, P, 3) float32 world, metres",
    "track_surface": "(P,) int32 instance id of the point's surface, 0 floor or walls",
}
# A rig's sample (K > 1 cameras, docs/format.md "Cameras"): every tensor above with a
# leading camera axis, (K, ...), camera 0 first; ``meta``, ``key`` and ``index`` as one camera's.
_CHANNELS_FIRST = ("backward_flow", "scene_flow", "object_coords")  # (T, H, W, C) arrays
_PER_OBJECT = ("amodal", "amodal_depth")  # (T, N, H, W): collate pads N


def to_tensors(arrays: dict[str, Any], meta: dict, key: str = "") -> dict[str, Any]:
    """The tensors of :data:`TENSORS` (those whose members are present) from
    :func:`~factory.sample.decode.decode_present`'s arrays, plus ``meta`` (the metadata
    dict), ``key`` and ``index`` (int)."""
    out: dict[str, Any] = {"key": key, "index": int(meta.get("index", -1)), "meta": meta}
    if "rgb" in arrays:
        out["frames"] = torch.from_numpy(np.ascontiguousarray(arrays["rgb"].transpose(0, 3, 1, 2)))
    if "depth" in arrays:
        out["depth"] = torch.from_numpy(arrays["depth"])
    if "instance" in arrays:
        out["instance"] = torch.from_numpy(arrays["instance"].astype(np.int32))
    if "semantic" in arrays:
        out["semantic"] = torch.from_numpy(np.array(arrays["semantic"], copy=True))  # decoded PNGs are read-only
    if "normals" in arrays:
        out["normals"] = torch.from_numpy(np.ascontiguousarray(arrays["normals"].transpose(0, 3, 1, 2)))
    if "flow" in arrays:
        out["flow"] = torch.from_numpy(np.ascontiguousarray(arrays["flow"].transpose(0, 3, 1, 2)))
        out["flow_valid"] = torch.from_numpy(arrays["flow_valid"])
    for name in (*_CHANNELS_FIRST, "backward_valid", "scene_flow_valid", *_PER_OBJECT):
        if name in arrays:
            a = arrays[name]
            out[name] = torch.from_numpy(
                np.ascontiguousarray(a.transpose(0, 3, 1, 2) if name in _CHANNELS_FIRST else a)
            )
    objects = meta.get("objects", [])
    T = int(meta["frames"])
    boxes = np.full((T, len(objects), 4), np.nan, np.float32)
    for n, o in enumerate(objects):
        for t, box in enumerate(o.get("bbox_visible", [])):
            if box is not None:
                boxes[t, n] = box
    out["boxes"] = torch.from_numpy(boxes)
    out["box_ids"] = torch.tensor([o["id"] for o in objects], dtype=torch.int64)
    out["box_classes"] = torch.tensor([o.get("class_id", -1) for o in objects], dtype=torch.int64)
    return out


def collate(batch: list[dict[str, Any]]) -> dict[str, Any]:
    """A batch: tensors stacked on a new first axis; boxes padded to the batch's most
    objects (NaN boxes, id and class -1, empty amodal masks); ``meta`` and ``key`` as lists, ``index`` a
    tensor. Samples of one batch must share T, H, W and modalities."""
    out: dict[str, Any] = {
        "key": [b["key"] for b in batch],
        "meta": [b["meta"] for b in batch],
        "index": torch.tensor([b["index"] for b in batch], dtype=torch.int64),
    }
    n = max(b["box_ids"].shape[-1] for b in batch)
    for b in batch:
        pad = n - b["box_ids"].shape[-1]
        if pad:
            lead = b["box_ids"].dim() - 1  # 1 for a rig's (K, ...) tensors: the object axis is one further
            b["boxes"] = _pad(b["boxes"], lead + 1, pad, float("nan"))
            b["box_ids"] = _pad(b["box_ids"], lead, pad, -1)
            b["box_classes"] = _pad(b["box_classes"], lead, pad, -1)
            for name in _PER_OBJECT:
                if name in b:  # padded with no silhouette
                    b[name] = _pad(b[name], lead + 1, pad, 0)
    for name in batch[0]:
        if name not in out:
            out[name] = torch.stack([b[name] for b in batch])
    return out


def _pad(a: torch.Tensor, dim: int, pad: int, value) -> torch.Tensor:
    """``a`` with ``pad`` entries of ``value`` added at the end of axis ``dim``."""
    shape = list(a.shape)
    shape[dim] = pad
    return torch.cat([a, torch.full(shape, value, dtype=a.dtype)], dim=dim)


def slot_of(rank: int | None = None, world_size: int | None = None) -> tuple[int, int]:
    """This process's (slot, slots): rank x workers + worker id, of world size x workers
    (see the module docstring for where rank and world size come from)."""
    if rank is None or world_size is None:
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            rank, world_size = torch.distributed.get_rank(), torch.distributed.get_world_size()
        else:
            rank, world_size = int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1))
    if not 0 <= rank < world_size:
        raise ValueError(f"rank {rank} with world_size {world_size}: need 0 <= rank < world_size")
    info = get_worker_info()
    workers, worker = (info.num_workers, info.id) if info is not None else (1, 0)
    return rank * workers + worker, world_size * workers


class ShardDataset(IterableDataset):
    """The samples of a dataset at ``url`` (a folder or prefix with factory's manifest,
    a folder of ``*.tar``, or one ``.tar``; any fsspec URL, ``options`` as for
    ``factory generate --storage-option``), as :func:`to_tensors` dicts.

    ``modalities``: the image members to decode (None: all present; e.g. ``["rgb",
    "depth"]`` skips decoding the rest). See the module docstring for splitting and order.
    """

    def __init__(
        self,
        url: str,
        *,
        modalities: list[str] | None = None,
        rank: int | None = None,
        world_size: int | None = None,
        shuffle: bool = False,
        seed: int = 0,
        options: dict | None = None,
    ):
        from factory.dataset.reader import open_dataset

        super().__init__()
        self.url, self.options = url, options
        self.dataset = open_dataset(url, options)  # the shard list, read once here
        self.modalities = None if modalities is None else {f"{m}.png" for m in modalities}
        self.rank, self.world_size, self.shuffle, self.seed, self.epoch = rank, world_size, shuffle, seed, 0

    def set_epoch(self, epoch: int) -> None:
        """Shuffle the shards anew for ``epoch`` (with ``shuffle=True``)."""
        self.epoch = epoch

    def __iter__(self) -> Iterator[dict[str, Any]]:
        import webdataset as wds

        slot, slots = slot_of(self.rank, self.world_size)
        shards = list(self.dataset.shards)
        if self.shuffle:
            order = np.random.default_rng([self.seed, self.epoch]).permutation(len(shards))
            shards = [shards[i] for i in order]
        by_shard = len(shards) >= slots
        mine = shards[slot::slots] if by_shard else shards
        from factory.dataset.storage import resolve

        # A location of this process's own: an S3 filesystem made before a DataLoader
        # forked its workers cannot be used in them.
        streams = _opened(resolve(self.dataset.url, self.options), mine)
        for position, sample in enumerate(wds.tariterators.group_by_keys(wds.tariterators.tar_file_expander(streams))):
            if not by_shard and position % slots != slot:
                continue
            yield self._tensors(sample)

    def _tensors(self, sample: dict) -> dict[str, Any]:
        members = {
            k: v
            for k, v in sample.items()
            if not k.startswith("__") and (self.modalities is None or k == "json" or _unprefixed(k) in self.modalities)
        }
        arrays = decode_present(members)
        tensors = with_tracks(to_tensors(arrays, arrays.pop("meta"), sample["__key__"]), members)
        return with_cameras(tensors, members, sample["__key__"])


def _unprefixed(name: str) -> str:
    """A member's name without a rig camera's ``cam<c>.`` prefix."""
    head, _, rest = name.partition(".")
    return rest if head[:3] == "cam" and head[3:].isdigit() else name


def with_cameras(tensors: dict[str, Any], members: dict[str, Any], key: str = "") -> dict[str, Any]:
    """``tensors`` (camera 0's) with every tensor stacked over a rig's K cameras on a
    new first axis, (K, ...), when the sample has K > 1 (each camera's from its
    ``cam<c>.`` members and the metadata as it sees it); unchanged for one camera."""
    K = camera_count(members)
    if K == 1:
        return tensors
    views = [tensors]
    for c in range(1, K):
        sub = camera_members(members, c)
        arrays = decode_present(sub)
        views.append(with_tracks(to_tensors(arrays, arrays.pop("meta"), key), sub))
    for name, value in tensors.items():
        if isinstance(value, torch.Tensor) and name != "index":
            tensors[name] = torch.stack([v[name] for v in views])
    return tensors


def with_tracks(tensors: dict[str, Any], members: dict[str, Any]) -> dict[str, Any]:
    """``tensors`` with the :data:`TRACK_TENSORS` of a sample's ``members`` added,
    under the members' names (without ``.npy``), when it has point tracks."""
    tracks = decode_tracks(members)
    if tracks is not None:
        tensors.update({name: torch.from_numpy(a) for name, a in track_arrays(tracks).items()})
    return tensors


def _opened(location, names: list[str]) -> Iterator[dict]:
    """webdataset's shard sources: each shard's stream, closed when the next is asked for."""
    for name in names:
        with location.fs.open(location.full(name), "rb") as stream:
            yield {"url": location.url_of(name), "stream": stream}


class EndpointDataset(IterableDataset):
    """Samples ``start .. start+count-1`` from the endpoint at ``url``, as
    :func:`to_tensors` dicts: each worker asks for its own blocks of indices (module
    docstring) through its own :class:`~factory.client.Client`. ``request`` holds the
    :meth:`Client.samples` arguments (``scenario``, ``config``, ``overrides``, ``seed``,
    ``samples``, ``modalities``); ``token``, ``retries``, ``per_request`` go to the client.
    """

    def __init__(
        self,
        url: str,
        *,
        start: int = 0,
        count: int,
        token: str | None = None,
        retries: int = 6,
        per_request: int = 8,
        rank: int | None = None,
        world_size: int | None = None,
        **request,
    ):
        super().__init__()
        self.url, self.start, self.count, self.token, self.retries = url, start, count, token, retries
        self.per_request, self.rank, self.world_size, self.request = per_request, rank, world_size, request

    def blocks(self, slot: int, slots: int) -> list[tuple[int, int]]:
        """The (first, count) blocks of indices that ``slot`` of ``slots`` asks for."""
        edges = range(self.start, self.start + self.count, self.per_request)
        end = self.start + self.count
        return [(first, min(self.per_request, end - first)) for j, first in enumerate(edges) if j % slots == slot]

    def __iter__(self) -> Iterator[dict[str, Any]]:
        from factory.client.http import Client

        client = Client(self.url, token=self.token, retries=self.retries, per_request=self.per_request)
        for first, count in self.blocks(*slot_of(self.rank, self.world_size)):
            for s in client.samples(first, count, **self.request):
                yield with_cameras(with_tracks(to_tensors(s.arrays, s.meta, s.key), s.members), s.members, s.key)
