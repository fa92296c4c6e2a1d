"""``make_report``: read a dataset once, write report.html, DATASET_CARD.md, stats.json
and the plots as PNG files into a folder (any storage URL, written atomically)."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import factory
from factory.errors import ConfigError, StorageError
from factory.timing import timed
from factory.trust.engine import MapShards, map_local
from factory.trust.report import card as card_md
from factory.trust.report import licences
from factory.trust.report.diversity_section import section as diversity_section
from factory.trust.report.gather import collect_through
from factory.trust.report.stats import Collected, collect, scenario_table

HTML = "report.html"
CARD = "DATASET_CARD.md"
STATS = "stats.json"


@dataclass
class Report:
    """What :func:`make_report` wrote: ``files`` {name: bytes} in the order written, to
    ``out`` (a URL), and the stats document (the content of stats.json)."""

    out: str
    files: dict[str, int]
    stats: dict[str, Any]

    def lines(self) -> list[str]:
        ds, div = self.stats["dataset"], self.stats["diversity"]
        return [
            f"read {ds['samples_read']} samples from {len(ds['shards_read'])} shards of {ds['url']}",
            f"near-duplicate rate {div['near_duplicate_rate']:.4f} ({div['near_duplicate_pairs']} pairs)",
            *(f"  {name}  {size:,} bytes" for name, size in self.files.items()),
            f"open {self.out.rstrip('/')}/{HTML}",
        ]


def make_report(
    url: str,
    out: str,
    *,
    options: Mapping[str, Any] | None = None,
    reference: str | None = None,
    max_samples: int | None = None,
    previews: int = 16,
    log: Callable[[str], None] | None = None,
    timings: dict | None = None,
    map_shards: MapShards = map_local,
    workers: int | None = None,
) -> Report:
    """Report on the dataset at ``url`` (up to ``max_samples`` samples, in dataset
    order) into the folder ``out``; with ``reference``, also compare its pictures'
    statistics against that dataset's. ``options`` are storage options for all URLs;
    ``timings``, when given, collects the seconds spent per step (for benchmarks).
    ``map_shards``: the engine the shards go through, one piece of work per shard, at
    most ``workers`` at once (:func:`~factory.trust.engine.map_local` by default; the
    same files whatever the engine, see :mod:`factory.trust.report.gather`). With
    ``max_samples`` the first samples are read in order in this process instead, so
    only the local engine takes it.

    Raises:
        ConfigError: a bad ``workers``, or ``max_samples`` with an engine other than
            the local one.
        StorageError: no dataset at ``url`` (or ``reference``), a shard that cannot be
            read or is not a well-formed tar, or ``out`` cannot be written.
    """
    from factory.dataset.reader import open_dataset
    from factory.dataset.storage import resolve
    from factory.errors import ShardFormatError

    check_arguments(map_shards, max_samples, workers)
    location = resolve(out, options)  # a bad --out fails before any reading
    dataset = open_dataset(url, options)
    if reference is not None:
        open_dataset(reference, options)  # fail fast on a bad --reference, before the long pass
    try:
        if max_samples is None:
            with timed(timings, f"shards on the {map_shards.name} engine"):
                collected = collect_through(dataset, map_shards, previews=previews, workers=workers, log=log)
        else:
            collected = collect(dataset, max_samples=max_samples, previews=previews, log=log, timings=timings)
        if collected.samples == 0 and max_samples != 0:
            raise StorageError(f"{dataset.url}: the dataset holds no samples")
        stats = stats_document(dataset, collected, max_samples=max_samples, previews=previews)
        with timed(timings, "near-duplicates, feature summary" + (", reference" if reference else "")):
            stats["diversity"] = diversity_section(
                collected.diversity, url=dataset.url, reference=reference, options=options, max_samples=max_samples
            )
    except ShardFormatError as e:
        raise StorageError(f"{dataset.url}: {e}; `factory validate` checks the whole dataset") from None
    files = _files(stats, collected, dataset.manifest, timings)
    with timed(timings, "writing files"):
        location.ensure_folder()
        for name, data in files.items():  # report.html last: when it is there, all it names is too
            location.put_atomic(name, data)
    return Report(location.url_of(), {k: len(v) for k, v in files.items()}, stats)


def check_arguments(map_shards: MapShards, max_samples: int | None, workers: int | None) -> None:
    """ConfigError naming every bad argument of :func:`make_report`."""
    problems = []
    if max_samples is not None and map_shards.name != "local":
        problems.append(
            f"max_samples: {max_samples!r} reads the first samples in order, in one process; use it with engine 'local'"
        )
    if workers is not None and (not isinstance(workers, int) or isinstance(workers, bool) or workers < 1):
        problems.append(f"workers: must be an integer >= 1 or None, got {workers!r}")
    if problems:
        raise ConfigError("report arguments", problems)


def _files(
    stats: dict[str, Any], collected: Collected, manifest: Mapping[str, Any] | None, timings: dict | None
) -> dict[str, bytes]:
    """The report's files {name: bytes}, in the order to write them (report.html last);
    adds ``files`` to ``stats`` first."""
    from factory.trust.report.html import page
    from factory.trust.report.images import images

    with timed(timings, "plots and preview grid"):
        pictures = images(stats, collected)
    with timed(timings, "card, HTML, JSON"):
        config_yaml = _config_yaml(manifest)
        stats["files"] = [*pictures, STATS, CARD, HTML]
        card = card_md.dataset_card(stats, manifest, config_yaml)
        return {
            **pictures,
            STATS: (json.dumps(stats, indent=2, ensure_ascii=False, allow_nan=False) + "\n").encode(),
            CARD: card.encode(),
            HTML: page(stats, pictures, card_text=card, config_yaml=config_yaml).encode(),
        }


def _config_yaml(manifest: Mapping[str, Any] | None) -> str | None:
    config = (manifest or {}).get("config")
    if not isinstance(config, dict):
        return None
    import yaml

    return yaml.safe_dump(config, sort_keys=False, allow_unicode=True, default_flow_style=False)


def config_hash_verified(manifest: Mapping[str, Any]) -> bool | None:
    """Whether the manifest's ``config_hash`` is the sha256 of its config block's
    canonical JSON (as :meth:`factory.scene.config.Config.config_hash` computes it); None when
    either is missing."""
    config, recorded = manifest.get("config"), manifest.get("config_hash")
    if not isinstance(config, dict) or not isinstance(recorded, str):
        return None
    from factory.scene.config import hash_resolved

    return hash_resolved(config) == recorded


def _recorded_libraries(manifest: Mapping[str, Any]) -> dict[str, str | None] | None:
    """The manifest's ``generator.libraries`` when it is a ``{name: version}`` table."""
    gen = manifest.get("generator")
    libs = gen.get("libraries") if isinstance(gen, dict) else None
    if isinstance(libs, dict) and all(isinstance(k, str) and isinstance(v, (str, type(None))) for k, v in libs.items()):
        return libs
    return None


