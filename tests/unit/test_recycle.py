"""factory.render.recycle: memory is handed out again only once nothing refers to it,
so frames a caller keeps are never written over by a later render."""

import gc

import numpy as np

from factory.render.recycle import RECYCLER, Recycler
from factory.sample.generate import generate_samples


def _address(a: np.ndarray) -> int:
    return a.__array_interface__["data"][0]


def test_memory_comes_back_only_when_the_last_view_of_it_is_gone():
    pool = Recycler()
    a = pool.empty((4, 8), np.float32, 3)
    assert a.shape == (4, 8, 3) and a.dtype == np.float32 and a.flags.writeable
    where = _address(a)
    view = a[1:, ::2]  # a slice outlives the array it was cut from
    del a
    gc.collect()
    b = pool.empty((4, 8), np.float32, 3)
    assert _address(b) != where  # still in use by the slice
    del view
    gc.collect()
    c = pool.empty((4, 8), np.float32, 3)
    assert _address(c) == where  # back in the pool, lent again for the same size
    d = pool.empty((2, 8), np.float32, 3)
    assert _address(d) not in (where, _address(b))  # another size: other memory
    assert pool.empty((0, 3), np.uint8).shape == (0, 3)  # an empty array too


def test_nothing_past_the_limit_is_kept():
    pool = Recycler(limit=1000)
    small, big = pool.empty((100,), np.uint8), pool.empty((2000,), np.uint8)
    del small, big
    gc.collect()
    assert pool.kept == 100 and list(pool.free) == [100]


def test_frames_a_caller_keeps_are_not_written_over_by_later_renders(tiny_config):
    first = generate_samples(tiny_config, [0])[0].frames
    kept = {k: getattr(first, k).copy() for k in ("rgb", "depth", "instance", "normals", "flow")}
    for index in (1, 2, 3):  # the same sizes: any memory free for reuse would be taken
        generate_samples(tiny_config, [index])
        gc.collect()
    assert RECYCLER.kept > 0  # the dropped samples' memory is in the pool, lent again
    for k, before in kept.items():
        assert np.array_equal(getattr(first, k), before), k
