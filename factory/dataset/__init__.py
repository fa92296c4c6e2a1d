"""The dataset layer: a folder or bucket of shards and the records that make it trusted.

``storage`` (any fsspec URL, atomic puts), ``shards`` (which samples a shard holds, the
reproducible tar), ``manifest`` (records, intent and manifest documents), ``writer`` (the
one way a shard and its record are written, manifest last), ``resume`` (what is already
there) and ``reader`` (strict reading). Imports the sample layer; never Ray.
"""
