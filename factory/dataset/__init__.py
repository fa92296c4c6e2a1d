"""The dataset layer: a folder or bucket of shards and the records that make it trusted.

``storage`` (any fsspec URL, atomic puts), ``shards`` (which samples a shard holds, the
reproducible tar), ``manifest`` (records, intent and manifest documents), ``provenance`` (the generator's
version, commit and library versions the manifest records), ``writer`` (the one way a
shard and its record are written, manifest last), ``resume`` (what is already there),
``reader`` (strict reading) and ``mix`` (a synthetic dataset interleaved with a real one,
written as a dataset of its own). Imports the sample layer; never Ray.
"""
