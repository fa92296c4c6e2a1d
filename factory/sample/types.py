"""The sample: one rendered clip (:class:`Frames`) with its key, scenario and metadata.

:func:`factory.sample.generate.generate_sample` makes them; :mod:`factory.sample.encode`
turns one into WebDataset members.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # for the annotation only: sample_key's users (the HTTP client) need not import the renderer
    from factory.render.frames import Frames
    from factory.render.tracks import Tracks


@dataclass
class Sample:
    """One generated clip: its key, its frames and its JSON-able metadata."""

    key: str  # WebDataset key, no dots: sample_key(index)
    index: int
    scenario: str
    frames: Frames
    meta: dict
    tracks: Tracks | None = None  # point tracks (config output.tracks > 0); docs/format.md "Point tracks"
    geometry: bytes | None = None  # the geometry.glb member (docs/format.md); None: no mesh object
    views: tuple[CameraView, ...] = ()  # cameras 1 .. K-1 of a rig (render.cameras > 1); docs/format.md "Cameras"
    # The deformables' hidden ground truth, by member name (factory.sample.deformables;
    # docs/format.md "Deformables"); None: the config draws none.
    deform: dict | None = None
    liquid: dict | None = None  # the liquids' particles and surfaces (factory.sample.liquid_members)


@dataclass
class CameraView:
    """What a rig camera c >= 1 adds to a sample: its frames and its point tracks (the
    same points as camera 0's, None without tracks); its metadata is ``meta["cameras"][c]``."""

    frames: Frames
    tracks: Tracks | None = None


def sample_key(index: int) -> str:
    """The WebDataset key of sample ``index`` (zero-padded so keys sort in order)."""
    return f"{index:010d}"
