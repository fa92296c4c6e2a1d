"""The optional ground-truth layers (issue 26): backward flow, scene flow, object
coordinates, amodal masks and their depth. Each is off unless asked for, and a layer
that is off costs a branch per pixel: its kernel arrays are one-element stand-ins.

:class:`Layers` says which are on (the config's ``output`` flags, see
:class:`factory.scene.config.OutputSettings`; their bits in the kernels' arguments
are :data:`factory.render.tables.BACKWARD_FLOW` ... ``AMODAL_DEPTH``);
:class:`LayerBuffers` holds their device arrays for every frame of a render call and
turns them into :class:`~factory.render.frames.Frames` fields. The layers'
definitions, units and validity rules are specified once, in ``docs/format.md``
("Optional layers"); the kernels that write them: :mod:`factory.render.kernels`
(backward and scene flow, the object-frame point) and :func:`factory.render.trace.trace`
(amodal masks and depth).
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from factory.render import kernels
from factory.render.device import Device
from factory.render.tables import AMODAL, AMODAL_DEPTH, BACKWARD_FLOW, OBJECT_COORDS, SCENE_FLOW
from factory.render.warp_setup import wp
from factory.scene.types import SceneObject


@dataclass(frozen=True)
class Layers:
    """Which optional layers to render (all off by default)."""

    backward_flow: bool = False
    scene_flow: bool = False
    object_coords: bool = False
    amodal: bool = False
    amodal_depth: bool = False

    @classmethod
    def of(cls, output) -> Layers:
        """The layers a config's ``output`` block (an OutputSettings, or anything with
        its boolean fields) asks for."""
        return cls(**{f.name: bool(getattr(output, f.name, False)) for f in fields(cls)})

    @property
    def bits(self) -> int:
        """The kernels' ``layers`` argument: the OR of the bits of the layers on."""
        bits = (BACKWARD_FLOW, SCENE_FLOW, OBJECT_COORDS, AMODAL, AMODAL_DEPTH)
        return sum(int(b) for f, b in zip(fields(self), bits) if getattr(self, f.name))


NONE = Layers()


class LayerBuffers:
    """The optional layers' device arrays for F frames of H x W and up to K objects
    per clip, zeroed (a clip's frame 0 keeps zero, invalid backward flow; a pixel no
    ray of object k meets keeps amodal 0): ``bflow`` (F, H, W) vec2 pixels, ``bvalid``
    (F, H, W) uint8, ``sflow`` (F, H, W) vec3 metres, ``svalid`` (F, H, W) uint8,
    ``ocoord`` (F, H, W) vec3 (the hit point in its object's frame, metres),
    ``amodal`` (F, K, H, W) uint8 and ``amodal_depth`` (F, K, H, W) float32 metres.
    A layer that is off has one-element arrays the kernels never touch."""

    def __init__(self, device: Device, layers: Layers, F: int, K: int, H: int, W: int):
        self.layers = layers
        dev = device.warp_name

        def zeros(on: bool, shape: tuple, dtype):
            return wp.zeros(shape if on else (1,) * len(shape), dtype=dtype, device=dev)

        self.bflow = zeros(layers.backward_flow, (F, H, W), wp.vec2)
        self.bvalid = zeros(layers.backward_flow, (F, H, W), wp.uint8)
        self.sflow = zeros(layers.scene_flow, (F, H, W), wp.vec3)
        self.svalid = zeros(layers.scene_flow, (F, H, W), wp.uint8)
        self.ocoord = zeros(layers.object_coords, (F, H, W), wp.vec3)
        self.amodal = zeros(layers.amodal, (F, K, H, W), wp.uint8)
        self.amodal_depth = zeros(layers.amodal_depth, (F, K, H, W), wp.float32)

    def primary_inputs(self) -> list:
        """The primary kernel's trailing arguments: the bits, amodal, amodal depth."""
        return [self.layers.bits, self.amodal, self.amodal_depth]

    def launch(self, views, jobs: list, hits, dim: tuple, device: str, span: int) -> None:
        """``kernels.optional_layers`` over the render jobs (``jobs``: the six job
        columns of render_views, ``dim`` its launch dims), when a layer it writes is on."""
        bits = self.layers.bits & (BACKWARD_FLOW | SCENE_FLOW | OBJECT_COORDS)
        if not bits:
            return
        view, nxt, gt, _shade, hit, next_view = jobs
        arrays = [self.bflow, self.bvalid, self.sflow, self.svalid, self.ocoord]
        inputs = [views, view, nxt, gt, hit, next_view, hits, bits, *arrays, span]
        wp.launch(kernels.optional_layers, dim=dim, device=device, inputs=inputs)

    def host(self) -> dict:
        """The arrays that are on, as NumPy (F, ...) by field name."""
        on = self.layers
        out = {}
        if on.backward_flow:
            out["backward_flow"], out["backward_valid"] = self.bflow.numpy(), self.bvalid.numpy().view(bool)
        if on.scene_flow:
            out["scene_flow"], out["scene_flow_valid"] = self.sflow.numpy(), self.svalid.numpy().view(bool)
        if on.object_coords:
            out["object_coords"] = self.ocoord.numpy()
        if on.amodal:
            out["amodal"] = self.amodal.numpy().view(bool)
        if on.amodal_depth:
            out["amodal_depth"] = self.amodal_depth.numpy()
        return out


def clip_fields(arrays: dict, at: slice, objects: tuple[SceneObject, ...], instance: np.ndarray) -> dict:
    """One clip's :class:`~factory.render.frames.Frames` fields from
    :meth:`LayerBuffers.host`'s arrays: its frames ``at``, its objects' K rows of the
    amodal layers, and object coordinates normalised (:func:`object_coords`) by its
    ``instance`` (T, H, W) uint16 ids."""
    out = {}
    for name, a in arrays.items():
        a = a[at]
        if name in ("amodal", "amodal_depth"):
            a = np.ascontiguousarray(a[:, : len(objects)])
        elif name == "object_coords":
            a = object_coords(a, instance, objects)
        out[name] = a
    return out


def nocs_scale(o: SceneObject) -> float:
    """The metres per unit of object ``o``'s normalised box frame: ``2 |e|``, with e its
    half-extents (:attr:`SceneObject.half_extents`), the diagonal of its box."""
    return 2.0 * float(np.linalg.norm(o.half_extents))


def object_coords(local: np.ndarray, instance: np.ndarray, objects: tuple[SceneObject, ...]) -> np.ndarray:
    """Object coordinates (T, H, W, 3) float32: each object pixel's point in its object's
    frame (``local``, (T, H, W, 3) float32 metres) as ``local / (2 |e|) + 0.5`` (see
    :func:`nocs_scale`; the box's centre is (0.5, 0.5, 0.5)); NaN where no object is
    seen (``instance`` 0, or an id of none of ``objects``). In place on ``local``."""
    inv = np.zeros(max([int(instance.max(initial=0))] + [o.id for o in objects]) + 1, np.float32)
    for o in objects:  # id -> 1 / (2 |e|); 0: no object
        inv[o.id] = 1.0 / nocs_scale(o)
    scale = inv[instance]
    local *= scale[..., None]
    local += np.float32(0.5)
    local[scale == 0] = np.nan
    return local
