"""Where the renderer's arrays live: the array namespace ``xp`` and its device.

The renderer is one algorithm written against the array-API standard
(https://data-apis.org/array-api/); a backend only chooses the namespace it runs in:

* ``cpu``: NumPy (the reference; what every test and the CPU pipeline use).
* ``torch-cpu``: PyTorch on the CPU. The same code path as ``gpu`` on a machine with
  no GPU, which is how CI checks the GPU backend's parity with the reference.
* ``gpu``: PyTorch on the current CUDA device.

PyTorch rather than CuPy because it has a CPU build (parity runs in CI on every
commit, not only when a GPU is at hand) and is on every GPU node that trains models.
``array_api_compat`` supplies the standard's spelling over both libraries, so the
renderer never branches on the library.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from factory.errors import ConfigError

DEVICES = ("cpu", "torch-cpu", "gpu")

# Bytes of working memory per pixel of one rendered view (primary hits, shading,
# shadow rays, flow, per-object masks and the outputs): NumPy's peak was 470-660 B
# with 10 objects at 256x256 (tracemalloc); three times that leaves room for crowded
# scenes and the CUDA caching allocator. Used to size a batch from free GPU memory.
BYTES_PER_PIXEL_VIEW = 1600
# The CPU backends gain nothing from huge batches: past the caches, every array pass
# runs at memory speed (measured: 12 views of 256x256 per launch ran 20% slower than
# 1-4). They batch up to this many pixel-views at once (4 views at 256x256).
CPU_BATCH_PIXELS = 2 ** 18
MAX_BATCH_VIEWS = 4096


class _OnDevice:
    """An array-API namespace whose creation functions default to ``device``."""

    _CREATE = frozenset({"asarray", "zeros", "ones", "full", "arange", "empty", "eye", "linspace"})

    def __init__(self, namespace, device):
        self._ns, self._device = namespace, device

    def __getattr__(self, name):
        attr = getattr(self._ns, name)
        if name in self._CREATE:
            return functools.partial(attr, device=self._device)
        return attr


@dataclass(frozen=True)
class Backend:
    """An array namespace and what the renderer needs to know of it.

    ``xp``: the namespace (creation functions already place arrays on the device).
    ``device``: one of :data:`DEVICES`.
    """

    device: str
    xp: Any

    def numpy(self, a) -> np.ndarray:
        """``a`` as a NumPy array on the host (a copy only when it is on a device)."""
        if isinstance(a, np.ndarray):
            return a
        return a.detach().cpu().numpy()

    def synchronize(self) -> None:
        """Wait for queued device work (only for honest timings)."""
        if self.device == "gpu":
            import torch

            torch.cuda.synchronize()

    def batch_views(self, width: int, height: int, limit: int = 0) -> int:
        """How many views (frames, motion-blur sub-frames) to render per launch.

        ``limit`` > 0 is taken as given (the config's ``render.batch_views``); 0 sizes
        the batch from the memory at hand: half the GPU's free memory on ``gpu``, a
        few MB of pixels on the CPU backends.
        """
        if limit > 0:
            return limit
        pixels = width * height
        if self.device == "gpu":
            import torch

            free, _ = torch.cuda.mem_get_info()
            return int(max(1, min(MAX_BATCH_VIEWS, free // 2 // (pixels * BYTES_PER_PIXEL_VIEW))))
        return int(max(1, min(MAX_BATCH_VIEWS, math.ceil(CPU_BATCH_PIXELS / pixels))))


NUMPY = Backend("cpu", np)


@functools.cache
def get_backend(device: str = "cpu", source: str = "render settings") -> Backend:
    """The backend for ``device`` (one of :data:`DEVICES`), made once per process.

    Raises:
        ConfigError: an unknown device, PyTorch missing, or ``gpu`` without a CUDA
            device; names ``source`` (where the device came from: a config file, a
            command's flags, the serve application's args), ``render.device`` and what
            is allowed.
    """
    if device == "cpu":
        return NUMPY
    if device not in DEVICES:
        raise ConfigError(source, [f"render.device: {device!r} is not one of {', '.join(DEVICES)}"])
    try:
        import array_api_compat.torch as xt
        import torch
    except ImportError as e:
        raise ConfigError(source, [f"render.device: {device!r} needs PyTorch, which is not installed ({e}); "
                                  "install factory[gpu] or use 'cpu'"]) from None
    if device == "gpu":
        if not torch.cuda.is_available():
            raise ConfigError(source, ["render.device: 'gpu' needs a CUDA device and PyTorch sees none; "
                                      "use 'cpu' (NumPy) or 'torch-cpu'"])
        return Backend("gpu", _OnDevice(xt, torch.device("cuda", torch.cuda.current_device())))
    return Backend("torch-cpu", _OnDevice(xt, torch.device("cpu")))


def cuda_available() -> bool:
    """Whether PyTorch is installed and sees a CUDA device (tests skip GPU cases on this)."""
    try:
        import torch
    except ImportError:
        return False
    return bool(torch.cuda.is_available())
