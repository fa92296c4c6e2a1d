"""factory: procedural 3D scenes rendered as clips with exact ground truth.

The pure core (config, scene sampling, dynamics, rendering, encoding, shards, storage)
imports no Ray; only the pipeline and serving adapters do.
"""

__version__ = "0.1.0"
