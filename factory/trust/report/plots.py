"""The report's plots as PNG bytes, made with matplotlib's Agg renderer.

matplotlib is imported inside :func:`_figure` only, so importing :mod:`factory.trust.report`
costs nothing until a plot is drawn. No pyplot: each plot is a bare
``matplotlib.figure.Figure`` on a ``FigureCanvasAgg``, so nothing global (backend,
figure registry) changes in the calling process.

Plots are byte-for-byte deterministic for the same numbers and the same matplotlib:
a fixed size and dpi, matplotlib's bundled DejaVu Sans font, rcParams reset to
matplotlib's defaults inside the drawing (a user's matplotlibrc has no effect), and
PNG metadata without the ``Software`` entry (Agg writes no timestamp).
"""

from __future__ import annotations

import io
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

SIZE = (6.4, 3.6)  # inches
DPI = 100
BAR = "#4c78a8"
COLOURS = ("#4c78a8", "#f58518", "#54a24b")


@contextmanager
def _figure(size: tuple[float, float] = SIZE) -> Iterator[Any]:
    import matplotlib

    with matplotlib.rc_context():
        matplotlib.rcdefaults()  # only inside this context: the caller's settings come back
        matplotlib.rcParams.update(
            {
                "font.family": "DejaVu Sans",
                "svg.hashsalt": "factory-report",
                "axes.spines.top": False,
                "axes.spines.right": False,
            }
        )
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        fig = Figure(figsize=size, dpi=DPI)
        FigureCanvasAgg(fig)
        # Fixed margins rather than a layout engine: constrained layout draws every plot
        # twice (half the plotting time) for the same result on these simple axes.
        fig.subplots_adjust(left=0.11, right=0.97, bottom=0.16, top=0.9)
        yield fig


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, metadata={"Software": None})
    return buf.getvalue()


def bars(
    title: str, labels: Sequence[str], series: Mapping[str, Sequence[float | None]], *, ylabel: str, xlabel: str = ""
) -> bytes:
    """Grouped bars: one group per label, one bar per series (None = no bar)."""
    with _figure() as fig:
        ax = fig.add_subplot()
        n = max(len(series), 1)
        width = 0.8 / n
        for s, (name, values) in enumerate(series.items()):
            xs = [i + (s - (n - 1) / 2) * width for i, v in enumerate(values) if v is not None]
            ys = [v for v in values if v is not None]
            ax.bar(xs, ys, width=width, label=name, color=COLOURS[s % len(COLOURS)])
        tilt = len(labels) > 6 or max((len(x) for x in labels), default=0) > 10
        ax.set_xticks(range(len(labels)), labels, rotation=30 if tilt else 0, ha="right" if tilt else "center")
        if tilt:
            fig.subplots_adjust(bottom=0.3)
        ax.set_title(title)
        ax.set_ylabel(ylabel)
        if xlabel:
            ax.set_xlabel(xlabel)
        if len(series) > 1:
            ax.legend(frameon=False)
        return _png(fig)


def histogram(title: str, summary: Mapping[str, Any], *, xlabel: str) -> bytes:
    """A histogram from a :meth:`Distribution.summary` (its ``histogram`` edges and
    counts), with the mean and median marked."""
    edges = summary["histogram"]["edges"]
    counts = summary["histogram"]["counts"]
    with _figure() as fig:
        ax = fig.add_subplot()
        if counts:
            ax.stairs(counts, edges, fill=True, color=BAR)  # one artist, not one patch per bin
            ax.axvline(summary["mean"], color="#e45756", label=f"mean {summary['mean']:.4g}")
            ax.axvline(summary["p50"], color="#333333", linestyle="--", label=f"median {summary['p50']:.4g}")
            ax.legend(frameon=False)
        else:
            ax.text(0.5, 0.5, "no values", ha="center", va="center", transform=ax.transAxes)
        ax.set_title(f"{title} (n = {summary['count']:,})")
        ax.set_xlabel(xlabel)
        ax.set_ylabel("count")
        return _png(fig)


def horizontal_bars(title: str, values: Mapping[str, float], *, xlabel: str) -> bytes:
    """One horizontal bar per name, largest at the top."""
    items = sorted(values.items(), key=lambda kv: kv[1])
    with _figure((6.4, max(2.0, 0.3 * len(items) + 1.0))) as fig:
        ax = fig.add_subplot()
        ax.barh([k for k, _ in items], [v for _, v in items], color=BAR)
        ax.set_xlim(0, max([0.1, *(v for _, v in items)]) * 1.05)  # 0 at the axis, even when all are 0
        ax.set_title(title)
        ax.set_xlabel(xlabel)
        fig.subplots_adjust(left=0.3, bottom=0.8 / fig.get_figheight())
        return _png(fig)
