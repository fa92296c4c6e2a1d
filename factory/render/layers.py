"""The optional ground-truth layers (issue 26): backward flow, scene flow, object
coordinates, amodal masks and their depth. Each is off unless asked for. The first
three come from a kernel of their own (``kernels.optional_layers``), launched only
when one of them is on; the amodal ones from the primary pass, where a layer that is
off costs a test per object a ray meets. A layer that is off has one-element
stand-in arrays.

:class:`Layers` says which are on (the config's ``output`` flags, see
:class:`factory.scene.config.OutputSettings`; their bits in the kernels' arguments
are :data:`factory.render.tables.BACKWARD_FLOW` ... ``AMODAL_DEPTH``);
:class:`LayerBuffers` holds their device arrays for every frame of a render call and
turns them into :class:`~factory.render.frames.Frames` fields. The layers'
definitions, units and validity rules are specified once, in ``docs/format.md``
("Optional layers"); the kernels that write them: :mod:`factory.render.kernels`
(backward and scene flow, object coordinates) and :func:`factory.render.trace.trace`
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
    """The optional layers' device arrays for the F frames of a render call's ``clips``
    (anything with a ``scene``) at H x W, with K the most objects of a clip:
    ``bflow`` (F, H, W) vec2 pixels and ``bvalid`` (F, H, W) uint8, zeroed (a clip's
    frame 0 keeps zero, invalid backward flow); ``sflow`` (F, H, W) vec3 metres and
    ``svalid`` (F, H, W) uint8; ``ocoord`` (F, H, W) vec3 object coordinates, NaN off
    objects; ``amodal`` (F, K, H, W) uint8 and ``amodal_depth`` (F, K, H, W) float32
    metres, zeroed (a pixel no ray of object k meets keeps 0). A layer that is off has
    one-element arrays the kernels never touch."""

    def __init__(self, device: Device, layers: Layers, clips: list, K: int, H: int, W: int):
        self.layers = layers
        self.device = device
        F = sum(c.scene.frames for c in clips)
        # per clip, its objects' 1 / (2 |e|): object coordinates per metre of its frame
        on = layers.object_coords
        self.nocs = [np.array([1.0 / nocs_scale(o) if on else 0.0 for o in c.scene.objects], np.float32) for c in clips]
        # a deforming surface has no object frame: NaN object coordinates
        self.nocs = [
            np.append(n, np.full(len(getattr(c, "surfaces", ())), np.nan, np.float32)) for n, c in zip(self.nocs, clips)
        ]
        dev = device.warp_name

        def zeros(on: bool, shape: tuple, dtype):
            return wp.zeros(shape if on else (1,) * len(shape), dtype=dtype, device=dev)

        def empty(on: bool, shape: tuple, dtype):  # every pixel of every frame is written
            return device.empty(shape if on else (1,) * len(shape), dtype)

        self.bflow = zeros(layers.backward_flow, (F, H, W), wp.vec2)
        self.bvalid = zeros(layers.backward_flow, (F, H, W), wp.uint8)
        self.sflow = empty(layers.scene_flow, (F, H, W), wp.vec3)
        self.svalid = empty(layers.scene_flow, (F, H, W), wp.uint8)
        self.ocoord = empty(layers.object_coords, (F, H, W), wp.vec3)
        self.amodal = zeros(layers.amodal, (F, K, H, W), wp.uint8)
        self.amodal_depth = zeros(layers.amodal_depth, (F, K, H, W), wp.float32)

    def primary_inputs(self) -> list:
        """The primary kernel's trailing arguments: the bits, amodal, amodal depth."""
        return [self.layers.bits, self.amodal, self.amodal_depth]

    def launch(self, plan, views, jobs: list, hits, dim: tuple, span: int) -> None:
        """``kernels.optional_layers`` over the render jobs of ``plan`` (a renderer
        ``_Launch``: its views' scenes index ``plan.clips``; ``jobs``: the six job
        columns of render_views, ``dim`` its launch dims), when a layer it writes is on."""
        bits = self.layers.bits & (BACKWARD_FLOW | SCENE_FLOW | OBJECT_COORDS)
        if not bits:
            return
        # 1 / (2 |e|) of every posed object, in the order of the views' poses (pack_views)
        nocs = np.concatenate([self.nocs[plan.clips[v.scene]] for v in plan.views] + [np.zeros(1, np.float32)])
        view, nxt, gt, _shade, hit, next_view = jobs
        arrays = [self.bflow, self.bvalid, self.sflow, self.svalid, self.ocoord, self.device.table(nocs, wp.float32)]
        inputs = [views, view, nxt, gt, hit, next_view, hits, bits, *arrays, span]
        wp.launch(kernels.optional_layers, dim=dim, device=self.device.warp_name, inputs=inputs)

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


def clip_fields(arrays: dict, at: slice, objects: int) -> dict:
    """One clip's :class:`~factory.render.frames.Frames` fields from
    :meth:`LayerBuffers.host`'s arrays: its frames ``at`` and, of the amodal layers,
    the rows of its ``objects`` objects."""
    out = {}
    for name, a in arrays.items():
        a = a[at]
        out[name] = np.ascontiguousarray(a[:, :objects]) if name in ("amodal", "amodal_depth") else a
    return out


def nocs_scale(o: SceneObject) -> float:
    """The metres per unit of object ``o``'s normalised box frame: ``2 |e|``, with e its
    half-extents (:attr:`SceneObject.half_extents`), the diagonal of its box."""
    return 2.0 * float(np.linalg.norm(o.half_extents))
