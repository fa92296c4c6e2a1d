"""The scenario configs a service offers: every ``*.yaml`` in one folder, by file stem.

The folder is ``configs/`` of this repository unless ``FACTORY_CONFIGS_DIR`` (or the
service's ``configs_dir`` setting) names another. Every file is loaded and validated
when the catalogue is built, so a broken shipped config stops a replica from starting
instead of failing requests later. The service's own render settings (its ``device``
and ``batch_views``) are merged into every config's ``render`` block as it loads, so
what ``GET /v1/scenarios`` shows, config hash included, is what is served.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from factory.errors import ConfigError
from factory.scene.config import Config, parse_config, read_yaml

CONFIGS_ENV = "FACTORY_CONFIGS_DIR"


def default_configs_dir() -> Path:
    """``$FACTORY_CONFIGS_DIR`` if set, else the repository's ``configs/`` folder."""
    env = os.environ.get(CONFIGS_ENV)
    return Path(env) if env else Path(__file__).resolve().parents[2] / "configs"


@dataclass(frozen=True)
class Entry:
    """One shipped config: its name (file stem), the YAML data as written, and the
    validated :class:`Config`."""

    name: str
    path: Path
    data: dict
    config: Config


class Catalogue:
    """The shipped configs of one folder, loaded and validated once. ``render``: settings
    merged into every config's ``render`` block (``{"device": "cuda"}``; None: none)."""

    def __init__(self, folder: str | Path | None = None, render: dict | None = None):
        self.folder = Path(folder) if folder else default_configs_dir()
        if not self.folder.is_dir():
            raise ConfigError(
                "service settings",
                [
                    f"configs_dir: {str(self.folder)!r} is not a folder; set it (or ${CONFIGS_ENV}) "
                    "to the folder of scenario YAML files"
                ],
            )
        self.entries: dict[str, Entry] = {}
        for path in sorted(self.folder.glob("*.yaml")):
            data = read_yaml(path)
            if render and isinstance(data, dict) and isinstance(data.get("render", {}), dict):
                data = {**data, "render": {**data.get("render", {}), **render}}
            self.entries[path.stem] = Entry(path.stem, path, data, parse_config(data, str(path)))
        if not self.entries:
            raise ConfigError("service settings", [f"configs_dir: {str(self.folder)!r} holds no *.yaml configs"])

    def names(self) -> list[str]:
        return list(self.entries)

    def get(self, name: str) -> Entry | None:
        return self.entries.get(name)

    def describe(self) -> list[dict]:
        """What ``GET /v1/scenarios`` returns: per config its name, dataset name, seed,
        render settings, scenario weights and the whole resolved config."""
        out = []
        for e in self.entries.values():
            resolved = e.config.resolved()
            out.append(
                {
                    "name": e.name,
                    "dataset": e.config.name,
                    "seed": e.config.seed,
                    "config_hash": e.config.config_hash(),
                    "render": resolved["render"],
                    "scenarios": {n: s.weight for n, s in e.config.scenarios.items()},
                    "config": resolved,
                }
            )
        return out
