"""Every use of Ray Data, and with the Serve adapter (``factory.service.app``) the only
code that imports Ray.

``session`` (join RAY_ADDRESS or start an embedded Ray), ``map`` (one task per shard, in
order: the Ray engine that ``factory validate`` and ``factory report`` are handed for
``--engine ray``), ``pipeline`` (``factory generate``: actor pools, the shard-writer, the
manifest sink).
"""
