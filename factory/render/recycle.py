"""CPU memory for the renderer's arrays, handed out again once nothing refers to it.

A call's outputs are large (~200 MB for four 24-frame clips of 256x256, ~20 MB of
primary hits besides) and fresh memory costs the kernel a page fault for every 4 KiB
the kernels first write: ~10% of a frame's time. :data:`RECYCLER` keeps the memory
of arrays that nothing refers to any more (up to :data:`LIMIT` bytes) and hands it
out again for an array of the same size, so a worker that renders clip after clip
of one config writes into memory it has already touched.

How it knows: each array's memory is lent through a :class:`_Lease`, a small object
whose ``__array_interface__`` the NumPy array is made from, so every array and view
over it (and the Warp array made from it, and ``.numpy()`` of that) keeps the lease
alive. When the last of them goes, the lease's finalizer gives the memory back. The
arrays are uninitialised, as ``wp.empty``'s are: the renderer writes every element
it hands on.
"""

from __future__ import annotations

import mmap
import threading
import weakref

import numpy as np

LIMIT = 1 << 30  # bytes of unreferenced memory kept for reuse; beyond, it is freed


class _Lease:
    """The owner, as NumPy sees it, of one lent block (``raw``, uint8, writable)."""

    def __init__(self, raw: np.ndarray):
        self.__array_interface__ = {
            "data": (raw.ctypes.data, False),
            "shape": raw.shape,
            "typestr": "|u1",
            "version": 3,
        }


class Recycler:
    """Blocks of memory by size: :meth:`empty` lends one, its lease's end returns it."""

    def __init__(self, limit: int = LIMIT):
        self.limit = limit
        self.kept = 0  # bytes in ``free``
        self.free: dict[int, list[np.ndarray]] = {}
        self.lock = threading.Lock()  # Serve's two lanes render at once

    def empty(self, shape: tuple, dtype: np.dtype, width: int = 1) -> np.ndarray:
        """An uninitialised array of ``shape`` (+ ``(width,)`` when ``width`` > 1) of
        ``dtype``, in memory used before where a block of its size is free."""
        dtype = np.dtype(dtype)
        full = (*shape, width) if width > 1 else tuple(shape)
        nbytes = int(np.prod(full, dtype=np.int64)) * dtype.itemsize
        size = max(nbytes, 1)  # a mapping is at least a byte
        with self.lock:
            blocks = self.free.get(size)
            raw = blocks.pop() if blocks else None
            if raw is not None:
                self.kept -= size
        if raw is None:  # plain pages: NumPy's own large arrays ask for huge pages, and
            # the kernel may stall a first touch for hundreds of ms compacting memory for them
            raw = np.frombuffer(mmap.mmap(-1, size, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS), np.uint8)
        lease = _Lease(raw)
        end = weakref.finalize(lease, self._give, raw)
        end.atexit = False  # nothing to give back to at exit
        return np.asarray(lease)[:nbytes].view(dtype).reshape(full)

    def _give(self, raw: np.ndarray) -> None:
        with self.lock:
            if self.kept + raw.nbytes > self.limit:
                return  # not kept: NumPy frees it with the last reference
            self.free.setdefault(raw.nbytes, []).append(raw)
            self.kept += raw.nbytes


RECYCLER = Recycler()
