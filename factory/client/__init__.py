"""What a training loop uses: the endpoint's client (:mod:`factory.client.http`) and the
PyTorch datasets over shards or the endpoint (:mod:`factory.client.torch_data`, which
imports torch: the ``torch`` extra), and one sample as a rerun recording
(:mod:`factory.client.rerun_export`, the ``rerun`` extra)."""

from factory.client.http import Client, Sample

__all__ = ["Client", "Sample"]
