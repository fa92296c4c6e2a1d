"""Backdrops: equirectangular HDRIs, as licensed packs like the objects'.

* :mod:`.image`: the direction convention, solid angles, downscaling that keeps the
  radiance, the statistics (mean radiance, the sun) and the ``.npz`` file;
* :mod:`.pack`: ``pack.json``, loading with every file verified, the held-out split;
* :mod:`.importers`: Debian's ``blender-data``, npm's ``@pmndrs/assets``, a folder
  with a ``licences.csv``;
* :mod:`.build`: the atomic build (``factory backdrops build``).

The curated set, ``factory/assets/backdrops/curated/`` (the ids of
``curated.ids``), ships in the package; ``make backdrops`` rebuilds it from the sources.
"""
