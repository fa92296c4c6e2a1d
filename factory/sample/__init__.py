"""The sample layer: one clip made, encoded and decoded.

``generate`` (the function every path calls: (config, N, index) -> Sample), ``types``
(Sample, sample keys), ``encode`` / ``decode`` (Sample <-> WebDataset members, as
``docs/format.md`` specifies) and ``preview`` (contact sheets and GIFs). Imports scene,
physics, render.
"""
