"""Mix a factory dataset with a real WebDataset into a new dataset, every sample tagged.

``mix(synthetic_url, real_url, ratio=R, out=URL)`` writes N samples of which exactly
``n_real`` come from the real dataset and ``n_syn = N - n_real`` from the synthetic one:

* **Counts** (:func:`split_counts`): ``n_real = round(R * N)``, with R taken exactly as
  written in decimal (``0.29`` is 29/100, never 0.28999...) and halves rounded to the
  even count. For two sources this is the largest-remainder apportionment of N (each
  source gets the floor of its quota, the leftover sample goes to the larger remainder),
  ties going to the even real count. Both counts must be at least 1.
* **Default N** (:func:`default_samples`): the largest N for which both sources have
  enough samples (``n_real <= real available``, ``n_syn <= synthetic available``).
* **Interleave** (:func:`layout`): jittered strata over the minority source (the one
  with fewer samples; real when equal). Output positions are cut into ``m`` strata
  ``[floor(j*N/m), floor((j+1)*N/m))`` and the minority sample of stratum ``j`` sits at
  a position drawn uniformly in it by ``numpy.random.default_rng([seed, N, n_real])``.
  So every window of L consecutive output samples holds within 2 of ``L * n_real / N``
  real samples (every shard is close to R real), the counts are exact, and the seed
  really changes the interleave.
* **Order**: the real samples are the first ``n_real`` of the real dataset and the
  synthetic ones the first ``n_syn`` of the synthetic dataset, each in dataset order,
  read one shard at a time (the next shard is read ahead in a thread; at most two
  shards per source and one output shard are in memory).
* **Samples**: output keys are new and sequential (``factory.sample.types.sample_key(i)``);
  every original member is copied unchanged and a ``source.json`` member is added:
  ``{"dataset", "key", "licence", "shard", "source": "real"|"synthetic", "url"}``
  (canonical JSON: sorted keys, compact, UTF-8). A source sample that already has a
  ``source.json`` member is refused (it is probably a mix already).
* **Shards and manifest**: as factory's own (:mod:`factory.dataset.shards`,
  :mod:`factory.dataset.manifest`), written by the one dataset writer
  (:mod:`factory.dataset.writer`): ``.factory/intent.json`` first, deterministic tar
  bytes, each shard put atomically and followed by its record in ``.factory/shards/``,
  ``manifest.json`` (``kind: "mix"``) written last. Same seed and sources give
  byte-identical shards and a manifest that differs only in ``created``.

Safety: ``--out`` may not be either input; an ``--out`` that holds a dataset
(a manifest, factory records, or shards named like ours) is refused unless
``overwrite``, checked before anything is written. Pre-flight (sources opened, counts
checked, the real samples needed counted and checked when the real dataset has no
manifest) runs before the first write. If writing fails, the files this run wrote
(intent, shards, records) are deleted again (best effort) and no manifest is written.
Synthetic (and real) shards listed in a manifest are checked against its sha256 as they
are read. Nothing here imports Ray.

Modules: ``ratio`` (counts and interleave, pure), ``sources`` (opening, checking and
reading the inputs; the ``source.json`` tag), ``write`` (the output shards), ``run``
(:func:`mix` itself: checks, then writing through the one writer).
"""

from factory.dataset.mix.ratio import default_samples, layout, parse_ratio, split_counts
from factory.dataset.mix.run import DEFAULT_PREFIX, MixSummary, mix
from factory.dataset.mix.sources import KIND, ROLES, SOURCE_MEMBER, Source, open_sources, source_member

__all__ = [
    "DEFAULT_PREFIX",
    "KIND",
    "ROLES",
    "SOURCE_MEMBER",
    "MixSummary",
    "Source",
    "default_samples",
    "layout",
    "mix",
    "open_sources",
    "parse_ratio",
    "source_member",
    "split_counts",
]
