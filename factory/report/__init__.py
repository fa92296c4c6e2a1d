"""``factory report``: a self-contained HTML report, a dataset card and the numbers behind them.

:func:`make_report` (``factory.report.build``) reads a dataset once and writes into a
folder:

* ``report.html``: one page with every plot embedded as a PNG data URI (no scripts,
  no external links);
* the same plots as PNG files (``scenarios.png``, ``classes.png``, ``depth.png``, ...,
  ``previews.png``, ``contact.png``);
* ``DATASET_CARD.md``: provenance, licences, counts, intended use, known limits;
* ``stats.json``: every figure the page and the card show.

Modules, one job each: :mod:`~factory.report.stats` (the single pass and the scenario
table), :mod:`~factory.report.distribution` (bounded-memory distributions),
:mod:`~factory.report.diversity_section` (near-duplicates, colour and edge statistics,
drift, from :mod:`factory.diversity`), :mod:`~factory.report.licences`,
:mod:`~factory.report.plots` (matplotlib, imported only when a plot is drawn),
:mod:`~factory.report.grid` (the preview grid), :mod:`~factory.report.images`,
:mod:`~factory.report.card`, :mod:`~factory.report.html` and
:mod:`~factory.report.build`. Nothing here imports Ray.
"""

from __future__ import annotations


def make_report(*args, **kwargs):
    """See :func:`factory.report.build.make_report`."""
    from factory.report.build import make_report as build

    return build(*args, **kwargs)
