"""Where the renderer's kernels run, and the cache their compiled code lives in.

Devices: ``cpu`` (Warp's bundled LLVM compiler; a launch runs on one thread, so a
worker per core is how a CPU node scales) and ``cuda`` (the current CUDA device). One
kernel source serves both (:mod:`factory.render.kernels`).

Compiled kernels are cached on disk (see :mod:`factory.render.warp_setup`); a cold
compile of the render module costs seconds on one core (see ``docs/renderer.md``,
"Kernels and their cache"), a warm load milliseconds. :func:`warmup` fills the cache.
"""

from __future__ import annotations

import contextlib
import ctypes.util
import functools
import os
import sys
import threading
from dataclasses import dataclass

import numpy as np

from factory.errors import ConfigError
from factory.render.recycle import RECYCLER
from factory.scene.config import DEVICES, MAX_BATCH_VIEWS

_CONSTANTS: dict[tuple[str, str], object] = {}  # (device, name) -> Device.constant's array
_CONSTANTS_LOCK = threading.Lock()

# Bytes of device memory per pixel of one view in a launch: the job's linear RGB
# (12) and primary hits (56: t, code, two normals, local point,
# a mesh's face and barycentrics), the frame's outputs
# (depth 4, ids 3, normals 12, flow 8 + 1, sRGB 3) and room to spare. Used to size a
# CUDA batch from free memory.
BYTES_PER_PIXEL_VIEW = 140
# On the CPU a launch is one thread's loop: batches past a few views gain nothing
# but make ``stop`` answer later (the bound on how long a stopped request holds a
# Serve replica). A launch casts about this many rays: 5 views of 256x256 with the
# default three rays a pixel (camera, flow, one shadow ray), about 45 ms on one core;
# fewer views where soft shadows or occlusion cast more. (2^19 cost 7% more time per
# frame in launch overhead, 2^21 saved 6%.)
CPU_BATCH_RAYS = 2**20


@functools.cache
def warp():
    """The ``warp`` module, initialised once per process with factory's cache."""
    from factory.render.warp_setup import wp

    with _quiet_without_cuda():
        wp.init()
    return wp


@contextlib.contextmanager
def _quiet_without_cuda():
    """Silence standard error (the file descriptor) while Warp initialises on a machine
    without the CUDA driver: its native code prints a warning there, which would break
    the one-line error of a command (and means nothing on a CPU node). Where the
    driver exists, nothing is hidden."""
    if ctypes.util.find_library("cuda"):
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