def stats_document(dataset, collected: Collected, *, max_samples: int | None, previews: int) -> dict[str, Any]:
    """The content of stats.json, except ``diversity`` and ``files`` (added by the caller)."""
    m = dataset.manifest or {}
    kind = m.get("kind") or ("factory" if dataset.manifest is not None else "webdataset")
    failures = m.get("failures")
    sources = [dict(s) for s in m.get("sources") or [] if isinstance(s, dict)]
    return {
        "report": {"factory_version": factory.__version__, "max_samples": max_samples, "previews": previews},
        "dataset": {
            "url": dataset.url,
            "name": m.get("name"),
            "kind": kind,
            "has_manifest": dataset.manifest is not None,
            "samples": m.get("samples"),
            "samples_written": m.get("samples_written"),
            "failures": len(failures) if isinstance(failures, list) else None,
            "shards": len(dataset.shards),
            "bytes": m.get("bytes"),
            "created": m.get("created"),
            "samples_read": collected.samples,
            "shards_read": list(collected.shards),
            "samples_with_factory_json": collected.with_meta,
            "clip_shapes": [
                {"frames": t, "height": h, "width": w, "samples": n}
                for (t, h, w), n in sorted(collected.clip_shapes.items())
            ],
        },
        "provenance": {
            "generator": m.get("generator"),
            "config_hash": m.get("config_hash"),
            "config_hash_verified": config_hash_verified(m),
            "seed": m.get("seed"),
        },
        "licences": {
            "data": m.get("licence"),
            "data_note": m.get("licence_note"),
            "assets": licences.asset_licences(m),
            "sources": [
                {"role": s.get("role"), "name": s.get("name"), "url": s.get("url"), "licence": s.get("licence")}
                for s in sources
            ],
            "generator": licences.generator_licence(),
            "libraries": licences.library_licences(_recorded_libraries(m)),
        },
        "scenarios": scenario_table(dataset.manifest, collected.scenarios, collected.samples),
        "sources": dict(sorted(collected.sources.items())),
        "classes": dict(sorted(collected.classes.items(), key=lambda kv: (-kv[1], kv[0]))),
        "objects_per_scene": {
            "counts": {str(n): c for n, c in sorted(collected.objects_per_scene.items())},
            "mean": (
                sum(n * c for n, c in collected.objects_per_scene.items()) / collected.with_meta
                if collected.with_meta
                else None
            ),
        },
        "object_size_m": collected.object_size.summary(),
        "visible_fraction": collected.visible_fraction.summary(),
        "depth_m": {**collected.depth.summary(), "samples": collected.depth_samples},
        "brightness": collected.brightness.summary(),
        "speed_m_s": collected.speed.summary(),
        "errors": {"count": collected.errors, "examples": list(collected.error_examples)},
    }
