"""Cast rays at one analytic shape with the renderer's own Warp functions, from the
host: what the shape tests check against signed distance functions, and a way to
inspect an intersection without rendering a scene.
"""

from __future__ import annotations

import numpy as np

from factory.render.device import get_device, warp
from factory.render.geometry import MISS, analytic
from factory.render.warp_setup import KERNEL_OPTIONS, wp
from factory.scene.shapes import shape_kind

wp.set_module_options(KERNEL_OPTIONS)


@wp.kernel
def _intersect(
    shape: int,
    o: wp.array(dtype=wp.vec3),
    d: wp.array(dtype=wp.vec3),
    dims: wp.array(dtype=wp.vec3),
    t_min: float,
    t_out: wp.array(dtype=wp.float32),
    n_out: wp.array(dtype=wp.vec3),
):
    i = wp.tid()
    t, n = analytic(shape, o[i], d[i], dims[i], t_min)
    t_out[i] = t
    n_out[i] = n


def intersect(shape: str, o, d, dims, t_min: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Nearest hits of rays ``o + t d`` (object frame; ``o`` (M, 3) or (1, 3), ``d``
    (M, 3)) with analytic ``shape`` of half-extents ``dims`` ((3,) or (M, 3)): ``t``
    (M,) float32, ``inf`` on a miss, and the outward unit normal (M, 3) float32.

    Raises:
        ValueError: ``shape`` is not an analytic kind.
    """
    kind = shape_kind(shape)
    if kind.is_mesh:
        raise ValueError(f"{shape!r} is a mesh kind; intersect casts rays at analytic kinds only")
    wp_ = warp()
    d = np.asarray(d, np.float32).reshape(-1, 3)
    m = len(d)
    o = np.broadcast_to(np.asarray(o, np.float32).reshape(-1, 3), (m, 3))
    dims = np.broadcast_to(np.asarray(dims, np.float32).reshape(-1, 3), (m, 3))
    dev = get_device("cpu").warp_name
    t = wp_.empty(m, dtype=wp.float32, device=dev)
    n = wp_.empty(m, dtype=wp.vec3, device=dev)
    arrays = [wp_.array(np.ascontiguousarray(a), dtype=wp.vec3, device=dev) for a in (o, d, dims)]
    wp_.launch(_intersect, dim=m, device=dev, inputs=[kind.code, *arrays, float(t_min), t, n])
    t_host = t.numpy().copy()
    t_host[t_host >= float(MISS)] = np.inf
    return t_host, n.numpy().copy()
