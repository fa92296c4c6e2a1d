"""The assets layer: what objects are made of and where they came from (issue 24).

Between the scene layer (below: config and scene types, which it may import) and
physics and the renderer (above). It holds the procedural generators
(:mod:`factory.assets.generators`), asset packs and their importers, the licence
records and the allowlist. Nothing here is fetched at sample time: packs are built
once (``factory pack build``) and generators are deterministic from the sample's
random stream.
"""
