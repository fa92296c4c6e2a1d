"""The sample layer: one clip made, encoded and decoded.

``generate`` (the function every path calls: (config, N, index) -> Sample), ``types``
(Sample, sample keys), ``encode`` / ``decode`` (Sample <-> WebDataset members; the
README's table is the format), ``preview`` (contact sheets and GIFs) and ``provenance``
(the generator's version, commit and library versions). Imports scene, physics, render.
"""