@dataclass(frozen=True)
class Device:
    """A Warp device and what the renderer needs to know of it. ``name``: one of
    :data:`DEVICES`; ``warp_name``: Warp's alias for it (``cpu``, ``cuda:0``)."""

    name: str
    warp_name: str

    def synchronize(self) -> None:
        """Wait for queued device work (only for honest timings)."""
        warp().synchronize_device(self.warp_name)

    @staticmethod
    def _scalar(dtype):
        """The NumPy scalar type of a Warp scalar, vector or matrix type's components."""
        return warp().dtype_to_numpy(getattr(dtype, "_wp_scalar_type_", dtype))

    def table(self, a, dtype):
        """Array-like ``a`` as a Warp array of ``dtype`` (a scalar, vector or matrix
        type: ``a``'s last axes are its components) on this device: a launch's tables.
        On the CPU it is the same memory, converted to the dtype's scalar type first
        (no copy, no allocation: ~6 us a table against ~16); to CUDA, a copy."""
        return warp().array(
            np.ascontiguousarray(a, self._scalar(dtype)), dtype=dtype, device=self.warp_name, copy=False
        )

    def constant(self, name: str, build):
        """The never-changing table ``name`` the kernels read (the sRGB decode table,
        the split-sum table), uploaded to this device once per process: ``build()``
        gives ``(array, dtype)`` the first time."""
        key = (self.warp_name, name)
        with _CONSTANTS_LOCK:
            if key not in _CONSTANTS:
                a, dtype = build()
                _CONSTANTS[key] = warp().array(np.asarray(a), dtype=dtype, device=self.warp_name)
            return _CONSTANTS[key]

    def empty(self, shape: tuple, dtype):
        """An uninitialised Warp array of ``shape`` and ``dtype`` (a scalar, vector,
        matrix or struct type) on this device; on the CPU in memory that earlier arrays
        of its size no longer use (:mod:`factory.render.recycle`)."""
        wp = warp()
        if self.name != "cpu":
            return wp.empty(shape, dtype=dtype, device=self.warp_name)
        if hasattr(dtype, "numpy_dtype"):  # a Warp struct: a NumPy record an element
            data = RECYCLER.empty(shape, dtype.numpy_dtype())
        else:  # a scalar, vector or matrix: its components along a last axis
            data = RECYCLER.empty(shape, self._scalar(dtype), getattr(dtype, "_length_", 1))
        return wp.array(data, dtype=dtype, device=self.warp_name, copy=False)

    def batch_views(self, width: int, height: int, limit: int = 0, rays: int = 3) -> int:
        """How many views (frames, motion-blur sub-frames) to render per launch.

        ``limit`` > 0 is taken as given (the config's ``render.batch_views``); 0 sizes
        the batch from the memory at hand: half the CUDA device's free memory, or on the
        CPU :data:`CPU_BATCH_RAYS` at ``rays`` rays per pixel (so that a launch, between
        two chances to stop, takes about as long whatever the shading asks for).
        """
        if limit > 0:
            return limit
        pixels = width * height
        if self.name == "cuda":
            free = warp().get_device(self.warp_name).free_memory
            return int(max(1, min(MAX_BATCH_VIEWS, free // 2 // (pixels * BYTES_PER_PIXEL_VIEW))))
        return int(max(1, min(MAX_BATCH_VIEWS, CPU_BATCH_RAYS // (pixels * max(1, rays)))))


@functools.cache
def get_device(name: str = "cpu", source: str = "render settings") -> Device:
    """The device ``name`` (one of :data:`DEVICES`), checked once per process.

    Raises:
        ConfigError: an unknown device, or ``cuda`` where Warp sees no CUDA device;
            names ``source`` (a config file, a command's flags, the serve
            application's args), ``render.device`` and what is allowed.
    """
    if name not in DEVICES:
        raise ConfigError(source, [f"render.device: {name!r} is not one of {', '.join(DEVICES)}"])
    if name == "cuda":
        if not cuda_available():
            raise ConfigError(
                source,
                [
                    "render.device: 'cuda' needs a CUDA device and Warp sees none "
                    "(check nvidia-smi and the driver); use 'cpu'"
                ],
            )
        return Device("cuda", str(warp().get_cuda_device()))
    return Device("cpu", "cpu")


def cuda_available() -> bool:
    """Whether Warp sees a CUDA device (tests skip GPU cases on this)."""
    return warp().get_cuda_device_count() > 0


# The modules that hold factory's kernels (each one compiled unit in Warp's cache); the
# liquid's by name (the physics layer's, compiled here so a first liquid clip does not).
KERNEL_MODULES = ("factory.render.kernels", "factory.render.probe", "factory.physics.liquid_kernels")


def warmup(names: tuple[str, ...] | None = None, cuda_archs: tuple[int, ...] = ()) -> list[dict]:
    """Compile (or load from the cache) every kernel module on each device of
    ``names`` (default: the CPU, and CUDA where present), so that later processes
    only load them; and, for each of ``cuda_archs`` (compute capabilities such as 90
    for an H100/H200), compile the CUDA kernels ahead of time with Warp's bundled
    NVRTC, which needs no GPU (an image build has none). Returns one ``{"device",
    "module", "seconds", "compiled"}`` per module and target; ``compiled`` is True
    where the cache did not have it.

    Raises:
        ConfigError: an unknown device, or ``cuda`` without a CUDA device.
    """
    import importlib
    import time

    from factory.render.warp_setup import cache_dir

    wp = warp()
    names = names or (("cpu", "cuda") if cuda_available() else ("cpu",))
    out = []
    for name in names:
        device = get_device(name, "factory warmup")
        for module in KERNEL_MODULES:
            importlib.import_module(module)
            before = _cache_entries(cache_dir())
            start = time.perf_counter()
            wp.load_module(module, device=device.warp_name)
            out.append(
                {
                    "device": name,
                    "module": module,
                    "seconds": time.perf_counter() - start,
                    "compiled": _cache_entries(cache_dir()) != before,
                }
            )
    for arch in cuda_archs:
        for module in KERNEL_MODULES:
            importlib.import_module(module)
            before = {p.name for p in cache_dir().rglob("*.cubin")} if cache_dir().exists() else set()
            start = time.perf_counter()
            wp.compile_aot_module(module, arch=arch)
            after = {p.name for p in cache_dir().rglob("*.cubin")}
            out.append(
                {
                    "device": f"sm_{arch}",
                    "module": module,
                    "seconds": time.perf_counter() - start,
                    "compiled": after != before,
                }
            )
    return out


def _cache_entries(path) -> set:
    return {p.name for p in path.glob("*/*")} if path.exists() else set()
