"""``factory report``: a self-contained HTML report, a dataset card and the numbers behind them.

:func:`make_report` (``factory.trust.report.build``) reads a dataset once and writes into a
folder:

* ``report.html``: one page with every plot embedded as a PNG data URI (no scripts,
  no external links);
* the same plots as PNG files (``scenarios.png``, ``classes.png``, ``depth.png``, ...,
  ``previews.png``, ``contact.png``);
* ``DATASET_CARD.md``: provenance, licences, counts, intended use, known limits;
* ``stats.json``: every figure the page and the card show.

Modules, one job each: :mod:`~factory.trust.report.stats` (the single pass and the scenario
table), :mod:`~factory.trust.report.gather` (that pass shard by shard through the engine
a caller hands in), :mod:`~factory.trust.report.distribution` (bounded-memory distributions),
:mod:`~factory.trust.report.diversity_section` (near-duplicates, colour and edge statistics,
drift, from :mod:`factory.trust.diversity`), :mod:`~factory.trust.report.licences`,
:mod:`~factory.trust.report.plots` (matplotlib, imported only when a plot is drawn),
:mod:`~factory.trust.report.grid` (the preview grid), :mod:`~factory.trust.report.images`,
:mod:`~factory.trust.report.card`, :mod:`~factory.trust.report.html` and
:mod:`~factory.trust.report.build`. Nothing here imports Ray.
"""

from __future__ import annotations


def make_report(*args, **kwargs):
    """See :func:`factory.trust.report.build.make_report`."""
    from factory.trust.report.build import make_report as build

    return build(*args, **kwargs)
